"""Repo: finds the repository root and wires configuration, cache, stat cache, Git and lock."""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING

from dvx.config import Config, refuse_relative_global_cache_dir
from dvx.errors import (
    ConfigError,
    DvxError,
    NotARepoError,
    OtherAlgorithmError,
    PathError,
    PrivateFilesInGitError,
)
from dvx.fsutil import access_fix, atomic_write, folder_and_parents
from dvx.gitignore import exclude_temporaries
from dvx.hash_setting import (
    PERSONAL,
    lock_algo_mismatch,
    own_setting_refusal,
    recorded_algorithms,
)
from dvx.lockfile import LockWriter, StageLock, read_lock
from dvx.logs import get_logger, shell_quote
from dvx.objects.cache import LocalCache
from dvx.objects.statcache import StatCache
from dvx.paths import from_here, join_posix
from dvx.progress import NoProgress, Progress
from dvx.scm import (
    Git,
    broken_git_file,
    common_git_dir_of,
    find_git_root,
    git_directory_holding,
    holds_git_repository,
    ignores_case,
    left_out_of_workspace,
    linked_worktree_of_git_directory,
    main_worktree_of,
    superproject_of,
    top_git_directory_holding,
    tracked_in,
    untrack_command,
    why_git_would_add,
    work_tree_of_git_directory,
    work_tree_seeing,
)
from dvx.syncstate import SyncState

if TYPE_CHECKING:
    from dvx.ignore import DvxIgnore
    from dvx.lock import Command, RepoLock
    from dvx.objects.tree import Tree
    from dvx.pointer import Pointer
    from dvx.remote.store import RemoteStore

log = get_logger(__name__)

DVX_DIR = ".dvx"
# What in .dvx/ belongs to one clone, never to Git: where dvx writes and deletes, and the
# user's own settings (which may confirm a cache outside the repository).
PRIVATE = ("cache", "tmp", "config.local")
# Inside .dvx/cache and .dvx/tmp: they stay out of Git on a commit without .dvx/.gitignore.
IGNORE_EVERYTHING = b"# dvx: never Git's, whatever commit is checked out\n*\n"
# Links followed in a row before a path counts as a loop, as the kernel counts (MAXSYMLINKS)
_MAX_LINK_HOPS = 40


def find_root(start: str | None = None) -> str:
    """The root of the dvx project holding `start` (default: the current directory): the
    nearest folder at or above it with a .dvx folder. The search stops at the top of the
    nearest Git work tree (a folder whose `.git` is a Git repository: a clone, a submodule,
    a linked worktree; Git looks past any other `.git`, and so does the search) and at a
    `.dvx` that is no folder: a Git repository nested in a dvx project is a repository of its
    own, never worked on as the project around it. Projects without Git
    (`core.no_scm`) are found by their .dvx alone."""
    here = os.path.abspath(start or os.getcwd())
    for current in folder_and_parents(here):
        dvx_dir = os.path.join(current, DVX_DIR)
        if os.path.isdir(dvx_dir):
            config = os.path.join(dvx_dir, "config")
            if not os.path.exists(config) and left_out_of_workspace(config) is not None:
                raise _left_out_by_sparse_checkout(current, folder_kept=True)
            return current
        if os.path.lexists(dvx_dir):
            raise dvx_is_no_folder(current)
        if holds_git_repository(current):
            broken = broken_git_file(current)
            if broken is not None:
                raise broken
            left_out = tracked_but_absent(current)
            if left_out is not None:
                raise left_out
            raise _no_project_in(here, current)
    raise _no_project_in(here, None)


def refuse_git_directory(root: str, command: str, here: str | None = None) -> None:
    """Refuse (NotARepoError) to run `command` in a folder (`here`, default the current
    one) of the Git directory at the top of the work tree `root`, where Git runs no command
    that works on a work tree ("must be run in a work tree"): the project dvx finds from
    there is the one around it, which may not be the one meant (Git run in a submodule's
    directory in .git/modules works on that submodule). The error names the work tree to
    run it in: a linked worktree's, from its Git directory in .git/worktrees."""
    try:
        here = os.path.abspath(here or os.getcwd())
    except FileNotFoundError:
        return  # a deleted folder: no Git directory, and the command says what it can
    git_dir = top_git_directory_holding(root, here)
    if git_dir is None:
        return
    real_root = os.path.realpath(root)
    submodule = work_tree_of_git_directory(here)
    if submodule is not None and submodule != real_root:
        raise NotARepoError(
            f"`{command}` was run in '{here}', the Git directory of the submodule "
            f"'{submodule}': from there dvx would work on the project '{real_root}' around "
            "it, not on the submodule Git works on there, so it did nothing.",
            f"Run it in the work tree it is meant for: `cd {shell_quote(submodule)}` for the "
            f"submodule, or `cd {shell_quote(real_root)}` for the project around it.")
    linked = linked_worktree_of_git_directory(git_dir, here)
    if linked is not None:
        raise NotARepoError(
            f"`{command}` was run in '{here}', the Git directory of the linked worktree "
            f"'{linked}', where Git keeps its own files: dvx works in a work tree only, as "
            "Git's own commands do (\"must be run in a work tree\"), so it did nothing.",
            f"Run it in the work tree it is meant for: `cd {shell_quote(linked)}` for the "
            f"linked worktree, or `cd {shell_quote(real_root)}` for the main one.")
    in_it = "" if os.path.realpath(here) == git_dir else f", in the Git directory '{git_dir}'"
    raise NotARepoError(
        f"`{command}` was run in '{here}'{in_it}, where Git keeps its own files: dvx works "
        "in a work tree only, as Git's own commands do (\"must be run in a work tree\"), so "
        "it did nothing.",
        f"Run it in the work tree: `cd {shell_quote(real_root)}` first.")


