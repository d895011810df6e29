"""tinynet.nn.utils.prune (PyTorch's torch.nn.utils.prune) and nn.utils.shrink.shrink."""

import numpy as np
import pytest

import tinynet as tn
from tinynet import nn
from tinynet.nn.utils import prune
from tinynet.nn.utils.shrink import dead_channels, prune_dead_biases, shrink


def _np(t):
    return np.asarray(t.detach().numpy())


def _linear(i=6, o=4, seed=0):
    tn.manual_seed(seed)
    return nn.Linear(i, o)


# --- mechanics --------------------------------------------------------------------------------
def test_reparametrisation_state_dict_and_forward():
    lin = _linear()
    w = _np(lin.weight).copy()
    prune.l1_unstructured(lin, "weight", amount=0.5)
    assert list(lin.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight_orig"]
    assert [n for n, _ in lin.named_buffers()] == ["weight_mask"]
    mask = _np(lin.weight_mask)
    assert mask.sum() == 12 and set(np.unique(mask)) <= {0.0, 1.0}
    # the 12 smallest magnitudes are the pruned ones
    order = np.argsort(np.abs(w).ravel(), kind="stable")
    assert (mask.ravel()[order[:12]] == 0).all() and (mask.ravel()[order[12:]] == 1).all()
    np.testing.assert_array_equal(_np(lin.weight), w * mask)
    np.testing.assert_array_equal(_np(lin.weight_orig), w)
    # the pre-hook recomputes weight from weight_orig on every call
    with tn.no_grad():
        lin.weight_orig.array[...] = 2 * w
    x = tn.randn(3, 6)
    y = lin(x)
    np.testing.assert_allclose(_np(y), _np(x) @ (2 * w * mask).T + _np(lin.bias), rtol=1e-5, atol=1e-6)
    assert prune.is_pruned(lin) and prune.is_pruned(nn.Sequential(lin))


def test_gradients_are_zero_where_pruned():
    lin = _linear()
    prune.random_unstructured(lin, "weight", amount=10)
    x = tn.randn(5, 6)
    (lin(x) ** 2).sum().backward()
    g, mask = _np(lin.weight_orig.grad), _np(lin.weight_mask)
    assert (g[mask == 0] == 0).all() and (g[mask == 1] != 0).all()
    assert lin.weight_mask.grad is None and int((mask == 0).sum()) == 10


def test_repeated_pruning_composes_on_the_unpruned_entries():
    lin = _linear(8, 10)
    prune.l1_unstructured(lin, "weight", amount=0.5)
    first = _np(lin.weight_mask).copy()
    prune.l1_unstructured(lin, "weight", amount=0.5)
    second = _np(lin.weight_mask)
    assert first.sum() == 40 and second.sum() == 20          # 50 %, then 50 % of the remaining 40
    assert (second <= first).all()                            # pruned entries stay pruned
    hooks = [h for h in lin._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == 2
    # a structured step after an unstructured one: only rows that are not already all zero compete
    prune.ln_structured(lin, "weight", amount=2, n=1, dim=0)
    rows_before = (second.sum(axis=1) == 0).sum()
    rows = _np(lin.weight_mask).sum(axis=1)
    assert (rows == 0).sum() == rows_before + 2 and len(hooks[0]) == 3


def test_remove_makes_it_permanent_and_keeps_the_parameter_object():
    lin = _linear()
    orig = lin.weight
    opt = tn.optim.SGD(lin.parameters(), lr=0.1)
    prune.ln_structured(lin, "weight", amount=0.5, n=2, dim=0)
    assert lin.weight_orig is orig
    masked = _np(lin.weight).copy()
    prune.remove(lin, "weight")
    assert lin.weight is orig and isinstance(lin.weight, nn.Parameter)
    assert list(lin.state_dict()) == ["bias", "weight"]   # PyTorch's order after remove, too
    np.testing.assert_array_equal(_np(lin.weight), masked)
    assert not prune.is_pruned(lin) and not lin._has_hooks
    lin(tn.randn(2, 6)).sum().backward()   # the optimizer still trains the same Parameter
    opt.step()
    assert not np.array_equal(_np(lin.weight), masked)


def test_identity_custom_from_mask_and_prune_method():
    lin = _linear()
    prune.identity(lin, "bias")
    np.testing.assert_array_equal(_np(lin.bias_mask), np.ones(4, np.float32))
    mask = tn.tensor([1.0, 0.0, 1.0, 0.0])
    prune.custom_from_mask(lin, "bias", mask)
    np.testing.assert_array_equal(_np(lin.bias_mask), [1, 0, 1, 0])
    assert _np(lin.bias)[1] == 0 and _np(lin.bias)[3] == 0
    t = tn.tensor([[3.0, -1.0], [0.5, 2.0]])
    np.testing.assert_array_equal(_np(prune.L1Unstructured(amount=2).prune(t)), [[3, 0], [0, 2]])


def test_global_unstructured_prunes_the_smallest_of_all_tensors():
    tn.manual_seed(1)
    a, b = nn.Linear(5, 4), nn.Linear(4, 3)
    with tn.no_grad():
        b.weight.array[...] *= 10        # b's weights are larger: a loses more
    values = np.concatenate([_np(a.weight).ravel(), _np(b.weight).ravel()])
    prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured, amount=0.5)
    threshold = np.sort(np.abs(values))[15]
    kept = np.concatenate([_np(a.weight_mask).ravel(), _np(b.weight_mask).ravel()])
    assert kept.sum() == 16
    assert (np.abs(values)[kept == 1] >= threshold).all()
    assert _np(a.weight_mask).mean() < _np(b.weight_mask).mean()
    # a second global step composes: 50 % of the remaining 16
    prune.global_unstructured([(a, "weight"), (b, "weight")], prune.L1Unstructured, amount=0.5)
    assert _np(a.weight_mask).sum() + _np(b.weight_mask).sum() == 8


def test_random_methods_follow_the_seed():
    masks = []
    for _ in range(2):
        lin = _linear()
        tn.manual_seed(7)
        prune.random_structured(lin, "weight", amount=2, dim=1)
        masks.append(_np(lin.weight_mask))
    np.testing.assert_array_equal(*masks)
    assert (masks[0].sum(axis=0) == 0).sum() == 2 and (masks[0].sum(axis=0) == 4).sum() == 4


def test_amount_rounding_and_norms():
    lin = _linear(10, 5)
    prune.ln_structured(lin, "weight", amount=0.5, n=float("inf"), dim=0)   # round(2.5) = 2 (half to even)
    assert (_np(lin.weight_mask).sum(axis=1) == 0).sum() == 2
    lin = _linear(10, 5)
    w = _np(lin.weight)
    prune.ln_structured(lin, "weight", amount=1, n=1, dim=0)
    gone = np.where(_np(lin.weight_mask).sum(axis=1) == 0)[0]
    assert list(gone) == [int(np.argmin(np.abs(w).sum(axis=1)))]


def test_deepcopy_of_a_pruned_model_through_shrink_leaves_the_original():
    m = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    prune.ln_structured(m[0], "weight", amount=3, n=2, dim=0)
    prune_dead_biases(m)
    s = shrink(m, tn.randn(3, 4))
    assert prune.is_pruned(m) and not prune.is_pruned(s)
    assert tuple(s[0].weight.shape) == (3, 4) and tuple(s[2].weight.shape) == (2, 3)


# --- errors ------------------------------------------------------------------------------------
def test_errors():
    lin = _linear()
    with pytest.raises(ValueError, match=r"Linear\(6→4\) has no parameter 'wieght'.*weight, bias"):
        prune.l1_unstructured(lin, "wieght", amount=0.2)
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match=r"range \[0, 1\]"):
            prune.l1_unstructured(lin, "weight", amount=bad)
    with pytest.raises(ValueError, match="non-negative integer"):
        prune.l1_unstructured(lin, "weight", amount=-3)
    with pytest.raises(TypeError, match="Must be int or float"):
        prune.l1_unstructured(lin, "weight", amount="half")
    with pytest.raises(ValueError, match="amount=25 should be smaller than the number of parameters to prune=24"):
        prune.l1_unstructured(lin, "weight", amount=25)
    with pytest.raises(IndexError, match=r"Invalid index 2 .*\[-2, 1\]"):
        prune.ln_structured(lin, "weight", amount=1, n=2, dim=2)
    with pytest.raises(IndexError):
        prune.random_structured(lin, "weight", amount=1, dim=-3)
    with pytest.raises(ValueError, match="multidimensional"):
        prune.ln_structured(lin, "bias", amount=1, n=2, dim=0)
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        prune.remove(lin, "weight")
    with pytest.raises(ValueError, match=r"mask for weight of Linear\(6→4\) has shape \(3, 3\), expected .*\(4, 6\)"):
        prune.custom_from_mask(lin, "weight", tn.ones(3, 3))
    with pytest.raises(ValueError, match="same shape"):
        prune.l1_unstructured(lin, "weight", amount=1, importance_scores=tn.ones(2))
    with pytest.raises(TypeError, match="unstructured"):
        prune.global_unstructured([(lin, "weight")], prune.LnStructured, amount=0.5, n=2, dim=0)
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        prune.global_unstructured([(lin, "nope")], prune.L1Unstructured, amount=0.5)
    # nothing changed by the refused calls
    assert list(lin.state_dict()) == ["weight", "bias"] and not prune.is_pruned(lin)


