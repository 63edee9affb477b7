"""Lockstep search across examples: many examples' stock TextAttack searches advance together,
and every example's pending candidates go to the model in one call of hundreds of texts.

How: each in-flight example runs the unmodified `Attack.attack(example, label)` in its own
greenlet (a cooperative task: only one runs at a time, and it runs until it asks the model for
something). Its goal function calls a per-task model (`_TaskModel`) that hands the texts to the
scheduler and switches back to it. When every in-flight example is waiting on the model or has
finished, the scheduler runs one forward over all pending texts (de-duplicated), hands each task
its rows in the order the tasks asked, starts new examples in the freed slots, and repeats.

Why each example keeps exactly its own sequence of decisions:
  * each task attacks through its own shallow copy of the Attack (`task_attack`): its own goal
    function (the per-example state: original text, label, query count, model-output cache), its
    own transformation and constraint caches (stock clears them after every example), and a
    search method bound to those. The heavy read-only parts (transformation, constraints, the
    embeddings, encoder and memoised look-ups behind them) are shared; they are pure functions of
    their inputs;
  * tasks never run at the same time and switch only inside a model call, so nothing is
    interleaved inside TextAttack's own code;
  * the global random states (random, numpy, torch) are seeded per example as the runner does
    (`example_seed`) and saved / restored around every model call, so a stochastic search draws
    exactly the numbers it would draw alone;
  * the query count is the goal function's own (its budget check happens before the call).
What a task sees from the model is its texts' rows of a larger batch, and on CPU a row's float32
bits depend on the batch around it (measured on SST2 models: the LSTM's packed rows by batch
composition, the tiny BERT's by padded width and rows, the CNN's only when the row is alone, a
single text taking another kernel; up to ~4e-7 in a logit). Stock's bits come from its goal
function's chunks of `batch_size` texts. Where two compared values of an example are that close
(candidates whose words map to the same ids, e.g. two out-of-vocabulary synonyms, are exact ties
that stock breaks by those bits), the batch's bits could decide otherwise than stock's. So:
  * a stock chunk of one text is computed alone, as stock computes it;
  * `_Guard` hands a request the batch's rows only when no two of the example's scores are
    within `tol` (FLATBENCH_ATTACK_LOCKSTEP_TOL, default 1e-5) and no row's top two classes
    are; otherwise the request is recomputed in stock's chunks, and every earlier score it is
    close to must be stock's bits too (its request is recomputed the same way and compared
    bit for bit); if one is not, the example is attacked again from its start with stock's
    chunks throughout. Not covered: a coincidental near-tie of quantities the search derives
    from several scores (PWWS's softmax-weighted saliency) without a near-tie of the scores.
`FLATBENCH_ATTACK_LOCKSTEP_TOL=0` turns the guard off (benchmark only: outcomes may differ).

Each task's goal function asks for all of a step's uncached texts at once (its `batch_size` is
lifted: chunking a goal-function call changes only how the rows are fetched, not which).

Switch: `FLATBENCH_ATTACK_LOCKSTEP` = number of examples in flight per attack worker ("on": 64;
0, "off" or unset: the one-example-at-a-time loop, the default). Its records are stock's (the
guard), so it is not part of any cache key (like FLATBENCH_ATTACK_WORKERS); a stage resumed
with the other setting keeps its finished examples.
"""

from __future__ import annotations

import copy
import os
import random

import numpy as np
import torch

from flatbench.errors import ConfigError

INFLIGHT = 64  # examples in flight when switched on without a number ("on")
DEFAULT_INFLIGHT = 0  # off unless FLATBENCH_ATTACK_LOCKSTEP says otherwise
_BIG = 1 << 30


