"""Shared pieces of the recipe modules: offline-aware components with their deviations."""

from __future__ import annotations

from flatbench.attacks import resources as R
from flatbench.errors import ResourceMissingError


def textattack():
    """Import textattack after making NLTK work offline."""
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


def counterfitted_embedding():
    """(WordEmbedding, deviations): TextAttack's paragramcf if cached, else the derived one."""
    from flatbench.attacks.counterfit import load_counterfitted

    emb = load_counterfitted()
    if getattr(emb, "flatbench_source", "") == "paragramcf":
        return emb, []
    line = (R.DEVIATIONS["counterfitted"] + f"; {len(emb.embedding_matrix)} words, "
            f"{emb.embedding_matrix.shape[1]}-d")
    passing = getattr(emb, "flatbench_meta", {}).get("mean_top50_passing_20k_most_frequent")
    if passing:
        line += (f"; of the 50 nearest neighbours {passing['min_cos_0.5']} on average pass "
                 f"cos>=0.5 and {passing['mse_0.5']} pass mse<=0.5 (frequent words)")
    return emb, [line]


def sentence_encoder(recipe: str, *, threshold, metric, compare_against_original, window_size,
                     skip_text_shorter_than_window):
    """(constraint, deviations): the Universal Sentence Encoder when TF-Hub is usable, else
    all-MiniLM-L6-v2 through TextAttack's SBERT constraint, with the stock settings."""
    kwargs = dict(threshold=threshold, metric=metric,
                  compare_against_original=compare_against_original, window_size=window_size,
                  skip_text_shorter_than_window=skip_text_shorter_than_window)
    r = R.require("sentence_encoder", recipe)
    if r.status == "online-original":
        from textattack.constraints.semantics.sentence_encoders import UniversalSentenceEncoder

        return UniversalSentenceEncoder(**kwargs), []
    from flatbench.attacks.constraints import MiniLMEncoder

    return MiniLMEncoder(**kwargs), [
        r.deviation + f"; threshold {threshold} ({metric}) was calibrated for USE"]


def part_of_speech(recipe: str, *, allow_verb_noun_swap):
    """(constraint, deviations): NLTK's tagger when downloaded, else spaCy's."""
    r = R.require("pos_tagger", recipe)
    if r.status == "online-original":
        from textattack.constraints.grammaticality import PartOfSpeech

        return PartOfSpeech(allow_verb_noun_swap=allow_verb_noun_swap), []
    from flatbench.attacks.constraints import SpacyPartOfSpeech

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
