"""CPU kernels: Numba-compiled loops over NumPy arrays (compiled on first call, cached on disk).

Every public name here is a kernel reachable as ``device.kernels.<name>`` on "cpu"; each
has a twin of the same name and signature in ``kernels/cuda``.
"""
from .layer_norm import layer_norm_backward, layer_norm_forward  # noqa: E402,F401
from .optim import adadelta_step, adagrad_step, adam_step, rmsprop_step, sgd_step  # noqa: E402,F401
from ..policy import CPU_KERNEL_MIN_ELEMENTS as KERNEL_MIN_ELEMENTS  # noqa: E402,F401
from .relu import relu_backward, relu_forward  # noqa: E402,F401
from .gelu import erf, gelu_backward, gelu_forward  # noqa: E402,F401
from .softmax import (cross_entropy_backward, cross_entropy_forward, log_softmax_backward,  # noqa: E402,F401
                      log_softmax_forward, softmax_backward, softmax_forward)
from .conv import col2im, im2col  # noqa: E402,F401
from .conv import conv2d_input_grad_tiled, conv2d_tiled, conv2d_weight_grad_tiled  # noqa: E402,F401
from .pooling import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward  # noqa: E402,F401
from .lstm import recurrent_backward, recurrent_forward  # noqa: E402,F401
from .int8 import int8_im2col, int8_linear, int8_linear_dequant, quantize_per_tensor_u8  # noqa: E402,F401
from .attention import (ATTENTION_MAX_HEAD_DIM, attention_backward, attention_dropout_mask,  # noqa: E402,F401
                        attention_forward)
