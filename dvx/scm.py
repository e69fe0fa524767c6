"""Git integration: the only module that talks to Git.

Every Git process dvx starts runs `git -C ROOT` on the repository dvx found from the current
directory, with an environment that names no other (`git_environ`): variables such as GIT_DIR
or GIT_WORK_TREE, which a shell may export for another repository and Git sets for its hooks,
never make dvx read or write another repository's index, objects or refs.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvx.errors import (
    ConfigError,
    DvxError,
    NotARepoError,
    ShallowCloneRevisionError,
    UnknownRevisionError,
    UnreadableError,
    UsageError,
)
from dvx.fsutil import absent, folder_and_parents
from dvx.logs import shell_quote
from dvx.paths import at_or_below_any, for_command, from_here

if TYPE_CHECKING:
    import subprocess


# The mode of a submodule's entry in Git's index and trees (a "gitlink": the commit it is at).
GITLINK_MODE = "160000"
# The mode of a symbolic link's entry: its blob holds where the link leads.
SYMLINK_MODE = "120000"
# The modes of a file's entry, and of an executable one's.
REGULAR_MODE, EXECUTABLE_MODE = "100644", "100755"
# Of a file read whole from a commit (`blob_at`), the most bytes read into memory.
MAX_GIT_FILE_BYTES = 1 << 30
# Git's id of the empty file, in SHA-1 and SHA-256 repositories: what an index entry that
# `git add -N` (intent to add) made holds.
EMPTY_BLOBS = ("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
               "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813")


def literal_pathspec(path: str) -> str:
    """`path` for a Git command line a user copies from a message (after `--`): shell-quoted,
    and with Git's literal magic where the name has glob or magic characters, so it matches
    that name only."""
    if path.startswith(":") or any(c in path for c in "*?[\\"):
        path = ":(literal)" + path
    return shell_quote(path)


def literal(relpaths: list[str]) -> list[str]:
    """Paths as pathspecs that match those names only: a `*`, `?`, `[` or a leading `:` in a
    file's name is not a glob or magic to Git then (`[x].dvx` never stages `x.dvx`)."""
    return [":(literal)" + p for p in relpaths]


# Characters of paths given to one git command: far below any system's limit (ARG_MAX).
_PATHS_PER_COMMAND = 64 << 10
# Past this many paths asked about, Git's index is listed whole and matched here: Git matches
# every index entry against every pathspec, which for `status` of N pointers is N x N.
_PATHSPECS_WORTH_MATCHING = 100


def _command_line_batches(args: list[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for arg in args:
        if batch and size + len(arg) > _PATHS_PER_COMMAND:
            yield batch
            batch, size = [], 0
        batch.append(arg)
        size += len(arg) + 1
    if batch:
        yield batch


def untrack_command(root: str, rel: str, then_commit: bool = False) -> str:
    """The command that stops Git tracking the path `rel` of the work tree `root` (and what is
    below it), keeping the files, as a message suggests it (`user_git`); `then_commit`: with
    the `git commit` that records it."""
    git = user_git(root)
    at_top = git != "git"
    path = literal_pathspec(from_here(root, rel, here=root if at_top else None))
    return f"{git} rm -r --cached -- {path}" + (f" && {git} commit" if then_commit else "")


def user_git(root: str) -> str:
    """How a Git command that a message suggests for the work tree `root` starts: `git`,
    run where the user is, with paths named from there (`from_here`); but `git -C ROOT`,
    paths named from the top, where Git cannot run there: in the Git directory, where Git
    runs no `add`, `rm` or `commit` ("must be run in a work tree"), or in a folder that is
    gone."""
    try:
        here = os.getcwd()
    except FileNotFoundError:
        return f"git -C {shell_quote(root)}"
    return "git" if top_git_directory_holding(root, here) is None else \
        f"git -C {shell_quote(root)}"


# The variables by which Git is told where a repository, its index or its objects are, instead
# of finding them from its working directory (`git rev-parse --local-env-vars`, but for the
# settings given with `git -c`, which name no repository).
REPOSITORY_VARIABLES = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE",
    "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_SHALLOW_FILE",
    "GIT_INTERNAL_SUPER_PREFIX"})


def git_add_command(root: str | None, paths: list[str], force: bool = False) -> str:
    """The `git add` of the repository `paths` as a command the user copies and runs where
    they are: each path from there (from the top when the command runs Git with -C, as
    `user_git` names it), shell-quoted and literal, so `[x].dvx` never stages `x.dvx` too
    and `a b.dvx` stays one name; `--sparse` in a sparse checkout, whose `git add` refuses
    a path outside its sparse set without it (a file a merge left conflicted there too);
    `force`: `-f`, for paths Git ignores. With `root` None (a file read from a revision, or
    by the merge driver), plain, each path from the top. Every message naming a `git add` of
    paths builds it here. Without `force`, a path removed that Git now ignores
    (`res/.gitignore` once `res` is ignored) is recorded by `git rm --cached` instead, after
    the rest: `git add` would stage its removal but exit 1, naming the ignored path."""
    if root is None:
        return "git add " + " ".join(literal_pathspec(from_here(None, p)) for p in paths)
    git = user_git(root)
    here = root if git != "git" else None

    def shown(names: list[str]) -> str:
        return " ".join(literal_pathspec(from_here(root, p, here=here)) for p in names)

    sparse = " --sparse" if Git(root).sparse_checkout() else ""
    ignored = set() if force else _removed_and_ignored(root, paths)
    added = [p for p in paths if p not in ignored]
    removed = [p for p in paths if p in ignored]
    add = "add" + (" -f" if force else "") + sparse
    commands = [f"{git} {add} {shown(added)}"] if added else []
    if removed:
        commands.append(f"{git} rm{sparse} --cached -q -- {shown(removed)}")
    return " && ".join(commands)


def _removed_and_ignored(root: str, paths: list[str]) -> set[str]:
    """Those of `paths` gone from the work tree that Git ignores now (by a rule for them or
    for a folder above them)."""
    gone = [p for p in paths if not os.path.lexists(os.path.join(root, p))]
    return set(Git(root).ignore_rules(gone)) if gone else set()


def git_environ(extra: dict[str, str] | None = None,
                root: str | None = None) -> dict[str, str]:
    """The environment of a Git process dvx starts: this one's without REPOSITORY_VARIABLES,
    so Git finds the repository from the directory it runs in, as dvx did; but for the
    GIT_INDEX_FILE of `root`'s own work tree (`own_index_file`), kept; plus `extra`."""
    env = {key: value for key, value in os.environ.items() if key not in REPOSITORY_VARIABLES}
    index = own_index_file(root) if root is not None else None
    if index is not None:
        env["GIT_INDEX_FILE"] = index
    return {**env, **(extra or {})}


def git_version() -> str | None:
    """The version of the `git` program dvx runs (None: there is none on PATH)."""
    import subprocess

    try:
        said = subprocess.run(["git", "--version"], capture_output=True, text=True,
                              check=True, timeout=30, env=git_environ()).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return said.strip().removeprefix("git version ") or None


def own_index_file(root: str) -> str | None:
    """GIT_INDEX_FILE, as an absolute path, when it names a file in the Git directory of the
    work tree at `root`, else None. Git gives its hooks the index it commits from: a temporary
    one under `git commit -a` or `git commit PATH`, which hold the real index locked, so what a
    pre-commit hook's dvx stages must go there. An index of another work tree or repository,
    or anywhere else, is never dvx's."""
    value = os.environ.get("GIT_INDEX_FILE")
    if not value:
        return None
    path = os.path.realpath(value)  # a relative one starts where Git ran the hook
    where = _git_dir_and_top(root)
    return path if where and os.path.dirname(path) == where[0] else None


_GIT_DIR_AND_TOP: dict[str, tuple[str, ...]] = {}


def _git_dir_and_top(root: str) -> tuple[str, ...]:
    """(Git directory, top of the work tree) of the repository at `root`, found from there
    without the variables that name another: () without Git or outside a work tree. Asked of
    Git once per root (a repository found stays where it is; a failure is asked again)."""
    import subprocess

    if root in _GIT_DIR_AND_TOP:
        return _GIT_DIR_AND_TOP[root]
    try:
        proc = subprocess.run(["git", "-C", root, "rev-parse", "--absolute-git-dir",
                               "--show-toplevel"], capture_output=True, check=False,
                              env=git_environ())
    except FileNotFoundError:
        return ()
    found = tuple(os.path.realpath(os.fsdecode(p)) for p in proc.stdout.splitlines())
    if proc.returncode != 0 or len(found) != 2:
        return ()
    _GIT_DIR_AND_TOP[root] = found
    return found


def refuse_other_repository(root: str) -> None:
    """Refuse (UsageError) when GIT_DIR or GIT_WORK_TREE is set and points Git, run here, at
    another repository or work tree than `root`, the one dvx found from here: the `git`
    commands a user runs beside dvx would then see other files than dvx does. A GIT_DIR naming
    this work tree's own Git directory, with no other GIT_WORK_TREE, is this repository,
    wherever it is run: Git gives it to its hooks and `git rebase --exec` lines, which may run
    dvx from a subfolder (where Git would take that subfolder for its work tree)."""
    if not any(os.environ.get(name) for name in ("GIT_DIR", "GIT_WORK_TREE")):
        return
    import subprocess

    wanted = list(_git_dir_and_top(root))
    if wanted and _names_own_git_dir(wanted[0], wanted[1]):
        return
    try:
        theirs = subprocess.run(["git", "rev-parse", "--absolute-git-dir", "--show-toplevel"],
                                capture_output=True, check=False)
    except FileNotFoundError:
        return  # no Git: dvx runs none either
    found = [os.path.realpath(os.fsdecode(p)) for p in theirs.stdout.splitlines()]
    if theirs.returncode == 0 and found == wanted:
        return
    names = [name for name in ("GIT_DIR", "GIT_WORK_TREE") if os.environ.get(name)]
    named = " and ".join(f"{name}={os.environ[name]}" for name in names)
    what = (f"Git run here works on the Git directory {found[0]} with the work tree {found[1]}"
            if len(found) == 2 else "Git run here finds no work tree")
    raise UsageError(f"The environment sets {named}, so {what}, but dvx works on the "
                     f"repository at '{root}': the `git` commands you run here would not see "
                     "what dvx changes.", f"Run `unset {' '.join(names)}` and then the command "
                     "again, or run it where Git works with them.")


def _names_own_git_dir(git_dir: str, top: str) -> bool:
    """Whether GIT_DIR (relative ones start here) is `git_dir`, and GIT_WORK_TREE unset or
    `top`."""
    named = os.environ.get("GIT_DIR")
    if not named or os.path.realpath(named) != git_dir:
        return False
    work_tree = os.environ.get("GIT_WORK_TREE")
    return not work_tree or os.path.realpath(work_tree) == top


def find_git_root(start: str) -> str | None:
    """The top of the Git work tree holding `start` (the nearest folder at or above it that
    holds_git_repository), or None."""
    return next((folder for folder in folder_and_parents(start)
                 if holds_git_repository(folder)), None)


def holds_git_repository(folder: str) -> bool:
    """Whether `folder` is the top of a Git work tree: its `.git` is a Git directory, or a
    file naming one (`gitdir: PATH`: a submodule, a linked worktree), even one that is gone,
    where Git stops and refuses to run (broken_git_file). Git looks past a `.git` folder
    that is no Git directory (an empty folder a dataset came with) to the work tree around
    it, and so must dvx. Read from the files, without running Git: every command asks."""
    dot_git = os.path.join(folder, ".git")
    if os.path.isdir(dot_git):
        return is_git_directory(dot_git)
    return _linked_git_dir(dot_git) is not None


def git_sees_repository_at(folder: str) -> bool:
    """Whether Git, working in the repository around `folder`, takes it for a Git repository
    of its own and never adds its files: its `.git` is a Git directory, or a file naming one
    that exists. A `.git` file naming a Git directory that is gone makes a plain folder for
    the repository around (Git adds its files), though Git refuses to run inside it
    (broken_git_file). Read from the files, as Git does, without running Git."""
    dot_git = os.path.join(folder, ".git")
    git_dir = dot_git if os.path.isdir(dot_git) else _linked_git_dir(dot_git)
    return git_dir is not None and is_git_directory(git_dir)


def broken_git_file(folder: str) -> NotARepoError | None:
    """The error for `folder` when its `.git` is a file naming a Git directory (`gitdir:
    PATH`) that is gone or no Git directory (a submodule's .git/modules/NAME moved or
    deleted with the superproject's checkout, a linked worktree's main repository removed):
    Git refuses to work there ("not a git repository"), and never looks past it to a
    repository around, so neither does dvx. None for any other `.git`."""
    dot_git = os.path.join(folder, ".git")
    if os.path.isdir(dot_git):
        return None
    git_dir = _linked_git_dir(dot_git)
    if git_dir is None or is_git_directory(git_dir):
        return None
    what = "is no Git directory" if os.path.isdir(git_dir) else "does not exist"
    return NotARepoError(
        f"'{dot_git}' names the Git directory '{os.path.normpath(git_dir)}', which {what}: "
        f"Git refuses to work in '{folder}' (\"not a git repository\"), and so does dvx.",
        "Put that Git directory back where the file says (it was moved or deleted). For a "
        "submodule, you can instead move the folder aside and run `git submodule update "
        "--init PATH` in the superproject to clone it again.")


def is_git_directory(git_dir: str) -> bool:
    """Whether Git takes `git_dir` for a Git directory, as its setup does: a HEAD naming a
    branch (`ref: refs/...`, or a link to one) or a commit, and an objects and a refs folder
    (a linked worktree's are in the Git directory its `commondir` names)."""
    if not _valid_head(os.path.join(git_dir, "HEAD")):
        return False
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            common = os.path.join(git_dir, f.read().strip())
    except (OSError, UnicodeDecodeError):
        common = git_dir
    return all(os.path.isdir(os.path.join(common, name)) for name in ("objects", "refs"))


def _valid_head(head: str) -> bool:
    """Whether the HEAD file at `head` is one Git accepts: a symbolic link or a `ref:` line
    into refs/, or a commit's full hash."""
    if os.path.islink(head):
        return os.readlink(head).startswith("refs/")
    try:
        with open(head, "rb") as f:
            first = f.read(256).strip()
    except OSError:
        return False
    if first.startswith(b"ref:"):
        return first[len(b"ref:"):].strip().startswith(b"refs/")
    return len(first) in (40, 64) and all(c in b"0123456789abcdef" for c in first)


def git_directory_holding(path: str) -> str | None:
    """The Git directory (a folder named .git, any repository's) that `path` leads into, if
    any: Git's own, never a place for dvx's files."""
    parts = os.path.realpath(path).split(os.sep)
    for depth, part in enumerate(parts):
        if part.lower() == ".git":
            return os.sep.join(parts[:depth + 1])
    return None


