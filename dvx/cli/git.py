"""Git integration commands: `dvx install`, and the hooks and merge driver it sets up
(`dvx git-hook ...`, run by Git, not by people)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import click

from dvx.cli.common import common_options, example, holding_lock, is_quiet, open_repo
from dvx.cli.ui import git_add_of_recordable, out, recordable, warn
from dvx.logs import shown_path
from dvx.wording import named_list

if TYPE_CHECKING:
    from dvx.errors import DvxError
    from dvx.hash_setting import (
        ClonesAlgorithm,
        CommittedSwitch,
        RepositoryAlgorithm,
        UnsharedAlgorithm,
    )
    from dvx.ops.staged_data import StagedConflict, StagedData, StagedLink, StagedOverlap
    from dvx.outputs import Broken
    from dvx.repo import Repo
    from dvx.scm import Git, StoppedOperation


@click.command(epilog=example("""
dvx install              # once per clone
git add .gitattributes && git commit -m "dvx merge driver"
dvx install --uninstall
"""))
@click.option("--uninstall", is_flag=True, help="Remove what `dvx install` set up.")
@click.option("--no-hooks", "no_hooks", is_flag=True,
              help="The merge driver alone: leave the hooks folder as it is.")
@common_options
def install(uninstall: bool, no_hooks: bool) -> None:
    """Wire dvx into Git: a merge driver for pointers, dvx.lock and .gitignore files, and
    hooks that check data out after `git checkout`/`git switch`/`git pull`/`git rebase`
    (and the commit concluding a merge stopped by a conflict), stop a commit (a merge's too)
    that would put data dvx tracks, or a link into its cache, into Git, and push the data of
    the commits that `git push` sends (or stop the push if it cannot).

    Idempotent; hooks that were there before keep running (before dvx's), and --uninstall
    puts them back. The hooks go where Git runs hooks from (core.hooksPath); a folder shared
    with other repositories is named, and dvx's hooks do nothing in those without dvx.
    """
    from dvx.ops.install import install as do_install

    repo = open_repo()
    result = do_install(repo, uninstall, hooks=not no_hooks)
    if is_quiet():
        return
    if result.shared_hooks is not None:
        _warn_of_shared_hooks(result.shared_hooks, uninstall)
    verb = "Removed" if uninstall else "Installed"
    out(f"{verb}: " + (", ".join(result.changed) if result.changed else "nothing to change"))
    for hook in result.chained:
        out(f"Your existing {hook} hook still runs, before dvx's.")
    to_stage = recordable(repo.root, result.to_stage)  # a file never committed: nothing to record
    if to_stage:
        out(("To record the change in Git, run:" if uninstall else
             "To share the merge driver with your team, run:")
            + f"\n    {git_add_of_recordable(repo.root, to_stage)}")


def _warn_of_shared_hooks(folder: str, uninstall: bool) -> None:
    if uninstall:
        warn(f"WARNING: dvx's hooks were in '{folder}' (core.hooksPath), a folder outside this "
             "repository: every other repository that runs its hooks from there no longer "
             "runs them either.")
    else:
        warn(f"WARNING: Git runs this repository's hooks from '{folder}' (core.hooksPath), a "
             "folder outside it, so every repository that runs its hooks from there runs "
             "dvx's too: they do nothing in one without dvx, and `dvx install --uninstall` in "
             "any of them removes them for all. To keep them to this repository: `dvx install "
             "--uninstall`, `git config core.hooksPath .git/hooks` (it then runs none of the "
             "shared hooks), and `dvx install`.")


@click.group("git-hook", hidden=True)
def git_hook() -> None:
    """Run by Git through the hooks and merge driver `dvx install` sets up."""


@git_hook.command("post-checkout")
@click.argument("args", nargs=-1)
def post_checkout(args: tuple[str, ...]) -> None:
    if len(args) >= 3 and args[2] != "1":
        return  # a file checkout (`git checkout -- FILE`), not a change of branch or commit
    _checkout_quietly()


@git_hook.command("post-merge")
@click.argument("args", nargs=-1)
def post_merge(args: tuple[str, ...]) -> None:
    _checkout_quietly()


@git_hook.command("post-commit")
@click.argument("args", nargs=-1)
def post_commit(args: tuple[str, ...]) -> None:
    # Git runs no post-merge for a merge stopped by a conflict (or by --no-commit): the commit
    # concluding it is where a hook first hears of it. A rebase commits merges too (with
    # --rebase-merges), and its post-rewrite checks out where it ends.
    _checkout_quietly(when=lambda git: git.head_is_a_merge() and not git.rebasing())


@git_hook.command("post-rewrite")
@click.argument("args", nargs=-1)
def post_rewrite(args: tuple[str, ...]) -> None:
    if args[:1] != ("rebase",):
        return  # `git commit --amend`: it makes a commit of the index and changes no file
    _checkout_quietly()


def _checkout_quietly(when: Callable[[Git], bool] = lambda git: True) -> None:
    """`dvx checkout` after Git changed the pointers (`when` its Git says so); its problems
    are printed, but never fail the Git command that already happened."""
    from dvx.cli.data import report_checkout
    from dvx.errors import DvxError
    from dvx.ops.checkout import checkout
    from dvx.outputs import resolve_targets
    from dvx.pipeline.spec import declared_outputs

    try:
        repo = _repo_of_hook()
        if repo is None or not when(repo.git):
            return
        with holding_lock(repo):
            result = checkout(repo, resolve_targets(repo, []),
                              settle=lambda: declared_outputs(repo))
        report_checkout(result)
    except DvxError as exc:
        warn(f"dvx checkout: {exc}", (exc,))


def _repo_of_hook() -> Any:
    """The dvx repository of the Git repository running this hook (Git runs hooks at the top
    of its work tree), or None where that has no dvx: a hooks folder several repositories
    share (a global core.hooksPath) runs dvx's hooks in all of them, and they must change
    nothing where dvx is not set up. A work tree whose Git tracks .dvx/config but that lacks
    the folder is dvx's, and gets open_repo's error saying so."""
    from dvx.repo import DVX_DIR, tracked_but_absent

    if not os.path.isdir(DVX_DIR) and tracked_but_absent(os.getcwd()) is None:
        return None
    repo = open_repo(warning_of_config=False)
    return repo if repo.git is not None else None  # core.no_scm: Git is not dvx's business


@git_hook.command("pre-commit")
@click.argument("args", nargs=-1)
def pre_commit(args: tuple[str, ...]) -> None:
    """Stop a commit that would put into Git data dvx keeps out of it, a link into its
    cache, or a pointer or dvx.lock still holding a merge's conflict markers
    (ops/staged_data.py), a pointer of another hash algorithm than the repository's data or
    than its clones would hash with, or a .dvx/config setting (or unsetting) a core.hash its
    tracked data does not record (hash_setting.py), or
    whose index holds dvx's private files (.dvx/config.local: the clone's credentials).
    dvx's own failure to tell (a config, dvx.yaml or dvx.lock it cannot read) is said, and
    the commit goes on as far as it depends on that."""
    _check_the_commit(made_by_merge=False)


@git_hook.command("pre-merge-commit")
@click.argument("args", nargs=-1)
def pre_merge_commit(args: tuple[str, ...]) -> None:
    """The commit `git merge` (and `git pull`) makes itself runs no pre-commit hook, only
    this one (Git 2.24 and later): checked as any other commit, so a merge cannot put into
    Git the data of a pointer one side tracks that the other side committed to Git. Stopped,
    Git keeps the merge going, and the `git commit` ending the way out concludes it."""
    _check_the_commit(made_by_merge=True)


def _check_the_commit(made_by_merge: bool) -> None:
    """pre-commit's and pre-merge-commit's check of the commit Git is about to make: exit
    status 1, each problem named with its way out, where it may not be made."""
    from dvx.errors import DvxError, PrivateFilesInGitError
    from dvx.hash_setting import committed_switch, staged_algorithm
    from dvx.lockfile import PIPELINE_FILE
    from dvx.ops.staged_data import staged_data
    from dvx.pipeline.spec import caching_declared
    from dvx.scm import MERGING, replaying_a_commit

    try:
        repo = _repo_of_hook()
        if repo is None:
            return
        check = staged_data(repo, lambda: caching_declared(repo), made_by_merge)
        assert repo.git is not None
        clones = staged_algorithm(repo.git)  # what every clone of this commit hashes with
        switch = committed_switch(repo.git, clones, repo.recorded_algorithms)
        # A switch names every file of another algorithm, with the ways out of both intents
        own, otherwise = _staged_in_another_algorithm(repo) if switch is None else (None, [])
        unshared = _unshared_algorithm(repo, clones) if switch is None and not otherwise \
            else None
    except PrivateFilesInGitError as exc:
        warn(f"ERROR: dvx stopped the commit: {exc} `git commit --no-verify` commits it as it "
             "is.")
        sys.exit(1)
    except DvxError as exc:
        warn(f"WARNING: dvx could not check whether this commit puts data it tracks into Git: "
             f"{exc}")
        return
    for name, why in check.unread.items():
        names = "declares" if name == PIPELINE_FILE else "records"
        warn(f"WARNING: dvx could not read {name}, so it did not check whether this commit "
             f"puts into Git the stage outputs {name} {names}: {why.message}")
    here = _wpresentgit_ran(repo.root)
    if check.given_to_git:
        warn(_given_to_git_message(repo.root, here, check.given_to_git))
    stopped = MERGING if made_by_merge else replaying_a_commit(repo.root)
    if check.found:
        warn(_staged_data_message(repo.root, here, check.found, stopped))
    if check.links:
        warn(_staged_links_message(repo.root, here, check.links))
    if check.conflicted:
        warn(_conflicted_message(repo.root, here, check.conflicted))
    if check.left_behind:
        warn(_left_behind_message(repo.root, here, check.left_behind))
    if check.overlaps:
        warn(_overlaps_message(repo.root, here, check.overlaps))
    if otherwise:
        assert own is not None
        warn(_other_algorithm_message(repo.root, here, own, otherwise, stopped))
    if switch is not None:
        warn(_switch_message(repo.root, here, switch, repo.config.where("core", "hash")))
    if unshared is not None:
        warn(_unshared_message(repo.root, here, unshared, repo.config.where("core", "hash")))
    if check.found or check.links or check.conflicted or check.left_behind or check.overlaps \
            or otherwise or switch is not None or unshared is not None:
        sys.exit(1)


def _staged_in_another_algorithm(repo: Repo) -> tuple[RepositoryAlgorithm, list[str]]:
    """The pointer files the commit being made adds or changes that record another hash
    algorithm than the repository's data has (hash_setting.py): a dvx whose own config
    chose it wrote them, and no clone hashing as the repository does could read them."""
    from dvx.hash_setting import staged_otherwise
    from dvx.paths import POINTER_SUFFIX

    assert repo.git is not None
    staged = {f.path for f in repo.git.staged_additions() if f.path.endswith(POINTER_SUFFIX)}
    if not staged:
        return staged_otherwise(repo.config, {}, staged)
    return staged_otherwise(repo.config, repo.recorded_algorithms, staged)


def _unshared_algorithm(repo: Repo, clones: ClonesAlgorithm | None
                        ) -> UnsharedAlgorithm | None:
    """The pointer files and dvx.lock the commit being made adds or changes that record
    another algorithm than every clone of it would hash with (hash_setting.py)."""
    from dvx.hash_setting import unshared_algorithm
    from dvx.lockfile import LOCK_FILE
    from dvx.paths import POINTER_SUFFIX

    assert repo.git is not None
    staged = {f.path for f in repo.git.staged_additions()
              if f.path.endswith(POINTER_SUFFIX) or f.path == LOCK_FILE}
    return unshared_algorithm(clones, repo.recorded_algorithms, staged) if staged else None


def _unshared_message(root: str, here: str | None, unshared: UnsharedAlgorithm,
                      own: str | None) -> str:
    """Data recorded with an algorithm a user's own config chose, which no clone reads: the
    way to share that choice in the commit, and the way to record the data as clones hash
    (configuration.md, "The repository's hash algorithm"). `own`: the config level setting
    core.hash (Config.where)."""
    from dvx.hash_setting import COMMITTED_CONFIG

    typed, pathspec = _typed(root, here)
    algo, clones, files = unshared.algo, unshared.clones.algo, unshared.files
    lines = [f"ERROR: dvx stopped the commit: it would put into Git data recorded with {algo} "
             f"(a core.hash of your own config chose it, most likely), but every clone hashes "
             f"with {clones} ({unshared.clones.why}) and would skip these files, whose data "
             "nobody could pull or check out:"]
    lines.extend(_listed_files(files))
    lines.append(
        f"To name this repository's data with {algo}, share the setting: `dvx config "
        f"core.hash {algo}`, `git add -- {pathspec(COMMITTED_CONFIG)}`, and {_again(here)}. "
        f"Else record it again with {clones}, once `dvx config core.hash` says {clones} "
        f"({_own_setting_off(own)}{_record_again(files, typed)}), `git add` the files they "
        "change, and "
        f"{_again(here)}. `git commit --no-verify` commits it as it is.")
    return "\n".join(lines)


def _other_algorithm_message(root: str, here: str | None, own: RepositoryAlgorithm,
                             paths: list[str], stopped: StoppedOperation | None) -> str:
    """Only where a pointer's data is in the workspace can it be added again here; that of
    another's pointer (a teammate's, merged) is added again where it is, by its author, and
    comes back with their next push. `stopped`: the Git operation the commit is a step of
    (a merge, a cherry-pick: `scm.stopped_operation`), whose abort is a way out."""
    from dvx.pointer import data_path_of
    from dvx.scm import MERGING

    typed, pathspec = _typed(root, here)
    lines = [f"ERROR: dvx stopped the commit: it would put into Git pointer files recording "
             f"another hash algorithm than this repository's data is named by ({own.algo}, "
             f"{own.why}), which no clone hashing as the repository does could read:"]
    lines.extend(f"    {path}" for path in paths[:_LISTED])
    if len(paths) > _LISTED:
        lines.append(f"    and {len(paths) - _LISTED} more")
    present = [p for p in paths if os.path.lexists(os.path.join(root, data_path_of(p)))]
    absent = [p for p in paths if p not in present]

    def add_again(pointers: list[str]) -> str:
        return (f"`rm {_named(pointers, typed)}`{_each(pointers)}, which keeps the data, then "
                f"`dvx add {_named([data_path_of(p) for p in pointers], typed)}`"
                f"{_each(pointers)}")

    ways = []
    if present:
        ways.append(
            f"Add {'their data' if not absent else 'the data of those whose data is here'} "
            f"again with {own.algo}, once `dvx config core.hash` says {own.algo} "
            f"({add_again(present)}), `git add` the new pointer files and {_again(here)}.")
    if absent:
        # A merge's commit records the other side as merged: taking its pointers out of
        # it would keep them out of every later merge of that side
        out_of_it = (
            "`git merge --abort` undoes the merge, and the `git pull` after their push merges "
            "the new pointer files" if stopped is MERGING else
            f"`git restore --staged -- {_named(absent, pathspec)}`{_each(absent)} takes "
            f"{'it' if len(absent) == 1 else 'them'} out of the commit"
            + (f", or `git {stopped.abort}` undoes the {stopped.name}" if stopped else ""))
        ways.append(
            f"The data of {_named(absent, typed)} is not in this workspace, where no `dvx "
            f"pull` places it while it is named by another algorithm: whoever has it (who "
            f"added it, most likely) adds it again with {own.algo} there, once `dvx config "
            f"core.hash` says {own.algo} ({add_again(absent)}), and pushes the data and the "
            f"commit; here, {out_of_it}.")
    them = "it as it is" if len(paths) == 1 else "them as they are"
    ways.append(f"`git commit --no-verify` commits {them}.")
    lines.append(" ".join(ways))
    return "\n".join(lines)


def _switch_message(root: str, here: str | None, switch: CommittedSwitch, own: str | None
                    ) -> str:
    """A commit sharing a core.hash that the tracked data does not record: the ways out of
    a setting not meant, and of a switch meant, which takes adding all that data again
    (configuration.md, "The repository's hash algorithm")."""
    from dvx.hash_setting import COMMITTED_CONFIG

    typed, pathspec = _typed(root, here)
    files = switch.files
    algo = switch.now.algo
    lines = [f"ERROR: dvx stopped the commit: {switch.now.why}, which the data this repository "
             f"tracks does not record: every clone would hash with {algo} and skip these "
             "files, whose data nobody could pull or check out any more:"]
    lines.extend(_listed_files(files))
    before = switch.before.setting
    if not switch.now.has_config:  # Git's index lost it: HEAD's goes back into the commit
        set_back = f"`git restore --staged -- {pathspec(COMMITTED_CONFIG)}`"
    else:
        back = "dvx config --unset core.hash" if before is None else \
            f"dvx config core.hash {before}"
        set_back = f"`{back}`, `git add -- {pathspec(COMMITTED_CONFIG)}`"
    first = _own_setting_off(own)
    lines.append(
        f"If that setting is not meant, set back the committed one: {set_back}, and "
        f"{_again(here)}. A switch of algorithm takes "
        f"recording all that data again with {algo}, where it is in the workspace, once "
        f"`dvx config core.hash` says {algo} ({first}{_record_again(files, typed)}; `dvx "
        f"pull` before the switch fetches what is missing), and `git add` of the files they "
        f"change. `git commit --no-verify` commits it as it is.")
    return "\n".join(lines)


def _own_setting_off(own: str | None) -> str:
    """The command, first of a way out, that unsets a core.hash of the user's own config
    (`own`: its level, Config.where), which commands hash with rather than the repository's;
    "" where none sets it."""
    unset = {"global": "dvx config --global --unset core.hash",
             "local": "dvx config --local --unset core.hash"}.get(own or "")
    return f"`{unset}`, which sets another for you alone; " if unset else ""


_LISTED = 10  # tracked paths a refused commit names, and files of each


def _listed_files(files: list[str]) -> list[str]:
    """The lines of a refusal naming `files`, the first _LISTED of them."""
    more = [f"    and {len(files) - _LISTED} more"] if len(files) > _LISTED else []
    return [f"    {path}" for path in files[:_LISTED]] + more


def _record_again(files: list[str], typed: Callable[[str], str]) -> str:
    """The commands that record `files` (pointer files and dvx.lock) again with the
    algorithm the commands hash with, keeping the data."""
    from dvx.lockfile import LOCK_FILE
    from dvx.pointer import data_path_of

    pointers = [path for path in files if path != LOCK_FILE]
    again = []
    if pointers:
        again.append(f"`rm {_named(pointers, typed)}`{_each(pointers)}, which keeps the data, "
                     f"then `dvx add {_named([data_path_of(p) for p in pointers], typed)}`")
    if LOCK_FILE in files:
        again.append(f"`rm {typed(LOCK_FILE)}`, then `dvx repro`, which records every stage "
                     "again")
    return "; ".join(again)


def _wpresentgit_ran(root: str) -> str | None:
    """The folder of the work tree the user ran `git commit` in, which Git gives its hooks
    (run at the top) as GIT_PREFIX, the path below the top: the commands a refusal names run
    there. None where Git gave none a folder of the work tree has: those name paths from the
    top, and say so."""
    prefix = os.environ.get("GIT_PREFIX")
    if prefix is None or os.path.isabs(prefix):
        return None
    top = os.path.realpath(root)
    here = os.path.normpath(os.path.join(top, prefix))
    inside = here == top or here.startswith(top.rstrip(os.sep) + os.sep)
    return here if inside and os.path.isdir(here) else None


def _typed(root: str, here: str | None) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """How a refusal's commands name a repository path where the user runs them: for dvx
    and the shell, and for Git (a pathspec)."""
    from dvx.paths import for_command, from_here
    from dvx.scm import literal_pathspec

    return (lambda path: for_command(root, path, here),
            lambda path: literal_pathspec(from_here(root, path, here)))


def _again(here: str | None) -> str:
    """Where the commands a refusal names run: the user's folder, or else the top."""
    return "commit again" if here is not None else \
        "commit again (from the top of the repository)"


