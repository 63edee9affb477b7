"""Shared pieces of the recipe modules: offline-aware components with their deviations."""

from __future__ import annotations

from flatbench.attack_resources import catalog as R
from flatbench.errors import ConfigError, ResourceMissingError
from flatbench.hparams import P


def textattack():
    """Import textattack after making NLTK work offline; `ensure_nltk_env` also installs
    flatbench.lazy_packages, so only the parts a recipe uses get imported (TextAttack's package
    ``__init__`` files import every recipe, constraint and flair: ~2 s of a process's start for
    code an attack here never runs)."""
    R.ensure_nltk_env()
    import textattack as ta

    return ta


def goal_function(model_wrapper, query_budget):
    from textattack.goal_functions import UntargetedClassification

    return UntargetedClassification(
        model_wrapper, query_budget=float("inf") if query_budget is None else query_budget)


def substitute_deviations(*names: str) -> list[str]:
    """Deviation lines of the named resources that are substituted right now."""
    out = []
    for n in names:
        r = R.resource(n)
        if r.status == "offline-substitute":
            out.append(r.deviation)
    return out


# The embedding bounds an attack stage may be pinned to, as cosines (MSE recipes use the
# equivalent 2 - 2 cos on the unit-length derived space). This is the candidate grid of the
# strength-matching protocol (flatbench.analysis.strength), fixed before any matched attack ran;
# strength curves use the same values.
BOUND_GRID = tuple(round(0.50 + 0.05 * i, 2) for i in range(10))  # 0.50, 0.55, ..., 0.95
FIXED_BOUNDS = tuple(f"cos{c:.2f}" for c in BOUND_GRID)

# Attack options a grid may set (cell hyper-parameters of the same name); every attack stage's
# key includes them. Non-original bounds apply to the derived counter-fitted space only: with
# TextAttack's own paragramcf the recipe's published bounds are used whatever the option says.
# "matched" (the default) is the bound whose base after-attack accuracy on dev matches the paper's
# (shipped table, resolved per dataset and recipe at plan time, so the concrete bound is in every
# key; where no bound was matched, the F1 bound with a deviation line saying so); "f1" the bound
# chosen on the counter-fitting constraints by F1 (the default until 2026-12-04); "cosX.XX" pins
# one value of the strength grid.
OPTIONS = {"attack_bounds": ("matched", "f1", "youden", "original") + FIXED_BOUNDS,
           "sentence_encoder": ("use-m3", "minilm")}
DEFAULT_OPTIONS = {k: v[0] for k, v in OPTIONS.items()}
# Filled in by resolve_bounds (plan time), never by a grid: the concrete bound "matched" stands for.
INTERNAL_OPTIONS = ("matched_cos", "matched_note")

# Every attack stage's declared hyper-parameters (the options above, the subset sizes, the budget).
HP = {
    "attack_bounds": P("matched", "str", "substitute-space bounds: matched (base AA on dev matched "
                       "to the paper's), f1 (F1 on held-out PPDB synonyms), youden "
                       "(sensitivity), original (the recipes' published ones), or cosX.XX (one "
                       "value of the strength grid)", choices=OPTIONS["attack_bounds"]),
    "eval_attack_bounds": P(None, "str", "bounds of the evaluation (test/dev) attacks only, same "
                            "values as attack_bounds; none: attack_bounds (strength curves attack "
                            "models trained at one strength at others)", choices=OPTIONS["attack_bounds"],
                            none=True),
    "sentence_encoder": P("use-m3", "str", "offline sentence encoder for the USE constraint",
                          choices=OPTIONS["sentence_encoder"]),
    "attack_test_n": P(None, "per_recipe", "seeded test subset attacked (int, or {recipe = int or \"all\"}); "
                       "none: the whole test split", none=True),
    "query_budget": P(None, "int", "model queries per example; none: the recipe's own", lo=1, none=True),
}


def resolve_options(options: dict | None) -> dict:
    """The attack options with defaults filled in; a bad value is a ConfigError (one line)."""
    out = dict(DEFAULT_OPTIONS)
    for k, v in (options or {}).items():
        if k in INTERNAL_OPTIONS:
            out[k] = v
            continue
        if k not in OPTIONS:
            raise ConfigError(f"unknown attack option {k!r}; valid: {', '.join(OPTIONS)}")
        if v not in OPTIONS[k]:
            raise ConfigError(f"{k} = {v!r} is not valid; valid: {', '.join(OPTIONS[k])}")
        out[k] = v
    return out


def counterfitted_embedding():
    """(WordEmbedding, deviations): TextAttack's paragramcf if cached, else the derived one."""
    from flatbench.attack_resources.counterfit import load_counterfitted

    emb = load_counterfitted()
    if getattr(emb, "flatbench_source", "") == "paragramcf":
        return emb, []
    meta = getattr(emb, "flatbench_meta", {})
    line = (R.DEVIATIONS["counterfitted"] + f"; {len(emb.embedding_matrix)} words, "
            f"{emb.embedding_matrix.shape[1]}-d")
    sl = meta.get("simlex999", {})
    if sl:
        line += (f"; SimLex-999 rho {sl['raw']['rho']:.2f} raw -> {sl['counterfitted']['rho']:.2f} "
                 "(published GloVe 0.41 -> 0.58)")
    return emb, [line]


