"""Word-swap candidates without TextAttack's per-candidate rebuild, same objects as stock.

TextAttack's `WordSwap._get_transformations` makes each candidate with
`AttackedText.replace_word_at_index`, whose `generate_new_attacked_text` walks every word of the
text (two word splits and a substring search per word) and whose constructor splits the new text
into words again: ~100 us per candidate, the largest single cost of a TextFooler search here.

For the common case, a one-column text and a replacement that is one clean word, the result of
that walk is known in closed form, so `swap_candidates` builds it directly:
  * text: the text with the span of word i replaced by r, where the span is found by the same
    left-to-right `str.index` search the stock walk does (so odd texts give the same string);
  * attack_attrs: the same keys, in the same order, with the same values (label_names if any,
    newly_modified_indices {i}, previous_attacked_text, modified_indices + {i}, a copy of
    original_index_map: one word for one word shifts nothing);
  * words: the old words with r at i, set only when word i is delimited by characters that can
    be in no word (then the split of the new text is provably that list); otherwise left to be
    split lazily from the text, as stock does.
Anything else (deletions, multi-word or unclean replacements, several columns, CJK text, the
split token in the text) goes to TextAttack's own `replace_word_at_index`. The test suite checks
every candidate of real attacks against the stock construction (text, attributes, words).
"""

from __future__ import annotations

import re
from collections import OrderedDict

CJK = re.compile("[\u4e00-\u9fff]")  # words_from_text hands such text to jieba


def _spans(text: str, words: list[str]) -> list[tuple[int, int]] | None:
    """(start, end) of each word as the stock walk finds it: each word searched from the end of
    the previous one."""
    out, pos = [], 0
    for w in words:
        try:
            s = text.index(w, pos)
        except ValueError:
            return None
        pos = s + len(w)
        out.append((s, pos))
    return out


def _isolated(text: str, s: int, e: int, word_char) -> bool:
    """Word text[s:e] has no character that can be part of a word on either side."""
    return (s == 0 or not word_char(text[s - 1])) and (e == len(text) or not word_char(text[e]))


def make_word_char(pattern: re.Pattern):
    """A predicate: can this single character be part of a word (the splitter's character class,
    `pattern` being its ``[...]+``)?"""
    cache: dict[str, bool] = {}

    def word_char(c: str) -> bool:
        v = cache.get(c)
        if v is None:
            v = cache[c] = pattern.fullmatch(c) is not None
        return v

    return word_char


def swap_candidates(transformation, current_text, indices_to_modify, words_from_text, word_char):
    """Same list as `WordSwap._get_transformations(current_text, indices_to_modify)`."""
    from textattack.shared import AttackedText

    words = current_text.words
    fast = None
    if len(current_text._text_input) == 1:
        (key, text), = current_text._text_input.items()
        if AttackedText.SPLIT_TOKEN not in text and not CJK.search(text):
            spans = _spans(text, words)
            if spans is not None:
                fast = (key, text, spans)
    attrs = current_text.attack_attrs
    out = []
    for i in indices_to_modify:
        i = int(i)  # stock's attributes hold Python ints (its walk's own counter), even for numpy indices
        w = words[i]
        clean_w = fast is not None and words_from_text(w) == [w]
        for r in transformation._get_replacement_words(w):
            if r == w:
                continue
            if not (clean_w and words_from_text(r) == [r]):
                out.append(current_text.replace_word_at_index(i, r))
                continue
            key, text, spans = fast
            s, e = spans[i]
            new_attrs = {}
            if "label_names" in attrs:
                new_attrs["label_names"] = attrs["label_names"]
            new_attrs["newly_modified_indices"] = {i}
            new_attrs["previous_attacked_text"] = current_text
            mod = attrs["modified_indices"].copy()
            mod.add(i)
            new_attrs["modified_indices"] = mod
            new_attrs["original_index_map"] = attrs["original_index_map"].copy()
            t = AttackedText.__new__(AttackedText)
            t._text_input = OrderedDict([(key, text[:s] + r + text[e:])])
            t._words = (words[:i] + [r] + words[i + 1:]) if _isolated(text, s, e, word_char) else None
            t._words_per_input = None
            t._pos_tags = None
            t._ner_tags = None
            t.attack_attrs = new_attrs
            out.append(t)
    return out
