"""TextAttack's greedy word-swap search (`GreedyWordSwapWIR`: TextFooler, PWWS) without its
per-candidate bookkeeping, deciding exactly as stock does.

Stock pays, for every candidate of every step, for objects and look-ups that do not decide
anything: a `GoalFunctionResult`, the model-output LRU keyed by `AttackedText` (hashing and
comparing the text, rebuilt by a join each time), the constraint-verdict and transformation LRUs,
and the history-independent constraints run again on every candidate. Here one example's search
keeps plain arrays (a candidate's text, its score, its predicted class) and:
  * **History-independent constraints once per (sentence, word index).** A constraint that
    compares against the original text and reads only the swapped word and the original's words
    (TextFooler's word-embedding distance and part of speech) decides a substitute the same way
    whatever was swapped before, and whatever the victim model. So the substitutes of word i
    that pass them are computed once, through the stock constraint objects on the original
    text, and kept for the process: every later step, round and stage that reaches word i of
    that sentence starts from them. They must lead the constraint list (as in TextFooler), so
    the constraints after them (the sentence encoder, which compares windows of the current
    text) see exactly stock's candidates, in stock's order, through stock's own `call_many`.
  * **The model-output cache as stock keys it**: `AttackedText.__eq__` compares the text and
    the *number* of attack attributes, so the key here is (text, number of attributes); what is
    not cached goes to the model through stock's own `_call_model_uncached` (its chunks of
    `batch_size`, its softmax check), so every row has stock's float bits.
  * **Stock's arithmetic where it decides.** Scores are `1 - p[label]` in float32, as stock's
    0-d tensors; PWWS's saliency softmax, its `np.max` over a step's scores and the dtype of
    `np.array(delta_ps)` (float64 once an index has no candidate, as stock's Python 0.0 makes
    it), the unstable `argsort` of the negated scores, the stable sort of a step's results and
    the strict ">" of the accept and similarity rules are the same calls on the same values.
  * the query count is stock's: every requested text counts, cached or not, after the budget
    cut; a result's query count is the count after the call that produced it.
Not encoding a short text's windows (see `_passes_short`) leaves the incremental encoder
(usem3_cache) holding other rows than stock's loop would; its windows agree with USE-m3 to ~2e-7
whatever it holds, as its own tests check at the threshold.
Candidates are built by `fastswap` (stock objects, stock attributes). A candidate whose words
split differently from "the current words with the substitute at i" (possible only for a word
not delimited by non-word characters) would break the once-per-index argument: the example is
attacked again by stock TextAttack (`Fallback`); so is any attack this module does not know.
`tests/test_greedy.py` holds every example's status, texts, predictions and query count to
stock `Attack.attack` on real sentences and trained models. FLATBENCH_ATTACK_SEARCH=stock turns
it off.
"""

from __future__ import annotations

import os

import numpy as np

from flatbench.attacks.fastswap import make_word_char, swap_candidates

SEARCHING, SUCCEEDED, SKIPPED = "searching", "succeeded", "skipped"
_SURVIVORS_MAX = 400_000  # (sentence, index) entries kept per attack; cleared whole when full


class Fallback(Exception):
    """This example cannot be decided here exactly as stock would: run stock's search."""


def enabled() -> bool:
    v = os.environ.get("FLATBENCH_ATTACK_SEARCH", "").strip().lower()
    return v not in ("stock", "0", "off", "no", "false")


class _Fixed:
    """A transformation stand-in for fastswap that offers a known list of substitutes."""

    __slots__ = ("subs",)

    def __init__(self, subs):
        self.subs = subs

    def _get_replacement_words(self, word):
        return self.subs


class _R:
    """What stock's GoalFunctionResult holds that the search reads."""

    __slots__ = ("at", "row", "pred", "score", "status", "nq")

    def __init__(self, at, row, pred, score, status, nq):
        self.at, self.row, self.pred, self.score, self.status, self.nq = at, row, pred, score, status, nq


