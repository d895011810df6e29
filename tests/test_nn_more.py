"""nn layers and modules: PyTorch's batch_first=False defaults, the Transformer family, sdpa's
options, normalisation layers, Bilinear, EmbeddingBag, parameter containers, module hooks
and the gradient utilities: behaviour, every error path, and both devices."""
import copy

import numpy as np
import pytest

import tinynet as tn
import tinynet.functional as F
import tinynet.nn as nn
from tinynet.backend.errors import ShapeError
from tinynet.models import BERTClassifier, GPTMini, LSTMLanguageModel


def _np(x):
    return x.detach().numpy()


# --- item 1: defaults ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: nn.RNN(3, 4), lambda: nn.LSTM(3, 4), lambda: nn.GRU(3, 4), lambda: nn.MultiheadAttention(4, 2),
    lambda: nn.TransformerEncoderLayer(4, 2, 8), lambda: nn.TransformerDecoderLayer(4, 2, 8),
    lambda: nn.Transformer(4, 2, 1, 1, 8), lambda: nn.TransformerDecoderBlock(4, 2)])
def test_sequence_layers_default_to_sequence_first(make):
    m = make()
    layers = [x for x in m.modules() if hasattr(x, "batch_first")]
    assert layers and all(x.batch_first is False for x in layers)


def test_tinynet_models_pass_batch_first_explicitly():
    for model in (GPTMini(11, context=8, d_model=8, n_heads=2, n_layers=1), LSTMLanguageModel(11, 4, 6),
                  BERTClassifier(11, 2, max_len=8, d_model=8, n_heads=2, n_layers=1)):
        layers = [x for x in model.modules() if hasattr(x, "batch_first")]
        assert layers and all(x.batch_first is True for x in layers), type(model).__name__
    gpt = GPTMini(11, context=8, d_model=8, n_heads=2, n_layers=1)
    assert gpt(tn.tensor(np.array([[1, 2, 3, 4]]))).shape == (1, 4, 11)


def test_sequence_first_lstm_matches_batch_first_transposed():
    tn.manual_seed(0)
    a = nn.LSTM(3, 4)
    b = nn.LSTM(3, 4, batch_first=True)
    b.load_state_dict(a.state_dict())
    x = tn.randn(5, 2, 3)
    np.testing.assert_allclose(_np(a(x)[0]), _np(b(x.swapaxes(0, 1))[0].swapaxes(0, 1)), atol=1e-6)


