"""Wording shared by messages: a count with its noun, a size in bytes, a list of names
cut short where it would not fit a sentence, and commands offered in one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def named_list(items: Sequence[T], *, most: int,
               name: Callable[[T], str] = str) -> str:
    """'a, b, c and 4 more': the first `most` of `items`, each as `name` gives it, joined by
    ", ", then how many are left unnamed; only the names where there are no more than
    `most`. `name` is called for the named ones alone, so it may be costly."""
    shown = ", ".join(name(item) for item in items[:most])
    more = len(items) - most
    return f"{shown} and {more} more" if more > 0 else shown


def counted(count: int, noun: str) -> str:
    """'1 experiment', '0 experiments', '3 experiments': `count` and `noun`, plural unless one
    (nouns whose plural is not the noun plus 's' are not asked for)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def human_size(n: int) -> str:
    """'999 B', '1.5 KiB', '2.0 GiB': `n` bytes in the largest binary unit below it."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def commands_in_a_sentence(commands: Sequence[str], word: str = "and") -> str:
    """"`a`", "`a` and `b`", "`a`, `b` or `c`": `commands` as a sentence offers them, each
    in backticks, the last joined by `word`."""
    quoted = [f"`{c}`" for c in commands]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {word} {quoted[-1]}"
