"""Are the records a stage's run would be written over still as `dvx repro` read them? Git
takes no dvx lock: a `git checkout` of another branch or a `git pull` while a stage's command
runs may bring that branch's or a teammate's dvx.lock entry for the stage, or other pointers
for the data it reads. The run, of what the workspace held before, recorded then would
silently undo that change (a teammate's run replaced by this one), so such a stage is not
recorded. Other stages' entries changed meanwhile are kept as they are now
(lockfile.LockWriter.take_in)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from dvx.errors import DvxError
from dvx.lockfile import LOCK_FILE, LockWriter
from dvx.outputs import Output, pointer_change, pointer_files
from dvx.paths import POINTER_SUFFIX, overlaps
from dvx.pipeline.spec import Stage
from dvx.pointer import Pointer
from dvx.repo import Repo


class RecordsAsRead:
    """Asked in the thread that records the stages, holding the repository lock, just
    before a stage's entry is written."""

    def __init__(self, repo: Repo, writer: LockWriter, tracked: Iterable[Output]) -> None:
        """`writer`: what read dvx.lock for the run (and writes it); `tracked`: the data
        tracked with `dvx add` that the stages read, with their pointers as the run read
        them."""
        self.repo, self.writer = repo, writer
        self._pointers: Mapping[str, Pointer] = {o.path: o.pointer for o in tracked}

    def changed(self, stage: Stage, entries: Collection[str]) -> str | None:
        """What changed on disk since the run read it, of what recording `stage` would
        write over or records as read, as one clause a message goes on from ("its dvx.lock
        entry and 'in.txt.dvx' changed"): the dvx.lock entries of the stages `entries` (the
        stage's, and those this run wrote), and the pointers of the data it reads, by the
        data they name (a `desc` written changes nothing recording it would undo). None: it
        may be recorded. A dvx.lock that cannot be read now (a `git merge` left conflict
        markers in it) is named as changed, the stage's entry unknown."""
        try:
            moved = self.writer.changed_entries({stage.name, *entries})
        except DvxError as exc:
            said = [f"{LOCK_FILE}, which cannot be read now "
                    f"({exc.message.rstrip('.')}),"]
        else:
            said = [f"its {LOCK_FILE} entry" if name == stage.name else
                    f"the {LOCK_FILE} entry of '{name}'"
                    for name in sorted(moved, key=lambda name: (name != stage.name, name))]
        reads = stage.inputs
        read: dict[str, Pointer | None] = {
            path: pointer for path, pointer in self._pointers.items()
            if any(overlaps(path, dep) for dep in reads)}
        # Data not tracked then: a pointer for it, or for a folder around it or inside it,
        # now (a `git pull` that brought data.dvx while the stage read data/x.csv).
        untracked = [dep for dep in stage.deps if not any(overlaps(path, dep) for path in read)]
        if untracked:
            for pointer in pointer_files(self.repo):
                path = pointer[:-len(POINTER_SUFFIX)]
                if any(overlaps(path, dep) for dep in untracked):
                    read.setdefault(path, None)
        how: dict[str, list[str]] = {"changed": said}
        for path, was in sorted(read.items()):
            change = pointer_change(self.repo, path, was, data_only=True)
            if change is not None:
                how.setdefault(change, []).append(f"'{path}{POINTER_SUFFIX}'")
        return " and ".join(f"{' and '.join(named)} {_verb(change, len(named))}"
                            for change, named in how.items() if named) or None


def _verb(change: str, count: int) -> str:
    """"changed", "was removed" or "was written" (pointer_change), said of `count` things."""
    return change.replace("was ", "were ") if count > 1 else change
