"""Result files: atomic writes, records that name their kind, and statuses."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)

COMPLETE, INCOMPLETE, INFEASIBLE, PRUNED = "complete", "incomplete", "infeasible", "pruned"
STATUSES = (COMPLETE, INCOMPLETE, INFEASIBLE, PRUNED)
REBUILD = "Delete it and rerun: Snakemake redoes it (and only what depends on it)."


class CorruptResult(RuntimeError):
    """A result file that cannot be read; the message names it and how to rebuild it."""


class BadInput(RuntimeError):
    """A data split or mask that a job cannot use (unreadable, unsafe, or made by other settings).
    It is rebuilt alone (``path`` as the only target), so what was made from it is kept."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared like any other file
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path, obj) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_record(path, kind: str) -> dict:
    """A trial, study or noise record, or CorruptResult naming the file and how to rebuild it."""
    try:
        record = read_json(path)
    except (OSError, ValueError) as exc:
        raise CorruptResult(f"{path}: cannot read this {kind} record ({exc}). {REBUILD}") from None
    if not isinstance(record, dict) or not isinstance(record.get("identity"), dict):
        raise CorruptResult(f"{path}: not a {kind} record of this version (no identity). {REBUILD}")
    return record
