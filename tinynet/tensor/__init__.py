"""The Tensor class, dtypes, creation functions and the global random generator."""
from . import dtypes
from .creation import (arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, linspace, logspace, ones, ones_like, rand, rand_like, randint, randint_like, randn,
                       randn_like, randperm, tensor, zeros, zeros_like)
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import Tensor
