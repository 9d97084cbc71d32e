import numpy as np
import pytest

from sparsedp import data
from sparsedp.data import DataError, read_idx
from sparsedp.fetch import MNIST_MD5, fetch

from conftest import DATA_CACHE


def test_prepared_mnist_is_the_reference_split(mnist_npz):
    arrays = np.load(mnist_npz)
    assert arrays["train_x"].shape == (54000, 1, 28, 28)
    assert arrays["val_x"].shape == (6000, 1, 28, 28)
    assert arrays["train_x"].dtype == np.uint8 and int(arrays["classes"]) == 10
    # RandomState(0) permutation: the first 6000 indices are the validation set.
    full = read_idx(DATA_CACHE / "mnist" / "train-labels-idx1-ubyte")
    perm = np.random.RandomState(0).permutation(60000)
    np.testing.assert_array_equal(arrays["val_y"], full[perm[:6000]])
    np.testing.assert_array_equal(arrays["train_y"], full[perm[6000:]])
    assert 0.12 < arrays["mean"][0] < 0.14 and 0.30 < arrays["std"][0] < 0.32


def test_standardised_tensors(mnist):
    x = mnist["train_x"]
    assert tuple(x.shape) == (54000, 1, 28, 28)
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3


def test_validation_set_is_loaded_hardest_first(mnist_npz, mnist):
    arrays = np.load(mnist_npz)
    order = data.hardest_first(arrays["train_x"], arrays["train_y"], arrays["val_x"], arrays["val_y"])
    np.testing.assert_array_equal(arrays["val_order"], order)  # stored once by the data rule
    np.testing.assert_array_equal(np.sort(order), np.arange(6000))  # a permutation: same examples
    np.testing.assert_array_equal(mnist["val_y"].numpy(), arrays["val_y"][order])
    # Hardest first = the nearest-class-mean classifier's mistakes first (all 6000 positions of
    # its ~18% mistakes sit in the front of the order).
    flat = arrays["train_x"].reshape(54000, -1).astype(np.float64)
    means = np.stack([flat[arrays["train_y"] == c].mean(0) for c in range(10)])
    val = arrays["val_x"].reshape(6000, -1).astype(np.float64)[order]
    wrong = ((val[:, None, :] - means[None]) ** 2).sum(-1).argmin(1) != arrays["val_y"][order]
    assert 0.1 < wrong.mean() < 0.3
    assert wrong[: int(wrong.sum())].all() and not wrong[int(wrong.sum()) :].any()


def test_altered_cached_file_is_an_error_naming_the_file(tmp_path, mnist_npz):
    name = "t10k-labels-idx1-ubyte"
    good = (DATA_CACHE / "mnist" / name).read_bytes()
    (tmp_path / name).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(DataError, match=f"{name}: MD5 .* does not match"):
        fetch({name: MNIST_MD5[name]}, tmp_path, ["local"])


def test_truncated_local_copy_is_rejected_and_never_used(tmp_path, mnist_npz):
    name = "t10k-labels-idx1-ubyte"
    local = tmp_path / "local"
    local.mkdir()
    (local / name).write_bytes((DATA_CACHE / "mnist" / name).read_bytes()[:5000])
    with pytest.raises(DataError, match=f"{name} from {local} .*: MD5 .* does not match"):
        fetch({name: MNIST_MD5[name]}, tmp_path / "cache", ["local"], local_dir=local)
    assert not (tmp_path / "cache" / name).exists()


def test_missing_everywhere_says_which_file_and_what_was_tried(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte: not found"):
        fetch({"train-images-idx3-ubyte": "0" * 32}, tmp_path, ["local"], local_dir=tmp_path / "nothing")


def test_idx_reader_rejects_a_short_file(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3]))
    with pytest.raises(DataError, match="header says"):
        read_idx(path)
