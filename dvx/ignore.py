""".dvxignore: files inside tracked directories that dvx leaves out (gitignore syntax).

A `.dvxignore` file applies to its own directory and everything below it, like a `.gitignore`:
in the repository root, in any directory above a tracked directory, or inside one. Files it
ignores are never added to a directory's manifest, never reported by `status`, and never
deleted by `checkout`; a path given to `dvx add` that it ignores is refused. `.dvxignore` files
themselves are never data. Patterns are matched as Git matches them (see wildmatch.py).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Container, Iterable
from dataclasses import dataclass

from dvx import fsutil
from dvx.errors import DvxError, PathError
from dvx.paths import Walk, for_command, join_posix
from dvx.textfile import BOM, encode_like
from dvx.wildmatch import Rule, parse_rule

IGNORE_FILE = ".dvxignore"


def is_ignore_file(rel: str) -> bool:
    """Is the POSIX path `rel` a .dvxignore file? Such a file holds rules, never data: a
    walk of tracked data leaves it out, a manifest never lists it, and Git may hold it
    (`git add -f`, to share the rules) without holding the folder's data."""
    return rel.rpartition("/")[2] == IGNORE_FILE


def git_lines(data: bytes) -> list[str]:
    """The lines of a file Git reads line by line (.gitignore, .dvxignore, .gitattributes),
    split as Git splits them: at "\n" only, a "\r" before it dropped. Other characters
    Python would call line breaks (form feed, U+2028, ...) stay inside the line, and bytes
    that are not UTF-8 are kept through surrogateescape, so writing the lines back with
    `encode_git_lines` restores them byte for byte."""
    text = data.decode("utf-8", "surrogateescape").removeprefix(BOM)  # as Git skips it
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the end of the last line, not an empty line after it
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_git_file(path: str) -> bytes | None:
    """The bytes of a file Git reads line by line (.gitignore, .gitattributes), None when
    there is none. One that is a symbolic link, a folder, a FIFO, a socket or a device is
    refused (PathError), never read or waited on: Git reads no lines from it, and dvx can
    write none there (`_read_rules_file`)."""
    try:
        return _read_rules_file(path)
    except fsutil.NotRegularFileError:
        raise not_regular_git_file_error(path) from None


def refuse_gitignores_git_waits_on(root: str, synced: Iterable[str]) -> None:
    """Refuse, before Git lists the workspace of the repository at `root`, a .gitignore
    that is a FIFO (or a socket or device) beside any of `synced`, the outputs its workspace
    synced (syncstate.py), where dvx writes its lines: Git would wait on it for ever. One
    lstat per folder, never a walk: a .gitignore elsewhere is the user's own, as Git reads
    it."""
    for folder in {posixpath.dirname(path) for path in synced}:
        refuse_git_file_git_waits_on(join_posix(root, posixpath.join(folder, ".gitignore")))


def refuse_git_file_git_waits_on(path: str) -> None:
    """Refuse (PathError, as `read_git_file` does) the file Git would read line by line at
    `path` (a .gitignore) if it is a FIFO, socket or device: Git opens it as it walks the
    workspace (`git status`, `git add`, `git ls-files --others`) and waits there for ever,
    or reads a device's bytes. One lstat; anything else, or nothing there, passes."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return  # none there, or none to look at: Git reads nothing from it either
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise not_regular_git_file_error(path)


def _read_rules_file(path: str) -> bytes | None:
    """The bytes of a file read line by line (.gitignore, .gitattributes, .dvxignore), None
    when there is none. One that is a symbolic link is refused, never read: Git does not read
    such a link, and a committed one can lead to any file of the user's, whose lines dvx
    would then write back into the repository or show in its messages. One that is a folder
    (committed so) is refused too: it holds no lines, and none can be written there. One
    that is a FIFO, socket or device is NotRegularFileError at once, never waited on."""
    try:
        return fsutil.read_regular(path, follow_links=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except fsutil.NotRegularFileError:
        if _is_folder(path):
            raise folder_git_file_error(path) from None
        raise
    except OSError as e:
        if e.errno == errno.ELOOP and os.path.islink(path):
            raise linked_git_file_error(path) from None
        raise


def linked_git_file_error(path: str) -> PathError:
    why = "which dvx does not read (as Git does not read a .gitignore that is one)" \
        if os.path.basename(path) == IGNORE_FILE \
        else "which Git does not read; dvx neither reads nor writes through it"
    return PathError(
        f"'{os.path.relpath(path)}' is a symbolic link, {why}.",
        "Replace it with a file of its own (delete the link, then write there the lines it "
        "should hold), and run the command again.")


def not_regular_git_file_error(path: str) -> PathError:
    return PathError(
        f"'{os.path.relpath(path)}' is not a regular file (a FIFO, socket or device): Git "
        "reads no rules from it, and dvx cannot write its own lines there.",
        "Replace it with a file of its own (delete it, then write there the lines it should "
        "hold), and run the command again.")


def unreadable_ignore_file(root: str, rel: str, exc: OSError) -> DvxError:
    """The error for the .dvxignore `rel` of the repository at `root` that may not be read,
    or is no file to read (a FIFO, socket or device): which files it leaves out is unknown,
    so no command can tell what is data, and none goes on (not a PathError, which status
    takes for one path it will not read, and goes on)."""
    spec = for_command(root, rel)
    fix = f"Make it readable (`chmod u+r {spec}`, as its owner)" \
        if isinstance(exc, PermissionError) else \
        f"Replace it with a file of its own (`rm {spec}`, then write its rules there)"
    return DvxError(f"Cannot read the ignore file '{rel}': {exc.strerror}.",
                     f"{fix}, and run the command again.")


def folder_git_file_error(path: str) -> PathError:
    return PathError(
        f"'{os.path.relpath(path)}' is a folder, not a file: Git reads no rules from it, and "
        "dvx cannot write its own lines there.",
        "Give the folder another name (`git mv`, then commit), and run the command again.")


def _is_folder(path: str) -> bool:
    """A folder named .dvxignore holds no rules: it is data like any other folder, which Git
    does not read rules from either."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def encode_git_lines(lines: list[str], like: bytes = b"") -> bytes:
    """`lines` as a file Git reads, with the line end (Windows' if it uses it) and the byte
    order mark of `like`, the file's current content."""
    return encode_like("".join(line + "\n" for line in lines), like, "surrogateescape")


