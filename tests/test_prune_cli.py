"""`tinynet prune`: iterative pruning with fine-tuning, end to end on digits (small epochs)."""
import json

import numpy as np
import pytest

import tinynet as tn
from tinynet.cli.main import main
from tinynet.cli.prune import pruned_by_step, step_amount


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The digits MLP and CNN, trained with the recipes' settings (`tinynet train --model mlp|cnn
    --dataset digits`): the targets are about these converged models (~98.5 % and ~99 %), not
    about under-trained ones that fine-tuning would simply train further."""
    root = tmp_path_factory.mktemp("prune")
    for model in ("mlp", "cnn"):
        assert main(["train", "--model", model, "--dataset", "digits", "--out", str(root / model),
                     "--no-progress"]) == 0
    return root


def _report(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _evaluate(capsys, path):
    capsys.readouterr()
    assert main(["evaluate", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_step_amount_reaches_the_target():
    for amount, steps in ((0.8, 4), (0.5, 3), (0.9, 1)):
        a = step_amount(amount, steps)
        assert abs(1 - (1 - a) ** steps - amount) < 1e-12


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_80_percent_global_sparsity_loses_at_most_one_point(runs, model, capsys):
    out = runs / f"{model}-pruned"
    assert main(["prune", str(runs / model / "checkpoint.safetensors"), "--amount", "0.8", "--steps", "4",
                 "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "step 4/4: sparsity 80.00%" in text and "sparsity per layer" in text
    report = _report(out / "prune.json")
    before, after = report["test_before"]["accuracy"], report["test_after"]["accuracy"]
    assert before >= 0.97                                   # a converged model to start from
    assert after >= before - 0.01, (before, after)          # the target: <= 1 accuracy point lost
    assert abs(report["sparsity"]["total"] - 0.8) < 1e-3
    # the checkpoint holds plain weights (pruning made permanent) with the zeros in them
    ck = tn.load(str(out / "checkpoint.safetensors"))
    assert not any(k.endswith(("_orig", "_mask")) for k in ck["model"])
    weights = [v.numpy() for k, v in ck["model"].items() if k.endswith("weight")]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)
    assert abs(zeros - 0.8) < 1e-3
    assert ck["extra"]["pruning"]["amount"] == 0.8
    # and `tinynet evaluate` reads it, with the accuracy prune reported
    metrics = _evaluate(capsys, out / "checkpoint.safetensors")
    assert metrics["accuracy"] == pytest.approx(after)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_structured_pruning_writes_a_smaller_model_that_evaluates(runs, model, capsys):
    out = runs / f"{model}-structured"
    assert main(["prune", str(runs / model / "checkpoint.safetensors"), "--amount", "0.5", "--steps", "2",
                 "--epochs", "1", "--structured", "--n", "2", "--out", str(out), "--no-progress"]) == 0
    report = _report(out / "prune.json")
    shrunk = report["shrunk"]
    assert shrunk["parameters_after"] < 0.6 * shrunk["parameters_before"]
    assert shrunk["test_accuracy"] == pytest.approx(report["test_after"]["accuracy"])   # same outputs
    ck = tn.load(str(out / "shrunk.safetensors"))
    if model == "mlp":
        assert ck["config"]["hidden"] == "64,32"
        assert tuple(ck["model"]["net.0.weight"].shape) == (64, 64)
    else:
        assert ck["config"]["channels"] == "16,32"
        assert tuple(ck["model"]["features.3.weight"].shape) == (32, 16, 3, 3)
    metrics = _evaluate(capsys, out / "shrunk.safetensors")
    assert metrics["accuracy"] == pytest.approx(shrunk["test_accuracy"])
    # the pruned (not shrunk) checkpoint: whole rows of zeros, bias entries included
    pruned = tn.load(str(out / "checkpoint.safetensors"))["model"]
    w0 = pruned["net.0.weight" if model == "mlp" else "features.0.weight"].numpy()
    b0 = pruned["net.0.bias" if model == "mlp" else "features.0.bias"].numpy()
    dead = ~np.any(w0.reshape(w0.shape[0], -1) != 0, axis=1)
    assert dead.sum() == w0.shape[0] // 2 and (b0[dead] == 0).all()


def test_usage_errors(runs, capsys, tmp_path):
    ckpt = str(runs / "mlp" / "checkpoint.safetensors")
    for argv, message in (
        (["--amount", "1.5"], "fraction in [0, 1)"),
        (["--amount", "-0.2"], "fraction in [0, 1)"),
        (["--steps", "0"], "positive integer"),
    ):
        with pytest.raises(SystemExit) as exc:           # argparse: usage line, exit status 2
            main(["prune", ckpt, "--out", str(tmp_path / "x"), *argv])
        assert exc.value.code == 2 and message in capsys.readouterr().err
    for argv, message in (
        (["--structured", "--dim", "2"], "--dim 2 is out of range for net.0 (Linear weight of shape (128, 64))"),
        (["--epochs", "-1"], "--epochs must be >= 0"),
    ):
        assert main(["prune", ckpt, "--out", str(tmp_path / "x"), *argv]) == 2
        assert message in capsys.readouterr().err
    assert main(["prune", str(tmp_path / "missing.safetensors")]) == 1
    assert "missing.safetensors" in capsys.readouterr().err
    # --structured rebuilds mlp and cnn runs only: another recipe is refused before any work
    ck = tn.load(ckpt)
    ck["config"]["model"] = "resnet"
    other = tmp_path / "resnet.safetensors"
    tn.save(ck, str(other))
    assert main(["prune", str(other), "--structured", "--out", str(tmp_path / "y")]) == 2
    assert "rebuilds mlp, cnn models smaller; this checkpoint is a resnet run" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_pruned_by_step_lands_on_the_target_count():
    assert [pruned_by_step(128, 0.5, s, 4) for s in range(1, 5)] == [20, 37, 52, 64]
    assert pruned_by_step(17226, 0.8, 4, 4) == round(17226 * 0.8)
    assert pruned_by_step(10, 0.0, 3, 3) == 0
