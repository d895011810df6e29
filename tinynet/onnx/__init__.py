"""``tinynet.onnx``: export a model to ONNX by tracing one forward pass (``torch.onnx``'s API).

    import tinynet.onnx
    tinynet.onnx.export(model, x, "model.onnx", input_names=["input"], output_names=["logits"],
                        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})

Needs the ``onnx`` package (``pip install tinynet[onnx]``); ``onnxruntime`` runs the result.
See ``exporter.py`` for how tracing works, ``ops.py`` for the op table and ``modules.py`` for
the layers exported whole.
"""
from .errors import OnnxExporterError, UnsupportedOperatorError
from .exporter import MAX_OPSET, MIN_OPSET, export, is_available, supported_ops

__all__ = ["export", "is_available", "supported_ops", "OnnxExporterError", "UnsupportedOperatorError",
           "MIN_OPSET", "MAX_OPSET"]
