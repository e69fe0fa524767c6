"""`dvx exp run` and `dvx exp save`: run the pipeline with changed params and record the
result as an experiment; `exp apply`, `exp branch` and `exp remove` act on recorded ones."""

from __future__ import annotations

import contextlib
import itertools
import os
import posixpath
import shlex
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dvx import fsutil, gitignore
from dvx.errors import STOPPED_BY, DvxError, Interrupted, UsageError, stop_status
from dvx.experiment_refs import (
    MAX_NAME,
    DamagedRef,
    Experiment,
    check_new_name,
    claim,
    experiments,
    experiments_and_damaged,
    find,
    git_of,
    head,
    named_or_damaged,
    new_name,
    refuse_unmerged,
    renamed,
    snapshot,
    taken_names,
)
from dvx.exps import overrides as params
from dvx.exps.queue import RUNNING, waiting
from dvx.history import History
from dvx.ignore import git_lines
from dvx.lock import EXPERIMENT, Work
from dvx.lockfile import LOCK_FILE, MAX_LOCK_BYTES, PIPELINE_FILE, parse_lock, uncached_paths
from dvx.ops.checkout import (
    CheckoutResult,
    blocked,
    changed_in_cache,
    checkout,
    held_by_cache,
    set_aside_changed,
)
from dvx.outputs import Output, Target, all_outputs, in_cache, scan_outputs
from dvx.paths import POINTER_SUFFIX, walk_directory, walk_sorted
from dvx.pipeline.graph import load_dag
from dvx.pipeline.repro import (
    Reporter,
    ReproOptions,
    ReproResult,
    SilentReporter,
    StageResult,
    commit_changed_inputs,
    commit_hand_runs,
    pipeline_work,
    repro,
)
from dvx.pipeline.spec import Stage
from dvx.repo import DVX_DIR, Repo
from dvx.scm import Git


@dataclass
class RunResult:
    experiment: Experiment | None  # None when the pipeline failed
    repro: ReproResult


def run(repo: Repo, sets: list[str], name: str | None = None, force: bool = False,
        jobs: int = 1, reporter: Reporter | None = None, baseline: str | None = None,
        targets: tuple[str, ...] = ()) -> RunResult:
    """Set the params `sets` ([FILE:]KEY=VALUE), reproduce the pipeline in the workspace (only
    the stages `targets` and those they depend on, as `repro TARGET`) and record the workspace
    as an experiment of `baseline` (default: HEAD). The workspace keeps the experiment's
    results; nothing is committed to the branch."""
    # Under the lock from the first params written to the experiment recorded: another
    # `exp run` in this workspace must not set its params while this one runs or records.
    with repo.lock(stages_in_git=True) as lock:
        with contextlib.suppress(DvxError):  # repro says what is wrong with the pipeline
            lock.working_on(pipeline_work(repo, targets))
        result = _run(repo, sets, name, force, jobs, reporter, baseline, targets)
        if not result.repro.ok:
            lock.failed()
        return result


def _run(repo: Repo, sets: list[str], name: str | None, force: bool, jobs: int,
         reporter: Reporter | None, baseline: str | None, targets: tuple[str, ...]
         ) -> RunResult:
    parent = head(repo)
    refuse_unmerged(repo)
    git_of(repo).require_identity("the experiment's commit")
    queued = baseline is not None  # only a queued run names its baseline
    baseline = baseline or parent
    taken = taken_names(repo, baseline)
    if name is not None and check_new_name(repo, name) in taken:
        if queued:  # the queue keeps the entry, and says what to do
            raise UsageError(f"An experiment called '{name}' of this run's baseline exists "
                             "already (made since the run was queued), so the run could "
                             "not record its own.", "See `dvx queue status`.")
        raise UsageError(f"An experiment called '{name}' of this baseline exists already.",
                         "Pick another -n, or `dvx exp remove` it first.")
    taken |= _refuse_queued(repo, name)
    changes = [params.parse(text) for text in sets]
    params.check(repo, changes)  # every file, before any is written
    params.refuse_behind(repo, changes)
    before = params.contents(repo, changes)
    params.apply(repo, changes)
    watched = _Watched(reporter or SilentReporter())
    try:
        result = repro(repo, ReproOptions(targets=targets, force=force, jobs=jobs,
                                         temporary_workspace=queued), watched)
    except BaseException as e:
        if not watched.stages_done:  # refused before running: the params are as they were
            params.restore(repo, before)
        if queued and isinstance(e, (Interrupted, KeyboardInterrupt)):
            raise _queued_run_stopped(e, name, sets, force, jobs) from None
        raise
    if not result.ok:
        return RunResult(None, result)
    # A child of its baseline, also when run from a queue's snapshot of the workspace (HEAD
    # here, which its message names).
    return RunResult(_record(repo, baseline, name, taken, "exp run",
                             parent if queued else None), result)


