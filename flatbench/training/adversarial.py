"""D' for a training round, read from an attack stage's records.

Choices the paper leaves open (recorded in README "Choices"): only *succeeded* attacks enter
D' (a failed attack has no adversarial text; a skipped one was already misclassified); each
round uses the examples of the latest attack only (replaced, not accumulated), as TextAttack's
adversarial Trainer does; the adversarial text keeps the gold label of its original.
"""

from __future__ import annotations

import json
from pathlib import Path

from flatbench.training.loop import Example


def read_records(attack_dir: Path) -> list[dict]:
    with open(Path(attack_dir) / "records.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def adversarial_examples(attack_dir: Path) -> tuple[list[Example], dict]:
    recs = read_records(attack_dir)
    out = [Example(r["adversarial"], int(r["label"]), [(o, s) for _, o, s in r["replaced"]])
           for r in recs if r["status"] == "succeeded"]
    stats = {"attacked": len(recs), "added": len(out),
             "replaced_words": sum(len(e.pairs) for e in out)}
    return out, stats
