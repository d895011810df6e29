# %% [markdown]
# # 06 · Convolution
#
# Seeds 002 and 003 describe the convolutional network (CNN) for images: **convolution
# layers** extract local features, **pooling layers** lower the resolution (fewer
# parameters and less compute), and **fully connected layers** classify. This notebook
#
# 1. computes a convolution by hand and with `F.conv2d`;
# 2. fixes the size arithmetic of seed 003's CNN (its `Linear(64*56*56, 128)` does not fit);
# 3. explains **im2col**, the trick that turns a convolution into one matrix product,
#    with pictures of the very matrix tinynet builds;
# 4. trains a conv-pool-fc network on the 8×8 digits and looks at its filters and
#    feature maps;
# 5. shows data augmentation (seed 001's 数据增强: rotation, shifts, scaling).
#
# The five source documents are Chinese articles on large models, cited by number. Those cited here:
#
# * seed 001: an untitled article on the technology, market and policy trends facing founders in the era of large models (大模型时代创业者面临的技术、市场和政策趋势), named by its abstract;
# * seed 002: an untitled article on how growing compute and data made large models central to AI (计算能力与数据规模的提升), named by its opening;
# * seed 003: *大模型：数据驱动的智能革命* (Large models: the data-driven intelligence revolution).

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.data import DataLoader, TensorDataset, load_digits, transforms
from tinynet.models import LeNet

tn.manual_seed(0)
FULL = False   # True: train longer, and with augmentation

# %% [markdown]
# ## 1 · A convolution is a sliding dot product
#
# A 3×3 kernel $w$ slides over the image; at each position the output is the sum of the
# element-wise products with the patch under it, plus a bias:
# $y_{pq} = b + \sum_{i,j} w_{ij}\, x_{p+i,\,q+j}$. (Strictly this is a
# cross-correlation; deep-learning libraries all call it convolution.) Tensors are NCHW:
# (batch, channels, height, width); weights are (out_channels, in_channels, kh, kw).

# %%
x = tn.arange(25, dtype=tn.float32).reshape(1, 1, 5, 5)
w = tn.tensor([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]]])   # a Sobel filter
y = F.conv2d(x, w)
patch = x.numpy()[0, 0, 1:4, 2:5]
by_hand = float((patch * w.numpy()[0, 0]).sum())
print("input\n", x.numpy()[0, 0], "\noutput (3x3)\n", y.numpy()[0, 0])
print("output[1, 2] by hand:", by_hand, " tinynet:", y.numpy()[0, 0, 1, 2])

# %% [markdown]
# ## 2 · Output sizes, and seed 003's CNN
#
# With input size $H$, kernel $k$, padding $p$ and stride $s$ the output size is
# $\lfloor (H + 2p - k)/s \rfloor + 1$. A 3×3 convolution without padding loses one pixel
# on each side; a 2×2 max-pool halves the size.
#
# Seed 003's network resizes images to 224×224 and applies `Conv2d(3, 32, 3)` and
# `Conv2d(32, 64, 3)` (no padding, no pooling), then `Linear(64 * 56 * 56, 128)`. But
# 224 → 222 → 220, so the flattened features number $64\cdot 220\cdot 220 = 3\,097\,600$,
# not $64\cdot 56\cdot 56 = 200\,704$: the code fails at its first forward pass. 56 = 224/4
# is what two 2×2 poolings after padded convolutions give. tinynet shows both:

# %%
img = tn.randn(1, 3, 224, 224)
seed003 = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU())
feat = seed003(img)
print("seed 003 conv stack output:", feat.shape, "->", int(np.prod(feat.shape[1:])), "features")
fc1 = nn.Linear(64 * 56 * 56, 128)
try:
    fc1(feat.flatten(1))
    seed003_error = None
except ValueError as err:
    seed003_error = str(err)
    print("ValueError:", seed003_error)

fixed = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
fixed_out = fixed(img)
print("with padding=1 and two 2x2 max-pools:", fixed_out.shape, "= 64*56*56 =", 64 * 56 * 56)

# %% [markdown]
# ## 3 · im2col: a convolution as one matrix product
#
# Looping over output positions in Python would be hopelessly slow. Instead, **im2col**
# copies every receptive field (a $C\times k_h\times k_w$ patch) into one **column** of a
# matrix `cols` of shape $(C k_h k_w,\ N\cdot OH\cdot OW)$. The weights, flattened to
# $(O,\ C k_h k_w)$, multiply it in a single GEMM, which the BLAS library runs at full
# speed; the result is reshaped to $(N, O, OH, OW)$. The backward pass is two more GEMMs
# with the same matrices plus **col2im**, which adds columns back into image positions.
#
# Below, a 4×4 image and a 3×3 kernel: four receptive fields (coloured on the left) become
# the four columns of `cols` (right). The matrix is the one tinynet's CPU kernel builds
# (`device.kernels.im2col`, a Numba loop), not a re-implementation.