def _queued_run_stopped(by: BaseException, name: str | None, sets: list[str], force: bool,
                        jobs: int) -> Interrupted:
    """What a queued run stopped (`dvx queue stop`, a signal) says: nothing of it is left,
    as `queue start` removes its temporary worktree, so what runs it is queuing it again."""
    code = stop_status(by)
    again = ["dvx", "exp", "run", "--queue", *(["-n", name] if name else []),
             *[arg for text in sets for arg in ("-S", text)], *["-f"] * force,
             *(["-j", str(jobs)] if jobs != 1 else [])]
    stopped = Interrupted(
        f"{STOPPED_BY[code]}. The queued run{f' of {name!r}' if name else ''} was stopped "
        "before it was done, and nothing of it was recorded: it ran in a temporary worktree, "
        "which is removed with what its stages made.",
        f"To run it, queue it again (from the workspace as it is now): `{shlex.join(again)}`.")
    stopped.exit_code = code
    return stopped


class _Watched:
    """A reporter passing everything on, noting whether a stage ran or was restored (the
    workspace then holds results of the params set)."""

    def __init__(self, inner: Reporter) -> None:
        self.inner, self.capture, self.stages_done = inner, inner.capture, False

    def committed(self, path: str) -> None:
        self.inner.committed(path)

    def pulled(self, result: Any) -> None:
        self.inner.pulled(result)

    def starting(self, stage: Stage, reasons: list[str]) -> None:
        self.stages_done = True
        self.inner.starting(stage, reasons)

    def command(self, stage: str, cmd: str) -> None:
        self.inner.command(stage, cmd)

    def line(self, stage: str, text: str) -> None:
        self.inner.line(stage, text)

    def finished(self, result: StageResult) -> None:
        self.stages_done = True
        self.inner.finished(result)


def save(repo: Repo, name: str | None = None) -> Experiment:
    """Record the workspace as it is as an experiment of HEAD (nothing runs), once no other
    command writes to it (a repro half-way would leave a dvx.lock naming some outputs only):
    its changed data first (`_record_data`)."""
    with repo.lock():
        baseline = head(repo)
        refuse_unmerged(repo)
        git_of(repo).require_identity("the experiment's commit")
        taken = taken_names(repo, baseline)
        if name is not None and check_new_name(repo, name) in taken:
            raise UsageError(f"An experiment called '{name}' of this baseline exists already.")
        taken |= _refuse_queued(repo, name)
        _record_data(repo)
        return _record(repo, baseline, name, taken, "exp save")


def _record(repo: Repo, baseline: str, name: str | None, taken: set[str], command: str,
            queued_from: str | None = None) -> Experiment:
    """Record the workspace as the experiment `name` (None: a generated name, not among
    `taken`) of `baseline`, unless HEAD is no longer where it was when the `command` began:
    at `queued_from` in a queued run's worktree, else at `baseline` (`_refuse_moved_head`).
    Should an experiment of that name and baseline have been made since the name was checked
    (while the pipeline ran: another `exp run -n`, an `exp pull`, a `git fetch`), it stays
    as it is, and this one is recorded as the first free of NAME-2, NAME-3... (the caller
    tells the user), never lost. A queued run (from
    the snapshot `queued_from`) fails instead: its queue entry stays queued with its
    snapshot (`queue.start`), as when its name is taken before it starts."""
    chosen = name or new_name(taken)
    commit = snapshot(repo, baseline, chosen, queued_from)
    # After the snapshot: HEAD stayed as it read
    _refuse_moved_head(repo, queued_from or baseline, command, queued_from is not None)
    while (recorded := claim(repo, baseline, chosen, commit)) is None:
        if queued_from is not None and name is not None:
            raise UsageError(f"An experiment called '{name}' of this run's baseline was made "
                             "while the run went on, so the run could not record its own.",
                             "See `dvx queue status`.")
        chosen = _free_name(repo, baseline, name) if name else new_name(
            taken | taken_names(repo, baseline))
        commit = renamed(repo, commit, chosen, queued_from)  # named as `exp show` names it
    return recorded


def _refuse_moved_head(repo: Repo, started: str, command: str, queued: bool) -> None:
    """Refuse to record anything once HEAD is no longer at `started`, where it was when the
    `command` began (a `git checkout`, `git commit` or `git reset` meanwhile, in another
    terminal or by a stage's own command): the workspace then holds the files of another
    commit, which the experiment would record as made from `started` (and `exp apply` would
    bring into its branch). A `queued` run's temporary worktree, which only its stages use,
    is removed once it ends: what it left is gone."""
    now = git_of(repo).head()
    if now == started:
        return
    moved = f"to commit {now[:7]}" if now else "to a branch with no commit yet"
    by_stage = ("a stage's own command (one running `git commit`, `git checkout` or `git "
                "reset`)")
    if queued:
        raise DvxError(f"HEAD moved from commit {started[:7]} (the queued run's snapshot) "
                       f"{moved} in the run's temporary worktree while it went on, moved by "
                       f"{by_stage}, most likely: nothing was recorded as an experiment, as it "
                       "would hold files of another commit than its snapshot.",
                       "The temporary worktree is removed with what the stages made. Take "
                       "that out of the stage's command, then queue the run again.")
    if command == "exp run":
        hint = (f"The workspace keeps what the run left. If {by_stage} moved HEAD, an "
                "experiment cannot record that pipeline: take that out of the command. If "
                "a command in another terminal moved it, check out commit "
                f"{started[:7]} again and run `dvx exp run` there.")
    else:
        hint = f"Check out commit {started[:7]} again and run `dvx {command}` there."
    raise DvxError(f"HEAD moved from commit {started[:7]} {moved} while `dvx {command}` went "
                   f"on, so the workspace may hold files of another commit than "
                   f"{started[:7]}: nothing was recorded as an experiment.", hint)


