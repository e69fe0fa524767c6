"""Progress and diagnostic messages on stderr: warnings always, info with -v, debug with -vv,
only errors with -q.

Deliberately not the standard `logging` package: dvx never routes other libraries' records,
and importing `logging` (with the traceback, threading and string modules it pulls in) costs
about a tenth of a whole no-change `dvx status`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40

_level = WARNING
_with_names = False  # -vv: prefix each message with the module that wrote it
Scrubber = Callable[[str, Iterable[BaseException | str]], str]
_scrubber: Scrubber | None = None


def set_scrubber(scrubber: Scrubber) -> None:
    """What every message goes through before it is shown (the CLI's: it hides the secrets
    a library's error may hold), given the message and the errors it may quote."""
    global _scrubber
    _scrubber = scrubber


def set_level(level: int, with_names: bool = False) -> None:
    global _level, _with_names
    _level, _with_names = level, with_names


def is_enabled_for(level: int) -> bool:
    return level >= _level


class Logger:
    """`log = get_logger(__name__)`; messages use %-style arguments, formatted only when shown."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def debug(self, message: str, *args: object, exc_info: BaseException | None = None) -> None:
        self._write(DEBUG, message, args)
        if exc_info is not None and _level <= DEBUG and sys.stderr is not None:
            import traceback

            trace = "".join(traceback.format_exception(exc_info))
            sys.stderr.write(printable(_scrubbed(trace, (exc_info, trace))))
            sys.stderr.flush()

    def info(self, message: str, *args: object) -> None:
        self._write(INFO, message, args)

    def warning(self, message: str, *args: object) -> None:
        self._write(WARNING, message, args)

    def _write(self, level: int, message: str, args: tuple[object, ...]) -> None:
        if level < _level or sys.stderr is None:  # None: the caller closed stderr
            return
        quoting = [arg for arg in args if isinstance(arg, BaseException)]
        text = printable(_scrubbed(message % args if args else message, quoting))
        sys.stderr.write(f"{self.name}: {text}\n" if _with_names else text + "\n")
        sys.stderr.flush()


def _scrubbed(text: str, quoting: Iterable[BaseException | str]) -> str:
    return text if _scrubber is None else _scrubber(text, quoting)


_UNDECODABLE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with each byte of a file name that is not valid UTF-8 (a surrogate escape,
    as Python reads such names) written as Git quotes it, `\\351`; any other lone
    surrogate as U+FFFD. Such text can be written in any locale, the same way on stdout
    and stderr."""
    return _UNDECODABLE.sub(_shown_as_git_does, text)


def _shown_as_git_does(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\{code - 0xDC00:03o}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def quoted(name: str) -> str:
    """A file name in a message, in single quotes; with `repr`'s escapes where it holds a
    line break or another character a terminal acts on. Bytes that are not UTF-8 stay as
    they are, for `printable` to write as Git does."""
    if all(ch.isprintable() or "\udc80" <= ch <= "\udcff" for ch in name):
        return f"'{name}'"
    return repr(name)


_C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f",
              "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def shown_path(path: str) -> str:
    """A path in human output (a list of files), as Git prints one: as it is, unless it holds
    a character a terminal acts on (ESC, BEL, any control character), a double quote or a
    backslash; then in double quotes, with C escapes and the UTF-8 bytes of other such
    characters in octal (`"d/p\\033]0;x\\aq"`), so a name can neither drive the terminal nor
    show as another (`tab<TAB>x` and a name written `"tab\\tx"` differ)."""
    if all((ch.isprintable() and ch not in '"\\') or "\udc80" <= ch <= "\udcff"
           for ch in path):
        return path
    return '"' + "".join(_escaped(ch) for ch in path) + '"'


def _escaped(ch: str) -> str:
    if ch in _C_ESCAPES:
        return _C_ESCAPES[ch]
    if ch.isprintable() or "\udc80" <= ch <= "\udcff":
        return ch  # a byte that is not UTF-8: `printable` writes it as Git does
    return "".join(f"\\{byte:03o}" for byte in ch.encode("utf-8", "surrogatepass"))


def shell_quote(text: str) -> str:
    r"""`text` quoted for a POSIX shell, as `shlex.quote` does; a name with bytes that are not
    UTF-8 or with characters a terminal acts on (ESC, BEL, any control character) as `$'...'`
    with each such byte as `\ooo`, so that the pasted command names the very bytes (a plain
    quote would hold the four characters `printable` writes) and printing it drives no
    terminal. The one quoting of a word in a command a message gives to paste: ruff's
    banned-api keeps `shlex.quote` and `shlex.join` out of the rest of dvx/."""
    import shlex

    if not _UNDECODABLE.search(text) and text.isprintable():
        return shlex.quote(text)
    return f"$'{''.join(_shell_escaped(ch) for ch in text)}'"


def shell_join(words: Iterable[str]) -> str:
    """A command a message gives to paste, from its words, each `shell_quote`d (as
    `shlex.join` does with `shlex.quote`). An argument that starts with '-' stays where it
    is: `pasted_args` is for arguments a command could take for its options."""
    return " ".join(shell_quote(word) for word in words)


def pasted_args(*args: str, options: str = "") -> str:
    """The arguments of a dvx command as a hint gives them, to paste into a shell: each quoted
    (shell_quote); where one starts with '-', which the command would take for one of its
    options, after `--`, with the command's `options` that a hint writes after them
    (`--unset`) moved before it: `NAME KEY --unset`, but `--unset -- -x KEY`."""
    quoted = shell_join(args)
    if any(arg.startswith("-") for arg in args):
        return f"{options} -- {quoted}" if options else f"-- {quoted}"
    return f"{quoted} {options}" if options else quoted


def _shell_escaped(ch: str) -> str:
    if 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that is not UTF-8, as surrogateescape keeps it
        return f"\\{ord(ch) - 0xDC00:03o}"
    if ch in "'\\":
        return "\\" + ch
    if ch.isprintable():
        return ch
    return "".join(f"\\{byte:03o}" for byte in ch.encode("utf-8", "surrogatepass"))


def get_logger(name: str) -> Logger:
    return Logger(name)
