# %% [markdown]
# # 05 · An MLP on handwritten digits
#
# The documents' recipe for a model (seed 000 §3.1–3.2, seed 003 §3.2) is: preprocess
# the data (clean, normalise, standardise), split it into training, validation and test
# sets, train by forward pass → loss → backpropagation → update, and evaluate on the test
# set with accuracy, precision and recall. Seed 001 (Q2) lists the cures for
# **overfitting**: L1/L2 regularisation, dropout, data augmentation, validation. We do all
# of it on a real data set that ships with scikit-learn (no download): 1797 handwritten
# digits of 8×8 pixels.
#
# We start with the smallest MLP in the documents, seed 003's **1-10-1 regression**
# network, then move on to digits.
#
# The five source documents are Chinese articles on large models, cited by number. Those cited here:
#
# * seed 000: an untitled article on data, algorithms and compute as the three engines of large models (数据、算法、算力), named here by its theme;
# * seed 001: an untitled article on the technology, market and policy trends facing founders in the era of large models (大模型时代创业者面临的技术、市场和政策趋势), named by its abstract;
# * seed 003: *大模型：数据驱动的智能革命* (Large models: the data-driven intelligence revolution).

# %%
import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.data import DataLoader, TensorDataset, load_digits

tn.manual_seed(0)
FULL = False   # True: more epochs everywhere

# %% [markdown]
# ## 0 · Seed 003's 1-10-1 MLP: regression
#
# One input, ten hidden tanh units, one output, mean squared error and full-batch gradient
# descent with momentum 0.9, fitted to a noisy curve $y = \sin(\pi x) + 0.5x + \varepsilon$.
# (The seed uses plain gradient descent; momentum reaches the same fit in fewer steps,
# see notebook 04. The seed's MSE
# gradient lacks the $1/n$; tinynet's `F.mse_loss` is the mean, and its gradient has it,
# see notebook 03.)

# %%
reg = tn.data.make_regression(n_samples=100, noise=0.1, seed=0)
xr, yr = reg.tensors
mlp_1_10_1 = nn.Sequential(nn.Linear(1, 10), nn.Tanh(), nn.Linear(10, 1))
opt = optim.SGD(mlp_1_10_1.parameters(), lr=0.2, momentum=0.9)
for step in range(1500):
    opt.zero_grad()
    reg_loss = F.mse_loss(mlp_1_10_1(xr), yr)
    reg_loss.backward()
    opt.step()
xs_line = tn.linspace(-1, 1, 200).reshape(200, 1)
with tn.no_grad():
    fit = mlp_1_10_1(xs_line).numpy()
plt.figure(figsize=(5, 3))
plt.scatter(xr.numpy(), yr.numpy(), s=10, label="data")
plt.plot(xs_line.numpy(), fit, "C3", label=f"1-10-1 MLP (MSE {reg_loss.item():.4f})")
plt.plot(xs_line.numpy(), np.sin(np.pi * xs_line.numpy()) + 0.5 * xs_line.numpy(), "k:", label="true curve")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 1 · The data
#
# `load_digits(split)` returns a `TensorDataset` of images and labels, already split 70 /
# 15 / 15 % into train / val / test, **stratified** (every digit in the same proportion in
# each part) and fixed by a seed, so results are reproducible. With `normalize=False` we
# see the raw pixel values, integers 0 to 16.

