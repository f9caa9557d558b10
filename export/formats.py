"""`.keras` (loaded back with safe_mode=True) and ONNX (optional extra)."""
from __future__ import annotations

from trainer.atomic import atomic_path


class MissingExtra(Exception):
    """ONNX export needs the optional packages: pip install kspec[onnx]."""


def write_keras(model, target: str) -> str:
    with atomic_path(target, suffix=".keras") as tmp:
        model.save(tmp)
    return target


def write_onnx(model, spec, target: str) -> str:
    try:
        import tf2onnx
    except ImportError:
        raise MissingExtra("ONNX export needs tf2onnx and onnx: pip install -e \".[onnx]\"") \
            from None
    import tensorflow as tf
    signature = [tf.TensorSpec([None] + list(spec.input["shape"]), tf.float32, name="input")]
    with atomic_path(target, suffix=".onnx") as tmp:
        tf2onnx.convert.from_keras(model, input_signature=signature, output_path=tmp)
    return target
