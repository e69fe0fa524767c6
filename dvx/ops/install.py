"""dvx install: wire dvx into Git, so a team's everyday Git commands keep the data in step.

    .gitattributes             *.dvx, /dvx.lock and .gitignore merged by the `dvx` merge
                               driver (tracked, so every clone asks for the same driver)
    .git/config                [merge "dvx"]: how this clone runs that driver (never shared:
                               Git does not take commands from a cloned repository)
    hooks/post-checkout        `dvx checkout` after `git checkout` / `git switch`
    hooks/post-merge           `dvx checkout` after `git pull` / `git merge`
    hooks/post-commit          `dvx checkout` after the `git commit` concluding a merge that
                               stopped on a conflict (Git runs no post-merge for that merge)
    hooks/post-rewrite         `dvx checkout` after `git rebase` / `git pull --rebase` (their
                               replayed commits change pointers, and no other hook runs then)
    hooks/pre-commit           stop a commit that would put into Git data dvx keeps out of it
                               (its .gitignore entry went: ops/staged_data.py)
    hooks/pre-merge-commit     the same for the commit `git merge` makes itself, which runs no
                               pre-commit (one side's pointer, the other side's Git-tracked
                               data at its path); Git before 2.24 runs no such hook
    hooks/pre-push             push the data of the commits being pushed, or stop the push

Installing is idempotent. A hook that was there before is kept working: it moves aside to
`<hook>.dvx-chained` and dvx's hook runs it first (with the same arguments and input), and
`--uninstall` puts it back. dvx's hook with the user's lines added is neither written anew nor
removed (refused, with where to move them). The hooks go where Git runs them from
(core.hooksPath): a folder outside the repository, shared with others, is reported (the hooks do
nothing where there is no dvx); a folder Git tracks is refused, since the hooks name this
machine's Python.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from dvx import fsutil
from dvx.errors import PathError, UsageError
from dvx.generated import INSTALLED_ATTRIBUTES
from dvx.ignore import encode_git_lines, git_lines, read_git_file
from dvx.repo import Repo
from dvx.scm import tracked_in
from dvx.self_command import dvx_command

MARKER = "# dvx: installed by `dvx install`; `dvx install --uninstall` removes it."
CHAINED = ".dvx-chained"
HOOKS = ("post-checkout", "post-commit", "post-merge", "post-rewrite", "pre-commit",
         "pre-merge-commit", "pre-push")
HOOKS_WITH_INPUT = ("post-rewrite", "pre-push")  # Git writes to their standard input


@dataclass
class InstallResult:
    changed: list[str] = field(default_factory=list)  # what was written or removed
    chained: list[str] = field(default_factory=list)  # hooks of the user's that dvx runs first
    # The hooks folder (core.hooksPath), where it lies outside this repository: every
    # repository that runs its hooks from there runs dvx's too.
    shared_hooks: str | None = None
    to_stage: list[str] = field(default_factory=list)  # tracked files to commit


def install(repo: Repo, uninstall: bool = False, hooks: bool = True) -> InstallResult:
    """Set up (or remove) the merge driver and, unless `hooks` is False, the hooks."""
    git = repo.git
    if git is None:
        raise UsageError("`dvx install` wires dvx into Git, and this repository has no Git.")
    result = InstallResult()
    hooks_dir = git.git_path("hooks")
    if hooks and not uninstall:
        _refuse_a_tracked_hooks_folder(repo, hooks_dir)
        _refuse_two_hooks_of_yours(hooks_dir)
    if hooks:
        _refuse_edited_hooks(hooks_dir, uninstall)
    if hooks and _outside(hooks_dir, (git.common_dir(), repo.root)):
        result.shared_hooks = hooks_dir
    _attributes(repo, uninstall, result)
    if uninstall:
        git.unset_config_section("merge.dvx")
    else:
        driver = merge_driver_command()
        if git.get_config("merge.dvx.driver") != driver:
            git.set_config("merge.dvx.name", "dvx: pointers and dvx.lock, merged entry by entry")
            git.set_config("merge.dvx.driver", driver)
            result.changed.append(f"{_shown_git_file(repo, 'config')} [merge \"dvx\"]")
    shown = _as_shown(repo, hooks_dir)
    for name in HOOKS if hooks else ():
        _hook(os.path.join(hooks_dir, name), f"{shown}/{name}", uninstall, result)
    if not uninstall and repo.exclude_temporaries():
        result.changed.append(f"{_shown_git_file(repo, 'info/exclude')} (dvx's temporary files)")
    return result


def merge_driver_command() -> str:
    """The line of Git's config that runs dvx's merge driver. Git expands % anywhere in it, so
    a % of a folder's name is written %%. `--` ahead of Git's arguments: the pointer's path
    (%P) may start with '-', and is never an option of the driver's. A clone whose line
    differs (an older dvx's, or another Python's) gets it written anew by `dvx install`."""
    return f"{dvx_command().replace('%', '%%')} {_DRIVER_ARGUMENTS}"


_DRIVER_ARGUMENTS = "git-hook merge-driver -- %O %A %B %P"  # after the command, as now written


def missing_hooks(repo: Repo) -> list[str]:
    """The hooks `dvx install` sets up that this clone lacks, where it has some of dvx's (a
    clone set up by an older dvx, which had fewer: `dvx install` adds them); none where it
    has none of them (hooks were never installed here, or `--no-hooks`)."""
    if repo.git is None:
        return []
    hooks_dir = repo.git.git_path("hooks")
    ours = [name for name in HOOKS if _is_ours(os.path.join(hooks_dir, name))]
    return [name for name in HOOKS if name not in ours] if ours else []


def unsafe_hooks(repo: Repo) -> list[str]:
    """dvx's hooks in this clone, and its merge driver ("merge driver"), as an older dvx
    wrote them: running `python -m dvx`, which Python looks up first in the folder Git runs
    them in, the repository's top, so a `dvx/` folder or `platform.py` there is run instead.
    `dvx install` writes them anew (`self_command`)."""
    if repo.git is None:
        return []
    hooks_dir = repo.git.git_path("hooks")
    found = [name for name in HOOKS if _is_ours(os.path.join(hooks_dir, name))
             and _OLD_COMMAND in (_read(os.path.join(hooks_dir, name)) or b"")]
    driver = repo.git.get_config("merge.dvx.driver") or ""
    return found + (["merge driver"] if _OLD_COMMAND.decode() in driver else [])


_OLD_COMMAND = b" -m dvx git-hook "  # what `dvx install` wrote before `self_command`


def outdated_hooks(repo: Repo) -> list[str]:
    """dvx's hooks in this clone, and its merge driver ("merge driver"), as an older dvx
    wrote them and this one writes otherwise, whatever Python they run: a hook holding one of
    the scripts of `WRITTEN_SCRIPTS` but not the present one, a driver line whose arguments
    are not the present ones (before `--` was put ahead of the paths, a pointer whose path
    starts with '-' was taken for an option, and left a conflict). `dvx install` writes them
    anew. Those `unsafe_hooks` names are left to it; a hook with lines of the user's in it is
    not dvx's to write anew (`dvx install` refuses it, saying why)."""
    if repo.git is None:
        return []
    unsafe = unsafe_hooks(repo)
    hooks_dir = repo.git.git_path("hooks")
    found = [name for name in HOOKS if name not in unsafe
             and _older_script(os.path.join(hooks_dir, name), name)]
    driver = repo.git.get_config("merge.dvx.driver")
    if driver is not None and "merge driver" not in unsafe \
            and not driver.endswith(f" {_DRIVER_ARGUMENTS}"):
        found.append("merge driver")
    return found


