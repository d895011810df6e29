"""Higher-level differentiation of whole functions (``torch.autograd.functional``).

Each takes a Python function ``func`` of one Tensor or a tuple of Tensors and returns
derivatives of it at ``inputs``:

* ``vjp(func, inputs, v)``  -> ``(func(inputs), vᵀ·J)``           one backward pass
* ``jvp(func, inputs, v)``  -> ``(func(inputs), J·v)``            the double-vjp trick: for
  ``g(u) = uᵀ·J`` (linear in u), ``J·v = d(g(u)·v)/du``, so two backward passes give a
  forward-mode product without a forward-mode engine
* ``jacobian(func, inputs)``: every ``∂out_i/∂in_j``, shape ``out.shape + in.shape``
  (reverse mode: one vjp per output element; ``strategy="forward-mode"``: one jvp per input
  element, which PyTorch allows with ``vectorize=True`` only, and so does this)
* ``hessian(func, inputs)``: the jacobian of the gradient of a scalar function
* ``vhp(func, inputs, v)``  -> ``vᵀ·H``;  ``hvp(func, inputs, v)`` -> ``H·v`` (double-vjp trick)

Shapes and nesting follow PyTorch: a Tensor ``inputs`` (not a tuple) gives Tensor results,
a tuple gives tuples (a tuple of tuples for the jacobian of tuple outputs w.r.t. tuple
inputs). Results are detached unless ``create_graph=True``, which records them so they can
be differentiated again. ``strict=True`` raises when an output is independent of an input
(whose derivative is otherwise zeros). ``vectorize=True`` (PyTorch's vmap-batched rows)
computes the same numbers row by row here: it changes only speed in PyTorch.
"""
from __future__ import annotations

from .engine import grad as _grad
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# --- argument handling -------------------------------------------------------------------------------
def _is_tensor(x) -> bool:
    return hasattr(x, "grad_fn") and hasattr(x, "array")


def _as_tuple(x, arg: str, fn: str):
    """``(is_tuple, tuple of Tensors)``: what PyTorch's ``_as_tuple`` does, with its message."""
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not _is_tensor(t):
            what = f"The {arg} given to {fn} must be either a Tensor or a tuple of Tensors"
            got = f"but the value at index {i} has type {type(t).__name__}." if is_tuple else \
                f"but the given {arg} has type {type(t).__name__}."
            raise TypeError(f"{what} {got}")
    return is_tuple, items


def _prepare(inputs, create_graph: bool):
    """Inputs that require grad and are fresh graph roots (a view when ``create_graph`` keeps
    the caller's graph, so the results can be differentiated back to the originals)."""
    out = []
    for t in inputs:
        if t.dtype.kind != "f":
            raise TypeError(f"autograd.functional: inputs must be floating tensors (they are differentiated), got "
                            f"{t.dtype}; convert them first, e.g. `x.to(tn.float32)`")
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(True))
    return tuple(out)


def _finish(tensors, create_graph: bool):
    return tuple(t if t is None or create_graph else t.detach() for t in tensors)


def _post(res, is_tuple):
    """Undo :func:`_as_tuple` (PyTorch's ``_tuple_postprocess``): ``is_tuple`` a bool or a pair."""
    if isinstance(is_tuple, tuple):
        if not is_tuple[1]:
            res = tuple(r[0] for r in res)
        if not is_tuple[0]:
            res = res[0]
    elif not is_tuple:
        res = res[0]
    return res


def _zeros_like(t, requires_grad=False):
    return t._make(t.device.xp.zeros_like(t.array), t.device, requires_grad, None, None)


