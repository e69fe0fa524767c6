"""dvx init: create .dvx/ with its config, cache and ignore rules."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass

from dvx.config import ConfigFile, global_config_path
from dvx.errors import DvxError, NotARepoError, UsageError
from dvx.hashing import ALGORITHMS
from dvx.logs import shell_quote
from dvx.repo import (
    DVX_DIR,
    IGNORE_EVERYTHING,
    Repo,
    dvx_is_no_folder,
    project_above,
    tracked_but_absent,
)
from dvx.scm import (
    Git,
    broken_git_file,
    find_git_root,
    git_directory_around,
    is_bare_git_directory,
    refuse_other_repository,
    top_git_directory_holding,
)

# Keeps everything but the shared config out of Git, whatever each is (a link too).
DVX_GITIGNORE = "/config.local\n/tmp\n/cache\n"
CONFIG_HEADER = "# dvx project configuration (tracked by Git). Secrets go in config.local.\n"


@dataclass(frozen=True)
class InitResult:
    root: str
    created: bool
    no_scm: bool
    to_stage: list[str]
    hash_shared: str | None = None  # the global core.hash its .dvx/config now sets


def init(path: str, no_scm: bool = False) -> InitResult:
    root = os.path.abspath(path)
    if not os.path.isdir(root):
        raise UsageError(f"'{path}' is not a directory.")
    dvx_dir = os.path.join(root, DVX_DIR)
    if os.path.isdir(dvx_dir):
        return InitResult(root, False, no_scm, [])
    if os.path.lexists(dvx_dir):  # a file, or a link to no folder: never written over
        raise dvx_is_no_folder(root)
    _refuse_places_of_others(root)
    if not no_scm:
        git_root = find_git_root(root)
        if git_root is None:
            raise NotARepoError(f"'{root}' is not inside a Git repository.",
                                "Run `git init` first, or `dvx init --no-scm` to use dvx "
                                "without Git.")
        broken = broken_git_file(git_root)  # Git refuses to run there
        if broken is not None:
            raise broken
        left_out = tracked_but_absent(git_root)  # the top has no .dvx (above)
        if left_out is not None:
            raise left_out
        if git_root != root:
            raise UsageError(f"'{root}' is not the top of its Git repository ({git_root}).",
                             f"Run `dvx init` in {git_root}.")
        refuse_other_repository(root)
        _refuse_projects_inside(root)
    # Build .dvx/ under a temporary name and rename it into place: never half-initialized.
    staging = os.path.join(root, f".dvx.{uuid.uuid4().hex[:8]}.tmp")
    try:
        for private in ("cache", "tmp"):  # each ignores itself, on any commit
            os.makedirs(os.path.join(staging, private))
            with open(os.path.join(staging, private, ".gitignore"), "wb") as f:
                f.write(IGNORE_EVERYTHING)
        shared = None if no_scm else _user_default_hash()
        config = CONFIG_HEADER + ("[core]\nno_scm = true\n" if no_scm else
                                  f"[core]\nhash = {shared}\n" if shared else "")
        with open(os.path.join(staging, "config"), "w", encoding="utf-8") as f:
            f.write(config)
        with open(os.path.join(staging, ".gitignore"), "w", encoding="utf-8") as f:
            f.write(DVX_GITIGNORE)
        os.rename(staging, dvx_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    to_stage = [] if no_scm else [f"{DVX_DIR}/config", f"{DVX_DIR}/.gitignore"]
    Repo(root).exclude_temporaries()
    return InitResult(root, True, no_scm, to_stage, shared)


def _user_default_hash() -> str | None:
    """The core.hash of the user's global config, the algorithm of their new projects, which
    the new .dvx/config sets so that every clone hashes as they do (clones read no one's
    global config): a value naming no algorithm, or a global config that cannot be read,
    sets nothing here, and the commands that hash say what is wrong with it."""
    try:
        value = ConfigFile.load(global_config_path()).get("core", "hash")
    except DvxError:
        return None
    return value if value in ALGORITHMS else None


def _refuse_places_of_others(root: str) -> None:
    """Refuse (UsageError) a place where a project would take another's files, with or
    without Git: a folder of a dvx project (its work tree, its .dvx), where commands would
    find two projects' pointer files and the outer one's `git add -A` would commit the new
    config; and a Git directory (a work tree's .git, a bare repository), which is Git's."""
    outer = project_above(root, in_its_repository=True)
    if outer is not None:
        # Its Git directory is no place to run dvx from (repo.refuse_git_directory)
        where = f"in its work tree (`cd {shell_quote(outer)}`)" \
            if top_git_directory_holding(outer, root) else "from here, or from its top"
        raise UsageError(f"'{root}' is inside the dvx repository {outer}, which is set up "
                         f"already.", f"Run dvx commands {where}; nothing needs `dvx init`.")
    git_dir = git_directory_around(root)
    if git_dir is None:
        return
    if is_bare_git_directory(git_dir):
        raise UsageError(f"'{root}' is in the bare Git repository {git_dir}, which has no work "
                         "tree to keep data in.", f"Clone it (`git clone {shell_quote(git_dir)}`) "
                         "and run `dvx init` at the top of the clone.")
    raise UsageError(f"'{root}' is in the Git directory {git_dir}, where Git keeps its own "
                     "files.", "Run `dvx init` at the top of the work tree instead.")


def _refuse_projects_inside(root: str) -> None:
    """A dvx project in a folder of this Git work tree (`git subtree add` of a dvx repository,
    a project folder moved in) keeps its own .dvx: a project here would take its pointer
    files for its own. Git lists them, committed or not, and none in a submodule."""
    config = f"{DVX_DIR}/config"
    found = Git(root).ls_files("--cached", "--others", "--exclude-standard", "--",
                               f":(glob)**/{config}")
    inside = sorted({path[:-len(config) - 1] for path in found if path.endswith("/" + config)})
    if inside:
        raise UsageError(
            f"'{root}' holds the dvx project '{inside[0]}' (it has a {DVX_DIR} folder), so a "
            "dvx project here would take that project's pointer files and data for its own.",
            f"Keep using dvx in '{inside[0]}' (set `dvx config core.no_scm true` there, or make "
            "it the top of a Git repository of its own); or, to make its data this project's, "
            f"push its data to a remote this project will use and remove '{inside[0]}/{DVX_DIR}' "
            "before `dvx init` here.")