# --- parity with PyTorch ---------------------------------------------------------------------------
def _torch_twin(model_tn, model_t):
    import torch

    with torch.no_grad():
        for (_, p), (_, q) in zip(model_tn.named_parameters(), model_t.named_parameters()):
            q.copy_(torch.tensor(_np(p)))


def test_parity_with_torch_masks_state_dict_and_gradients():
    torch = pytest.importorskip("torch")
    import torch.nn.utils.prune as tp

    tn.manual_seed(3)
    ours = nn.Sequential(nn.Conv2d(2, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 5))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 6, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(6 * 4 * 4, 5))
    _torch_twin(ours, theirs)
    steps = [
        lambda p, m: p.l1_unstructured(m[3], "weight", amount=0.3),
        lambda p, m: p.ln_structured(m[0], "weight", amount=2, n=2, dim=0),
        lambda p, m: p.ln_structured(m[0], "weight", amount=0.25, n=1, dim=1),
        lambda p, m: p.l1_unstructured(m[0], "bias", amount=1),
        lambda p, m: p.global_unstructured([(m[0], "weight"), (m[3], "weight")], p.L1Unstructured, amount=0.4),
        lambda p, m: p.ln_structured(m[3], "weight", amount=1, n=float("inf"), dim=0),
    ]
    for step in steps:
        step(prune, ours)
        step(tp, theirs)
        for k, v in theirs.state_dict().items():
            np.testing.assert_array_equal(_np(ours.state_dict()[k]), v.detach().numpy(), err_msg=k)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((3, 2, 6, 6)).astype(np.float32)
    yo, yt = ours(tn.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(_np(yo), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    (yo ** 2).sum().backward()
    (yt ** 2).sum().backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(_np(p.grad), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=n)
    for m in (0, 3):
        prune.remove(ours[m], "weight")
        tp.remove(theirs[m], "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_parameters_to_vector_parity():
    torch = pytest.importorskip("torch")
    lin, t = _linear(), torch.nn.Linear(6, 4)
    _torch_twin(lin, t)
    v = nn.utils.parameters_to_vector(lin.parameters())
    np.testing.assert_array_equal(_np(v), torch.nn.utils.parameters_to_vector(t.parameters()).detach().numpy())
    nn.utils.vector_to_parameters(tn.arange(28, dtype=tn.float32), lin.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(28, dtype=torch.float32), t.parameters())
    np.testing.assert_array_equal(_np(lin.weight), t.weight.detach().numpy())
    np.testing.assert_array_equal(_np(lin.bias), t.bias.detach().numpy())


# --- shrink ----------------------------------------------------------------------------------------
def _prune_channels(model, amount=0.5, biases=True):
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for m in layers[:-1]:
        prune.ln_structured(m, "weight", amount=amount, n=2, dim=0)
    if biases:
        prune_dead_biases(model)
    return layers


def _same_outputs(a, b, x):
    a.eval()
    b.eval()
    with tn.no_grad():
        np.testing.assert_allclose(_np(a(x)), _np(b(x)), rtol=1e-4, atol=1e-5)


def test_shrink_mlp_and_lenet():
    from tinynet.models import build_model

    tn.manual_seed(0)
    mlp = build_model("mlp", in_features=64, out_features=10, hidden=(32, 16))
    _prune_channels(mlp)
    small = shrink(mlp, tn.randn(4, 64))
    assert [tuple(m.weight.shape) for m in small.modules() if isinstance(m, nn.Linear)] == [(16, 64), (8, 16), (10, 8)]
    _same_outputs(mlp, small, tn.randn(7, 64))
    cnn = build_model("cnn", in_channels=1, num_classes=10, input_size=8, channels=(8, 16), hidden=12)
    _prune_channels(cnn)
    small = shrink(cnn, tn.randn(2, 1, 8, 8))
    shapes = [tuple(m.weight.shape) for m in small.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert shapes == [(4, 1, 3, 3), (8, 4, 3, 3), (6, 8 * 2 * 2), (10, 6)]
    assert small.num_parameters() < cnn.num_parameters() / 2
    _same_outputs(cnn, small, tn.randn(5, 1, 8, 8))


def test_shrink_batchnorm_and_folds_constant_channels():
    tn.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 6, 1),
                          nn.Sigmoid(), nn.Flatten(), nn.Linear(6 * 3 * 3, 5), nn.Tanh(), nn.Linear(5, 3))
    model(tn.randn(16, 1, 8, 8))                     # batch-norm statistics
    _prune_channels(model, biases=False)             # dead channels keep a (non-zero) bias: folded
    small = shrink(model, tn.randn(2, 1, 8, 8))
    assert small[1].num_features == 4 and tuple(small[1].running_mean.shape) == (4,)
    assert tuple(small[7].weight.shape) == (3, 3 * 3 * 3)
    assert model.training and small.training        # modes are kept
    _same_outputs(model, small, tn.randn(6, 1, 8, 8))


def test_shrink_refuses_what_it_cannot_do_exactly():
    tn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))
    with tn.no_grad():
        model[0].bias.array[...] = 1.0
    prune.ln_structured(model[0], "weight", amount=2, n=1, dim=0)
    with pytest.raises(ValueError, match="zero-padded Conv2d.*prune their bias too"):
        shrink(model, tn.randn(1, 1, 5, 5))
    assert prune_dead_biases(model) == 2
    small = shrink(model, tn.randn(1, 1, 5, 5))
    _same_outputs(model, small, tn.randn(2, 1, 5, 5))

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.b(self.a(x)) + self.a(x)[:, :4]

    r = Residual()
    prune.ln_structured(r.a, "weight", amount=2, n=1, dim=0)
    with tn.no_grad():
        r.a.bias.array[...] = 0.5
    with pytest.raises(ValueError, match="more than once|does not reproduce"):
        shrink(r, tn.randn(2, 4))
    everything = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    prune.ln_structured(everything[0], "weight", amount=2, n=1, dim=0)
    with pytest.raises(ValueError, match="every output channel"):
        shrink(everything, tn.randn(2, 3))
    with pytest.raises(TypeError, match="example_input"):
        shrink(everything, np.zeros((2, 3)))
    assert dead_channels(everything[0]).all()


