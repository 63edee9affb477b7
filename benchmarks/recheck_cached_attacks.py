"""Re-attack cached attack stages with the current runner and compare records byte for byte.

    python benchmarks/recheck_cached_attacks.py [--runs-dir runs] "attack[cnn-sst2-base-s13 r0 test textfooler]" \
        "attack[cnn-sst2-base-s13 r0 test gene]|30" [--out file.json]

Each argument is a stage label (as `flatbench run` prints it), optionally with `|N` to re-attack
only its first N examples. Every cached stage with that label is re-attacked in this process
(one worker, one thread) on its own trained model, examples, options and seed, and its records
are compared with the cached records.jsonl, field by field (status, adversarial text, queries,
predictions, replaced words). This is how a runner change is checked on fully trained models:
the cached records came from an earlier version of the runner. Stages of the same sentences
run one after another share the process's memoised look-ups, as in a grid run, so later ones
are faster; seconds per example are reported per stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("labels", nargs="+")
    ap.add_argument("--runs-dir", default="runs")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    import torch

    from flatbench.attacks.runner import run_attack

    torch.set_num_threads(1)
    want = dict((x.split("|") + ["0"])[:2] for x in a.labels)
    runs = Path(a.runs_dir)
    out = []
    for f in sorted((runs / "attack").glob("*/manifest.json")):
        m = json.loads(f.read_text())
        if m["label"] not in want:
            continue
        recs = [json.loads(line) for line in (f.parent / "records.jsonl").read_text().splitlines()]
        if int(want[m["label"]]):
            recs = recs[:int(want[m["label"]])]
        items = [(r["idx"], r["original"], r["label"]) for r in recs]
        t0 = time.perf_counter()
        new, st = run_attack(runs / "train" / m["deps"][0], m["spec"]["recipe"], items, Path(tempfile.mkdtemp()),
                             workers=1, progress=False, options=m["spec"]["options"] or None,
                             seed=m["spec"]["seed"], threads=1)
        row = {"label": m["label"], "key": m["key"], "n": len(recs),
               "identical_records": sum(x == y for x, y in zip(new, recs)),
               "cached_s_per_example": m["metrics"]["seconds_per_example"],
               "cached_workers": m["metrics"]["workers"],
               "s_per_example": st["seconds"] / max(1, len(recs)), "wall_s": time.perf_counter() - t0}
        out.append(row)
        print(json.dumps(row), flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1))
    bad = [r for r in out if r["identical_records"] != r["n"]]
    if bad or not out:
        print(f"{len(bad)} stage(s) differ" if out else "no stage matched", file=sys.stderr)
        sys.exit(1)
    return out


if __name__ == "__main__":
    main()
