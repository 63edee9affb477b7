"""PWWS's WordNet look-ups: stock WordSwapWordNet against attack_resources.wordnet_synonyms.

    python benchmarks/wordnet_synonyms.py check [--every 1]      # equal sets over WordNet's index
    python benchmarks/wordnet_synonyms.py time --repeats 5         # cold look-ups, fresh processes

`check`: every lemma of WordNet's index (147,306 words, `--every K` for every K-th) and every word
of the four datasets' test splits, as written and capitalised; the fast set must equal stock's for
each. `time`: in fresh processes, interleaved, the cold look-ups of the words of 50 SST2 test
sentences (what one 50-example PWWS run asks for), stock vs fast, and the reader's load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _stock_and_fast():
    from flatbench.attack_resources.env import ensure_nltk_env

    ensure_nltk_env()
    from textattack.transformations import WordSwapWordNet

    from flatbench.attack_resources.wordnet_synonyms import fast_replacement_words

    t = WordSwapWordNet(language="eng")
    return t, fast_replacement_words(t)


def check(every: int) -> dict:
    from flatbench.data.datasets import load_dataset

    t0 = time.time()
    stock, fast = _stock_and_fast()
    reader = fast.synonyms.reader
    words = sorted(reader._lemma_pos_offset_map)[::every]
    for name in ("sst2", "trec", "imdb", "ag"):
        try:
            texts = load_dataset(name).test.texts
        except Exception as e:  # noqa: BLE001 - a dataset missing here is reported, not fatal
            print(f"{name}: skipped ({e})", file=sys.stderr)
            continue
        vocab = {w for x in texts for w in x.split()}
        words += sorted(vocab | {w.capitalize() for w in vocab})
    fast_sets = {w: set(fast(w)) for w in words}  # first: read from the lines
    bad = [w for w in words if set(stock._get_replacement_words(w)) != fast_sets[w]]
    return {"words": len(words), "distinct": len(set(words)), "synonyms": sum(map(len, fast_sets.values())),
            "different": len(bad), "examples": bad[:20], "seconds": round(time.time() - t0, 1)}


def once(mode: str) -> dict:
    rows = [json.loads(x) for x in open(os.environ.get("FLATBENCH_DATA_DIR", "../shared/data") + "/sst2/test.jsonl")][:50]
    t0 = time.perf_counter()
    stock, fast = _stock_and_fast()
    from textattack.shared.utils import words_from_text

    words = sorted({w for r in rows for w in words_from_text(r["text"])})
    t1 = time.perf_counter()
    f = fast if mode == "fast" else stock._get_replacement_words
    n = sum(len(f(w)) for w in words)
    return {"mode": mode, "build_s": t1 - t0, "lookup_s": time.perf_counter() - t1, "words": len(words), "synonyms": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("check", "time", "once"))
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--mode", default="fast")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.what == "check":
        out = check(a.every)
    elif a.what == "once":
        print(json.dumps(once(a.mode)))
        return
    else:
        runs = {"stock": [], "fast": []}
        for i in range(a.repeats):
            for mode in (("stock", "fast") if i % 2 == 0 else ("fast", "stock")):
                load = os.getloadavg()[0]
                p = subprocess.run([sys.executable, __file__, "once", "--mode", mode], capture_output=True, text=True,
                                   check=True)
                runs[mode].append({**json.loads(p.stdout.strip().splitlines()[-1]), "load1": load})
        med = {m: statistics.median(r["lookup_s"] for r in rs) for m, rs in runs.items()}
        out = {"runs": runs, "lookup_median_s": med, "speedup": med["stock"] / med["fast"],
               "same_counts": len({r["synonyms"] for rs in runs.values() for r in rs}) == 1}
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=1))
    if a.out:
        a.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
