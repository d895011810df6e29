"""tinynet.onnx.export: every model and layer, run back in onnxruntime.

Each export is checked with ``onnx.checker.check_model(full_check=True)`` and run in
onnxruntime at the export batch size and at another one (the batch axis is dynamic), and
the outputs must equal tinynet's (float32, atol 1e-5). Error paths: unsupported op, values
computed from raw arrays, bad arguments; the model's mode is restored in every case.
"""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tinynet as tn  # noqa: E402
import tinynet.nn as nn  # noqa: E402
import tinynet.nn.functional as F  # noqa: E402
import tinynet.onnx  # noqa: E402
from tinynet.autograd import tracing  # noqa: E402
from tinynet.models import build_model  # noqa: E402
from tinynet.onnx import OnnxExporterError, UnsupportedOperatorError  # noqa: E402

ATOL = 1e-5


def _export(model, args, **kw):
    """Export to bytes (file object), full-check the model, return (bytes, ModelProto)."""
    buf = io.BytesIO()
    proto = tinynet.onnx.export(model, args, buf, **kw)
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    return data, proto


def _run(data, feeds):
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _reference(model, args):
    model.eval()
    with tn.no_grad():
        out = model(*args)
    outs = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in outs]


def roundtrip(model, make_inputs, batches=(2, 5), n_outputs=1):
    """Export at batches[0] with every input's and output's axis 0 dynamic; compare every batch."""
    args = make_inputs(batches[0])
    in_names = [f"in{i}" for i in range(len(args))]
    out_names = [f"out{i}" for i in range(n_outputs)]
    dyn = {n: {0: "batch"} for n in in_names + out_names}
    data, proto = _export(model, args, input_names=in_names, output_names=out_names, dynamic_axes=dyn)
    for b in batches:
        xs = make_inputs(b)
        got = _run(data, {n: x.numpy() for n, x in zip(in_names, xs)})
        want = _reference(model, xs)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=0, atol=ATOL)
    return proto


def _floats(*shape, seed=0):
    return tn.tensor(np.random.default_rng(seed + shape[0]).standard_normal(shape).astype(np.float32))


def _ids(n, t, vocab, seed=0, low=0):
    return tn.tensor(np.random.default_rng(seed + n).integers(low, vocab, (n, t)).astype(np.int64))


def _op_types(proto):
    return {node.op_type for node in proto.graph.node}


def _initializers(proto):
    return {t.name for t in proto.graph.initializer}


def _randomize_batch_norm(model, seed=0):
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.array[...] = rng.standard_normal(c)
            m.running_var.array[...] = rng.uniform(0.5, 2.0, c)
            m.weight.array[...] = rng.uniform(0.5, 1.5, c)
            m.bias.array[...] = rng.standard_normal(c)


# --- every model of tinynet.models -----------------------------------------------------------
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "silu", "elu"])
def test_mlp(activation):
    tn.manual_seed(0)
    model = build_model("mlp", in_features=12, out_features=3, hidden=(8, 6), activation=activation, dropout=0.2)
    proto = roundtrip(model, lambda n: (_floats(n, 12),))
    assert {"net.0.weight", "net.0.bias"} <= _initializers(proto)


def test_mlp_flattens_images_with_a_dynamic_batch():
    tn.manual_seed(0)
    model = build_model("mlp", in_features=16, out_features=3, hidden=(8,))
    proto = roundtrip(model, lambda n: (_floats(n, 1, 4, 4),))
    assert "Reshape" in _op_types(proto)


def test_cnn_lenet():
    tn.manual_seed(0)
    model = build_model("cnn", in_channels=1, num_classes=3, input_size=8, channels=(2, 3), hidden=5, dropout=0.3)
    proto = roundtrip(model, lambda n: (_floats(n, 1, 8, 8),))
    assert {"Conv", "MaxPool"} <= _op_types(proto)
    assert "features.0.weight" in _initializers(proto)