def _staged_data_message(root: str, here: str | None, found: list[StagedData],
                         stopped: StoppedOperation | None) -> str:
    """`stopped`: the Git operation the commit is a step of (a merge, a cherry-pick, a
    rebase: `scm.stopped_operation`), whose other side may have put files of its own at the
    data, which a plain `dvx checkout` leaves as changes not in the cache; its abort is a
    way out."""
    typed, pathspec = _typed(root, here)

    lines = [f"ERROR: dvx stopped the commit: it would put into Git {_what_was_staged(found)}:"]
    for item in found[:_LISTED]:
        holder = item.holder
        files = item.files if item.files != [holder.path] else []
        shown = named_list(files, most=3)
        what = (f"the data of {holder.pointer}" if holder.pointer is not None else
                f"an output of stage '{holder.stage}' ({holder.recorded_in})")
        lines.append(f"    {holder.path}: {what}" + (f"; staged: {shown}" if files else ""))
    if len(found) > _LISTED:
        lines.append(f"    and {len(found) - _LISTED} more")
    paths = [item.holder.path for item in found]
    recorded = [item.holder.path for item in found if item.holder.recorded]
    unrecorded = sorted({str(item.holder.stage) for item in found if not item.holder.recorded})
    again = []
    if recorded:
        checkout = " ".join(typed(p) for p in recorded)
        why = ("to record the data as it is now, which also writes an entry again after a "
               "`!` rule taking the data back into Git, where checkout leaves it")
        # What the merge left at the data (the other side's files in a folder, its version
        # of a file) is a change not in the cache, which a plain checkout refuses to discard
        if stopped is not None:
            again.append(f"`dvx checkout --force {checkout}` (which places the recorded data, "
                         f"replacing what the {stopped.name} left there, which Git's history "
                         f"keeps) or `dvx commit {checkout}` ({why})")
        else:
            again.append(f"`dvx checkout {checkout}` (or `dvx commit` of them, {why})")
    if unrecorded:
        again.append(f"`dvx repro {' '.join(unrecorded)}`, which records "
                     f"{'its outputs' if len(unrecorded) == 1 else 'their outputs'}")
    lines.append(
        "Take it out of the commit with `git rm -r --cached -- "
        f"{' '.join(pathspec(p) for p in paths)}`, write its .gitignore entries "
        f"with {' and '.join(again)}, `git add` the .gitignore files they change, and "
        f"{_again(here)}."
        + (f" `git {stopped.abort}` undoes the {stopped.name} instead, then `dvx checkout` "
           "places again the data the abort deleted." if stopped is not None else "")
        + " `git commit --no-verify` commits it as it is.")
    return "\n".join(lines)


