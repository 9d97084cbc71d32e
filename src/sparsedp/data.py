"""Data: the train/validation split of the original files, standardisation on load, and the
validation set's hardest-first order. Part of every result's identity (identity.CODE).

The prepared split is a small .npz of uint8 images; standardisation happens on load.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .results import BadInput, atomic_path, check_digest, content_digest, write_stamp

MNIST_VALIDATION = 6000  # reference code: 10% of the 60k training images
CIFAR10_VALIDATION = 5000
CIFAR10_RECORD = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32x32, row-major


class DataError(RuntimeError):
    """Missing, corrupt or unreadable data files."""


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


def split(n: int, n_validation: int, seed: int = 0):
    """Reference code's hold-out: a numpy RandomState(seed) permutation, first part validation."""
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_validation:], perm[:n_validation]


def prepare_mnist(files: dict[str, Path], out: Path, identity: dict) -> None:
    images = read_idx(files["train-images-idx3-ubyte"])
    labels = read_idx(files["train-labels-idx1-ubyte"])
    if images.shape != (60000, 28, 28) or labels.shape != (60000,):
        raise DataError(f"MNIST training files have shapes {images.shape}, {labels.shape}")
    _save_split(images, labels, MNIST_VALIDATION, out, identity, channel_axes=None)


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


def prepare_cifar10(files: dict[str, Path], out: Path, identity: dict) -> None:
    batches = [read_cifar_batch(files[f"data_batch_{i}.bin"]) for i in range(1, 6)]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    if images.shape != (50000, 3, 32, 32):
        raise DataError(f"CIFAR-10 training batches hold {images.shape[0]} images, expected 50000")
    _save_split(images, labels, CIFAR10_VALIDATION, out, identity, channel_axes=(0, 2, 3))


def _save_split(images, labels, n_validation, out, identity, channel_axes) -> None:
    """Hold out the reference code's validation split; store uint8 images, the training
    split's mean and std over ``channel_axes`` (global for MNIST, per channel for CIFAR), the
    validation set's hardest_first order (computed once here, not in every job that loads it)
    and the split's identity."""
    train, val = split(len(images), n_validation)
    scaled = images[train].astype(np.float64) / 255.0
    arrays = dict(
        train_images=images[train],
        train_labels=labels[train],
        val_images=images[val],
        val_labels=labels[val],
        val_order=hardest_first(images[train], labels[train], images[val], labels[val]),
        mean=np.atleast_1d(scaled.mean(axis=channel_axes)),
        std=np.atleast_1d(scaled.std(axis=channel_axes)),
        identity=np.array(json.dumps(identity, sort_keys=True)),
    )
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    write_stamp(out, identity, content_digest(arrays))


def hardest_first(train_images, train_labels, val_images, val_labels) -> np.ndarray:
    """An order of the validation set, hardest examples first, for early-exit evaluation.

    A trial meets the goal iff its error count over the whole set is within a bound, so the
    decision does not depend on the order; but early exit stops counting as soon as the count
    passes the bound, and that comes sooner when the examples a network gets wrong come first.
    Hardness is the margin of a nearest-class-mean classifier (distance to the true class's
    mean minus distance to the nearest other): fixed by the data alone, so every trial and every
    pack sees the same order, computed in float64 on the CPU so every device does too.
    """
    flat = train_images.reshape(len(train_images), -1)
    means = np.stack([flat[train_labels == c].mean(axis=0, dtype=np.float64) for c in range(10)])
    val = val_images.reshape(len(val_images), -1).astype(np.float64)
    sq_dist = (val**2).sum(1)[:, None] - 2 * val @ means.T + (means**2).sum(1)[None, :]
    rows = np.arange(len(val))
    true = sq_dist[rows, val_labels]
    sq_dist[rows, val_labels] = np.inf
    margin = np.sqrt(np.maximum(true, 0)) - np.sqrt(np.maximum(sq_dist.min(1), 0))
    return np.argsort(-margin, kind="stable")


def load_arrays(path: Path, expected: dict | None = None, digest: str | None = None) -> dict:
    """The arrays of a prepared split, checked to be the split ``expected`` (its identity) and,
    given its stamp's ``digest``, the very content its stamp records."""
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInput(path, f"cannot read this prepared data split ({exc})") from None
    if "identity" not in arrays:
        raise BadInput(path, "prepared by an older version (no identity)")
    if expected is not None and json.loads(str(arrays["identity"])) != expected:
        raise BadInput(path, f"is the split {json.loads(str(arrays['identity']))}, not {expected} (other code)")
    if digest is not None:
        check_digest(path, arrays, digest)
    return arrays


def load_tensors(path: Path, device, expected: dict | None = None, digest: str | None = None) -> dict:
    """Standardised float32 tensors on ``device``: train_x [N, C, H, W], train_y, and the
    validation set val_x, val_y in hardest_first order."""
    import torch

    arrays = load_arrays(path, expected, digest)
    order = arrays["val_order"]
    mean = torch.tensor(arrays["mean"], dtype=torch.float32, device=device).view(-1, 1, 1)
    std = torch.tensor(arrays["std"], dtype=torch.float32, device=device).view(-1, 1, 1)

    def images(a):
        x = torch.from_numpy(a).to(device=device, dtype=torch.float32).div_(255.0)
        x = x.unsqueeze(1) if x.dim() == 3 else x  # MNIST is stored without a channel axis
        return x.sub_(mean).div_(std)

    def labels(a):
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return {
        "train_x": images(arrays["train_images"]),
        "train_y": labels(arrays["train_labels"]),
        "val_x": images(arrays["val_images"][order]),
        "val_y": labels(arrays["val_labels"][order]),
    }
