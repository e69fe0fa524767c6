"""`dvx exp run` and `dvx exp save`: run the pipeline with changed params and record the
result as an experiment; `exp branch` and `exp remove` act on recorded ones (`exp apply` is
apply.py's)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from dvx.errors import (
    STOPPED_BY,
    DvxError,
    Interrupted,
    UnreadableError,
    UsageError,
    interruption,
    stop_status,
)
from dvx.experiment_refs import (
    MAX_NAME,
    DamagedRef,
    Experiment,
    check_new_name,
    claim,
    experiments_and_damaged,
    find,
    git_of,
    head,
    named_or_damaged,
    new_name,
    refuse_unmerged,
    refuse_unreadable_files_to_record,
    renamed,
    snapshot,
    taken_names,
)
from dvx.exps import overrides as params
from dvx.exps.inputs_not_held import warn_inputs_not_held
from dvx.exps.queue import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    STOPPED,
    entries,
    queue_again,
    waiting,
)
from dvx.exps.workspace_data import check_unread_data, commit_unread_data
from dvx.lock import SAVE, Work
from dvx.logs import shell_join
from dvx.pipeline.graph import load_dag
from dvx.pipeline.hand_runs import check_hand_runs, commit_hand_runs, outputs_changed_by_hand
from dvx.pipeline.repro import FAILED as FAILED_STAGE
from dvx.pipeline.repro import (
    Reporter,
    ReproOptions,
    ReproResult,
    SilentReporter,
    StageResult,
    check_changed_inputs,
    commit_changed_inputs,
    pipeline_work,
    read_by_stages,
    repro,
)
from dvx.pipeline.spec import Stage
from dvx.pipeline.unrecordable_inputs import RUN_NONE, Taking
from dvx.repo import Repo
from dvx.stop_signals import stops_held


@dataclass
class RunResult:
    experiment: Experiment | None  # None when the pipeline failed
    repro: ReproResult
    # The `dvx exp run` a failure says to run once its cause is mended (`run_again`)
    again: str = ""
    # No stage started (each refused before its command ran): nothing ran, the params files
    # -S set were put back as they were (`params_put_back`), and `again` sets them as typed
    nothing_ran: bool = False
    params_put_back: list[str] = field(default_factory=list)


def run(repo: Repo, sets: list[str], name: str | None = None, force: bool = False,
        jobs: int = 1, reporter: Reporter | None = None, baseline: str | None = None,
        targets: tuple[str, ...] = ()) -> RunResult:
    """Set the params `sets` ([FILE:]KEY=VALUE), reproduce the pipeline in the workspace (only
    the stages `targets` and those they depend on, as `repro TARGET`) and record the workspace
    as an experiment of `baseline` (default: HEAD). The workspace keeps the experiment's
    results; nothing is committed to the branch."""
    # Under the lock from the first params written to the experiment recorded: another
    # `exp run` in this workspace must not set its params while this one runs or records.
    with _Recording("exp run") as recording, repo.lock(stages_in_git=True) as lock:
        with contextlib.suppress(DvxError):  # repro says what is wrong with the pipeline
            lock.working_on(_run_work(repo, targets, queued=baseline is not None))
        result = _run(repo, sets, name, force, jobs, reporter, baseline, targets, recording)
        if not result.repro.ok:
            lock.failed()
        return result


class _Recording:
    """From just before the experiment's ref is made until the `command` lets its lock go, a
    Ctrl-C, SIGTERM or SIGHUP is held back (`stops_held`): the experiment is recorded whole
    and the command ends as finished (no stopped command left for status to name). The stop
    then says which experiment was recorded, never that a rerun finishes: run again, the
    command would refuse the name, or, with none given, record the experiment twice."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.recorded: Experiment | None = None
        self._held = contextlib.ExitStack()

    def hold_stops(self) -> None:
        self._held.enter_context(stops_held())

    def __enter__(self) -> _Recording:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self._held.__exit__(*exc_info)  # a stop held is raised here
        except KeyboardInterrupt as stop:
            if self.recorded is None:
                raise
            raise interruption(
                stop, f". The experiment '{self.recorded.name}' "
                f"({self.recorded.commit[:7]}) was recorded before `dvx {self.command}` "
                "stopped.", "Nothing is left to finish: `dvx exp show` lists it.") from None


def _run_work(repo: Repo, targets: tuple[str, ...], queued: bool) -> Work:
    """The work of the run (`pipeline_work`). Run in the workspace on every stage while no
    stage has outputs changed by hand, it records the whole workspace as an experiment once
    it succeeds, its changed data committed, as `exp save` would: so it finishes a stopped
    save too. Not otherwise: a stage's hand run is overwritten by its run, or left
    unrecorded when frozen; a run of some stages leaves the others' unrecorded; a queued
    one records a worktree of its own. Decided before anything runs."""
    work = pipeline_work(repo, targets)
    return replace(work, records_experiment=True,
                   records_workspace=(not queued and work.paths is None
                                      and not outputs_changed_by_hand(repo)))


