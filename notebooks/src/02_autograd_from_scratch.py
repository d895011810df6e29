# %% [markdown]
# # 02 · Autograd from scratch
#
# Every number a network learns is changed along a **gradient**, and tinynet computes
# gradients the way PyTorch does: *reverse-mode automatic differentiation*. While you
# compute, each operation records a node (`tensor.grad_fn`) that remembers its inputs
# (`grad_fn.inputs`). `loss.backward()` then walks these nodes from the output back to
# the leaves and applies the **chain rule** at each one.
#
# This notebook
#
# 1. draws the computational graph of a small expression, straight from tinynet's own
#    graph objects;
# 2. does the chain rule step by step by hand and compares every number with autograd;
# 3. evaluates the source documents' activation examples (sigmoid, ReLU, tanh at −2) and
#    corrects two of them;
# 4. shows `tn.gradcheck` catching a deliberately wrong gradient.
#
# The five source documents are Chinese articles on large models, cited by number. Those cited here:
#
# * seed 000: an untitled article on data, algorithms and compute as the three engines of large models (数据、算法、算力), named here by its theme.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch

import tinynet as tn
import tinynet.nn.functional as F

tn.manual_seed(0)
print(f"tinynet {tn.__version__}")

# %% [markdown]
# ## 1 · A small expression and its graph
#
# We build $L = (a\cdot b + c)\cdot f$ with $a=2$, $b=-3$, $c=10$, $f=-2$, naming the
# intermediate results $e = a\cdot b$ and $d = e + c$. Each intermediate tensor has a
# `grad_fn`: the node of the op that produced it. The leaves (our inputs) have none.

# %%
a = tn.tensor(2.0, requires_grad=True)
b = tn.tensor(-3.0, requires_grad=True)
c = tn.tensor(10.0, requires_grad=True)
f = tn.tensor(-2.0, requires_grad=True)
e = a * b
d = e + c
L = d * f
print("L =", L.item())
print("L.grad_fn =", type(L.grad_fn).__name__, "| its inputs:", [t.item() for t in L.grad_fn.inputs])
print("a.grad_fn =", a.grad_fn, "(a leaf)")

# %% [markdown]
# The drawing below is made by walking that structure: start at `L`, look at
# `L.grad_fn`, visit each tensor in `grad_fn.inputs`, and repeat. Boxes are tensors
# (value, and gradient once we have one); circles are the ops.

# %%
def walk(root):
    """Tensors and op nodes reachable from `root`, breadth first, with their depth.

    Depth counts tensor and op levels from the root: L is 0, its op 1, the op's inputs 2...
    """
    depth, edges, tensors, ops, order = {}, [], {}, {}, []
    queue = [(root, 0)]
    while queue:
        t, dep = queue.pop(0)
        if id(t) not in tensors:
            order.append(id(t))
        tensors[id(t)] = t
        depth[id(t)] = max(depth.get(id(t), 0), dep)
        fn = t.grad_fn
        if fn is None:
            continue
        if id(fn) not in ops:
            order.append(id(fn))
        ops[id(fn)] = fn
        depth[id(fn)] = max(depth.get(id(fn), 0), dep + 1)
        edges.append((id(fn), id(t)))
        for inp in fn.inputs:
            edges.append((id(inp), id(fn)))
            queue.append((inp, dep + 2))
    return tensors, ops, edges, depth, order


def draw_graph(root, names, title, show_grad=False, ax=None):
    """Draw the graph behind `root`: boxes are tensors (blue: leaves), circles are ops."""
    tensors, ops, edges, depth, order = walk(root)
    columns = {}
    for k in order:                      # discovery order keeps each op's inputs in order
        columns.setdefault(depth[k], []).append(k)
    pos = {}
    for dep, keys in columns.items():
        for i, k in enumerate(keys):
            pos[k] = (-1.15 * dep, (len(keys) - 1) / 2 - i)
    ax = ax or plt.gca()
    for src, dst in set(edges):
        ax.annotate("", xy=pos[dst], xytext=pos[src],
                    arrowprops=dict(arrowstyle="-|>", color="0.4", shrinkA=24, shrinkB=24))
    for k, t in tensors.items():
        x, y = pos[k]
        text = f"{names.get(k, '?')} = {t.item():.4g}"
        if show_grad:
            text += f"\ngrad {t.grad.item():.4g}" if t.grad is not None else "\ngrad ?"
        colour = "#cfe8ff" if t.grad_fn is None else "#ffe9b3"
        ax.add_patch(FancyBboxPatch((x - 0.42, y - 0.22), 0.84, 0.44, boxstyle="round,pad=0.02",
                                    fc=colour, ec="0.3"))
        ax.text(x, y, text, ha="center", va="center", fontsize=9)
    for k, fn in ops.items():
        x, y = pos[k]
        ax.add_patch(plt.Circle((x, y), 0.22, fc="#e6e6e6", ec="0.3"))
        ax.text(x, y, type(fn).__name__, ha="center", va="center", fontsize=8)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)
    return len(tensors), len(ops)


