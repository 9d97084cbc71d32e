"""The HTML report as a reader meets it: built from a finished tiny run and opened in headless
Chromium (Debian's package, driven by Playwright; nothing downloads a browser) through every
page, category and subcategory, opening every figure and table (its page: rows, columns,
sorting, the CSV) and its description, and searching for a table. Fails on a docutils message
in the build output or the report, a console error or uncaught exception in the page, a request
for anything outside the file, an empty page, a figure whose top is cut off or whose text is
too small to read. Screenshots of every page are left in ``<tmp_path>/screens`` for a person to look at."""

import base64
import csv
import io
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import PIL.Image
import pytest

from sparsedp import columns, registry
from sparsedp.plots import FONT_PT

from conftest import REPO, load_config, results, snakemake

CHROMIUM = shutil.which("chromium")
# As root, in a container, offline: no sandbox, no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# How docutils reports a problem: "<string>:3: (WARNING/2) Inline ..." in the build output, and
# a "System Message: WARNING/2" block in the HTML it writes.
DOCUTILS_MESSAGE = re.compile(r"\((?:INFO/1|WARNING/2|ERROR/3|SEVERE/4)\)|System Message")
MIN_TEXT_PX = 8  # the smallest figure text must show at least this tall (CSS pixels)


@pytest.fixture(scope="module")
def report(finished_run, tmp_path_factory):
    workdir, config = finished_run
    path = tmp_path_factory.mktemp("report") / "report.html"
    proc = snakemake(workdir, config, "--report", str(path))
    return workdir, path, proc.stdout + proc.stderr


def embedded(html: str, name: str):
    """A JSON value the report embeds as ``var <name> = ...;``."""
    return json.loads(re.search(rf"var {name} = (\{{.*?\}});\n", html, re.S)[1])


def test_the_report_builds_without_docutils_messages(report):
    _, path, log = report
    assert not DOCUTILS_MESSAGE.search(log), log
    assert not DOCUTILS_MESSAGE.search(path.read_text())


def test_the_reports_introduction_names_the_figures_of_this_run(report):
    """The tiny run draws Figures 1 and 4 only: the introduction names those, not the paper's five."""
    _, path, _ = report
    intro = re.search(r"Results: (.*?)Tables", path.read_text(), re.S)[1]
    assert "fig1_mnist plot steps-to-result against batch size" in intro
    assert "fig4_mnist every trial of chosen studies" in intro
    assert "fig2_mnist" not in intro and "fig5_cifar" not in intro


def introduction(config: dict):
    """workflow.rst rendered as Snakemake renders the report's global page (it sees only the
    config); its top-level ``set`` values are attributes of the result."""
    import jinja2

    template = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined).from_string(
        (REPO / "workflow/report/workflow.rst").read_text()
    )
    # The workflow adds its version to the config it validated (common.smk).
    return template.make_module({"snakemake": SimpleNamespace(config={**config, "workflow_version": "0.0.0"})})


def test_the_introductions_labels_and_searched_ranges_are_the_registrys():
    intro = introduction(load_config())
    labels = {"optimizer": registry.OPTIMIZERS, "model": registry.MODELS, "dataset": registry.DATASETS,
              "pruning": registry.PRUNING, "schedule": registry.SCHEDULES}  # fmt: skip
    for name, entries in labels.items():
        assert getattr(intro, name) == {key: entry.label for key, entry in entries.items()}, name
    searched = {key: entry.metaparameters for key, entry in {**registry.OPTIMIZERS, **registry.SCHEDULES}.items()}
    assert intro.ranges == {key: [registry.METAPARAMETERS[m].range_key for m in ms] for key, ms in searched.items()}
    assert intro.trial_level == [name for name, figure in registry.FIGURES.items() if figure.level == "trials"]


@pytest.mark.parametrize("preset", ["config/quick.yaml", "config/pruning_quick.yaml", "config/quick_cifar.yaml"])
def test_the_introduction_states_each_workloads_own_search_and_pruning(preset):
    config = load_config(preset)
    text = " ".join(str(introduction(config)).split())
    for name, workload in config["workloads"].items():
        line = text.split(f"**{name}**:", 1)[1].split("- **", 1)[0]
        methods = ", ".join(registry.PRUNING[p].label for p in workload["pruning"])
        sparse = any(s > 0 for s in workload["sparsities"])
        assert (f"pruned with {methods};" if sparse else "dense only;") in line, line
        search = {**config["search"], **workload.get("search", {})}
        assert f"searches learning rate {search['learning_rate']['low']} to " in line, line
        momentum = search["one_minus_momentum"]
        if workload["optimizer"] == "momentum" and momentum["low"] == momentum["high"]:  # a one-point range
            assert f"momentum fixed at {1 - momentum['low']:g}" in line, line


