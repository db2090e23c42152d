#!/usr/bin/env python3
"""Can a misaligned ROI crop be matched at all once rotated, zoomed and moved?

Renders rotated (-45..45 degrees), zoomed (side 60..105 px of a 150 px crop) and moved versions of
one crop, evaluates them against the palm's other images with `palmline eval --write-scores`, and
prints the best scores next to the set's impostor threshold at FMR 1e-3. Used for issue 2's
tongji-roi t027/0002, which fails every genuine pair:

    scripts/realign-crop.py ../shared/datasets/tongji-roi t027 0002.png

Then, finer, around the best variant it printed (turn, side, centre x, centre y), in 2-degree,
4-px and 5-px steps; the median over the mates says how many pairs a re-cut could rescue:

    scripts/realign-crop.py ../shared/datasets/tongji-roi t027 0002.png --around -36 75 105 60

Needs Pillow (`pip install pillow`) and a release build (`cargo build --release`). The images stay
in a temporary folder that is deleted afterwards.
"""

import csv
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

PALMLINE = Path(__file__).resolve().parent.parent / "target" / "release" / "palmline"


def grid(around):
    """(angle, side, cx, cy) of every variant: the coarse grid, or a fine one around a variant."""
    if around is None:
        return [(a, s, x, y) for a in range(-45, 46, 9) for s in (60, 75, 90, 105)
                for x in range(45, 106, 15) for y in range(45, 106, 15)]
    a0, s0, x0, y0 = around
    return [(a, s, x, y) for a in range(a0 - 6, a0 + 7, 2) for s in range(s0 - 12, s0 + 13, 4)
            for x in range(x0 - 10, x0 + 11, 5) for y in range(y0 - 10, y0 + 11, 5)]


def main() -> None:
    args = sys.argv[1:]
    around = None
    if len(args) == 8 and args[3] == "--around":
        around = tuple(int(v) for v in args[4:])
        args = args[:3]
    if len(args) != 3:
        sys.exit(__doc__)
    root, palm, name = Path(args[0]), args[1], args[2]
    source = Image.open(root / palm / name)
    side = min(source.size)
    with tempfile.TemporaryDirectory() as tmp:
        variants, mates = Path(tmp) / "variants", Path(tmp) / "mates"
        variants.mkdir()
        mates.mkdir()
        for other in sorted((root / palm).iterdir()):
            if other.name != name:
                (mates / other.name).symlink_to(other.resolve())
        count = 0
        turned = {}
        for angle, crop, cx, cy in grid(around):
            box = (cx - crop // 2, cy - crop // 2, cx - crop // 2 + crop, cy - crop // 2 + crop)
            if min(box) < 0 or max(box) > side:
                continue
            if angle not in turned:
                turned[angle] = source.rotate(angle, resample=Image.BICUBIC)
            out = variants / f"a{angle}_s{crop}_x{cx}_y{cy}.png"
            turned[angle].crop(box).resize((side, side), Image.BICUBIC).save(out)
            count += 1
        scores = Path(tmp) / "scores.csv"
        subprocess.run(
            [str(PALMLINE), "eval", tmp, "--write-scores", str(scores)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        per_variant = {}
        for row in csv.DictReader(scores.open()):
            a, b = row["a"], row["b"]
            if a.startswith("variants") == b.startswith("variants"):
                continue
            variant = a if a.startswith("variants") else b
            per_variant.setdefault(variant, []).append(float(row["similarity"]))
        # The set's impostor scores: a pair is accepted at FMR 1e-3 only above the score that
        # leaves at most one impostor pair in a thousand accepted.
        all_scores = Path(tmp) / "all.csv"
        figures = subprocess.run(
            [str(PALMLINE), "eval", str(root), "--json", "--write-scores", str(all_scores)],
            check=True,
            capture_output=True,
            text=True,
        )
        eer_threshold = json.loads(figures.stdout)["eer_threshold"]
        impostors = sorted(
            (
                float(row["similarity"])
                for row in csv.DictReader(all_scores.open())
                if row["a"].split("/")[0] != row["b"].split("/")[0]
            ),
            reverse=True,
        )
        threshold = impostors[len(impostors) // 1000]
        print(f"{count} variants of {palm}/{name} against {len(list(mates.iterdir()))} mates")
        print(f"accepted at FMR 1e-3 above {threshold:.4f}; the set's EER threshold {eer_threshold:.4f}")
        print("best variants: best mate score, median mate score, mates above each threshold")
        for variant, scores_ in sorted(per_variant.items(), key=lambda kv: -max(kv[1]))[:5]:
            median = statistics.median(scores_)
            above = sum(s >= threshold for s in scores_), sum(s >= eer_threshold for s in scores_)
            print(f"  {max(scores_):.4f}  {median:.4f}  {above[0]} / {above[1]}  {variant}")
        most = max(sum(s >= eer_threshold for s in v) for v in per_variant.values())
        best_median = max(statistics.median(v) for v in per_variant.values())
        print(f"any variant: at most {most} mates above the EER threshold, best median {best_median:.4f}")

if __name__ == "__main__":
    main()
