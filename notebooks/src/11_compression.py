# %% [markdown]
# # 11 · Compression: pruning, int8 quantization, distillation, float16
#
# A trained network is usually larger and slower than it needs to be. Four classic ways to
# make it smaller or cheaper, each a few lines in tinynet (PyTorch's names throughout):
#
# 1. **Pruning** (Han et al., 2015, *Learning both Weights and Connections*): set the least
#    important weights to zero (unstructured), or remove whole channels (structured), then
#    fine-tune so the rest makes up for them.
# 2. **int8 quantization** (Jacob et al., 2018, *Quantization and Training of Neural Networks
#    for Efficient Integer-Arithmetic-Only Inference*): store weights and activations as 8-bit
#    integers with a scale and zero point, and compute in integers.
# 3. **The int8 arithmetic by hand**: one quantized Linear layer in NumPy, equal to the
#    library's int8 kernel bit for bit.
# 4. **Distillation** (Hinton et al., 2015, *Distilling the Knowledge in a Neural Network*):
#    train a small student to copy a large teacher's softened outputs.
# 5. **float16 and loss scaling** (Micikevicius et al., 2018, *Mixed Precision Training*):
#    half-precision gradients underflow to zero; multiplying the loss by a scale saves them.
#
# Everything runs on scikit-learn's 8×8 digits (1258 training, 270 validation and 269 test
# images). With 269 test images one image is 0.37 percentage points, so differences of
# one or two images are noise, not evidence.

# %%
import copy
import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
import tinynet.quantization as tq
from tinynet.data import load_digits
from tinynet.models import MLP, LeNet
from tinynet.nn.utils import prune
from tinynet.nn.utils.shrink import prune_dead_biases, shrink

tn.manual_seed(0)
train, val, test = (load_digits(s, flatten=False) for s in ("train", "val", "test"))
Xtr, ytr = train.tensors
Xte, yte = test.tensors
Xtr_flat, Xte_flat = Xtr.reshape(len(Xtr), 64), Xte.reshape(len(Xte), 64)


def accuracy(model, x, y):
    """Test accuracy in percent (eval mode, no autograd graph)."""
    was = model.training
    model.eval()
    with tn.no_grad():
        acc = (model(x).argmax(axis=1) == y).float().mean().item() * 100
    model.train(was)
    return acc


