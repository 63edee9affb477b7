"""The runner's direct construction of word-swap candidates (flatbench.attacks.fastswap) gives
the same AttackedText objects as TextAttack's own WordSwap loop, candidate by candidate, on real
sentences of the four datasets, for PWWS's WordNet and TextFooler's embedding swaps."""

import numpy as np
import pytest

from flatbench.attack_resources.catalog import ensure_nltk_env

ensure_nltk_env()


def _same(a, b, original_split):
    assert a.text == b.text
    assert list(a.attack_attrs) == list(b.attack_attrs)
    for k, v in b.attack_attrs.items():
        w = a.attack_attrs[k]
        if isinstance(v, np.ndarray):
            assert w.dtype == v.dtype and np.array_equal(w, v)
        elif k == "previous_attacked_text":
            assert w is v
        else:
            assert w == v, k
    assert a.words == b.words == original_split(b.text)
    assert a._text_input == b._text_input


@pytest.fixture(scope="module")
def transformations():
    from textattack.transformations import WordSwapEmbedding, WordSwapWordNet

    from flatbench.attacks.recipes._common import counterfitted_embedding

    return {"wordnet": WordSwapWordNet(), "embedding": WordSwapEmbedding(max_candidates=50,
                                                                          embedding=counterfitted_embedding()[0])}


def test_fast_candidates_equal_textattacks(transformations, data_dir):
    import textattack.shared.utils.strings as ts
    from textattack.shared import AttackedText
    from textattack.transformations import WordSwap

    from flatbench.attacks import runner
    from flatbench.attacks.fastswap import make_word_char, swap_candidates
    from flatbench.data.datasets import load_dataset

    runner._memoize_words_from_text()
    original_split = ts.words_from_text.__wrapped_original__
    word_char = make_word_char(ts.words_from_text.pattern)
    texts = []
    for name, n in (("sst2", 40), ("trec", 40), ("ag", 10), ("imdb", 2)):
        texts += list(load_dataset(name).test.texts[:n])
    texts += ["it's a 'good' film -- really!", "(bad) x@y.com well-made don't", "e.g. the film's 2-hour run",
              "-a- b a", "good good good.", "'quoted'word and *stars*", "naïve café ｍode"]
    n_total = n_fallback = n_words_set = 0
    for text in texts:
        cur = AttackedText(text)
        for step in range(2):  # the original, then a candidate of it (modified indices set)
            idx = list(range(min(cur.num_words, 40)))
            for t in transformations.values():
                stock = WordSwap._get_transformations(t, cur, idx)
                calls = []
                own = cur.replace_word_at_index  # TextAttack's construction: the fallback
                cur.replace_word_at_index = lambda i, r, own=own: calls.append(i) or own(i, r)
                fast = swap_candidates(t, cur, idx, ts.words_from_text, word_char)
                del cur.replace_word_at_index
                n_fallback += len(calls)
                assert len(fast) == len(stock)
                for a, b in zip(fast, stock):
                    n_words_set += a._words is not None
                    _same(a, b, original_split)
                n_total += len(stock)
                if stock and step == 0:
                    nxt = stock[len(stock) // 2]
            cur = nxt
    assert n_total > 5_000
    # most candidates take the direct path, most with their words known without a split
    assert n_fallback < 0.2 * n_total and n_words_set > 0.8 * n_total
