"""The `tinynet` command and the Trainer: outputs, evaluate, usage errors, NaN stop, exact resume."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tinynet as tn
from tinynet.cli.main import main
from tinynet.cli.recipes import RECIPES, Setup, register
from tinynet.cli.trainer import NonFiniteLossError, Trainer

FAST = ["--model", "mlp", "--dataset", "digits", "--hidden", "32", "--no-progress"]


def _history(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("run"))
    assert main(["train", *FAST, "--epochs", "3", "--out", out]) == 0
    return out


def test_train_writes_checkpoint_metrics_and_plot(trained, capsys):
    for name in ("checkpoint.safetensors", "metrics.csv", "metrics.json", "curves.png"):
        assert os.path.getsize(os.path.join(trained, name)) > 0, name
    with open(os.path.join(trained, "curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(trained, "metrics.csv")) as f:
        rows = f.read().strip().splitlines()
    assert rows[0].startswith("epoch,") and "val_accuracy" in rows[0] and len(rows) == 4
    doc = _history(trained)
    assert doc["epochs_completed"] == 3 and len(doc["history"]) == 3
    assert doc["config"]["model"] == "mlp" and doc["config"]["hidden"] == "32"
    test = doc["test"]
    assert 0.5 < test["accuracy"] <= 1 and len(test["confusion_matrix"]) == 10
    assert doc["history"][-1]["train_loss"] < doc["history"][0]["train_loss"]
    ck = tn.load(os.path.join(trained, "checkpoint.safetensors"))
    assert ck["epoch"] == 3 and set(ck) >= {"model", "optimizer", "rng", "config", "history"}


def test_evaluate_reloads_and_reports(trained, capsys):
    ckpt = os.path.join(trained, "checkpoint.safetensors")
    assert main(["evaluate", ckpt]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "F1" in text and "confusion matrix" in text
    assert main(["evaluate", ckpt, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(_history(trained)["test"]["accuracy"])
    assert report["f1_macro"] > 0.5 and report["epoch"] == 3


def test_evaluate_rejects_a_damaged_checkpoint(trained, tmp_path, capsys):
    raw = open(os.path.join(trained, "checkpoint.safetensors"), "rb").read()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(raw[:-10])
    assert main(["evaluate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "tinynet evaluate: error:" in err and "bad.safetensors" in err
    not_ck = tmp_path / "plain.safetensors"
    tn.save({"w": tn.ones(2)}, not_ck)
    assert main(["evaluate", str(not_ck)]) == 1
    assert "not a tinynet training checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--bogus"], "unrecognized arguments"),
    (["train", "--model", "nosuch"], "invalid choice"),
    (["train", "--batch-size", "0"], "positive integer"),
    (["train", "--epochs", "two"], "positive integer"),
    (["train", "--optimizer", "lbfgs"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: tinynet" in err and message in err


def test_unknown_dataset_for_model_exits_2(tmp_path, capsys):
    assert main(["train", "--model", "mlp", "--dataset", "cifar", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "digits, moons, spirals" in err


def test_cuda_without_gpu_exits_2_naming_cupy(monkeypatch, tmp_path, capsys):
    from tinynet.backend import registry

    monkeypatch.delenv("TINYNET_CUDA_SIM", raising=False)
    monkeypatch.setattr(registry, "_CUDA", None)
    monkeypatch.setattr(registry, "_CUDA_ERROR", "ModuleNotFoundError: No module named 'cupy'")
    assert main(["train", *FAST, "--device", "cuda", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "CuPy" in err and "tinynet[cuda12]" in err and "TINYNET_CUDA_SIM" in err


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "tinynet", "train", "--no-such-option"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "usage: tinynet train" in proc.stderr


def test_info_reports_devices(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "cpu" in text and "cuda" in text and "numpy" in text
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    status = info["devices"]["cuda"]["status"]
    expected = "real" if tn.cuda.is_available() else ("simulated" if tn.cuda.is_simulated() else "absent")
    assert status == expected and info["devices"]["cuda"]["reason"] or status == "real"
    assert "mlp" in info["models"] and info["packages"]["numpy"] == np.__version__


def test_interrupted_run_resumes_with_exactly_the_same_losses(tmp_path, monkeypatch):
    """Same seed -> same run; a run stopped after epoch 2 and resumed matches the uninterrupted one
    (dropout, shuffling and a cosine schedule all depend on restored state)."""
    extra = ["--dropout", "0.2", "--scheduler", "cosine", "--epochs", "3", "--batch-size", "64"]
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    assert main(["train", *FAST, *extra, "--out", full]) == 0

    real_train_epoch = Trainer.train_epoch

    def interrupted(self, epoch, epochs):
        if epoch == 3:
            raise KeyboardInterrupt
        return real_train_epoch(self, epoch, epochs)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted)
    assert main(["train", *FAST, *extra, "--out", part]) == 130  # Ctrl-C during epoch 3
    monkeypatch.setattr(Trainer, "train_epoch", real_train_epoch)
    assert tn.load(os.path.join(part, "checkpoint.safetensors"))["epoch"] == 2
    # --resume takes every setting (and --epochs/--out when not given) from the checkpoint
    assert main(["train", "--resume", os.path.join(part, "checkpoint.safetensors"), "--no-progress"]) == 0

    def losses(out):
        return [(r["epoch"], r["train_loss"], r["val_loss"], r["lr"]) for r in _history(out)["history"]]

    assert len(losses(full)) == 3
    assert losses(part) == losses(full)
    assert _history(part)["test"] == _history(full)["test"]


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    tn.manual_seed(0)
    model = tn.nn.Linear(2, 2)
    ds = tn.data.TensorDataset(np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32), np.arange(20) % 2)
    loader = tn.data.DataLoader(ds, batch_size=5, shuffle=True, seed=0)
    calls = {"n": 0}

    def loss_fn(out, y):
        calls["n"] += 1
        loss = tn.nn.functional.cross_entropy(out, y)
        return loss * float("nan") if calls["n"] == 11 else loss  # epoch 3, batch 3

    opt = tn.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, opt, loss_fn, loader, out_dir=tmp_path, progress=False, log=lambda s: None)
    with pytest.raises(NonFiniteLossError) as exc:
        trainer.fit(5)
    ckpt = tmp_path / "checkpoint.safetensors"
    assert exc.value.epoch == 3 and exc.value.step == 11 and exc.value.checkpoint == str(ckpt)
    assert "epoch 3, step 11" in str(exc.value) and "last good checkpoint" in str(exc.value)
    assert tn.load(ckpt)["epoch"] == 2
    assert len(_history(tmp_path)["history"]) == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow that makes the loss inf/NaN
def test_nan_loss_from_the_command_line_exits_1(tmp_path, capsys):
    out = str(tmp_path / "nan")
    code = main(["train", *FAST, "--optimizer", "sgd", "--lr", "1e30", "--epochs", "3", "--out", out])
    err = capsys.readouterr().err
    assert code == 1 and "loss is" in err and "step" in err and "epoch" in err
    assert "stopped" in err


def test_moons_recipe_and_custom_recipe_registration(tmp_path, capsys):
    assert main(["train", "--model", "mlp", "--dataset", "moons", "--epochs", "2", "--hidden", "16",
                 "--out", str(tmp_path / "m"), "--no-progress"]) == 0
    assert _history(str(tmp_path / "m"))["test"]["accuracy"] > 0.7
    with pytest.raises(ValueError, match="already exists"):
        register("mlp", datasets=("digits",))(lambda args: None)
    with pytest.raises(ValueError, match="task"):
        Setup(model=None, train_loader=None, loss_fn=None, task="ranking")
    assert "mlp" in RECIPES


@pytest.mark.slow
def test_acceptance_default_mlp_on_digits(tmp_path, capsys):
    """`tinynet train --model mlp --dataset digits` (the README's main job) reaches >= 97 %."""
    out = str(tmp_path / "acc")
    assert main(["train", "--model", "mlp", "--dataset", "digits", "--out", out, "--no-progress"]) == 0
    assert _history(out)["test"]["accuracy"] >= 0.97
