"""The data an experiment records besides what its stages read. An experiment holds the
workspace, so `dvx add`-tracked data changed here that no stage reads goes into the cache
too, and the experiment's pointer names it: recorded as `dvx commit` records it, as DVC's
`exp save` commits every changed tracked data. What the stages read is recorded by `repro`
(or `commit_changed_inputs`), with checks of its own.

Two passes: `check_unread_data` before the command writes anything (a refusal then leaves
every file, the cache and the refs as they were), `commit_unread_data` last, once the
workspace holds what the experiment records (the params -S set, the results of a run that
succeeded). The first also checks the data -S is about to write into, as it will be then,
whichever records it."""

from __future__ import annotations

import os
from collections.abc import Collection

from dvx.errors import UsageError
from dvx.ops.commit import check_commit, commit
from dvx.outputs import Output, all_outputs
from dvx.paths import for_command, overlaps
from dvx.pipeline.unrecordable_inputs import refuse_changed_import
from dvx.repo import Repo

# When an experiment command would commit an import changed here, as its refusal says
_RECORDED_IN_THE_EXPERIMENT = "Recording it in the experiment"


def check_unread_data(repo: Repo, read: Collection[str], command: str, again: str = "",
                      setting: Collection[str] = ()) -> None:
    """Raise what `commit_unread_data` (same arguments) would raise for the workspace as it
    is, writing nothing: data changed both here and in Git, an import changed here, data
    `dvx commit` cannot store. `setting`: the params files -S is about to write, still as
    they were: the data they are (in), read by a stage or not, is checked as the command
    would find it once written (`_refuse_setting_unrecordable`)."""
    set_into = _set_into(repo, setting)
    unread = [output for output in _unread(repo, read) if output not in set_into]
    _refuse_unrecordable(repo, unread, command, again)
    _refuse_setting_unrecordable(repo, set_into, setting, command, again)


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


def _set_into(repo: Repo, setting: Collection[str]) -> list[Output]:
    """The `dvx add`-tracked data that one of the params files `setting` is, or is in."""
    return [output for output in all_outputs(repo) if output.stage is None
            and any(overlaps(output.path, file) for file in setting)]


def _refuse_setting_unrecordable(repo: Repo, outputs: list[Output], setting: Collection[str],
                                 command: str, again: str) -> None:
    """What recording `outputs` (the data the params files `setting` are in) would refuse
    once -S changed them, before -S writes: an import, whatever it holds now (changed, it
    would drop its source), and what `commit` refuses of changed data (Git tracking it too,
    say). Found after the run, it would leave the run's results unrecorded."""
    for output in outputs:
        if output.pointer.source is not None:
            file = next(file for file in setting if overlaps(output.path, file))
            raise _setting_an_import(repo, output, file, again or command)
    check_commit(repo, outputs, command=command, again=again)


def _setting_an_import(repo: Repo, output: Output, file: str, again: str) -> UsageError:
    where = "which is an import" if file == output.path else \
        f"inside the import '{output.path}'"
    return UsageError(
        f"-S would set params in '{file}', {where} ('{output.pointer_path}' records its "
        "source): recording the experiment would make it ordinary data of yours, dropping "
        "its source, so `dvx update` would no longer follow it. Nothing was written.",
        "Keep the params experiments change in a file of your own. To make the import your "
        f"own data, edit it and record it with `dvx commit {for_command(repo.root, output.path)}`"
        f", then run `dvx {again}` again.")


def _refuse_unrecordable(repo: Repo, outputs: list[Output], command: str, again: str
                         ) -> None:
    """What `commit` refuses of `outputs` as `commit_unread_data` records them, and an import
    changed here (`refuse_changed_import`)."""
    checked = check_commit(repo, outputs, only_changed=True, command=command, again=again)
    for output in checked.chosen:
        refuse_changed_import(repo, output, checked.statuses[output.path], again or command,
                              _RECORDED_IN_THE_EXPERIMENT)
