"""Restoring is all or nothing: optimizers and schedulers refuse another class's state,
nonsensical values and mismatched shapes -- changing nothing -- and their constructors
check hyper-parameters with PyTorch's messages (compared with torch's where torch is
installed)."""
import copy
import itertools
import math

import numpy as np
import pytest

import tinynet as tn
import tinynet.nn as nn
import tinynet.optim as optim
from tinynet.optim import lr_scheduler as S

SHAPES = [(3, 4), (4,)]

# Options that give every state key a value (momentum buffers, amsgrad, centering).
OPTIMIZERS = {
    "SGD": (optim.SGD, dict(lr=0.1, momentum=0.9)),
    "Adam": (optim.Adam, dict(lr=0.01, amsgrad=True)),
    "AdamW": (optim.AdamW, dict(lr=0.01)),
    "RMSprop": (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    "Adagrad": (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
}
NAMES = list(OPTIMIZERS)
PAIRS = [(a, b) for a, b in itertools.permutations(NAMES, 2)]


def _grads(seed, step):
    rng = np.random.default_rng(1000 * seed + step)
    return [rng.standard_normal(s) for s in SHAPES]


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(tn.tensor(rng.standard_normal(s), dtype=tn.float64)) for s in SHAPES]


def _step(opt, params, step, seed=0):
    for p, g in zip(params, _grads(seed, step)):
        p.grad = tn.tensor(g, dtype=tn.float64)
    opt.step()


def _trained(name, steps=2, seed=0, **overrides):
    """``(params, optimizer)`` after ``steps`` steps on a fixed gradient sequence."""
    cls, kwargs = OPTIMIZERS[name]
    params = _params(seed)
    opt = cls(params, **{**kwargs, **overrides})
    for t in range(steps):
        _step(opt, params, t, seed)
    return params, opt


def _plain(sd):
    """A deep, comparable copy of an optimizer state dict (arrays for tensors)."""
    def value(v):
        return v.numpy().copy() if isinstance(v, tn.Tensor) else copy.deepcopy(v)
    return {"state": {k: {n: value(v) for n, v in s.items()} for k, s in sd["state"].items()},
            "param_groups": [copy.deepcopy(g) for g in sd["param_groups"]]}


def _assert_same(a, b):
    a, b = _plain(a), _plain(b)
    assert a["param_groups"] == b["param_groups"]
    assert sorted(a["state"]) == sorted(b["state"])
    for k in a["state"]:
        sa, sb = a["state"][k], b["state"][k]
        assert sorted(sa) == sorted(sb), k
        for n in sa:
            if isinstance(sa[n], np.ndarray):
                assert type(sb[n]) is np.ndarray and sa[n].dtype == sb[n].dtype
                np.testing.assert_array_equal(sa[n], sb[n])
            else:
                assert type(sa[n]) is type(sb[n]) and sa[n] == sb[n], (k, n)


def _editable(sd):
    """A copy of ``sd`` whose dicts and lists can be edited without touching the original
    (the tensors are shared; edits replace them, never write into them)."""
    return {"state": {k: dict(s) for k, s in sd["state"].items()},
            "param_groups": [{**g, "params": list(g["params"])} for g in sd["param_groups"]]}


def _untagged(sd):
    """``sd`` as PyTorch before 2.6 (and older tinynet) wrote it: without the Adam family's
    ``decoupled_weight_decay`` flag."""
    sd = _editable(sd)
    for g in sd["param_groups"]:
        g.pop("decoupled_weight_decay", None)
    return sd


def _refused(opt, sd, *fragments):
    """Loading ``sd`` raises ValueError mentioning every fragment, and changes nothing."""
    before = _plain(opt.state_dict())
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(sd)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    _assert_same(before, opt.state_dict())
    return message


# --- item 1: another optimizer's state ------------------------------------------------------------
@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{a}-into-{b}" for a, b in PAIRS])
def test_cross_loading_is_refused(src, dst):
    _, source = _trained(src)
    _, target = _trained(dst, seed=1)
    _refused(target, source.state_dict(), f"{dst}.load_state_dict", f"{src}'s, not {dst}'s")


@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{a}-into-{b}" for a, b in PAIRS])
def test_untagged_cross_loading_is_judged_by_keys(src, dst):
    """Without the Adam/AdamW flag (PyTorch before 2.6) the hyper-parameter keys decide; they
    tell every pair apart but Adam and AdamW, whose keys are the same."""
    _, source = _trained(src)
    _, target = _trained(dst, seed=1)
    sd = _untagged(source.state_dict())
    if {src, dst} == {"Adam", "AdamW"}:
        target.load_state_dict(sd)
        assert target.param_groups[0]["weight_decay"] == source.param_groups[0]["weight_decay"]
    else:
        _refused(target, sd, f"{dst}.load_state_dict", "parameter group 0 holds another optimizer's hyper-parameters")


def test_state_dict_has_pytorchs_layout_and_group_keys():
    """No tinynet-only key: the top level is PyTorch's, each group holds the optimizer's
    hyper-parameters (the Adam family keeps PyTorch's ``decoupled_weight_decay`` flag)."""
    _, opt = _trained("Adam")
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}  # PyTorch's shape
    assert set(sd["param_groups"][0]) == {"params", "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                                          "decoupled_weight_decay"}
    assert sd["param_groups"][0]["decoupled_weight_decay"] is False
    _, adamw = _trained("AdamW")
    assert adamw.state_dict()["param_groups"][0]["decoupled_weight_decay"] is True
    assert "optimizer" not in repr(opt)


def test_adam_with_decoupled_weight_decay_is_adamw():
    """PyTorch's ``Adam(decoupled_weight_decay=True)`` takes AdamW's steps and loads its state."""
    pa, pw = _params(), _params()
    a = optim.Adam(pa, lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)
    w = optim.AdamW(pw, lr=0.1, weight_decay=0.1)
    for opt, params in ((a, pa), (w, pw)):
        for p in params:
            p.grad = tn.ones(*p.shape)
        opt.step()
    for x, y in zip(pa, pw):
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())
    a.load_state_dict(w.state_dict())
    coupled = _editable(w.state_dict())
    coupled["param_groups"][0]["decoupled_weight_decay"] = False
    _refused(optim.AdamW(_params()), coupled, "the state dict is Adam's, not AdamW's", "build Adam to load it")
    with pytest.raises(ValueError, match="decoupled_weight_decay must be True"):
        optim.AdamW(_params()[:1]).add_param_group({"params": _params()[1:], "decoupled_weight_decay": False})


