"""Data: a dataset's examples and labels — a registry dataset's original files, a user's .npz, or
what a user's function returns — checked, split into training and validation sets, stored as a
prepared split, and standardised on load; and the validation set's hardest-first order.

Input shape, number of classes and the standardisation statistics come from the data. Torch-free
at import (the workflow checks a user's .npz at parse time); ``load_tensors`` imports torch.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np

from .results import BadInput, atomic_path, check_digest, content_digest, write_stamp

CIFAR10_RECORD = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32x32, row-major
# The arrays of a dataset: examples and labels, and optionally a validation set of its own.
ARRAYS = ("x", "y", "x_val", "y_val")
SPLIT_SEED = 0  # the reference code's hold-out: a RandomState(0) permutation


class DataError(RuntimeError):
    """Missing, corrupt, unreadable or invalid data; the message names the file and what is wrong."""


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format): magic, dims, then big-endian uint8 data."""
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: {data.size} bytes of data, header says {tuple(dims)}")
    return data.reshape(dims)


def read_mnist(files: dict[str, Path]) -> dict:
    """The 60k MNIST training images [N, 1, 28, 28] uint8 and labels (the reference code holds its
    validation set out of them)."""
    images = read_idx(files["train-images-idx3-ubyte"])
    labels = read_idx(files["train-labels-idx1-ubyte"])
    if images.shape != (60000, 28, 28) or labels.shape != (60000,):
        raise DataError(f"MNIST training files have shapes {images.shape}, {labels.shape}")
    return {"x": images[:, None], "y": labels}


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a CIFAR-10 binary batch: records of 1 label byte + 3072 pixel bytes (R, G, B
    planes, 32x32 row-major). Returns images [N, 3, 32, 32] uint8 and labels [N] uint8."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR10_RECORD:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of {CIFAR10_RECORD}-byte records")
    records = raw.reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0]
    if labels.max() > 9:
        raise DataError(f"{path}: label {labels.max()} outside 0-9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def read_cifar10(files: dict[str, Path]) -> dict:
    """The 50k CIFAR-10 training images [N, 3, 32, 32] uint8 and labels."""
    batches = [read_cifar_batch(files[f"data_batch_{i}.bin"]) for i in range(1, 6)]
    images = np.concatenate([b[0] for b in batches])
    if images.shape != (50000, 3, 32, 32):
        raise DataError(f"CIFAR-10 training batches hold {images.shape[0]} images, expected 50000")
    return {"x": images, "y": np.concatenate([b[1] for b in batches])}


# The reader of each registry dataset's original files (registry.DATASETS says its split and standardisation).
READERS = {"mnist": read_mnist, "cifar10": read_cifar10}


def read_npz(path, names: dict) -> dict:
    """The arrays of a user's .npz: ``names`` maps each of ARRAYS to its name in the file (x and y
    required, x_val and y_val optional)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = {key: npz[name] for key, name in names.items() if name in npz.files}
            present = list(npz.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read this .npz ({type(exc).__name__}: {exc})") from None
    for key in ("x", "y"):
        if key not in found:
            raise DataError(f"{path}: no array {names[key]!r} ({key}); it holds {', '.join(present) or 'none'}")
    return found


def call_function(reference: str, kwargs: dict) -> dict:
    """What a user's data function returns: (x, y), (x, y, x_val, y_val) or a dict of ARRAYS, as
    numpy arrays. ``reference`` is "file.py:function" or "package.module:function"."""
    where, _, name = reference.rpartition(":")
    try:
        if where.endswith(".py"):
            spec = importlib.util.spec_from_file_location(f"sparsedp_user_data_{Path(where).stem}", where)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        returned = getattr(module, name)(**kwargs)
    except Exception as exc:
        raise DataError(f"{reference}: the data function failed ({type(exc).__name__}: {exc})") from None
    if isinstance(returned, dict):
        arrays = returned
    elif isinstance(returned, (tuple, list)) and len(returned) in (2, 4):
        arrays = dict(zip(ARRAYS, returned))
    else:
        raise DataError(
            f"{reference}: returned a {type(returned).__name__}, not (x, y), (x, y, x_val, y_val) or a dict"
        )
    unknown = set(arrays) - set(ARRAYS)
    if unknown:
        raise DataError(f"{reference}: returned unknown arrays {sorted(unknown)} (allowed: {', '.join(ARRAYS)})")
    return {k: np.asarray(v.detach().cpu() if hasattr(v, "detach") else v) for k, v in arrays.items()}


def check_examples(arrays: dict, where, classes: int | None = None) -> int:
    """Check a dataset's arrays (x, y, optional x_val, y_val); return its number of classes
    (``classes``, else the largest label + 1). Raises DataError naming ``where`` and every problem."""
    problems = []
    if ("x_val" in arrays) != ("y_val" in arrays):
        problems.append("x_val and y_val come together (one of them is missing)")
    labels = []
    for x_key, y_key in (("x", "y"), ("x_val", "y_val")):
        if x_key not in arrays or y_key not in arrays:
            continue
        x, y = arrays[x_key], arrays[y_key]
        if x.ndim < 2 or y.ndim != 1:
            problems.append(f"{x_key} must be [examples, ...] and {y_key} [examples]; got shapes {x.shape}, {y.shape}")
            continue
        if len(x) != len(y):
            problems.append(f"{x_key} has {len(x)} examples but {y_key} has {len(y)} labels")
        if len(x) == 0:
            problems.append(f"{x_key} has no examples")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) or x.dtype == bool:
            problems.append(f"{x_key} is {x.dtype}, not numbers")
        elif np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x.reshape(len(x), -1)).all(1)).ravel()
            problems.append(f"{x_key} has NaN or infinite values in {len(bad)} examples (the first: index {bad[0]})")
        if not np.issubdtype(y.dtype, np.integer) or y.dtype == bool:
            problems.append(f"{y_key} is {y.dtype}; labels must be integers 0..C-1")
        elif len(y):
            labels.append(y)
            if y.min() < 0:
                problems.append(f"{y_key} has negative labels (the first at index {int(np.argmax(y < 0))})")
    if "x_val" in arrays and "x" in arrays and arrays["x_val"].shape[1:] != arrays["x"].shape[1:]:
        problems.append(f"x_val's examples are {arrays['x_val'].shape[1:]}, x's {arrays['x'].shape[1:]}")
    largest = max((int(y.max()) for y in labels), default=-1)
    if classes is not None and largest >= classes:
        problems.append(f"labels up to {largest}, outside 0..{classes - 1} (classes: {classes})")
    if not problems and largest < 1 and classes is None:
        problems.append("a single class (every label 0): nothing to learn")
    if problems:
        raise DataError(f"{where}: " + "; ".join(problems))
    return classes if classes is not None else largest + 1


def split(n: int, n_validation: int, seed: int = SPLIT_SEED):
    """Reference code's hold-out: a numpy RandomState(seed) permutation, first part validation."""
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_validation:], perm[:n_validation]