def _older_script(path: str, name: str) -> bool:
    """Is the hook at `path` dvx's hook `name` as an older dvx wrote it (with nothing of the
    user's in it), which `dvx install` would write otherwise now?"""
    data = _read(path)
    return data is not None and _is_ours(path) and _as_dvx_wrote_it(data, name) \
        and not _written_as(_script, data, name)


def merges_with_dvx(repo: Repo, relpath: str) -> bool:
    """Does Git hand `relpath` to dvx's merge driver in this clone (the attribute, and the
    driver it names)?"""
    git = repo.git
    return (git is not None and git.attribute(relpath, "merge") == "dvx"
            and git.get_config("merge.dvx.driver") is not None)


def driver_not_set_up(repo: Repo) -> bool:
    """Does the root .gitattributes hand files to dvx's merge driver that this clone has not
    set up (a fresh clone, before `dvx install`)? Git then merges them line by line. Cheap:
    one file read, and Git's config asked only when the attribute is there."""
    return _attributes_name_driver(repo) and repo.git is not None \
        and repo.git.get_config("merge.dvx.driver") is None


def driver_interpreter_gone(repo: Repo) -> str | None:
    """The program that the merge driver this clone set up runs, when it names one by an
    absolute path that no longer exists (the virtual environment `dvx install` ran from was
    rebuilt or removed): Git then cannot run the driver, and leaves each pointer it hands it
    holding our side alone, unmerged. None otherwise. As cheap as `driver_not_set_up`."""
    if not _attributes_name_driver(repo) or repo.git is None:
        return None
    command = repo.git.get_config("merge.dvx.driver")
    try:
        program = shlex.split((command or "").replace("%%", "%"))[:1]
    except ValueError:  # unbalanced quotes: Git's shell says so when it runs it
        return None
    if program and os.path.isabs(program[0]) and not os.path.exists(program[0]):
        return program[0]
    return None