def _given_to_git_message(root: str, here: str | None, given: list[StagedData]) -> str:
    """Files of data whose pointer the commit removes, which Git versions from then on: the
    commit goes on, but a teammate's unrecorded changes to them are at stake."""
    _, pathspec = _typed(root, here)
    lines = ["WARNING: this commit puts into Git the files of data dvx tracked until now, "
             "whose pointer it removes (`dvx remove`, then `git add -A`?):"]
    for item in given[:_LISTED]:
        files = item.files
        shown = named_list(files, most=3)
        lines.append(f"    {item.holder.path}: the data of {item.holder.pointer}; staged: "
                     f"{shown}")
    if len(given) > _LISTED:
        lines.append(f"    and {len(given) - _LISTED} more")
    paths = [item.holder.path for item in given]
    lines.append(
        "Git versions them from now on. A teammate's `git pull` of this commit overwrites, "
        "without a word, any change of theirs to these files that they have not recorded "
        "with `dvx add` (their Git ignored it): they should record or copy such changes "
        "before they pull. If Git is not to version them: `git rm -r --cached -- "
        f"{_named(paths, pathspec)}`{_each(paths)}, list them in .gitignore, and `git commit "
        "--amend`.")
    return "\n".join(lines)


def _left_behind_message(root: str, here: str | None, left: list[StagedData]) -> str:
    """Data dvx placed whose pointer a `git stash -u` (or a branch switch) took away with
    its .gitignore entry: the way back is the stash's, or `dvx checkout`, which removes the
    data a commit still records."""
    _, pathspec = _typed(root, here)
    lines = ["ERROR: dvx stopped the commit: it would put into Git data that dvx placed here, "
             "whose pointer is in neither the workspace, Git's index nor HEAD but in a commit "
             "a branch, tag or stash holds (a `git stash -u` took the pointer and its "
             ".gitignore entry, or a `git checkout` left the data), so Git no longer ignores "
             "it:"]
    for item in left[:_LISTED]:
        files = item.files if item.files != [item.holder.path] else []
        shown = named_list(files, most=3)
        lines.append(f"    {item.holder.path}: the data of {item.holder.pointer}"
                     + (f"; staged: {shown}" if files else ""))
    if len(left) > _LISTED:
        lines.append(f"    and {len(left) - _LISTED} more")
    paths = [item.holder.path for item in left]
    lines.append(
        "Take it out of the commit with `git rm -r --cached -- "
        f"{_named(paths, pathspec)}`{_each(paths)}; then, if a `git stash` took its pointer, "
        "`git stash pop` brings the pointer and its .gitignore entry back (else `dvx "
        f"checkout` removes the data, where that loses nothing), and {_again(here)}. "
        "`git commit --no-verify` commits it as it is.")
    return "\n".join(lines)


