"""Keeping tracked data out of Git: one anchored entry per output in the .gitignore beside it,
and one pattern in the clone's own exclude file for the temporaries dvx writes beside data."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable

from dvx import fsutil
from dvx.errors import PathError, unreadable_error
from dvx.ignore import encode_git_lines, git_lines, read_git_file
from dvx.scm import left_out_of_workspace


def _entry(name: str) -> str:
    # Anchored to this directory, with gitignore's special characters escaped.
    escaped = "".join("\\" + c if c in "*?[]!#\\" else c for c in name)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped


def _read_or_refuse(path: str) -> bytes | None:
    """read_git_file, naming a .gitignore dvx may not read (UnreadableError) as it names one
    in tracked data: Git passes over it with a warning, so the entries it holds cannot be
    told, nor can the file be written without losing the lines it holds."""
    try:
        return read_git_file(path)
    except PermissionError:
        raise unreadable_error(os.path.relpath(path), inside=False) from None


def _read(path: str) -> bytes:
    # A .gitignore that is a symbolic link is refused (PathError), never read or written.
    # One a sparse checkout leaves out of the workspace is still the folder's: its lines
    # (teammates' data) are kept in the one written here.
    found = _read_or_refuse(path)
    if found is None:
        found = left_out_of_workspace(path)
    return found or b""


def _write(path: str, lines: list[str], old: bytes) -> None:
    # The user's lines come back byte for byte, whatever their encoding and line ends.
    fsutil.rewrite(path, encode_git_lines(lines, old))


def add_entry(data_path: str) -> str | None:
    """Ignore `data_path` in its directory's .gitignore; return the .gitignore path if changed."""
    directory, name = os.path.split(data_path)
    gitignore = os.path.join(directory, ".gitignore")
    entry = _entry(name)
    old = _read(gitignore)
    lines = git_lines(old)
    if entry in lines:
        return None
    _write(gitignore, [*lines, entry], old)
    return gitignore


def negated_after_entry(data_paths: list[str]) -> list[str]:
    """Those of `data_paths` whose entry in their directory's .gitignore a `!` rule follows:
    the one way a rule can take the data back into Git past the entry (a deeper .gitignore
    cannot re-include what is inside an ignored folder, and the exclude files weigh less).
    Each .gitignore is read once."""
    by_folder: dict[str, list[str]] = {}
    for path in data_paths:
        by_folder.setdefault(os.path.dirname(path), []).append(path)
    found = []
    for directory, paths in by_folder.items():
        lines = git_lines(_read(os.path.join(directory, ".gitignore")))
        last_rule = max((at for at, line in enumerate(lines) if line.startswith("!")),
                        default=-1)
        if last_rule < 0:
            continue
        last_at = {line: at for at, line in enumerate(lines)}  # each line's last place
        found += [path for path in paths
                  if last_at.get(_entry(os.path.basename(path)), last_rule) < last_rule]
    return found


def move_entry_last(data_path: str) -> str:
    """Put the entry of `data_path` last in its directory's .gitignore (every copy of it
    before taken out), after the rules that would take the data back into Git; the
    .gitignore path. The user's own lines stay as they are."""
    directory, name = os.path.split(data_path)
    gitignore = os.path.join(directory, ".gitignore")
    entry = _entry(name)
    old = _read(gitignore)
    _write(gitignore, [*(line for line in git_lines(old) if line != entry), entry], old)
    return gitignore


def lacking_entry(data_paths: list[str]) -> list[str]:
    """Those of `data_paths` whose folder's .gitignore in the workspace has no entry for them
    (each .gitignore read once). One dvx may not read (a symbolic link, a folder, one its
    permissions keep from dvx) is left to `status`."""
    lines_in: dict[str, set[str] | None] = {}
    lacking = []
    for data_path in data_paths:
        directory, name = os.path.split(data_path)
        if directory not in lines_in:
            try:
                found = read_git_file(os.path.join(directory, ".gitignore"))
                lines_in[directory] = set(git_lines(found or b""))
            except (PathError, PermissionError):
                lines_in[directory] = None
        lines = lines_in[directory]
        if lines is not None and _entry(name) not in lines:
            lacking.append(data_path)
    return lacking