def test_resnet_small_uses_batch_normalization_with_running_stats():
    tn.manual_seed(0)
    model = build_model("resnet", in_channels=1, num_classes=3, widths=(2, 4))
    _randomize_batch_norm(model)
    proto = roundtrip(model, lambda n: (_floats(n, 1, 8, 8),))
    assert "BatchNormalization" in _op_types(proto)
    assert {"stem.1.running_mean", "stem.1.running_var", "stem.1.weight"} <= _initializers(proto)


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_gpt_mini(activation):
    tn.manual_seed(0)
    model = build_model("gpt", vocab_size=11, context=8, d_model=8, n_heads=2, n_layers=2, activation=activation)
    proto = roundtrip(model, lambda n: (_ids(n, 5, 11),))
    assert "tok_emb.weight" in _initializers(proto)


def _bert_ids(n, t=6, vocab=11):
    """<cls>-first ids with a different amount of padding (id 0) per row."""
    ids = np.random.default_rng(n).integers(1, vocab, (n, t))
    for i in range(n):
        ids[i, t - (i % 3):] = 0
    return tn.tensor(ids.astype(np.int64))


@pytest.mark.parametrize("norm_first", [False, True])
def test_bert_classifier_with_padding_mask(norm_first):
    tn.manual_seed(0)
    model = build_model("bert", vocab_size=11, num_classes=3, max_len=8, d_model=8, n_heads=2, n_layers=2,
                        norm_first=norm_first)
    proto = roundtrip(model, lambda n: (_bert_ids(n),))
    assert {"Equal", "Where", "LayerNormalization"} <= _op_types(proto)
    assert "encoder.layers.0.self_attn.in_proj_weight" in _initializers(proto)


def test_bert_padding_comes_from_the_input_not_the_example():
    """The padding mask is computed in the graph: padding a row differently changes the output."""
    tn.manual_seed(0)
    model = build_model("bert", vocab_size=11, num_classes=3, max_len=8, d_model=8, n_heads=2, n_layers=1)
    data, _ = _export(model, _bert_ids(3), input_names=["ids"], dynamic_axes={"ids": [0]})
    ids = _bert_ids(3).numpy()
    ids[0, 2:] = 0  # more padding than in the example
    got = _run(data, {"ids": ids})[0]
    np.testing.assert_allclose(got, _reference(model, (tn.tensor(ids),))[0], rtol=0, atol=ATOL)


def test_bert_with_segments_and_attention_mask_inputs():
    tn.manual_seed(0)
    model = build_model("bert", vocab_size=11, num_classes=3, max_len=8, d_model=8, n_heads=2, n_layers=1,
                        type_vocab_size=2)

    def make(n):
        ids = _bert_ids(n)
        segments = tn.tensor((np.arange(6)[None, :] >= 3).repeat(n, 0).astype(np.int64))
        attention = tn.tensor((ids.numpy() != 0).astype(np.int64))
        return ids, segments, attention
    proto = roundtrip(model, make)
    assert "seg_emb.weight" in _initializers(proto)


def test_bert_pretraining_two_outputs_with_tied_weights():
    tn.manual_seed(0)
    model = build_model("bert-pretraining", vocab_size=11, max_len=8, d_model=8, n_heads=2, n_layers=1)
    proto = roundtrip(model, lambda n: (_bert_ids(n),), n_outputs=2)
    assert sum(t.name == "tok_emb.weight" for t in proto.graph.initializer) == 1


@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_language_model(num_layers):
    tn.manual_seed(0)
    model = build_model("lstm", vocab_size=11, embed_dim=4, hidden_size=6, num_layers=num_layers)
    proto = roundtrip(model, lambda n: (_ids(n, 5, 11),))
    assert "LSTM" in _op_types(proto)
    assert "lstm.weight_ih_l0" in _initializers(proto)


def test_lstm_language_model_returning_its_state():
    tn.manual_seed(0)
    base = build_model("lstm", vocab_size=11, embed_dim=4, hidden_size=6, num_layers=2)

    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.lm = base

        def forward(self, idx):
            return self.lm(idx, return_state=True)  # logits, (h_n, c_n)

    model = WithState()
    args = (_ids(2, 5, 11),)
    data, proto = _export(model, args, output_names=["logits", "h_n", "c_n"], input_names=["ids"])
    got = _run(data, {"ids": args[0].numpy()})
    model.eval()
    with tn.no_grad():
        logits, (h, c) = model(*args)
    for g, w in zip(got, (logits, h, c)):
        np.testing.assert_allclose(g, w.numpy(), rtol=0, atol=ATOL)


