"""The attack runner's per-process sentence-encoding memo: what it returns is what the encoder
returns, in order, whatever the memo holds (hits, misses, repeats, evictions past its size)."""

import numpy as np

from flatbench.attacks import runner


class _Encoder:
    def __init__(self):
        self.asked = []

    def encode(self, sentences):
        self.asked.append(list(sentences))
        return [np.array([len(s), sum(map(ord, s))], dtype=np.float32) for s in sentences]


def test_memo_returns_the_encoders_rows_through_evictions(monkeypatch):
    monkeypatch.setattr(runner, "_ENCODINGS_MAX", 3)
    c, ref = _Encoder(), _Encoder()
    runner._memoize_sentence_encoder(c)
    batches = [["a", "bb", "a"], ["bb", "ccc", "dddd"], ["a", "eeeee", "bb", "a"], ["ccc"] * 2]
    for b in batches:
        np.testing.assert_array_equal(c.encode(b), np.stack(ref.encode(b)))
    # each batch asks the encoder only for what the memo lacks, once each
    assert c.asked[0] == ["a", "bb"] and c.asked[1] == ["ccc", "dddd"]
    assert "bb" not in c.asked[2]  # still held (recently used)...
    assert c.asked[3] == ["ccc"]   # ...while "ccc" was evicted (capacity 3) and is asked again


def test_the_collector_is_paused_for_start_up_and_left_as_it_was():
    import gc

    was = gc.isenabled()
    try:
        for before in (True, False):
            (gc.enable if before else gc.disable)()
            try:
                with runner._collector_paused():
                    assert not gc.isenabled()
                    raise KeyError("a failed build")
            except KeyError:
                pass
            assert gc.isenabled() is before
    finally:
        (gc.enable if was else gc.disable)()
