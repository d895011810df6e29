"""Compile a kernel family's math module (``kernels/*_math.py``) for one device.

The per-row and per-element math of the fused kernels is written once, as plain Python
functions in one module per family (``softmax_math``, ``layer_norm_math``, ``gelu_math``,
``relu_math``). Each device's kernel file compiles that module with its own decorator:
``kernels/cpu`` with ``numba.njit``, ``kernels/cuda`` with ``numba.cuda.jit(device=True)``,
and keeps only what truly differs between the devices: the loop over rows or elements
(cpu) or the thread index (cuda), and the launch.

Compiling the functions one by one is not enough when they call each other
(``softmax_row`` calls ``row_max``): Numba looks a called name up in the caller's globals
and would find the plain Python function there, which compiled code cannot call (the CUDA
simulator would not notice; a real GPU would refuse to compile). So :func:`compile_math`
copies every function of the module into one fresh globals dictionary, compiles each
copy, and stores the compiled function in that dictionary under its own name: calls
between the module's functions reach their compiled twins for the same device.

The same dictionary lets a device bind a name differently. A math module reads a few
module-level names (``exp`` in ``softmax_math``; ``exp`` and ``erfc`` in ``gelu_math``),
each documented there with the range of arguments it gets. The cpu float32 kernels bind
them to vectorisable versions valid on that range (``kernels/cpu/_vecmath.py``), float64
kernels and the GPU keep the module's ``math.exp``/``math.erfc``. A binding is fixed when
the module is compiled: the compiled code calls the bound function directly (a function
passed as an argument would be a slower first-class function call in Numba).

Numba's disk cache (``cache=True``) names its files after the function's qualified name and
source file and keys the entries by argument types only, not by the globals a function was
compiled with: two bindings of one function under one name would share a cache entry, and
the second would load the first one's machine code. So each compiled copy is named
``<function>_<variant>_<digest>`` (``softmax_row_vector_exp_3f9a1c2e0b``) and gets its own
cache files. Numba also refreshes an entry only when the file holding the compiled
function changes, not a file it calls into: a cpu loop compiled in ``kernels/cpu/softmax.py``
would keep running the old row math after an edit to ``softmax_math.py``. The ``digest``
(of the math module's source and of the files of the bound functions, such as
``kernels/cpu/_vecmath.py``) changes with every edit, and with it the names of the
compiled functions and of the loops compiled against them: an edit compiles afresh (the
old cache files stay behind in ``__pycache__`` until deleted).
"""
from __future__ import annotations

import hashlib
import inspect
import types


def compile_math(module, compile, variant="", **bindings):
    """A module object holding every function defined in ``module``, compiled with
    ``compile`` (a decorator such as ``numba.njit(cache=True)`` or
    ``numba.cuda.jit(device=True)``); the names in ``bindings`` are rebound to the given
    values for all of them.

    ``variant`` and a digest of the sources are appended to each function's name
    (``<name>_<variant>_<digest>``); cached compilations of one module with different
    bindings need different variants. The result is a module (not a plain namespace) so
    that compiled code can call ``result.function(...)``: Numba resolves the attributes of
    a module global when it compiles.
    """
    namespace = dict(vars(module))
    namespace.update(bindings)
    suffix = "_".join(filter(None, (variant, _source_digest(module, bindings))))
    compiled = types.ModuleType(f"{module.__name__}_{suffix}")
    for name, fn in vars(module).items():
        if not isinstance(fn, types.FunctionType) or fn.__module__ != module.__name__:
            continue  # constants, bindable names such as exp = math.exp, imports
        copy_name = f"{name}_{suffix}"
        copy = types.FunctionType(fn.__code__, namespace, copy_name, fn.__defaults__, fn.__closure__)
        copy.__qualname__ = copy_name
        copy.__module__ = fn.__module__
        copy.__doc__ = fn.__doc__
        namespace[name] = compile(copy)
        setattr(compiled, name, namespace[name])
    return compiled


def _source_digest(module, bindings):
    """A short hash of ``module``'s source file and of the files defining the bound functions."""
    digest = hashlib.sha256()
    files = [inspect.getfile(module)]
    for value in bindings.values():
        try:
            files.append(inspect.getfile(getattr(value, "py_func", value)))
        except TypeError:  # a builtin such as math.exp: no source file
            pass
    for path in sorted(set(files)):
        with open(path, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()[:10]
