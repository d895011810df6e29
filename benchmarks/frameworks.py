"""One small adapter per framework, so each workload is written once.

tinynet's public API is PyTorch-shaped, so a model written against
``lib.nn`` / ``lib.F`` / ``lib.optim`` runs unchanged on both. The adapter adds the few
things that differ: turning NumPy data into a tensor on a device, waiting for the GPU,
and whether the device may be timed at all.
"""
from __future__ import annotations

import importlib


class Lib:
    """Namespace of one framework on one device (``tn`` or ``torch`` on cpu/cuda)."""

    def __init__(self, name, mod, device, nn=None, F=None, optim=None):
        self.name, self.mod, self.device = name, mod, device
        self.nn, self.F, self.optim = nn, F, optim

    @property
    def label(self) -> str:
        return f"{self.name}/{self.device}"

    def tensor(self, array, requires_grad=False):
        """A tensor holding a copy of the NumPy ``array`` on this device (dtype kept)."""
        if self.name == "torch":
            t = self.mod.from_numpy(array.copy()).to(self.device)
            return t.requires_grad_(requires_grad) if requires_grad else t
        return self.mod.tensor(array, device=self.device, requires_grad=requires_grad)

    def no_grad(self):
        return self.mod.no_grad()

    def sync(self):
        """Block until queued device work is done (GPU timing needs this)."""
        if self.device == "cuda":
            self.mod.cuda.synchronize()  # torch.cuda.synchronize / tn.cuda.synchronize

    def seed(self, s=0):
        self.mod.manual_seed(s)


def tinynet_lib(device="cpu") -> Lib:
    """tinynet on ``device``; nn/F/optim are None when those packages are not built yet."""
    import tinynet as tn

    def opt_import(name):
        try:
            return importlib.import_module(name)
        except ImportError:
            return None

    nn = opt_import("tinynet.nn")
    F = getattr(nn, "functional", None) if nn is not None else None
    if F is None:
        F = tn.functional
    return Lib("tinynet", tn, device, nn=nn, F=F, optim=opt_import("tinynet.optim"))


def torch_lib(device="cpu") -> Lib | None:
    """PyTorch on ``device``, or None when it is not installed."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    return Lib("torch", torch, device, nn=torch.nn, F=F, optim=torch.optim)


def torch_version():
    try:
        import torch
        return torch.__version__
    except ImportError:
        return None