def top_git_directory_holding(root: str, here: str) -> str | None:
    """The Git directory at the top of the work tree `root` (its `.git` folder) when the
    folder `here` is in it, a submodule's or a linked worktree's Git directory kept there
    included; else None."""
    real_root, real_here = os.path.realpath(root), os.path.realpath(here)
    if not real_here.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    first = os.path.relpath(real_here, real_root).split(os.sep)[0]
    return os.path.join(real_root, first) if first.casefold() == ".git" else None


def work_tree_of_git_directory(folder: str) -> str | None:
    """The work tree Git works on when run in `folder`, a folder of a Git directory: the
    submodule's whose directory in .git/modules it is (Git keeps its core.worktree there);
    None where Git names none, as in a work tree's own .git ("must be run in a work tree")."""
    import subprocess

    try:
        proc = subprocess.run(["git", "-C", folder, "rev-parse", "--show-toplevel"],
                              capture_output=True, check=False, env=git_environ())
    except OSError:
        return None
    top = os.fsdecode(proc.stdout.strip())
    return os.path.realpath(top) if proc.returncode == 0 and top else None


def linked_worktree_of_git_directory(git_dir: str, here: str) -> str | None:
    """The linked worktree (`git worktree add`) whose Git directory, kept in the worktrees
    folder of the Git directory `git_dir`, holds the folder `here`: the work tree whose
    `.git` its `gitdir` file names, when that is still there; else None."""
    parts = os.path.relpath(os.path.realpath(here), git_dir).split(os.sep)
    if len(parts) < 2 or parts[0] != "worktrees":
        return None
    pointer = os.path.join(git_dir, "worktrees", parts[1], "gitdir")
    try:
        with open(pointer, "rb") as f:
            named = os.fsdecode(f.read().strip())
    except OSError:
        return None
    # Git writes it absolute, or relative to its own folder (worktree.useRelativePaths).
    dot_git = os.path.realpath(os.path.join(os.path.dirname(pointer), named))
    return os.path.dirname(dot_git) if named and os.path.exists(dot_git) else None


def git_directory_around(path: str) -> str | None:
    """The Git directory `path` is in or at, found from the files Git keeps (a HEAD file, an
    objects and a refs folder), without running Git: a work tree's .git, a submodule's, or a
    bare repository. None from the top of a work tree down (holds_git_repository), so a
    worktree kept inside a bare repository's folder is not taken for it."""
    for current in folder_and_parents(os.path.realpath(path)):
        if holds_git_repository(current):
            return None
        if (os.path.isfile(os.path.join(current, "HEAD"))
                and os.path.isdir(os.path.join(current, "objects"))
                and os.path.isdir(os.path.join(current, "refs"))):
            return current
    return None


def is_bare_git_directory(git_dir: str) -> bool:
    """Whether the Git directory `git_dir` is a bare repository's (core.bare in its config)."""
    return _is_true(_config_setting(os.path.join(git_dir, "config"), "core", "bare"))


def work_tree_seeing(folder: str) -> str | None:
    """The Git work tree whose `git add -A` would take the files dvx writes in `folder` (a
    cache or a directory remote): the innermost one holding it, unless Git ignores the
    folder there (a rule of its .gitignore files, .git/info/exclude or core.excludesFile,
    as `git check-ignore` says); None when no work tree would, as in a Git directory (which
    git_directory_holding finds). The folder need not exist yet. When Git refuses to say
    (a repository it does not trust: another user's), a ConfigError relays why and Git's
    advice; when it cannot be run, the work tree counts as seeing it."""
    real = os.path.realpath(folder)
    if git_directory_holding(real) is not None:
        return None
    top = find_git_root(real)
    if top is None:
        return None
    rel = os.path.relpath(real, top).replace(os.sep, "/")
    if rel == ".":
        return top
    try:
        ignored = Git(top).ignore_rules([rel + "/"])  # the slash: a folder, for `data/` rules
    except DvxError as exc:
        raise ConfigError(f"dvx cannot tell whether Git ignores '{real}', where it would write "
                          f"objects, in the work tree '{top}': {exc.message}",
                          exc.hint) from None  # Git's advice is in its message
    except OSError:
        return top
    return None if ignored else top


def why_git_would_add(path: str) -> str | None:
    """Why `git add -A` (or `git commit -a`) in the work tree holding the file at `path`
    would take it (whether it exists or not): that Git tracks it (a rule ignoring a tracked
    file does not stop Git, as dotfiles checkouts ignoring `*` and adding each file with
    `git add -f` have it), the `!` rule that takes it back in, or that no rule ignores it;
    None when Git ignores it and does not track it, or no work tree holds it (one inside a
    Git directory). One `git ls-files` and one `git check-ignore`. When Git refuses to say,
    its DvxError is raised; when it cannot be run, no `git add` can take the file either."""
    real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    if git_directory_holding(real) is not None:
        return None
    top = find_git_root(os.path.dirname(real))
    if top is None:
        return None
    rel = os.path.relpath(real, top).replace(os.sep, "/")
    try:
        git = Git(top)
        if git.tracked_under([rel]):
            return "Git tracks it"
        rule, ignores = git.matching_rules([rel]).get(rel, ("", False))
    except OSError:
        return None
    if ignores:
        return None
    return f"the rule {rule} takes it back into Git" if rule else "no rule of Git's ignores it"


def common_git_dir_of(root: str) -> str | None:
    """The Git directory every worktree shares when `root` is a linked worktree (`git
    worktree add`), else None. Read from the files Git keeps, without running Git: every
    command asks."""
    try:
        with open(os.path.join(root, ".git"), encoding="utf-8") as f:
            first = f.readline()
    except (IsADirectoryError, FileNotFoundError, NotADirectoryError):
        return None  # a main worktree (.git is a directory) or no Git at all
    except OSError:
        return None
    if not first.startswith("gitdir:"):
        return None
    git_dir = os.path.join(root, first[len("gitdir:"):].strip())
    try:  # only a linked worktree's Git directory names the common one
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as f:
            return os.path.normpath(os.path.join(git_dir, f.read().strip()))
    except OSError:
        return None  # a submodule's (or a --separate-git-dir) main worktree


def main_worktree_of(common_dir: str) -> str | None:
    """The main worktree of the repository whose shared Git directory is `common_dir`: the
    folder holding it when it is a `.git`, else the core.worktree its config names (a
    submodule's); None for a bare repository (core.bare, even one named `.git` inside the
    folder of its worktrees), or one made with --separate-git-dir, which Git itself cannot
    name either."""
    if is_bare_git_directory(common_dir):
        return None
    config_path = os.path.join(common_dir, "config")
    if os.path.basename(common_dir) == ".git":
        return os.path.dirname(common_dir)
    worktree = _config_setting(config_path, "core", "worktree")
    return os.path.normpath(os.path.join(common_dir, worktree)) if worktree else None