def _static(c) -> bool:
    """A constraint whose verdict on a one-word swap at i depends only on the original text and
    the substitute (never on earlier swaps nor on the model): exactly TextAttack's
    WordEmbeddingDistance or PartOfSpeech, or flatbench's SpacyPartOfSpeech, comparing against the
    original (each reads the reference's words and the swapped word at i, nothing else; a subclass
    could read more, so it is not taken)."""
    import sys

    known = [("textattack.constraints.semantics.word_embedding_distance", "WordEmbeddingDistance"),
             ("textattack.constraints.grammaticality.part_of_speech", "PartOfSpeech"),
             ("flatbench.attack_resources.constraints", "SpacyPartOfSpeech")]
    # only classes already imported: importing TextAttack's part_of_speech costs flair's models (the
    # runner's _loaded does the same; importing it here would make runner -> greedy -> runner)
    classes = [getattr(sys.modules[m], n) for m, n in known if m in sys.modules]
    return bool(c.compare_against_original) and type(c) in classes


class GreedySearch:
    """An exact array-level replacement of `attack.attack(text, label)` for GreedyWordSwapWIR
    attacks; `plan(attack)` returns None for anything else."""

    def __init__(self, attack):
        import textattack.shared.utils.strings as ts

        self.attack = attack
        self.search = attack.search_method
        self.gf = attack.goal_function
        self.transformation = attack.transformation
        cons = list(attack.constraints)
        n_static = 0
        while n_static < len(cons) and _static(cons[n_static]):
            n_static += 1
        self.static, self.dynamic = cons[:n_static], cons[n_static:]
        self.words_from_text = ts.words_from_text  # the runner's memoised exact splitter
        self.word_char = make_word_char(ts.words_from_text.pattern)
        self.survivors: dict[tuple[str, int], list[str]] = {}
        self.fallbacks = 0

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def plan(attack):
        """The GreedySearch bound to `attack` (kept on it across stages), or None."""
        if not enabled():
            return None
        got = getattr(attack, "_flatbench_greedy", None)
        if got is not None:
            return got
        try:
            ok = _supported(attack)
        except ImportError:
            ok = False
        got = GreedySearch(attack) if ok else False
        attack._flatbench_greedy = got
        return got or None

    # -- the goal function, as stock's get_results ------------------------------------------------
    def _results(self, texts: list, check_skip: bool = False):
        gf = self.gf
        if gf.query_budget < float("inf"):
            texts = texts[: int(gf.query_budget - self.nq)]
        self.nq += len(texts)
        gf.num_queries = self.nq
        cache = self.cache
        keys = [(t.text, len(t.attack_attrs)) for t in texts]
        todo, todo_keys = [], []
        for t, k in zip(texts, keys):
            if k not in cache:
                todo.append(t)
                todo_keys.append(k)
        if todo:
            out = gf._call_model_uncached(todo)
            preds = out.argmax(dim=1).tolist()
            scores = (1 - out[:, self.label]).numpy()
            for j, k in enumerate(todo_keys):  # a text asked twice keeps its last row, as stock
                cache[k] = (out[j], preds[j], scores[j])
        res = []
        for t, k in zip(texts, keys):
            row, pred, score = cache[k]
            if check_skip and pred != self.label and gf.allow_skip:
                status = SKIPPED
            else:
                status = SUCCEEDED if pred != self.label else SEARCHING
            res.append(_R(t, row, pred, score, status, self.nq))
        return res, self.nq == gf.query_budget

    # -- transformations and constraints, as stock's get_transformations ---------------------------
    def _swaps(self, current, i: int, subs) -> list:
        cands = swap_candidates(_Fixed(subs), current, [i], self.words_from_text, self.word_char)
        n = len(current.words)
        for t, r in zip(cands, [s for s in subs if s != current.words[i]]):
            t.attack_attrs["last_transformation"] = self.transformation
            if t._words is None:  # split lazily by stock: must be the current words with r at i
                w = t.words
                if len(w) != n or w[i] != r:
                    raise Fallback(f"word {i} -> {r!r} changes the split")
        return cands

    def _replacements(self, word: str) -> list[str]:
        """The transformation's substitutes for `word`, itself excluded (as WordSwap skips it)."""
        return [r for r in self.transformation._get_replacement_words(word) if r != word]

    def _static_survivors(self, original, i: int) -> list[str]:
        key = (original.text, i)
        got = self.survivors.get(key)
        if got is None:
            subs = self._replacements(original.words[i])
            cands = self._swaps(original, i, subs)
            by_id = {id(t): r for t, r in zip(cands, subs)}
            for c in self.static:
                if not cands:
                    break
                keep = _embedding_verdicts(c, original.words[i], [by_id[id(t)] for t in cands],
                                           self.transformation)
                cands = (c.call_many(cands, original) if keep is None else
                         [t for t, k in zip(cands, keep) if k])
            got = [by_id[id(t)] for t in cands]
            if len(self.survivors) >= _SURVIVORS_MAX:
                self.survivors.clear()
            self.survivors[key] = got
        return got

    def _transformations(self, current, original, i: int) -> list:
        # the pre-transformation constraints (repeat, stopwords, ...) on the current text, as stock
        allowed = self.transformation(current, indices_to_modify=[i], return_indices=True,
                                      pre_transformation_constraints=self.attack.pre_transformation_constraints)
        if i not in allowed:
            return []
        if self.static:
            subs = self._static_survivors(original, i)
        else:
            subs = self._replacements(current.words[i])
        cands = self._swaps(current, i, subs)
        for c in self.dynamic:
            if not cands:
                break
            if _passes_short(c, len(current.words)):
                # stock encodes the windows, then overwrites every score with 1 (a one-word swap
                # keeps the word count, so every candidate here is as short as the current text)
                for t in cands:
                    t.attack_attrs["similarity_score"] = 1.0
                continue
            cands = list(c.call_many(cands, original if c.compare_against_original else current))
        cands.sort(key=lambda t: t.text)
        return cands

    # -- the search, as GreedyWordSwapWIR ---------------------------------------------------------
    def _index_order(self, initial):
        import torch

        s = self.search
        indices = self.attack.get_indices_to_order(initial)[1]
        if s.wir_method == "delete":
            texts = [initial.delete_word_at_index(i) for i in indices]
        else:  # "unk", "weighted-saliency"
            texts = [initial.replace_word_at_index(i, s.unk_token) for i in indices]
        res, search_over = self._results(texts)
        scores = np.array([r.score for r in res], dtype=np.float32)
        if s.wir_method == "weighted-saliency":
            soft = torch.softmax(torch.Tensor(scores), dim=0).numpy()
            delta_ps = []
            for idx in indices:
                if search_over:
                    delta_ps = delta_ps + [0.0] * (len(soft) - len(delta_ps))
                    break
                cands = self._transformations(initial, initial, idx)
                if not cands:
                    delta_ps.append(0.0)
                    continue
                swap_res, search_over = self._results(cands)
                change = [r.score for r in swap_res]
                if not change:
                    delta_ps.append(0.0)
                    continue
                delta_ps.append(np.max(change))
            scores = soft * np.array(delta_ps)
        return np.array(indices)[(-scores).argsort()], search_over

    def _search(self, initial_result):
        initial = initial_result.at
        index_order, search_over = self._index_order(initial)
        i, cur = 0, initial_result
        while i < len(index_order) and not search_over:
            cands = self._transformations(cur.at, initial, index_order[i])
            i += 1
            if not cands:
                continue
            results, search_over = self._results(cands)
            results = sorted(results, key=lambda r: -r.score)
            if results[0].score > cur.score:
                cur = results[0]
            else:
                continue
            if cur.status == SUCCEEDED:
                best, max_sim = cur, -float("inf")
                for r in results:
                    if r.status != SUCCEEDED:
                        break
                    sim = r.at.attack_attrs.get("similarity_score")
                    if sim is None:  # stock: KeyError -> the candidate that changed the score most
                        break
                    if sim > max_sim:
                        max_sim, best = sim, r
                return best
        return cur

    # -- one example ------------------------------------------------------------------------------
    def attack_example(self, text: str, label: int):
        """The AttackResult stock's `attack.attack(AttackedText(text), label)` returns."""
        from textattack.shared import AttackedText

        try:
            return self._attack(AttackedText(text), int(label))
        except Fallback:
            self.fallbacks += 1
            return self.attack.attack(AttackedText(text), int(label))

    def _attack(self, example, label: int):
        from textattack.attack_results import (
            FailedAttackResult,
            SkippedAttackResult,
            SuccessfulAttackResult,
        )

        gf = self.gf
        gf.initial_attacked_text, gf.ground_truth_output = example, label
        self.label, self.nq, self.cache = label, 0, {}
        (init,), _ = self._results([example], check_skip=True)
        if init.status == SKIPPED:
            return SkippedAttackResult(self._stock_result(init))
        final = self._search(init)
        # SearchMethod.__call__ sets the final result's count to the total (init's too, if it is init)
        final.nq = self.nq
        if final.status == SUCCEEDED:
            return SuccessfulAttackResult(self._stock_result(init), self._stock_result(final))
        return FailedAttackResult(self._stock_result(init), self._stock_result(final))

    def _stock_result(self, r: _R):
        import torch
        from textattack.goal_function_results import GoalFunctionResultStatus as S

        status = {SEARCHING: S.SEARCHING, SUCCEEDED: S.SUCCEEDED, SKIPPED: S.SKIPPED}[r.status]
        return self.gf._goal_function_result_type()(
            r.at, r.row, self.gf._get_displayed_output(r.row), status, torch.tensor(r.score), r.nq,
            self.label)


