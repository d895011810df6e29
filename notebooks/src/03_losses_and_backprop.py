# %% [markdown]
# # 03 · Losses and backpropagation, by hand and by autograd
#
# A loss turns "how wrong is the model" into one number; backpropagation turns that
# number into a gradient for every weight. The source documents (seeds 000, 001, 003,
# 004) work several small examples; some of their numbers and formulas are wrong. Here we
# redo each one twice, by hand (NumPy, pencil-and-paper style) and with tinynet's
# autograd, and say where the document errs.
#
# | example | document says | correct |
# |---|---|---|
# | MSE of y=[1,2,3], ŷ=[1.1,1.9,2.8] (seed 000) | 0.1 | **0.02** |
# | cross-entropy of y=[1,0,1], ŷ=[0.7,0.3,0.6] (seed 000) | ≈ 0.356 | **0.8675** |
# | logistic unit σ(θ₁·1 + θ₂·0 + b), θ₁=1, b=0.5 (seed 001) | ≈ 0.77 | **σ(1.5) = 0.8176** |
# | its BCE gradient (seed 001) | ∂L/∂y = 1 − y | ∂L/∂ŷ = (ŷ−t)/(ŷ(1−ŷ)), ∂L/∂z = ŷ − t |
# | MSE gradient (seed 003) | −2 Σ (y−ŷ)x | **−(2/n)** Σ (y−ŷ)x |
# | cross-entropy gradient (seed 003) | ∂CE/∂θ = ŷ − y | that is **∂CE/∂z** (softmax − one-hot); ∂CE/∂θ = Σᵢ (ŷᵢ − yᵢ) xᵢ |
# | chain rule across layers (seed 001) | ∂L/∂θ⁽ˡ⁻¹⁾ = ∂L/∂θ⁽ˡ⁾ · ∂θ⁽ˡ⁾/∂x⁽ˡ⁻¹⁾ · … | the error travels through **activations**: δ⁽ˡ⁻¹⁾ = (∂y⁽ˡ⁾/∂x⁽ˡ⁾)ᵀ δ⁽ˡ⁾, then ∂L/∂θ⁽ˡ⁻¹⁾ = (∂y⁽ˡ⁻¹⁾/∂θ⁽ˡ⁻¹⁾)ᵀ δ⁽ˡ⁻¹⁾ |
# | "MSE" J = ½ Σₖ (yₖ − ŷₖ)² (seed 004) | called MSE | half the **sum** of squared errors, not the mean: gradient ŷ − y per output, where MSE's is (2/K)(ŷ − y) |
# | 2-3-1 example (seed 004) | softmax over the 3 hidden units, one output, label [1, 0], δ = y* − y | softmax over **two output units**, δ = ŷ − y* |
# | one-unit softmax classifier (seed 004) | used as a classifier | always outputs 1: use sigmoid or two units |
# | hidden-layer error (seed 004) | δⱼ = δₖ wₖⱼ | δⱼ = f′(zⱼ) Σₖ δₖ wₖⱼ |
#
# The five source documents are Chinese articles on large models, cited by number. Those cited here:
#
# * seed 000: an untitled article on data, algorithms and compute as the three engines of large models (数据、算法、算力), named here by its theme;
# * seed 001: an untitled article on the technology, market and policy trends facing founders in the era of large models (大模型时代创业者面临的技术、市场和政策趋势), named by its abstract;
# * seed 003: *大模型：数据驱动的智能革命* (Large models: the data-driven intelligence revolution);
# * seed 004: the untitled article that opens with *算力提升推动大模型发展* (Growing compute drives large models).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F

tn.manual_seed(0)
print(f"tinynet {tn.__version__}")

# %% [markdown]
# ## 1 · Mean squared error (seed 000, §4.2)
#
# $\mathrm{MSE} = \frac1m\sum_i (y_i-\hat y_i)^2 = \frac13(0.01 + 0.01 + 0.04) = 0.02.$
# The document writes the right formula and then reports 0.1: the squared errors sum
# to 0.06, and 0.06 / 3 = 0.02. (0.1 is the size of the first two errors before squaring.)