def test_torch_state_dicts_load_and_adam_is_told_from_adamw():
    torch = pytest.importorskip("torch")
    tparams = [torch.tensor(np.asarray(p.detach().numpy()), requires_grad=True) for p in _params()]

    def torch_sd(cls, **kwargs):
        topt = cls(tparams, **kwargs)
        for t in range(2):
            for p, g in zip(tparams, _grads(0, t)):
                p.grad = torch.tensor(g)
            topt.step()
        return topt.state_dict()

    ours = optim.Adam(_params(), lr=0.5)
    ours.load_state_dict(torch_sd(torch.optim.Adam, lr=0.01))
    assert ours.param_groups[0]["lr"] == 0.01 and "foreach" not in ours.param_groups[0]
    assert ours.state[next(iter(ours.state))]["step"] == 2
    _refused(optim.Adam(_params()), torch_sd(torch.optim.AdamW, lr=0.01), "decoupled_weight_decay=True")
    _refused(optim.AdamW(_params()), torch_sd(torch.optim.Adam, lr=0.01), "decoupled_weight_decay=False")
    _refused(optim.Adam(_params()), torch_sd(torch.optim.SGD, lr=0.1, momentum=0.9), "missing ['amsgrad', 'betas'")


# --- item 1: values that make no sense ---------------------------------------------------------------
BAD_HYPERS = [
    # (optimizer, key, value, expected in the message)
    *[(n, "lr", v, "Invalid learning rate") for n in NAMES for v in (-0.1, math.nan, math.inf)],
    *[(n, "weight_decay", v, "Invalid weight_decay value") for n in NAMES for v in (-1e-3, math.nan)],
    *[(n, "eps", v, "Invalid epsilon value") for n in ("Adam", "AdamW", "RMSprop", "Adagrad")
      for v in (-1e-8, math.nan, math.inf)],
    *[(n, "betas", v, f"Invalid beta parameter at index {i}") for n in ("Adam", "AdamW")
      for v, i in [((1.0, 0.999), 0), ((-0.1, 0.999), 0), ((math.nan, 0.999), 0), ((0.9, 1.0), 1),
                   ((0.9, math.inf), 1)]],
    *[(n, "betas", v, "betas must be a pair") for n in ("Adam", "AdamW") for v in (0.9, (0.9,), (0.9, 0.99, 0.9))],
    *[(n, "momentum", v, "Invalid momentum value") for n in ("SGD", "RMSprop") for v in (-0.5, math.nan, math.inf)],
    ("SGD", "dampening", math.nan, "Invalid dampening value"),
    ("SGD", "nesterov", "yes", "nesterov must be True or False"),
    ("SGD", "lr", "0.1", "lr must be a number"),
    ("SGD", "lr", True, "lr must be a number"),
    ("Adam", "amsgrad", 1, "amsgrad must be True or False"),
    ("RMSprop", "centered", None, "centered must be True or False"),
    ("RMSprop", "alpha", -0.1, "Invalid alpha value"),
    ("Adagrad", "lr_decay", -0.1, "Invalid lr_decay value"),
    ("Adagrad", "initial_accumulator_value", -1.0, "Invalid initial_accumulator_value value"),
    ("AdamW", "maximize", "no", "maximize must be True or False"),
    ("SGD", "initial_lr", math.nan, "Invalid initial_lr value"),
]


@pytest.mark.parametrize("name,key,value,fragment", BAD_HYPERS,
                         ids=[f"{n}-{k}={v!r}" for n, k, v, _ in BAD_HYPERS])
def test_bad_hyper_parameters_are_refused(name, key, value, fragment):
    _, source = _trained(name)
    _, target = _trained(name, seed=1)
    sd = _editable(source.state_dict())
    sd["param_groups"][0][key] = value
    _refused(target, sd, f"{name}.load_state_dict", "parameter group 0", fragment, "nothing was changed")


def test_nesterov_rule_applies_on_load():
    _, opt = _trained("SGD", momentum=0.9, nesterov=True)
    sd = _editable(opt.state_dict())
    sd["param_groups"][0]["dampening"] = 0.5
    _refused(opt, sd, "Nesterov momentum requires a momentum and zero dampening")


