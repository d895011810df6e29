"""PyTorch weights in and out: every layer with a PyTorch twin keeps PyTorch's state_dict.

For each layer (and each model in ``tinynet.models`` whose architecture can be rebuilt in
torch here) the test checks, in float32 and float64:

1. torch -> tinynet: ``safetensors.torch.save_file(torch_module.state_dict())`` ->
   ``tn.load`` -> ``tinynet_module.load_state_dict(strict=True)`` -> the same outputs on the
   same input, in train and in eval mode (batch-norm statistics are updated identically in
   train mode, and the updated buffers match afterwards), and the same parameter gradients;
2. tinynet -> torch: ``tn.save(tinynet_module.state_dict())`` (a safetensors file) ->
   ``safetensors.torch.load_file`` -> ``torch_module.load_state_dict(strict=True)`` -> the same
   outputs;
3. the key sets, dtypes and shapes of both state dicts are equal.

Every floating entry of the source state dict is filled with fresh random values first
(running variances positive, ``num_batches_tracked`` a non-zero count), so a transposed or
mis-named tensor cannot pass by accident.

Also covered: weight-norm / spectral-norm / orthogonal parametrizations and pruning (their
``weight_orig``, ``weight_mask``, ``parametrizations.weight.original0`` ... entries), lazy modules
materialized by a load or a forward pass, and float16 / integer / bool tensors kept bit for bit.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
from safetensors import safe_open  # noqa: E402

import torch.nn.utils.prune  # noqa: E402
import torch.nn.utils.parametrizations  # noqa: E402

import tinynet as tn  # noqa: E402
import tinynet.nn.utils.parametrizations  # noqa: E402
import tinynet.nn.utils.prune  # noqa: E402
from tinynet import nn as tnn  # noqa: E402
from tinynet.models.bert import BERTClassifier  # noqa: E402
from tinynet.models.cnn import LeNet, ResNetSmall  # noqa: E402
from tinynet.models.gpt import GPTMini  # noqa: E402
from tinynet.models.lstm_lm import LSTMLanguageModel  # noqa: E402
from tinynet.models.mlp import MLP  # noqa: E402

T = torch.nn

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*weight_norm.* is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN:UserWarning"),
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning"),
    pytest.mark.filterwarnings("ignore:Lazy modules are a new feature:UserWarning"),
]

DTYPES = {"float32": (torch.float32, tn.float32, 1e-5), "float64": (torch.float64, tn.float64, 1e-10)}


# --- torch twins of the tinynet models ---------------------------------------------------------
class TorchLeNet(T.Module):
    def __init__(self, in_channels=1, num_classes=10, input_size=8, channels=(4, 6), hidden=12):
        super().__init__()
        c1, c2 = channels
        self.features = T.Sequential(T.Conv2d(in_channels, c1, 3, padding=1), T.ReLU(), T.MaxPool2d(2),
                                     T.Conv2d(c1, c2, 3, padding=1), T.ReLU(), T.MaxPool2d(2))
        flat = c2 * (input_size // 4) ** 2
        self.classifier = T.Sequential(T.Flatten(), T.Linear(flat, hidden), T.ReLU(), T.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class TorchBasicBlock(T.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = T.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = T.BatchNorm2d(cout)
        self.conv2 = T.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = T.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = T.Sequential(T.Conv2d(cin, cout, 1, stride=stride, bias=False), T.BatchNorm2d(cout))
        else:
            self.shortcut = T.Identity()
        self.relu = T.ReLU()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class TorchResNetSmall(T.Module):
    def __init__(self, in_channels=1, num_classes=10, widths=(4, 6)):
        super().__init__()
        self.stem = T.Sequential(T.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                 T.BatchNorm2d(widths[0]), T.ReLU())
        blocks = [TorchBasicBlock(widths[0], widths[0])]
        for a, b in zip(widths[:-1], widths[1:]):
            blocks.append(TorchBasicBlock(a, b, stride=2))
        self.layers = T.Sequential(*blocks)
        self.pool = T.AdaptiveAvgPool2d(1)
        self.fc = T.Linear(widths[-1], num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class TorchMLP(T.Module):
    def __init__(self, in_features, hidden, out_features):
        super().__init__()
        sizes = [in_features, *hidden, out_features]
        layers = []
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(T.Linear(a, b))
            if k < len(sizes) - 2:
                layers.append(T.Tanh())
        self.net = T.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class TorchLSTMLM(T.Module):
    def __init__(self, vocab_size, embed_dim, hidden_size, num_layers):
        super().__init__()
        self.embedding = T.Embedding(vocab_size, embed_dim)
        self.lstm = T.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.drop = T.Dropout(0.0)
        self.head = T.Linear(hidden_size, vocab_size)

    def forward(self, idx):
        out, _ = self.lstm(self.embedding(idx))
        return self.head(self.drop(out))


class TorchGPTBlock(T.Module):
    """Pre-norm causal self-attention block (tinynet's ``nn.TransformerDecoderBlock``)."""

    def __init__(self, d, h, ff):
        super().__init__()
        self.ln_1 = T.LayerNorm(d)
        self.attn = T.MultiheadAttention(d, h, batch_first=True)
        self.ln_2 = T.LayerNorm(d)
        self.fc = T.Linear(d, ff)
        self.proj = T.Linear(ff, d)
        self.dropout = T.Dropout(0.0)

    def forward(self, x):
        t = x.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        h = self.ln_1(x)
        a, _ = self.attn(h, h, h, attn_mask=causal, need_weights=False)
        x = x + self.dropout(a)
        return x + self.dropout(self.proj(T.functional.gelu(self.fc(self.ln_2(x)))))


class TorchGPTMini(T.Module):
    def __init__(self, vocab_size, context, d_model, n_heads, n_layers):
        super().__init__()
        self.tok_emb = T.Embedding(vocab_size, d_model)
        self.pos_emb = T.Embedding(context, d_model)
        self.drop = T.Dropout(0.0)
        self.blocks = T.ModuleList([TorchGPTBlock(d_model, n_heads, 4 * d_model) for _ in range(n_layers)])
        self.ln_f = T.LayerNorm(d_model)
        self.head = T.Linear(d_model, vocab_size, bias=False)

    def forward(self, idx):
        x = self.drop(self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1])))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


