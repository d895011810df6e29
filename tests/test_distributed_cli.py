"""The launcher (``python -m tinynet.distributed.run``, ``tinynet.distributed.launch``), ``tinynet
train --nproc N`` and the MPI/NCCL lines of ``tinynet info``.

The training checks run real MPI jobs: N processes must give the model one process gives
on the same global batches (float32 round-off only), with BatchNorm (SyncBatchNorm) and an
uneven split of the batch, and checkpoints must resume with another number of processes.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import types
from importlib import metadata

import numpy as np
import pytest

import tinynet as tn
import tinynet.distributed as dist
from tinynet.cli import info as info_cli
from tinynet.cli.main import main
from tinynet.cli.trainer import OUTPUT_FILES, share
from tinynet.distributed import launcher

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
SCRIPT = str(HERE / "distributed" / "launch_check.py")
pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None or not dist.is_available(),
                                reason="needs the distributed extra (pip install \"tinynet[distributed]\")")

FAST = ["--model", "mlp", "--dataset", "digits", "--hidden", "32", "--no-progress"]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(HERE), os.environ.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _tinynet(*args, cwd, timeout=240):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tinynet", *map(str, args)], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - start


def _checkpoint(folder):
    return tn.load(os.path.join(folder, "checkpoint.safetensors"))


def _assert_same_run(a, b, atol=1e-5):
    """Two checkpoints hold the same model (float32 round-off) and the same history."""
    assert set(a["model"]) == set(b["model"])
    for key in a["model"]:
        np.testing.assert_allclose(a["model"][key].numpy(), b["model"][key].numpy(), rtol=0, atol=atol, err_msg=key)
    assert a["epoch"] == b["epoch"] and a["global_step"] == b["global_step"]
    for ra, rb in zip(a["history"], b["history"], strict=True):
        for key in ("train_loss", "val_loss"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-5), key
        assert ra["train_accuracy"] == rb["train_accuracy"] and ra["val_accuracy"] == rb["val_accuracy"]


# --- the launcher ---------------------------------------------------------------------------
def test_run_module_starts_n_processes_and_exits_with_the_jobs_status():
    proc = subprocess.run([sys.executable, "-m", "tinynet.distributed.run", "-n", "2", SCRIPT, "5", "--flag", "x"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    threads = max(1, os.cpu_count() // 2)
    for rank in (0, 1):
        assert f"rank {rank} of 2: args ['--flag', 'x'] ranks sum 1 threads {threads}" in proc.stdout


def test_launch_from_python_captures_or_streams_the_output(capsys):
    done = dist.launch(2, SCRIPT, 0, "a b", capture=True, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ranks sum 1") == 2 and "args ['a b']" in done.stdout
    assert done.args[:3] == [dist.find_mpiexec(), "-n", "2"]
    # A module (python -m), output streamed through sys.stdout as a notebook cell shows it; 3 threads each.
    streamed = dist.launch(2, "distributed.launch_check", 3, module=True, env=_env(), threads=3)
    assert streamed.returncode == 3 and streamed.stdout is None
    out = capsys.readouterr().out
    assert "rank 0 of 2: args [] ranks sum 1 threads 3" in out and "rank 1 of 2" in out


def test_timeouts_stop_the_job():
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tinynet.distributed.run", "-n", "2", "--timeout", "2", SCRIPT,
                           "sleep"], capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == launcher.TIMEOUT_STATUS, proc.stdout + proc.stderr
    assert "ran past --timeout 2 s and was stopped" in proc.stderr
    with pytest.raises(subprocess.TimeoutExpired):
        dist.launch(2, SCRIPT, "sleep", capture=True, timeout=2, env=_env())
    assert time.monotonic() - start < 40  # stopped, not waited for (each rank sleeps 60 s)


def test_launcher_errors(tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match=r"nproc .* must be an integer >= 1, got 0"):
        dist.launch(0, SCRIPT)
    with pytest.raises(ValueError, match="got True"):
        dist.launch(True, SCRIPT)
    with pytest.raises(FileNotFoundError, match="missing.py' does not exist"):
        dist.launch(2, str(tmp_path / "missing.py"))
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        dist.launch(2, SCRIPT, timeout=-1)
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        dist.launch(2, SCRIPT, threads=0)
    with pytest.raises(ValueError, match="module name"):
        dist.launch(2, None, module=True)
    with pytest.raises(RuntimeError, match="is not an executable program"):
        dist.launch(2, SCRIPT, mpiexec=str(tmp_path / "nope"))
    # The command line: usage errors exit 2 with the reason.
    for argv, why in ((["-n", "0", SCRIPT], "expected an integer >= 1"), (["-n", "2"], "give the script to run")):
        with pytest.raises(SystemExit) as exc:
            launcher.main(argv)
        assert exc.value.code == 2 and why in capsys.readouterr().err
    assert launcher.main(["-n", "2", str(tmp_path / "missing.py")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # No mpiexec anywhere: the error says how to install one (checked before any process starts).
    monkeypatch.setattr(launcher, "_interpreter_dirs", lambda: [str(tmp_path)])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r'no mpiexec found .* `pip install "tinynet\[distributed\]"'):
        dist.find_mpiexec()
    assert launcher.main(["-n", "2", SCRIPT]) == 1
    assert 'pip install "tinynet[distributed]"' in capsys.readouterr().err


def test_find_mpiexec_prefers_the_one_next_to_this_python(tmp_path, monkeypatch):
    """The mpich wheel installs mpiexec beside the interpreter; that one wins over PATH's."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "mpiexec"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    assert shutil.which("mpiexec") is not None  # PATH has one too
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    assert dist.find_mpiexec() == str(fake)
    assert launcher.command(3, "s.py", ["--x", 1])[:4] == [str(fake), "-n", "3", str(bin_dir / "python")]


