"""The Tensor class, dtypes, creation functions and the global random generator."""
from . import dtypes
from .creation import (arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, linspace, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, randperm, tensor, zeros, zeros_like)
from .random import get_rng_state, initial_seed, manual_seed, set_rng_state
from .tensor import Tensor