def lockstep_inflight() -> int:
    """Examples in flight per attack worker, from FLATBENCH_ATTACK_LOCKSTEP (0: off)."""
    env = os.environ.get("FLATBENCH_ATTACK_LOCKSTEP")
    if env is None or not env.strip():
        return DEFAULT_INFLIGHT
    v = env.strip().lower()
    if v in ("0", "off", "no", "false"):
        return 0
    if v in ("on", "yes", "true"):
        return INFLIGHT
    if not v.isdigit():
        raise ConfigError(f"FLATBENCH_ATTACK_LOCKSTEP = {env!r}: a number of examples in flight, or 0/off")
    return int(v)


def _rng_state():
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_rng_state(s) -> None:
    random.setstate(s[0])
    np.random.set_state(s[1])
    torch.set_rng_state(s[2])


class _TaskModel:
    """The model one example's goal function calls: submits its texts to the scheduler (the
    parent greenlet) and returns their rows, with the task's random states kept across."""

    def __init__(self, wrapper, hub):
        self._wrapper = wrapper
        self._hub = hub
        self.model = wrapper.model  # TextAttack reads .model

    def __call__(self, text_input_list):
        state = _rng_state()
        rows = self._hub.switch(("call", list(text_input_list)))
        _set_rng_state(state)
        return rows

    def __getattr__(self, name):  # anything else (tokenizer, get_grad): the real wrapper's
        return getattr(self._wrapper, name)


def _rebind(obj, old_new: dict) -> None:
    """Point obj's attributes that are `old` objects, or methods bound to them, at the new ones."""
    for k, v in list(vars(obj).items()):
        if id(v) in old_new:
            setattr(obj, k, old_new[id(v)])
        elif hasattr(v, "__self__") and hasattr(v, "__func__") and id(v.__self__) in old_new:
            setattr(obj, k, v.__func__.__get__(old_new[id(v.__self__)]))


def task_attack(attack, model):
    """One example's copy of `attack`, querying `model`: own goal function (per-example state,
    model-output cache), own transformation and constraint caches, search method bound to them;
    transformation and constraints shared."""
    import lru

    gf = copy.copy(attack.goal_function)
    gf.model = model
    gf.batch_size = _BIG  # one submission per goal-function call (rows are the same)
    if getattr(gf, "_call_model_cache", None) is not None:
        gf._call_model_cache = lru.LRU(gf._call_model_cache.get_size())
    sm = copy.copy(attack.search_method)
    a = copy.copy(attack)
    a.goal_function, a.search_method = gf, sm
    a.transformation_cache = lru.LRU(attack.transformation_cache_size)
    a.constraints_cache = lru.LRU(attack.constraint_cache_size)
    _rebind(sm, {id(attack): a, id(attack.goal_function): gf, id(attack.search_method): sm})
    return a


