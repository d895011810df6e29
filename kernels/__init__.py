"""Hot loops without autograd, installed as ``tinynet.kernels``.

``kernels/cpu``: Numba ``njit`` functions (``cache=True``) on NumPy arrays.
``kernels/cuda``: Numba CUDA kernels launched on CuPy arrays (or NumPy arrays under the
CUDA simulator), with host wrappers of the same names and signatures as the cpu ones.

Only ``tinynet.backend`` imports this package, lazily, through a device's kernel table.
"""
