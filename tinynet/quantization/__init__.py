"""Quantization: int8 tensors, quantized ops on int8 kernels, observers and quantized layers.

The names follow PyTorch's ``torch.ao.quantization`` and quantized tensors.
"""
from .qtensor import (QTensor, dequantize, per_channel_affine, per_channel_symmetric, per_tensor_affine,  # noqa: F401
                      per_tensor_symmetric, qdtype, qint8, qint32, qscheme, quantize_per_channel,
                      quantize_per_tensor, quint8)
from .qtensor import _make_per_channel_quantized_tensor, _make_per_tensor_quantized_tensor  # noqa: F401
from .functional import quantize_params  # noqa: F401
from . import functional  # noqa: F401
# observers, fake quantization, configurations, the eager-mode flow and quantized layers
from .observer import (HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver,  # noqa: F401
                       MovingAveragePerChannelMinMaxObserver, ObserverBase, PerChannelMinMaxObserver,
                       PlaceholderObserver, default_dynamic_quant_observer, default_histogram_observer,
                       default_observer, default_per_channel_weight_observer, default_placeholder_observer,
                       default_weight_observer)
from .fake_quantize import (FakeQuantize, FakeQuantizeBase, default_dynamic_fake_quant,  # noqa: F401
                            default_fake_quant, default_per_channel_weight_fake_quant, default_weight_fake_quant,
                            disable_fake_quant, disable_observer, enable_fake_quant, enable_observer,
                            fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine)
from .qconfig import (QConfig, QConfigDynamic, default_dynamic_qconfig, default_per_channel_qconfig,  # noqa: F401
                      default_qat_qconfig, default_qconfig, get_default_qat_qconfig, get_default_qconfig,
                      per_channel_dynamic_qconfig, qconfig_equals)
from .stubs import DeQuantStub, QuantStub, QuantWrapper  # noqa: F401
from .fuse import fuse_modules, fuse_modules_qat  # noqa: F401
from . import nn  # noqa: F401
from .quantize import (add_observer_, convert, fusable_groups, prepare, prepare_qat, prepare_qat_model,  # noqa: F401
                       propagate_qconfig_, quantize, quantize_dynamic, quantize_model, quantize_qat, swap_module,
                       unsupported_layers)
from .serialization import (QuantizedCheckpointError, check_float_checkpoint, is_quantized_checkpoint,  # noqa: F401
                            is_quantized_state_dict, load_float_state_dict, load_quantized, save_quantized)
