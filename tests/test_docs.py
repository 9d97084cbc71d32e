"""The README as a front door, the manual in docs/: the README short, every link resolving, every
docs page reachable from it, every results path one the workflow makes, and every number it
quotes checked against its source (a reference's README, or the config it describes)."""

import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO, load_config, snakemake, tiny_config

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
# Every page a reader can follow a link from.
PAGES = [README, *DOCS, REPO / "config/README.md", *sorted(REPO.glob("examples/*/README.md")),
         *sorted(REPO.glob("reference/*/README.md"))]  # fmt: skip

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
GENERATED = re.compile(r"<!-- generated from .*?<!-- end of generated -->", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)


def prose(text: str) -> str:
    """Text a reader reads as sentences: no code blocks, no generated blocks."""
    return GENERATED.sub("", FENCE.sub("", text))


def paragraphs(text: str) -> list[str]:
    """Paragraphs and list items, each joined into one line."""
    blocks = re.split(r"\n\s*\n|\n(?=- )", prose(text))
    return [" ".join(block.split()) for block in blocks if block.strip()]


def slugs(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens,
    a repeated anchor numbered."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(FENCE.sub("", page.read_text())) if not re.match(r"[a-z]+:", t)]


def test_the_readme_is_a_front_door_of_at_most_300_lines():
    assert len(README.read_text().splitlines()) <= 300


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves_to_a_file_and_heading(page):
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.relative_to(REPO)}: {target} does not exist"
        if anchor:
            assert linked.suffix == ".md", f"{page.relative_to(REPO)}: {target}: an anchor into a non-Markdown file"
            assert anchor in slugs(linked.read_text()), f"{page.relative_to(REPO)}: {target}: no such heading"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(REPO / t.partition("#")[0]).resolve() for t in relative_links(README)}
    assert DOCS and not [p.name for p in DOCS if p.resolve() not in linked]


# Paths under results/ as the docs write them: placeholders <name>, {pdf,png}, … for the rest.
RESULTS_PATH = re.compile(r"(?<![\w/])results/(?:<[^>\n]+>|[\w.\-…/{},*])*")
# Where the workflow writes besides its declared outputs (as common.smk builds them).
NOT_OUTPUTS = ("checkpoints", ".made", "logs", "benchmarks")


def experiments() -> set[str]:
    configs = [REPO / "config.yaml", *(REPO / "config").glob("*.yaml"), *(REPO / "examples").glob("*/config.yaml")]
    return {yaml.safe_load(c.read_text()).get("experiment") for c in configs} - {None}


def named_paths(page: Path) -> list[str]:
    """The results paths a page names, {a,b} spelled out."""
    paths = []
    for path in RESULTS_PATH.findall(GENERATED.sub("", page.read_text())):
        path = path.rstrip(".,")
        braces = re.search(r"\{([\w,]+)\}", path)
        if braces:
            paths += [path[: braces.start()] + alt + path[braces.end() :] for alt in braces[1].split(",")]
        else:
            paths.append(path)
    return paths


def path_pattern(path: str) -> re.Pattern:
    """A docs path as a pattern of the files it names: any experiment, a placeholder one path
    segment or part of one, … anything; a folder (or a path ending in …) names what is under it."""
    parts = re.split(r"(<[^>]+>|…|\.\.\.)", path.split("/", 2)[2] if path.count("/") >= 2 else "")
    body = "".join("[^/]+" if p.startswith("<") else ".*" if p in ("…", "...") else re.escape(p) for p in parts)
    folder = path.endswith(("/", "…", "...")) or path.count("/") < 2
    return re.compile(r"results/[^/]+/" + body + (".*" if folder else ""))


