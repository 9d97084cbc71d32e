"""Result files: atomic writes, records that name their kind, and statuses."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

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


def content_digest(arrays: dict) -> str:
    """sha256 of named arrays (numpy arrays or tensors, nested dicts by dotted name) and plain
    values: the content of a data split or mask, whatever the bytes of the file holding it."""
    digest = hashlib.sha256()

    def add(name, value):
        if isinstance(value, dict):
            for key in sorted(value):
                add(f"{name}.{key}", value[key])
            return
        if hasattr(value, "detach"):  # a tensor; no torch import here
            value = value.detach().cpu().numpy()
        if hasattr(value, "tobytes"):
            value = np.ascontiguousarray(value)
            digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
            digest.update(value.tobytes())
        else:
            digest.update(f"{name}={json.dumps(value, sort_keys=True)}".encode())

    add("", arrays)
    return digest.hexdigest()


def stamp_path(path) -> Path:
    """The stamp of a data split or mask file: a small JSON beside it."""
    return Path(path).with_suffix(".json")


def write_stamp(path, identity: dict, digest: str) -> None:
    """Stamp ``path`` (already written) with its identity and content digest. The rules that use
    a data split or mask take its stamp as input, not the file: Snakemake compares a small file's
    checksum before rerunning what was made from it (a large one it judges by mtime alone), so a
    file rebuilt with the same content, touched or copied reruns nothing."""
    write_json(stamp_path(path), {"file": Path(path).name, "identity": identity, "digest": digest})


def stamped_file(stamp) -> tuple[Path, str]:
    """The file a stamp stands for and the digest its content must have."""
    try:
        record = read_json(stamp)
        return Path(stamp).with_name(record["file"]), record["digest"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(stamp, f"cannot read this stamp ({type(exc).__name__}: {exc})") from None


def check_digest(path, content: dict, digest: str) -> None:
    if content_digest(content) != digest:
        raise BadInput(path, "its content differs from what its stamp records (damaged or replaced)")


def read_record(path, kind: str) -> dict:
    """A trial, study or noise record, or CorruptResult naming the file and how to rebuild it."""
    try:
        record = read_json(path)
    except (OSError, ValueError) as exc:
        raise CorruptResult(f"{path}: cannot read this {kind} record ({exc}). {REBUILD}") from None
    if not isinstance(record, dict) or not isinstance(record.get("identity"), dict):
        raise CorruptResult(f"{path}: not a {kind} record of this version (no identity). {REBUILD}")
    return record
