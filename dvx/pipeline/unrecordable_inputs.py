"""The tracked inputs `repro` (and `exp run`) may neither run on nor commit before it runs.

`repro` commits each changed input tracked with a pointer file, so that `dvx.lock` names no
input data that no pointer names and no cache holds. Three kinds of input cannot be taken so:
one not checked out as its pointer names (a `dvx update` or `dvx pull` stopped half-way, a
`dvx add` that kept files as the pointer named them), whose workspace holds a mix no pointer
names; one lacking files its pointer names that were never placed here (a partial pull, a
teammate's files brought by `git pull` and `dvx fetch`), which a commit keeps in the pointer
while the stages would run without them; and an import changed in the workspace, which
committing would make ordinary data, dropping the `source` that `dvx update` follows
(docs/reuse.md). All are refused before anything runs, naming the way out. A pointer that
moved in Git is `refuse_if_behind`'s.
"""

from __future__ import annotations

import os
from collections.abc import Collection

from dvx.errors import ConflictError
from dvx.lock import WORKSPACE, StoppedCommand, stopped_commands
from dvx.ops.status import MODIFIED, NOT_PULLED, OUTDATED, OutputStatus
from dvx.outputs import Output
from dvx.paths import for_command, join_posix
from dvx.pipeline.spec import overlaps
from dvx.repo import Repo
from dvx.wording import named_list

_NAMED = 5  # files named in a message, of a directory's


def refuse_unrecordable_input(repo: Repo, output: Output, status: OutputStatus,
                              read: Collection[str]) -> None:
    """Raise ConflictError when the input `output` (tracked with a pointer file; `status`
    its status) is not checked out as its pointer names, lacks files its pointer names that
    the stages read (`read`: the paths they depend on), or is an import changed here."""
    if status.workspace == OUTDATED or status.outdated:
        raise _not_checked_out(repo, output, status)
    missing = _not_pulled(status, read)
    if missing:
        raise _not_placed(repo, output, status, missing)
    if status.workspace == MODIFIED and output.pointer.source is not None:
        raise _changed_import(repo, output, status)


def _not_pulled(status: OutputStatus, read: Collection[str]) -> list[str]:
    """The files (of a directory: relative to it) its pointer names that were never placed
    here and that a path in `read` covers; the whole output's path when none of it was."""
    if status.workspace == NOT_PULLED:
        return [status.path] if any(overlaps(status.path, path) for path in read) else []
    return [name for name in status.not_pulled
            if any(overlaps(join_posix(status.path, name), path) for path in read)]


def _not_placed(repo: Repo, output: Output, status: OutputStatus, missing: list[str]
                ) -> ConflictError:
    typed = for_command(repo.root, output.path)
    lacking = "all of it" if missing == [output.path] else \
        f"its file{'s' if len(missing) > 1 else ''} {_files(missing)}"
    place = f"Run `dvx checkout {typed}` to place" if status.in_cache else \
        f"Run `dvx pull {typed}` to fetch and place"
    return ConflictError(
        f"'{output.path}' is read by the stages but is not all in the workspace: "
        f"'{output.pointer_path}' names {status.pointer_oid}, and the workspace lacks "
        f"{lacking}, never placed here (a partial pull, or a teammate's change that "
        "`git pull` brought). A stage run on it would record input data that no pointer "
        "names.",
        f"{place} what its pointer names (your own changes in it are kept), then run this "
        "again.")


def _not_checked_out(repo: Repo, output: Output, status: OutputStatus) -> ConflictError:
    typed = for_command(repo.root, output.path)
    held = "an older version" if not status.outdated else \
        f"an older version of its file{'s' if len(status.outdated) > 1 else ''} " \
        f"{_files(status.outdated)}"
    stopped = _stopped_on(repo, output.path)
    rerun = "" if stopped is None else \
        f" (or run {f'`{stopped.redo}`' if stopped.redo else f'the stopped {stopped.named}'}" \
        " again, which does that)"
    return ConflictError(
        f"'{output.path}' is read by the stages but is not checked out as its pointer names: "
        f"'{output.pointer_path}' names {status.pointer_oid}, and the workspace still holds "
        f"{held}. A stage run on it would record input data that no pointer names.",
        f"Run `dvx checkout {typed}` to place the data its pointer names{rerun}, then run "
        "this again.")


def _changed_import(repo: Repo, output: Output, status: OutputStatus) -> ConflictError:
    typed = for_command(repo.root, output.path)
    changes = "; ".join(f"{what}: {_files(names)}" for what, names in (
        ("added", status.added), ("modified", status.modified), ("deleted", status.deleted))
        if names)
    discard = f"`dvx checkout --force {typed}` discards your changes"
    undo = f"Move the files you added out of it ({discard})" if status.added else \
        f"Run `dvx checkout --force {typed}` to discard your changes"
    return ConflictError(
        f"'{output.path}' is an import ('{output.pointer_path}' records its source), and its "
        "workspace copy changed" + (f" ({changes})" if changes else "") + ". Committing it "
        "before the stages run would make it ordinary data of yours, dropping its source, so "
        "`dvx update` would no longer follow it.",
        f"{undo}, then run this again; or, to make it your own data, no longer an import, "
        f"record it first with `dvx commit {typed}`.")


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