def validation_count(n: int, validation) -> int:
    """Examples held out for validation: ``validation`` as a count, or a fraction of the ``n``."""
    count = validation if isinstance(validation, int) else round(n * validation)
    if not 1 <= count < n:
        raise DataError(
            f"validation {validation} of {n} examples leaves {n - count} for training and {count} for validation"
        )
    return count


def save_split(arrays: dict, classes: int, split_rule: dict, standardise: str, out: Path, identity: dict) -> None:
    """Split ``arrays`` (its own x_val, y_val, or a hold-out of ``split_rule['validation']``
    examples) and store the split with its standardisation statistics, the validation set's
    hardest_first order (computed once here, not in every job that loads it), the number of
    classes and the split's identity. Examples keep their dtype (uint8 images: divided by 255
    on load); statistics are the training split's, over every axis ("global"), every axis but
    the channel axis 1 ("channel"), or none."""
    if "x_val" in arrays:
        train_x, train_y, val_x, val_y = arrays["x"], arrays["y"], arrays["x_val"], arrays["y_val"]
    else:
        train, val = split(len(arrays["x"]), validation_count(len(arrays["x"]), split_rule["validation"]))
        train_x, train_y, val_x, val_y = arrays["x"][train], arrays["y"][train], arrays["x"][val], arrays["y"][val]
    as_stored = (lambda a: a) if arrays["x"].dtype == np.uint8 else (lambda a: a.astype(np.float32))
    divide_by = 255.0 if arrays["x"].dtype == np.uint8 else 1.0
    scaled = train_x.astype(np.float64) / divide_by
    axes = {"global": None, "channel": (0, *range(2, train_x.ndim))}.get(standardise, ())
    if standardise == "none":
        mean, std = np.zeros(1), np.ones(1)
    else:
        mean, std = np.atleast_1d(scaled.mean(axis=axes)), np.atleast_1d(scaled.std(axis=axes))
        std[std == 0] = 1.0  # a constant feature stays 0 rather than dividing by zero
    stored = dict(
        train_x=as_stored(train_x),
        train_y=train_y.astype(np.int64),
        val_x=as_stored(val_x),
        val_y=val_y.astype(np.int64),
        val_order=hardest_first(train_x, train_y, val_x, val_y),
        mean=mean,
        std=std,
        divide_by=np.array(divide_by),
        classes=np.array(classes),
        identity=np.array(json.dumps(identity, sort_keys=True)),
    )
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **stored)
    write_stamp(out, identity, content_digest(stored))


