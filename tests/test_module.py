"""The workflow as a module of another project (issue 27): a Snakefile of the user's with a
`module` directive pointing at this checkout, their config overlay and model file beside it, runs
to Figure 1 and the report with every file written under their folder and none in the checkout.
And what the workflow catalog and snakedeploy read: config/README.md in step with the schema,
config/config.yaml being config.yaml."""

import os
import subprocess
import sys

import yaml

from conftest import DATA_CACHE, OWN_MODEL, REPO, as_overlay, results, tiny_config

USER_SNAKEFILE = """configfile: "config/config.yaml"


module sparsedp:
    snakefile:
        "{checkout}/workflow/Snakefile"
    config:
        config


use rule * from sparsedp
"""


def checkout_files():
    """Every file of the checkout but git's own, with its size and time."""
    return {
        (path, stat.st_size, stat.st_mtime_ns)
        for path in REPO.rglob("*")
        if ".git" not in path.relative_to(REPO).parts and path.is_file() and (stat := path.stat())
    }


def test_a_module_of_another_project_runs_to_figure_1_and_the_report_writing_only_there(tmp_path):
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    (project / "Snakefile").write_text(USER_SNAKEFILE.format(checkout=REPO))
    (project / "my_net.py").write_text(OWN_MODEL)
    config = tiny_config()
    config["experiment"] = "mine"
    config["data"].update(cache="resources/data", local_dir=str(DATA_CACHE / "mnist"), sources=["local"])
    config["models"] = {"my_net": {"factory": "my_net.py:build", "kwargs": {"width": 4}}}
    config["workloads"]["mnist_momentum"].update(model="my_net", sparsities=[0.0, 0.5])
    config["figures"] = {"fig1": {"workloads": ["mnist_momentum"]}}
    (project / "config/config.yaml").write_text(yaml.safe_dump(as_overlay(config)))
    figure = f"results/{config['experiment']}/figures/fig1.pdf"
    before = checkout_files()
    # Python's bytecode caches aside (never written to a read-only checkout), nothing in the checkout.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    profile = ["--workflow-profile", str(REPO / "profiles/default")]
    for extra in ([], ["--report", "report.html"]):
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *profile, *extra, figure],
                              cwd=project, env=env, capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    out = results(project, config)
    assert (out / "figures/fig1.pdf").stat().st_size > 1000
    assert ",my_net," in (out / "tables/fig1.csv").read_text()  # the user's model, from their folder
    import sparsedp

    report = (project / "report.html").read_text()
    assert "fig1" in report and f"sparsedp {sparsedp.__version__}" in report  # the workflow's version
    assert checkout_files() == before


def test_config_readme_lists_every_key_as_the_schema_describes_it():
    from sparsedp.configdoc import block, keys_table

    table = keys_table()
    assert block((REPO / "config/README.md").read_text()) == table, "run python -m sparsedp.configdoc config/README.md"
    assert "|  |\n" not in table, "a key without a description in the schema"
    for preset in (REPO / "config").glob("*.yaml"):
        assert preset.is_symlink() or f"`config/{preset.name}`" in (REPO / "config/README.md").read_text()


def test_the_catalogs_config_is_config_yaml_and_the_version_is_the_packages():
    import sparsedp

    assert (REPO / "config/config.yaml").resolve() == REPO / "config.yaml"
    assert 'version = { attr = "sparsedp.__version__" }' in (REPO / "pyproject.toml").read_text()
    assert f"## {sparsedp.__version__}" in (REPO / "CHANGELOG.md").read_text()
    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    assert catalog["usage"]["software-stack-deployment"]["report"] is True
