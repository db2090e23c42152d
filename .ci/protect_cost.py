"""Template protection must cost no accuracy: compares `palmline eval --json` on plain templates
with `palmline eval --protect --json` on the same sets and fails on any difference."""
import json, sys

KEYS = ("eer", "fnmr_at_fmr_1e2", "fnmr_at_fmr_1e3", "fnmr_at_fmr_1e4", "dprime", "rank1",
        "failures_to_acquire", "genuine_pairs", "impostor_pairs")

def load(path):
    return {r["set"]: r for r in map(json.loads, open(path)) if r.get("mode") != "identify"}

plain, protected = load(sys.argv[1]), load(sys.argv[2])
bad = []
for name, p in protected.items():
    if not p.get("protected"):
        bad.append(f"{name}: not evaluated with --protect")
    q = plain.get(name)
    if q is None:
        bad.append(f"{name}: no plain run to compare with")
        continue
    for k in KEYS:
        if p[k] != q[k]:
            bad.append(f"{name}: {k} plain {q[k]} protected {p[k]}")
    print(f"{name}: protected EER {p['eer']:.5f} (plain {q['eer']:.5f}), "
          f"match {p['match_us_median']} us (plain {q['match_us_median']} us)")
if bad or not protected:
    print("template protection changed the accuracy:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("template protection costs no accuracy")