def _conflicted_message(root: str, here: str | None, conflicted: list[StagedConflict]) -> str:
    """Pointer files and dvx.lock staged with a merge's conflict markers: nothing can read
    them, so the data of neither version would be pushed; the way out is the one `dvx
    status` names for them, ending with the commit."""
    from dvx.lockfile import LOCK_FILE
    from dvx.pointer import data_path_of

    typed, pathspec = _typed(root, here)
    lines = ["ERROR: dvx stopped the commit: it would put into Git files that still hold a "
             "merge's conflict markers, which dvx cannot read (the data of neither version "
             "would be pushed, nor could anyone check it out):"]
    for item in conflicted[:_LISTED]:
        versions = ("two merged versions, each keeping every change of both sides that did "
                    "not conflict" if item.merged_versions else
                    "this side's version and the other side's")
        lines.append(f"    {item.path}: {versions}")
    if len(conflicted) > _LISTED:
        lines.append(f"    and {len(conflicted) - _LISTED} more")
    paths = [item.path for item in conflicted]
    data = [data_path_of(path) for path in paths if path != LOCK_FILE]
    then = []
    if data:
        then.append(f"`dvx pull {_named(data, typed)}`{_each(data)} (which fetches the data "
                    "of the version kept and places it)")
    if LOCK_FILE in paths:
        then.append("`dvx repro` (which brings dvx.lock up to date)")
    lines.append(
        f"Keep one version of {'it' if len(paths) == 1 else 'each'} (delete the other and the "
        f"marker lines), run {' and '.join(then)}, `git add -- "
        f"{_named(paths, pathspec)}`{_each(paths)}, and {_again(here)}. "
        "`git commit --no-verify` commits "
        f"{'it as it is' if len(paths) == 1 else 'them as they are'}.")
    return "\n".join(lines)