# %%
y = tn.tensor([1.0, 2.0, 3.0], dtype=tn.float64)
y_hat = tn.tensor([1.1, 1.9, 2.8], dtype=tn.float64)
mse_hand = np.mean((np.array([1, 2, 3]) - np.array([1.1, 1.9, 2.8])) ** 2)
mse_tn = F.mse_loss(y_hat, y).item()
print(f"by hand: {mse_hand:.4f}   tinynet F.mse_loss: {mse_tn:.4f}   document: 0.1")

# %% [markdown]
# ## 2 · Cross-entropy (seed 000, §4.2)
#
# $\mathrm{CE} = -\sum_i y_i \ln \hat y_i = -(\ln 0.7 + \ln 0.6) = 0.3567 + 0.5108 = 0.8675.$
# The document's 0.356 is $-\ln 0.7$ alone: it dropped the third term
# ($y_3 = 1$, $\hat y_3 = 0.6$). With base-10 logarithms the sum would be 0.3768, so the
# base does not explain it either.
#
# Note that this "multi-hot" formula is not the usual binary cross-entropy, which also
# charges the negatives: $-\sum_i [y_i\ln\hat y_i + (1-y_i)\ln(1-\hat y_i)] = 1.2242$
# (what `F.binary_cross_entropy(..., reduction="sum")` computes).

# %%
labels = tn.tensor([1.0, 0.0, 1.0], dtype=tn.float64)
probs = tn.tensor([0.7, 0.3, 0.6], dtype=tn.float64)
ce_hand = -(1 * math.log(0.7) + 0 * math.log(0.3) + 1 * math.log(0.6))
ce_tn = -(labels * probs.log()).sum().item()
bce_sum = F.binary_cross_entropy(probs, labels, reduction="sum").item()
print(f"CE by hand {ce_hand:.4f} | tinynet {ce_tn:.4f} | document 0.356 (= -ln 0.7 = {-math.log(0.7):.4f})")
print(f"binary cross-entropy (both terms), summed: {bce_sum:.4f}")

# %% [markdown]
# For classes, `F.cross_entropy` takes **logits** (raw scores) and integer class labels,
# applies log-softmax and picks the true class's term. Feeding log-probabilities as
# logits reproduces the per-sample $-\ln \hat y$: a handy sanity check.

# %%
p2 = tn.tensor([[0.7, 0.3], [0.4, 0.6]], dtype=tn.float64)
ce_logits = F.cross_entropy(p2.log(), tn.tensor([0, 1]), reduction="sum").item()
print(f"F.cross_entropy on log-probs, classes [0, 1]: {ce_logits:.4f}  (= -ln0.7 - ln0.6)")

# %% [markdown]
# ## 2b · The gradient of softmax + cross-entropy: softmax − one-hot
#
# A classifier outputs logits $z$; $p = \mathrm{softmax}(z)$, $p_k = e^{z_k}/\sum_j e^{z_j}$,
# and $\mathrm{CE} = -\sum_k y_k \ln p_k$ with a one-hot (or any) label $y$ summing to 1.
# Since $\ln p_k = z_k - \ln\sum_j e^{z_j}$,
#
# $$\frac{\partial\,\mathrm{CE}}{\partial z_m} = -\sum_k y_k\,(\delta_{km} - p_m)
#   = -y_m + p_m \sum_k y_k = p_m - y_m .$$
#
# So $\partial\mathrm{CE}/\partial z = \mathrm{softmax}(z) - y$: the error at the logits
# is "predicted minus true", the same simple form as the logistic unit below.
#
# Seed 003 (§4.2.2) writes exactly this, $\hat y_i - y_i$, but calls it
# $\partial\mathrm{CE}/\partial\theta$, the gradient with respect to the *parameters*. For a
# linear classifier $z_i = W x_i$ the chain rule adds the input: per sample
# $\partial\mathrm{CE}_i/\partial W = (\hat y_i - y_i)\,x_i^\top$, and over a batch
# $\sum_i (\hat y_i - y_i)\,x_i^\top$ (divided by $n$ for a mean loss). Checked with autograd:

