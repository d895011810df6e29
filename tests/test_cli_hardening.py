"""`tinynet train/evaluate/generate/bench` and the Trainer under faults, tampered files and bad input.

Each test names the class of behaviour it covers: runs never write where the user did not
ask, a kept checkpoint is a good one, resuming past a schedule's end is explicit, empty
data is an error, output problems are one line before training, restoring is all or
nothing, tampered checkpoints are refused in one line, usage errors are short, and
`tinynet bench` never runs code from the current directory.
"""
import errno
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinynet as tn
from tinynet import serialization
from tinynet.cli import trainer as trainer_module
from tinynet.cli.main import main
from tinynet.cli.trainer import NonFiniteLossError, Trainer, prepare_out_dir
from tinynet.tensor import random as tn_random

FAST = ["--model", "mlp", "--dataset", "digits", "--hidden", "8", "--no-progress"]
CK = "checkpoint.safetensors"
# The installed console script: it starts from its own folder, not the current directory (as
# `python -m` would, which is the user's choice to import from there).
TINYNET = shutil.which("tinynet") or os.path.join(os.path.dirname(sys.executable), "tinynet")


def _train(out, *extra, epochs=2):
    assert main(["train", *FAST, "--epochs", str(epochs), "--out", str(out), *extra]) == 0


def _epoch(path):
    return tn.load(str(path))["epoch"]


def _one_line_error(capsys, command="train"):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines[-1].startswith(f"tinynet {command}: error:"), err
    return lines


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    """A finished two-epoch run (cosine schedule), copied by the tests that change it."""
    out = tmp_path_factory.mktemp("runs") / "a"
    _train(out, "--scheduler", "cosine")
    return out


# --- 1. resume writes next to the checkpoint it resumes ------------------------------------

def test_resume_writes_into_the_copied_run_not_the_one_named_inside(run_a, tmp_path, capsys):
    before = (run_a / CK).read_bytes()
    b = tmp_path / "b"
    shutil.copytree(run_a, b)
    assert main(["train", "--resume", str(b / CK), "--epochs", "3", "--scheduler", "none", "--lr", "1e-3",
                 "--no-progress"]) == 0
    assert (run_a / CK).read_bytes() == before  # the original run is untouched
    assert _epoch(b / CK) == 3
    c = tmp_path / "c"
    assert main(["train", "--resume", str(b / CK), "--epochs", "4", "--out", str(c), "--no-progress"]) == 0
    assert _epoch(c / CK) == 4 and _epoch(b / CK) == 3  # --out still overrides


# --- 2. the last good checkpoint is good -----------------------------------------------------

def _toy_trainer(out, loss_fn=None, optimizer_cls=tn.optim.SGD, val=True):
    tn.manual_seed(0)
    model = tn.nn.Linear(2, 2)
    ds = tn.data.TensorDataset(np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32), np.arange(20) % 2)
    loader = tn.data.DataLoader(ds, batch_size=5, shuffle=True, seed=0)
    opt = optimizer_cls(model.parameters(), lr=0.1)
    return Trainer(model, opt, loss_fn or tn.nn.functional.cross_entropy, loader,
                   tn.data.DataLoader(ds, batch_size=10) if val else None, out_dir=out, progress=False,
                   log=lambda s: None)


def test_nan_weights_with_a_finite_loss_are_never_saved(tmp_path):
    trainer = _toy_trainer(tmp_path, val=False)
    real_step = trainer.optimizer.step
    steps = {"n": 0}

    def poisoning_step():
        real_step()
        steps["n"] += 1
        if steps["n"] == 12:  # the last step of epoch 3: the loss stays finite, a weight does not
            trainer.model.weight.array[0, 0] = np.inf

    trainer.optimizer.step = poisoning_step
    with pytest.raises(NonFiniteLossError) as exc:
        trainer.fit(5)
    assert "weight" in str(exc.value) and "epoch 3" in str(exc.value) and "epoch 2" in str(exc.value)
    assert exc.value.checkpoint_epoch == 2 and exc.value.checkpoint == str(tmp_path / CK)
    ck = tn.load(tmp_path / CK)
    assert ck["epoch"] == 2 and np.isfinite(ck["model"]["weight"].numpy()).all()


