"""GradSampleModule: wrap a model so that backward also fills ``p.grad_sample`` (N, *p.shape).

Every submodule that owns trainable parameters gets a forward hook. The hook saves the layer's
input activations (detached) and registers a hook on the layer's output tensor; during backward
that output hook receives ``dL/d(output)`` and hands both arrays to the layer's rule in
:mod:`tinynet.privacy.grad_sample`. Ordinary ``p.grad`` is still accumulated by autograd as usual.

``loss_reduction`` says how the loss combined the samples: with ``"mean"`` (the default, as
``F.cross_entropy``) each sample's output gradient carries a factor ``1/N``, so the rule's result
is multiplied by N to get each sample's own gradient; with ``"sum"`` it is used as is.
Layers are assumed batch-first (axis 0 indexes samples). A layer used several times in one
forward pass gets the sum of its per-sample gradients over the uses. Per-sample gradients
accumulate over backward calls until :meth:`zero_grad` (or ``DPOptimizer.zero_grad``) clears them.
"""
from __future__ import annotations

from ..autograd import no_grad
from ..nn.module import Module
from ..tensor.tensor import Tensor
from .grad_sample import compute_grad_samples, rule_for, supported_layers

__all__ = ["GradSampleModule"]


def _own_trainable(module):
    return [(n, p) for n, p in module.named_parameters(recurse=False) if p.requires_grad]


class GradSampleModule(Module):
    """Opacus' ``GradSampleModule``: ``GradSampleModule(model)(x)`` runs ``model`` and, on backward,
    stores per-sample gradients in ``p.grad_sample`` for every trainable parameter.

    Raises TypeError at construction when a submodule with trainable parameters has no rule.
    """

    def __init__(self, module, batch_first: bool = True, loss_reduction: str = "mean"):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"GradSampleModule: expected an nn.Module, got {type(module).__name__}")
        if not batch_first:
            raise ValueError("GradSampleModule: only batch_first=True is supported (samples on axis 0); "
                             "transpose the input so the batch axis comes first")
        if loss_reduction not in ("mean", "sum"):
            raise ValueError(f"GradSampleModule: loss_reduction must be 'mean' or 'sum', got {loss_reduction!r}")
        self._module = module
        self.loss_reduction = loss_reduction
        self.batch_first = batch_first
        self._handles = []
        for name, sub in module.named_modules():
            if not _own_trainable(sub):
                continue
            if rule_for(sub) is None:
                raise TypeError(
                    f"GradSampleModule: layer {name or '<root>'!r} ({type(sub).__name__}) has trainable parameters "
                    f"but no per-sample gradient rule; supported layers are {', '.join(supported_layers())}; "
                    "freeze it (`p.requires_grad_(False)`) or register a rule with "
                    "`tinynet.privacy.register_grad_sampler`"
                )
            self._handles.append(sub.register_forward_hook(self._forward_hook))

    def forward(self, *args, **kwargs):
        return self._module(*args, **kwargs)

    def _forward_hook(self, module, args, output):
        if not args or not getattr(output, "requires_grad", False):
            return None                      # under no_grad (evaluation): nothing to differentiate
        activations = args[0].array.copy() if hasattr(args[0], "array") else args[0]

        def on_grad(grad):
            self._capture(module, activations, grad.array)
            return None

        output.register_hook(on_grad)
        return None

    def _capture(self, module, activations, backprops):
        n = activations.shape[0]
        if backprops.shape[0] != n:
            raise ValueError(f"GradSampleModule: {type(module).__name__} got an input with {n} samples but an output "
                             f"gradient with {backprops.shape[0]}; layers must be batch-first")
        if self.loss_reduction == "mean":
            backprops = backprops * n
        with no_grad():
            samples = compute_grad_samples(module, activations, backprops)
        for name, gs in samples.items():
            p = getattr(module, name)
            if p.grad_sample is not None:  # a layer used twice in one forward: its samples add up
                gs = p.grad_sample.array + gs
            p.grad_sample = Tensor._make(gs, p.device)  # a Tensor, as Opacus' grad_sample

    def zero_grad(self, set_to_none: bool = True):
        """Clear ``.grad`` (as Module.zero_grad) and ``.grad_sample`` of every parameter."""
        super().zero_grad(set_to_none=set_to_none)
        for p in self.parameters():
            p.grad_sample = None

    def remove_hooks(self):
        """Detach the hooks; the wrapped module behaves as before wrapping."""
        for h in self._handles:
            h.remove()
        self._handles = []
