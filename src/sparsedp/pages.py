"""A table as a self-contained HTML page, for the report (which shows an HTML result in a frame):
its description and columns from the column dictionary, its rows sortable by any column, and
the CSV itself to download, embedded (the report embeds each result alone: a link to another
file would not resolve). Written by the table's own job, beside the CSV (write_table)."""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path

from .columns import Table, as_html, rendered, table
from .results import atomic_path, made_path, read_json, record_made

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem; color: #1e293b; }
p, details, div.made { max-width: 72rem; }
div.rows { overflow: auto; max-height: 85vh; }
code { font-size: 90%; background: #f1f5f9; padding: 0 .2em; border-radius: 3px; }
dl.columns { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dl.columns dt { text-align: right; }
dl.columns dd { margin: 0; }
div.made { font-size: 90%; color: #475569; }
div.made dl { display: inline-flex; flex-wrap: wrap; gap: 0 1rem; margin: 0; }
div.made dt::after { content: ":"; }
div.made dd { margin: 0 0 0 .3em; }
table.rows { border-collapse: collapse; font-size: 13px; width: max-content; }
table.rows th, table.rows td { border: 1px solid #cbd5e1; padding: .15rem .4rem; vertical-align: top; }
table.rows td { min-width: 3rem; max-width: 36rem; }
table.rows th { background: #e2e8f0; cursor: pointer; position: sticky; top: 0; white-space: nowrap; }
table.rows th[aria-sort=ascending]::after { content: " ▲"; }
table.rows th[aria-sort=descending]::after { content: " ▼"; }
table.rows tbody tr:nth-child(even) { background: #f8fafc; }
"""

# Click a header to sort by its column, again to reverse: numbers by value (inf and -inf too),
# the rest as text, empty cells last either way.
SORT_SCRIPT = """
function cellValue(text) {
  const number = Number(text.replace(/^(-?)inf$/, "$1Infinity"));
  return text === "" ? null : Number.isNaN(number) ? text : number;
}
function compareCells(a, b) {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  return typeof a === "number" ? -1 : 1;
}
document.querySelectorAll("table.rows th").forEach((header, column) => {
  header.addEventListener("click", () => {
    const body = header.closest("table").tBodies[0];
    const direction = header.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    header.parentNode.querySelectorAll("th").forEach((th) => th.removeAttribute("aria-sort"));
    header.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    const keyed = Array.from(body.rows, (row) => [cellValue(row.cells[column].textContent), row]);
    keyed.sort(([a], [b]) => (a === null || b === null ? compareCells(a, b) : direction * compareCells(a, b)));
    keyed.forEach(([, row]) => body.appendChild(row));
  });
});
"""


def _plain(text: str) -> str:
    return text.replace("`", "")


def _tag(name: str, content: str, **attributes) -> str:
    attrs = "".join(f' {key.rstrip("_")}="{html.escape(str(value))}"' for key, value in attributes.items())
    return f"<{name}{attrs}>{content}</{name}>"


def table_page(entry: Table, config: dict, csv_path: Path, provenance: dict | None = None) -> str:
    """The page of a table (``entry``: its entry in the column dictionary, with ``config``'s
    settings) whose rows are the file ``csv_path``; ``provenance`` (label -> value): what made it."""
    data = Path(csv_path).read_bytes()
    header, *rows = csv.reader(io.StringIO(data.decode(), newline=""))
    description, columns = rendered(entry, config, as_html)
    # Plain text for a header's tooltip: the meaning without its markup.
    tooltips = {name: meaning for names, meaning in rendered(entry, config, _plain)[1] for name in names}
    file_name = f"{entry.name}.csv"
    title = html.escape(file_name)
    download = _tag(
        "a", "download CSV", download=file_name, href=f"data:text/csv;base64,{base64.b64encode(data).decode()}"
    )
    made = ""
    if provenance:
        items = "".join(
            _tag("dt", html.escape(str(k))) + _tag("dd", html.escape(str(v))) for k, v in provenance.items()
        )
        made = _tag("div", "Made by " + _tag("dl", items), class_="made")
    column_list = "".join(
        _tag("dt", ", ".join(_tag("code", n) for n in names)) + _tag("dd", meaning) for names, meaning in columns
    )
    head = "".join(_tag("th", html.escape(name), title=tooltips.get(name, "")) for name in header)
    body = "".join(_tag("tr", "".join(_tag("td", html.escape(cell)) for cell in row)) for row in rows)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            _tag("title", title),
            _tag("style", STYLE),
            "</head><body>",
            _tag("h1", _tag("code", title)),
            _tag("p", description),
            made,
            _tag("p", f"{len(rows)} row{'s' if len(rows) != 1 else ''}; {download}", class_="count"),
            _tag("details", _tag("summary", "Columns") + _tag("dl", column_list, class_="columns"), open="open"),
            _tag(
                "div",
                _tag("table", _tag("thead", _tag("tr", head)) + _tag("tbody", body), class_="rows"),
                class_="rows",
            ),
            _tag("script", SORT_SCRIPT),
            "</body></html>",
        ]
    )


def write_table(frame, csv_path, page_path, config: dict, made_with: str) -> None:
    """A table job's outputs: the DataFrame ``frame`` as CSV, then its page, each with the note of
    what made it (results.record_made); the page shows the CSV's provenance, if noted."""
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    record_made([csv_path], made_with)
    provenance = read_json(made_path(csv_path)).get("provenance")
    page = table_page(table(Path(csv_path).stem, config), config, csv_path, provenance)
    with atomic_path(page_path) as tmp:
        Path(tmp).write_text(page)
    record_made([page_path], made_with)