def _free_name(repo: Repo, baseline: str, name: str) -> str:
    """The first of NAME-2, NAME-3... that a new experiment of `baseline` may take: neither
    an experiment of it nor a queued one has it, and Git does not read it as a revision."""
    taken = taken_names(repo, baseline) | set(waiting(repo))
    numbered = (f"{name[:MAX_NAME - len(str(n)) - 1]}-{n}" for n in itertools.count(2))
    return next(candidate for candidate in numbered
                if candidate not in taken and _may_be_new(repo, candidate))


def _may_be_new(repo: Repo, name: str) -> bool:
    try:
        check_new_name(repo, name)
    except UsageError:  # a branch's or a tag's name, say
        return False
    return True


def _record_data(repo: Repo) -> None:
    """Record the data the experiment's commit must name, as `exp run` would have: changed
    tracked inputs of the pipeline, and the outputs of stages run by hand. Without it the
    commit would pair the workspace's params and metrics with the baseline's data."""
    if load_dag(repo) is None:
        return
    commit_changed_inputs(repo)
    commit_hand_runs(repo)


def _refuse_changed_in_cache(repo: Repo, exp: Experiment, targets: list[Target]) -> None:
    """Before the apply writes anything: an object of its outputs that the cache holds changed
    since it was stored (written through a link to it) is moved aside, and the apply refused,
    as checkout would place nothing of it."""
    changed = changed_in_cache(repo, targets)
    if not changed:
        return
    set_aside_changed(repo, changed)
    raise UsageError(
        f"Applying '{exp.name}' needs data whose copy in the cache was changed after it was "
        f"stored (written through a link to it, say): {_some(sorted(set(changed.values())))}. "
        f"Nothing was written; the changed objects are moved to "
        f"{os.path.join(repo.cache.root, 'quarantine')}.",
        "`dvx exp pull` (or `dvx pull`) brings the data back from a remote that has it; "
        "data never pushed is made again by running the experiment again.")


def _refuse_queued(repo: Repo, name: str | None) -> set[str]:
    """The names of queued (or running) experiments, which `name` must not take: the queued
    run would fail when its turn came, its name taken. As `exp run --queue` refuses them."""
    queued = waiting(repo)
    if name is not None and name in queued:
        running = queued[name].state == RUNNING
        raise UsageError(f"A queued experiment called '{name}' is "
                         f"{'running' if running else 'waiting to run'}; it would fail if "
                         "this one took its name.",
                         "Pick another -n" + (", or wait until it is recorded." if running
                                              else f", or take it out of the queue first: "
                                              f"`dvx queue remove {name}`."))
    return set(queued)


# This workspace's settings (a remote added, say), not an experiment's: the apply writes
# them only as an experiment that changed them has them, and never sets them back.
SETTINGS = f"{DVX_DIR}/config"


@dataclass
class Applied:
    experiment: Experiment
    files: list[str]  # workspace files written or removed as the experiment has them
    set_back: list[str]  # of those, the files it did not change that the workspace had
    kept: list[str]  # files and outputs it did not change, kept for their unsaved changes
    checkout: CheckoutResult
    unstaged: list[str]  # of `set_back`, those whose staged change Git's index no longer has
    kept_staged: list[str]  # of `files`, those whose staged change nothing else holds, kept
    unstaged_written: list[str]  # the experiment's files whose staged change a commit holds,
    # undone in Git's index (the workspace has the experiment's version)
    new_to_git: list[str]  # the experiment's files HEAD lacks, staged in Git's index
    moved_inputs: list[str]  # its stages' inputs HEAD has changed since its baseline


def apply(repo: Repo, name: str, force: bool = False) -> Applied:
    """Make the workspace the experiment for every file Git tracks: the files it changed
    against its baseline (params, code, dvx.lock, metrics) as it has them, the other files
    the workspace changed as HEAD has them (another experiment's run left its code, say),
    and check out the outputs they record. Refused, before anything is written, when HEAD
    does not contain the experiment's baseline (the results would go without the baseline's
    code) or has moved on from it and changed the same files (applying would undo those
    changes), and, unless `force`, when it would overwrite the experiment's files
    or outputs with changes that neither Git, an experiment of HEAD nor the cache holds.
    Such changes to the files it did not change (a `dvx add` of a new version, a hand edit)
    are kept, `force` or not, and named in `kept`: they are the user's work, not a run's.
    All of it under the repository lock: a run or another apply writing the workspace
    meanwhile would leave it a mix of two experiments, and, killed, the apply is named
    until it (or another apply) is run again."""
    with repo.lock() as lock:
        lock.working_on(Work(EXPERIMENT, None))
        applied = _apply(repo, name, force)
        if not applied.checkout.ok:  # outputs not all placed: not done
            lock.failed()
        return applied


