"""Path rules for repository content, and walks that never follow a symlinked parent.

Paths that come from pointers, manifests or config are untrusted. A repository-relative path
is POSIX, relative, and made only of ordinary names: never '', '.', '..', '.git' or '.dvx'
(in any letter case, as case-insensitive filesystems would fold them), never a backslash or
NUL. `safe_join` is the only way such a path becomes a filesystem path.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from typing import NamedTuple, TypeVar

from dvx.errors import FormatError, PathError
from dvx.fsutil import temp_target
from dvx.get_scratch import is_scratch_folder
from dvx.logs import quoted, shell_quote

RESERVED_NAMES = frozenset({".git", ".dvx"})
GIT_DIR_NAMES = frozenset({".git"})
POINTER_SUFFIX = ".dvx"


def check_relpath(rel: object, what: str = "path") -> str:
    """Return `rel` if it is a safe repository-relative POSIX path, else raise FormatError."""
    if not isinstance(rel, str) or not rel:
        raise FormatError(f"Invalid {what} {rel!r}: it must be a non-empty string.")
    problem = relpath_problem(rel)
    if problem:
        raise FormatError(f"Invalid {what} {quoted(rel)}: {problem}.")
    return rel


def relpath_problem(rel: str) -> str | None:
    # objects/tree.py screens whole manifests for these same rules in one pass
    # (_paths_look_ordinary): a new rule here needs a mark there too.
    return _unrecordable_problem(rel) or escape_problem(rel)


def _unrecordable_problem(rel: str) -> str | None:
    """Why dvx records no path like `rel` in a pointer or manifest though it leads nowhere
    it should not: a name that some file system, reader or line-based format takes
    otherwise."""
    if not rel.isascii():
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8, as os.fsdecode keeps them
            return "it is not valid UTF-8"
    if "\\" in rel:
        return "it contains a backslash"
    if "\n" in rel or "\r" in rel:
        return "it contains a line break"
    if len(rel) > 1 and rel[1] == ":" and not rel.startswith("/"):
        return (f"it starts with '{rel[:2]}', as a Windows drive does ('C:'), and dvx records "
                "no path that starts so, so that no reader takes it for an absolute path")
    return None


def escape_problem(rel: str) -> str | None:
    """Why the POSIX relative path `rel`, joined under a root, could lead out of it or into
    Git's or dvx's own directory (a NUL byte, an absolute path, a '', '.' or '..' component,
    a `.git` or `.dvx` one in any letter case), or None."""
    return _leading_out(rel, RESERVED_NAMES)


def commit_path_problem(rel: str) -> str | None:
    """Why `rel`, a path a Git commit lists, could lead out of the project or into a Git
    directory when written where the commit has it (a NUL byte, an absolute path, a '', '.'
    or '..' component, a `.git` one in any letter case), or None. A `.dvx` folder deeper
    down (a dvx project kept as a test fixture, say) is content Git tracks like any other;
    the files of the project's own .dvx/ that are this clone's alone are the caller's to
    refuse (repo.py `private_to_this_clone`)."""
    return _leading_out(rel, GIT_DIR_NAMES)


def _leading_out(rel: str, reserved: frozenset[str]) -> str | None:
    if "\x00" in rel:
        return "it contains a NUL byte"
    if rel.startswith("/"):
        return "it is absolute"
    for part in rel.split("/"):
        if part == "..":
            return "it has a '..' component, which can lead outside its folder"
        if part in ("", "."):
            return "it has an empty or '.' component"
        if part.casefold() in reserved:
            return f"it has a reserved '{part}' component"
    return None


def join_posix(root: str, rel: str) -> str:
    """The native path of the POSIX relative path `rel` (as pointers, manifests and the lock
    file write them) under `root`. Where the native separator is "/" that is plain
    concatenation, 14x faster than os.path.join: it runs once per file of a checkout."""
    if os.sep == "/" and not root.endswith("/"):
        return f"{root}/{rel}"
    return os.path.join(root, *rel.split("/"))


def safe_join(root: str, rel: str, what: str = "path") -> str:
    """Join a checked relative path under `root`, refusing symlinked parent directories."""
    check_relpath(rel, what)
    check_no_symlinked_parent(root, rel)
    return join_posix(root, rel)


def safe_dir_join(root: str, rel: str, what: str = "directory") -> str:
    """Like safe_join, for a directory: the directory itself must not be a symlink that
    leads, or may lead, to a directory either; a link to a file is a file in the way, which
    making the directory refuses."""
    check_relpath(rel, what)
    check_no_symlinked_parent(root, rel + "/.")
    return join_posix(root, rel)


def check_no_symlinked_parent(root: str, rel: str) -> None:
    link = symlinked_parent(root, rel)
    if link is not None:
        raise PathError(
            f"Refusing to use '{rel}': its parent '{link}' is a symbolic link, which could "
            "lead outside the repository.", "Replace the link with a real directory.")


def symlinked_parent(root: str, rel: str) -> str | None:
    """The first of the folders `rel` is in (relative to `root`, as `rel` is) that is a
    symbolic link which leads, or may come to lead, to a directory; None if none is. A link
    to a file (as `cache.type symlink` places tracked data) where a folder goes leads nowhere:
    nothing can be read or written through it as a folder, so it is a file in the way, for
    the caller's own rules on files in the way. A dangling link is refused: its target may
    become a directory."""
    current = root
    for part in rel.split("/")[:-1]:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None  # nothing below a missing directory, or a file, can be a symlink yet
        if stat.S_ISLNK(mode):
            if _links_to_a_non_directory(current):
                return None  # a file in the way: nothing below it exists
            return to_posix(os.path.relpath(current, root))
    return None


def _links_to_a_non_directory(link: str) -> bool:
    try:
        return not stat.S_ISDIR(os.stat(link).st_mode)
    except OSError:  # dangling, a loop, or unreadable: it may yet lead to a directory
        return False


def check_read_stays_inside(root: str, rel: str, cache_files: str | None = None) -> None:
    """Refuse to read the file `rel` of the repository at `root` through a symbolic link (its
    own, or a parent folder that is one) leading outside the repository, or into its `.git` or
    `.dvx` (or a nested repository's): what such a link holds is no file of the repository's
    (`.dvx/config.local` holds the clone's credentials), yet would be shown, or recorded in
    dvx.lock, as one. A link to any other file inside the repository is read through, and so
    is one to a cache object (tracked data placed as a link, `cache.type symlink`): in the
    cache's object folder, `.dvx/cache/files` or `cache_files` when the cache is elsewhere."""
    check_no_symlinked_parent(root, rel)
    path = join_posix(root, rel)
    if not os.path.islink(path):
        return
    real_root, real_path = os.path.realpath(root), os.path.realpath(path)
    for objects in (os.path.join(real_root, ".dvx", "cache", "files"), cache_files):
        if objects is not None and _inside(real_path, os.path.realpath(objects)):
            return
    if os.path.commonpath([real_path, real_root]) != real_root:
        raise PathError(f"'{rel}' is a symbolic link to a file outside the repository; "
                        "refusing to read it.",
                        "Put the file itself in the repository, or link to a file inside it.")
    private = [part for part in os.path.relpath(real_path, real_root).split(os.sep)
               if part.casefold() in RESERVED_NAMES]
    if private:
        raise PathError(f"'{rel}' is a symbolic link to a file in '{private[0]}', which holds "
                        "Git's or dvx's own files, not the repository's; refusing to read it.",
                        "Put the file itself in the repository, or link to a file of the "
                        "repository outside '.git' and '.dvx'.")


def pipeline_file_is_a_link(name: str, doing: str = "read") -> PathError:
    """The refusal to `doing` dvx's own pipeline file `name` (dvx.yaml, dvx.lock) because it
    is a symbolic link: one committed in Git may lead anywhere, out of the repository too,
    and a file of the user's read as the pipeline's would be shown, or written over."""
    return PathError(f"Refusing to {doing} {name}: it is a symbolic link.",
                     "Replace the link with the file itself.")


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


V = TypeVar("V")


def overlaps(a: str, b: str) -> bool:
    """Are the POSIX paths `a` and `b` one path, or is one of them inside the other?"""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def folders_above(rel: str) -> Iterator[str]:
    """The folders holding the POSIX path `rel`, nearest first: 'a/b/c' -> 'a/b', 'a'."""
    folder = rel.rpartition("/")[0]
    while folder:
        yield folder
        folder = folder.rpartition("/")[0]


def file_in_place_of(top: str, folder: str) -> str:
    """Which of `folder` and the folders it is in (relative to `top`) a file stands where
    it goes: the first that is not a folder, as the user sees it (`folder` if each is)."""
    for rel in (*reversed([*folders_above(folder)]), folder):  # outermost first
        if not os.path.isdir(join_posix(top, rel)):
            return rel
    return folder


def at_or_below_any(rel: str, folders: Set[str]) -> bool:
    """Is the POSIX path `rel` one of `folders`, or below one?"""
    while rel:
        if rel in folders:
            return True
        rel = rel.rpartition("/")[0]
    return False


def nearest_parent_in(rel: str, by_path: Mapping[str, V]) -> V | None:
    """The value of the nearest directory above the POSIX path `rel` that `by_path` holds."""
    parent = rel.rpartition("/")[0]
    while parent:
        if parent in by_path:
            return by_path[parent]
        parent = parent.rpartition("/")[0]
    return None


def fold_name(name: str) -> str:
    """`name` as a filesystem that tells neither letter case nor Unicode normalisation apart
    sees it (exFAT, FAT, NTFS, APFS and HFS+ by default, ext4 with casefold)."""
    if name.isascii():
        return name.lower()
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


def alike_paths(paths: Sequence[str]) -> list[list[str]]:
    """The groups of spellings, among the sorted `paths` and the folders they go through, that
    name one file to such a filesystem: in the same folder, names that differ only in case
    (or normalisation), e.g. ['cs/A.txt', 'cs/a.txt'] or ['Data', 'data']. Each group
    sorted, the groups too. Two spellings fold to the same path only if, where they first
    differ, two names of one folder do; so the paths are folded whole, at once, and grouped
    by folder and name only if two of them are then equal."""
    joined = "\x00".join(paths)  # no path holds a NUL
    folded = fold_name(joined)
    if folded == joined:
        return []  # a fold changes no name: no two can become one
    folders: set[str] = set()
    for path in paths:
        parent = path.rpartition("/")[0]
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    ordered = list(folders)
    everything = folded.split("\x00") + [fold_name(folder) for folder in ordered]
    del joined, folded
    seen: set[str] = set()
    twice: set[str] = set()
    for path in everything:
        (twice if path in seen else seen).add(path)
    del seen
    spellings: dict[tuple[str, str], set[str]] = {}
    for path, folded_path in zip(itertools.chain(paths, ordered), everything, strict=True):
        if folded_path in twice:
            parent, _, name = path.rpartition("/")
            spellings.setdefault((parent, fold_name(name)), set()).add(path)
    return sorted(sorted(found) for found in spellings.values() if len(found) > 1)


def listed_spelling(top: str, rel: str) -> str | None:
    """The path, relative to `top`, under which the folders list what `rel` opens, when
    that is there at all: `rel` itself, or on a case-insensitive filesystem perhaps another
    spelling ('A.txt' opens 'a.txt'). None if nothing is there. One lstat when nothing is;
    the folders are listed only when something is."""
    if not os.path.lexists(join_posix(top, rel)):
        return None
    spelled = []
    folder = top
    for name in rel.split("/"):
        try:
            names = os.listdir(folder)
        except OSError:
            return None
        if name not in names:
            name = next((n for n in names if fold_name(n) == fold_name(name)), name)
        spelled.append(name)
        folder = join_posix(folder, name)
    return "/".join(spelled)


def to_posix(path: str) -> str:
    return path.replace(os.sep, "/")


def refuse_empty(path: str, wanted: str = "a file or directory") -> None:
    """An empty path is a mistake (an unset variable in a script), never "the current
    directory": Git refuses an empty pathspec too. The hint names only what is `wanted`:
    `.`, which some commands refuse (`dvx add .` at the top), is never offered."""
    if path == "":
        raise PathError("An empty path was given.",
                        f"Name {wanted}; a variable of a script that was not set gives an "
                        "empty one.")


def names_the_root(root: str, path: str) -> bool:
    """Does the user-given `path` name the repository's top folder itself (`.`, `..` from a
    folder below, its absolute path, through a symbolic link to it as a shell's $PWD may be)?
    A link inside the repository that leads to its top is a link, not the top."""
    full = os.path.abspath(path)
    real_root = os.path.realpath(root)
    if os.path.realpath(full) != real_root:
        return False
    folder = os.path.realpath(os.path.dirname(full))
    return not (folder == real_root or folder.startswith(real_root.rstrip(os.sep) + os.sep))


def repo_relpath(root: str, path: str) -> str:
    """Turn a user-given path (absolute or relative to the cwd) into a repo-relative POSIX path."""
    refuse_empty(path)
    full = os.path.normpath(os.path.abspath(path))
    rel = os.path.relpath(full, root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        rel = _relpath_through_links(root, full) or rel
    if rel == ".":
        raise PathError(f"'{path}' is the repository itself.",
                        "Name the files or directories inside it.")
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise PathError(
            f"'{path}' is outside the repository at {root}.",
            "dvx only tracks paths inside the repository.",
        )
    rel = to_posix(rel)
    for part in rel.split("/"):
        if part.casefold() in RESERVED_NAMES:
            raise PathError(f"'{path}' is inside '{part}', which dvx never tracks.")
    return rel


def for_command(root: str | None, rel: str, here: str | None = None) -> str:
    """The repository path `rel` as a command the user runs here takes it (repo_relpath
    reads it back): `from_here`, quoted for the shell."""
    return shell_quote(from_here(root, rel, here))


def make_readable_hint(typed: str) -> str:
    """The fix for a file this user may not read, `typed` as a command run here takes it
    (for_command): a file mode is the file's own, never committed, so only its owner (or
    whoever can change the folder holding it) can set it right."""
    return (f"Make it readable (`chmod u+r {typed}`, as its owner, or fix the folder holding "
            "it) and run the command again.")


def from_here(root: str | None, rel: str, here: str | None = None) -> str:
    """The repository path `rel` relative to the current directory (or to the folder `here`,
    where the user is when that is not it: a Git hook runs at the top), as the commands a
    message suggests name it (they run where the user is), never taken for an option. From
    outside the repository, or a current directory that is gone, or where the repository is
    not known (`root` None: a file read from a revision, or by the merge driver), it stays
    relative to the root: no path from here would be surer."""
    real_root = os.path.realpath(root) if root is not None else None
    if here is None:
        try:
            here = os.getcwd()
        except OSError:
            here = None
    shown = rel
    if real_root is not None and here is not None and (
            here == real_root or here.startswith(real_root.rstrip(os.sep) + os.sep)):
        shown = to_posix(os.path.relpath(os.path.join(real_root, rel), here))
    return "./" + shown if shown.startswith("-") else shown


def _relpath_through_links(root: str, full: str) -> str | None:
    """`full` relative to `root` when a leading part of it is a symbolic link to the root (a
    path through a link to the repository, as Git takes it), else None. Only that leading
    part is resolved: a symlinked folder inside the repository stays in the path, for the
    checks that refuse it."""
    real_root = os.path.realpath(root)
    parts = full.split(os.sep)
    for end in range(2, len(parts) + 1):
        if os.path.realpath(os.sep.join(parts[:end]) or os.sep) == real_root:
            return os.sep.join(parts[end:]) or os.curdir
    return None


class WalkEntry(NamedTuple):  # a tuple: walks create one per file, so it must be cheap
    relpath: str  # POSIX, relative to the walked directory
    path: str  # filesystem path
    stat: os.stat_result


def walked_size(entry: WalkEntry) -> int:
    return entry.stat.st_size


class FolderSums(NamedTuple):
    """The lstat of a folder's own entries, summed (`_folder_sums`)."""
    entries: int
    inodes: int
    sizes: int
    mtimes: int
    ctimes: int
    names: int  # a hash of the folder's path and its entries' names and inodes, as listed
    newest: int  # the latest mtime or ctime

    def digest(self) -> str:
        return f"{self.entries}:{self.inodes}:{self.sizes}:{self.mtimes}:{self.ctimes}:{self.names}"


@dataclass(frozen=True)
class Walk:
    files: list[WalkEntry]
    symlinks: list[str]  # relpaths of symbolic links met (never followed)
    others: list[str]  # sockets, fifos, devices: never tracked
    temps: list[str] = field(default_factory=list)  # dvx's own in-flight files: never data
    # with_dirs: each folder's FolderSums, by its path relative to the top ("" for the top),
    # and the devices of the folders below and of what links point at (`fingerprint_of_walk`)
    folders: dict[str, FolderSums] = field(default_factory=dict)
    devices: set[int] = field(default_factory=set)
    # `.git` and `.dvx` entries met (any letter case), never entered: each makes its folder
    # another repository's (a clone, a submodule, a dvx project), whose files are never data
    # of this one's (workspace.repository_inside)
    reserved: list[str] = field(default_factory=list)
    # folders a get builds in (get_scratch.is_scratch_folder), never entered: never data, and
    # one may hold what a killed `get --force` moved aside, which dvx never deletes
    scratch: list[str] = field(default_factory=list)
    # folders below the top holding nothing at all: never data, but each stands where a file
    # of a directory's version may go (a checkout removes it to place the file)
    empty: list[str] = field(default_factory=list)


def is_reserved_name(name: str) -> bool:
    """Is `name` a `.git` or `.dvx` (in any letter case): Git's or dvx's own files, never data?"""
    return len(name) == 4 and name[0] == "." and name.casefold() in RESERVED_NAMES


@dataclass(frozen=True)
class Fingerprint:
    """A summary of the lstat of a directory and everything below it, subdirectories
    included, and of the stat of what its symbolic links point at (an edit through a link
    into the cache changes only the object). Any change to a file (its content, mode or
    links) moves its ctime; adding, removing or renaming an entry moves its parent
    directory's mtime, and the hash of which names each folder lists with which inodes (a
    move or rename that moves no time, as on exFAT through FUSE, moves that); so any change
    moves the sums. `newest` is the latest mtime or ctime seen, for the racy-clean rule.
    `parts` has the same summary of each folder's own entries, by its path relative to the
    top ("" for the top): a change shows in the folder it happened in. `device` is the
    filesystem (st_dev) of everything summed, None if it spans several (a disk mounted below
    it, links into a cache elsewhere): the racy-clean rule needs to know whose clock ticked.
    `temps`: the relative paths of dvx's temporaries met on the way (`Walk.temps`), which
    status names without walking the directory again."""
    digest: str
    newest: int
    parts: dict[str, str] = field(default_factory=dict, compare=False)
    device: int | None = field(default=None, compare=False)
    temps: tuple[str, ...] = field(default=(), compare=False)
    # The `.git` and `.dvx` entries met, summed as entries of their folders, never entered
    # (`Walk.reserved`)
    reserved: tuple[str, ...] = field(default=(), compare=False)
    # The folders a get builds in met (relpaths), never entered: status names a killed one's
    scratch: tuple[str, ...] = field(default=(), compare=False)
    # The symbolic links met whose target is gone (relpaths): one into the cache (cache.type
    # symlink) to an object deleted since holds nothing
    dangling: tuple[str, ...] = field(default=(), compare=False)


def fingerprint_directory(top: str) -> Fingerprint:
    """One lstat per entry and a few additions: the cheapest full look at a directory."""
    top_stat = os.lstat(top)
    folders: dict[str, FolderSums] = {}
    devices: set[int] = set()  # a file is on its folder's: only folders and targets differ
    temps: list[str] = []
    reserved: list[str] = []
    scratch: list[str] = []
    dangling: list[str] = []
    pending = [(top, "")]
    while pending:
        directory, rel = pending.pop()
        names: list[str] = []
        stats: list[os.stat_result] = []
        with _scandir_below(directory, rel) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted since the listing
                name = entry.name
                if is_reserved_name(name):
                    reserved.append(f"{rel}/{name}" if rel else name)
                elif entry.is_dir(follow_symlinks=False):
                    if name[0] == "." and is_scratch_folder(entry.path, name):
                        scratch.append(f"{rel}/{name}" if rel else name)
                        continue  # a get's, never data (as `walk_directory`)
                    pending.append((entry.path, f"{rel}/{name}" if rel else name))
                    devices.add(st.st_dev)
                elif name[0] == "." and name.endswith(".tmp") and temp_target(name) is not None:
                    temps.append(f"{rel}/{name}" if rel else name)
                names.append(name)
                stats.append(st)
                if entry.is_symlink() and not _add_target(entry.path, stats, devices):
                    dangling.append(f"{rel}/{name}" if rel else name)
        folders[rel] = _folder_sums(rel, names, stats)
    return replace(_fingerprint(top_stat, folders, devices, temps, reserved, scratch),
                   dangling=tuple(dangling))


def _add_target(link: str, stats: list[os.stat_result], devices: set[int]) -> bool:
    """Add the stat of what the symlink `link` points at, and its device; False if it
    points at nothing."""
    try:
        st = os.stat(link)
    except OSError:
        return False
    stats.append(st)
    devices.add(st.st_dev)
    return True


def _scandir_below(directory: str, rel: str) -> contextlib.AbstractContextManager[
        Iterator[os.DirEntry[str]]]:
    """`os.scandir(directory)`; for a folder below the top (`rel` not empty) deleted since
    its parent was listed, nothing: a walk sees the files there when it comes, or none."""
    try:
        return os.scandir(directory)
    except FileNotFoundError:
        if not rel:
            raise
        return contextlib.nullcontext(iter(()))


def _folder_sums(rel: str, names: list[str], stats: list[os.stat_result]) -> FolderSums:
    """The sums of the folder `rel`'s entries: `names` and their `stats` (each link's
    followed by its target's), as listed."""
    import xxhash  # loaded on first use: keeps `dvx --help` fast

    count = inodes = sizes = mtimes = ctimes = newest = 0
    for st in stats:
        count += 1
        inodes += st.st_ino
        sizes += st.st_size
        mtimes += st.st_mtime_ns
        ctimes += st.st_ctime_ns
        if st.st_ctime_ns > newest:
            newest = st.st_ctime_ns
        if st.st_mtime_ns > newest:
            newest = st.st_mtime_ns
    # Which name has which inode, where: sums alone miss a file moved or renamed where the
    # filesystem moves no time (FUSE's exFAT leaves the folders' mtimes alone). In listing
    # order, which only a change to the folder alters; hashed whole, a pass in C.
    listed = xxhash.xxh3_64("\0".join([rel, *names]).encode("utf-8", "surrogateescape"))
    listed.update(array("Q", [st.st_ino for st in stats]))
    return FolderSums(count, inodes, sizes, mtimes, ctimes, listed.intdigest(), newest)


def fingerprint_of_walk(top_stat: os.stat_result, walk: Walk) -> Fingerprint:
    """What `fingerprint_directory` returns, from a `walk_directory(top, with_dirs=True)`
    taken after `top_stat`: adding a directory needs one walk, not two."""
    return _fingerprint(top_stat, walk.folders, walk.devices, walk.temps, walk.reserved,
                        walk.scratch)


def _fingerprint(top_stat: os.stat_result, folders: dict[str, FolderSums],
                 devices: set[int], temps: list[str], reserved: list[str],
                 scratch: list[str]) -> Fingerprint:
    count = inodes = sizes = mtimes = ctimes = names = 0
    newest = max(top_stat.st_mtime_ns, top_stat.st_ctime_ns)
    for part in folders.values():
        count, inodes, sizes = count + part.entries, inodes + part.inodes, sizes + part.sizes
        mtimes, ctimes, names = mtimes + part.mtimes, ctimes + part.ctimes, names + part.names
        newest = max(newest, part.newest)
    top_times = f"{top_stat.st_ino}:{top_stat.st_mtime_ns}:{top_stat.st_ctime_ns}"
    on = devices | {top_stat.st_dev}
    return Fingerprint(f"{count}:{inodes}:{sizes}:{mtimes}:{ctimes}:{names}:{top_times}",
                       newest, {rel: part.digest() for rel, part in folders.items()},
                       next(iter(on)) if len(on) == 1 else None, tuple(temps),
                       tuple(reserved), tuple(scratch))


def walk_sorted(top: str) -> Iterator[tuple[str, str]]:
    """Every entry below `top` that is not a directory, as (relpath, path), in sorted relpath
    order (a manifest's order), holding one directory's names at a time per level and never
    recursing. Siblings are sorted with '/' after a directory's name, which is where every
    path below that directory sorts among its siblings."""
    stack = [(top, "", iter(_sorted_names(top)))]
    while stack:
        directory, prefix, names = stack[-1]
        for name in names:
            if name.endswith("/"):
                path = f"{directory}/{name[:-1]}"
                stack.append((path, prefix + name, iter(_sorted_names(path, prefix + name))))
                break
            yield prefix + name, f"{directory}/{name}"
        else:
            stack.pop()


def _sorted_names(directory: str, below: str = "") -> list[str]:
    """The names in `directory` but `.git` and `.dvx` (`Walk.reserved`), a folder's with a
    '/' after it."""
    with _scandir_below(directory, below) as entries:
        return sorted(e.name + "/" if is_dir else e.name
                      for e, is_dir in _entries_of_data(entries))


def _entries_of_data(entries: Iterable[os.DirEntry[str]]
                     ) -> Iterator[tuple[os.DirEntry[str], bool]]:
    """(entry, is a folder) of `entries` but `.git`, `.dvx` and the folders a get builds in."""
    for e in entries:
        if is_reserved_name(e.name):
            continue
        is_dir = e.is_dir(follow_symlinks=False)
        if is_dir and e.name[0] == "." and is_scratch_folder(e.path, e.name):
            continue
        yield e, is_dir


class Listed(NamedTuple):
    """One folder `walk_readable` entered."""
    rel: str  # its path relative to the top: "" for the top itself, else ending in '/'
    path: str  # its filesystem path
    folders: list[os.DirEntry[str]]  # the folders in it, which the walk enters next
    others: list[os.DirEntry[str]]  # everything else in it: files, links, sockets...


def walk_readable(top: str, refused: list[str] | None = None) -> Iterator[Listed]:
    """Each folder below `top`, `top` included, that a workspace walk enters (never `.git`,
    `.dvx` nor a get's scratch folder, none of which `Listed` holds either), for searches
    that are not the data's own read: a folder that cannot be listed (unreadable, gone) is
    passed over, since the command's read of the data names it as it names any; those this
    user may not list are added to `refused` (their path from `top`), for a search that
    nothing else would name them to. Removing entries from `Listed.folders` before asking
    for the next folder keeps the walk out of them, as os.walk's top-down walk allows.
    Never recursing, whatever the depth; never following a symbolic link."""
    pending = [(top, "")]
    while pending:
        directory, rel = pending.pop()
        folders: list[os.DirEntry[str]] = []
        others: list[os.DirEntry[str]] = []
        try:
            with os.scandir(directory) as entries:
                for entry, is_dir in _entries_of_data(list(entries)):
                    (folders if is_dir else others).append(entry)
        except PermissionError:
            if refused is not None:
                refused.append(rel.rstrip("/"))
            continue
        except OSError:
            continue
        yield Listed(rel, directory, folders, others)
        pending.extend((e.path, f"{rel}{e.name}/") for e in folders)


def walk_directory(top: str, with_dirs: bool = False) -> Walk:
    """All regular files below `top`, with their lstat, never following symbolic links nor
    entering a `.git` or `.dvx` (`Walk.reserved`); `with_dirs`: also the lstat of every
    entry, directories included (`Walk.stats`).

    This loop runs once per file on every `status`, so it stays flat and lean: one lstat per
    entry (from scandir), no recursion, no per-file objects beyond a tuple.
    """
    files: list[WalkEntry] = []
    symlinks: list[str] = []
    others: list[str] = []
    temps: list[str] = []
    reserved: list[str] = []
    scratch: list[str] = []
    empty: list[str] = []
    folders: dict[str, FolderSums] = {}
    devices: set[int] = set()
    is_regular, is_link = stat.S_ISREG, stat.S_ISLNK
    pending = [(top, "")]
    while pending:
        directory, prefix = pending.pop()
        names: list[str] = []  # with_dirs: this folder's entries, for its FolderSums
        stats: list[os.stat_result] = []
        listed_any = False
        with _scandir_below(directory, prefix) as entries:
            for entry in entries:
                listed_any = True
                name = entry.name
                relpath = prefix + name
                if name[0] == "." and is_reserved_name(name):
                    reserved.append(relpath)
                    if not with_dirs:
                        continue
                    with contextlib.suppress(FileNotFoundError):  # summed, never entered
                        st = entry.stat(follow_symlinks=False)
                        names.append(name)
                        stats.append(st)
                        if is_link(st.st_mode):
                            _add_target(entry.path, stats, devices)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if name[0] == "." and is_scratch_folder(entry.path, name):
                        scratch.append(relpath)  # a get's folder, running or killed
                        continue
                    pending.append((entry.path, relpath + "/"))
                    if with_dirs:
                        with contextlib.suppress(FileNotFoundError):
                            st = entry.stat(follow_symlinks=False)
                            names.append(name)
                            stats.append(st)
                            devices.add(st.st_dev)
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # deleted since the listing
                if with_dirs:
                    names.append(name)
                    stats.append(st)
                    if is_link(st.st_mode):
                        _add_target(entry.path, stats, devices)
                if name[0] == "." and name.endswith(".tmp") and temp_target(name) is not None:
                    temps.append(relpath)
                elif is_regular(st.st_mode):
                    files.append(WalkEntry(relpath, entry.path, st))
                elif is_link(st.st_mode):
                    symlinks.append(relpath)
                else:
                    others.append(relpath)
        if prefix and not listed_any:
            empty.append(prefix[:-1])
        if with_dirs:
            folders[prefix[:-1]] = _folder_sums(prefix[:-1], names, stats)
    return Walk(files, symlinks, others, temps, folders, devices, reserved, scratch, empty)
