"""Git's ignore rules (the lines of a .gitignore or .dvxignore), matched as Git matches them.

Git reads each line as a `wildmatch` glob over bytes (`?` is one byte, not one character) and
its bracket expressions its own way: `]` first in a set is literal, a backslash escapes, the
POSIX classes (`[[:alpha:]]`, ...) are ASCII only, and a set that is never closed or names an
unknown class matches nothing. A rule is translated here into a regular expression over bytes
with every set spelled out byte by byte, so no glob syntax reaches `re` unread, and arranged so
that `re` goes over a name a few times at most (see `_regex`): a rule is repository content, and
with a plain `[^/]*` for each `*`, `*a*a*a*a*a*a*a*a*b` makes `re` try every way of splitting a
long name among the `*`s, for hours.
"""

from __future__ import annotations

import itertools
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
        tokens = list(_tokens(glob))
    except _Unmatchable:
        return NEVER
    return _regex(tokens, itertools.count())


# A rule read as tokens: a "/" (written so or escaped), another byte (a literal, `?` or a set,
# none matching "/"), a `*` (any bytes but "/"), or a gap across directories: `**/` (no
# directory or any number of them) or another `**` that is a whole component (any bytes).
SLASH, BYTE, STAR, ANY, DIRS = "slash", "byte", "star", "any", "dirs"
Token = tuple[str, bytes]  # kind, and the regular expression of a SLASH or BYTE
_GAP = {ANY: b".*", DIRS: b"(?:.*/)?"}
_SHORTEST_GAP = {ANY: b".*?", DIRS: b"(?:[^/]*/)*?"}


def _regex(tokens: list[Token], names: Iterator[int]) -> bytes:
    """The regular expression of a rule's tokens, built so that `re` tries each `*` and gap
    a few times over the name, not once for every way of matching those before it.

    The gaps split the rule into pieces of `*`s and bytes. A piece followed by another gap
    ends with "/" (Git's `**` is a gap only as a whole component), so the later it starts, the
    later it ends: kept at the first place it fits, it leaves the gap after it the most to
    take, which could reach any later place too. Only the last gap tries every place, as the
    last piece must end the name. Within a piece, a `*` is kept at the fewest bytes that let
    what follows it (up to the next `*` or the piece's end) fit: a later place would leave
    the next `*`, which stops at "/" as this one does, no more to take. Only the rule's last
    `*` tries every length."""
    pieces: list[list[Token]] = [[]]
    gaps: list[str] = []
    for kind, regex in tokens:
        if kind in _GAP:
            gaps.append(kind)
            pieces.append([])
        else:
            pieces[-1].append((kind, regex))
    parts = [_piece_regex(pieces[0], not gaps, names)]
    for number, (gap, piece) in enumerate(zip(gaps, pieces[1:], strict=True), 1):
        if number == len(gaps):
            parts.append(_GAP[gap] + _piece_regex(piece, True, names))
        else:
            parts.append(_kept(_SHORTEST_GAP[gap] + _piece_regex(piece, False, names), names))
    return b"".join(parts)


def _piece_regex(piece: list[Token], ends_rule: bool, names: Iterator[int]) -> bytes:
    """A piece's regular expression: each `*` with what follows it up to the next `*`, kept
    at its first fit, but for the last `*` of the rule (`ends_rule`), which tries them all,
    and a `*` followed by a "/", which can only end at the name's next "/" (so trying others
    costs a step each, nothing more)."""
    following: list[tuple[bytes, bool]] = [(b"", False)]  # after each `*`: regex, holds "/"
    for kind, regex in piece:
        if kind == STAR:
            following.append((b"", False))
        else:
            text, slash = following[-1]
            following[-1] = text + regex, slash or kind == SLASH
    parts = [following[0][0]]
    for number, (text, slash) in enumerate(following[1:], 1):
        if slash or (ends_rule and number == len(following) - 1):
            parts.append(b"[^/]*" + text)
        else:
            parts.append(_kept(b"[^/]*?" + text, names))
    return b"".join(parts)


def _kept(regex: bytes, names: Iterator[int]) -> bytes:
    """`regex` matched at its first fit and never tried again: an atomic group, spelled as a
    lookahead (which `re` never backtracks into) and a backreference, as Python 3.10 has no
    `(?>...)`."""
    name = b"k%d" % next(names)
    return b"(?=(?P<" + name + b">" + regex + b"))(?P=" + name + b")"


def _tokens(glob: bytes) -> Iterator[Token]:
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
                yield DIRS, b""  # "**/": no directory or any number of them
                i = j + 1
            else:
                yield (ANY if whole_component else STAR), b""
                i = j
        elif c == b"?":
            yield BYTE, b"[^/]"
            i += 1
        elif c == b"\\":
            if i + 1 == n:
                raise _Unmatchable  # a backslash that escapes nothing
            escaped = glob[i + 1:i + 2]
            yield (SLASH if escaped == b"/" else BYTE), re.escape(escaped)
            i += 2
        elif c == b"[":
            matched, i = _bracket(glob, i + 1)
            yield BYTE, _byte_set(matched - {ord("/")})
        else:
            yield (SLASH if c == b"/" else BYTE), re.escape(c)
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