def _run(repo: Repo, sets: list[str], name: str | None, force: bool, jobs: int,
         reporter: Reporter | None, baseline: str | None, targets: tuple[str, ...],
         recording: _Recording) -> RunResult:
    parent = head(repo)
    refuse_unmerged(repo)
    git_of(repo).require_identity("the experiment's commit")
    queued = baseline is not None  # only a queued run names its baseline
    if not queued:  # a queued run's worktree holds what its snapshot could record
        refuse_unreadable_files_to_record(repo)
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
    changes = [params.parse(text, repo.root) for text in sets]
    # The run as typed, which a refusal says to run again: before a stage ran, and after,
    # the workspace keeping the params set. A queued run's worktree goes once it ends: its
    # refusal names the `exp run --queue` that queues it again, from the workspace.
    again = _queued_again(name, sets, force, jobs) if queued else \
        _again(name, sets, force, targets)
    again_once_run = again if queued else _again(name, sets, force, targets, params_kept=True)
    params.check(repo, changes)  # every file, before any is written
    params.refuse_behind(repo, changes, again or "exp run")
    # What the run's stages read: dvx.yaml's `${}` resolved with the params -S sets, checked
    # before they are written, as the run will read it.
    params_set = params.apply(repo, changes, write=False)
    check_unread_data(repo, read_by_stages(repo, targets, params_set), "exp run", again,
                      setting=[change.file for change in changes])
    if not queued:  # a queued run's warnings were given when it was queued
        # a run naming more stages: -n left out, as this run takes the name
        params.warn_undeclared(repo, changes, targets, lambda stages: run_again(
            None, sets, force, jobs, stages, queued=False))
        warn_inputs_not_held(repo, targets, params_set=params_set)
    before = params.contents(repo, changes)
    params.apply(repo, changes)
    watched = _Watched(reporter or SilentReporter(), put_back_if_refused=before.data)
    try:
        result = repro(repo, ReproOptions(
            targets=targets, force=force, jobs=jobs, temporary_workspace=queued,
            command="exp run", again=again, again_once_run=again_once_run,
            forced_again="" if queued else _again(name, sets, True, targets)), watched)
    except BaseException as e:
        if not watched.started:  # refused before running: the params are as they were
            _put_back(repo, before, watched)
        watched.say_committed()
        if queued and isinstance(e, (Interrupted, KeyboardInterrupt)):
            raise _queued_run_stopped(e, name, sets, force, jobs) from None
        raise
    if not result.ok and not queued and _refused_before_any_started(result, watched):
        _put_back(repo, before, watched)  # nothing ran: nothing holds results of them
        return RunResult(None, result, run_again(name, sets, force, jobs, targets, queued,
                                                 params_kept=False), nothing_ran=True,
                         params_put_back=list(before.files))
    watched.say_committed()  # the params stay as set: so do the inputs recorded
    if not result.ok:
        return RunResult(None, result, run_again(name, sets, force, jobs, targets, queued))
    # Once the run succeeded, the workspace holding what the experiment records (the params
    # set, in a queued run's worktree too), and HEAD where it was: a refused or failed run
    # records none of it.
    _refuse_moved_head(repo, parent, "exp run", queued)
    commit_unread_data(repo, read_by_stages(repo, targets), "exp run", again_once_run)
    # A child of its baseline, also when run from a queue's snapshot of the workspace (HEAD
    # here, which its message names).
    try:
        recorded = _record(repo, baseline, name, taken, recording, parent if queued else None)
    except UnreadableError as exc:  # a file made unreadable while the stages ran
        where = "the queued run's worktree, which is removed" if queued else "the workspace"
        raise UnreadableError(f"The run succeeded, but no experiment was recorded: {exc.message} "
                              f"The run's results are in {where}.",
                              exc.hint if queued else f"{exc.hint} (`dvx exp save` records "
                              "the workspace as it is, without running the stages again.)"
                              ) from None
    return RunResult(recorded, result)


def _refused_before_any_started(result: ReproResult, watched: _Watched) -> bool:
    """Whether the run failed on stages refused before their commands ran, none of its
    stages having started (`_Watched.started`): the workspace holds nothing of -S."""
    return not watched.started and any(stage.outcome == FAILED_STAGE
                                       for stage in result.stages)


