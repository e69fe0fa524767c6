"""The data an experiment records besides what its stages read. An experiment holds the
workspace, so `dvx add`-tracked data changed here that no stage reads goes into the cache
too, and the experiment's pointer names it: recorded as `dvx commit` records it, as DVC's
`exp save` commits every changed tracked data. What the stages read is recorded by `repro`
(or `commit_changed_inputs`), with checks of its own.

Two passes: `check_unread_data` before the command writes anything (a refusal then leaves
every file, the cache and the refs as they were), `commit_unread_data` last, once the
workspace holds what the experiment records (the params -S set, the results of a run that
succeeded)."""

from __future__ import annotations

import os
from collections.abc import Collection

from dvx.ops.commit import check_commit, commit
from dvx.outputs import Output, all_outputs
from dvx.pipeline.spec import overlaps
from dvx.pipeline.unrecordable_inputs import refuse_changed_import
from dvx.repo import Repo

# When an experiment command would commit an import changed here, as its refusal says
_RECORDED_IN_THE_EXPERIMENT = "Recording it in the experiment"


def check_unread_data(repo: Repo, read: Collection[str], command: str, again: str = ""
                      ) -> None:
    """Raise what `commit_unread_data` (same arguments) would raise for the workspace as it
    is, writing nothing: data changed both here and in Git, an import changed here, data
    `dvx commit` cannot store."""
    _refuse_unrecordable(repo, _unread(repo, read), command, again)


def commit_unread_data(repo: Repo, read: Collection[str], command: str, again: str = ""
                       ) -> list[str]:
    """Record the `dvx add`-tracked data changed in the workspace that overlaps none of
    `read` (the paths the stages read), as `dvx commit` without targets does, for the dvx
    `command`; the paths recorded. A refusal says to run `again` (the command as typed, its
    -n and each -S, without `dvx`; empty: `command`) once mended. Data a `git pull` moved
    the pointer of and that was not changed here is left as its pointer names it; data
    changed both here and in Git is refused, and so is an import changed here (committing
    it would drop its source), before anything is written."""
    unread = _unread(repo, read)
    if not unread:
        return []
    _refuse_unrecordable(repo, unread, command, again)
    return [added.path for added in commit(repo, unread, only_changed=True, command=command,
                                           again=again).added]


def _unread(repo: Repo, read: Collection[str]) -> list[Output]:
    """The `dvx add`-tracked data overlapping none of `read` that the workspace has: data
    absent from it (never pulled here) has nothing to record, and its pointer's manifest is
    not read."""
    return [output for output in all_outputs(repo) if output.stage is None
            and not any(overlaps(output.path, path) for path in read)
            and os.path.lexists(repo.abspath(output.path))]


def _refuse_unrecordable(repo: Repo, outputs: list[Output], command: str, again: str
                         ) -> None:
    """What `commit` refuses of `outputs` as `commit_unread_data` records them, and an import
    changed here (`refuse_changed_import`)."""
    checked = check_commit(repo, outputs, only_changed=True, command=command, again=again)
    for output in checked.chosen:
        refuse_changed_import(repo, output, checked.statuses[output.path], again or command,
                              _RECORDED_IN_THE_EXPERIMENT)