# %%
rng3 = np.random.default_rng(3)
Wc = tn.tensor(rng3.standard_normal((3, 4)), requires_grad=True)
xc = rng3.standard_normal((5, 4))
yc = np.array([0, 2, 1, 1, 0])
logits_c = tn.tensor(xc) @ Wc.T
logits_c.retain_grad()
F.cross_entropy(logits_c, tn.tensor(yc), reduction="sum").backward()
p_c = np.exp(logits_c.detach().numpy())
p_c /= p_c.sum(axis=1, keepdims=True)
onehot_c = np.eye(3)[yc]
dz_hand = p_c - onehot_c                       # softmax - one-hot
dW_hand = dz_hand.T @ xc                       # sum_i (p_i - y_i) x_i^T
print(f"dCE/dz: max |(softmax - onehot) - autograd| = {np.abs(dz_hand - logits_c.grad.numpy()).max():.1e}")
print(f"dCE/dW: max |sum_i (p_i - y_i) x_i^T - autograd| = {np.abs(dW_hand - Wc.grad.numpy()).max():.1e}")
print(f"seed 003's 'dCE/dθ = ŷ - y' has shape {dz_hand.shape}; the parameter gradient has shape {tuple(Wc.shape)}")

# %% [markdown]
# ## 3 · The logistic unit of seed 001 (§4.3)
#
# $\hat y = \sigma(\theta_1 x_1 + \theta_2 x_2 + b)$ with $x=(1,0)$, $\theta_1=1$,
# $b=0.5$ (and any $\theta_2$, here 0.3, since $x_2=0$). The document computes
# $\sigma(1.5)\approx 0.77$; in fact $\sigma(1.5) = 1/(1+e^{-1.5}) = 0.8176$.
#
# **The gradient.** The document writes the loss as $L = -y\ln y - (1-y)\ln(1-y)$, using
# the same $y$ for the label and the prediction, and concludes $\partial L/\partial y =
# 1-y$. With a label $t$ and prediction $\hat y$:
#
# $$L = -t\ln\hat y - (1-t)\ln(1-\hat y),\qquad
# \frac{\partial L}{\partial \hat y} = \frac{\hat y - t}{\hat y(1-\hat y)},\qquad
# \frac{\partial L}{\partial z} = \frac{\partial L}{\partial \hat y}\,\sigma'(z) = \hat y - t,$$
#
# because $\sigma'(z) = \hat y(1-\hat y)$ cancels the denominator. Then
# $\partial L/\partial\theta_1 = (\hat y - t)x_1$, $\partial L/\partial\theta_2 = (\hat y - t)x_2 = 0$
# and $\partial L/\partial b = \hat y - t$. With label $t=1$:

# %%
t_label = 1.0
x_in = np.array([1.0, 0.0])
theta = np.array([1.0, 0.3])
b0 = 0.5
z = theta @ x_in + b0
y_hand = 1 / (1 + math.exp(-z))
dL_dyhat = (y_hand - t_label) / (y_hand * (1 - y_hand))
dL_dz = y_hand - t_label
grad_hand = np.array([dL_dz * x_in[0], dL_dz * x_in[1], dL_dz])
print(f"forward: z = {z}, ŷ = σ(1.5) = {y_hand:.4f}  (document: 0.77)")
print(f"dL/dŷ = {dL_dyhat:.4f},  dL/dz = ŷ - t = {dL_dz:.4f}")

w = tn.tensor([[1.0, 0.3]], dtype=tn.float64, requires_grad=True)
bias = tn.tensor([0.5], dtype=tn.float64, requires_grad=True)
xin = tn.tensor([[1.0, 0.0]], dtype=tn.float64)
y_tn = F.sigmoid(F.linear(xin, w, bias))
loss_unit = F.binary_cross_entropy(y_tn, tn.tensor([[t_label]], dtype=tn.float64))
loss_unit.backward()
grad_tn = np.array([w.grad.numpy()[0, 0], w.grad.numpy()[0, 1], bias.grad.item()])
print("gradient (θ1, θ2, b) by hand:", grad_hand.round(4), "  autograd:", grad_tn.round(4))

