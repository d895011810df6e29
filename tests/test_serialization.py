"""tn.save / tn.load: safetensors written by hand (and .npz), validated on load, never pickle."""
import json
import os
import struct

import numpy as np
import pytest

import tinynet as tn


def _state():
    return {
        "model": {"0.weight": tn.randn(4, 3), "0.bias": tn.zeros(4), "2.weight": tn.randn(2, 4, dtype=tn.float64)},
        "optimizer": {"state": {0: {"step": 7, "exp_avg": tn.ones(4, 3)}, 1: {"step": 7}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "amsgrad": False}]},
        "epoch": 3,
        "name": "mlp",
        "nothing": None,
        "ids": tn.tensor([1, 2, 3]),
        "mask": tn.tensor([True, False]),
        "array": np.arange(6, dtype=np.int32).reshape(2, 3),
        "scalar": tn.tensor(2.5),
        "empty": tn.zeros(0, 3),
        "rng": np.random.default_rng(0).bit_generator.state,  # 128-bit ints survive
    }


def _assert_same(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
    elif isinstance(a, tn.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.device == b.device
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("name", ["ck.safetensors", "ck.npz", "ck.bin"])
def test_round_trip_nested_state(tmp_path, name):
    state = _state()
    path = tmp_path / name
    tn.save(state, path)
    _assert_same(state, tn.load(path))
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]  # no temp file left behind


def test_round_trip_device(tmp_path, device):
    t = tn.randn(3, 2, device=device)
    tn.save({"w": t}, tmp_path / "d.safetensors")
    back = tn.load(tmp_path / "d.safetensors")["w"]
    assert back.device == device
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    assert tn.load(tmp_path / "d.safetensors", map_location="cpu")["w"].device == "cpu"


def test_file_layout_is_safetensors(tmp_path):
    tn.save({"a": {"b": tn.arange(4, dtype=tn.float32)}, "k": 1}, tmp_path / "x.safetensors")
    raw = (tmp_path / "x.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["a.b"] == {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    assert all(isinstance(v, str) for v in header["__metadata__"].values())
    assert (8 + n) % 8 == 0 and len(raw) == 8 + n + 16
    np.testing.assert_array_equal(np.frombuffer(raw[8 + n:], "<f4"), [0, 1, 2, 3])


def test_readable_by_safetensors_numpy(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    state = _state()
    tn.save(state, tmp_path / "x.safetensors")
    loaded = stn.load_file(str(tmp_path / "x.safetensors"))
    np.testing.assert_array_equal(loaded["model.0.weight"], state["model"]["0.weight"].numpy())
    np.testing.assert_array_equal(loaded["optimizer.state.0.exp_avg"], np.ones((4, 3), np.float32))
    assert loaded["mask"].dtype == np.bool_ and loaded["ids"].dtype == np.int64
    # and a file written by the safetensors package loads in tinynet
    stn.save_file({"w": np.eye(2, dtype=np.float32)}, str(tmp_path / "foreign.safetensors"))
    np.testing.assert_array_equal(tn.load(tmp_path / "foreign.safetensors")["w"].numpy(), np.eye(2))


def test_readable_by_torch(tmp_path):
    torch = pytest.importorskip("torch")
    stt = pytest.importorskip("safetensors.torch")
    w = tn.randn(3, 5)
    tn.save({"layer": {"weight": w}}, tmp_path / "x.safetensors")
    loaded = stt.load_file(str(tmp_path / "x.safetensors"))
    assert loaded["layer.weight"].dtype == torch.float32
    np.testing.assert_array_equal(loaded["layer.weight"].numpy(), w.numpy())


def test_unsupported_values_and_collisions(tmp_path):
    with pytest.raises(TypeError, match="no pickle"):
        tn.save({"f": lambda x: x}, tmp_path / "a.safetensors")
    with pytest.raises(ValueError, match="collide"):
        tn.save({"a.b": tn.ones(1), "a": {"b": tn.ones(1)}}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="keys"):
        tn.save({(1, 2): 3}, tmp_path / "a.safetensors")
    assert not (tmp_path / "a.safetensors").exists()


def test_save_is_atomic_on_failure(tmp_path):
    path = tmp_path / "ck.safetensors"
    tn.save({"w": tn.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        tn.save({"w": tn.zeros(2), "bad": object()}, path)
    assert path.read_bytes() == before


# --- damaged files ---------------------------------------------------------------------

@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.safetensors"
    tn.save({"w": tn.randn(8, 4), "b": tn.zeros(8), "epoch": 1}, path)
    return path


def _write(tmp_path, data):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(data)
    return p


def test_truncated_files_raise(tmp_path, good):
    raw = good.read_bytes()
    for cut in (0, 5, 8, 20, len(raw) - 4, len(raw) - 1):
        with pytest.raises(ValueError):
            tn.load(_write(tmp_path, raw[:cut]))


def test_extra_bytes_raise(tmp_path, good):
    with pytest.raises(ValueError, match="data section"):
        tn.load(_write(tmp_path, good.read_bytes() + b"\0\0\0\0"))


def test_flipped_header_bytes_raise(tmp_path, good):
    raw = bytearray(good.read_bytes())
    (n,) = struct.unpack("<Q", raw[:8])
    for pos in (8, 9, 8 + n // 2, 8 + n - 1 - (raw[8 + n - 1] == 32) * 8):
        bad = bytearray(raw)
        bad[pos] ^= 0xFF
        with pytest.raises(ValueError):
            tn.load(_write(tmp_path, bytes(bad)))
    huge = struct.pack("<Q", 2**40) + bytes(raw[8:])
    with pytest.raises(ValueError, match="header size"):
        tn.load(_write(tmp_path, huge))


def _tamper(raw, fn):
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    fn(header)
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + raw[8 + n:]


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["w"].update(data_offsets=[0, 10_000]), "past its end"),
    (lambda h: h["w"].update(shape=[8, 5]), "needs"),
    (lambda h: h["w"].update(dtype="F99"), "dtype"),
    (lambda h: h["w"].update(shape=[-8, -4]), "shape"),
    (lambda h: h["b"].update(data_offsets=[4, 36]), "gap or overlap|needs"),
    (lambda h: h.pop("b"), "data section|lacks"),
    (lambda h: h["__metadata__"].update(tinynet="{not json"), "JSON"),
    (lambda h: h["__metadata__"].update(tinynet='{"w": {"__tensor__": "zzz"}}'), "lacks"),
])
def test_tampered_header_raises(tmp_path, good, edit, message):
    with pytest.raises(ValueError, match=message):
        tn.load(_write(tmp_path, _tamper(good.read_bytes(), edit)))


def test_damaged_npz_raises(tmp_path):
    path = tmp_path / "c.npz"
    tn.save({"w": tn.ones(100)}, path)
    raw = path.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="npz"):
        tn.load(bad)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        tn.load("/nonexistent/ck.safetensors")


def test_damaged_checkpoint_leaves_model_unchanged(tmp_path):
    nn = pytest.importorskip("tinynet.nn")
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    tn.save(model.state_dict(), tmp_path / "m.safetensors")
    raw = (tmp_path / "m.safetensors").read_bytes()
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    before = {k: v.numpy().copy() for k, v in other.state_dict().items()}
    for damaged in (raw[:-3], raw[:30], _tamper(raw, lambda h: h["2.bias"].update(data_offsets=[0, 999]))):
        with pytest.raises(ValueError):
            other.load_state_dict(tn.load(_write(tmp_path, damaged)))
        for k, v in other.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), before[k])
    other.load_state_dict(tn.load(tmp_path / "m.safetensors"))
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), model.state_dict()[k].numpy())
