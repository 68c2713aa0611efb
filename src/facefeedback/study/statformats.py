"""SPSS (.sav) and Stata (.dta): each format's limits, how values are coded, and variable names that fit.

Format limits (IBM SPSS Statistics and Stata 14+ documentation): SPSS names 64
bytes, variable labels 256 bytes, value labels 120 bytes, file label 64 bytes,
note lines 80 bytes; Stata (.dta format 118, Unicode) names 32 characters,
variable and data labels 80 characters, value labels 32,000 bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .features import SPSS_RESERVED, wide_name

#: Stata's reserved words (case-sensitive); ``str1`` ... ``str2045`` are reserved too.
STATA_RESERVED = frozenset({"_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long",
                            "_n", "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with"})
#: A word of a name is never trimmed below this many characters.
MIN_WORD = 3
#: Stored as codes 1, 2, ... with value labels, in the study's order.
CODED = ("arm", "session", "task")
#: True/false columns: stored as 0/1 with these value labels.
FLAG_LABELS = {0: "no", 1: "yes"}


@dataclass(frozen=True)
class StatFormat:
    """A statistics package's file format and its limits."""

    key: str
    title: str
    suffix: str
    max_name: int
    max_variable_label: int
    max_value_label: int
    max_file_label: int
    bytes_limits: bool  # limits count UTF-8 bytes (SPSS), not characters (Stata)

    def is_reserved(self, name: str) -> bool:
        if self.key == "spss":
            return name.upper() in SPSS_RESERVED
        return name in STATA_RESERVED or re.fullmatch(r"str[0-9]+", name) is not None

    def cut(self, text: str, limit: int) -> str:
        """``text`` within ``limit`` (bytes or characters), ending in '...' when it had to be cut."""
        return cut(text, limit, self.bytes_limits)


SPSS = StatFormat("spss", "SPSS", ".sav", max_name=64, max_variable_label=256, max_value_label=120,
                  max_file_label=64, bytes_limits=True)
STATA = StatFormat("stata", "Stata", ".dta", max_name=32, max_variable_label=80, max_value_label=32000,
                   max_file_label=80, bytes_limits=False)
FORMATS = {f.key: f for f in (SPSS, STATA)}
#: An SPSS note line's limit.
SPSS_NOTE_BYTES = 80


def cut(text: str, limit: int, in_bytes: bool = False) -> str:
    """``text`` within ``limit`` characters (or UTF-8 bytes), ending in '...' when it had to be cut."""
    size = (lambda t: len(t.encode("utf-8"))) if in_bytes else len
    if size(text) <= limit:
        return text
    keep = text[:limit]
    while size(keep.rstrip() + "...") > limit:
        keep = keep[:-1]
    return keep.rstrip() + "..."


def wrap_bytes(text: str, limit: int, indent: str = "  ") -> list[str]:
    """``text`` as lines of at most ``limit`` UTF-8 bytes, each after the first starting with
    ``indent``; nothing is left out (a character is never split)."""
    lines, prefix = [], ""
    while len((prefix + text).encode("utf-8")) > limit:
        k = len(text)
        while k > 1 and len((prefix + text[:k]).encode("utf-8")) > limit:
            k -= 1
        lines.append(prefix + text[:k])
        text, prefix = text[k:], indent
    return lines + [prefix + text]


def parse_formats(text: str) -> tuple[str, ...]:
    """``"spss,stata"`` -> ``("spss", "stata")``; an unknown name is a one-line error."""
    from ..errors import ConfigError

    names = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ConfigError(f"--export {text!r}: give spss, stata or spss,stata")
    return names


# -- names ----------------------------------------------------------------------------


def _clean(part: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", part)).strip("_")


def _trim_words(text: str, budget: int) -> str | None:
    """``text`` within ``budget`` characters by shortening its longest words (to MIN_WORD at least)."""
    words = text.split("_")
    while len("_".join(words)) > budget:
        longest = max(range(len(words)), key=lambda i: (len(words[i]), -i))
        if len(words[longest]) <= MIN_WORD:
            return None
        words[longest] = words[longest][:-1]
    return "_".join(words)


def _digest(text: str, n: int = 6) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


def short_name(parts: tuple[str, ...], fmt: StatFormat) -> str:
    """A valid name for ``fmt`` made from ``parts`` (a column, then its session and task, if any).

    Letters, digits and '_' only, starting with a letter, not a reserved word. When the joined
    name is too long, the column part's longest words are shortened (the session and task
    parts are kept whole, so they stay readable), and when that is not enough the column part
    is cut and ends in a short hash of the whole name. The same parts always give the same name.

    >>> short_name(("frown_intensity_mean", "week6", "sad_film"), STATA)
    'frown_intens_mean_week6_sad_film'
    """
    head, *tail = [c for c in (_clean(p) for p in parts if p) if c] or ["v"]
    if not head[0].isalpha():
        head = f"v_{head}"
    ending = "".join(f"_{t}" for t in tail)
    name = head + ending
    if fmt.is_reserved(name):
        name = f"{name}_v"
    if len(name) <= fmt.max_name:
        return name
    budget = fmt.max_name - len(ending)
    trimmed = _trim_words(head, budget) if budget > 0 else None
    if trimmed is not None:
        return trimmed + ending
    digest = _digest(name)
    if budget >= 8:
        return f"{head[:budget - 7].rstrip('_')}_{digest}{ending}"
    return f"{name[:fmt.max_name - 7].rstrip('_')}_{digest}"


def unique_names(candidates: list[str], originals: list[str], fmt: StatFormat) -> list[str]:
    """``candidates`` made unique (ignoring case, as SPSS does): clashing ones end in a hash of their original."""
    names = list(candidates)
    for n in range(6, 41, 2):
        seen: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            seen.setdefault(name.lower(), []).append(i)
        clashes = [i for group in seen.values() if len(group) > 1 for i in group]
        if not clashes:
            return names
        for i in clashes:
            names[i] = f"{candidates[i][:fmt.max_name - n - 1].rstrip('_')}_{_digest(originals[i], n)}"
    raise ValueError(f"cannot make {fmt.title} names unique: {sorted(set(candidates))}")  # pragma: no cover


def variable_names(columns: list[tuple[str, tuple[str, ...]]], fmt: StatFormat) -> list[str]:
    """The ``fmt`` name of every column of a table: ``(name, parts)`` pairs in, names out.

    A name that is already valid is kept. SPSS names follow :func:`~.features.wide_name`
    (the wide table's names are valid SPSS names already); Stata's follow :func:`short_name`.
    """
    if fmt.key == "spss":
        candidates = [wide_name(name) for name, _ in columns]
    else:
        candidates = [short_name(parts, fmt) for _, parts in columns]
    return unique_names(candidates, [name for name, _ in columns], fmt)