def _apply(repo: Repo, name: str, force: bool) -> Applied:
    exp = find(repo, name)
    git = git_of(repo)
    files = git.changed_between(exp.baseline, exp.commit)
    current = head(repo)
    moved_inputs = []
    if exp.baseline != current:
        files = _since_baseline(git, exp, current, files)
        moved_inputs = _inputs_head_changed(repo, git, exp, current)
    uncached = _uncached_outputs(repo, git, exp, files)
    files += _uncached_outputs_behind(git, exp, files, uncached)
    files += _strays_in_uncached_directories(repo, git, exp, files, uncached)
    ours = set(files)
    set_back = [rel for rel in git.changed_since(current)
                if rel not in ours and rel != SETTINGS]  # the workspace's, not a run's
    sources = dict.fromkeys(files, exp.commit) | dict.fromkeys(set_back, current)
    modes = {rel: mode for commit in (exp.commit, current)
             for rel, mode in _modes_at(git, commit, sources).items()}
    ignores = _ignore_files_keeping_data(repo, git, sources, modes)
    set_back = [rel for rel in set_back if rel in sources]
    # Work no commit or experiment holds in files the experiment did not change is kept,
    # --force or not: a `dvx add` of a new version, a hand edit (they are not a run's).
    kept = _unsaved(repo, _may_hold_changes(git, set_back), exp.commit)
    set_back = [rel for rel in set_back if rel not in kept]
    kept_outputs, recording = _unsaved_outputs_set_back(repo, current, set_back)
    for rel in kept + recording:
        sources.pop(rel, None)
        modes.pop(rel, None)
    set_back = [rel for rel in set_back if rel in sources]
    staged = git.staged(current, set_back)
    kept_staged = _staged_unsaved(repo, git, staged, exp.commit)
    # A version staged of the experiment's own files: the workspace's goes (theirs is written)
    written_files = [rel for rel in sources if rel in ours]
    staged_written = git.staged(current, written_files)
    kept_staged_written = _staged_unsaved(repo, git, staged_written, exp.commit,
                                          workspace_holds=False)
    new_files, new_to_git = _new_to_git(git, exp.commit, current, written_files,
                                        kept_staged_written)
    clashes = _clashes(repo, list(sources), set(modes))
    if clashes:
        raise UsageError(f"Applying '{exp.name}' would write files where the workspace has "
                         f"something else: {_some(clashes)}.",
                         "Move those out of the way first (--force does not replace them).")
    dirty = _unsaved(repo, _may_hold_changes(git, [rel for rel in sources if rel in ours]),
                     exp.commit)
    dirty = [rel for rel in dirty if rel not in ignores
             or not _saved_but_for_kept_entries(repo, git, rel, sources[rel], ignores[rel])]
    if dirty and not force:
        raise UsageError(f"Applying '{exp.name}' would overwrite changes not committed to Git: "
                         f"{_some(dirty)}.", "Commit or stash them first, or use --force.")
    targets = (_outputs_recorded_in(repo, exp.commit, files, exp.baseline)
               + _outputs_recorded_in(repo, current, set_back, current))
    absent = [t.output for t in targets if not in_cache(repo, t.output)]
    if absent:
        raise UsageError(f"Applying '{exp.name}' needs data that is not in the cache: "
                         f"{_some([o.path for o in absent])}.", _how_to_get(exp, absent))
    stuck = [] if force else blocked(repo, targets)
    if stuck:
        raise UsageError(f"Applying '{exp.name}' would overwrite outputs with changes that are "
                         "not in the cache, or were made here since the last checkout: "
                         f"{_some([path for path, _ in stuck])}.",
                         "`dvx commit` or move them first, or use --force.")
    _refuse_changed_in_cache(repo, exp, targets)
    for rel in sorted(sources, key=lambda rel: rel in modes):  # removals first: a file may
        _write_as_in_git(repo.abspath(rel),  # take the place of a directory they empty
                         ignores[rel] if rel in ignores
                         else git.blob_at(sources[rel], rel, 1 << 30) if rel in modes
                         else None, modes.get(rel))
    # In Git's index too, or `git commit -a` would commit another experiment's staged
    # change (a `git rm` of code the pipeline needs) beside these files, and `git commit`
    # a version of the experiment's files other than the one the workspace has now
    unstaged = [rel for rel in staged if rel not in kept_staged]
    unstaged_written = [rel for rel in staged_written
                        if rel not in kept_staged_written and rel not in new_files]
    git.reset_index(current, unstaged + unstaged_written)
    # A file HEAD lacks (a metrics file the run wrote first) would be left out of `git commit
    # -a`, which then would not be the experiment. Staged, not `git add -N`: an entry holding
    # nothing is emptied by `git checkout -- .` and stops `git stash`.
    git.add_files(new_to_git)
    paths = {t.output.path for t in targets}
    written = [Target(o) for o in all_outputs(repo) if o.path in paths]
    return Applied(exp, list(sources), set_back, sorted(kept + kept_outputs),
                   checkout(repo, written, force=force), unstaged,
                   sorted(kept_staged + kept_staged_written), unstaged_written, new_to_git,
                   moved_inputs)


def _new_to_git(git: Git, applied: str, current: str, files: list[str], kept: list[str]
                ) -> tuple[list[str], list[str]]:
    """Those of the experiment's `files` that it has and HEAD `current` lacks, and of those,
    the ones whose entry in Git's index is not `applied`'s version: the apply stages these,
    so the `git commit -a` that follows takes them too. Not those whose staged version it
    `kept` (the user's)."""
    theirs = git.entries_at(applied, files)
    in_head = git.modes_at(current, list(theirs))
    new = [rel for rel in theirs if rel not in in_head]
    staged = git.index_entries(new) if new else {}
    return new, [rel for rel in new if rel not in kept and staged.get(rel) != theirs[rel]]