def fit(model, x, y, epochs, lr=3e-3, seed=0, teacher_logits=None, temperature=4.0, alpha=0.9, batch_size=64):
    """Adam on mini-batches of ``batch_size``; with ``teacher_logits`` the loss is the distillation loss."""
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = tn.tensor(order[i:i + batch_size])
            out = model(x[idx])
            if teacher_logits is None:
                loss = F.cross_entropy(out, y[idx])
            else:
                loss = F.distillation_loss(out, teacher_logits[idx], y[idx], temperature=temperature, alpha=alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model


def latency_ms(model, x, repeats=20):
    """Median wall time of one forward pass, in milliseconds."""
    times = []
    with tn.no_grad():
        model(x)  # warm-up (Numba compiles on first use)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# %% [markdown]
# ## The float models
#
# One CNN (tinynet's `LeNet` for 8×8 inputs: two 3×3 convolutions with 16 and 32 channels,
# each followed by ReLU and 2×2 max-pooling, then Linear 128→64→10) is the model we prune
# and quantize and the teacher we distil from. One MLP (64→32→10) gives the Linear layer we
# quantize by hand. A few epochs of Adam are enough on digits.

# %%
tn.manual_seed(0)
cnn = fit(LeNet(in_channels=1, num_classes=10, input_size=8, channels=(16, 32), hidden=64), Xtr, ytr, epochs=30)
tn.manual_seed(0)
mlp = fit(MLP(64, hidden=(32,), out_features=10), Xtr_flat, ytr, epochs=15)
cnn_acc, mlp_acc = accuracy(cnn, Xte, yte), accuracy(mlp, Xte_flat, yte)
print(f"CNN: {n_params(cnn)} parameters, test accuracy {cnn_acc:.2f} %")
print(f"MLP: {n_params(mlp)} parameters, test accuracy {mlp_acc:.2f} %")

# %% [markdown]
# ## 1 · Accuracy against sparsity
#
# **Unstructured magnitude pruning** removes the weights with the smallest $|w|$: they
# contribute least to $\sum_k w_k x_k$. `prune.global_unstructured` ranks the weights of
# *all* listed layers together (a layer with many small weights loses more of them), and
# `prune.l1_unstructured` does the same within one layer. Pruning does not delete anything:
# it re-parametrises `weight = weight_orig * weight_mask`, recomputed before every forward,
# so the pruned weights get zero gradient and stay zero while we fine-tune.
#
# **Structured pruning** (`prune.ln_structured(layer, "weight", amount, n=2, dim=0)`) removes
# whole output channels, those with the smallest L2 norm $\lVert W_{c,:}\rVert_2$. Zeros
# scattered through a dense matrix save nothing in a dense GEMM; a missing channel makes
# every following matrix smaller, which is real speed.
#
# Each model below is pruned in one shot from the trained CNN, then fine-tuned for 2 epochs.
# (Iterative pruning, several small steps each followed by fine-tuning as in Han et al.,
# does better at high sparsity: `tinynet prune --steps`.)

# %%
def prunable(model):
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def sparsity(model):
    """Share of zero weights over every Linear/Conv2d weight, in percent."""
    zeros = sum(int((m.weight == 0).sum().item()) for m, _ in prunable(model))
    return 100 * zeros / sum(m.weight.numel() for m, _ in prunable(model))


unstructured = {}
for amount in (0.0, 0.5, 0.8, 0.9, 0.95):
    model = copy.deepcopy(cnn)
    if amount:
        prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=amount)
        before = accuracy(model, Xte, yte)
        fit(model, Xtr, ytr, epochs=2, lr=1e-3, seed=1)
    else:
        before = cnn_acc
    unstructured[amount] = dict(before=before, after=accuracy(model, Xte, yte), sparsity=sparsity(model))
    print(f"global L1 {amount:4.0%}: sparsity {unstructured[amount]['sparsity']:5.1f} %, accuracy "
          f"{before:6.2f} % -> {unstructured[amount]['after']:6.2f} % after fine-tuning")

# %% [markdown]
# Structured: each hidden layer (both convolutions and the 128→64 Linear; never the output
# layer, whose 10 channels are the classes) loses the same share of its output channels.

# %%
def hidden_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][:-1]


structured, structured_models = {}, {}
for amount in (0.0, 0.25, 0.5, 0.75):
    model = copy.deepcopy(cnn)
    if amount:
        for layer in hidden_layers(model):
            prune.ln_structured(layer, "weight", amount=amount, n=2, dim=0)
        dead_biases = prune_dead_biases(model)   # the bias of every pruned channel, too (see below)
        fit(model, Xtr, ytr, epochs=2, lr=1e-3, seed=1)
    structured[amount] = accuracy(model, Xte, yte)
    structured_models[amount] = model
    print(f"ln_structured {amount:4.0%} of the channels: accuracy {structured[amount]:6.2f} %")

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot([100 * a for a in unstructured], [r["after"] for r in unstructured.values()], "o-",
        label="global unstructured L1 (share of weights)")
ax.plot([100 * a for a in unstructured], [r["before"] for r in unstructured.values()], "o:", c="C0", alpha=0.5,
        label="   ... before fine-tuning")
ax.plot([100 * a for a in structured], list(structured.values()), "s-", label="ln_structured (share of channels)")
ax.set(xlabel="pruned (%)", ylabel="test accuracy (%)", title="CNN on digits: accuracy against sparsity")
ax.legend()
plt.show()