@pytest.fixture(scope="module")
def made_files(tmp_path_factory) -> list[str]:
    """Every file a small experiment makes (its DAG in Snakemake's --summary, nothing run): the
    tiny config with a second replicate, so that replicates' folders are among them. One rule
    draws every figure of the registry (and one writes its table), so Figure 1's files stand for
    any figure's."""
    from sparsedp.registry import FIGURES

    config = tiny_config()
    config["workloads"]["mnist_momentum"]["replicates"] = 2
    proc = snakemake(tmp_path_factory.mktemp("summary"), config, "--summary")
    made = [line.split("\t")[0] for line in proc.stdout.splitlines()[1:] if line.startswith("results/")]
    figure = re.compile(r"(/figures/|/tables/)fig1_mnist\.")
    return made + [figure.sub(rf"\g<1>{name}.", f) for f in made if figure.search(f) for name in FIGURES]


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(REPO)))
def test_every_results_path_is_one_the_workflow_makes_under_its_experiment(page, made_files):
    common = (REPO / "workflow/rules/common.smk").read_text()
    assert all(f'f"{{RESULTS}}/{name}' in common for name in NOT_OUTPUTS)
    known = experiments()
    for path in named_paths(page):
        experiment, _, rest = path.removeprefix("results/").partition("/")
        assert experiment == "<experiment>" or experiment in known, f"{page.name}: {path}: results/<experiment>/..."
        if rest.split("/")[0] in NOT_OUTPUTS:
            continue
        assert any(path_pattern(path).fullmatch(f) for f in made_files), (
            f"{page.name}: {path}: no file the workflow makes"
        )


# A time as the READMEs write one: "13 min 59 s", "949 s", "2 h".
TIME = re.compile(r"\b\d[\d,.]*(?: min(?: \d+ s)?| s| h| minutes| hour| hours| seconds)\b")
REFERENCE_LINK = re.compile(r"\]\((reference/[^)#\s]+)\)")


def test_every_time_the_readme_quotes_is_in_the_reference_it_cites():
    quoted = 0
    for paragraph in paragraphs(README.read_text()):
        for time in TIME.findall(paragraph):
            sources = [REPO / link for link in REFERENCE_LINK.findall(paragraph)]
            assert sources, f"README: {time} cites no reference: {paragraph}"
            texts = [" ".join(s.read_text().split()) for s in sources if s.is_file()]
            assert any(time in text for text in texts), f"README: {time} not in {[str(s) for s in sources]}"
            quoted += 1
    assert quoted  # the quick preset's time, at least


def grid(workloads: list[dict]) -> tuple[int, int]:
    """Sparsities and batch sizes per workload, the same for every one of them."""
    (shape,) = {(len(w["sparsities"]), len(w["batch_sizes"])) for w in workloads}
    return shape


def test_the_paper_grid_the_readme_states_is_config_yaml():
    text = " ".join(prose(README.read_text()).split())
    config = load_config()
    trials = config["search"]["n_trials"]
    mnist = [w for w in config["workloads"].values() if w["dataset"] == "mnist"]
    m = re.search(r"(\d+) optimizers × (\d+) sparsities × (\d+) batch sizes × (\d+) trials = ([\d,]+) MNIST", text)
    assert m, "README: the paper's MNIST grid"
    sparsities, batches = grid(mnist)
    stated = [int(g.replace(",", "")) for g in m.groups()]
    assert stated == [len(mnist), sparsities, batches, trials, len(mnist) * sparsities * batches * trials]
    cifar = [w for w in config["workloads"].values() if w["dataset"] == "cifar10"]
    m = re.search(r"(\d+) sparsities × (\d+) batch sizes × (\d+) trials = ([\d,]+) CIFAR-10", text)
    assert m, "README: the paper's CIFAR-10 grid"
    sparsities, batches = grid(cifar)
    stated = [int(g.replace(",", "")) for g in m.groups()]
    assert stated == [sparsities, batches, trials, len(cifar) * sparsities * batches * trials]


def test_the_quick_preset_the_readme_describes_is_config_quick_yaml():
    text = " ".join(prose(README.read_text()).split())
    m = re.search(
        r"Momentum at sparsity (\d+) and (\d+)% and SGD dense only, batch sizes (\d+)–(\d+), (\d+) trials per study, "
        r"goal error ([\d.]+)",
        text,
    )
    assert m, "README: the quick preset's description"
    config = load_config("config/quick.yaml")
    momentum, sgd = config["workloads"]["mnist_momentum"], config["workloads"]["mnist_sgd"]
    assert [float(m[1]), float(m[2]) / 100] == momentum["sparsities"]
    assert sgd["sparsities"] == [0.0]
    batches = momentum["batch_sizes"] + sgd["batch_sizes"]
    assert (int(m[3]), int(m[4])) == (min(batches), max(batches))
    assert int(m[5]) == config["search"]["n_trials"]
    assert float(m[6]) == min(momentum["goal_errors"]) == min(sgd["goal_errors"])
