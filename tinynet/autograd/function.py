"""PyTorch's custom-function API: ``tn.autograd.Function`` with ``forward(ctx, ...)``/``backward(ctx, ...)``.

Write a new differentiable operation as PyTorch users do::

    class Cube(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    y = Cube.apply(x)

``forward`` runs with graph recording off, on Tensors; ``backward`` receives one gradient
per output and returns one gradient per ``forward`` argument (None for arguments without
one). Because ``backward`` is written with tinynet ops, differentiating it again
(``create_graph=True``, ``gradgradcheck``) works, unless it is decorated with
:func:`once_differentiable`.

How it sits on the engine: each output becomes the output of one internal graph node
(:class:`CustomOp`, an :class:`~tinynet.autograd.op.Op`) whose backward calls the user's
``backward``. With several outputs, node *k* calls ``backward`` with output *k*'s gradient
and zeros for the others; the engine adds the results. That equals one call with all the
gradients because a backward is linear in its incoming gradients (a vector-Jacobian
product); it costs one call per output that receives a gradient.

``ctx`` offers PyTorch's ``save_for_backward`` / ``saved_tensors``, ``needs_input_grad``,
``mark_non_differentiable``, ``mark_dirty`` (a forward that changes an input in place and
returns it: the tensor then becomes the output of the node) and ``set_materialize_grads``,
and any other attribute can be stored on it (``ctx.scale = 2``). A gradient returned with a
broadcast shape is summed down to its input's shape, as PyTorch does.
"""
from __future__ import annotations

import functools

from ..backend.errors import ShapeError
from .grad_mode import STATE, no_grad
from .op import Op


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward`` (see the module docstring)."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._non_differentiable = set()
        self._dirty = set()
        self.materialize_grads = True
        self._outputs = {}

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs, outputs or None) for ``backward``; read them back from
        ``ctx.saved_tensors``. Changing a saved input in place before backward is an error."""
        for t in tensors:
            if t is not None and not hasattr(t, "grad_fn"):
                raise TypeError(f"save_for_backward: only tensors (or None) can be saved, got {type(t).__name__}; "
                                "store other values as attributes of ctx (`ctx.k = k`)")
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``; a saved output is the graph's output."""
        return tuple(self._outputs.get(id(t), t) if t is not None else None for t in self._saved)

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (indices, masks): they will not require grad."""
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """Inputs that ``forward`` changed in place (they must be returned as outputs)."""
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        """With True (the default) ``backward`` gets zero tensors for outputs that received
        no gradient; with False it gets None for them."""
        self.materialize_grads = bool(value)


def once_differentiable(backward):
    """Decorator for a ``backward`` that is not itself differentiable (e.g. it works on
    arrays): it runs with recording off, and asking for a gradient of its result
    (``create_graph=True``) raises a clear error instead of returning a wrong one."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        if STATE.enabled and any(g is not None and g.requires_grad for g in grads):
            raise RuntimeError(
                "this custom Function's backward is decorated with @once_differentiable, so it can't be "
                "differentiated again (create_graph=True / double backward)"
            )
        with no_grad():
            return backward(ctx, *grads)

    wrapper._once_differentiable = True
    return wrapper


def _sum_to(grad, shape):
    """PyTorch's rule for a custom backward's gradient of a broadcast shape: sum it down to
    the input's shape when the input's shape broadcasts to it (else leave it to the check)."""
    gshape = tuple(grad.shape)
    if gshape == shape or len(gshape) < len(shape):
        return grad
    lead = len(gshape) - len(shape)
    if any(s != 1 and s != g for s, g in zip(shape, gshape[lead:])):
        return grad
    if lead:
        grad = grad.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, (s, g) in enumerate(zip(shape, grad.shape)) if s == 1 and g != 1)
    return grad.sum(dim=dims, keepdim=True) if dims else grad