# --- layers and ops (the mapping table) ------------------------------------------------------
class Lambda(nn.Module):
    """Wraps a function of tensors (the parameters live in ``layers``)."""

    def __init__(self, fn, **layers):
        super().__init__()
        self.fn = fn
        for k, v in layers.items():
            setattr(self, k, v)

    def forward(self, *xs):
        return self.fn(self, *xs)


LAYER_CASES = {
    "linear_3d": (lambda: nn.Linear(4, 3), lambda n: (_floats(n, 5, 4),)),
    "linear_no_bias": (lambda: nn.Linear(4, 3, bias=False), lambda n: (_floats(n, 4),)),
    "conv2d_stride_dilation_groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2),
                                      lambda n: (_floats(n, 4, 9, 9),)),
    "maxpool_ceil": (lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), lambda n: (_floats(n, 2, 8, 8),)),
    "avgpool": (lambda: nn.AvgPool2d(2, stride=2, padding=1, count_include_pad=False),
                lambda n: (_floats(n, 2, 7, 7),)),
    "avgpool_divisor_override": (lambda: nn.AvgPool2d(3, stride=2, padding=1, divisor_override=4),
                                 lambda n: (_floats(n, 2, 7, 7),)),
    "adaptive_avgpool_1": (lambda: nn.AdaptiveAvgPool2d(1), lambda n: (_floats(n, 3, 5, 5),)),
    "adaptive_avgpool_uneven": (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda n: (_floats(n, 3, 5, 7),)),
    "flatten": (lambda: nn.Flatten(), lambda n: (_floats(n, 2, 3, 4),)),
    "batchnorm1d_2d_input": (lambda: nn.BatchNorm1d(5), lambda n: (_floats(n, 5),)),
    "batchnorm1d_3d_input": (lambda: nn.BatchNorm1d(3), lambda n: (_floats(n, 3, 4),)),
    "batchnorm2d": (lambda: nn.BatchNorm2d(3), lambda n: (_floats(n, 3, 4, 4),)),
    "layernorm": (lambda: nn.LayerNorm((3, 4)), lambda n: (_floats(n, 3, 4),)),
    "embedding": (lambda: nn.Embedding(10, 4, padding_idx=0), lambda n: (_ids(n, 3, 10),)),
    "softmax": (lambda: nn.Softmax(dim=-1), lambda n: (_floats(n, 3, 4),)),
    "log_softmax": (lambda: Lambda(lambda m, x: F.log_softmax(x, dim=1)), lambda n: (_floats(n, 3, 4),)),
    "activations": (lambda: Lambda(lambda m, x: F.relu(x) + F.gelu(x) + F.tanh(x) + F.sigmoid(x)
                                   + F.leaky_relu(x, 0.2) + F.elu(x) + F.silu(x)),
                    lambda n: (_floats(n, 6),)),
    "encoder_layer_post_norm": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True),
                                lambda n: (_floats(n, 5, 8),)),
    "encoder_layer_pre_norm_seq_first": (lambda: nn.TransformerEncoderLayer(8, 2, 16, norm_first=True,
                                                                            activation="gelu"),
                                         lambda n: (_floats(5, n, 8),)),
    "gru_bidirectional": (lambda: Lambda(lambda m, x: m.rnn(x)[0],
                                         rnn=nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)),
                          lambda n: (_floats(n, 5, 3),)),
    "rnn_relu": (lambda: Lambda(lambda m, x: m.rnn(x)[0] + m.rnn(x)[1][-1].unsqueeze(1),
                                rnn=nn.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True)),
                 lambda n: (_floats(n, 5, 3),)),
    "rnn_tanh": (lambda: Lambda(lambda m, x: m.rnn(x)[0], rnn=nn.RNN(3, 4, batch_first=True)),
                 lambda n: (_floats(n, 5, 3),)),
    "lstm_bidirectional": (lambda: Lambda(lambda m, x: m.rnn(x)[0],
                                          rnn=nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)),
                           lambda n: (_floats(n, 5, 3),)),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer(case):
    tn.manual_seed(1)
    build, make = LAYER_CASES[case]
    model = build()
    _randomize_batch_norm(model, seed=3)
    if case == "encoder_layer_pre_norm_seq_first":  # sequence-first: the batch is axis 1
        args = make(2)
        data, _ = _export(model, args, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {1: "batch"}, "y": {1: "batch"}})
        for b in (2, 4):
            x = make(b)[0]
            np.testing.assert_allclose(_run(data, {"x": x.numpy()})[0], _reference(model, (x,))[0],
                                       rtol=0, atol=ATOL)
        return
    roundtrip(model, make)