# The document's rule, taken literally at ŷ = 0.8176, would give:
doc_grad_theta1 = (1 - y_hand) * y_hand * (1 - y_hand)
print(f"document's (1-y)·σ'(z) for θ1: {doc_grad_theta1:.4f}  vs correct {grad_hand[0]:.4f}")

# %% [markdown]
# The document's gradient even has the wrong **sign**: following it would push
# $\hat y$ *away* from the label. A picture: the loss as a function of $z$ for label 1,
# and its slope $\hat y - t$ (always negative, so increasing $z$ lowers the loss).

# %%
zs = tn.linspace(-4, 4, 161, dtype=tn.float64, requires_grad=True)
ls = F.binary_cross_entropy(F.sigmoid(zs), tn.ones(161, dtype=tn.float64), reduction="none")
ls.sum().backward()
zz = zs.detach().numpy()
plt.figure(figsize=(6, 3.2))
plt.plot(zz, ls.detach().numpy(), label="BCE loss, label t = 1")
plt.plot(zz, zs.grad.numpy(), label="dL/dz (autograd) = σ(z) − 1")
plt.axvline(1.5, color="0.6", lw=0.8)
plt.annotate("z = 1.5, ŷ = 0.8176", (1.5, 0.2), xytext=(1.8, 1.5), arrowprops=dict(arrowstyle="->"))
plt.legend()
plt.grid(alpha=0.3)
plt.xlabel("z")
plt.show()
dz_err = np.abs(zs.grad.numpy() - (1 / (1 + np.exp(-zz)) - 1)).max()

# %% [markdown]
# ## 4 · The MSE gradient (seed 003, §4.2.1)
#
# For a linear model $\hat y_i = \theta x_i$ and $\mathrm{MSE} = \frac1n\sum_i (y_i-\hat y_i)^2$,
#
# $$\frac{\partial\,\mathrm{MSE}}{\partial\theta} = -\frac{2}{n}\sum_i (y_i - \hat y_i)\,x_i .$$
#
# The document drops the $1/n$: its gradient is $n$ times too large (with 100 samples, a
# learning rate tuned for the right gradient becomes 100 times too big).

# %%
rng = np.random.default_rng(0)
xs_np = rng.uniform(-1, 1, 100)
ys_np = 3.0 * xs_np + 0.1 * rng.standard_normal(100)
theta_t = tn.tensor(0.5, dtype=tn.float64, requires_grad=True)
mse = F.mse_loss(theta_t * tn.tensor(xs_np), tn.tensor(ys_np))
mse.backward()
resid = ys_np - 0.5 * xs_np
correct_grad = -(2 / len(xs_np)) * np.sum(resid * xs_np)
doc_grad = -2 * np.sum(resid * xs_np)
print(f"autograd {theta_t.grad.item():.5f} | -(2/n)Σ(y-ŷ)x = {correct_grad:.5f} | document -2Σ(y-ŷ)x = {doc_grad:.5f}")

# %% [markdown]
# ## 4b · The chain rule across layers (seed 001, §4.2)
#
# Seed 001 propagates the gradient from one layer's *parameters* to the previous layer's:
# $\partial L/\partial\theta^{(l-1)} = \partial L/\partial\theta^{(l)}\cdot\partial\theta^{(l)}/\partial x^{(l-1)}\cdots$.
# But $\theta^{(l)}$ does not depend on $x^{(l-1)}$ (or on $\theta^{(l-1)}$): that factor is
# zero, and the shapes do not even fit. What flows backwards is the gradient with respect
# to each layer's **output**, $\delta^{(l)} = \partial L/\partial y^{(l)}$. With
# $x^{(l)} = y^{(l-1)}$ (a layer's input is the previous layer's output):
#
# $$\delta^{(l-1)} = \Big(\frac{\partial y^{(l)}}{\partial x^{(l)}}\Big)^{\!\top}\delta^{(l)},
# \qquad \frac{\partial L}{\partial\theta^{(l-1)}} = \Big(\frac{\partial y^{(l-1)}}{\partial\theta^{(l-1)}}\Big)^{\!\top}\delta^{(l-1)} .$$
#
# Each layer needs two local derivatives (with respect to its input and to its parameters)
# and never another layer's parameters. For two linear layers $y^{(1)} = W_1 x$,
# $y^{(2)} = W_2 y^{(1)}$ and $L = \tfrac12\lVert y^{(2)}\rVert^2$: $\delta^{(2)} = y^{(2)}$,
# $\delta^{(1)} = W_2^\top\delta^{(2)}$, $\partial L/\partial W_1 = \delta^{(1)} x^\top$.

