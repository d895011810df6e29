# %% [markdown]
# # 08 · RNNs and LSTMs
#
# Seed 004's code example is a text generator built as **Embedding → LSTM → Dense**
# (in Keras): each word id becomes a vector, an LSTM reads the sequence keeping a memory,
# and a dense layer with softmax predicts the next word. This notebook builds the same
# model with tinynet, looks inside one LSTM step, and measures why the LSTM exists at all:
# **gradients through time** vanish in a plain RNN.
#
# The document's code has several mistakes worth knowing:
#
# * it calls the model "based on GPT-3", but an LSTM is not a Transformer (notebook 07
#   builds the GPT kind);
# * `seq_length`, `texts` and `labels` are never defined, and `generate_text` pads the
#   prompt to `seq_length - 1` tokens, one fewer than the model was built for;
# * `categorical_crossentropy` expects one-hot targets; with integer word ids it must be
#   the *sparse* variant (tinynet's `F.cross_entropy` takes integer classes directly);
# * with `return_sequences=True` the model predicts at **every** position, and
#   `np.argmax(predicted)` over the whole (1, T, V) array returns a flat index into all
#   positions, not the next word; the last position's row is the one to use;
# * its sample output repeats "The quick brown fox jumps over the lazy dog." five times:
#   that is what **greedy** decoding (always the most likely word) tends to do. Sampling
#   with a temperature avoids the loops (section 4).
#
# The five source documents are Chinese articles on large models, cited by number. Those cited here:
#
# * seed 004: the untitled article that opens with *算力提升推动大模型发展* (Growing compute drives large models).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinynet as tn
import tinynet.nn as nn
import tinynet.nn.functional as F
import tinynet.optim as optim
from tinynet.data import DataLoader, text
from tinynet.models import LSTMLanguageModel

tn.manual_seed(0)
FULL = False   # True: train the language model much longer

# %% [markdown]
# ## 1 · One LSTM step, by hand
#
# An LSTM carries two vectors, the hidden state $h$ and the **cell state** $c$. From the
# input $x_t$ and $h_{t-1}$ it computes four gates (PyTorch's order i, f, g, o):
#
# $$i = \sigma(W_{ii}x + b_{ii} + W_{hi}h + b_{hi}),\quad f = \sigma(\cdots),\quad
# g = \tanh(\cdots),\quad o = \sigma(\cdots)$$
# $$c_t = f\odot c_{t-1} + i\odot g,\qquad h_t = o\odot\tanh(c_t).$$
#
# The forget gate $f$ decides what the memory keeps, the input gate $i$ what it adds.
# The key is the **additive** update of $c$: the gradient flows from $c_t$ to $c_{t-1}$
# multiplied only by $f$, not squashed through a weight matrix and a tanh at every step.

# %%
cell = nn.LSTMCell(3, 4).to(tn.float64)
x_t = tn.randn(2, 3, dtype=tn.float64)
h_prev, c_prev = tn.randn(2, 4, dtype=tn.float64), tn.randn(2, 4, dtype=tn.float64)
h_t, c_t = cell(x_t, (h_prev, c_prev))

W_ih, W_hh = cell.weight_ih.detach().numpy(), cell.weight_hh.detach().numpy()
b = cell.bias_ih.detach().numpy() + cell.bias_hh.detach().numpy()
gates = x_t.numpy() @ W_ih.T + h_prev.numpy() @ W_hh.T + b
i_g, f_g, g_g, o_g = np.split(gates, 4, axis=1)
sig = lambda z: 1 / (1 + np.exp(-z))
c_hand = sig(f_g) * c_prev.numpy() + sig(i_g) * np.tanh(g_g)
h_hand = sig(o_g) * np.tanh(c_hand)
lstm_step_err = max(np.abs(c_hand - c_t.detach().numpy()).max(), np.abs(h_hand - h_t.detach().numpy()).max())
print("max |by hand - nn.LSTMCell| =", lstm_step_err)

# %% [markdown]
# ## 2 · Gradients through time
#
# Feed 60 random inputs through a plain RNN (tanh) and an LSTM, take the last output,
# and ask autograd how much it depends on each input: $\lVert\partial h_T/\partial x_t\rVert$.
# In the RNN the gradient is multiplied by $W_{hh}^\top\,\mathrm{diag}(\tanh')$ at every
# step back, and shrinks geometrically: inputs more than a few dozen steps back barely
# matter, so a plain RNN cannot learn long-range dependencies. The LSTM's cell path
# keeps the gradient alive much longer (each step multiplies it by the forget gate).

# %%
T_steps, width, hidden = 60, 8, 32


def input_gradients(layer):
    x = tn.randn(1, T_steps, width, requires_grad=True)
    out, _ = layer(x)
    out[:, -1].sum().backward()
    return np.linalg.norm(x.grad.numpy()[0], axis=1)


tn.manual_seed(0)
grad_rnn = input_gradients(nn.RNN(width, hidden, batch_first=True))  # x is (batch, time, features)
tn.manual_seed(0)
lstm_layer = nn.LSTM(width, hidden, batch_first=True)
with tn.no_grad():                       # a common trick: forget-gate bias 1, so f ≈ 0.73 at the start
    for bias in (lstm_layer.bias_ih_l0, lstm_layer.bias_hh_l0):
        bias[hidden:2 * hidden] = 0.5