def _attributes_name_driver(repo: Repo) -> bool:
    """Does the root .gitattributes hand files to dvx's merge driver (`merge=dvx`)?"""
    if repo.git is None:
        return False
    try:
        data = read_git_file(os.path.join(repo.root, ".gitattributes"))
    except (OSError, PathError):  # a symbolic link: Git does not read it, nor does dvx
        return False
    return any("merge=dvx" in line.split()[1:] for line in git_lines(data or b"")
               if not line.lstrip().startswith("#"))


def _as_shown(repo: Repo, hooks_dir: str) -> str:
    """How `changed` names the hooks folder: `hooks`, Git's own (in .git), else the folder
    core.hooksPath names, from the top of the repository where it is inside it."""
    assert repo.git is not None
    real = os.path.realpath(hooks_dir)
    if real == os.path.realpath(os.path.join(repo.git.common_dir(), "hooks")):
        return "hooks"
    return os.path.normpath(hooks_dir) if _outside(real, (repo.root,)) else os.path.relpath(
        real, os.path.realpath(repo.root))


def _shown_git_file(repo: Repo, name: str) -> str:
    """How `changed` names the file `name` of the Git directory: from the top of the
    repository (`.git/config`), or by its absolute path where the Git directory is
    elsewhere (a submodule's, in the superproject's `.git/modules`; a linked worktree's
    config, in the main one's)."""
    assert repo.git is not None
    real = os.path.realpath(repo.git.git_path(name))
    if _outside(real, (repo.root,)):
        return real
    return os.path.relpath(real, os.path.realpath(repo.root)).replace(os.sep, "/")