def run_again(name: str | None, sets: list[str], force: bool, jobs: int,
              targets: tuple[str, ...], queued: bool, params_kept: bool = True) -> str:
    """The `dvx exp run` that runs again a run whose stage failed: in the workspace, which
    keeps the params set unless none of its stages started (`params_kept`, `_again`); a
    queued one queued again (`queue_again`)."""
    if queued:
        return shell_join(queue_again(name, sets, force, jobs))
    return "dvx " + _again(name, sets, force, targets, params_kept=params_kept) + (
        f" -j {jobs}" if jobs != 1 else "")


def _queued_again(name: str | None, sets: list[str], force: bool, jobs: int) -> str:
    """`queue_again` as a refusal names it: without the leading `dvx`."""
    return shell_join(queue_again(name, sets, force, jobs)[1:])


def _again(name: str | None, sets: list[str], force: bool, targets: tuple[str, ...],
           params_kept: bool = False) -> str:
    """The `exp run` as typed, which a refusal or a stop says to run again: its name, each
    -S, -f and targets. A refusal before any stage ran puts the params back as they were:
    each -S as typed. Once a stage ran (`params_kept`) the workspace keeps them, and setting
    them again changes nothing, but a param added (+KEY=VALUE) is there now: it is set
    (KEY=VALUE), for adding it again is refused."""
    typed = [params.as_set_again(text) for text in sets] if params_kept else sets
    return shell_join(["exp", "run", *(["-n", name] if name else []),
                       *[arg for text in typed for arg in ("-S", text)], *["-f"] * force,
                       *targets])


def _queued_run_stopped(by: BaseException, name: str | None, sets: list[str], force: bool,
                        jobs: int) -> Interrupted:
    """What a queued run stopped (`dvx queue stop`, a signal) says: nothing of it is left,
    as `queue start` removes its temporary worktree, so what runs it is queuing it again."""
    code = stop_status(by)
    again = queue_again(name, sets, force, jobs)
    stopped = Interrupted(
        f"{STOPPED_BY[code]}. The queued run{f' of {name!r}' if name else ''} was stopped "
        "before it was done, and nothing of it was recorded: it ran in a temporary worktree, "
        "which is removed with what its stages made.",
        f"To run it, queue it again (from the workspace as it is now): `{shell_join(again)}`.")
    stopped.exit_code = code
    return stopped


def _put_back(repo: Repo, before: params.Before, watched: _Watched) -> None:
    """Put the params files and their pointers back as `before` read them: the inputs the
    run recorded but those pointers are said to be committed, and those never."""
    params.restore(repo, before)
    watched.say_committed(but=before.data)


class _Watched:
    """A reporter passing everything on, noting whether a stage ran or was restored
    (`started`: the workspace then holds results of the params set). An input recorded is
    said once a stage starts or is restored, as then it stays recorded, or once the run is
    over (`say_committed`): a run refused before that puts back the pointers of the params
    files -S set (`put_back_if_refused`), which it then never says it committed. The other
    inputs are said before a stage's refusal is, which ends the run."""

    def __init__(self, inner: Reporter, put_back_if_refused: Collection[str] = ()) -> None:
        self.inner, self.capture, self.started = inner, inner.capture, False
        self.put_back_if_refused = put_back_if_refused
        self._committed: list[str] = []
        self._saying = threading.Lock()  # stages of -j start on threads of their own

    def committed(self, path: str) -> None:
        with self._saying:
            if not self.started:
                self._committed.append(path)
                return
        self.inner.committed(path)

    def say_committed(self, but: Collection[str] = ()) -> None:
        """Say the inputs recorded so far were committed, but those `but` names."""
        with self._saying:
            said, self._committed = self._committed, []
        for path in said:
            if path not in but:
                self.inner.committed(path)

    def pulled(self, result: Any) -> None:
        self.inner.pulled(result)

    def starting(self, stage: Stage, reasons: list[str]) -> None:
        self.say_committed()
        self.started = True
        self.inner.starting(stage, reasons)

    def command(self, stage: str, cmd: str) -> None:
        self.inner.command(stage, cmd)

    def line(self, stage: str, text: str) -> None:
        self.inner.line(stage, text)

    def finished(self, result: StageResult) -> None:
        if result.started:  # ran or restored: the params stay as set
            self.say_committed()
            self.started = True
        elif result.outcome == FAILED_STAGE and not self.started:
            self._say_committed_but_put_back()
        self.inner.finished(result)

    def _say_committed_but_put_back(self) -> None:
        """Say the inputs recorded so far were committed, but those a run refused before any
        stage started puts back, which stay held."""
        with self._saying:
            held = self._committed
            self._committed = [path for path in held if path in self.put_back_if_refused]
        for path in held:
            if path not in self.put_back_if_refused:
                self.inner.committed(path)


