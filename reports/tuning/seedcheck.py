"""Dev-only seed check (after the search): chosen config vs current defaults at extra seeds.

    python reports/tuning/seedcheck.py MODEL DATASET SEED [SEED ...]
"""
import json
import sys
from pathlib import Path

import torch

from flatbench.analysis.tuning import defaults, run_trial

torch.set_num_threads(1)
model, dataset, seeds = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
T = Path(__file__).parent
fin = json.loads((T / f"{model}_{dataset}_final.json").read_text())
chosen = {k: v for k, v in fin["chosen"].items() if k != "epochs"}
out = {"model": model, "dataset": dataset, "chosen": fin["chosen"], "runs": []}
for s in seeds:
    for name, cfg, ep in (("chosen", chosen, fin["chosen"]["epochs"]), ("defaults", {}, defaults(model)["epochs"])):
        r = run_trial(model, dataset, cfg, s, ep)
        out["runs"].append({"which": name, "seed": s, "best_dev_acc": r["best_dev_acc"],
                            "best_epoch": r["best_epoch"], "seconds": r["seconds"]})
        print(name, s, r["best_dev_acc"], r["best_epoch"], r["seconds"], flush=True)
        (T / f"seedcheck_{model}_{dataset}.json").write_text(json.dumps(out, indent=1))
