#!/usr/bin/env python3
"""Reproduces crates/palm-hands/models/*.onnx from MediaPipe's published wheel.

MediaPipe's hand models ship as TensorFlow Lite files with float16 weights, which no pure-Rust
runtime reads; tract reads ONNX. This script takes the two models out of the `mediapipe==0.10.14`
wheel on PyPI, converts them with tf2onnx (the weights become float32, the graph stays NHWC),
writes each PRelu in an equivalent form tract runs faster (`unfold_prelu`) and renames every
internal tensor and node in graph order, because tf2onnx's own names carry counters
that differ from run to run: with the names made canonical, the same wheel and the same tools give
the same bytes, so anyone can check the committed files (`--check`).

    python3 -m venv /tmp/conv && /tmp/conv/bin/pip install tf2onnx==1.17.0 tensorflow-cpu==2.21.0
    /tmp/conv/bin/python scripts/convert-hand-models.py [--check] [--wheel mediapipe-0.10.14-...whl]

Without --wheel it downloads the wheel with pip (from PyPI) into a temporary folder.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy
import onnx
import onnx.helper
import onnx.numpy_helper

MODELS = {
    "palm_detection_full": "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    "hand_landmark_full": "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
}
WHEEL = "mediapipe==0.10.14"
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "palm-hands", "models")


def unfold_prelu(model: onnx.ModelProto) -> onnx.ModelProto:
    """Writes each PRelu(x, a) as Max(x, 0) + a * Min(x, 0): the same numbers (for x > 0 the
    second term is a * 0 = 0, for x < 0 the first is 0; every operation is exact or the one
    multiply PRelu itself makes), which tract runs as two fused element-wise chains, where it
    runs PRelu as a comparison, a multiply and a select (measured with `tract --profile` on
    palm_detection_full: PRelu 6.9 ms of 32 ms, the unfolded form 2.7 ms)."""
    g = model.graph
    if not any(n.op_type == "PRelu" for n in g.node):
        return model
    zero = "prelu_zero"
    g.initializer.append(onnx.numpy_helper.from_array(numpy.array(0.0, dtype=numpy.float32), zero))
    nodes = []
    for node in g.node:
        if node.op_type != "PRelu":
            nodes.append(node)
            continue
        (x, a), y = node.input, node.output[0]
        nodes += [
            onnx.helper.make_node("Max", [x, zero], [y + "_positive"]),
            onnx.helper.make_node("Min", [x, zero], [y + "_negative"]),
            onnx.helper.make_node("Mul", [y + "_negative", a], [y + "_sloped"]),
            onnx.helper.make_node("Add", [y + "_positive", y + "_sloped"], [y]),
        ]
    del g.node[:]
    g.node.extend(nodes)
    return model


def canonical(model: onnx.ModelProto) -> onnx.ModelProto:
    """Renames internal values and nodes by their order in the graph; inputs and outputs keep
    their names (the Rust side refers to outputs by position)."""
    g = model.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    inits = {t.name: t for t in g.initializer}
    names = {}

    def rename(old, prefix):
        if old == "" or old in keep:
            return old
        if old not in names:
            names[old] = f"{prefix}{len(names)}"
        return names[old]

    for i, node in enumerate(g.node):
        for k, name in enumerate(node.input):
            node.input[k] = rename(name, "w" if name in inits else "v")
        for k, name in enumerate(node.output):
            node.output[k] = rename(name, "v")
        node.name = f"n{i}"
    for t in g.initializer:
        t.name = names.get(t.name, t.name)
    ordered = sorted(g.initializer, key=lambda t: int(t.name[1:]) if t.name[1:].isdigit() else -1)
    del g.initializer[:]
    g.initializer.extend(ordered)
    for v in list(g.value_info):
        v.name = names.get(v.name, v.name)
    g.doc_string = ""
    model.doc_string = ""
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="the mediapipe 0.10.14 wheel (else pip downloads it)")
    ap.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, WHEEL], check=True)
            wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
        failed = False
        with zipfile.ZipFile(wheel) as zf:
            for name, member in MODELS.items():
                tflite = os.path.join(tmp, name + ".tflite")
                with open(tflite, "wb") as f:
                    f.write(zf.read(member))
                raw = os.path.join(tmp, name + ".raw.onnx")
                subprocess.run(
                    [sys.executable, "-m", "tf2onnx.convert", "--tflite", tflite, "--output", raw, "--opset", "13"],
                    check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
                data = canonical(unfold_prelu(onnx.load(raw))).SerializeToString()
                digest = hashlib.sha256(data).hexdigest()
                target = os.path.join(OUT, name + ".onnx")
                if args.check:
                    with open(target, "rb") as f:
                        same = f.read() == data
                    print(f"{name}.onnx: {'matches' if same else 'DIFFERS from'} the conversion ({digest})")
                    failed |= not same
                else:
                    with open(target, "wb") as f:
                        f.write(data)
                    print(f"{name}.onnx written, sha256 {digest}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