def dvx_is_no_folder(root: str) -> NotARepoError:
    """The error for a project whose .dvx is a file (or a link to no folder), where dvx keeps
    its configuration and cache: not a dvx repository, nor one to look past."""
    dvx_dir = os.path.join(root, DVX_DIR)
    tracked = DVX_DIR in tracked_in(root, DVX_DIR)
    came = ", and Git tracks it (it came with the repository)" if tracked else ""
    unstage = f"`git rm --cached {DVX_DIR}` and " if tracked else ""
    return NotARepoError(
        f"'{dvx_dir}' is not a folder{came}: dvx keeps its configuration and cache in a "
        f"{DVX_DIR} folder, so '{root}' is no dvx repository.",
        f"If this repository is meant to use dvx, ask whoever made it what the file is for; "
        f"to set dvx up here, move the file away ({unstage}a commit, if Git tracks it), then "
        "run `dvx init`.")


def _no_project_in(here: str, git_top: str | None) -> NotARepoError:
    """The error for `here`, in no dvx project: none up to the top of the Git work tree
    `git_top` holding it (None: no Git repository holds it), where the search stops, even
    with a project around that repository."""
    outer = None if git_top is None else project_above(git_top)
    if outer is None:
        return NotARepoError(f"'{here}' is not inside a dvx repository.",
                             "Run `dvx init` at the top of your Git repository first.")
    where = "is the top of" if here == git_top else "is in"
    return NotARepoError(
        f"'{here}' {where} the Git repository '{git_top}', which has no dvx set up. It is a "
        f"repository of its own inside the dvx repository '{outer}', so dvx does not work "
        "in that project from here (its data and settings are not this repository's).",
        f"Run `dvx init` in '{git_top}' to track data in it, or run dvx in '{outer}' "
        f"outside '{git_top}' to work in that project.")


def project_above(folder: str, in_its_repository: bool = False) -> str | None:
    """The nearest folder above `folder` holding a .dvx folder (a project's top), if any.
    `in_its_repository`: only in the Git repository `folder` is in: none past the top of a
    Git work tree (`folder` or one on the way that holds_git_repository), which is a
    repository of its own, as `find_root` takes it."""
    if in_its_repository and holds_git_repository(folder):
        return None
    for current in folder_and_parents(os.path.dirname(folder)):
        if os.path.isdir(os.path.join(current, DVX_DIR)):
            return current
        if in_its_repository and holds_git_repository(current):
            return None
    return None


def tracked_but_absent(git_root: str) -> NotARepoError | None:
    """The error for a Git work tree whose index holds the team's .dvx/config while the
    workspace has no .dvx (a sparse checkout leaving it out, or a deletion), else None: dvx
    is set up there, and a `dvx init` would write a new configuration over the team's."""
    config = f"{DVX_DIR}/config"
    if config not in tracked_in(git_root, DVX_DIR):
        return None
    if left_out_of_workspace(os.path.join(git_root, DVX_DIR, "config")) is not None:
        return _left_out_by_sparse_checkout(git_root, folder_kept=False)
    return _set_up_but_unreadable(git_root, "the workspace has no .dvx folder",
                                  f"Restore it from Git: `git restore {DVX_DIR}`.")


def _left_out_by_sparse_checkout(git_root: str, folder_kept: bool) -> NotARepoError:
    """A sparse set without .dvx: Git takes the team's config out of the workspace, and in
    cone mode deletes the whole folder, the ignored cache in it included; `folder_kept`: the
    folder is still there (a non-cone pattern leaves ignored files)."""
    add = f"Add it to the sparse set: `git sparse-checkout add {DVX_DIR}`."
    if folder_kept:
        lost = "The cache in it is still there."
    else:
        lost = (f"If this clone kept its cache there ({DVX_DIR}/cache, the default), Git deleted "
                "it with the folder: only data pushed to a remote comes back, with `dvx pull`.")
    return _set_up_but_unreadable(git_root, "this sparse checkout leaves it out of the workspace",
                                  f"{add} {lost}")


def _set_up_but_unreadable(git_root: str, why: str, fix: str) -> NotARepoError:
    config = f"{DVX_DIR}/config"
    return NotARepoError(
        f"The Git repository '{git_root}' has dvx set up (Git tracks {config}, with the "
        f"team's remotes and settings), but {why}, so dvx cannot read it.",
        f"{fix} (`dvx init` would write a new, empty configuration over the team's.)")


def not_at_the_top(root: str, git_root: str) -> NotARepoError:
    return NotARepoError(
        f"The dvx project '{root}' is inside the Git repository '{git_root}' but not at its "
        "top, and its config does not say it works without Git: dvx works with Git only at "
        "the top of a work tree, so here it could neither refuse what Git tracks nor stage "
        "what it writes (and `git add -A` would commit the data itself).",
        f"Put the project at the top of a Git repository (its own, or move its .dvx to "
        f"'{git_root}'); or, if it is meant to work without Git, run `dvx config core.no_scm "
        "true` in it (what `dvx init --no-scm` sets).")


