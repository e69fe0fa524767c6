"""The data an experiment records besides what its stages read. An experiment holds the
workspace, so `dvx add`-tracked data changed here that no stage reads goes into the cache
too, and the experiment's pointer names it: recorded as `dvx commit` records it, as DVC's
`exp save` commits every changed tracked data. What the stages read is recorded by `repro`
(or `commit_changed_inputs`), with checks of its own."""

from __future__ import annotations

import os
from collections.abc import Collection

from dvx.errors import ConflictError
from dvx.ops.commit import commit
from dvx.ops.status import MODIFIED, output_status
from dvx.outputs import Output, all_outputs
from dvx.paths import for_command
from dvx.pipeline.spec import overlaps
from dvx.repo import Repo


def commit_unread_data(repo: Repo, read: Collection[str], command: str) -> list[str]:
    """Record the `dvx add`-tracked data changed in the workspace that overlaps none of
    `read` (the paths the stages read), as `dvx commit` without targets does, for the dvx
    `command` (which a refusal names); the paths recorded. Data a `git pull` moved the
    pointer of and that was not changed here is left as its pointer names it; data changed
    both here and in Git is refused, and so is an import changed here (committing it would
    drop its source), before anything is written. Data absent from the workspace (never
    pulled here) has nothing to record, and its pointer's manifest is not read."""
    unread = [output for output in all_outputs(repo) if output.stage is None
              and not any(overlaps(output.path, path) for path in read)
              and os.path.lexists(repo.abspath(output.path))]  # absent: nothing to record
    if not unread:
        return []
    _refuse_changed_imports(repo, unread, command)
    return [added.path for added in commit(repo, unread, only_changed=True,
                                           command=command).added]


def _refuse_changed_imports(repo: Repo, outputs: list[Output], command: str) -> None:
    """Refuse an import (its pointer records its source) changed in the workspace: recorded,
    it would become ordinary data, which `dvx update` no longer follows. The user says which
    way it goes."""
    for output in outputs:
        if output.pointer.source is None:
            continue
        if output_status(repo, output).workspace != MODIFIED:
            continue
        typed = for_command(repo.root, output.path)
        raise ConflictError(
            f"'{output.path}' is an import ('{output.pointer_path}' records its source), and "
            f"its workspace copy changed. `dvx {command}` records the workspace's data, which "
            "would make it ordinary data of yours, dropping its source, so `dvx update` would "
            "no longer follow it; nothing was recorded.",
            f"Run `dvx checkout --force {typed}` to discard your changes, or `dvx commit "
            f"{typed}` to make it your own data; then run `dvx {command}` again.")