def entered_names(directory: str, names: Iterable[str]) -> list[str]:
    """Those of `names` (in `directory`) whose entry, as dvx writes it for data, the
    directory's .gitignore holds. One dvx may not read (a symbolic link, a folder, one its
    permissions keep from dvx: `status` names it) holds none."""
    try:
        found = read_git_file(os.path.join(directory, ".gitignore"))
    except (PathError, PermissionError):
        return []
    if not found:
        return []
    lines = set(git_lines(found))
    return [name for name in names if _entry(name) in lines]


def keeping_entries(written: bytes, current: bytes, directory: str,
                    stays: Callable[[str], bool]) -> bytes:
    """`written`, a version of the .gitignore in `directory` that replaces `current`, with
    the entries of `current` it lacks for the names in `directory` that are there and that
    `stays` says stay (Git will not track them): replacing the file never lets `git add -A`
    take in data the workspace keeps."""
    lost = set(git_lines(current)) - set(git_lines(written))
    if not lost:
        return written
    try:
        present = {_entry(name): name for name in os.listdir(directory)}
    except OSError:  # no such folder: nothing there to keep ignored
        return written
    kept = [line for line in dict.fromkeys(git_lines(current))
            if line in lost and line in present and stays(present[line])]
    return encode_git_lines([*git_lines(written), *kept], written or current) if kept \
        else written


def check_readable(data_path: str) -> None:
    """Refuse now a .gitignore beside `data_path` that dvx may not read or write (a symbolic
    link, a folder: PathError; one its permissions keep dvx from reading: UnreadableError):
    before a command changes anything, not half-way."""
    _read_or_refuse(os.path.join(os.path.dirname(data_path), ".gitignore"))


def unreadable_on_the_way(root: str, rels: Iterable[str]) -> dict[str, str]:
    """{rel: the first .gitignore that Git reads for the repo-relative path `rel` (the
    root's, then each folder's down to its own) and that dvx may not read, relative to
    `root`} for those of `rels` that have one. Git passes over such a file with a warning,
    so whether Git ignores `rel` cannot be told. Each .gitignore is tried once."""
    unreadable: dict[str, bool] = {}
    found = {}
    for rel in rels:
        folders = rel.split("/")[:-1]
        for depth in range(len(folders) + 1):
            ignore_file = "/".join([*folders[:depth], ".gitignore"])
            if ignore_file not in unreadable:
                unreadable[ignore_file] = _may_not_read(os.path.join(root, ignore_file))
            if unreadable[ignore_file]:
                found[rel] = ignore_file
                break
    return found


def _may_not_read(path: str) -> bool:
    try:
        read_git_file(path)
    except PermissionError:
        return True
    except (PathError, OSError):  # a symbolic link or a folder: Git reads no rules there
        return False
    return False


def holds_only_entries(gitignore: str, names: Collection[str]) -> bool:
    """Does the .gitignore `gitignore` hold nothing but the entries dvx writes for `names`
    (data in its folder), none of the user's rules? One absent holds none; one dvx may not
    read (a symbolic link, a folder, one its permissions keep from dvx) is taken for the
    user's."""
    try:
        found = read_git_file(gitignore)
    except (PathError, PermissionError):
        return False
    entries = {_entry(name) for name in names}
    return all(line in entries for line in git_lines(found or b"") if line)


def entries_only(gitignore: str) -> list[str] | None:
    """The names (in its folder) whose entries, as dvx writes them for data, make up the
    whole .gitignore `gitignore` (blank lines aside); None when it holds a line of another
    kind (a rule of the user's), or dvx may not read it (a symbolic link, a folder)."""
    try:
        found = read_git_file(gitignore)
    except (PathError, OSError):  # unreadable: the command's read of the data names it
        return None
    return entries_only_in(found or b"")


def entries_only_in(text: bytes) -> list[str] | None:
    """`entries_only` of a .gitignore holding `text` (as read from Git's index, say)."""
    names = []
    for line in git_lines(text):
        if not line:
            continue
        name = _unescaped(line[1:]) if line.startswith("/") else ""
        if not name or "/" in name or _entry(name) != line:
            return None
        names.append(name)
    return names


def _unescaped(text: str) -> str:
    """`text` with each backslash taken off the character it escapes (`_entry` reversed)."""
    out, escaped = [], False
    for char in text:
        if char == "\\" and not escaped:
            escaped = True
            continue
        out.append(char)
        escaped = False
    return "".join(out)


