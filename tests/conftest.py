"""Test configuration: every device test runs on cpu and on cuda.

"cuda" is the real GPU when CuPy finds one; otherwise the suite switches on the
simulated GPU (TINYNET_CUDA_SIM=1: NumPy arrays, kernels/cuda run in Numba's CUDA
simulator) so CI without a GPU still checks the whole GPU path. This must happen
before tinynet (and Numba) are imported.
"""
import importlib.util
import os

if "TINYNET_CUDA_SIM" not in os.environ and importlib.util.find_spec("cupy") is None:
    os.environ["TINYNET_CUDA_SIM"] = "1"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

import tinynet as tn  # noqa: E402

settings.register_profile("tinynet", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("tinynet")

DEVICES = tn.backend.available_devices()


def pytest_report_header(config):
    cuda = "real GPU" if tn.cuda.is_available() else ("simulated (Numba CUDA simulator)" if "cuda" in DEVICES else "absent")
    return f"tinynet devices: {', '.join(DEVICES)}; cuda: {cuda}"


def pytest_collection_modifyitems(config, items):
    """Mark every test that runs on "cuda" (through the ``device`` fixture) as ``gpu``, so
    ``pytest -m gpu`` runs the op registry, parity and layer tests on the GPU tier."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("device") == "cuda":
            item.add_marker(pytest.mark.gpu)


@pytest.fixture(params=DEVICES)
def device(request):
    """Each test using this fixture runs once per available device."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    tn.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def function_classes():
    """Every ``tinynet.autograd.Op`` subclass defined in tinynet (all op modules imported)."""
    import importlib
    import pkgutil

    from tinynet.autograd import Op

    for info in pkgutil.walk_packages(tn.__path__, "tinynet."):
        if info.name.startswith("tinynet.functional"):
            importlib.import_module(info.name)
    seen, stack = set(), list(Op.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.add(cls)
            stack.extend(cls.__subclasses__())
    return sorted((c for c in seen if c.__module__.startswith("tinynet.")), key=lambda c: c.__qualname__)


def _run_mpi(n, script, *args, timeout=180):
    """Run ``tests/distributed/<script> ARGS`` under ``mpiexec -n n`` (one thread per rank);
    returns the finished ``subprocess.CompletedProcess`` (stdout/stderr as text)."""
    import pathlib
    import shutil
    import subprocess
    import sys

    here = pathlib.Path(__file__).resolve().parent
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.fail("mpiexec not found: install the distributed extra (pip install \"tinynet[distributed]\")")
    env = dict(os.environ, PYTHONPATH=str(here.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return subprocess.run([mpiexec, "-n", str(n), sys.executable, str(here / "distributed" / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def mpirun():
    """``mpirun(n, "script.py", *args, timeout=180)``: a real MPI job of ``n`` processes
    running ``tests/distributed/script.py``; returns the CompletedProcess."""
    return _run_mpi