def test_errors_name_the_layer_and_refused_steps_change_nothing():
    conv = nn.Conv2d(2, 4, 3)
    with pytest.raises(ValueError, match=r"L1Unstructured of 'weight' in Conv2d\(2→4\): amount=1.5"):
        prune.l1_unstructured(conv, "weight", amount=1.5)
    prune.l1_unstructured(conv, "weight", amount=10)
    before = _np(conv.weight_mask).copy()
    with pytest.raises(IndexError, match=r"LnStructured of 'weight' in Conv2d\(2→4\): Invalid index 4"):
        prune.ln_structured(conv, "weight", amount=1, n=2, dim=4)
    with pytest.raises(ValueError, match="amount=80 should be smaller"):
        prune.l1_unstructured(conv, "weight", amount=80)   # 72 entries in all
    hooks = [h for h in conv._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]
    assert len(hooks) == 1 and not isinstance(hooks[0], prune.PruningContainer)
    np.testing.assert_array_equal(_np(conv.weight_mask), before)
    prune.l1_unstructured(conv, "weight", amount=2)
    prune.l1_unstructured(conv, "weight", amount=2)
    with pytest.raises(ValueError):
        prune.l1_unstructured(conv, "weight", amount=100)
    container = [h for h in conv._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)][0]
    assert len(container) == 3 and int((_np(conv.weight_mask) == 0).sum()) == 14


