"""tn.save / tn.load against hostile and broken files and bad input.

Every damaged or hostile file must be refused with a clear error naming the file (and the
tensor or key) before anything is allocated or returned: never a hang, a MemoryError, a
RecursionError, an OverflowError or a NumPy message. Writes must be atomic and leave no
temporary file behind whatever fails.
"""
import errno
import json
import os
import pathlib
import pickle
import shutil
import socket
import stat
import struct
import tempfile
import threading
import warnings
import zipfile

import numpy as np
import pytest

import tinynet as tn
from tinynet import serialization as S
from tinynet.serialization.constants import DTYPES

CheckpointError = S.CheckpointError


# --- helpers ---------------------------------------------------------------------------

def _st_file(tmp_path, header, data=b"", name="h.safetensors"):
    """A safetensors file with ``header`` (a dict, or raw JSON bytes) and ``data`` written by hand."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = tmp_path / name
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _entry(dtype="F32", shape=(1,), offsets=(0, 4)):
    as_list = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731 - lists and odd values as given
    return {"dtype": dtype, "shape": as_list(shape), "data_offsets": as_list(offsets)}


def _tree_file(tmp_path, tree, tensors=None, name="t.safetensors"):
    """A tinynet safetensors file whose structure is ``tree`` (JSON text or an object)."""
    tensors = {"w": np.zeros(2, np.float32)} if tensors is None else tensors
    header, data = {}, b""
    codes = {np.dtype(v): k for k, v in DTYPES.items()}
    for key, arr in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[key] = _entry(codes[arr.dtype], arr.shape, (len(data), len(data) + len(raw)))
        data += raw
    text = tree if isinstance(tree, str) else json.dumps(tree)
    header["__metadata__"] = {"format": "tinynet", "tinynet_version": "1", "tinynet": text}
    return _st_file(tmp_path, header, data, name)


def _npz_file(tmp_path, members, name="x.npz", compression=zipfile.ZIP_STORED):
    """An .npz written by hand: arrays as .npy members (pickle allowed, to craft hostile ones), bytes as is."""
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests write
        with zipfile.ZipFile(path, "w", compression) as z:
            for member, value in members:
                if isinstance(value, bytes):
                    z.writestr(member, value)
                else:
                    with z.open(member, "w") as m:
                        np.lib.format.write_array(m, value, allow_pickle=True)
    return path


def _refused(path, *words, exc=CheckpointError, **kw):
    """Load ``path``, expect ``exc`` whose message names the file and holds every word."""
    with pytest.raises(exc) as info:
        tn.load(path, **kw)
    msg = str(info.value)
    assert str(path) in msg, msg
    for word in words:
        assert word in msg, f"{word!r} not in {msg!r}"
    return info.value


def _load_within(path, seconds=5.0):
    """Run tn.load(path) in a thread; fail if it hasn't finished in ``seconds`` (a FIFO would block)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = tn.load(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if stat.S_ISFIFO(os.stat(path).st_mode):  # unblock the reader so the thread can end
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"tn.load({path!r}) did not finish within {seconds}s")
    return outcome