@pytest.mark.parametrize("dirty", [True, False, "unknown"])
def test_the_introduction_shows_the_runs_commit_versions_and_rule_times(dirty):
    run = {"sparsedp": "9.9.9", "commit": "c0ffee", "dirty": dirty, "python": "3.11.2", "torch": "2.5.1",
           "snakemake": "9.27.0", "numpy": "2.1.0", "host": "node1", "finished": "2026-12-07T09:00:00+00:00",
           "devices": "cpu (40 trials)", "trials": 40, "trials_timed": 30}  # fmt: skip
    rules = [
        {"rule": "train_pack", "jobs_timed": "4", "wall_s_total": "80.5", "wall_s_median": "20.1", "wall_s_max": "21.0"}
    ]
    text = " ".join(str(introduction({**load_config(), "provenance": {"environment": run, "rules": rules}})).split())
    assert "sparsedp 9.9.9 at commit c0ffee" in text
    assert ("with uncommitted changes" in text) == (dirty is True)
    assert ("uncommitted changes unknown" in text) == (dirty == "unknown")
    assert "Python 3.11.2, torch 2.5.1, Snakemake 9.27.0, numpy 2.1.0" in text
    assert "Trials trained on cpu (40 trials); 30 of 40 trials in jobs timed here" in text
    assert "* - train_pack - 4 - 80.5 - 20.1 - 21.0" in text
    assert "provenance:" not in text.split("<summary>Configuration</summary>", 1)[1]  # not in the config shown


def test_each_table_is_in_the_reports_menu_once_as_its_page(report, finished_run):
    """Its page (rows, columns, the CSV to download), not the CSV beside it as a second entry."""
    workdir, path, _ = report
    out = results(workdir, finished_run[1])
    tables = {p.stem for folder in ("tables", "provenance") for p in (out / folder).glob("*.csv")}
    assert tables == {*columns.TABLES, *finished_run[1]["figures"]}
    pages = [p for subcategories in embedded(path.read_text(), "categories")["Tables"].values() for p in subcategories]
    assert sorted(Path(p).name for p in pages) == sorted(f"{name}.html" for name in tables)


class Reader:
    """A browser page on the report, recording whatever a reader would see go wrong."""

    def __init__(self, browser, report: Path, screens: Path):
        self.url = report.as_uri()
        self.screens = screens
        self.problems = []
        self.page = browser.new_page(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))
        self.page.on("request", lambda r: r.url.startswith(("data:", "file:")) or self.problems.append(r.url))

    def open(self, *links: str):
        """The report afresh, then the menu links named (a category, a subcategory, ...)."""
        self.page.goto(self.url)
        for name in links:
            self.page.locator("nav").get_by_role("link", name=name, exact=True).click()

    def check(self, name: str):
        """No problem so far and something on the page; then a screenshot."""
        self.page.wait_for_timeout(300)  # React and the rule graph render asynchronously
        assert not self.problems, f"{name}: {self.problems}"
        assert self.page.locator("#app").inner_text().strip(), f"{name}: an empty page"
        self.page.screenshot(path=self.screens / f"{len(list(self.screens.iterdir())):02d}_{name}.png")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (CI installs it)")