def _mha(need_mask_input):
    attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def fwd(m, x, pad=None):
        return m.attn(x, x, x, key_padding_mask=pad, need_weights=False)[0]
    return Lambda(fwd, attn=attn)


def test_multihead_attention_key_padding_mask_as_graph_input():
    tn.manual_seed(0)
    model = _mha(True)

    def make(n):
        pad = np.zeros((n, 5), dtype=bool)
        pad[:, 3:] = True
        pad[0, 1:] = True
        return _floats(n, 5, 8), tn.tensor(pad)
    roundtrip(model, make)


def test_multihead_attention_causal_and_float_attn_mask():
    tn.manual_seed(0)
    attn = nn.MultiheadAttention(8, 2, batch_first=True)
    bias = np.random.default_rng(0).standard_normal((5, 5)).astype(np.float32)

    def fwd(m, x):
        causal = m.attn(x, x, x, need_weights=False, is_causal=True)[0]
        biased = m.attn(x, x, x, attn_mask=tn.tensor(bias), need_weights=False)[0]
        return causal + biased
    roundtrip(Lambda(fwd, attn=attn), lambda n: (_floats(n, 5, 8),))


def test_multihead_attention_weights_are_not_exported():
    tn.manual_seed(0)
    attn = nn.MultiheadAttention(8, 2, batch_first=True)
    roundtrip(Lambda(lambda m, x: m.attn(x, x, x)[0], attn=attn), lambda n: (_floats(n, 5, 8),))  # need_weights=True
    with pytest.raises(OnnxExporterError, match="need_weights=False"):
        tinynet.onnx.export(Lambda(lambda m, x: m.attn(x, x, x)[1], attn=attn), _floats(2, 5, 8), io.BytesIO())


