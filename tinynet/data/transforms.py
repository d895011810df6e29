"""Transforms: preprocessing and random augmentation of input batches (NumPy, on the host).

Every transform is a callable ``t(x, generator=None)``. ``x`` is a NumPy array or a
Tensor (a Tensor comes back as a Tensor on its device; the work is done on a host copy).
Image transforms take a batch ``(N, C, H, W)`` or one image ``(C, H, W)`` and draw one
random choice per image, vectorised over the batch. The random source is, in order,
the ``generator`` argument (the DataLoader passes its own), the transform's own
``seed``/``generator``, or tinynet's global generator.

* :class:`Compose` chains transforms.
* :class:`Normalize` subtracts a fixed mean and divides by a fixed std (per channel).
* :class:`Standardize` learns mean and std from training data (``fit``), then applies them;
  its state is plain numbers (``state_dict``), so it can be saved with a checkpoint.
* :class:`RandomCrop`, :class:`RandomHorizontalFlip`, :class:`RandomRotation`,
  :class:`RandomAffine`: augmentation for images.
"""
from __future__ import annotations

import numbers

import numpy as _np

from ..tensor import random as _random
from ..tensor.tensor import Tensor


class Transform:
    """Base class: subclasses implement ``apply(array, rng) -> array``."""

    accepts_generator = True  # the DataLoader passes its generator to transforms that say so

    def __init__(self, seed=None, generator=None):
        self._generator = generator if generator is not None else (
            _np.random.default_rng(seed) if seed is not None else None)

    def _rng(self, generator):
        if generator is not None:
            return generator
        return self._generator if self._generator is not None else _random.generator()

    def __call__(self, x, generator=None):
        if isinstance(x, Tensor):
            host = x.device.to_host(x.array)
            out = _np.asarray(self.apply(host, self._rng(generator)))
            return Tensor._make(x.device.from_host(out) if x.device.xp is not _np else out, x.device)
        return self.apply(_np.asarray(x), self._rng(generator))

    def apply(self, x, rng):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply ``transforms`` one after another (all with the same generator)."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = list(transforms)

    def __call__(self, x, generator=None):
        for t in self.transforms:
            x = t(x, generator=generator) if getattr(t, "accepts_generator", False) else t(x)
        return x

    def apply(self, x, rng):
        return self(x, generator=rng)


def _per_channel(values, x, who):
    """Shape a scalar or per-channel sequence to broadcast against x.

    For images (ndim >= 3) the channel axis is -3, so values get shape (C, 1, 1); for
    feature vectors (ndim <= 2) they line up with the last axis.
    """
    v = _np.asarray(values, dtype=_np.float64)
    if v.ndim == 0:
        return v
    if v.ndim != 1:
        raise ValueError(f"{who}: expected a number or a 1-D sequence, got shape {v.shape}")
    axis_len = x.shape[-3] if x.ndim >= 3 else x.shape[-1]
    if v.size != axis_len:
        what = "channels" if x.ndim >= 3 else "features"
        raise ValueError(f"{who}: got {v.size} values but the input {tuple(x.shape)} has {axis_len} {what}")
    return v.reshape(-1, 1, 1) if x.ndim >= 3 else v


class Normalize(Transform):
    """``(x - mean) / std`` with fixed numbers, per channel (images) or per feature.

    ``Normalize(0.5, 0.5)`` maps [0, 1] to [-1, 1]; ``Normalize([0.1307], [0.3081])`` is
    the classic MNIST setting. The output keeps a floating input's dtype.
    """

    def __init__(self, mean, std):
        super().__init__()
        s = _np.asarray(std, dtype=_np.float64)
        if _np.any(s <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std}")
        self.mean, self.std = mean, std

    def apply(self, x, rng):
        dtype = x.dtype if x.dtype.kind == "f" else _np.float32
        m = _per_channel(self.mean, x, "Normalize(mean)")
        s = _per_channel(self.std, x, "Normalize(std)")
        return ((x - m) / s).astype(dtype, copy=False)


