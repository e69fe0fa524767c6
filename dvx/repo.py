"""Repo: finds the repository root and wires configuration, cache, stat cache, Git and lock."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from dvx.config import Config
from dvx.errors import ConfigError, DvxError, NotARepoError, PathError
from dvx.gitignore import exclude_temporaries
from dvx.logs import get_logger
from dvx.objects.cache import LocalCache
from dvx.objects.statcache import StatCache
from dvx.paths import join_posix
from dvx.progress import NoProgress, Progress
from dvx.scm import Git, find_git_root, main_worktree_of, tracked_in, untrack_command
from dvx.syncstate import SyncState

if TYPE_CHECKING:
    from dvx.ignore import DvxIgnore
    from dvx.lock import RepoLock
    from dvx.objects.tree import Tree
    from dvx.remote.store import RemoteStore

log = get_logger(__name__)

DVX_DIR = ".dvx"
# What in .dvx/ belongs to one clone, never to Git: where dvx writes and deletes, and the
# user's own settings (which may confirm a cache outside the repository).
PRIVATE = ("cache", "tmp", "config.local")


def find_root(start: str | None = None) -> str:
    current = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.isdir(os.path.join(current, DVX_DIR)):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            raise NotARepoError(
                f"'{os.path.abspath(start or os.getcwd())}' is not inside a dvx repository.",
                "Run `dvx init` at the top of your Git repository first.",
            )
        current = parent


class Repo:
    def __init__(self, root: str, progress: Progress | None = None) -> None:
        self.root = os.path.abspath(root)
        self.dvx_dir = os.path.join(self.root, DVX_DIR)
        self.progress: Progress = progress or NoProgress()
        self._temporaries_excluded = False
        self._private_files_checked = False

    @classmethod
    def find(cls, start: str | None = None, progress: Progress | None = None) -> Repo:
        return cls(find_root(start), progress)

    @functools.cached_property
    def main_dvx_dir(self) -> str | None:
        """In a linked Git worktree (`git worktree add`), the main worktree's .dvx: its cache
        and its config.local are this worktree's too, as Git shares its own config. None in
        a main worktree, or where the main worktree has no .dvx."""
        main = main_worktree_of(self.root)
        if main is None or not os.path.isdir(os.path.join(main, DVX_DIR)):
            return None
        return os.path.join(main, DVX_DIR)

    def _refuse_private_files_from_git(self) -> None:
        """Refuse a repository whose Git tracks dvx's private files (or a `.dvx` that is not a
        directory): a clone would bring a link leading to another project's cache, or settings
        the user never chose. Asked once, before anything in .dvx/ is read or written."""
        if self._private_files_checked:
            return
        tracked = sorted({"/".join(path.split("/")[:2]) for path in tracked_in(self.root, DVX_DIR)
                          if _is_private(path)})
        if tracked:
            untracking = " and ".join(f"`{untrack_command(path)}`" for path in tracked)
            raise PathError(
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
        if self.main_dvx_dir is None or os.path.exists(own_local):
            return Config(self.dvx_dir)
        return Config(self.dvx_dir, os.path.join(self.main_dvx_dir, "config.local"))

    # Read once per command: these sit on per-file paths (add, checkout), and the config
    # does not change while a command runs.
    @functools.cached_property
    def algo(self) -> str:
        return self.config.get("core", "hash") or "xxh128"

    @functools.cached_property
    def tmp_dir(self) -> str:
        self._refuse_private_files_from_git()
        return self._outside_git(os.path.join(self.dvx_dir, "tmp"), "temporary directory")

    @functools.cached_property
    def cache_dir(self) -> str:
        configured = self.config.get("cache", "dir")
        if not configured:
            # A linked worktree's commits are the main worktree's too: one cache keeps their
            # data when the worktree is removed.
            own = os.path.join(self.main_dvx_dir or self.dvx_dir, "cache")
            return self._outside_git(own, "cache directory")
        level = self.config.where("cache", "dir")
        path = self._cache_dir_of(configured, level)
        if level == "project" and not self._inside(path):
            self._check_confirmed(configured, path)
        return self._outside_git(path, "cache directory (cache.dir)")

    def _cache_dir_of(self, configured: str, level: str | None = "project") -> str:
        # relative to the folder of the config file that names it (.dvx/ for the repository's)
        path = self.config.paths.get(level or "project")
        base = os.path.dirname(path) if level == "local" and path else self.dvx_dir
        return os.path.normpath(os.path.join(base, os.path.expanduser(configured)))

    def _inside(self, path: str) -> bool:
        return _within(os.path.realpath(path), os.path.realpath(self.root))

    def _check_confirmed(self, configured: str, path: str) -> None:
        """A cache directory outside the repository, named by the tracked config (which comes
        with a clone), is used only once the user's own config names it too."""
        for level in ("local", "global"):
            config_file = self.config.files.get(level)
            own = config_file.get("cache", "dir") if config_file else None
            if own and os.path.realpath(self._cache_dir_of(own, level)) == os.path.realpath(path):
                return
        raise ConfigError(
            f"This repository's tracked config (.dvx/config) sets cache.dir to '{configured}', "
            f"which is outside the repository ({path}). A cloned repository cannot choose "
            "where dvx writes outside it.",
            f"If you trust it (a shared cache), confirm it once: dvx config --local cache.dir "
            f"'{configured}' (or --global for every repository); otherwise remove the setting "
            "from .dvx/config.")

    def _outside_git(self, path: str, what: str) -> str:
        """`path`, unless it leads into the Git directory or into the workspace outside .dvx/,
        where Git would see every object (a cloned or hand-edited config, or a symlink, can
        try; `dvx config` refuses both before writing them down)."""
        git_dir = os.path.realpath(os.path.join(self.root, ".git"))
        real = os.path.realpath(path)
        if _within(real, git_dir):
            raise ConfigError(f"The {what} '{path}' leads into the Git directory '{git_dir}'; "
                              "dvx never writes there.", "Point cache.dir elsewhere, or replace "
                              "the symbolic link with a real directory.")
        root = os.path.realpath(self.root)
        if _within(real, root) and not _within(real, os.path.realpath(self.dvx_dir)):
            raise ConfigError(f"The {what} '{path}' leads into the workspace, where Git would "
                              "see every object (git add -A would commit the data itself).",
                              "Point cache.dir at a folder outside the repository or in .dvx/ "
                              "(`dvx config --unset cache.dir` for the default), or replace "
                              "the symbolic link with a real directory.")
        return path

    @functools.cached_property
    def cache(self) -> LocalCache:
        cache = LocalCache(self.cache_dir, self.algo)
        # The folders objects and temporaries are written to may be links of their own.
        self._outside_git(cache.files_root, "cache's object directory")
        self._outside_git(cache.tmp_dir, "cache's temporary directory")
        return cache

    @functools.cached_property
    def statcache(self) -> StatCache:
        return StatCache(os.path.join(self.tmp_dir, "statcache.db"), self.algo)

    @functools.cached_property
    def syncstate(self) -> SyncState:
        """What the workspace was last synced to (dvx/syncstate.py)."""
        return SyncState(os.path.join(self.tmp_dir, "synced.json"), self.algo)

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
    def warned_ignored(self) -> set[str]:
        """Pointer files Git ignores that this command has warned about (dvx/outputs.py)."""
        return set()

    @functools.cached_property
    def loaded_trees(self) -> dict[tuple[str, str], Tree]:
        """Manifests this command has read, by (algo, oid): an object never changes, so one
        parse serves a fetch and the checkout after it (`pull`)."""
        return {}

    @functools.cached_property
    def git(self) -> Git | None:
        if self.config.get_bool("core", "no_scm"):
            return None
        git_root = find_git_root(self.root)
        return Git(git_root) if git_root == self.root else None

    @functools.cached_property
    def link_types(self) -> tuple[str, ...]:
        return self.config.link_types()

    @property
    def fsync(self) -> bool:
        return self.config.get_bool("core", "fsync", default=True)

    def lock(self, stages_in_git: bool = False) -> RepoLock:
        """The repository lock, which every command that writes the workspace takes (and so
        Git is told first to ignore the temporaries it may write there). A command that
        `git add`s its files at its end (`stages_in_git`, core.autostage) reads that setting
        first: an invalid value stops it before it writes anything."""
        from dvx.lock import RepoLock

        self.exclude_temporaries()
        lock = RepoLock(self.tmp_dir, self.config.get_float("core", "lock_wait", 30.0))
        if stages_in_git:
            _ = self.autostage
        return lock

    @functools.cached_property
    def autostage(self) -> bool:
        """core.autostage: a writing command `git add`s the files it changed for Git."""
        return self.git is not None and self.config.get_bool("core", "autostage")

    def exclude_temporaries(self) -> bool:
        """Make Git ignore the temporaries dvx writes beside data (which a killed command
        leaves behind), in the clone's own exclude file, never a tracked one: checked once
        per command. Whether the file was changed. Best effort: a Git directory that cannot
        be written only costs that protection."""
        if self._temporaries_excluded or self.git is None:
            return False
        self._temporaries_excluded = True
        try:
            return exclude_temporaries(self.git.git_path("info/exclude"))
        except (DvxError, OSError) as exc:
            log.debug("Git's exclude file not updated: %s", exc)
            return False

    def abspath(self, relpath: str) -> str:
        return join_posix(self.root, relpath)


def _is_private(path: str) -> bool:
    """`path` (as Git lists it below .dvx) is .dvx itself or at or below a private name."""
    parts = path.lower().split("/")
    return len(parts) == 1 or parts[1] in PRIVATE


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + os.sep)