# %%
W1c = tn.tensor(rng3.standard_normal((4, 3)), requires_grad=True)
W2c = tn.tensor(rng3.standard_normal((2, 4)), requires_grad=True)
x_c = rng3.standard_normal(3)
y1c = W1c @ tn.tensor(x_c)
y2c = W2c @ y1c
(0.5 * (y2c ** 2).sum()).backward()
delta2 = y2c.detach().numpy()
delta1 = W2c.detach().numpy().T @ delta2           # through the activation y1, not through W2's entries
chain_err = max(np.abs(np.outer(delta1, x_c) - W1c.grad.numpy()).max(),
                np.abs(np.outer(delta2, y1c.detach().numpy()) - W2c.grad.numpy()).max())
print(f"δ recursion vs autograd, both weight gradients: max |difference| = {chain_err:.1e}")

# %% [markdown]
# ## 5 · The 2-3-1 network of seed 004
#
# Seed 004 builds a network with 2 inputs, 3 hidden units and **one** output unit, and
# puts a softmax on that single output for a two-class problem. Softmax normalises over
# the output units: with one unit, $e^{z}/e^{z} = 1$ whatever the input, so the
# "probability" is constant and its gradient is exactly zero: the network can never
# learn.

# %%
h_demo = tn.randn(5, 1, dtype=tn.float64, requires_grad=True)
p_one = F.softmax(h_demo, axis=1)
p_one.sum().backward()
print("one-unit softmax outputs:", p_one.detach().numpy().ravel(), "\ngradient:", h_demo.grad.numpy().ravel())

# %% [markdown]
# **What seed 004 writes, reproduced.** Its worked example goes further astray. It takes the
# softmax over the three *hidden* pre-activations, $\hat y_1 = e^{z_1}/(e^{z_1}+e^{z_2}+e^{z_3})$,
# as the single output, then compares it with a two-element label $y^* = [1, 0]^\top$
# through $\delta_k = y^* - y$ and $J = -y^*\log y$. Computed as written:

# %%
Wh = rng3.standard_normal((3, 2))
bh = rng3.standard_normal(3)
x004 = np.array([0.5, -1.2])
z004 = Wh @ x004 + bh                                   # the three hidden pre-activations
y004 = np.exp(z004[0]) / np.exp(z004).sum()             # its "output": one number from the hidden units
y_star = np.array([1.0, 0.0])
print(f"hidden z = {z004.round(3)}, the document's output ŷ1 = {y004:.4f}")
delta_doc = y_star - np.array([y004])                    # NumPy broadcasts: two 'errors' from one output
print(f"δ = y* - y stretches the 1-element output over the 2-element label: {delta_doc.round(4)} (meaningless)")

# %% [markdown]
# Three things are wrong: (1) the softmax must run over the **output** units, after the
# second layer, not over the hidden units (which then never reach the output); (2) a
# two-class label needs **two** output units (or one sigmoid unit and a scalar label);
# (3) the error at the logits is $\hat y - y^*$, not $y^* - \hat y$: with the document's
# sign, gradient descent climbs the loss. Corrected: $z^{(2)} = W_2 \tanh(z^{(1)}) + b_2$
# with two rows in $W_2$, $\hat y = \mathrm{softmax}(z^{(2)})$, $J = -\sum_k y^*_k\ln\hat y_k$,
# and $\delta = \hat y - y^*$ (section 2b):

