#!/usr/bin/env python3
"""Checks the Rust hand landmarks (`palmline landmarks`) against MediaPipe's own Python package.

Both run the same published models (palm detection, then 21 landmarks on the hand's crop) on the
same pictures; the Rust side runs ONNX conversions of them with tract. Any difference in the
conversion, the anchor decoding, the crop or the resampling shows as landmark error. Prints, per
set and overall: pictures where both, one or neither found a hand, and the mean and worst
per-picture landmark error in pixels (mean over the 21 points of the first hand, matched by its
wrist). Exits 1 when the mean error or the share of pictures where only one side found a hand
passes its bound.

    python3 -m venv /tmp/mp && /tmp/mp/bin/pip install mediapipe==0.10.14
    /tmp/mp/bin/python scripts/check-landmarks.py --palmline target/release/palmline \\
        ../shared/datasets/phone-hands ../shared/datasets/coep-hands [--per-set 100]
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys

import cv2
import mediapipe as mp


def pictures(set_dir, limit):
    with open(os.path.join(set_dir, "manifest.csv")) as f:
        paths = [os.path.join(set_dir, row["path"]) for row in csv.DictReader(f)]
    if limit and len(paths) > limit:
        # Evenly spread over the set, so every person shows.
        paths = [paths[i * len(paths) // limit] for i in range(limit)]
    return paths


def reference(paths):
    """MediaPipe's hands for each picture: lists of 21 (x, y) in pixels."""
    out = {}
    with mp.solutions.hands.Hands(
        static_image_mode=True, max_num_hands=2, model_complexity=1, min_detection_confidence=0.5
    ) as hands:
        for p in paths:
            bgr = cv2.imread(p)
            h, w = bgr.shape[:2]
            r = hands.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            out[p] = [[(l.x * w, l.y * h) for l in lm.landmark] for lm in (r.multi_hand_landmarks or [])]
    return out


def ours(palmline, paths):
    res = subprocess.run([palmline, "landmarks", *paths], check=True, capture_output=True, text=True)
    out = {}
    for line in res.stdout.splitlines():
        row = json.loads(line)
        out[row["path"]] = [[tuple(p) for p in hand["points"]] for hand in row.get("hands", [])]
    return out


def error(a, b):
    return sum(math.dist(p, q) for p, q in zip(a, b)) / len(a)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--palmline", default="target/release/palmline")
    ap.add_argument("--per-set", type=int, default=0, help="at most this many pictures a set (0: all)")
    ap.add_argument("--max-mean-px", type=float, default=3.0)
    ap.add_argument("--max-disagreement", type=float, default=0.02, help="share of pictures")
    args = ap.parse_args()
    all_errors, all_disagree, all_n = [], 0, 0
    for set_dir in args.sets:
        paths = pictures(set_dir, args.per_set)
        ref, rust = reference(paths), ours(args.palmline, paths)
        errors, both, only_ref, only_rust, neither = [], 0, [], [], 0
        for p in paths:
            a, b = ref.get(p, []), rust.get(p, [])
            if a and b:
                both += 1
                mine = min(b, key=lambda hand: math.dist(hand[0], a[0][0]))
                errors.append((error(a[0], mine), p))
            elif a:
                only_ref.append(p)
            elif b:
                only_rust.append(p)
            else:
                neither += 1
        name = os.path.basename(os.path.normpath(set_dir))
        mean = sum(e for e, _ in errors) / max(len(errors), 1)
        worst = max(errors, default=(0.0, "-"))
        print(
            f"{name}: {len(paths)} pictures; hand found by both {both}, only MediaPipe {len(only_ref)}, "
            f"only Palmline {len(only_rust)}, neither {neither}; landmark error mean {mean:.2f} px, "
            f"worst {worst[0]:.2f} px ({os.path.relpath(worst[1], set_dir) if errors else '-'})"
        )
        for p in only_ref + only_rust:
            print(f"  found by one side only: {p}")
        all_errors += [e for e, _ in errors]
        all_disagree += len(only_ref) + len(only_rust)
        all_n += len(paths)
    mean = sum(all_errors) / max(len(all_errors), 1)
    share = all_disagree / max(all_n, 1)
    print(f"overall: mean landmark error {mean:.2f} px over {len(all_errors)} hands (bound {args.max_mean_px}); "
          f"found by one side only {share:.2%} (bound {args.max_disagreement:.0%})")
    return 0 if mean <= args.max_mean_px and share <= args.max_disagreement else 1


if __name__ == "__main__":
    sys.exit(main())