def _overlaps_message(root: str, here: str | None, overlaps: list[StagedOverlap]) -> str:
    """Pointer files the commit adds that overlap another tracked path: every dvx command
    would refuse the pair; the way out is to move the new one back, or to keep one of the
    two, as the commands would say."""
    from dvx.overlapping import overlap_pair

    _, pathspec = _typed(root, here)
    lines = ["ERROR: dvx stopped the commit: it adds pointer files that overlap another "
             "tracked path, one tracking a path inside a folder the other tracks whole (as a "
             "`git mv` of a pointer file into a tracked folder leaves them; `dvx add` refuses "
             "that), so every dvx command would refuse both:"]
    for item in overlaps[:_LISTED]:
        lines.append("    " + overlap_pair(item.outer, item.outer_stage, item.inner,
                                           item.inner_stage))
    if len(overlaps) > _LISTED:
        lines.append(f"    and {len(overlaps) - _LISTED} more")
    added = sorted({item.added for item in overlaps})
    one = len(added) == 1
    move = f"`git mv -- {pathspec(added[0])} DEST`" if one else "`git mv` of each"
    lines.append(
        f"Move {'the new pointer file' if one else 'each new pointer file'} back where "
        f"it was ({move}), or keep one of the two (`dvx remove` of the other's pointer "
        f"file, and the `git add` it names), and {_again(here)}. `git commit --no-verify` "
        f"commits {'it as it is' if one else 'them as they are'}.")
    return "\n".join(lines)