# %% [markdown]
# Magnitude pruning with a short fine-tune removes most of the weights for little or no loss;
# one-shot pruning to 90-95 % removes too much at once for two epochs to repair (the dotted
# line: accuracy right after pruning, before fine-tuning). Removing whole channels costs more
# accuracy per pruned share, since every removed channel takes its whole feature map along,
# but it is the kind of sparsity that makes the model smaller and faster.
#
# The bias of a pruned channel is pruned too (`prune_dead_biases`: `prune.custom_from_mask`
# on the bias entries whose weight slice is all zero), otherwise the "removed" channel would
# still output ReLU(bias). Now `shrink` rebuilds the 50 % model with those channels really gone:
# each convolution and Linear gets fewer outputs, and the next layer fewer inputs. It checks
# that the small model gives the same outputs as the masked one.

# %%
half = structured_models[0.5]
small = shrink(half, Xte[:32])
print(small)
with tn.no_grad():
    shrink_gap = float(np.abs(small(Xte).numpy() - half(Xte).numpy()).max())
params_before, params_after = n_params(cnn), n_params(small)
t_big, t_small = latency_ms(cnn, Xte[:32]), latency_ms(small, Xte[:32])
print(f"parameters {params_before} -> {params_after};  forward at batch 32: {t_big:.3f} ms -> {t_small:.3f} ms "
      f"({t_big / t_small:.1f}x); max |output difference| {shrink_gap:.2e}")

# %% [markdown]
# ## 2 · Accuracy against bits: float32, int8 static, int8 QAT
#
# A real value $r$ is stored as an integer $q$ with a **scale** $s$ and a **zero point** $z$:
# $r \approx s\,(q - z)$. For a range $[r_{min}, r_{max}]$ (widened to contain 0, so that 0
# is exact) and integers $[q_{min}, q_{max}]$:
#
# $$s = \frac{r_{max} - r_{min}}{q_{max} - q_{min}}, \qquad z = q_{min} - \operatorname{round}(r_{min}/s).$$
#
# Weights are int8 and symmetric ($z = 0$; the x86 preset used below gives each output
# channel its own scale); activations are uint8 with a zero point. Weights are known after
# training, but the activations' ranges are not, so **post-training static
# quantization** (PTQ) runs in three steps, PyTorch's eager flow:
#
# * `fuse_modules`: Conv2d + ReLU become one `ConvReLU2d`, Linear + ReLU one `LinearReLU`
#   (the ReLU is applied before requantizing, so it costs nothing and loses no precision);
# * `prepare`: insert **observers** that record each activation's range; then **calibrate**
#   by running representative data through the model;
# * `convert`: replace each layer by its int8 version with the observed scales.
#
# `QuantStub` and `DeQuantStub` mark where float inputs become quint8 and where the int8
# result returns to float. **Quantization-aware training** (QAT, `prepare_qat`) instead inserts
# *fake quantization* (quantize then dequantize, with a straight-through gradient) during a
# short fine-tune, so the weights adapt to the rounding.

# %%
class QuantCNN(nn.Module):
    """The float CNN between a QuantStub (float -> quint8) and a DeQuantStub (quint8 -> float)."""

    def __init__(self, model):
        super().__init__()
        self.quant = tq.QuantStub()
        self.model = model
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        return self.dequant(self.model(self.quant(x)))


FUSE = [["model.features.0", "model.features.1"], ["model.features.3", "model.features.4"],
        ["model.classifier.1", "model.classifier.2"]]
print("layers of the classifier:", [type(m).__name__ for m in cnn.classifier])

ptq = QuantCNN(copy.deepcopy(cnn)).eval()
ptq = tq.fuse_modules(ptq, FUSE)
ptq.qconfig = tq.get_default_qconfig("x86")
tq.prepare(ptq, inplace=True)
with tn.no_grad():
    for i in range(0, 256, 64):                       # calibrate: 256 training images
        ptq(Xtr[i:i + 64])
tq.convert(ptq, inplace=True)
print(ptq)
ptq_acc = accuracy(ptq, Xte, yte)

