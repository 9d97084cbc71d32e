"""CIFAR-10 / ResNet-8 workload (W3) pieces: binary reader, MD5 checks, model, LR schedule."""

import numpy as np
import pytest
import torch

from sparsedp.data import DataError, read_cifar10, read_cifar_batch, save_split
from sparsedp.engine import SCHEDULES
from sparsedp.fetch import CIFAR10_MD5, fetch
from sparsedp.models import ResNet8

from conftest import network_of


def write_records(path, labels, rng):
    pixels = rng.integers(0, 256, size=(len(labels), 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([np.array(labels, dtype=np.uint8)[:, None], pixels.reshape(len(labels), -1)], axis=1)
    path.write_bytes(records.tobytes())
    return pixels


def test_binary_reader_on_a_hand_made_record_file(tmp_path):
    rng = np.random.default_rng(0)
    pixels = write_records(tmp_path / "batch.bin", [3, 9, 0], rng)
    images, labels = read_cifar_batch(tmp_path / "batch.bin")
    assert labels.tolist() == [3, 9, 0]
    np.testing.assert_array_equal(images, pixels)
    # Planes are R, G, B of 32x32 row-major: byte 1 + 1024 + 32 * 2 + 5 is G at row 2, column 5.
    raw = (tmp_path / "batch.bin").read_bytes()
    assert images[0, 1, 2, 5] == raw[1 + 1024 + 32 * 2 + 5]


def test_binary_reader_rejects_a_truncated_file(tmp_path):
    write_records(tmp_path / "batch.bin", [1, 2], np.random.default_rng(1))
    (tmp_path / "cut.bin").write_bytes((tmp_path / "batch.bin").read_bytes()[:-100])
    with pytest.raises(DataError, match="cut.bin: .* not a whole number of 3073-byte records"):
        read_cifar_batch(tmp_path / "cut.bin")


def test_prepare_splits_45k_5k_and_standardises_per_channel(tmp_path):
    rng = np.random.default_rng(2)
    files = {}
    for i in range(1, 6):
        files[f"data_batch_{i}.bin"] = tmp_path / f"data_batch_{i}.bin"
        write_records(files[f"data_batch_{i}.bin"], rng.integers(0, 10, 10000).tolist(), rng)
    examples = read_cifar10(files)
    save_split(examples, 10, {"validation": 5000}, "channel", tmp_path / "cifar10.npz", {"dataset": "cifar10"})
    arrays = np.load(tmp_path / "cifar10.npz")
    assert arrays["train_x"].shape == (45000, 3, 32, 32) and arrays["val_x"].shape == (5000, 3, 32, 32)
    assert arrays["mean"].shape == (3,) and arrays["std"].shape == (3,)
    scaled = examples["x"].astype(np.float64) / 255
    held_out = np.random.RandomState(0).permutation(50000)[:5000]
    train = np.ones(50000, bool)
    train[held_out] = False
    np.testing.assert_allclose(arrays["mean"], scaled[train].mean((0, 2, 3)))


def test_a_wrong_cifar_file_is_an_md5_error_naming_it(tmp_path):
    local = tmp_path / "local" / "cifar-10-batches-bin"
    local.mkdir(parents=True)
    write_records(local / "test_batch.bin", [0] * 10, np.random.default_rng(3))
    name = "test_batch.bin"
    with pytest.raises(DataError, match=f"{name} from .*: MD5 .* does not match the published {CIFAR10_MD5[name]}"):
        fetch({name: CIFAR10_MD5[name]}, tmp_path / "cache", ["local"], local_dir=tmp_path / "local")
    assert not (tmp_path / "cache" / name).exists()


def test_resnet8_parameter_count_and_output_shape():
    network, init = network_of("resnet8", (3, 32, 32))
    trials = [init(0)[0], init(1)[0]]
    assert sum(v.numel() for v in trials[0].values()) == 75050  # "about 75k" (reference code)
    params = {k: torch.cat([t[k] for t in trials]) for k in trials[0]}
    x = torch.randn(2, 4, 3, 32, 32)
    for loop in (True, False):  # trial by trial, and under vmap
        logits = network.logits(params, {}, x, loop=loop)
        assert logits.shape == (2, 4, 10)
        # Each trial equals the plain nn.Module (pre-activation blocks, parameter-free shortcuts).
        for t in range(2):
            module = ResNet8((3, 32, 32), 10)
            module.load_state_dict({k: v[0] for k, v in trials[t].items()})
            torch.testing.assert_close(logits[t], module(x[t]), rtol=1e-5, atol=1e-5)


def test_linear_decay_schedule_values():
    decay, constant = SCHEDULES["linear_decay"], SCHEDULES["constant"]
    mp = {k: torch.tensor([v]) for k, v in dict(learning_rate=0.1, decay_steps=1000.0, end_factor=0.01).items()}
    for step, expected in [(0, 0.1), (500, 0.1 * (0.01 + 0.99 * 0.5)), (1000, 0.001), (5000, 0.001)]:
        assert float(decay(mp, step)[0]) == pytest.approx(expected, rel=1e-6)
        assert float(constant({"learning_rate": torch.tensor([0.5])}, step)[0]) == pytest.approx(0.5)