def embedding_bound(emb, recipe: str, kind: str, original: float, options: dict | None):
    """(bound, deviations) for a recipe's word-embedding constraint. ``kind``: "min_cos_sim" or
    "max_mse_dist". On the derived space: the strength-matched bound ("matched", resolved by the
    attack stage into ``matched_cos``; without one, the F1 bound), a fixed grid value ("cosX.XX"),
    the bound calibrated on the constraints by F1 ("f1", see `flatbench.attack_resources.counterfit`) or at
    their Youden point, or the recipe's published one ("original")."""
    opts = resolve_options(options)
    meta = getattr(emb, "flatbench_meta", None)
    if getattr(emb, "flatbench_source", "") == "paragramcf" or meta is None:
        return original, []
    if opts["attack_bounds"] == "original":
        passing = meta.get("mean_top50_passing_20k_most_frequent", {})
        key = "min_cos_0.5" if kind == "min_cos_sim" else "mse_0.5"
        return original, [f"{recipe}: {kind} = {original} (the 300-d space's bound) on the derived "
                          f"50-d space: {passing.get(key, '?')} of a frequent word's 50 nearest "
                          "neighbours pass it"]
    if opts["attack_bounds"] == "youden":
        y = meta["calibration"]["youden"]
        bound = meta["bounds_youden"][kind]
        return bound, [f"{recipe}: {kind} = {bound} at the held-out synonyms' Youden point (TPR {y['tpr']}, "
                       f"FPR {y['fpr']}), a sensitivity reading chosen after the F1 bound was first used; "
                       f"not the paper's {original}"]
    if opts["attack_bounds"] in FIXED_BOUNDS or opts["attack_bounds"] == "matched" and "matched_cos" in opts:
        cos = opts["matched_cos"] if opts["attack_bounds"] == "matched" else float(opts["attack_bounds"][3:])
        bound = cos if kind == "min_cos_sim" else round(2 - 2 * cos, 4)
        shown = f"{kind} = {bound}" + ("" if kind == "min_cos_sim" else f" (cos {cos:.2f})")
        if opts["attack_bounds"] == "matched":
            return bound, [f"{recipe}: {shown}, the strength-matched bound (base after-attack accuracy on "
                           f"dev closest to the paper's: {opts.get('matched_note', '?')}; "
                           f"flatbench/resources/strength_matched.json) instead of {original}"]
        return bound, [f"{recipe}: {shown}, a fixed value of the strength grid, instead of {original}"]
    if opts["attack_bounds"] == "matched":
        note = " (no strength-matched bound for this dataset and recipe: the F1 bound is used)"
    else:
        note = ""
    bound = meta["bounds"][kind]
    c = meta["calibration"]["min_cos_sim" if kind == "min_cos_sim" else "max_mse_dist"]
    return bound, [f"{recipe}: {kind} = {bound} calibrated on the counter-fitting constraints "
                   f"(held-out PPDB synonyms, F{c['beta']:g} = {c['f']}, precision {c['precision']}, "
                   f"recall {c['recall']}) instead of {original}{note}; set attack_bounds=original for it"]


def sentence_encoder(recipe: str, *, threshold, metric, compare_against_original, window_size,
                     skip_text_shorter_than_window, options: dict | None = None):
    """(constraint, deviations): the Universal Sentence Encoder when TF-Hub is usable, else
    the multilingual USE v3 numpy port (default) or all-MiniLM-L6-v2, with the stock settings."""
    kwargs = dict(threshold=threshold, metric=metric,
                  compare_against_original=compare_against_original, window_size=window_size,
                  skip_text_shorter_than_window=skip_text_shorter_than_window)
    r = R.require("sentence_encoder", recipe)
    if r.status == "online-original":
        from textattack.constraints.semantics.sentence_encoders import UniversalSentenceEncoder

        return UniversalSentenceEncoder(**kwargs), []
    choice = resolve_options(options)["sentence_encoder"]
    if choice == "minilm":
        from flatbench.attack_resources.constraints import MiniLMEncoder

        return MiniLMEncoder(**kwargs), [
            R.ENCODER_DEVIATIONS["minilm"] + f"; threshold {threshold} ({metric}) was set for USE"]
    from flatbench.attack_resources.constraints import USEm3Encoder

    return USEm3Encoder(**kwargs), [R.ENCODER_DEVIATIONS["use-m3"]]


def part_of_speech(recipe: str, *, allow_verb_noun_swap):
    """(constraint, deviations): NLTK's tagger when downloaded, else spaCy's."""
    r = R.require("pos_tagger", recipe)
    if r.status == "online-original":
        from textattack.constraints.grammaticality import PartOfSpeech

        return PartOfSpeech(allow_verb_noun_swap=allow_verb_noun_swap), []
    from flatbench.attack_resources.constraints import SpacyPartOfSpeech

    return SpacyPartOfSpeech(allow_verb_noun_swap=allow_verb_noun_swap), [r.deviation]


def hf_pretrained(recipe: str, repo: str, model_cls: str):
    """(model, tokenizer) from the Hugging Face hub or its local cache, failing in seconds
    (never TextAttack's/HF's ~46 s retry loop) with a one-line ResourceMissingError."""
    fix = f"run online or pre-download it with `huggingface-cli download {repo}`"
    cached = R.hf_cached(repo) is not None
    if R.hf_offline() and not cached:
        raise ResourceMissingError(f"{recipe}: needs {repo} from the Hugging Face hub, which "
                                   f"is not cached and HF_HUB_OFFLINE is set; {fix}")
    local_only = R.hf_offline() or not R.hub_reachable()
    if local_only and not cached:
        raise ResourceMissingError(f"{recipe}: needs {repo} from the Hugging Face hub "
                                   f"(unreachable here, not cached); {fix}")
    import transformers

    try:
        model = getattr(transformers, model_cls).from_pretrained(repo,
                                                                 local_files_only=local_only)
        tok = transformers.AutoTokenizer.from_pretrained(repo, use_fast=True,
                                                         local_files_only=local_only)
    except OSError as e:
        raise ResourceMissingError(f"{recipe}: could not load {repo} "
                                   f"({str(e).splitlines()[0][:120]}); {fix}") from e
    return model, tok