# The one-call version does the same (fuse, wrap in stubs, prepare, calibrate, convert):
ptq_oneliner = tq.quantize_model(cnn, [Xtr[i:i + 64] for i in range(0, 256, 64)], qconfig="x86")
with tn.no_grad():
    same_as_oneliner = np.array_equal(ptq(Xte).numpy(), ptq_oneliner(Xte).numpy())
print("quantize_model gives identical outputs:", same_as_oneliner)

qat = QuantCNN(copy.deepcopy(cnn)).eval()
qat = tq.fuse_modules(qat, FUSE)
qat.qconfig = tq.get_default_qat_qconfig("x86")
qat.train()
tq.prepare_qat(qat, inplace=True)
fit(qat, Xtr, ytr, epochs=2, lr=3e-4, seed=2)          # fine-tune through fake quantization
qat_int8 = tq.convert(qat.eval())
qat_acc = accuracy(qat_int8, Xte, yte)

# %% [markdown]
# The checkpoint files: the float model's `state_dict` (float32 weights) against
# `save_quantized` (int8 weights plus one float scale per output channel and the
# activations' scales and zero points), and the latency of one forward pass.

# %%
with tempfile.TemporaryDirectory() as tmp:
    float_path, int8_path = os.path.join(tmp, "float.safetensors"), os.path.join(tmp, "int8.safetensors")
    tn.save(cnn.state_dict(), float_path)
    tq.save_quantized(ptq, int8_path)
    tq.save_quantized(qat_int8, os.path.join(tmp, "qat.safetensors"))
    size_float, size_int8 = os.path.getsize(float_path), os.path.getsize(int8_path)
    size_qat = os.path.getsize(os.path.join(tmp, "qat.safetensors"))

rows = [("float32", cnn, cnn_acc), ("int8 static (PTQ)", ptq, ptq_acc), ("int8 QAT", qat_int8, qat_acc)]
lat = {name: (latency_ms(m, Xte[:1]), latency_ms(m, Xte[:32])) for name, m, _ in rows}
print(f"{'model':<18} {'test acc':>9} {'file':>9} {'batch 1':>9} {'batch 32':>9}")
for name, _, acc in rows:
    size = {"float32": size_float, "int8 static (PTQ)": size_int8, "int8 QAT": size_qat}[name]
    size_txt = f"{size / 1024:.1f} KiB"
    print(f"{name:<18} {acc:8.2f} % {size_txt:>9} {lat[name][0]:7.3f} ms {lat[name][1]:7.3f} ms")
print(f"file size ratio float / int8: {size_float / size_int8:.2f}x")

# %% [markdown]
# The accuracy is essentially unchanged (one test image is 0.37 points). The int8 file is
# about 3x smaller, not the 4x of 8 against 32 bits: the biases stay float32, every output
# channel carries its own scale, and the file's header names every tensor, which weighs a
# lot next to 14 000 parameters. Speed depends on the hardware and the size: on a CPU with
# int8 dot-product instructions and large layers int8 wins, but on a model this small the
# per-layer overheads (quantizing the input, requantizing each output) cost as much as the
# arithmetic, so int8 is no faster here.
#
# ## 3 · The int8 arithmetic of one Linear layer, by hand
#
# Take the MLP's first layer, $y = x W^\top + b$ with $W$ of shape (32, 64). With
# $x \approx s_x (x_q - z_x)$ and $W \approx s_w W_q$:
#
# $$y_{no} \approx s_x s_w \underbrace{\sum_k (x_{q,nk} - z_x)\, W_{q,ok}}_{\text{int32 accumulator}} + b_o,
# \qquad y_q = \operatorname{clamp}\big(\operatorname{round}(y / s_y) + z_y,\ 0,\ 255\big).$$
#
# The whole product runs on 8-bit integers summed in 32 bits; only one multiplication per
# output leaves the integers (the **requantization**). Scales and zero points come from
# min/max with `quantize_params`, which `MinMaxObserver` uses; round is half to even.