# %%
net2 = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2)).to(tn.float64)
logits004 = net2(tn.tensor(x004[None, :]))
logits004.retain_grad()
F.cross_entropy(logits004, tn.tensor([0])).backward()   # label [1, 0] = class 0
p004 = F.softmax(logits004, axis=1).detach().numpy()[0]
print(f"two output units: ŷ = {p004.round(4)}, δ = ŷ - y* = {(p004 - y_star).round(4)}, "
      f"autograd dJ/dz = {logits004.grad.numpy()[0].round(4)}")
delta004_err = np.abs((p004 - y_star) - logits004.grad.numpy()[0]).max()

# %% [markdown]
# Seed 004 also calls $J = \frac12\sum_{k=1}^{K}(y_k - \hat y_k)^2$ the mean squared error.
# It is half the *sum* of squared errors: the ½ makes its gradient $\hat y_k - y_k$, while
# the mean $\frac1K\sum_k (y_k-\hat y_k)^2$ (PyTorch's `mse_loss`) has gradient
# $\frac2K(\hat y_k - y_k)$. The two differ by a factor $K/2$ in value and gradient, which a
# learning rate must absorb:

# %%
yk = tn.tensor([0.2, 0.9, 0.4, 0.1], dtype=tn.float64, requires_grad=True)
tk = tn.tensor([0.0, 1.0, 0.0, 0.0], dtype=tn.float64)
half_sse = 0.5 * ((tk - yk) ** 2).sum()
half_sse.backward()
g_half = yk.grad.numpy().copy()
yk.grad = None
mse_k = F.mse_loss(yk, tk)
mse_k.backward()
print(f"½Σ(y-ŷ)² = {half_sse.item():.4f}, gradient {g_half};  MSE = {mse_k.item():.4f}, gradient {yk.grad.numpy()}")
print(f"ratio of the values: {half_sse.item() / mse_k.item():.1f} = K/2 with K = 4")

# %% [markdown]
# Two correct designs: **one sigmoid unit** with binary cross-entropy, or **two units**
# with softmax/cross-entropy (just above). We use the sigmoid version and backpropagate by hand.
#
# Forward: $z^{(1)} = W_1 x + b_1$, $h = \tanh(z^{(1)})$, $z^{(2)} = W_2 h + b_2$,
# $\hat y = \sigma(z^{(2)})$, $L = \mathrm{BCE}(\hat y, t)$.
#
# Backward (one sample):
#
# * output error: $\delta_k = \partial L/\partial z^{(2)}_k = \hat y - t$;
# * hidden error: $\delta_j = f'(z^{(1)}_j)\sum_k \delta_k w_{kj}$ with $f' = 1-\tanh^2$.
#   Seed 004 writes $\delta_j = \delta_k w_{kj}$: without the activation's derivative
#   $f'(z_j)$ this is the gradient with respect to $h_j$, not $z_j$;
# * weights: $\partial L/\partial W_2 = \delta^{(2)} h^\top$, $\partial L/\partial W_1 = \delta^{(1)} x^\top$,
#   and the biases get the $\delta$s themselves.

# %%
net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid()).to(tn.float64)
x1 = np.array([0.5, -1.2])
t1 = 1.0
W1, b1 = net[0].weight.detach().numpy().copy(), net[0].bias.detach().numpy().copy()
W2, b2 = net[2].weight.detach().numpy().copy(), net[2].bias.detach().numpy().copy()

# by hand
z1 = W1 @ x1 + b1
h = np.tanh(z1)
z2 = W2 @ h + b2
yhat = 1 / (1 + np.exp(-z2))
delta2 = yhat - t1                                   # (1,)
delta1 = (1 - h ** 2) * (W2.T @ delta2)              # (3,)  δ_j = f'(z_j) Σ_k δ_k w_kj
hand = {"W2": np.outer(delta2, h), "b2": delta2, "W1": np.outer(delta1, x1), "b1": delta1}
delta1_doc = W2.T @ delta2                           # the document's rule, no f'(z_j)
doc_W1 = np.outer(delta1_doc, x1)

# by autograd
out = net(tn.tensor(x1[None, :]))
loss_net = F.binary_cross_entropy(out, tn.tensor([[t1]], dtype=tn.float64))
net.zero_grad()
loss_net.backward()
auto = {"W2": net[2].weight.grad.numpy(), "b2": net[2].bias.grad.numpy(),
        "W1": net[0].weight.grad.numpy(), "b1": net[0].bias.grad.numpy()}