def _staged_links_message(root: str, here: str | None, links: list[StagedLink]) -> str:
    """Links into the cache staged for a commit: what each is, and the way out of each kind:
    `dvx checkout` settles the data a `git reset` left, but knows nothing of a link made
    outside dvx, which only a copy in its place ends."""
    typed, pathspec = _typed(root, here)

    lines = ["ERROR: dvx stopped the commit: it would put into Git links into dvx's cache, "
             "which a clone gets leading nowhere (a symbolic link) or as the bytes of a "
             "cache object (a hard link):"]
    for link in links[:_LISTED]:
        what, how = (("a hard link of a cache object", "a `cp -l` or `ln` of tracked data")
                     if link.target is None else
                     (f"a symbolic link to {link.target}",
                      "a `cp -a` of a link dvx placed, an `ln -s`"))
        whose = ("whose pointer is gone (a `git reset` leaves such data)" if link.left_behind
                 else f"made outside dvx ({how})")
        lines.append(f"    {link.path}: {what}, {whose}")
    if len(links) > _LISTED:
        lines.append(f"    and {len(links) - _LISTED} more")
    left = [link.path for link in links if link.left_behind]
    own = [link.path for link in links if not link.left_behind]
    both = bool(left and own)
    ways = []
    if left:
        ways.append(f"Take {'those whose pointer is gone' if both else 'them'} out of the "
                    f"commit with `git rm --cached -- {_named(left, pathspec)}`"
                    f"{_each(left)}, run "
                    "`dvx checkout`, which makes each a file of its own (or removes it, where a "
                    "commit that a branch reaches records it), `git add` what it changes, and "
                    f"{_again(here)}.")
    if own:
        folders = [link.path for link in links if not link.left_behind and link.folder]
        files = [path for path in own if path not in folders]
        if not folders:
            kind, copy = "files", _copy_in_place(files, typed, folder=False)
        elif not files:
            kind, copy = "folders", _copy_in_place(folders, typed, folder=True)
        else:
            kind = "files and folders"
            copy = (f"{_copy_in_place(files, typed, folder=False)} for the files and "
                    f"{_copy_in_place(folders, typed, folder=True)} for the folders")
        ways.append(f"Make {'those made outside dvx' if both else 'them'} {kind} of their "
                    f"own, each a copy in its place, with {copy}, `git add` "
                    f"{'those' if both else 'them'}, and {_again(here)}.")
    ways.append("`git commit --no-verify` commits them as they are.")
    lines.append(" ".join(ways))
    return "\n".join(lines)


