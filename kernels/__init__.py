"""Hot loops without autograd, installed as ``tinynet.kernels``.

``kernels/cpu``: Numba ``njit`` functions (``cache=True``) on NumPy arrays.
``kernels/cuda``: Numba CUDA kernels launched on CuPy arrays (or NumPy arrays under the
CUDA simulator), with host wrappers of the same names and signatures as the cpu ones.

Only ``tinynet.backend`` imports this package, lazily, through a device's kernel table.
"""

if __name__ != "tinynet.kernels":
    # Numba's disk cache records the module name of each kernel; compiled under a second
    # name (``import kernels`` from the repository root) it would later fail to load for
    # tinynet with a ModuleNotFoundError deep inside Numba.
    raise ImportError(
        f"the kernels package was imported as {__name__!r}; import it as 'tinynet.kernels' "
        "(e.g. `from tinynet.kernels.cpu import gelu`), with tinynet installed (`pip install -e .`)"
    )
