#!/usr/bin/env python3
"""Times the committed hand models under ONNX Runtime on one CPU thread: the reference speed
the Rust runtime (tract, `palmline bench engine`'s landmarks_ms_median) is compared with.

    python3 -m venv /tmp/ort && /tmp/ort/bin/pip install onnxruntime numpy
    /tmp/ort/bin/python scripts/time-hand-models.py [--runs 20]
"""
import argparse
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

MODELS = Path(__file__).resolve().parent.parent / "crates/palm-hands/models"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    for name, side in [("palm_detection_full", 192), ("hand_landmark_full", 224)]:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(
            str(MODELS / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        x = np.random.default_rng(7).random((1, side, side, 3), dtype=np.float32)
        feed = {session.get_inputs()[0].name: x}
        for _ in range(3):
            session.run(None, feed)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            session.run(None, feed)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(f"{name}: median {times[len(times) // 2]:.1f} ms over {args.runs} runs (1 thread)")


if __name__ == "__main__":
    main()
