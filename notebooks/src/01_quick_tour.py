# %% [markdown]
# # 01 · A quick tour of tinynet
#
# tinynet is a small neural-network engine written from scratch: tensors on NumPy (CPU)
# or CuPy (GPU), reverse-mode automatic differentiation, and PyTorch-shaped layers,
# losses and optimizers. If you know PyTorch, you already know the API:
#
# ```python
# import tinynet as tn
# import tinynet.nn as nn, tinynet.nn.functional as F, tinynet.optim as optim
# ```
#
# In ten minutes: **tensors**, **autograd**, and **a model trained in ten lines**.
# The later notebooks open each box: 02 autograd, 03 losses and backpropagation,
# 04 optimizers, 05 an MLP on handwritten digits, 06 convolution, 07 attention and
# Transformers, 08 RNNs and LSTMs, 09 CPU against GPU.

# %%
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim

tn.manual_seed(0)
print("tinynet", tn.__version__, "| GPU available:", tn.cuda.is_available())

# %% [markdown]
# ## 1 · Tensors
#
# A tensor is an n-dimensional array on a device. Python floats become `float32` by
# default (the usual dtype for training); shapes, broadcasting and `axis=` follow NumPy.

# %%
x = tn.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(x)
print("shape", x.shape, "| dtype", x.dtype, "| device", x.device)
col = tn.tensor([[10.0], [20.0]])         # shape (2, 1) broadcasts against (2, 3)
print("x + col =\n", (x + col).numpy())
print("row sums", x.sum(axis=1).tolist(), "| column means", x.mean(axis=0).tolist())
W = tn.randn(3, 4)
print("x @ W has shape", (x @ W).shape)
print("back to NumPy:", type(x.numpy()).__name__, "| one number:", x[1, 2].item())

# %% [markdown]
# ## 2 · Autograd
#
# Mark a tensor with `requires_grad=True` and every operation on it is recorded. Calling
# `.backward()` on a scalar fills `.grad` with the derivative of that scalar with respect
# to each marked tensor. For $y = \sum_i x_i^2$ the gradient is $2x$:

# %%
v = tn.tensor([1.0, -2.0, 3.0], requires_grad=True)
y = (v ** 2).sum()
y.backward()
print("y =", y.item(), "| dy/dv =", v.grad.tolist())

# %% [markdown]
# Gradients flow through any composition: here $z = \tanh(w\cdot u + b)$, whose
# derivatives $\partial z/\partial w = (1-z^2)\,u$ and $\partial z/\partial b = 1-z^2$ we can
# check by hand.

# %%
u = tn.tensor([0.5, -1.0])
w = tn.tensor([2.0, 1.0], requires_grad=True)
b = tn.tensor(0.3, requires_grad=True)
z = F.tanh((w * u).sum() + b)
z.backward()
expected_w = (1 - z.item() ** 2) * u.numpy()
print("dz/dw =", w.grad.numpy(), " by hand:", expected_w)
print("dz/db =", round(b.grad.item(), 6), " by hand:", round(1 - z.item() ** 2, 6))

# %% [markdown]
# ## 3 · A model trained in ten lines
#
# The "two moons" are two interleaving half circles: no straight line separates them, so
# a classifier needs a hidden layer. The ten lines after the data are the whole recipe
# every later notebook repeats: **model, optimizer, then loop: zero the gradients,
# forward, loss, backward, step.**

# %%
moons = tn.data.make_moons(n_samples=400, noise=0.15, seed=0)
X, y = moons.tensors
print("inputs", X.shape, X.dtype, "| labels", y.shape, y.dtype, "| classes", moons.num_classes)

# %%
model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
opt = optim.Adam(model.parameters(), lr=0.01)
losses = []
for step in range(300):
    opt.zero_grad()
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
with tn.no_grad():
    accuracy = (model(X).argmax(axis=1) == y).float().mean().item()
print(f"final loss {losses[-1]:.4f}, training accuracy {accuracy:.1%}")

# %% [markdown]
# What did it learn? Evaluate the model on a grid of points and colour each point by the
# predicted probability of class 1 (softmax of the two outputs).

# %%
Xn, yn = X.numpy(), y.numpy()
gx, gy = np.meshgrid(np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 150))
with tn.no_grad():
    p1 = F.softmax(model(tn.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=tn.float32)), axis=1)[:, 1].numpy()
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(losses)
axes[0].set(xlabel="step", ylabel="cross-entropy", yscale="log", title="training loss")
axes[1].contourf(gx, gy, p1.reshape(gx.shape), levels=20, cmap="RdBu_r", alpha=0.35)
axes[1].contour(gx, gy, p1.reshape(gx.shape), levels=[0.5], colors="k")
axes[1].scatter(Xn[:, 0], Xn[:, 1], c=np.where(yn == 1, "tab:red", "tab:blue"), edgecolor="k", linewidths=0.3, s=14)
axes[1].set(title=f"decision boundary (accuracy {accuracy:.1%})")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4 · Saving and loading
#
# `model.state_dict()` maps parameter names to tensors; `tn.save` writes it to a file
# (a plain archive of arrays and numbers, never pickle) and `tn.load` reads it back.

# %%
print({k: tuple(v.shape) for k, v in model.state_dict().items()})
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "moons.tn")
    tn.save(model.state_dict(), path)
    size_kb = os.path.getsize(path) / 1024
    clone = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    clone.load_state_dict(tn.load(path))
with tn.no_grad():
    same = np.array_equal(clone(X).numpy(), model(X).numpy())
print(f"checkpoint {size_kb:.1f} KiB; reloaded model gives identical outputs: {same}")

# %% [markdown]
# ## Checks

# %%
assert x.dtype == tn.float32 and x.shape == (2, 3)
assert (x + col).numpy()[1, 0] == 24.0 and x.sum(axis=1).tolist() == [6.0, 15.0]
assert v.grad.tolist() == [2.0, -4.0, 6.0]
assert np.allclose(w.grad.numpy(), expected_w, atol=1e-6)
assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])
assert accuracy > 0.97, accuracy
assert same
print("all checks passed")