# Git's id of the empty file, in SHA-1 and SHA-256 repositories
_EMPTY_BLOBS = ("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
                "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f7749120a303721813")


def _staged_unsaved(repo: Repo, git: Git, staged: list[str], applied: str,
                    workspace_holds: bool = True) -> list[str]:
    """Those of `staged` (files the apply writes, whose entry in Git's index differs from
    HEAD's) whose entry holds a version, with its mode, that neither `applied`, HEAD nor an
    experiment of HEAD holds, nor the workspace where `workspace_holds` (a file set back as
    HEAD has it keeps its workspace version elsewhere; one written as the experiment has it
    does not): a `git add` of a version edited on since, or overwritten with --force.
    Setting the entry back would leave that version nowhere but in a dangling blob, so the
    entry is kept. A staged deletion, or an entry left in conflict (its stages are the
    merged commits'), holds nothing to lose, nor does an empty one (`git add -N`'s intent
    to add)."""
    if not staged:
        return []
    commits = _saved_commits(repo, applied)
    filemode = git.filemode()
    kept = []
    for rel, (mode, oid) in git.index_entries(staged).items():
        if oid in _EMPTY_BLOBS:
            continue
        full = repo.abspath(rel)
        if workspace_holds and (os.path.islink(full) or os.path.isfile(full)) \
                and _workspace_blob(git, full) == oid \
                and _same_mode(mode, _workspace_mode(full), filemode):
            continue
        if not any(_blob_in(git, commit, rel) == oid and git.mode_at(commit, rel) == mode
                   for commit in commits):
            kept.append(rel)
    return sorted(kept)


def _unsaved_outputs_set_back(repo: Repo, current: str, set_back: list[str]
                              ) -> tuple[list[str], list[str]]:
    """The outputs that setting back `set_back` (the files the experiment did not change, as
    HEAD `current` has them) would check out over changes the cache does not hold, and the
    pointers (or dvx.lock) of those that record them: both kept, --force or not, as the
    files are (--force is for the experiment's own files and outputs only)."""
    targets = _outputs_recorded_in(repo, current, set_back, current)
    skipped = [path for path, _ in blocked(repo, targets)]  # a directory's: files in it
    stuck = [t.output for t in targets
             if any(path == t.output.path or path.startswith(t.output.path + "/")
                    for path in skipped)]
    return (sorted({o.path for o in stuck}),
            sorted({LOCK_FILE if o.stage else o.pointer_path for o in stuck}))


def _modes_at(git: Git, commit: str, sources: dict[str, str]) -> dict[str, str]:
    """{path: mode} of those of the `sources` paths taken from `commit` that it has."""
    mine = [rel for rel, source in sources.items() if source == commit]
    return git.modes_at(commit, mine) if mine else {}


def _ignore_files_keeping_data(repo: Repo, git: Git, sources: dict[str, str],
                               modes: dict[str, str]) -> dict[str, bytes | None]:
    """What the apply writes for each .gitignore among the `sources` ({path: the commit it
    is taken from}; `modes` as that commit has them): that commit's version, with the
    workspace's dvx entries for data the workspace keeps that the commit does not hold in
    Git (added with `dvx add` since, an output of another experiment's run), so that no data
    is left for `git add -A` to take into Git. A .gitignore that comes out as the workspace
    has it is taken out of `sources` (nothing to write); `modes` gains a new one's."""
    written: dict[str, bytes | None] = {}
    for rel, commit in list(sources.items()):
        full = repo.abspath(rel)
        if os.path.basename(rel) != ".gitignore" or modes.get(rel) == "120000":
            continue
        ours = _regular_file_bytes(full)
        theirs = git.blob_at(commit, rel, 1 << 30) if rel in modes else None
        kept = gitignore.keeping_entries(theirs or b"", ours or b"", os.path.dirname(full),
                                         _not_in(git, commit, posixpath.dirname(rel)))
        data = kept if kept or theirs is not None else None
        if data == ours and (ours is not None or not os.path.lexists(full)):
            del sources[rel]
            continue
        written[rel] = data
        if data is None:
            modes.pop(rel, None)
        else:
            modes.setdefault(rel, "100644")
    return written


def _saved_but_for_kept_entries(repo: Repo, git: Git, rel: str, commit: str,
                                written: bytes | None) -> bool:
    """Whether the workspace's .gitignore `rel` has the lines a commit (`commit`, the one it
    is taken from, HEAD or an experiment of HEAD) has, but for the dvx entries that `written`
    (`commit`'s version with those kept, `_ignore_files_keeping_data`) keeps: an uncommitted
    `dvx add` is no edit of the user's that writing it would lose."""
    theirs = git_lines(git.blob_at(commit, rel, 1 << 30) or b"")
    kept = set(git_lines(written or b"")) - set(theirs)
    ours = _regular_file_bytes(repo.abspath(rel))
    if not kept or ours is None:
        return False
    mine = [line for line in git_lines(ours) if line not in kept]
    return any([line for line in git_lines(git.blob_at(saved, rel, 1 << 30) or b"")
                if line not in kept] == mine
               for saved in _saved_commits(repo, commit))


def _not_in(git: Git, commit: str, folder: str) -> Callable[[str], bool]:
    """Whether `commit` lacks a name in `folder` (a file or a folder)."""
    return lambda name: git.mode_at(commit, posixpath.join(folder, name)) is None


