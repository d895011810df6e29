"""ReLU and its gradient at one element, written once as plain Python for both devices.

``kernels/cpu/relu.py`` compiles these with ``numba.njit`` (inlined into its loops over the
elements) and ``kernels/cuda/relu.py`` with ``numba.cuda.jit(device=True)`` (one GPU thread
per element), both through ``kernels/_math_module.compile_math``::

    forward:   y = v if v > 0 else 0     (NaN stays NaN, as in PyTorch)
    backward:  dx = g * (v > 0)          (the gradient is 0 at v = 0, as in PyTorch)
"""


def relu(v):
    return v if not v <= 0 else 0  # "not v <= 0" is true for NaN, which passes through


def relu_grad(v, g):
    """g times the derivative of ReLU at v."""
    return g * (v > 0)