def test_launcher_command_line_and_environment():
    split = launcher._split
    assert split(["-n", "2", "--threads", "1", "s.py", "-n", "5"]) == (["-n", "2", "--threads", "1"], "s.py",
                                                                       ["-n", "5"], False)
    assert split(["--nproc=3", "-m", "pkg.mod", "--x"]) == (["--nproc=3"], "pkg.mod", ["--x"], True)
    assert split(["-mpkg", "a"]) == ([], "pkg", ["a"], True)
    assert split(["-n", "2", "--", "-odd.py", "b"]) == (["-n", "2"], "-odd.py", ["b"], False)
    env = launcher.job_environment(2, env={"OMP_NUM_THREADS": "7"})
    assert env["OMP_NUM_THREADS"] == "7"  # the user's setting is kept
    assert env["NUMBA_NUM_THREADS"] == str(max(1, os.cpu_count() // 2)) and env["PYTHONUNBUFFERED"] == "1"
    assert all(launcher.job_environment(64, env={})[v] == "1" for v in THREAD_VARS)
    assert all(launcher.job_environment(2, env={"OMP_NUM_THREADS": "7"}, threads=3)[v] == "3" for v in THREAD_VARS)
    assert launcher.exit_status(-9) == 137 and launcher.exit_status(3) == 3


# --- tinynet train --nproc ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """Reference runs in this process: mlp on digits for 1 and for 2 epochs."""
    root = tmp_path_factory.mktemp("one")
    for epochs in (1, 2):
        assert main(["train", *FAST, "--epochs", str(epochs), "--out", str(root / f"e{epochs}")]) == 0
    return root


def test_share_splits_a_batch_evenly_in_rank_order():
    assert [share(32, r, 3) for r in range(3)] == [(0, 11), (11, 22), (22, 32)]
    assert [share(4, r, 4) for r in range(4)] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    for size, world in ((10, 3), (33, 4), (7, 7)):
        spans = [share(size, r, world) for r in range(world)]
        assert spans[0][0] == 0 and spans[-1][1] == size and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        assert max(hi - lo for lo, hi in spans) - min(hi - lo for lo, hi in spans) <= 1


def test_two_processes_train_the_one_process_model_and_resume_with_one(one_process, tmp_path, capsys):
    out = tmp_path / "two"
    proc, _ = _tinynet("train", *FAST, "--epochs", "1", "--nproc", "2", "--out", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # rank 0 alone reports and writes
    assert proc.stdout.count("batch 32 split across 2 processes (16 samples each)") == 1
    assert proc.stdout.count("epoch   1/1") == 1 and proc.stdout.count("done in") == 1
    assert sorted(os.listdir(out)) == sorted(OUTPUT_FILES)
    two, one = _checkpoint(out), _checkpoint(one_process / "e1")
    _assert_same_run(two, one)
    assert "nproc" not in two["config"]
    assert {k: v for k, v in two["config"].items() if k != "out"} == \
        {k: v for k, v in one["config"].items() if k != "out"}
    with open(out / "metrics.json") as f:
        assert json.load(f)["test"]["accuracy"] == pytest.approx(
            json.load(open(one_process / "e1" / "metrics.json"))["test"]["accuracy"])
    # ... and one process carries the two-process run on: the same as two epochs in one go.
    assert main(["train", "--resume", str(out / "checkpoint.safetensors"), "--epochs", "2"]) == 0
    capsys.readouterr()
    _assert_same_run(_checkpoint(out), _checkpoint(one_process / "e2"))


def test_three_processes_with_an_uneven_split_resume_a_one_process_run(one_process, tmp_path):
    """Global batch 32 over 3 processes: 11, 11 and 10 samples (the last batch, 10: 4, 3, 3).
    Started as `mpiexec -n 3 python -m tinynet train` (through launch()), without --nproc:
    the command sees it runs in an MPI job and trains as one of its processes."""
    out = tmp_path / "three"
    out.mkdir()
    shutil.copy(one_process / "e1" / "checkpoint.safetensors", out)
    proc = dist.launch(3, "tinynet", "train", "--resume", "three/checkpoint.safetensors", "--epochs", 2,
                       module=True, capture=True, env=_env(), cwd=tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "split across 3 processes (11 or 10 samples each)" in proc.stdout and "resuming from" in proc.stdout
    _assert_same_run(_checkpoint(out), _checkpoint(one_process / "e2"))


def test_batchnorm_model_two_processes_equal_one(tmp_path, capsys):
    """resnet has BatchNorm: converted to SyncBatchNorm, the statistics of the whole global batch
    normalize every share, so weights and running statistics match one process. The random
    augmentation is drawn once per global batch from the loader's generator, the same on every rank."""
    args = ["--model", "resnet", "--dataset", "digits", "--widths", "4,8", "--epochs", "1", "--no-progress"]
    assert main(["train", *args, "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    proc, _ = _tinynet("train", *args, "--nproc", "2", "--out", tmp_path / "two", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    one, two = _checkpoint(tmp_path / "one"), _checkpoint(tmp_path / "two")
    assert any("running_var" in k for k in one["model"])
    _assert_same_run(two, one)


def test_train_nproc_errors(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "never")
    with pytest.raises(SystemExit) as exc:
        main(["train", *FAST, "--nproc", "0", "--out", out])
    assert exc.value.code == 2 and "--nproc: expected a positive integer" in capsys.readouterr().err
    assert main(["train", *FAST, "--nproc", "64", "--out", out]) == 2
    assert "--nproc 64 is more than --batch-size 32" in capsys.readouterr().err
    # inside an MPI job of 2 processes (as mpiexec sets the environment), another --nproc is refused
    monkeypatch.setenv("PMI_SIZE", "2")
    assert main(["train", *FAST, "--nproc", "3", "--out", out]) == 2
    assert "--nproc 3 but this process is one of 2 started by mpiexec" in capsys.readouterr().err
    monkeypatch.delenv("PMI_SIZE")
    # no mpiexec: exit 1 and how to install it, before any process starts or any file is written
    monkeypatch.setattr(launcher, "_interpreter_dirs", lambda: [str(tmp_path)])
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["train", *FAST, "--nproc", "2", "--out", out]) == 1
    assert 'no mpiexec found' in capsys.readouterr().err
    # no mpi4py
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mpi4py" else real_find_spec(name, *a))
    assert main(["train", *FAST, "--nproc", "2", "--out", out]) == 1
    assert '--nproc needs mpi4py and an MPI library: install them with `pip install "tinynet[distributed]"`' \
        in capsys.readouterr().err
    assert not os.path.exists(out)


def test_an_error_every_process_meets_is_reported_once(tmp_path):
    """1258 training samples in batches of 3 leave a last batch of 1: two processes cannot share it."""
    proc, seconds = _tinynet("train", *FAST, "--batch-size", "3", "--nproc", "2", "--out", tmp_path / "r", cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    message = "the last batch of every epoch holds only 1 sample (1258 samples, batch size 3)"
    assert proc.stderr.count(message) == 1 and "use at most 1 process," in proc.stderr
    assert "training mlp" not in proc.stdout  # refused before training starts
    assert seconds < 60


def test_an_error_only_rank_0_meets_ends_the_whole_job(tmp_path):
    """Rank 0 cannot write the checkpoint (a folder is in its way): it says so and aborts the job,
    rather than leaving rank 1 waiting in its next collective."""
    out = tmp_path / "blocked"
    (out / "checkpoint.safetensors").mkdir(parents=True)
    proc, seconds = _tinynet("train", *FAST, "--epochs", "3", "--nproc", "2", "--out", out, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "tinynet train: error: rank 0: could not write the checkpoint" in proc.stderr
    assert "epoch   2/3" not in proc.stdout
    assert seconds < 60


# --- tinynet info -------------------------------------------------------------------------------
def test_info_reports_mpi(capsys):
    loaded = "mpi4py.MPI" in sys.modules
    mpi = info_cli.mpi_info()
    assert ("mpi4py.MPI" in sys.modules) == loaded  # asking never starts MPI in this process
    assert mpi["status"] == "available" and mpi["mpi4py"] == metadata.version("mpi4py")
    assert mpi["mpiexec"] == dist.find_mpiexec()
    assert mpi["standard"].count(".") == 1 and mpi["library"].strip()
    # the version string is MPI_Get_library_version's, asked of the library itself
    probe = subprocess.run([sys.executable, "-c", "from mpi4py import MPI; print(MPI.Get_library_version(), end='')"],
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout == mpi["library"]
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    first = " ".join(mpi["library"].splitlines()[0].split())
    assert f"  mpi    mpi4py {mpi['mpi4py']}, {first} (MPI {mpi['standard']}), mpiexec {mpi['mpiexec']}" in text
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["distributed"]["mpi"] == mpi


def test_info_without_mpi4py(monkeypatch):
    real = info_cli._version
    monkeypatch.setattr(info_cli, "_version", lambda name: None if name == "mpi4py" else real(name))
    mpi = info_cli.mpi_info()
    assert mpi["status"] == "not installed"
    assert info_cli.format_mpi(mpi).startswith('not available -- mpi4py is not installed; install it with '
                                               '`pip install "tinynet[distributed]"`')


def _fake_cupy(monkeypatch, nccl_version=None):
    cupy, cuda = types.ModuleType("cupy"), types.ModuleType("cupy.cuda")
    cupy.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    cupy.cuda = cuda
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cuda)
    if nccl_version is not None:
        nccl = types.ModuleType("cupy.cuda.nccl")
        nccl.get_version = lambda: nccl_version
        cuda.nccl = nccl
        monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", nccl)


def test_info_reports_nccl(monkeypatch, capsys):
    if importlib.util.find_spec("cupy") is None:
        assert info_cli.nccl_info() == {"status": "not available", "reason": "needs CuPy and a GPU"}
        assert main(["info"]) == 0
        assert "  nccl   not available (needs CuPy and a GPU)" in capsys.readouterr().out
    # NCCL's version code: major*10000 + minor*100 + patch since 2.9, major*1000 + minor*100 + patch before
    for code, text in ((22304, "2.23.4"), (2804, "2.8.4")):
        with monkeypatch.context() as m:
            _fake_cupy(m, code)
            got = info_cli.nccl_info()
            assert got == {"status": "available", "version": text, "version_code": code}
            assert info_cli.format_nccl(got) == f"NCCL {text} (through cupy.cuda.nccl)"
    with monkeypatch.context() as m:
        _fake_cupy(m, None)  # a CuPy built without NCCL
        got = info_cli.nccl_info()
        assert got["status"] == "not available" and got["reason"].startswith("CuPy has no usable NCCL (ImportError")
