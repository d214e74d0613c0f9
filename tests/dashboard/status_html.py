"""The Overview's status table read back from its HTML (stdlib parser), for the tests that check it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Row:
    cells: dict[str, str] = field(default_factory=dict)  # header -> the cell's text, spaces collapsed
    links: list[str] = field(default_factory=list)
    sparklines: list[str] = field(default_factory=list)  # their aria-labels
    outlines: list[str] = field(default_factory=list)  # their clip-path polygons
    flags: dict[str, str] = field(default_factory=dict)  # header -> state of a coloured number or pill


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: dict[str, Row] = {}
        self._row: Row | None = None
        self._text: list[str] | None = None
        self._column = -1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "th":
            self._text = []
        elif tag == "tr" and "data-deployment" in a:
            self._row = self.rows.setdefault(a["data-deployment"], Row())
            self._column = -1
        elif tag == "td" and self._row is not None:
            self._column += 1
            self._text = []
        elif self._row is not None:
            header = self.headers[self._column]
            classes = a.get("class", "").split()
            if tag == "a":
                self._row.links.append(a["href"])
            if "iw-spark" in classes and "aria-label" in a:
                self._row.sparklines.append(a["aria-label"])
            if "clip-path" in a.get("style", ""):
                self._row.outlines.append(a["style"].split("polygon(", 1)[1].rstrip(")"))
            for state in ("ok", "warn", "bad", "neutral"):
                if f"iw-{state}" in classes:
                    self._row.flags[header] = state

    def handle_endtag(self, tag: str) -> None:
        if tag == "th" and self._text is not None:
            self.headers.append(" ".join("".join(self._text).split()))
            self._text = None
        elif tag == "td" and self._row is not None and self._text is not None:
            self._row.cells[self.headers[self._column]] = " ".join(" ".join(self._text).split())
            self._text = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def read_status_table(body: str) -> dict[str, Row]:
    """deployment -> its row, in the table's order."""
    parser = _Parser()
    parser.feed(body)
    return parser.rows
