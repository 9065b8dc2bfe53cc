"""An HTML table that paramcount writes for Jupyter, parsed back to text: the caption, the
header, the rows (cells as text, each tbody a group), the totals below, and every tag seen."""

from __future__ import annotations

from html.parser import HTMLParser


class Parsed(HTMLParser):
    """Rows of the table (cells as text), the caption, the totals, and every tag seen."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.attrs: list[dict[str, str | None]] = []
        self.groups: list[int] = []  # how many rows each <tbody> holds
        self.head: list[str] = []
        self.totals: list[str] = []
        self.caption = ""
        self.tags: list[str] = []
        self._in: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "br":  # a void element: a line break of the caption
            self.caption += "\n" if "caption" in self._in else ""
            return
        self._in.append(tag)
        if tag == "tbody":
            self.groups.append(0)
        elif tag == "tr" and "tbody" in self._in:
            self.rows.append([])
            self.attrs.append(dict(attrs))
            self.groups[-1] += 1
        elif tag == "td":
            self.rows[-1].append("")
        elif tag == "th":
            self.head.append("")
        elif tag == "li":
            self.totals.append("")

    def handle_endtag(self, tag: str) -> None:
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if "td" in self._in:
            self.rows[-1][-1] += data
        elif "th" in self._in:
            self.head[-1] += data
        elif "li" in self._in:
            self.totals[-1] += data
        elif "caption" in self._in:
            self.caption += data