def entries_held(content: bytes | None, names: Iterable[str]) -> frozenset[str]:
    """Those of `names` (data in one folder) whose entry dvx writes the .gitignore text
    `content` holds (None: no such file)."""
    lines = set(git_lines(content or b""))
    return frozenset(name for name in names if _entry(name) in lines)


def remove_entry(data_path: str) -> str | None:
    directory, name = os.path.split(data_path)
    gitignore = os.path.join(directory, ".gitignore")
    entry = _entry(name)
    old = _read(gitignore)
    lines = git_lines(old)
    if entry not in lines:
        return None
    kept = [line for line in lines if line != entry]
    if kept or not os.path.lexists(gitignore):  # one a sparse checkout left out: emptied
        _write(gitignore, kept, old)
    else:
        os.unlink(gitignore)
    return gitignore


# The names fsutil.temp_name_for gives (`.NAME.dvx-<12 hex digits>.tmp`, or
# `.CUT~dvx-<12 hex>.tmp` for a name cut short), as one pattern: what a killed dvx leaves
# beside data is never Git's. The pattern of the older, unmarked names hides a user's own file
# so named from Git: where a clone has it, the new one replaces it.
TEMPORARIES_PATTERN = ".?*[.~]dvx-" + "[0-9a-f]" * 12 + ".tmp"
OLD_TEMPORARIES_PATTERN = ".?*[.~]" + "[0-9a-f]" * 12 + ".tmp"
TEMPORARIES_COMMENT = "# dvx: temporary files an interrupted dvx command may leave beside data"


# The folder `dvx get` builds its copy in (dvx/get_scratch.py), which a killed get leaves.
GET_SCRATCH_PATTERN = ".dvx-get-*"
GET_SCRATCH_COMMENT = "# dvx: the folder an interrupted `dvx get` may leave beside what it wrote"


# This clone's own settings and credentials: .dvx/.gitignore keeps them out of Git, but a
# commit from before `dvx init` (a `git bisect` step) has no .dvx/.gitignore.
PRIVATE_SETTINGS_PATTERN = "/.dvx/config.local"
PRIVATE_SETTINGS_COMMENT = "# dvx: this clone's settings and credentials, on any commit"


def exclude_temporaries(exclude_path: str) -> bool:
    """Make Git's exclude file at `exclude_path` (`git rev-parse --git-path info/exclude`)
    ignore dvx's temporaries, the folders of interrupted gets and .dvx/config.local,
    appending each pattern once (or putting the temporaries' in place of the older one) and
    keeping every other byte there; whether
    it was changed."""
    try:
        with open(exclude_path, "rb") as f:
            old = f.read()
    except FileNotFoundError:
        old = b""
    content = old
    pattern = TEMPORARIES_PATTERN.encode("ascii")
    if OLD_TEMPORARIES_PATTERN.encode("ascii") in content.splitlines():
        content = _without_old_pattern(content.splitlines(keepends=True), pattern)
    content = _with_pattern(content, TEMPORARIES_COMMENT, TEMPORARIES_PATTERN)
    content = _with_pattern(content, GET_SCRATCH_COMMENT, GET_SCRATCH_PATTERN)
    content = _with_pattern(content, PRIVATE_SETTINGS_COMMENT, PRIVATE_SETTINGS_PATTERN)
    if content == old:
        return False
    os.makedirs(os.path.dirname(exclude_path), exist_ok=True)
    fsutil.rewrite(exclude_path, content, fsync=False)
    return True


def _with_pattern(content: bytes, comment: str, pattern: str) -> bytes:
    """The exclude file's `content` with `pattern` on a line of its own, after `comment`
    where it was not there yet."""
    if pattern.encode("ascii") in content.splitlines():
        return content
    if content and not content.endswith(b"\n"):
        content += b"\n"
    return content + f"{comment}\n{pattern}\n".encode("ascii")


def _without_old_pattern(lines: list[bytes], pattern: bytes) -> bytes:
    """The exclude file's `lines` with the new pattern in place of the older one's first line
    (a repeat of either dropped), line endings kept."""
    old = OLD_TEMPORARIES_PATTERN.encode("ascii")
    placed = pattern in (line.rstrip(b"\r\n") for line in lines)
    kept = []
    for line in lines:
        bare = line.rstrip(b"\r\n")
        if bare == old:
            if placed:
                continue
            line, placed = pattern + line[len(bare):], True
        kept.append(line)
    return b"".join(kept)