# %%
raw = load_digits("train", normalize=False)
Xraw, yraw = raw.tensors
print("train", Xraw.shape, "| pixel range", Xraw.numpy().min(), "to", Xraw.numpy().max())
print("samples per class (train):", np.bincount(yraw.numpy()))
fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for ax, i in zip(axes.ravel(), range(20)):
    ax.imshow(Xraw.numpy()[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(int(yraw.numpy()[i]), fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2 · Preprocessing: normalise, then standardise with *training* statistics
#
# * **Normalise**: divide by 16 so pixels lie in [0, 1] (`normalize=True`, the default).
# * **Standardise**: subtract each feature's mean and divide by its standard deviation, so
#   every input has a similar scale and the first layer's gradients are balanced.
#
# The mean and standard deviation come from the **training set only**, and the same
# numbers are applied to validation and test: computing them on all the data would leak
# information about the test set into training. Some border pixels are always 0
# (standard deviation 0), hence the small `eps`.

# %%
train, val, test = load_digits("train"), load_digits("val"), load_digits("test")
Xtr, ytr = train.tensors
Xva, yva = val.tensors
Xte, yte = test.tensors
mu = Xtr.mean(axis=0)
sd = ((Xtr - mu) ** 2).mean(axis=0).sqrt() + 1e-3


def standardise(x):
    return (x - mu) / sd


Xtr_s, Xva_s, Xte_s = standardise(Xtr), standardise(Xva), standardise(Xte)
print(f"sizes: train {len(train)}, val {len(val)}, test {len(test)}")
print("standardised train: mean ≈", round(float(Xtr_s.mean().item()), 6), "| pixels with zero variance:",
      int((((Xtr - mu) ** 2).mean(axis=0) == 0).sum().item()))

# %% [markdown]
# ## 3 · Training with mini-batches, and the curves to watch
#
# A `DataLoader` shuffles the training set each epoch and cuts it into mini-batches. After
# each epoch we measure loss and accuracy on the training and validation sets (in
# `eval()` mode and under `no_grad()`: no graph is recorded for evaluation).

# %%
def evaluate(model, x, y):
    model.eval()
    with tn.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits, y).item()
        acc = (logits.argmax(axis=1) == y).float().mean().item()
    model.train()
    return loss, acc


def fit(model, opt, x, y, epochs, batch_size=64, seed=0, keep_best=False, l2=0.0):
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed)
    hist = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    best = (float("inf"), None, -1)
    for epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            if l2:
                weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
                loss = loss + l2 * nn.l2_penalty(weights)
            loss.backward()
            opt.step()
        for split, (xs, ys) in (("train", (x, y)), ("val", (Xva_s, yva))):
            l, a = evaluate(model, xs, ys)
            hist[f"{split}_loss"].append(l)
            hist[f"{split}_acc"].append(a)
        if keep_best and hist["val_loss"][-1] < best[0]:
            best = (hist["val_loss"][-1], {k: v.clone() for k, v in model.state_dict().items()}, epoch)
    return hist, best


tn.manual_seed(0)
mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
print(mlp)
epochs = 40 if FULL else 20
hist, _ = fit(mlp, optim.Adam(mlp.parameters(), lr=1e-3), Xtr_s, ytr, epochs)
test_loss, test_acc = evaluate(mlp, Xte_s, yte)
print(f"after {epochs} epochs: train acc {hist['train_acc'][-1]:.3f}, val acc {hist['val_acc'][-1]:.3f}, "
      f"test acc {test_acc:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
axes[0].plot(hist["train_loss"], label="train")
axes[0].plot(hist["val_loss"], label="validation")
axes[0].set(title="cross-entropy", xlabel="epoch", yscale="log")
axes[1].plot(hist["train_acc"], label="train")
axes[1].plot(hist["val_acc"], label="validation")
axes[1].set(title="accuracy", xlabel="epoch")
for ax in axes:
    ax.legend()
    ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## 4 · Evaluating on the test set: confusion matrix, precision, recall
#
# Accuracy is one number; the **confusion matrix** shows *which* digits are mistaken for
# which (row = true digit, column = prediction). Precision of class $k$: of the samples
# predicted $k$, the fraction that are $k$. Recall: of the samples that are $k$, the
# fraction predicted $k$.

# %%
mlp.eval()
with tn.no_grad():
    pred = tn.metrics.predictions(mlp(Xte_s))       # a NumPy array of class labels
cm = np.asarray(tn.metrics.confusion_matrix(yte, pred, num_classes=10))
prec = tn.metrics.precision(yte, pred, average="macro")
rec = tn.metrics.recall(yte, pred, average="macro")
f1 = tn.metrics.f1_score(yte, pred, average="macro")
print(f"test accuracy {tn.metrics.accuracy(yte, pred):.3f} | macro precision {prec:.3f}, recall {rec:.3f}, F1 {f1:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1.2, 1]})
axes[0].imshow(cm, cmap="Blues")
for i in range(10):
    for j in range(10):
        if cm[i, j]:
            axes[0].text(j, i, cm[i, j], ha="center", va="center", fontsize=8,
                         color="white" if cm[i, j] > cm.max() / 2 else "black")
axes[0].set(xlabel="predicted", ylabel="true", title="confusion matrix (test)", xticks=range(10), yticks=range(10))
wrong = np.flatnonzero(pred != yte.numpy())
axes[1].axis("off")
axes[1].set_title(f"{len(wrong)} mistakes (true → predicted)")
for k, i in enumerate(wrong[:12]):
    sub = axes[1].inset_axes([(k % 4) * 0.25, 0.66 - (k // 4) * 0.33, 0.22, 0.28])
    sub.imshow(Xte.numpy()[i].reshape(8, 8), cmap="gray_r")
    sub.set_title(f"{yte.numpy()[i]} → {pred[i]}", fontsize=8)
    sub.axis("off")
plt.show()

# %% [markdown]
# ## 5 · Overfitting and its cures
#
# Overfitting is easiest to provoke with **little data, a big model and noisy labels**:
# 300 training digits of which 30 % carry a wrong label (as hand-labelled data often
# does), an MLP 64-256-256-10 and 80 epochs. The network has enough capacity to memorise
# every training label, the wrong ones included: training accuracy reaches 100 % while
# validation loss, after a few epochs, climbs and validation accuracy falls. Three cures
# from seed 001:
#
# * **L2 regularisation**: add $\lambda\sum w^2$ over the weight matrices to the loss
#   (`nn.l2_penalty`), so large weights cost something; its gradient $2\lambda w$ pulls
#   every weight towards 0 (`AdamW(weight_decay=...)` is the decoupled variant, see
#   notebook 04);
# * **dropout**: during training, zero each hidden unit with probability $p$ (and scale
#   the rest by $1/(1-p)$), so no unit can rely on a particular other one; `model.eval()`
#   turns it off;
# * **early stopping**: keep the weights from the epoch with the best validation loss.
#
# Besides validation accuracy we measure how many of the *wrong* training labels each
# model has learned: that is memorisation, measured directly.

# %%
rng5 = np.random.default_rng(0)
small = rng5.permutation(len(train))[:300]
y_noisy = ytr.numpy()[small].copy()
flipped = rng5.random(len(small)) < 0.3
y_noisy[flipped] = (y_noisy[flipped] + rng5.integers(1, 10, flipped.sum())) % 10   # a different, wrong digit
Xsm, ysm = tn.tensor(Xtr_s.numpy()[small]), tn.tensor(y_noisy)
print(f"{len(small)} training digits, {flipped.sum()} of them ({flipped.mean():.0%}) with a wrong label")
long_epochs = 150 if FULL else 80


def big_mlp(dropout=0.0):
    layers = [nn.Linear(64, 256), nn.ReLU()]
    layers += [nn.Dropout(dropout)] if dropout else []
    layers += [nn.Linear(256, 256), nn.ReLU()]
    layers += [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(*layers, nn.Linear(256, 10))


def memorised(model):
    """Fraction of the wrongly labelled training digits predicted with their wrong label."""
    model.eval()
    with tn.no_grad():
        pred = model(Xsm).argmax(axis=1).numpy()
    model.train()
    return (pred[flipped] == y_noisy[flipped]).mean()


runs = {}
for name, dropout, l2 in [("no regularisation", 0.0, 0.0), ("L2 penalty λ=1e-2", 0.0, 1e-2), ("dropout 0.5", 0.5, 0.0)]:
    tn.manual_seed(0)
    model = big_mlp(dropout)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    h, best = fit(model, opt, Xsm, ysm, long_epochs, batch_size=50, keep_best=True, l2=l2)
    runs[name] = (model, h, best, memorised(model))
    print(f"{name:20s} train acc {h['train_acc'][-1]:.3f} | wrong labels learned {runs[name][3]:.0%} | "
          f"val acc {h['val_acc'][-1]:.3f} | val loss final {h['val_loss'][-1]:.3f}, best {best[0]:.3f} at epoch {best[2]}")

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for k, (name, (_, h, best, _)) in enumerate(runs.items()):
    axes[0].plot(h["train_loss"], "--", color=f"C{k}", lw=1)
    axes[0].plot(h["val_loss"], color=f"C{k}", label=name)
    axes[0].plot(best[2], best[0], "o", color=f"C{k}")
    axes[1].plot(h["val_acc"], color=f"C{k}", label=name)
axes[0].set(yscale="log", xlabel="epoch", title="loss: dashed = train, solid = validation, dot = early stop")
axes[1].set(xlabel="epoch", title="validation accuracy")
axes[0].legend(fontsize=8)
axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# **Early stopping** in code: we kept a copy of the `state_dict` at the best validation
# loss. Loading it back restores that model:

# %%
base_model, base_hist, (best_loss, best_state, best_epoch), _ = runs["no regularisation"]
last_val_loss = base_hist["val_loss"][-1]
base_model.load_state_dict(best_state)
restored_loss, restored_acc = evaluate(base_model, Xva_s, yva)
early_memorised = memorised(base_model)
print(f"val loss at the last epoch {last_val_loss:.3f}; early-stopped model (epoch {best_epoch}) {restored_loss:.3f}, "
      f"val acc {restored_acc:.3f}, wrong labels learned {early_memorised:.0%}")

weight_norm = {name: float(sum((p.detach() ** 2).sum().item() for p in m.parameters())) ** 0.5
               for name, (m, _, _, _) in runs.items()}
print("weight norms:", {k: round(v, 1) for k, v in weight_norm.items()})

drop_model = runs["dropout 0.5"][0]
drop_model.train()
with tn.no_grad():
    a1, a2 = drop_model(Xva_s[:5]).numpy(), drop_model(Xva_s[:5]).numpy()
drop_model.eval()
with tn.no_grad():
    e1, e2 = drop_model(Xva_s[:5]).numpy(), drop_model(Xva_s[:5]).numpy()
print("dropout: two train-mode passes differ:", not np.allclose(a1, a2), "| eval mode is deterministic:", np.array_equal(e1, e2))

# %% [markdown]
# **What each cure did here.** Without regularisation the network learned nearly every
# wrong label, and validation accuracy fell by about ten points from its best epoch.
# **Early stopping** did best: it keeps the model from before the memorising began (the
# clean signal is learned first, the noise later). **L2** and **dropout** each made
# memorising harder (fewer wrong labels learned, smaller weights for L2) and ended several
# points above the unregularised model, but below the early-stopped one: at this strength
# they slow memorisation rather than prevent it, and a stronger penalty also hurts the
# fit to the clean labels (try λ = 3e-2). In practice they are combined, with the
# strength and the stopping epoch chosen on validation data. With clean labels and this
# much data (section 3) none of them is needed much.

# %% [markdown]
# ## Checks

# %%
assert reg_loss.item() < 0.03, reg_loss.item()
assert Xraw.numpy().max() == 16 and abs(Xtr.numpy().max() - 1.0) < 1e-6
assert abs(Xtr_s.mean().item()) < 1e-4
assert len(train) + len(val) + len(test) == 1797
assert test_acc > 0.93, test_acc
assert cm.sum() == len(test) and np.trace(cm) == int(round(test_acc * len(test)))
assert prec > 0.9 and rec > 0.9 and f1 > 0.9
h0 = runs["no regularisation"][1]
assert h0["train_acc"][-1] == 1.0 and h0["train_acc"][-1] - h0["val_acc"][-1] > 0.05   # it overfits
assert best_epoch < long_epochs - 1 and last_val_loss > best_loss                       # val loss rose again
assert abs(restored_loss - best_loss) < 1e-6
assert weight_norm["L2 penalty λ=1e-2"] < weight_norm["no regularisation"]
last = {name: r[1]["val_acc"][-1] for name, r in runs.items()}
assert runs["no regularisation"][3] > 0.9 and early_memorised < 0.5                     # memorised, then not yet
assert restored_acc > last["no regularisation"] + 0.05                                  # early stopping pays
assert last["L2 penalty λ=1e-2"] > last["no regularisation"] and last["dropout 0.5"] > last["no regularisation"]
assert runs["L2 penalty λ=1e-2"][3] < runs["no regularisation"][3] and runs["dropout 0.5"][3] < runs["no regularisation"][3]
assert runs["L2 penalty λ=1e-2"][1]["val_loss"][-1] < last_val_loss                     # L2 slows the rise
assert not np.allclose(a1, a2) and np.array_equal(e1, e2)
print("all checks passed")
