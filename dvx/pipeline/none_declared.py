"""Stages dvx.lock records while dvx.yaml declares none at all: dvx.yaml is missing (deleted,
`git rm`, a commit that deleted it) or says nothing of stages (emptied, or `stages:` with
nothing under it). Neither is a pipeline without stages: `dvx repro` would drop every entry,
so it refuses to run, and `dvx status` names them as a change. `stages: {}` says "none".
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dvx.errors import DvxError, UsageError
from dvx.lockfile import LOCK_FILE, PIPELINE_FILE, StageLock
from dvx.pipeline.spec import Pipeline, pipeline_path
from dvx.repo import Repo
from dvx.wording import named_list


def recorded_while_none_declared(pipeline: Pipeline | None, locks: Mapping[str, StageLock]
                                 ) -> list[str]:
    """The stages `locks` (dvx.lock) records while dvx.yaml, loaded as `pipeline` (None:
    there is no dvx.yaml), says nothing of stages; none when it declares stages,
    `stages: {}` among them."""
    if pipeline is not None and pipeline.declares_stages:
        return []
    return sorted(locks)


def recorded_without_pipeline(repo: Repo) -> list[str]:
    """The stages dvx.lock records while there is no dvx.yaml; none when there is one."""
    if os.path.lexists(pipeline_path(repo)):
        return []
    return sorted(repo.read_lock())


def none_declared_message(names: list[str], missing: bool) -> str:
    """What repro and status say of `names`, the stages dvx.lock records while dvx.yaml is
    `missing`, or there but saying nothing of stages."""
    shown = named_list(names, most=10, name=lambda n: f"'{n}'")
    which = "stage" if len(names) == 1 else "stages"
    said = ("is missing" if missing else
            "declares no stages (it is empty, or has nothing under `stages`)")
    return f"{PIPELINE_FILE} {said}, while {LOCK_FILE} records the {which} {shown}"


def restore_advice(repo: Repo, missing: bool) -> str:
    """How to bring back dvx.yaml: the Git command when Git has it, in HEAD or in the
    commit before the one that deleted it (a teammate's, say); a file never committed has
    none."""
    if repo.git is None:
        return f"restore {PIPELINE_FILE}"
    if repo.git.mode_at("HEAD", PIPELINE_FILE) is not None:
        return (f"restore {PIPELINE_FILE} (`git checkout HEAD -- {PIPELINE_FILE}`)" if missing
                else f"restore {PIPELINE_FILE} (`git restore {PIPELINE_FILE}`)")
    deleting = repo.git.deleted_by(PIPELINE_FILE)
    if deleting is not None:
        return (f"restore {PIPELINE_FILE}, which commit {deleting} deleted "
                f"(`git checkout {deleting}~1 -- {PIPELINE_FILE}`)")
    return f"restore {PIPELINE_FILE}"


def _drop_advice(missing: bool) -> str:
    """How to drop every entry knowingly: a dvx.yaml saying there are no stages."""
    return (f"write a {PIPELINE_FILE} holding `stages: {{}}`" if missing
            else "write `stages: {}` in it")


def _their(names: list[str]) -> str:
    return "its entry" if len(names) == 1 else "their entries"


def refusal(repo: Repo, names: list[str], missing: bool) -> UsageError:
    """Why `dvx repro` runs nothing while dvx.lock records `names` and dvx.yaml is
    `missing`, or declares no stages; raised before anything changes."""
    advice = restore_advice(repo, missing)
    return UsageError(f"{none_declared_message(names, missing)}: `dvx repro` would drop "
                      f"{_their(names)}, so nothing was changed.",
                      f"{advice[0].upper()}{advice[1:]}; to drop the whole pipeline, "
                      f"{_drop_advice(missing)}.")


def status_note(repo: Repo, names: list[str], missing: bool) -> str:
    """What `dvx status` says of the same: a change, and the ways out."""
    return (f"{none_declared_message(names, missing)}: `dvx repro` refuses to run until you "
            f"{restore_advice(repo, missing)}, or {_drop_advice(missing)}, and then drops "
            f"{_their(names)}")


def nothing_to_list(repo: Repo) -> str:
    """What `dvx stage list` and `dvx dag` say when they have no stage to show: while
    dvx.yaml is missing and dvx.lock records stages, those stages, as status names them;
    else how to add one."""
    try:
        names = recorded_without_pipeline(repo)
    except DvxError:  # a dvx.lock that does not read: status and repro say why
        names = []
    if names:
        return f"No stages to show: {status_note(repo, names, missing=True)}."
    return "No stages yet; add one with `dvx stage add`."


def created_note(repo: Repo, names: list[str], added: str) -> str:
    """What `dvx stage add` says when it wrote stage `added` into a new dvx.yaml while
    dvx.lock records the stages `names`, which that file does not declare."""
    shown = named_list(names, most=10, name=lambda n: f"'{n}'")
    which, it = ("stage", "it") if len(names) == 1 else ("stages", "them")
    advice = restore_advice(repo, missing=True)
    return (f"There was no {PIPELINE_FILE}, while {LOCK_FILE} records the {which} {shown}: "
            f"the {PIPELINE_FILE} written now does not declare {it}, so `dvx repro` will drop "
            f"{_their(names)}. To keep {it}, {advice} and add stage '{added}' to it again.")