def test_lstm_proj_size_errors():
    with pytest.raises(ValueError, match="only supported by LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="smaller than hidden_size=4"):
        nn.LSTM(3, 4, proj_size=4)
    m = nn.LSTM(3, 4, proj_size=2)
    assert m.weight_hr_l0.shape == (2, 4) and m.weight_hh_l0.shape == (16, 2) and "proj_size=2" in repr(m)
    with pytest.raises(ShapeError, match=r"h0 must have shape \(1, 2, 2\) .*proj_size"):
        m(tn.randn(5, 2, 3), (tn.randn(1, 2, 4), tn.randn(1, 2, 4)))


# --- item 2: scaled_dot_product_attention ---------------------------------------------------------------
def test_sdpa_gqa_equals_repeated_heads(device):
    q, k, v = tn.randn(2, 4, 3, 5, device=device), tn.randn(2, 2, 6, 5, device=device), tn.randn(2, 2, 6, 5, device=device)
    got = F.scaled_dot_product_attention(q, k, v, enable_gqa=True, scale=0.3)
    kr = tn.tensor(np.repeat(k.numpy(), 2, axis=1), device=device)
    vr = tn.tensor(np.repeat(v.numpy(), 2, axis=1), device=device)
    want = F.scaled_dot_product_attention(q, kr, vr, scale=0.3)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


def test_sdpa_errors():
    q, k = tn.randn(1, 4, 3, 5), tn.randn(1, 3, 6, 5)
    with pytest.raises(ShapeError, match=r"enable_gqa=True.*query has 4 heads.*key 3"):
        F.scaled_dot_product_attention(q, k, k, enable_gqa=True)
    with pytest.raises(RuntimeError, match="pass enable_gqa=True"):
        F.scaled_dot_product_attention(q, tn.randn(1, 2, 6, 5), tn.randn(1, 2, 6, 5))
    with pytest.raises(ValueError, match="needs a head axis"):
        F.scaled_dot_product_attention(tn.randn(3, 5), tn.randn(6, 5), tn.randn(6, 5), enable_gqa=True)
    with pytest.raises(ShapeError, match=r"enable_gqa=True.*same number of heads"):
        F.scaled_dot_product_attention(q, tn.randn(1, 2, 6, 5), tn.randn(1, 4, 6, 5), enable_gqa=True)
    m = tn.randn(4, 4, requires_grad=True)
    with pytest.raises(ShapeError, match=r"attn_mask of shape \(4, 2\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=m[:, :2])


def test_sdpa_float_mask_gets_gradient(device):
    q = tn.randn(2, 3, 4, device=device)
    m = tn.zeros(3, 3, requires_grad=True, device=device)
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=m)
    out.sum().backward()
    assert m.grad is not None and m.grad.shape == (3, 3)
    assert np.abs(m.grad.numpy()).sum() > 0
    # the same mask that needs no grad gives the same output
    same = F.scaled_dot_product_attention(q, q, q, attn_mask=m.detach())
    np.testing.assert_allclose(out.detach().numpy(), same.numpy(), atol=1e-6)
    # need_weights returns the probabilities, differentiable in the mask too
    m.grad = None
    _, w = F.scaled_dot_product_attention(q, q, q, attn_mask=m, need_weights=True)
    w[..., 0].sum().backward()
    assert np.abs(m.grad.numpy()).sum() > 0


# --- item 3: the Transformer family ---------------------------------------------------------------------
def test_multihead_attention_parameters_as_pytorch():
    m = nn.MultiheadAttention(8, 2, add_bias_kv=True, kdim=6, vdim=5)
    assert sorted(m.state_dict()) == ["bias_k", "bias_v", "in_proj_bias", "k_proj_weight", "out_proj.bias",
                                      "out_proj.weight", "q_proj_weight", "v_proj_weight"]
    assert m.in_proj_weight is None and m.k_proj_weight.shape == (8, 6) and m.bias_k.shape == (1, 1, 8)
    plain = nn.MultiheadAttention(8, 2, bias=False)
    assert sorted(plain.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    assert "kdim=6" in repr(m) and "add_bias_kv=True" in repr(m)


def test_multihead_attention_kdim_vdim_errors_and_shapes():
    m = nn.MultiheadAttention(8, 2, kdim=6, vdim=5, add_zero_attn=True)
    q, k, v = tn.randn(3, 2, 8), tn.randn(4, 2, 6), tn.randn(4, 2, 5)
    out, w = m(q, k, v)
    assert out.shape == (3, 2, 8) and w.shape == (2, 3, 5)          # S + 1: the zero key
    with pytest.raises(ValueError, match=r"key must be a 3-D tensor .*kdim=6, got \(4, 2, 8\)"):
        m(q, tn.randn(4, 2, 8), v)
    with pytest.raises(ValueError, match=r"value must be .*vdim=5"):
        m(q, k, tn.randn(4, 2, 6))
    with pytest.raises(ShapeError, match="share the batch size"):
        m(q, tn.randn(4, 3, 6), tn.randn(4, 3, 5))
    with pytest.raises(ValueError, match="query must be a 2-D"):
        m(tn.randn(8), k, v)


def test_multihead_attention_causal_and_hint(device):
    m = nn.MultiheadAttention(4, 2).to(device)
    x = tn.randn(5, 1, 4, device=device)
    causal = nn.Transformer.generate_square_subsequent_mask(5, device=device)
    a, wa = m(x, x, x, is_causal=True)                     # no mask: tinynet builds the causal one
    b, wb = m(x, x, x, attn_mask=causal, is_causal=True)   # with a mask: is_causal is a hint
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-6)
    assert np.all(np.triu(wa.detach().numpy()[0], 1) == 0)
    out, w = m(x, x, x, need_weights=False)
    assert w is None and out.shape == (5, 1, 4)


def test_multihead_attention_weights_are_after_dropout_in_training():
    tn.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = tn.randn(6, 1, 4)
    out, w = m(x, x, x, average_attn_weights=False)
    wa = w.detach().numpy()
    assert (wa == 0).any()                                   # dropped probabilities, as PyTorch returns them
    assert np.unique(np.round(wa.sum(-1), 6)).size > 1      # rows no longer sum to 1
    m.eval()
    _, w = m(x, x, x)
    np.testing.assert_allclose(w.detach().numpy().sum(-1), 1.0, atol=1e-6)


def test_transformer_masks_and_errors():
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    np.testing.assert_array_equal(mask.numpy(), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=tn.float64).dtype == tn.float64
    t = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0)
    with pytest.raises(ShapeError, match="same batch size"):
        t(tn.randn(5, 2, 8), tn.randn(4, 3, 8))
    with pytest.raises(ShapeError, match="must equal d_model=8"):
        t(tn.randn(5, 2, 8), tn.randn(4, 2, 6))
    with pytest.raises(TypeError, match="encoder_layer must be a Module"):
        nn.TransformerEncoder("layer", 2)
    with pytest.raises(TypeError, match="decoder_layer must be a Module"):
        nn.TransformerDecoder(None, 2)
    with pytest.raises(ValueError, match="activation"):
        nn.TransformerDecoderLayer(8, 2, activation="swishy")
    assert t(tn.randn(5, 2, 8), tn.randn(4, 2, 8), tgt_mask=nn.Transformer.generate_square_subsequent_mask(4)).shape == (4, 2, 8)


