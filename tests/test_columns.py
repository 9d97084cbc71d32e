"""The column dictionary (sparsedp.columns) and the tables' pages rendered from it (sparsedp.pages)."""

import base64
import csv
import html
import io
import re

import pandas as pd
import pytest

from sparsedp import columns, provenance, registry
from sparsedp.pages import table_page, write_table
from sparsedp.results import made_path, read_json

from conftest import REPO, load_config

REFERENCE = REPO / "reference/quick_replicated"  # a real experiment's tables, committed


@pytest.mark.parametrize("name", [name for name, table in columns.TABLES.items() if table.folder == "tables"])
def test_each_table_describes_exactly_its_columns_in_order(name):
    assert columns.TABLES[name].column_names == list(pd.read_csv(REFERENCE / f"{name}.csv", nrows=0).columns)


def test_the_rule_times_table_describes_the_columns_provenance_writes():
    assert columns.TABLES["rule_times"].column_names == provenance.RULE_TIME_COLUMNS


@pytest.mark.parametrize("figure", list(load_config()["figures"]))
def test_a_figures_table_has_the_columns_of_the_table_it_is_cut_from(figure):
    config = load_config()
    source = "trials" if registry.FIGURES[figure].level == "trials" else "steps_to_result"
    table = columns.table(figure, config)
    assert table.column_names == columns.TABLES[source].column_names
    assert f"`{figure}`" in table.description and table.group == columns.FIGURE_DATA


def test_docs_tables_md_is_the_dictionary_rendered():
    text = (REPO / "docs/tables.md").read_text()
    assert text == columns.markdown(load_config()), "run python -m sparsedp.columns docs/tables.md"
    for name in columns.TABLES:
        assert f"{name}.csv" in text


def test_settings_are_the_runs_own_with_their_key():
    config = load_config()
    config["analysis"]["min_saving"] = 0.3
    caption = columns.caption(columns.TABLES["critical_batch"], config)
    assert "30% (``analysis.min_saving``)" in caption and "{" not in caption


def test_every_caption_is_valid_restructuredtext():
    from docutils.core import publish_parts

    config = load_config()
    for name in [*columns.TABLES, *config["figures"]]:
        warnings = io.StringIO()
        publish_parts(columns.caption(columns.table(name, config), config), writer="html",
                      settings_overrides={"warning_stream": warnings, "report_level": 1})  # fmt: skip
        assert not warnings.getvalue(), f"{name}: {warnings.getvalue()}"


ROWS = [
    ["a_sparse_steps_ratio", "mnist_momentum", "", "snip", "<b>bold</b> & co", "2^1.5", "1.5", "yes", "a, b", "x"],
    ["d_three_regimes", "mnist_momentum", "", "snip", 'say "hi"\non two lines', "", "inf", "no", "", "y"],
]


@pytest.fixture
def claims_csv(tmp_path):
    path = tmp_path / "claims.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([columns.TABLES["claims"].column_names, *ROWS])
    return path


def cells(page: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", page, re.S)


def test_a_page_shows_every_row_and_column_escaped_and_sortable(claims_csv):
    config = load_config()
    page = table_page(columns.TABLES["claims"], config, claims_csv)
    head, body = page.split("<tbody>")
    assert cells(head.split("<thead>")[1], "th") == columns.TABLES["claims"].column_names
    assert [html.unescape(c) for c in cells(body, "td")] == [cell for row in ROWS for cell in row]
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert "2 rows" in page
    assert 'addEventListener("click"' in page and "compareCells" in page  # the sorting script
    for names, _ in columns.rendered(columns.TABLES["claims"], config, columns.as_html)[1]:
        assert all(f"<code>{n}</code>" in page for n in names)


def test_a_pages_download_link_embeds_the_csv_itself(claims_csv):
    page = table_page(columns.TABLES["claims"], load_config(), claims_csv)
    link = re.search(r'<a download="claims.csv" href="data:text/csv;base64,([^"]+)">download CSV</a>', page)
    assert base64.b64decode(link[1]) == claims_csv.read_bytes()


def test_a_page_shows_what_made_its_table_if_known(claims_csv):
    config = load_config()
    made = table_page(columns.TABLES["claims"], config, claims_csv, {"commit": "0123abc", "host": "<node7>"})
    assert "Made by" in made and "<dt>commit</dt><dd>0123abc</dd>" in made and "&lt;node7&gt;" in made
    assert "Made by" not in table_page(columns.TABLES["claims"], config, claims_csv)


def test_a_table_job_writes_the_csv_then_its_page_each_noted(tmp_path):
    frame = pd.DataFrame([row[:4] for row in ROWS], columns=columns.TABLES["claims"].column_names[:4])
    csv_path, page_path = tmp_path / "claims.csv", tmp_path / "claims.html"
    write_table(frame, csv_path, page_path, load_config(), "made-with")
    link = re.search(r'href="data:text/csv;base64,([^"]+)"', page_path.read_text())
    assert base64.b64decode(link[1]) == csv_path.read_bytes() and pd.read_csv(csv_path).shape == (2, 4)
    assert all(read_json(made_path(p))["made_with"] == "made-with" for p in (csv_path, page_path))
