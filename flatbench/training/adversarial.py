"""D' for a training round, read from an attack stage's records.

Choices the paper leaves open (recorded in README "Choices"): only *succeeded* attacks enter
D' (a failed attack has no adversarial text; a skipped one was already misclassified); each
round uses the examples of the latest attack only (replaced, not accumulated), as TextAttack's
adversarial Trainer does; the adversarial text keeps the gold label of its original.
"""

from __future__ import annotations

from pathlib import Path

from flatbench.analysis.records import raw_records
from flatbench.training.loop import Example


def adversarial_examples(attack_dir: Path) -> tuple[list[Example], dict]:
    recs = raw_records(attack_dir)
    out = [Example(r["adversarial"], int(r["label"]), [(o, s) for _, o, s in r["replaced"]])
           for r in recs if r["status"] == "succeeded"]
    stats = {"attacked": len(recs), "added": len(out),
             "replaced_words": sum(len(e.pairs) for e in out)}
    return out, stats
