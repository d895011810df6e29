"""Convolutional image classifiers: a LeNet-style CNN and a small residual network.

``LeNet`` is the LeNet-style image classifier (LeCun et al., 1998): convolution → ReLU →
pooling, twice, then fully connected layers::

    Conv2d(C→c1, 3, pad 1) - ReLU - MaxPool2d(2) - Conv2d(c1→c2, 3, pad 1) - ReLU - MaxPool2d(2)
    - Flatten - Linear(c2·H/4·W/4 → hidden) - ReLU - [Dropout] - Linear(hidden → classes)

The "same" padding keeps each convolution's size, so the two poolings make H/4 x W/4
(floor) and any input of at least 4x4 works: 8x8 digits (2x2 after pooling) or 28x28
MNIST (7x7). With ``hidden=0`` the head is the single Linear of workload W2.

``ResNetSmall`` adds the two ideas that let deep CNNs train: batch normalisation after
every convolution and residual (skip) connections, ``y = relu(F(x) + shortcut(x))``::

    stem: Conv3x3(C→w0) - BN - ReLU
    stages: BasicBlock(w0→w0), BasicBlock(w0→w1, stride 2), BasicBlock(w1→w2, stride 2), ...
    head: AdaptiveAvgPool2d(1) - Flatten - Linear(w_last → classes)

where a BasicBlock is Conv3x3-BN-ReLU-Conv3x3-BN plus the input (through a 1x1 strided
convolution + BN when the shape changes), then ReLU.
"""
from __future__ import annotations

from .. import nn
from .registry import register_model


def _hw(input_size):
    if isinstance(input_size, int):
        return input_size, input_size
    h, w = input_size
    return int(h), int(w)


class LeNet(nn.Module):
    """LeNet-style CNN (see the module docstring).

    Args:
        in_channels: image channels (1 for digits/MNIST).
        num_classes: number of classes.
        input_size: image height/width (an int or a pair), at least 4.
        channels: output channels of the two convolutions.
        hidden: width of the hidden fully connected layer (0: a single Linear head).
        dropout: dropout before the last layer (0 = none).
        kernel_size: convolution kernel size (odd; padded to keep the size).
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=28, channels=(16, 32), hidden=128, dropout=0.0,
                 kernel_size=3):
        super().__init__()
        h, w = _hw(input_size)
        c1, c2 = (int(c) for c in channels)
        if h < 4 or w < 4:
            raise ValueError(f"LeNet: input_size must be at least 4x4 (two 2x2 poolings), got {h}x{w}")
        if kernel_size % 2 != 1 or kernel_size <= 0:
            raise ValueError(f"LeNet: kernel_size must be a positive odd number, got {kernel_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"LeNet: dropout must be in [0, 1), got {dropout}")
        self.in_channels, self.num_classes, self.input_size = in_channels, num_classes, (h, w)
        pad = kernel_size // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
        )
        flat = c2 * (h // 2 // 2) * (w // 2 // 2)
        head = [nn.Flatten()]
        if hidden:
            head += [nn.Linear(flat, hidden), nn.ReLU()]
            if dropout > 0:
                head.append(nn.Dropout(dropout))
            head.append(nn.Linear(hidden, num_classes))
        else:
            if dropout > 0:
                head.append(nn.Dropout(dropout))
            head.append(nn.Linear(flat, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        if x.ndim == 2 and x.shape[1] == self.in_channels * self.input_size[0] * self.input_size[1]:
            x = x.reshape(x.shape[0], self.in_channels, *self.input_size)   # flat pixels -> images
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels,) + self.input_size:
            raise ValueError(
                f"LeNet: expected images of shape (N, C={self.in_channels}, H={self.input_size[0]}, "
                f"W={self.input_size[1]}), got {tuple(x.shape)}"
            )
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """Residual block: relu(BN(conv(relu(BN(conv(x))))) + shortcut(x))."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetSmall(nn.Module):
    """A small residual CNN with batch normalisation (see the module docstring).

    Args:
        in_channels: image channels.
        num_classes: number of classes.
        widths: channels of the stem/first stage and of each later (stride-2) stage.
        input_size: image height/width, used only to check inputs (any size >= 2**(stages-1) works).
    """

    def __init__(self, in_channels=1, num_classes=10, widths=(16, 32, 64), input_size=None):
        super().__init__()
        widths = tuple(int(v) for v in widths)
        if not widths or min(widths) <= 0:
            raise ValueError(f"ResNetSmall: widths must be positive, got {widths}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.input_size = _hw(input_size) if input_size is not None else None
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks = [BasicBlock(widths[0], widths[0])]
        for a, b in zip(widths[:-1], widths[1:]):
            blocks.append(BasicBlock(a, b, stride=2))
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        if self.input_size is not None and x.ndim == 2 and x.shape[1] == self.in_channels * self.input_size[0] * self.input_size[1]:
            x = x.reshape(x.shape[0], self.in_channels, *self.input_size)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNetSmall: expected images of shape (N, C={self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        out = self.pool(self.layers(self.stem(x)))
        return self.fc(out.flatten(1))


@register_model("cnn")
def build_cnn(in_channels=1, num_classes=10, input_size=28, channels=(16, 32), hidden=128, dropout=0.0,
              kernel_size=3):
    return LeNet(in_channels, num_classes, input_size, channels, hidden, dropout, kernel_size)


@register_model("resnet")
def build_resnet(in_channels=1, num_classes=10, widths=(16, 32, 64), input_size=None):
    return ResNetSmall(in_channels, num_classes, widths, input_size)