# %%
layer = mlp.net[0]
x = Xte_flat[:16] * 2 - 1        # pixels in [-1, 1], so that the input's zero point is not 0
with tn.no_grad():
    y_float = layer(x)
obs_x, obs_w, obs_y = (tq.MinMaxObserver(dtype=tn.quint8),
                       tq.MinMaxObserver(dtype=tn.qint8, qscheme=tq.per_tensor_symmetric),
                       tq.MinMaxObserver(dtype=tn.quint8))
obs_x(x)                                      # an observer records the running min and max ...
obs_w(layer.weight.detach())
obs_y(y_float)


def qparams(observer):
    """... and turns them into (scale, zero point) with the formula above."""
    scale, zero_point = observer.calculate_qparams()
    return float(scale), int(zero_point)


(s_x, z_x), (s_w, z_w), (s_y, z_y) = qparams(obs_x), qparams(obs_w), qparams(obs_y)
print(f"x: scale {s_x:.6f} zero point {z_x} | W: scale {s_w:.6f} zero point {z_w} | y: scale {s_y:.6f} "
      f"zero point {z_y}")

# by hand, in NumPy
x_np, w_np, b_np = x.numpy(), layer.weight.detach().numpy(), layer.bias.detach().numpy()
x_q = np.clip(np.rint(x_np / np.float32(s_x)) + z_x, 0, 255).astype(np.int32)
w_q = np.clip(np.rint(w_np / np.float32(s_w)) + z_w, -128, 127).astype(np.int32)
acc = (x_q - z_x) @ w_q.T                                      # int32 accumulation
y_real = acc * (s_x * s_w) + b_np.astype(np.float64)           # back to real values, float64
y_q_hand = np.clip(np.rint(y_real / s_y) + z_y, 0, 255).astype(np.uint8)

# the library: quantized tensors and the int8 kernel
xq = tq.quantize_per_tensor(x, s_x, z_x, tn.quint8)
wq = tq.quantize_per_tensor(layer.weight.detach(), s_w, z_w, tn.qint8)
yq = tq.functional.linear(xq, wq, layer.bias.detach(), scale=s_y, zero_point=z_y)
y_q_lib = yq.int_repr().numpy()
print("x_q equal:", np.array_equal(x_q, xq.int_repr().numpy()), "| W_q equal:",
      np.array_equal(w_q, wq.int_repr().numpy()), "| y_q equal:", np.array_equal(y_q_hand, y_q_lib))
print("largest |int32 accumulator|:", int(np.abs(acc).max()), " (int32 holds up to 2 147 483 647)")
int8_err = float(np.abs(yq.dequantize().numpy() - y_float.numpy()).max())
print(f"max |int8 result - float result| = {int8_err:.4f}  (output scale {s_y:.4f})")

# %% [markdown]
# `x / s` against `x * (1/s)`: the library multiplies by the float32 reciprocal of the scale
# (as PyTorch does); dividing in NumPy can round a value that lands exactly between two
# integers differently. Here both agree, and the assertion at the end checks it.
#
# ## 4 · Distillation: small students from the CNN teacher
#
# The teacher's output probabilities carry more than the label: a "3" that looks a bit like
# an "8" gets some probability on 8. Softening them with a temperature $T$,
# $p_i = \operatorname{softmax}(z_i / T)$, shows those small probabilities, and the student
# minimises
#
# $$\alpha\, T^2\, \mathrm{KL}\big(p^{teacher}_T \,\|\, p^{student}_T\big) + (1-\alpha)\, \mathrm{CE}(z^{student}, y)$$
#
# (`F.distillation_loss`, `nn.DistillationLoss`; the $T^2$ keeps the soft term's gradient
# on the same scale for any $T$). Students: MLPs 64→h→10 with h = 8, 16, 32, 64, each trained
# twice from the same initialisation and batch order, 40 epochs of Adam (lr 2e-3, batch 32):
# once with the distillation loss ($T = 4$, $\alpha = 0.9$, Hinton et al.'s regime) and
# once with cross-entropy on the labels alone. Besides the test accuracy we print the
# accuracy on the training images: how well each student fits what it was trained on.

