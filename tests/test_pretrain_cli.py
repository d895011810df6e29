"""`tinynet pretrain` end to end (tiny), its resume, and fine-tuning from it with
`tinynet train --init-from` (full, frozen encoder, lower encoder rate) and its errors."""
import json
import os

import numpy as np
import pytest

import tinynet as tn
from tinynet.cli import trainer as trainer_module
from tinynet.cli.main import main

TINY = ["--max-documents", "40", "--vocab-size", "200", "--max-len", "24", "--d-model", "16", "--n-heads", "2",
        "--n-layers", "1", "--batch-size", "16", "--no-progress"]


def _pretrain(out, *extra):
    assert main(["pretrain", *TINY, "--out", str(out), *extra]) == 0
    return os.path.join(str(out), "checkpoint.safetensors")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("pre")
    return _pretrain(out, "--epochs", "2")


def test_pretrain_writes_checkpoint_metrics_and_tokenizer(pretrained, capsys):
    ck = tn.load(pretrained)
    extra = ck["extra"]
    assert extra["model_kind"] == "bert-pretraining"
    assert extra["tokenizer"]["kind"] == "wordpiece" and len(extra["tokenizer"]["vocab"]) == 200
    assert extra["tokenizer"]["vocab"][:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert {"mlm_bias", "sentence_head.weight", "seg_emb.weight"} <= set(ck["model"])
    doc = json.load(open(os.path.join(os.path.dirname(pretrained), "metrics.json")))
    rows = doc["history"]
    assert len(rows) == 2
    for key in ("train_loss", "val_loss", "val_mlm_accuracy", "val_perplexity", "val_sentence_accuracy",
                "train_mlm_accuracy"):
        assert all(np.isfinite(r[key]) for r in rows), key
    for r in rows:
        assert r["val_perplexity"] == pytest.approx(np.exp(r["val_mlm_loss"]), rel=1e-6)
    assert rows[1]["train_loss"] < rows[0]["train_loss"]  # it learns
    # the learning rate was stepped per step: warm-up then linear decay to 0 at the end
    assert ck["scheduler"] is not None
    assert os.path.exists(os.path.join(os.path.dirname(pretrained), "curves.png"))


def test_resume_continues_exactly(tmp_path, monkeypatch):
    straight = _pretrain(tmp_path / "a", "--epochs", "2")

    real_summary = trainer_module.Trainer._summary

    def stop_after_first(self, row, epochs):  # Ctrl-C right after epoch 1's checkpoint
        if row["epoch"] == 1:
            raise KeyboardInterrupt
        return real_summary(self, row, epochs)

    monkeypatch.setattr(trainer_module.Trainer, "_summary", stop_after_first)
    assert main(["pretrain", *TINY, "--out", str(tmp_path / "b"), "--epochs", "2"]) == 130
    monkeypatch.setattr(trainer_module.Trainer, "_summary", real_summary)
    cut = os.path.join(str(tmp_path / "b"), "checkpoint.safetensors")
    assert tn.load(cut)["epoch"] == 1
    assert main(["pretrain", "--resume", cut, "--no-progress"]) == 0
    a, b = tn.load(straight), tn.load(cut)
    assert b["epoch"] == 2
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k].numpy(), b["model"][k].numpy(), err_msg=k)
    assert a["history"][-1]["val_loss"] == b["history"][-1]["val_loss"]


def test_resume_refuses_changes_and_other_checkpoints(pretrained, tmp_path, capsys):
    assert main(["pretrain", "--resume", pretrained, "--d-model", "32", "--out", str(tmp_path)]) == 2
    assert "--d-model cannot change" in capsys.readouterr().err
    assert main(["pretrain", "--resume", pretrained, "--epochs", "5", "--out", str(tmp_path)]) == 2
    assert "decays to 0 at epoch 2" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert main(["pretrain", "--resume", str(bad)]) == 1
    assert "bad.safetensors" in capsys.readouterr().err


def _train(out, *extra):
    return main(["train", "--model", "bert", "--dataset", "docstrings", "--epochs", "1", "--batch-size", "64",
                 "--no-progress", "--out", str(out), *extra])


def test_fine_tune_loads_the_encoder_and_adds_a_fresh_head(pretrained, tmp_path, capsys):
    assert _train(tmp_path / "ft", "--init-from", pretrained) == 0
    printed = capsys.readouterr().out
    assert "new: classifier.weight, classifier.bias" in printed and "mlm_bias" in printed
    pre, ft = tn.load(pretrained)["model"], tn.load(str(tmp_path / "ft" / "checkpoint.safetensors"))
    assert ft["extra"]["tokenizer"] == tn.load(pretrained)["extra"]["tokenizer"]  # the pre-training vocabulary
    assert ft["extra"]["model_config"]["d_model"] == 16
    assert not np.array_equal(pre["tok_emb.weight"].numpy(), ft["model"]["tok_emb.weight"].numpy())  # trained on