def test_every_page_renders_and_every_figure_and_table_opens(report, tmp_path):
    from playwright.sync_api import sync_playwright

    workdir, path, _ = report
    screens = tmp_path / "screens"
    screens.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        reader = Reader(browser, path, screens)
        reader.open()
        reader.check("workflow")
        reader.page.get_by_text("Configuration", exact=True).click()
        description = reader.page.locator(".prose").first.inner_text()
        assert "This run" in description and "n_trials: 10" in description  # the run's configuration
        # What made the results (the run's provenance/): commit, versions, devices, wall time per rule.
        made = json.loads(next(workdir.glob("results/*/provenance/environment.json")).read_text())
        assert f"sparsedp {made['sparsedp']} at commit {made['commit']}" in description
        assert f"Python {made['python']}, torch {made['torch']}, Snakemake {made['snakemake']}" in description
        assert "Trials trained on cpu (40 trials); 40 of 40 trials in jobs timed here" in description
        timed = reader.page.locator(".prose table").first.inner_text()
        assert re.search(r"train_pack\s+4\s+[0-9.]+", timed) and re.search(r"figure\s+2\s+[0-9.]+", timed), timed
        assert "provenance:" not in description.split("Configuration", 1)[1]  # not a setting
        reader.check("workflow_configuration")
        rules = [node["rule"] for node in reader.page.evaluate("rulegraph_spec.data[0].values")]
        assert sorted(rules) == sorted(set(rules)), f"the rule graph shows a rule twice: {sorted(rules)}"
        for page in ("Statistics", "About"):
            reader.open(page)
            reader.check(page)

        categories = reader.page.evaluate("categories")
        for category, subcategories in categories.items():
            for subcategory, paths in subcategories.items():
                links = [category, subcategory] if len(subcategories) > 1 else [category]
                name = re.sub(r"\W+", "_", f"{category}_{subcategory}")
                reader.open(*links)
                assert reader.page.locator("nav table tbody tr").count() == len(paths), name
                reader.check(name)
                for i in range(len(paths)):
                    reader.open(*links)
                    opened = open_result(reader, workdir, reader.page.locator("nav table tbody tr").nth(i), name)
                    assert opened in paths, opened
                    paths = [p for p in paths if p != opened]
                    reader.check(f"{name}_{Path(opened).stem}")
                    reader.open(*links)
                    reader.page.locator("nav table tbody tr").nth(i).locator("a").nth(1).click()  # its description
                    caption = reader.page.locator("nav .prose").inner_text()
                    assert caption.strip() and not DOCUTILS_MESSAGE.search(caption), caption
                    reader.check(f"{name}_{Path(opened).stem}_description")
                assert paths == [], f"{name}: never opened {paths}"

        reader.open()
        search = reader.page.get_by_placeholder("Search...")
        search.fill("claims")
        search.press("Enter")
        found = reader.page.locator("nav table tbody tr")
        assert found.count() == 1 and "claims.csv" in found.inner_text(), "searching 'claims' finds its table"
        assert Path(open_result(reader, workdir, found, "search")).name == "claims.html"
        reader.check("search_claims")
        browser.close()


def open_result(reader: Reader, workdir: Path, row, name: str) -> str:
    """Click a result's eye button: a figure must show with readable text, a table as its page.
    Returns the result's path."""
    row.locator("a").first.click()
    shown = reader.page.locator("#app iframe, #app img[src^='data:image']").last
    shown.wait_for()
    src = shown.get_attribute("src")
    result = next(p for p, r in reader.page.evaluate("results").items() if r["data_uri"] == src)
    if shown.evaluate("e => e.tagName") == "IFRAME":
        check_table_page(shown.content_frame, workdir / Path(result).with_suffix(".csv"))
        return result
    natural, shown_px, top = shown.evaluate("i => [i.naturalWidth, i.width, i.getBoundingClientRect().top]")
    assert natural > 0, f"{name}: the figure does not load"
    # The report centres a figure: one taller than the window loses its top, out of the scroll bar's reach.
    assert top >= 0, f"{name}: the figure's top is cut off"
    dpi = PIL.Image.open(workdir / result).info["dpi"][0]
    text_px = FONT_PT / 72 * dpi * shown_px / natural
    assert text_px >= MIN_TEXT_PX, f"{name}: {FONT_PT} pt text shows {text_px:.1f} px tall"
    return result


def check_table_page(page, table: Path):
    """A table's page shows every row of its CSV as it is, every column with its description,
    sorts by a column when its name is clicked (numbers by value, empty cells last), and offers
    the CSV itself to download."""
    header, *rows = csv.reader(io.StringIO(table.read_text(), newline=""))
    shown = "table.rows tbody"
    page.locator(shown).wait_for()  # the frame loads after the click
    cells = "b => Array.from(b.rows, r => Array.from(r.cells, c => c.textContent))"
    assert page.locator("table.rows th").all_text_contents() == header, table.name
    assert page.locator(shown).evaluate(cells) == rows, table.name
    described = page.locator("dl.columns dt").all_text_contents()
    assert sorted(n for names in described for n in names.split(", ")) == sorted(header), table.name
    assert f"{len(rows)} row" in page.locator("p.count").text_content()
    href = page.get_by_role("link", name="download CSV").get_attribute("href")
    assert base64.b64decode(href.split(",", 1)[1]) == table.read_bytes(), table.name
    column = next(
        c for c in ("steps_to_result", "steps_median", "b_crit_fit", "b_simple", "holds", "wall_s_total") if c in header
    )
    page.locator("table.rows th", has_text=re.compile(f"^{column}$")).click()
    values = [row[header.index(column)] for row in page.locator(shown).evaluate(cells)]
    filled = [v for v in values if v]
    assert values == filled + [""] * (len(values) - len(filled)), f"{table.name}: empty cells not last"
    key = str if column == "holds" else float
    assert filled == sorted(filled, key=key), f"{table.name}: not sorted by {column}: {values}"