def _check_v(v, refs, fn: str, what: str):
    if len(v) != len(refs):
        raise RuntimeError(f"{fn}: v has {len(v)} tensor(s), but {what} has {len(refs)}; give one v per {what} "
                           "entry")
    for i, (a, b) in enumerate(zip(v, refs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{fn}: entry {i} of v has shape {tuple(a.shape)}, but entry {i} of the {what} has "
                               f"shape {tuple(b.shape)}; they must match")


def _check_outputs(outputs, strict: bool, fn: str):
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The "
                                   "outputs must be computed in a differentiable manner from the input when running "
                                   "in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs, create_graph, retain_graph=None):
    """``autograd.grad`` that skips outputs not requiring grad and returns None for unused inputs."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gouts = zip(*pairs)
    return tuple(_grad(list(outs), list(inputs), grad_outputs=list(gouts), create_graph=create_graph,
                       retain_graph=True if retain_graph is None else retain_graph, allow_unused=True))


def _fill_zeros(grads, refs, strict, message):
    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(message.format(i=i))
            g = _zeros_like(r)
        out.append(g)
    return tuple(out)


_INDEPENDENT = ("The output of the user-provided function is independent of input {i}. This is not allowed in "
                "strict mode.")


# --- the functions ----------------------------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·J)``: the vector-Jacobian product at ``inputs`` (one backward pass).
    ``v`` has the outputs' shapes; it may be omitted for a single one-element output."""
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        outputs = func(*inputs)
        is_out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "vjp")
        _check_outputs(outputs, strict, "vjp")
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            _check_v(v, outputs, "vjp", "output")
        else:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                                   "Tensor with a single element.")
            v = (_zeros_like(outputs[0]) + 1,)
        grads = _autograd_grad(outputs, inputs, v, create_graph)
        vjp_ = _fill_zeros(grads, inputs, strict, _INDEPENDENT)
    return _post(_finish(outputs, create_graph), is_out_tuple), _post(_finish(vjp_, create_graph), is_in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J·v)``: the Jacobian-vector product, by the double-vjp trick (module
    docstring). ``v`` has the inputs' shapes; it may be omitted for a single one-element input."""
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        if v is not None:
            _, v = _as_tuple(v, "v", "jvp")
            _check_v(v, inputs, "jvp", "input")
        else:
            if len(inputs) != 1 or inputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                                   "single Tensor with a single element.")
            v = (_zeros_like(inputs[0]) + 1,)
        outputs = func(*inputs)
        is_out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jvp")
        _check_outputs(outputs, strict, "jvp")
        u = tuple(_zeros_like(o, requires_grad=True) for o in outputs)  # g(u) = uᵀJ is linear in u
        grad_u = _autograd_grad(outputs, inputs, u, create_graph=True)
        if strict:
            _fill_zeros(grad_u, inputs, True, _INDEPENDENT)
        pairs = [(g, vi) for g, vi in zip(grad_u, v) if g is not None]
        if pairs:
            gs, vs = zip(*pairs)
            jvp_ = _autograd_grad(gs, u, vs, create_graph)
        else:
            jvp_ = (None,) * len(u)
        jvp_ = _fill_zeros(jvp_, outputs, strict, "The gradient with respect to the input is independent of entry {i}"
                           " in the grad_outputs when using the double backward trick to compute forward mode "
                           "gradients. This is not allowed in strict mode.")
    return _post(_finish(outputs, create_graph), is_out_tuple), _post(_finish(jvp_, create_graph), is_out_tuple)


def _jacobian_rows(outputs, inputs, create_graph, strict):
    """``jac[i][j]``: d outputs[i] / d inputs[j], shape ``out_i.shape + in_j.shape`` (reverse mode)."""
    jac = []
    for i, out in enumerate(outputs):
        n = out.numel()
        blocks = [_zeros_like(inp).reshape(1, -1).expand(n, inp.numel()).clone() if n else
                  _zeros_like(inp).reshape(0, inp.numel()) for inp in inputs]
        flat = out.reshape(-1)
        if out.requires_grad:
            for k in range(n):
                onehot = _zeros_like(flat)
                onehot.array[k] = 1
                grads = _autograd_grad((flat,), inputs, (onehot,), create_graph)
                for j, g in enumerate(grads):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is independent of input "
                                               f"{j}. This is not allowed in strict mode.")
                        continue
                    blocks[j][k] = g.reshape(-1)
        jac.append(tuple(b.reshape(tuple(out.shape) + tuple(inp.shape)) for b, inp in zip(blocks, inputs)))
    return jac