def _copy_in_place(paths: list[str], typed: Callable[[str], str], folder: bool) -> str:
    """The shell command that puts in place of each of `paths`, a symbolic link into the
    cache, a copy of what it leads to: of a folder (`folder`), with what it holds, the link
    removed before the copy takes its name, as `mv` onto a link to a folder would move the
    copy into the cache's folder."""
    def copy(path: str, tmp: str) -> str:
        if folder:
            return f"cp -RL {path} {tmp} && rm {path} && mv {tmp} {path}"
        return f"cp {path} {tmp} && mv -f {tmp} {path}"

    if len(paths) == 1:
        return f"`{copy(_named(paths, typed), typed(paths[0] + '.tmp'))}`"
    each = copy('"$f"', '"$f.tmp"')
    return f"`for f in {_named(paths, typed)}; do {each}; done`{_each(paths)}"


def _named(paths: list[str], quote: Callable[[str], str]) -> str:
    """The first of `paths`, quoted, for a command in a message; `...` for the rest."""
    return (" ".join(quote(path) for path in paths[:_LISTED])
            + (" ..." if len(paths) > _LISTED else ""))


def _each(paths: list[str]) -> str:
    """What follows a command of a message that names only some of `paths`."""
    return " (each of them)" if len(paths) > _LISTED else ""


def _what_was_staged(found: list[StagedData]) -> str:
    """The data a refused commit would put into Git, and how it got in, by what tracks it: a
    pointer or dvx.lock wrote its .gitignore entry, which went; the output of a stage not run
    yet never had one."""
    went = ("data that dvx tracks and keeps out of Git, which Git no longer ignores (a merge "
            "or a hand edit dropped its .gitignore entry; or the other side of a merge had it "
            "in Git; or a `!` rule or `git add -f` took it in; or Git had it before dvx "
            "tracked it, as a `git reset` of the commit that moved it out of Git leaves it)")
    never = ("outputs of stages that no run recorded yet, which dvx keeps out of Git all the "
             "same (it writes the .gitignore entry of a stage's output when the stage runs)")
    recorded = {item.holder.recorded for item in found}
    if recorded == {True}:
        return went
    if recorded == {False}:
        return never
    return f"{went}, and {never}"


@git_hook.command("pre-push")
@click.argument("remote_name")
@click.argument("url", required=False)
def pre_push(remote_name: str, url: str | None) -> None:
    from dvx.cli.sync import report_sync
    from dvx.errors import DvxError
    from dvx.history import History
    from dvx.ops.pushed_commits import PushedRef, read_pushed
    from dvx.ops.remote import default_remote
    from dvx.ops.sync import push, pushed

    zero = "0" * 40
    pushed_refs = sys.stdin.read()
    try:
        repo = _repo_of_hook()
        if repo is None:
            return
        refs = [PushedRef(parts[1], None if parts[3] == zero else parts[3])
                for parts in map(str.split, pushed_refs.splitlines())
                if len(parts) == 4 and parts[1] != zero]  # not a deletion
        with History(repo) as history:
            found = read_pushed(history, remote_name, refs)
        if found.damaged:
            _stop_push(_unreadable_message(found.damaged))
        if found.mended:
            warn(_mended_message(found.mended))
        if found.newer:
            warn(_newer_message(found.newer))
        to_push = pushed(found.targets)  # not `push: false` outputs
        if not to_push:
            return
        if default_remote(repo.config) is None and any(t.output.remote is None
                                                       for t in to_push):
            _stop_push("no default dvx remote is set. Set one with `dvx remote default NAME` "
                       "(`dvx remote list` names them), or add one with `dvx remote add -d "
                       "NAME URL`.")
        result = push(repo, to_push)
    except DvxError as exc:
        _stop_push(str(exc), exc)
    except OSError as exc:
        _stop_push(_what_failed(exc), exc)
    report_sync("Pushed", result, False)
    failure = result.remote_failure()
    if failure is not None:  # one remote of several: what the others got is reported above
        _stop_push(str(failure), failure)
    if repo.unreadable:
        _stop_push(_skipped_message(repo.unreadable), *repo.unreadable.values())
    if not result.ok:
        _stop_push("some of it failed (listed above).")


def _unreadable_message(unreadable: list[Broken]) -> str:
    """Damaged pointer files (or dvx.lock) that the tips being pushed hold and the remote did
    not have: what data they name is unknown, so none of it can be pushed, and whoever gets
    such a commit cannot check it out. Each is named by the earliest pushed commit holding it
    and its path (`COMMIT:PATH`)."""
    lines = ["some of them hold files it cannot read, so it cannot tell what data those name "
             "(nor could anyone who gets them check it out):"]
    lines += _listed(unreadable)
    lines.append("Fix each in the commit that holds it (a merge's conflict markers: keep one "
                 "version, deleting the other and the marker lines, and `dvx pull` its data), "
                 "`git add` it, and `git commit --amend` where that is the last commit (`git "
                 "rebase -i --rebase-merges` for an earlier one), or in a new commit.")
    return "\n".join(lines)