# %%
with tn.no_grad():
    teacher_logits = cnn.eval()(Xtr)
distil_acc, label_acc, distil_fit, label_fit = {}, {}, {}, {}
for h in (8, 16, 32, 64):
    tn.manual_seed(h)
    s_label = fit(MLP(64, hidden=(h,), out_features=10), Xtr_flat, ytr, epochs=40, lr=2e-3, batch_size=32, seed=h)
    tn.manual_seed(h)
    s_distil = fit(MLP(64, hidden=(h,), out_features=10), Xtr_flat, ytr, epochs=40, lr=2e-3, batch_size=32, seed=h,
                   teacher_logits=teacher_logits, temperature=4.0, alpha=0.9)
    label_acc[h], distil_acc[h] = accuracy(s_label, Xte_flat, yte), accuracy(s_distil, Xte_flat, yte)
    label_fit[h], distil_fit[h] = accuracy(s_label, Xtr_flat, ytr), accuracy(s_distil, Xtr_flat, ytr)
    print(f"hidden {h:2d} ({n_params(s_label):4d} parameters)  test: labels {label_acc[h]:6.2f} %, distilled "
          f"{distil_acc[h]:6.2f} %  | training set: labels {label_fit[h]:6.2f} %, distilled {distil_fit[h]:6.2f} %")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(list(label_acc), list(label_acc.values()), "o-", label="labels only")
ax.plot(list(distil_acc), list(distil_acc.values()), "s-", label="distilled from the CNN (T=4, α=0.9)")
ax.axhline(cnn_acc, c="gray", ls="--", label=f"teacher CNN ({n_params(cnn)} parameters)")
ax.set(xscale="log", xticks=list(label_acc), xticklabels=list(label_acc), xlabel="student hidden units",
       ylabel="test accuracy (%)", title="distilled students against students on labels")
ax.minorticks_off()
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# Read these numbers with care: one seed per student and 269 test images, so a gap of one
# point is 2-3 images and within the spread between seeds. On this run distillation does
# **not** beat plain training, and the smallest students lose most. The training-set
# column says why: in the same 40 epochs the distilled students fit even their training
# images less well. Matching the teacher's whole softened distribution (ten numbers per
# image, and with $\alpha = 0.9$ most of the gradient asks for that) is a harder target
# than the label, and an 8-unit MLP has little capacity to spare for it. (The loss is
# PyTorch's formula, `kl_div(..., reduction="batchmean")`; the same experiment in PyTorch
# gives the same picture.) Distillation pays off when the student can follow the teacher,
# when the teacher knows something the labels do not say (here it is 99 % against the
# students' 96-97 % on 1258 clean images), with longer training, and when extra unlabelled
# images can be labelled by the teacher. Try $\alpha = 0.5$, $T = 2$, more epochs or several
# seeds; `tinynet train --teacher CKPT` does the same from the command line.
#
# ## 5 · float16: underflow and loss scaling
#
# float16 has 10 mantissa bits and exponents down to $2^{-14}$; below that come the
# subnormals, down to $2^{-24} \approx 5.96\cdot10^{-8}$. Anything smaller rounds to 0.
# Gradients of a well-trained model are often that small, so a float16 backward pass
# silently loses them. **Loss scaling** multiplies the loss by $S$ (e.g. $2^{16}$) before
# `backward`: by the chain rule every gradient is multiplied by $S$ and lifted out of the
# underflow range; `unscale_` divides the float32 gradients by $S$ before the optimizer
# step (and `GradScaler.step` skips a step whose gradients overflowed to inf).