def test_freeze_encoder_trains_only_the_head(pretrained, tmp_path):
    assert _train(tmp_path / "probe", "--init-from", pretrained, "--freeze", "encoder", "--pooling", "mean") == 0
    pre = tn.load(pretrained)["model"]
    got = tn.load(str(tmp_path / "probe" / "checkpoint.safetensors"))["model"]
    assert "pooler.weight" not in got  # mean pooling has no pooler
    for k, v in got.items():
        if k.startswith("classifier."):
            continue
        np.testing.assert_array_equal(v.numpy(), pre[k].numpy(), err_msg=k)
    opt = tn.load(str(tmp_path / "probe" / "checkpoint.safetensors"))["optimizer"]
    assert sum(len(g["params"]) for g in opt["param_groups"]) == 2  # classifier weight and bias only


def test_freeze_by_name_prefix_keeps_those_fixed_and_trains_the_rest(pretrained, tmp_path, capsys):
    assert _train(tmp_path / "emb", "--init-from", pretrained, "--freeze", "tok_emb,pos_emb") == 0
    pre = tn.load(pretrained)["model"]
    got = tn.load(str(tmp_path / "emb" / "checkpoint.safetensors"))["model"]
    for k in ("tok_emb.weight", "pos_emb.weight"):
        np.testing.assert_array_equal(got[k].numpy(), pre[k].numpy(), err_msg=k)
    assert not np.array_equal(got["seg_emb.weight"].numpy(), pre["seg_emb.weight"].numpy())  # trained on
    assert _train(tmp_path / "bad", "--init-from", pretrained, "--freeze", "tok_em") == 1  # prefixes match names
    assert "no loaded parameter is named 'tok_em'" in capsys.readouterr().err
    everything = "tok_emb,pos_emb,seg_emb,emb_norm,encoder,pooler"  # every loaded tensor fixed
    assert _train(tmp_path / "all", "--init-from", pretrained, "--freeze", everything, "--encoder-lr", "1e-4") == 1
    assert "no trainable loaded parameter" in capsys.readouterr().err
    assert _train(tmp_path / "empty", "--init-from", pretrained, "--freeze", "tok_emb,") == 2
    assert "comma-separated parameter-name prefixes" in capsys.readouterr().err


def test_encoder_lr_makes_two_parameter_groups(pretrained, tmp_path):
    assert _train(tmp_path / "lr", "--init-from", pretrained, "--encoder-lr", "1e-5", "--lr", "1e-3") == 0
    opt = tn.load(str(tmp_path / "lr" / "checkpoint.safetensors"))["optimizer"]
    lrs = sorted(g["lr"] for g in opt["param_groups"])
    assert lrs == [pytest.approx(1e-5), pytest.approx(1e-3)]
    sizes = sorted(len(g["params"]) for g in opt["param_groups"])
    assert sizes[0] == 2  # the head: classifier weight and bias


def test_fine_tune_option_errors(pretrained, tmp_path, capsys):
    assert _train(tmp_path / "e1", "--freeze", "encoder") == 2
    assert "need --init-from" in capsys.readouterr().err
    assert _train(tmp_path / "e2", "--init-from", pretrained, "--freeze", "encoder", "--encoder-lr", "1e-4") == 2
    assert "give one of the two" in capsys.readouterr().err
    assert _train(tmp_path / "e3", "--init-from", pretrained, "--d-model", "32") == 2
    assert "come from the checkpoint" in capsys.readouterr().err
    assert _train(tmp_path / "e4", "--init-from", str(tmp_path / "missing.safetensors")) == 1
    assert "missing.safetensors" in capsys.readouterr().err
    assert main(["train", "--model", "bert", "--dataset", "parens", "--init-from", pretrained, "--epochs", "1",
                 "--no-progress", "--out", str(tmp_path / "e5")]) == 2
    assert "docstrings" in capsys.readouterr().err


def test_export_a_pretraining_checkpoint_to_onnx(pretrained, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    out = tmp_path / "bert.onnx"
    assert main(["export", pretrained, "--format", "onnx", "--out", str(out), "--batch-size", "2"]) == 0
    assert "mlm_logits" in capsys.readouterr().out
    ck = tn.load(pretrained)
    model = tn.models.build_model("bert-pretraining", **ck["extra"]["model_config"])
    model.load_state_dict(ck["model"])
    model.eval()
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 200, size=(3, 24))  # another batch size, with padding and two segments
    ids[:, 0], ids[:, 18:] = 2, 0
    types = np.zeros_like(ids)
    types[:, 9:18] = 1
    got = ort.InferenceSession(str(out)).run(None, {"input_ids": ids, "token_type_ids": types})
    with tn.no_grad():
        want = model(ids, types)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("option, message", [
    (["--mlm-probability", "0"], "--mlm-probability must be between 0 and 1"),
    (["--warmup-ratio", "1"], "--warmup-ratio"),
    (["--max-len", "4"], "--max-len must be at least 8"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--d-model", "30", "--n-heads", "4"], "divisible by num_heads"),
    (["--max-documents", "3"], "too few documents"),
])
def test_pretrain_usage_errors_are_one_line(option, message, tmp_path, capsys):
    given = dict(zip(TINY[:-1:2], TINY[1:-1:2]))  # TINY's "--option value" pairs (its last entry is a flag)
    given.update(zip(option[::2], option[1::2]))
    args = [a for kv in given.items() for a in kv] + ["--no-progress", "--epochs", "1", "--out", str(tmp_path)]
    try:
        code = main(["pretrain", *args])
    except SystemExit as exc:  # argparse's own checks exit with status 2 after the usage line
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