# %%
x4 = tn.arange(1, 17, dtype=tn.float32).reshape(1, 1, 4, 4)
kernels = tn.device("cpu").kernels
cols = kernels.im2col(x4.numpy(), 3, 3, 1, 1, 0, 0, 1, 1, 2, 2)   # kh kw, stride, pad, dilation, out size
w4 = tn.randn(1, 1, 3, 3)
gemm = (w4.numpy().reshape(1, 9) @ cols).reshape(1, 1, 2, 2)
conv = F.conv2d(x4, w4).numpy()
print("cols shape", cols.shape, "| max |GEMM - conv2d| =", np.abs(gemm - conv).max())

fig, axes = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1, 1.1]})
colours = ["C0", "C1", "C2", "C3"]
ax = axes[0]
ax.imshow(x4.numpy()[0, 0], cmap="Greys", alpha=0.15)
for (i, j), v in np.ndenumerate(x4.numpy()[0, 0]):
    ax.text(j, i, int(v), ha="center", va="center", fontsize=12)
for k, (p, q) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
    off = 0.06 * k
    ax.add_patch(Rectangle((q - 0.5 + off, p - 0.5 + off), 3 - 2 * off, 3 - 2 * off, fill=False,
                           ec=colours[k], lw=2.5))
ax.set_title("input 4×4, four 3×3 receptive fields")
ax.set_xticks([]), ax.set_yticks([])
ax = axes[1]
ax.imshow(np.zeros_like(cols), cmap="Greys", vmin=0, vmax=1)
for (r, c), v in np.ndenumerate(cols):
    ax.text(c, r, int(v), ha="center", va="center", fontsize=10, color=colours[c], fontweight="bold")
ax.set_xticks(range(4), [str(k) for k in range(4)])
ax.set_xlabel("receptive field = output position")
ax.set_yticks(range(9), [f"w[{i},{j}]" for i in range(3) for j in range(3)])
ax.set_title("cols (9 × 4): one column per output position")
plt.tight_layout()
plt.show()

# %% [markdown]
# The price is memory: every input pixel is copied into up to $k_h k_w$ columns. For the
# seed-003 stack above, the second layer's `cols` has $32\cdot 9$ rows and $220^2$ columns:

# %%
rows, columns = 32 * 9, 220 * 220
print(f"cols for Conv2d(32, 64, 3) on 222x222: {rows} x {columns} floats = {rows * columns * 4 / 2**20:.0f} MiB "
      f"(the input itself is {32 * 222 * 222 * 4 / 2**20:.1f} MiB)")

# %% [markdown]
# ## 4 · Hand-made filters on a digit
#
# Before learning filters, apply some classic ones: vertical and horizontal edge
# detectors (Sobel) and a blur. One `F.conv2d` call applies all three (weight shape
# (3, 1, 3, 3): three output channels), with `padding=1` to keep the 8×8 size.

# %%
digits = load_digits("train", flatten=False)
Xd, yd = digits.tensors
one = Xd[:1]                                                    # (1, 1, 8, 8)
sobel_x = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
sobel_y = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
blur = [[1 / 9] * 3] * 3
bank = tn.tensor([[sobel_x], [sobel_y], [blur]], dtype=tn.float32)
maps = F.conv2d(one, bank, padding=1)
fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
axes[0].imshow(one.numpy()[0, 0], cmap="gray_r")
axes[0].set_title(f"digit {int(yd.numpy()[0])}")
for ax, m, title in zip(axes[1:], maps.numpy()[0], ["vertical edges", "horizontal edges", "blur"]):
    if "edges" in title:  # signed responses: white = 0, red and blue = the two edge directions
        lim = float(np.abs(m).max())
        ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(m, cmap="gray_r")
    ax.set_title(title)
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5 · A conv-pool-fc network, trained
#
# The architecture of seeds 002/003 is tinynet's `LeNet` (in `tinynet.models`), here sized
# for 8×8 digits: `Conv(1→16, 3, pad 1) → ReLU → MaxPool 2` (16×4×4) `→ Conv(16→32, 3,
# pad 1) → ReLU → MaxPool 2` (32×2×2) `→ Flatten → Linear(128→10)` (`hidden=0`: a single
# fully connected layer, as in the benchmark workload W2).