def test_scaled_dot_product_attention_causal_and_bool_mask():
    mask = tn.tensor(np.tril(np.ones((4, 4), dtype=bool)))

    def fwd(m, q, k, v):
        return (F.scaled_dot_product_attention(q, k, v, is_causal=True)
                + F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    roundtrip(Lambda(fwd), lambda n: (_floats(n, 2, 4, 3), _floats(n, 2, 4, 3, seed=1), _floats(n, 2, 4, 3, seed=2)))


def test_shape_ops_indexing_and_arithmetic():
    def fwd(m, x, y):
        a = x.reshape(x.shape[0], 3, 4).permute(0, 2, 1)          # (N, 4, 3)
        b = a.transpose(1, 2)[:, 1:, ::2] * 2.0                   # (N, 2, 2)
        c = tn.cat([b, b[:, :1] - 1.0], axis=1)                  # (N, 3, 2)
        d = (c / 3.0 + c.exp() * 0.1 - c.abs().sqrt() + (-c)).tanh() ** 2
        e = a[..., 0, None] @ y.unsqueeze(1)                     # (N, 4, 1) @ (N, 1, 5)
        f = tn.maximum(e, 0.1) + tn.minimum(e, 0.3) + e.clamp(-0.5, 0.5)
        f = f + y[:, :4, None].expand(-1, 4, 5) + x[:, :5].unsqueeze(1).expand(x.shape[0], 4, 5)
        return (d.sum(axis=(1, 2)) + f.mean(axis=1).amax(axis=1)
                + x[:, -1] + x.log_softmax(dim=1).sum(1) * 0 + y.sum(1, keepdims=True).squeeze(1))
    roundtrip(Lambda(fwd), lambda n: (_floats(n, 12), _floats(n, 5, seed=3)))


def test_comparisons_and_where():
    def fwd(m, x, ids):
        keep = (ids != 0) & (ids < 7)
        flags = (~(ids >= 5)) | (ids == 8) ^ (ids <= 1)
        return (tn.where(keep, x, x * 0.5) + tn.where(x > 0.2, x, 0.0) + (ids == 3).float()
                + tn.where(flags, x, -x) + tn.where(tn.logical_not(ids > 4), 1.0, x))
    roundtrip(Lambda(fwd), lambda n: (_floats(n, 4), _ids(n, 4, 9)))


def test_batch_sized_zeros_are_built_at_run_time():
    """A zeros state of the batch size (an LSTM's initial state) follows the batch."""
    tn.manual_seed(0)
    rnn = nn.LSTM(3, 4, batch_first=True)
    proto = roundtrip(Lambda(lambda m, x: m.rnn(x)[1][1], rnn=rnn), lambda n: (_floats(n, 2, 3),))
    assert "ConstantOfShape" in _op_types(proto)


def test_constant_folding():
    def fwd(m, x):
        return x + tn.arange(4).float() * 2.0   # a constant expression: folded by default
    x = _floats(2, 4)
    want = x.numpy() + np.arange(4, dtype=np.float32) * 2.0
    folded_data, folded = _export(Lambda(fwd), x)
    plain_data, plain = _export(Lambda(fwd), x, do_constant_folding=False)
    assert _op_types(folded) == {"Add", "Identity"}
    assert {"Cast", "Mul", "Add"} <= _op_types(plain)
    for data in (folded_data, plain_data):
        np.testing.assert_allclose(_run(data, {"input": x.numpy()})[0], want, rtol=0, atol=ATOL)


def test_export_from_another_device(device):
    """Parameters and inputs on "cuda" (a real or simulated GPU) are copied to the host."""
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)).to(device)
    x = _floats(3, 4).to(device)
    data, _ = _export(model, x, dynamic_axes={"input": [0]})
    with tn.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(_run(data, {"input": x.numpy()})[0], want, rtol=0, atol=ATOL)


# --- names, files, modes -------------------------------------------------------------------
def test_names_and_static_shapes_without_dynamic_axes(tmp_path):
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    path = tmp_path / "m.onnx"
    tinynet.onnx.export(model, _floats(2, 4), str(path), input_names=["features"], output_names=["scores"])
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["scores"]
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 4]
    x = _floats(2, 4)
    np.testing.assert_allclose(_run(path.read_bytes(), {"features": x.numpy()})[0], _reference(model, (x,))[0],
                               rtol=0, atol=ATOL)


def test_dynamic_axis_labels_and_default_names(tmp_path):
    model = nn.Linear(4, 3)
    path = tmp_path / "m.onnx"
    tinynet.onnx.export(model, (_floats(2, 4),), path, dynamic_axes={"input": {0: "batch"}, "output": [0]})
    proto = onnx.load(str(path))
    assert proto.graph.input[0].name == "input" and proto.graph.output[0].name == "output"
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "output_dynamic_axes_1"
    assert proto.opset_import[0].version == 17


def test_path_and_file_object_give_the_same_model(tmp_path):
    tn.manual_seed(0)
    model = nn.Linear(4, 3)
    path = tmp_path / "m.onnx"
    tinynet.onnx.export(model, _floats(2, 4), path)
    with open(tmp_path / "f.onnx", "wb") as fh:
        tinynet.onnx.export(model, _floats(2, 4), fh)
    assert path.read_bytes() == (tmp_path / "f.onnx").read_bytes()


@pytest.mark.parametrize("training", [True, False])
def test_mode_is_restored(training):
    model = build_model("mlp", in_features=4, out_features=2, hidden=(3,), dropout=0.5)
    model.train(training)
    _export(model, _floats(2, 4))
    assert model.training is training and all(m.training is training for m in model.modules())


def test_mixed_submodule_modes_are_restored():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.train()
    model[1].eval()  # a frozen batch norm inside a training model
    _export(model, _floats(3, 4))
    assert [m.training for m in model.modules()] == [True, True, False, True]


