"""`tinynet quantize`: static PTQ, QAT and dynamic int8 from a training checkpoint, end to end.

The digits CNN accuracy targets: static int8 post-training quantization loses at most 0.5
accuracy points on the test split, quantization-aware training at most 0.2. The test split
has 269 images, so one image is 0.37 points: static may lose one image net, QAT none.

The checkpoint: its tensor data (int8 weights, scales, zero points, float biases) is at
least 3.5x smaller than the float32 weights'; the whole file, which also holds the tensor
names, the run's settings and the quantization record (a few KB, fixed per layer), at
least 3.4x smaller than the float32 weights saved with the same settings (3.48x for this CNN).
"""
import json
import os

import pytest

import tinynet as tn
from tinynet import nn
from tinynet import quantization as Q
from tinynet.cli.common import CLIError
from tinynet.cli.main import main
from tinynet.cli.quantize import QUANTIZED_FORMAT, check_quantizable

CNN = ["--model", "cnn", "--dataset", "digits", "--no-augment", "--no-progress"]
MLP = ["--model", "mlp", "--dataset", "digits", "--hidden", "64", "--no-progress"]


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cnn"))
    assert main(["train", *CNN, "--epochs", "12", "--out", out]) == 0
    return out


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("mlp"))
    assert main(["train", *MLP, "--epochs", "5", "--out", out]) == 0
    return out


def _ckpt(run):
    return os.path.join(run, "checkpoint.safetensors")


def _quantize(capsys, ckpt, out, *extra):
    assert main(["quantize", ckpt, "--out", out, "--repeats", "1", "--no-progress", *extra]) == 0
    text = capsys.readouterr().out
    with open(os.path.join(out, "quantize.json")) as fh:
        return text, json.load(fh)


# --- end to end: the digits CNN targets ---------------------------------------------------------
@pytest.fixture(scope="module")
def static_cnn(cnn_run, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("static"))
    assert main(["quantize", _ckpt(cnn_run), "--out", out, "--repeats", "1", "--calibrate", "256"]) == 0
    with open(os.path.join(out, "quantize.json")) as fh:
        return out, json.load(fh)


def test_static_ptq_cnn_meets_the_accuracy_and_size_targets(static_cnn, cnn_run):
    out, rep = static_cnn
    with open(os.path.join(cnn_run, "metrics.json")) as fh:
        trained = json.load(fh)["test"]["accuracy"]
    assert rep["mode"] == "static" and rep["calibration_samples"] == 256 and rep["per_channel"] is True
    assert rep["float32"]["accuracy"] == pytest.approx(trained)  # the float model is the trained one
    assert rep["float32"]["accuracy"] > 0.9
    assert rep["accuracy_change_points"] >= -0.5, rep
    # int8 weights + scales + zero points + float biases against float32 weights + biases
    assert rep["int8"]["tensor_bytes"] * 3.5 <= rep["float32"]["tensor_bytes"], rep
    # the whole file also holds names, settings and the quantization record (a few KB, fixed per layer)
    assert rep["size_ratio"] >= 3.5, rep
    assert rep["float32"]["training_checkpoint_bytes"] >= 3.5 * rep["int8"]["file_bytes"]
    assert rep["int8"]["file_bytes"] == os.path.getsize(os.path.join(out, "quantized.safetensors"))
    for who in ("float32", "int8"):
        assert set(rep[who]["latency_s"]) == {"1", "32"} and all(v > 0 for v in rep[who]["latency_s"].values())


def test_quantized_checkpoint_holds_int8_weights(static_cnn):
    out, _ = static_cnn
    ck = tn.load(os.path.join(out, "quantized.safetensors"))
    assert ck["format"] == QUANTIZED_FORMAT and ck["method"]["mode"] == "static"
    int8 = [k for k, v in ck["model"].items() if hasattr(v, "dtype") and str(v.dtype) in ("int8", "tinynet.int8")]
    assert int8, sorted(ck["model"])