def test_on_every_device(device):
    tn.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)).to(device)
    prune.global_unstructured([(model[0], "weight"), (model[2], "weight")], prune.L1Unstructured, amount=0.5)
    prune.ln_structured(model[0], "weight", amount=2, n=2, dim=0)
    prune_dead_biases(model)
    assert model[0].weight_mask.device.type == tn.device(device).type
    x = tn.randn(4, 5, device=device)
    model(x).sum().backward()
    g = _np(model[0].weight_orig.grad)
    assert (g[_np(model[0].weight_mask) == 0] == 0).all()
    small = shrink(model, x)
    assert tuple(small[0].weight.shape) == (4, 5)
    _same_outputs(model, small, x)


def test_masks_survive_save_and_load(tmp_path):
    lin = _linear()
    prune.l1_unstructured(lin, "weight", amount=0.5)
    tn.save(lin.state_dict(), str(tmp_path / "p.safetensors"))
    fresh = _linear(seed=5)
    prune.identity(fresh, "weight")          # the same reparametrisation, then the saved state
    fresh.load_state_dict(tn.load(str(tmp_path / "p.safetensors")))
    x = tn.randn(2, 6)
    np.testing.assert_allclose(_np(fresh(x)), _np(lin(x)), rtol=1e-6)
    with pytest.raises((KeyError, ValueError, RuntimeError), match="weight_orig|weight_mask"):
        _linear().load_state_dict(lin.state_dict())     # an unpruned module has no such keys