class Repo:
    def __init__(self, root: str, progress: Progress | None = None,
                 read_only: bool = False) -> None:
        self.root = os.path.abspath(root)
        self.dvx_dir = os.path.join(self.root, DVX_DIR)
        self.progress: Progress = progress or NoProgress()
        # Read as another repository's source (ops/source.py): dvx writes nothing there.
        self.read_only = read_only
        # The command this repository was opened for, as its lock records it (the CLI says
        # what makes another run the same command); None: this process's command line.
        self.command: Command | None = None
        self._temporaries_excluded = False
        self._private_files_checked = False
        # What the workspace's pointer files and dvx.lock record, by data path, read once
        # where the executable bit is not read from files, or a .dvxignore rule applies to
        # tracked data (workspace.py recorded_executable, recorded_below).
        self.recorded_pointers: dict[str, Pointer] | None = None

    @classmethod
    def find(cls, start: str | None = None, progress: Progress | None = None) -> Repo:
        return cls(find_root(start), progress)

    @functools.cached_property
    def shared_dvx_dir(self) -> str | None:
        """In a linked Git worktree (`git worktree add`), the folder whose cache and
        config.local every worktree of the Git repository uses, as Git shares its own config:
        the main worktree's .dvx, or, where Git names no main worktree (a bare repository),
        dvx/ in the Git directory they share. Decided from Git's files alone, never from what
        a worktree has checked out, so data committed anywhere stays in one cache. None in a
        main worktree."""
        common = common_git_dir_of(self.root)
        if common is None:
            return None
        main = main_worktree_of(common)
        return os.path.join(main, DVX_DIR) if main is not None else os.path.join(common, "dvx")

    def _refuse_private_files_from_git(self) -> None:
        """Refuse a repository whose Git tracks dvx's private files (or a `.dvx` that is not a
        directory): a clone would bring a link leading to another project's cache, or settings
        the user never chose. Asked once, before anything in .dvx/ is read or written."""
        if self._private_files_checked:
            return
        tracked = sorted({"/".join(path.split("/")[:2]) for path in tracked_in(self.root, DVX_DIR)
                          if _is_private(path)})
        if tracked:
            untracking = " and ".join(f"`{untrack_command(self.root, path)}`"
                                      for path in tracked)
            raise PrivateFilesInGitError(
                f"Git tracks {', '.join(tracked)} in the repository '{self.root}': dvx's "
                "private files, which belong to one clone and must never come from Git (a "
                "cloned link or setting there could make dvx write or delete outside the "
                "repository). dvx reads and writes nothing in this repository until Git stops "
                "tracking them.",
                f"If the repository is yours: {untracking} (Git forgets them; the files "
                "stay), delete any of them that is a symbolic link, and commit. Otherwise ask "
                "its owner to.")
        self._private_files_checked = True

    @functools.cached_property
    def config(self) -> Config:
        self._refuse_private_files_from_git()
        own_local = os.path.join(self.dvx_dir, "config.local")
        # Weakly: a config holding this repository would make a cycle, which keeps the
        # repository's `git cat-file` processes running until a garbage collection.
        before_save = _weakly(self._before_config_save)
        if self.shared_dvx_dir is None or os.path.exists(own_local):
            return Config(self.dvx_dir, before_save=before_save)
        return Config(self.dvx_dir, os.path.join(self.shared_dvx_dir, "config.local"),
                      before_save=before_save)

    @property
    def has_default_remote(self) -> bool:
        """Is a default remote set (`core.remote`), which a bare `dvx pull` fetches from?"""
        return self.config.get("core", "remote") is not None

    def _before_config_save(self, level: str) -> None:
        """Before a config file is written: Git is told to ignore the temporary the write
        makes beside it, and config.local (this clone's credentials) is refused where Git
        would not ignore it, or the file a link there leads to. (The global config, which
        is no repository's, is checked by Config itself.)"""
        self.exclude_temporaries()
        if level == "local":
            self.refuse_private_settings_git_would_add()
            self._refuse_linked_settings_git_would_add()

    def _refuse_linked_settings_git_would_add(self) -> None:
        """Refuse (PathError) to write config.local through a link (ConfigFile.written_path)
        to a file that `git add -A` would stage, in this work tree or any other: the link is
        not in Git, but the credentials are written where it leads."""
        mine = self.config.file("local")
        written = mine.written_path()
        why = why_git_would_add(written) if written != mine.path else None
        if why is None:
            return
        shown = os.path.relpath(mine.path, self.root)
        raise PathError(
            f"dvx wrote nothing to {shown}, a symbolic link to '{written}': Git would not "
            f"ignore that file ({why}), so the next `git add -A` there would put your own "
            "settings and credentials into a commit.",
            "Point the link at a file Git ignores, or outside any Git work tree, or make it a "
            "regular file, then run the command again.")

    def private_settings_git_would_add(self) -> str | None:
        """Why `git add -A` would put this clone's config.local into a commit (a committed
        `!` rule taking it back into Git), whether the file exists or not; None when Git
        ignores it, or no Git work tree holds it. Asked under core.no_scm too: a committed
        setting does not stop `git add -A` in the work tree the clone is."""
        return why_git_would_add(self.config.paths["local"])

    def refuse_private_settings_git_would_add(self) -> None:
        """Refuse (PathError) to write config.local where Git would not ignore it: a
        credential written there would be staged by the next `git add -A`."""
        why = self.private_settings_git_would_add()
        if why is None:
            return
        shown = os.path.relpath(self.config.paths["local"], self.root)
        raise PathError(
            f"dvx wrote nothing to {shown}, this clone's own settings and credentials: Git "
            f"would not ignore it ({why}), so the next `git add -A` would put it into a commit.",
            "Make Git ignore it again: keep `/config.local` in .dvx/.gitignore as `dvx init` "
            "writes it, with no `!` rule taking it back (`git check-ignore -v -n "
            ".dvx/config.local` names the rule that decides), then run the command again.")

    def warn_of_unknown_options(self, said: set[str]) -> None:
        """Say what the config files set that dvx ignores (Config.unknown_options), but for
        the sentences of `said`, which it adds them to: those the command said already (it
        may open its repository twice). For the repository a command runs in, not one it
        reads data from (an import's source), whose files the user does not edit here. A
        config that cannot be read is left to the command, which names it where it reads
        it."""
        try:
            sentences = self.config.unknown_options()
        except DvxError:
            return
        for sentence in sentences:
            if sentence not in said:
                said.add(sentence)
                log.warning("%s", sentence)

    # Read once per command: these sit on per-file paths (add, checkout), and the config
    # does not change while a command runs.
    @functools.cached_property
    def algo(self) -> str:
        return self.config.hash_algo()

    @functools.cached_property
    def recorded_algorithms(self) -> dict[str, list[str]]:
        """The hash algorithms this repository's tracked data records (hash_setting.py):
        read once per command, where a setting of core.hash is checked against them."""
        return recorded_algorithms(self.git)

    def refuse_own_hash_setting(self) -> None:
        """Refuse (ConfigError) to record data with a core.hash of the user's own config
        (global, or config.local) that is not the algorithm of the repository's data: every
        clone hashing as the repository does could not read it (hash_setting.py)."""
        if self.config.where("core", "hash") not in PERSONAL:
            return  # the repository's own setting, or the default: its data is not read
        refusal = own_setting_refusal(self.config, self.algo, self.recorded_algorithms)
        if refusal is not None:
            raise refusal

    def read_lock(self, writer: LockWriter | None = None) -> dict[str, StageLock]:
        """The stages the workspace's dvx.lock records (lockfile.read_lock; by `writer`,
        which then knows what it read). One recorded with another hash algorithm than dvx
        hashes with here is refused with the fix of whichever is off, the setting or
        dvx.lock (hash_setting.py)."""
        try:
            return writer.read() if writer is not None else read_lock(self.root, self.algo)
        except OtherAlgorithmError as exc:
            raise lock_algo_mismatch(self.config, self.recorded_algorithms, self.root,
                                     exc.recorded, exc.algo) from None

    def hash_as(self, algo: str) -> None:
        """Name this repository's data with `algo` whatever the config levels say: a
        repository read as another's source (ops/source.py), whose data its committed
        config alone names, never the reading user's global config."""
        self.__dict__["algo"] = algo

    @functools.cached_property
    def tmp_dir(self) -> str:
        self._refuse_private_files_from_git()
        path = self._outside_git(os.path.join(self.dvx_dir, "tmp"), "temporary directory",
                                 home="tmp")
        self._ignore_everything_in(path)
        return path

    @functools.cached_property
    def cache_dir(self) -> str:
        configured = self.config.get("cache", "dir")
        if not configured:
            shared = self.default_cache_dir
            self._warn_of_own_cache(shared)
            return self._outside_git(shared, "cache directory")
        level = self.config.where("cache", "dir")
        path = self.cache_dir_of(configured, level)
        self.refuse_tracked_link_on_the_way(configured, path, level)
        if level == "project" and not self.is_inside(path):
            self._check_confirmed(configured, path)
        path = self._outside_git(path, "cache directory (cache.dir)")
        self.refuse_where_other_git_sees(
            path, f"cache directory (cache.dir) '{path}'", "Point cache.dir at a folder "
            "outside any Git work tree, or one Git ignores there "
            f"(`{self._unset_cache_dir_command()}` for the default).")
        return path

    def _unset_cache_dir_command(self) -> str:
        """The command that unsets cache.dir at the level whose value is in effect."""
        level = self.config.where("cache", "dir")
        flag = "" if level in ("project", None) else f" --{level}"
        return f"dvx config{flag} --unset cache.dir"

    @property
    def default_cache_dir(self) -> str:
        """The cache when no cache.dir is set: .dvx/cache. A linked worktree's commits are
        every worktree's, so all of them use the main worktree's: one cache keeps their data
        when a worktree is removed."""
        return os.path.join(self.shared_dvx_dir or self.dvx_dir, "cache")

    def unconfirmed_cache_dir(self) -> bool:
        """Does the tracked config alone set a cache.dir outside the repository, which no
        command uses until the user's own config names it too (`_check_confirmed`)?"""
        configured = self.config.get("cache", "dir")
        if not configured or self.config.where("cache", "dir") != "project":
            return False
        return not self.is_inside(self.cache_dir_of(configured, "project"))

    def cache_dir_unconfirmed_hides(self) -> str:
        """The cache in use before the tracked config's cache.dir came (unconfirmed_cache_dir):
        the one the global config names, which the tracked config overrides, else the
        default."""
        config_file = self.config.files.get("global")
        own = config_file.get("cache", "dir") if config_file else None
        return self.cache_dir_of(own, "global") if own else self.default_cache_dir

    def cache_dir_of(self, configured: str, level: str | None = "project") -> str:
        """Where a cache.dir value set at `level` leads: a relative one starts at the folder
        of the config file that names it; the tracked config's, at the .dvx every worktree
        shares, so that all use one cache. The global config's must be absolute
        (refuse_relative_global_cache_dir)."""
        path = self.config.paths.get(level or "project")
        if level == "global":
            refuse_relative_global_cache_dir(configured, self.config.paths["global"],
                                             written=True)
        if level == "local" and path:
            base = os.path.dirname(path)
        else:
            base = self.shared_dvx_dir or self.dvx_dir
        return os.path.normpath(os.path.join(base, os.path.expanduser(configured)))

    def is_inside(self, path: str) -> bool:
        """Is `path` in this repository: its workspace, or the .dvx its worktrees share?"""
        real = os.path.realpath(path)
        homes = [self.root, *([self.shared_dvx_dir] if self.shared_dvx_dir else [])]
        return any(_within(real, os.path.realpath(home)) for home in homes)

    def _hide_cache_from_git(self) -> None:
        """The cache in a worktree's .dvx/cache (this one's, or the main worktree's that
        linked worktrees share) ignores itself, as .dvx/tmp does: on a commit from before
        `dvx init` (a `git bisect` step), whose tree has no .dvx/.gitignore, `git add -A`
        still never commits the data."""
        dvx_dir = self.shared_dvx_dir or self.dvx_dir
        if os.path.basename(dvx_dir) != DVX_DIR:
            return  # in the Git directory of a bare repository, where Git never looks
        cache = os.path.join(dvx_dir, "cache")
        if _within(os.path.realpath(self.cache_dir), os.path.realpath(cache)):
            self._ignore_everything_in(cache)

    def _ignore_everything_in(self, folder: str) -> None:
        """A .gitignore of `*` in `folder`, a private folder of .dvx, unless it has one.
        Best effort: a folder that is a symbolic link is left alone (Git sees only the
        link, which no file inside it hides)."""
        ignore = os.path.join(folder, ".gitignore")
        if self.read_only or os.path.lexists(ignore) or os.path.islink(folder):
            return
        try:
            os.makedirs(folder, exist_ok=True)
            atomic_write(ignore, IGNORE_EVERYTHING, fsync=self.fsync)
        except OSError as exc:
            log.debug("No .gitignore written in %s: %s", folder, exc)

    def _warn_of_own_cache(self, shared: str) -> None:
        """A linked worktree's own .dvx/cache holding objects (written before its worktrees
        shared one cache) is data dvx no longer reads, and `git worktree remove` deletes."""
        own = os.path.join(self.dvx_dir, "cache")
        if self.shared_dvx_dir is None or not _has_entries(os.path.join(own, "files")):
            return
        files, into = (shell_quote(os.path.join(d, "files")) for d in (own, shared))
        log.warning("This worktree's own cache (%s) holds objects, but every worktree of this "
                    "Git repository uses the shared cache at %s: data only in the own one "
                    "counts as not in the cache, and is deleted with the worktree. Move it "
                    "over: `mkdir -p %s && cp -a -n %s/. %s/ && rm -r %s`, then run `dvx "
                    "checkout --relink` (files linked into the own cache are linked into the "
                    "shared one).",
                    own, shared, into, files, into, files)

    def _check_confirmed(self, configured: str, path: str) -> None:
        """A cache directory outside the repository, named by the tracked config (which comes
        with a clone), is used only once the user's own config names it too."""
        for level in ("local", "global"):
            config_file = self.config.files.get(level)
            own = config_file.get("cache", "dir") if config_file else None
            if own and os.path.realpath(self.cache_dir_of(own, level)) == os.path.realpath(path):
                return
        real = os.path.realpath(path)
        raise ConfigError(
            f"This repository's tracked config (.dvx/config) sets cache.dir to '{configured}', "
            f"which is outside the repository ({real}). A cloned repository cannot choose "
            "where dvx writes outside it.",
            f"If you trust it (a shared cache), confirm it once by its real path: dvx config "
            f"--local cache.dir {shell_quote(real)}; otherwise remove the setting from "
            ".dvx/config.")

    def refuse_tracked_link_on_the_way(self, configured: str, path: str, level: str | None,
                                       written: bool = True) -> None:
        """Refuse (ConfigError) a cache.dir, `configured` at `level` and leading to `path`,
        that is or goes through a symbolic link Git tracks, whichever config names it: any
        commit can point that link elsewhere, and after a `git pull` dvx would write and
        delete there (another project's cache), whatever folder the user confirmed. Not
        `written` yet (`dvx config` is setting it), the message says nothing was."""
        link = self.tracked_link_on_the_way(path)
        if link is None:
            return
        real = os.path.realpath(path)
        shown = os.path.relpath(link, os.path.realpath(self.root))
        if shown.startswith(os.pardir):
            shown = link  # in the main worktree seen from a linked one, or a superproject
        files = {"project": "the tracked config (.dvx/config)", "local": ".dvx/config.local",
                 "global": self.config.paths.get("global", "the global config")}
        remove = {"project": "remove the setting from .dvx/config",
                  "local": "`dvx config --local --unset cache.dir`",
                  "global": "`dvx config --global --unset cache.dir`"}
        level = level or "project"
        named_in = f" in {files[level]}" if written else ""
        otherwise = (remove[level] if written
                     else f"name another folder (nothing was written to {files[level]})")
        raise ConfigError(
            f"cache.dir '{configured}'{named_in} goes through the "
            f"symbolic link '{shown}', which Git tracks: a commit can point it elsewhere, and "
            f"after a `git pull` dvx would write and delete wherever it then leads (it now "
            f"leads to {real}). A cloned repository cannot choose where dvx writes.",
            f"If you trust the folder it leads to now, confirm that folder by its real path: "
            f"dvx config --local cache.dir {shell_quote(real)} (or --global for every "
            f"repository); otherwise {otherwise}.")

    def tracked_link_on_the_way(self, path: str) -> str | None:
        """The first symbolic link that `path` is or goes through which Git tracks in a
        worktree of this repository, or of a superproject holding it as a submodule (its real
        location: the links before it followed), or None. The links are followed one at a
        time, so a link of the user's own that leads to a tracked one is seen through. Links
        elsewhere are the user's own; one Git tracks comes with every pull."""
        workspaces: list[str] | None = None  # asked of Git only once a link is met
        pending = os.path.abspath(path).split(os.sep)
        reached = os.sep
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in ("", os.curdir):
                continue
            if part == os.pardir:  # `reached` holds no link: its parent is the real one
                reached = os.path.dirname(reached)
                continue
            here = os.path.join(reached, part)
            if not os.path.islink(here):
                reached = here
                continue
            if workspaces is None:
                workspaces = self._workspaces_with_superprojects()
            if _tracked_by_git(here, workspaces):
                return here
            hops += 1
            if hops > _MAX_LINK_HOPS:
                return None  # a loop of links: no cache can be made there either
            try:
                target = os.readlink(here)
            except OSError:
                return None
            if os.path.isabs(target):
                reached = os.sep
            pending[:0] = target.split(os.sep)
        return None

    def _outside_git(self, path: str, what: str, home: str = "cache") -> str:
        """`path`, unless Git would see what dvx writes there (a cloned or hand-edited config,
        or a symlink, can try; `dvx config` refuses it before writing it down)."""
        place = self.place_git_sees(path, home)
        if place == "git":
            git_dir = os.path.realpath(os.path.join(self.root, ".git"))
            raise ConfigError(f"The {what} '{path}' leads into the Git directory '{git_dir}'; "
                              "dvx never writes there.", self._ways_out_of_git(path, home))
        if place == "workspace":
            raise ConfigError(f"The {what} '{path}' leads into the workspace outside "
                              f".dvx/{home}, where Git would see every object (git add -A "
                              "would commit the data itself).",
                              self._ways_out_of_git(path, home))
        return path

    def _ways_out_of_git(self, path: str, home: str) -> str:
        """The hint for a folder of dvx's (`path`) that leads where Git sees it: unsetting
        cache.dir at the level that sets it, and replacing the symbolic link on the way if a
        link (not the path as written) leads it there."""
        ways = []
        level = self.config.where("cache", "dir") if home == "cache" else None
        if level is not None:
            # A global cache.dir is every repository's: one's .dvx/cache is no place for it.
            or_in_dvx_cache = "" if level == "global" else " or in .dvx/cache"
            ways.append(f"Point cache.dir at a folder outside the repository{or_in_dvx_cache} "
                        f"(`{self._unset_cache_dir_command()}` for the default)")
        if self.place_git_sees(path, home, resolve=_lexical) is None:
            ways.append("replace the symbolic link on the way with a real directory"
                        if ways else "Replace the symbolic link on the way with a real "
                        "directory")
        return ", or ".join(ways) + "." if ways else "Point it outside the repository."

    def refuse_where_other_git_sees(self, path: str, shown: str, hint: str) -> None:
        """A folder outside this repository (a cache.dir) that leads into a Git directory,
        or into another repository's work tree that does not ignore it
        (scm.work_tree_seeing, the rule directory remotes follow too), is refused: that
        repository's `git add -A` would commit every object."""
        if self.is_inside(path):
            return  # place_git_sees says where Git sees it here
        refuse_where_git_sees(path, shown, hint)

    def place_git_sees(self, path: str, home: str = "cache",
                       resolve: Callable[[str], str] = os.path.realpath) -> str | None:
        """Where `path` leads if Git would see what dvx writes there: "git" (the Git
        directory), or "workspace" (a worktree of this repository, anywhere but the folder
        .dvx/HOME that .dvx/.gitignore ignores), else None. A path is judged by the innermost
        worktree holding it: a linked worktree may sit inside the main one's folder (which
        then ignores it), and its own .dvx/HOME is as hidden as the main one's. `resolve`:
        how a path becomes the one judged (`_lexical`: as written, no link followed)."""
        real = resolve(path)
        if _within(real, resolve(os.path.join(self.root, ".git"))):
            return "git"
        holding = [workspace for workspace in self._workspaces(resolve)
                   if _within(real, workspace)]
        if not holding:
            return None
        workspace = max(holding, key=len)
        # .dvx/HOME itself may be a link leading elsewhere: Git ignores only its name
        allowed = os.path.join(resolve(os.path.join(workspace, DVX_DIR)), home)
        return None if _within(real, allowed) else "workspace"

    def _workspaces(self, resolve: Callable[[str], str] = os.path.realpath) -> list[str]:
        """The real paths of the worktrees whose files this repository's Git sees: this
        one's, and in a linked worktree the main one's."""
        workspaces = [resolve(self.root)]
        if self.shared_dvx_dir and os.path.basename(self.shared_dvx_dir) == DVX_DIR:
            workspaces.append(resolve(os.path.dirname(self.shared_dvx_dir)))
        return workspaces

    def _workspaces_with_superprojects(self) -> list[str]:
        """_workspaces, and the work trees of the superprojects holding this repository as a
        submodule (and theirs in turn): a pull of the superproject changes them too."""
        workspaces = self._workspaces()
        superproject = superproject_of(self.root)
        while superproject is not None and os.path.realpath(superproject) not in workspaces:
            workspaces.append(os.path.realpath(superproject))
            superproject = superproject_of(superproject)
        return workspaces

    @functools.cached_property
    def cache(self) -> LocalCache:
        cache = LocalCache(self.cache_dir, self.algo, shared=self._cache_shared())
        self._hide_cache_from_git()
        # The folders objects and temporaries are written to may be links of their own.
        self._outside_git(cache.files_root, "cache's object directory")
        self._outside_git(cache.tmp_dir, "cache's temporary directory")
        if not self.read_only:
            cache.keep_a_generation()  # so that gc on a full disk need not make one
            cache.known_stats = self.statcache  # what is known of its objects, kept
        return cache

    def _cache_shared(self) -> bool:
        """cache.shared for the cache in use. The tracked config, which comes with a clone,
        chooses it only for the project's own cache: in the repository (.dvx/cache, even a
        link leading elsewhere), or the cache.dir it names itself once this clone's
        config.local confirmed it. The user's own cache (a global cache.dir, whatever the
        tracked config names) keeps the modes the user's config and umask give: a clone never
        makes the user's objects readable by others. A tracked value the user's own configs
        do not give as well is said to be left unused (once: the cache is made once per
        command)."""
        if self._cache_is_the_project_s():
            return self.config.cache_shared()
        own = self.config.cache_shared(tracked_counts=False)
        if not own and self.config.cache_shared():
            # A global cache.dir is every repository's cache: shared in the global config.
            level = "global" if self._leads_to_cache_in_use("global") else "local"
            log.warning(
                "The tracked config (.dvx/config) sets cache.shared, which applies only to the "
                "project's own cache; the cache in use (%s) is yours, so its files keep the "
                "modes your umask gives. To share it with your group on purpose: `dvx config "
                "--%s cache.shared group`.", self.cache_dir, level)
        return own

    def _cache_is_the_project_s(self) -> bool:
        """Is the cache in use the project's own: .dvx/cache as written (a link there still
        names this repository's cache), a folder in the repository, or where the tracked
        config's cache.dir leads once this clone's config.local names it too? A folder the
        user's global cache.dir names is the user's own, whichever config names it too."""
        if _lexical(self.cache_dir) == _lexical(self.default_cache_dir):
            return True
        if self._leads_to_cache_in_use("global"):
            return False
        if self.is_inside(self.cache_dir):
            return True
        return self._leads_to_cache_in_use("project") and self._leads_to_cache_in_use("local")

    def _leads_to_cache_in_use(self, level: str) -> bool:
        """Does the cache.dir of the config at `level` lead to the cache in use? A relative
        global one names no folder (cache_dir refuses it where it is the one in use)."""
        config_file = self.config.files.get(level)
        configured = config_file.get("cache", "dir") if config_file else None
        if configured is None or (level == "global"
                                  and not os.path.isabs(os.path.expanduser(configured))):
            return False
        return os.path.realpath(
            self.cache_dir_of(configured, level)) == os.path.realpath(self.cache_dir)

    @functools.cached_property
    def statcache(self) -> StatCache:
        return StatCache(os.path.join(self.tmp_dir, "statcache.db"), self.algo)

    @functools.cached_property
    def syncstate(self) -> SyncState:
        """What the workspace was last synced to (dvx/syncstate.py)."""
        return SyncState(os.path.join(self.tmp_dir, "synced.json"), self.algo, self.root,
                         head=self._head_commit)

    def _head_commit(self) -> str | None:
        """The commit HEAD is at, which sync records name; None without Git or a commit,
        or when Git cannot say."""
        try:
            git = self.git
            return None if git is None else git.head()
        except DvxError:
            return None

    @functools.cached_property
    def unreadable(self) -> dict[str, DvxError]:
        """Pointer files (or dvx.lock) this command could not read and so left out, with
        why: the CLI reports them at the end (dvx/outputs.py)."""
        return {}

    @functools.cached_property
    def dvxignore(self) -> DvxIgnore:
        """The .dvxignore rules (dvx/ignore.py)."""
        from dvx.ignore import DvxIgnore

        return DvxIgnore(self.root)

    @functools.cached_property
    def open_stores(self) -> dict[str, RemoteStore]:
        """Remotes this command opened, by name (dvx/ops/remote.py)."""
        return {}

    @functools.cached_property
    def warned_copies(self) -> set[tuple[int, int]]:
        """(workspace device, cache device) pairs this command has warned about: files
        stored from the one stay copies, as no configured link reaches the other
        (dvx/ops/commit.py)."""
        return set()

    @functools.cached_property
    def warned_untrackable(self) -> set[str]:
        """The untrackable paths this command has warned about (dvx/workspace.py
        `warn_untrackable`), by the warning's text."""
        return set()

    @functools.cached_property
    def warned_ignored(self) -> set[str]:
        """Pointer files Git ignores that this command has warned about (dvx/outputs.py)."""
        return set()

    @functools.cached_property
    def pipeline_files_below(self) -> set[str]:
        """The dvx.yaml files below the root that a listing of pointer files came across:
        dvx reads only the root's (dvx/outputs.py pipeline_files_not_read)."""
        return set()

    @functools.cached_property
    def warned_pipelines(self) -> set[str]:
        """The dvx.yaml files below the root this command has warned about (dvx/outputs.py)."""
        return set()

    @functools.cached_property
    def loaded_trees(self) -> dict[tuple[str, str], Tree]:
        """Manifests this command has read, by (algo, oid): an object never changes, so one
        parse serves a fetch and the checkout after it (`pull`)."""
        return {}

    @functools.cached_property
    def recorded_in_blobs(self) -> dict[tuple[str, str], dict[str, Pointer]]:
        """What the pointer and dvx.lock blobs this command read from Git's history record,
        by (file, blob id): {data path: pointer}. A blob never changes, so each is parsed
        once (dvx/history.py recorded_lately)."""
        return {}

    @property
    def git(self) -> Git | None:
        """Git, for a project at the top of its work tree; None for one without Git (no Git
        repository holds it, or its config says so: core.no_scm). A project below the top
        of a Git work tree (`git subtree add` of a dvx repository, a project folder moved
        into another repository) is refused: what Git tracks and what dvx stages are paths
        from the top, and dvx without Git there would let `git add -A` commit the data."""
        git, git_root = self._git_and_top
        if git is None and git_root is not None:
            raise not_at_the_top(self.root, git_root)
        return git

    def below_the_top_of_git(self) -> bool:
        """Does `git` refuse this project? `dvx config` asks, to work there all the same: it
        is how to say the project works without Git."""
        git, git_root = self._git_and_top
        return git is None and git_root is not None

    def works_without_git(self) -> bool:
        """Does the config say the project works without Git (core.no_scm)? A repository read
        as another's source (`read_only`) is asked its committed config only: the user's own
        configs say how that user works in their own projects, never that the source's
        revisions hold no pointers."""
        if not self.read_only:
            return self.config.get_bool("core", "no_scm")
        committed = Config.of_files({"project": self.config.file("project")})
        return committed.get_bool("core", "no_scm")

    @functools.cached_property
    def _git_and_top(self) -> tuple[Git | None, str | None]:
        """(Git, None) at the top of a work tree; (None, its top) below it; (None, None)
        without Git."""
        if self.works_without_git():
            return None, None
        git_root = find_git_root(self.root)
        if git_root is None:
            return None, None
        broken = broken_git_file(git_root)  # Git refuses to run there
        if broken is not None:
            raise broken
        return (Git(git_root), None) if git_root == self.root else (None, git_root)

    @functools.cached_property
    def reads_exec_bit(self) -> bool:
        """Is a file's executable bit read from the filesystem? Not where Git's core.filemode
        is false (a filesystem that keeps none: exFAT, FAT): a tracked file then keeps the bit
        its pointer or manifest records, as Git keeps its index's, and a new one is not
        executable (workspace.py `recorded_executable`)."""
        git = self._git_and_top[0]
        return git is None or git.filemode()

    @functools.cached_property
    def link_types(self) -> tuple[str, ...]:
        return self.config.link_types()

    @property
    def fsync(self) -> bool:
        return self.config.get_bool("core", "fsync", default=True)

    def lock(self, stages_in_git: bool = False, wait: bool = True,
             only_whole_writes: bool = False) -> RepoLock:
        """The repository lock, which every command that writes the workspace takes (and so
        Git is told first to ignore the temporaries it may write there). core.fsync, which
        every write reads, and for a command that `git add`s its files at its end
        (`stages_in_git`, every command that records data) core.autostage and core.hash,
        which must name the repository's algorithm (`refuse_own_hash_setting`), are read
        first: an invalid value stops the command before it writes anything. Without
        `wait`, taking it fails at once (LockError) when another process holds it.
        `only_whole_writes`: see RepoLock."""
        from dvx.lock import RepoLock

        _ = self.fsync  # read for its check: an invalid value raises here, before any write
        if stages_in_git:
            self.refuse_own_hash_setting()
        self._refuse_tmp_not_writable()
        self.exclude_temporaries()
        wait_seconds = self.config.get_float("core", "lock_wait", 30.0) if wait else 0.0
        lock = RepoLock(self.tmp_dir, wait_seconds, on_acquire=self._reread_after_locking,
                        command=self.command, only_whole_writes=only_whole_writes)
        if stages_in_git:
            _ = self.autostage
        return lock

    def _refuse_tmp_not_writable(self) -> None:
        """Refuse, before anything is written, a command that changes the repository where
        dvx may not write in .dvx/tmp: there the lock records its holder (so a command
        killed half-way is named to the next one) and checkout its record of what the
        workspace holds, without which status would tell changes wrongly."""
        tmp = self.tmp_dir
        if not os.path.isdir(tmp):
            return  # made by the lock, which names a folder it may not make it in
        lock = os.path.join(tmp, "lock")
        fix = access_fix(lock)
        if fix is None or fix.path not in (tmp, lock):  # a read-only lock: another user's
            return
        shown = from_here(self.root, os.path.relpath(fix.path, self.root).replace(os.sep, "/"))
        where = "in" if fix.path == tmp else "to"
        # Another user's lock file (a shared checkout): its owner lets every user write it
        mode = fix.mode if fix.path == tmp or _owned_here(lock) else "a+w"
        raise DvxError(
            f"dvx may not write {where} '{shown}' (permission denied), where a command that "
            "changes the repository records that it runs and what it placed; nothing was "
            "changed.",
            f"Let dvx write there (`chmod {mode} {shell_quote(shown)}`, as its owner), "
            "then run the command again.")

    def _reread_after_locking(self) -> None:
        """What this command read of the sync records before it held the lock (a pipeline
        loading its stages, say) is read again: the command it waited for may have changed
        them, and writing back the older copy would undo that command's records."""
        if "syncstate" in self.__dict__:
            self.syncstate.reload()

    @functools.cached_property
    def autostage(self) -> bool:
        """core.autostage: a writing command `git add`s the files it changed for Git."""
        return self.git is not None and self.config.get_bool("core", "autostage")

    def exclude_temporaries(self) -> bool:
        """Make Git ignore the temporaries dvx writes beside data (which a killed command
        leaves behind), in the clone's own exclude file, never a tracked one: checked once
        per command. Whether the file was changed. Best effort: a Git directory that cannot
        be written only costs that protection."""
        if self._temporaries_excluded or self.below_the_top_of_git() or self.git is None:
            return False
        self._temporaries_excluded = True
        try:
            return exclude_temporaries(self.git.git_path("info/exclude"))
        except (DvxError, OSError) as exc:
            log.debug("Git's exclude file not updated: %s", exc)
            return False

    def abspath(self, relpath: str) -> str:
        return join_posix(self.root, relpath)


