"""flatbench's attack runner: stock TextAttack searches, run faster.

What makes it faster than `textattack.Attacker` (same Attack object, same results):
  * independent worker processes, each on a shard of the examples (TextAttack's own
    `parallel=True` refuses to run without a GPU; forced onto CPU it was 4x slower here);
  * memoised synonym look-ups (WordNet, embedding neighbours) per word — TextAttack asks again
    for every candidate text;
  * memoised sentence encodings (TextFooler/BAE/CLARE's USE or its MiniLM substitute): the stock
    constraint re-encodes the original's window for every candidate; with the offline USE-m3,
    a window is encoded from cached per-token rows where its tokens were seen before;
  * TextAttack's word splitter, memoised and without its per-call overheads (exact copy);
  * attacks built once per process and recipe, workers kept from stage to stage;
  * an eval-mode, truncated, batched model wrapper (see wrapper.py);
  * optionally (FLATBENCH_ATTACK_LOCKSTEP=K), K examples' searches in lockstep, their candidates
    gathered into one model call, with a guard that keeps every decision stock's (lockstep.py).
TextAttack's files are used unmodified: memoisation wraps methods on the instances, and the word
splitter is rebound in this process only.

Progress is appended to a JSONL file per worker as each example finishes, so a crash or
Ctrl-C leaves the already-attacked examples reusable on resume.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import hashlib
import json
import multiprocessing as mp
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

from flatbench.attacks.fastswap import CJK
from flatbench.io import write_text_atomic


# Per-process memo sizes, set to hold what one attack of a whole training set asks for, so the
# next round (and every later cell attacking the same training set in this process) finds it: the
# candidates, their POS contexts and most USE windows do not depend on the model. SST2's 6,920
# training sentences under TextFooler ask ~700k POS contexts and ~480k USE windows (measured on
# 500: 51k and 35k). At most ~1 GB (POS) and ~1.3 GB (512-d float32 windows) per attack process.
_POS_CONTEXTS_MAX = 2**20
_ENCODINGS_MAX = 600_000


def _memoize_sentence_encoder(constraint) -> None:
    import lru

    enc = constraint.encode
    cache = lru.LRU(_ENCODINGS_MAX)  # least recently used out first (exact either way)

    def encode(sentences):
        rows, missing = {}, []
        for s in dict.fromkeys(sentences):  # read the hits before inserting can evict them
            e = cache.get(s)
            if e is None:
                missing.append(s)
            else:
                rows[s] = e
        if missing:
            for s, e in zip(missing, enc(missing)):
                cache[s] = rows[s] = e
        rows = [rows[s] for s in sentences]
        if isinstance(rows[0], torch.Tensor):
            return torch.stack(rows)
        return np.stack(rows)

    constraint.encode = encode


_WORDS_PATCHED = False


def _fast_words_from_text(original):
    """TextAttack's `words_from_text` without its per-call overheads: the same steps (split on
    whitespace, strip ``'-_*@`` at both ends, keep runs of word characters, homoglyphs and
    ``'-_*@``, strip again, drop ignored and empty words), with the pattern compiled once. Text
    with CJK characters goes to the original (jieba). The pattern is rebuilt from the original's
    own constants, so a pinned-version bump that changes them changes this too; the test suite
    checks equality with the original on every text of the four datasets."""
    consts = [c for c in original.__code__.co_consts if isinstance(c, str)]
    homos = next((c for c in consts if c.startswith("\u02d7")), None)  # homoglyphs (start: U+02D7)
    exceptions = "'-_*@"
    if homos is None or exceptions not in consts:  # the original changed: do not guess
        return None
    pattern = re.compile("[\\w" + homos + "'\\-_\\*@]+")
    findall = pattern.findall

    def words_from_text(s, ignore: tuple = ()):
        if CJK.search(s):
            return original(s, list(ignore))
        out = []
        for word in s.split():
            for w in findall(word.strip(exceptions)):
                w = w.strip(exceptions)
                if w and w not in ignore:
                    out.append(w)
        return out

    words_from_text.pattern = pattern  # the splitter's character class, for fastswap
    return words_from_text


def _memoize_words_from_text() -> None:
    """TextAttack splits the same strings into words again and again (~45 times per candidate
    text; 40 % of PWWS's time here), and each new string costs ~70 us (its pattern is rebuilt
    and looked up in `re`'s cache per word). `words_from_text` is a pure function of its
    arguments, so in this process its module-level bindings are replaced by a memoised wrapper
    around an exact, faster copy (`_fast_words_from_text`) that returns a fresh list each call.
    TextAttack's files are not changed."""
    global _WORDS_PATCHED
    if _WORDS_PATCHED:
        return
    import textattack.shared.attacked_text as at
    import textattack.shared.utils as tu
    import textattack.shared.utils.strings as ts

    original = ts.words_from_text
    fast = _fast_words_from_text(original) or (lambda s, ignore=(): original(s, list(ignore)))

    @functools.lru_cache(maxsize=500_000)
    def cached(s, ignore: tuple):
        return tuple(fast(s, ignore))

    def words_from_text(s, words_to_ignore=[]):  # noqa: B006 (same signature as TextAttack's)
        return list(cached(s, tuple(words_to_ignore)))

    words_from_text.__wrapped_original__ = original
    words_from_text.pattern = getattr(fast, "pattern", None)
    for mod in (ts, tu, at):
        mod.words_from_text = words_from_text
    _WORDS_PATCHED = True


_WINDOW_PATCHED = False


def _memoize_text_window() -> None:
    """The sentence-encoder constraint asks `AttackedText.text_window_around_index` for two
    windows per candidate (the current text's is the same for every candidate of a step), and
    each call searches the lowercased text word by word from its start (~15 us). The window is a
    pure function of the text (the words are the text's split, however the object got them), the
    index and the size, so in this process the method is memoised on those. TextAttack's files
    are not changed."""
    global _WINDOW_PATCHED
    if _WINDOW_PATCHED:
        return
    from textattack.shared import AttackedText

    original = AttackedText.text_window_around_index

    def text_window_around_index(self, index: int, window_size: int) -> str:
        key = self.text
        hit = _WINDOWS.get((key, index, window_size))
        if hit is None:
            hit = original(self, index, window_size)
            if len(_WINDOWS) >= _WINDOWS_MAX:
                _WINDOWS.clear()
            _WINDOWS[(key, index, window_size)] = hit
        return hit

    text_window_around_index.__wrapped__ = original
    AttackedText.text_window_around_index = text_window_around_index
    _WINDOW_PATCHED = True


_WINDOWS: dict = {}
_WINDOWS_MAX = 300_000


def _swap_candidates_fast(t, word_swap_cls) -> bool:
    """Build a stock WordSwap's one-word candidates directly (flatbench.attacks.fastswap); only
    for transformations that keep WordSwap's own candidate loop."""
    import textattack.shared.utils.strings as ts

    from flatbench.attacks.fastswap import make_word_char, swap_candidates

    pattern = getattr(ts.words_from_text, "pattern", None)
    if (pattern is None or not isinstance(t, word_swap_cls)
            or type(t)._get_transformations is not word_swap_cls._get_transformations):
        return False
    wft, word_char = ts.words_from_text, make_word_char(pattern)
    t._get_transformations = lambda current_text, indices_to_modify: swap_candidates(
        t, current_text, indices_to_modify, wft, word_char)
    return True


@functools.lru_cache(maxsize=1)
def _incremental_usem3(model):
    """One per process: its caches serve every stage (candidate windows differ by a word, and a
    USE-m3 token's features depend only on the 4 tokens either side of it; see usem3_cache)."""
    from flatbench.attack_resources.usem3_cache import CachedUSEm3

    return CachedUSEm3(model, max_rows=4_000, max_h_rows=4_000, max_tokens=4_000, max_texts=4_000)


@functools.lru_cache(maxsize=1)
def _incremental_tagger():
    """One per process, its rows shared by every stage (a tag reads only the 4 words either side;
    see tagger_cache). None where the pipeline is not the layout it was derived for."""
    from flatbench.attack_resources.constraints import spacy_tagger
    from flatbench.attack_resources.tagger_cache import IncrementalTagger, StructureError

    try:
        return IncrementalTagger(spacy_tagger())
    except StructureError:
        return None


def _loaded(module: str, name: str):
    m = sys.modules.get(module)
    return None if m is None else getattr(m, name)


def accelerate(attack) -> list[str]:
    """Exact fast paths on an Attack's components (memoised pure look-ups, direct one-word swap
    candidates, the incremental USE-m3); returns what was done."""
    import lru
    from textattack.transformations import WordSwap

    from flatbench.attack_resources.wordnet_synonyms import fast_replacement_words

    # An instance's class is imported already; importing a class only to test for it would
    # cost PWWS flair's models (TextAttack's part_of_speech module imports them).
    pos_classes = tuple(c for c in (
        _loaded("textattack.constraints.grammaticality.part_of_speech", "PartOfSpeech"),
        _loaded("flatbench.attack_resources.constraints", "SpacyPartOfSpeech")) if c is not None)
    SentenceEncoder = _loaded("textattack.constraints.semantics.sentence_encoders.sentence_encoder",
                              "SentenceEncoder")

    _memoize_words_from_text()
    done = ["textattack.shared.utils.words_from_text"]
    parts = [attack.transformation] + list(getattr(attack.transformation, "transformations", []))
    for t in parts:
        if _swap_candidates_fast(t, WordSwap):
            done.append(f"{type(t).__name__}._get_transformations: one-word swaps built directly (fastswap)")
        if hasattr(t, "_get_replacement_words"):
            fast = fast_replacement_words(t)
            t._get_replacement_words = functools.lru_cache(maxsize=200_000)(fast or t._get_replacement_words)
            done.append(f"{type(t).__name__}._get_replacement_words"
                        + (": lemma names read directly (attack_resources.wordnet_synonyms)" if fast else ""))
    for c in list(attack.constraints) + list(attack.pre_transformation_constraints):
        if pos_classes and isinstance(c, pos_classes):
            # A context's tags do not depend on the example or the model: keep them for the
            # whole process instead of dropping them after every example (TextAttack's clear).
            c._pos_tag_cache = lru.LRU(_POS_CONTEXTS_MAX)
            c.clear_cache = lambda: None
            done.append(f"{type(c).__name__}: tags kept across examples and stages")
            tagger = _incremental_tagger() if type(c).__name__ == "SpacyPartOfSpeech" else None
            if tagger is not None:
                c._incremental = tagger
                done.append("SpacyPartOfSpeech: a word's tag from cached per-slot rows "
                            "(flatbench.attack_resources.tagger_cache)")
        if type(c).__name__ == "USEm3Encoder":  # flatbench.attack_resources.constraints, offline USE
            c.encode = _incremental_usem3(c.model).encode
            done.append("USEm3Encoder.encode: per-token rows cached (flatbench.attack_resources.usem3_cache)")
        if SentenceEncoder is not None and isinstance(c, SentenceEncoder):
            _memoize_sentence_encoder(c)
            done.append(f"{type(c).__name__}.encode")
            if getattr(c, "window_size", None):
                _memoize_text_window()
                done.append("AttackedText.text_window_around_index")
    return done


def result_record(result, idx: int, label: int) -> dict:
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    orig = result.original_result.attacked_text
    adv = result.perturbed_result.attacked_text
    status = ("succeeded" if isinstance(result, SuccessfulAttackResult) else
              "skipped" if isinstance(result, SkippedAttackResult) else
              "failed" if isinstance(result, FailedAttackResult) else "failed")
    changed = sorted(orig.all_words_diff(adv)) if status == "succeeded" else []
    replaced = [[i, orig.words[i], adv.words[i]] for i in changed]
    return {"idx": idx, "original": orig.text, "adversarial": adv.text, "label": int(label),
            "orig_pred": int(result.original_result.output), "adv_pred": int(result.perturbed_result.output),
            "status": status, "queries": int(result.perturbed_result.num_queries),
            "replaced": replaced, "perturbed_pct": 100.0 * len(changed) / max(1, len(orig.words))}


def example_seed(seed: int, idx: int) -> int:
    """The seed of one example's attack: a function of the stage seed and the example's index
    only, so stochastic searches (Gene, IGA, PSO) give the same record whatever the number of
    workers or the order in which examples are attacked (TextAttack's Attacker seeds once per
    run, which would tie results to the sharding)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{idx}".encode()).digest()[:4], "little")


def _seed_everything(s: int) -> None:
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def _attack_shard(model_dir: str, recipe: str, items: list, out_path: str, budget, accel: bool,
                  threads: int, progress: bool, options: dict | None = None, seed: int = 0) -> dict:
    """Worker: attack `items` [(idx, text, label)], appending a record per example to out_path."""
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _attack_items(model_dir, recipe, items, out_path, budget, accel, progress, options, seed)
    finally:
        torch.set_num_threads(prev_threads)  # in-process (1 worker): leave the caller's setting


# Attacks built in this process, kept across stages: the recipe's components and their memoised
# look-ups (synonyms, sentence encodings, word splits) do not depend on the victim model, so a
# later stage of the same recipe only swaps the model in. Key: all that decides the build.
_ATTACKS: dict[tuple, tuple] = {}


def _attack_for(recipe, wrapper, options, budget, accel):
    """(attack, deviations, memoised) for `recipe` against `wrapper`'s model, reusing this
    process's earlier build of the same recipe, options and budget. The goal function's model
    outputs are the one model-dependent cache; they are cleared here (and TextAttack clears them
    after every example too)."""
    from flatbench.attacks.recipes import build_attack

    key = (recipe, json.dumps(options or {}, sort_keys=True), budget, accel, _environment())
    hit = _ATTACKS.get(key) if accel else None
    if hit is None:
        attack, deviations = build_attack(recipe, wrapper, options=options,
                                          **({"query_budget": int(budget)} if budget else {}))
        hit = (attack, deviations, accelerate(attack) if accel else [])
        if accel:
            _ATTACKS[key] = hit
            # What is alive now (modules, resources, the built attack) lives as long as the
            # process: out of the cyclic collector's sight, a full collection in the attack loop
            # does not walk it again (~0.3 s per collection of ~0.6 M objects; the eager import of
            # all TextAttack used to trigger one before the loop, flatbench.lazy_packages does not).
            gc.freeze()
    attack = hit[0]
    attack.goal_function.model = wrapper
    attack.clear_cache()
    return hit


@contextlib.contextmanager
def _collector_paused():
    """The cyclic collector off while an attack's start-up runs, as it was after. Start-up makes
    ~0.25-0.5 M objects that live as long as the process (modules, WordNet's index, the
    tokenizers' tables), and each of the collections their allocation sets off walks all made so
    far: 0.43 s of PWWS's 1.29 s start-up beyond torch (interleaved medians of 3, 50-example CNN
    runs). What is built is then frozen (`_attack_for`); the garbage cycles start-up leaves are a
    few hundred objects (216 PWWS, 66 TextFooler), frozen with it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _attack_items(model_dir, recipe, items, out_path, budget, accel, progress, options, seed) -> dict:
    from flatbench.attack_resources.catalog import ensure_nltk_env

    with _collector_paused():
        ensure_nltk_env()
        import logging

        import textattack
        from tqdm.auto import tqdm

        # TextAttack warns for every non-HF model that it cannot check goal-function compatibility.
        logging.getLogger("textattack.shared.utils.install").setLevel(logging.ERROR)

        from flatbench.attacks.wrapper import BundleWrapper
        from flatbench.models.bundle import ModelBundle

        bundle = ModelBundle.load(model_dir, "cuda" if torch.cuda.is_available() else "cpu")
        wrapper = BundleWrapper(bundle)
        attack, deviations, memo = _attack_for(recipe, wrapper, options, budget, accel)
    # Kept beside the partial records, so a resumed run still knows how its attack deviated.
    meta = Path(out_path).with_name("deviations.json")
    if _read_deviations(meta) is None:  # missing, or empty/corrupt (cut by a kill): (re)write it
        write_text_atomic(meta, json.dumps(deviations))
    from flatbench.attacks.greedy import GreedySearch
    from flatbench.attacks.lockstep import attack_lockstep, lockstep_inflight

    inflight = min(lockstep_inflight(), len(items))
    t0 = time.perf_counter()
    lockstep, greedy = {}, None
    with open(out_path, "a", encoding="utf-8") as f:
        def write(record):
            f.write(json.dumps(record) + "\n")
            f.flush()

        if inflight > 1:  # many examples' searches in lockstep, one model call for all (lockstep.py)
            with tqdm(total=len(items), desc=f"attack {recipe}", disable=None if progress else True,
                      leave=False) as bar:
                lockstep = attack_lockstep(attack, wrapper, items, seed, inflight, write, bar,
                                           result_record=result_record, example_seed=example_seed,
                                           seed_everything=_seed_everything)
        else:
            # Greedy word-swap recipes (TextFooler, PWWS): stock's decisions without its
            # per-candidate bookkeeping (flatbench.attacks.greedy); anything else: stock's search.
            greedy = GreedySearch.plan(attack) if accel else None
            one = greedy.attack_example if greedy else (
                lambda text, label: attack.attack(textattack.shared.AttackedText(text), label))
            for idx, text, label in tqdm(items, desc=f"attack {recipe}", disable=None if progress else True,
                                         leave=False):
                _seed_everything(example_seed(seed, idx))
                write(result_record(one(text, int(label)), idx, label))
    return {"seconds": time.perf_counter() - t0, "forward_seconds": wrapper.forward_seconds,
            "model_calls": wrapper.calls, "model_texts": wrapper.texts, "deviations": deviations,
            "memoised": memo, "lockstep": lockstep,
            "search": "greedy" if greedy else "stock",  # flatbench.attacks.greedy, or stock's loop
            "stock_fallbacks": greedy.fallbacks if greedy else 0}


def _read_deviations(path: Path) -> list[str] | None:
    """The partial deviations.json, or None when it is missing, empty or corrupt."""
    try:
        v = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return [str(x) for x in v] if isinstance(v, list) else None


def _read(path: Path) -> dict[int, dict]:
    out = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                r = json.loads(line)
                out[int(r["idx"])] = r
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):  # a line cut by a kill: redo it
                continue
    return out


