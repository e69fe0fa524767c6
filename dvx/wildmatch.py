"""Git's ignore rules (the lines of a .gitignore or .dvxignore), matched as Git matches them.

Git reads each line as a `wildmatch` glob over bytes (`?` is one byte, not one character) and
its bracket expressions its own way: `]` first in a set is literal, a backslash escapes, the
POSIX classes (`[[:alpha:]]`, ...) are ASCII only, and a set that is never closed or names an
unknown class matches nothing. A rule is translated here into a regular expression over bytes
with every set spelled out byte by byte, so no glob syntax reaches `re` unread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

NEVER = b"(?!)"

# The classes as Git's own ctype defines them: ASCII only, and `space` without \v and \f.
_PUNCT = b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
CLASSES: dict[bytes, frozenset[int]] = {
    b"alnum": frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    b"alpha": frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    b"blank": frozenset(b" \t"),
    b"cntrl": frozenset([*range(0x20), 0x7F]),
    b"digit": frozenset(b"0123456789"),
    b"graph": frozenset(range(0x21, 0x7F)),
    b"lower": frozenset(b"abcdefghijklmnopqrstuvwxyz"),
    b"print": frozenset(range(0x20, 0x7F)),
    b"punct": frozenset(_PUNCT),
    b"space": frozenset(b" \t\n\r"),
    b"upper": frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    b"xdigit": frozenset(b"0123456789abcdefABCDEF"),
}


class _Unmatchable(Exception):
    """The glob is malformed the way that makes Git's wildmatch match nothing."""


@dataclass(frozen=True)
class Rule:
    """One ignore rule, as Git parses a line: `!` re-includes, a trailing `/` matches
    directories only, and a rule without any other `/` matches a name at any depth."""
    negative: bool
    directories_only: bool
    basename_only: bool
    regex: re.Pattern[bytes]

    def matches(self, relpath: bytes, is_dir: bool) -> bool:
        """Does the rule match `relpath`, relative to the directory of the file it is in?"""
        if self.directories_only and not is_dir:
            return False
        name = relpath.rpartition(b"/")[2] if self.basename_only else relpath
        return self.regex.fullmatch(name) is not None


def parse_rule(line: bytes) -> Rule | None:
    """The rule of one line (without its line end), None for a comment or a blank line."""
    if not line or line.startswith(b"#"):
        return None
    glob = _without_trailing_spaces(line)
    negative = glob.startswith(b"!")
    glob = glob[1:] if negative else glob
    directories_only = glob.endswith(b"/")
    glob = glob[:-1] if directories_only else glob
    basename_only = b"/" not in glob
    if not basename_only and glob.startswith(b"/"):
        glob = glob[1:]  # anchored: the leading slash only says so
    if not glob:
        return None
    return Rule(negative, directories_only, basename_only,
                re.compile(translate(glob), re.DOTALL))


def _without_trailing_spaces(line: bytes) -> bytes:
    """As Git trims a rule: trailing spaces go unless a backslash escapes one; tabs stay."""
    end = len(line)
    while end and line[end - 1:end] == b" ":
        backslashes = len(line[:end - 1]) - len(line[:end - 1].rstrip(b"\\"))
        if backslashes % 2:
            break
        end -= 1
    return line[:end]


def translate(glob: bytes) -> bytes:
    """The regular expression (over bytes, for `fullmatch`) that matches what Git's
    wildmatch matches with `glob` when a path's slashes are special (WM_PATHNAME)."""
    try:
        return b"".join(_pieces(glob))
    except _Unmatchable:
        return NEVER


def _pieces(glob: bytes) -> Iterator[bytes]:
    i, n = 0, len(glob)
    # Git compares the literal start of a rule on its own and hands wildmatch the rest, where
    # a `**` just after that start counts as a whole component ("a**/b" ignores "a/b").
    literal_start = next((k for k, c in enumerate(glob) if c in b"*?[\\"), n)
    while i < n:
        c = glob[i:i + 1]
        if c == b"*":
            j = i
            while j < n and glob[j:j + 1] == b"*":
                j += 1
            whole_component = (j - i >= 2 and (i == literal_start or glob[i - 1:i] == b"/")
                               and (j == n or glob[j:j + 1] == b"/" or glob[j:j + 2] == b"\\/"))
            if whole_component and glob[j:j + 1] == b"/":
                yield b"(?:.*/)?"  # "**/": no directory or any number of them
                i = j + 1
            else:
                yield b".*" if whole_component else b"[^/]*"
                i = j
        elif c == b"?":
            yield b"[^/]"
            i += 1
        elif c == b"\\":
            if i + 1 == n:
                raise _Unmatchable  # a backslash that escapes nothing
            yield re.escape(glob[i + 1:i + 2])
            i += 2
        elif c == b"[":
            matched, i = _bracket(glob, i + 1)
            yield _byte_set(matched - {ord("/")})
        else:
            yield re.escape(c)
            i += 1


def _bracket(glob: bytes, i: int) -> tuple[set[int], int]:
    """The bytes the set opened just before `glob[i]` matches, and where the glob goes on
    after it; as Git's wildmatch reads a set, step by step."""
    n = len(glob)
    negated = i < n and glob[i] in b"!^"
    i += negated
    matched: set[int] = set()
    previous: int | None = None  # the last single byte, which a `-` makes a range from
    first = True
    while first or (i < n and glob[i] != ord("]")):
        first = False
        if i >= n:
            raise _Unmatchable
        c = glob[i]
        if c == ord("\\"):
            i += 1
            if i >= n:
                raise _Unmatchable
            previous = glob[i]
            matched.add(previous)
        elif c == ord("-") and previous is not None and i + 1 < n and glob[i + 1] != ord("]"):
            i += 1
            if glob[i] == ord("\\"):
                i += 1
                if i >= n:
                    raise _Unmatchable
            matched.update(range(previous, glob[i] + 1))
            previous = None
        elif glob[i:i + 2] == b"[:":
            close = glob.find(b"]", i + 2)
            if close < 0:
                raise _Unmatchable
            if close - (i + 2) < 1 or glob[close - 1] != ord(":"):
                previous = c  # not a class: a literal "["
                matched.add(c)
            else:
                name = glob[i + 2:close - 1]
                if name not in CLASSES:
                    raise _Unmatchable
                matched |= CLASSES[name]
                previous = None
                i = close
        else:
            previous = c
            matched.add(c)
        i += 1
    if i >= n:
        raise _Unmatchable  # never closed
    return (set(range(256)) - matched if negated else matched), i + 1


def _byte_set(values: set[int]) -> bytes:
    if not values:
        return NEVER
    return b"[" + b"".join(b"\\x%02x" % v for v in sorted(values)) + b"]"
