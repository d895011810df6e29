"""The MNIST-format loaders, on IDX and CSV files each test writes itself."""
import gzip
import struct

import numpy as np
import pytest

import tinynet as tn
from tinynet.data import DataLoader
from tinynet.data.mnist import load_mnist, load_mnist_csv, load_mnist_idx, read_idx


def _idx_bytes(arr, code=0x08):
    arr = np.asarray(arr)
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">i", d) for d in arr.shape)
    dt = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    return header + arr.astype(dt).tobytes()


def _write(path, data, compress=False):
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture
def digits(rng):
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 0, 9, 1, 7], dtype=np.uint8)
    return images, labels


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, digits, compress):
    images, labels = digits
    ip = _write(tmp_path / "imgs", _idx_bytes(images), compress)
    lp = _write(tmp_path / "labs", _idx_bytes(labels), compress)
    ds = load_mnist_idx(ip, lp)
    x, y = ds.tensors
    assert x.shape == (5, 1, 28, 28) and x.dtype == tn.float32
    np.testing.assert_allclose(x.numpy()[:, 0], images / 255.0, rtol=1e-6)
    assert y.numpy().tolist() == [3, 0, 9, 1, 7] and y.dtype == tn.int64
    flat = load_mnist_idx(ip, lp, flatten=True, normalize=False)
    assert flat.tensors[0].shape == (5, 784)
    np.testing.assert_array_equal(flat.tensors[0].numpy(), images.reshape(5, -1).astype(np.float32))


def test_read_idx_other_dtypes_big_endian(tmp_path):
    a = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "a", _idx_bytes(a, 0x0B))), a)
    f = np.linspace(-1, 1, 6, dtype=np.float32)
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "f", _idx_bytes(f, 0x0D))), f)


def test_load_mnist_finds_standard_names(tmp_path, digits):
    images, labels = digits
    _write(tmp_path / "t10k-images-idx3-ubyte.gz", _idx_bytes(images), True)
    _write(tmp_path / "t10k-labels-idx1-ubyte.gz", _idx_bytes(labels), True)
    ds = load_mnist(tmp_path, "test")
    assert len(ds) == 5
    batches = list(DataLoader(ds, batch_size=2))
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    with pytest.raises(FileNotFoundError, match=r"no MNIST train files.*train-images-idx3-ubyte\[.gz\].*does not download"):
        load_mnist(tmp_path, "train")


def test_bad_magic(tmp_path, digits):
    bad = b"\x12\x34" + _idx_bytes(digits[0])[2:]
    with pytest.raises(ValueError, match=r"not an IDX file: it must start with two zero bytes, got 0x12 0x34"):
        read_idx(_write(tmp_path / "x", bad))


def test_unknown_type_code(tmp_path):
    data = bytes([0, 0, 0x42, 1]) + struct.pack(">i", 2) + b"\x00\x01"
    with pytest.raises(ValueError, match=r"unknown element type 0x42"):
        read_idx(_write(tmp_path / "x", data))


def test_truncated_and_too_long(tmp_path, digits):
    data = _idx_bytes(digits[0])
    with pytest.raises(ValueError, match=r"is truncated: header declares shape \(5, 28, 28\) of uint8 \(3936 bytes"):
        read_idx(_write(tmp_path / "t", data[:-10]))
    with pytest.raises(ValueError, match=r"longer than its header says"):
        read_idx(_write(tmp_path / "l", data + b"\x00"))
    with pytest.raises(ValueError, match=r"truncated inside its header"):
        read_idx(_write(tmp_path / "h", data[:9]))
    with pytest.raises(ValueError, match=r"too short for an IDX header"):
        read_idx(_write(tmp_path / "s", b"\x00\x00"))


def test_truncated_gzip(tmp_path, digits):
    raw = gzip.compress(_idx_bytes(digits[0]))
    with pytest.raises(ValueError, match=r"could not be decompressed.*truncated or damaged"):
        read_idx(_write(tmp_path / "g", raw[: len(raw) // 2]))


def test_swapped_and_mismatched_files(tmp_path, digits, rng):
    images, labels = digits
    ip = _write(tmp_path / "i", _idx_bytes(images))
    lp = _write(tmp_path / "l", _idx_bytes(labels))
    with pytest.raises(ValueError, match=r"images file must hold a 3-D array.*\(is this the labels file\?\)"):
        load_mnist_idx(lp, ip)
    short = _write(tmp_path / "l4", _idx_bytes(labels[:4]))
    with pytest.raises(ValueError, match=r"5 images but 4 labels"):
        load_mnist_idx(ip, short)
    small = _write(tmp_path / "s", _idx_bytes(rng.integers(0, 256, size=(5, 8, 8))))
    with pytest.raises(ValueError, match=r"expected 28x28 images, got 8x8"):
        load_mnist_idx(small, lp)
    assert load_mnist_idx(small, lp, image_size=None).tensors[0].shape == (5, 1, 8, 8)
    bad_labels = _write(tmp_path / "bl", _idx_bytes(np.array([1, 2, 10, 3, 4])))
    with pytest.raises(ValueError, match=r"label 10 is out of range; MNIST labels are 0..9"):
        load_mnist_idx(ip, bad_labels)
    with pytest.raises(FileNotFoundError, match=r"no such file"):
        load_mnist_idx(tmp_path / "missing", lp)


def _csv(path, images, labels, header=True):
    rows = [",".join(str(v) for v in [lab, *img.reshape(-1)]) for img, lab in zip(images, labels)]
    head = ["label," + ",".join(f"pixel{i}" for i in range(images[0].size))] if header else []
    path.write_text("\n".join(head + rows) + "\n")
    return path


@pytest.mark.parametrize("header", [True, False])
def test_csv_round_trip(tmp_path, digits, header):
    images, labels = digits
    ds = load_mnist_csv(_csv(tmp_path / "mnist_train.csv", images, labels, header))
    x, y = ds.tensors
    assert x.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(x.numpy()[:, 0], images / 255.0, rtol=1e-6)
    assert y.numpy().tolist() == labels.tolist()
    assert len(load_mnist(tmp_path, "train")) == 5


def test_csv_errors(tmp_path, digits):
    images, labels = digits
    p = tmp_path / "few.csv"
    p.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match=r"expected 785 columns per row \(label \+ 28x28 pixels\), got 3"):
        load_mnist_csv(p)
    with pytest.raises(ValueError, match=r"pixel values must be in 0..255"):
        load_mnist_csv(_csv(tmp_path / "big.csv", images.astype(np.int64) + 1000, labels))
    with pytest.raises(ValueError, match=r"label 12 is out of range"):
        load_mnist_csv(_csv(tmp_path / "lab.csv", images, np.array([1, 2, 12, 3, 4])))
    p = tmp_path / "text.csv"
    p.write_text("label,a\n1,x\n")
    with pytest.raises(ValueError, match=r"could not parse the file as comma-separated numbers"):
        load_mnist_csv(p)
    with pytest.raises(FileNotFoundError):
        load_mnist_csv(tmp_path / "nope.csv")
