#!/usr/bin/env python3
"""Can a misaligned ROI crop be matched at all once rotated, zoomed and moved?

Renders rotated (-45..45 degrees), zoomed (side 60..105 px of a 150 px crop) and moved versions of
one crop, evaluates them against the palm's other images with `palmline eval --write-scores`, and
prints the best scores next to the set's impostor threshold at FMR 1e-3. Used for issue 2's
tongji-roi t027/0002, which fails every genuine pair:

    scripts/realign-crop.py ../shared/datasets/tongji-roi t027 0002.png

Needs Pillow (`pip install pillow`) and a release build (`cargo build --release`). The images stay
in a temporary folder that is deleted afterwards.
"""

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

PALMLINE = Path(__file__).resolve().parent.parent / "target" / "release" / "palmline"


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    root, palm, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
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
        for angle in range(-45, 46, 9):
            turned = source.rotate(angle, resample=Image.BICUBIC)
            for crop in (60, 75, 90, 105):
                for cx in range(45, 106, 15):
                    for cy in range(45, 106, 15):
                        box = (cx - crop // 2, cy - crop // 2, cx - crop // 2 + crop, cy - crop // 2 + crop)
                        if min(box) < 0 or max(box) > side:
                            continue
                        out = variants / f"a{angle}_s{crop}_x{cx}_y{cy}.png"
                        turned.crop(box).resize((side, side), Image.BICUBIC).save(out)
                        count += 1
        scores = Path(tmp) / "scores.csv"
        subprocess.run(
            [str(PALMLINE), "eval", tmp, "--write-scores", str(scores)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        best = {}
        for row in csv.DictReader(scores.open()):
            a, b = row["a"], row["b"]
            if a.startswith("variants") == b.startswith("variants"):
                continue
            variant = a if a.startswith("variants") else b
            best[variant] = max(best.get(variant, 0.0), float(row["similarity"]))
        # The set's impostor scores: a pair is accepted at FMR 1e-3 only above the score that
        # leaves at most one impostor pair in a thousand accepted.
        all_scores = Path(tmp) / "all.csv"
        subprocess.run(
            [str(PALMLINE), "eval", str(root), "--write-scores", str(all_scores)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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
        print(f"accepted at FMR 1e-3 above {threshold:.4f}; best variants (best mate score):")
        for variant, score in sorted(best.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {score:.4f}  {variant}")

if __name__ == "__main__":
    main()
