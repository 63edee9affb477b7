"""LIME (Ribeiro et al. 2016) explanations whose features are positions of the model's words.

Settings (named, recorded by the interpret stage):
- the explained text is the model's words (`tokenizer.align`) re-joined with single spaces and
  split on spaces (`split_expression=" "`), `bow=False`: feature i is word position i, so two
  occurrences of a word are two features, exactly as IG's per-word attributions.
- a removed word is replaced by LIME's mask string ("UNKWORDZ", LIME's default for bow=False;
  an unknown word, i.e. <unk>, for the word-level models), which keeps positions and the text
  length; `mask="delete"` removes it instead (mask_string="").
- classifier_fn = softmax of `bundle.logits` (eval mode); the explained label is given.
- num_samples (default 1000), LIME's default kernel (width 25) and cosine distance,
  feature_selection="none": one ridge fit on all features, so every word gets a weight.
- random_state: an integer seed (the stage derives it from the cell seed and the pair).

Two implementations give the same numbers, bit for bit (`tests/test_interpret_batched.py`):
- `lime_explain`, the reference: LIME's own `explain_instance`, one text at a time, its
  classifier_fn `bundle.logits` on the text's samples (batches of `batch_size` rows).
- `lime_explain_many`, what the stage runs: many texts at once.
  - Sampling: LIME's draws from the same seeded RandomState in the same order (`randint` of the
    sizes, then per sample `choice(range(d), size, replace=False)`, which is
    `permutation(d)[:size]`), without building the sample strings where they are not needed.
  - Rows: for the word models (a `WordTokenizer` whose every word, and the mask string, is one
    token; checked per text against the tokenizer) a sample's ids are the text's word ids with the
    removed positions set to the mask's id (or dropped for `mask="delete"`): the tensor
    `tokenizer.batch` would give, without tokenising 1,000 strings per text. Otherwise (subword
    tokenizers, a method's inference such as SAFER) the sample strings go through `bundle.logits`
    exactly as the reference's classifier_fn does.
  - Forward: each text's rows keep the reference's batches (rows s..s+batch_size-1 of the text, the
    same padded width). Batches whose rows all have the same length (no padding: every word-model
    batch under mask="unk"), of at least MIN_MERGE rows, may be stacked with other texts' batches
    of that width into calls of up to `rows_per_call` rows (default: one batch per call, the
    fastest on CPU), each batch starting at a multiple of ALIGN_ROWS rows (filler rows after a
    short batch), so every row keeps its index modulo ALIGN_ROWS, hence its memory alignment, in
    a batch of at least MIN_MERGE rows. That matters: on CPU a row's logits can depend on its
    memory alignment (measured: moving every row by one row changes the bits of the table3_cpu
    TREC CNN, in its linear layer over rows of 450 floats, and of the tests' tiny CNNs and LSTMs)
    and on batches of a few rows (other kernels), though not otherwise on the batch size; the
    LSTM's packing needs rows of one length to keep its per-step batch sizes. Other batches run
    alone, as in the reference (benchmarks/README.md, "Interpret stage").
  - Then LIME's own distance (cosine on the binary rows, x100) and `LimeBase` ridge fit.
  Needs the `lime` release whose internals it follows (LIME_VERSIONS); with another one it falls
  back to the reference, one text at a time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

MASKS = ("unk", "delete")
# lime releases whose sampling (LimeTextExplainer.__data_labels_distances) and fit
# (LimeBase.explain_instance_with_data) `lime_explain_many` follows; others use the reference path
LIME_VERSIONS = ("0.2.0.1",)
# batches with fewer rows run alone (small batches may take other kernels than large ones)
MIN_MERGE = 16
# in a merged call, batches start at multiples of this many rows: a row's memory alignment (up to
# 64 bytes for rows of 4-byte floats) is then the one it has in its own batch
ALIGN_ROWS = 16


@dataclass
class LimeResult:
    words: list[str]
    weights: np.ndarray  # (n_words,) LIME weight of each word position toward `label`
    label: int
    intercept: float
    score: float  # R^2 of the local linear model
    resplit_ok: bool  # re-tokenising the space-joined words gave back the same words


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def lime_explain(bundle, text: str, label: int, num_samples: int = 1000, seed: int = 0,
                 class_names: list[str] | None = None, mask: str = "unk",
                 batch_size: int = 256) -> LimeResult:
    """LIME weights of each model word of `text` toward `label` (the reference implementation)."""
    _check_mask(mask)
    words, joined, resplit_ok = _words(bundle, text)
    explainer = _explainer(bundle, class_names, mask, seed)

    def classifier_fn(batch):
        return softmax(bundle.logits(list(batch), batch_size).astype(np.float64))

    exp = explainer.explain_instance(joined, classifier_fn, labels=(int(label),),
                                     num_features=len(words), num_samples=int(num_samples))
    return _result(words, exp.local_exp[int(label)], label, exp.intercept[int(label)],
                   exp.score[int(label)] if isinstance(exp.score, dict) else exp.score, resplit_ok)


def _check_mask(mask: str) -> None:
    if mask not in MASKS:
        from flatbench.errors import UnknownNameError

        raise UnknownNameError("LIME mask", mask, MASKS)


def _words(bundle, text: str) -> tuple[list[str], str, bool]:
    """(the model's words, them joined with spaces, re-tokenising the join gives them back)."""
    words = list(bundle.tokenizer.align(text)[0])
    joined = " ".join(words)
    return words, joined, list(bundle.tokenizer.align(joined)[0]) == words


def _explainer(bundle, class_names, mask: str, seed: int):
    from lime.lime_text import LimeTextExplainer

    n_classes = int(bundle.config.get("n_classes") or len(class_names or []) or 2)
    return LimeTextExplainer(
        class_names=class_names or [str(i) for i in range(n_classes)], split_expression=" ",
        bow=False, mask_string=None if mask == "unk" else "", feature_selection="none",
        random_state=int(seed) % (2**32))


def _result(words, local_exp, label, intercept, score, resplit_ok) -> LimeResult:
    weights = np.zeros(len(words), dtype=np.float64)
    for f, w in local_exp:
        weights[int(f)] = float(w)
    return LimeResult(words, weights, int(label), float(intercept), float(score), resplit_ok)


def _lime_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("lime")
    except Exception:
        return None


def _sample(explainer, indexed, num_samples: int) -> np.ndarray:
    """LIME's neighbourhood of one text as binary rows (first the text itself, 0 = removed), drawn
    as `LimeTextExplainer.__data_labels_distances` draws it: the sizes, then per sample
    `choice(range(d), size, replace=False)`, which is `permutation(d)[:size]`, i.e. a shuffle of
    arange(d) (the same draws from the same RandomState)."""
    rs = explainer.random_state
    doc_size = indexed.num_words()
    sizes = rs.randint(1, doc_size + 1, num_samples - 1)
    perm = np.empty((len(sizes), doc_size), dtype=np.int64)
    perm[:] = np.arange(doc_size)
    for row in perm:
        rs.shuffle(row)
    data = np.ones((num_samples, doc_size))
    first = np.arange(doc_size) < sizes[:, None]  # the first `size` entries of each permutation
    data[1 + np.repeat(np.arange(len(sizes)), sizes), perm[first]] = 0
    return data


def _distances(data: np.ndarray) -> np.ndarray:
    """LIME's distance_fn: cosine distance of each row to the first, times 100."""
    import scipy as sp
    import sklearn.metrics

    x = sp.sparse.csr_matrix(data)
    return sklearn.metrics.pairwise.pairwise_distances(x, x[0], metric="cosine").ravel() * 100


def _word_ids(bundle, words: list[str], joined: str, indexed, mask: str):
    """(ids of the words, id of the mask string or None for "delete") when a sample's row is the
    words' ids with removed positions masked/dropped, i.e. a `WordTokenizer` that makes exactly one
    token of every word and of the mask string, and whose own rows of the text and of the fully
    removed text agree; None otherwise (the sample strings are tokenised instead)."""
    from flatbench.data.text import Vocab, tokenize
    from flatbench.models.bundle import WordTokenizer

    tok = bundle.tokenizer
    if type(tok) is not WordTokenizer or type(tok.vocab) is not Vocab or not words:
        return None
    if len(words) > tok.max_len or indexed.num_words() != len(words):
        return None
    stoi = tok.vocab.stoi
    ids = []
    for w in words:
        t = tokenize(w)
        if len(t) != 1:
            return None
        ids.append(stoi.get(t[0], 1))
    ids = np.asarray(ids, dtype=np.int64)
    mask_id = None
    if mask == "unk":
        t = tokenize(indexed.mask_string)
        if len(t) != 1:
            return None
        mask_id = stoi.get(t[0], 1)
    # the tokenizer is local to space-separated chunks; check the two extreme samples anyway
    everything = indexed.inverse_removing(list(range(len(words))))
    for text, row in ((joined, ids), (everything, _row(ids, np.zeros(len(words), bool), mask_id))):
        if not np.array_equal(tok.batch([text])[0].numpy(), row):
            return None
    return ids, mask_id


def _row(ids: np.ndarray, keep: np.ndarray, mask_id) -> np.ndarray:
    """One sample's row (unpadded): kept words' ids, removed ones masked or dropped; an empty
    row is one unknown token, as `Vocab.encode` makes it."""
    if mask_id is not None:
        return np.where(keep, ids, mask_id)
    row = ids[keep]
    return row if len(row) else np.ones(1, dtype=np.int64)


def lime_explain_many(bundle, texts: list[str], labels: list[int], seeds: list[int], num_samples: int = 1000,
                      class_names: list[str] | None = None, mask: str = "unk", batch_size: int = 256,
                      rows_per_call: int | None = None, block_texts: int = 64, progress=None) -> list[LimeResult]:
    """`lime_explain(bundle, texts[i], labels[i], num_samples, seeds[i], ...)` for every i, the same
    numbers bit for bit, with the samples of many texts in shared forward calls (module docstring).
    `block_texts` texts are sampled and run together; `rows_per_call` (default `batch_size`) bounds
    a forward call; `progress(n_texts_done)` is called after each block."""
    _check_mask(mask)
    if not (len(texts) == len(labels) == len(seeds)):
        raise ValueError(f"{len(texts)} texts, {len(labels)} labels, {len(seeds)} seeds")
    if _lime_version() not in LIME_VERSIONS:
        out = []
        for i, (t, y, s) in enumerate(zip(texts, labels, seeds)):
            out.append(lime_explain(bundle, t, y, num_samples, s, class_names, mask, batch_size))
            if progress:
                progress(i + 1)
        return out
    results: list[LimeResult] = []
    for b0 in range(0, len(texts), max(1, int(block_texts))):
        sl = slice(b0, b0 + max(1, int(block_texts)))
        results += _explain_block(bundle, texts[sl], labels[sl], seeds[sl], int(num_samples), class_names, mask,
                                  int(batch_size), int(rows_per_call or batch_size))
        if progress:
            progress(len(results))
    return results


def _explain_block(bundle, texts, labels, seeds, num_samples, class_names, mask, batch_size, rows_per_call):
    from lime.lime_text import IndexedString

    jobs = []
    for text, label, seed in zip(texts, labels, seeds):
        words, joined, resplit_ok = _words(bundle, text)
        explainer = _explainer(bundle, class_names, mask, seed)
        assert not explainer.char_level
        indexed = IndexedString(joined, bow=explainer.bow, split_expression=explainer.split_expression,
                                mask_string=explainer.mask_string)
        data = _sample(explainer, indexed, num_samples)
        jobs.append({"words": words, "resplit_ok": resplit_ok, "label": int(label), "explainer": explainer,
                     "indexed": indexed, "data": data, "joined": joined,
                     "logits": np.zeros((num_samples, 0), np.float32)})
    fast = getattr(bundle, "inference", None) is None
    # (job, first row, rows (n, width) int64, all rows unpadded) of every reference batch
    batches = []
    for j, job in enumerate(jobs):
        wid = _word_ids(bundle, job["words"], job["joined"], job["indexed"], mask) if fast else None
        if wid is None:
            # the reference's classifier_fn, on the same strings
            strings = [job["indexed"].raw_string()] + [job["indexed"].inverse_removing(np.flatnonzero(row == 0))
                                                       for row in job["data"][1:]]
            job["logits"] = bundle.logits(strings, batch_size)
            continue
        ids, mask_id = wid
        keep = job["data"].astype(bool)
        for s in range(0, num_samples, batch_size):
            if mask_id is not None:  # every row is the text's length
                batches.append((j, s, np.where(keep[s : s + batch_size], ids, mask_id), True))
                continue
            rows = [_row(ids, k, mask_id) for k in keep[s : s + batch_size]]
            lens = [len(r) for r in rows]
            width = max(lens)
            arr = np.zeros((len(rows), width), dtype=np.int64)
            for r, row in enumerate(rows):
                arr[r, : len(row)] = row
            batches.append((j, s, arr, min(lens) == width))
    if batches:
        for j in {b[0] for b in batches}:
            jobs[j]["logits"] = None
        out = _forward(bundle, batches, batch_size, rows_per_call)
        for j, job in enumerate(jobs):
            if job["logits"] is None:
                job["logits"] = np.concatenate([out[k] for k, b in enumerate(batches) if b[0] == j])
    results = []
    for job in jobs:
        yss = softmax(job["logits"].astype(np.float64))
        label = job["label"]
        intercept, local_exp, score, _ = job["explainer"].base.explain_instance_with_data(
            job["data"], yss, _distances(job["data"]), label, len(job["words"]), model_regressor=None,
            feature_selection=job["explainer"].feature_selection)
        results.append(_result(job["words"], local_exp, label, intercept, score, job["resplit_ok"]))
    return results


def _forward(bundle, batches, batch_size: int, rows_per_call: int) -> list[np.ndarray]:
    """Float32 logits of every batch's rows, as `bundle.logits` computes them batch by batch; merged
    calls as in the module docstring."""
    import torch

    model, dev = bundle.model, bundle.device
    autocast = getattr(bundle, "autocast", contextlib.nullcontext)
    out: list[np.ndarray | None] = [None] * len(batches)
    slot = -(-batch_size // ALIGN_ROWS) * ALIGN_ROWS  # rows per batch in a call
    slots = max(1, int(rows_per_call) // slot)
    calls, by_width = [], {}
    for k, (_, _, arr, uniform) in enumerate(batches):
        if uniform and len(arr) >= MIN_MERGE and slots > 1:
            by_width.setdefault(arr.shape[1], []).append(k)
        else:
            calls.append([k])
    for ks in by_width.values():
        calls += [ks[i : i + slots] for i in range(0, len(ks), slots)]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for ks in calls:
                parts = []
                for n, k in enumerate(ks):
                    arr = batches[k][2]
                    parts.append(arr)
                    if n < len(ks) - 1 and len(arr) < slot:  # the next batch starts at a multiple of slot
                        parts.append(np.repeat(arr[:1], slot - len(arr), axis=0))
                ids = torch.from_numpy(np.concatenate(parts) if len(parts) > 1 else parts[0]).to(dev)
                with autocast():
                    logits = model(ids).float().cpu().numpy()
                for n, k in enumerate(ks):
                    out[k] = logits[n * slot : n * slot + len(batches[k][2])]
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]