def _config_setting(config_path: str, section: str, key: str) -> str:
    """SECTION.KEY (both lowercase) in the Git config file at `config_path` (includes are not
    followed): the last value set, "true" for the key written alone (as Git reads it), ""
    when not set."""
    try:
        with open(config_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    in_section, found = "", ""
    for line in lines:
        line = line.strip()
        if line.startswith("["):
            in_section = line[1:line.find("]")].strip().lower()
            continue
        name, sep, value = line.partition("=")
        if in_section == section and name.strip().lower() == key:
            found = value.strip().strip('"') if sep else "true"
    return found


def _is_true(setting: str) -> bool:
    """Whether a Git config value (as `_config_setting` reads it) says true, as Git reads it."""
    return setting.lower() in ("true", "yes", "on", "1")


# tracked_in's answers, by (root, folder): the index's stamp they were read at, and the paths
_tracked: dict[tuple[str, str], tuple[tuple[int, ...], list[str]]] = {}


def tracked_in(root: str, folder: str) -> list[str]:
    """What the index of the Git work tree around `root` holds at or below `folder` (relative
    to `root`, in any letter case), as paths relative to `root`. Empty outside a Git work tree
    or without Git. Runs Git directly, whatever core.no_scm says: asked before any config.
    Asked again while the index file is unchanged (every repository a process opens asks), the
    answer Git gave is reused."""
    git_root = find_git_root(root)
    if git_root is None:
        return []
    stamp = _index_stamp(git_root)
    known = _tracked.get((root, folder))
    if stamp is not None and known is not None and known[0] == stamp:
        return list(known[1])
    found = _ask_tracked_in(root, folder)
    if stamp is not None and found is not None:
        _tracked[(root, folder)] = stamp, found
    return list(found or [])


def superproject_of(root: str) -> str | None:
    """The work tree of the superproject whose submodule the Git work tree at `root` is, or
    None (not a submodule, or no Git)."""
    import subprocess

    try:
        proc = subprocess.run(["git", "-C", root, "rev-parse",
                               "--show-superproject-working-tree"],
                              capture_output=True, check=False, env=git_environ(root=root))
    except FileNotFoundError:
        return None
    found = os.fsdecode(proc.stdout).strip()
    return found if proc.returncode == 0 and found else None


def _index_stamp(git_root: str) -> tuple[int, ...] | None:
    """What changes whenever Git changes the index of the work tree at `git_root` (it writes a
    new file and renames it into place): its inode, size and times; (0,) while there is none;
    None where it cannot be found without running Git."""
    dot_git = os.path.join(git_root, ".git")
    git_dir: str | None = dot_git
    if not os.path.isdir(dot_git):
        git_dir = _linked_git_dir(dot_git)
    if git_dir is None:
        return None
    try:
        st = os.stat(os.path.join(git_dir, "index"))
    except FileNotFoundError:
        return (0,)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _linked_git_dir(dot_git: str) -> str | None:
    """The Git directory a `.git` file names (`gitdir: PATH`), or None."""
    try:
        with open(dot_git, encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError):
        return None
    if not first.startswith("gitdir:"):
        return None
    return os.path.join(os.path.dirname(dot_git), first[len("gitdir:"):].strip())


def _ask_tracked_in(root: str, folder: str) -> list[str] | None:
    """Git's answer for tracked_in, or None when Git could not give one."""
    import subprocess

    try:
        proc = subprocess.run(["git", "-C", root, "ls-files", "-z", "--", f":(icase){folder}"],
                              capture_output=True, check=False, env=git_environ(root=root))
    except FileNotFoundError:
        return None
    if proc.returncode != 0:
        return None
    return [os.fsdecode(p) for p in proc.stdout.split(b"\0") if p]


def held_in_index(folder: str, relpaths: list[str]) -> set[str]:
    """Those of `relpaths` (relative to `folder`) that the index of the Git work tree holding
    `folder` holds: Git's files, whatever their names say. None of them (an empty set)
    outside a Git work tree or where Git cannot be run; all of them where Git cannot
    answer, so that a caller deleting what Git does not hold deletes nothing then.
    One `git ls-files` per command line's worth of paths."""
    listed = _index_files_at(folder, relpaths)
    return set(relpaths) if listed is None else listed & set(relpaths)


def holding_index_files(folder: str, names: list[str]) -> set[str]:
    """Those of the folders `names` (directly in `folder`) holding a file the index of the
    Git work tree around `folder` holds: Git's, edits and all. As `held_in_index`: none
    outside a Git work tree, all where Git cannot answer."""
    listed = _index_files_at(folder, names)
    if listed is None:
        return set(names)
    return {path.partition("/")[0] for path in listed if "/" in path} & set(names)


def _index_files_at(folder: str, relpaths: list[str]) -> set[str] | None:
    """The paths (relative to `folder`) of the files the index holds at or below `relpaths`:
    an empty set outside a Git work tree or without Git, None where Git cannot answer."""
    import subprocess

    top = find_git_root(folder)
    if not relpaths or top is None:
        return set()
    held: set[str] = set()
    for batch in _command_line_batches(literal(relpaths)):
        try:
            proc = subprocess.run(["git", "-C", folder, "ls-files", "-z", "--", *batch],
                                  capture_output=True, check=False,
                                  env=git_environ(root=top))
        except FileNotFoundError:
            return set()  # no Git: no index holds anything
        if proc.returncode != 0:
            return None
        held.update(os.fsdecode(p) for p in proc.stdout.split(b"\0") if p)
    return held


def left_out_of_workspace(path: str) -> bytes | None:
    """The content Git's index holds for the file at `path` when the index marks it
    skip-worktree (a sparse checkout leaves it out of the workspace), else None: the file
    is the repository's, though the workspace has none. Without Git or a Git work tree, None."""
    import subprocess

    directory = os.path.dirname(path)
    while not os.path.isdir(directory) and os.path.dirname(directory) != directory:
        directory = os.path.dirname(directory)  # a folder the sparse checkout left out
    if not is_sparse_checkout(directory):
        return None  # no sparse checkout: no Git process for each new .gitignore
    try:
        listed = subprocess.run(["git", "-C", directory, "ls-files", "-s", "-v", "-z", "--",
                                 f":(literal){os.path.relpath(path, directory)}"],
                                capture_output=True, check=False, env=git_environ())
        fields = listed.stdout.split(b"\0", 1)[0].split()
        if listed.returncode != 0 or len(fields) < 3 or fields[0] != b"S":
            return None
        blob = subprocess.run(["git", "-C", directory, "cat-file", "blob", fields[2].decode()],
                              capture_output=True, check=False, env=git_environ())
    except FileNotFoundError:
        return None
    if blob.returncode != 0:
        raise DvxError(f"Git's index holds '{path}', which this sparse checkout leaves out, "
                       f"but its content cannot be read: "
                       f"{blob.stderr.decode(errors='replace').strip()}")
    return blob.stdout


def unmerged_entries(root: str) -> list[tuple[str, int, str]] | None:
    """(path relative to `root`, stage, blob sha) of each entry at or below `root` that Git's
    index holds in conflict (`git ls-files -u`: stage 1 the merge base's, 2 ours, 3 theirs);
    None where Git cannot say (no Git, no work tree). Runs Git directly: asked only about a
    pointer found holding conflict markers, whose resolution depends on it."""
    import subprocess

    try:
        listed = subprocess.run(["git", "-C", root, "ls-files", "-u", "-z"],
                                capture_output=True, check=False, env=git_environ(root=root))
    except FileNotFoundError:
        return None
    if listed.returncode != 0:
        return None
    found = []
    for record in listed.stdout.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        fields = meta.split()  # "<mode> <blob> <stage>"
        if len(fields) == 3 and fields[2].isdigit():
            found.append((os.fsdecode(path), int(fields[2]), fields[1].decode()))
    return found


def blob_content(root: str, sha: str, max_bytes: int) -> bytes | None:
    """The bytes of the Git blob `sha` of the repository at `root`; None where Git cannot
    say, or the blob is larger than `max_bytes` (refused before it is read). Asked only
    about a side of a conflicted pointer."""
    reader = Git(root)
    try:
        return reader.small_blob(sha, max_bytes)
    except (DvxError, OSError):
        return None
    finally:
        reader.close()


def merged_by_dvx_driver(root: str, path: str) -> bool:
    """Does Git hand `path` (relative to `root`) to dvx's merge driver in this clone (its
    `merge` attribute names it, and `dvx install` set it up)? False where Git cannot say.
    Runs Git directly, as `unmerged_entries`: asked only about a conflicted pointer."""
    import subprocess

    env = git_environ(root=root)
    try:
        attr = subprocess.run(["git", "-C", root, "check-attr", "-z", "merge", "--", path],
                              capture_output=True, check=False, env=env)
        driver = subprocess.run(["git", "-C", root, "config", "--get", "merge.dvx.driver"],
                                capture_output=True, check=False, env=env)
    except FileNotFoundError:
        return False
    # -z: "<path>\0merge\0<value>\0"
    fields = attr.stdout.split(b"\0")
    return attr.returncode == 0 and len(fields) >= 3 and fields[2] == b"dvx" \
        and driver.returncode == 0


def rebase_in_progress(root: str) -> bool:
    """Is a `git rebase` (as `git pull --rebase` runs one) under way, or stopped on a
    conflict, in the work tree at `root`? False where Git cannot say, and during a `git am`,
    which keeps its state where an older rebase did (rebase-apply, holding `applying`)."""
    where = _git_dir_and_top(root)
    if not where:
        return False
    if any(os.path.exists(os.path.join(where[0], head)) for head in _OTHER_OPERATIONS):
        return False  # run by hand while a rebase is stopped: its sides are a merge's
    apply = os.path.join(where[0], "rebase-apply")
    return (os.path.isdir(os.path.join(where[0], "rebase-merge"))
            or (os.path.isdir(apply) and not os.path.exists(os.path.join(apply, "applying"))))


def merging_for_a_rebase(root: str) -> bool:
    """Is the merge Git runs now (a merge driver's caller) a step of a rebase, rather than a
    cherry-pick, merge or revert run by hand while a rebase is stopped? Git writes those
    commands' files only once their merge is done, but the rebase's steps run with
    GIT_CHERRY_PICK_HELP set (the apply backend: its own folder)."""
    if not rebase_in_progress(root):
        return False
    where = _git_dir_and_top(root)
    return "GIT_CHERRY_PICK_HELP" in os.environ or (
        where is not None and os.path.isdir(os.path.join(where[0], "rebase-apply")))


@dataclass(frozen=True)
class StoppedOperation:
    """A Git operation stopped on a conflict, as a hint names it to the user. Its commands
    are Git's arguments, for a hint to start with the `git` that runs where the user is
    (`user_git`)."""
    name: str  # "merge", "cherry-pick": what "undoes the ..." or "a ... stopped over it" names
    go_on: str  # the command that goes on with it once no file is left in conflict
    does: str  # what that command does
    abort: str  # the command that abandons it
    again: str  # how it is run again once abandoned

    def goes_on(self, git: str = "git") -> str:
        """"`git commit` concludes the merge", run by `git`."""
        return f"`{git} {self.go_on}` {self.does}"


MERGING = StoppedOperation("merge", "commit", "concludes the merge", "merge --abort",
                           "merge again")
# By the file Git's directory holds while each is under way, looked for in this order: a
# merge, cherry-pick or revert run by hand while a rebase is stopped is the one to finish.
_STOPPED = (("MERGE_HEAD", MERGING),
            ("CHERRY_PICK_HEAD", StoppedOperation(
                "cherry-pick", "cherry-pick --continue", "goes on with the cherry-pick",
                "cherry-pick --abort", "cherry-pick again")),
            ("REVERT_HEAD", StoppedOperation(
                "revert", "revert --continue", "goes on with the revert", "revert --abort",
                "revert again")))
# What Git's directory holds while a merge, cherry-pick or revert the user ran is under way:
# a rebase's own steps write none of them (REBASE_HEAD instead).
_OTHER_OPERATIONS = tuple(head for head, _ in _STOPPED)
_REBASING = StoppedOperation("rebase", "rebase --continue", "goes on with the rebase",
                             "rebase --abort", "run the rebase (or `git pull --rebase`) again")
_APPLYING = StoppedOperation("`git am`", "am --continue", "goes on with the patches",
                             "am --abort", "apply the patches again")


def stopped_operation(root: str | None) -> StoppedOperation | None:
    """The Git operation under way in the work tree at `root` that a conflict stops: a
    merge, cherry-pick, revert, rebase (as `git pull --rebase` runs one) or `git am`. None
    where Git cannot say, and where none is recorded: a conflicted `git stash pop` (or `git
    checkout -m BRANCH`) records none, so its conflict is resolved where it stands, and no
    abort undoes it."""
    where = _git_dir_and_top(root) if root is not None else ()
    if not where or root is None:
        return None
    for head, operation in _STOPPED:
        if os.path.exists(os.path.join(where[0], head)):
            return operation
    if rebase_in_progress(root):
        return _REBASING
    if os.path.exists(os.path.join(where[0], "rebase-apply", "applying")):
        return _APPLYING
    return None


def replaying_a_commit(root: str | None) -> StoppedOperation | None:
    """The Git operation under way at `root` (`stopped_operation`) when the commit being made
    concludes one that brought another side's files (a merge, cherry-pick, revert, `git am`,
    or a rebase's pick stopped on a conflict); None for a rebase stopped for the user (an
    `edit` or `break` line), whose staged files are the user's own, as outside any."""
    operation = stopped_operation(root)
    if operation is not _REBASING or root is None:
        return operation
    where = _git_dir_and_top(root)
    if not where or not os.path.exists(os.path.join(where[0], "REBASE_HEAD")) \
            or os.path.exists(os.path.join(where[0], "rebase-merge", "amend")):
        return None
    return operation


def abort_and_again(root: str) -> str | None:
    """How to abandon the Git operation stopped on a conflict in the work tree at `root`,
    and run it again (``"`git merge --abort` and merge again"``), as one names it to the
    user; None where no operation is under way that an abort undoes (`stopped_operation`):
    after a conflicted `git stash pop` the stash entry is kept."""
    operation = stopped_operation(root)
    return f"`git {operation.abort}` and {operation.again}" if operation else None


# Git names the sides of a conflict from the branch it builds on: in a merge --ours is one's
# own branch, but a rebase builds on the upstream and replays one's commits onto it.
REBASE_SIDES = ("A rebase is under way (`git pull --rebase` runs one), so Git's --ours is the "
                "upstream it replays your commits onto and --theirs your own commit.")


def rebase_sides_note(root: str | None) -> str:
    """A sentence to end a hint naming `git checkout --ours`/`--theirs` with (a space first)
    while a rebase under way at `root` swaps what they take; "" otherwise."""
    return f" {REBASE_SIDES}" if root is not None and rebase_in_progress(root) else ""


def going_on_note(root: str | None, path: str, theirs: str | None,
                  also: Iterable[tuple[str, int, str]] = ()) -> str:
    """A sentence (a space first) to end the hint of the conflicted file `path` (relative to
    `root`) with: what goes on with the Git operation stopped on it once no file is left in
    conflict (`git commit`, `git rebase --continue`, ...); `theirs`: the blob Git's index
    holds as its theirs side. "" where Git cannot say. `also`: the other unmerged entries
    Git's index lists (`unmerged_entries`), whose notes a caller may ask for next: a stash
    entry is looked for under all of them at once (`going_on_notes`)."""
    wanted = {other: blob for other, stage, blob in also if stage == 3}
    wanted.pop(path, None)
    return going_on_notes(root, {path: theirs, **wanted})[path]


def going_on_notes(root: str | None, theirs: dict[str, str | None]) -> dict[str, str]:
    """`going_on_note` of each conflicted file of `theirs` ({path relative to `root`: the
    blob Git's index holds as its theirs side}). A `git stash pop` or `apply` (or a pull's
    autostash) records no operation, and Git keeps the stash entry when applying it
    conflicts: where the theirs side of a file is a stash entry's, its note says so, which
    side --theirs takes there, and the `git stash drop` that drops the entry once the
    conflict is resolved. The stash entries are looked for once, under every file."""
    where = _git_dir_and_top(root) if root is not None else ()
    if not where or root is None:
        return dict.fromkeys(theirs, "")
    operation = stopped_operation(root)
    if operation is not None:
        return dict.fromkeys(theirs,
                             f" Once no file is left in conflict, {operation.goes_on()}.")
    entries = _stash_entries_holding(root, where[0], {
        path: blob for path, blob in theirs.items() if blob is not None})
    return {path: _stash_note(entries.get(path)) for path in theirs}


def _stash_note(entry: int | None) -> str:
    """The note of a conflict whose theirs side is stash entry number `entry`; "" for None."""
    if entry is None:
        return ""
    named = "" if entry == 0 else f" stash@{{{entry}}}"
    return (f" The conflict comes from applying a stash entry (`git stash pop` or `apply`), "
            f"so Git's --theirs is the stashed version and --ours the commit it was applied "
            f"to. Git keeps the entry when applying it conflicts: once resolved, `git stash "
            f"drop{named}` drops it.")


# root -> (what the stash's reflog was when read, the stash entries' commits, newest first):
# a command asks once per conflicted file, and reading them again costs a Git process each.
_STASHES: dict[str, tuple[tuple[bytes | None, bytes | None], tuple[str, ...]]] = {}
# (root, stash commit, path relative to root) -> the blob it holds there ("" for none): a
# commit never changes, so neither does the answer.
_STASHED_BLOBS: dict[tuple[str, str, str], str] = {}


def _stash_entries_holding(root: str, git_dir: str, wanted: dict[str, str]) -> dict[str, int]:
    """{path: the number of the newest stash entry (0 for `stash@{0}`) whose work tree holds
    the blob `wanted[path]` at `path` (relative to `root`)}, for each path one does; Git's
    directory: `git_dir`. One `git cat-file --batch-check` over every entry and path not
    asked before."""
    import subprocess

    wanted = {path: blob for path, blob in wanted.items() if "\n" not in path
              and "\r" not in path}  # a name `cat-file --batch-check`, a line each, cannot take
    stashes = _stash_commits(root, git_dir) if wanted else ()
    asked = [(stash, path) for stash in stashes for path in wanted
             if (root, stash, path) not in _STASHED_BLOBS]
    if asked:
        try:
            held = subprocess.run(
                ["git", "-C", root, "cat-file", "--batch-check=%(objectname)"],
                input="".join(f"{stash}:./{path}\n" for stash, path in asked).encode(),
                capture_output=True, check=False, env=git_environ(root=root))
        except FileNotFoundError:
            return {}
        answers = held.stdout.decode(errors="replace").splitlines()
        if held.returncode != 0 or len(answers) != len(asked):
            return {}
        for (stash, path), answer in zip(asked, answers, strict=True):
            _STASHED_BLOBS[root, stash, path] = answer.split()[0] if answer.split() else ""
    found = {}
    for path, blob in wanted.items():
        number = next((number for number, stash in enumerate(stashes)
                       if _STASHED_BLOBS.get((root, stash, path)) == blob), None)
        if number is not None:
            found[path] = number
    return found


def _stash_commits(root: str, git_dir: str) -> tuple[str, ...]:
    """The commits of the stash entries of the repository at `root` (its Git directory:
    `git_dir`), newest first (`git log -g refs/stash`); () where Git cannot say. Read again
    only once the stash's reflog changed: where the files Git keeps it in (or its reftable
    list, which every update of a ref rewrites) hold what they held when last read. Where
    neither exists there is no stash entry, and no Git process is run."""
    import subprocess

    commondir = _bytes_or_none(os.path.join(git_dir, "commondir"))  # a linked worktree's
    common = os.path.join(git_dir, os.fsdecode(commondir.strip())) if commondir else git_dir
    state = (_bytes_or_none(os.path.join(common, "logs", "refs", "stash")),
             _bytes_or_none(os.path.join(common, "reftable", "tables.list")))
    if state == (None, None):
        return ()
    known = _STASHES.get(root)
    if known is not None and known[0] == state:
        return known[1]
    try:
        listed = subprocess.run(["git", "-C", root, "log", "-g", "--format=%H", "refs/stash",
                                 "--"], capture_output=True, check=False,
                                env=git_environ(root=root))
    except FileNotFoundError:
        return ()
    stashes = tuple(listed.stdout.decode().split()) if listed.returncode == 0 else ()
    _STASHES[root] = (state, stashes)
    return stashes


def _bytes_or_none(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def commit_holding(root: str, path: str, data: bytes) -> str | None:
    """The commit that last changed the file `path` (relative to `root`) when HEAD holds it
    as `data`: such a file was committed so, and no merge left it so here. None otherwise,
    or where Git cannot say. Runs Git directly: asked only about a pointer or dvx.lock found
    holding conflict markers outside a merge, whose fix depends on it."""
    import subprocess

    env = git_environ({"GIT_LITERAL_PATHSPECS": "1"}, root=root)
    try:
        held = subprocess.run(["git", "-C", root, "cat-file", "blob", f"HEAD:./{path}"],
                              capture_output=True, check=False, env=env)
        if held.returncode != 0 or held.stdout != data:
            return None
        last = subprocess.run(["git", "-C", root, "log", "-1", "--format=%H", "HEAD", "--",
                               path], capture_output=True, check=False, env=env)
    except FileNotFoundError:
        return None
    commit = last.stdout.decode().strip()
    return commit if last.returncode == 0 and commit else None


def is_sparse_checkout(directory: str) -> bool:
    """Whether the Git worktree around `directory` is a sparse checkout: it has
    sparse-checkout patterns (the file `git sparse-checkout` writes into its Git directory),
    and its config does not turn them off (`git sparse-checkout disable` leaves the file and
    sets core.sparseCheckout false). Read from Git's files without running Git: only a
    sparse checkout leaves a tracked file out of the workspace, and every command asks."""
    found = _worktree_git_dir(directory)
    if found is None or not os.path.isfile(os.path.join(found[1], "info", "sparse-checkout")):
        return False
    return _core_setting(*found, "sparsecheckout").lower() not in ("false", "no", "off", "0")


def is_cone_sparse_checkout(directory: str) -> bool:
    """Whether the sparse checkout around `directory` is in cone mode (core.sparseCheckoutCone,
    which `git sparse-checkout set` writes; `--no-cone` writes false): `git sparse-checkout
    add` then takes folders, else patterns, where a folder brings back none of the files a
    pattern before it leaves out."""
    found = _worktree_git_dir(directory)
    return found is not None and _is_true(_core_setting(*found, "sparsecheckoutcone"))


def _worktree_git_dir(directory: str) -> tuple[str, str] | None:
    """The top of the Git worktree around `directory` and its Git directory (the one its
    .git file names, in a linked worktree or a submodule); None outside of any."""
    top = find_git_root(directory)
    if top is None:
        return None
    dot_git = os.path.join(top, ".git")
    git_dir = dot_git if os.path.isdir(dot_git) else _linked_git_dir(dot_git)
    return None if git_dir is None else (top, git_dir)


def ignores_case(root: str) -> bool:
    """Whether Git takes paths differing only in letter case for one in the worktree around
    `root`: core.ignorecase, which Git sets when it makes a repository on a file system that
    does. Read from Git's files without running Git."""
    found = _worktree_git_dir(root)
    return found is not None and _is_true(_core_setting(*found, "ignorecase"))


def _core_setting(top: str, git_dir: str, key: str) -> str:
    """The core `key` (core.sparseCheckout, ...) as the worktree at `top` (its Git directory:
    `git_dir`) sets it: in its config.worktree (where `git sparse-checkout` writes it) when
    the repository reads those, else in the config its worktrees share; "" when neither sets
    it (a global config may: for core.sparseCheckout the patterns then decide)."""
    shared = os.path.join(common_git_dir_of(top) or git_dir, "config")
    value = ""
    if _is_true(_config_setting(shared, "extensions", "worktreeconfig")):
        value = _config_setting(os.path.join(git_dir, "config.worktree"), "core", key)
    return value or _config_setting(shared, "core", key)


class _CatFile:
    """One long-lived `git cat-file --batch` (or `--batch-check`, for headers alone) of the
    repository at `root`: one process however many objects are read. Threads take turns (a
    question and its answer are one exchange on the pipes); an exchange cut short (an error,
    Ctrl-C) ends the process, as the next answer could be the rest of this one (`broken`).
    The process ends with `close`, or when this object is collected."""

    def __init__(self, root: str, headers_only: bool) -> None:
        import subprocess
        import weakref

        self._lock = threading.Lock()
        self.broken = False
        self._proc = subprocess.Popen(
            ["git", "-C", root, "cat-file", "--batch-check" if headers_only else "--batch"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=git_environ(root=root))
        # Git's last words say why it stopped (a partial clone's promisor remote unreachable):
        # its last lines are kept, read as they come so that Git never waits on a full pipe.
        self._said: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)
        self._listener = threading.Thread(target=_keep_last_lines,
                                          args=(self._proc.stderr, self._said),
                                          name="dvx-git-cat-file-stderr", daemon=True)
        self._listener.start()
        self._end = weakref.finalize(self, _end_cat_file, self._proc)

    def header(self, name: str) -> tuple[str, str, int] | None:
        """(sha, type, size) of the object `name` (a sha or `commit:path`), None if none."""
        with self._exchange():
            return self._ask(name)

    def read(self, name: str) -> tuple[str, bytes] | None:
        """(type, content) of the object `name` (--batch), None if none."""
        with self._exchange():
            header = self._ask(name)
            if header is None:
                return None
            assert self._proc.stdout is not None
            data = self._proc.stdout.read(header[2] + 1)  # and the newline after it
            if len(data) != header[2] + 1:
                raise self._stopped()
            return header[1], data[:header[2]]

    def feed(self, name: str, consume: Callable[[bytes], object]) -> bool:
        """Give the content of the object `name` (--batch) to `consume` a chunk at a time,
        so that a large blob is never held whole; False if there is no such object."""
        with self._exchange():
            header = self._ask(name)
            if header is None:
                return False
            assert self._proc.stdout is not None
            left = header[2]
            while left:
                chunk = self._proc.stdout.read(min(left, _CHUNK_BYTES))
                if not chunk:
                    raise self._stopped()
                consume(chunk)
                left -= len(chunk)
            if self._proc.stdout.read(1) != b"\n":
                raise self._stopped()
            return True

    @contextlib.contextmanager
    def _exchange(self) -> Iterator[None]:
        with self._lock:
            if self.broken:
                raise self._stopped()
            try:
                yield
            except BaseException:
                self.broken = True
                self.close()
                raise

    def _ask(self, name: str) -> tuple[str, str, int] | None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(os.fsencode(name) + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise self._stopped() from None
        line = self._proc.stdout.readline()
        if not line:
            raise self._stopped()
        fields = line.split()
        if len(fields) != 3 or not fields[2].isdigit():
            return None  # "NAME missing", "NAME ambiguous"
        return fields[0].decode(), fields[1].decode(), int(fields[2])

    def _stopped(self) -> DvxError:
        """The error for a `git cat-file` that stopped, with the last line Git wrote."""
        import subprocess

        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)  # its output has ended: it is exiting
        self._listener.join(timeout=5)
        why = next((line for line in reversed(self._said) if line), "")
        return DvxError("git cat-file stopped unexpectedly" + (f": {why}" if why else "."))

    def running(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        self._end()


def refuse_unreadable_files(root: str, relpaths: list[str], tracked: Iterable[str] = ()
                            ) -> None:
    """Refuse (UnreadableError) a commit of the workspace at `root` that would add the new
    files `relpaths`, or read again the `tracked` files (those changed since the user's index
    recorded them: `Git.changed_tracked_files`), some of which this user may not read: Git
    could not add them. Each is opened, not judged by its mode, which says nothing of root
    or of ACLs."""
    new = [rel for rel in relpaths if not _readable(os.path.join(root, rel))]
    old = [rel for rel in tracked if not _readable(os.path.join(root, rel))]
    unreadable = old + new
    if not unreadable:
        return
    named, shown = _unreadable_named(root, old, new)
    typed = " ".join(for_command(root, rel) for rel in shown)  # the files named, each
    them = "it" if len(unreadable) == 1 else "them"
    gitignore = ", or name what is not the project's in .gitignore" if new else ""
    raise UnreadableError(
        f"Git may not read {named}, which an experiment's commit records with the workspace.",
        f"Make {them} readable (`chmod u+r {typed}`, as the owner){gitignore}; then run the "
        "command again.")


def _unreadable_named(root: str, tracked: list[str], new: list[str]) -> tuple[str, list[str]]:
    """The files of a refused commit of the workspace, by kind: `tracked` ones, changed
    since the user's index recorded them, then `new` ones, in words, five named at most (one
    of each kind at least); and those named."""
    parts = []
    named_paths: list[str] = []
    room = 5
    for paths, what in ((tracked, "changed since Git last recorded {}"),
                        (new, "new in the workspace (Git neither tracks nor ignores {})")):
        if not paths:
            continue
        shown = paths[:max(room, 1)]
        named_paths += shown
        room -= len(shown)
        more = f" and {len(paths) - len(shown)} more" if len(paths) > len(shown) else ""
        named = ", ".join(f"'{from_here(root, rel)}'" for rel in shown)
        parts.append(f"{named}{more}, {what.format('it' if len(paths) == 1 else 'them')}")
    return ", and ".join(parts), named_paths


def _readable(path: str) -> bool:
    """Can this user open the file at `path` for reading (one that is gone, or is no regular
    file, is not Git's to read: it is left to Git)?"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except PermissionError:
        return False
    except OSError:
        return True
    os.close(fd)
    return True


_ADVICE_LINES = 8  # of a failed Git command's stderr, the lines kept after its first


def git_failure(command: str, proc: subprocess.CompletedProcess[bytes]) -> DvxError:
    """The error of a Git command that failed: its first line, and Git's advice after it
    (`git config --global --add safe.directory ...`) as the hint, on one line each."""
    lines = [" ".join(line.split()) for line in proc.stderr.decode(errors="replace").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return DvxError(f"git {command} failed: exit status {proc.returncode}.")
    advice = lines[1:1 + _ADVICE_LINES] + (["..."] if len(lines) > 1 + _ADVICE_LINES else [])
    ended = lines[0].endswith((".", "!", "?"))
    return DvxError(f"git {command} failed: {lines[0]}{'' if ended else '.'}",
                    " ".join(advice) or None)


_STDERR_LINES = 5  # of a `git cat-file`'s stderr, the last ones kept
_CHUNK_BYTES = 1 << 20  # of a blob streamed from `git cat-file`, read at a time
_STDERR_LINE_BYTES = 1000  # of each, the first ones kept


def _keep_last_lines(pipe: Any, said: collections.deque[str]) -> None:
    """Read `pipe` to its end, keeping its last lines (each cut short) in `said`."""
    with contextlib.suppress(OSError, ValueError), pipe:
        while True:
            line = rest = pipe.readline(_STDERR_LINE_BYTES)
            if not line:
                return
            while len(rest) == _STDERR_LINE_BYTES and not rest.endswith(b"\n"):
                rest = pipe.readline(_STDERR_LINE_BYTES)  # the rest of a long one is dropped
            said.append(line.decode(errors="replace").strip())


def _end_cat_file(proc: Any) -> None:
    """End a `git cat-file` whatever it was doing: no more questions, no one reading what it
    still writes (so it stops), and killed if it does not end at once."""
    import subprocess

    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class StagedFile:
    """A file the commit being made adds or changes, as Git's index holds it."""
    path: str
    mode: str  # Git's: "100644", "100755", SYMLINK_MODE, GITLINK_MODE
    blob: str  # the object of its content (a symbolic link's: where it leads)


@dataclass(frozen=True)
class Worktree:
    """A worktree as `git worktree list` names it."""
    path: str
    prunable: bool  # Git finds its folder gone (moved, deleted, or on a disk not mounted)
    locked: bool  # `git worktree lock`: `git worktree prune` leaves it


@dataclass(frozen=True)
class SharedRemote:
    """A Git remote teammates may push the history they share to (`Git.shared_remotes`),
    with its fetch refspecs."""
    refspecs: tuple[str, ...]
    # Each branch it holds is shared history (a branch here tracks it, or none tracks any);
    # else only those its refspecs fetch are (a fork's upstream fetching every branch but
    # `^refs/heads/wip/*` leaves those to their authors, as `git remote add -t` would).
    every_branch: bool

    def shares(self, branch: str) -> bool:
        """Whether the branch `branch` (refs/heads/NAME) it holds is shared history."""
        return self.every_branch or _fetches(self.refspecs, branch)


@dataclass(frozen=True)
class RefTarget:
    """What a ref names: a commit, directly or through annotated tags as Git peels them
    (`REF^{commit}`), or else nothing a commit's reader can use (`commit` None)."""
    ref: str  # the full ref name
    kind: str  # the type of the object it names ("commit", "tag", "tree", "blob"), or "missing"
    commit: str | None
    created: int = 0  # the commit's committer time, Unix seconds

    @property
    def names(self) -> str:
        """What a ref that names no commit names, for messages."""
        if self.kind == "missing":
            return "an object missing from the repository"
        return "an annotated tag of no commit" if self.kind == "tag" else f"a {self.kind}"


def _committer_time(commit: bytes) -> int:
    """The committer time of a commit object's bytes (0 if it has none, as Git shows)."""
    for line in commit.split(b"\n\n", 1)[0].split(b"\n"):
        if line.startswith(b"committer "):
            fields = line.rsplit(b" ", 2)
            return int(fields[1]) if len(fields) == 3 and fields[1].isdigit() else 0
    return 0


# The sequencer's words for a step that picks a commit (`git rebase -i` spells them short too).
_PICKS = ("pick", "p", "edit", "e", "reword", "r", "fixup", "f", "squash", "s")


def _first_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline()
    except OSError:
        return ""


@dataclass(frozen=True)
class MergedCommits:
    """The commits a merge Git runs merges: its merge bases, and its sides, ours first."""
    bases: tuple[str, ...]
    sides: tuple[str, ...]


@dataclass(frozen=True)
class PathInMerge:
    """Whether a merge's bases (any of them) and each of its sides, ours first, hold a file
    at one path."""
    in_a_base: bool
    in_sides: tuple[bool, ...]

    @property
    def paired(self) -> bool:
        """Did Git's rename detection give the path a version of another path? Then the
        base or a side has no file there."""
        return not (self.in_a_base and all(self.in_sides))


# The heads Git leaves while it stops inside a merge, cherry-pick, revert or rebase (a
# conflict elsewhere): what it brought from there is in the workspace, not in HEAD.
OPERATION_HEADS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "REBASE_HEAD")


class Git:
    def __init__(self, root: str) -> None:
        self.root = root
        self._batches: dict[bool, _CatFile] = {}  # headers_only -> its cat-file
        self._batches_lock = threading.Lock()
        self._recent_heads: dict[int, list[str]] = {}  # moves -> recent_heads(moves)
        self._head_moves: dict[int, list[tuple[str, str]]] = {}
        self._sparse: bool | None = None  # sparse_checkout(), read once
        self._operation_heads: tuple[str, ...] | None = None  # operation_heads(), read once
        # left_out(relpaths) by its relpaths: the index's stamp it was read at, and the answer
        self._left_out: dict[tuple[str, ...], tuple[tuple[int, ...], list[str]]] = {}

    def _run(self, *args: str, stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> bytes:
        proc = self._completed(*args, stdin=stdin, env=env)
        if proc.returncode != 0:
            raise git_failure(args[0], proc)
        return proc.stdout

    def _completed(self, *args: str, stdin: bytes | None = None,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        import subprocess

        try:
            return subprocess.run(["git", "-C", self.root, *args], capture_output=True,
                                  check=False, input=stdin, env=git_environ(env, self.root))
        except FileNotFoundError:
            raise DvxError("The 'git' program was not found.", "Install Git, or use "
                           "`dvx init --no-scm` for a repository without Git.") from None

    def ls_files(self, *args: str) -> list[str]:
        out = self._run("ls-files", "-z", "--full-name", *args)
        return [os.fsdecode(p) for p in out.split(b"\0") if p]

    def untracked_folders_named(self, prefix: str, under: str = "") -> list[str]:
        """The folders Git does not track, ignored or not, whose name starts with `prefix`
        (no glob characters in it), at or below the folder `under` (from the top of the work
        tree; "" for all of it), never in `under`'s `.dvx` (its cache). Paths from the top.
        A walk as `git status` takes: never into a folder Git ignores whole (tracked data, a
        virtualenv), so it costs what the files Git sees cost, whatever lies in those. Those
        Git does not ignore are found by the files in them; those it ignores, by name, where
        no folder around them is ignored."""
        base = f"{under}/" if under else ""
        cache = f":(top,exclude){base}.dvx"
        seen = self.ls_files("--others", "--exclude-standard", "--",
                             f":(top,glob){base}**/{prefix}*/*", cache)
        ignored = self.ls_files("--others", "--ignored", "--exclude-standard", "--directory",
                                "--", f":(top,glob){base}**/{prefix}*", cache)
        folders = {p.rpartition("/")[0] for p in seen} | {
            p.rstrip("/") for p in ignored if p.endswith("/")}
        return sorted(f for f in folders if f.rpartition("/")[2].startswith(prefix))

    def left_out(self, relpaths: list[str]) -> list[str]:
        """The files at or below `relpaths` that Git's index holds and this sparse checkout
        leaves out of the workspace (marked skip-worktree): the repository's, though the
        workspace has none of them. None outside a sparse checkout. Asked again while the
        index is unchanged (status and repro ask for their stages' deps), Git's answer is
        reused, and so is its answer for the whole index (status asks for it) to any
        question."""
        if not self.sparse_checkout():
            return []
        asked = tuple(relpaths)
        stamp = _index_stamp(self.root)
        known = self._left_out.get(asked)
        if stamp is not None and known is not None and known[0] == stamp:
            return list(known[1])
        whole = self._left_out.get((".",))
        if stamp is not None and whole is not None and whole[0] == stamp:
            return [path for path in whole[1] if any(
                asked_path == "." or path == asked_path or path.startswith(asked_path + "/")
                for asked_path in relpaths)]
        out = self._run("ls-files", "-z", "-v", "--full-name", "--", *literal(relpaths))
        found = sorted(os.fsdecode(record[2:]) for record in out.split(b"\0")
                       if record.startswith(b"S "))
        if stamp is not None:
            self._left_out[asked] = stamp, found
        return list(found)

    def ls_tree_files(self, commit: str) -> list[tuple[str, int]]:
        """(path, size) of every file in `commit`'s tree (a submodule's size is 0)."""
        out = self._run("ls-tree", "-r", "-z", "-l", "--full-tree", commit)
        files = []
        for record in out.split(b"\0"):
            if record:
                meta, _, path = record.partition(b"\t")
                size = meta.split()[-1]
                files.append((os.fsdecode(path), int(size) if size.isdigit() else 0))
        return files

    def tracked_under(self, relpaths: list[str]) -> list[str]:
        """Files Git tracks at or below any of `relpaths` (repo-relative), in the index's
        order: one `git ls-files` of them, or of the whole index when they are many
        (`status` asks about every tracked output), its entries at or below one of them kept
        here, name for name as a literal pathspec matches them."""
        if not relpaths:
            return []
        if len(relpaths) <= _PATHSPECS_WORTH_MATCHING:
            return self.ls_files("--", *literal(relpaths))
        asked = set(relpaths)
        return [p for p in self.ls_files() if at_or_below_any(p, asked)]

    def ignored_untracked(self, relpaths: list[str]) -> list[str]:
        """The files at or below `relpaths` (repo-relative) that Git ignores and does not
        track, each named, never a folder for all inside it: one `git ls-files` per batch of
        paths that fits a command line."""
        return [path for batch in _command_line_batches(literal(relpaths))
                for path in self.ls_files("--others", "--ignored", "--exclude-standard", "--",
                                          *batch)]

    def untracked_unignored(self, relpaths: list[str]) -> list[str]:
        """The files at or below `relpaths` (repo-relative) that Git neither tracks nor
        ignores (those a commit of the workspace would add as new), each named: one `git
        ls-files` per batch of paths that fits a command line."""
        return [path for batch in _command_line_batches(literal(relpaths))
                for path in self.ls_files("--others", "--exclude-standard", "--", *batch)]

    def index_modes(self, relpaths: list[str]) -> dict[str, str]:
        """{path: mode} of the entries Git's index holds at or below any of `relpaths`:
        files, and submodules (GITLINK_MODE), recorded whether or not they are checked out."""
        if not relpaths:
            return {}
        out = self._run("ls-files", "-z", "--full-name", "--stage", "--", *literal(relpaths))
        modes = {}
        for record in out.split(b"\0"):
            if record:  # "<mode> <object> <stage>\t<path>"
                meta, _, path = record.partition(b"\t")
                modes[os.fsdecode(path)] = meta.partition(b" ")[0].decode()
        return modes

    def ignore_rules(self, relpaths: list[str]) -> dict[str, str]:
        """{path: the .gitignore rule that ignores it} for those of `relpaths` Git ignores."""
        return {path: rule for path, (rule, ignores) in self.matching_rules(relpaths).items()
                if ignores}

    def matching_rules(self, relpaths: list[str]) -> dict[str, tuple[str, bool]]:
        """{path: (the last .gitignore rule matching it, whether that rule ignores it)} for
        those of `relpaths` a rule matches: one that does not ignore it is a `!` rule, which
        takes the path back in on purpose."""
        if not relpaths:
            return {}
        # --no-index: a path Git tracks is matched against the rules too (Git's own check
        # calls it never ignored). But in a sparse checkout, Git reads a .gitignore the
        # checkout leaves out of the workspace from the index, which only the check that reads
        # the index does too: it answers for the rest. It refuses a path inside a submodule,
        # which the first answers: its failure leaves the first answer.
        found = self._check_ignore(relpaths, "--no-index")
        rest = [p for p in relpaths if not found.get(p, ("", False))[1]]
        if rest and self.sparse_checkout():
            with contextlib.suppress(DvxError):
                found.update(self._check_ignore(rest))
        return found

    def _check_ignore(self, relpaths: list[str], *options: str) -> dict[str, tuple[str, bool]]:
        """`git check-ignore` (with `options`) of `relpaths`: {path: (the rule matching it,
        whether it ignores it)}."""
        import subprocess

        # check-ignore reads its paths as pathspecs and refuses `:(literal)`: a leading "./"
        # keeps a name that starts with ":" from being read as magic (":!x", ":data").
        asked = {"./" + p: p for p in relpaths}
        proc = subprocess.run(["git", "-C", self.root, "check-ignore", *options, "-v", "-z",
                               "--stdin"], input=b"\0".join(os.fsencode(p) for p in asked),
                              capture_output=True, check=False, env=git_environ(root=self.root))
        if proc.returncode not in (0, 1):  # 1: nothing ignored
            raise DvxError("git check-ignore failed: "
                           + proc.stderr.decode(errors="replace").strip())
        fields = proc.stdout.split(b"\0")
        found = {}
        for start in range(0, len(fields) - 3, 4):  # source, line, pattern, path
            source, line, pattern, path = (os.fsdecode(f) for f in fields[start:start + 4])
            if pattern:
                found[asked.get(path, path)] = (f"'{pattern}' in {source}:{line}",
                                                not pattern.startswith("!"))
        return found

    def changed(self, relpaths: list[str], ignored: bool = False) -> list[str]:
        """Those of `relpaths` whose workspace content differs from the index (or that Git
        does not track yet and does not ignore; with `ignored`, ignores too: a file Git
        ignores is kept nowhere by Git), in the order given. A directory is changed when a
        file below it is (changed, new or deleted): Git names those files only. One `git
        status` per batch of paths that fits a command line."""
        # --ignored with --untracked-files=all names each ignored file, never just a folder
        also_ignored = ("--ignored",) if ignored else ()
        out = b"".join(self._run("status", "--porcelain=v1", "-z", "--untracked-files=all",
                                 *also_ignored, "--", *batch)
                       for batch in _command_line_batches(literal(relpaths)))
        found: set[str] = set()
        records = out.split(b"\0")
        index = 0
        while index < len(records):
            record = records[index]
            if len(record) > 3:
                found.add(os.fsdecode(record[3:]))
                if record[:1] in (b"R", b"C"):  # a rename: its origin follows
                    index += 1
            index += 1
        return [p for p in relpaths if p in found or _holds_any(p, found)]

    def workspace_files(self, *patterns: str) -> list[str]:
        """The files matching the pathspecs `patterns` that Git tracks or would track
        (untracked but not ignored) and the workspace holds: one deleted from the workspace
        but still in the index is no longer tracked. One that cannot be looked at (its full
        path too long) is kept: reading it tells why it cannot be used."""
        found = self.ls_files("--cached", "--others", "--exclude-standard", "--", *patterns)
        return sorted({p for p in found if not absent(os.path.join(self.root, p))})

    # -- history, for gc: which pointer files the commits in a scope hold ----------------------

    def resolve_revision(self, rev: str) -> str:
        """The commit a user-given revision names (any of Git's forms for one object that
        is or leads to a commit: `:/message`, `HEAD@{1}`, a tag); never lets it be read as an
        option. A range or exclusion (`A..B`, `^A`, `A^@`) names no one commit: refused."""
        if rev.startswith("-") or "\0" in rev:
            raise UsageError(f"Invalid revision {rev!r}: it must not start with '-'.")
        one = "Name one branch, tag or commit of this repository."
        if not rev.startswith(":/"):  # `:/message^{commit}` would search for that text
            # Peeled in the one look-up, Git takes the commit of an id prefix that a blob's
            # id shares too, as it does in `git log`.
            commit = self._completed("rev-parse", "--verify", "--quiet", "--end-of-options",
                                     f"{rev}^{{commit}}")
            found = commit.stdout.decode().strip()
            if commit.returncode == 0 and found and not found.startswith("^"):
                return found
        named = self._completed("rev-parse", "--verify", "--quiet", "--end-of-options", rev)
        found = named.stdout.decode().strip()
        if named.returncode != 0 or found.startswith("^"):
            if found.startswith("^") or self._completed(
                    "rev-parse", "--revs-only", "--end-of-options", rev).stdout.strip():
                raise UsageError(f"Invalid revision {rev!r}: it names a range or an exclusion "
                                 "of commits, not one commit.", one)
            raise self._unknown_revision(rev, one)
        peeled = self._completed("rev-parse", "--verify", "--quiet", f"{found}^{{commit}}")
        if peeled.returncode != 0:
            # A full object id passes --verify whether or not the object exists.
            kind = self._completed("cat-file", "-t", found).stdout.decode().strip()
            if not kind:
                raise self._unknown_revision(rev, one)
            raise UsageError(f"Invalid revision {rev!r}: it names a Git {kind}, not a commit.",
                             one)
        return peeled.stdout.decode().strip()

    def _unknown_revision(self, rev: str, one: str) -> UnknownRevisionError:
        """The error for `rev`, which names nothing here. In a shallow clone (looked up only
        now, so a known revision costs nothing more) it may name history the clone did not
        fetch, which the error says with the fetches that bring it."""
        if not self.is_shallow():
            return UnknownRevisionError(f"Unknown revision {rev!r}.", one)
        return ShallowCloneRevisionError(
            f"Unknown revision {rev!r} in this shallow clone (`git clone --depth`, as CI "
            "checkouts make): it holds only the last commits of the branches it fetched, so "
            f"{rev!r} may name an older commit or another branch, which are not here.",
            "Fetch the history it names, then run this again: `git fetch --deepen=1` brings "
            "one more commit of each branch fetched (`HEAD~1`), `git fetch --unshallow` all of "
            f"their history, {_fetching_the_branch(rev, self._remote_names())}.")

    def _remote_names(self) -> list[str]:
        """The names of the repository's remotes (`git remote`); none where Git cannot say."""
        listed = self._completed("remote")
        return listed.stdout.decode().split() if listed.returncode == 0 else []

    def commits(self, all_branches: bool = False, all_tags: bool = False,
                all_commits: bool = False, reflogs: bool = False, last_n: int | None = None,
                revs: tuple[str, ...] = (), remote_branches: bool = False,
                leave_out: tuple[str, ...] = ()) -> list[str]:
        """The commits of a scope: the tips of every branch (with `remote_branches`, of
        every remote-tracking branch too, wherever a fetch refspec stores it:
        `fetched_branch_refs`) and tag, and of `revs`; with `all_commits` every
        commit reachable from any ref but those the patterns `leave_out` match (`git rev-list
        --exclude`: `refs/stash`, `refs/exps-queue/*`) (with `reflogs`, from any reflog entry
        too, stashes included: `leave_out` leaves out refs, never reflog entries, so a stash
        entry is listed still); with `last_n`, the last N commits of each tip."""
        tips = [self.resolve_revision(rev) for rev in revs]
        refs = [r for flag, r in ((all_branches, "--branches"), (all_tags, "--tags"),
                                  (all_branches and remote_branches, "--remotes")) if flag]
        if all_branches and remote_branches:
            refs += self.fetched_branch_refs()
        if refs:
            # rev-list peels tags and passes over those naming a blob or a tree (`git tag
            # key <blob>`): they hold no pointers.
            tips += self._run("rev-list", "--no-walk", *refs, "--").decode().split()
        if all_commits:
            args = ["rev-list", *(f"--exclude={ref}" for ref in leave_out), "--all",
                    *(["--reflog"] if reflogs else [])]
            if last_n is not None:
                args.append(f"--max-count={last_n}")
            return sorted(set(self._run(*args).decode().split()) | set(tips))
        if last_n is not None and last_n > 1 and tips:
            found: set[str] = set()
            for tip in dict.fromkeys(tips):
                out = self._run("rev-list", f"--max-count={last_n}", tip, "--")
                found.update(out.decode().split())
            return sorted(found)
        return sorted(set(tips))

    def worktrees(self) -> list[Worktree]:
        """Every worktree of this Git repository (`git worktree add`), this one included,
        those Git marks prunable (their folder moved or gone) too: Git keeps their index and
        HEAD until `git worktree prune`."""
        found = []
        for block in self._run("worktree", "list", "--porcelain", "-z").decode().split("\0\0"):
            fields = dict(line.partition(" ")[::2] for line in block.split("\0") if line)
            if "worktree" in fields and "bare" not in fields:
                found.append(Worktree(fields["worktree"], "prunable" in fields,
                                      "locked" in fields))
        return found

    def stashes(self) -> list[str]:
        """Every stash entry's commit (its index state and untracked files are its parents,
        which a walk from it reaches)."""
        try:
            out = self._run("log", "-g", "--format=%H", "refs/stash", "--")
        except DvxError:
            return []  # no stash
        return out.decode().split()

    def commits_to_push(self, local: str, remote_sha: str | None, remote: str) -> list[str]:
        """The commits a push of `local` sends, each before its parents: those neither the
        remote's ref (`remote_sha`) nor any remote-tracking branch of `remote` has; for a new
        ref, or one whose tip this clone never fetched (a forced push over a teammate's), those
        no ref of `remote` has."""
        # Everything after --not is excluded as it stands: a `^` there would include it again.
        exclude = self._commit_of(remote_sha)
        out = self._run("rev-list", "--topo-order", local, "--not", *exclude,
                        f"--remotes={remote}", "--")
        return out.decode().split()

    def remote_commits_below(self, local: str, remote_sha: str | None, remote: str
                             ) -> list[str]:
        """The commits of `remote` nearest to what a push of `local` sends, which the pushed
        commits are measured against: the remote ref's own (`remote_sha`, where this clone
        has it) and the parents of the pushed commits that the remote already has. None for
        a push to a remote of which this clone knows no commit."""
        exclude = self._commit_of(remote_sha)
        out = self._run("rev-list", "--boundary", local, "--not", *exclude,
                        f"--remotes={remote}", "--")
        below = [line[1:] for line in out.decode().split() if line.startswith("-")]
        return sorted(set(below) | set(exclude))

    def _commit_of(self, sha: str | None) -> list[str]:
        """The commit the object `sha` is or names (an annotated tag's, such as a moved tag's
        old object a forced push reports), as a list of one; none when this clone lacks it."""
        if sha is None:
            return []
        found = self._batch(headers_only=True).header(f"{sha}^{{commit}}")
        return [found[0]] if found is not None else []

    def git_path(self, name: str) -> str:
        """Where Git keeps `name` (hooks, ...), core.hooksPath and worktrees respected."""
        out = self._run("rev-parse", "--git-path", name).decode().strip()
        return out if os.path.isabs(out) else os.path.join(self.root, out)

    def common_dir(self) -> str:
        """The Git directory every worktree of this repository shares (`.git` in the main
        one), where its own hooks, config and objects are."""
        out = self._run("rev-parse", "--git-common-dir").decode().strip()
        return out if os.path.isabs(out) else os.path.join(self.root, out)

    def get_config(self, key: str) -> str | None:
        """The value of a key of this repository's Git config, or None if it is not set."""
        try:
            return self._run("config", "--get", key).decode().rstrip("\n")
        except DvxError:
            return None

    def filemode(self) -> bool:
        """core.filemode, as Git reads it (true when unset): false where `git clone` or `git
        init` found that the filesystem keeps no executable bit (exFAT, FAT: every file
        reads as executable there), and Git then takes a file's bit from its index."""
        try:
            return self._run("config", "--type=bool", "--get", "core.filemode") != b"false\n"
        except DvxError:  # not set, or set to what Git reads as no boolean: Git's default
            return True

    def attribute(self, relpath: str, name: str) -> str | None:
        """The value of the Git attribute `name` for `relpath` (.gitattributes), or None
        when it is unspecified."""
        try:
            out = self._run("check-attr", "-z", name, "--", relpath).decode()
        except DvxError:
            return None
        value = out.split("\0")[2] if out.count("\0") >= 3 else "unspecified"
        return None if value == "unspecified" else value

    def set_config(self, key: str, value: str) -> None:
        """Set an option in this repository's own Git config (.git/config, never shared)."""
        self._run("config", "--local", key, value)

    def unset_config_section(self, section: str) -> None:
        with contextlib.suppress(DvxError):  # not there
            self._run("config", "--local", "--remove-section", section)

    def head(self) -> str | None:
        """The commit HEAD is at; None while its branch has no commit yet. Any other failure
        (a repository Git refuses, say) is Git's error, not "no commit"."""
        proc = self._completed("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        if proc.returncode == 1 and not proc.stderr.strip():  # --quiet: no such commit
            return None
        if proc.returncode != 0:
            raise git_failure("rev-parse", proc)
        return proc.stdout.decode().strip()

    def path_in_merge(self, path: str) -> PathInMerge | None:
        """Where the file `path` (from the top of the work tree) is among the commits of the
        merge Git runs now (`merged_commits`), which calls a merge driver with the result's
        path alone: a path missing from the merge base or a side is one Git's rename
        detection paired with another. None where Git names no commits."""
        commits = self.merged_commits()
        if commits is None or "\n" in path or "\r" in path:
            return None
        batch = self._batch(headers_only=True)

        def has(commit: str) -> bool:
            header = batch.header(f"{commit}:{path}")
            return header is not None and header[1] == "blob"

        return PathInMerge(any(has(base) for base in commits.bases),
                           tuple(has(side) for side in commits.sides))

    def merged_commits(self) -> MergedCommits | None:
        """The commits of the merge Git runs now (a merge driver's caller), from what Git
        leaves while it merges: `git merge` names the heads it merges in GITHEAD_<sha>
        variables; a rebase step picks the last line of rebase-merge/done (REBASE_HEAD with
        the apply backend); a cherry-pick or revert of several commits the first line of
        sequencer/todo. None where Git names none: a single cherry-pick or revert, `git am`,
        `git stash pop`, a rebase's merge or a step it cannot tell."""
        merged = sorted(name[len("GITHEAD_"):] for name in os.environ
                        if name.startswith("GITHEAD_"))
        if merged:
            return self._commits_merged_into_head(merged)
        if merging_for_a_rebase(self.root):
            return self._commits_of_step(self._rebase_step())
        return self._commits_of_step(_first_line(self.git_path("sequencer/todo")))

    def _commits_merged_into_head(self, heads: list[str]) -> MergedCommits | None:
        found = self._completed("merge-base", "--all", "HEAD", *heads)
        if len(heads) > 1:  # an octopus: one base of them all
            found = self._completed("merge-base", "--octopus", "HEAD", *heads)
        bases = tuple(found.stdout.decode().split())
        return MergedCommits(bases, ("HEAD", *heads)) if found.returncode == 0 else None

    def _rebase_step(self) -> str:
        if os.path.isdir(self.git_path("rebase-apply")):
            return "pick REBASE_HEAD"
        done = self.git_path("rebase-merge/done")
        try:
            with open(done, encoding="utf-8", errors="replace") as f:
                lines = [line for line in f.read().splitlines() if line.strip()]
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def _commits_of_step(self, step: str) -> MergedCommits | None:
        """The commits a sequencer step (`pick SHA ...`, `revert SHA ...`) merges: a pick's
        commit onto HEAD from its parent; a revert's parent from the reverted commit."""
        words = step.split()
        if len(words) < 2 or words[0] not in (*_PICKS, "revert") or words[1].startswith("-"):
            return None
        found = self._completed("rev-parse", f"{words[1]}^{{commit}}", f"{words[1]}^")
        named = found.stdout.decode().split()
        if found.returncode != 0 or len(named) != 2:
            return None  # a root commit: Git merges it from no base
        commit, parent = named
        if words[0] in _PICKS:
            return MergedCommits((parent,), ("HEAD", commit))
        return MergedCommits((commit,), ("HEAD", parent))

    def head_is_a_merge(self) -> bool:
        """Has the commit HEAD is at a second parent?"""
        return self._completed("rev-parse", "-q", "--verify", "HEAD^2").returncode == 0

    def rebasing(self) -> bool:
        """Is a `git rebase` under way here (replaying commits, or stopped on a conflict)?"""
        return any(os.path.isdir(self.git_path(name)) for name in ("rebase-merge", "rebase-apply"))

    def recent_heads(self, moves: int) -> list[str]:
        """The commits HEAD was at lately, newest first, each once: HEAD, where it was before
        each of its last `moves` moves (its reflog: HEAD@{1}, HEAD@{2}, ...), and ORIG_HEAD
        (where the last pull, merge, rebase or reset moved it from). Read once per Git
        object (one command). Empty before the first commit."""
        if moves not in self._recent_heads:
            moved_to = [commit for commit, _ in self.head_moves(moves)]
            batch = self._batch(headers_only=True)
            head, orig = batch.header("HEAD^{commit}"), batch.header("ORIG_HEAD^{commit}")
            self._recent_heads[moves] = list(dict.fromkeys(
                [*(head[:1] if head else ()), *moved_to, *(orig[:1] if orig else ())]))
        return self._recent_heads[moves]

    def head_moves(self, moves: int) -> list[tuple[str, str]]:
        """HEAD's last `moves` moves, newest first, from its reflog: each the commit it moved
        to, with the reflog's word for the move (`commit: MESSAGE`, `pull: Fast-forward`,
        `merge main: ...`, `checkout: moving from a to b`, `clone: from URL`). Read once per
        Git object (one command). Empty before the first commit."""
        if moves not in self._head_moves:
            try:
                out = self._run("log", "-g", "--format=%H%x00%gs", f"-n{moves + 1}", "HEAD",
                                "--")
            except DvxError:
                out = b""  # no commit yet
            found = []
            for line in out.decode("utf-8", "replace").splitlines():
                commit, _, how = line.partition("\0")
                if commit:
                    found.append((commit, how))
            self._head_moves[moves] = found
        return self._head_moves[moves]

    def is_shallow(self) -> bool:
        """Whether this clone's history stops at a boundary (`git clone --depth`): commits
        beyond it exist elsewhere but not here."""
        return self._run("rev-parse", "--is-shallow-repository").decode().strip() == "true"

    def shared_remotes(self) -> dict[str, SharedRemote]:
        """The Git remotes (`remote.NAME.url`) teammates may push the history they share to,
        with their fetch refspecs (none for a remote that fetches nothing, as `git remote add
        --mirror=push` leaves it): each one this clone's branches track (`branch.NAME.remote`),
        every branch of which is shared, and each other that fetches every branch (a fork's
        `upstream`, added with a plain `git remote add`), but for those a negative refspec
        (`^refs/heads/wip/*`) leaves out: the branches it fetches are shared. Another remote
        added for a branch of its own (`git remote add -t main upstream URL`), or fetching
        none, is no one's shared history unless a branch tracks it. When no branch tracks a
        Git remote (`git push` without -u, or with -u to a URL, which names no Git remote),
        which one teammates share is unknown: then every one, each branch of each."""
        fetched = self._config_values(r"^remote\..*\.fetch$", "remote.", ".fetch")
        remotes = self._git_remotes()
        tracked = self._tracked_among(remotes)
        shared = {}
        for name in sorted(remotes):
            refspecs = tuple(fetched.get(name, []))
            every_branch = not tracked or name in tracked
            if every_branch or _brings_every_branch(refspecs):
                shared[name] = SharedRemote(refspecs, every_branch)
        return shared

    def tracked_remotes(self) -> set[str]:
        """The Git remotes some branch of this clone tracks (`branch.NAME.remote`); a branch
        tracking a URL (`git push -u URL main`) tracks none."""
        return self._tracked_among(self._git_remotes())

    def _tracked_among(self, remotes: set[str]) -> set[str]:
        """Those of the Git remotes `remotes` some branch of this clone tracks."""
        upstreams = self._config_values(r"^branch\..*\.remote$", "branch.", ".remote")
        return {name for names in upstreams.values() for name in names} & remotes

    def _git_remotes(self) -> set[str]:
        """The names of this clone's Git remotes: those with a URL (`git remote add`)."""
        return set(self._config_values(r"^remote\..*\.url$", "remote.", ".url"))

    @staticmethod
    def narrowed_shared_remotes(shared: dict[str, SharedRemote]) -> dict[str, list[str]]:
        """The remotes of `shared` (`shared_remotes`) every branch of which is shared, that
        this clone fetches only some branches of (`git clone --single-branch`, or `--depth`,
        which implies it; a negative refspec such as `^refs/heads/wip/*`) or none of (no fetch
        refspec, as `git remote add --mirror=push` leaves it), with their fetch refspecs: the
        other branches of the repository teammates share are unknown here."""
        return {name: list(remote.refspecs) for name, remote in shared.items()
                if remote.every_branch and _narrowed(remote.refspecs)}

    def tagless_shared_remotes(self, shared: Iterable[str]) -> list[str]:
        """The remotes of `shared` (`shared_remotes`) whose tags this clone never fetches
        (`remote.NAME.tagOpt` is --no-tags, as `git clone --no-tags` sets): their tags, and
        the commits only tags hold, are unknown here."""
        options = self._config_values(r"^remote\..*\.tagopt$", "remote.", ".tagopt")
        return [name for name in shared if options.get(name, [""])[-1] == "--no-tags"]

    def fetched_branch_refs(self) -> list[str]:
        """The refs of this clone that a `git fetch` stored a Git remote's branches in outside
        refs/remotes/ and refs/heads/, as a refspec such as `+refs/heads/*:refs/up/origin/*`
        does: the copies `tracking_ref` finds there are remote-tracking branches too."""
        fetched = self._config_values(r"^remote\..*\.fetch$", "remote.", ".fetch")
        elsewhere = [refspecs for refspecs in fetched.values()
                     if any(not _refspec_destination(r).startswith(_BRANCH_HOMES)
                            for r in refspecs if not r.startswith("^"))]
        if not elsewhere:
            return []
        return [ref for ref in self.local_refs() if not ref.startswith(_BRANCH_HOMES)
                and any(_stores_a_branch(refspecs, ref) for refspecs in elsewhere)]

    def remote_refs(self, name: str) -> dict[str, str]:
        """The branches and tags the Git remote `name` holds now (`git ls-remote`, one
        connection): full ref name -> the object it names (an annotated tag's own object).
        DvxError, Git's own words, when the remote cannot be reached."""
        out = self._run("ls-remote", "--refs", "--heads", "--tags", name)
        refs = {}
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            sha, _, ref = line.partition("\t")
            if ref:
                refs[ref] = sha
        return refs

    def local_refs(self, *prefixes: str) -> dict[str, str]:
        """Full ref name -> the object it names (an annotated tag's own object), of every
        ref of this repository under `prefixes` ("refs/remotes/origin/", "refs/tags/")."""
        out = self._run("for-each-ref", "--format=%(objectname) %(refname)", *prefixes)
        refs = {}
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            sha, _, ref = line.partition(" ")
            refs[ref] = sha
        return refs

    def _config_values(self, pattern: str, prefix: str, suffix: str) -> dict[str, list[str]]:
        """The values of the config keys `pattern` matches, by the name between `prefix` and
        `suffix` in the key."""
        try:
            out = self._run("config", "--get-regexp", pattern)
        except DvxError:
            return {}  # none set
        values: dict[str, list[str]] = {}
        for line in out.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(" ")
            values.setdefault(key[len(prefix):-len(suffix)], []).append(value)
        return values

    def staged_blobs(self, suffixes: tuple[str, ...]) -> list[tuple[str, str]]:
        """(path, blob sha) of the files in the index whose names end with `suffixes`; a
        path in conflict comes once per side of it."""
        out = self._run("ls-files", "-s", "-z", "--full-name")
        found: list[tuple[str, str]] = []
        for record in out.split(b"\0"):
            meta, _, path_bytes = record.partition(b"\t")
            parts = meta.decode().split()
            path = os.fsdecode(path_bytes)
            if len(parts) == 3 and path.endswith(suffixes):
                found.append((path, parts[1]))
        return found

    def object_data(self, sha: str) -> tuple[str, bytes]:
        """(type, content) of a Git object, from one long-lived `git cat-file --batch`."""
        found = self._batch(headers_only=False).read(sha)
        if found is None:
            raise DvxError(f"Git object {sha} is missing from the repository.")
        return found

    def small_blob(self, sha: str, max_bytes: int) -> bytes | None:
        """The content of the blob `sha`; None where there is none, or it is larger than
        `max_bytes`, which is refused before it is read."""
        header = self._batch(headers_only=True).header(sha)
        if header is None or header[1] != "blob" or header[2] > max_bytes:
            return None
        return self.object_data(sha)[1]

    def small_blobs(self, shas: list[str], max_bytes: int) -> dict[str, bytes]:
        """The content of each blob among `shas` no larger than `max_bytes`, by sha; those
        missing, not blobs or larger are left out, refused before they are read. Two `git
        cat-file` runs for them all, where small_blob asks Git twice for each."""
        wanted = list(dict.fromkeys(shas))
        if not wanted:
            return {}
        listing = self._run("cat-file", "--batch-check",
                            stdin=b"".join(os.fsencode(sha) + b"\n" for sha in wanted))
        small = []
        for line in listing.splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[1] == b"blob" and fields[2].isdigit() \
                    and int(fields[2]) <= max_bytes:
                small.append(fields[0])
        if not small:
            return {}
        out = self._run("cat-file", "--batch", stdin=b"".join(sha + b"\n" for sha in small))
        found: dict[str, bytes] = {}
        at = 0
        while at < len(out):
            end = out.index(b"\n", at)
            fields = out[at:end].split()
            if len(fields) != 3 or not fields[2].isdigit():
                at = end + 1  # "SHA missing": gone since it was listed
                continue
            size = int(fields[2])
            found[fields[0].decode()] = out[end + 1:end + 1 + size]
            at = end + 1 + size + 1  # and the newline after the content
        return found

    def feed_blob(self, sha: str, consume: Callable[[bytes], object]) -> None:
        """Give the content of a Git blob to `consume` a chunk at a time (`git cat-file`)."""
        if not self._batch(headers_only=False).feed(sha, consume):
            raise DvxError(f"Git object {sha} is missing from the repository.")

    def operation_heads(self) -> tuple[str, ...]:
        """The heads of OPERATION_HEADS that name a commit now: Git stops inside a merge,
        cherry-pick, revert or rebase. Asked once per command, of the running `git
        cat-file`, as a command asks it for each output it reads."""
        if self._operation_heads is None:
            batch = self._batch(headers_only=True)
            self._operation_heads = tuple(
                head for head in OPERATION_HEADS
                if (header := batch.header(head)) is not None and header[1] == "commit")
        return self._operation_heads

    def _batch(self, headers_only: bool) -> _CatFile:
        with self._batches_lock:
            batch = self._batches.get(headers_only)
            if batch is None or batch.broken or not batch.running():  # (a Ctrl-C ends it too)
                batch = self._batches[headers_only] = _CatFile(self.root, headers_only)
            return batch

    def blob_at(self, commit: str, relpath: str, max_bytes: int) -> bytes | None:
        """The content of the file `relpath` in `commit`, or None if the commit has no file
        there; read from Git's objects (never a checkout). A file larger than `max_bytes` is
        refused before it is read."""
        sha = self.blob_id_at(commit, relpath, max_bytes)
        return None if sha is None else self.object_data(sha)[1]

    def blob_id_at(self, commit: str, relpath: str, max_bytes: int) -> str | None:
        """The id of the blob `blob_at` reads (None: no file there), asked of the running
        `git cat-file`: a reader that parses what it reads parses each blob once."""
        header = (self._listed_header(commit, relpath) if "\n" in relpath or "\r" in relpath
                  else self._batch(headers_only=True).header(f"{commit}:{relpath}"))
        if header is None:
            return None  # no such path in that commit
        sha, kind, size = header
        if kind != "blob":
            raise DvxError(f"'{relpath}' is a {kind} in commit {commit[:10]}, not a file.")
        if size > max_bytes:
            raise DvxError(f"'{relpath}' in commit {commit[:10]} is larger than {max_bytes} "
                           "bytes; refusing to read it.")
        return sha

    def _listed_header(self, commit: str, relpath: str) -> tuple[str, str, int] | None:
        """(object id, kind, size) of `relpath` in `commit` as `git ls-tree` lists it, None
        if it has nothing there: for a name with a line break (Git tracks any name), which
        `git cat-file --batch`, a line per question, cannot be asked about."""
        out = self._run("ls-tree", "-z", "-l", "--full-tree", commit, "--", *literal([relpath]))
        for item in out.split(b"\0"):
            meta, _, path = item.partition(b"\t")  # "<mode> <type> <object> <size>\t<path>"
            if path and os.fsdecode(path) == relpath:
                _, kind, sha, size = meta.decode().split()
                return sha, kind, int(size) if size.isdigit() else 0
        return None

    def mode_at(self, commit: str, relpath: str) -> str | None:
        """The Git mode of `relpath` in `commit` ("100644", "100755", "120000" for a symlink,
        "40000" for a directory), or None if the commit has nothing there. Read from its
        parent's tree object through the running `git cat-file`, so it costs no process."""
        parent, _, name = relpath.rpartition("/")
        header = self._batch(headers_only=True).header(f"{commit}:{parent}")
        if header is None or header[1] != "tree":
            return None
        sha = header[0]
        data, wanted, width = self.object_data(sha)[1], os.fsencode(name), len(sha) // 2
        offset = 0
        while offset < len(data):  # entries: "<mode> <name>\0<binary object id>"
            space = data.index(b" ", offset)
            end = data.index(b"\0", space)
            if data[space + 1:end] == wanted:
                return data[offset:space].decode()
            offset = end + 1 + width
        return None

    def hash_bytes(self, data: bytes) -> str:
        """The blob id Git gives `data`."""
        return self._run("hash-object", "--stdin", stdin=data).decode().strip()

    def hash_files(self, paths: list[str]) -> list[str]:
        """The blob id Git gives each file of `paths`, in order, read as `git add` reads it
        (through the filters its attributes name); one `git hash-object` per batch."""
        oids: list[str] = []
        for batch in _command_line_batches(paths):
            oids += self._run("hash-object", "--", *batch).decode().split()
        return oids

    def entries_at(self, commit: str, relpaths: list[str]) -> dict[str, tuple[str, str]]:
        """{path: (mode, object id)} of each of `relpaths` that `commit` has."""
        entries: dict[str, tuple[str, str]] = {}
        for batch in _command_line_batches(literal(relpaths)):
            for item in self._run("ls-tree", "-z", "--full-tree", commit, "--",
                                  *batch).split(b"\0"):
                meta, _, path = item.partition(b"\t")  # "<mode> <type> <object>\t<path>"
                if path:
                    mode, _, oid = meta.decode().split(" ")
                    entries[os.fsdecode(path)] = (mode, oid)
        return entries

    def modes_at(self, commit: str, relpaths: list[str]) -> dict[str, str]:
        """The Git file mode ("100644", "100755", "120000" for a symlink) of each of
        `relpaths` that `commit` has."""
        return {path: mode for path, (mode, _) in self.entries_at(commit, relpaths).items()}

    def ref_tips(self, prefix: str) -> list[tuple[str, str]]:
        """(short name, commit) of every ref under `prefix` ("refs/heads", "refs/tags"),
        annotated tags peeled to their commits; refs that name no commit are left out."""
        out = self._run("for-each-ref", "--format=%(refname:short)%00%(objectname)%00"
                        "%(objecttype)%00%(*objectname)%00%(*objecttype)", prefix)
        tips = []
        for line in out.decode("utf-8", "replace").splitlines():
            name, sha, kind, peeled, peeled_kind = line.split("\0")
            if kind == "commit":
                tips.append((name, sha))
            elif peeled_kind == "commit":
                tips.append((name, peeled))
        return tips

    def merge_file(self, ours: str, base: str, theirs: str) -> bool:
        """Git's own line-by-line merge of three files, the result (with conflict markers
        where both sides changed the same lines) written to `ours`; False on a conflict."""
        import subprocess

        proc = subprocess.run(["git", "-C", self.root, "merge-file", "-L", "ours", "-L",
                               "base", "-L", "theirs", ours, base, theirs],
                              capture_output=True, check=False, env=git_environ(root=self.root))
        if proc.returncode < 0 or proc.returncode > 127:
            detail = proc.stderr.decode(errors="replace").strip()
            raise DvxError(f"git merge-file failed: {detail or proc.returncode}")
        return proc.returncode == 0

    def first_with(self, relpath: str, text: str) -> tuple[str, str | None] | None:
        """(short commit, author name) of the earliest commit any ref reaches that put
        `text` into `relpath`, or None if none did. The author is None when that commit is
        where a shallow clone's history stops: Git sees everything it holds as put there, so
        an older commit may have recorded it."""
        try:
            out = self._run("log", "--all", "--reverse", "--format=%h%x00%an%x00%H", "-S",
                            text, "--", *literal([relpath]))
        except DvxError:
            return None
        fields = out.decode("utf-8", "replace").partition("\n")[0].split("\0")
        if len(fields) != 3:
            return None
        return fields[0], None if fields[2] in self._shallow_boundary() else fields[1]

    def commits_changing_count(self, relpath: str, text: str) -> list[str]:
        """The commits HEAD reaches (HEAD too) whose change of the file `relpath` changed how
        often `text` occurs in it (`git log -S`): those that put it there or took it out.
        Empty if HEAD has no commit or Git cannot tell."""
        try:
            out = self._run("log", "--format=%H", "-S", text, "--", *literal([relpath]))
        except DvxError:
            return []
        return out.decode("ascii", "replace").split()

    def deleted_by(self, relpath: str) -> str | None:
        """The short id of the last commit along HEAD's first parents that deleted `relpath`
        (a merge too, compared with its first parent: a conflict resolved by deleting it),
        so that its first parent has the file; None if none did (HEAD has no commit, or the
        history holding it is not in this clone)."""
        try:
            out = self._run("log", "-1", "--format=%h", "--diff-filter=D", "-m",
                            "--first-parent", "--", *literal([relpath]))
        except DvxError:
            return None
        return out.decode("utf-8", "replace").strip() or None

    def _shallow_boundary(self) -> set[str]:
        """The commits where this clone's history stops (`git clone --depth`): Git's
        `shallow` file. Empty in a full clone."""
        try:
            with open(self.git_path("shallow"), encoding="ascii") as f:
                return set(f.read().split())
        except (OSError, UnicodeDecodeError):
            return set()

    def commit_log(self, commits: list[str]) -> list[tuple[str, int, str]]:
        """(commit, committer time in Unix seconds, subject) of each of `commits`, newest
        first: by date, and a child always before its parents (commits made within the
        same second keep their history's order)."""
        if not commits:
            return []
        wanted = set(commits)
        out = self._run("log", "--date-order", "--stdin", "--format=%H%x00%ct%x00%s",
                        stdin="\n".join(wanted).encode() + b"\n")
        found = []
        for line in out.decode("utf-8", "replace").splitlines():
            sha, when, subject = line.split("\0", 2)
            if sha in wanted:
                found.append((sha, int(when), subject))
        return found

    # -- experiments: commits kept under refs of their own, never on a branch ----------------

    def snapshot(self, parent: str, message: str,
                 new_files: Callable[[list[str]], list[str]], from_snapshot: bool = False
                 ) -> str:
        """A commit of the workspace, child of `parent`: tracked files as they are now (those
        in the user's index: staged new ones too, and not the parent's that it dropped, with
        `git rm --cached` say), and those files Git does not track yet and does not ignore
        (new code, say) that `new_files` picks from them; made with an index of its own, so
        the user's index, branch and HEAD are untouched. `from_snapshot`: the workspace is a
        worktree checked out from such a snapshot, whose index lacks the parent's files the
        snapshot left out (dropped, or deleted in the workspace it was taken of); one of
        them there now, and not ignored, was made since and is recorded as a tracked one."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="dvx-index-") as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            self._run("read-tree", parent, env=env)
            users, ours = self._index_paths(), self._index_paths(env)
            dropped = ours - users  # staged deletions (`git rm --cached`): not the user's
            self._remove_from_index(sorted(dropped), env)
            try:
                self._run("add", "-u", "--", ".", env=env)
            except DvxError:  # one made unreadable: named as dvx names it
                refuse_unreadable_files(self.root, [], self.changed_tracked_files())
                raise
            self._add_staged_new_files(sorted(users - ours), env)
            new = self._run("ls-files", "-z", "--others", "--exclude-standard", env=env)
            paths = [os.fsdecode(p) for p in new.split(b"\0") if p]
            made = [path for path in paths if path in dropped] if from_snapshot else []
            picked = new_files([path for path in paths if path not in dropped]) + made
            refuse_unreadable_files(self.root, picked)
            for batch in _command_line_batches(literal(picked)):
                try:
                    self._run("add", "--", *batch, env=env)
                except DvxError:  # made unreadable since: named as dvx names it
                    refuse_unreadable_files(self.root, picked)
                    raise
            tree = self._run("write-tree", env=env).decode().strip()
        return self._run("commit-tree", tree, "-p", parent, "-m", message).decode().strip()

    def changed_tracked_files(self) -> list[str]:
        """The files of the user's index the workspace no longer matches by their stat
        (their bytes, or their mode, changed since it recorded them): those a commit of the
        workspace reads again. Compared by stat alone (`git diff-files`), never read."""
        out = self._run("diff-files", "--name-only", "-z")
        return sorted({os.fsdecode(p) for p in out.split(b"\0") if p})

    def reworded(self, commit: str, message: str) -> str:
        """A commit of `commit`'s tree and parents whose message is `message`."""
        tree, *parents = self._run("show", "-s", "--format=%T %P", commit).decode().split()
        return self._run("commit-tree", tree, *(a for p in parents for a in ("-p", p)),
                         "-m", message).decode().strip()

    def _index_paths(self, env: dict[str, str] | None = None) -> set[str]:
        """The paths of the entries of the user's index, or of the index `env` names: those
        a sparse checkout leaves out of the workspace too, and new files staged with
        `git add -N`."""
        out = self._run("ls-files", "-z", "--full-name", env=env)
        return {os.fsdecode(p) for p in out.split(b"\0") if p}

    def _remove_from_index(self, relpaths: list[str], env: dict[str, str]) -> None:
        """Take `relpaths` out of the index `env` names (the files stay on disk)."""
        if relpaths:
            self._run("update-index", "-z", "--force-remove", "--stdin", env=env,
                      stdin=b"".join(os.fsencode(p) + b"\0" for p in relpaths))

    def _add_staged_new_files(self, staged: list[str], env: dict[str, str]) -> None:
        """Add to the index `env` names the `staged` files (those the user's index holds
        and that index lacks: new files staged with `git add`), as the workspace has them.
        They are tracked: `add -u` sees only the parent's files and `ls-files --others`
        leaves out one a .gitignore rule matches (staged with `git add -f`), yet the stage
        may read it."""
        present = [p for p in staged if os.path.islink(os.path.join(self.root, p))
                   or os.path.isfile(os.path.join(self.root, p))]  # never a folder's files
        for batch in _command_line_batches(literal(present)):
            self._run("add", "-f", "--", *batch, env=env)

    def require_identity(self, commits: str) -> None:
        """Refuse (UsageError), before the work whose result `commits` makes a commit of,
        when Git would refuse that commit: it knows no author or committer identity here."""
        for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
            proc = self._completed("var", who)
            if proc.returncode == 0:
                continue
            said = [line.strip() for line in proc.stderr.decode(errors="replace").splitlines()]
            why = next((line.removeprefix("fatal: ") for line in reversed(said)
                        if line.startswith("fatal: ")), said[0] if said else "")
            raise UsageError(
                f"Git knows no identity to make {commits} by" + (f": {why}." if why else "."),
                "Tell Git who you are, as it asks: `git config --global user.email "
                "\"you@example.com\"` and `git config --global user.name \"Your Name\"` "
                "(without --global: for this repository only); nothing was run or changed.")

    def set_ref(self, ref: str, commit: str) -> None:
        self._run("update-ref", ref, commit)

    def create_ref(self, ref: str, commit: str) -> bool:
        """Make the ref `ref`, naming `commit`, if it does not exist; False, changing nothing,
        if it does. Git checks and creates it in one step (the empty old value means "must
        not exist"), so a ref another process made meanwhile is never replaced."""
        proc = self._completed("update-ref", ref, commit, "")
        if proc.returncode == 0:
            return True
        if self._completed("rev-parse", "--verify", "--quiet", ref).returncode == 0:
            return False
        raise git_failure("update-ref", proc)

    def has_commit(self, commit: str) -> bool:
        """Whether the repository holds the commit `commit` (a full id)."""
        return self._completed("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0

    def object_kind(self, sha: str) -> str | None:
        """The type of the object `sha` ("commit", "tag", "tree", "blob"), None if absent."""
        proc = self._completed("cat-file", "-t", sha)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        """Is `ancestor` a commit in the history of `commit` (or `commit` itself)? False
        where either is no commit here."""
        return self._completed("merge-base", "--is-ancestor", ancestor,
                               commit).returncode == 0

    def set_refs_at_once(self, refs: dict[str, tuple[str, str | None]]) -> None:
        """Point each ref of `refs` (ref -> (commit, the commit it names now, or None where
        it must not exist)) at its commit, all or none: Git checks and changes them in one
        transaction, so a ref another process made or moved meanwhile changes nothing."""
        lines = [f"update {ref} {new} {old}" if old else f"create {ref} {new}"
                 for ref, (new, old) in refs.items()]
        self._run("update-ref", "--stdin", stdin="".join(f"{line}\n" for line in lines).encode())

    def delete_ref(self, ref: str) -> None:
        self._run("update-ref", "-d", ref)

    def refs_with_commits(self, prefix: str) -> list[tuple[str, str, int]]:
        """(full ref name, commit, committer time) of every ref under `prefix` that names a
        commit (`ref_targets` has the others too)."""
        return [(t.ref, t.commit, t.created) for t in self.ref_targets(prefix)
                if t.commit is not None]

    def ref_targets(self, prefix: str) -> list[RefTarget]:
        """What each ref under `prefix` names. The objects are read one by one from the
        running `git cat-file`: for-each-ref asked for their types or dates stops at the first
        ref whose object is missing (a fetch cut short, a ref pushed by hand), failing every
        command that lists them."""
        out = self._run("for-each-ref", "--format=%(refname)%00%(objectname)", prefix)
        headers = self._batch(headers_only=True)
        found = []
        for line in out.decode("utf-8", "replace").splitlines():
            ref, sha = line.split("\0")
            header = headers.header(sha)
            kind = "missing" if header is None else header[1]
            commit = headers.header(f"{sha}^{{commit}}") if kind == "tag" else header
            if commit is None or commit[1] != "commit":
                found.append(RefTarget(ref, kind, None))
            else:
                created = _committer_time(self.object_data(commit[0])[1])
                found.append(RefTarget(ref, kind, commit[0], created))
        return found

    def ref_names(self, prefix: str) -> list[str]:
        """The full name of every ref under `prefix`, whatever it names."""
        out = self._run("for-each-ref", "--format=%(refname)", prefix)
        return out.decode("utf-8", "replace").splitlines()

    def staged_additions(self) -> list[StagedFile]:
        """The files the commit being made adds or changes: those Git's index holds otherwise
        than HEAD (every one before the first commit). A renamed file is one added, and one
        whose type changed (a file Git had, staged as a symbolic link now) one changed."""
        out = self._run("diff", "--cached", "--raw", "--no-abbrev", "-z", "--no-renames",
                        "--diff-filter=AMT")
        fields = out.split(b"\0")[:-1]  # each ends with a NUL
        found: list[StagedFile] = []
        for meta, path in zip(fields[0::2], fields[1::2], strict=True):
            _, mode, _, blob, _ = meta.decode().split(" ")  # ":OLD NEW OLD_SHA NEW_SHA A"
            found.append(StagedFile(os.fsdecode(path), mode, blob))
        return found

    def staged_deletions(self, pattern: str) -> list[str]:
        """The files matching the pathspec `pattern` that the commit being made deletes:
        HEAD has them, Git's index does not."""
        out = self._run("diff", "--cached", "--name-only", "-z", "--no-renames",
                        "--diff-filter=D", "--", pattern)
        return [os.fsdecode(p) for p in out.split(b"\0") if p]

    def changed_between(self, a: str, b: str) -> list[str]:
        """Paths that differ between the trees of commits `a` and `b`."""
        out = self._run("diff", "--name-only", "-z", "--no-renames", a, b)
        return [os.fsdecode(p) for p in out.split(b"\0") if p]

    def merge_bases(self, a: str, b: str) -> list[str]:
        """The best common ancestors of commits `a` and `b` (none for unrelated histories, or
        where a shallow clone cut them off): `a` itself when it is an ancestor of `b`."""
        proc = self._completed("merge-base", "--all", a, b)
        if proc.returncode not in (0, 1):  # 1: no common ancestor
            raise git_failure("merge-base", proc)
        return proc.stdout.decode().split()

    def changed_since(self, commit: str) -> list[str]:
        """Files Git tracks (in `commit` or in the index) that the workspace has otherwise
        than `commit`: changed, deleted, or new in the index. Submodules are not looked at."""
        out = self._run("diff", "--name-only", "-z", "--no-renames", "--ignore-submodules",
                        commit, "--")
        return [os.fsdecode(p) for p in out.split(b"\0") if p]

    def staged(self, commit: str, relpaths: list[str]) -> list[str]:
        """Those of `relpaths` whose entry in the index differs from `commit`'s (changed,
        added, `git add -N` included, or deleted there)."""
        return [os.fsdecode(p) for batch in _command_line_batches(literal(relpaths))
                for p in self._run("diff", "--cached", "--name-only", "-z", "--no-renames",
                                   "--ita-visible-in-index", commit, "--", *batch
                                   ).split(b"\0") if p]

    def index_entries(self, relpaths: list[str]) -> dict[str, tuple[str, str]]:
        """{path: (mode, object id)} of the index's entries for `relpaths` that it has
        merged (an entry left in conflict, in stages from the commits merged, has none)."""
        entries = {}
        for batch in _command_line_batches(literal(relpaths)):
            for record in self._run("ls-files", "-z", "--full-name", "--stage", "--",
                                    *batch).split(b"\0"):
                meta, _, path = record.partition(b"\t")  # "<mode> <object> <stage>\t<path>"
                mode, oid, stage = meta.decode().split(" ") if path else ("", "", "")
                if stage == "0":
                    entries[os.fsdecode(path)] = (mode, oid)
        return entries

    def reset_index(self, commit: str, relpaths: list[str]) -> None:
        """Set the index entries of `relpaths` back to `commit`'s, as `git checkout COMMIT --
        PATH` sets them (an entry `commit` lacks goes), leaving the workspace and every other
        entry as they are."""
        for batch in _command_line_batches(literal(relpaths)):
            self._run("reset", "-q", commit, "--", *batch)

    def set_index_entries(self, entries: dict[str, tuple[str, str] | None]) -> None:
        """Set the index entries of the paths `entries` names to theirs ((mode, object id),
        as `index_entries` reads them; None: the path has none), leaving the workspace as
        it is. An entry already so is not rewritten."""
        now = self.index_entries(list(entries))
        changed = {path: entry for path, entry in entries.items() if now.get(path) != entry}
        gone = [path for path, entry in changed.items() if entry is None]
        for batch in _command_line_batches(literal(gone)):
            self._run("rm", "-q", "--cached", "--ignore-unmatch", "--", *batch)
        infos = b"".join(f"{entry[0]} {entry[1]}\t".encode() + os.fsencode(path) + b"\0"
                         for path, entry in changed.items() if entry is not None)
        if infos:
            self._run("update-index", "-z", "--index-info", stdin=infos)

    def add_files(self, relpaths: list[str]) -> None:
        """`git add` of `relpaths`, files of the workspace, over an ignore rule too."""
        sparse = ["--sparse"] if relpaths and self.sparse_checkout() else []
        for batch in _command_line_batches(literal(relpaths)):
            self._run("add", "--force", *sparse, "--", *batch)

    def run(self, *args: str) -> bytes:
        """Any other git command, in this repository."""
        return self._run(*args)

    def close(self) -> None:
        """End the long-lived `git cat-file`s that reading objects started, if any."""
        for batch in self._batches.values():
            batch.close()
        self._batches.clear()

    def stage(self, relpaths: list[str]) -> None:
        """`git add` what exists and unstage what was removed (autostage)."""
        existing = [p for p in relpaths if os.path.lexists(os.path.join(self.root, p))]
        removed = [p for p in relpaths if p not in existing]
        sparse = ["--sparse"] if self.sparse_checkout() else []
        if existing:
            self._run("add", *sparse, "--", *literal(existing))
        if removed:
            self._run("rm", *sparse, "-r", "--cached", "--ignore-unmatch", "-q", "--",
                      *literal(removed))

    def sparse_checkout(self) -> bool:
        """Whether this work tree is a sparse checkout (`is_sparse_checkout`), read once: `git
        add` of a path outside its sparse set then needs `--sparse`, and the index may hold
        files it leaves out of the workspace."""
        if self._sparse is None:
            self._sparse = is_sparse_checkout(self.root)
        return self._sparse


def _holds_any(directory: str, paths: set[str]) -> bool:
    """Whether any of `paths` is below `directory`."""
    prefix = directory.rstrip("/") + "/"
    return any(p.startswith(prefix) for p in paths)


def _narrowed(refspecs: Sequence[str]) -> bool:
    """Do these fetch refspecs leave out some branches? Only one bringing every branch
    (`_brings_every_branch`) brings them all, unless a negative refspec (`^refs/heads/wip/*`)
    leaves out those it matches; no refspec, or one bringing tags alone, brings none."""
    if any(r.startswith("^") and not r.startswith("^refs/tags/") for r in refspecs):
        return True
    return not _brings_every_branch(refspecs)


def _brings_every_branch(refspecs: Sequence[str]) -> bool:
    """Does one of these fetch refspecs bring every branch (`refs/heads/*`, or `refs/*` of a
    mirror), whatever a negative one leaves out?"""
    sources = [refspec.lstrip("+").partition(":")[0] for refspec in refspecs
               if not refspec.startswith("^")]
    return any(source in ("refs/heads/*", "refs/*") for source in sources)


def _fetches(refspecs: Sequence[str], ref: str) -> bool:
    """Does a fetch with these refspecs bring the remote's `ref` (a refspec's source matches
    it, and no negative refspec leaves it out)?"""
    if any(_refspec_match(r[1:], ref) is not None for r in refspecs if r.startswith("^")):
        return False
    return any(_refspec_match(r.lstrip("+").partition(":")[0], ref) is not None
               for r in refspecs if not r.startswith("^"))


def tracking_ref(refspecs: Sequence[str], ref: str) -> str | None:
    """The ref of this clone that a fetch with `refspecs` stores the remote's `ref` in
    (`refs/heads/main` -> `refs/remotes/origin/main`); None when it stores it nowhere (no
    refspec brings it, a negative one leaves it out, or one fetches it into FETCH_HEAD only)."""
    found = None
    for refspec in refspecs:
        if refspec.startswith("^"):
            if _refspec_match(refspec[1:], ref) is not None:
                return None
            continue
        source, _, destination = refspec.lstrip("+").partition(":")
        matched = _refspec_match(source, ref)
        if matched is not None and destination and found is None:
            found = destination.replace("*", matched, 1)
    return found


_BRANCH_HOMES = ("refs/heads/", "refs/remotes/")  # what --branches and --remotes cover


def _refspec_destination(refspec: str) -> str:
    """Where the fetch refspec `refspec` stores what it brings ('' for FETCH_HEAD only)."""
    return refspec.lstrip("+").partition(":")[2]


def _stores_a_branch(refspecs: Sequence[str], ref: str) -> bool:
    """Whether a fetch with `refspecs` stores one of the remote's branches in this clone's
    `ref`: `ref` is where `tracking_ref` finds that branch's copy."""
    for refspec in refspecs:
        if refspec.startswith("^"):
            continue
        source, _, destination = refspec.lstrip("+").partition(":")
        matched = _refspec_match(destination, ref) if destination else None
        if matched is None:
            continue
        branch = source.replace("*", matched, 1)
        if branch.startswith("refs/heads/") and tracking_ref(refspecs, branch) == ref:
            return True
    return False


def _refspec_match(pattern: str, ref: str) -> str | None:
    """What the `*` of `pattern` stands for in `ref` ('' for an exact match), or None when
    `pattern` does not match `ref`."""
    if "*" not in pattern:
        return "" if pattern == ref else None
    head, _, tail = pattern.partition("*")
    if len(ref) >= len(head) + len(tail) and ref.startswith(head) and ref.endswith(tail):
        return ref[len(head):len(ref) - len(tail)]
    return None


def _fetching_the_branch(rev: str, remotes: list[str]) -> str:
    """The fetch that makes `rev`, if it names a branch another clone has, a name here: a
    shallow clone fetches one branch, and `git fetch REMOTE BRANCH` alone updates only
    FETCH_HEAD, so the fetch names where the branch goes (REMOTE/NAME, for one of
    `remotes`: its remote-tracking branch; a bare NAME: a branch of that name here, fetched
    from origin, else the first remote)."""
    default = "origin" if "origin" in remotes or not remotes else remotes[0]
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", rev) or re.fullmatch(r"[0-9a-f]{7,64}", rev):
        return f"`git fetch {shell_quote(default)} BRANCH:BRANCH` another branch"
    remote, _, branch = rev.partition("/")
    if remote in remotes and branch:
        source, refspec = remote, f"{branch}:refs/remotes/{remote}/{branch}"
    else:
        source, refspec = default, f"{rev}:{rev}"
    return (f"`git fetch {shell_quote(source)} {shell_quote(refspec)}` the branch {rev!r}, if "
            "it is one")