# --- item 1: wrong shapes ---------------------------------------------------------------------------------
def test_group_count_and_size_mismatch_use_torchs_wording():
    p, q = _params()
    opt = optim.Adam([p, q], lr=0.1)
    _step(opt, [p, q], 0)
    sd = opt.state_dict()
    two = optim.Adam([{"params": [p]}, {"params": [q]}], lr=0.1)
    _refused(two, sd, "Adam.load_state_dict: loaded state dict has a different number of parameter groups",
             "the state dict has 1 parameter group(s), Adam has 2")
    one = optim.Adam([p], lr=0.1)
    _refused(one, sd, "Adam.load_state_dict: loaded state dict contains a parameter group that doesn't match the "
                      "size of optimizer's group", "parameter group 0 has 2 parameter(s) in the state dict, 1 in Adam")


def test_mismatch_messages_contain_torchs():
    torch = pytest.importorskip("torch")
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)
    messages = []
    for sd, target in [(torch.optim.SGD([a, b]).state_dict(), torch.optim.SGD([{"params": [a]}, {"params": [b]}])),
                       (torch.optim.SGD([a, b]).state_dict(), torch.optim.SGD([a]))]:
        with pytest.raises(ValueError) as info:
            target.load_state_dict(sd)
        messages.append(str(info.value))
    p, q = _params()
    sd = optim.SGD([p, q]).state_dict()
    with pytest.raises(ValueError) as info:
        optim.SGD([{"params": [p]}, {"params": [q]}]).load_state_dict(sd)
    assert messages[0] in str(info.value)
    with pytest.raises(ValueError) as info:
        optim.SGD([p]).load_state_dict(sd)
    assert messages[1] in str(info.value)


def _bad_state_cases():
    """(id, edit(sd), expected fragment): each edit breaks one thing of a trained Adam's dict."""
    def setter(index, key, value):
        def edit(sd):
            sd["state"][index][key] = value(sd) if callable(value) else value
        return edit

    def drop(index, key):
        def edit(sd):
            del sd["state"][index][key]
        return edit

    def group_params(value):
        def edit(sd):
            sd["param_groups"][0]["params"] = value
        return edit

    def add_state(index, entry):
        def edit(sd):
            sd["state"][index] = entry(sd) if callable(entry) else entry
        return edit

    return [
        ("shape", setter(1, "exp_avg", tn.zeros(5, dtype=tn.float64)),
         "parameter 1: state 'exp_avg' has shape (5,), parameter has (4,)"),
        ("shape-transposed", setter(0, "exp_avg_sq", tn.zeros(4, 3, dtype=tn.float64)),
         "parameter 0: state 'exp_avg_sq' has shape (4, 3), parameter has (3, 4)"),
        ("int-dtype", setter(1, "exp_avg", tn.zeros(4, dtype=tn.int64)),
         "parameter 1: state 'exp_avg' has dtype int64, expected a floating dtype"),
        ("bool-array", setter(1, "exp_avg", np.zeros(4, dtype=bool)), "has dtype bool"),
        ("not-an-array", setter(1, "exp_avg", 0.5), "parameter 1: state 'exp_avg' must be an array, got float"),
        ("step-negative", setter(0, "step", -1), "parameter 0: step must be a whole number >= 0, got -1"),
        ("step-fraction", setter(0, "step", 2.5), "step must be a whole number >= 0, got 2.5"),
        ("step-nan", setter(0, "step", math.nan), "step must be a whole number >= 0, got nan"),
        ("step-bool", setter(0, "step", True), "step must be a whole number >= 0, got True"),
        ("step-string", setter(0, "step", "2"), "step must be a whole number >= 0, got '2'"),
        ("missing-key", drop(1, "exp_avg_sq"), "parameter 1: state has keys ['exp_avg', 'max_exp_avg_sq', 'step'], "
                                               "Adam expects ['exp_avg', 'exp_avg_sq', 'step']"),
        ("foreign-key", setter(1, "momentum_buffer", lambda sd: sd["state"][1]["exp_avg"]), "'momentum_buffer'"),
        ("entry-not-dict", add_state(1, [1, 2]), "parameter 1: state must be a dict, got list"),
        ("unknown-index", add_state(7, lambda sd: dict(sd["state"][0])),
         "state for parameter index 7, which no parameter group lists"),
        ("bad-index-key", add_state("x", lambda sd: dict(sd["state"][0])),
         "state for parameter index 'x', which no parameter group lists"),
        ("negative-group-index", group_params([0, -1]), "parameter group 0: parameter index -1 is not an int >= 0"),
        ("float-group-index", group_params([0, 1.0]), "parameter index 1.0 is not an int >= 0"),
        ("duplicate-group-index", group_params([0, 0]), "parameter group 0: parameter index 0 is listed twice"),
    ]


BAD_STATE = _bad_state_cases()


@pytest.mark.parametrize("edit,fragment", [c[1:] for c in BAD_STATE], ids=[c[0] for c in BAD_STATE])
def test_bad_state_entries_are_refused(edit, fragment):
    _, source = _trained("Adam")
    _, target = _trained("Adam", seed=1)
    sd = _editable(source.state_dict())
    edit(sd)
    _refused(target, sd, "Adam.load_state_dict", fragment)


