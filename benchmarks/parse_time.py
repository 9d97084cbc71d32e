"""Parse-time identities: what caching the code digests (identity._code) saves, in one process.

    python benchmarks/parse_time.py             # the default config's grid (146 studies)

Every training job's tracked params hold its study's identity, and Snakemake asks for them once
per job and again for the note beside its outputs: a dry run of the paper's grid computed about
4,000 study identities, each digesting the code of its trials, masks and data. Baseline: each
identity computed with the code digests' cache emptied first (how it was before the cache);
then with the cache. The identities must be equal. Then the whole dry run, timed once.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sparsedp import identity  # noqa: E402
from sparsedp.config import load, studies  # noqa: E402


def identities(config, grid, cached: bool) -> tuple[list[dict], float]:
    start = time.perf_counter()
    out = []
    for study in grid:
        if not cached:
            identity._code.cache_clear()
        out.append(identity.study_identity(config, study))
    return out, time.perf_counter() - start


def main() -> int:
    config = load([REPO / "config.yaml"], REPO / "workflow/schemas/config.schema.yaml")
    grid = studies(config)
    baseline, uncached = identities(config, grid, cached=False)
    identity._code.cache_clear()
    result, cached = identities(config, grid, cached=True)
    assert result == baseline, "cached identities differ"
    print(f"{len(grid)} study identities: uncached {uncached:.2f} s, cached {cached:.3f} s, {uncached / cached:.0f}x")
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        dry = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "--quiet", "rules"]
        subprocess.run(dry, cwd=workdir, check=True, capture_output=True)
        print(f"dry run of the default config: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