_POOLS: dict[tuple, object] = {}


# Environment variables that decide which resources an attack loads and how it runs (flatbench's
# own, the hub and offline switches, caches, threads). Imports set others (TextAttack sets
# TOKENIZERS_PARALLELISM, WANDB_SILENT, ...), which must not count as a change.
_ENV_PREFIXES = ("FLATBENCH_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TA_", "NLTK_", "TFHUB_",
                 "OMP_", "MKL_")


def _environment() -> tuple:
    """The part of the environment resources, offline switches and threads are read from: a
    built attack or a standing worker is reused only while it is unchanged."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)))


def _pool(n: int):
    """A spawn pool of n attack workers that lives as long as this process (closed at exit) and
    its environment. Its workers keep their imports, resources and built attacks from stage to
    stage."""
    key = (n, _environment())
    p = _POOLS.get(key)
    if p is None:
        if any(k[1] != key[1] for k in _POOLS):  # spawned with another environment
            _close_pools()
        p = _POOLS[key] = mp.get_context("spawn").Pool(n)
    return p


def _close_pools() -> None:
    while _POOLS:
        _, p = _POOLS.popitem()
        p.terminate()
        p.join()


atexit.register(_close_pools)  # nothing to do when no pool was started


def run_attack(model_dir, recipe: str, items: list, partial_dir: Path, workers: int = 1,
               budget=None, accel: bool = True, progress: bool = True, options: dict | None = None,
               seed: int = 0, threads: int | None = None) -> tuple[list[dict], dict]:
    """Attack every (idx, text, label) in `items`, resuming from `partial_dir`.

    ``threads``: torch threads per worker (default: the cores shared among the workers);
    ``options``: attack options (recipes._common.OPTIONS); ``seed``: the stage seed that, with
    each example's index, seeds that example's attack (see `example_seed`).

    Returns (records in item order, stats)."""
    partial_dir = Path(partial_dir)
    done: dict[int, dict] = {}
    for p in sorted(partial_dir.glob("records.*.jsonl")):
        done.update(_read(p))
    todo = [it for it in items if it[0] not in done]
    if not todo and items and _read_deviations(partial_dir / "deviations.json") is None:
        todo = items[-1:]  # every record resumed but deviations.json lost: one example rebuilds it
    workers = max(1, min(workers, len(todo)))
    stats = {"resumed": len(items) - len(todo), "workers": workers, "seconds": 0.0, "forward_seconds": 0.0,
             "model_calls": 0, "model_texts": 0, "deviations": [], "memoised": [], "lockstep": {},
             "search": None, "stock_fallbacks": 0}
    if todo:
        from flatbench.attack_resources.catalog import ensure_nltk_env

        ensure_nltk_env()  # sets NLTK_DATA: before a standing pool is keyed by the environment
        run_id = f"{os.getpid()}-{time.time_ns()}"
        shards = [todo[i::workers] for i in range(workers)]
        paths = [str(partial_dir / f"records.{run_id}-{i}.jsonl") for i in range(workers)]
        threads = threads or max(1, (os.cpu_count() or 1) // workers)
        args = [(str(model_dir), recipe, s, p, budget, accel, threads, progress and i == 0, options, seed)
                for i, (s, p) in enumerate(zip(shards, paths))]
        if workers == 1:
            outs = [_attack_shard(*args[0])]
        else:
            # Shards 1.. go to this process's standing worker pool (started once, kept for later
            # stages, so each stage does not pay the workers' imports and resource loads again);
            # shard 0 runs here meanwhile.
            pending = _pool(workers - 1).starmap_async(_attack_shard, args[1:])
            try:
                first = _attack_shard(*args[0])
                outs = [first] + pending.get()
            except BaseException:
                _close_pools()  # an interrupted pool may still be writing; never reuse it
                raise
        for o in outs:
            for k in ("forward_seconds", "model_calls", "model_texts"):
                stats[k] += o[k]
            stats["seconds"] = max(stats["seconds"], o["seconds"])
            stats["deviations"] = sorted(set(stats["deviations"]) | set(o["deviations"]))
            stats["memoised"] = o["memoised"]
            stats["search"] = o["search"]
            stats["stock_fallbacks"] += o["stock_fallbacks"]
            for k, v in o.get("lockstep", {}).items():
                stats["lockstep"][k] = max(stats["lockstep"].get(k, 0), v) if k == "max_inflight" else \
                    stats["lockstep"].get(k, 0) + v
        for p in paths:
            done.update(_read(Path(p)))
    saved = _read_deviations(partial_dir / "deviations.json")
    if saved is not None:
        stats["deviations"] = sorted(set(stats["deviations"]) | set(saved))
    return [done[it[0]] for it in items], stats


def summarize(records: list[dict]) -> dict:
    """TextAttack's summary numbers; after-attack accuracy as Jin et al. (2020) and the paper."""
    n = len(records)
    st = [r["status"] for r in records]
    succ, fail, skip = st.count("succeeded"), st.count("failed"), st.count("skipped")
    pert = [r["perturbed_pct"] for r in records if r["status"] == "succeeded"]
    q = [r["queries"] for r in records if r["status"] != "skipped"]
    return {"n": n, "succeeded": succ, "failed": fail, "skipped": skip,
            "clean_acc": (n - skip) / n if n else float("nan"),
            "after_attack_acc": fail / n if n else float("nan"),
            "success_rate": succ / (succ + fail) if succ + fail else float("nan"),
            "perturbed_pct": float(np.mean(pert)) if pert else 0.0,
            "avg_queries": float(np.mean(q)) if q else 0.0}