names = {id(t): n for n, t in dict(a=a, b=b, c=c, f=f, e=e, d=d, L=L).items()}
plt.figure(figsize=(10, 2.8))
n_tensors, n_ops = draw_graph(L, names, "forward pass: L = (a·b + c)·f")
plt.show()
print(f"{n_tensors} tensors, {n_ops} op nodes")

# %% [markdown]
# ## 2 · The chain rule, one node at a time
#
# Backward starts with $\partial L/\partial L = 1$ and, at every node, multiplies the
# gradient arriving from above by the node's *local* derivative:
#
# | node | local derivatives | gradient that flows on |
# |---|---|---|
# | $L = d\cdot f$ | $\partial L/\partial d = f$, $\partial L/\partial f = d$ | $\bar d = f = -2$, $\bar f = d = 4$ |
# | $d = e + c$ | $\partial d/\partial e = 1$, $\partial d/\partial c = 1$ | $\bar e = \bar d = -2$, $\bar c = \bar d = -2$ |
# | $e = a\cdot b$ | $\partial e/\partial a = b$, $\partial e/\partial b = a$ | $\bar a = \bar e\, b = 6$, $\bar b = \bar e\, a = -4$ |
#
# (A bar means "gradient of L with respect to".) Let us do exactly this in Python, then
# ask autograd. Intermediate tensors normally drop their gradient after use; `retain_grad()`
# keeps it so we can look, and `retain_graph=True` keeps the graph for drawing.

# %%
av, bv, cv, fv = 2.0, -3.0, 10.0, -2.0
ev = av * bv
dv = ev + cv
by_hand = {}
by_hand["L"] = 1.0
by_hand["d"] = by_hand["L"] * fv
by_hand["f"] = by_hand["L"] * dv
by_hand["e"] = by_hand["d"] * 1.0
by_hand["c"] = by_hand["d"] * 1.0
by_hand["a"] = by_hand["e"] * bv
by_hand["b"] = by_hand["e"] * av

for t in (e, d, L):
    t.retain_grad()
L.backward(retain_graph=True)
autograd = dict(a=a.grad.item(), b=b.grad.item(), c=c.grad.item(), f=f.grad.item(),
                e=e.grad.item(), d=d.grad.item(), L=L.grad.item())
print(f"{'tensor':>6} {'by hand':>8} {'autograd':>9}")
for k in "abcfedL":
    print(f"{k:>6} {by_hand[k]:8.3f} {autograd[k]:9.3f}")

plt.figure(figsize=(10, 2.8))
draw_graph(L, names, "after L.backward(): every box now knows dL/d(itself)", show_grad=True)
plt.show()

# %% [markdown]
# ### A gradient is a promise about small changes
#
# $\partial L/\partial a = 6$ means: nudge $a$ by a small $h$ and $L$ moves by about
# $6h$. The central difference $\big(L(a+h) - L(a-h)\big)/2h$ checks that promise
# numerically. This is the whole idea behind `gradcheck` (section 4).

# %%
def L_of(a_value):
    return ((a_value * bv + cv) * fv)

h = 1e-4
numeric_dLda = (L_of(av + h) - L_of(av - h)) / (2 * h)
print("finite difference dL/da ≈", round(numeric_dLda, 6), "  autograd:", a.grad.item())

# %% [markdown]
# ## 3 · The documents' activation examples (seed 000, §4.1)
#
# Seed 000 evaluates three activations at $x=-2$. Two of its three answers are wrong:
#
# | activation | document says | correct |
# |---|---|---|
# | sigmoid $1/(1+e^{-x})$ at −2 | ≈ 0.118 | **0.1192** ($1/(1+e^{2}) = 0.119203$; 0.118 is a mis-rounding) |
# | ReLU $\max(0,x)$ at −2 | 0 | 0 ✓ |
# | tanh at −2 | ≈ −0.7616 | **−0.9640**; −0.7616 is tanh(**−1**) |
#
# tinynet gives:

# %%
x = tn.tensor([-2.0], dtype=tn.float64, requires_grad=True)
sig, rel, tnh = F.sigmoid(x), F.relu(x), F.tanh(x)
print(f"sigmoid(-2) = {sig.item():.6f}   (document: 0.118)")
print(f"relu(-2)    = {rel.item():.6f}   (document: 0)")
print(f"tanh(-2)    = {tnh.item():.6f}  (document: -0.7616)")
print(f"tanh(-1)    = {F.tanh(tn.tensor([-1.0])).item():.4f}  <- the document's number")