def _skipped_message(skipped: dict[str, DvxError]) -> str:
    """The data left out of the push as what names it could not be read (a directory
    manifest dvx refuses, say), each by its pointer file or path: said here, once, rather
    than again at the end of the command (so `skipped` is emptied)."""
    lines = ["some of the data they name was not pushed, as what names it cannot be used:"]
    lines += [f"    {path}: {exc}" for path, exc in sorted(skipped.items())[:_LISTED]]
    if len(skipped) > _LISTED:
        lines.append(f"    and {len(skipped) - _LISTED} more")
    skipped.clear()
    return "\n".join(lines)


def _mended_message(mended: list[Broken]) -> str:
    """Damaged files of commits being pushed that the tips pushed no longer hold."""
    return "\n".join([
        "WARNING: some of the commits being pushed hold files dvx cannot read, each changed "
        "or removed by a later commit pushed with them; the data those named is unknown, so "
        "it was not pushed, and a checkout of those commits fails on them:",
        *_listed(mended)])


def _newer_message(newer: list[Broken]) -> str:
    """Files of commits being pushed that a newer dvx wrote: the push goes on without them."""
    return "\n".join([
        "WARNING: some of the commits being pushed hold files written by a newer dvx, which "
        "this one cannot read; their data is that dvx's to push (upgrade dvx to push it from "
        "here):", *_listed(newer)])


def _listed(unreadable: list[Broken]) -> list[str]:
    lines = [f"    {item.error.message}" for item in unreadable[:_LISTED]]
    if len(unreadable) > _LISTED:
        lines.append(f"    and {len(unreadable) - _LISTED} more")
    return lines


def _what_failed(exc: OSError) -> str:
    """What stopped the push, said as dvx says it at the end of any command."""
    from dvx.errors import LostConnection
    from dvx.fsutil import describe

    if isinstance(exc, LostConnection):
        return f"Cannot reach the {exc.shown}: {exc.strerror}."
    return f"A filesystem operation failed: {describe(exc)}."


def _stop_push(why: str, *errors: BaseException) -> NoReturn:
    """`errors`: those `why` says, which may quote libraries' errors."""
    warn(f"ERROR: dvx could not push the data of the commits being pushed: {why} The git push "
         "was stopped, so that nobody gets commits whose data is on no remote. Fix it and push "
         "again; `git push --no-verify` pushes the commits without their data.", errors)
    sys.exit(1)


@git_hook.command("merge-driver")
@click.argument("base")
@click.argument("ours")
@click.argument("theirs")
@click.argument("path")
def merge_driver(base: str, ours: str, theirs: str, path: str) -> None:
    """Merge PATH (a pointer file or dvx.lock): BASE, OURS and THEIRS are Git's temporary
    files; the result goes to OURS. Exit status 1 leaves a conflict."""
    from dvx import fsutil
    from dvx.errors import DvxError
    from dvx.ops.merge import (
        REBASE_SIDE_NAMES,
        SIDE_NAMES,
        LineMerge,
        MergedVersions,
        merge_file,
        with_conflict_markers,
        without_a_paired_path,
    )
    from dvx.pointer import (
        MERGED_VERSION_LABELS,
        REBASE_MERGED_VERSION_LABELS,
        REBASE_SIDE_LABELS,
    )
    from dvx.scm import merging_for_a_rebase

    contents = []
    for name in (base, ours, theirs):
        with open(name, "rb") as f:
            contents.append(f.read())
    repo = open_repo(warning_of_config=False)
    rebasing = merging_for_a_rebase(repo.root)  # Git's ours is then the upstream
    names = REBASE_SIDE_NAMES if rebasing else SIDE_NAMES
    sides = without_a_paired_path(path, contents[0], contents[1], contents[2], names)
    contents[1:] = [sides.ours, sides.theirs]
    paired = f". {sides.left_out}" if sides.left_out else ""
    try:
        merged = merge_file(repo, path, contents[0], contents[1], contents[2], names)
    except LineMerge as exc:
        assert repo.git is not None  # Git runs this driver
        clean = repo.git.merge_file(ours, base, theirs)
        warn(f"dvx: {shown_path(path)}: {exc.message}, so it was merged line by line"
             + ("." if clean else "; left as a conflict."))
        sys.exit(0 if clean else 1)
    except MergedVersions as exc:  # both versions keep the other changes of both sides
        fsutil.atomic_write(ours, with_conflict_markers(
            exc.ours, exc.theirs,
            REBASE_MERGED_VERSION_LABELS if rebasing else MERGED_VERSION_LABELS))
        warn(f"dvx: {shown_path(path)}: {exc.message.rstrip('.')}{paired}; left as a conflict "
             "between two merged versions, each with every other change of both sides "
             "(`dvx status` says how to resolve it).")
        sys.exit(1)
    except DvxError as exc:
        fsutil.atomic_write(ours, with_conflict_markers(
            contents[1], contents[2], *([REBASE_SIDE_LABELS] if rebasing else [])))
        reason = exc.message.rstrip(".")  # a sentence from below, or a fragment
        warn(f"dvx: {shown_path(path)}: {reason}{paired}; left as a conflict (`dvx status` says "
             "how to resolve it).")
        sys.exit(1)
    fsutil.atomic_write(ours, merged.data)
    warn(f"dvx: merged {shown_path(path)}: {merged.how}{paired}.")


COMMANDS = [install, git_hook]