class CustomOp(Op):
    """The graph node of one output of a :class:`Function` (its backward calls the user's)."""

    name = "custom_function"
    saves_values = False  # the user's saved tensors are checked by their own nodes' versions

    def forward(self, *arrays):
        return self.result_array

    def backward(self, g):
        cls, ctx, k, outputs = self.fn_cls, self.ctx, self.index, self.outputs
        grads = []
        for i, out in enumerate(outputs):
            if i == k:
                grads.append(g)
            elif ctx.materialize_grads and out is not None:
                grads.append(self.constant(self.xp.zeros(out.shape, dtype=out.array.dtype)))
            else:
                grads.append(None)
        result = cls.backward(ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n_args = len(self.arg_is_tensor)
        if len(result) < n_args:
            raise RuntimeError(
                f"{cls.__name__}.backward returned {len(result)} gradient(s) but forward took {n_args} "
                "argument(s); return one per forward argument (None where there is none)"
            )
        if any(r is not None for r in result[n_args:]):
            raise RuntimeError(f"{cls.__name__}.backward returned {len(result)} gradients, more than the "
                               f"{n_args} forward arguments")
        tensor_grads = []
        for is_tensor, inp_index, r in zip(self.arg_is_tensor, range(n_args), result):
            if not is_tensor:
                if r is not None:
                    raise RuntimeError(f"{cls.__name__}.backward returned a gradient for argument {inp_index}, "
                                       "which is not a tensor; return None there")
                continue
            inp = self.inputs[len(tensor_grads)]
            if r is not None:
                if not hasattr(r, "grad_fn"):
                    r = self.constant(self.xp.asarray(r, dtype=inp.array.dtype))
                r = _sum_to(r, tuple(inp.shape))
                if tuple(r.shape) != tuple(inp.shape):
                    raise ShapeError(
                        f"{cls.__name__}.backward: the gradient for argument {inp_index} has shape "
                        f"{tuple(r.shape)} but the argument has shape {tuple(inp.shape)}; they must match"
                    )
            tensor_grads.append(r)
        return tuple(tensor_grads)


class Function:
    """Base class of custom differentiable operations, PyTorch's way (see the module docstring).

    Subclass it with ``@staticmethod`` ``forward(ctx, *args, **kwargs)`` and
    ``backward(ctx, *grad_outputs)``, and call ``MyFn.apply(*args)``; never instantiate it.
    """

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: custom Functions are not instantiated; call "
                           f"{type(self).__name__}.apply(...)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a custom Function must define @staticmethod forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a custom Function must define @staticmethod backward(ctx, *grads) "
                                  "to be differentiated")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` and, when an input requires grad, record the graph."""
        is_tensor = tuple(hasattr(a, "grad_fn") and hasattr(a, "array") for a in args)
        tensors = [a for a, t in zip(args, is_tensor) if t]
        ctx = FunctionCtx(tuple(t and a.requires_grad for a, t in zip(args, is_tensor)))
        with no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        recording = STATE.enabled and any(ctx.needs_input_grad)
        if not recording or not tensors:
            return result
        for t in tensors:
            if id(t) in ctx._dirty and t.requires_grad and t.grad_fn is None:
                raise RuntimeError(f"{cls.__name__}: forward changed in place (mark_dirty) a leaf tensor that "
                                   "requires grad; clone it first or change a non-leaf tensor")
        # a tensor changed in place enters the node as an alias holding its old place in the graph
        node_inputs = [t._make(t.array, t.device, t.requires_grad, t.grad_fn, [0]) if id(t) in ctx._dirty else t
                       for t in tensors]
        wrapped = []
        differentiable = [o for o in outputs if hasattr(o, "grad_fn") and id(o) not in ctx._non_differentiable]
        for k, out in enumerate(outputs):
            if not hasattr(out, "grad_fn"):
                wrapped.append(out)
                continue
            if id(out) in ctx._non_differentiable or out.array.dtype.kind != "f":
                wrapped.append(out.detach() if out.requires_grad else out)
                continue
            node_out = CustomOp.apply(*node_inputs, fn_cls=cls, ctx=ctx, index=k, outputs=outputs,
                                      arg_is_tensor=is_tensor, result_array=out.array)
            if id(out) in ctx._dirty:  # an input changed in place: it becomes the output, as in PyTorch
                out.array, out.grad_fn, out._requires_grad = node_out.array, node_out.grad_fn, True
                node_out = out
            ctx._outputs[id(out)] = node_out
            wrapped.append(node_out)
        if not differentiable:
            return result
        return wrapped[0] if single else tuple(wrapped)
