"""Optimizers and learning-rate schedules (``tinynet.optim``), PyTorch's names and formulas.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()

Every update is one fused pass per parameter (a Numba kernel on cpu, a CUDA kernel on cuda).
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
