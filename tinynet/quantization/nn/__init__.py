"""Quantization-related layers: ``intrinsic`` (fused float modules), ``qat`` (fake-quantized
training layers), ``quantized`` (int8 inference layers) and ``dynamic`` (int8 weights, float
activations). PyTorch's ``torch.ao.nn.{intrinsic,qat,quantized,quantized.dynamic}``."""
from . import dynamic, intrinsic, qat, quantized  # noqa: F401
