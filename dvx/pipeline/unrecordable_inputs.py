"""The tracked inputs `repro` (and `exp run`, `exp save`) may neither run on nor commit.

`repro` commits each changed input tracked with a pointer file, so that `dvx.lock` names no
input data that no pointer names and no cache holds. Three kinds of input cannot be taken so:
one not checked out as its pointer names (a `dvx update` or `dvx pull` stopped half-way, a
`dvx add` that kept files as the pointer named them), whose workspace holds a mix no pointer
names; one lacking files its pointer (or, of an upstream stage's output this run does not
make, its dvx.lock entry) names that were never placed here (a partial pull, a teammate's
files brought by `git pull` and `dvx fetch`), which a commit keeps in the pointer while the
stages would run without them; and an import changed in the workspace, which committing
would make ordinary data, dropping the `source` that `dvx update` follows (docs/reuse.md).
All are refused before anything runs, naming the way out; the inputs lacking files all at
once. Which files are lacking depends on where the command's stages read them (`Taking`).
A pointer that moved in Git is `refuse_if_behind`'s.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from dvx.errors import ConflictError
from dvx.lock import WORKSPACE, StoppedCommand, stopped_commands
from dvx.lockfile import LOCK_FILE
from dvx.ops.data_places import tracked_by_git_within
from dvx.ops.status import MODIFIED, NOT_PULLED, OUTDATED, OutputStatus
from dvx.outputs import Output, load_tree, placing_pointer_version
from dvx.paths import for_command, join_posix, overlaps
from dvx.repo import Repo
from dvx.scm import untrack_command, user_git
from dvx.wording import named_list

_NAMED = 5  # files named in a message, of a directory's

# Where the stages of a command taking the inputs read them
RUN_HERE = "here"  # the workspace: repro, exp run
RUN_QUEUED = "queued"  # a worktree of its own, checked out of the cache: exp run --queue
RUN_NONE = "none"  # no stage runs, the workspace is recorded as it is: exp save


@dataclass(frozen=True)
class Taking:
    """A command taking the pipeline's tracked inputs: `command`, the dvx command ("repro",
    "exp save"), which a refusal names as the one that ran; where its stages read them
    (`runs`: RUN_HERE, RUN_QUEUED or RUN_NONE), which decides the files it needs placed;
    and `again`, the command as typed (its targets, -n and -S), which a refusal says to run
    again (empty: `command`)."""

    command: str
    runs: str = RUN_HERE
    again: str = ""

    @property
    def typed(self) -> str:
        """The command a refusal says to run again, without `dvx`."""
        return self.again or self.command


@dataclass(frozen=True)
class Lacking:
    """An input lacking files its record names that were never placed here: `files`, those
    the command needs (of a directory: relative to it; the output's own path when none of it
    was placed), and whether the cache lacks some of them (`fetch`)."""

    output: Output
    status: OutputStatus
    files: list[str]
    fetch: bool

    @property
    def whole(self) -> bool:
        return self.files == [self.output.path]


def refuse_unrecordable_input(repo: Repo, output: Output, status: OutputStatus,
                              command: str) -> None:
    """Raise ConflictError when the input `output` (tracked with a pointer file; `status`
    its status) is not checked out as its pointer names, or is an import changed here.
    `command`: the dvx command refused, which the hint says to run again."""
    if status.workspace == OUTDATED or status.outdated:
        raise _not_checked_out(repo, output, status, command)
    refuse_changed_import(repo, output, status, command)


# How `refuse_changed_import` says when the import would be committed
BEFORE_STAGES_RUN = "Committing it before the stages run"


def refuse_changed_import(repo: Repo, output: Output, status: OutputStatus, command: str,
                          committing: str = BEFORE_STAGES_RUN) -> None:
    """Raise ConflictError when `output` (`status` its status) is an import changed here:
    committed, it would be ordinary data, which `dvx update` no longer follows, so the user
    says which way it goes. `committing`: the clause that says when the `command` would
    commit it, for the message."""
    if status.workspace == MODIFIED and output.pointer.source is not None:
        raise _changed_import(repo, output, status, command, committing)


def lacking(repo: Repo, output: Output, status: OutputStatus, read: Collection[str],
            taking: Taking) -> Lacking | None:
    """The files its record names that were never placed here, that a path in `read` (what
    the stages depend on) covers and that `taking` needs: RUN_HERE, all of them; RUN_QUEUED,
    those the cache lacks, since the queued run checks its inputs out of it; RUN_NONE, those
    of an input it commits (changed here: the commit would name them beside results made
    without them), none of another's. An upstream stage's output wholly absent is not one:
    the stage reading it fails, naming the stage that makes it."""
    if taking.runs == RUN_NONE and (output.stage is not None or status.workspace != MODIFIED):
        return None
    if status.workspace == NOT_PULLED:
        if output.stage is not None or not any(overlaps(status.path, p) for p in read):
            return None
        files = [status.path]
    else:
        files = [name for name in status.not_pulled
                 if any(overlaps(join_posix(status.path, name), p) for p in read)]
    uncached = _uncached(repo, output, files)
    if taking.runs == RUN_QUEUED:
        files = uncached
    return Lacking(output, status, files, bool(uncached)) if files else None


def _uncached(repo: Repo, output: Output, files: list[str]) -> list[str]:
    """Those of `files` (as `Lacking.files`) whose objects the cache lacks."""
    if not output.pointer.is_dir:
        return [] if repo.cache.exists(output.pointer.oid) else files
    tree = load_tree(repo, output.pointer, output.recorded_in)
    if tree is None:
        return files
    if files == [output.path]:
        return [] if all(repo.cache.exists(oid) for oid in tree.oids()) else files
    return [name for name in files
            if (entry := tree.get(name)) is None or not repo.cache.exists(entry.oid)]


def refuse_lacking(repo: Repo, inputs: Sequence[Lacking], taking: Taking) -> None:
    """Raise one ConflictError naming every input of `inputs` (`lacking`), if any, with the
    commands that place (or, for a queued run, fetch) what each lacks."""
    if not inputs:
        return
    how = "a partial pull, or a teammate's change that `git pull` brought"
    one = len(inputs) == 1
    if taking.runs == RUN_QUEUED:
        where = "never placed here nor fetched into the cache"
        why = (f"The queued run checks {'it' if one else 'them'} out of the cache in a "
               "worktree of its own: its stages would run without those files and record "
               "input data that no pointer or stage output names.")
    else:
        where = "never placed here"
        why = (f"Committed, {'its pointer' if one else 'their pointers'} would name those "
               "files beside the experiment's results, made without them." if
               taking.runs == RUN_NONE else
               f"A stage run on {'it' if one else 'them'} would record input data that no "
               "pointer or stage output names.")
    if one:
        item = inputs[0]
        message = (f"'{item.output.path}' is read by the stages but is not all in the "
                   f"workspace: {item.output.recorded_in} names {item.status.pointer_oid}, "
                   f"and the workspace lacks {_what(item)}, {where} ({how}). {why}")
    else:
        each = "; ".join(f"'{i.output.path}' lacks {_what(i)} ({i.output.recorded_in} names "
                         f"{i.status.pointer_oid})" for i in inputs)
        message = (f"Inputs the stages read are not all in the workspace, lacking files "
                   f"{where} ({how}): {each}. {why}")
    ways = "; ".join(_way(repo, item, taking) for item in inputs)
    raise ConflictError(message, f"Run {ways}; then run `dvx {taking.typed}` again."
                        if not one else f"Run {ways}, then run `dvx {taking.typed}` again.")


def _what(item: Lacking) -> str:
    if item.whole:
        return "all of it"
    return f"its file{'s' if len(item.files) > 1 else ''} {_files(item.files)}"


def _way(repo: Repo, item: Lacking, taking: Taking) -> str:
    """The command placing (RUN_QUEUED: fetching) what `item` lacks, for the user to run
    (`_placing`), after the one that stops Git tracking part of it, if Git's index holds part
    of it: checkout and pull leave such a folder to Git whole, placing none of its files."""
    output = item.output
    typed = for_command(repo.root, output.path)
    record = f"{LOCK_FILE} names" if output.stage else "its pointer names"
    if taking.runs == RUN_QUEUED:
        return f"`dvx fetch {typed}` to fetch what {record} into the cache"
    verb = "pull" if item.fetch else "checkout"
    held = _git_holds_part_of(repo, output)
    if held is None:
        return _placing(repo, item)
    return (f"`{untrack_command(repo.root, output.path)}` first, as Git's index holds "
            f"'{held}' of '{output.path}' too and `dvx {verb}` leaves data Git tracks to Git "
            f"(that keeps the files; then `{user_git(repo.root)} commit`); then "
            + _placing(repo, item))


def _git_holds_part_of(repo: Repo, output: Output) -> str | None:
    """The first file of the folder `output` that Git's index holds, if it holds some of
    them but not the folder itself (`git add -f` of a file in it)."""
    held = tracked_by_git_within(repo, [output.path]).get(output.path)
    if not held or "" in held:
        return None
    return join_posix(output.path, min(held))


def _placing(repo: Repo, item: Lacking) -> str:
    """The command placing what `item` lacks: the files alone where a command for the whole
    folder would also bring back files deleted from it on purpose, which a checkout of the
    folder does."""
    output = item.output
    typed = for_command(repo.root, output.path)
    record = f"{LOCK_FILE} names" if output.stage else "its pointer names"
    verb, to = ("pull", "to fetch and place") if item.fetch else ("checkout", "to place")
    if item.whole:
        return f"`dvx {verb} {typed}` {to} what {record}"
    paths = [join_posix(output.path, name) for name in item.files]
    one = len(paths) == 1
    if len(paths) <= _NAMED:
        alone = f"`dvx {verb} {' '.join(for_command(repo.root, p) for p in paths)}`"
    else:
        alone = f"`dvx {verb}` with each of " + named_list(
            paths, most=_NAMED, name=lambda p: f"`{for_command(repo.root, p)}`")
    files = f"the file{'' if one else 's'} it lacks"
    deleted = item.status.deleted
    if not deleted:
        return (f"`dvx {verb} {typed}` {to} what {record} (your changes in it are kept), or "
                f"{alone} for {files} alone")
    gone = f"the file{'' if len(deleted) == 1 else 's'} you deleted from it"
    return (f"{alone} {to} {files} (`dvx {verb} {typed}` would place {'it' if one else 'them'}"
            f" too, but also bring back {gone}, {_files(deleted)})")


def _not_checked_out(repo: Repo, output: Output, status: OutputStatus, command: str
                     ) -> ConflictError:
    typed = for_command(repo.root, output.path)
    held = "an older version" if not status.outdated else \
        f"an older version of its file{'s' if len(status.outdated) > 1 else ''} " \
        f"{_files(status.outdated)}"
    stopped = _stopped_on(repo, output.path)
    # A stopped command run again places only what the cache holds, if it is a checkout
    rerun = "" if stopped is None or not status.in_cache else \
        f" (or run {f'`{stopped.redo}`' if stopped.redo else f'the stopped {stopped.named}'}" \
        " again, which does that)"
    placing = placing_pointer_version(typed, status.in_cache,
                                      repo.has_default_remote)
    return ConflictError(
        f"'{output.path}' is read by the stages but is not checked out as its pointer names: "
        f"'{output.pointer_path}' names {status.pointer_oid}, and the workspace still holds "
        f"{held}. A stage run on it would record input data that no pointer names.",
        f"{placing}{rerun}, then run `dvx {command}` again.")


def _changed_import(repo: Repo, output: Output, status: OutputStatus, command: str,
                    committing: str) -> ConflictError:
    typed = for_command(repo.root, output.path)
    changes = "; ".join(f"{what}: {_files(names)}" for what, names in (
        ("added", status.added), ("modified", status.modified), ("deleted", status.deleted))
        if names)
    discard = f"`dvx checkout --force {typed}` discards your changes"
    undo = f"Move the files you added out of it ({discard})" if status.added else \
        f"Run `dvx checkout --force {typed}` to discard your changes"
    return ConflictError(
        f"'{output.path}' is an import ('{output.pointer_path}' records its source), and its "
        "workspace copy changed" + (f" ({changes})" if changes else "") + f". {committing} "
        "would make it ordinary data of yours, dropping its source, so `dvx update` would no "
        "longer follow it.",
        f"{undo}, then run `dvx {command}` again; or, to make it your own data, no longer an "
        f"import, record it first with `dvx commit {typed}`.")


def _files(names: list[str]) -> str:
    return named_list(names, most=_NAMED, name=lambda name: f"'{name}'")


def _stopped_on(repo: Repo, path: str) -> StoppedCommand | None:
    """The latest stopped command that was placing files at `path`, whose run to its end
    would place them as the pointer names (a `dvx update`, `checkout` or `pull`)."""
    full = repo.abspath(path)
    for each in stopped_commands(repo.tmp_dir):
        work = each.work
        if work is not None and work.state.startswith(WORKSPACE) and (
                work.paths is None or any(full == mine or full.startswith(
                    mine.rstrip(os.sep) + os.sep) for mine in work.paths)):
            return each
    return None