# %% [markdown]
# Their derivatives come from autograd too: $\sigma'(x) = \sigma(x)(1-\sigma(x))$,
# $\tanh'(x) = 1-\tanh^2 x$, and ReLU's derivative is 0 for negative inputs (a "dead"
# unit passes no gradient back). Below: each activation and its autograd derivative on a
# grid. One backward of `y.sum()` gives all the pointwise derivatives at once, because
# each output depends only on its own input.

# %%
grid = tn.linspace(-4, 4, 161, dtype=tn.float64)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
derivs = {}
for ax, (name, fn) in zip(axes, [("sigmoid", F.sigmoid), ("ReLU", F.relu), ("tanh", F.tanh)]):
    g = grid.detach().requires_grad_()
    y = fn(g)
    y.sum().backward()
    derivs[name] = g.grad.numpy()
    ax.plot(grid.numpy(), y.detach().numpy(), label=name)
    ax.plot(grid.numpy(), g.grad.numpy(), "--", label=f"d {name}/dx (autograd)")
    ax.axvline(-2, color="0.7", lw=0.8)
    ax.set_title(name)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()
gx = np.asarray(grid.numpy())
s = 1 / (1 + np.exp(-gx))
print("max |autograd - σ(1-σ)|  =", np.abs(derivs["sigmoid"] - s * (1 - s)).max())
print("max |autograd - (1-tanh²)| =", np.abs(derivs["tanh"] - (1 - np.tanh(gx) ** 2)).max())

# %% [markdown]
# ## 4 · `gradcheck` catches a wrong gradient
#
# A new op can be written as a `tn.autograd.Function`, exactly as in PyTorch: a static
# `forward(ctx, ...)` that computes the result (graph recording is off inside it) and saves
# what the backward needs, and a static `backward(ctx, grad)` that returns the input's
# gradient written with tinynet ops. Here is $x^3$ twice, once with the correct backward
# ($3x^2$) and once with a typo ($2x^2$). `tn.gradcheck` compares autograd's answer with
# central finite differences (in float64) and raises a report when they disagree.

# %%
class Cube(tn.autograd.Function):
    """y = x³, with the right derivative 3x²."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class WrongCube(Cube):
    """Same forward, but the backward forgot that d(x³)/dx = 3x², not 2x²."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x * x


xs = tn.tensor([[-1.5, 0.3, 2.0]], dtype=tn.float64, requires_grad=True)
print("correct backward passes:", tn.gradcheck(Cube.apply, (xs,)))
try:
    tn.gradcheck(WrongCube.apply, (xs,))
    caught = None
except tn.autograd.GradcheckError as err:
    caught = err
    print(str(err))

# %% [markdown]
# The report shows the numeric and the analytic gradient side by side (each weighted by a
# random output weight, so that one backward pass checks the whole Jacobian): every
# numeric entry is 1.5 times the analytic one, the ratio $3x^2 / 2x^2$. Every op in
# tinynet's registry is checked this way in the test suite, on every device.
#
# `gradgradcheck` does the same one level up: because backward formulas are written with
# tinynet ops, `create_graph=True` differentiates the gradient itself. For example
# $\tanh''(x) = -2\tanh x\,(1-\tanh^2 x)$:

# %%
x2 = tn.tensor([-2.0], dtype=tn.float64, requires_grad=True)
(dy,) = tn.autograd.grad(F.tanh(x2).sum(), [x2], create_graph=True)
(d2y,) = tn.autograd.grad(dy.sum(), [x2])
t2 = math.tanh(-2.0)
print(f"tanh'(-2)  = {dy.item():.6f}  (formula {1 - t2 ** 2:.6f})")
print(f"tanh''(-2) = {d2y.item():.6f}  (formula {-2 * t2 * (1 - t2 ** 2):.6f})")

# %% [markdown]
# ## Checks
#
# The last cell asserts the numbers this notebook computed, so a regression in tinynet
# (or in the notebook) fails the test suite.

# %%
assert (n_tensors, n_ops) == (7, 3)
assert by_hand == autograd, (by_hand, autograd)
assert autograd["a"] == 6.0 and autograd["b"] == -4.0 and autograd["c"] == -2.0 and autograd["f"] == 4.0
assert abs(numeric_dLda - 6.0) < 1e-6
assert round(sig.item(), 4) == 0.1192 and abs(sig.item() - 0.118) > 1e-3   # document's 0.118 is off
assert rel.item() == 0.0
assert round(tnh.item(), 4) == -0.9640 and round(math.tanh(-1.0), 4) == -0.7616
assert np.abs(derivs["sigmoid"] - s * (1 - s)).max() < 1e-12
assert np.abs(derivs["tanh"] - (1 - np.tanh(gx) ** 2)).max() < 1e-12
assert caught is not None and isinstance(caught, AssertionError)
assert abs(dy.item() - (1 - t2 ** 2)) < 1e-12 and abs(d2y.item() - (-2 * t2 * (1 - t2 ** 2))) < 1e-12
print("all checks passed")
