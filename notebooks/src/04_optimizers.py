# %% [markdown]
# # 04 · Optimizers: how the gradient becomes a step
#
# Backpropagation gives the gradient; the **optimizer** decides what to do with it. The
# source documents name the usual ones: plain gradient descent and momentum (seed 003,
# §4.3), Adam and AdamW (seed 000), Adam and AdaGrad (seed 001), SGD and RMSprop (seed 004). Here each one
# walks down the same 2-D loss surface so you can *see* its path, then trains a real
# model; finally, learning-rate warm-up and decay.
#
# One correction up front: seed 003 writes momentum as
#
# $$v \leftarrow \gamma v - \eta\nabla_\theta L,\qquad \theta \leftarrow \theta + v,$$
#
# while PyTorch (and tinynet) write $b \leftarrow \mu b + \nabla_\theta L$,
# $\theta \leftarrow \theta - \eta b$. They look different but are **the same
# trajectory** at a constant learning rate (substitute $v = -\eta b$); section 2 checks it
# numerically. (With a changing learning rate they differ slightly: the document's $v$
# remembers old learning rates, PyTorch's $b$ does not.)
#
# The five source documents are Chinese articles on large models, cited by number. Those cited here:
#
# * seed 000: an untitled article on data, algorithms and compute as the three engines of large models (数据、算法、算力), named here by its theme;
# * seed 001: an untitled article on the technology, market and policy trends facing founders in the era of large models (大模型时代创业者面临的技术、市场和政策趋势), named by its abstract;
# * seed 003: *大模型：数据驱动的智能革命* (Large models: the data-driven intelligence revolution);
# * seed 004: the untitled article that opens with *算力提升推动大模型发展* (Growing compute drives large models).

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim

tn.manual_seed(0)
FULL = False   # True: more steps on the real model

# %% [markdown]
# ## 1 · Paths on a 2-D loss surface
#
# The surface is a long, narrow, curved valley (a softened Rosenbrock function), minimum
# at $(1, 1)$:
#
# $$L(x, y) = (1-x)^2 + 10\,(y - x^2)^2 .$$
#
# Along the valley floor the slope is gentle; across it, steep. Plain gradient descent
# must use a small learning rate (or it bounces from wall to wall) and then crawls along
# the floor. Momentum builds up speed along the floor; RMSprop and Adam divide each
# coordinate's step by a running size of its gradients, so both directions move at a
# similar pace.

