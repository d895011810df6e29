"""Neural-network building blocks (``tinynet.nn``): Module, Parameter, layers, losses, init.

    import tinynet.nn as nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)

``nn.functional`` is ``tinynet.functional``; ``nn.init`` initialises weights; ``nn.utils``
clips gradients.
"""
from . import functional, init, utils
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Softsign, Tanh
from .containers import ModuleDict, ModuleList, Sequential
from .dropout import Dropout
from .embedding import Embedding
from .layer_norm import LayerNorm
from .rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, RNNBase
from .transformer import (MultiheadAttention, TransformerDecoderBlock, TransformerEncoder,
                          TransformerEncoderLayer)
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module
from .normalization import BatchNorm1d, BatchNorm2d
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .pooling import AdaptiveAvgPool2d, AvgPool2d, Dropout2d, MaxPool2d
from .parameter import Parameter
from .regularization import l1_penalty, l2_penalty