def test_importance_scores_parity_with_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.utils.prune as tp

    lin, t = _linear(8, 5), torch.nn.Linear(8, 5)
    _torch_twin(lin, t)
    scores = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    prune.l1_unstructured(lin, "weight", amount=13, importance_scores=tn.tensor(scores))
    tp.l1_unstructured(t, "weight", amount=13, importance_scores=torch.tensor(scores))
    np.testing.assert_array_equal(_np(lin.weight_mask), t.weight_mask.numpy())
    prune.ln_structured(lin, "weight", amount=0.4, n=1, dim=1, importance_scores=tn.tensor(scores))
    tp.ln_structured(t, "weight", amount=0.4, n=1, dim=1, importance_scores=torch.tensor(scores))
    np.testing.assert_array_equal(_np(lin.weight_mask), t.weight_mask.numpy())


def test_ties_that_do_not_straddle_the_cut_match_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.utils.prune as tp

    # repeated magnitudes, but the k-th and (k+1)-th smallest differ: the pruned set is determined
    w = np.array([[0.5, -0.5, 2.0, 1.0], [-1.0, 0.25, 0.25, 3.0], [2.0, -3.0, 0.5, 1.0]], np.float32)
    lin, t = nn.Linear(4, 3), torch.nn.Linear(4, 3)
    with tn.no_grad():
        lin.weight.array[...] = w
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
    prune.l1_unstructured(lin, "weight", amount=5)      # the two 0.25s and the three 0.5s
    tp.l1_unstructured(t, "weight", amount=5)
    np.testing.assert_array_equal(_np(lin.weight_mask), t.weight_mask.numpy())
    prune.ln_structured(lin, "weight", amount=1, n=1, dim=1)
    tp.ln_structured(t, "weight", amount=1, n=1, dim=1)
    np.testing.assert_array_equal(_np(lin.weight_mask), t.weight_mask.numpy())
    # a tie at the cut: tinynet prunes the earlier entry (stable order), whatever topk does
    tied = nn.Linear(3, 1)
    with tn.no_grad():
        tied.weight.array[...] = [[1.0, 1.0, 2.0]]
    prune.l1_unstructured(tied, "weight", amount=1)
    np.testing.assert_array_equal(_np(tied.weight_mask), [[0, 1, 1]])
    container = prune.PruningContainer(prune.Identity(), prune.Identity())
    assert len(container) == 2
