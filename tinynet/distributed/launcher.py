"""Start a job of N processes under the installed MPI's ``mpiexec`` (from a shell or from Python).

``mpiexec -n N python script.py`` is all an MPI job needs, but *which* ``mpiexec``
matters: it must belong to the MPI library mpi4py loads, else the N processes do not find
each other and each one believes it is rank 0 of 1. The ``distributed`` extra
(``pip install "tinynet[distributed]"``) installs the ``mpich`` wheel, which puts its
``mpiexec`` in the same ``bin/`` (``Scripts\\`` on Windows) folder as the Python
interpreter; :func:`find_mpiexec` looks there first and only then on ``PATH``.

Each rank gets ``cores // N`` threads for OpenBLAS, OpenMP, MKL and Numba (unless the
variables are set already): N processes each running one thread per core would fight for
the cores. ``PYTHONUNBUFFERED=1`` makes every rank's prints arrive as they happen.

From a shell, ``python -m tinynet.distributed.run -n 4 script.py ARGS`` (see
:func:`main`); from Python or a notebook, :func:`launch`, which streams the job's output
through ``sys.stdout``/``sys.stderr`` (so it shows in a notebook cell) or returns it.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading

from ..backend.errors import ArgumentError
from .process_group import RANK_PIDS_ENV

INSTALL_HINT = ('install it with `pip install "tinynet[distributed]"` (mpi4py and the mpich wheel, which brings '
                'mpiexec; from a checkout: `pip install -e ".[distributed]"`), or pass the path of your MPI\'s '
                "mpiexec (--mpiexec PATH / mpiexec=PATH)")
#: Thread-count variables set per rank (when the user has not set them).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
#: Exit status when the job ran past its time limit (as the ``timeout`` command).
TIMEOUT_STATUS = 124


def _interpreter_dirs():
    """Folders where a wheel installed into this Python puts its executables."""
    dirs = [os.path.dirname(sys.executable)]  # not resolved: a venv's bin/, not the base Python's
    scripts = sysconfig.get_path("scripts")
    if scripts and scripts not in dirs:
        dirs.append(scripts)
    return dirs


def find_mpiexec(mpiexec=None) -> str:
    """The path of the ``mpiexec`` to use.

    ``mpiexec`` given: that program (a path or a name on ``PATH``). Otherwise the one next
    to this Python interpreter (where the mpich wheel installs it), then ``mpiexec`` or
    ``mpirun`` on ``PATH``. Raises ``RuntimeError`` saying how to install one.
    """
    if mpiexec is not None:
        found = shutil.which(os.fspath(mpiexec))
        if found is None:
            raise RuntimeError(f"tinynet.distributed.run: mpiexec {os.fspath(mpiexec)!r} is not an executable program; "
                               "give the path of your MPI's mpiexec, or leave it out to use the one installed with "
                               "tinynet's distributed extra")
        return found
    for folder in _interpreter_dirs():
        found = shutil.which("mpiexec", path=folder)
        if found is not None:
            return found
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name)
        if found is not None:
            return found
    raise RuntimeError(f"tinynet.distributed.run: no mpiexec found (looked next to {sys.executable} and on PATH); "
                       + INSTALL_HINT)


def _check_nproc(nproc, who="launch"):
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ArgumentError(f"tinynet.distributed.{who}: nproc (the number of processes) must be an integer >= 1, "
                            f"got {nproc!r}")
    return nproc


def command(nproc: int, target, args=(), module: bool = False, mpiexec=None) -> list:
    """The command line that starts the job: ``[mpiexec, -n, N, python, script, *args]``
    (``python -m module`` when ``module`` is true)."""
    _check_nproc(nproc, "run.command")
    target = os.fspath(target)
    program = ["-m", target] if module else [target]
    return [find_mpiexec(mpiexec), "-n", str(nproc), sys.executable, *program, *map(str, args)]


def job_environment(nproc: int, env=None, threads=None) -> dict:
    """The environment of every rank: ``env`` (default: this process's) plus the thread counts
    (``threads`` per rank, default ``max(1, cores // nproc)``; a variable already set is kept)
    and ``PYTHONUNBUFFERED=1``."""
    out = dict(os.environ if env is None else env)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ArgumentError(f"tinynet.distributed.launch: threads must be an integer >= 1 per process, got {threads!r}")
    per_rank = threads if threads is not None else max(1, (os.cpu_count() or 1) // nproc)
    for name in THREAD_VARIABLES:
        if threads is not None or name not in out:
            out[name] = str(per_rank)
    out.setdefault("PYTHONUNBUFFERED", "1")
    return out


#: MPICH's report of a process that died without MPI_Finalize (killed, segfault):
#: "BAD TERMINATION ... PID 1234 RUNNING AT host ... EXIT CODE: 9".
_BAD_TERMINATION = re.compile(r"PID (\d+) RUNNING AT (\S+)\s*=?\s*EXIT CODE: (\d+)")
_EXIT_STRING = re.compile(r"EXIT STRING: ([^\n]+)")


class _RankNames:
    """Name the rank behind a process that died without a word.

    A rank killed outright (``SIGKILL``, the out-of-memory killer) runs no Python code, so
    it cannot say who it was; MPICH's ``mpiexec`` then ends the other ranks and prints *a*
    pid, under load not always the first to die. The launcher gives the job a file in which
    ``init_process_group`` writes ``rank pid host`` per rank
    (:data:`~tinynet.distributed.process_group.RANK_PIDS_ENV`), watches those processes (on
    this host) every couple of milliseconds to see which one dies first, keeps the tail of
    the job's output, and afterwards names the rank: the first to die, else the one
    ``mpiexec`` reported.
    """

    TAIL = 64 * 1024
    POLL = 0.002

    def __init__(self, env):
        fd, self.path = tempfile.mkstemp(prefix="tinynet-rank-pids-")
        os.close(fd)
        os.unlink(self.path)  # rank 0 creates it (atomically) once every rank has joined
        env[RANK_PIDS_ENV] = self.path
        self.tail = ""
        self.table = {}
        self.first_dead = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="tinynet-rank-watch").start()

    def see(self, text):
        with self._lock:
            self.tail = (self.tail + text)[-self.TAIL:]

    def _read(self):
        try:
            with open(self.path) as fh:
                return {int(pid): (int(rank), host.strip()) for rank, pid, host in
                        (line.split(maxsplit=2) for line in fh if line.strip())}
        except (OSError, ValueError):
            return {}

    def _watch(self):
        while not self.table and not self._done.wait(0.01):
            self.table = self._read()
        here = socket.gethostname()
        local = {pid: rank for pid, (rank, host) in self.table.items() if host == here}
        while local and not self._done.wait(self.POLL):
            dead = [(rank, pid) for pid, rank in local.items() if not _alive(pid)]
            if dead:  # several at once: this poll came too late to tell which died first
                self.first_dead = (dead, here)
                return

    def report(self, failed: bool) -> list:
        """Lines naming the rank that died without finishing (empty when none did, or when
        ``failed`` is false); stops the watch and removes the file."""
        self._done.set()
        table = self.table or self._read()
        if os.path.exists(self.path):
            os.unlink(self.path)
        bad = _BAD_TERMINATION.findall(self.tail)
        if not failed or not bad:
            return []  # a rank that raised names itself (init_process_group's excepthook)
        exit_string = _EXIT_STRING.search(self.tail)
        detail = f"; mpiexec: {exit_string.group(1).strip()}" if exit_string else ""
        if self.first_dead is not None:
            dead, host = self.first_dead
            if len(dead) == 1:
                (rank, pid), = dead
                return [f"tinynet.distributed: rank {rank} (pid {pid} on {host}) died first, without finishing"
                        f"{detail}; mpiexec ended the other ranks\n"]
            ranks = ", ".join(f"{rank} (pid {pid})" for rank, pid in sorted(dead))
            return [f"tinynet.distributed: one of ranks {ranks} on {host} died without finishing{detail} (they "
                    "ended within 2 ms of each other: which was first is not known); mpiexec ended the other ranks\n"]
        return [f"tinynet.distributed: rank {table[int(pid)][0]} (pid {pid} on {table[int(pid)][1]}) ended without "
                f"finishing (exit code {code}{detail}); mpiexec ended the other ranks\n"
                for pid, host, code in bad if int(pid) in table]


def _alive(pid) -> bool:
    """Whether process ``pid`` still runs. Dying counts as dead: a zombie (dead, not yet
    reaped), a SIGKILL pending (sent, not yet acted on), or an address space already torn
    down (in the middle of exiting) -- so the rank that was killed is seen before the ranks
    ``mpiexec`` ends in its turn."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): signal 0 tells whether the pid exists
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    kill_bit = 1 << (signal.SIGKILL - 1) if hasattr(signal, "SIGKILL") else 0
    pending = int(fields.get("SigPnd", "0").strip(), 16) | int(fields.get("ShdPnd", "0").strip(), 16)
    return (fields.get("State", "R").split()[0] not in ("Z", "X") and not pending & kill_bit
            and "VmRSS" in fields)


def _stop(proc):
    """End the job: SIGTERM to mpiexec (it passes it to every rank), then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM if hasattr(signal, "SIGTERM") else signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pump(stream, sink, keep, names=None):
    """Copy ``stream`` line by line to ``sink`` (a text stream) and/or the list ``keep``
    (and show it to ``names``)."""
    for line in iter(stream.readline, ""):
        if keep is not None:
            keep.append(line)
        if names is not None:
            names.see(line)
        if sink is not None:
            sink.write(line)
            sink.flush()
    stream.close()


def _pump_bytes(fd, sink, names):
    """Copy the pipe ``fd`` to the binary stream ``sink`` chunk by chunk, as it comes (progress
    bars' carriage returns pass unchanged), showing the text to ``names``."""
    binary = getattr(sink, "buffer", None)
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        text = chunk.decode(errors="replace")
        if binary is not None:
            binary.write(chunk)
            binary.flush()
        else:  # a text-only stream (a notebook's, pytest's capture)
            sink.write(text)
            sink.flush()
        names.see(text)
    os.close(fd)


def launch(nproc: int, target, *args, module: bool = False, capture: bool = False, timeout=None, env=None,
           threads=None, mpiexec=None, cwd=None, check: bool = False) -> subprocess.CompletedProcess:
    """Run ``target`` (a script path, or a module name with ``module=True``) with ``args`` as
    an MPI job of ``nproc`` processes and wait for it to end.

    Output: with ``capture=False`` every line of the job's stdout and stderr is written to
    ``sys.stdout``/``sys.stderr`` as it comes (in a notebook it shows in the cell); with
    ``capture=True`` nothing is printed and the returned ``CompletedProcess`` has the text in
    ``stdout`` and ``stderr``. ``returncode`` is the job's exit status (non-zero when any rank
    failed); ``check=True`` raises ``subprocess.CalledProcessError`` for a non-zero one.
    ``timeout`` (seconds): the job is stopped after that long and
    ``subprocess.TimeoutExpired`` is raised. ``threads``: threads per process (default: the
    cores divided among the processes). ``mpiexec``: which mpiexec (default:
    :func:`find_mpiexec`). ``env``: the processes' environment (default: this one's);
    ``cwd``: their working folder (a relative script path is taken from there).

    Example (in a notebook)::

        from tinynet.distributed import launch
        launch(2, "train_ddp.py", "--epochs", 3)
    """
    _check_nproc(nproc)
    if module:
        if not isinstance(target, str) or not target:
            raise ArgumentError(f"tinynet.distributed.launch: with module=True the target is a module name such as "
                                f"'tinynet', got {target!r}")
    else:
        if not isinstance(target, (str, os.PathLike)):
            raise ArgumentError(f"tinynet.distributed.launch: target must be a script path (or a module name with "
                                f"module=True), got {type(target).__name__}")
        if not os.path.isfile(os.path.join(cwd, target) if cwd is not None else target):
            raise FileNotFoundError(f"tinynet.distributed.launch: script {os.fspath(target)!r} does not exist "
                                    "(or is not a file); for a module use module=True (-m on the command line)")
    if timeout is not None and not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
                                    and timeout > 0):
        raise ArgumentError(f"tinynet.distributed.launch: timeout must be a positive number of seconds, got {timeout!r}")
    argv = command(nproc, target, args, module=module, mpiexec=mpiexec)
    job_env = job_environment(nproc, env, threads)
    names = _RankNames(job_env)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, errors="replace", bufsize=1, env=job_env, cwd=cwd)
    out, err = ([], []) if capture else (None, None)
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, None if capture else sys.stdout, out, names),
                              daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, None if capture else sys.stderr, err, names),
                              daemon=True)]
    for t in pumps:
        t.start()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        names.report(False)
        for t in pumps:
            t.join(5)
        raise subprocess.TimeoutExpired(argv, timeout, "".join(out or []), "".join(err or [])) from None
    except BaseException:  # KeyboardInterrupt in a notebook: do not leave N processes running
        _stop(proc)
        names.report(False)
        raise
    for t in pumps:
        t.join()
    killed = names.report(bool(proc.returncode))
    if killed and capture:
        err.extend(killed)
    elif killed:
        sys.stderr.writelines(killed)
        sys.stderr.flush()
    result = subprocess.CompletedProcess(argv, proc.returncode, "".join(out) if capture else None,
                                         "".join(err) if capture else None)
    if check:
        result.check_returncode()
    return result