def _weakly(method: Callable[..., object]) -> Callable[..., object]:
    """`method` (bound), called only while its object lives, without keeping it alive."""
    ref = weakref.WeakMethod(method)

    def call(*args: object) -> object:
        bound = ref()
        return bound(*args) if bound is not None else None

    return call


def private_to_this_clone(rel: str, nested: bool = True) -> bool:
    """`rel` (a POSIX path from the project's root) is at or below one of dvx's files that
    belong to one clone alone (.dvx/config.local: its credentials; .dvx/cache, .dvx/tmp),
    in the project's .dvx or (with `nested`) in that of a dvx project deeper down, in any
    letter case: never recorded in a commit dvx makes nor written by an experiment,
    whatever a .gitignore rule says."""
    parts = rel.lower().split("/")
    if not nested:
        return len(parts) > 1 and parts[0] == DVX_DIR and parts[1] in PRIVATE
    return any(part == DVX_DIR and below in PRIVATE for part, below in pairwise(parts))


def _is_private(path: str) -> bool:
    """`path` (as Git lists it below .dvx) is .dvx itself or at or below a private name."""
    parts = path.lower().split("/")
    return len(parts) == 1 or parts[1] in PRIVATE


def _tracked_by_git(path: str, workspaces: list[str]) -> bool:
    """Does the index of a worktree among `workspaces` (real paths) hold `path`? In letter
    case as Git compares paths there: a tracked `Cache` is another file than `cache`
    unless core.ignorecase says the file system takes them for one."""
    for workspace in workspaces:
        if path != workspace and _within(path, workspace):
            relative = os.path.relpath(path, workspace).replace(os.sep, "/")
            tracked = tracked_in(workspace, relative)
            if ignores_case(workspace):
                relative, tracked = relative.lower(), [p.lower() for p in tracked]
            if relative in tracked:
                return True
    return False


