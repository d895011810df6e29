"""Offline datasets: scikit-learn's bundled 8x8 digits, and synthetic 2-D/1-D sets.

Nothing here downloads anything.

* :func:`load_digits` - 1797 handwritten digits (8x8 grey images, 10 classes) shipped inside
  scikit-learn, split once into train/val/test (70/15/15, stratified, fixed by ``seed``).
* :func:`make_moons`, :func:`make_spirals`, :func:`make_blobs`, :func:`make_separable` -
  2-D classification sets for notebooks (decision boundaries you can plot).
* :func:`make_regression` - a noisy 1-D curve, for the 1-10-1 MLP regression.

Every function returns :class:`~tinynet.data.TensorDataset` objects of float32 inputs
and int64 class labels (float32 targets for regression), with ``num_classes`` (and for
digits ``classes``) attached as attributes.
"""
from __future__ import annotations

import functools
import importlib.util
import os

import numpy as _np

from ..tensor.tensor import Tensor
from .dataset import TensorDataset

DIGITS_SPLIT = (0.70, 0.15, 0.15)
_SPLITS = ("train", "val", "test")


def _dataset(x, y, num_classes=None):
    ds = TensorDataset(Tensor(_np.ascontiguousarray(x, dtype=_np.float32)),
                       Tensor(_np.ascontiguousarray(y)))
    if num_classes is not None:
        ds.num_classes = int(num_classes)
    return ds