def run_attached(argv, env=None, timeout=None) -> int:
    """Run the job ``argv`` writing straight to this terminal (progress bars stay live) and
    return its exit status. Past ``timeout`` seconds the job is stopped and
    ``subprocess.TimeoutExpired`` raised; on Ctrl-C (which the terminal also sent to the ranks)
    the job gets 5 s to end before it is stopped, and the status is 130."""
    env = dict(os.environ if env is None else env)
    names = _RankNames(env)
    # stdout and stderr pass through byte for byte (MPICH reports a dead process on stdout)
    pipes = [os.pipe(), os.pipe()]
    proc = subprocess.Popen(argv, env=env, stdout=pipes[0][1], stderr=pipes[1][1])
    pumps = []
    for (read_end, write_end), sink in zip(pipes, (sys.stdout, sys.stderr)):
        os.close(write_end)
        pumps.append(threading.Thread(target=_pump_bytes, args=(read_end, sink, names), daemon=True))
        pumps[-1].start()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        names.report(False)
        raise
    except KeyboardInterrupt:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            _stop(proc)
        names.report(False)
        return 130
    for pump in pumps:
        pump.join()
    killed = names.report(bool(proc.returncode))
    if killed:
        sys.stderr.writelines(killed)
        sys.stderr.flush()
    return exit_status(proc.returncode)