# %%
train, val, test = (load_digits(s, flatten=False) for s in ("train", "val", "test"))
Xte, yte = test.tensors
tn.manual_seed(0)
cnn = LeNet(in_channels=1, num_classes=10, input_size=8, channels=(16, 32), hidden=0)
print(cnn)
opt = optim.Adam(cnn.parameters(), lr=3e-3)
augment = transforms.RandomAffine(degrees=10, translate=(0.1, 0.1)) if FULL else None
loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
epochs = 30 if FULL else 12
cnn_loss, cnn_val = [], []
for epoch in range(epochs):
    for xb, yb in loader:
        if augment is not None:
            xb = augment(xb)
        opt.zero_grad()
        loss = F.cross_entropy(cnn(xb), yb)
        loss.backward()
        opt.step()
        cnn_loss.append(loss.item())
    cnn.eval()
    with tn.no_grad():
        Xv, yv = val.tensors
        cnn_val.append((cnn(Xv).argmax(axis=1) == yv).float().mean().item())
    cnn.train()
cnn.eval()
with tn.no_grad():
    cnn_test_acc = (cnn(Xte).argmax(axis=1) == yte).float().mean().item()
print(f"validation accuracy per epoch: {np.round(cnn_val, 3)}\ntest accuracy: {cnn_test_acc:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot(cnn_loss, lw=0.8)
axes[0].set(title="training loss (per batch)", xlabel="step", yscale="log")
axes[1].plot(range(1, epochs + 1), cnn_val, "o-")
axes[1].set(title="validation accuracy", xlabel="epoch")
plt.show()

# %% [markdown]
# ### What did it learn? Filters and feature maps
#
# The first layer's 16 filters are 3×3 weight patches (red positive, blue negative); many
# look like edge or stroke detectors. Feeding one digit through the first convolution
# gives 16 **feature maps**: where each filter responds.

# %%
conv1 = cnn.features[0]
filters = conv1.weight.detach().numpy()[:, 0]                  # (16, 3, 3)
with tn.no_grad():
    fmap = F.relu(conv1(Xte[:1])).numpy()[0]                   # (16, 8, 8)
fig, axes = plt.subplots(2, 17, figsize=(15, 2.4))
lim = np.abs(filters).max()
axes[0, 0].imshow(Xte.numpy()[0, 0], cmap="gray_r")
axes[0, 0].set_title(f"input: {int(yte.numpy()[0])}", fontsize=9)
for k in range(16):
    axes[0, k + 1].imshow(filters[k], cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1, k + 1].imshow(fmap[k], cmap="viridis")
for ax in axes.ravel():
    ax.axis("off")
axes[0, 1].set_title("16 filters →", fontsize=9, loc="left")
axes[1, 1].set_title("16 feature maps →", fontsize=9, loc="left")
plt.show()
print("feature maps that are zero everywhere for this digit:", int((fmap.reshape(16, -1).max(1) == 0).sum()))

# %% [markdown]
# A map that is dark everywhere belongs to a filter whose response to this digit is
# negative at every position, so the ReLU zeroes it. If that happened for *every* input,
# the unit would be "dead" (no gradient ever reaches it): one reason for careful
# initialisation and modest learning rates.

# %% [markdown]
# ## 6 · Data augmentation
#
# Seed 001 lists data augmentation (rotation, scaling, cropping) as a cure for
# overfitting: each epoch shows the network slightly different versions of the same
# images, so it must learn what does not change. tinynet's transforms work on whole
# batches (N, C, H, W), one random draw per image; the `DataLoader` can apply them
# (`DataLoader(..., transform=...)`) or you call them yourself, as in the training loop
# above when `FULL = True`.

# %%
sample = Xd[:6]
augmenters = {
    "RandomRotation(20)": transforms.RandomRotation(20, seed=0),
    "RandomAffine(translate=0.15)": transforms.RandomAffine(translate=(0.15, 0.15), seed=0),
    "RandomAffine(scale=0.8–1.2)": transforms.RandomAffine(scale=(0.8, 1.2), seed=0),
    "RandomCrop(8, padding=1)": transforms.RandomCrop(8, padding=1, seed=0),
}
augmented = {name: aug(sample) for name, aug in augmenters.items()}
fig, axes = plt.subplots(len(augmenters) + 1, 6, figsize=(8, 7))
for j in range(6):
    axes[0, j].imshow(sample.numpy()[j, 0], cmap="gray_r")
    for i, (name, out) in enumerate(augmented.items(), start=1):
        axes[i, j].imshow(out.numpy()[j, 0], cmap="gray_r")
for i, name in enumerate(["original"] + list(augmented)):
    axes[i, 0].set_title(name, fontsize=8, loc="left")
for ax in axes.ravel():
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Does it help? Measured
#
# We train the same CNN on 200 training digits, twice without and twice with random
# rotations (±10°) and shifts (±10 %), 60 epochs each, and test on two test sets: the
# ordinary one, and the same 269 test digits rotated and shifted at random (by a fixed
# draw), as digits written by a less careful hand would be.

# %%
Xtr_all, ytr_all = train.tensors
few = np.random.default_rng(0).permutation(len(Xtr_all))[:200]
few_set = TensorDataset(tn.tensor(Xtr_all.numpy()[few]), tn.tensor(ytr_all.numpy()[few]))
Xte_moved = transforms.RandomAffine(degrees=10, translate=(0.12, 0.12), seed=123)(Xte)


def accuracy(model, x):
    model.eval()
    with tn.no_grad():
        return (model(x).argmax(axis=1) == yte).float().mean().item()


aug_results = {}
for use_aug in (False, True):
    for seed in (0, 1):
        tn.manual_seed(seed)
        net = LeNet(in_channels=1, num_classes=10, input_size=8, channels=(16, 32), hidden=0)
        net_opt = optim.Adam(net.parameters(), lr=3e-3)
        aug = transforms.RandomAffine(degrees=10, translate=(0.1, 0.1), seed=seed) if use_aug else None
        for epoch in range(60):
            for xb, yb in DataLoader(few_set, batch_size=32, shuffle=True, seed=seed * 100 + epoch):
                net_opt.zero_grad()
                F.cross_entropy(net(aug(xb) if aug else xb), yb).backward()
                net_opt.step()
        aug_results[(use_aug, seed)] = (accuracy(net, Xte), accuracy(net, Xte_moved))
clean = {a: np.mean([aug_results[(a, s)][0] for s in (0, 1)]) for a in (False, True)}
moved = {a: np.mean([aug_results[(a, s)][1] for s in (0, 1)]) for a in (False, True)}
for a in (False, True):
    print(f"{'with' if a else 'without'} augmentation: test {clean[a]:.1%}, rotated/shifted test {moved[a]:.1%}")
fig, ax = plt.subplots(figsize=(5.5, 3))
ax.bar([0, 1], [clean[False], moved[False]], width=0.35, label="without augmentation")
ax.bar([0.38, 1.38], [clean[True], moved[True]], width=0.35, label="with augmentation")
ax.set_xticks([0.19, 1.19], ["test digits", "rotated/shifted test digits"])
ax.set_ylim(0.4, 1.0)
ax.set_ylabel("accuracy (mean of 2 seeds)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Honestly read: on the ordinary test digits augmentation gains a point or two, a few
# images of 269 and close to the spread between seeds: the test digits are
# centred and upright like the training digits, so there is little for it to fix. On
# rotated and shifted digits it gains over twenty points: the network trained on moved
# copies learned to recognise a digit wherever it sits. Augmentation helps when the data
# the model will meet varies in ways the training set does not show, and only with
# transformations that keep the label (a rotation of 180° would turn a 6 into a 9).

# %% [markdown]
# ## Checks

# %%
assert by_hand == float(y.numpy()[0, 0, 1, 2]) and y.shape == (1, 1, 3, 3)
assert feat.shape == (1, 64, 220, 220) and seed003_error is not None and "200704" in seed003_error.replace(",", "")
assert fixed_out.shape == (1, 64 * 56 * 56)
assert cols.shape == (9, 4) and cols[:, 0].tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]
assert np.abs(gemm - conv).max() < 1e-5
assert maps.shape == (1, 3, 8, 8) and abs(maps.numpy()[0, 2, 4, 4] - one.numpy()[0, 0, 3:6, 3:6].mean()) < 1e-6
assert cnn_test_acc > 0.9, cnn_test_acc
assert cnn_val[-1] > cnn_val[0]
assert all(out.shape == sample.shape for out in augmented.values())
assert not np.array_equal(augmented["RandomRotation(20)"].numpy(), sample.numpy())
assert moved[True] > moved[False] + 0.1 and clean[True] > clean[False] - 0.02
print("all checks passed")
