"""Does dvx.yaml still declare a stage as a run of `dvx repro` loaded it? A `git checkout` of
another branch or commit (or an edit) while the run goes on may replace dvx.yaml; the record
of a stage run as the old file declared it then belongs in no dvx.lock beside the new one,
which declares that stage otherwise or not at all. A `git merge` or `git pull` that keeps the
stage as declared changes nothing here: its dvx.lock is kept (lockfile.LockWriter.take_in)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dvx.pipeline.spec import Stage, pipeline_bytes, stages_declared
from dvx.repo import Repo


class StillDeclared:
    """Asked as each stage finishes, in the thread that records them. dvx.yaml is read once
    per finished stage and parsed again only once its bytes changed."""

    def __init__(self, repo: Repo, loaded: bytes | None) -> None:
        """`loaded`: dvx.yaml's bytes (pipeline_bytes) when the run read its stages, or
        before."""
        self.repo = repo
        self._loaded = loaded
        self._seen: bytes | None = loaded
        self._now: Mapping[str, Stage] | None = None

    def __call__(self, stage: Stage) -> bool:
        """Whether dvx.yaml declares `stage` now as it ran. False too while dvx.yaml cannot
        be read or parsed, or declares less than it did: a command may be half-way through
        rewriting it, so a False before the pipeline's commands are all done is no answer
        yet (the scheduler asks again then)."""
        data = pipeline_bytes(self.repo)
        if data is not None and data == self._loaded:
            return True
        if self._now is None or data != self._seen:
            self._seen = data
            self._now = (stages_declared(self.repo) or {}) if data is not None else {}
        now = self._now.get(stage.name)
        return now is not None and _as_run(now) == _as_run(stage)


def _as_run(stage: Stage) -> Stage:
    """The stage without what neither its run nor its dvx.lock entry reads: its `desc`."""
    return replace(stage, desc=None)