def _jacobian_columns(outputs, inputs, create_graph, strict):
    """The same blocks by forward mode: one jvp (double-vjp trick) per input element."""
    u = tuple(_zeros_like(o, requires_grad=True) for o in outputs)
    grad_u = _autograd_grad(outputs, inputs, u, create_graph=True)
    jac = [[None] * len(inputs) for _ in outputs]
    for j, (inp, g) in enumerate(zip(inputs, grad_u)):
        m = inp.numel()
        cols = [_zeros_like(o).reshape(-1, 1).expand(o.numel(), m).clone() for o in outputs]
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT.format(i=j))
        else:
            gflat = g.reshape(-1)
            for k in range(m):
                onehot = _zeros_like(gflat)
                onehot.array[k] = 1
                col = _autograd_grad((gflat,), u, (onehot,), create_graph)
                for i, c in enumerate(col):
                    if c is not None:
                        cols[i][:, k] = c.reshape(-1)
        for i, o in enumerate(outputs):
            jac[i][j] = cols[i].reshape(tuple(o.shape) + tuple(inp.shape))
    return [tuple(row) for row in jac]


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for each output ``i`` and input ``j`` a Tensor
    of shape ``out_i.shape + in_j.shape`` holding ``∂out_i/∂in_j`` (nesting: module docstring).

    ``strategy="reverse-mode"`` does one vjp per output element; ``"forward-mode"`` one jvp
    per input element (cheaper when there are fewer inputs than outputs), and needs
    ``vectorize=True`` as in PyTorch. An output independent of an input gives zeros, or
    raises with ``strict=True`` (not allowed with forward mode, as in PyTorch)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function '
                         'has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, prefer '
                         'to use "reverse-mode".')
    if strategy == "forward-mode":
        if strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `strategy=\"forward-mode\"` "
                               "are not supported together (yet). Please either set `strict=False` or "
                               "`strategy=\"reverse-mode\"`.")
        if not vectorize:
            raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"` is only "
                                      "implemented with `vectorize=True`, as in PyTorch; pass vectorize=True.")
    with enable_grad():
        is_in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph)
        outputs = func(*inputs)
        is_out_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", "jacobian")
        _check_outputs(outputs, strict, "jacobian")
        if strategy == "forward-mode":
            jac = _jacobian_columns(outputs, inputs, create_graph, strict)
        else:
            jac = _jacobian_rows(outputs, inputs, create_graph, strict)
        jac = tuple(_finish(row, create_graph) for row in jac)
    return _post(jac, (is_out_tuple, is_in_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar function ``func`` at ``inputs``: the jacobian of its
    gradient, shape ``in_i.shape + in_j.shape`` per pair of inputs (a Tensor for a single
    Tensor input, a tuple of tuples for a tuple). ``func`` must return one element."""
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def single_output(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_outputs(t_out, strict, "hessian")
        if is_out_tuple or not _is_tensor(out):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single element")
        return out.squeeze()

    def jac_func(*inp):
        jac = jacobian(single_output, inp, create_graph=True)
        if strict:
            for i, j in enumerate(jac):
                if not j.requires_grad:
                    raise RuntimeError("While computing the hessian, found that the jacobian of the user-provided "
                                       f"function with respect to input {i} is independent of the input. This is not "
                                       "allowed in strict mode. You should ensure that your function is twice "
                                       "differentiable and that the jacobian depends on the inputs (this would be "
                                       "violated by a linear function for example).")
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _post(res, (is_in_tuple, is_in_tuple))


def _second_order(func, inputs, v, create_graph, strict, fn):
    is_in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _prepare(inputs, create_graph)
    if v is not None:
        _, v = _as_tuple(v, "v", fn)
        _check_v(v, inputs, fn, "input")
    else:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                               "Tensor with a single element.")
        v = (_zeros_like(inputs[0]) + 1,)
    outputs = func(*inputs)
    is_out_tuple, outs = _as_tuple(outputs, "outputs of the user-provided function", fn)
    _check_outputs(outs, strict, fn)
    if is_out_tuple or outs[0].numel() != 1:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor with a single element.")
    out = outs[0]
    jac = _autograd_grad((out,), inputs, (_zeros_like(out) + 1,), create_graph=True)
    if strict:
        _fill_zeros(jac, inputs, True, _INDEPENDENT)
    return is_in_tuple, inputs, v, out, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), vᵀ·H)``: the vector-Hessian product of a scalar function (two backward passes)."""
    with enable_grad():
        is_in_tuple, inputs, v, out, jac = _second_order(func, inputs, v, create_graph, strict, "vhp")
        grads = _autograd_grad(jac, inputs, v, create_graph)
        res = _fill_zeros(grads, inputs, strict, "The jacobian of the user-provided function is independent of input "
                          "{i}. This is not allowed in strict mode.")
    return _finish((out,), create_graph)[0], _post(_finish(res, create_graph), is_in_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H·v)``: the Hessian-vector product of a scalar function, by the
    double-vjp trick (three backward passes; equal to :func:`vhp` for a symmetric Hessian)."""
    with enable_grad():
        is_in_tuple, inputs, v, out, jac = _second_order(func, inputs, v, create_graph, strict, "hvp")
        grad_jac = tuple(_zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        if strict:
            _fill_zeros(double_back, inputs, True, "The jacobian of the user-provided function is independent of "
                        "input {i}. This is not allowed in strict mode.")
        pairs = [(d, vi, gj) for d, vi, gj in zip(double_back, v, grad_jac) if d is not None]
        if pairs:
            ds, vs, _ = zip(*pairs)
            grads = _autograd_grad(ds, grad_jac, vs, create_graph)
        else:
            grads = (None,) * len(inputs)
        res = _fill_zeros(grads, inputs, strict, "The hessian of the user-provided function is independent of entry "
                          "{i} in the grad_jacobian. This is not allowed in strict mode as it prevents from using the "
                          "double backward trick to replace forward mode AD.")
    return _finish((out,), create_graph)[0], _post(_finish(res, create_graph), is_in_tuple)