def exit_status(returncode: int) -> int:
    """A shell exit status for a job's return code (a signal ``s`` becomes ``128 + s``)."""
    return 128 - returncode if returncode < 0 else returncode


# --- the command line ----------------------------------------------------------------------
_VALUE_OPTIONS = {"-n", "--nproc", "--nproc-per-node", "--nproc_per_node", "--threads", "--timeout", "--mpiexec"}


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m tinynet.distributed.run",
        usage="%(prog)s [-n N] [--threads T] [--timeout S] [--mpiexec PATH] (SCRIPT | -m MODULE) [ARGS ...]",
        description="Run SCRIPT (or -m MODULE) with ARGS as an MPI job of N processes, under the mpiexec of the MPI "
                    "installed with tinynet's distributed extra. In the script, "
                    "tinynet.distributed.init_process_group('mpi') joins the job. The exit status is the job's.")
    p.add_argument("-n", "--nproc", "--nproc-per-node", "--nproc_per_node", dest="nproc", type=_positive_int,
                   default=1, metavar="N", help="number of processes (default: 1)")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="T",
                   help="threads per process (default: the CPU cores divided among the processes)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S",
                   help=f"stop the job after S seconds (exit status {TIMEOUT_STATUS})")
    p.add_argument("--mpiexec", default=None, metavar="PATH",
                   help="the mpiexec to use (default: the one next to this Python, then PATH)")
    p.add_argument("-m", dest="module", default=None, metavar="MODULE", help="run a module, as `python -m MODULE`")
    return p


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _split(argv):
    """``(launcher options, target, target args, is_module)``: everything after the script
    (or after ``-m MODULE``) belongs to the program, as with ``python``."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "-m" or (token.startswith("-m") and not token.startswith("--") and len(token) > 2):
            if token == "-m":
                if i + 1 >= len(argv):
                    return argv[:i + 1], None, [], True
                return argv[:i], argv[i + 1], argv[i + 2:], True
            return argv[:i], token[2:], argv[i + 1:], True
        if token == "--":
            return argv[:i], (argv[i + 1] if i + 1 < len(argv) else None), argv[i + 2:], False
        if not token.startswith("-") or token == "-":
            return argv[:i], token, argv[i + 1:], False
        i += 2 if token in _VALUE_OPTIONS else 1
    return argv, None, [], False


def main(argv=None) -> int:
    """``python -m tinynet.distributed.run -n N (SCRIPT | -m MODULE) ARGS``; returns the job's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    options, target, rest, is_module = _split(argv)
    ns = parser.parse_args(options)
    if target is None:
        parser.error("give the script to run (or -m MODULE), e.g. `python -m tinynet.distributed.run -n 2 train.py`")
    try:
        argv_job = command(ns.nproc, target, rest, module=is_module, mpiexec=ns.mpiexec)
        if not is_module and not os.path.isfile(target):
            raise FileNotFoundError(f"script {target!r} does not exist (or is not a file); for a module use -m MODULE")
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, FileNotFoundError) else 1
    try:
        return run_attached(argv_job, job_environment(ns.nproc, threads=ns.threads), ns.timeout)
    except subprocess.TimeoutExpired:
        print(f"{parser.prog}: error: the job ran past --timeout {ns.timeout:g} s and was stopped", file=sys.stderr)
        return TIMEOUT_STATUS