def _passes_short(c, n_words: int) -> bool:
    """A sentence-encoder constraint set to skip texts shorter than its window
    (`skip_text_shorter_than_window`, as TextFooler's), on a text of `n_words` words: stock's
    `_check_constraint_many` scores such a text 1 whatever its encoding, so every candidate passes
    (when the threshold is at most 1) with similarity_score 1.0, and encoding it decides nothing."""
    from textattack.constraints import Constraint
    from textattack.constraints.semantics.sentence_encoders import SentenceEncoder

    return (isinstance(c, SentenceEncoder)
            and type(c)._check_constraint_many is SentenceEncoder._check_constraint_many
            and type(c).call_many is Constraint.call_many
            and type(c).check_compatibility is Constraint.check_compatibility  # every swap is scored
            and bool(c.skip_text_shorter_than_window) and bool(c.window_size)
            and n_words < c.window_size and c.threshold <= 1)


_GUARD = 1e-5  # a cosine this close to the bound is recomputed exactly as stock computes it


def _embedding_verdicts(c, word: str, subs: list[str], transformation) -> list[bool] | None:
    """`WordEmbeddingDistance`'s verdicts on swapping `word` for each of `subs`, all at once: the
    cosines of one row against many in one matrix product (float64), and each cosine within
    _GUARD of the bound recomputed by stock's own `get_cos_sim` (a float32 torch
    CosineSimilarity, whose value the product matches to ~1e-7), so every verdict is stock's.
    None where the constraint is not stock's plain cosine bound (then its call_many decides)."""
    from textattack.constraints.semantics import WordEmbeddingDistance
    from textattack.shared import WordEmbedding

    e = getattr(c, "embedding", None)
    if (type(c) is not WordEmbeddingDistance or not isinstance(e, WordEmbedding)
            or type(e).get_cos_sim is not WordEmbedding.get_cos_sim
            or type(e).word2index is not WordEmbedding.word2index
            or not c.min_cos_sim or c.max_mse_dist or not c.check_compatibility(transformation)):
        return None
    if not c.cased:
        word, subs_l = word.lower(), [r.lower() for r in subs]
    else:
        subs_l = subs
    w2i = e._word2index
    a = w2i.get(word)
    if a is None:  # stock: KeyError -> every swap of this word passes or fails alike
        return [bool(c.include_unknown_words)] * len(subs)
    ids = [w2i.get(r) for r in subs_l]
    known = [k for k, b in enumerate(ids) if b is not None]
    out = [bool(c.include_unknown_words)] * len(subs)
    if known:
        m = e.embedding_matrix
        rows = np.asarray(m[[ids[k] for k in known]], dtype=np.float64)
        v = np.asarray(m[a], dtype=np.float64)
        cos = rows @ v / (np.linalg.norm(rows, axis=1) * np.linalg.norm(v))
        for k, x in zip(known, cos.tolist()):
            if abs(x - c.min_cos_sim) <= _GUARD or x != x:
                x = c.get_cos_sim(a, ids[k])
            out[k] = not (x < c.min_cos_sim)
    return out


def _supported(attack) -> bool:
    """Only what this module reproduces exactly: GreedyWordSwapWIR over word swaps, untargeted
    classification with the model-output cache, constraints called through their own call_many."""
    import textattack.shared.utils.strings as ts
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import WordSwap

    s, gf, t = attack.search_method, attack.goal_function, attack.transformation
    return (type(s) is GreedyWordSwapWIR and s.wir_method in ("delete", "unk", "weighted-saliency")
            and getattr(s, "truncate_words_to", None) is None
            and type(gf) is UntargetedClassification and not gf.maximizable and gf.use_cache
            and getattr(gf, "target_max_score", None) is None
            and isinstance(t, WordSwap) and hasattr(t, "_get_replacement_words")
            and type(t)._get_transformations is WordSwap._get_transformations  # stock's candidate loop
            and getattr(ts.words_from_text, "pattern", None) is not None)  # the runner's splitter