BAD_LAYOUT = [
    ("list", lambda sd: [sd], "expected a dict with 'state' and 'param_groups', got list"),
    ("none", lambda sd: None, "got NoneType"),
    ("no-state", lambda sd: {"param_groups": sd["param_groups"]}, "got one without 'state'"),
    ("no-groups", lambda sd: {"state": sd["state"]}, "got one without 'param_groups'"),
    ("empty", lambda sd: {}, "without 'state' and 'param_groups'"),
    ("groups-not-list", lambda sd: {**sd, "param_groups": sd["param_groups"][0]},
     "'param_groups' must be a list of dicts, got dict"),
    ("group-not-dict", lambda sd: {**sd, "param_groups": [[0, 1]]}, "parameter group 0 must be a dict"),
    ("group-without-params", lambda sd: {**sd, "param_groups": [{"lr": 0.1}]}, "without a 'params' list"),
    ("state-not-dict", lambda sd: {**sd, "state": [sd["state"][0]]}, "'state' must be a dict"),
]


@pytest.mark.parametrize("make,fragment", [c[1:] for c in BAD_LAYOUT], ids=[c[0] for c in BAD_LAYOUT])
def test_wrong_types_are_refused(make, fragment):
    _, source = _trained("RMSprop")
    _, target = _trained("RMSprop", seed=1)
    _refused(target, make(_editable(source.state_dict())), "RMSprop.load_state_dict", fragment)


# --- item 1: all or nothing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_refused_load_changes_nothing_and_the_next_step_is_unchanged(name):
    """A dict that is right up to its last parameter's state: nothing of it may stick."""
    cls, kwargs = OPTIMIZERS[name]
    p, q, r = _params(1) + [nn.Parameter(tn.zeros(2, dtype=tn.float64))]
    twin_params = [nn.Parameter(tn.tensor(x.detach().numpy(), dtype=tn.float64)) for x in (p, q, r)]
    groups = lambda a, b, c: [{"params": [a, b]}, {"params": [c], "lr": 0.05}]  # noqa: E731
    target, twin = cls(groups(p, q, r), **kwargs), cls(groups(*twin_params), **kwargs)
    for opt, params in ((target, [p, q, r]), (twin, twin_params)):
        for t in range(2):
            for x, g in zip(params, _grads(1, t) + [np.ones(2)]):
                x.grad = tn.tensor(g, dtype=tn.float64)
            opt.step()
    source_params = _params(2) + [nn.Parameter(tn.zeros(2, dtype=tn.float64))]
    source = cls(groups(*source_params), **{**kwargs, "lr": 0.5})
    for t in range(3):
        for x, g in zip(source_params, _grads(2, t) + [np.ones(2)]):
            x.grad = tn.tensor(g, dtype=tn.float64)
        source.step()
    sd = _editable(source.state_dict())
    last = sd["state"][2]
    key = next(k for k in last if k != "step")
    last[key] = tn.zeros(7, dtype=tn.float64)  # only the very last entry is wrong
    _refused(target, sd, f"parameter 2: state {key!r} has shape (7,)")
    assert [g["lr"] for g in target.param_groups] == [kwargs["lr"], 0.05]
    _assert_same(target.state_dict(), twin.state_dict())
    for opt, params in ((target, [p, q, r]), (twin, twin_params)):
        for x, g in zip(params, _grads(1, 5) + [np.ones(2)]):
            x.grad = tn.tensor(g, dtype=tn.float64)
        opt.step()
    for a, b in zip((p, q, r), twin_params):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_every_problem_is_listed_at_once():
    _, source = _trained("SGD")
    _, target = _trained("SGD", seed=1)
    sd = _editable(source.state_dict())
    sd["param_groups"][0]["lr"] = -1.0
    sd["state"][1]["momentum_buffer"] = tn.zeros(9, dtype=tn.float64)
    message = _refused(target, sd, "SGD.load_state_dict: the state dict does not fit (nothing was changed)")
    assert "parameter group 0: Invalid learning rate: -1.0" in message
    assert "parameter 1: state 'momentum_buffer' has shape (9,), parameter has (4,)" in message


# --- item 4: exact round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("suffix", [None, ".safetensors", ".npz"])
def test_round_trip_is_exact(name, suffix, tmp_path):
    params, opt = _trained(name, betas=(0.8, 0.95)) if "Adam" in name else _trained(name)
    sd = opt.state_dict()
    if suffix is not None:
        tn.save(sd, tmp_path / f"opt{suffix}")
        sd = tn.load(tmp_path / f"opt{suffix}")
    before = _plain(opt.state_dict())
    opt.load_state_dict(sd)  # into itself
    _assert_same(before, opt.state_dict())
    if "Adam" in name:
        assert opt.param_groups[0]["betas"] == (0.8, 0.95) and type(opt.param_groups[0]["betas"]) is tuple
    cls, kwargs = OPTIMIZERS[name]
    same = cls(params, **{**kwargs, "lr": 1.0})  # a second optimizer over the same parameters
    same.load_state_dict(sd)
    _assert_same(before, same.state_dict())
    # ... and one over fresh copies of them steps exactly like the original.
    copies = [nn.Parameter(tn.tensor(p.detach().numpy(), dtype=tn.float64)) for p in params]
    fresh = cls(copies, **{**kwargs, "lr": 1.0})
    fresh.load_state_dict(sd)
    _assert_same(before, fresh.state_dict())
    for t in range(2, 4):
        _step(opt, params, t)
        _step(fresh, copies, t)
    for a, b in zip(params, copies):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_betas_as_a_list_come_back_as_a_tuple():
    _, opt = _trained("Adam")
    sd = _editable(opt.state_dict())
    sd["param_groups"][0]["betas"] = [0.5, 0.6]
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["betas"] == (0.5, 0.6)