grad_lstm = input_gradients(lstm_layer)

plt.figure(figsize=(7, 3.4))
plt.semilogy(grad_rnn, label="RNN (tanh)")
plt.semilogy(grad_lstm, label="LSTM (forget-gate bias 1)")
plt.xlabel("input position t (the output is read at t = 59)")
plt.ylabel("‖∂h_T / ∂x_t‖")
plt.legend()
plt.title("how far back can the last output 'see'?")
plt.show()
rnn_decay = grad_rnn[0] / grad_rnn[-1]
lstm_decay = grad_lstm[0] / grad_lstm[-1]
print(f"gradient at t=0 relative to t=59: RNN {rnn_decay:.1e}, LSTM {lstm_decay:.1e}")

# %% [markdown]
# The opposite failure, **exploding** gradients, happens when those per-step factors are
# larger than 1. The standard guard is gradient clipping: `nn.utils.clip_grad_norm_`
# rescales all gradients together when their joint norm exceeds a limit. The training
# loop below uses it.

# %% [markdown]
# ## 3 · The Embedding-LSTM-Dense language model
#
# `LSTMLanguageModel` is seed 004's model: `Embedding(V, 32) → LSTM(32, 128) →
# Linear(128, V)`, trained on next-token prediction. We train on characters of CPython's
# bundled help text (the document uses words with a vocabulary of 10 000, which needs far
# more data and training than a notebook should take).

# %%
train_text, val_text = text.pydoc_corpus()
tok = text.CharTokenizer.from_text(train_text)
train_ids, val_ids = np.array(tok.encode(train_text)), np.array(tok.encode(val_text))
V = tok.vocab_size
bigram = text.bigram_loss(train_ids, val_ids, V)
val_x, val_y = text.TextWindowDataset(val_ids, context=64, stride=64).take(np.arange(64))

tn.manual_seed(0)
lm = LSTMLanguageModel(V, embed_dim=32, hidden_size=128)
print(lm)
opt = optim.Adam(lm.parameters(), lr=5e-3)
loader = DataLoader(text.TextWindowDataset(train_ids, context=64, stride=17), batch_size=32, shuffle=True, seed=0)
steps = 2000 if FULL else 200


def val_loss():
    lm.eval()
    with tn.no_grad():
        out = F.cross_entropy(lm(val_x).reshape(-1, V), val_y.reshape(-1)).item()
    lm.train()
    return out


curve, vals, norms = [], [(0, val_loss())], []
while len(curve) < steps:
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(lm(xb).reshape(-1, V), yb.reshape(-1))
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(lm.parameters(), max_norm=1.0)))
        opt.step()
        curve.append(loss.item())
        if len(curve) % 50 == 0:
            vals.append((len(curve), val_loss()))
        if len(curve) == steps:
            break

fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
axes[0].plot(curve, lw=0.7, label="training batches")
axes[0].plot(*zip(*vals), "o-", label="validation")
axes[0].axhline(bigram, color="k", ls=":", label=f"bigram baseline {bigram:.2f}")
axes[0].set(xlabel="step", ylabel="nats / character")
axes[0].legend()
axes[1].plot(norms, lw=0.7)
axes[1].axhline(1.0, color="C3", ls="--", label="clip at 1.0")
axes[1].set(xlabel="step", ylabel="gradient norm before clipping", yscale="log")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4 · Generating text: greedy against sampling
#
# Generation feeds the model its own output one character at a time, carrying the LSTM
# state forward. **Greedy** decoding (`temperature=0`) always takes the most likely next
# character and soon repeats itself, like the document's sample. **Sampling** draws from
# the predicted distribution, sharpened or flattened by the temperature.

# %%
prompt = tn.tensor([tok.encode("The ")])
greedy = tok.decode(lm.generate(prompt, 200, temperature=0).numpy()[0].tolist())
sampled = tok.decode(lm.generate(prompt, 200, temperature=0.8, seed=0).numpy()[0].tolist())
print("greedy:\n", greedy, "\n\nsampled (temperature 0.8):\n", sampled)


def repeated_fraction(s, n=12):
    """Fraction of n-character windows that already occurred earlier in the string."""
    seen, rep = set(), 0
    for i in range(len(s) - n + 1):
        rep += s[i:i + n] in seen
        seen.add(s[i:i + n])
    return rep / max(1, len(s) - n + 1)


print(f"\nrepeated 12-grams: greedy {repeated_fraction(greedy):.0%}, sampled {repeated_fraction(sampled):.0%}")

# %% [markdown]
# ## Checks

# %%
assert lstm_step_err < 1e-12
assert rnn_decay < 1e-3, rnn_decay
assert lstm_decay > 10 * rnn_decay, (lstm_decay, rnn_decay)
assert vals[-1][1] < vals[0][1] - 1.0 and vals[-1][1] < math.log(V), vals
assert max(norms) > 0 and len(curve) == steps
assert len(greedy) == len(sampled) == 204 and greedy.startswith("The ")
assert repeated_fraction(greedy) > repeated_fraction(sampled)
print("all checks passed")