@dataclass(frozen=True)
class Match:
    path: str  # repo-relative
    source: str  # the .dvxignore file, repo-relative
    line: int
    pattern: str
    ignores: bool = True  # False: a `!` rule that takes the path back in


class DvxIgnore:
    """The .dvxignore rules of one repository, read as needed."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._specs: dict[str, list[tuple[int, str, Rule]] | None] = {}  # dir -> rules

    def _spec(self, directory: str) -> list[tuple[int, str, Rule]] | None:
        """The rules of `directory`'s own .dvxignore (repo-relative, "" for the root), with
        their line numbers and lines."""
        if directory not in self._specs:
            rel = f"{directory}/{IGNORE_FILE}" if directory else IGNORE_FILE
            path = join_posix(self.root, rel)
            try:
                data = None if _is_folder(path) else _read_rules_file(path)
            except (PermissionError, fsutil.NotRegularFileError) as exc:
                raise unreadable_ignore_file(self.root, rel, exc) from None
            if data is None:
                self._specs[directory] = None
                return None
            rules = []
            for number, line in enumerate(git_lines(data), 1):
                rule = parse_rule(line.encode("utf-8", "surrogateescape"))
                if rule is not None:
                    rules.append((number, line, rule))
            self._specs[directory] = rules
        return self._specs[directory]

    def check(self, rel: str, is_dir: bool = False) -> Match | None:
        """The rule that ignores the repo-relative path `rel`, or None."""
        match = self.deciding_rule(rel, is_dir)
        return match if match is not None and match.ignores else None

    def deciding_rule(self, rel: str, is_dir: bool = False) -> Match | None:
        """The rule that decides for the repo-relative path `rel`: one that ignores it, or a
        `!` rule that takes it back in (named by `check-ignore -d -n`, as by `git
        check-ignore -v -n`); None if no rule matches it. As in Git, a file below an ignored
        directory is ignored, and the deepest .dvxignore decides."""
        parts = rel.split("/")
        for depth in range(1, len(parts) + 1):  # an ignored parent ignores what is inside
            prefix = "/".join(parts[:depth])
            match = self._decide(prefix, is_dir or depth < len(parts))
            if match is not None and (match.ignores or depth == len(parts)):
                return match
        return None

    def _decide(self, rel: str, is_dir: bool) -> Match | None:
        parts = rel.split("/")
        decided: Match | None = None
        for depth in range(len(parts)):  # the root's rules first, the deepest last
            directory = "/".join(parts[:depth])
            rules = self._spec(directory)
            if rules is None:
                continue
            inside = "/".join(parts[depth:]).encode("utf-8", "surrogateescape")
            for number, pattern, rule in reversed(rules):  # as in Git, the last rule that matches
                if rule.matches(inside, is_dir):
                    source = f"{directory}/{IGNORE_FILE}" if directory else IGNORE_FILE
                    decided = Match(rel, source, number, pattern, ignores=not rule.negative)
                    break
        return decided

    def any_rules(self, rel_top: str, walk: Walk | None = None) -> bool:
        """Could anything below the tracked path `rel_top` be ignored? (Cheap: the usual
        answer is no, and then nothing need be matched.)"""
        parts = rel_top.split("/")
        if any(self._spec("/".join(parts[:depth])) is not None for depth in range(len(parts))):
            return True
        if self._spec(rel_top) is not None:
            return True
        return walk is not None and any(is_ignore_file(e.relpath) for e in walk.files)

    def filter_walk(self, rel_top: str, walk: Walk, recorded: Container[str] = ()) -> Walk:
        """`walk` (of the directory at repo-relative `rel_top`) without what is ignored, and
        without the .dvxignore files themselves. As in Git, a rule does not apply to a file
        the directory's recorded version has (`recorded`: its manifest's paths): it stays
        tracked until it is deleted."""
        if not self.any_rules(rel_top, walk):
            return walk

        def keep(relpath: str) -> bool:
            if is_ignore_file(relpath):
                return False
            return relpath in recorded or self.check(f"{rel_top}/{relpath}") is None

        files = [e for e in walk.files if keep(e.relpath)]
        return Walk(files, [r for r in walk.symlinks if keep(r)],
                    [r for r in walk.others if keep(r)], walk.temps, walk.folders,
                    walk.devices, [r for r in walk.reserved if keep(r)])