class _Guard:
    """Keeps an example's decisions stock's when its rows come from a large batch.

    A forward's float32 bits depend on the batch around a text (its padded width, the number of
    rows: up to ~4e-7 in a logit here); stock's bits come from the goal function's own chunks of
    `batch_size` texts. The search's decisions are orderings of scores (1 - p[label]) and
    argmaxes, so one can differ from stock's only where two compared values are within that
    noise. So: a request whose scores are all at least `tol` from each other and from every
    earlier score of the example, and whose rows' top two probabilities are `tol` apart, takes
    the batch's rows. Otherwise (a near-tie) it is recomputed as stock computes it (its own
    chunks), and every earlier score within `tol` of its scores must be stock's bits too: each
    is checked by recomputing its request the same way; where one differs, `serve` returns None
    and the example is attacked again from its start with stock's chunks throughout."""

    def __init__(self, label, tol: float):
        self.label, self.tol = label, tol
        self.keys: list[float] = []  # every score the example has seen, sorted
        self.where: list[tuple] = []  # (request, row) of each key
        self.exact: set[tuple] = set()  # (request, row) known to carry stock's bits
        self.requests: list[tuple] = []  # (texts, rows) handed to the example

    def _scores(self, rows):
        """(scores, top-two margin clear) as ClassificationGoalFunction derives them, or None."""
        if not isinstance(self.label, int) or not isinstance(rows, torch.Tensor) or rows.ndim != 2:
            return None
        probs = rows
        if not ((rows.sum(dim=-1) - 1).abs() < 1e-6).all():
            probs = torch.nn.functional.softmax(rows, dim=1)
        clear = True
        if probs.shape[1] > 1:
            top = probs.topk(2, dim=1).values
            clear = bool(((top[:, 0] - top[:, 1]) >= self.tol).all())
        return (1 - probs[:, self.label]).tolist(), clear

    def _near(self, texts, scores):
        """[(request, row)] of earlier scores within tol of a new one, and whether two new ones
        (other texts) are within tol of each other."""
        import bisect

        tol, keys, near = self.tol, self.keys, []
        new = sorted(zip(scores, texts))
        inner = any(b - a < tol and ta != tb for (a, ta), (b, tb) in zip(new, new[1:]))
        for v in scores:
            i = bisect.bisect_left(keys, v - tol)
            while i < len(keys) and keys[i] <= v + tol:
                if abs(keys[i] - v) < tol:
                    near.append(self.where[i])
                i += 1
        return near, inner

    def _admit(self, texts, rows, scores, exact) -> None:
        """exact: True (every row), or the rows known to carry stock's bits."""
        import bisect

        req = len(self.requests)
        self.requests.append((texts, rows))
        for j, v in enumerate(scores):
            i = bisect.bisect_right(self.keys, v)
            self.keys.insert(i, v)
            self.where.insert(i, (req, j))
            if exact is True or j in exact:
                self.exact.add((req, j))

    def ok(self, texts, rows, exact=()) -> bool:
        """Whether the batch's rows can be handed over as they are (and records them if so)."""
        sc = self._scores(rows)
        if sc is None or not sc[1]:
            return False
        near, inner = self._near(texts, sc[0])
        if near or inner:
            return False
        self._admit(texts, rows, sc[0], exact)
        return True

    def serve(self, texts, rows, exact_rows, exact=()):
        """The rows to hand over for a request (stock's where a near-tie needs them), or None.
        exact: the positions of `rows` already computed as stock computes them."""
        if self.ok(texts, rows, exact):
            return rows
        if exact is not True:
            rows = exact_rows(texts)
        sc = self._scores(rows)
        if sc is None:
            return None
        near, _ = self._near(texts, sc[0])
        todo: dict[int, list[int]] = {}
        for req, j in near:
            if (req, j) not in self.exact:
                todo.setdefault(req, []).append(j)
        for req, js in sorted(todo.items()):
            old_texts, old_rows = self.requests[req]
            again = exact_rows(old_texts)
            for j in range(len(old_texts)):
                if torch.equal(again[j], old_rows[j]):
                    self.exact.add((req, j))
            if any((req, j) not in self.exact for j in js):
                return None  # it decided on a value that is not stock's: redo the example
        self._admit(texts, rows, sc[0], exact=True)
        return rows


TOL = 1e-5  # 25x the largest batch-to-batch logit difference measured on the CNN, LSTM and tiny BERT


def lockstep_tol() -> float:
    """The guard's tolerance, FLATBENCH_ATTACK_LOCKSTEP_TOL (default TOL). 0 turns the guard off:
    for measurement only (benchmarks/lockstep_throughput.py), outcomes may then differ from stock's."""
    env = os.environ.get("FLATBENCH_ATTACK_LOCKSTEP_TOL")
    if env is None or not env.strip():
        return TOL
    try:
        v = float(env)
    except ValueError:
        v = -1.0
    if not v >= 0:
        raise ConfigError(f"FLATBENCH_ATTACK_LOCKSTEP_TOL = {env!r}: a tolerance >= 0")
    return v


