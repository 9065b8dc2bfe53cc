// paramcount report: draws the treemaps of #pc-data (a squarified layout, Bruls et al. 2000)
// as positioned elements, by the rules of paramcount/report/layout.py (a browser test holds the
// two equal), and makes the table collapsible and searchable. No library, no fetch: everything
// it needs is in the page.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("pc-data").textContent);
  var FAMILY = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
                "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d4a6c8"];
  var STATUS = {added: "#59a14f", removed: "#e15759", changed: "#edc948", unchanged: "#bab0ac"};
  var state = {metric: 0, colour: data.panes.some(function (p) { return p.diff; }) ? "s" : "f"};
  var keys = {};  // colour key -> colour, in order of first use (the legend)
  var NAMES = ["parameters", "stored bytes", "FLOPs"];

  function fmt(n) { return Math.round(n).toLocaleString("en-US"); }
  function short(n, m) {
    var units = m === 1 ? ["B", "kB", "MB", "GB", "TB", "PB"] : ["", "K", "M", "B", "T", "P"];
    var i = 0;
    while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(n < 10 ? 2 : 1) : String(n)) + (m === 1 && !i ? " B" : units[i]);
  }
  function colourOf(node) {
    var key = state.colour === "s" ? (node.s || "unchanged") : node[state.colour] || "other";
    if (state.colour === "s") { keys[key] = STATUS[key]; return STATUS[key]; }
    if (!(key in keys)) { keys[key] = FAMILY[Object.keys(keys).length % FAMILY.length]; }
    return keys[key];
  }
  function label(node) { return node.n + (node.x ? " ×" + node.x : ""); }
  // The name of a rectangle: a tile of identical blocks is its own block (7, or "h #8").
  function name(node, tile) {
    if (tile === undefined) { return label(node); }
    return /^[0-9]+$/.test(node.n) ? String(Number(node.n) + tile) : node.n + " #" + (tile + 1);
  }
  // What a rectangle has room for: name and size, or name, or nothing (never a cut label).
  var CHAR = 7, LINE = 15;
  function fits(text, size, w, h) {
    if (h < LINE) { return ""; }
    var tries = [text + " " + size, text];
    for (var i = 0; i < tries.length; i++) {
      if (tries[i].length * CHAR + 8 <= w) { return tries[i]; }
    }
    return "";
  }
  function tip(node, tile) {
    var v = node.v, lines = [name(node, tile) + " (" + node.t + ")",
      "parameters: " + fmt(v[0]), "stored bytes: " + fmt(v[1])];
    if (node.x) { lines.push(node.x + " identical blocks of " + fmt(v[0] / node.x) + " each"); }
    if (v[2]) { lines.push("FLOPs: " + fmt(v[2])); }
    if (node.d) { lines.push("dtype: " + node.d); }
    if (node.q) { lines.push("formula: " + node.q); }
    if (node.s) { lines.push("change: " + node.s); }
    (node.m || []).forEach(function (m) { lines.push(m); });
    return lines.join("\n");
  }

  // Squarify: lay out values (sorted, largest first) in the rectangle, row by row along the
  // shorter side, keeping each row's worst aspect ratio as low as it goes.
  function worst(row, side) {
    var sum = 0, max = 0, min = Infinity;
    row.forEach(function (r) { sum += r.a; max = Math.max(max, r.a); min = Math.min(min, r.a); });
    var s2 = side * side, sum2 = sum * sum;
    return Math.max(s2 * max / sum2, sum2 / (s2 * min));
  }
  function squarify(items, x, y, w, h) {
    var total = items.reduce(function (t, i) { return t + i.value; }, 0), out = [];
    if (total <= 0 || w <= 0 || h <= 0) { return out; }
    var scale = w * h / total, rest = items.map(function (i) {
      return {item: i, a: i.value * scale};
    });
    while (rest.length) {
      var side = Math.min(w, h), row = [rest.shift()];
      while (rest.length && worst(row.concat([rest[0]]), side) <= worst(row, side)) {
        row.push(rest.shift());
      }
      var area = row.reduce(function (t, r) { return t + r.a; }, 0), thick = area / side, off = 0;
      row.forEach(function (r) {
        var len = r.a / thick;
        out.push(w >= h ? {item: r.item, x: x, y: y + off, w: thick, h: len}
                        : {item: r.item, x: x + off, y: y, w: len, h: thick});
        off += len;
      });
      if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
    }
    return out;
  }
  function sized(node) {
    return (node.c || []).filter(function (c) { return c.v[state.metric] > 0; })
      .map(function (c) { return {node: c, value: c.v[state.metric]}; })
      .sort(function (a, b) { return b.value - a.value; });
  }

  function Pane(el, pane) {
    this.el = el; this.pane = pane; this.stack = [pane.tree];
    this.map = el.querySelector(".pc-map"); this.crumbs = el.querySelector(".pc-crumbs");
    this.legend = el.querySelector(".pc-legend");
  }
  Pane.prototype.draw = function () {
    var only = sized(this.stack[this.stack.length - 1]);
    while (only.length === 1 && only[0].node.c) {  // a block with one child: show that child's
      this.stack.push(only[0].node);
      only = sized(only[0].node);
    }
    var self = this, here = this.stack[this.stack.length - 1], map = this.map;
    map.textContent = "";
    map.dataset.value = here.v[state.metric];
    map.dataset.path = this.stack.map(function (n) { return n.n; }).join("/");
    var W = map.clientWidth, H = map.clientHeight;
    var cells = squarify(sized(here), 0, 0, W, H);
    if (!cells.length) {
      var p = document.createElement("p");
      p.className = "pc-empty";
      p.textContent = "Nothing to size by " + NAMES[state.metric] + " here.";
      map.appendChild(p);
    }
    cells.forEach(function (r) { map.appendChild(self.cell(r, 1)); });
    this.drawCrumbs();
    this.drawLegend();
  };
  Pane.prototype.cell = function (r, level) {
    var self = this, node = r.item.node, div = document.createElement("div");
    div.className = "pc-cell pc-level" + level + (node.s ? " pc-" + node.s : "");
    div.style.left = r.x + "px"; div.style.top = r.y + "px";
    div.style.width = Math.max(r.w - 1, 0) + "px"; div.style.height = Math.max(r.h - 1, 0) + "px";
    div.style.background = colourOf(node);
    div.dataset.value = r.item.tile === undefined ? node.v[state.metric] : r.item.value;
    div.dataset.name = node.n;
    div.title = tip(node, r.item.tile);
    if (node.m) { div.classList.add("pc-marked"); }
    if (level === 1) {
      div.tabIndex = 0;
      div.setAttribute("role", "treeitem");
      div.setAttribute("aria-label", label(node) + ", " + short(node.v[state.metric], state.metric));
      var text = document.createElement("span");
      text.className = "pc-label";
      text.textContent = label(node) + " " + short(node.v[state.metric], state.metric);
      div.appendChild(text);
      if (node.c) {
        div.classList.add("pc-zoomable");
        var zoom = function () { self.stack.push(node); self.draw(); self.focusFirst(); };
        div.addEventListener("click", zoom);
        div.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); zoom(); }
        });
        var inner = sized(node), top = r.h > 34 ? 18 : 0;
        if (inner.length === 1 && inner[0].node.x > 1 && inner[0].node.x <= 256) {
          var one = inner[0], n = one.node.x;  // identical blocks: drawn as n tiles of one
          inner = [];
          for (var k = 0; k < n; k++) {
            inner.push({node: one.node, value: one.value / n, tile: k});
          }
        }
        if (r.w > 30 && r.h - top > 12) {
          squarify(inner, 2, top, r.w - 5, r.h - top - 4).forEach(function (s) {
            div.appendChild(self.cell(s, 2));
          });
        }
      }
    } else {
      var said = fits(name(node, r.item.tile), short(r.item.value, state.metric),
                      Math.max(r.w - 1, 0), Math.max(r.h - 1, 0));
      if (said) {
        var small = document.createElement("span");
        small.className = "pc-label";
        small.textContent = said;
        div.appendChild(small);
      }
    }
    return div;
  };
  Pane.prototype.focusFirst = function () {
    var first = this.map.querySelector(".pc-level1");
    if (first) { first.focus(); }
  };
  Pane.prototype.drawCrumbs = function () {
    var self = this, nav = this.crumbs;
    nav.textContent = "";
    var title = document.createElement("strong");
    title.textContent = this.pane.title + ": ";
    nav.appendChild(title);
    this.stack.forEach(function (node, i) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "pc-crumb"; b.textContent = label(node);
      if (i === self.stack.length - 1) { b.setAttribute("aria-current", "true"); }
      b.addEventListener("click", function () {
        self.stack = self.stack.slice(0, i + 1); self.draw(); self.focusFirst();
      });
      nav.appendChild(b);
    });
  };
  Pane.prototype.drawLegend = function () {
    var legend = this.legend;
    legend.textContent = "";
    Object.keys(keys).forEach(function (k) {
      var item = document.createElement("span"), swatch = document.createElement("span");
      swatch.className = "pc-swatch"; swatch.style.background = keys[k];
      item.appendChild(swatch); item.appendChild(document.createTextNode(k));
      legend.appendChild(item);
    });
  };

  var panes = [];
  document.querySelectorAll(".pc-pane").forEach(function (el) {
    var p = data.panes[Number(el.dataset.pane)];
    if (p) { panes.push(new Pane(el, p)); }
  });
  function drawAll() {
    keys = {};
    panes.forEach(function (p) { p.draw(); });
    panes.forEach(function (p) { p.drawLegend(); });  // one legend over every pane
  }
  function on(id, event, handler) {
    var el = document.getElementById(id);
    if (el) { el.addEventListener(event, handler); }
    return el;
  }
  var colour = on("pc-colour", "change", function (e) { state.colour = e.target.value; drawAll(); });
  if (colour) { colour.value = state.colour; }
  on("pc-metric", "change", function (e) { state.metric = Number(e.target.value); drawAll(); });
  on("pc-theme", "click", function () {
    var root = document.documentElement, dark = root.dataset.theme ? root.dataset.theme === "dark"
      : window.matchMedia("(prefers-color-scheme: dark)").matches;
    root.dataset.theme = dark ? "light" : "dark";
  });
  var resized;
  window.addEventListener("resize", function () {
    clearTimeout(resized); resized = setTimeout(drawAll, 100);
  });
  if (panes.length) { drawAll(); }

  // The table: hide rows deeper than the depth chosen, or not matching the search.
  var rows = Array.prototype.slice.call(document.querySelectorAll(".pc-table tbody tr"));
  function filter() {
    var depth = Number((document.getElementById("pc-depth") || {}).value || 0);
    var text = ((document.getElementById("pc-search") || {}).value || "").toLowerCase();
    rows.forEach(function (tr) {
      var d = Number(tr.dataset.depth || 1);
      tr.hidden = (depth && d > depth) || (text && tr.textContent.toLowerCase().indexOf(text) < 0);
    });
  }
  on("pc-depth", "change", filter);
  on("pc-search", "input", filter);
  document.documentElement.classList.add("pc-js");
})();
