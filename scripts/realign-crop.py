#!/usr/bin/env python3
"""Where does a misaligned ROI crop's palm lie, and does it match once re-cut there?

Registers one crop against each other image of its palm (SIFT keypoints, RANSAC similarity
transform), prints each mate's turn, scale and centre inside the crop, re-cuts the crop by the
median transform (what lies outside the crop stays black, which the engine marks invalid) and
scores the re-cut against the mates with `palmline eval --write-scores`, next to the set's own
thresholds. Used for issue 2's tongji-roi t027/0002, which fails every genuine pair:

    scripts/realign-crop.py ../shared/datasets/tongji-roi t027 0002.png

The registration needs the mates, which an engine comparing two templates never has: the script
says what a crop finder would have to find, not what the engine can. Needs
`pip install opencv-python-headless numpy` and a release build (`cargo build --release`). The
re-cut stays in a temporary folder that is deleted afterwards.
"""

import csv
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

PALMLINE = Path(__file__).resolve().parent.parent / "target" / "release" / "palmline"
# Keypoints are found on crops upsampled to this side: Tongji's 150 px crops hold too few.
WORK_SIDE = 300


def keypoints(image):
    side = min(image.shape)
    big = cv2.resize(image, (WORK_SIDE, WORK_SIDE), interpolation=cv2.INTER_CUBIC)
    big = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(big)
    points, descriptors = cv2.SIFT_create().detectAndCompute(big, None)
    return np.float32([p.pt for p in points]) * side / WORK_SIDE, descriptors


def register(mate, crop_keypoints):
    """Similarity transform taking mate pixels to crop pixels, and its inlier count, or None."""
    mate_points, mate_desc = keypoints(mate)
    crop_points, crop_desc = crop_keypoints
    if mate_desc is None or crop_desc is None:
        return None
    pairs = cv2.BFMatcher().knnMatch(mate_desc, crop_desc, k=2)
    # Lowe's ratio test: keep a match only when clearly better than the second best.
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.8 * n.distance]
    if len(good) < 4:
        return None
    src = np.float32([mate_points[m.queryIdx] for m in good])
    dst = np.float32([crop_points[m.trainIdx] for m in good])
    transform, inliers = cv2.estimateAffinePartial2D(src, dst, ransacReprojThreshold=3.0)
    if transform is None:
        return None
    return transform, int(inliers.sum())


def describe(transform, side):
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    turn = float(np.degrees(np.arctan2(transform[1, 0], transform[0, 0])))
    centre = transform @ np.array([side / 2, side / 2, 1.0])
    return turn, scale, float(centre[0]), float(centre[1])


def similarity(turn, scale, cx, cy, side):
    """The transform `describe` reads back: mate centre to (cx, cy), turned and scaled."""
    c, s = scale * np.cos(np.radians(turn)), scale * np.sin(np.radians(turn))
    linear = np.array([[c, -s], [s, c]])
    shift = np.array([cx, cy]) - linear @ np.array([side / 2, side / 2])
    return np.hstack([linear, shift[:, None]])


def share_inside(transform, side):
    """Share of a side x side square's pixels that the transform puts inside another such square."""
    ys, xs = np.mgrid[0:side, 0:side] + 0.5
    x = transform[0, 0] * xs + transform[0, 1] * ys + transform[0, 2]
    y = transform[1, 0] * xs + transform[1, 1] * ys + transform[1, 2]
    return float(((x >= 0) & (x < side) & (y >= 0) & (y < side)).mean())


def set_figures(root, crop_path):
    """The set's EER threshold, the score accepted at FMR 1e-3, and the crop's scores as cut
    against its mates, from palmline's own eval of the whole set."""
    with tempfile.TemporaryDirectory() as tmp:
        scores = Path(tmp) / "all.csv"
        figures = subprocess.run(
            [str(PALMLINE), "eval", str(root), "--json", "--write-scores", str(scores)],
            check=True,
            capture_output=True,
            text=True,
        )
        impostors, as_cut = [], []
        for row in csv.DictReader(scores.open()):
            a, b, score = row["a"], row["b"], float(row["similarity"])
            if a.split("/")[0] != b.split("/")[0]:
                impostors.append(score)
            elif crop_path in (a, b):
                as_cut.append(score)
    impostors.sort(reverse=True)
    return json.loads(figures.stdout)["eer_threshold"], impostors[len(impostors) // 1000], sorted(as_cut)


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    root, palm, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    crop = cv2.imread(str(root / palm / name), cv2.IMREAD_GRAYSCALE)
    if crop is None:
        sys.exit(f"cannot read {root / palm / name}")
    side = min(crop.shape)
    mates = [p for p in sorted((root / palm).iterdir()) if p.name != name]
    print(f"{palm}/{name} registered against {len(mates)} mates (mate -> crop):")
    found = []
    crop_keypoints = keypoints(crop)
    for mate in mates:
        result = register(cv2.imread(str(mate), cv2.IMREAD_GRAYSCALE), crop_keypoints)
        if result is None:
            print(f"  {mate.name}: no transform found")
            continue
        turn, scale, cx, cy = describe(result[0], side)
        print(f"  {mate.name}: {result[1]:3d} inliers, turn {turn:6.1f} deg, scale {scale:.3f}, "
              f"mate centre at ({cx:.0f}, {cy:.0f}) in the crop")
        found.append((turn, scale, cx, cy))
    if not found:
        sys.exit("no mate registers: nothing to re-cut")
    median = [statistics.median(v[i] for v in found) for i in range(4)]
    print("median: turn {:.1f} deg, scale {:.3f}, centre ({:.1f}, {:.1f})".format(*median))
    forward = similarity(*median, side)
    backward = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    print(f"the crop shows {share_inside(forward, side):.0%} of its palm's region, which fills "
          f"{share_inside(backward, side):.0%} of the crop")

    eer_threshold, fmr_threshold, as_cut = set_figures(root, f"{palm}/{name}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / palm
        folder.mkdir()
        recut = cv2.warpAffine(crop, similarity(*median, side), (side, side),
                               flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP)
        cv2.imwrite(str(folder / f"recut-{name}"), recut)
        for mate in mates:
            (folder / mate.name).symlink_to(mate.resolve())
        scores = Path(tmp) / "scores.csv"
        subprocess.run([str(PALMLINE), "eval", tmp, "--write-scores", str(scores)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        recut_scores = sorted(
            float(row["similarity"])
            for row in csv.DictReader(scores.open())
            if ("recut-" in row["a"]) != ("recut-" in row["b"])
        )
    print(f"the set's EER threshold {eer_threshold:.4f}; accepted at FMR 1e-3 above {fmr_threshold:.4f}")
    print("as cut, against its mates: " + " ".join(f"{s:.3f}" for s in as_cut))
    print("re-cut, against its mates: " + " ".join(f"{s:.3f}" for s in recut_scores))
    print(f"mates above the EER threshold: {sum(s >= eer_threshold for s in recut_scores)} "
          f"of {len(recut_scores)}; above the FMR 1e-3 one: "
          f"{sum(s >= fmr_threshold for s in recut_scores)}")


if __name__ == "__main__":
    main()