def test_stacks_detect_a_causal_mask():
    from tinynet.nn.transformer import _is_causal
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    assert _is_causal(None, causal, 4) is True
    assert _is_causal(None, tn.tensor(np.triu(np.ones((4, 4), dtype=bool), 1)), 4) is True
    assert _is_causal(None, tn.zeros(4, 4), 4) is False
    assert _is_causal(None, causal, 5) is False and _is_causal(None, None, 4) is False
    assert _is_causal(False, causal, 4) is False
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0), 2)
    x = tn.randn(4, 2, 4)
    np.testing.assert_allclose(_np(enc(x, mask=causal)), _np(enc(x, is_causal=True)), atol=1e-6)


def test_mha_fast_and_general_paths_agree():
    tn.manual_seed(3)
    m = nn.MultiheadAttention(4, 2).to(tn.float64)
    x = tn.randn(3, 2, 4, dtype=tn.float64)
    mask = tn.randn(3, 3, dtype=tn.float64)
    fast, wf = m(x, x, x, attn_mask=mask)                       # packed self-attention
    general, wg = m(x, x, x, attn_mask=mask.requires_grad_())   # a mask needing grad: general path
    np.testing.assert_allclose(_np(fast), _np(general), atol=1e-12)
    np.testing.assert_allclose(_np(wf), _np(wg), atol=1e-12)
    general.sum().backward()
    assert mask.grad is not None and mask.grad.shape == (3, 3)


def test_transformer_custom_parts_and_nested_tensor_flag():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1, enable_nested_tensor=False, mask_check=False)
    assert enc.enable_nested_tensor is False
    t = nn.Transformer(8, 2, custom_encoder=enc, num_decoder_layers=1, dim_feedforward=16)
    assert t.encoder is enc and len(t.decoder.layers) == 1


def test_decoder_layer_does_not_look_ahead_with_causal_mask():
    tn.manual_seed(1)
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    mem = tn.randn(1, 3, 8)
    x = tn.randn(1, 5, 8)
    y1 = _np(layer(x, mem, tgt_is_causal=True))
    x2 = x.numpy().copy()
    x2[0, 3:] += 4.0
    y2 = _np(layer(tn.tensor(x2), mem, tgt_is_causal=True))
    np.testing.assert_allclose(y1[0, :3], y2[0, :3], atol=1e-5)


def test_transformer_runs_on_both_devices(device):
    t = nn.Transformer(4, 2, 1, 1, 8, dropout=0.0, batch_first=True).to(device)
    out = t(tn.randn(2, 3, 4, device=device), tn.randn(2, 2, 4, device=device))
    out.sum().backward()
    assert t.encoder.layers[0].self_attn.in_proj_weight.grad is not None


