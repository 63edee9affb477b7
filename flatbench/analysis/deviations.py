"""Deviation lines as reports print them: many stages record the same deviation with their own
numbers (e.g. how many pairs one interpret stage aligned), which a report says once."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def collapse_deviations(lines, min_group: int = 4) -> list[str]:
    """Deviation lines, sorted, with every group of ``min_group`` or more lines that differ only in
    their numbers (one per stage, e.g. "interpret: 2 of 1390 pairs had ...") written once, each
    number as the range it takes over the group, and how many lines it stands for. Fewer alike
    lines (e.g. one per dataset, whose numbers say which is which) stay as they are."""
    groups: dict[str, list[str]] = {}
    for line in set(lines):
        groups.setdefault(_NUMBER.sub("#", line), []).append(line)
    out = []
    for template, members in groups.items():
        if len(members) < min_group:
            out.extend(members)
            continue
        values = list(zip(*(_NUMBER.findall(m) for m in members)))
        parts = template.split("#")
        text = parts[0]
        for vs, rest in zip(values, parts[1:]):
            lo, hi = min(vs, key=float), max(vs, key=float)
            text += lo if float(lo) == float(hi) else f"{lo}–{hi}"
            text += rest
        out.append(f"{text} ({len(members)} stages alike)")
    return sorted(out)
