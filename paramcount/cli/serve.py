"""``paramcount serve``: the report page on a local web server, with a form.

    paramcount serve                 # http://127.0.0.1:8000/
    paramcount serve --port 8765

The form takes a file or folder path, a Hub id or a zoo name, optionally a second model to
compare with and a memory plan's inputs, and answers with the page ``paramcount report`` writes
(:mod:`paramcount.cli.report`). The server binds to loopback unless told otherwise, reads only
the sources typed into the form, and shows a bad input as the command line words it
(``paramcount: error: ...``). It is the standard library's ``http.server``, one request at a
time: a tool on one's own machine, not a service.
"""

from __future__ import annotations

import argparse
import sys
from html import escape
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from paramcount.cli.options import Parser
from paramcount.errors import ParamcountError
from paramcount.quoting import LIMIT, one_line

#: the form's memory fields, as ``paramcount report`` names them
FIELDS = ("gpu_memory", "gpus", "context", "batch", "dtype")
INTS = ("gpus", "context", "batch")


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="paramcount serve",
               description="Serve the report page and a form for it on this machine.")
    p.add_argument("--port", type=int, default=8000, metavar="N", help="port (default 8000)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    return p


def run(args: list[str]) -> str:
    ns = _parser().parse_args(args)
    try:
        server = make_server(ns.host, ns.port)
    except OSError as err:
        raise ParamcountError(f"cannot listen on {ns.host}:{ns.port}: "
                              f"{err.strerror or err}") from None
    port = server.server_address[1]
    print(f"paramcount: serving on http://{ns.host}:{port}/ (Ctrl-C stops)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return ""


def make_server(host: str = "127.0.0.1", port: int = 0) -> HTTPServer:
    """The server, bound (port 0: any free port), not yet serving."""
    return HTTPServer((host, port), Handler)


class Handler(BaseHTTPRequestHandler):
    """``/``: the form; ``/report?source=...``: the page or the error, above the form."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/":
            self._send(200, form_page())
        elif url.path == "/report":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            self._send(*answer(query))
        else:
            self._send(404, form_page("paramcount: error: no such page"))

    def _send(self, status: int, page: str) -> None:
        body = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a quiet tool: the page says what went wrong


def answer(query: dict[str, str]) -> tuple[int, str]:
    """The status and page for the form's ``query``: the report, or the form with the error
    worded as the command line words it."""
    from paramcount.cli.report import build

    source = query.get("source", "").strip()
    try:
        if not source:
            raise ParamcountError("no model given: type a path, a Hub id or a zoo name")
        memory = _memory(query)
        page = build(source, query.get("compare", "").strip() or None, memory)
    except ParamcountError as err:
        return 400, form_page(one_line(f"paramcount: error: {err}"), query)
    except Exception as err:  # a bug: one line, as the command line says it
        return 500, form_page(one_line(
            f"paramcount: internal error while reading {source}: {type(err).__name__}: "
            f"{str(err)[:LIMIT]}; please report"), query)
    back = '<nav class="pc-back"><a href="/">paramcount serve: another model</a></nav>\n'
    return 200, page.replace("<body>\n", "<body>\n" + back, 1)


def _memory(query: dict[str, str]) -> dict[str, Any] | None:
    given = {k: query[k].strip() for k in FIELDS if query.get(k, "").strip()}
    if not (query.get("memory") or query.get("train") or given):
        return None
    out: dict[str, Any] = {"train": bool(query.get("train"))}
    for key, value in given.items():
        if key in INTS:
            if not value.isdigit() or int(value) < 1:
                raise ParamcountError(f"--{key.replace('_', '-')} {value!r}: expected a "
                                      "whole number of 1 or more")
            out[key] = int(value)
        else:
            out[key] = value
    return out


def form_page(error: str = "", query: dict[str, str] | None = None) -> str:
    """The form, with ``error`` above it and the fields filled as ``query`` had them."""
    from paramcount.report.page import page_html

    q = query or {}

    def field(name: str, label: str, hint: str = "") -> str:
        return (f'<label>{label} <input name="{name}" id="pc-{name}" '
                f'value="{escape(q.get(name, ""))}" placeholder="{escape(hint)}"></label>')

    def box(name: str, label: str) -> str:
        checked = " checked" if q.get(name) else ""
        return (f'<label><input type="checkbox" name="{name}" id="pc-{name}"{checked}> '
                f"{label}</label>")

    shown = f'<p class="pc-error" role="alert">{escape(error)}</p>' if error else ""
    body = f"""<section class="pc-form">{shown}
<form action="/report" method="get">
<fieldset><legend>Model</legend>
{field("source", "Model", "a file or folder path, a Hub id or a zoo name (gpt2)")}
{field("compare", "Compare with", "optional: a second model")}
</fieldset>
<fieldset><legend>Memory plan (optional)</legend>
{box("memory", "plan to serve it")} {box("train", "plan to train it")}
{field("gpu_memory", "GPU memory", "80GB")} {field("gpus", "GPUs", "1")}
{field("context", "Context", "tokens")} {field("batch", "Batch", "1")}
{field("dtype", "Dtype", "bf16, int4, stored")}
</fieldset>
<button type="submit" id="pc-go">Report</button>
</form>
<p class="pc-source">Reads only what you type here, on this machine.</p>
</section>"""
    return page_html("paramcount serve", body)
