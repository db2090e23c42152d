"""Fails when `palmline eval --json` output falls below the floors in floors.json."""
import json, sys

results = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = r["set"] + (" (identify)" if r.get("mode") == "identify" else "")
    results[key] = r
floors = json.load(open(sys.argv[2]))
bad = []
for name, f in floors.items():
    if name.startswith("_"):
        continue
    r = results.get(name)
    if r is None:
        bad.append(f"{name}: not evaluated")
        continue
    if r.get("mode") == "identify":
        print(f"{name}: rank-1 {r['rank1']:.5f} fast/exhaustive top-1 agreement {r['top1_agreement_with_exhaustive']:.5f}")
        if r["top1_agreement_with_exhaustive"] < f["agreement_min"]:
            bad.append(f"{name}: fast/exhaustive agreement {r['top1_agreement_with_exhaustive']} below {f['agreement_min']}")
        if r["rank1"] < f["rank1_min"]:
            bad.append(f"{name}: rank1 {r['rank1']} below the floor {f['rank1_min']}")
        continue
    print(f"{name}: EER {r['eer']:.5f} FNMR@1e-3 {r['fnmr_at_fmr_1e3']:.5f} rank-1 {r['rank1']:.5f} FTA {r['failures_to_acquire']}")
    for key in ("eer", "fnmr_at_fmr_1e3", "failures_to_acquire"):
        if r[key] > f[key]:
            bad.append(f"{name}: {key} {r[key]} above the floor {f[key]}")
    if r["rank1"] < f["rank1_min"]:
        bad.append(f"{name}: rank1 {r['rank1']} below the floor {f['rank1_min']}")
if bad:
    print("accuracy floors broken:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("accuracy floors hold")