@pytest.mark.parametrize("name", NAMES)
def test_untagged_own_state_dict_still_loads(name):
    """Older tinynet checkpoints have no class tag: the keys fit, so they load."""
    params, opt = _trained(name)
    before = _plain(opt.state_dict())
    cls, kwargs = OPTIMIZERS[name]
    other = cls(params, **{**kwargs, "lr": 1.0})
    other.load_state_dict(_untagged(opt.state_dict()))
    _assert_same(before, other.state_dict())


def test_live_extra_group_keys_and_initial_lr_round_trip():
    params, opt = _trained("SGD")
    opt.param_groups[0]["name"] = "backbone"
    S.StepLR(opt, step_size=2)  # adds initial_lr
    sd = opt.state_dict()
    before = _plain(sd)
    opt.load_state_dict(sd)
    _assert_same(before, opt.state_dict())
    fresh = optim.SGD(params, lr=1.0, momentum=0.9)
    _refused(fresh, sd, "unexpected ['name']")  # an extra key the live group lacks
    del sd["param_groups"][0]["name"]
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["initial_lr"] == 0.1


# --- item 3: constructors and add_param_group ------------------------------------------------------------------
CTOR_CASES = [
    *[(n, dict(lr=-0.5)) for n in NAMES],
    *[(n, dict(weight_decay=-0.1)) for n in NAMES],
    *[(n, dict(eps=-1e-8)) for n in ("Adam", "AdamW", "RMSprop", "Adagrad")],
    *[(n, dict(betas=b)) for n in ("Adam", "AdamW") for b in ((1.0, 0.999), (-0.5, 0.999), (0.9, 1.0), (0.9, 2.0))],
    *[(n, dict(momentum=-0.9, lr=0.1)) for n in ("SGD", "RMSprop")],
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("RMSprop", dict(alpha=-0.5)),
    ("Adagrad", dict(lr_decay=-0.5)),
    ("Adagrad", dict(initial_accumulator_value=-0.5)),
]


@pytest.mark.parametrize("name,kwargs", CTOR_CASES, ids=[f"{n}-{k}" for n, k in CTOR_CASES])
def test_constructor_messages_contain_torchs(name, kwargs):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([nn.Parameter(tn.zeros(2))], **kwargs)
    assert str(ours.value).startswith(f"{name}: ")
    assert str(theirs.value) in str(ours.value)


def test_empty_parameter_list_message_contains_torchs():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as theirs:
        torch.optim.Adam([])
    with pytest.raises(ValueError) as ours:
        optim.Adam([])
    assert str(theirs.value) == "optimizer got an empty parameter list" and str(ours.value) == f"Adam: {theirs.value}"


@pytest.mark.parametrize("name,kwargs,fragment", [
    ("SGD", dict(lr=math.nan), "SGD: Invalid learning rate: nan"),
    ("SGD", dict(lr=math.inf), "SGD: Invalid learning rate: inf"),  # PyTorch lets an infinite lr through
    ("Adam", dict(lr=-math.inf), "Adam: Invalid learning rate: -inf"),
    ("Adam", dict(eps=math.nan), "Adam: Invalid epsilon value: nan"),
    ("AdamW", dict(betas=(math.nan, 0.9)), "AdamW: Invalid beta parameter at index 0: nan"),
    ("SGD", dict(lr=0.1, momentum=math.inf), "SGD: Invalid momentum value: inf"),
    ("SGD", dict(lr=0.1, weight_decay=math.nan), "SGD: Invalid weight_decay value: nan"),
    ("SGD", dict(lr=0.1, dampening=math.inf), "SGD: Invalid dampening value: inf"),
    ("RMSprop", dict(alpha=math.nan), "RMSprop: Invalid alpha value: nan"),
    ("Adagrad", dict(initial_accumulator_value=math.inf), "Adagrad: Invalid initial_accumulator_value value: inf"),
])
def test_constructor_refuses_nan_and_inf(name, kwargs, fragment):
    with pytest.raises(ValueError) as info:
        getattr(optim, name)([nn.Parameter(tn.zeros(2))], **kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize("name,kwargs,fragment", [
    ("SGD", dict(lr="0.1"), "SGD: lr must be a number, got str"),
    ("Adam", dict(amsgrad=1), "Adam: amsgrad must be True or False"),
    ("Adam", dict(betas=0.9), "Adam: betas must be a pair (beta1, beta2), got 0.9"),
    ("RMSprop", dict(centered="yes"), "RMSprop: centered must be True or False"),
])
def test_constructor_type_errors(name, kwargs, fragment):
    with pytest.raises(TypeError) as info:
        getattr(optim, name)([nn.Parameter(tn.zeros(2))], **kwargs)
    assert fragment in str(info.value)


def test_constructor_checks_its_arguments_before_the_groups():
    """As PyTorch: a bad default is refused even when every group overrides it."""
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.SGD([{"params": [nn.Parameter(tn.zeros(2))], "lr": 0.1}], lr=-1)
    with pytest.raises(ValueError, match=r"^SGD: Invalid momentum value: -0.5"):
        optim.SGD([{"params": [nn.Parameter(tn.zeros(2))], "momentum": -0.5}], lr=0.1)


def test_add_param_group_validates_and_changes_nothing():
    torch = pytest.importorskip("torch")
    p, q = nn.Parameter(tn.zeros(2)), nn.Parameter(tn.zeros(3))
    opt = optim.Adam([p], lr=0.1)
    for bad, fragment in [({"params": [q], "lr": -1.0}, "Adam: Invalid learning rate: -1.0"),
                          ({"params": [q], "betas": (0.9, 1.5)}, "Adam: Invalid beta parameter at index 1: 1.5"),
                          ({"params": [q], "eps": math.nan}, "Adam: Invalid epsilon value: nan")]:
        with pytest.raises(ValueError) as info:
            opt.add_param_group(bad)
        assert fragment in str(info.value)
    with pytest.raises(TypeError) as ours:
        opt.add_param_group({"params": {q}})
    with pytest.raises(TypeError) as theirs:
        torch.optim.Adam([torch.zeros(1, requires_grad=True)]).add_param_group(
            {"params": {torch.zeros(1, requires_grad=True)}})
    assert str(theirs.value) in str(ours.value)
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([q])
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == [p]
    opt.add_param_group({"params": [q], "lr": 0.01})
    assert len(opt.param_groups) == 2


# --- item 2: schedulers ---------------------------------------------------------------------------------------------
def _sgd(lr=0.1, groups=1):
    if groups == 1:
        return optim.SGD([nn.Parameter(tn.zeros(2))], lr=lr)
    return optim.SGD([{"params": [nn.Parameter(tn.zeros(2))]}, {"params": [nn.Parameter(tn.zeros(2))]}], lr=lr)


SCHEDULERS = {
    "StepLR": lambda o: S.StepLR(o, step_size=2, gamma=0.5),
    "MultiStepLR": lambda o: S.MultiStepLR(o, milestones=[2, 4, 4], gamma=0.3),
    "ExponentialLR": lambda o: S.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, T_max=6, eta_min=0.01),
    "LinearLR": lambda o: S.LinearLR(o, start_factor=0.2, total_iters=4),
    "SequentialLR": lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.2, total_iters=2),
                                                 S.CosineAnnealingLR(o, T_max=5)], milestones=[2]),
    "ReduceLROnPlateau": lambda o: S.ReduceLROnPlateau(o, patience=1, cooldown=1),
}
SCHED_NAMES = list(SCHEDULERS)
SCHED_PAIRS = [(a, b) for a, b in itertools.permutations(SCHED_NAMES, 2)]