# --- item 4: layers -------------------------------------------------------------------------------------------
def test_normalization_layers_errors():
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ShapeError, match=r"GroupNorm\(2, 6\).*\(N, 6, \*\)"):
        nn.GroupNorm(2, 6)(tn.randn(2, 4, 3))
    with pytest.raises(ShapeError, match="num_groups=4"):
        F.group_norm(tn.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match="num_groups must be a positive int"):
        F.group_norm(tn.randn(2, 6, 3), 0)
    with pytest.raises(TypeError, match="floating"):
        F.group_norm(tn.tensor(np.ones((2, 4, 3), dtype=np.int64)), 2)
    with pytest.raises(ShapeError, match="more than 1 spatial element"):
        F.instance_norm(tn.randn(2, 3, 1))
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        F.instance_norm(tn.randn(2, 3, 4), use_input_stats=False)
    with pytest.raises(ShapeError, match=r"InstanceNorm1d\(3\).*3 channels"):
        nn.InstanceNorm1d(3, affine=True)(tn.randn(2, 4, 5))
    with pytest.raises(ShapeError, match=r"InstanceNorm2d.*4-D"):
        nn.InstanceNorm2d(3)(tn.randn(2, 3))
    with pytest.raises(ValueError, match="size must be a positive int"):
        F.local_response_norm(tn.randn(2, 3, 4), 0)
    with pytest.raises(ShapeError, match="at least 3 axes"):
        nn.LocalResponseNorm(2)(tn.randn(2, 3))
    with pytest.raises(ShapeError, match=r"BatchNorm3d\(3\).*5-D"):
        nn.BatchNorm3d(3)(tn.randn(2, 3, 4, 4))