def attack_lockstep(attack, wrapper, items, seed: int, inflight: int, on_record, progress=None,
                    tol: float | None = None, *, result_record, example_seed, seed_everything) -> dict:
    """Attack every (idx, text, label) of `items` with `inflight` examples in lockstep; calls
    on_record(record) as each example finishes (in finishing order). Returns counters: gathered
    model calls, texts asked for, unique texts sent, examples redone exactly and their calls.
    The runner hands in its own record builder and per-example seeding (``result_record``,
    ``example_seed``, ``seed_everything``), so both loops write the same records and this module
    does not import the runner back."""
    import greenlet
    import textattack

    tol = lockstep_tol() if tol is None else tol
    hub = greenlet.getcurrent()
    model = _TaskModel(wrapper, hub)
    chunk = max(1, int(getattr(attack.goal_function, "batch_size", 32) or 32))

    def run_one(item):
        idx, text, label = item
        seed_everything(example_seed(seed, idx))
        res = task_attack(attack, model).attack(textattack.shared.AttackedText(text), int(label))
        return ("done", result_record(res, idx, label))

    todo = iter(items)
    pending: list[tuple] = []
    live = 0
    stats = {"gathered_calls": 0, "asked_texts": 0, "unique_texts": 0, "max_inflight": 0,
             "redone_exact": 0, "exact_calls": 0, "exact_texts": 0}

    def start(item, exact: bool):
        g = greenlet.greenlet(run_one, parent=hub)
        g.item, g.exact, g.guard = item, exact, _Guard(int(item[2]), tol)
        handle(g, g.switch(item))

    def handle(g, msg):
        nonlocal live
        kind, payload = msg
        if kind == "call":
            pending.append((g, payload))
        else:
            live -= 1
            on_record(payload)
            if progress is not None:
                progress.update(1)

    def exact_rows(ts):
        """The rows as stock computes them: the goal function's chunks, each its own forward."""
        outs = [wrapper(ts[i : i + chunk]) for i in range(0, len(ts), chunk)]
        stats["exact_calls"] += len(outs)
        stats["exact_texts"] += len(ts)
        return torch.cat(outs) if outs and isinstance(outs[0], torch.Tensor) else [r for o in outs for r in o]

    outer = _rng_state()
    try:
        while True:
            while live < inflight:
                item = next(todo, None)
                if item is None:
                    break
                live += 1
                stats["max_inflight"] = max(stats["max_inflight"], live)
                start(item, exact=False)
            if not pending:
                break
            batch, pending[:] = list(pending), []
            # A stock chunk of one text runs alone there (another kernel: its bits differ from
            # the same row in a batch), so it runs alone here too; the rest goes in one call.
            single = {id(ts): len(ts) - 1 for g, ts in batch if not g.exact and len(ts) % chunk == 1}
            texts = list(dict.fromkeys(t for g, ts in batch if not g.exact
                                       for j, t in enumerate(ts) if single.get(id(ts)) != j))
            pos = {}
            if texts:
                pos = {t: i for i, t in enumerate(texts)}
                out = wrapper(texts)
                stats["gathered_calls"] += 1
                stats["asked_texts"] += sum(len(ts) for g, ts in batch if not g.exact)
                stats["unique_texts"] += len(texts)
            for g, ts in batch:
                if g.exact:
                    handle(g, g.switch(exact_rows(ts)))
                    continue
                j1 = single.get(id(ts))
                if j1 == 0:  # one text: stock's own computation
                    rows, known = exact_rows(ts), True
                else:
                    rows = [pos[t] for t in (ts if j1 is None else ts[:-1])]
                    rows = out[rows] if isinstance(out, (torch.Tensor, np.ndarray)) else [out[i] for i in rows]
                    known = ()
                    if j1 is not None:
                        last = exact_rows(ts[-1:])
                        rows = torch.cat([rows, last]) if isinstance(rows, torch.Tensor) else rows + list(last)
                        known = (j1,)
                rows = g.guard.serve(ts, rows, exact_rows, known)
                if rows is not None:
                    handle(g, g.switch(rows))
                else:  # this example again from its start, every call as stock makes it
                    g.throw(greenlet.GreenletExit)
                    stats["redone_exact"] += 1
                    start(g.item, exact=True)
    finally:
        _set_rng_state(outer)
    return stats