def _advance(sched, opt, n):
    for _ in range(n):
        opt.step()
        sched.step(1.0) if isinstance(sched, S.ReduceLROnPlateau) else sched.step()


def _scheduled(name, steps=3, groups=1):
    opt = _sgd(groups=groups)
    sched = SCHEDULERS[name](opt)
    _advance(sched, opt, steps)
    return opt, sched


def _sched_refused(sched, sd, *fragments):
    before = copy.deepcopy(sched.state_dict())
    lrs = [g["lr"] for g in sched.optimizer.param_groups]
    with pytest.raises(ValueError) as info:
        sched.load_state_dict(sd)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    assert sched.state_dict() == before
    assert [g["lr"] for g in sched.optimizer.param_groups] == lrs
    return str(info.value)


@pytest.mark.parametrize("src,dst", SCHED_PAIRS, ids=[f"{a}-into-{b}" for a, b in SCHED_PAIRS])
@pytest.mark.parametrize("tagged", [True, False], ids=["tagged", "untagged"])
def test_scheduler_cross_loading_is_refused(src, dst, tagged):
    _, source = _scheduled(src, steps=4)
    _, target = _scheduled(dst, steps=1)
    sd = source.state_dict()
    if tagged:
        _sched_refused(target, sd, f"{dst}.load_state_dict: the state dict is {src}'s, not {dst}'s")
    else:
        del sd[S.CLASS_KEY]
        _sched_refused(target, sd, f"{dst}.load_state_dict: not {dst}'s state (another scheduler's?)")


def test_step_lr_refuses_cosine_state():
    opt = _sgd()
    step = S.StepLR(opt, step_size=2)
    cos_sd = S.CosineAnnealingLR(_sgd(), T_max=5).state_dict()
    _sched_refused(step, cos_sd, "StepLR.load_state_dict: the state dict is CosineAnnealingLR's, not StepLR's")
    del cos_sd["scheduler"]
    _sched_refused(step, cos_sd, "missing ['gamma', 'step_size'], unexpected ['T_max', 'eta_min']")


@pytest.mark.parametrize("tagged", [True, False], ids=["tagged", "untagged"])
def test_sequential_refuses_another_nested_scheduler(tagged):
    o1, seq = _scheduled("SequentialLR", steps=1)
    o2 = _sgd()
    other = S.SequentialLR(o2, [S.LinearLR(o2, start_factor=0.2, total_iters=2), S.ExponentialLR(o2, gamma=0.9)],
                           milestones=[2])
    _advance(other, o2, 3)
    sd = other.state_dict()
    nested_before = [copy.deepcopy(s.state_dict()) for s in seq._schedulers]
    if tagged:
        fragment = "SequentialLR.load_state_dict: scheduler 1: the state dict is ExponentialLR's, not CosineAnnealingLR's"
    else:
        sd = {**sd, "_schedulers": [{k: v for k, v in s.items() if k != "scheduler"} for s in sd["_schedulers"]]}
        fragment = "SequentialLR.load_state_dict: scheduler 1: not CosineAnnealingLR's state"
    _sched_refused(seq, sd, fragment)
    assert [s.state_dict() for s in seq._schedulers] == nested_before  # the first, fitting one was not loaded


