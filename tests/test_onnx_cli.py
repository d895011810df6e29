"""`tinynet export CKPT --format onnx`: a trained checkpoint becomes an ONNX file that
onnxruntime runs like tinynet, on any batch size; bad checkpoints and options are clear errors."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tinynet as tn  # noqa: E402
import tinynet.onnx.exporter as exporter  # noqa: E402
from tinynet.cli.export import _example_input, _load_model  # noqa: E402
from tinynet.cli.main import main  # noqa: E402

CK = "checkpoint.safetensors"


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn")
    assert main(["train", "--model", "cnn", "--dataset", "digits", "--epochs", "1", "--channels", "2,4",
                 "--cnn-hidden", "8", "--no-progress", "--out", str(out)]) == 0
    return out


def _check_against_tinynet(ckpt, path, batches):
    _, setup = _load_model(str(ckpt), "cpu")
    model = setup.model
    model.eval()
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for b in batches:
        x = _example_input(setup, b)
        with tn.no_grad():
            want = model(x).numpy()
        got = sess.run(None, {"input": x.numpy()})[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_export_cnn_checkpoint(cnn_run, tmp_path, capsys):
    path = tmp_path / "cnn.onnx"
    capsys.readouterr()
    assert main(["export", str(cnn_run / CK), "--format", "onnx", "--out", str(path), "--batch-size", "3"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {path}" in out
    assert "input input: float32 (batch, 1, 8, 8)" in out and "output output: float32 (batch, 10)" in out
    _check_against_tinynet(cnn_run / CK, path, (3, 1, 7))


def test_export_gpt_checkpoint(tmp_path, capsys):
    run = tmp_path / "gpt"
    assert main(["train", "--model", "gpt", "--dataset", "sort", "--epochs", "1", "--task-samples", "64",
                 "--task-length", "4", "--d-model", "8", "--n-heads", "2", "--n-layers", "1", "--out", str(run),
                 "--no-progress"]) == 0
    path = tmp_path / "gpt.onnx"
    assert main(["export", str(run / CK), "--out", str(path), "--opset", "18"]) == 0
    assert onnx.load(str(path)).opset_import[0].version == 18
    assert "input input: int64 (batch, " in capsys.readouterr().out
    _check_against_tinynet(run / CK, path, (1, 4))


def test_export_errors(cnn_run, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "missing.safetensors"
    assert main(["export", str(missing), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "missing.safetensors" in capsys.readouterr().err
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    assert main(["export", str(junk), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "junk.safetensors" in capsys.readouterr().err
    assert main(["export", str(cnn_run / CK), "--out", str(tmp_path / "nodir" / "m.onnx")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", str(cnn_run / CK), "--out", str(tmp_path / "m.onnx"), "--opset", "12"]) == 2
    assert "--opset must be from 17 to 21" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["export", str(cnn_run / CK), "--out", str(tmp_path / "m.onnx"), "--format", "tflite"])
    assert exc.value.code == 2
    capsys.readouterr()
    monkeypatch.setattr(exporter, "onnx", None)
    assert main(["export", str(cnn_run / CK), "--out", str(tmp_path / "m.onnx")]) == 1
    assert "pip install tinynet[onnx]" in capsys.readouterr().err
    with pytest.raises(ImportError, match=r"pip install tinynet\[onnx\]"):
        exporter.export(tn.nn.Linear(2, 2), tn.zeros(1, 2), str(tmp_path / "x.onnx"))
    assert not (tmp_path / "m.onnx").exists()
