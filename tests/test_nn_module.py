"""nn.Module: registration, tree walking, modes, to(), state_dict round trips and errors, repr,
and the containers (Sequential, ModuleList, ModuleDict)."""
from collections import OrderedDict

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(tn.ones(4))
        self.register_buffer("count", tn.zeros((), dtype=tn.int64))
        self.register_buffer("scratch", tn.zeros(4), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))
        self.bn = nn.BatchNorm1d(2)

    def forward(self, x):
        return self.bn(self.head(self.block(x)))


def test_registration_and_walks():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "head.1.weight", "head.1.bias",
                     "bn.weight", "bn.bias"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_buffers()] == ["block.count", "block.scratch", "bn.running_mean",
                                                   "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["block", "head", "bn"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "head", "head.0", "head.1", "bn"]
    assert len(list(net.modules())) == 7
    assert list(net.block.parameters(recurse=False)) == [net.block.scale]
    assert net.block.note == "plain attribute" and "note" not in net.block._parameters
    assert net.num_parameters() == 4 + 12 + 4 + 8 + 2 + 2 + 2
    assert net.get_submodule("head.1") is net.head[1]


def test_shared_parameters_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 6


def test_reassignment_and_deletion():
    m = nn.Module()
    m.w = nn.Parameter(tn.zeros(2))
    m.w = None  # an optional parameter may be cleared
    assert m.w is None and list(m.parameters()) == []
    with pytest.raises(TypeError, match="expected a tn.nn.Parameter or None"):
        m.w = tn.zeros(2)
    m.sub = nn.Linear(1, 1)
    del m.sub
    assert not hasattr(m, "sub")
    m.register_parameter("bias", None)
    assert "bias" in m._parameters
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("bias", tn.zeros(1))
    with pytest.raises(TypeError, match="Parameter"):
        m.register_parameter("v", tn.zeros(1))
    with pytest.raises(KeyError, match=r"'\.'"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing  # noqa: B018


def test_assigning_before_init_is_explained():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Broken()


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_requires_grad():
    net = Net()
    net.train()
    net(tn.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.block.requires_grad_(False)
    assert not net.block.fc.weight.requires_grad and net.head[1].weight.requires_grad


def test_apply_visits_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Block", "ReLU", "Linear", "Sequential", "BatchNorm1d", "Net"]


def test_to_dtype_keeps_identity_and_moves_grads():
    net = Net()
    net(tn.randn(4, 3)).sum().backward()
    params = list(net.parameters())
    versions = [p._version[0] for p in params]
    assert net.to(tn.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == tn.float64 for p in net.parameters())
    assert all(p.grad.dtype == tn.float64 for p in net.parameters())
    assert all(p._version[0] > v for p, v in zip(params, versions))
    assert net.bn.running_mean.dtype == tn.float64
    assert net.bn.num_batches_tracked.dtype == tn.int64  # integer buffers keep their dtype
    out = net(tn.randn(4, 3, dtype=tn.float64))
    assert out.dtype == tn.float64
    net.float()
    assert net.block.fc.weight.dtype == tn.float32
    with pytest.raises(TypeError, match="floating"):
        net.to(tn.int64)


def test_to_device_keeps_identity(device):
    net = Net()
    w = net.block.fc.weight
    net.to(device)
    assert net.block.fc.weight is w and w.device == device
    assert net.bn.running_var.device == device
    out = net(tn.randn(4, 3, device=device))
    assert out.device == device


def test_state_dict_round_trip():
    tn.manual_seed(1)
    a = Net()
    a.train()
    a(tn.randn(8, 3))  # move the BatchNorm running statistics
    sd = a.state_dict()
    assert list(sd) == ["block.scale", "block.count", "block.fc.weight", "block.fc.bias", "head.1.weight",
                        "head.1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                        "bn.num_batches_tracked"]
    assert "block.scratch" not in sd  # non-persistent buffer
    assert all(not t.requires_grad for t in sd.values())
    tn.manual_seed(2)
    b = Net()
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(v.numpy(), v2.numpy())
    a.eval()
    b.eval()
    x = tn.randn(3, 3)
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    # Loading copies: changing the source afterwards does not change b.
    sd["block.scale"].array[...] = 7
    assert not np.any(b.block.scale.detach().numpy() == 7)


def test_state_dict_loads_float64_checkpoint_into_float32_model():
    a = Net().double()
    b = Net()
    b.load_state_dict(a.state_dict())
    assert b.block.fc.weight.dtype == tn.float32
    np.testing.assert_allclose(b.block.fc.weight.detach().numpy(), a.block.fc.weight.detach().numpy(), rtol=1e-6)


def _snapshot(m):
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    net = Net()
    before = _snapshot(net)
    sd = Net().state_dict()
    del sd["block.fc.bias"]
    sd["extra.weight"] = tn.zeros(2)
    sd["head.1.weight"] = tn.zeros(3, 4)
    sd["bn.num_batches_tracked"] = tn.zeros(())  # float for an int buffer
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(sd)
    msg = str(err.value)
    assert "Net" in msg and "nothing was changed" in msg
    assert "missing keys: 'block.fc.bias'" in msg
    assert "unexpected keys: 'extra.weight'" in msg
    assert "head.1.weight: shape mismatch: checkpoint has (3, 4), model has (2, 4)" in msg
    assert "bn.num_batches_tracked: dtype mismatch" in msg
    after = _snapshot(net)
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def test_load_state_dict_non_strict_returns_keys_but_still_checks_shapes():
    net = Net()
    sd = Net().state_dict()
    del sd["bn.bias"]
    sd["junk"] = tn.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["bn.bias"] and result.unexpected_keys == ["junk"]
    missing, unexpected = result
    assert missing == ["bn.bias"]
    sd["bn.weight"] = tn.zeros(5)
    before = _snapshot(net)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        net.load_state_dict(sd, strict=False)
    for k, v in _snapshot(net).items():
        np.testing.assert_array_equal(before[k], v)
    with pytest.raises(TypeError, match="dict"):
        net.load_state_dict([1, 2])
    with pytest.raises(RuntimeError, match="expected a tensor, got str"):
        net.load_state_dict({**Net().state_dict(), "bn.bias": "oops"})


def test_state_dict_accepts_numpy_arrays():
    lin = nn.Linear(2, 2)
    lin.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    np.testing.assert_array_equal(lin.weight.detach().numpy(), np.eye(2, dtype=np.float32))


def test_repr_tree_with_counts():
    net = Net()
    text = repr(net)
    lines = text.split("\n")
    assert lines[0] == "Net("
    assert "  (block): Block(  # 20 params" in lines
    assert "    (fc): Linear(in_features=3, out_features=4, bias=True)  # 16 params" in lines
    assert "  (head): Sequential(  # 10 params" in lines
    assert "    (0): ReLU()" in lines
    assert "  (bn): BatchNorm1d(2, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)  # 4 params" in lines
    assert lines[-1] == "Total params: 34"
    net.block.requires_grad_(False)
    assert repr(net).split("\n")[-1] == "Total params: 34 (trainable: 14)"
    assert repr(nn.ReLU()) == "ReLU()"


def test_call_runs_forward_and_module_without_forward_raises():
    lin = nn.Linear(2, 3)
    assert lin(tn.randn(4, 2)).shape == (4, 3)
    with pytest.raises(NotImplementedError):
        nn.ModuleList([lin])(tn.randn(1, 2))


# --- containers ------------------------------------------------------------------------------
def test_sequential_indexing_and_mutation():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c
    assert list(seq) == [a, b, c]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert seq(tn.randn(5, 2)).shape == (5, 1)
    d = nn.Sigmoid()
    seq.append(d)
    assert len(seq) == 4 and seq[3] is d and "3" in seq._modules
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and seq[1] is a
    del seq[0]
    assert seq[0] is a and list(seq._modules) == ["0", "1", "2", "3"]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    with pytest.raises(IndexError, match="out of range"):
        seq[10]  # noqa: B018
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_children()] == ["fc", "act"]
    assert "fc.weight" in named.state_dict()


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.Linear(2, 2))
    layers.extend([nn.ReLU()])
    layers.insert(0, nn.Tanh())
    assert isinstance(layers[0], nn.Tanh) and len(layers) == 6
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert isinstance(layers[0], nn.Linear)
    x = tn.randn(1, 2)
    for layer in layers:
        x = layer(x)
    with pytest.raises(TypeError, match="expected a Module"):
        layers.append(3)

    heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "reg": nn.Linear(4, 1)})
    assert "cls" in heads and len(heads) == 2 and list(heads.keys()) == ["cls", "reg"]
    assert [n for n, _ in heads.named_parameters()] == ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]
    heads["aux"] = nn.Identity()
    assert heads.pop("aux").__class__ is nn.Identity
    with pytest.raises(KeyError, match="no module 'nope'"):
        heads["nope"]  # noqa: B018


def test_parameter_basics():
    p = nn.Parameter(tn.randn(2, 3))
    assert p.requires_grad and p.is_leaf and isinstance(p, tn.Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    q = nn.Parameter(tn.zeros(2), requires_grad=False)
    assert not q.requires_grad
    t = tn.zeros(3)
    shared = nn.Parameter(t)
    assert shared.array is t.array  # shares memory, like torch.nn.Parameter
    assert type(p * 2) is tn.Tensor


def test_deepcopy_gives_an_independent_model():
    import copy

    net = Net()
    net(tn.randn(4, 3)).sum().backward()
    clone = copy.deepcopy(net)
    assert isinstance(clone.block.fc.weight, nn.Parameter) and clone.block.fc.weight is not net.block.fc.weight
    assert clone.block.fc.weight.device is net.block.fc.weight.device
    np.testing.assert_array_equal(clone.block.fc.weight.grad.numpy(), net.block.fc.weight.grad.numpy())
    clone.block.fc.weight.array[...] = 0
    assert np.any(net.block.fc.weight.detach().numpy() != 0)
    snapshot = copy.deepcopy(net.state_dict())
    net.bn.running_mean.array[...] = 5
    assert not np.any(snapshot["bn.running_mean"].numpy() == 5)