def _set(key, value):
    def edit(sd):
        sd[key] = value
    return edit


def _nested(i, key, value):
    def edit(sd):
        sd["_schedulers"] = [dict(s) for s in sd["_schedulers"]]
        sd["_schedulers"][i][key] = value
    return edit


BAD_SCHED = [
    # (scheduler, edit, expected in the message)
    *[(n, _set("last_epoch", v), "last_epoch must be an int >= -1") for n in ("StepLR", "LinearLR", "SequentialLR")
      for v in (-2, 1.5, "3", None)],
    *[(n, _set("base_lrs", v), "base_lrs") for n in ("StepLR", "CosineAnnealingLR") for v in
      ([math.nan, 0.1], [0.1, -0.1], [0.1, math.inf], [0.1], [0.1, 0.1, 0.1], 0.1, [0.1, "0.1"])],
    ("ExponentialLR", _set("_last_lr", [0.1]), "_last_lr must be a list of 2 lr(s)"),
    ("ExponentialLR", _set("_step_count", -1), "_step_count must be an int >= 0"),
    ("ExponentialLR", _set("_is_initial", "no"), "_is_initial must be True or False"),
    ("StepLR", _set("step_size", 0), "step_size must be a positive int (got step_size=0)"),
    ("StepLR", _set("step_size", 2.5), "step_size must be a positive int"),  # (2.0 is taken as 2)
    ("StepLR", _set("gamma", math.nan), "gamma must be a finite number > 0 (got gamma=nan)"),
    ("ExponentialLR", _set("gamma", 0.0), "gamma must be a finite number > 0"),
    ("MultiStepLR", _set("milestones", {2: 0}), "milestones must map int epochs to int counts > 0"),
    ("MultiStepLR", _set("milestones", [2, 4]), "milestones must map"),
    ("MultiStepLR", _set("gamma", -0.1), "gamma must be a finite number > 0"),
    ("CosineAnnealingLR", _set("T_max", 0), "T_max must be a positive int"),
    ("CosineAnnealingLR", _set("eta_min", math.nan), "eta_min must be a finite number >= 0"),
    ("LinearLR", _set("start_factor", 0.0), "Starting multiplicative factor expected to be greater than 0"),
    ("LinearLR", _set("end_factor", 1.5), "Ending multiplicative factor expected to be between 0 and 1."),
    ("LinearLR", _set("total_iters", 0), "total_iters must be a positive int"),
    ("SequentialLR", _set("_milestones", [2, 3]), "_milestones must be 1 increasing int(s)"),
    ("SequentialLR", _set("_milestones", [2.5]), "_milestones must be 1 increasing int(s)"),
    ("SequentialLR", _set("_schedulers", []), "_schedulers must hold the states of this SequentialLR's 2 schedulers"),
    ("SequentialLR", _nested(1, "T_max", -3), "scheduler 1: T_max must be a positive int"),
    ("SequentialLR", _nested(0, "base_lrs", [math.nan, 0.1]), "scheduler 0: base_lrs[0] must be a finite number"),
    ("SequentialLR", _nested(1, "last_epoch", -5), "scheduler 1: last_epoch must be an int >= -1"),
    ("ReduceLROnPlateau", _set("factor", 1.0), "Factor should be < 1.0."),
    ("ReduceLROnPlateau", _set("factor", -0.5), "factor must be >= 0"),
    ("ReduceLROnPlateau", _set("mode", "lowest"), "mode lowest is unknown!"),
    ("ReduceLROnPlateau", _set("threshold_mode", "pct"), "threshold mode pct is unknown!"),
    ("ReduceLROnPlateau", _set("patience", -1), "patience must be an int >= 0"),
    ("ReduceLROnPlateau", _set("threshold", math.nan), "threshold must be a finite number >= 0"),
    ("ReduceLROnPlateau", _set("min_lrs", [0.0]), "min_lrs must be a list of 2 lr(s)"),
    ("ReduceLROnPlateau", _set("best", math.nan), "best must be a number"),
    ("ReduceLROnPlateau", _set("num_bad_epochs", -1), "num_bad_epochs must be an int >= 0"),
    ("ReduceLROnPlateau", _set("cooldown_counter", 0.5), "cooldown_counter must be an int >= 0"),
    ("ReduceLROnPlateau", _set("last_epoch", -1), "last_epoch must be an int >= 0"),
    ("ReduceLROnPlateau", _set("_last_lr", [0.1, math.nan]), "_last_lr[1] must be a finite number >= 0"),
]


@pytest.mark.parametrize("name,edit,fragment", BAD_SCHED, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_SCHED)])
def test_scheduler_bad_values_are_refused(name, edit, fragment):
    _, source = _scheduled(name, steps=4, groups=2)
    _, target = _scheduled(name, steps=1, groups=2)
    sd = source.state_dict()
    edit(sd)
    _sched_refused(target, sd, f"{name}.load_state_dict", fragment)


@pytest.mark.parametrize("name", SCHED_NAMES)
def test_scheduler_wrong_types_are_refused(name):
    _, sched = _scheduled(name)
    _sched_refused(sched, [1, 2], f"{name}.load_state_dict: expected a dict")
    _sched_refused(sched, {}, "missing")