class Standardize(Transform):
    """Zero mean, unit variance with statistics learned from training data.

    ``fit(x_train)`` computes the mean and (population) std over ``axis`` (default 0:
    one pair per feature of an ``(N, F)`` array; use ``axis=(0, 2, 3)`` for per-channel
    image statistics). Features whose std is below ``eps`` (e.g. always-zero pixels) are
    only centred. Apply to every split with the SAME fitted numbers: fitting on validation
    or test data would leak them into training.
    """

    def __init__(self, axis=0, eps=1e-8):
        super().__init__()
        self.axis = tuple(axis) if isinstance(axis, (tuple, list)) else (int(axis),)
        self.eps = float(eps)
        self.mean = None
        self.std = None
        self.shape = None

    def fit(self, x):
        if isinstance(x, Tensor):
            x = x.device.to_host(x.array)
        x = _np.asarray(x, dtype=_np.float64)
        axes = tuple(a % x.ndim for a in self.axis)
        mean = x.mean(axis=axes, keepdims=True)
        std = x.std(axis=axes, keepdims=True)
        std = _np.where(std < self.eps, 1.0, std)
        self.shape = list(mean.shape[1:]) if 0 in axes else list(mean.shape)
        self.mean = mean.reshape(-1).tolist()
        self.std = std.reshape(-1).tolist()
        return self

    def apply(self, x, rng):
        if self.mean is None:
            raise RuntimeError("Standardize: call fit(training_data) before applying it")
        mean = _np.asarray(self.mean).reshape(self.shape)
        std = _np.asarray(self.std).reshape(self.shape)
        try:
            _np.broadcast_shapes(x.shape, mean.shape)
        except ValueError:
            raise ValueError(
                f"Standardize: fitted on samples shaped like {tuple(self.shape)}, got input {tuple(x.shape)}"
            ) from None
        dtype = x.dtype if x.dtype.kind == "f" else _np.float32
        return ((x - mean) / std).astype(dtype, copy=False)

    def state_dict(self) -> dict:
        """Plain numbers: ``{"axis", "eps", "shape", "mean", "std"}``."""
        return {"axis": list(self.axis), "eps": self.eps, "shape": self.shape, "mean": self.mean, "std": self.std}

    def load_state_dict(self, state: dict):
        self.axis = tuple(state["axis"])
        self.eps = float(state["eps"])
        self.shape, self.mean, self.std = list(state["shape"]), list(state["mean"]), list(state["std"])
        return self


# --- image augmentation ---------------------------------------------------------------

def _as_batch(x, who):
    """(C, H, W) -> (1, C, H, W); (N, C, H, W) unchanged; anything else is an error."""
    if x.ndim == 4:
        return x, False
    if x.ndim == 3:
        return x[None], True
    raise ValueError(f"{who}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {tuple(x.shape)}")


def _pair(v, who):
    if isinstance(v, numbers.Number):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{who}: expected an int or a pair (h, w), got {v}")
    return v


class RandomCrop(Transform):
    """Pad each image by ``padding`` pixels (value ``fill``), then cut a random ``size`` window.

    ``RandomCrop(28, padding=2)`` shifts digits by up to 2 pixels in each direction.
    """

    def __init__(self, size, padding=0, fill=0.0, seed=None, generator=None):
        super().__init__(seed, generator)
        self.size = _pair(size, "RandomCrop(size)")
        self.padding = int(padding)
        self.fill = fill
        if self.padding < 0 or min(self.size) <= 0:
            raise ValueError(f"RandomCrop: size must be positive and padding >= 0, got size={size}, padding={padding}")

    def apply(self, x, rng):
        xb, single = _as_batch(x, "RandomCrop")
        n, c, h, w = xb.shape
        p = self.padding
        if p:
            xb = _np.pad(xb, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        th, tw = self.size
        H, W = h + 2 * p, w + 2 * p
        if th > H or tw > W:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image ({H}, {W})")
        oy = rng.integers(0, H - th + 1, size=n)
        ox = rng.integers(0, W - tw + 1, size=n)
        rows = (oy[:, None] + _np.arange(th))[:, None, :, None]
        cols = (ox[:, None] + _np.arange(tw))[:, None, None, :]
        out = xb[_np.arange(n)[:, None, None, None], _np.arange(c)[None, :, None, None], rows, cols]
        return out[0] if single else out


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p=0.5, seed=None, generator=None):
        super().__init__(seed, generator)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)

    def apply(self, x, rng):
        xb, single = _as_batch(x, "RandomHorizontalFlip")
        flip = rng.random(xb.shape[0]) < self.p
        out = _np.where(flip[:, None, None, None], xb[..., ::-1], xb)
        return out[0] if single else out


def _range(v, who, symmetric_from_number=True):
    if isinstance(v, numbers.Number):
        if v < 0:
            raise ValueError(f"{who}: a single number must be non-negative, got {v}")
        return (-float(v), float(v)) if symmetric_from_number else (float(v), float(v))
    lo, hi = (float(a) for a in v)
    if lo > hi:
        raise ValueError(f"{who}: expected (min, max) with min <= max, got {v}")
    return lo, hi


