"""The tracked inputs `repro` (and `exp run`) may neither run on nor commit before it runs.

`repro` commits each changed input tracked with a pointer file, so that `dvx.lock` names no
input data that no pointer names and no cache holds. Two kinds of input cannot be taken so:
one not checked out as its pointer names (a `dvx update` or `dvx pull` stopped half-way, a
`dvx add` that kept files as the pointer named them), whose workspace holds a mix no pointer
names; and an import changed in the workspace, which committing would make ordinary data,
dropping the `source` that `dvx update` follows (docs/reuse.md). Both are refused before
anything runs, naming the way out. A pointer that moved in Git is `refuse_if_behind`'s.
"""

from __future__ import annotations

import os

from dvx.errors import ConflictError
from dvx.lock import WORKSPACE, StoppedCommand, stopped_commands
from dvx.ops.status import MODIFIED, OUTDATED, OutputStatus
from dvx.outputs import Output
from dvx.paths import for_command
from dvx.repo import Repo

_NAMED = 5  # files named in a message, of a directory's


def refuse_unrecordable_input(repo: Repo, output: Output, status: OutputStatus) -> None:
    """Raise ConflictError when the input `output` (tracked with a pointer file; `status`
    its status) is not checked out as its pointer names, or is an import changed here."""
    if status.workspace == OUTDATED or status.outdated:
        raise _not_checked_out(repo, output, status)
    if status.workspace == MODIFIED and output.pointer.source is not None:
        raise _changed_import(repo, output, status)


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
    shown = ", ".join(f"'{name}'" for name in names[:_NAMED])
    return shown + (f" and {len(names) - _NAMED} more" if len(names) > _NAMED else "")


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