def _regular_file_bytes(full: str) -> bytes | None:
    """The bytes of the file at `full`, None if no regular file is there."""
    if os.path.islink(full) or not os.path.isfile(full):
        return None
    with open(full, "rb") as f:
        return f.read()


def _write_as_in_git(full: str, data: bytes | None, mode: str | None) -> None:
    """Make `full` what a Git checkout of a blob with that mode makes (None: no file): a
    symlink, or a file executable or not. Whatever is there is replaced, never written
    through (a symlink there is not followed)."""
    if data is None:
        if os.path.lexists(full) and not os.path.isdir(full):
            os.unlink(full)
        return
    fsutil.makedirs(os.path.dirname(full))
    if os.path.isdir(full) and not os.path.islink(full):
        _remove_emptied_directory(full)
    if mode == "120000":
        temporary = fsutil.temp_name_for(full)
        os.symlink(os.fsdecode(data), temporary)
        try:
            os.replace(temporary, full)
        except BaseException:
            fsutil.remove_quietly(temporary)
            raise
        return
    fsutil.write_whole(full, data, 0o755 if mode == "100755" else 0o644, replace=True)


def _remove_emptied_directory(full: str) -> None:
    """Remove the directory at `full`, where a file goes, which holds nothing but empty
    directories (the apply removed its files; `_clashes` refused any other)."""
    left = next(walk_sorted(full), None)
    if left is not None:
        raise DvxError(f"'{left[1]}' is in the way of a file the experiment has.")
    fsutil.rmtree(full)


def _clashes(repo: Repo, files: list[str], written: set[str]) -> list[str]:
    """Those of the `written` files that cannot go where they belong, each with why: a
    parent in the workspace is a file or a symlink (nothing is written beyond a link, as
    Git does not), or a directory stands there holding files. The `files` the apply removes
    count as gone."""
    removed = set(files) - written
    clashes = []
    for rel in sorted(written):
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            full = repo.abspath(parent)
            if parent in removed or not os.path.lexists(full):
                continue
            if os.path.islink(full) or not os.path.isdir(full):
                kind = "symlink" if os.path.islink(full) else "file"
                clashes.append(f"{rel} ({parent} is a {kind})")
                break
        else:
            full = repo.abspath(rel)
            if os.path.isdir(full) and not os.path.islink(full) and any(
                    f"{rel}/{inner}" not in removed for inner, _ in walk_sorted(full)):
                clashes.append(f"{rel} (a directory with files in it)")
    return clashes


def _since_baseline(git: Git, exp: Experiment, current: str, files: list[str]) -> list[str]:
    """The experiment's changed `files` still to write on top of HEAD `current`, which is not
    its baseline. Refused when HEAD lacks some of what the baseline committed (HEAD is behind
    it, or went another way): the results would be paired with files other than those the run
    had, which the apply does not write. Refused too if HEAD changed any of `files`
    differently since the baseline (applying would undo that)."""
    moved = set(git.changed_between(exp.baseline, current))
    lacking = _baseline_changes_lacking(git, exp.baseline, current, moved)
    if lacking:
        start = exp.baseline[:7]
        raise UsageError(
            f"'{exp.name}' started from commit {start}, which HEAD does not contain: HEAD "
            f"lacks its versions of {_some(lacking)}. Applying it would pair its results with "
            "files other than those it ran with.",
            f"Bring {start} into your branch first (`git pull`, or `git merge {start}`) and "
            f"apply again, or get the experiment with its files on a branch of its own: "
            f"`dvx exp branch {exp.name} BRANCH`.")
    clash = [rel for rel in files if rel in moved
             and _blob_in(git, current, rel) != _blob_in(git, exp.commit, rel)]
    if clash:
        raise UsageError(
            f"'{exp.name}' started from {exp.baseline[:7]}, and since then HEAD changed files "
            f"the experiment changed too: {_some(clash)}. Applying it would undo those "
            "changes.", f"Run it again from HEAD (`dvx exp run` with the same -S), or make a "
            f"branch of it (`dvx exp branch {exp.name} BRANCH`) and merge that with Git.")
    return [rel for rel in files if rel not in moved]


def _inputs_head_changed(repo: Repo, git: Git, exp: Experiment, current: str) -> list[str]:
    """The inputs of the experiment's stages that HEAD `current`, moved on since its
    baseline, has otherwise than the experiment ran with: dvx.yaml, the params files and
    dependencies its dvx.lock records (files at or below a dependency directory too), and
    the pointer files tracking those dependencies. The apply keeps HEAD's versions, so the
    stages using them are stale in the workspace."""
    data = git.blob_at(exp.commit, LOCK_FILE, MAX_LOCK_BYTES)
    locks = parse_lock(data, repo.algo) if data else {}
    deps = {dep.path for lock in locks.values() for dep in lock.deps}
    params_files = {file for lock in locks.values() for file in lock.params}

    def is_input(rel: str) -> bool:
        data_path = rel[:-len(POINTER_SUFFIX)] if rel.endswith(POINTER_SUFFIX) else rel
        return rel == PIPELINE_FILE or rel in params_files or any(
            data_path == dep or data_path.startswith(dep + "/") or dep.startswith(data_path + "/")
            for dep in deps)

    return sorted(rel for rel in git.changed_between(exp.baseline, current) if is_input(rel)
                  and _blob_in(git, current, rel) != _blob_in(git, exp.commit, rel))