def test_dropout_is_identity_in_the_export():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.9))
    model.train()
    data, proto = _export(model, _floats(3, 4))
    assert "Dropout" not in _op_types(proto)
    x = _floats(3, 4)
    model.eval()
    np.testing.assert_allclose(_run(data, {"input": x.numpy()})[0], _reference(model, (x,))[0], rtol=0, atol=ATOL)


def test_opset_18_reductions():
    data, proto = _export(Lambda(lambda m, x: x.mean(axis=1) + x.amax(axis=1)), _floats(2, 3),
                          opset_version=18)
    assert proto.opset_import[0].version == 18
    x = _floats(2, 3)
    np.testing.assert_allclose(_run(data, {"input": x.numpy()})[0],
                               (x.numpy().mean(1) + x.numpy().max(1)), rtol=0, atol=ATOL)


# --- errors ------------------------------------------------------------------------------------
def test_unsupported_op_names_the_op_and_the_caller():
    model = Lambda(lambda m, x: x.cumsum(dim=1))
    model.train()
    with pytest.raises(UnsupportedOperatorError, match=r"op 'cumsum' \(called from .*test_onnx_export.py.*\) has "
                                                      r"no ONNX mapping; supported ops: .*linear"):
        tinynet.onnx.export(model, _floats(2, 3), io.BytesIO())
    assert model.training and tracing.tracer is None


def test_values_computed_from_raw_arrays_are_refused():
    """A mask computed with raw array code would be baked in: the exporter refuses it."""
    def fwd(m, x):
        mask = tn.Tensor._make(x.array > 0, x.device)   # not traced
        return tn.where(mask, x, 0.0)
    with pytest.raises(OnnxExporterError, match="raw arrays"):
        tinynet.onnx.export(Lambda(fwd), _floats(3, 4), io.BytesIO())
    assert tracing.tracer is None


def test_value_dependent_control_flow_is_refused():
    def fwd(m, x):
        return x * 2 if float(x[0].sum().item()) > 0 else x.exp()
    x = tn.tensor(np.array([[1.0, 2.0], [-5.0, -6.0]], dtype=np.float32))
    with pytest.raises(OnnxExporterError, match="ran differently"):
        tinynet.onnx.export(Lambda(fwd), x, io.BytesIO(), dynamic_axes={"input": [0]})


@pytest.mark.parametrize("kwargs, exc, pattern", [
    (dict(model="not a module"), TypeError, "nn.Module"),
    (dict(args=[1.0, 2.0]), TypeError, "args must be a Tensor"),
    (dict(args=()), TypeError, "args must be a Tensor"),
    (dict(f=123), TypeError, "file path or a binary file object"),
    (dict(opset_version=13), ValueError, "opset_version"),
    (dict(input_names=["a", "b"]), ValueError, "input_names has 2 names"),
    (dict(output_names="y"), TypeError, "output_names must be a list"),
    (dict(dynamic_axes={"nope": [0]}), ValueError, "not an input or output name"),
    (dict(dynamic_axes={"input": [5]}), ValueError, "has 2 axes"),
    (dict(dynamic_axes=[0]), TypeError, "dynamic_axes must be a dict"),
    (dict(export_params=False), ValueError, "export_params"),
])
def test_bad_arguments(kwargs, exc, pattern):
    model = nn.Linear(4, 3)
    call = dict(model=model, args=_floats(2, 4), f=io.BytesIO())
    call.update(kwargs)
    with pytest.raises(exc, match=pattern):
        tinynet.onnx.export(call.pop("model"), call.pop("args"), call.pop("f"), **call)
    assert model.training and tracing.tracer is None


def test_supported_ops_lists_the_table():
    ops = tinynet.onnx.supported_ops()
    for name in ("linear", "conv2d", "lstm_layer", "packed_self_attention", "equal", "MultiheadAttention"):
        assert name in ops


def test_tn_onnx_is_loaded_on_first_use_only():
    """`import tinynet` does not import the onnx package (about a second); `tn.onnx` does."""
    import subprocess
    import sys

    code = ("import sys, tinynet as tn; assert 'onnx' not in sys.modules and 'tinynet.onnx' not in sys.modules; "
            "f = tn.onnx.export; assert 'tinynet.onnx' in sys.modules; print(f.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tinynet.onnx.exporter"
