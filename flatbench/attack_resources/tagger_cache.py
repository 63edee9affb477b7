"""Exact incremental tagging for spaCy's en_core_web_sm tagger (tok2vec + tagger), one word's
tag in a short context: what TextFooler's part-of-speech constraint asks ~2,000 times per 50
examples, for contexts that differ from each other in one word.

Why a per-slot cache is exact (read off the pipeline's thinc model, spaCy 3.8 / thinc 8.3;
``_check_structure`` refuses any other layout):

* ``embed`` (MultiHashEmbed: hash embeddings of NORM, PREFIX, SUFFIX, SHAPE, SPACY, IS_SPACE,
  then maxout + layernorm) is row-wise: a token's row depends on its word only (``Doc(words=...)``
  gives every token a trailing space, as ``SpacyPartOfSpeech`` builds its docs).
* The encoder is 4 residual layers ``x + layernorm(maxout(expand_window(x, 1)))``, run by
  ``with_array(pad=4)``: every doc is flattened between 4 zero rows, and the window reads the
  neighbouring *rows* (pad rows included: they are zero at the input and evolve like any row).
  So layer ``k``'s row at slot ``q`` is a function of the words at slots ``q-k .. q+k``, a slot
  outside the doc counting as an empty word (a zero input row). A token's tag (the tagger's
  ``softmax`` over layer 4's row, argmax) depends on the 9 slots ``p-4 .. p+4``; a doc's pad
  (4 rows) is exactly that reach, so neither the flat array's ends nor another doc enter.

``IncrementalTagger.tags_at`` keys each layer's rows by their slots' words (a tuple, ``None`` for
outside the doc), computes only the rows it has not seen, bottom-up, with the pipeline's own
layers themselves (each residual layer's maxout and layernorm, the embed chain, the tagger's
softmax, run by thinc on the gathered rows), and returns the tagger's label at each asked position. The GEMM of one row does not depend on the
other rows in the call here (checked bit for bit in tests), but to not rest exactness on a BLAS
detail, any tag whose best two scores are closer than ``MARGIN`` is asked of spaCy itself on the
whole context (``counts["spacy"]``). tests/test_tagger_cache.py compares it with the pipeline.
"""

from __future__ import annotations

import numpy as np

from flatbench.attack_resources.rowstore import RowStore

__all__ = ["IncrementalTagger", "MARGIN"]

MARGIN = 1e-3      # logits closer than this (float32 error here is ~1e-6) go to spaCy
_DEPTH = 4         # encoder layers, each reading one row either side
_REACH = _DEPTH    # a tag reads the slots p-4 .. p+4


class StructureError(RuntimeError):
    """The pipeline is not the layout this cache was derived from."""


def _check_structure(t2v, tagger_model) -> None:
    try:
        embed, enc = t2v.layers
        (residuals,) = enc.layers
        layers = residuals.layers
        ok = (enc.attrs.get("pad") == _REACH and len(layers) == _DEPTH
              and all(r.name.startswith("residual(expand_window>>maxout>>layernorm") for r in layers)
              and all(r.layers[0].layers[0].attrs.get("window_size") == 1 for r in layers)
              and tagger_model.name == "tok2vec-listener>>with_array(softmax)"
              and tagger_model.layers[1].layers[0].attrs.get("softmax_normalize") is False)
    except (ValueError, AttributeError, IndexError) as e:
        raise StructureError(f"unexpected tok2vec/tagger layout: {e}") from e
    if not ok:
        raise StructureError("unexpected tok2vec/tagger layout")


def _find(model, name):
    """The first sublayer called `name` (depth-first)."""
    for m in model.walk():
        if m.name == name:
            return m
    raise StructureError(f"no {name} layer")


class _Store:
    """Rows of one layer addressed by key; row 0 is the zero row. The rows are a `RowStore`
    (a mapping of the bound, committed as written: no copies while growing, no huge-page stalls)."""

    def __init__(self, width: int, max_rows: int):
        self.slot: dict = {}
        self.mem = RowStore(width, max_rows)
        self.clear()

    @property
    def rows(self) -> np.ndarray:
        return self.mem.rows

    @property
    def n(self) -> int:
        return self.mem.n

    def clear(self):
        self.slot.clear()
        self.slot[(None,)] = 0  # embed store: an empty slot is the zero input row
        self.mem.reset()

    def add(self, keys: list, rows: np.ndarray) -> None:
        first = self.mem.reserve(len(keys))
        self.mem.rows[first:first + len(keys)] = rows
        for i, k in enumerate(keys, first):
            self.slot[k] = i