# %%
def surface(p):
    """The loss at a point p = tensor([x, y]) (tinynet ops, so autograd differentiates it)."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 10 * (y - x ** 2) ** 2


def run(make_opt, steps=300, start=(-1.5, 2.0)):
    p = nn.Parameter(tn.tensor(start, dtype=tn.float64))
    opt = make_opt([p])
    path = [p.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = surface(p)
        loss.backward()
        opt.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


optimizers = {
    "SGD lr=0.01": lambda ps: optim.SGD(ps, lr=0.01),
    "SGD + momentum 0.9": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9),
    "Nesterov 0.9": lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9, nesterov=True),
    "RMSprop lr=0.01": lambda ps: optim.RMSprop(ps, lr=0.01),
    "Adam lr=0.05": lambda ps: optim.Adam(ps, lr=0.05),
    "AdamW lr=0.05": lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.01),
    "AdaGrad lr=0.5": lambda ps: optim.Adagrad(ps, lr=0.5),
}
paths = {name: run(make) for name, make in optimizers.items()}
final = {name: float(surface(tn.tensor(path[-1], dtype=tn.float64)).item()) for name, path in paths.items()}
for name, value in final.items():
    print(f"{name:20s} final point {paths[name][-1].round(3)}  loss {value:.2e}")

# %%
gx, gy = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
gl = (1 - gx) ** 2 + 10 * (gy - gx ** 2) ** 2
fig, axes = plt.subplots(2, 4, figsize=(16, 7.5), sharex=True, sharey=True)
axes.ravel()[-1].set_visible(False)
for ax, (name, path) in zip(axes.ravel(), paths.items()):
    ax.contour(gx, gy, np.log10(gl + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
    ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, color="C3")
    ax.plot(*path[0], "go", ms=6)
    ax.plot(1, 1, "k*", ms=12)
    ax.set_title(f"{name}\nloss after 300 steps {final[name]:.1e}", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# Plain SGD at a learning rate small enough to be stable across the valley is still
# crawling along its floor after 300 steps. Momentum and Nesterov overshoot and swing
# across the valley, but cover its length quickly. Adam's normalised steps follow the
# floor at a nearly constant speed. RMSprop at this learning rate is still on its way, and
# AdamW stops a little short of $(1, 1)$: its weight decay keeps pulling the parameters
# towards the origin, so it minimises a slightly different objective. AdaGrad divides by
# the square root of the *sum* of all past squared gradients, so its steps only shrink:
# a large learning rate gets it going, and it slows down as it travels (RMSprop and Adam
# replace the sum by a moving average for exactly this reason).

# %% [markdown]
# ## 2 · The document's momentum and PyTorch's momentum: one path
#
# We run seed 003's update by hand (tinynet computes the gradient, we apply
# $v \leftarrow \gamma v - \eta\nabla$, $\theta\leftarrow\theta + v$) next to
# `optim.SGD(momentum=0.9)`, from the same start, and compare every point.

# %%
gamma, eta = 0.9, 0.01
p = nn.Parameter(tn.tensor([-1.5, 2.0], dtype=tn.float64))
v = tn.zeros(2, dtype=tn.float64)
doc_path = [p.detach().numpy().copy()]
for _ in range(300):
    p.grad = None
    surface(p).backward()
    with tn.no_grad():
        v = gamma * v - eta * p.grad          # v = γv − η∇θ
        p += v                                # θ = θ + v
    doc_path.append(p.detach().numpy().copy())
doc_path = np.array(doc_path)
momentum_gap = np.abs(doc_path - paths["SGD + momentum 0.9"]).max()
print(f"largest distance between the two paths over 300 steps: {momentum_gap:.2e}")

plt.figure(figsize=(5, 4))
plt.contour(gx, gy, np.log10(gl + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
plt.plot(*paths["SGD + momentum 0.9"].T, "-", lw=4, alpha=0.4, label="optim.SGD(momentum=0.9)")
plt.plot(*doc_path.T, "--", lw=1, color="k", label="document: v=γv−η∇, θ=θ+v")
plt.legend(fontsize=8)
plt.title("two formulas, one trajectory")
plt.show()

# %% [markdown]
# ## 3 · Adam and AdaGrad, equation by equation
#
# Adam (Kingma & Ba, 2015) keeps two moving averages per weight, of the gradient $g_t$ and
# of its square, corrects their start-up bias (both start at 0), and steps by their ratio:
#
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$$
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}$$
#
# with PyTorch's defaults $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$. AdaGrad
# (Duchi et al., 2011) sums instead of averaging: $G_t = G_{t-1} + g_t^2$,
# $\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{G_t} + \epsilon)$ ($\epsilon = 10^{-10}$). Five
# steps of each by hand in NumPy, next to the library's optimizer, on $L(\theta) = \sum \theta^2 \cdot c$:

# %%
c = np.array([1.0, 10.0])                     # two weights with gradients of different size


def by_hand(kind, steps=5, lr=0.1):
    theta, m, v, G = np.array([1.0, 1.0]), np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, steps + 1):
        g = 2 * c * theta
        if kind == "adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g ** 2
            theta = theta - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        else:
            G = G + g ** 2
            theta = theta - lr * g / (np.sqrt(G) + 1e-10)
    return theta


def library(opt_cls, steps=5, lr=0.1):
    q = nn.Parameter(tn.tensor([1.0, 1.0], dtype=tn.float64))
    opt = opt_cls([q], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (tn.tensor(c) * q ** 2).sum().backward()
        opt.step()
    return q.detach().numpy()


adam_gap = np.abs(by_hand("adam") - library(optim.Adam)).max()
adagrad_gap = np.abs(by_hand("adagrad") - library(optim.Adagrad)).max()
print("Adam by hand   ", by_hand("adam"), "  library", library(optim.Adam), f"  gap {adam_gap:.1e}")
print("AdaGrad by hand", by_hand("adagrad"), "  library", library(optim.Adagrad), f"  gap {adagrad_gap:.1e}")

# %% [markdown]
# Both weights move by the same amount at every step although their gradients differ by
# 10×: Adam's first step is $\eta \cdot g/|g| = \eta$ for every weight (the bias correction
# makes $\hat m_1 = g_1$ and $\hat v_1 = g_1^2$). That scale-free step is why one learning
# rate suits all layers, and also why an L2 penalty inside Adam behaves oddly (next).
#
# ## 4 · Adam's L2 penalty against AdamW's decoupled weight decay
#
# With `Adam(weight_decay=λ)` the penalty $\lambda\theta$ is added to the gradient and
# then divided by Adam's running gradient size: a weight with no loss gradient shrinks by
# about the learning rate per step, whatever its size. `AdamW` (Loshchilov & Hutter)
# decouples the two: $\theta \leftarrow \theta - \eta\lambda\theta$ plus the Adam step,
# a steady relative shrinkage. Watch one weight whose loss gradient is zero:

# %%
def decay_path(opt_cls, steps=100):
    q = nn.Parameter(tn.tensor([2.0], dtype=tn.float64))
    opt = opt_cls([q], lr=0.01, weight_decay=0.1)
    out = [q.item()]
    for _ in range(steps):
        opt.zero_grad()
        (q * 0).sum().backward()              # the loss does not depend on q
        opt.step()
        out.append(q.item())
    return np.array(out)


adam_l2, adamw = decay_path(optim.Adam), decay_path(optim.AdamW)
plt.figure(figsize=(5.5, 3.2))
plt.plot(adam_l2, label="Adam(weight_decay=0.1): linear, ≈ lr per step")
plt.plot(adamw, label="AdamW(weight_decay=0.1): × (1 − lr·λ) per step")
plt.xlabel("step")
plt.ylabel("weight")
plt.legend(fontsize=8)
plt.show()
print(f"after 100 steps: Adam+L2 {adam_l2[-1]:.4f}, AdamW {adamw[-1]:.4f} (= 2·(1-0.001)^100 = {2 * 0.999 ** 100:.4f})")

# %% [markdown]
# The difference matters most where the loss *does* have a gradient. Take
# $L = 100(a-1)^2 + 0.01(b-1)^2$: both weights want to be 1, $a$ strongly, $b$ weakly.
# With Adam + L2 the penalty $0.1\,b$ competes with $b$'s tiny loss gradient
# $0.02(b-1)$ *before* the normalisation, and wins: $b$ settles where $0.02(b-1) + 0.1b = 0$,
# at $b = 1/6$. AdamW applies the decay after the normalised step, as a small relative
# shrinkage, so the weakly-pulled $b$ still reaches (almost) 1: decay no longer depends on
# how large a weight's gradients happen to be.

# %%
def two_weights(opt_cls, steps=3000):
    ab = nn.Parameter(tn.tensor([0.0, 0.0], dtype=tn.float64))
    opt = opt_cls([ab], lr=0.01, weight_decay=0.1)
    for _ in range(steps):
        opt.zero_grad()
        (100 * (ab[0] - 1) ** 2 + 0.01 * (ab[1] - 1) ** 2).backward()
        opt.step()
    return ab.detach().numpy()


ab_adam, ab_adamw = two_weights(optim.Adam), two_weights(optim.AdamW)
print(f"Adam + L2: a = {ab_adam[0]:.3f}, b = {ab_adam[1]:.3f}   (b -> 1/6 = {1 / 6:.3f})")
print(f"AdamW:     a = {ab_adamw[0]:.3f}, b = {ab_adamw[1]:.3f}")

# %% [markdown]
# ## 5 · On a real model
#
# Three interleaved spirals, an MLP 2-64-64-3, full-batch training. Each optimizer gets a
# learning rate in its usual range. Adaptive methods are forgiving; plain SGD needs many
# more steps.

# %%
spirals = tn.data.make_spirals(n_samples=300, n_classes=3, noise=0.15, seed=0)
Xs, ys = spirals.tensors
steps = 600 if FULL else 250
real = {
    "SGD lr=0.1": lambda ps: optim.SGD(ps, lr=0.1),
    "momentum 0.9": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "RMSprop lr=0.01": lambda ps: optim.RMSprop(ps, lr=0.01),
    "Adam lr=0.01": lambda ps: optim.Adam(ps, lr=0.01),
    "AdamW lr=0.01": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.01),
}
curves, accs = {}, {}
for name, make in real.items():
    tn.manual_seed(0)                         # the same initial weights for every optimizer
    net = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    opt = make(net.parameters())
    curve = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(net(Xs), ys)
        loss.backward()
        opt.step()
        curve.append(loss.item())
    with tn.no_grad():
        accs[name] = (net(Xs).argmax(axis=1) == ys).float().mean().item()
    curves[name] = curve
plt.figure(figsize=(7, 3.8))
for name, curve in curves.items():
    plt.plot(curve, label=f"{name} (acc {accs[name]:.0%})")
plt.yscale("log")
plt.xlabel("step")
plt.ylabel("cross-entropy")
plt.legend(fontsize=8)
plt.title("spirals, MLP 2-64-64-3")
plt.show()

# %% [markdown]
# ## 6 · Learning-rate warm-up and decay
#
# Large models are usually trained with a schedule: a short **warm-up** (the learning rate
# grows linearly from a small value, while Adam's running averages are still poor
# estimates), then a **decay** (cosine, step or exponential) so the last steps are small
# and settle into a minimum. Schedulers wrap an optimizer and change its
# `param_groups[i]["lr"]`; call `scheduler.step()` once per step (or per epoch).

# %%
def lr_trace(make_sched, steps=100, base_lr=0.1):
    q = nn.Parameter(tn.zeros(1))
    opt = optim.SGD([q], lr=base_lr)
    sched = make_sched(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


S = optim.lr_scheduler
schedules = {
    "warm-up 10 + cosine 90": lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=10), S.CosineAnnealingLR(o, T_max=90)], milestones=[10]),
    "StepLR(30, γ=0.5)": lambda o: S.StepLR(o, step_size=30, gamma=0.5),
    "ExponentialLR(γ=0.97)": lambda o: S.ExponentialLR(o, gamma=0.97),
}
traces = {name: lr_trace(make) for name, make in schedules.items()}
plt.figure(figsize=(7, 3.2))
for name, trace in traces.items():
    plt.plot(trace, label=name)
plt.xlabel("step")
plt.ylabel("learning rate")
plt.legend(fontsize=8)
plt.show()
wc = traces["warm-up 10 + cosine 90"]
print("warm-up + cosine: first", wc[0], "| at step 10", wc[10], "| last", round(wc[-1], 6))

# %% [markdown]
# ## Checks

# %%
assert final["SGD lr=0.01"] > final["SGD + momentum 0.9"], "momentum should get further along the valley"
assert final["Adam lr=0.05"] < 1e-2 and final["SGD + momentum 0.9"] < 1e-2, final
assert momentum_gap < 1e-10, momentum_gap
assert abs(adamw[-1] - 2 * 0.999 ** 100) < 1e-9
assert adam_l2[-1] < adamw[-1]
assert adam_gap < 1e-12 and adagrad_gap < 1e-12
assert abs(ab_adam[1] - 1 / 6) < 0.02 and ab_adamw[1] > 0.9 and min(ab_adam[0], ab_adamw[0]) > 0.99
assert final["AdaGrad lr=0.5"] < final["SGD lr=0.01"], final
assert all(curve[-1] < curve[0] for curve in curves.values())
assert accs["Adam lr=0.01"] > 0.9, accs
assert abs(wc[0] - 0.01) < 1e-9 and abs(wc[10] - 0.1) < 1e-9 and wc[-1] < 1e-3
assert abs(traces["StepLR(30, γ=0.5)"][30] - 0.05) < 1e-12
assert abs(traces["ExponentialLR(γ=0.97)"][10] - 0.1 * 0.97 ** 10) < 1e-12
print("all checks passed")