def test_nan_validation_loss_keeps_the_previous_checkpoint(tmp_path):
    calls = {"eval": 0}

    def loss_fn(out, y):
        loss = tn.nn.functional.cross_entropy(out, y)
        if not tn.is_grad_enabled():  # validation
            calls["eval"] += 1
            if calls["eval"] > 2:  # two validation batches per epoch: epoch 2 onwards
                return loss * float("nan")
        return loss

    trainer = _toy_trainer(tmp_path, loss_fn)
    with pytest.raises(NonFiniteLossError) as exc:
        trainer.fit(4)
    assert "validation loss is nan after epoch 2" in str(exc.value)
    assert exc.value.checkpoint_epoch == 1 and _epoch(tmp_path / CK) == 1


def test_divergence_before_any_checkpoint_says_none_was_written(tmp_path):
    trainer = _toy_trainer(tmp_path, lambda out, y: tn.nn.functional.cross_entropy(out, y) * float("nan"))
    with pytest.raises(NonFiniteLossError) as exc:
        trainer.fit(2)
    assert exc.value.checkpoint is None and "No checkpoint was written" in str(exc.value)
    assert not (tmp_path / CK).exists()


def test_divergence_after_resume_names_the_resumed_checkpoint(run_a, tmp_path, capsys):
    b = tmp_path / "b"
    shutil.copytree(run_a, b)
    code = main(["train", "--resume", str(b / CK), "--epochs", "3", "--scheduler", "none", "--lr", "1e30",
                 "--no-progress"])
    lines = _one_line_error(capsys)
    assert code == 1 and "from the end of epoch 2" in lines[-1] and str(b / CK) in lines[-1]
    assert not any("RuntimeWarning" in line for line in lines)  # no NumPy warning lines before it
    assert _epoch(b / CK) == 2


# --- 3. resuming past the planned end is explicit ----------------------------------------------

@pytest.mark.parametrize("scheduler", ["cosine", "step", "warmup-cosine"])
def test_resume_past_a_length_dependent_schedule_is_refused_with_the_way_on(scheduler, tmp_path, capsys):
    a = tmp_path / "a"
    _train(a, "--scheduler", scheduler)
    before = (a / CK).read_bytes()
    assert main(["train", "--resume", str(a / CK), "--epochs", "4", "--no-progress"]) == 2
    lines = _one_line_error(capsys)
    assert len(lines) <= 2 and "planned to end at epoch 2" in lines[-1] and "--scheduler" in lines[-1]
    assert (a / CK).read_bytes() == before