def save(repo: Repo, name: str | None = None) -> Experiment:
    """Record the workspace as it is as an experiment of HEAD (nothing runs), once no other
    command writes to it (a repro half-way would leave a dvx.lock naming some outputs only):
    its changed data first (`_record_data`), in the repository's hash algorithm (a user's own
    core.hash of another is refused before anything is written, as by `exp run`)."""
    with _Recording("exp save") as recording, repo.lock(stages_in_git=True) as lock:
        lock.working_on(Work(SAVE, None))  # any save of this workspace finishes a stopped one
        baseline = head(repo)
        refuse_unmerged(repo)
        git_of(repo).require_identity("the experiment's commit")
        taken = taken_names(repo, baseline)
        if name is not None and check_new_name(repo, name) in taken:
            raise UsageError(f"An experiment called '{name}' of this baseline exists already.")
        taken |= _refuse_queued(repo, name)
        refuse_unreadable_files_to_record(repo)  # before any data is recorded
        warn_inputs_not_held(repo, reading="The pipeline's stages")
        _record_data(repo, shell_join(["exp", "save", *(["-n", name] if name else [])]))
        return _record(repo, baseline, name, taken, recording)


def _record(repo: Repo, baseline: str, name: str | None, taken: set[str],
            recording: _Recording, queued_from: str | None = None) -> Experiment:
    """Record the workspace as the experiment `name` (None: a generated name, not among
    `taken`) of `baseline`, unless HEAD is no longer where it was when the `recording`
    command began:
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
    _refuse_moved_head(repo, queued_from or baseline, recording.command,
                       queued_from is not None)
    recording.hold_stops()  # a stop from now on is said once the experiment is recorded
    while (recorded := claim(repo, baseline, chosen, commit)) is None:
        if queued_from is not None and name is not None:
            raise UsageError(f"An experiment called '{name}' of this run's baseline was made "
                             "while the run went on, so the run could not record its own.",
                             "See `dvx queue status`.")
        chosen = _free_name(repo, baseline, name) if name else new_name(
            taken | taken_names(repo, baseline))
        commit = renamed(repo, commit, chosen, queued_from)  # named as `exp show` names it
    recording.recorded = recorded
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


def _record_data(repo: Repo, again: str) -> None:
    """Record the data the experiment's commit must name, as `exp run` would have: changed
    tracked inputs of the pipeline, the outputs of stages run by hand, and the other
    changed `dvx add`-tracked data. Without it the commit would pair the workspace's params
    and metrics with the baseline's data, and name the baseline's data where the workspace
    holds other. An input it does not commit is left as its pointer names it, placed in
    part or not: no stage runs on it. `again`: the `exp save` as typed, which a refusal
    says to run again. Every check comes before any write: a refusal leaves the pointers,
    dvx.lock and the cache as they were."""
    read = read_by_stages(repo)
    pipeline = load_dag(repo) is not None
    check_unread_data(repo, read, "exp save", again)
    if pipeline:
        check_changed_inputs(repo, Taking("exp save", RUN_NONE, again))
        check_hand_runs(repo)
        commit_changed_inputs(repo, Taking("exp save", RUN_NONE, again))
        commit_hand_runs(repo)
    commit_unread_data(repo, read, "exp save", again)


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
    # A name given twice, or a name and the full ref of one experiment, removes it once.
    chosen = list({exp.ref: exp for exp in chosen}.values())
    git = git_of(repo)
    for exp in chosen:
        git.delete_ref(exp.ref)
    return chosen


def _removable(repo: Repo, name: str) -> Experiment | DamagedRef:
    found = named_or_damaged(repo, name)
    if found is None:
        raise _not_recorded(repo, name)
    return found


def _not_recorded(repo: Repo, name: str) -> UsageError:
    """Why `exp remove` finds no experiment called `name`: a queue entry of that name is no
    experiment yet (or its run recorded none), and the queue's own commands act on it."""
    entry = next((e for e in entries(repo) if e.name == name), None)
    if entry is None:
        return UsageError(f"No experiment called {name!r}.", "See `dvx exp show -A`.")
    if entry.state == RUNNING:
        return UsageError(f"{name!r} is running in the queue: it is no experiment until its "
                          "run records it.", "`dvx queue stop` ends it (with every other run "
                          "of the queue, and empties the queue).")
    if entry.state == QUEUED:
        return UsageError(f"{name!r} is waiting to run in the queue: it is no experiment yet.",
                          f"`dvx queue remove {name}` takes it out of the queue.")
    why = {FAILED: "its queued run failed", STOPPED: "its queued run was stopped",
           DONE: "its queued run recorded one, removed since"}.get(
        entry.state, "its queue entry is damaged")
    return UsageError(f"No experiment called {name!r}: {why}.",
                      f"`dvx queue remove {name}` forgets its queue entry and log.")
