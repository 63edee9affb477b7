"""TextFooler's POS tags: spaCy's pipeline against attack_resources.tagger_cache, on what
TextFooler asks.

    python benchmarks/tagger_check.py [--datasets sst2,trec] [--texts 0] [--out FILE]

For each test sentence of each dataset (`--texts N`: the first N; 0: all), each word i and each of
its 50 counter-fitted neighbours (TextFooler's `WordSwapEmbedding` candidates, before any
constraint), the part-of-speech constraint's question: the tag of the word, and of the
neighbour, at its first occurrence in the context of 4 words before and 3 after
(`SpacyPartOfSpeech._contexts`). The reference tags every distinct context whole with spaCy's
pipeline (`nlp.pipe`, batches of 256); `IncrementalTagger.tags_at` answers the same questions in
batches of one word's candidates, as the constraint asks them. Prints and writes the number of
questions, distinct contexts, differences (must be 0), near-ties sent to spaCy and both times.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def questions(dataset: str, n_texts: int):
    """[(context words, position)] per word of each test sentence, in the constraint's order."""
    from flatbench.attack_resources.catalog import ensure_nltk_env

    ensure_nltk_env()
    from textattack.shared import AttackedText
    from textattack.transformations import WordSwapEmbedding

    from flatbench.attack_resources.constraints import SpacyPartOfSpeech
    from flatbench.attacks.recipes import _common
    from flatbench.attacks.recipes.textfooler import MAX_CANDIDATES
    from flatbench.data.datasets import load_dataset

    emb, _ = _common.counterfitted_embedding()
    swap = WordSwapEmbedding(max_candidates=MAX_CANDIDATES, embedding=emb)
    texts = load_dataset(dataset).test.texts
    groups = []
    for text in texts[:n_texts or None]:
        words = AttackedText(text).words
        for i, w in enumerate(words):
            before, after = SpacyPartOfSpeech._contexts(words, i)
            group = []
            for r in [w] + [r for r in swap._get_replacement_words(w) if r != w]:
                ctx = tuple(before + [r] + after)
                group.append((ctx, ctx.index(r)))
            groups.append(group)
    return groups


def check(datasets: str, n_texts: int) -> dict:
    from spacy.tokens import Doc

    from flatbench.attack_resources.constraints import spacy_tagger
    from flatbench.attack_resources.tagger_cache import IncrementalTagger

    nlp = spacy_tagger()
    out = {"texts": n_texts or "all", "datasets": {}}
    for ds in datasets.split(","):
        groups = questions(ds, n_texts)
        flat = [q for g in groups for q in g]
        t = time.perf_counter()
        tagger = IncrementalTagger(nlp)
        ours = [tag for g in groups for tag in tagger.tags_at(g)]
        t_ours = time.perf_counter() - t
        uniq = list(dict.fromkeys(w for w, _ in flat))
        t = time.perf_counter()
        docs = (Doc(nlp.vocab, words=list(w)) for w in uniq)  # streamed: a million Docs do not fit
        tags = {w: tuple(tok.tag_ for tok in d) for w, d in zip(uniq, nlp.pipe(docs, batch_size=256))}
        t_spacy = time.perf_counter() - t
        diff = [(" ".join(w), p, a, tags[w][p]) for (w, p), a in zip(flat, ours) if a != tags[w][p]]
        out["datasets"][ds] = {"questions": len(flat), "contexts": len(uniq), "differences": len(diff),
                               "examples": diff[:10], "near_ties_to_spacy": tagger.counts["spacy"],
                               "rows_computed": tagger.counts["rows"], "seconds_incremental": round(t_ours, 2),
                               "seconds_spacy_whole_contexts": round(t_spacy, 2)}
        print(ds, {k: v for k, v in out["datasets"][ds].items() if k != "examples"}, flush=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="sst2,trec")
    ap.add_argument("--texts", type=int, default=0)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    out = check(a.datasets, a.texts)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    if any(d["differences"] for d in out["datasets"].values()):
        raise SystemExit("differences found")
    return out


if __name__ == "__main__":
    main()