class TorchBERTClassifier(T.Module):
    def __init__(self, vocab_size, num_classes, max_len, d_model, n_heads, n_layers, norm_first, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.tok_emb = T.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.pos_emb = T.Embedding(max_len, d_model)
        self.emb_norm = T.LayerNorm(d_model)
        self.drop = T.Dropout(0.0)
        layer = T.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout=0.0, activation="gelu",
                                          norm_first=norm_first, batch_first=True)
        self.encoder = T.TransformerEncoder(layer, n_layers, norm=T.LayerNorm(d_model) if norm_first else None,
                                            enable_nested_tensor=False)
        self.pooler = T.Linear(d_model, d_model)
        self.classifier = T.Linear(d_model, num_classes)

    def forward(self, ids):
        x = self.drop(self.emb_norm(self.tok_emb(ids) + self.pos_emb(torch.arange(ids.shape[1]))))
        h = self.encoder(x, src_key_padding_mask=ids == self.pad_id)
        return self.classifier(torch.tanh(self.pooler(h[:, 0])))


def _bert_ids(rng):
    ids = rng.integers(1, 9, (3, 5))
    ids[:, 0] = 1  # <cls>
    ids[0, 3:] = 0  # padding
    ids[2, 4:] = 0
    return [("i", ids)]


# --- inputs --------------------------------------------------------------------------------
def _f(*shape):
    """An input factory: a float array of ``shape``."""
    return lambda rng: [("f", rng.standard_normal(shape))]


def _ids(high, *shape):
    return lambda rng: [("i", rng.integers(0, high, shape))]


def _mha_in(L, S, N, E, kdim, vdim):
    return lambda rng: [("f", rng.standard_normal((L, N, E))), ("f", rng.standard_normal((S, N, kdim))),
                        ("f", rng.standard_normal((S, N, vdim)))]