class RandomAffine(Transform):
    """Random rotation, translation and scaling about the image centre, one draw per image.

    * ``degrees``: angle range; a number d means (-d, d). Positive angles turn the picture
      counter-clockwise (as torchvision does).
    * ``translate``: (a, b) -> horizontal shift drawn from [-a*W, a*W], vertical from [-b*H, b*H].
    * ``scale``: (lo, hi) -> zoom factor drawn from [lo, hi].
    * ``interpolation``: "nearest" (torchvision's default) or "bilinear"; pixels that come
      from outside the image get ``fill``.

    Implemented by inverse mapping: for each output pixel p (relative to the centre), read
    the input at ``R(-angle) (p - t) / scale``, all images at once with one gather.
    """

    def __init__(self, degrees=0.0, translate=None, scale=None, interpolation="nearest", fill=0.0,
                 seed=None, generator=None):
        super().__init__(seed, generator)
        self.degrees = _range(degrees, f"{type(self).__name__}(degrees)")
        if translate is not None:
            translate = tuple(float(a) for a in translate)
            if len(translate) != 2 or not all(0.0 <= a <= 1.0 for a in translate):
                raise ValueError(f"RandomAffine: translate must be a pair of fractions in [0, 1], got {translate}")
        self.translate = translate
        if scale is not None:
            scale = _range(scale, "RandomAffine(scale)")
            if scale[0] <= 0:
                raise ValueError(f"RandomAffine: scale factors must be positive, got {scale}")
        self.scale = scale
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandomAffine: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation
        self.fill = fill

    def apply(self, x, rng):
        xb, single = _as_batch(x, type(self).__name__)
        n, c, h, w = xb.shape
        angle = _np.deg2rad(rng.uniform(*self.degrees, size=n))
        if self.translate is not None:
            tx = rng.uniform(-self.translate[0] * w, self.translate[0] * w, size=n)
            ty = rng.uniform(-self.translate[1] * h, self.translate[1] * h, size=n)
        else:
            tx = ty = _np.zeros(n)
        s = rng.uniform(*self.scale, size=n) if self.scale is not None else _np.ones(n)
        out = self._warp(xb, angle, tx, ty, s)
        return out[0] if single else out

    def _warp(self, xb, angle, tx, ty, s):
        n, c, h, w = xb.shape
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy, xx = _np.meshgrid(_np.arange(h) - cy, _np.arange(w) - cx, indexing="ij")  # (h, w)
        dx = xx[None] - tx[:, None, None]
        dy = yy[None] - ty[:, None, None]
        cos, sin = _np.cos(angle)[:, None, None], _np.sin(angle)[:, None, None]
        # Counter-clockwise rotation on screen (y points down): source = R(-angle) p / s.
        src_x = (cos * dx - sin * dy) / s[:, None, None] + cx
        src_y = (sin * dx + cos * dy) / s[:, None, None] + cy
        nidx = _np.arange(n)[:, None, None]
        dtype = xb.dtype if xb.dtype.kind == "f" else _np.float32

        def gather(iy, ix):
            inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            vals = xb[nidx, :, _np.clip(iy, 0, h - 1), _np.clip(ix, 0, w - 1)]  # (n, h, w, c)
            vals = _np.where(inside[..., None], vals, self.fill)
            return vals

        if self.interpolation == "nearest":
            out = gather(_np.rint(src_y).astype(_np.int64), _np.rint(src_x).astype(_np.int64))
        else:
            x0 = _np.floor(src_x).astype(_np.int64)
            y0 = _np.floor(src_y).astype(_np.int64)
            fx = (src_x - x0)[..., None]
            fy = (src_y - y0)[..., None]
            out = (gather(y0, x0) * (1 - fx) * (1 - fy) + gather(y0, x0 + 1) * fx * (1 - fy)
                   + gather(y0 + 1, x0) * (1 - fx) * fy + gather(y0 + 1, x0 + 1) * fx * fy)
        return _np.moveaxis(out, -1, 1).astype(dtype, copy=False)


class RandomRotation(RandomAffine):
    """Rotate each image by an angle drawn from ``degrees`` (a number d means (-d, d))."""

    def __init__(self, degrees, interpolation="nearest", fill=0.0, seed=None, generator=None):
        super().__init__(degrees=degrees, interpolation=interpolation, fill=fill, seed=seed, generator=generator)


__all__ = ["Transform", "Compose", "Normalize", "Standardize", "RandomCrop", "RandomHorizontalFlip",
           "RandomRotation", "RandomAffine"]
