"""Reverse-mode automatic differentiation: the chain rule over the recorded graph.

Every tensor produced by an op with a grad-requiring input points to its node
(``t.grad_fn``); every node points to its inputs. ``backward`` walks the nodes from the
output back to the leaves in reverse topological order, and at each node applies the
chain rule::

    dL/d(input_i) += node.backward(dL/d(output))[i]

Gradients of intermediate tensors live only in the ``grads`` table during the walk;
leaves (tensors created by the user with ``requires_grad=True``) accumulate theirs in
``.grad``. The order is built iteratively, so a graph thousands of nodes deep (a long
RNN unroll) needs no recursion.

Two optional extras cost one flag test when unused: in anomaly mode
(``autograd.detect_anomaly``) each node's gradients are checked for NaN, and a leaf's
``register_post_accumulate_grad_hook`` hooks run once per backward, as soon as its ``.grad``
has received the gradient summed over all its uses (during the walk, once the last node
feeding it has run). ``queue_callback`` runs a function when the backward has finished.
"""
from __future__ import annotations

import weakref

from ..backend.errors import DeviceError, ShapeError
from .anomaly_mode import ANOMALY, check_nan
from .hooks import add_hook
from .op import GraphFreedError
from .grad_mode import STATE, set_grad_enabled

#: ``Tensor.register_post_accumulate_grad_hook``: ``id(leaf) -> (weak ref to the leaf, {id: hook})``,
#: each hook called with the leaf after its ``.grad`` was updated by a backward. (Keyed by id,
#: not a WeakKeyDictionary: Tensor's ``==`` is elementwise.) An entry goes when its leaf dies.
POST_ACCUMULATE_HOOKS: dict = {}


def register_post_accumulate_grad_hook(tensor, hook):
    """Call ``hook(tensor)`` each time a backward has accumulated into ``tensor.grad``
    (a leaf that requires grad), e.g. to step an optimizer per parameter as soon as its
    gradient is ready. The hook returns nothing. Returns a removable handle."""
    if tensor.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors; register them on "
                           "the leaves (parameters), or use register_hook on this tensor")
    if not tensor._requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't "
                           "require gradient; call `x.requires_grad_()` first")
    key = id(tensor)
    entry = POST_ACCUMULATE_HOOKS.get(key)
    if entry is None or entry[0]() is not tensor:
        entry = POST_ACCUMULATE_HOOKS[key] = (weakref.ref(tensor, lambda _, k=key: POST_ACCUMULATE_HOOKS.pop(k, None)),
                                              {})
    return add_hook(entry[1], hook)


def _post_accumulate(leaf):
    entry = POST_ACCUMULATE_HOOKS.get(id(leaf))
    if entry is not None and entry[0]() is leaf:
        for hook in list(entry[1].values()):
            hook(leaf)


def topological_order(roots):
    """Nodes reachable from ``roots`` (Ops), each after every node that consumes it.

    Iterative depth-first search; returns nodes in post-order reversed, i.e. outputs first.
    """
    order, seen = [], set()
    stack = [(fn, False) for fn in roots]
    while stack:
        fn, expanded = stack.pop()
        if expanded:
            order.append(fn)
            continue
        if fn in seen:
            continue
        if fn.freed:
            raise GraphFreedError(
                f"{fn.op_name()}: trying to backward through the graph a second time, but its "
                "saved values were freed after the first backward. Pass retain_graph=True to the "
                "first backward() if you need to backward twice."
            )
        seen.add(fn)
        stack.append((fn, True))
        for t in fn.inputs:
            g = t.grad_fn
            if g is not None and g not in seen:
                stack.append((g, False))
    order.reverse()
    return order


def _fit(grad, like, fn):
    """Give a computed gradient its tensor's dtype; check its shape (a bug guard)."""
    if grad.array.dtype != like.array.dtype:
        grad = grad.to(like.array.dtype)
    if grad.array.shape != like.array.shape:
        raise RuntimeError(
            f"internal error in {fn.op_name()}.backward: gradient of shape {tuple(grad.shape)} "
            f"for an input of shape {tuple(like.shape)}"
        )
    return grad


