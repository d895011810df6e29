"""Optimizers and learning-rate schedules (``tinynet.optim``), PyTorch's names and formulas.

    opt = optim.Adam(model.parameters(), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()

SGD, Adam, AdamW, RMSprop and Adagrad update each parameter in one fused pass (a Numba
kernel on cpu, a CUDA kernel on cuda); Adadelta, Adamax, NAdam, RAdam, ASGD and LBFGS
compute with the parameter's array module on its device, as do Rprop and
Adafactor. ``optim.swa_utils`` has stochastic weight averaging (AveragedModel, SWALR, update_bn).
"""
from . import lr_scheduler
from . import swa_utils
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rprop import Rprop
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD",
           "LBFGS", "Rprop", "Adafactor", "lr_scheduler", "swa_utils"]