def _has_entries(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is not None
    except OSError:
        return False


def _lexical(path: str) -> str:
    """`path` absolute and normalized as written: no symbolic link followed."""
    return os.path.normpath(os.path.abspath(path))


def refuse_where_git_sees(path: str, shown: str, hint: str) -> None:
    """A folder of dvx's (`shown` in the message) that leads into a Git directory, or into a
    Git work tree that does not ignore it (scm.work_tree_seeing), is refused: that
    repository's `git add -A` would commit every object. Needs no repository of dvx's: the
    global config's cache.dir is checked outside one too."""
    git_dir = git_directory_holding(path)
    if git_dir is not None:
        raise ConfigError(f"The {shown} leads into the Git directory '{git_dir}'; dvx "
                          "never writes there.", hint)
    work_tree = work_tree_seeing(path)
    if work_tree is not None:
        raise ConfigError(f"The {shown} leads into the work tree of another Git "
                          f"repository ('{work_tree}'), which does not ignore it: Git "
                          "would see every object there (git add -A would commit the "
                          "data itself).", hint)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + os.sep)


def _owned_here(path: str) -> bool:
    """Does this process's user own the file at `path` (so a chmod of its own fixes it)?"""
    try:
        return os.stat(path).st_uid == os.geteuid()
    except OSError:
        return True