def _baseline_changes_lacking(git: Git, baseline: str, current: str, moved: set[str]
                              ) -> list[str]:
    """The files the commits from the common ancestors of `baseline` and HEAD `current` to
    `baseline` changed that HEAD does not have as `baseline` has them (`moved`: the files
    the two differ in). None when HEAD descends from `baseline`; those that differ when the
    two share no history."""
    bases = git.merge_bases(baseline, current)
    if baseline in bases:
        return []
    if not bases:
        return sorted(moved)
    ahead = {rel for base in bases for rel in git.changed_between(base, baseline)}
    return sorted(moved & ahead)


def _outputs_recorded_in(repo: Repo, commit: str, files: list[str], since: str
                         ) -> list[Target]:
    """The outputs that `commit`'s versions of `files` (pointers, dvx.lock) record, except
    those that neither changed since the commit `since` nor the workspace's records differ
    in, once the workspace holds them as placed (an unrelated stage's outputs are left as
    they are; one an apply killed half-way left unplaced is not)."""
    written = set(files)
    if not written:
        return []
    now = {o.path: o.pointer.oid for o in scan_outputs(repo)[0]}
    with History(repo) as history:
        before = {o.path: o.pointer.oid for o in history.at(since).outputs}
        outputs = history.at(commit).outputs
    return [Target(o) for o in outputs
            if (LOCK_FILE if o.stage else o.pointer_path) in written
            and (not now.get(o.path) == before.get(o.path) == o.pointer.oid
                 or _left_unplaced(repo, o))]


def _left_unplaced(repo: Repo, output: Output) -> bool:
    """Whether a checkout of `output` was left unfinished (an apply killed after it wrote
    dvx.lock, or while it placed the data), so the apply places it though the workspace's
    records agree: the sync records name another version, or a part of it only, and the
    cache holds it all. One changed here since (`blocked`) is the user's: left as it is."""
    synced = repo.syncstate.get(output.path)
    if synced is None or (synced.oid == output.pointer.oid and synced.placed is None):
        return False
    return in_cache(repo, output) and not blocked(repo, [Target(output)])


def _uncached_outputs(repo: Repo, git: Git, exp: Experiment, files: list[str]) -> list[str]:
    """The outputs the experiment's dvx.lock records with `cache: false` (metrics, plots: Git
    holds them), when the apply writes that dvx.lock (it is among `files`): they are written
    with it, as its cached outputs are checked out, so the metrics agree with the outputs
    (another experiment's run may have left its own)."""
    if LOCK_FILE not in files:
        return []
    data = git.blob_at(exp.commit, LOCK_FILE, MAX_LOCK_BYTES)
    if data is None:
        return []
    return sorted(uncached_paths(parse_lock(data, repo.algo)))


def _uncached_outputs_behind(git: Git, exp: Experiment, files: list[str], uncached: list[str]
                             ) -> list[str]:
    """The files of the `uncached` outputs that the workspace has otherwise than the
    experiment, and that the experiment's commit has (to write)."""
    if not uncached:
        return []
    out = git.run("diff", "--name-only", "-z", "--no-renames", exp.commit, "--",
                  *[":(literal)" + p for p in uncached])
    differing = [os.fsdecode(p) for p in out.split(b"\0") if p and os.fsdecode(p) not in files]
    held = git.modes_at(exp.commit, differing) if differing else {}
    return [rel for rel in differing if rel in held]


def _strays_in_uncached_directories(repo: Repo, git: Git, exp: Experiment, files: list[str],
                                    uncached: list[str]) -> list[str]:
    """The files in the directories among the `uncached` outputs that the experiment's commit
    lacks (to remove: another experiment's plot, say), so the directory is what its dvx.lock
    records. Files .dvxignore keeps out are not the output's and stay. A file that neither
    HEAD, an experiment of HEAD nor the cache holds is nobody's run to redo: refused, even
    with --force, rather than deleted."""
    directories = [p for p in uncached if os.path.isdir(repo.abspath(p))
                   and not os.path.islink(repo.abspath(p))]
    if not directories:
        return []
    out = git.run("ls-tree", "-r", "-z", "--name-only", "--full-tree", exp.commit, "--",
                  *[":(literal)" + p for p in directories])
    kept = {os.fsdecode(p) for p in out.split(b"\0") if p} | set(files)
    strays = []
    for top in directories:
        recorded = {rel.removeprefix(top + "/") for rel in kept if rel.startswith(top + "/")}
        walk = repo.dvxignore.filter_walk(top, walk_directory(repo.abspath(top)), recorded)
        found = [e.relpath for e in walk.files] + walk.symlinks
        strays += [f"{top}/{rel}" for rel in found if f"{top}/{rel}" not in kept]
    unsaved = _unsaved(repo, strays, exp.commit)
    if unsaved:
        raise UsageError(f"Applying '{exp.name}' would leave files in its outputs that it does "
                         f"not have, and neither Git nor any experiment holds them, so they "
                         f"are not deleted: {_some(unsaved)}.",
                         "Move them out of the way first (--force does not delete them).")
    return sorted(strays)