@pytest.mark.parametrize("name", SCHED_NAMES)
@pytest.mark.parametrize("suffix", [None, ".safetensors", ".npz"])
def test_scheduler_round_trip_is_exact(name, suffix, tmp_path):
    opt, sched = _scheduled(name, steps=4, groups=2)
    osd, ssd = opt.state_dict(), sched.state_dict()
    assert ssd[S.CLASS_KEY] == name
    if suffix is not None:
        tn.save({"optimizer": osd, "scheduler": ssd}, tmp_path / f"ck{suffix}")
        loaded = tn.load(tmp_path / f"ck{suffix}")
        osd, ssd = loaded["optimizer"], loaded["scheduler"]
    before = copy.deepcopy(sched.state_dict())
    sched.load_state_dict(ssd)
    assert sched.state_dict() == before
    opt2 = _sgd(groups=2)
    sched2 = SCHEDULERS[name](opt2)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(ssd)
    assert sched2.state_dict() == before
    _advance(sched, opt, 5)
    _advance(sched2, opt2, 5)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name", SCHED_NAMES)
def test_untagged_scheduler_state_still_loads(name):
    _, sched = _scheduled(name, steps=4)
    sd = sched.state_dict()
    del sd[S.CLASS_KEY]
    if name == "SequentialLR":
        sd["_schedulers"] = [{k: v for k, v in s.items() if k != S.CLASS_KEY} for s in sd["_schedulers"]]
    before = copy.deepcopy(sched.state_dict())
    _, target = _scheduled(name, steps=1)
    target.load_state_dict(sd)
    assert target.state_dict() == before


SCHED_CTOR_TORCH = [
    ("LinearLR", dict(start_factor=0.0)),
    ("LinearLR", dict(start_factor=1.5)),
    ("LinearLR", dict(end_factor=-0.1)),
    ("LinearLR", dict(end_factor=1.5)),
    ("ReduceLROnPlateau", dict(factor=1.0)),
    ("ReduceLROnPlateau", dict(mode="lowest")),
    ("ReduceLROnPlateau", dict(threshold_mode="pct")),
    ("ReduceLROnPlateau", dict(min_lr=[0.0, 0.0, 0.0])),
]


@pytest.mark.parametrize("name,kwargs", SCHED_CTOR_TORCH, ids=[f"{n}-{k}" for n, k in SCHED_CTOR_TORCH])
def test_scheduler_constructor_messages_contain_torchs(name, kwargs):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim.lr_scheduler, name)(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(S, name)(_sgd(), **kwargs)
    assert str(ours.value).startswith(f"{name}: ") and str(theirs.value) in str(ours.value)


@pytest.mark.parametrize("make,fragment", [
    (lambda o: S.StepLR(o, step_size=0), "StepLR: step_size must be a positive int (got step_size=0)"),
    (lambda o: S.StepLR(o, step_size=2.5), "step_size must be a positive int (got step_size=2.5)"),
    (lambda o: S.StepLR(o, step_size=2, gamma=math.nan), "StepLR: gamma must be a finite number > 0"),
    (lambda o: S.StepLR(o, step_size=2, gamma=0), "StepLR: gamma must be a finite number > 0 (got gamma=0)"),
    (lambda o: S.StepLR(o, step_size=2, last_epoch=-2), "StepLR: last_epoch must be an int >= -1"),
    (lambda o: S.MultiStepLR(o, milestones=[2, 3.5]), "MultiStepLR: milestones must be ints"),
    (lambda o: S.MultiStepLR(o, milestones=[2], gamma=math.inf), "MultiStepLR: gamma must be a finite number > 0"),
    (lambda o: S.ExponentialLR(o, gamma=-0.5), "ExponentialLR: gamma must be a finite number > 0"),
    (lambda o: S.CosineAnnealingLR(o, T_max=0), "CosineAnnealingLR: T_max must be a positive int (got T_max=0)"),
    (lambda o: S.CosineAnnealingLR(o, T_max=10.0), "T_max must be a positive int"),
    (lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=-1.0), "eta_min must be a finite number >= 0"),
    (lambda o: S.LinearLR(o, total_iters=0), "LinearLR: total_iters must be a positive int"),
    (lambda o: S.LinearLR(o, start_factor=math.nan), "Starting multiplicative factor"),
    (lambda o: S.ReduceLROnPlateau(o, factor=math.nan), "ReduceLROnPlateau: Factor should be < 1.0."),
    (lambda o: S.ReduceLROnPlateau(o, factor=-0.1), "ReduceLROnPlateau: factor must be >= 0"),
    (lambda o: S.ReduceLROnPlateau(o, patience=-1), "ReduceLROnPlateau: patience must be an int >= 0"),
    (lambda o: S.ReduceLROnPlateau(o, cooldown=1.5), "ReduceLROnPlateau: cooldown must be an int >= 0"),
    (lambda o: S.ReduceLROnPlateau(o, threshold=-1e-4), "threshold must be a finite number >= 0"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=math.nan), "min_lrs[0] must be a finite number >= 0"),
    (lambda o: S.ReduceLROnPlateau(o, eps=math.nan), "eps must be a finite number >= 0"),
    (lambda o: S.SequentialLR(o, [], milestones=[]), "SequentialLR expects at least one scheduler"),
])
def test_scheduler_constructor_refuses_bad_values(make, fragment):
    opt = _sgd()
    lr = opt.param_groups[0]["lr"]
    with pytest.raises(ValueError) as info:
        make(opt)
    assert fragment in str(info.value)
    assert opt.param_groups[0]["lr"] == lr
