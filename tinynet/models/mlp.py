"""MLP: a stack of fully connected layers with a nonlinearity between them.

``MLP(64, hidden=(128, 64), out_features=10)`` is

    Linear(64→128) - ReLU - Linear(128→64) - ReLU - Linear(64→10)

(with ``Dropout(p)`` after each hidden activation when ``dropout > 0``). The last layer has
no activation: it outputs logits for ``F.cross_entropy`` (or raw values for regression).
"""
from __future__ import annotations

from .. import nn
from .registry import register_model

ACTIVATIONS = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU, "elu": nn.ELU,
}


class MLP(nn.Module):
    """Multilayer perceptron ``in_features -> hidden... -> out_features``.

    Args:
        in_features: size of each input sample.
        hidden: sizes of the hidden layers (an int for one layer; ``()`` for a linear model).
        out_features: size of the output (number of classes, or 1 for regression).
        activation: "relu", "tanh", "sigmoid", "gelu", "leaky_relu", "silu" or "elu".
        dropout: dropout probability after each hidden activation (0 = none).
    """

    def __init__(self, in_features, hidden=(128, 64), out_features=10, activation="relu", dropout=0.0):
        super().__init__()
        if isinstance(hidden, int):
            hidden = (hidden,)
        sizes = [int(in_features), *[int(h) for h in hidden], int(out_features)]
        if min(sizes) <= 0:
            raise ValueError(f"MLP: layer sizes must be positive, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        self.in_features, self.out_features = sizes[0], sizes[-1]
        self.hidden = tuple(sizes[1:-1])
        self.activation = activation
        layers = []
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if k < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim > 2:
            x = x.reshape(x.shape[0], -1)  # images (N, C, H, W) -> (N, C*H*W)
        return self.net(x)


@register_model("mlp")
def build_mlp(in_features, out_features, hidden=(128, 64), activation="relu", dropout=0.0):
    return MLP(in_features, hidden=hidden, out_features=out_features, activation=activation, dropout=dropout)
