"""Result files: atomic writes, records that name their kind, and statuses."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import provenance

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
    except OSError as exc:  # a full disk, a read-only folder: say which file could not be written
        raise OSError(exc.errno, f"{exc.strerror}: cannot write {path}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path, obj) -> None:
    """Strict JSON (a NaN or infinity is an error, not a token other readers refuse), atomically."""
    try:
        text = json.dumps(obj, indent=1, sort_keys=True, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"{path}: not written: {exc}") from None
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write(text + "\n")


def _non_finite(token: str):
    raise ValueError(f"{token} is not a JSON number")


def read_json(path):
    with open(path) as f:
        return json.load(f, parse_constant=_non_finite)


def record_digest(record: dict) -> str:
    """sha256 of a record's content but its own digest (canonical JSON)."""
    content = {k: v for k, v in record.items() if k != "digest"}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def intact(record: dict) -> bool:
    """Whether a record read back still has the content its digest records."""
    return record.get("digest") == record_digest(record)


def write_record(path, record: dict) -> None:
    """A result record (trial, study, noise scale, network check, stamp) with its content's digest,
    which every reader checks: an edited record is refused, never used."""
    write_json(path, {**record, "digest": record_digest(record)})


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
    write_record(stamp_path(path), {"file": Path(path).name, "identity": identity, "content": digest})


def stamped_file(stamp) -> tuple[Path, str]:
    """The file a stamp stands for and the digest its content must have."""
    try:
        record = read_json(stamp)
        if not intact(record):
            raise ValueError("its digest does not match its content (edited or damaged)")
        return Path(stamp).with_name(record["file"]), record["content"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
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
    if not isinstance(record, dict) or not isinstance(record.get("identity"), dict) or "digest" not in record:
        raise CorruptResult(f"{path}: not a {kind} record of this version (no identity or digest). {REBUILD}")
    if not intact(record):
        raise CorruptResult(f"{path}: its content differs from its digest: edited or damaged, so not used. {REBUILD}")
    return record


# What each result was made with: a hidden file beside it, written by the job that made it. The
# workflow compares it with what the result would be made with now, before any job runs, whatever
# Snakemake's own metadata (.snakemake/) holds: a result made with other settings or code, or
# edited since, is redone (workflow/rules/common.smk, stale_marker).
# Masks and data splits are not: their content is checked by every job that loads them, against
# their stamp (a damaged one is named, and rebuilt alone, keeping what was made from it).
STAMPED_SUFFIXES = (".pt", ".npz")


def made_path(path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}.made")


def file_digest(path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_made(outputs, made_with: str) -> None:
    """Note, beside each of ``outputs`` (just written), what it was made with and its content, and
    for a reader the commit, versions and device that made it (provenance.made_by: compared by
    nothing, so a new commit or machine redoes no result)."""
    for output in outputs:
        note = {"made_with": made_with, "size": os.path.getsize(output), "sha256": file_digest(output)}
        write_json(made_path(output), {**note, "provenance": provenance.made_by()})


def unmade(outputs, made_with: str) -> list[tuple[str, str]]:
    """(output, why) for each existing output not made with ``made_with`` as it stands now."""
    found = []
    for output in map(str, outputs):
        if not os.path.exists(output):
            continue
        try:
            made = read_json(made_path(output))
        except (OSError, ValueError):
            found.append((output, "no record of what it was made with (made by another version, or copied alone)"))
            continue
        if not isinstance(made, dict) or made.get("made_with") != made_with:
            found.append((output, "made with other settings or code than this run's"))
        elif not output.endswith(STAMPED_SUFFIXES) and made.get("sha256") != file_digest(output):
            found.append((output, "changed since it was made (edited, damaged or replaced)"))
    return found
