"""`.keras` (loaded back with safe_mode=True) and ONNX (optional extra)."""
from __future__ import annotations

from trainer.atomic import atomic_path


class MissingExtra(Exception):
    """ONNX export needs the optional packages: pip install kspec[onnx]."""


def write_keras(model, target: str) -> str:
    with atomic_path(target, suffix=".keras") as tmp:
        model.save(tmp)
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
    with atomic_path(target, suffix=".onnx") as tmp:
        tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, output_path=tmp)
    return target