def _how_to_get(exp: Experiment, absent: list[Output]) -> str:
    """What brings back the data an experiment lacks: a fetch what was pushed; an output
    marked `push: false` is on no remote by design, and the remote may have lost the rest
    to a gc whose scope left the experiment out, so then only a new run makes it."""
    rerun = (f"run the experiment again (`dvx exp run` with the params `dvx exp show` lists "
             f"for it), or `dvx exp branch {exp.name} BRANCH` and `dvx repro` on that branch")
    local = [o.path for o in absent if not o.push]
    if len(local) == len(absent):
        return f"Marked `push: false`, it is on no remote: {rerun}."
    if local:
        return (f"{_some(local)}, marked `push: false`, is on no remote: {rerun}. Fetch the "
                f"rest with `dvx fetch --rev {exp.commit[:10]}`.")
    return (f"Fetch it first: `dvx exp pull GIT_REMOTE {exp.name}`, or `dvx fetch --rev "
            f"{exp.commit[:10]}`. If no remote has it any more, {rerun}.")


def _some(paths: list[str]) -> str:
    shown = ", ".join(sorted(paths)[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


def _may_hold_changes(git: Git, files: list[str]) -> list[str]:
    """Those of `files` whose workspace copy may hold changes Git has not recorded: those
    Git sees as changed, and those Git does not track that exist, ignored ones too (an
    ignore rule of this clone, or one added after the experiment, says nothing of whether
    the file is saved anywhere). A directory where a file goes is `_clashes`' to judge."""
    if not files:
        return []
    changed = set(git.changed(files))
    tracked = set(git.tracked_under(files))
    return [rel for rel in files if rel in changed
            or (rel not in tracked and _file_or_link(os.path.join(git.root, rel)))]


def _file_or_link(full: str) -> bool:
    return os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full))


def _unsaved(repo: Repo, changed: list[str], applied: str) -> list[str]:
    """Those of the `changed` workspace files whose content, with its mode as Git records it
    (a `chmod +x` is a change), neither `applied` (the commit being applied), HEAD, any
    experiment of HEAD nor the cache holds (a file as an `exp run` left it is saved in that
    experiment: it may be replaced). A file that is not there holds
    nothing to lose, deleted by hand or by a run: the apply writes the experiment's."""
    if not changed:
        return []
    git = git_of(repo)
    commits = _saved_commits(repo, applied)
    filemode = git.filemode()
    unsaved = []
    for rel in changed:
        full = repo.abspath(rel)
        if os.path.islink(full) or os.path.isfile(full):
            blob = _workspace_blob(git, full)
        elif not os.path.lexists(full):
            continue
        else:
            unsaved.append(rel)
            continue
        mode = _workspace_mode(full)
        if not any(_blob_in(git, commit, rel) == blob
                   and _same_mode(git.mode_at(commit, rel), mode, filemode)
                   for commit in commits) and not held_by_cache(repo, full, rel):
            unsaved.append(rel)
    return unsaved


def _workspace_blob(git: Git, full: str) -> str:
    """The blob id Git gives the file or symlink at `full`."""
    if os.path.islink(full):  # Git keeps a symlink as its target's name
        return git.hash_bytes(os.fsencode(os.readlink(full)))
    return git.run("hash-object", "--", full).decode().strip()


def _saved_commits(repo: Repo, applied: str) -> list[str]:
    """The commits whose files count as saved work: `applied`, HEAD and HEAD's experiments."""
    current = head(repo)
    return [applied, current] + [e.commit for e in experiments(repo, current)]


def _workspace_mode(full: str) -> str:
    """The mode Git records for the file at `full`: a symlink, or a file executable (by its
    owner, as Git reads the bit) or not."""
    if os.path.islink(full):
        return "120000"
    return "100755" if os.stat(full).st_mode & stat.S_IXUSR else "100644"


def _same_mode(recorded: str | None, mode: str, filemode: bool) -> bool:
    """Whether a commit's `recorded` mode is the workspace's `mode`: with core.filemode
    false Git takes no executable bit from the workspace, so a file is a file either way
    (a `chmod +x` there changes nothing Git would commit)."""
    if filemode:
        return recorded == mode
    return (recorded == "120000") == (mode == "120000")


def _blob_in(git: Git, commit: str, rel: str) -> str | None:
    try:
        return git.run("rev-parse", "--verify", "--quiet", f"{commit}:{rel}").decode().strip()
    except DvxError:
        return None


def branch(repo: Repo, name: str, branch_name: str) -> Experiment:
    exp = find(repo, name)
    try:
        git_of(repo).run("branch", "--", branch_name, exp.commit)
    except DvxError as exc:
        raise UsageError(f"Cannot create the branch '{branch_name}': {exc.message}") from None
    return exp


def remove(repo: Repo, names: list[str], everything: bool = False
           ) -> list[Experiment | DamagedRef]:
    """Delete experiments (their refs; their data stays in the cache until `dvx gc`), and
    refs where one goes that name no commit, which no other command can use."""
    chosen = (experiments_and_damaged(repo, head(repo)) if everything
              else [_removable(repo, n) for n in names])
    git = git_of(repo)
    for exp in chosen:
        git.delete_ref(exp.ref)
    return chosen


def _removable(repo: Repo, name: str) -> Experiment | DamagedRef:
    found = named_or_damaged(repo, name)
    if found is None:
        raise UsageError(f"No experiment called {name!r}.", "See `dvx exp show -A`.")
    return found
