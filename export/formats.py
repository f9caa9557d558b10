"""`.keras` (loaded back with safe_mode=True) and ONNX (optional extra).

Writers write to the path they are given; `export.cli` gives a temporary one and
renames it into place only after the artifact is verified.
"""
from __future__ import annotations


class MissingExtra(Exception):
    """ONNX export needs the optional packages: pip install kspec[onnx]."""


def write_keras(model, target: str) -> str:
    model.save(target)
    return target


def write_onnx(model, spec, task, target: str) -> str:
    """The serving function (uint8 image in, named outputs) as ONNX, through tf2onnx."""
    try:
        import tf2onnx
    except ImportError:
        raise MissingExtra("ONNX export needs the onnx extra: pip install -e \".[onnx]\"") \
            from None
    from .serving import serving_function
    # The fixed-size form (as for TFLite): detection gives its raw grid, no NMS op.
    fn = serving_function(model, spec, task, for_tflite=True)
    tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, output_path=target)
    return target