for k in hand:
    print(f"{k}: max |hand - autograd| = {np.abs(hand[k] - auto[k]).max():.2e}")
print(f"W1 with the document's δ_j = δ_k w_kj: max error {np.abs(doc_W1 - auto['W1']).max():.3f}")

# %% [markdown]
# Now train the corrected 2-3-1 network on a problem a linear model cannot solve:
# XOR-like quadrants (label 1 when $x_1 x_2 > 0$). Three tanh units suffice.

# %%
tn.manual_seed(1)
rng = np.random.default_rng(1)
X = rng.uniform(-1, 1, (200, 2))
T = (X[:, 0] * X[:, 1] > 0).astype(np.float64)[:, None]
Xt, Tt = tn.tensor(X), tn.tensor(T)
net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid()).to(tn.float64)
opt = tn.optim.Adam(net.parameters(), lr=0.05)
losses = []
for step in range(600):
    opt.zero_grad()
    loss = F.binary_cross_entropy(net(Xt), Tt)
    loss.backward()
    opt.step()
    losses.append(loss.item())
with tn.no_grad():
    acc_xor = ((net(Xt).numpy() > 0.5) == (T > 0.5)).mean()

gx, gy = np.meshgrid(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101))
with tn.no_grad():
    grid_p = net(tn.tensor(np.c_[gx.ravel(), gy.ravel()])).numpy().reshape(gx.shape)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
axes[0].plot(losses)
axes[0].set(title="2-3-1 network, BCE loss", xlabel="step", yscale="log")
axes[1].contourf(gx, gy, grid_p, levels=20, cmap="RdBu_r", alpha=0.35)
axes[1].scatter(X[:, 0], X[:, 1], c=np.where(T[:, 0] == 1, "tab:red", "tab:blue"), edgecolor="k", linewidths=0.3, s=15)
axes[1].set(title=f"decision surface (accuracy {acc_xor:.0%})")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Checks

# %%
assert abs(mse_hand - 0.02) < 1e-12 and abs(mse_tn - 0.02) < 1e-12
assert round(ce_tn, 4) == 0.8675 and abs(ce_tn - ce_hand) < 1e-12
assert round(bce_sum, 4) == 1.2242
assert abs(ce_logits - (-math.log(0.7) - math.log(0.6))) < 1e-12
assert round(y_tn.item(), 4) == 0.8176 and round(y_hand, 4) == 0.8176
assert np.allclose(grad_tn, grad_hand, atol=1e-12) and round(grad_tn[0], 4) == round(0.8176 - 1, 4)
assert grad_tn[1] == 0.0 and doc_grad_theta1 > 0 > grad_tn[0]           # the document's sign is wrong
assert abs(dL_dyhat - (y_hand - 1) / (y_hand * (1 - y_hand))) < 1e-12 and dz_err < 1e-12
assert abs(theta_t.grad.item() - correct_grad) < 1e-10 and abs(doc_grad / correct_grad - 100) < 1e-9
assert np.all(p_one.detach().numpy() == 1.0) and np.all(h_demo.grad.numpy() == 0.0)
assert all(np.abs(hand[k] - auto[k]).max() < 1e-12 for k in hand)
assert np.abs(doc_W1 - auto["W1"]).max() > 1e-3
assert losses[-1] < 0.25 * losses[0] and acc_xor >= 0.9, (losses[-1], acc_xor)
assert np.abs(dz_hand - logits_c.grad.numpy()).max() < 1e-12 and np.abs(dW_hand - Wc.grad.numpy()).max() < 1e-12
assert chain_err < 1e-12 and delta004_err < 1e-12 and delta_doc.shape == (2,)
assert np.allclose(g_half, yk.detach().numpy() - tk.numpy()) and np.allclose(yk.grad.numpy(), g_half * 2 / 4)
assert abs(half_sse.item() / mse_k.item() - 2.0) < 1e-12
print("all checks passed")
