"""MNIST-format data from files the user already has: IDX (raw or gzip) or CSV. No download.

IDX is the format of the original MNIST files (``train-images-idx3-ubyte.gz`` ...)::

    bytes 0-1   0x00 0x00                      magic: two zero bytes
    byte  2     element type: 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   each dimension as a big-endian int32
    the data    big-endian, C order

Images files have d = 3 (count, rows, cols), label files d = 1. Every header field and
the file length are checked, so a truncated download or a label file passed as images is
reported plainly instead of producing garbage.

CSV is the common "label,pixel0,...,pixel783" layout (``mnist_train.csv``), with or
without a header row.

Both give a :class:`~tinynet.data.TensorDataset` of float32 images ``(N, 1, 28, 28)``
scaled to [0, 1] (or flattened to ``(N, 784)``) and int64 labels.
"""
from __future__ import annotations

import gzip
import os

import numpy as _np

from .dataset import TensorDataset

_IDX_TYPES = {0x08: _np.dtype(">u1"), 0x09: _np.dtype(">i1"), 0x0B: _np.dtype(">i2"),
              0x0C: _np.dtype(">i4"), 0x0D: _np.dtype(">f4"), 0x0E: _np.dtype(">f8")}

#: file names looked for by :func:`load_mnist`, per split, in order
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CSV_NAMES = {"train": ("mnist_train.csv", "train.csv"), "test": ("mnist_test.csv", "test.csv")}


def _read_bytes(path) -> bytes:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_idx: no such file: {path}")
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open     # gzip by content, not by name
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"read_idx: {path} looks gzip-compressed but could not be decompressed ({exc}); "
                         "the file is probably truncated or damaged") from None


def read_idx(path) -> _np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into a NumPy array, checking its header and length."""
    data = _read_bytes(path)
    name = os.fspath(path)
    if len(data) < 4:
        raise ValueError(f"read_idx: {name} is {len(data)} bytes long, too short for an IDX header (4 bytes)")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"read_idx: {name} is not an IDX file: it must start with two zero bytes, got "
                         f"0x{data[0]:02x} 0x{data[1]:02x}")
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"read_idx: {name} has unknown element type 0x{code:02x}; expected one of "
                         + ", ".join(f"0x{c:02x}" for c in _IDX_TYPES))
    if ndim == 0:
        raise ValueError(f"read_idx: {name} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {name} is truncated inside its header ({len(data)} bytes, header needs {header})")
    dims = tuple(int(d) for d in _np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = header + int(_np.prod(dims, dtype=_np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(f"read_idx: {name} is {what}: header declares shape {dims} of {dtype.name} "
                         f"({expected} bytes in all) but the file has {len(data)} bytes")
    arr = _np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def _finish(images, labels, normalize, flatten, source):
    images = images.astype(_np.float32)
    if normalize:
        images /= 255.0
    images = images.reshape(images.shape[0], -1) if flatten else images.reshape(images.shape[0], 1,
                                                                                 *images.shape[1:])
    ds = TensorDataset(images, labels.astype(_np.int64))
    ds.num_classes = 10
    ds.classes = list(range(10))
    ds.source = source
    return ds


def _check_labels(labels, source):
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        bad = labels[(labels < 0) | (labels > 9)][0]
        raise ValueError(f"{source}: label {bad} is out of range; MNIST labels are 0..9")


def load_mnist_idx(images_path, labels_path, normalize=True, flatten=False, image_size=(28, 28)):
    """Images and labels from a pair of IDX files (raw or .gz).

    Checks: images are 3-D (count, rows, cols) of ``image_size`` (None accepts any),
    labels 1-D, the counts agree, labels are 0..9.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    src = f"load_mnist_idx({os.fspath(images_path)}, {os.fspath(labels_path)})"
    if images.ndim != 3:
        hint = " (is this the labels file?)" if images.ndim == 1 else ""
        raise ValueError(f"{src}: the images file must hold a 3-D array (count, rows, cols), got shape "
                         f"{images.shape}{hint}")
    if image_size is not None and images.shape[1:] != tuple(image_size):
        raise ValueError(f"{src}: expected {image_size[0]}x{image_size[1]} images, got "
                         f"{images.shape[1]}x{images.shape[2]} (pass image_size=None to accept any size)")
    if labels.ndim != 1:
        hint = " (is this the images file?)" if labels.ndim == 3 else ""
        raise ValueError(f"{src}: the labels file must hold a 1-D array, got shape {labels.shape}{hint}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{src}: {images.shape[0]} images but {labels.shape[0]} labels; the files do not belong "
                         "together")
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{src}: labels must be integers, got {labels.dtype}")
    _check_labels(labels, src)
    return _finish(images, labels, normalize, flatten, src)


def load_mnist_csv(path, normalize=True, flatten=False, image_size=(28, 28), header=None):
    """Images and labels from a CSV file of rows ``label,p0,...,p783`` (pixels 0..255).

    ``header``: True/False, or None to skip a first row that is not numeric.
    """
    path = os.fspath(path)
    src = f"load_mnist_csv({path})"
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{src}: no such file")
    with open(path, "r", encoding="utf-8") as f:
        first = f.readline()
    if header is None:
        cells = [c.strip() for c in first.split(",")]
        try:
            [float(c) for c in cells]
            header = False
        except ValueError:
            header = True
    try:
        table = _np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2, dtype=_np.float64)
    except ValueError as exc:
        raise ValueError(f"{src}: could not parse the file as comma-separated numbers ({exc})") from None
    pixels = int(_np.prod(image_size))
    if table.shape[1] != pixels + 1:
        raise ValueError(f"{src}: expected {pixels + 1} columns per row (label + {image_size[0]}x{image_size[1]} "
                         f"pixels), got {table.shape[1]}")
    labels = table[:, 0]
    if not _np.all(labels == _np.round(labels)):
        raise ValueError(f"{src}: the first column must hold integer labels")
    labels = labels.astype(_np.int64)
    _check_labels(labels, src)
    images = table[:, 1:]
    if images.size and (images.min() < 0 or images.max() > 255):
        raise ValueError(f"{src}: pixel values must be in 0..255, got {images.min()}..{images.max()}")
    return _finish(images.reshape(-1, *image_size), labels, normalize, flatten, src)


def load_mnist(root, split="train", normalize=True, flatten=False):
    """MNIST from a folder holding the standard IDX files (raw or .gz) or CSV files.

    Looks for ``train-images-idx3-ubyte[.gz]`` / ``train-labels-idx1-ubyte[.gz]`` (``t10k-...``
    for ``split="test"``), then ``mnist_train.csv`` / ``train.csv`` (``..._test``). Nothing is
    downloaded: a missing file is a FileNotFoundError listing what was looked for.
    """
    if split not in IDX_NAMES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"load_mnist: {root} is not a directory")

    def find(base):
        for name in (base, base + ".gz"):
            if os.path.isfile(os.path.join(root, name)):
                return os.path.join(root, name)
        return None

    img, lab = (find(b) for b in IDX_NAMES[split])
    if img and lab:
        return load_mnist_idx(img, lab, normalize, flatten)
    for name in CSV_NAMES[split]:
        if os.path.isfile(os.path.join(root, name)):
            return load_mnist_csv(os.path.join(root, name), normalize, flatten)
    looked = [n + "[.gz]" for n in IDX_NAMES[split]] + list(CSV_NAMES[split])
    raise FileNotFoundError(f"load_mnist: no MNIST {split} files in {root}; looked for {', '.join(looked)}. "
                            "tinynet does not download data: put the files there first.")