def _run_hooks(hooks, g, who):
    """Pass the gradient Tensor ``g`` through ``Tensor.register_hook`` hooks, in order; a hook
    that returns a Tensor replaces the gradient (it must keep its shape)."""
    for hook in list(hooks.values()):
        new = hook(g)
        if new is not None:
            if tuple(new.shape) != tuple(g.shape):
                raise ShapeError(f"a gradient hook on {who} returned shape {tuple(new.shape)}; "
                                 f"it must keep the gradient's shape {tuple(g.shape)}")
            g = new
    return g


def _run_hooks_array(hooks, g, like, who):
    """:func:`_run_hooks` on the array fast path: hooks see (and may return) Tensors."""
    t = like._make(g, like.device, False, None, None)
    out = _run_hooks(hooks, t, who)
    return g if out is t else out.array


def _capture_targets(capture):
    """For ``autograd.grad``: ``(want_leaf, want_node, results)``: which result slots each
    captured leaf (by id) and each captured non-leaf (by its grad_fn) fills, and the slots.
    Empty maps and None when nothing is captured (a plain ``backward``)."""
    want_leaf, want_node = {}, {}
    if capture is None:
        return want_leaf, want_node, None
    for i, t in enumerate(capture):
        if t.grad_fn is not None:
            want_node.setdefault(t.grad_fn, []).append(i)
        else:
            want_leaf.setdefault(id(t), []).append(i)
    return want_leaf, want_node, [None] * len(capture)


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, capture=None):
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    With ``capture=None`` leaf gradients accumulate into ``.grad`` (``Tensor.backward``).
    Otherwise ``capture`` lists the tensors whose gradients are wanted
    (``autograd.grad``): they are returned in that order and no ``.grad`` is touched.

    Without ``create_graph`` nothing about the backward itself is recorded, so the walk
    runs on raw arrays (:func:`_run_backward_arrays`, each node's ``backward_array``); with
    it, every gradient is a Tensor made by the nodes' differentiable ``backward`` formulas
    (:func:`_run_backward_tensors`).
    """
    _CALLBACKS.append([])
    try:
        if create_graph:
            results = _run_backward_tensors(roots, root_grads, retain_graph, capture)
        else:
            results = _run_backward_arrays(roots, root_grads, retain_graph, capture)
        queued = _CALLBACKS[-1]
        while queued:  # a callback may queue another
            queued.pop(0)()
    finally:
        _CALLBACKS.pop()
    return results


#: One list per backward in progress (a hook may start a nested one): the callbacks
#: :func:`queue_callback` put there, run when that backward has finished.
_CALLBACKS: list = []


def queue_callback(callback):
    """Run ``callback()`` once the backward now in progress has finished (every ``.grad``
    written, every hook run). Only callable from inside a backward, e.g. from a gradient
    hook: this is how DistributedDataParallel waits for its last all-reduce before
    ``backward()`` returns (PyTorch's ``Variable._execution_engine.queue_callback``)."""
    if not _CALLBACKS:
        raise RuntimeError("queue_callback: no backward is running; call it from a hook during backward()")
    _CALLBACKS[-1].append(callback)


def _run_backward_tensors(roots, root_grads, retain_graph, capture):
    """``run_backward`` with ``create_graph``: the walk on Tensors, recording a graph of it.

    Every node's Tensor ``backward`` runs with recording on, so the gradients (and the
    leaves' ``.grad``) are themselves part of a graph and can be differentiated again. A
    node whose backward is only a fused kernel raises its clear error here.
    """
    grads = {}
    want_leaf, want_node, results = _capture_targets(capture)
    if capture is None:
        results = []

    pending = {}  # leaves with hooks: their gradient is summed first, then hooked once
    touched = {}  # leaves with post-accumulate hooks whose .grad changed: called once, at the end

    def to_leaf(leaf, g, hooked=False):
        if leaf._hooks and not hooked:
            old = pending.get(id(leaf))
            pending[id(leaf)] = (leaf, g if old is None else old[1] + g)
            return
        if capture is None:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
            if POST_ACCUMULATE_HOOKS:
                touched[id(leaf)] = leaf
            return
        for i in want_leaf.get(id(leaf), ()):
            results[i] = g if results[i] is None else results[i] + g

    roots_fn = []
    for t, g in zip(roots, root_grads):
        fn = t.grad_fn
        if fn is None:
            if t._requires_grad:
                to_leaf(t, g)
            continue
        grads[fn] = grads[fn] + g if fn in grads else g
        roots_fn.append(fn)

    with set_grad_enabled(True):
        for fn in topological_order(roots_fn):
            g = grads.pop(fn, None)
            if g is None:
                continue
            if fn._hooks:
                g = _run_hooks(fn._hooks, g, f"the output of {fn.op_name()}")
            if fn._retained is not None:
                kept = fn._retained()
                if kept is not None:
                    kept.grad = g
            for i in want_node.get(fn, ()):
                results[i] = g
            fn.check_versions()
            in_grads = fn.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if ANOMALY.enabled and ANOMALY.check_nan:
                check_nan(fn, in_grads, fn.xp.isnan)
            for inp, gi in zip(fn.inputs, in_grads):
                if gi is None or not inp._requires_grad:
                    continue
                gi = _fit(gi, inp, fn)
                nxt = inp.grad_fn
                if nxt is None:
                    to_leaf(inp, gi)
                else:
                    grads[nxt] = grads[nxt] + gi if nxt in grads else gi
            if not retain_graph:
                fn.release()
        for leaf, g in pending.values():
            to_leaf(leaf, _run_hooks(leaf._hooks, g, "a leaf tensor"), hooked=True)
        for leaf in touched.values():
            _post_accumulate(leaf)
    return results


def _last_uses(order):
    """``{node: [leaves]}``: for each leaf with a post-accumulate hook (and no gradient hook,
    whose sum is only hooked at the end), the last node in ``order`` that feeds it a
    gradient. Once that node has run, the leaf's ``.grad`` is final for this backward, so its
    hook can fire during the walk -- DDP starts a bucket's all-reduce there, overlapping the
    communication with the rest of the backward."""
    last = {}
    for fn in order:
        for inp in fn.inputs:
            if inp.grad_fn is None and inp._requires_grad and not inp._hooks and id(inp) in POST_ACCUMULATE_HOOKS:
                last[id(inp)] = (fn, inp)
    final = {}
    for fn, leaf in last.values():
        final.setdefault(fn, []).append(leaf)
    return final


def _store_leaf_grad(leaf, g, stored, touched=None):
    """Accumulate the gradient array ``g`` into ``leaf.grad`` (array fast path).

    The leaf must own its gradient: another leaf, or a view, may share g's memory, so a
    gradient already handed out (``stored`` holds their ids) or a view is copied first.
    """
    if id(g) in stored or getattr(g, "base", None) is not None:
        g = g.copy()
    stored.add(id(g))
    old = leaf.grad
    if old is None:
        leaf.grad = leaf._make(g, leaf.device, False, None, None)
    elif old.device is leaf.device:
        leaf.grad = leaf._make(old.array + g, leaf.device, False, None, None)
    else:  # a .grad the user put on another device: let the op raise its clear error
        leaf.grad = old + leaf._make(g, leaf.device, False, None, None)
    if touched is not None and POST_ACCUMULATE_HOOKS:
        touched[id(leaf)] = leaf


def _run_backward_arrays(roots, root_grads, retain_graph, capture):
    """``run_backward`` without ``create_graph``: the same walk, on raw arrays.

    When no graph of the backward is wanted, wrapping every intermediate gradient in a
    Tensor and running each backward formula through ``Op.apply`` is pure overhead
    (for small models it costs several times the NumPy work itself). Here the gradients
    flowing between nodes are arrays; a node with a ``backward_array`` method (the same
    formula written on arrays) is called directly, any other node gets its gradient
    wrapped as a Tensor and its ``backward`` runs under no_grad. Leaves receive Tensors,
    exactly as on the Tensor path.
    """
    grads = {}
    want_leaf, want_node, results = _capture_targets(capture)
    if capture is not None:

        def to_leaf(leaf, g):
            for i in want_leaf.get(id(leaf), ()):
                results[i] = g if results[i] is None else results[i] + g
    else:
        results, to_leaf = [], None
    stored = set()
    pending = {}  # leaves with hooks: their gradient is summed first, then hooked once
    touched = {}  # leaves with post-accumulate hooks whose .grad changed: called once, when final

    def give_leaf(leaf, g):
        if leaf._hooks:
            old = pending.get(id(leaf))
            pending[id(leaf)] = (leaf, g if old is None else old[1] + g)
        elif to_leaf is None:
            _store_leaf_grad(leaf, g, stored, touched)
        else:
            to_leaf(leaf, g)

    roots_fn = []
    for t, g in zip(roots, root_grads):
        g = g.array
        fn = t.grad_fn
        if fn is None:
            if t._requires_grad:
                give_leaf(t, g)
            continue
        grads[fn] = grads[fn] + g if fn in grads else g
        roots_fn.append(fn)

    order = topological_order(roots_fn)
    final = _last_uses(order) if POST_ACCUMULATE_HOOKS and to_leaf is None else None

    def fire(fn):
        for leaf in final.pop(fn, ()):
            if touched.pop(id(leaf), None) is not None:
                _post_accumulate(leaf)

    prev, STATE.enabled = STATE.enabled, False  # (a bare save/restore: cheaper than the context manager)
    try:
        for fn in order:
            g = grads.pop(fn, None)
            if g is None:
                if final:
                    fire(fn)
                continue
            inputs = fn.inputs
            if fn._hooks:
                g = _run_hooks_array(fn._hooks, g, inputs[0], f"the output of {fn.op_name()}")
            if fn._retained is not None:
                kept = fn._retained()
                if kept is not None:
                    kept.grad = kept._make(g, kept.device, False, None, None)
            if want_node and fn in want_node:
                for i in want_node[fn]:
                    results[i] = g
            if fn._counters is not None:
                fn.check_versions()
            backward_array = fn.backward_array
            if backward_array is not None:
                in_grads = backward_array(g)
                if not isinstance(in_grads, tuple):
                    in_grads = (in_grads,)
            else:
                in_grads = fn.backward(inputs[0]._make(g, fn.device, False, None, None))
                if not isinstance(in_grads, tuple):
                    in_grads = (in_grads,)
                in_grads = tuple(None if gi is None else gi.array for gi in in_grads)
            if ANOMALY.enabled and ANOMALY.check_nan:
                check_nan(fn, in_grads, fn.xp.isnan)
            for inp, gi in zip(inputs, in_grads):
                if gi is None or not inp._requires_grad:
                    continue
                like = inp.array
                if gi.dtype is not like.dtype and gi.dtype != like.dtype:
                    gi = gi.astype(like.dtype)
                if gi.shape != like.shape:
                    raise RuntimeError(
                        f"internal error in {fn.op_name()}.backward: gradient of shape {tuple(gi.shape)} "
                        f"for an input of shape {tuple(like.shape)}"
                    )
                nxt = inp.grad_fn
                if nxt is None:
                    give_leaf(inp, gi)
                elif nxt in grads:
                    grads[nxt] = grads[nxt] + gi
                else:
                    grads[nxt] = gi
            if not retain_graph:
                fn.release()
            if final:
                fire(fn)
        for leaf, g in pending.values():
            g = _run_hooks_array(leaf._hooks, g, leaf, "a leaf tensor")
            if to_leaf is None:
                _store_leaf_grad(leaf, g, stored, touched)
            else:
                to_leaf(leaf, g)
        for leaf in touched.values():
            _post_accumulate(leaf)
    finally:
        STATE.enabled = prev
    if capture is not None:
        results = [None if r is None else t._make(r, t.device, False, None, None)
                   for t, r in zip(capture, results)]
    return results


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not stored in ``.grad``).

    ``grad_outputs`` weighs each output (default: ones, allowed only for one-element
    outputs). With ``create_graph=True`` the results are part of a graph themselves, which
    is how second derivatives are taken. An input the outputs do not depend on raises
    unless ``allow_unused=True`` (then its gradient is None).
    """
    single_in = not isinstance(inputs, (list, tuple))
    outputs = [outputs] if not isinstance(outputs, (list, tuple)) else list(outputs)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not out._requires_grad:
            raise RuntimeError("autograd.grad: an output does not require grad (was it computed under no_grad?)")
        if g is None:
            if out.array.size != 1:
                raise RuntimeError(
                    f"autograd.grad: grad_outputs must be given for an output of shape {tuple(out.shape)} "
                    "(only one-element outputs get an implicit gradient of 1)"
                )
            g = out._make(out.device.xp.ones_like(out.array), out.device)
        elif tuple(g.shape) != tuple(out.shape):
            raise ShapeError(f"autograd.grad: grad_output of shape {tuple(g.shape)} for an output of shape {tuple(out.shape)}")
        seeds.append(g)
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("autograd.grad: every input must require grad")
    if retain_graph is None:
        retain_graph = create_graph
    results = run_backward(outputs, seeds, retain_graph=retain_graph, create_graph=create_graph, capture=inputs)
    for i, (t, r) in enumerate(zip(inputs, results)):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {i} (shape {tuple(t.shape)}) was not used to compute the outputs; "
                "pass allow_unused=True if that is expected"
            )
    return results[0] if single_in else tuple(results)


def _seed(t, g, i):
    """The gradient to start from at output ``t`` (``g``, or ones for a one-element output)."""
    if g is None:
        if t.array.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, but output {i} has "
                               f"shape {tuple(t.shape)}; pass grad_tensors (one per output, of its shape)")
        return t._make(t.device.xp.ones_like(t.array), t.device)
    if not (hasattr(g, "array") and hasattr(g, "grad_fn")):
        g = t._make(t.device.xp.asarray(g, dtype=t.array.dtype), t.device)
    if tuple(g.shape) != tuple(t.shape):
        raise ShapeError(f"backward: grad_tensors[{i}] has shape {tuple(g.shape)} but output {i} has shape "
                         f"{tuple(t.shape)}; they must match")
    if g.device is not t.device:
        raise DeviceError(f"backward: grad_tensors[{i}] is on {g.device.type} but output {i} is on {t.device.type}; "
                          f"move it with `.to('{t.device.type}')`")
    return g


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into ``.grad``.

    PyTorch's ``torch.autograd.backward``: ``tensors`` is a Tensor or a sequence of them;
    ``grad_tensors`` one gradient per tensor (None allowed for one-element tensors, which
    get 1). The graph is freed afterwards unless ``retain_graph`` (default:
    ``create_graph``). With ``inputs`` (a Tensor or a non-empty sequence), only those
    tensors' ``.grad`` are accumulated into (non-leaf ones too), and the rest of the graph
    is left alone; an input the outputs do not depend on keeps its ``.grad``.
    """
    if grad_variables is not None:  # PyTorch's deprecated name
        if grad_tensors is not None:
            raise RuntimeError("backward: give grad_tensors or grad_variables (its old name), not both")
        grad_tensors = grad_variables
    tensors = [tensors] if hasattr(tensors, "grad_fn") else list(tensors)
    if grad_tensors is None or hasattr(grad_tensors, "grad_fn"):
        grad_tensors = [grad_tensors] * (1 if grad_tensors is not None else len(tensors))
    else:
        grad_tensors = list(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"backward: got {len(grad_tensors)} grad_tensors for {len(tensors)} tensors; give one "
                           "per tensor")
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(f"backward: element {i} of tensors does not require grad and does not have a grad_fn")
    seeds = [_seed(t, g, i) for i, (t, g) in enumerate(zip(tensors, grad_tensors))]
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is None:
        run_backward(tensors, seeds, retain_graph=retain_graph, create_graph=create_graph)
        return
    inputs = [inputs] if hasattr(inputs, "grad_fn") else list(inputs)
    if not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] (shape {tuple(t.shape)}) does not require grad; every tensor "
                               "in inputs= must require grad")
    results = run_backward(tensors, seeds, retain_graph=retain_graph, create_graph=create_graph, capture=inputs)
    stored, done = set(), set()
    for t, g in zip(inputs, results):
        if g is None or id(t) in done:
            continue
        done.add(id(t))
        if create_graph:
            t.grad = g if t.grad is None else t.grad + g
        else:
            _store_leaf_grad(t, g.array, stored)
        _post_accumulate(t)