def test_evaluate_recognises_a_quantized_checkpoint(static_cnn, capsys):
    out, rep = static_cnn
    path = os.path.join(out, "quantized.safetensors")
    assert main(["evaluate", path, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["quantized"] == "static"
    assert got["accuracy"] == pytest.approx(rep["int8"]["accuracy"])  # the same int8 model, rebuilt from the file
    assert got["loss"] == pytest.approx(rep["int8"]["loss"], rel=1e-5)
    assert main(["evaluate", path]) == 0
    assert "int8 (static)" in capsys.readouterr().out


def test_qat_cnn_meets_the_accuracy_target(cnn_run, tmp_path, capsys):
    text, rep = _quantize(capsys, _ckpt(cnn_run), str(tmp_path / "qat"), "--qat", "--epochs", "2")
    assert rep["mode"] == "qat" and rep["qat_epochs"] == 2
    assert rep["qat_lr"] == pytest.approx(0.1 * 2e-3)  # a tenth of the recipe's lr
    assert rep["accuracy_change_points"] >= -0.2, rep
    assert rep["tensor_ratio"] >= 3.5 and rep["size_ratio"] >= 3.0
    assert "qat epoch" in text and "int8 (qat)" in text


def test_dynamic_mlp(mlp_run, tmp_path, capsys):
    text, rep = _quantize(capsys, _ckpt(mlp_run), str(tmp_path / "dyn"), "--dynamic")
    assert rep["mode"] == "dynamic" and "calibration_samples" not in rep
    assert rep["accuracy_change_points"] >= -1.0, rep
    assert rep["tensor_ratio"] > 3.0  # (a 4.7k-weight model: the file's names and settings weigh as much)
    assert "test accuracy" in text and "x smaller" in text
    assert main(["evaluate", os.path.join(tmp_path, "dyn", "quantized.safetensors"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(rep["int8"]["accuracy"])


# --- errors ----------------------------------------------------------------------------------
def _error(capsys, argv, code):
    assert main(argv) == code
    return capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--calibrate", "0"], "static quantization needs calibration data"),
    (["--qat", "--dynamic"], "choose one"),
    (["--epochs", "2"], "needs --qat"),
    (["--lr", "0.1"], "needs --qat"),
    (["--dynamic", "--calibrate", "10"], "does not calibrate"),
    (["--qat", "--calibrate", "10"], "does not calibrate"),
])
def test_usage_errors(mlp_run, extra, message, capsys, tmp_path):
    err = _error(capsys, ["quantize", _ckpt(mlp_run), "--out", str(tmp_path), *extra], 2)
    assert "tinynet quantize: error:" in err and message in err
    assert not os.listdir(tmp_path)  # refused before anything was written


def test_an_already_quantized_checkpoint_is_refused(static_cnn, capsys, tmp_path):
    out, _ = static_cnn
    err = _error(capsys, ["quantize", os.path.join(out, "quantized.safetensors"), "--out", str(tmp_path)], 1)
    assert "already quantized" in err and "static" in err


def test_a_quantized_checkpoint_is_not_a_training_checkpoint(static_cnn, capsys, tmp_path):
    out, _ = static_cnn
    path = os.path.join(out, "quantized.safetensors")
    err = _error(capsys, ["train", "--resume", path, "--out", str(tmp_path), "--no-progress"], 1)
    assert QUANTIZED_FORMAT in err and "tinynet train" in err
    float_model = tn.models.build_model("cnn", in_channels=1, num_classes=10, input_size=8, channels=(32, 64),
                                        hidden=128, dropout=0.25)
    with pytest.raises(RuntimeError, match="missing keys: 'features.0.weight'"):  # nothing is half-loaded
        float_model.load_state_dict(tn.load(path)["model"])
    with pytest.raises(Q.QuantizedCheckpointError, match="LeNet is a float model, but the checkpoint is int8"):
        Q.load_float_state_dict(float_model, tn.load(path))


def test_not_a_checkpoint(tmp_path, capsys):
    plain = tmp_path / "plain.safetensors"
    tn.save({"w": tn.ones(2)}, plain)
    err = _error(capsys, ["quantize", str(plain), "--out", str(tmp_path / "o")], 1)
    assert "not a tinynet training checkpoint" in err
    err = _error(capsys, ["quantize", str(tmp_path / "missing.safetensors")], 1)
    assert "no such checkpoint file" in err


def test_a_tampered_quantized_checkpoint_is_refused_by_evaluate(tmp_path, capsys):
    bad = tmp_path / "q.safetensors"
    tn.save({"format": QUANTIZED_FORMAT, "config": {}, "model": {}, "extra": {}, "quantization": {},
             "method": {"mode": "sparkly", "backend": "fbgemm", "per_channel": True}}, bad)
    err = _error(capsys, ["evaluate", str(bad)], 1)
    assert "not a usable quantized checkpoint" in err and "sparkly" in err


def test_unsupported_model_names_the_layers(tmp_path, capsys):
    run = str(tmp_path / "resnet")
    assert main(["train", "--model", "resnet", "--dataset", "digits", "--widths", "4,4", "--epochs", "1",
                 "--no-augment", "--no-progress", "--out", run]) == 0
    capsys.readouterr()
    err = _error(capsys, ["quantize", _ckpt(run), "--out", str(tmp_path / "q")], 1)
    assert "static int8 quantization cannot handle this ResNetSmall" in err and "BatchNorm2d" in err and "--dynamic" in err


def test_nothing_to_quantize():
    convs = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    with pytest.raises(CLIError, match="nothing to quantize dynamically: it has no Linear or LSTM"):
        check_quantizable(convs, "dynamic")
    with pytest.raises(CLIError, match="nothing to quantize: no Linear or Conv2d"):
        check_quantizable(nn.Sequential(nn.ReLU(), nn.Flatten()), "static")
    with pytest.raises(CLIError, match=r"cannot handle this Sequential: 1 \(Tanh\) has no int8 version"):
        check_quantizable(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), "static")


# --- the benchmark section ---------------------------------------------------------------------
def test_benchmark_section_is_hooked_into_the_suite():
    import numpy as np

    from benchmarks import bench_quantize, suite
    from benchmarks.__main__ import unknown_names

    assert unknown_names("QUANT,W1") == []
    models = bench_quantize._tinynet_models("mlp")
    assert set(models) == {"float32", "int8 (static)", "int8 (dynamic)"}
    x = tn.tensor(bench_quantize._digits(8, flatten=True))
    with tn.no_grad():
        ref = models["float32"](x).numpy()
        for label in ("int8 (static)", "int8 (dynamic)"):
            out = models[label](x).numpy()
            assert out.shape == ref.shape and np.abs(out - ref).max() < 0.1 * np.abs(ref).max() + 0.05, label
    res = {"batches": [1], "rounds": 1, "not_available": {}, "torch_engine": "x86",
           "entries": [{"model": "mlp", "batch": 1, "speedup_int8": {"tinynet": 2.0},
                        "results": {"tinynet float32": {"median_s": 2e-4}, "tinynet int8 (static)": {"median_s": 1e-4}}}]}
    text = bench_quantize.markdown(res)
    assert "| mlp | 1 | 200.0 µs | 100.0 µs |" in text and "| 2.00x | yes |" in text
    whole = suite.markdown({"machine": __import__("benchmarks.machine").machine.describe(), "not_timed": {},
                            "settings": {"quick": True, "rounds": 1}, "elapsed_s": 1.0, "workloads": [], "micro": [],
                            "quantize": res})
    assert "Quantized models: float32 vs int8" in whole


def test_options_are_honoured(mlp_run, tmp_path, capsys):
    """--backend/--per-channel choose the weight observer, --calibrate the samples, --json the output."""
    ckpt = _ckpt(mlp_run)
    for extra, per_channel in ((["--backend", "qnnpack"], False), (["--backend", "qnnpack", "--per-channel"], True),
                               (["--no-per-channel"], False)):
        out = str(tmp_path / "-".join(extra))
        assert main(["quantize", ckpt, "--out", out, "--repeats", "2", "--calibrate", "64", "--batch-size", "16",
                     "--json", *extra]) == 0
        captured = capsys.readouterr()
        rep = json.loads(captured.out)  # stdout is the JSON alone; the progress lines went to stderr
        assert "calibrated on 64 training samples" in captured.err
        assert rep["per_channel"] is per_channel and rep["calibration_samples"] == 64 and rep["latency_rounds"] == 2
        assert rep["batch_size"] == 16
        assert rep["backend"] == (extra[1] if extra[0] == "--backend" else "fbgemm")
        model = tn.load(os.path.join(out, "quantized.safetensors"))["model"]
        scales = {k: tuple(v.shape) for k, v in model.items() if k.endswith("weight_scale")}
        # the MLP 64 -> 64 -> 10: one scale per output row, or one for the whole weight
        assert scales == {"module.net.0.weight_scale": (64,) if per_channel else (1,),
                          "module.net.2.weight_scale": (10,) if per_channel else (1,)}, scales


@pytest.mark.gpu
@pytest.mark.skipif("cuda" not in tn.backend.available_devices(), reason="no cuda device (real or simulated)")
def test_cuda_device_runs_the_int8_model(tmp_path, capsys):
    """--device cuda: calibration, the int8 kernels and evaluation on the GPU (Numba's CUDA simulator
    without one; a tiny MLP keeps it fast). The GPU's int8 model scores exactly as on the CPU."""
    run = str(tmp_path / "tiny")
    assert main(["train", "--model", "mlp", "--dataset", "digits", "--hidden", "8", "--epochs", "2", "--no-progress",
                 "--out", run]) == 0
    capsys.readouterr()
    out = str(tmp_path / "q")
    assert main(["quantize", _ckpt(run), "--device", "cuda", "--calibrate", "32", "--repeats", "1", "--out", out,
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["device"] == "cuda" and rep["int8"]["accuracy"] > 0.3
    path = os.path.join(out, "quantized.safetensors")
    results = {}
    for device in ("cuda", "cpu"):
        assert main(["evaluate", path, "--device", device, "--json"]) == 0
        results[device] = json.loads(capsys.readouterr().out)
    assert results["cuda"]["accuracy"] == results["cpu"]["accuracy"] == pytest.approx(rep["int8"]["accuracy"])
    assert results["cuda"]["confusion_matrix"] == results["cpu"]["confusion_matrix"]