def _outside(path: str, folders: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    return not any(os.path.commonpath([real, os.path.realpath(f)]) == os.path.realpath(f)
                   for f in folders)


def _refuse_a_tracked_hooks_folder(repo: Repo, hooks_dir: str) -> None:
    """core.hooksPath naming a folder Git tracks here (a team's `.githooks`): dvx's hooks
    name this machine's Python by its absolute path, which a teammate's clone would get and
    not have. Refused before anything changes, with the way to call dvx from those hooks."""
    git = repo.git
    assert git is not None
    root = os.path.realpath(repo.root)
    real = os.path.realpath(hooks_dir)
    if _outside(real, (root,)) or not _outside(real, (git.common_dir(),)):
        return
    relpath = os.path.relpath(real, root).replace(os.sep, "/")
    if not tracked_in(repo.root, relpath):
        return
    raise UsageError(
        f"Git runs this repository's hooks from '{relpath}' (core.hooksPath), a folder it "
        "tracks: dvx's hooks run this machine's Python by its absolute path "
        f"({sys.executable}), which your teammates would get with the folder and not have, "
        "so dvx writes none there.",
        "Run `dvx install --no-hooks` for the merge driver alone, and call dvx from the "
        f"team's hooks: `dvx git-hook NAME \"$@\"` in each of {', '.join(HOOKS)} "
        "(post-rewrite and pre-push read Git's input: docs/git-integration.md shows how), "
        "which runs the dvx each teammate has on PATH.")


def _refuse_edited_hooks(hooks_dir: str, uninstall: bool) -> None:
    """dvx's hook with lines of the user's added: writing it anew, or removing it, would lose
    them (and chaining it would run dvx twice). Refused before anything changes."""
    for name in HOOKS:
        path = os.path.join(hooks_dir, name)
        data = _read(path)
        if data is None or not _is_ours(path) or _as_dvx_wrote_it(data, name):
            continue
        would = ("`dvx install --uninstall` would delete with them" if uninstall else
                 "`dvx install` would write anew without them")
        raise UsageError(
            f"'{path}' is dvx's hook with lines of yours in it, which {would}.",
            f"Move your lines to '{path + CHAINED}', a hook of yours that dvx's runs first "
            "(with the same arguments and input; make it executable), leaving dvx's as it "
            "was, then run the command again.")


def _refuse_two_hooks_of_yours(hooks_dir: str) -> None:
    """A hook of the user's where dvx's was, while dvx already runs another of theirs first:
    chaining it would overwrite that one. Refused before anything changes."""
    for name in HOOKS:
        path = os.path.join(hooks_dir, name)
        if os.path.lexists(path) and not _is_ours(path) and os.path.lexists(path + CHAINED):
            raise UsageError(
                f"'{path}' is a hook of yours, and dvx already runs another one of yours "
                f"first, '{path + CHAINED}'; chaining this one would overwrite that.",
                f"Merge the two into '{path + CHAINED}' (or delete one), delete '{path}', "
                "then run `dvx install` again.")


def _attributes(repo: Repo, uninstall: bool, result: InstallResult) -> None:
    path = os.path.join(repo.root, ".gitattributes")
    old = read_git_file(path) or b""  # a symbolic link is refused, never read or written
    lines = git_lines(old)
    present = {" ".join(line.split()) for line in lines}  # spacing aside
    if uninstall:
        kept = [line for line in lines if " ".join(line.split()) not in INSTALLED_ATTRIBUTES]
    else:
        kept = lines + [a for a in INSTALLED_ATTRIBUTES if a not in present]
    if kept == lines:
        return
    if kept:
        fsutil.rewrite(path, encode_git_lines(kept, old))
    else:
        os.unlink(path)
    result.changed.append(".gitattributes")
    result.to_stage.append(".gitattributes")


def _hook(path: str, shown: str, uninstall: bool, result: InstallResult) -> None:
    name = os.path.basename(path)
    ours = _is_ours(path)
    chained = path + CHAINED
    if uninstall:
        if ours:
            os.unlink(path)
            result.changed.append(shown)
            if os.path.exists(chained):
                os.rename(chained, path)
        return
    if os.path.lexists(path) and not ours:
        os.rename(path, chained)  # the user's hook keeps working: ours runs it first
    if os.path.exists(chained):
        result.chained.append(name)
    fsutil.makedirs(os.path.dirname(path))
    script = _script(name).encode()
    if ours and _read(path) == script:
        return  # installed already, as it is now
    fsutil.atomic_write(path, script, mode=0o755)
    result.changed.append(shown)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(64 * 1024)
    except (FileNotFoundError, IsADirectoryError):
        return None


def _is_ours(path: str) -> bool:
    return MARKER.encode() in (_read(path) or b"")


def _as_dvx_wrote_it(data: bytes, name: str) -> bool:
    """Is `data` dvx's hook `name` with nothing of the user's in it: a script some dvx wrote
    (`WRITTEN_SCRIPTS`), with any Python running dvx there (another virtual environment ran
    `dvx install` before)?"""
    return any(_written_as(script, data, name) for script in WRITTEN_SCRIPTS)


def _written_as(script: Callable[[str, str | None], str], data: bytes, name: str) -> bool:
    """Is `data` the hook `name` that `script` writes, with any Python running dvx there?"""
    placeholder = "DVXCOMMAND"  # re.escape leaves it as it is
    text = data.decode(errors="surrogateescape")
    return re.fullmatch(re.escape(script(name, placeholder)).replace(placeholder, "[^\n]+"),
                        text) is not None


def _script(name: str, command: str | None = None) -> str:
    run = f"{command or dvx_command()} git-hook {name}"
    chained = f'"$0{CHAINED}"'
    if name == "post-commit":  # a commit of a merge only: no Python starts for any other
        return (f"#!/bin/sh\n{MARKER}\n"
                f"if [ -x {chained} ]; then\n    {chained} \"$@\" || exit $?\nfi\n"
                f"git rev-parse -q --verify 'HEAD^2' >/dev/null || exit 0\n"
                f"exec {run} \"$@\"\n")
    if name in HOOKS_WITH_INPUT:  # the input (refs pushed, commits rewritten) goes to both
        return (f"#!/bin/sh\n{MARKER}\ninput=$(cat)\n"
                f"if [ -x {chained} ]; then\n"
                f"    printf '%s\\n' \"$input\" | {chained} \"$@\" || exit $?\nfi\n"
                f"printf '%s\\n' \"$input\" | {run} \"$@\"\n")
    return (f"#!/bin/sh\n{MARKER}\n"
            f"if [ -x {chained} ]; then\n    {chained} \"$@\" || exit $?\nfi\n"
            f"exec {run} \"$@\"\n")


# Every hook script a dvx has written, as functions of (hook name, command): a hook that is
# one of them holds nothing of the user's, and install/--uninstall replace or remove it. Before
# `_script` changes, keep its present form here (tests/test_team_merge.py pins it), or every hook
# installed earlier would be taken for one the user edited, and refused.
WRITTEN_SCRIPTS: tuple[Callable[[str, str | None], str], ...] = (_script,)