class IncrementalTagger:
    """``IncrementalTagger(nlp, max_rows=100_000)``: ``nlp`` is a loaded spaCy pipeline whose
    ``tok2vec`` and ``tagger`` are en_core_web_sm's (checked); ``max_rows`` bounds each layer's
    cached rows (96 float32 each; at the bound a layer is emptied before a call)."""

    def __init__(self, nlp, max_rows: int = 100_000):
        self.nlp = nlp
        t2v = nlp.get_pipe("tok2vec").model
        tagger = nlp.get_pipe("tagger")
        _check_structure(t2v, tagger.model)
        self.embed = t2v.layers[0]
        # each residual layer's ``maxout>>layernorm>>dropout`` (after its expand_window), run by
        # thinc itself on the gathered windows; the tagger's softmax likewise (unnormalised)
        self.layers = [r.layers[0].layers[1] for r in t2v.layers[1].layers[0].layers]
        self.softmax = _find(tagger.model, "softmax")
        self.labels = tuple(tagger.labels)
        self.width = t2v.get_dim("nO")
        self.max_rows = int(max_rows)
        # store 0: embed rows by word; store k: layer k's rows by the 2k+1 slots' words
        self.stores = [_Store(self.width, self.max_rows) for _ in range(_DEPTH + 1)]
        self.tags: dict = {}  # 9-slot key -> label index
        self.counts = {"asked": 0, "computed": 0, "spacy": 0, "rows": 0}

    # -- public -------------------------------------------------------------------------------

    def tags_at(self, queries: list[tuple[tuple[str, ...], int]]) -> list[str]:
        """The tagger's label (PTB tag) of ``words[pos]`` in the doc ``words``, per query."""
        self.counts["asked"] += len(queries)
        keys = [self._key(words, pos) for words, pos in queries]
        todo = list(dict.fromkeys(k for k in keys if k not in self.tags))
        if todo:
            self._compute(todo, dict(zip(keys, queries)))
        return [self.labels[self.tags[k]] for k in keys]

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _key(words, pos):
        n = len(words)
        return tuple(words[s] if 0 <= s < n else None for s in range(pos - _REACH, pos + _REACH + 1))

    def _compute(self, top: list, query_of: dict) -> None:
        if any(s.n > self.max_rows for s in self.stores):
            for s in self.stores:
                s.clear()
            if len(self.tags) > 4 * self.max_rows:
                self.tags.clear()
        # top-down: which rows of which layer are missing (layer k's key has 2k+1 slots; its
        # window reads layer k-1's rows at key[0:2k-1], key[1:2k], key[2:2k+1])
        missing = [None] * (_DEPTH + 1)
        need = top
        for k in range(_DEPTH, 0, -1):
            slot = self.stores[k].slot
            need = list(dict.fromkeys(x for x in need if x not in slot))
            missing[k] = need
            nxt = []
            for x in need:
                nxt.extend((x[:-2], x[1:-1], x[2:]))
            need = nxt
        slot0 = self.stores[0].slot
        words = list(dict.fromkeys(x[0] for x in need if x not in slot0))
        if words:
            self._embed(words)
        for k in range(1, _DEPTH + 1):
            if missing[k]:
                self._layer(k, missing[k])
        rows = self.stores[_DEPTH]
        scores = self.softmax.predict(rows.rows[[rows.slot[x] for x in top]])
        best = scores.argmax(axis=1)
        part = np.partition(scores, -2, axis=1)
        margin = part[:, -1] - part[:, -2]
        self.counts["computed"] += len(top)
        for x, b, m in zip(top, best.tolist(), margin.tolist()):
            self.tags[x] = b if m >= MARGIN else self._spacy(*query_of[x])

    def _embed(self, words: list[str]) -> None:
        from spacy.tokens import Doc

        (E,) = self.embed.predict([Doc(self.nlp.vocab, words=words)])
        self.stores[0].add([(w,) for w in words], E)
        self.counts["rows"] += len(words)

    def _layer(self, k: int, keys: list) -> None:
        """Layer k's rows for `keys`: x + layernorm(maxout(W @ [x[q-1], x[q], x[q+1]] + b))."""
        below = self.stores[k - 1]
        slot = below.slot
        idx = np.array([[slot[x[:-2]], slot[x[1:-1]], slot[x[2:]]] for x in keys], dtype=np.int64)
        X = below.rows[idx]                          # (n, 3, width): seq2col's column order
        out = self.layers[k - 1].predict(X.reshape(len(keys), 3 * self.width))
        out = X[:, 1] + out                          # residual: the row's own input
        self.stores[k].add(keys, out)
        self.counts["rows"] += len(keys)

    def _spacy(self, words: tuple[str, ...], pos: int) -> int:
        from spacy.tokens import Doc

        self.counts["spacy"] += 1
        doc = next(self.nlp.pipe([Doc(self.nlp.vocab, words=list(words))]))
        return self.labels.index(doc[pos].tag_)