def stratified_split(labels, fractions, seed=0):
    """Index arrays, one per fraction, with each class divided in the same proportions.

    Within each class the samples are shuffled with ``seed``; the first ``round(f * n_c)``
    go to the first part and so on (the last part takes the rest). Each part is then sorted
    back into dataset order and shuffled once more, so the result depends only on the labels
    and ``seed``.
    """
    labels = _np.asarray(labels)
    rng = _np.random.default_rng(seed)
    parts = [[] for _ in fractions]
    bounds = _np.cumsum(fractions)[:-1]
    for cls in _np.unique(labels):
        idx = _np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(idx.size)]
        cuts = _np.rint(bounds * idx.size).astype(int)
        for k, chunk in enumerate(_np.split(idx, cuts)):
            parts[k].append(chunk)
    out = []
    for chunks in parts:
        idx = _np.sort(_np.concatenate(chunks))
        out.append(idx[rng.permutation(idx.size)])
    return out


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """(images (1797, 64) float64 0..16, labels (1797,) int64), read once per process.

    The data is scikit-learn's bundled ``datasets/data/digits.csv.gz`` (64 pixel columns and
    the label). Reading the file directly skips importing scikit-learn (and SciPy), which
    costs seconds; if the file is not where it usually is, ``sklearn.datasets.load_digits``
    is used instead. Either way nothing is downloaded.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", "digits.csv.gz")
        if os.path.exists(path):
            table = _np.loadtxt(path, delimiter=",")
            return table[:, :-1], table[:, -1].astype(_np.int64)
    from sklearn.datasets import load_digits as _sk_load_digits  # bundled with scikit-learn: offline

    bunch = _sk_load_digits()
    return bunch.data.astype(_np.float64), bunch.target.astype(_np.int64)


def load_digits(split="train", seed=0, flatten=True, normalize=True):
    """scikit-learn's 8x8 handwritten digits as a TensorDataset ``(images, labels)``.

    Args:
        split: "train" (70 %, 1258 samples), "val" (15 %) or "test" (15 %); "all" gives every
            sample. The split is stratified by class and fixed by ``seed``.
        flatten: images as 64 features ``(N, 64)`` (for an MLP) or ``(N, 1, 8, 8)`` (for a CNN).
        normalize: scale pixel values from 0..16 to 0..1.
    """
    if split not in _SPLITS + ("all",):
        raise ValueError(f"load_digits: split must be 'train', 'val', 'test' or 'all', got {split!r}")
    images, labels = _digits_arrays()
    x = images.astype(_np.float32)
    y = labels.copy()
    if normalize:
        x = x / 16.0
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    if split != "all":
        idx = stratified_split(y, DIGITS_SPLIT, seed=seed)[_SPLITS.index(split)]
        x, y = x[idx], y[idx]
    ds = _dataset(x, y, num_classes=10)
    ds.classes = list(range(10))
    return ds


def _rng(seed):
    return _np.random.default_rng(seed)


def make_moons(n_samples=200, noise=0.1, seed=0):
    """Two interleaving half circles (classes 0 and 1) with Gaussian noise of std ``noise``."""
    rng = _rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    t0 = _np.linspace(0, _np.pi, n0)
    t1 = _np.linspace(0, _np.pi, n1)
    x = _np.concatenate([_np.stack([_np.cos(t0), _np.sin(t0)], 1),
                         _np.stack([1 - _np.cos(t1), 0.5 - _np.sin(t1)], 1)])
    y = _np.concatenate([_np.zeros(n0, _np.int64), _np.ones(n1, _np.int64)])
    x = x + rng.normal(0, noise, size=x.shape)
    perm = rng.permutation(n_samples)
    return _dataset(x[perm], y[perm], 2)


def make_spirals(n_samples=300, n_classes=3, noise=0.2, turns=1.0, seed=0):
    """``n_classes`` interleaved spiral arms (the classic CS231n toy set); not linearly separable.

    Arm k: radius r in [0, 1], angle = 4*turns*r + 2*pi*k/n_classes + noise.
    """
    rng = _rng(seed)
    per = [n_samples // n_classes + (1 if k < n_samples % n_classes else 0) for k in range(n_classes)]
    xs, ys = [], []
    for k, m in enumerate(per):
        r = _np.linspace(0.0, 1.0, m)
        t = 4.0 * turns * r + 2 * _np.pi * k / n_classes + rng.normal(0, noise, size=m)
        xs.append(_np.stack([r * _np.sin(t), r * _np.cos(t)], 1))
        ys.append(_np.full(m, k, _np.int64))
    x, y = _np.concatenate(xs), _np.concatenate(ys)
    perm = rng.permutation(n_samples)
    return _dataset(x[perm], y[perm], n_classes)


def make_regression(n_samples=100, noise=0.1, seed=0):
    """A noisy 1-D curve: ``x`` uniform in [-1, 1], ``y = sin(pi x) + 0.5 x + noise``.

    Inputs and targets both have shape ``(N, 1)`` (float32), the shape an ``nn.Linear(1, 10)``
    -> ``Linear(10, 1)`` network (a 1-10-1 MLP) and ``F.mse_loss`` expect.
    """
    rng = _rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n_samples, 1))
    y = _np.sin(_np.pi * x) + 0.5 * x + rng.normal(0, noise, size=x.shape)
    return TensorDataset(Tensor(x.astype(_np.float32)), Tensor(y.astype(_np.float32)))


def make_blobs(n_samples=200, centers=2, n_features=2, cluster_std=1.0, center_box=(-5.0, 5.0), seed=0):
    """Gaussian clusters around ``centers`` (an int: that many random centres in ``center_box``,
    or an array of centre coordinates); label = cluster index."""
    rng = _rng(seed)
    if isinstance(centers, (int, _np.integer)):
        centers = rng.uniform(center_box[0], center_box[1], size=(int(centers), n_features))
    centers = _np.asarray(centers, dtype=_np.float64)
    k = centers.shape[0]
    y = _np.arange(n_samples) % k
    x = centers[y] + rng.normal(0, cluster_std, size=(n_samples, centers.shape[1]))
    perm = rng.permutation(n_samples)
    return _dataset(x[perm], y[perm].astype(_np.int64), k)


def make_separable(n_samples=200, margin=0.5, seed=0):
    """A linearly separable 2-D set: points uniform in [-3, 3]^2 labelled by the side of a
    random line through the origin, with a gap of ``margin`` on each side (for a single logistic
    unit). ``ds.w`` holds the line's unit normal."""
    rng = _rng(seed)
    angle = rng.uniform(0, 2 * _np.pi)
    w = _np.array([_np.cos(angle), _np.sin(angle)])
    pts = []
    while sum(len(p) for p in pts) < n_samples:
        cand = rng.uniform(-3, 3, size=(2 * n_samples, 2))
        pts.append(cand[_np.abs(cand @ w) >= margin])
    x = _np.concatenate(pts)[:n_samples]
    y = (x @ w > 0).astype(_np.int64)
    ds = _dataset(x, y, 2)
    ds.w = w
    return ds


__all__ = ["load_digits", "stratified_split", "make_moons", "make_spirals", "make_regression",
           "make_blobs", "make_separable", "DIGITS_SPLIT"]
