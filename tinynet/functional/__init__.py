"""Differentiable ops on Tensors (``tinynet.functional``, also ``tinynet.nn.functional``).

Each module holds one family of ops; every op is a :class:`~tinynet.autograd.Function`
(forward on arrays, backward as tinynet ops) or a composition of them.
"""
from .conversion import clone, contiguous, cpu, cuda, to
from .elementwise import (abs, add, allclose, clamp, clip, div, eq, exp, ge, gt, isfinite, isnan,
                          le, log, logical_and, logical_not, logical_or, lt, maximum, minimum, mul,
                          ne, neg, pow, sign, sqrt, sub, where)
from .linalg import dot, matmul
from .linear import linear
from .dropout import dropout
from .conv import conv1d, conv2d, conv_transpose2d
from .pooling import adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d
from .dropout2d import dropout2d
from .normalization import batch_norm
from .embedding import embedding
from .layer_norm import layer_norm
from .attention import packed_self_attention, scaled_dot_product_attention
from .positional import sinusoidal_position_encoding
from .recurrent import gru_cell, gru_layer, lstm_cell, lstm_layer, rnn_cell, rnn_layer
from .reduction import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, prod,
                        std, sum, var)
from .indexing import gather, getitem, index_select, masked_fill, take
from .join import cat, chunk, concat, concatenate, pad, split, stack
from .encoding import one_hot
from .activation import (elu, erf, gelu, hardtanh, leaky_relu, log_softmax, relu, sigmoid, silu,
                         softmax, softplus, tanh)
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss,
                   mse_loss, nll_loss)
from .shape import (broadcast_to, expand, flatten, permute, reshape, squeeze, swapaxes, transpose,
                    unsqueeze, view)
from . import methods as _methods  # noqa: F401  (binds Tensor methods)