# (id, torch factory, tinynet factory, input factory); tinynet mirrors torch's constructor
# arguments, so most twins are the same call on both namespaces.
def _same(name, *args, **kw):
    return (lambda: getattr(T, name)(*args, **kw)), (lambda: getattr(tnn, name)(*args, **kw))


CASES = [
    ("Linear", *_same("Linear", 5, 3), _f(4, 5)),
    ("Linear_nobias", *_same("Linear", 5, 3, bias=False), _f(2, 4, 5)),
    ("Bilinear", *_same("Bilinear", 3, 4, 2), lambda rng: [("f", rng.standard_normal((5, 3))),
                                                          ("f", rng.standard_normal((5, 4)))]),
    ("Conv1d", *_same("Conv1d", 3, 4, 3, stride=2, padding=1, dilation=1), _f(2, 3, 9)),
    ("Conv1d_groups", *_same("Conv1d", 4, 6, 3, groups=2, bias=False), _f(2, 4, 7)),
    ("Conv2d", *_same("Conv2d", 2, 3, (3, 2), stride=(1, 2), padding=1), _f(2, 2, 5, 6)),
    ("Conv2d_circular", *_same("Conv2d", 2, 3, 3, padding=1, padding_mode="circular"), _f(1, 2, 4, 4)),
    ("Conv2d_groups_dil", *_same("Conv2d", 4, 4, 3, groups=2, dilation=2, padding=2), _f(1, 4, 6, 6)),
    ("Conv3d", *_same("Conv3d", 2, 3, 2, padding=1), _f(1, 2, 3, 4, 3)),
    ("ConvTranspose1d", *_same("ConvTranspose1d", 3, 2, 3, stride=2, padding=1, output_padding=1), _f(2, 3, 5)),
    ("ConvTranspose2d", *_same("ConvTranspose2d", 4, 6, (2, 3), stride=2, groups=2), _f(1, 4, 3, 4)),
    ("ConvTranspose3d", *_same("ConvTranspose3d", 2, 3, 2, stride=2), _f(1, 2, 2, 3, 2)),
    ("BatchNorm1d", *_same("BatchNorm1d", 4), _f(6, 4)),
    ("BatchNorm1d_3d", *_same("BatchNorm1d", 3, momentum=0.3), _f(4, 3, 5)),
    ("BatchNorm1d_cma", *_same("BatchNorm1d", 3, momentum=None), _f(4, 3)),
    ("BatchNorm2d", *_same("BatchNorm2d", 3), _f(2, 3, 4, 5)),
    ("BatchNorm2d_no_running_stats", *_same("BatchNorm2d", 3, track_running_stats=False), _f(2, 3, 2, 3)),
    ("BatchNorm2d_noaffine", *_same("BatchNorm2d", 3, affine=False), _f(2, 3, 4, 4)),
    ("BatchNorm3d", *_same("BatchNorm3d", 2), _f(2, 2, 3, 2, 3)),
    ("LayerNorm", *_same("LayerNorm", (3, 4)), _f(2, 3, 4)),
    ("LayerNorm_nobias", *_same("LayerNorm", 4, bias=False), _f(3, 4)),
    ("GroupNorm", *_same("GroupNorm", 2, 4), _f(2, 4, 3, 3)),
    ("GroupNorm_noaffine", *_same("GroupNorm", 2, 4, affine=False), _f(2, 4, 3)),
    ("LayerNorm_noaffine", *_same("LayerNorm", 4, elementwise_affine=False), _f(3, 4)),
    ("InstanceNorm1d", *_same("InstanceNorm1d", 3), _f(2, 3, 6)),
    ("InstanceNorm1d_affine_track", *_same("InstanceNorm1d", 3, affine=True, track_running_stats=True),
     _f(2, 3, 6)),
    ("InstanceNorm2d_affine", *_same("InstanceNorm2d", 3, affine=True), _f(2, 3, 4, 4)),
    ("InstanceNorm2d_track", *_same("InstanceNorm2d", 3, track_running_stats=True), _f(2, 3, 4, 4)),
    ("InstanceNorm3d_affine_track", *_same("InstanceNorm3d", 2, affine=True, track_running_stats=True),
     _f(2, 2, 3, 3, 2)),
    ("RMSNorm", *_same("RMSNorm", 4), _f(3, 4)),
    ("Embedding", *_same("Embedding", 7, 3, padding_idx=1), _ids(7, 2, 5)),
    ("Embedding_max_norm", *_same("Embedding", 7, 3, max_norm=0.5), _ids(7, 2, 5)),  # renormalizes rows in place
    ("EmbeddingBag_sum", *_same("EmbeddingBag", 7, 3, mode="sum", padding_idx=0), _ids(7, 3, 4)),
    ("EmbeddingBag", *_same("EmbeddingBag", 7, 3, mode="mean"), _ids(7, 3, 4)),
    ("PReLU", *_same("PReLU"), _f(2, 3)),
    ("PReLU_channels", *_same("PReLU", 3), _f(2, 3, 4)),
    ("RNN", *_same("RNN", 3, 4, num_layers=2, nonlinearity="relu"), _f(5, 2, 3)),
    ("RNN_bidir_bf", *_same("RNN", 3, 4, bidirectional=True, batch_first=True), _f(2, 5, 3)),
    ("LSTM", *_same("LSTM", 3, 4, num_layers=2), _f(5, 2, 3)),
    ("LSTM_bidir_2layer", *_same("LSTM", 3, 4, num_layers=2, bidirectional=True, batch_first=True), _f(2, 4, 3)),
    ("LSTM_proj", *_same("LSTM", 3, 5, num_layers=2, proj_size=2, bidirectional=True), _f(4, 2, 3)),
    ("GRU", *_same("GRU", 3, 4, num_layers=2, bidirectional=True), _f(4, 2, 3)),
    ("GRU_nobias", *_same("GRU", 3, 4, bias=False), _f(4, 2, 3)),
    ("RNNCell", *_same("RNNCell", 3, 4), _f(2, 3)),
    ("LSTMCell", *_same("LSTMCell", 3, 4), _f(2, 3)),
    ("GRUCell", *_same("GRUCell", 3, 4), _f(2, 3)),
    ("MultiheadAttention", *_same("MultiheadAttention", 6, 2), _mha_in(3, 4, 2, 6, 6, 6)),
    ("MultiheadAttention_kdim_vdim", *_same("MultiheadAttention", 6, 2, kdim=5, vdim=3, bias=True,
                                             add_bias_kv=True), _mha_in(3, 4, 2, 6, 5, 3)),
    ("MultiheadAttention_nobias_bf", *_same("MultiheadAttention", 4, 2, bias=False, batch_first=True),
     lambda rng: [("f", rng.standard_normal((2, 3, 4)))] * 3),
    ("TransformerEncoderLayer", *_same("TransformerEncoderLayer", 8, 2, dim_feedforward=12, dropout=0.0),
     _f(3, 2, 8)),
    ("TransformerEncoderLayer_normfirst_gelu_bf",
     *_same("TransformerEncoderLayer", 8, 2, dim_feedforward=12, dropout=0.0, activation="gelu",
            norm_first=True, batch_first=True), _f(2, 3, 8)),
    ("TransformerDecoderLayer", *_same("TransformerDecoderLayer", 8, 2, dim_feedforward=12, dropout=0.0),
     lambda rng: [("f", rng.standard_normal((3, 2, 8))), ("f", rng.standard_normal((4, 2, 8)))]),
    ("Transformer", *_same("Transformer", 8, 2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=12, dropout=0.0),
     lambda rng: [("f", rng.standard_normal((4, 2, 8))), ("f", rng.standard_normal((3, 2, 8)))]),
    ("Sequential_mix", lambda: T.Sequential(T.Conv2d(2, 3, 3), T.BatchNorm2d(3), T.PReLU(3), T.Flatten(),
                                            T.Linear(12, 4), T.LayerNorm(4)),
     lambda: tnn.Sequential(tnn.Conv2d(2, 3, 3), tnn.BatchNorm2d(3), tnn.PReLU(3), tnn.Flatten(),
                            tnn.Linear(12, 4), tnn.LayerNorm(4)), _f(2, 2, 4, 4)),
    ("weight_norm_Linear", lambda: T.utils.weight_norm(T.Linear(3, 4)),
     lambda: tnn.utils.weight_norm(tnn.Linear(3, 4)), _f(2, 3)),
    ("weight_norm_Conv1d_dim1", lambda: T.utils.weight_norm(T.Conv1d(2, 3, 3), dim=1),
     lambda: tnn.utils.weight_norm(tnn.Conv1d(2, 3, 3), dim=1), _f(2, 2, 5)),
    ("spectral_norm_Linear", lambda: T.utils.spectral_norm(T.Linear(3, 4)),
     lambda: tnn.utils.spectral_norm(tnn.Linear(3, 4)), _f(2, 3)),
    ("spectral_norm_ConvTranspose2d", lambda: T.utils.spectral_norm(T.ConvTranspose2d(2, 3, 2)),
     lambda: tnn.utils.spectral_norm(tnn.ConvTranspose2d(2, 3, 2)), _f(1, 2, 3, 3)),
    ("parametrizations_weight_norm", lambda: T.utils.parametrizations.weight_norm(T.Conv2d(2, 3, 2)),
     lambda: tnn.utils.parametrizations.weight_norm(tnn.Conv2d(2, 3, 2)), _f(1, 2, 3, 3)),
    ("parametrizations_spectral_norm", lambda: T.utils.parametrizations.spectral_norm(T.Linear(3, 4)),
     lambda: tnn.utils.parametrizations.spectral_norm(tnn.Linear(3, 4)), _f(2, 3)),
    ("parametrizations_orthogonal", lambda: T.utils.parametrizations.orthogonal(T.Linear(4, 4)),
     lambda: tnn.utils.parametrizations.orthogonal(tnn.Linear(4, 4)), _f(2, 4)),
    ("pruned_Conv2d", lambda: T.utils.prune.random_unstructured(T.Conv2d(2, 3, 2), "weight", 0.5),
     lambda: tnn.utils.prune.random_unstructured(tnn.Conv2d(2, 3, 2), "weight", 0.5), _f(1, 2, 3, 3)),
    ("model_MLP", lambda: TorchMLP(6, (5, 4), 3), lambda: MLP(6, (5, 4), 3, activation="tanh"), _f(4, 6)),
    ("model_LeNet", lambda: TorchLeNet(1, 3, 8, (4, 6), 12),
     lambda: LeNet(1, 3, 8, channels=(4, 6), hidden=12), _f(2, 1, 8, 8)),
    ("model_ResNetSmall", lambda: TorchResNetSmall(1, 3, (4, 6)), lambda: ResNetSmall(1, 3, widths=(4, 6)),
     _f(2, 1, 6, 6)),
    ("model_LSTMLanguageModel", lambda: TorchLSTMLM(9, 4, 5, 2),
     lambda: LSTMLanguageModel(9, embed_dim=4, hidden_size=5, num_layers=2), _ids(9, 2, 5)),
    ("model_GPTMini", lambda: TorchGPTMini(9, 6, 8, 2, 2),
     lambda: GPTMini(9, context=6, d_model=8, n_heads=2, n_layers=2), _ids(9, 2, 5)),
    ("model_BERTClassifier", lambda: TorchBERTClassifier(9, 3, 6, 8, 2, 2, norm_first=False),
     lambda: BERTClassifier(9, 3, max_len=6, d_model=8, n_heads=2, n_layers=2, dropout=0.0), _bert_ids),
    ("model_BERTClassifier_norm_first", lambda: TorchBERTClassifier(9, 3, 6, 8, 2, 2, norm_first=True),
     lambda: BERTClassifier(9, 3, max_len=6, d_model=8, n_heads=2, n_layers=2, dropout=0.0, norm_first=True),
     _bert_ids),
]