def test_instance_norm_running_stats_and_eval(device):
    m = nn.InstanceNorm1d(3, track_running_stats=True).to(device)
    x = tn.randn(4, 3, 6, device=device)
    y = m(x)
    xa = x.numpy()
    np.testing.assert_allclose(_np(y).mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(m.running_mean.numpy(), 0.1 * xa.mean(-1).mean(0), atol=1e-6)
    np.testing.assert_allclose(m.running_var.numpy(), 0.9 + 0.1 * xa.var(-1, ddof=1).mean(0), atol=1e-5)
    m.eval()
    want = (xa - m.running_mean.numpy()[:, None]) / np.sqrt(m.running_var.numpy()[:, None] + 1e-5)
    np.testing.assert_allclose(_np(m(x)), want, atol=1e-5)
    assert sorted(m.state_dict()) == ["num_batches_tracked", "running_mean", "running_var"]
    assert list(nn.InstanceNorm2d(3).state_dict()) == []


def test_group_norm_is_batch_independent(device):
    m = nn.GroupNorm(2, 4).to(device)
    x = tn.randn(3, 4, 5, device=device)
    np.testing.assert_allclose(_np(m(x))[1:2], _np(m(x[1:2])), atol=1e-6)


def test_bilinear_errors_and_init():
    m = nn.Bilinear(3, 4, 5)
    assert m.weight.shape == (5, 3, 4) and m.bias.shape == (5,)
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / np.sqrt(3)
    assert nn.Bilinear(3, 4, 5, bias=False).bias is None
    with pytest.raises(ShapeError, match="in1_features=3 and in2_features=4"):
        m(tn.randn(2, 4), tn.randn(2, 4))
    with pytest.raises(ShapeError, match="same leading"):
        m(tn.randn(2, 3), tn.randn(3, 4))
    with pytest.raises(TypeError, match="input2 is"):
        F.bilinear(tn.randn(2, 3), tn.randn(2, 4, dtype=tn.float64), m.weight)
    with pytest.raises(ShapeError, match="weight must be 3-D"):
        F.bilinear(tn.randn(2, 3), tn.randn(2, 4), tn.randn(3, 4))
    with pytest.raises(ShapeError, match=r"bias must have shape \(5,\)"):
        F.bilinear(tn.randn(2, 3), tn.randn(2, 4), m.weight, tn.randn(4))


def test_embedding_bag_behaviour_and_errors(device):
    w = tn.randn(6, 3, device=device)
    ids = tn.tensor(np.array([1, 2, 3, 4]), device=device)
    out = F.embedding_bag(ids, w, tn.tensor(np.array([0, 0, 2]), device=device), mode="max")
    np.testing.assert_allclose(out.numpy()[0], 0)  # noqa: E501                       # an empty bag gives zeros
    np.testing.assert_allclose(out.numpy()[2], w.numpy()[[3, 4]].max(0), atol=1e-7)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.embedding_bag(ids, w, tn.tensor(np.array([0])), mode="median")
    with pytest.raises(ValueError, match="only supported for mode='sum'"):
        F.embedding_bag(ids, w, tn.tensor(np.array([0])), per_sample_weights=tn.ones(4))
    with pytest.raises(ShapeError, match="per_sample_weights must be a Tensor of the input's shape"):
        F.embedding_bag(ids, w, tn.tensor(np.array([0])), mode="sum", per_sample_weights=tn.ones(3))
    with pytest.raises(ValueError, match="offsets must be None when input is 2-D"):
        F.embedding_bag(tn.tensor(np.array([[1, 2]])), w, tn.tensor(np.array([0])))
    with pytest.raises(ValueError, match="needs offsets"):
        F.embedding_bag(tn.tensor(np.array([1, 2])), w)
    with pytest.raises(ValueError, match=r"offsets\[0\] must be 0"):
        F.embedding_bag(tn.tensor(np.array([1, 2])), w, tn.tensor(np.array([1])))
    with pytest.raises(ValueError, match="non-decreasing"):
        F.embedding_bag(tn.tensor(np.array([1, 2])), w, tn.tensor(np.array([0, 2, 1])))
    with pytest.raises(ValueError, match="must equal len"):
        F.embedding_bag(tn.tensor(np.array([1, 2])), w, tn.tensor(np.array([0, 1])), include_last_offset=True)
    with pytest.raises(TypeError, match="1-D integer"):
        F.embedding_bag(tn.tensor(np.array([1, 2])), w, tn.tensor(np.array([0.0])))
    with pytest.raises(ValueError, match="sparse=True"):
        F.embedding_bag(tn.tensor(np.array([1, 2])), w, tn.tensor(np.array([0])), sparse=True)
    with pytest.raises(ValueError, match="scale_grad_by_freq is not supported with mode='max'"):
        F.embedding_bag(tn.tensor(np.array([1, 2])), w, tn.tensor(np.array([0])), mode="max", scale_grad_by_freq=True)
    with pytest.raises(IndexError, match="out of range"):
        F.embedding_bag(tn.tensor(np.array([1, 9])), w, tn.tensor(np.array([0])))
    with pytest.raises(ShapeError, match="1-D .* or 2-D"):
        F.embedding_bag(tn.tensor(np.zeros((1, 1, 1), dtype=np.int64)), w)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.EmbeddingBag(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="mode must be"):
        nn.EmbeddingBag(4, 2, mode="prod")
    bag = nn.EmbeddingBag(5, 2, padding_idx=0, mode="sum")
    assert np.all(bag.weight.detach().numpy()[0] == 0) and "mode='sum'" in repr(bag)


def test_embedding_options_and_errors():
    w = tn.randn(5, 2)
    with pytest.raises(ValueError, match="sparse=True"):
        nn.Embedding(5, 2, sparse=True)
    with pytest.raises(ValueError, match="sparse=True"):
        F.embedding(tn.tensor(np.array([1])), w, sparse=True)
    with pytest.raises(ValueError, match="_weight must be a Tensor of shape"):
        nn.Embedding(5, 3, _weight=w)
    with pytest.raises(ValueError, match="2-D Tensor"):
        nn.Embedding.from_pretrained(tn.randn(5))
    e = nn.Embedding.from_pretrained(w, freeze=False, max_norm=1.0)
    assert e.weight.requires_grad and "max_norm=1.0" in repr(e)
    out = e(tn.tensor(np.array([0, 1, 2, 3, 4])))
    assert np.all(np.linalg.norm(out.detach().numpy(), axis=1) <= 1.0 + 1e-6)
    bag = nn.EmbeddingBag.from_pretrained(w, mode="sum")
    assert not bag.weight.requires_grad and bag(tn.tensor(np.array([[0, 1]]))).shape == (1, 2)
    ids = tn.tensor(np.array([1, 1, 3]))
    table = tn.randn(5, 2, requires_grad=True)
    F.embedding(ids, table, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(table.grad.numpy()[[1, 3]], 1.0, atol=1e-6)   # 2 x (1/2) and 1 x 1


def test_parameter_list_and_dict():
    pl = nn.ParameterList([tn.zeros(2), nn.Parameter(tn.ones(3))])
    assert isinstance(pl[0], nn.Parameter) and len(pl) == 2 and pl[-1].shape == (3,)
    pl.append(tn.ones(1))
    pl[0] = tn.full((2,), 5.0)
    assert [tuple(p.shape) for p in pl] == [(2,), (3,), (1,)] and pl[0].detach().numpy()[0] == 5
    assert len(pl[1:]) == 2 and len(list(pl.parameters())) == 3
    with pytest.raises(TypeError, match="expected a Parameter or Tensor"):
        pl.append(3.0)
    with pytest.raises(IndexError):
        pl[5]
    with pytest.raises(TypeError, match="single Tensor"):
        pl.extend(tn.ones(2))
    pd = nn.ParameterDict({"w": tn.ones(2, 2)})
    pd["b"] = tn.zeros(2)
    pd.update([("c", nn.Parameter(tn.ones(1)))])
    assert list(pd) == ["w", "b", "c"] and "b" in pd and isinstance(pd["b"], nn.Parameter)
    assert pd.get("zz") is None and pd.pop("c").shape == (1,) and len(pd) == 2
    with pytest.raises(KeyError, match="no parameter 'zz'"):
        pd["zz"]
    with pytest.raises(TypeError, match="expected a Parameter or Tensor"):
        pd["x"] = "no"
    del pd["w"]
    assert list(pd.keys()) == ["b"] and list(pd.copy().keys()) == ["b"]

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pl = nn.ParameterList([tn.zeros(2)])
            self.pd = nn.ParameterDict({"a": tn.zeros(3)})
    m = M()
    assert list(m.state_dict()) == ["pl.0", "pd.a"]
    m.load_state_dict({"pl.0": tn.ones(2), "pd.a": tn.ones(3)})
    assert m.pl[0].detach().numpy().sum() == 2 and m.pd["a"].detach().numpy().sum() == 3
    assert len(list(m.parameters())) == 2


def test_identity_unflatten_moduledict():
    ident = nn.Identity(3, foo="bar")
    x = tn.randn(2, 6)
    assert ident(x) is x
    assert nn.Unflatten(1, (2, 3))(x).shape == (2, 2, 3)
    d = nn.ModuleDict({"a": nn.Linear(2, 2)})
    assert list(d.state_dict()) == ["a.weight", "a.bias"]


# --- item 5: hooks ----------------------------------------------------------------------------------------------
def test_forward_hooks_order_replacement_and_removal():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre1"))
    m.register_forward_pre_hook(lambda mod, args: calls.append("pre0"), prepend=True)
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h4 = m.register_forward_hook(lambda mod, args, out: out + 1)
    m.register_forward_hook(lambda mod, args, kwargs, out: calls.append(("kw", kwargs)), with_kwargs=True)
    out = m(tn.randn(3, 2))
    assert calls == ["pre0", "pre1", ("kw", {})]
    np.testing.assert_allclose(out.detach().numpy(), m.bias.detach().numpy() + 1 + np.zeros((3, 2)), atol=1e-6)
    h1.remove()
    h4.remove()
    h4.remove()                                      # removing twice is harmless
    calls.clear()
    out = m(tn.ones(1, 2))
    assert calls == ["pre0", ("kw", {})]
    assert list(m.state_dict()) == ["weight", "bias"]  # hooks are not state


def test_forward_hook_prepend_and_kwargs_replacement():
    m = nn.Identity()
    order = []
    m.register_forward_hook(lambda mod, args, out: order.append("a"))
    m.register_forward_hook(lambda mod, args, out: order.append("b"), prepend=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: out * 2, with_kwargs=True)
    assert m(tn.ones(2)).numpy().tolist() == [2.0, 2.0] and order == ["b", "a"]
    pre = nn.Identity()
    pre.register_forward_pre_hook(lambda mod, args: tn.zeros(2))  # a single value replaces args
    assert pre(tn.ones(2)).numpy().tolist() == [0.0, 0.0]


def test_forward_pre_hook_with_kwargs_and_bad_return():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor
    m = Scale()
    with m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True):
        assert m(tn.ones(2)).numpy().tolist() == [3.0, 3.0]
    assert m(tn.ones(2)).numpy().tolist() == [1.0, 1.0]   # removed by the with block
    m.register_forward_pre_hook(lambda mod, args, kwargs: "bad", with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"tuple \(new_args, new_kwargs\)"):
        m(tn.ones(2))


def test_always_call_forward_hook_runs_on_error():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")
    m = Boom()
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append("always"), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(tn.ones(1))
    assert seen == ["always"]
    with pytest.raises(TypeError, match="callable"):
        m.register_forward_hook(3)


def test_full_backward_hooks(device):
    m = nn.Linear(3, 2).to(device)
    log = []
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", go[0].shape)))
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("full", gi[0].shape, go[0].shape)))
    x = tn.randn(4, 3, requires_grad=True, device=device)
    m(x).sum().backward()
    assert log == [("pre", (4, 2)), ("full", (4, 3), (4, 2))]
    # replacement grad_output (pre-hook) scales every gradient below it
    log.clear()
    m.zero_grad()
    x.grad = None
    with m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,)):
        m(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.tile(m.weight.detach().numpy().sum(0), (4, 1)), atol=1e-5)
    # no hook fires without a graph
    log.clear()
    with tn.no_grad():
        m(x)
    assert log == []


