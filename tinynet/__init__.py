"""tinynet: a from-scratch neural-network engine.

Reverse-mode autograd over NumPy (cpu) or CuPy + Numba CUDA kernels (cuda), with a
PyTorch-shaped API::

    import tinynet as tn
    x = tn.tensor([[1., 2.]], requires_grad=True)
    y = (x * x).sum()
    y.backward()            # x.grad == 2 * x

Importing tinynet compiles nothing: kernels compile on first use.
"""
import importlib

from . import backend
from .autograd import (enable_grad, gradcheck, gradgradcheck, inference_mode, is_grad_enabled,
                       is_inference_mode_enabled, no_grad, set_grad_enabled)
from .tensor import *  # noqa: F401,F403  (Tensor, creation functions, manual_seed)
from .tensor import Tensor, dtypes
from .tensor.dtypes import (bool_ as bool, double, float, float16, float32, float64, get_default_dtype,
                            half, int, int8, int16, int32, int64, long, set_default_dtype, short, uint8)
from .backend import Device, get_default_device, set_default_device
from . import backends  # tn.backends.cudnn.benchmark & co. (accepted, documented as no-ops here)
from .backends import (are_deterministic_algorithms_enabled, get_float32_matmul_precision,
                       set_float32_matmul_precision, use_deterministic_algorithms)
from .backend import get_device as device
from . import functional
from .functional import *  # noqa: F401,F403  (every op as tn.<name>)
from . import linalg  # tn.linalg: torch.linalg's names
from . import special  # tn.special
from . import autograd
from . import cuda  # tn.cuda: the module (is_available, synchronize, ...); x.cuda() is the Tensor method
from . import nn  # tn.nn
from . import func  # tn.func
from . import optim  # tn.optim
from . import amp  # tn.amp: autocast and GradScaler (mixed precision)
from .amp import autocast, get_autocast_dtype, is_autocast_enabled, set_autocast_enabled  # noqa: F401
from ._compile import compile  # tn.compile: PyTorch's signature; tinynet runs eagerly (returns the model)
from . import data, metrics  # tn.data, tn.metrics
from . import utils  # tn.utils.data: torch.utils.data's names
from . import distributed  # tn.distributed: process groups and collectives over MPI
from . import models  # tn.models: MLP, ... and the model registry
from . import quantization  # tn.quantization (also tn.ao.quantization): int8 tensors, observers, prepare/convert
from . import ao  # noqa: F401
from . import privacy  # tn.privacy: DP-SGD (per-sample gradients, clipping, noise) and the RDP accountant
from .quantization import (dequantize, fake_quantize_per_channel_affine,  # noqa: F401
                           fake_quantize_per_tensor_affine, per_channel_affine, per_channel_symmetric,
                           per_tensor_affine, per_tensor_symmetric, qint8, qint32, quantize_per_channel,
                           quantize_per_tensor, quint8)
from .serialization import load, save  # tn.save / tn.load: safetensors or .npz, never pickle

__version__ = "0.1.0"


def __getattr__(name):
    # tn.onnx is loaded on first use (PEP 562), as torch.onnx is: importing the onnx package
    # takes about a second, which `import tinynet` should not pay.
    if name == "onnx":
        return importlib.import_module(".onnx", __name__)
    # Names tinynet deliberately lacks; everything else is the usual AttributeError.
    if name == "bfloat16":
        raise AttributeError(f"module 'tinynet' has no attribute 'bfloat16': {dtypes.BFLOAT16_MESSAGE}")
    raise AttributeError(f"module 'tinynet' has no attribute {name!r}")