def hardest_first(train_x, train_y, val_x, val_y) -> np.ndarray:
    """An order of the validation set, hardest examples first, for early-exit evaluation.

    A trial meets the goal iff its error count over the whole set is within a bound, so the
    decision does not depend on the order; but early exit stops counting as soon as the count
    passes the bound, and that comes sooner when the examples a network gets wrong come first.
    Hardness is the margin of a nearest-class-mean classifier (distance to the true class's
    mean minus distance to the nearest other; a class without training examples is at infinite
    distance): fixed by the data alone, so every trial and every pack sees the same order,
    computed in float64 on the CPU so every device does too.
    """
    flat = train_x.reshape(len(train_x), -1)
    classes = int(max(train_y.max(), val_y.max())) + 1
    means = np.stack(
        [
            flat[train_y == c].mean(axis=0, dtype=np.float64) if (train_y == c).any() else np.zeros(flat.shape[1])
            for c in range(classes)
        ]
    )
    val = val_x.reshape(len(val_x), -1).astype(np.float64)
    sq_dist = (val**2).sum(1)[:, None] - 2 * val @ means.T + (means**2).sum(1)[None, :]
    sq_dist[:, [c for c in range(classes) if not (train_y == c).any()]] = np.inf
    rows = np.arange(len(val))
    true = sq_dist[rows, val_y]
    sq_dist[rows, val_y] = np.inf
    margin = np.sqrt(np.maximum(true, 0)) - np.sqrt(np.maximum(sq_dist.min(1), 0))
    return np.argsort(-margin, kind="stable")


def load_arrays(path: Path, expected: dict | None = None, digest: str | None = None) -> dict:
    """The arrays of a prepared split, checked to be the split ``expected`` (its identity) and,
    given the content digest its stamp records, that very content."""
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInput(path, f"cannot read this prepared data split ({exc})") from None
    if "identity" not in arrays or "classes" not in arrays:
        raise BadInput(path, "prepared by an older version (no identity or classes)")
    if expected is not None and json.loads(str(arrays["identity"])) != expected:
        raise BadInput(path, f"is the split {json.loads(str(arrays['identity']))}, not {expected} (other code)")
    if digest is not None:
        check_digest(path, arrays, digest)
    return arrays


def load_tensors(path: Path, device, expected: dict | None = None, digest: str | None = None) -> dict:
    """The standardised tensors of a prepared split (``tensors``), checked as by load_arrays."""
    return tensors(load_arrays(path, expected, digest), device)


def tensors(arrays: dict, device) -> dict:
    """Standardised float32 tensors on ``device`` of a prepared split's arrays: train_x [N, ...],
    train_y, and the validation set val_x, val_y in hardest_first order."""
    import torch

    order = arrays["val_order"]
    example_dims = arrays["train_x"].ndim - 1
    mean = torch.tensor(arrays["mean"], dtype=torch.float32, device=device).view(-1, *[1] * (example_dims - 1))
    std = torch.tensor(arrays["std"], dtype=torch.float32, device=device).view(-1, *[1] * (example_dims - 1))

    def examples(a):
        x = torch.from_numpy(a).to(device=device, dtype=torch.float32).div_(float(arrays["divide_by"]))
        return x.sub_(mean).div_(std)

    def labels(a):
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return {
        "train_x": examples(arrays["train_x"]),
        "train_y": labels(arrays["train_y"]),
        "val_x": examples(arrays["val_x"][order]),
        "val_y": labels(arrays["val_y"][order]),
    }