# %%
tiny = float(tn.tensor(2.0 ** -24, dtype=tn.float16).item())
print("smallest float16 subnormal:", tiny, "| 2^-25 in float16:", tn.tensor(2.0 ** -25, dtype=tn.float16).item())

tn.manual_seed(0)
fp16_model = nn.Linear(4, 1)                  # float32 master weights, as in mixed-precision training
xb = tn.randn(8, 4)
target = tn.zeros(8, 1)


def fp16_grad(scale_loss):
    """The weight gradient of ``1e-8 * mean squared error`` (a tiny loss: a model that is
    almost right) when the forward and backward of the layer run in float16, as under
    autocast: float32 master weights are cast to float16, the loss is computed in float32.
    Returns ``(float32 reference gradient, float16-path gradient)``, the latter unscaled by
    ``GradScaler.unscale_`` when ``scale_loss``."""
    fp16_model.zero_grad()
    (1e-8 * F.mse_loss(fp16_model(xb), target)).backward()
    reference = fp16_model.weight.grad.numpy().copy()
    fp16_model.zero_grad()
    w16, b16 = fp16_model.weight.half(), fp16_model.bias.half()     # casts: gradients flow back to float32
    out16 = F.linear(xb.half(), w16, b16)                           # float16 matrix product
    loss = 1e-8 * F.mse_loss(out16.float(), target)                 # the loss in float32
    if scale_loss:
        scaler = tn.amp.GradScaler("cpu")                           # init_scale = 2**16
        scaler.scale(loss).backward()
        print(f"  scaled gradient (x {scaler.get_scale():.0f}):", fp16_model.weight.grad.numpy().ravel())
        scaler.unscale_(optim.SGD(fp16_model.parameters(), lr=0.1))
    else:
        loss.backward()
    return reference, fp16_model.weight.grad.numpy().copy()


ref_grad, plain16 = fp16_grad(scale_loss=False)
print("float32 gradient:           ", ref_grad.ravel())
print("float16 gradient, unscaled: ", plain16.ravel())
_, scaled16 = fp16_grad(scale_loss=True)
print("float16 gradient, GradScaler:", scaled16.ravel())
rel_err = float(np.abs(scaled16 - ref_grad).max() / np.abs(ref_grad).max())
print(f"relative error of the scaled float16 gradient: {rel_err:.2e}")

# %% [markdown]
# Without scaling every gradient entry is exactly 0 (the model would never learn); with
# `GradScaler` they match the float32 gradient to float16 precision (about 3 decimal
# digits). The master weights stay float32, so the update itself does not underflow either.
#
# ## Checks

# %%
assert cnn_acc > 95 and mlp_acc > 93, (cnn_acc, mlp_acc)
assert abs(unstructured[0.8]["sparsity"] - 80) < 0.5 and unstructured[0.8]["after"] >= cnn_acc - 2, unstructured[0.8]
assert unstructured[0.5]["after"] >= cnn_acc - 1 and unstructured[0.95]["sparsity"] > 94.5
assert structured[0.25] >= cnn_acc - 3, structured
assert params_after < 0.5 * params_before and shrink_gap < 1e-4
assert abs(ptq_acc - cnn_acc) <= 1.0 and abs(qat_acc - cnn_acc) <= 1.5, (cnn_acc, ptq_acc, qat_acc)
assert same_as_oneliner and size_float / size_int8 > 2.5 and size_qat == size_int8
assert z_x != 0 and z_y != 0
assert np.array_equal(x_q, xq.int_repr().numpy()) and np.array_equal(w_q, wq.int_repr().numpy())
assert np.array_equal(y_q_hand, y_q_lib) and yq.q_scale() == s_y and yq.q_zero_point() == z_y
assert int8_err < 2 * s_y
assert min(label_acc.values()) > 90 and min(distil_acc.values()) > 80 and distil_acc[64] > 93, (label_acc, distil_acc)
assert tiny == 2.0 ** -24 and np.all(ref_grad != 0) and np.all(plain16 == 0)
assert rel_err < 1e-2
print("all checks passed")