# --- helpers -------------------------------------------------------------------------------
def _randomize_torch(module, seed):
    """Fill every floating entry of a torch module's state dict with random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict(keep_vars=True).items():
            if name.endswith("num_batches_tracked"):
                t.fill_(7)
            elif name.endswith("_mask"):  # a pruning mask: zeros and ones
                t.copy_((torch.rand(t.shape, generator=g) < 0.5).to(t.dtype))
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g, dtype=torch.float64).to(t.dtype) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64).to(t.dtype) * 0.5)


def _randomize_tinynet(module, seed):
    """The same for a tinynet module (writes into the parameter/buffer arrays in place)."""
    rng = np.random.default_rng(seed)
    for name, t in module.state_dict().items():
        a = t.array
        if name.endswith("num_batches_tracked"):
            a[...] = 5
        elif name.endswith("_mask"):
            a[...] = rng.random(a.shape) < 0.5
        elif name.endswith("running_var"):
            a[...] = rng.uniform(0.5, 1.5, a.shape)
        elif np.issubdtype(a.dtype, np.floating):
            a[...] = rng.standard_normal(a.shape) * 0.5


def _inputs(case_inputs, seed, tdt, ndt):
    rng = np.random.default_rng(seed)
    pt, tt = [], []
    for kind, a in case_inputs(rng):
        if kind == "f":
            pt.append(torch.tensor(a, dtype=tdt))
            tt.append(tn.tensor(a, dtype=ndt))
        else:
            pt.append(torch.tensor(a, dtype=torch.int64))
            tt.append(tn.tensor(a.astype(np.int64)))
    return pt, tt


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flat(o)]
    return [] if out is None else [out]


def _assert_same_outputs(pm, tm, pin, tin, atol, what, grads=False):
    """Same outputs; with ``grads``, also the same gradient of every parameter (by name) for a
    random weighting of the outputs, so the loaded weights are *used* alike in training too."""
    with torch.set_grad_enabled(grads):
        po = _flat(pm(*pin))
    to = _flat(tm(*tin))
    assert len(po) == len(to), f"{what}: torch gives {len(po)} outputs, tinynet {len(to)}"
    for k, (p, t) in enumerate(zip(po, to)):
        assert tuple(p.shape) == tuple(t.shape), f"{what}: output {k} shape {tuple(t.shape)} vs torch {tuple(p.shape)}"
        np.testing.assert_allclose(t.detach().numpy(), p.detach().numpy(), atol=atol, rtol=atol,
                                   err_msg=f"{what}: output {k}")
    if not grads or not list(pm.parameters()):
        return
    rng = np.random.default_rng(7)
    ws = [rng.standard_normal(tuple(p.shape)) for p in po]
    pm.zero_grad()
    tm.zero_grad()
    sum((p * torch.tensor(w, dtype=p.dtype)).sum() for p, w in zip(po, ws)).backward()
    sum((t * tn.tensor(w, dtype=t.dtype)).sum() for t, w in zip(to, ws)).backward()
    tparams = dict(tm.named_parameters())
    assert set(tparams) == {n for n, _ in pm.named_parameters()}, f"{what}: parameter names differ"
    for name, p in pm.named_parameters():
        tg = tparams[name].grad
        pg = p.grad
        if pg is None:
            assert tg is None or not np.any(tg.numpy()), f"{what}: {name} has a gradient only in tinynet"
            continue
        assert tg is not None, f"{what}: {name} has no gradient in tinynet"
        np.testing.assert_allclose(tg.numpy(), pg.numpy(), atol=10 * atol, rtol=10 * atol,
                                   err_msg=f"{what}: gradient of {name}")


def _assert_same_state(psd, tsd, atol, what, values=True):
    assert set(psd) == set(tsd), (f"{what}: keys only in torch {sorted(set(psd) - set(tsd))}, "
                                  f"only in tinynet {sorted(set(tsd) - set(psd))}")
    for k, p in psd.items():
        t = tsd[k].detach().numpy()
        assert tuple(t.shape) == tuple(p.shape), f"{what}: {k} shape {t.shape} vs torch {tuple(p.shape)}"
        assert t.dtype == p.detach().numpy().dtype, f"{what}: {k} dtype {t.dtype} vs torch {p.dtype}"
        if values:
            np.testing.assert_allclose(t, p.detach().numpy(), atol=atol, rtol=atol, err_msg=f"{what}: {k}")


def _check_modes(pm, tm, case_inputs, tdt, ndt, atol, what):
    """Eval outputs, then train outputs (twice: batch statistics move the running buffers; the
    first time with parameter gradients), and the state dicts afterwards."""
    for mode_seed, train in ((11, False), (12, True), (13, True), (14, False)):
        pm.train(train)
        tm.train(train)
        pin, tin = _inputs(case_inputs, mode_seed, tdt, ndt)
        _assert_same_outputs(pm, tm, pin, tin, atol, f"{what} ({'train' if train else 'eval'})",
                             grads=mode_seed == 12)
    _assert_same_state(pm.state_dict(), tm.state_dict(), atol, f"{what} state after train steps")


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_torch_to_tinynet(case, dtype, tmp_path):
    name, make_torch, make_tn, case_inputs = case
    tdt, ndt, atol = DTYPES[dtype]
    torch.manual_seed(0)
    pm = make_torch().to(tdt)
    _randomize_torch(pm, 1)
    tm = make_tn().to(dtype=ndt)
    _assert_same_state(pm.state_dict(), tm.state_dict(), atol, f"{name} fresh", values=False)
    path = tmp_path / "torch.safetensors"
    st_torch.save_file({k: v.contiguous() for k, v in pm.state_dict().items()}, str(path))
    loaded = tn.load(path)
    result = tm.load_state_dict(loaded, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    _assert_same_state(pm.state_dict(), tm.state_dict(), 0.0, f"{name} loaded")
    _check_modes(pm, tm, case_inputs, tdt, ndt, atol, f"{name} torch->tinynet")


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_tinynet_to_torch(case, dtype, tmp_path):
    name, make_torch, make_tn, case_inputs = case
    tdt, ndt, atol = DTYPES[dtype]
    tm = make_tn().to(dtype=ndt)
    _randomize_tinynet(tm, 2)
    path = tmp_path / "tinynet.safetensors"
    tn.save(tm.state_dict(), path)
    with safe_open(str(path), framework="pt") as f:  # a real safetensors file, not pickle
        assert set(f.keys()) == set(tm.state_dict())
    sd = st_torch.load_file(str(path))
    torch.manual_seed(0)
    pm = make_torch().to(tdt)
    pm.load_state_dict(sd, strict=True)
    _assert_same_state(pm.state_dict(), tm.state_dict(), 0.0, f"{name} loaded")
    _check_modes(pm, tm, case_inputs, tdt, ndt, atol, f"{name} tinynet->torch")


# --- lazy modules: an unmaterialized module takes its shapes from the loaded state dict -------
LAZY = [
    ("LazyLinear", (4,), "Linear", (3, 4), _f(2, 3)),
    ("LazyConv1d", (3, 2), "Conv1d", (2, 3, 2), _f(1, 2, 5)),
    ("LazyConv2d", (3, 2), "Conv2d", (2, 3, 2), _f(1, 2, 4, 4)),
    ("LazyConv3d", (3, 2), "Conv3d", (2, 3, 2), _f(1, 2, 3, 3, 3)),
    ("LazyConvTranspose1d", (3, 2), "ConvTranspose1d", (2, 3, 2), _f(1, 2, 4)),
    ("LazyConvTranspose2d", (3, 2), "ConvTranspose2d", (2, 3, 2), _f(1, 2, 3, 3)),
    ("LazyConvTranspose3d", (3, 2), "ConvTranspose3d", (2, 3, 2), _f(1, 2, 2, 2, 2)),
    ("LazyBatchNorm1d", (), "BatchNorm1d", (3,), _f(4, 3)),
    ("LazyBatchNorm2d", (), "BatchNorm2d", (3,), _f(2, 3, 2, 2)),
    ("LazyBatchNorm3d", (), "BatchNorm3d", (3,), _f(2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), "InstanceNorm1d", (3,), _f(2, 3, 4)),
    ("LazyInstanceNorm2d", (), "InstanceNorm2d", (3,), _f(2, 3, 3, 3)),
    ("LazyInstanceNorm3d", (), "InstanceNorm3d", (3,), _f(2, 3, 2, 2, 2)),
]


def _lazy_kw(name):
    return dict(affine=True, track_running_stats=True) if "InstanceNorm" in name else {}


@pytest.mark.parametrize("case", LAZY, ids=[c[0] for c in LAZY])
def test_lazy_modules_load_both_ways(case, tmp_path):
    """torch's materialized ``nn.<Eager>`` weights load into a fresh tinynet ``Lazy<Eager>`` (it
    becomes the eager class with torch's shapes), and a tinynet lazy module materialized by a
    forward pass saves weights that torch's eager module loads (torch's own lazy instance norms
    keep ``num_features=0`` after a state-dict load and then refuse every input, so the torch
    side here is the eager class)."""
    lazy, lazy_args, eager, eager_args, case_inputs = case
    tdt, ndt, atol = DTYPES["float64"]
    kw = _lazy_kw(lazy)
    # torch (eager) -> tinynet (lazy)
    pm = getattr(T, eager)(*eager_args, **kw).to(tdt)
    _randomize_torch(pm, 3)
    st_torch.save_file(pm.state_dict(), str(tmp_path / "a.safetensors"))
    tm = getattr(tnn, lazy)(*lazy_args, **kw, dtype=ndt)
    tm.load_state_dict(tn.load(tmp_path / "a.safetensors"), strict=True)
    assert type(tm).__name__ == eager
    _assert_same_state(pm.state_dict(), tm.state_dict(), 0.0, f"{lazy} loaded")
    _check_modes(pm, tm, case_inputs, tdt, ndt, atol, f"{eager} torch->tinynet {lazy}")
    # tinynet (lazy, materialized by a forward) -> torch
    tm = getattr(tnn, lazy)(*lazy_args, **kw, dtype=ndt)
    tm.eval()
    tm(*_inputs(case_inputs, 0, tdt, ndt)[1])
    _randomize_tinynet(tm, 4)
    tn.save(tm.state_dict(), tmp_path / "b.safetensors")
    assert type(tm).__name__ == eager
    pm = getattr(T, eager)(*eager_args, **kw, dtype=tdt)
    pm.load_state_dict(st_torch.load_file(str(tmp_path / "b.safetensors")), strict=True)
    _assert_same_state(pm.state_dict(), tm.state_dict(), 0.0, f"{lazy} loaded into torch")
    _check_modes(pm, tm, case_inputs, tdt, ndt, atol, f"{eager} tinynet {lazy}->torch")


@pytest.mark.parametrize("dtype", ["float16", "int8", "uint8", "int32", "int64", "bool"])
def test_other_dtypes_round_trip_exactly(dtype, tmp_path):
    """Half-precision weights and integer/bool buffers keep their dtype and bits both ways."""
    tdt = getattr(torch, dtype)
    g = torch.Generator().manual_seed(5)
    src = {"layer.weight": (torch.randn(3, 4, generator=g) * 4).to(tdt), "scalar": torch.tensor(3).to(tdt)}
    st_torch.save_file(src, str(tmp_path / "t.safetensors"))
    loaded = tn.load(tmp_path / "t.safetensors")
    assert set(loaded) == set(src)
    for k, v in src.items():
        assert str(loaded[k].dtype) == f"tinynet.{dtype}"
        np.testing.assert_array_equal(loaded[k].numpy(), v.numpy())
    tn.save(loaded, tmp_path / "n.safetensors")
    back = st_torch.load_file(str(tmp_path / "n.safetensors"))
    assert set(back) == set(src)
    for k, v in src.items():
        assert back[k].dtype == tdt and back[k].shape == v.shape
        assert torch.equal(back[k], v)