@pytest.fixture
def no_alloc(monkeypatch):
    """Fail the test if tinynet allocates an array (np.empty) for tensor data."""
    calls = []
    real = np.empty

    def empty(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(np, "empty", empty)
    return calls


def _tmp_files(*folders):
    return [name for folder in folders for name in os.listdir(folder) if name.startswith(".tmp")]


# --- 1. only regular files are read -------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("name", ["pipe.safetensors", "pipe.npz", "pipe"])
def test_fifo_is_refused_without_blocking(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    outcome = _load_within(path)
    error = outcome.get("error")
    assert isinstance(error, S.NotAFileError) and isinstance(error, ValueError), outcome
    assert str(path) in str(error) and "FIFO" in str(error)


@pytest.mark.parametrize("dev_path", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_device_file_is_refused_at_once(dev_path):
    if not os.path.exists(dev_path):
        pytest.skip(f"no {dev_path}")
    error = _load_within(dev_path).get("error")
    assert isinstance(error, S.NotAFileError) and isinstance(error, ValueError), error
    assert dev_path in str(error) and "character device" in str(error)


@pytest.mark.parametrize("name", ["folder", "folder.safetensors", "folder.npz"])
def test_directory_is_refused(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    for exc in (IsADirectoryError, ValueError):
        with pytest.raises(exc) as info:
            tn.load(path)
        assert str(path) in str(info.value)
        assert info.value.errno == errno.EISDIR


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs unix sockets")
@pytest.mark.parametrize("name", ["s.safetensors", "s.npz"])
def test_socket_is_refused(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(name)
        error = _load_within(name).get("error")
    finally:
        sock.close()
    assert isinstance(error, S.NotAFileError) and name in str(error) and "socket" in str(error), error


@pytest.mark.parametrize("path", ["/nonexistent/ck.safetensors", "/nonexistent/ck.npz"])
def test_missing_file_is_file_not_found(path):
    with pytest.raises(FileNotFoundError) as info:
        tn.load(path)
    assert path in str(info.value) and info.value.errno == errno.ENOENT


def test_file_below_a_file_is_not_a_directory_error(tmp_path):
    (tmp_path / "plain").write_bytes(b"x")
    with pytest.raises(NotADirectoryError) as info:
        tn.load(tmp_path / "plain" / "ck.safetensors")
    assert str(tmp_path / "plain" / "ck.safetensors") in str(info.value)


# --- 2. sizes are checked against the file size before allocating -----------------------

@pytest.mark.parametrize("shape", [
    [2**20, 2**20, 2**20],           # 4 PiB of float32
    [36 * 2**40 // 4],               # 36 TiB
    [2**40, 2**40, 2**40],           # overflows int64
    [2**62, 2**62],
    [2**63 - 1, 2**63 - 1, 2**63 - 1, 2**63 - 1],
])
@pytest.mark.parametrize("offsets", [[0, 4], [0, 2**62], [0, 2**64 - 1]])
def test_tiny_file_claiming_a_huge_tensor(tmp_path, no_alloc, shape, offsets):
    path = _st_file(tmp_path, {"huge": _entry("F32", shape, offsets)}, b"\0" * 4)
    path.write_bytes(path.read_bytes().ljust(200, b"\0"))
    _refused(path, "'huge'")
    assert not no_alloc


@pytest.mark.parametrize("shape", [[0, 2**62, 2**62], [2**63, 0], [0] * 65])
def test_empty_tensor_with_absurd_shape(tmp_path, no_alloc, shape):
    _refused(_st_file(tmp_path, {"e": _entry("F32", shape, [0, 0])}), "'e'")
    assert not no_alloc


@pytest.mark.parametrize("claimed", [lambda size: size - 7, lambda size: size, lambda size: 2**40,
                                     lambda size: 2**63, lambda size: 2**64 - 1])
def test_header_length_beyond_the_file(tmp_path, no_alloc, claimed):
    path = tmp_path / "h.safetensors"
    body = json.dumps({"w": _entry()}).encode() + b"\0" * 4
    path.write_bytes(struct.pack("<Q", claimed(len(body) + 8)) + body)
    _refused(path, "header size")
    assert not no_alloc


# --- 3. the safetensors header ----------------------------------------------------------------

@pytest.mark.parametrize("raw, key", [
    (b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
     b'"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "'w'"),
    (b'{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', "'dtype'"),
    (b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}',
     "'__metadata__'"),
    (b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"format":"x","format":"y"}}', "'format'"),
])
def test_duplicate_header_keys(tmp_path, raw, key):
    _refused(_st_file(tmp_path, raw, b"\0" * 4), "repeats", key)


@pytest.mark.parametrize("where", ["shape", "entry", "top", "metadata"])
@pytest.mark.parametrize("depth", [65, 1000, 100_000])
def test_deep_json_in_header(tmp_path, where, depth):
    deep = "[" * depth + "]" * depth
    text = {
        "shape": '{"w":{"dtype":"F32","shape":%s,"data_offsets":[0,4]}}' % deep,
        "entry": '{"w":%s}' % deep,
        "top": deep,
        "metadata": '{"__metadata__":{"a":%s}}' % deep,
    }[where]
    _refused(_st_file(tmp_path, text.encode(), b"\0" * 4), "deeper")


def test_brackets_inside_strings_are_not_nesting(tmp_path):
    name = 'a"[[\\' + "[" * 300 + "{" * 300
    state = {name: tn.ones(2), "note": "[" * 5000 + '\\"' + "{" * 5000, "k": ['\\\\"[[['] * 3}
    for suffix in (".safetensors", ".npz"):
        tn.save(state, tmp_path / f"s{suffix}")
        back = tn.load(tmp_path / f"s{suffix}")
        assert back["note"] == state["note"] and back["k"] == state["k"]
        np.testing.assert_array_equal(back[name].numpy(), [1, 1])


@pytest.mark.parametrize("digits", [21, 400, 4301, 50_000])
@pytest.mark.parametrize("field", ["shape", "data_offsets"])
def test_huge_integer_literal_in_header(tmp_path, digits, field):
    huge = "9" * digits
    entry = {"shape": "[1]", "data_offsets": "[0,4]"}
    entry[field] = f"[{huge}]" if field == "shape" else f"[0,{huge}]"
    raw = '{"w":{"dtype":"F32","shape":%s,"data_offsets":%s}}' % (entry["shape"], entry["data_offsets"])
    _refused(_st_file(tmp_path, raw.encode(), b"\0" * 4), "'w'", field if field == "data_offsets" else "shape")


@pytest.mark.parametrize("entry, words", [
    (_entry(shape=[-1]), ["shape"]),
    (_entry(shape=[True]), ["shape"]),
    (_entry(shape=[1.0]), ["shape"]),
    (_entry(shape=["1"]), ["shape"]),
    (_entry(shape=None), ["shape"]),
    (_entry(shape=[[1]]), ["shape"]),
    (_entry(shape=1), ["shape"]),
    (_entry(offsets=[-4, 0]), ["data_offsets"]),
    (_entry(offsets=[4, 0]), ["data_offsets"]),
    (_entry(offsets=[0.0, 4.0]), ["data_offsets"]),
    (_entry(offsets=[False, 4]), ["data_offsets"]),
    (_entry(offsets=[0]), ["data_offsets"]),
    (_entry(offsets=[0, 4, 8]), ["data_offsets"]),
    (_entry(offsets="0,4"), ["data_offsets"]),
    (_entry(dtype="F99"), ["dtype"]),
    (_entry(dtype="BF16"), ["dtype"]),
    (_entry(dtype="f32"), ["dtype"]),
    (_entry(dtype=["F32"]), ["dtype"]),
    (_entry(dtype={"F32": 1}), ["dtype"]),
    (_entry(dtype=None), ["dtype"]),
    ([1, 2], ["entry"]),
    ("F32", ["entry"]),
    (None, ["entry"]),
    (5, ["entry"]),
    ({"dtype": "F32", "shape": [1]}, ["entry"]),
    (dict(_entry(), extra=1), ["entry"]),
])
def test_bad_header_entry_values(tmp_path, no_alloc, entry, words):
    _refused(_st_file(tmp_path, {"w": entry}, b"\0" * 4), "'w'", *words)
    assert not no_alloc


@pytest.mark.parametrize("entries, data_len, words", [
    ({"a": _entry(offsets=[0, 4]), "b": _entry(offsets=[0, 4])}, 8, ["gap or overlap"]),
    ({"a": _entry(offsets=[0, 4]), "b": _entry(offsets=[8, 12])}, 12, ["'b'", "gap or overlap"]),
    ({"a": _entry(offsets=[4, 8])}, 8, ["'a'", "gap or overlap"]),
    ({"a": _entry(shape=[2], offsets=[0, 8]), "b": _entry(offsets=[4, 8])}, 12, ["gap or overlap"]),
    ({"a": _entry(offsets=[0, 4])}, 8, ["data section"]),
    ({"a": _entry(offsets=[0, 8])}, 8, ["'a'", "needs"]),
    ({"a": _entry(offsets=[0, 4])}, 2, ["'a'", "needs"]),
])
def test_offsets_overlap_gap_or_mismatch(tmp_path, no_alloc, entries, data_len, words):
    _refused(_st_file(tmp_path, entries, b"\0" * data_len), *words)
    assert not no_alloc


@pytest.mark.parametrize("header, words", [
    (b"[]", ["JSON object"]),
    (b"5", ["JSON object"]),
    (b"null", ["JSON object"]),
    (b'"x"', ["JSON object"]),
    (b"{\xff}", ["UTF-8"]),
    (b'{"w":', ["JSON"]),
    (b'{"w": NaN}', ["'w'"]),
    (json.dumps({"__metadata__": [1]}).encode(), ["__metadata__"]),
    (json.dumps({"__metadata__": {"a": 1}}).encode(), ["__metadata__", "'a'"]),
    (json.dumps({"__metadata__": {"a": None}}).encode(), ["__metadata__", "'a'"]),
    (json.dumps({"__metadata__": {"a": {"b": "c"}}}).encode(), ["__metadata__", "'a'"]),
    (json.dumps({"__metadata__": {"format": "tinynet", "tinynet_version": "9", "tinynet": "{}"}}).encode(),
     ["format", "upgrade"]),
])
def test_malformed_header(tmp_path, header, words):
    _refused(_st_file(tmp_path, header), *words)


def test_pickle_named_safetensors_is_called_a_pickle(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    _refused(path, "pickle")


# --- 3b. the tinynet structure inside __metadata__ ------------------------------------------

@pytest.mark.parametrize("tree, words", [
    ('{"a":1,"a":2}', ["repeats", "'a'"]),
    ('{"w":{"__tensor__":"w","__tensor__":"w"}}', ["repeats", "'__tensor__'"]),
    ('{"x":' + "[" * 100_000 + "]" * 100_000 + "}", ["deeper"]),
    ('{"x":' + '{"a":' * 5000 + "1" + "}" * 5000 + "}", ["deeper"]),
    ('{"epoch":' + "9" * 5000 + ',"w":{"__tensor__":"w"}}', ["['epoch']", "5000 digits"]),
    ('{"epoch":-' + "1" * 1001 + ',"w":{"__tensor__":"w"}}', ["['epoch']", "1001 digits"]),
    ('{"__dict__":[[' + "7" * 4400 + ',{"__tensor__":"w"}]]}', ["4400 digits"]),
    ('{"w":{"__tensor__":"w"},"t":{"__tuple__":5}}', ["['t']", "__tuple__"]),
    ('{"w":{"__tensor__":"w"},"t":{"__tuple__":[],"x":1}}', ["['t']", "__tuple__"]),
    ('{"w":{"__tensor__":"w"},"d":{"__dict__":{"a":1}}}', ["['d']", "__dict__"]),
    ('{"w":{"__tensor__":"w"},"d":{"__dict__":[[1]]}}', ["['d']", "pair"]),
    ('{"w":{"__tensor__":"w"},"d":{"__dict__":[[1,2],[1,3]]}}', ["['d']", "repeats"]),
    ('{"w":{"__tensor__":"w"},"m":{"__pickle__":"x"}}', ["['m']", "'__pickle__'"]),
    ('{"w":{"__tensor__":"w","dtype":"F32"}}', ["['w']", "'dtype'"]),
    ('{"w":{"__tensor__":"zzz"}}', ["'zzz'", "lacks"]),
    ('{"w":{"__tensor__":5}}', ["lacks"]),
    ('{"w":{"__tensor__":"w"},"v":{"__tensor__":"w"}}', ["'w'", "twice"]),
    ('{"v":1}', ["'w'", "never"]),
    ('{"w":{"__tensor__":"w","ndarray":false}}', ["ndarray"]),
    ('{"w":{"__tensor__":"w","ndarray":true,"device":"cpu"}}', ["'device'"]),
    ("[" * 70 + "]" * 70, ["64"]),
])
def test_malformed_structure(tmp_path, no_alloc, tree, words):
    _refused(_tree_file(tmp_path, tree), *words)
    assert not no_alloc


@pytest.mark.parametrize("key", ["true", "false", "1.5", "1e3", "[1]", "null", '{"a":1}'])
def test_dict_pair_keys_must_be_str_or_int(tmp_path, key):
    tree = '{"__dict__":[[%s,{"__tensor__":"w"}]]}' % key
    _refused(_tree_file(tmp_path, tree), "__dict__ key", "strings or ints")


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8, np.uint64, np.bool_])
def test_requires_grad_on_a_non_float_tensor(tmp_path, dtype):
    tree = {"w": {"__tensor__": "w", "device": "cpu", "requires_grad": True}}
    _refused(_tree_file(tmp_path, tree, {"w": np.zeros(2, dtype)}), "'w'", "requires_grad", "floating")


@pytest.mark.parametrize("flag", ["yes", 1, 0, None, [True], "true"])
def test_requires_grad_must_be_a_bool(tmp_path, flag):
    tree = {"w": {"__tensor__": "w", "device": "cpu", "requires_grad": flag}}
    _refused(_tree_file(tmp_path, tree), "'w'", "requires_grad")


@pytest.mark.parametrize("device", ["tpu", "CUDA ", "", 5, None, ["cpu"], {"a": 1}, "cpu;rm"])
def test_unknown_device(tmp_path, device):
    tree = {"w": {"__tensor__": "w", "device": device}}
    _refused(_tree_file(tmp_path, tree), "'w'", "device")


def test_cuda_tensors_without_a_gpu_name_the_file_and_map_location(tmp_path, monkeypatch):
    from tinynet.serialization import tree as serialization_tree

    real = serialization_tree.get_device

    def no_cuda(spec=None):
        if spec == "cuda":
            raise RuntimeError("device 'cuda' is not available (no GPU).")
        return real(spec)

    monkeypatch.setattr(serialization_tree, "get_device", no_cuda)
    path = _tree_file(tmp_path, {"w": {"__tensor__": "w", "device": "cuda"}})
    with pytest.raises(RuntimeError) as info:
        tn.load(path)
    assert str(path) in str(info.value) and "map_location='cpu'" in str(info.value)
    assert tn.load(path, map_location="cpu")["w"].device == "cpu"


def test_float_tensor_may_require_grad(tmp_path):
    tree = {"w": {"__tensor__": "w", "device": "cpu", "requires_grad": True}}
    back = tn.load(_tree_file(tmp_path, tree, {"w": np.ones(3, np.float16)}))["w"]
    assert back.requires_grad and back.dtype == tn.float16


# --- 4. .npz members --------------------------------------------------------------------------

_FORBIDDEN = {
    "complex128": np.array([1 + 2j]),
    "complex64": np.array([1j], np.complex64),
    "object": np.array([{"a": 1}, None], dtype=object),
    "<U3": np.array(["abc"]),
    "0-d <U": np.array("abc"),
    "|S2": np.array([b"ab"]),
    "datetime64[D]": np.array(["2020-01-01"], dtype="M8[D]"),
    "timedelta64[s]": np.array([5], dtype="m8[s]"),
    "structured": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
    "structured-subarray": np.zeros(2, dtype=[("a", "<f4", (3,))]),
    "float128": np.zeros(2, np.longdouble),
    "void": np.zeros(2, dtype="V4"),
}


@pytest.mark.parametrize("label", sorted(_FORBIDDEN))
@pytest.mark.parametrize("with_tree", [False, True])
def test_npz_member_dtypes_save_never_writes(tmp_path, no_alloc, label, with_tree):
    arr = _FORBIDDEN[label]
    if arr.dtype == np.longdouble and arr.dtype.itemsize == 8:
        pytest.skip("long double is float64 here")
    members = [("ok.npy", np.ones(2, np.float32)), ("x.npy", arr)]
    if with_tree:
        tree = {"ok": {"__tensor__": "ok", "device": "cpu"}, "x": {"__tensor__": "x", "ndarray": True}}
        members.append(("__tinynet__.npy", np.array(json.dumps(tree))))
    err = _refused(_npz_file(tmp_path, members), "member 'x'", "never hold")
    assert str(arr.dtype) in str(err)
    assert not no_alloc


@pytest.mark.parametrize("members, words", [
    ([("x.npy", pickle.dumps({"a": 1}))], ["member 'x'", ".npy"]),
    ([("x.pkl", pickle.dumps({"a": 1}))], ["member 'x.pkl'", ".npy"]),
    ([("x", np.ones(2))], ["member 'x'", ".npy"]),
    ([("data.pkl", b"\x80\x04K\x01.")], ["'data.pkl'"]),
    ([("dir/", b"")], ["'dir/'"]),
    ([("x.npy", b"\x93NUMPY\x03\x00" + b"\0" * 20)], ["member 'x'", "3.0"]),
    ([("x.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'}")], ["member 'x'", "header"]),
    ([("x.npy", b"\x93NUMPY")], ["member 'x'"]),
    ([("__tinynet__.npy", np.array([1, 2]))], ["__tinynet__"]),
    ([("__tinynet__.npy", np.array(["{}", "{}"]))], ["__tinynet__"]),
    ([("__tinynet__.npy", np.array('{"a":' + "[" * 100_000 + "]" * 100_000 + "}"))], ["deeper"]),
    ([("__tinynet__.npy", np.array('{"a":1,"a":1}'))], ["repeats", "'a'"]),
    ([("__tinynet__.npy", np.array('{"a":' + "1" * 5000 + "}"))], ["['a']", "digits"]),
    ([("a.npy", np.ones(2)), ("a.npy", np.ones(3))], ["'a.npy'", "twice"]),
])
def test_npz_bad_members(tmp_path, no_alloc, members, words):
    _refused(_npz_file(tmp_path, members), *words)
    assert not no_alloc


def _npy_member(shape, descr="<f4", data=b""):
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


@pytest.mark.parametrize("shape", [(2**20, 2**20, 2**20), (2**40, 2**40, 2**40), (3,), (0, 2**62, 2**62), (-1,)])
def test_npz_member_shape_vs_its_size(tmp_path, no_alloc, shape):
    path = _npz_file(tmp_path, [("w.npy", _npy_member(shape, data=b"\0" * 8))])
    _refused(path, "member 'w'")
    assert not no_alloc


def _patch_zip(path, fn):
    """Edit the bytes of the zip at ``path`` with ``fn(bytearray)``."""
    raw = bytearray(path.read_bytes())
    fn(raw)
    path.write_bytes(bytes(raw))


def _central(raw, index=0):
    """Offset of the ``index``-th central directory record."""
    pos = -1
    for _ in range(index + 1):
        pos = raw.index(b"PK\x01\x02", pos + 1)
    return pos


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("claimed", [2**31 - 1, 2**32 - 1])
def test_npz_zip_bomb_sizes(tmp_path, no_alloc, compression, claimed):
    path = _npz_file(tmp_path, [("w.npy", np.zeros(64, np.float32))], compression=compression)

    def claim(raw):
        struct.pack_into("<I", raw, _central(raw) + 24, claimed)  # uncompressed size in the central directory
        struct.pack_into("<I", raw, 22, claimed)  # and in the local header

    _patch_zip(path, claim)
    _refused(path, "member 'w.npy'", "zip bomb")
    assert not no_alloc


def test_npz_overlapping_members(tmp_path, no_alloc):
    path = _npz_file(tmp_path, [("a.npy", np.zeros(4)), ("b.npy", np.zeros(4))])
    _patch_zip(path, lambda raw: struct.pack_into("<I", raw, _central(raw, 1) + 42, 0))  # b points at a's data
    _refused(path, "overlaps")
    assert not no_alloc


def test_npz_encrypted_member(tmp_path):
    path = _npz_file(tmp_path, [("a.npy", np.zeros(4))])

    def encrypt(raw):
        raw[_central(raw) + 8] |= 1
        raw[6] |= 1

    _patch_zip(path, encrypt)
    _refused(path, "encrypted")


@pytest.mark.parametrize("content, words", [
    (pickle.dumps({"w": np.ones(2)}), ["pickle"]),
    (b"\x93NUMPY\x01\x00" + b"\0" * 100, [".npy"]),
    (b"not a zip at all", ["zip"]),
    (b"", ["zip"]),
])
def test_npz_path_holding_something_else(tmp_path, content, words):
    path = tmp_path / "ck.npz"
    path.write_bytes(content)
    _refused(path, ".npz", *words)


def test_npz_damaged_data_is_refused(tmp_path):
    path = tmp_path / "ck.npz"
    tn.save({"w": tn.arange(100, dtype=tn.float32)}, path)
    raw = bytearray(path.read_bytes())
    pos = raw.index(np.arange(100, dtype=np.float32).tobytes()[40:48])
    raw[pos] ^= 0xFF  # a flipped byte in the data: the zip's CRC no longer matches
    path.write_bytes(bytes(raw))
    _refused(path, "CRC")


@pytest.mark.parametrize("dtype", sorted({str(dt) for dt in DTYPES.values()}))
def test_npz_every_dtype_save_writes_is_accepted(tmp_path, dtype):
    arr = (np.arange(6) % 2).astype(dtype).reshape(2, 3)
    path = tmp_path / "f.npz"
    np.savez(path, a=arr, b=np.asfortranarray(arr), c=arr.astype(np.dtype(dtype).newbyteorder(">")))
    back = tn.load(path)
    for key in "abc":
        assert back[key].dtype == np.dtype(dtype) and back[key].shape == (2, 3)
        np.testing.assert_array_equal(back[key].numpy(), arr)


def test_npz_written_by_the_previous_format_loads(tmp_path):
    """Older tinynet wrote .npz files with np.savez: the tree as a 0-d unicode member."""
    tree = {"w": {"__tensor__": "w", "device": "cpu"}, "a": {"__tensor__": "a", "ndarray": True},
            "epoch": 3, "t": {"__tuple__": [1, 2.5]}}
    path = tmp_path / "old.npz"
    np.savez(path, w=np.ones(3, np.float32), a=np.arange(4), __tinynet__=np.array(json.dumps(tree)))
    back = tn.load(path)
    assert back["epoch"] == 3 and back["t"] == (1, 2.5) and isinstance(back["a"], np.ndarray)
    np.testing.assert_array_equal(back["w"].numpy(), np.ones(3))


def test_npz_written_by_save_reads_with_numpy(tmp_path):
    path = tmp_path / "n.npz"
    tn.save({"w": tn.ones(2, 3), "file": tn.zeros(1), "allow_pickle": tn.ones(1)}, path)  # savez's own arg names
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == ["__tinynet__", "allow_pickle", "file", "w"]
        np.testing.assert_array_equal(z["w"], np.ones((2, 3)))
        assert z["__tinynet__"].dtype.kind == "U" and z["__tinynet__"].shape == ()
    back = tn.load(path)
    assert sorted(back) == ["allow_pickle", "file", "w"]


# --- 5. structures: depth, cycles, key types, paths ------------------------------------------

def _nest(kind, depth, leaf):
    obj = leaf
    for i in range(depth):
        obj = {"list": lambda o: [o], "tuple": lambda o: (o,), "dict": lambda o: {"k": o},
               "intdict": lambda o: {i: o}}[kind](obj)
    return obj


@pytest.mark.parametrize("kind", ["list", "tuple", "dict", "intdict"])
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_nesting_limit_is_the_same_for_save_and_load(tmp_path, kind, suffix):
    deepest = _nest(kind, S.MAX_NESTING, tn.ones(1))
    path = tmp_path / f"d{suffix}"
    tn.save(deepest, path)
    back = tn.load(path)
    for i in reversed(range(S.MAX_NESTING)):
        back = back[{"list": 0, "tuple": 0, "dict": "k", "intdict": i}[kind]]
    np.testing.assert_array_equal(back.numpy(), [1.0])
    with pytest.raises(ValueError, match=f"more than {S.MAX_NESTING} deep"):
        tn.save(_nest(kind, S.MAX_NESTING + 1, 1), tmp_path / f"e{suffix}")
    assert not (tmp_path / f"e{suffix}").exists()


def test_very_deep_structure_is_refused_not_recursion_error(tmp_path):
    obj = []
    for _ in range(100_000):
        obj = [obj]
    with pytest.raises(ValueError, match="deep"):
        tn.save(obj, tmp_path / "x.safetensors")


def _cycles():
    a = {}
    a["self"] = a
    b = []
    b.append(b)
    c, d = {}, {"x": [1]}
    c["d"] = d
    d["x"].append(c)
    e = [1]
    t = ({"e": e},)
    e.append(t)
    f = {}
    f[1] = {"g": [f]}
    return {"dict": (a, "obj['self']"), "list": (b, "obj[0]"), "indirect": (c, "obj['d']['x'][1]"),
            "tuple": (t, "obj[0]['e'][1]"), "intkey": (f, "obj[1]['g'][0]")}


@pytest.mark.parametrize("name", sorted(_cycles()))
def test_cycle_is_refused_by_path(tmp_path, name):
    obj, path = _cycles()[name]
    with pytest.raises(ValueError) as info:
        tn.save(obj, tmp_path / "c.safetensors")
    assert "cycle" in str(info.value) and path in str(info.value)
    assert not os.listdir(tmp_path)


def test_shared_but_acyclic_values_are_fine(tmp_path):
    shared = [1, 2]
    tn.save({"a": shared, "b": shared, "c": (shared, shared)}, tmp_path / "s.safetensors")
    assert tn.load(tmp_path / "s.safetensors") == {"a": [1, 2], "b": [1, 2], "c": ([1, 2], [1, 2])}


def test_int_digit_limit_is_the_same_for_save_and_load(tmp_path):
    biggest = 10 ** S.MAX_INT_DIGITS - 1
    tn.save({"n": biggest, "m": -biggest, biggest: 1}, tmp_path / "ok.safetensors")
    assert tn.load(tmp_path / "ok.safetensors") == {"n": biggest, "m": -biggest, biggest: 1}
    for bad in ({"n": biggest + 1}, {"n": [-(biggest + 1)]}, {biggest + 1: 1}):
        with pytest.raises(ValueError, match="digits"):
            tn.save(bad, tmp_path / "bad.safetensors")


class _BytesPath:
    def __init__(self, path):
        self.path = os.fsencode(path)

    def __fspath__(self):
        return self.path


@pytest.mark.parametrize("kind", ["str", "Path", "bytes", "PathLike-bytes"])
@pytest.mark.parametrize("suffix", [".safetensors", ".npz", ".NPZ"])
def test_path_types_for_save_and_load(tmp_path, kind, suffix):
    raw = str(tmp_path / f"ck{suffix}")
    path = {"str": raw, "Path": pathlib.Path(raw), "bytes": os.fsencode(raw), "PathLike-bytes": _BytesPath(raw)}[kind]
    tn.save({"w": tn.ones(2), "e": 1}, path)
    is_zip = pathlib.Path(raw).read_bytes()[:4] == b"PK\x03\x04"
    assert is_zip == (suffix.lower() == ".npz")
    back = tn.load(path)
    assert back["e"] == 1 and back["w"].shape == (2,)


@pytest.mark.parametrize("path", [3, None, 1.5, ["a"]])
def test_path_of_wrong_type(path):
    with pytest.raises(TypeError, match="path"):
        tn.save({}, path)
    with pytest.raises(TypeError, match="path"):
        tn.load(path)


@pytest.mark.parametrize("path", ["", b"", "a\0b.safetensors"])
def test_empty_or_nul_path(path):
    with pytest.raises(ValueError, match="path"):
        tn.save({}, path)
    with pytest.raises(ValueError, match="path"):
        tn.load(path)


# --- 6. atomic writes ---------------------------------------------------------------------------

@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("exists", [False, True])
def test_new_file_mode_follows_the_umask(tmp_path, mask, mode, suffix, exists):
    path = tmp_path / f"m{suffix}"
    if exists:
        tn.save({"w": tn.ones(1)}, path)
        os.chmod(path, 0o640)
    old = os.umask(mask)
    try:
        tn.save({"w": tn.ones(2)}, path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_save_through_a_symlink_replaces_its_target(tmp_path, suffix):
    real_dir, link_dir = tmp_path / "real", tmp_path / "links"
    real_dir.mkdir()
    link_dir.mkdir()
    target = real_dir / f"ck{suffix}"
    tn.save({"w": tn.ones(2)}, target)
    link = link_dir / f"latest{suffix}"
    link.symlink_to(target)
    tn.save({"w": tn.zeros(3)}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(tn.load(target)["w"].numpy(), np.zeros(3))
    assert sorted(os.listdir(real_dir)) == [f"ck{suffix}"] and os.listdir(link_dir) == [f"latest{suffix}"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_save_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.safetensors"
    link.symlink_to(tmp_path / "sub" / "new.safetensors")
    tn.save({"w": tn.ones(1)}, link)
    assert link.is_symlink() and (tmp_path / "sub" / "new.safetensors").is_file()


def _fail_write(monkeypatch, where, exc):
    """Make one step of the write fail with ``exc``."""
    if where == "write":
        real = os.fdopen

        class Failing:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                raise exc

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __enter__(self):
                return self

            def __exit__(self, *info):
                self.f.close()

        monkeypatch.setattr(os, "fdopen", lambda *a, **k: Failing(real(*a, **k)))
    else:
        def fail(*args, **kwargs):
            raise exc

        monkeypatch.setattr(*{"fsync": (os, "fsync"), "replace": (os, "replace"),
                              "mkstemp": (tempfile, "mkstemp"), "fchmod": (os, "fchmod")}[where], fail)


@pytest.mark.parametrize("where", ["write", "fsync", "replace", "mkstemp"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG, errno.EACCES, errno.EIO])
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch, where, code, suffix):
    path = tmp_path / f"ck{suffix}"
    tn.save({"w": tn.ones(4)}, path)
    before = path.read_bytes()
    raised = OSError(code, os.strerror(code))
    _fail_write(monkeypatch, where, raised)
    with pytest.raises(OSError) as info:
        tn.save({"w": tn.zeros(4)}, path)
    monkeypatch.undo()
    assert type(info.value) is type(raised) and info.value.errno == code
    assert str(path) in str(info.value)
    assert path.read_bytes() == before and not _tmp_files(tmp_path)


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="needs fchmod")
def test_file_system_refusing_chmod_still_gets_the_checkpoint(tmp_path, monkeypatch):
    _fail_write(monkeypatch, "fchmod", OSError(errno.EPERM, "Operation not permitted"))
    tn.save({"w": tn.ones(2)}, tmp_path / "ck.safetensors")
    monkeypatch.undo()
    np.testing.assert_array_equal(tn.load(tmp_path / "ck.safetensors")["w"].numpy(), [1, 1])
    assert not _tmp_files(tmp_path)


def test_bare_errno_oserror_keeps_its_code(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    _fail_write(monkeypatch, "write", OSError(errno.ENOSPC))
    with pytest.raises(OSError) as info:
        tn.save({"w": tn.ones(1)}, path)
    assert info.value.errno == errno.ENOSPC and "No space" in str(info.value)
    assert not path.exists() and not _tmp_files(tmp_path)


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_interrupted_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch, where):
    path = tmp_path / "ck.safetensors"
    tn.save({"w": tn.ones(4)}, path)
    before = path.read_bytes()
    _fail_write(monkeypatch, where, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        tn.save({"w": tn.zeros(4)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and not _tmp_files(tmp_path)


def _save_into_read_only_folder(folder):
    """The error ``tn.save`` raises for a file in ``folder`` (mode 0o555), as text."""
    try:
        tn.save({"w": tn.ones(1)}, folder / "ck.safetensors")
    except PermissionError as exc:
        return f"PermissionError: {exc}"
    except Exception as exc:  # reported to the assertion below
        return f"{type(exc).__name__}: {exc}"
    return "saved"


def test_unwritable_folder_is_a_permission_error():
    base = pathlib.Path(tempfile.mkdtemp())  # outside pytest's 0o700 tree: 'nobody' must reach it
    os.chmod(base, 0o755)
    folder = base / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    if os.geteuid() != 0:
        outcome = _save_into_read_only_folder(folder)
    else:  # root ignores permissions: try it in a child process that runs as 'nobody'
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                os.setgid(65534)
                os.setuid(65534)
                os.write(write, _save_into_read_only_folder(folder).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as f:
            outcome = f.read()
        os.waitpid(pid, 0)
    os.chmod(folder, 0o755)
    shutil.rmtree(base)
    assert outcome.startswith("PermissionError:") and str(folder / "ck.safetensors") in outcome, outcome


@pytest.mark.parametrize("make", ["dir", "trailing-sep", "dir-symlink"])
def test_save_onto_a_directory(tmp_path, make):
    (tmp_path / "d").mkdir()
    path = {"dir": tmp_path / "d", "trailing-sep": str(tmp_path / "new") + os.sep,
            "dir-symlink": tmp_path / "ln"}[make]
    if make == "dir-symlink":
        (tmp_path / "ln").symlink_to(tmp_path / "d")
    with pytest.raises(IsADirectoryError) as info:
        tn.save({"w": tn.ones(1)}, path)
    assert str(path) in str(info.value)
    assert not _tmp_files(tmp_path, tmp_path / "d")


@pytest.mark.parametrize("below", [("x.safetensors",), ("sub", "x.safetensors"), ("a", "b", "x.npz")])
def test_save_below_a_file(tmp_path, below):
    (tmp_path / "plain").write_bytes(b"data")
    path = tmp_path.joinpath("plain", *below)
    with pytest.raises(NotADirectoryError) as info:
        tn.save({"w": tn.ones(1)}, path)
    msg = str(info.value)
    assert str(path) in msg and str(tmp_path / "plain") in msg and "not a directory" in msg
    assert (tmp_path / "plain").read_bytes() == b"data"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_save_onto_a_fifo_is_refused(tmp_path):
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    with pytest.raises(S.NotAFileError, match="FIFO"):
        tn.save({"w": tn.ones(1)}, path)
    assert stat.S_ISFIFO(os.stat(path).st_mode) and not _tmp_files(tmp_path)


def test_save_creates_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "c.safetensors"
    tn.save({"w": tn.ones(1)}, path)
    assert tn.load(path)["w"].shape == (1,)


def test_save_fsyncs_the_file_and_its_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    tn.save({"w": tn.ones(1)}, tmp_path / "ck.safetensors")
    if os.name == "posix":
        assert synced == [False, True]


# --- 7. nothing is returned or allocated before validation ends ---------------------------------

def test_late_problem_allocates_nothing(tmp_path, no_alloc):
    good = tmp_path / "good.safetensors"
    tn.save({"a": tn.ones(1000), "b": tn.tensor([1, 2, 3])}, good)
    raw = good.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["tinynet"] = header["__metadata__"]["tinynet"].replace(
        '"__tensor__":"b","device":"cpu"', '"__tensor__":"b","device":"cpu","requires_grad":true')
    h = json.dumps(header).encode()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", len(h)) + h + raw[8 + n:])
    _refused(bad, "'b'", "requires_grad")
    path = _npz_file(tmp_path, [("a.npy", np.ones(1000)), ("b.npy", np.array([1j]))])
    _refused(path, "member 'b'")
    assert not no_alloc


# --- 8. what worked keeps working ---------------------------------------------------------------

def test_foreign_safetensors_of_every_dtype_loads(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    arrays = {code: (np.arange(6) % 2).astype(dt).reshape(3, 2) for code, dt in DTYPES.items()}
    arrays["empty"] = np.zeros((0, 4), np.float32)
    arrays["scalar"] = np.array(3.5, np.float64)
    stn.save_file(arrays, str(tmp_path / "f.safetensors"), metadata={"note": "x"})
    back = tn.load(tmp_path / "f.safetensors")
    for key, arr in arrays.items():
        assert back[key].dtype == arr.dtype.newbyteorder("=") and back[key].shape == arr.shape
        np.testing.assert_array_equal(back[key].numpy(), arr)


def test_safetensors_package_reads_what_save_writes(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    state = {"m": {"w": tn.randn(3, 2), "ids": tn.tensor([1, 2])}, "a": np.ones((2, 2), np.uint8), "e": 1}
    tn.save(state, tmp_path / "s.safetensors")
    loaded = stn.load_file(str(tmp_path / "s.safetensors"))
    assert sorted(loaded) == ["a", "m.ids", "m.w"]
    np.testing.assert_array_equal(loaded["m.w"], state["m"]["w"].numpy())
