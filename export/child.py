"""Runs an exported artifact in a fresh process, the way a deployment would.

    python export/child.py savedmodel PATH SAMPLES.npy OUT.npz
    python export/child.py tflite PATH SAMPLES.npy OUT.npz
    python export/child.py onnx PATH SAMPLES.npy OUT.npz

It imports only TensorFlow (SavedModel), ai-edge-litert (TFLite) or onnxruntime, never
kspec, so it proves the artifact stands alone. It writes the outputs for the
samples, the single-image latency, and the top-level modules it imported.
"""
import json
import sys
import time

import numpy as np


def run_savedmodel(path, x):
    import tensorflow as tf
    fn = tf.saved_model.load(path).signatures["serving_default"]
    outs = {k: v.numpy() for k, v in fn(image=tf.constant(x)).items()}
    one = tf.constant(x[:1])
    fn(image=one)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        fn(image=one)
        times.append(time.perf_counter() - start)
    return outs, float(np.median(times))


def run_tflite(path, x):
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_path=path, num_threads=1)
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], [1] + list(x.shape[1:]))
    interp.allocate_tensors()
    details = interp.get_output_details()
    # Signature output names, when the converter kept them.
    runner = interp.get_signature_runner() if interp.get_signature_list() else None
    outs = {}
    times = []
    for i in range(len(x)):
        start = time.perf_counter()
        if runner is not None:
            result = runner(image=x[i:i + 1])
        else:
            interp.set_tensor(inp["index"], x[i:i + 1])
            interp.invoke()
            result = {d["name"]: interp.get_tensor(d["index"]) for d in details}
        times.append(time.perf_counter() - start)
        for k, v in result.items():
            outs.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in outs.items()}, float(np.median(times[1:] or times))


def run_onnx(path, x):
    import onnxruntime
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    outs = dict(zip(names, session.run(None, {name: x})))
    times = []
    for _ in range(20):
        start = time.perf_counter()
        session.run(None, {name: x[:1]})
        times.append(time.perf_counter() - start)
    return outs, float(np.median(times))


def main():
    kind, path, samples, out = sys.argv[1:5]
    x = np.load(samples)
    runner = {"savedmodel": run_savedmodel, "tflite": run_tflite, "onnx": run_onnx}[kind]
    outs, latency = runner(path, x)
    modules = sorted({m.split(".")[0] for m in sys.modules})
    np.savez(out, **outs)
    print(json.dumps({"latency_s": latency, "modules": modules}))


if __name__ == "__main__":
    main()