def test_backward_hook_without_input_grad_and_bad_returns():
    m = nn.Linear(3, 2)
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(gi))
    m(tn.randn(2, 3)).sum().backward()
    assert seen == [(None,)]
    m2 = nn.Linear(3, 2)
    m2.register_full_backward_hook(lambda mod, gi, go: (tn.ones(2, 3),))
    with pytest.raises(RuntimeError, match="no input of the module requires grad"):
        m2(tn.randn(2, 3)).sum().backward()
    m3 = nn.Tanh()
    m3.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="must return None or a tuple of 1 input"):
        m3(tn.randn(2, requires_grad=True)).sum().backward()
    m4 = nn.Tanh()
    m4.register_full_backward_pre_hook(lambda mod, go: go[0])
    with pytest.raises(RuntimeError, match="tuple of 1 output"):
        m4(tn.randn(2, requires_grad=True)).sum().backward()
    m5 = nn.Tanh()
    m5.register_full_backward_pre_hook(lambda mod, go: ("not a tensor",))
    with pytest.raises(TypeError, match="gradient Tensors or None"):
        m5(tn.randn(2, requires_grad=True)).sum().backward()


def test_backward_hooks_on_multi_output_module():
    lstm = nn.LSTM(3, 4)
    seen = {}
    lstm.register_full_backward_pre_hook(lambda mod, go: seen.update(pre=[None if g is None else g.shape for g in go]))
    lstm.register_full_backward_hook(lambda mod, gi, go: seen.update(full=[None if g is None else g.shape for g in gi]))
    x = tn.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = lstm(x)
    (out.sum() + h.sum()).backward()
    # as PyTorch: top-level entries only (the (h, c) tuple is not a tensor, so None)
    assert seen["pre"] == [(5, 2, 4), None]
    assert seen["full"] == [(5, 2, 3)]
    assert x.grad.shape == (5, 2, 3)

    class Two(nn.Module):
        def forward(self, x):
            return x * 2, x * 3, 5

    m = Two()
    got = {}
    m.register_full_backward_pre_hook(lambda mod, go: got.update(pre=go))
    m.register_full_backward_hook(lambda mod, gi, go: got.update(gi=gi, go=go))
    x = tn.ones(2, requires_grad=True)
    a, b, five = m(x)
    assert five == 5
    a.sum().backward()                                 # b unused: None in grad_output, as PyTorch
    assert got["pre"][1] is None and got["pre"][2] is None and got["go"][1] is None
    np.testing.assert_allclose(got["pre"][0].numpy(), 1)
    np.testing.assert_allclose(got["gi"][0].numpy(), 2)
    np.testing.assert_allclose(x.grad.numpy(), 2)


def test_hooks_survive_deepcopy_and_zero_grad_default():
    m = nn.Linear(2, 2)
    hits = []
    m.register_forward_hook(lambda mod, args, out: hits.append(1))
    m2 = copy.deepcopy(m)
    m2(tn.ones(1, 2))
    assert hits == [1]
    m2(tn.ones(1, 2)).sum().backward()
    m2.zero_grad()
    assert m2.weight.grad is None                        # set_to_none=True by default, as PyTorch
    m2(tn.ones(1, 2)).sum().backward()
    m2.zero_grad(set_to_none=False)
    assert m2.weight.grad is not None and not m2.weight.grad.numpy().any()


def test_gradient_utility_errors():
    p = nn.Parameter(tn.ones(2))
    p.grad = tn.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="foreach=True"):
        nn.utils.clip_grad_value_([p], 1.0, foreach=True)
    v = nn.utils.parameters_to_vector([p, nn.Parameter(tn.ones(3))])
    assert v.shape == (5,) and v.requires_grad
    with pytest.raises(ValueError, match="has 4 elements"):
        nn.utils.vector_to_parameters(tn.ones(4), [p, nn.Parameter(tn.ones(3))])
