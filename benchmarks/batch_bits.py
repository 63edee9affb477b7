"""Does a text's output depend on the batch around it? (why lockstep.py has its near-tie guard)

    python benchmarks/batch_bits.py [--models cnn,lstm,tinybert] [--sentences 40] [--out FILE]

For each seeded SST2 model of attack_throughput.trained_model: take a "stock chunk" (the first n
one-word variants of a real test sentence, as a goal function sends them), compute it alone
(its rows' float32 bits as stock gets them), then compute the same rows inside a larger batch:
  same width   the chunk first, then 64 other texts padded (or cut) to the chunk's width;
  mixed        the chunk at a random offset among 200 other texts of any length (padded to the
               longest), as a lockstep call builds it.
Counts, per chunk size n, the chunks whose rows are not bit-identical, and the largest difference.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WORDS = ["good", "bad", "film", "undoubted", "indisputable", "xyzzy", "movie", "the"]
SIZES = (1, 2, 3, 4, 8, 32)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="cnn,lstm,tinybert")
    ap.add_argument("--sentences", type=int, default=40)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    import torch

    import attack_throughput as bench
    from flatbench.data.datasets import load_dataset
    from flatbench.models.bundle import ModelBundle

    torch.set_num_threads(1)
    texts = list(load_dataset("sst2").test.texts[:400])
    rep = {"sizes": list(SIZES), "sentences": a.sentences, "models": {}}
    for name in a.models.split(","):
        rng = random.Random(0)

        def variants(t):
            w = t.split()
            out = [t]
            for _ in range(40):
                v = list(w)
                v[rng.randrange(len(v))] = rng.choice(WORDS)
                out.append(" ".join(v))
            return out

        b = ModelBundle.load(bench.trained_model(name, HERE / ".models"))
        b.model.eval()
        tok = b.tokenizer
        res = {k: {n: [0, 0] for n in SIZES} for k in ("same width", "mixed")}
        worst = 0.0
        with torch.inference_mode():
            fwd = lambda ids: b.model(ids).float()  # noqa: E731
            for t in texts[: a.sentences]:
                vs = variants(t)
                for n in SIZES:
                    c = vs[:n]
                    ids = tok.batch(c)
                    ref = fwd(ids)
                    w = ids.shape[1]
                    other = tok.batch([v for u in rng.sample(texts, 2) for v in variants(u)][:64])
                    other = (torch.nn.functional.pad(other, (0, w - other.shape[1])) if other.shape[1] < w
                             else other[:, :w])
                    got = fwd(torch.cat([ids, other]))[:n]
                    res["same width"][n][0] += int(not torch.equal(got, ref))
                    res["same width"][n][1] += 1
                    pool = [v for u in rng.sample(texts, 6) for v in variants(u)][:200]
                    off = rng.randrange(len(pool))
                    got = fwd(tok.batch(pool[:off] + c + pool[off:]))[off:off + n]
                    res["mixed"][n][0] += int(not torch.equal(got, ref))
                    res["mixed"][n][1] += 1
                    worst = max(worst, (got - ref).abs().max().item())
        rep["models"][name] = {"differing_chunks": res, "max_abs_diff": worst}
        print(name, {k: {n: f"{d}/{t}" for n, (d, t) in v.items()} for k, v in res.items()}, f"max {worst:.2g}",
              flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(rep, indent=1))
    return rep


if __name__ == "__main__":
    main()