def test_a_new_schedule_on_resume_starts_from_lr_and_spans_the_remaining_epochs(run_a, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(run_a, b)
    assert main(["train", "--resume", str(b / CK), "--epochs", "5", "--scheduler", "cosine", "--lr", "0.004",
                 "--no-progress"]) == 0
    ck = tn.load(b / CK)
    lrs = [row["lr"] for row in ck["history"]]
    assert lrs[2] == pytest.approx(0.004) and all(lr > 0 for lr in lrs[2:]) and lrs[2] > lrs[3] > lrs[4]
    assert ck["config"]["schedule_start"] == 2 and ck["config"]["schedule_epochs"] == 3
    # resuming that run within its new plan continues it; past it is refused again
    assert main(["train", "--resume", str(b / CK), "--epochs", "6", "--no-progress"]) == 2


def test_resume_within_the_plan_and_with_length_free_schedules_runs_on(tmp_path):
    a = tmp_path / "a"
    _train(a, "--scheduler", "exponential")
    assert main(["train", "--resume", str(a / CK), "--epochs", "3", "--no-progress"]) == 0
    lrs = [row["lr"] for row in tn.load(a / CK)["history"]]
    assert lrs == pytest.approx([2e-3, 2e-3 * 0.95, 2e-3 * 0.95 ** 2])


def test_options_that_cannot_change_on_resume_are_refused_not_ignored(run_a, capsys):
    assert main(["train", "--resume", str(run_a / CK), "--epochs", "2", "--batch-size", "3"]) == 2
    assert "--batch-size cannot change" in _one_line_error(capsys)[-1]


# --- 4. empty data is an error ---------------------------------------------------------------

def test_empty_loaders_are_errors(tmp_path):
    trainer = _toy_trainer(tmp_path)
    empty = tn.data.DataLoader(tn.data.TensorDataset(np.zeros((0, 2), np.float32), np.zeros(0, np.int64)),
                               batch_size=4)
    trainer.train_loader = empty
    with pytest.raises(ValueError, match="no batches"):
        trainer.fit(1)
    with pytest.raises(ValueError, match="yielded no samples"):
        trainer.evaluate(empty)
    dropped = tn.data.DataLoader(tn.data.TensorDataset(np.zeros((3, 2), np.float32), np.zeros(3, np.int64)),
                                 batch_size=4, drop_last=True)
    trainer.train_loader = dropped
    with pytest.raises(ValueError, match="drop_last True"):
        trainer.fit(1)
    assert not (tmp_path / CK).exists()


# --- 5. output problems: one line before training, nothing lost ---------------------------------

def test_out_that_is_a_file_or_under_a_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("keep me")
    for out in (f, f / "sub" / "dir"):
        assert main(["train", *FAST, "--epochs", "1", "--out", str(out)]) == 1
        lines = _one_line_error(capsys)
        assert "is a file" in lines[-1] or "which is a file" in lines[-1]
        assert not any(line.startswith("epoch") for line in lines)
    assert f.read_text() == "keep me"


def test_unwritable_out_is_found_before_training(tmp_path, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(trainer_module.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError, match="not writable"):
        prepare_out_dir(tmp_path / "ro")
    assert main(["train", *FAST, "--epochs", "1", "--out", str(tmp_path / "ro")]) == 1
    assert "not writable" in _one_line_error(capsys)[-1]


def test_disk_full_while_saving_keeps_the_previous_checkpoint_and_no_temp_files(tmp_path, monkeypatch, capsys):
    out = tmp_path / "full"
    real_save = serialization.safetensors_bytes
    calls = {"n": 0}

    def full_disk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second epoch's checkpoint
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(serialization, "safetensors_bytes", full_disk)
    assert main(["train", *FAST, "--epochs", "3", "--out", str(out)]) == 1
    lines = _one_line_error(capsys)
    assert "No space left on device" in lines[-1] and "epoch 1 is kept" in lines[-1]
    assert _epoch(out / CK) == 1
    assert not [p for p in os.listdir(out) if p.startswith(".tmp-")]


def test_stale_temp_files_of_a_crashed_run_are_removed(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    stale = [out / ".tmp-checkpoint.safetensors.x1y2", out / "metrics.csv.tmp", out / ".tmp-metrics.json.abc"]
    for p in stale:
        p.write_bytes(b"half")
    keep = out / "notes.txt"
    keep.write_text("mine")
    _train(out, epochs=1)
    assert not any(p.exists() for p in stale) and keep.read_text() == "mine"


def test_run_files_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        _train(tmp_path / "u", epochs=1)
    finally:
        os.umask(old)
    for name in (CK, "metrics.csv", "metrics.json", "curves.png"):
        assert os.stat(tmp_path / "u" / name).st_mode & 0o777 == 0o640, name


# --- 6. restoring is all or nothing -----------------------------------------------------------

def test_a_refused_part_leaves_model_optimizer_and_generators_unchanged(tmp_path):
    donor = _toy_trainer(tmp_path / "donor")
    donor.fit(1)
    ck = tn.load(tmp_path / "donor" / CK)
    ck["rng"]["train_loader"] = {"generator": {"bit_generator": "MT19937"}, "epoch": 0}  # refused last
    target = _toy_trainer(None, optimizer_cls=tn.optim.SGD)
    target.model.weight.array[...] = 7.0
    weight, rng, loader = (target.model.weight.detach().numpy().copy(), tn_random.get_rng_state(),
                           target.train_loader.state_dict())
    with pytest.raises(ValueError, match="train_loader"):
        target.load_checkpoint(ck)
    assert (target.model.weight.detach().numpy() == weight).all()
    assert tn_random.get_rng_state() == rng and target.train_loader.state_dict() == loader and target.epoch == 0


def test_another_optimizers_state_is_refused_before_anything_changes(tmp_path):
    donor = _toy_trainer(tmp_path / "donor")
    donor.fit(1)
    target = _toy_trainer(None, optimizer_cls=tn.optim.Adam)
    w = target.model.weight.detach().numpy().copy()
    with pytest.raises(ValueError, match="optimizer"):
        target.load_checkpoint(str(tmp_path / "donor" / CK))
    assert (target.model.weight.detach().numpy() == w).all() and target.epoch == 0


# --- 11. tampered or foreign checkpoints: one line, exit 1 ------------------------------------------

TAMPER = {
    "no rng": lambda c: c.pop("rng"),
    "history not a list": lambda c: c.__setitem__("history", "x"),
    "history rows": lambda c: c.__setitem__("history", [1, 2]),
    "config without seed": lambda c: c["config"].pop("seed"),
    "non-string config key": lambda c: c["config"].__setitem__(1, "x"),
    "private config key": lambda c: c["config"].__setitem__("_run", "x"),
    "unknown option": lambda c: c["config"].__setitem__("frobnicate", 3),
    "bad option value": lambda c: c["config"].__setitem__("batch_size", -3),
    "bad option type": lambda c: c["config"].__setitem__("lr", "fast"),
    "bad choice": lambda c: c["config"].__setitem__("optimizer", "lbfgs"),
    "epoch negative": lambda c: c.__setitem__("epoch", -1),
    "format": lambda c: c.__setitem__("format", "other/1"),
    "another model's weights": lambda c: c["config"].__setitem__("hidden", "64"),
    "rng state": lambda c: c["rng"].__setitem__("tinynet", {"bit_generator": "MT19937"}),
}


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_tampered_checkpoints_give_one_line_and_exit_1(case, run_a, tmp_path, capsys):
    ck = tn.load(run_a / CK)
    TAMPER[case](ck)
    path = tmp_path / "t.safetensors"
    tn.save(ck, path)
    assert main(["train", "--resume", str(path), "--epochs", "2", "--no-progress"]) == 1
    lines = _one_line_error(capsys)
    assert len(lines) == 1 and str(path) in lines[0]
    if case not in ("rng state",):  # evaluate reads everything but the generators
        assert main(["evaluate", str(path)]) == 1
        assert len(_one_line_error(capsys, "evaluate")) == 1
    assert main(["generate", str(path)]) == 1
    assert len(_one_line_error(capsys, "generate")) == 1


def test_generate_refuses_a_tampered_tokenizer(tmp_path, capsys):
    out = tmp_path / "lm"
    assert main(["train", "--model", "lstm", "--dataset", "sort", "--task-samples", "64", "--epochs", "1",
                 "--hidden-size", "8", "--embed-dim", "4", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    for key, value in (("vocab", [1, 2]), ("encode", "x"), ("specials", ["zz"])):
        ck = tn.load(out / CK)
        ck["extra"]["tokenizer"][key] = value
        path = tmp_path / f"{key}.safetensors"
        tn.save(ck, path)
        assert main(["generate", str(path), "--tokens", "3"]) == 1
        assert "tokenizer" in _one_line_error(capsys, "generate")[-1]


# --- 12. usage errors: short, exit 2, naming the option and range ------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--lr", "-0.1"], "--lr"),
    (["train", "--momentum", "nan"], "--momentum"),
    (["train", "--weight-decay", "-1"], "--weight-decay"),
    (["train", "--clip-grad-norm", "inf"], "--clip-grad-norm"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--upsample", "0"], "--upsample"),
    (["train", "--task-samples", "0"], "--task-samples"),
    (["train", "--context", "0"], "--context"),
    (["train", "--dropout", "1.5"], "--dropout"),
    (["train", "--hidden", "12,x"], "--hidden"),
    (["train", "--mnist-dir", "/no/such/folder"], "--mnist-dir"),
    (["generate", "ck", "--seed", "-5"], "--seed"),
    (["generate", "ck", "--temperature", "inf"], "--temperature"),
    (["bench", "--threads", "-3"], "--threads"),
])
def test_usage_errors_are_two_lines_and_exit_2(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("usage: tinynet") and option in lines[1]


def test_bench_only_with_an_unknown_name_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinynet", "bench", "--only", "nosuch", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "nosuch" in proc.stderr and "W1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


# --- 13. bench never runs code from the current directory ------------------------------------------

def test_bench_ignores_benchmarks_and_tinynet_folders_in_the_current_directory(tmp_path):
    marker = tmp_path / "ran"
    evil = f"open({str(marker)!r}, 'w').write('ran')\n"
    for pkg in ("benchmarks", "tinynet", os.path.join("tinynet", "benchmarks")):
        (tmp_path / pkg).mkdir()
        for name in ("__init__.py", "__main__.py", "suite.py"):
            (tmp_path / pkg / name).write_text(evil)
    proc = subprocess.run([TINYNET, "bench", "--only", "nosuch"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "nosuch" in proc.stderr
    assert not marker.exists()
    # an explicit --suite is the one way to run another copy of the suite
    subprocess.run([TINYNET, "bench", "--suite", str(tmp_path / "benchmarks")], cwd=tmp_path,
                   capture_output=True, text=True, timeout=300)
    assert marker.exists()


def test_bench_suite_must_be_a_suite_folder(tmp_path, capsys):
    assert main(["bench", "--suite", str(tmp_path)]) == 2
    assert "not a benchmark suite folder" in _one_line_error(capsys, "bench")[-1]


# --- killed mid-write: the checkpoint on disk is always a whole one ---------------------------

_SAVER = """
import sys, numpy as np, tinynet as tn
path = sys.argv[1]
tn.save({"v": tn.zeros(4), "epoch": 0}, path)
print("ready", flush=True)
i = 0
while True:
    i += 1
    big = np.full(4_000_000, float(i), dtype=np.float32)  # 16 MB: the kill lands inside a write
    tn.save({"v": tn.tensor(big), "epoch": i}, path)
"""


def test_a_process_killed_while_saving_leaves_a_whole_checkpoint(tmp_path):
    import signal
    import time

    path = tmp_path / "ck.safetensors"
    for delay in (0.05, 0.2, 0.45):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        ck = tn.load(path)  # never a torn file: the old one or a new one, whole
        v = ck["v"].numpy()
        assert (v == v.flat[0]).all() and (v.flat[0] == ck["epoch"] or ck["epoch"] == 0)
    # the killed writer may leave its temporary file; the next run removes it
    for stale in tmp_path.glob(".tmp-*"):
        stale.rename(tmp_path / stale.name.replace("ck.safetensors", CK))
    prepare_out_dir(tmp_path)
    assert not list(tmp_path.glob(".tmp-*"))


def test_a_killed_training_run_resumes_from_its_last_checkpoint(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen([TINYNET, "train", *FAST, "--epochs", "200", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / CK).exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    done = _epoch(out / CK)
    assert 1 <= done < 200
    assert main(["train", "--resume", str(out / CK), "--epochs", str(done + 1), "--no-progress"]) == 0
    assert _epoch(out / CK) == done + 1
    assert not list(out.glob(".tmp-*"))


def test_the_default_output_folder_never_overwrites_an_earlier_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(3):
        assert main(["train", *FAST, "--epochs", "1"]) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["mlp-digits", "mlp-digits-2", "mlp-digits-3"]
    assert "writing to runs/mlp-digits-3" in capsys.readouterr().out
