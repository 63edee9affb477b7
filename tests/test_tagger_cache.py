"""attack_resources.tagger_cache: one word's tag from cached per-slot rows, held to spaCy's
en_core_web_sm pipeline (tok2vec + tagger) on real contexts."""

from __future__ import annotations

import random

import numpy as np
import pytest

pytest.importorskip("spacy")


@pytest.fixture(scope="module")
def nlp():
    from flatbench.attack_resources.catalog import ensure_nltk_env

    ensure_nltk_env()
    from flatbench.attack_resources.constraints import spacy_tagger

    return spacy_tagger()


def _queries(data_dir, dataset, n_texts, subs_per_word, seed=0):
    """TextFooler-shaped questions: for each word of real test sentences, its context (4 words
    before, 3 after) with the word itself and with real words of the training split put in."""
    import json

    rows = [json.loads(line) for line in (data_dir / dataset / "test.jsonl").read_text().splitlines()]
    train = [json.loads(line) for line in (data_dir / dataset / "train.jsonl").read_text().splitlines()[:2000]]
    vocab = sorted({w for r in train for w in r["text"].split()})
    rng = random.Random(seed)
    out = []
    for r in rows[:n_texts]:
        ws = r["text"].split()
        for i in range(len(ws)):
            before, after = ws[max(i - 4, 0):i], ws[i + 1:i + 4]
            for w in [ws[i]] + rng.sample(vocab, subs_per_word):
                ctx = tuple(before + [w] + after)
                out.append((ctx, ctx.index(w)))
    return out


def _spacy_tags(nlp, queries):
    from spacy.tokens import Doc

    uniq = list(dict.fromkeys(w for w, _ in queries))
    docs = nlp.pipe([Doc(nlp.vocab, words=list(w)) for w in uniq], batch_size=256)
    tags = {w: [t.tag_ for t in d] for w, d in zip(uniq, docs)}
    return [tags[w][p] for w, p in queries]


@pytest.mark.parametrize("dataset", ["sst2", "trec"])
def test_tags_equal_spacys_on_real_contexts(nlp, data_dir, dataset):
    from flatbench.attack_resources.tagger_cache import IncrementalTagger

    queries = _queries(data_dir, dataset, 120, 3)
    tagger = IncrementalTagger(nlp)
    ours = tagger.tags_at(queries)
    assert ours == _spacy_tags(nlp, queries)
    # real work: thousands of contexts, many tags, repeated words asked at their first occurrence,
    # contexts cut by the sentence's start and end; the near-tie path is rare
    assert len(queries) > 3_000 and len(set(ours)) > 20
    assert any(w.count(w[p]) > 1 for w, p in queries)
    assert any(len(w) < 8 for w, _ in queries)
    assert tagger.counts["spacy"] < 0.01 * len(queries)


def test_rows_are_spacys_bit_for_bit(nlp, data_dir):
    """Each asked word's layer-4 row is the pipeline's tok2vec output for it, not only close."""
    from spacy.tokens import Doc

    from flatbench.attack_resources.tagger_cache import IncrementalTagger

    queries = _queries(data_dir, "sst2", 15, 1, seed=1)
    tagger = IncrementalTagger(nlp)
    tagger.tags_at(queries)
    t2v = nlp.get_pipe("tok2vec").model
    # the embed rows are the embed chain's output, then every layer-4 row is tok2vec's
    words = [w for (w,), i in tagger.stores[0].slot.items() if w is not None]
    (E,) = t2v.layers[0].predict([Doc(nlp.vocab, words=words)])
    assert len(words) > 100 and np.array_equal(tagger.stores[0].rows[[tagger.stores[0].slot[(w,)] for w in words]], E)
    store = tagger.stores[-1]
    for words, pos in queries[::7]:
        ref = t2v.predict([Doc(nlp.vocab, words=list(words))])[0][pos]
        assert np.array_equal(store.rows[store.slot[tagger._key(words, pos)]], ref), words


def test_rows_are_reused_and_bounded(nlp, data_dir):
    from flatbench.attack_resources.tagger_cache import IncrementalTagger

    queries = _queries(data_dir, "trec", 40, 4, seed=2)
    full = IncrementalTagger(nlp)
    want = full.tags_at(queries)
    # a substitute changes 12 rows of the 4 layers (3 + 5 + 3 + 1), not the context's 64
    assert full.counts["rows"] < 14 * full.counts["computed"]
    assert full.tags_at(queries) == want and full.counts["computed"] == len(set(map(full._key, *zip(*queries))))
    # a tiny bound: layers emptied between calls, the same tags
    small = IncrementalTagger(nlp, max_rows=50)
    got = []
    for k in range(0, len(queries), 37):
        got += small.tags_at(queries[k:k + 37])
        assert all(s.n <= 50 + 37 * 9 + 1 for s in small.stores)
    assert got == want


def test_refuses_another_layout(nlp):
    from flatbench.attack_resources.tagger_cache import StructureError, _check_structure

    t2v = nlp.get_pipe("tok2vec").model
    with pytest.raises(StructureError):
        _check_structure(t2v.layers[0], nlp.get_pipe("tagger").model)


def test_the_pipeline_without_its_tokenizer_is_the_pipeline(nlp, data_dir):
    """`spacy_tagger` loads en_core_web_sm without its tokenizer (half of the load; every text
    comes as a Doc of given words). Against the pipeline loaded with it, in one process: every
    tok2vec row bit for bit and every tag, on the contexts of real SST2 and TREC sentences with
    training-split words put in (the full pipeline's vocabulary starts with its tokenizer's
    special-case lexemes, ours empty)."""
    import spacy
    from spacy.tokens import Doc

    from flatbench.attack_resources import constraints

    full = spacy.load(constraints.SPACY_MODEL, exclude=constraints._PIPES_UNUSED)
    assert len(full.vocab) > 700 and len(full.tokenizer.rules) > 1000
    assert not nlp.tokenizer.rules
    queries = _queries(data_dir, "sst2", 60, 2, seed=3) + _queries(data_dir, "trec", 60, 2, seed=3)
    contexts = list(dict.fromkeys(w for w, _ in queries))
    assert len(contexts) > 2_000
    t2v_a, t2v_b = full.get_pipe("tok2vec").model, nlp.get_pipe("tok2vec").model
    for k in range(0, len(contexts), 256):
        chunk = contexts[k:k + 256]
        a = t2v_a.predict([Doc(full.vocab, words=list(c)) for c in chunk])
        b = t2v_b.predict([Doc(nlp.vocab, words=list(c)) for c in chunk])
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert _spacy_tags(full, queries) == _spacy_tags(nlp, queries)
