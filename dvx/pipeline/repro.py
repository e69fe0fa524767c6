"""dvx repro: run, in dependency order, the stages whose command, dependencies, params or
outputs changed, and record what they ran with in dvx.lock.

For each selected stage, once every stage it depends on is done:

    frozen                      -> never run (outputs it lacks are said, never made)
    up to date                  -> nothing (its run is recorded in the run-cache if it can be)
    up to date but for outputs whose dvx.lock entry moved in Git (`git pull`) while the
    workspace holds what dvx last placed there
                                -> those outputs are checked out (refused if not cached)
    stale, and a past run with the same inputs is in the run-cache
                                -> its outputs are checked out from the cache
    stale                       -> its persistent outputs not checked out are checked out
                                   (refused if not cached), its other outputs removed, its
                                   commands run; on success the outputs are cached and the
                                   run recorded

Independent stages run in parallel with jobs > 1. A failing stage leaves its dvx.lock entry
unchanged and its outputs uncached; the stages after it are skipped, and (unless keep_going)
no new stage starts. dvx.lock is rewritten atomically after each stage, by the scheduler's
thread only, while the repository lock is held for the whole command.
"""

from __future__ import annotations

import heapq
import os
import posixpath
import stat
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, NoReturn, Protocol

from dvx import faults, fsutil, gitignore
from dvx.errors import (
    STOPPED_BY,
    ConflictError,
    DvxError,
    Interrupted,
    MissingObjectError,
    PathError,
    RemoteError,
    UnreadableError,
    stop_status,
    stop_within,
)
from dvx.lock import PIPELINE, RunningNotes, Work
from dvx.lockfile import LOCK_FILE, LockedPath, LockMoved, LockWriter, StageLock
from dvx.logs import get_logger
from dvx.objects.cache import kept_message
from dvx.ops.checkout import blocked as checkout_blocked
from dvx.ops.checkout import changed_in_cache
from dvx.ops.commit import (
    Linked,
    ToLink,
    check_commit,
    give_back,
    given_back_unless_recorded,
    link_stored,
    refuse_holding_a_repository,
    refuse_if_behind,
    store,
    track,
)
from dvx.ops.data_places import (
    ignore_after_rules_taking_back,
    ignore_files_unlike_git_s,
    stage_for_git,
)
from dvx.ops.remote_places import refuse_outputs_holding_a_remote
from dvx.ops.status import HOLDS_REPOSITORY, MODIFIED, OUTDATED, OutputStatus, output_status
from dvx.outputs import (
    LeftOut,
    Output,
    Target,
    all_outputs,
    in_cache,
    left_out_by_sparse_checkout,
    load_tree,
    putting_back_outputs,
    refuse_broken,
    tracked_data_left_out,
)
from dvx.paths import POINTER_SUFFIX, for_command, join_posix, overlaps, walk_directory
from dvx.pipeline import runcache
from dvx.pipeline.gone_outputs import (
    holding_outputs,
    make_users_own,
    no_longer_data,
    outputs_of_gone,
    pointed_paths,
    with_outputs_of_gone,
)
from dvx.pipeline.graph import Dag, build_dag, load_dag
from dvx.pipeline.ignored_inputs import (
    inputs_no_clone_has,
    no_clone_has_error,
    no_clone_has_reason,
)
from dvx.pipeline.linked_inputs import (
    LinkedElsewhere,
    LinkedInput,
    linked_elsewhere,
    linked_inputs,
    written_inputs,
)
from dvx.pipeline.none_declared import (
    recorded_while_none_declared,
    recorded_without_pipeline,
    refusal,
)
from dvx.pipeline.outputs_in_git import (
    OutputInGit,
    ignores_recorded_outputs_only,
    outputs_in_git,
    own_gitignores_removed,
    refuse_outputs_in_git,
)
from dvx.pipeline.params import ParamsReader
from dvx.pipeline.records_as_read import RecordsAsRead
from dvx.pipeline.runner import Runner, signal_of
from dvx.pipeline.spec import (
    PIPELINE_FILE,
    ParamsSet,
    Pipeline,
    Stage,
    check_params,
    load_pipeline,
    no_pipeline_error,
    pipeline_bytes,
)
from dvx.pipeline.staleness import (
    StageState,
    Staleness,
    compare_outs,
    deps_after_run,
    deps_as_checked_out,
    dropped_outputs_in_the_way,
    only_behind_git,
    only_outdated,
    out_state,
    outputs_behind_a_file,
    outputs_holding_a_repository,
    own_data_ways_out,
    params_moved,
    path_state,
    produced_outputs,
    stage_state,
    staleness,
    with_declared_flags,
)
from dvx.pipeline.still_declared import StillDeclared
from dvx.pipeline.uncommitted_outputs import (
    UncommittedOutput,
    putting_back,
    refuse_uncommitted_outputs,
    uncommitted_outputs,
)
from dvx.pipeline.unrecordable_inputs import (
    Lacking,
    Taking,
    lacking,
    refuse_lacking,
    refuse_unrecordable_input,
)
from dvx.pointer import Pointer
from dvx.repo import Repo
from dvx.stop_signals import stops_held
from dvx.syncstate import Synced
from dvx.threads import first_done
from dvx.wording import named_list
from dvx.workspace import (
    delete_tracked_data,
    forget_recorded,
    remove_temporaries_beside,
    repository_held,
    set_aside_changed,
    warn_untrackable,
)

log = get_logger(__name__)

# outcomes
RAN, RESTORED, UP_TO_DATE, FROZEN = "ran", "restored", "up-to-date", "frozen"
FAILED, SKIPPED = "failed", "skipped"
WOULD_RUN, WOULD_RESTORE = "would-run", "would-restore"
# --dry: a stage lacking inputs no selected stage would make, and the stages after it
WOULD_FAIL, WOULD_SKIP = "would-fail", "would-skip"
# up to date but for outputs dvx.lock records since `git pull`: checked out, never run over
CHECKED_OUT, WOULD_CHECK_OUT = "checked-out", "would-check-out"
OK = (RAN, RESTORED, CHECKED_OUT, UP_TO_DATE, FROZEN, WOULD_RUN, WOULD_RESTORE, WOULD_CHECK_OUT)


@dataclass
class StageResult:
    name: str
    outcome: str
    reasons: list[str] = field(default_factory=list)
    exit_code: int | None = None
    error: str | None = None  # why it failed or was skipped
    lock: StageLock | None = None  # the new dvx.lock entry
    record: runcache.RunRecord | None = None  # a run to remember in the run-cache
    note: str | None = None  # said after the stage (why its run is not kept, ...)
    to_link: list[ToLink] = field(default_factory=list)  # once dvx.lock names their objects
    # outputs storing made hard links of their objects, given back if the run is not recorded
    linked: list[Linked] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # outputs a frozen stage lacks
    modified: list[str] = field(default_factory=list)  # a frozen stage's, not as recorded
    # outputs whose .gitignore entry the checkout that restored them wrote (for `git add`)
    ignored_again: list[str] = field(default_factory=list)
    # Its outputs were deleted for its command to run, or for a restore from the run-cache:
    # what they hold is its run's. False for a stage refused before that, whose outputs and
    # command were left alone
    started: bool = False
    # Of such a refusal, its error given the command it names to run again, which is known
    # once it is (`_refused_run_again`): an `exp run` puts its params back if nothing ran
    names_run_again: Callable[[str], str] | None = None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "outcome": self.outcome, "reasons": self.reasons,
                "exit_code": self.exit_code, "error": self.error, "note": self.note,
                "started": self.started}


@dataclass
class ReproResult:
    stages: list[StageResult] = field(default_factory=list)
    lock_written: bool = False
    staged: list[str] = field(default_factory=list)  # paths `git add`ed (core.autostage)
    to_stage: list[str] = field(default_factory=list)  # paths the user should `git add`
    pulled: Any = None  # the SyncResult of --pull
    problems: list[str] = field(default_factory=list)
    quoting: list[BaseException] = field(default_factory=list)  # the errors problems quote
    committed: list[str] = field(default_factory=list)  # tracked inputs recorded (--dry: to be)
    # the dvx.lock entries of stages gone from dvx.yaml (--dry: to be), and the outputs no
    # stage has any longer, left in the workspace and still ignored by Git
    dropped: list[str] = field(default_factory=list)
    left_ignored: list[str] = field(default_factory=list)
    # of those outputs no stage has, the ones holding outputs dvx.yaml declares, with them:
    # their .gitignore entries went (--dry: would go), so Git sees the rest of them
    unignored: dict[str, list[str]] = field(default_factory=dict)
    # --dry --pull: the tracked data missing from the workspace that --pull would bring,
    # each with whether it is fetched from the remote first (else the cache holds it)
    would_pull: dict[str, bool] = field(default_factory=dict)
    # stages run whose run is not recorded: dvx.yaml no longer declares them as run
    unrecorded: list[str] = field(default_factory=list)
    # files written for Git to record that Git ignores and does not track, with the rule
    ignored_by_git: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unrecorded and not any(s.outcome == FAILED for s in self.stages)

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "stages": [s.to_json() for s in self.stages],
                "lock_written": self.lock_written, "to_stage": self.to_stage,
                "committed_inputs": self.committed, "dropped_stages": self.dropped,
                "left_ignored": self.left_ignored,
                "unignored": [{"path": path, "holding": inside}
                              for path, inside in self.unignored.items()],
                "problems": self.problems,
                "ignored_by_git": self.ignored_by_git,
                **({"pulled": self.pulled.to_json()} if self.pulled is not None else {}),
                **({"would_pull": [{"path": p, "fetched": f} for p, f in
                                   self.would_pull.items()]} if self.would_pull else {})}


@dataclass(frozen=True)
class ReproOptions:
    targets: tuple[str, ...] = ()
    dry: bool = False
    force: bool = False
    single: bool = False
    downstream: bool = False
    pull: bool = False
    keep_going: bool = False
    jobs: int = 1
    run_cache: bool = True
    allow_missing: bool = False  # --pull: go on when the remote lacks some data
    # A queued run's workspace, removed after the run: what a failure says to mend is for
    # the next run, or for the workspace the run was queued from
    temporary_workspace: bool = False
    command: str = "repro"  # the dvx command running, which a refusal says to run again
    # The command as typed, with the targets and options that decide what runs and what it
    # records (`repro -s all`, `exp run -n NAME`), which a refusal of its inputs, or a stop,
    # says to run again; empty: `command`
    again: str = ""
    # The same once a stage ran, which a stop or a run not recorded says to run again: an
    # `exp run`'s params set stay in the workspace then; empty: `again`
    again_once_run: str = ""
    # The command as typed, forcing every stage it runs, which a refusal over data of the
    # user's own at an output names (`exp run -f`); empty: `repro --force STAGE`
    forced_again: str = ""

    def failed_stage_again(self) -> str:
        """The command a failed stage's message says to run again once mended: the run as
        typed, as the run's last line names it (an `exp run` keeps its params set then)."""
        return self.again_once_run or self.again or self.command


class Reporter(Protocol):
    """What the CLI is told while repro works (from worker threads too). `capture` asks for
    the commands' output line by line instead of letting it through."""

    capture: bool

    def committed(self, path: str) -> None: ...

    def pulled(self, result: Any) -> None: ...

    def starting(self, stage: Stage, reasons: list[str]) -> None: ...

    def command(self, stage: str, cmd: str) -> None: ...

    def line(self, stage: str, text: str) -> None: ...

    def finished(self, result: StageResult) -> None: ...


class SilentReporter:
    capture = False

    def committed(self, path: str) -> None:
        pass

    def pulled(self, result: Any) -> None:
        pass

    def starting(self, stage: Stage, reasons: list[str]) -> None:
        pass

    def command(self, stage: str, cmd: str) -> None:
        pass

    def line(self, stage: str, text: str) -> None:
        pass

    def finished(self, result: StageResult) -> None:
        pass


def repro(repo: Repo, options: ReproOptions, reporter: Reporter | None = None) -> ReproResult:
    reporter = reporter or SilentReporter()
    result = ReproResult()
    with repo.lock(stages_in_git=True) as lock:
        # Read under the lock, as dvx.lock is: a command waited for may have changed both.
        # Its bytes before: a stage is recorded only while dvx.yaml declares it as it ran.
        loaded = pipeline_bytes(repo)
        pipeline = _load_pipeline(repo)
        dag = build_dag(pipeline)
        selected = dag.select(options.targets, options.single, options.downstream)
        if not options.dry:
            lock.working_on(_work(dag, selected))
        # One reader for the command: it reads a params file again once it changed (a stage
        # wrote it, say), and only then.
        params = ParamsReader(repo)
        check_params(repo, Pipeline(tuple(dag.stages.values())), params)
        writer = LockWriter(repo.root, repo.algo, repo.fsync)
        locks = repo.read_lock(writer)
        _refuse_dropping_every_entry(repo, pipeline, locks)
        if not options.targets:  # only the whole pipeline's run: a stage commented out while
            # another runs keeps its entry
            result.dropped = sorted(n for n in locks if n not in dag.stages)
        # A run that drops the entries of stages gone from dvx.yaml judges the pointers on the
        # stages it declares; any other still sees those entries' outputs as tracked.
        judged = dag.stages if result.dropped else None
        refuse_broken(repo, [p for n in selected
                             for p in (*dag.stages[n].deps, *dag.stages[n].out_paths)],
                      stages=judged)
        unfetched: set[str] = set()
        pulled: dict[str, LockedPath] = {}
        in_part: set[str] = set()
        # why past runs were not fetched: said if a stage ran
        runs_unfetched = runcache.RunsTransfer()
        if options.pull and options.dry:
            plan = _would_pull(repo, dag, selected, options.allow_missing, judged)
            pulled, in_part, result.would_pull = plan.whole, plan.in_part, plan.brought
        elif options.pull:
            result.pulled, runs_unfetched = _pull(repo, dag, selected, judged)
            reporter.pulled(result.pulled)
            # A remote that could not be read may hold the data its outputs need: then no
            # stage runs to make it again, unless asked to go on without it.
            failure = result.pulled.remote_failure()
            if failure is not None and result.pulled.not_fetched:
                if not options.allow_missing:
                    raise failure
                result.problems.append(failure.message)
                result.quoting.append(failure)
            unfetched = set(result.pulled.failed_paths())
            if options.allow_missing:  # and what a remote that could not be read holds
                unread = set(result.pulled.not_fetched)
                unfetched |= unread | {o for n in selected for o in dag.stages[n].out_paths
                                       if any(overlaps(o, path) for path in unread)}
            if unfetched and not options.allow_missing:
                shown = named_list(sorted(unfetched), most=10)
                raise MissingObjectError(
                    f"`repro --pull` could not fetch the data of {shown} (listed above), so "
                    "nothing was run.", "Push it from the clone where it was made, or pass "
                    "--allow-missing to run the stages that need it instead.")
        _check_deps_exist(repo, dag, selected, pulled)
        refuse_outputs_in_git(repo, dag, selected, locks)
        refuse_uncommitted_outputs(repo, dag, selected, locks)
        refuse_outputs_holding_a_remote(repo, [(o.path, n) for n in selected
                                               for o in dag.stages[n].outs])
        taking = Taking(options.command, again=options.again)
        read = _read_inputs(repo, dag, selected, taking, pulled, in_part, judged,
                            _outputs_of_entries(locks, result.dropped))
        result.committed = [o.path for o in read.changed]
        stray = inputs_no_clone_has(repo, dag, selected, locks, result.dropped)
        if options.dry and read.holding_gone:
            raise _holding_a_gone_output(repo.root, read.holding_gone, dropped=False)
        if options.dry:
            gone = outputs_of_gone(dag, locks, result.dropped,
                                   pointed_paths(repo) if result.dropped else ())
            result.unignored = _still_there(repo, holding_outputs(repo, gone, _declared(dag)))
            result.left_ignored = _left_ignored(repo, [p for p in gone
                                                       if p not in result.unignored])
            result.stages = _dry_run(repo, dag, selected, locks, options, pulled, params,
                                     stray)
            return result
        touched, committed = _commit_inputs(repo, read.changed, reporter, taking)
        # The pointers as the stages will read their data: a stage's run is recorded only
        # while they say the same (RecordsAsRead).
        tracked = [replace(o, pointer=committed[o.path]) if o.path in committed else o
                   for o in read.tracked]
        # Those of stages renamed (gone, with an output at, inside or around one a stage run
        # now has) stay until the new stage is recorded (_Scheduler._drop_replaced): a run
        # that fails or is stopped first leaves dvx.lock naming what dvx wrote for them. Not
        # when a stage reads a gone output: every entry is dropped for the way out then named.
        replaced_later = [] if read.holding_gone else _replaced_by_a_run(dag, selected, locks,
                                                                         result.dropped)
        result.dropped = [n for n in result.dropped if n not in replaced_later]
        former = [locks[name] for name in result.dropped]
        no_longer, unignored, result.lock_written, staged = _drop_gone(
            repo, dag, locks, writer, result.dropped)
        touched += staged
        if read.holding_gone:  # the entries are dropped: the way out works from here
            stage_for_git(repo, touched)
            raise _holding_a_gone_output(repo.root, read.holding_gone, dropped=True)
        outs = [o.path for n in selected for o in dag.stages[n].outs]
        remove_temporaries_beside(repo.root, [LOCK_FILE, *outs])  # of a killed run
        scheduler = _Scheduler(repo, dag, selected, locks, options, reporter, unfetched,
                               params, writer, RecordsAsRead(repo, writer, tracked),
                               own=result.dropped,
                               still_declared=StillDeclared(repo, loaded), stray=stray,
                               former=former)
        try:
            result.stages = scheduler.run()
        finally:
            repo.statcache.flush()
            repo.syncstate.flush()
        if any(stage.outcome not in (UP_TO_DATE, FROZEN, CHECKED_OUT) for stage in result.stages):
            result.problems += runs_unfetched.problems
            result.quoting += runs_unfetched.quoting
        if scheduler.unrecorded:
            result.unrecorded = scheduler.unrecorded
            result.problems.append(scheduler.unrecorded_message())
        result.lock_written = result.lock_written or scheduler.lock_written
        # A renamed stage's old entry no run replaced (its new stage up to date, frozen): the
        # whole pipeline ran, each stage as it should, so it goes as any gone entry does.
        kept = [n for n in replaced_later if n in scheduler.locks]
        if kept and all(stage.outcome in OK for stage in result.stages) \
                and not scheduler.unrecorded:
            more, also, written, staged = _drop_gone(repo, dag, scheduler.locks, writer, kept)
            touched += staged
            no_longer += more
            unignored.update(also)
            result.dropped += kept
            result.lock_written = result.lock_written or written
        # Those of stages that did not run too: a `!` rule added since may take theirs back
        touched += ignore_after_rules_taking_back(repo, _recorded_cached_outputs(
            dag, scheduler.locks))
        result.dropped = sorted(result.dropped + scheduler.dropped)
        unignored.update(scheduler.unignored)
        result.unignored = _still_there(repo, unignored)
        # not those a run deleted or keeps as data of its output (`_remove_outputs`)
        run_over = {path for paths in scheduler.run_over.values() for path in paths}
        result.left_ignored = _left_ignored(repo, sorted(
            {*no_longer, *scheduler.left_ignored} - set(unignored) - run_over))
        _stage_in_git(repo, touched + scheduler.touched, result)
        if not result.ok:
            lock.failed()
    return result


def pipeline_work(repo: Repo, targets: tuple[str, ...] = ()) -> Work:
    """The work of a run of the stages `targets` and those they depend on (all: none named),
    for a command that takes the lock before it runs them (`exp run`)."""
    dag = _load(repo)
    return _work(dag, dag.select(targets, False, False))


def _work(dag: Dag, selected: list[str]) -> Work:
    """The stages this run brings up to date, by which, ended without an error, it finishes
    a stopped repro or exp run of those stages or fewer (lock.Work); all of dvx.yaml's
    stages, as none named (every stage): a run of them all finishes any."""
    every = set(selected) == set(dag.stages)
    return Work(PIPELINE, None if every else tuple(selected))


def read_by_stages(repo: Repo, targets: tuple[str, ...] = (),
                   params_set: ParamsSet | None = None) -> list[str]:
    """The paths of which a run of the stages `targets` and those they depend on (all: none
    named) records the changed `dvx add`-tracked data itself (`_inputs`): what those stages
    read, but for frozen ones, which do not run, so that data only a frozen stage reads is
    recorded as data no stage reads; none without a dvx.yaml. Each path once, in the order
    the stages read them. `params_set`: the params files as the run will have set them
    (spec.parse_pipeline)."""
    dag = load_dag(repo, params_set=params_set)
    return [] if dag is None else list(dict.fromkeys(
        _inputs(dag, dag.select(targets, False, False))))


def check_changed_inputs(repo: Repo, taking: Taking) -> None:
    """Raise what `commit_changed_inputs` (same arguments) would raise for the workspace as
    it is, writing nothing: for a command that writes more besides (`exp save`), which
    runs every check before any write."""
    dag = _load(repo)
    changed = _read_inputs(repo, dag, dag.select((), False, False), taking).changed
    check_commit(repo, changed, command=taking.command, again=taking.again,
                 git_tracked_too=True)


def commit_changed_inputs(repo: Repo, taking: Taking, params_set: ParamsSet | None = None
                          ) -> list[str]:
    """Record every changed `dvx add`-tracked input of the pipeline, as `repro` does before it
    runs (for a run that happens elsewhere, from a snapshot: a queued experiment; or for
    none: `exp save`); the paths recorded. Their pointers and .gitignore files are staged
    in Git under core.autostage, as `repro` stages them; without it nothing is named for
    `git add`: the caller's commit (the snapshot, the experiment) holds them. `taking`: the
    command recording them, which a refusal names, and where its stages read them;
    `params_set`: the params files as that run will have set them (its inputs are those of
    dvx.yaml resolved with them)."""
    dag = _load(repo, params_set)
    selected = dag.select((), False, False)
    with repo.lock(stages_in_git=True):
        changed = _read_inputs(repo, dag, selected, taking).changed
        touched, _ = _commit_inputs(repo, changed, SilentReporter(), taking)
        repo.statcache.flush()
        repo.syncstate.flush()
        stage_for_git(repo, touched, named=False)
    return [o.path for o in changed]


def _write_naming(writer: LockWriter, locks: dict[str, StageLock], linked: list[Linked],
                  unmoved: bool = False) -> bool:
    """Write dvx.lock (whether its bytes changed; `unmoved`: only over the bytes `writer`
    last read or wrote, `LockWriter.write_unmoved`), then empty `linked` (a
    `given_back_unless_recorded` list): dvx.lock names their objects now. It does once
    renamed into place, whatever stops the write after that (a Ctrl-C, a failed fsync of
    the folder): its files stay links then too. LockMoved, raised before the rename, leaves
    `linked` as it is."""
    try:
        wrote = writer.write_unmoved(locks) if unmoved else writer.write(locks)
        linked.clear()
    except LockMoved:
        raise
    except BaseException:
        with stops_held():
            if writer.holds(locks):
                linked.clear()
        raise
    return wrote


def _inputs(dag: Dag, selected: list[str]) -> list[str]:
    """The paths the selected stages that are not frozen read: their deps and params files
    (a params file tracked with `dvx add` is an input too: `exp run -S` changes it)."""
    return [d for n in selected if not dag.stages[n].frozen for d in dag.stages[n].inputs]


@dataclass(frozen=True)
class _InputsRead:
    """The data tracked with `dvx add` that the selected stages read (`_inputs`), with its
    pointers as read (`tracked`), and of it the data changed in the workspace (`changed`)."""
    tracked: list[Output]
    changed: list[Output]
    # data not as its pointer names holding (or at) an output of a dvx.lock entry this run
    # drops: neither committed nor run on (_holding_a_gone_output)
    holding_gone: list[_HoldingGone] = field(default_factory=list)


@dataclass(frozen=True)
class _HoldingGone:
    """Data tracked with a pointer file (`path`) that holds, or is, `output`, an output of
    the dvx.lock entry of `stage`, gone from dvx.yaml, as that stage last made it: changed
    since dvx placed it (`changed`), or as dvx placed it, an older version than its
    pointer names. `moved`: its pointer changed in Git since dvx placed it (a teammate's),
    so only `dvx commit --force` records the workspace's version (`refuse_if_behind`)."""
    path: str
    output: str
    stage: str
    changed: bool
    moved: bool = False


def _outputs_of_entries(locks: Mapping[str, StageLock], names: list[str]) -> dict[str, str]:
    """The outputs the dvx.lock entries `names` record, with the stage of each."""
    return {o.path: name for name in names for o in locks[name].outs}


def _read_inputs(repo: Repo, dag: Dag, selected: list[str], taking: Taking,
                 pulled: Collection[str] = (), in_part: Collection[str] = (),
                 judged: Collection[str] | None = None,
                 gone: Mapping[str, str] | None = None) -> _InputsRead:
    """The data tracked with `dvx add` that the selected stages read, and of it the data
    changed in the workspace: that is committed before anything runs, so dvx.lock never
    records data that no pointer names and no cache holds. Data whose pointer
    moved in Git (not fetched yet) is refused: the stages would run on data the commit does
    not name; so is data not checked out as its pointer names, an import changed here,
    whose source committing would drop (`refuse_unrecordable_input`), and a folder holding
    a repository of its own, whose changes cannot be told (as `dvx commit` refuses it:
    `status` names it, `inputs_holding_a_repository`); and, all named at
    once, data lacking files its pointer names that `taking` needs (`lacking`), as is an
    upstream stage's output lacking files its dvx.lock entry names when this run does not
    make it. `pulled` (`repro --dry --pull`, see _would_pull): data the real run's pull
    checks out first, so by then as its pointer records it, neither changed nor behind;
    `in_part`: data it checks out keeping changes of the user's, lacking no file by then.
    `judged`: the stages whose dvx.lock entries count (all_outputs). Data not as its pointer
    names (changed, or an older version) holding an output of an entry dropped (`gone`:
    output -> stage) is set aside, neither committed nor refused here: the workspace may
    hold that stage's stale output where a teammate's pointer records other data
    (`holding_gone`, `_holding_gone`)."""
    deps = _inputs(dag, selected)
    made = {path for n in selected if not dag.stages[n].frozen
            for path in dag.stages[n].out_paths}
    tracked: list[Output] = []
    changed: list[Output] = []
    lacks: list[Lacking] = []
    holding_gone: list[_HoldingGone] = []
    for output in all_outputs(repo, stages=judged):
        if not any(overlaps(output.path, d) for d in deps):
            continue
        if output.stage is None:
            tracked.append(output)
        if output.path in pulled or output.path in made:
            continue
        status = output_status(repo, output)  # one it may not read: UnreadableError
        held = _holding_gone(output, status, gone or {})
        if held is not None:  # judged once the entry is dropped (_holding_a_gone_output)
            holding_gone.append(held)
            continue
        if output.stage is None and status.workspace == HOLDS_REPOSITORY:
            # which of its files changed cannot be told: never passed over as unchanged
            refuse_holding_a_repository(repo.root, status, [output], taking.command,
                                        taking.again)
        if output.stage is None:
            refuse_if_behind(repo.root, status, force=False, own_force=False,
                             command=taking.typed)
            refuse_unrecordable_input(repo, output, status, taking.typed)
        found = None if output.path in in_part else lacking(repo, output, status, deps, taking)
        if found is not None:
            lacks.append(found)
        if output.stage is None and status.workspace == MODIFIED:
            changed.append(output)
    refuse_lacking(repo, lacks, taking)
    return _InputsRead(tracked, changed, holding_gone)


def _holding_gone(output: Output, status: OutputStatus, gone: Mapping[str, str]
                  ) -> _HoldingGone | None:
    """Data tracked with a pointer file that the workspace does not hold as its pointer
    names (changed, or an older version), holding or at an output of a dropped entry
    (`gone`: output -> stage), the first such. The workspace may then hold that stage's
    stale output where a teammate's pointer records other data: it is neither committed
    nor refused as not checked out, since the pull that puts back the pointer's data
    refuses the pointer as overlapping that entry's output until the entry is dropped."""
    if output.stage is not None or not (status.workspace in (MODIFIED, OUTDATED)
                                        or status.outdated):
        return None
    return next((_HoldingGone(output.path, path, stage, status.workspace == MODIFIED,
                              status.pointer_moved)
                 for path, stage in gone.items() if overlaps(output.path, path)), None)


def _holding_a_gone_output(root: str, held: list[_HoldingGone], dropped: bool
                           ) -> ConflictError:
    """The refusal to run on (or commit) data not as its pointer names that holds (or is)
    an output of a dvx.lock entry of a stage gone from dvx.yaml: the workspace holds what
    that stage last made, which may be stale where a teammate's pointer records other data.
    Changed since, only the user can say which to keep; as dvx placed it, it is an older
    version, and the pointer's data is the one to place. `dropped`: the run dropped the
    entries (then each way out works as named: before, the pull refuses the pointer as
    overlapping the entry's output). Named by one changed, if any is: its ways out include
    the commit that keeps the workspace's version, which only the user can choose."""
    first = next((h for h in held if h.changed), held[0])
    path, out, stage = first.path, first.output, first.stage
    more = f" (and {len(held) - 1} more like it)" if len(held) > 1 else ""
    done = (f"dvx repro dropped the {LOCK_FILE} entry of stage '{stage}', which "
            f"{PIPELINE_FILE} no longer declares (`git add {LOCK_FILE}` records that), and "
            "ran nothing." if dropped else
            f"`dvx repro` would drop the {LOCK_FILE} entry of stage '{stage}', which "
            f"{PIPELINE_FILE} no longer declares, and run nothing.")
    quoted = for_command(root, path)
    pointer = f"{path}{POINTER_SUFFIX}"
    output = (f"'{out}', the output of stage '{stage}'," if out != path
              else f"the output of stage '{stage}'")
    if first.changed:
        commit = f"dvx commit --force {quoted}" if first.moved else f"dvx commit {quoted}"
        message = (f"'{path}' changed in the workspace: it holds {output} edited since that "
                   f"stage last made it, not the data '{pointer}' records{more}. Committing "
                   "it would record that edit of a stale output in place of the pointer's "
                   "data, so only you can say which to keep.")
        ways = (f"`dvx pull --force {quoted}` to put back the data '{pointer}' records "
                f"(deleting the workspace's version), or `{commit}` if the workspace's "
                "version is the one to keep")
    else:
        made = (f"holds '{out}', the output of stage '{stage}'" if out != path
                else f"is the output of stage '{stage}'") + " as that stage last made it"
        message = (f"'{path}' is read by the stages but is not checked out as its pointer "
                   f"names: it {made}, an older version than the data '{pointer}' "
                   f"records{more}. A stage run on it would record input data that no "
                   "pointer names.")
        ways = (f"`dvx pull --force {quoted}` to fetch and place the data '{pointer}' "
                "records in place of that stage's output")
    return ConflictError(
        f"{message} {done}",
        ("R" if dropped else "Once a run without --dry dropped that entry (it stops there), r")
        + f"un {ways}, then `dvx repro` again.")


def _commit_inputs(repo: Repo, inputs: list[Output], reporter: Reporter, taking: Taking
                   ) -> tuple[list[str], dict[str, Pointer]]:
    """Record the changed inputs as `dvx commit` would, for the command `taking` them (which
    a refusal names); the files to stage in Git, and the pointers written, by path. All are
    checked before any is stored, as `track` takes them (data Git's index holds too
    included): a refusal leaves every pointer and the cache as they were."""
    check_commit(repo, inputs, command=taking.command, again=taking.again,
                 git_tracked_too=True)
    touched = []
    pointers: dict[str, Pointer] = {}
    for output in inputs:
        pointers[output.path] = track(repo, output.path, output, taking.command,
                                      again=taking.again).pointer
        reporter.committed(output.path)
        touched += [output.pointer_path, posixpath.join(posixpath.dirname(output.path),
                                                        ".gitignore")]
    return touched, pointers


def _left_ignored(repo: Repo, paths: list[str]) -> list[str]:
    """Those of `paths` (outputs no longer dvx's data) still in the workspace that Git still
    ignores, which a `git add -A` leaves out: not one deleted, nor one whose .gitignore line
    is gone (`dvx stage remove` takes them out)."""
    there = [p for p in paths if os.path.lexists(repo.abspath(p))]
    if not there or repo.git is None:
        return there
    rules = repo.git.ignore_rules(there)
    return [p for p in there if p in rules]


def _declared(dag: Dag) -> list[str]:
    """The outputs dvx.yaml declares, of every stage."""
    return [o.path for s in dag.stages.values() for o in s.outs]


def _still_there(repo: Repo, held: dict[str, list[str]]) -> dict[str, list[str]]:
    """Those of `held` (`holding_outputs`) the workspace has, sorted by path."""
    return {p: held[p] for p in sorted(held) if os.path.lexists(repo.abspath(p))}


def _unignore(repo: Repo, paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """Take the .gitignore entries of the outputs no stage has at `paths` out, as they hold
    outputs dvx.yaml declares (`holding_outputs`): the data paths (full) whose entries went,
    for a refused record to put back, and the .gitignore files to name for Git: those
    whose entries Git's index has otherwise, also one a killed run changed
    (`ignore_files_unlike_git_s`)."""
    paths = list(paths)
    removed = [repo.abspath(p) for p in paths if gitignore.remove_entry(repo.abspath(p))]
    return removed, ignore_files_unlike_git_s(repo, paths)


def _recorded_cached_outputs(dag: Dag, locks: Mapping[str, StageLock]) -> list[str]:
    """The outputs dvx.lock records that dvx.yaml declares cached: Git must ignore them."""
    return [o.path for name, entry in locks.items() if name in dag.stages
            for o in entry.outs
            if o.cache and any(d.path == o.path and d.cache for d in dag.stages[name].outs)]


def _replaced_by_a_run(dag: Dag, selected: list[str], locks: dict[str, StageLock],
                       gone: list[str]) -> list[str]:
    """Of the entries of stages `gone` from dvx.yaml, those recording an output at, inside
    or around an output of a stage `selected` to run: a stage renamed."""
    outs = [o.path for name in selected for o in dag.stages[name].outs]
    return [name for name in gone
            if any(overlaps(o.path, path) for o in locks[name].outs for path in outs)]


def _drop_gone(repo: Repo, dag: Dag, locks: dict[str, StageLock], writer: LockWriter,
               gone: list[str]
               ) -> tuple[list[str], dict[str, list[str]], bool, list[str]]:
    """Drop the entries of stages `gone` from dvx.yaml and write dvx.lock so: their outputs
    no stage has any longer become the user's files, Git no longer told to ignore them.
    Those outputs, of them the ones inside folders whose .gitignore entries were taken out
    (`holding_outputs`), whether dvx.lock was written, and the files to stage in Git."""
    if not gone:
        return [], {}, False, []
    no_longer = _drop_entries(dag, locks, gone, pointed_paths(repo))
    make_users_own(repo, no_longer, ignored_by_git=True)
    unignored = holding_outputs(repo, no_longer, _declared(dag))
    to_stage = _unignore(repo, unignored)[1]
    writer.take_in(locks, gone)
    written = writer.write(locks)
    if written:
        to_stage.append(LOCK_FILE)
        forget_recorded(repo)
    no_longer_data(repo, no_longer)
    return no_longer, unignored, written, to_stage


def _drop_entries(dag: Dag, locks: dict[str, StageLock], gone: list[str],
                  pointed: list[str]) -> list[str]:
    """Take out of `locks` the entries of stages `gone` from dvx.yaml (which loaded: a
    dvx.yaml that does not load stops repro before this). The outputs returned, which no
    stage has any longer, go to make_users_own before the caller writes dvx.lock, and to
    no_longer_data after (dvx/pipeline/gone_outputs.py); not those data a pointer tracks
    (`pointed`) holds, which stay dvx's."""
    left = outputs_of_gone(dag, locks, gone, pointed)
    for name in gone:
        del locks[name]
    return left


def _load(repo: Repo, params_set: ParamsSet | None = None) -> Dag:
    return build_dag(_load_pipeline(repo, params_set))


def _load_pipeline(repo: Repo, params_set: ParamsSet | None = None) -> Pipeline:
    pipeline = load_pipeline(repo, params_set=params_set)
    if pipeline is None:
        recorded = recorded_without_pipeline(repo)
        if recorded:  # deleted, not a pipeline never written: repro would drop every entry
            raise refusal(repo, recorded, missing=True)
        raise no_pipeline_error(repo, f"There is no {PIPELINE_FILE} in {repo.root}.",
                                "Add a stage with `dvx stage add -n NAME -d DEP -o OUT COMMAND`.")
    return pipeline


def _refuse_dropping_every_entry(repo: Repo, pipeline: Pipeline, locks: dict[str, StageLock]
                                 ) -> None:
    """A dvx.yaml that says nothing of stages while dvx.lock records some is refused, as a
    missing one is, before anything changes: repro would drop every entry. `stages: {}`
    says there are none, and drops them."""
    names = recorded_while_none_declared(pipeline, locks)
    if names:
        raise refusal(repo, names, missing=False)


def _check_deps_exist(repo: Repo, dag: Dag, selected: list[str],
                      pulled: Collection[str] = ()) -> None:
    """Refuse a dependency missing that no stage produces (nor, with `pulled`, the dry run
    of --pull would bring)."""
    produced = [o.path for s in dag.stages.values() for o in s.outs] + list(pulled)
    deps = list(dict.fromkeys(dep for name in selected for dep in dag.stages[name].deps))
    # Present or not: what a folder the sparse checkout leaves out holds is another
    # branch's data, say, which Git leaves there as dvx's data is ignored.
    left_out = tracked_data_left_out(repo, deps)
    for name in selected:
        for dep in dag.stages[name].deps:
            if dep in left_out:
                _refuse_left_out_dependency(repo, name, dep, left_out[dep])
            if os.path.lexists(repo.abspath(dep)) or any(overlaps(dep, p) for p in produced):
                continue
            git_s = left_out_by_sparse_checkout(repo, dep)  # files Git tracks itself
            if git_s is not None:
                _refuse_left_out_dependency(repo, name, dep, git_s)
            raise PathError(f"Stage '{name}': the dependency '{dep}' does not exist, and no "
                            "stage produces it.", "Create it, fetch it with `dvx pull` (or "
                            "`dvx repro --pull`), or fix the stage's deps.")


def _refuse_left_out_dependency(repo: Repo, name: str, dep: str, left_out: LeftOut
                                ) -> NoReturn:
    """A dependency that Git's index holds (its pointer, or the file itself) while the
    sparse checkout leaves it out is there to bring back: pulling it alone cannot."""
    pull = f", then `dvx pull {for_command(repo.root, dep)}`" if left_out.pointers else ""
    stale = left_out.pointers and os.path.lexists(repo.abspath(dep))
    there = (", so what is on disk there may not be what its pointer records (another "
             "branch's data, say)") if stale else ""
    raise PathError(f"Stage '{name}': the dependency '{dep}' is in Git's index ("
                    f"{', '.join(left_out.files[:3])}{', ...' if len(left_out.files) > 3 else ''}"
                    f"), but this sparse checkout leaves it out of the workspace{there}.",
                    f"Add it to the sparse checkout: {left_out.adding(repo.root)}{pull}.")


# -- --pull ----------------------------------------------------------------------------------

def _pull(repo: Repo, dag: Dag, selected: list[str], judged: Collection[str] | None
          ) -> tuple[Any, runcache.RunsTransfer]:
    """Fetch and check out the tracked data the selected stages read and write, and their
    past runs, from the default remote; and why those runs were not fetched, if so."""
    from dvx.ops.sync import pull

    # A remote that cannot be read is kept, as one of several is: the caller decides
    # (--allow-missing goes on without what it would have brought)
    result = pull(repo, _pulled_targets(repo, dag, selected, judged), keep_remote_errors=True)
    keys = {runcache.stage_key(repo.algo, s.cmd, s.deps, s.out_paths)
            for s in (dag.stages[n] for n in selected)}
    runs = _past_runs(repo, keys, result)
    if runs.sync is not None:
        result.add_transfer(runs.sync)
    return result, runs


def _past_runs(repo: Repo, keys: set[str], data: Any) -> runcache.RunsTransfer:
    """The past runs of the stages (`keys`) from the default remote. Where the data needed
    no remote (`data`, the pull's result: the cache held it all), a remote that cannot be
    opened or reached (none configured, a laptop offline) leaves them unfetched, named as a
    problem: the stages that are stale then run, as without a run-cache. So too where the
    pull kept a remote's error (`remote_errors`), which the caller reports or raises."""
    from dvx.remote.retry import describe

    try:
        return runcache.fetch_runs(repo, None, None, keys, data)
    except (RemoteError, ConnectionError) as exc:
        if data.asked and not data.remote_errors:
            raise
        return runcache.RunsTransfer(problems=[
            f"past runs of the stages were not fetched, so stale ones run: {describe(exc)}"],
            quoting=[exc])


def _pulled_targets(repo: Repo, dag: Dag, selected: list[str],
                    judged: Collection[str] | None) -> list[Target]:
    """The tracked data --pull fetches and checks out: what the selected stages read and
    write (`judged`: as in _read_inputs)."""
    paths = [p for n in selected for p in (*dag.stages[n].deps, *dag.stages[n].out_paths)]
    return [Target(o) for o in all_outputs(repo, stages=judged)
            if any(overlaps(o.path, p) for p in paths)]


@dataclass(frozen=True)
class _PullPlan:
    """What the real run's pull would do (_would_pull): the data it checks out as its
    pointer or dvx.lock records it (`whole`), that it checks out keeping changes of the
    user's (`in_part`: a directory holding edits, whose missing files it places), and
    whether each of these is fetched from the remote first (`brought`)."""

    whole: dict[str, LockedPath]
    in_part: set[str]
    brought: dict[str, bool]


def _would_pull(repo: Repo, dag: Dag, selected: list[str], allow_missing: bool,
                judged: Collection[str] | None) -> _PullPlan:
    """--dry --pull: the tracked data the real run's pull would check out, as its pointer or
    dvx.lock records it (the dry run plans with it in place) or in part, and whether each is
    fetched from the remote first. The remote is asked which objects it holds; only the
    manifests of directories the cache lacks are downloaded (small, they say what a
    directory holds). Data neither the cache nor the remote holds is refused as the real run
    refuses it (unless `allow_missing`); `push: false` data the cache lacks is not sought
    (the real run leaves it to the stage that makes it), but one whose bytes the fetch
    brings for other data is checked out as the real run's checkout finds them in the cache.
    Each remote is asked, even when another cannot be read; then those that could not, if no
    other brings their data, are the error, named together, as `dvx status -c` and the real
    run name them."""
    from dvx.ops.sync import RemoteErrors, fetch_manifests, remote_failure, remote_status_by_remote

    targets = _pulled_targets(repo, dag, selected, judged)
    failed: RemoteErrors = []
    fetch_manifests(repo, targets, failed=failed)
    whole = {t.output.path for t in targets if _checkout_would_change(repo, t)}
    changing = [t.output for t in targets
                if t.output.path in whole or _checkout_places_files(repo, t.output)]
    not_cached = {o.path for o in changing if not in_cache(repo, o)}
    asked = [o for o in changing if o.path in not_cached and o.push]
    absent: list[str] = []
    brought: set[str] = set()  # by a remote asked before: the fetch asks them in turn
    # The real run's pull goes on without a remote whose folder is gone: it holds nothing
    read: set[str] = set()
    for group, status in remote_status_by_remote(repo, [Target(o) for o in asked],
                                                 gone_is_empty=True, failed=failed
                                                 ) if asked else []:
        gone = (status.missing_on_remote.keys() & status.missing_in_cache.keys()) - brought
        brought |= status.missing_in_cache.keys() - status.missing_on_remote.keys()
        absent += [t.output.path for t in group if _needs_any(repo, t.output, gone)]
        read.update(t.output.path for t in group)
    # What only a remote that could not be read would bring stops the real run too (unless
    # --allow-missing: then it stays out)
    unread = [o.path for o in asked
              if o.path not in read and not _held_once_fetched(repo, o, brought)]
    failure = remote_failure(failed)
    if failure is not None and unread:
        if not allow_missing:
            raise failure
        absent += unread
    if absent and not allow_missing:
        shown = named_list(absent, most=10)
        raise MissingObjectError(
            f"`repro --pull` could not fetch the data of {shown}: neither the cache nor the "
            "remote holds it, so the real run would run nothing.", "Push it from the clone "
            "where it was made, or pass --allow-missing to run the stages that need it "
            "instead.")
    placing = [o for o in changing if o.path not in absent and (
        o.push or o.path not in not_cached or _held_once_fetched(repo, o, brought))]
    pulled = {o.path: LockedPath(o.path, o.pointer.oid, o.pointer.size, o.pointer.nfiles,
                                 o.pointer.executable) for o in placing if o.path in whole}
    return _PullPlan(pulled, {o.path for o in placing if o.path not in whole},
                     {o.path: o.path in not_cached for o in placing})


def _checkout_would_change(repo: Repo, target: Target) -> bool:
    """Would the real run's pull put `target` in place as its pointer records? Yes when it
    is missing, or holds something else that the checkout replaces without losing anything
    (a directory lacking files, a version the cache holds), as its checkout decides it; not
    when it is in place already, nor for a change of the user's that the checkout keeps."""
    output = target.output
    full = repo.abspath(output.path)
    if not os.path.lexists(full):
        return True
    if os.path.isdir(full) == output.pointer.is_dir and not os.path.islink(full):
        now = path_state(repo, output.path)
        if now is not None and now.oid == output.pointer.oid:
            return False
    return not checkout_blocked(repo, [target])


def _checkout_places_files(repo: Repo, output: Output) -> bool:
    """Would the real run's pull place files in the directory `output` that it does not put
    in place as its pointer records (_checkout_would_change: changes of the user's in it,
    which the checkout keeps)? Yes when it lacks files never placed here."""
    return output.pointer.is_dir and bool(output_status(repo, output).not_pulled)


def _held_once_fetched(repo: Repo, output: Output, brought: Collection[str]) -> bool:
    """Does the cache hold all of the output's data once the fetch brings `brought`?"""
    def held(oid: str) -> bool:
        return oid in brought or repo.cache.exists(oid)

    if not output.pointer.is_dir:
        return held(output.pointer.oid)
    tree = load_tree(repo, output.pointer, output.recorded_in)
    return tree is not None and all(held(oid) for oid in tree.oids())


def _needs_any(repo: Repo, output: Output, oids: Collection[str]) -> bool:
    """Does checking out `output` need one of `oids` (its own, or one its manifest names)?"""
    if output.pointer.oid in oids:
        return True
    tree = load_tree(repo, output.pointer, output.recorded_in) if output.pointer.is_dir else None
    return tree is not None and any(oid in oids for oid in tree.oids())


# -- dry run ---------------------------------------------------------------------------------

def _dry_run(repo: Repo, dag: Dag, selected: list[str], locks: dict[str, StageLock],
             options: ReproOptions, pulled: dict[str, LockedPath], params: ParamsReader,
             stray: Mapping[str, list[str]]) -> list[StageResult]:
    """What the real run would do with each stage; with --pull, once `pulled` (_would_pull)
    is in place. `stray`: the data no clone has that stages read (inputs_no_clone_has)."""
    results: dict[str, StageResult] = {}
    produced = produced_outputs(locks)
    chosen = set(selected)
    for name in selected:
        stage = dag.stages[name]
        if stage.frozen:
            results[name] = _frozen(repo, stage, locks.get(name))
            continue
        upstream = dag.order(dag.upstream[name] & chosen)
        blocked = [u for u in upstream if results[u].outcome in (WOULD_FAIL, WOULD_SKIP)]
        if blocked:
            results[name] = StageResult(name, WOULD_SKIP, error=f"upstream stage '{blocked[0]}' "
                                        "would fail")
            continue
        # What the real run finds once the upstream stages' outputs are checked out.
        checked_out = {u: locks[u] for u in dag.upstream[name] & chosen
                       if results[u].outcome == WOULD_CHECK_OUT}
        state = deps_as_checked_out(repo, stage_state(repo, stage, params),
                                    produced_outputs(checked_out), pulled)
        stale = Staleness(["forced"], []) if options.force else staleness(
            repo, stage, locks.get(name), state, produced, pulled=pulled)
        reasons = stale.reasons
        busy_upstream = [u for u in upstream if results[u].outcome in (WOULD_RUN, WOULD_RESTORE)]
        reasons += [f"upstream stage '{u}' would run first" for u in busy_upstream]
        short_of = _lacking_in_dry_run(dag, chosen, results, stage, state)
        holding = outputs_holding_a_repository(repo, stage) if options.force else stale.holding
        if holding:
            results[name] = StageResult(name, WOULD_FAIL, reasons,
                                        error=_holds_a_repository(
                                            holding, f"`dvx {options.failed_stage_again()}`"))
        elif behind_a_file := (outputs_behind_a_file(repo, stage, locks.get(name))
                               if options.force
                               else stale.behind_a_file):
            results[name] = StageResult(name, WOULD_FAIL, reasons, error=_behind_a_file(
                behind_a_file, f"`dvx {options.failed_stage_again()}`"))
        elif name in stray:
            results[name] = StageResult(name, WOULD_FAIL, [
                *reasons, no_clone_has_reason(repo.root, stray[name], stage.deps)],
                error=no_clone_has_error(repo.root, stray[name], stage.deps))
        elif not reasons:
            results[name] = StageResult(name, UP_TO_DATE)
        elif short_of is not None:
            results[name] = StageResult(name, WOULD_FAIL, reasons, error=_missing_inputs(
                repo.root, dag, selected, locks, stage, short_of))
        elif stale.own_data:
            results[name] = StageResult(name, WOULD_FAIL, reasons, error=_own_data_in_outputs(
                repo, stage, stale, _in_quotes(options.forced_again),
                f"`dvx {options.failed_stage_again()}`"))
        elif not options.force and only_behind_git(reasons) and stale.conflicted:
            results[name] = StageResult(name, WOULD_FAIL, reasons, error=_edited_behind_git(
                repo, stage, stale.conflicted))
        elif (not options.force and only_outdated(reasons)
              and (targets := _recorded_outputs(repo, stage)) is not None):
            results[name] = _would_check_out(repo, stage, locks[name], targets, reasons,
                                             options.pull)
        elif (not busy_upstream and not options.force and options.run_cache
              and _restorable_record(repo, stage, state) is not None):
            results[name] = StageResult(name, WOULD_RESTORE, reasons)
        else:
            results[name] = _would_run(repo, stage, locks.get(name), reasons, options.pull)
    repo.statcache.flush()
    return [results[n] for n in selected]


def _would_check_out(repo: Repo, stage: Stage, locked: StageLock, targets: list[Target],
                     reasons: list[str], pull: bool) -> StageResult:
    """A stage up to date but for outputs not checked out: failing, as the real run fails it,
    when the cache lacks them (`--pull` fetches them first, or stops the run naming them)."""
    outdated = set(compare_outs(repo, stage, locked).outdated)
    uncached = [] if pull else [t.output.path for t in targets
                                if t.output.path in outdated and not in_cache(repo, t.output)]
    if uncached:
        return StageResult(stage.name, WOULD_FAIL, reasons, error=_not_checked_out(uncached))
    return StageResult(stage.name, WOULD_CHECK_OUT, reasons)


def _would_run(repo: Repo, stage: Stage, locked: StageLock | None, reasons: list[str],
               pull: bool) -> StageResult:
    """A stage to run: failing, as the real run fails it, when the cache lacks persistent
    outputs it checks out first (_persisted_to_check_out; `--pull` fetches them first)."""
    persisted = [] if pull else _persisted_to_check_out(repo, stage, locked, set())
    uncached = [t.output.path for t in persisted if not in_cache(repo, t.output)]
    if uncached:
        return StageResult(stage.name, WOULD_FAIL, reasons,
                           error=_persisted_not_checked_out(uncached))
    return StageResult(stage.name, WOULD_RUN, reasons)


def _lacking_in_dry_run(dag: Dag, chosen: set[str], results: dict[str, StageResult],
                        stage: Stage, state: StageState) -> StageState | None:
    """The inputs the stage would still lack when its turn came (missing now, and no selected
    stage before it would make them): the real run would fail it. None if it lacks none."""
    made = [o for u in dag.upstream[stage.name] & chosen
            if results[u].outcome in (WOULD_RUN, WOULD_RESTORE, WOULD_CHECK_OUT)
            for o in dag.stages[u].out_paths]
    deps = [d for d in state.missing_deps if not any(overlaps(d, o) for o in made)]
    if not deps and not state.missing_params:
        return None
    return replace(state, missing_deps=deps)


def _frozen(repo: Repo, stage: Stage, locked: StageLock | None) -> StageResult:
    """A frozen stage is never run, so outputs it lacks stay missing, and outputs that are
    not what dvx.lock records (edited by hand) stay so: said, with the ways out, so that a
    pipeline lacking them or holding such outputs is never called up to date."""
    missing = [p for p in stage.out_paths if not os.path.lexists(repo.abspath(p))]
    compared = None if locked is None else compare_outs(repo, stage, locked)
    modified = [] if compared is None else [
        p for p in compared.changed + compared.conflicted if p in stage.out_paths]
    said = []
    if missing:
        said.append(f"Stage '{stage.name}' is frozen, so repro never runs it, and its outputs "
                    f"are missing: {', '.join(missing)}. "
                    f"{_frozen_ways_out(repo.root, stage, missing, locked)}.")
    if modified:
        typed = " ".join(for_command(repo.root, p) for p in modified)
        said.append(f"Stage '{stage.name}' is frozen, so repro never rebuilds it, and "
                    f"{_these(modified)} not what {LOCK_FILE} records: "
                    f"{', '.join(modified)}. `dvx commit {typed}` records an edit of yours, "
                    f"{_frozen_put_back(repo, stage, modified)}"
                    f"`dvx unfreeze {stage.name.partition('@')[0]}` lets repro rebuild "
                    f"{_them(modified)}.")
    return StageResult(stage.name, FROZEN, missing=missing, modified=modified,
                       note=" ".join(said) or None)


def _frozen_put_back(repo: Repo, stage: Stage, modified: list[str]) -> str:
    """The commands that put back what dvx.lock records for the `modified` outputs of a
    frozen stage (`putting_back_outputs`), followed by ", or "."""
    recorded = {t.output.path: t.output for t in _cached_outputs(repo, stage)}
    cached = [p for p in modified if p in recorded and in_cache(repo, recorded[p])]
    pulled = [p for p in modified if p in recorded and p not in cached and recorded[p].push]
    put_back = putting_back_outputs(repo.root, cached, pulled,
                                    has_remote=repo.has_default_remote)
    return f"{put_back}, or " if put_back else "or "


def _these(paths: list[str]) -> str:
    return "its output is" if len(paths) == 1 else "its outputs are"


def _frozen_ways_out(root: str, stage: Stage, paths: list[str], locked: StageLock | None
                     ) -> str:
    """How to get the outputs `paths` of frozen `stage` without repro: what dvx.lock records
    of them comes from the cache or a remote; else only a run makes them."""
    recorded = {o.path for o in locked.outs} if locked is not None else set()
    brought = [p for p in paths if p in recorded]
    unfreeze = f"`dvx unfreeze {stage.name.partition('@')[0]}` lets repro run it"
    if not brought:
        return f"{LOCK_FILE} records no run that made {_them(paths)}: {unfreeze}"
    shown = " ".join(for_command(root, p) for p in brought)
    return (f"`dvx checkout {shown}` (or `dvx pull {shown}` if the cache lacks "
            f"{_them(brought)}) brings what {LOCK_FILE} records, or {unfreeze}")


def _them(paths: list[str]) -> str:
    return "it" if len(paths) == 1 else "them"


def _missing_inputs(root: str, dag: Dag, selected: list[str], locks: dict[str, StageLock],
                    stage: Stage, state: StageState) -> str:
    """Why a stage cannot run: the dependencies and params it lacks, each dependency with
    the stage that would make it when that stage is frozen or left out of this run."""
    why = []
    for dep in state.missing_deps:
        makers = [u for u in dag.order(dag.upstream[stage.name])
                  if any(overlaps(dep, o) for o in dag.stages[u].out_paths)]
        maker = dag.stages[makers[0]] if makers else None
        if maker is not None and maker.frozen:
            outs = [o for o in maker.out_paths if overlaps(dep, o)]
            ways_out = _frozen_ways_out(root, maker, outs, locks.get(maker.name))
            why.append(f"{dep} (an output of stage '{maker.name}', which is frozen, so repro "
                       f"never runs it; {ways_out})")
        elif maker is not None and maker.name not in selected:
            why.append(f"{dep} (an output of stage '{maker.name}', which this run leaves out: "
                       f"`dvx repro {stage.name}` runs it first)")
        else:
            why.append(dep)
    return f"missing dependencies: {', '.join(why + state.missing_params)}"


def _recorded_outputs(repo: Repo, stage: Stage) -> list[Target] | None:
    """The stage's cached outputs as dvx.lock records them, for a stage up to date but for
    outputs not checked out; None when they include `push: false` outputs this cache lacks,
    which no remote holds, so the stage must run to rebuild them. The dry run and the real
    one both decide by it."""
    targets = _cached_outputs(repo, stage)
    if any(not t.output.push and not repo.cache.exists(t.output.pointer.oid) for t in targets):
        return None
    return targets


def _cached_outputs(repo: Repo, stage: Stage) -> list[Target]:
    """The stage's cached outputs as dvx.lock records them."""
    from dvx.outputs import pipeline_outputs

    cached = {o.path for o in stage.outs if o.cache}
    return [Target(o) for o in pipeline_outputs(repo)
            if o.stage == stage.name and o.path in cached]


def _persisted_to_check_out(repo: Repo, stage: Stage, locked: StageLock | None,
                            unfetched: set[str]) -> list[Target]:
    """The stage's `persist: true` outputs not checked out (dvx.lock moved in Git: a
    teammate's run came with `git pull`, while the workspace holds what dvx placed before; an
    output edited by hand is a change, kept). Its command continues from them, so they are
    checked out before it runs: continued from the older copy here, the teammate's run would
    be lost. Left out are those the cache lacks and no remote can bring (`push: false`, or not
    fetched by `repro --pull --allow-missing`): the command continues from the copy here, as
    other stages rebuild such outputs."""
    persisted = {o.path for o in stage.outs if o.persist and o.cache}
    if locked is None or not persisted:
        return []
    outdated = set(compare_outs(repo, stage, locked).outdated) & persisted
    if not outdated:
        return []
    return [t for t in _cached_outputs(repo, stage) if t.output.path in outdated and (
        (t.output.push and t.output.path not in unfetched) or in_cache(repo, t.output))]


def _edited_behind_git(repo: Repo, stage: Stage, paths: list[str]) -> str:
    """Why a stage up to date but for outputs changed both here and in Git is not run (it
    would replace Git's run and the edit alike), and the ways out."""
    typed = " ".join(for_command(repo.root, p) for p in paths)
    return (f"{LOCK_FILE} records another run of it (from Git) since this workspace was "
            f"synced, and {_these(paths)} an edit of the older one: {', '.join(paths)}; the "
            f"command was not run over {_them(paths)}. `dvx checkout --force {typed}` (or "
            f"`dvx pull --force {typed}`, if the cache lacks {_them(paths)}) takes Git's "
            f"run, dropping your edit; `dvx commit --force {typed}` records your edit "
            f"instead; `dvx repro --force {stage.name}` replaces both with a new run")


def _own_data_in_outputs(repo: Repo, stage: Stage, stale: Staleness, forced: str,
                         again: str) -> str:
    """Why a stage whose outputs hold data no cache of the algorithm in effect has
    (OWN_DATA_OUTS, `stale.own_data`) is not run: a run deletes its outputs first. Data of
    the user's own could never be brought back; data this cache holds under a former
    algorithm (FORMER_ALGORITHM_OUTS, `stale.former_algorithm`) is a run of the stage made
    here before the repository's algorithm changed, which a forced run records anew.
    `again`: the command to run again (`_refused_run_again`); `forced`:
    ReproOptions.forced_again, in backquotes (empty: none)."""
    former = stale.former_algorithm
    own = [path for path in stale.own_data if path not in former]
    said = []
    if own:
        said.append(f"{_named_outputs(own)}: not what {LOCK_FILE} records, and holding data "
                     "that no cache has and that dvx never placed here (files of your own?); "
                     "the command, which deletes its outputs first, was not run over "
                     f"{_them(own)}: {own_data_ways_out(stage.name, own, again, forced)}")
    if former:
        said.append(_recorded_with_a_former_algorithm(repo, stage, former, forced))
    return ". ".join(said)


def _recorded_with_a_former_algorithm(repo: Repo, stage: Stage, former: Mapping[str, str],
                                      forced: str) -> str:
    paths = list(former)
    them = _them(paths)
    algos = " and ".join(sorted(set(former.values())))
    forcing = (f"{forced} runs every stage of the run again, this one over {them}" if forced
               else f"`dvx repro --force {stage.name}` runs the stage over {them}")
    return (f"{_named_outputs(paths)}: not what {LOCK_FILE} records, and holding data dvx "
            f"recorded with {algos}, as this repository named its data before it moved to "
            f"{repo.algo}: the cache holds {them} under {'its' if len(paths) == 1 else 'their'} "
            f"{algos} name only. The command, which deletes its outputs first, was not run "
            f"over {them}: {forcing} and records {them} with {repo.algo} (the {algos} copy "
            "stays in the cache)")


def _named_outputs(paths: Sequence[str]) -> str:
    return f"Its output{'' if len(paths) == 1 else 's'} {', '.join(paths)}"


def _in_quotes(command: str) -> str:
    """`dvx COMMAND` in backquotes, as a message names it; empty for none."""
    return f"`dvx {command}`" if command else ""


def _holds_a_repository(holding: Mapping[str, str], again: str) -> str:
    """Why a stage whose output folder holds a repository of its own (`holding`: {output:
    the `.git` or `.dvx` in it}) is not run: a run deletes its outputs first. `again`: the
    command to run again (`_refused_run_again`)."""
    path, entry = next(iter(holding.items()))
    return (f"'{path}' holds '{entry}', the `.git` or `.dvx` of a repository of its own (a "
            "clone, a submodule, a dvx project), whose files are that repository's: a run "
            "would delete them with the stage's outputs, so the command was not run. Move "
            f"that repository out of '{path}', then run {again} again")


def _behind_a_file(behind_a_file: Mapping[str, str], again: str) -> str:
    """Why a stage is not run where a file stands in the way of a folder of its outputs'
    paths (`behind_a_file`: {output: that file}, FILE_IN_THE_WAY): nothing says whose the
    file is, so no run deletes it. `again`: the command to run again (`_refused_run_again`)."""
    out, path = next(iter(behind_a_file.items()))
    return (f"a file is where the folder '{path}' of its output '{out}' goes; nothing says "
            "whose it is, so the command was not run and nothing was deleted. Move "
            f"'{path}' away, then run {again} again")


def _not_checked_out(paths: list[str]) -> str:
    return (f"dvx.lock records outputs of another run (from Git) that could not be checked "
            f"out: {', '.join(paths)}; the command was not run over them. Fetch them with "
            "`dvx pull` (or `dvx repro --pull`), or run `dvx repro --force` to replace that "
            "run with a new one")


def _persisted_not_checked_out(paths: list[str]) -> str:
    return (f"dvx.lock records outputs of another run (from Git) that could not be checked "
            f"out: {', '.join(paths)}; they persist from run to run, and the command was not "
            "run to continue from the older copies here. Fetch them with `dvx pull` (or "
            "`dvx repro --pull`), or delete them to have the command start them anew")


def _restorable_record(repo: Repo, stage: Stage, state: StageState
                       ) -> runcache.RunRecord | None:
    if not runcache.cacheable(stage) or state.missing_deps or state.missing_params:
        return None
    record = runcache.lookup(repo, *runcache.keys_for(repo, stage, state))
    if record is None or not runcache.fits(stage, record) or runcache.objects_of(
            repo, record) is None:
        return None
    return record


def _left_running(cmd: str | None, left: tuple[str, ...]) -> str:
    """Why a stage whose command exited but left processes running fails: they may have been
    writing its outputs, so nothing of it is recorded or cached."""
    return (f"its command exited but left processes running that may still have been writing "
            f"its outputs: {', '.join(left)}; dvx stopped them, and its outputs are not recorded "
            f"or cached. Let the command wait for what it starts (`wait` at the end of a shell "
            f"command): {cmd}")


# -- the scheduler ---------------------------------------------------------------------------

def _stages_and_commands(names: list[str]) -> tuple[str, str]:
    """"stage 'a'" and "command", or "stages 'a', 'b'" and "commands"."""
    which, command = ("stage", "command") if len(names) == 1 else ("stages", "commands")
    return which + " " + ", ".join(f"'{n}'" for n in names), command


@dataclass
class _Unrecorded:
    """What recording a stage changed before dvx.lock is written, for a refused record to put
    back (`_Scheduler._put_back`): the .gitignore entries added and removed (full paths), and
    the outputs whose record was set pending (`expect_in_lock`); and the outputs switched to
    `cache: false` (`uncached`), whose sync records go only once the stage is recorded."""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    uncached: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Recorded:
    """The scheduler's records of the run before a stage's record changes them
    (`_Scheduler._take_back_record`)."""
    locks: dict[str, StageLock]
    own: set[str]
    gone: list[str]
    dropped: list[str]


class _Scheduler:
    def __init__(self, repo: Repo, dag: Dag, selected: list[str], locks: dict[str, StageLock],
                 options: ReproOptions, reporter: Reporter, unfetched: set[str],
                 params: ParamsReader, lock_writer: LockWriter, as_read: RecordsAsRead,
                 own: Collection[str],
                 still_declared: Callable[[Stage], bool],
                 stray: Mapping[str, list[str]],
                 former: Collection[StageLock] = ()) -> None:
        self.repo, self.dag, self.selected = repo, dag, selected
        self.locks, self.options, self.reporter = locks, options, reporter
        # Kept in step with self.locks by _finish, which rebinds it to a new mapping, never
        # changes it in place: workers read (and iterate) the one they were handed.
        self.produced = produced_outputs(locks)
        # What read `locks`: dvx.lock is written with the entries of the stages this run
        # recorded or dropped (`own`) over what the file holds then (a `git merge` meanwhile)
        self.lock_writer = lock_writer
        self.own = set(own)
        # A stage whose entry, or the pointers of whose inputs, changed on disk meanwhile
        # is not recorded: that would undo the change (RecordsAsRead).
        self.as_read = as_read
        # A stage dvx.yaml no longer declares as it ran (a `git checkout` meanwhile) is not
        # recorded: its entry would go into the dvx.lock of another pipeline. One it does not
        # declare so when it finishes waits, its downstream stages with it, until it does or
        # no command runs (`undecided`): another stage's command may be rewriting dvx.yaml.
        self.still_declared = still_declared
        self.undecided: list[StageResult] = []
        self.unrecorded: list[str] = []
        self.unfetched = unfetched  # paths --pull could not fetch (--allow-missing)
        self.stray = stray  # data no clone has that stages read: they never run on it
        notes = RunningNotes(repo.tmp_dir)
        self.runner = Runner(on_running=notes, on_close=notes.close)
        self.params = params  # reads a params file again once a stage has rewritten it
        self.results: dict[str, StageResult] = {}
        # The stages not started whose selected upstream stages have all finished, by their
        # place in `selected` (the first start first), and how many each other one waits
        # for: a finished stage updates its own downstream stages, not a pass over them all.
        self.chosen = set(selected)
        self.place = {name: i for i, name in enumerate(selected)}
        self.waiting = {name: len(dag.upstream[name] & self.chosen) for name in selected}
        self.ready = [(self.place[n], n) for n in selected if not self.waiting[n]]
        self.unsuccessful: set[str] = set()  # of results: failed or skipped stages
        self.lock_written = False
        self.touched: list[str] = []  # files to stage in Git
        self.declared = {o.path for s in dag.stages.values() for o in s.outs}
        self.gone = [n for n in locks if n not in dag.stages]  # entries kept (some stages run)
        # The entries dropped before the run (of stages gone from dvx.yaml, all stages run):
        # their outputs at a stage's outputs are its own dropped ones (`with_outputs_of_gone`)
        self.former = list(former)
        self.dropped: list[str] = []  # of those, replaced
        self.left_ignored: list[str] = []  # outputs no stage has any longer
        self.unignored: dict[str, list[str]] = {}  # of those, the ones holding outputs
        # Once a signal or an error stops the run, no worker stores outputs any longer, and
        # what each stage in hand got to is said: those whose command had ended (outputs
        # whole), and of their outputs those stored in the cache before it stopped.
        self.stopping = threading.Event()
        self.started: set[str] = set()  # `StageResult.started`, set from the worker threads
        # By stage, the outputs its dvx.lock entry recorded that it no longer declares,
        # deleted before it ran as they stood where folders of its outputs go
        self.run_over: dict[str, list[str]] = {}
        # By stage about to run, those of `run_over` still ignored by Git until its command
        # succeeded, with the entry recording them (`_remove_outputs`)
        self.kept_ignored: dict[str, tuple[list[str], StageLock | None]] = {}
        self.unignored_kept: dict[str, list[str]] = {}  # of those, taken out once it ended
        self.in_hand: dict[Future[StageResult], str] = {}  # handed to a worker, not finished
        self.command_ended: set[str] = set()
        self.cached: set[str] = set()
        # The first stage to fail, refused when recorded included: without keep_going, no
        # new stage starts after it.
        self.stopped_by: str | None = None

    def run(self) -> list[StageResult]:
        chosen = self.chosen
        _ = self.repo.cache, self.repo.statcache  # created once, before the worker threads
        running = self.in_hand
        # the pool first: once its threads are done, no command runs and the runner closes
        with self.runner, ThreadPoolExecutor(max(1, self.options.jobs)) as pool:
            try:
                while True:
                    if not running:  # no command of the pipeline may be writing dvx.yaml
                        self._settle(final=True)
                    self._skip_after_failures(chosen, set(running.values()))
                    while self.stopped_by is None and len(running) < max(1, self.options.jobs):
                        name = self._next_ready()
                        if name is None:
                            break
                        running[pool.submit(self._work, name)] = name
                    if not running:
                        break
                    done = first_done(running)
                    for future in done:
                        result = future.result()
                        del running[future]
                        self._finish(result)
                    self._settle(final=False)
            except BaseException as exc:
                self.stopping.set()
                self.runner.stop_all(signal_of(exc))
                if running:  # what each stage got to is known once it ended
                    pool.shutdown(wait=True)
                    self._give_back_unrecorded(running)
                stop = stop_within(exc)  # a Ctrl-C, or an error it was wrapped into: a
                # DvxError raised while one was handled is said as it is
                if isinstance(stop, KeyboardInterrupt):
                    self._settle(final=True)  # the stages done before are recorded
                    if running:
                        restored = {name for future, name in running.items()
                                    if future.exception() is None
                                    and future.result().outcome == RESTORED}
                        raise self._stopped(stop, sorted(set(running.values())),
                                            restored) from exc
                raise
        for name in self.selected:  # not started after a failure stopped the run
            if name not in self.results:
                self._finish(StageResult(name, SKIPPED, error=f"not started: stage "
                                         f"'{self.stopped_by}' failed (use --keep-going to run "
                                         "the stages that do not depend on it)"))
        return [self.results[n] for n in self.selected]

    def _give_back_unrecorded(self, running: Mapping[Future[StageResult], str]) -> None:
        """Give back (`give_back`) the outputs that storing made hard links of their objects,
        of the stages `running` (ended) when the run stopped: none of them is recorded, so
        what Git ignored for the entries dvx.lock keeps is ignored again."""
        for future, name in running.items():
            if not future.cancelled() and future.exception() is None:
                give_back(self.repo, future.result().linked)
            self._ignore_kept_again(name)

    def _stopped(self, exc: KeyboardInterrupt, names: list[str], restored: Collection[str]
                 ) -> Interrupted:
        """What Ctrl-C, SIGTERM or SIGHUP during stages says, once their workers ended: the
        outputs of a command it stopped stay as the command left them, possibly
        half-written; those of a command that had ended are whole, and some may have been
        stored in the cache meanwhile; those `restored` from the run-cache (no command ran)
        are whole. Nothing of them is recorded in dvx.lock. The way to run them again names
        first what the next run would refuse to delete (`_in_the_way`)."""
        code = stop_status(exc)
        cut = [n for n in names if n not in self.command_ended and n not in restored]
        ended = [n for n in names if n in self.command_ended]
        back = [n for n in names if n in restored]
        said = [STOPPED_BY[code] + "."]
        if back:
            which, _ = _stages_and_commands(back)
            said.append(f"Stopped {which} once {'its' if len(back) == 1 else 'their'} outputs "
                        "were restored from the run-cache (no command ran), whole, and not "
                        f"recorded in dvx.lock: "
                        f"{', '.join(o for n in back for o in self.dag.stages[n].out_paths)}.")
        if cut:
            which, command = _stages_and_commands(cut)
            said.append(f"Stopped {which}, whose outputs stay as the {command} left them, "
                        "maybe partial, and are not recorded in dvx.lock or the cache: "
                        f"{', '.join(o for n in cut for o in self.dag.stages[n].out_paths)}.")
        if ended:
            which, command = _stages_and_commands(ended)
            its = "its" if len(ended) == 1 else "their"
            outs = [o for n in ended for o in self.dag.stages[n].out_paths]
            cached = [o for o in outs if o in self.cached]
            recorded = "dvx.lock" if cached else "dvx.lock or the cache"
            listed = ", ".join(o + (" (in the cache)" if o in cached else "") for o in outs)
            said.append(f"Stopped {which} after {its} {command} ended, whose outputs are "
                        f"whole, and not recorded in {recorded}: {listed}.")
        if self.unrecorded:  # settled before this was said
            said.append(self.unrecorded_message())
        but = f", but for those {PIPELINE_FILE} no longer declares" if self.unrecorded else ""
        typed = (self.options.again_once_run or self.options.again or self.options.command) + (
            f" -j {self.options.jobs}" if self.options.jobs != 1 else "")
        again = self._in_the_way(names, typed) + (
            f"`dvx {typed}` runs the stopped stages again") + (
            "" if self.options.command == "repro" else
            ", with the params the workspace holds now, and records the experiment")
        again = again[0].upper() + again[1:]
        stopped = Interrupted(
            " ".join(said),
            f"{again}; the stages done before are recorded in {LOCK_FILE}{but}.")
        stopped.exit_code = code
        return stopped

    def _in_the_way(self, names: list[str], typed: str) -> str:
        """What of the stopped stages' `cache: false` output folders the next run refuses
        to delete (uncommitted_outputs: the stopped run's own writes, as the folder was
        checked and deleted before it ran), and how to put back Git's version first."""
        try:
            found = uncommitted_outputs(self.repo, self.dag, names, self.locks)
        except (DvxError, OSError):  # the stopped run is said all the same
            found = []
        return "".join(
            f"in '{f.path}' (cache: false) the stopped run left changes Git has not committed "
            f"({named_list(f.edits, most=5)}), which `dvx {typed}` refuses to delete: "
            f"{putting_back(self.repo, f)}; then " for f in found)

    def _next_ready(self) -> str | None:
        """The first stage (in order) not started whose selected upstream stages have all
        finished; None if there is none now. Stages skipped meanwhile are passed over."""
        while self.ready:
            _, name = heapq.heappop(self.ready)
            if name not in self.results:
                return name
        return None

    def _skip_after_failures(self, chosen: set[str], running: set[str]) -> None:
        if not self.unsuccessful:  # the usual pass: one per finished stage, so it stays cheap
            return
        for name in self.selected:
            if name in self.results or name in running:
                continue
            upstream_bad = self.dag.upstream[name] & chosen & self.unsuccessful
            if upstream_bad:
                bad = self.dag.order(upstream_bad)
                what = "failed" if self.results[bad[0]].outcome == FAILED else "was skipped"
                self._finish(StageResult(name, SKIPPED,
                                         error=f"upstream stage '{bad[0]}' {what}"))

    # -- in a worker thread: decide, then restore or run ------------------------------------

    def _work(self, name: str) -> StageResult:
        stage = self.dag.stages[name]
        try:
            result = self._decide_and_do(stage)
        except DvxError as exc:
            result = StageResult(name, FAILED, error=str(exc))
        except OSError as exc:
            result = StageResult(name, FAILED, error=fsutil.describe(exc))
        result.started = name in self.started
        return result

    def _decide_and_do(self, stage: Stage) -> StageResult:
        if stage.frozen:
            return _frozen(self.repo, stage, self.locks.get(stage.name))
        state = stage_state(self.repo, stage, self.params, watch=True)
        locked = self.locks.get(stage.name)
        stale = Staleness(["forced"], []) if self.options.force else staleness(
            self.repo, stage, locked, state, self.produced)
        reasons = stale.reasons
        lost = [o for o in stage.out_paths if o in self.unfetched]
        if lost:
            reasons.insert(0, f"its outputs could not be fetched: {', '.join(lost)}")
        holding = outputs_holding_a_repository(self.repo, stage) if self.options.force \
            else stale.holding
        if holding:
            return StageResult(stage.name, FAILED, reasons,
                               names_run_again=partial(_holds_a_repository, holding))
        behind_a_file = outputs_behind_a_file(self.repo, stage, locked) \
            if self.options.force else stale.behind_a_file
        if behind_a_file:
            return StageResult(stage.name, FAILED, reasons,
                               names_run_again=partial(_behind_a_file, behind_a_file))
        if stage.name in self.stray:
            return StageResult(stage.name, FAILED, [
                *reasons, no_clone_has_reason(self.repo.root, self.stray[stage.name],
                                              stage.deps)],
                error=no_clone_has_error(self.repo.root, self.stray[stage.name], stage.deps))
        if not reasons:
            return StageResult(stage.name, UP_TO_DATE, record=self._record_of_current(
                stage, state, locked))
        if state.missing_deps or state.missing_params:
            return StageResult(stage.name, FAILED, reasons,
                               error=_missing_inputs(self.repo.root, self.dag, self.selected,
                                                     self.locks, stage, state))
        if stale.own_data:
            return StageResult(stage.name, FAILED, reasons, names_run_again=partial(
                _own_data_in_outputs, self.repo, stage, stale,
                _in_quotes(self.options.forced_again)))
        if locked is not None and only_behind_git(reasons) and stale.conflicted:
            return StageResult(stage.name, FAILED, reasons, error=_edited_behind_git(
                self.repo, stage, stale.conflicted))
        if locked is not None and only_outdated(reasons):
            checked_out = self._check_out_recorded(stage, locked, reasons)
            if checked_out is not None:
                return checked_out
        if not self.options.force and self.options.run_cache:
            restored = self._restore(stage, state, reasons)
            if restored is not None:
                return restored
        return self._check_out_persisted(stage, locked, reasons) or self._run(
            stage, state, reasons)

    def _record_of_current(self, stage: Stage, state: StageState, locked: StageLock | None
                           ) -> runcache.RunRecord | None:
        """An up-to-date stage's run, to remember if the run-cache does not know it yet."""
        if locked is None or not runcache.cacheable(stage) or not self.options.run_cache:
            return None
        record = runcache.make_record(self.repo, stage, state, locked.outs)
        if runcache.lookup(self.repo, record.stage_key, record.run_key) is not None:
            return None
        return record if runcache.objects_of(self.repo, record) is not None else None

    def _check_out_recorded(self, stage: Stage, locked: StageLock, reasons: list[str]
                            ) -> StageResult | None:
        """The stage is up to date but for outputs dvx.lock records since `git pull` (a
        teammate's run): check them out, never run the command over them. None: the stage
        must run instead (_recorded_outputs)."""
        from dvx.ops.checkout import checkout

        targets = _recorded_outputs(self.repo, stage)
        if targets is None:
            return None
        _set_aside_changed(self.repo, stage, targets)
        done = checkout(self.repo, targets)
        if not done.ok:
            return StageResult(stage.name, FAILED, reasons, error=_not_checked_out(
                [*done.missing, *(p for p, _ in done.skipped)]))
        return StageResult(stage.name, CHECKED_OUT, reasons, lock=locked,
                           ignored_again=done.ignored_again)

    def _check_out_persisted(self, stage: Stage, locked: StageLock | None,
                             reasons: list[str]) -> StageResult | None:
        """Before the stage runs, check out its persistent outputs dvx.lock records since `git
        pull` (_persisted_to_check_out). The failed stage if the cache lacks them."""
        from dvx.ops.checkout import checkout

        targets = _persisted_to_check_out(self.repo, stage, locked, self.unfetched)
        if not targets:
            return None
        _set_aside_changed(self.repo, stage, targets)
        done = checkout(self.repo, targets)
        if done.ok:
            return None
        return StageResult(stage.name, FAILED, reasons, error=_persisted_not_checked_out(
            [*done.missing, *(p for p, _ in done.skipped)]))

    def _restore(self, stage: Stage, state: StageState, reasons: list[str]
                 ) -> StageResult | None:
        from dvx.ops.checkout import checkout

        record = _restorable_record(self.repo, stage, state)
        if record is None:
            return None
        targets = runcache.targets_for(record)
        if _set_aside_changed(self.repo, stage, targets):
            return None
        self.started.add(stage.name)
        self._remove_outputs(stage)
        flags = {o.path: o for o in stage.outs}
        for target in targets:  # Git tracks these: an independent, writable copy
            pointer = target.output.pointer
            if not flags[target.output.path].cache and not pointer.is_dir:
                fsutil.place(self.repo.cache.oid_path(pointer.oid),
                             self.repo.abspath(target.output.path), ("copy",),
                             exec_bit=pointer.executable)
        done = checkout(self.repo, [t for t in targets if flags[t.output.path].cache],
                        force=True, lock_records_later=True)
        # Every output the stage declares must be back, or the stage was not restored: one
        # left out would stay missing while dvx.lock records it.
        absent = [p for p in stage.out_paths if not os.path.lexists(self.repo.abspath(p))]
        if not done.ok or absent:
            log.warning("Could not restore '%s' from the run-cache; running it.", stage.name)
            return None
        outs = tuple(with_declared_flags(o, flags[o.path]) for o in record.outs)
        lock = StageLock(stage.cmd, state.deps, state.params, outs)
        return StageResult(stage.name, RESTORED, reasons, lock=lock,
                           ignored_again=done.ignored_again)

    def _remove_outputs(self, stage: Stage, before_command: bool = False) -> None:
        """`_remove_outputs`, keeping the dropped outputs it deleted (`self.run_over`): a
        restore from the run-cache that fails before the run may have deleted them first.
        `before_command`: the outputs inside a persistent one of entries dvx.lock keeps
        until the stage is recorded (`self.gone`, a stage renamed) stay ignored by Git
        while its command runs (`_unignore_kept_inside` once it succeeded), so a run that
        fails or is stopped leaves them ignored as the entry still recording them says."""
        locked = self.locks.get(stage.name)
        gone = [*self.former, *(self.locks[name] for name in self.gone)]
        former = with_outputs_of_gone(stage, locked, gone)
        kept = {o.path for name in self.gone for o in self.locks[name].outs} \
            if before_command else set()
        deleted = _remove_outputs(self.repo, stage, locked, former, kept)
        self.run_over.setdefault(stage.name, []).extend(deleted)
        self.kept_ignored[stage.name] = ([p for p in deleted if p in kept], former)

    def _unignore_kept_inside(self, stage: Stage) -> None:
        """Take out the .gitignore entries `_remove_outputs` left for the command of
        `stage` to run with, before its persistent outputs are stored as it left them;
        `_ignore_kept_again` puts them back should its run not be recorded."""
        paths, former = self.kept_ignored.pop(stage.name, ([], None))
        _take_out_ignore_entries(self.repo, paths, former)
        self.unignored_kept[stage.name] = paths

    def _ignore_kept_again(self, name: str) -> None:
        """Git ignores again the outputs `_unignore_kept_inside` took out for the stage
        `name`, whose run is not recorded: the entry recording them stays in dvx.lock."""
        for path in self.unignored_kept.pop(name, []):
            gitignore.add_entry(self.repo.abspath(path))

    def _run(self, stage: Stage, state: StageState, reasons: list[str]) -> StageResult:
        self.reporter.starting(stage, reasons)
        self.started.add(stage.name)
        self._remove_outputs(stage, before_command=True)
        linked = linked_inputs(self.repo, stage.deps)  # persistent outputs are copies by now
        on_line: Callable[[str], None] | None = None
        if self.reporter.capture:
            def on_line(text: str) -> None:
                self.reporter.line(stage.name, text)
        cwd = self.repo.abspath(stage.wdir) if stage.wdir else self.repo.root
        ran = self.runner.run(stage.cmd, cwd, on_line,
                              lambda cmd: self.reporter.command(stage.name, cmd))
        written = written_inputs(self.repo, linked)
        if written:
            return StageResult(stage.name, FAILED, reasons, exit_code=ran.exit_code or None,
                               error=_wrote_into_cache(
                                   self.repo, written, self.options.temporary_workspace))
        if ran.exit_code != 0:
            why = (f"exit code {ran.exit_code}" if ran.exit_code > 0
                   else f"killed by signal {-ran.exit_code}")
            return StageResult(stage.name, FAILED, reasons, exit_code=ran.exit_code,
                               error=f"command failed ({why}): {ran.failed_cmd}")
        if ran.left_running:
            return StageResult(stage.name, FAILED, reasons, exit_code=0,
                               error=_left_running(ran.failed_cmd, ran.left_running))
        missing = [o.path for o in stage.outs if not os.path.lexists(self.repo.abspath(o.path))]
        if missing:
            return StageResult(stage.name, FAILED, reasons, exit_code=0,
                               error=f"the command did not create {', '.join(missing)}")
        moved, deps_now = deps_after_run(self.repo, state)
        if moved:  # its outputs may come from either version: dvx.lock would pair the wrong one
            return StageResult(stage.name, FAILED, reasons, exit_code=0, error=(
                f"its dependencies changed while its command ran ({', '.join(moved[:5])}"
                f"{' and more' if len(moved) > 5 else ''}), so its outputs may come from "
                "either version; nothing of this run was recorded. Run it again once they "
                "are what you want: a run that leaves them as they were is recorded (a command "
                "that changes its own input is, once it finds it as it leaves it; files it "
                "writes into a folder it depends on, other than Python's __pycache__, "
                "belong in .dvxignore)."))
        # A folder dependency whose __pycache__ changed meanwhile is recorded as the
        # command left it, in dvx.lock and the run-cache alike: the next repro finds it so.
        state = replace(state, deps=deps_now)
        moved = params_moved(self.repo, stage, state, self.params)
        if moved:  # its outputs may come from either value: dvx.lock would pair the wrong one
            return StageResult(stage.name, FAILED, reasons, exit_code=0, error=(
                f"its params changed while its command ran ({', '.join(moved[:5])}"
                f"{' and more' if len(moved) > 5 else ''}), so its outputs may come from "
                "either value; nothing of this run was recorded. Run it again once they "
                "are what you want."))
        self.command_ended.add(stage.name)
        faults.point("repro.after_command")
        self._unignore_kept_inside(stage)
        outs = []
        to_link: list[ToLink] = []
        # A failure before the result is made (an output that cannot be stored, an uncached
        # one that cannot be copied for the run-cache) gives back those stored before it; a
        # stop, the scheduler gives back (`_give_back_unrecorded`).
        with given_back_unless_recorded(self.repo) as made_links:
            for out in stage.outs:
                if self.stopping.is_set():  # nothing is recorded: the rest stay out of the cache
                    return StageResult(stage.name, FAILED, reasons,
                                       error="the run was stopped", linked=made_links)
                if out.cache:
                    stored = store(self.repo, out.path, linked=made_links)
                    self.cached.add(out.path)
                    p, to_link = stored.pointer, to_link + stored.to_link
                    outs.append(LockedPath(out.path, p.oid, p.size, p.nfiles, p.executable,
                                           True, out.push, out.remote))
                else:
                    current = out_state(self.repo, out)
                    assert current is not None
                    outs.append(current)
            lock = StageLock(stage.cmd, state.deps, state.params, tuple(outs))
            record, note = None, None
            if self.options.run_cache and not self.stopping.is_set():
                note = runcache.why_not_kept(stage) or self._keep_uncached(stage)
                if note is None:
                    record = runcache.make_record(self.repo, stage, state, outs)
            return StageResult(stage.name, RAN, reasons, exit_code=0, lock=lock, record=record,
                               note=f"not kept in the run-cache: {note}" if note else None,
                               to_link=to_link, linked=made_links)

    def _keep_uncached(self, stage: Stage) -> str | None:
        """Copy the outputs Git tracks (`cache: false`) into the cache for the run-cache; only
        files are kept this way. Why the run cannot be kept, if it cannot."""
        for out in stage.outs:
            if out.cache:
                continue
            full = self.repo.abspath(out.path)
            if os.path.isdir(full) and not os.path.islink(full):
                return (f"its output {out.path} is a directory Git tracks (cache: false), "
                        "which the run-cache cannot hold")
            self.repo.cache.add_file(full, ("copy",))
            self.cached.add(out.path)
        return None

    # -- in the scheduler's thread: record ------------------------------------------------

    def _record_outputs(self, old: StageLock | None, new: StageLock) -> None:
        """Keep self.produced as produced_outputs(self.locks) once `new` replaces `old`."""
        produced = dict(self.produced)
        for out in old.outs if old is not None else ():
            produced.pop(out.path, None)
        produced.update((o.path, o) for o in new.outs if o.cache)
        self.produced = produced

    def _update_gitignore(self, stage: Stage, ignored_again: list[str], run_over: list[str]
                          ) -> _Unrecorded:
        """Git ignores the cached outputs, also past a `!` rule that would take one back in
        (`ignore_after_rules_taking_back`, as add and commit); an output switched to `cache:
        false` (dvx.lock still records it cached: the entry is the one dvx wrote) is Git's
        again, and no longer data dvx placed (so no checkout takes it for data left behind:
        its sync record goes once its stage is recorded, `changes.uncached`).
        The entries of `ignored_again` were written by the checkout that placed the outputs:
        changed too, for `git add`, though found here. What it changed, for a refused record
        to put back. The entries of the dropped outputs its run deleted (`run_over`) go: each
        would ignore the outputs in it. A .gitignore the run deleted with the output holding
        it (one of dvx's entries alone: outputs_in_git) has its removal for Git to record.
        So does one whose entries for these outputs Git's index has otherwise, changed here
        or not (`ignore_files_unlike_git_s`: a run killed before dvx.lock was written), and
        one of dvx's own in an output that an earlier command deleted, its removal still not
        in Git's index (`own_gitignores_removed`)."""
        changes = _Unrecorded()
        for out in stage.outs:
            full = self.repo.abspath(out.path)
            if out.cache:
                if gitignore.add_entry(full):
                    changes.added.append(full)
                changed = full in changes.added or out.path in ignored_again
            elif out.path in self.produced:
                changed = gitignore.remove_entry(full) is not None
                if changed:
                    changes.removed.append(full)
                changes.uncached.append(out.path)
            else:
                continue
            if changed:
                self.touched.append(posixpath.join(posixpath.dirname(out.path), ".gitignore"))
        for path in run_over:
            full = self.repo.abspath(path)
            ignore_file = posixpath.join(posixpath.dirname(path), ".gitignore")
            if gitignore.remove_entry(full) is not None:
                changes.removed.append(full)
                self.touched.append(ignore_file)
            elif not os.path.lexists(self.repo.abspath(ignore_file)):
                self.touched.append(ignore_file)
        cached = [out.path for out in stage.outs if out.cache]
        self.touched += ignore_after_rules_taking_back(self.repo, cached)
        self.touched += ignore_files_unlike_git_s(self.repo, cached + run_over)
        self.touched += own_gitignores_removed(self.repo, cached)
        return changes

    def _put_back(self, changes: _Unrecorded, touched: int) -> None:
        """Undo what recording a stage changed before its record was refused: its .gitignore
        entries as they were, no pending record of an output dvx.lock will not name, and no
        file of it to stage in Git (`self.touched` from `touched` on)."""
        for full in changes.added:
            gitignore.remove_entry(full)
        for full in changes.removed:
            gitignore.add_entry(full)
        for path in changes.expected:
            self.repo.syncstate.drop_expected(path)
        self.repo.syncstate.flush()
        del self.touched[touched:]

    def _dropped_outs(self, old: StageLock | None, run_over: list[str]) -> list[str]:
        """The cached outputs `old` recorded that its stage no longer has (nor any stage of
        dvx.yaml), but those its run deleted (`run_over`): the rest are handed over."""
        return [o.path for o in (old.outs if old is not None else ())
                if o.cache and o.path not in self.declared and o.path not in run_over]

    def _drop_replaced(self, new: StageLock) -> list[str]:
        """The entries of stages gone from dvx.yaml (kept by a run of some stages) that
        record an output `new` now records, or one inside or around it (a stage renamed)
        are dropped: dvx.lock never records data twice. Their outputs no stage has any
        longer."""
        replaced = [n for n in self.gone
                    if any(overlaps(o.path, out.path)
                           for o in self.locks[n].outs for out in new.outs)]
        if not replaced:
            return []
        self.gone = [n for n in self.gone if n not in replaced]
        self.dropped += replaced
        self.own.update(replaced)
        left = _drop_entries(self.dag, self.locks, replaced, pointed_paths(self.repo))
        self.produced = {p: o for p, o in self.produced.items() if p not in left}
        return left

    def _finish(self, result: StageResult) -> None:
        if result.names_run_again is not None:
            result.error = result.names_run_again(self._refused_run_again())
        self.results[result.name] = result
        if result.outcome not in OK:
            self.unsuccessful.add(result.name)
        if result.lock is not None and not self.still_declared(self.dag.stages[result.name]):
            self.undecided.append(result)
        else:
            self._release_downstream(result.name)
            self._record(result)
            if result.outcome not in OK:
                self._ignore_kept_again(result.name)
            self.unignored_kept.pop(result.name, None)
        faults.point("repro.before_run_record")
        if result.record is not None:
            try:
                runcache.save(self.repo, result.record)
            except OSError as exc:
                log.warning("Could not record the run of '%s' in the run-cache: %s",
                            result.name, fsutil.describe(exc))
        self.reporter.finished(result)
        self._stop_if_failed(result)

    def _refused_run_again(self) -> str:
        """The command that a stage refused before its command ran, finishing now, says to
        run again: an `exp run` puts the params it set back when none of its stages started
        (exps/run.py), which is known once none has, none is in hand, and none starts after
        a failure: the run as typed then (`again`), with the params kept once one started
        (`again_once_run`); the run's last line names it while other stages are in hand."""
        options = self.options
        if options.again_once_run in ("", options.again) or self.started:
            return f"`dvx {options.failed_stage_again()}`"
        if not self.in_hand and not options.keep_going:
            return f"`dvx {options.again}`"
        return f"the `dvx {options.command}` the run's last line names"

    def _stop_if_failed(self, result: StageResult) -> None:
        """Once a stage failed (run, or refused when recorded), no new stage starts, unless
        keep_going."""
        if result.outcome == FAILED and not self.options.keep_going:
            self.stopped_by = self.stopped_by or result.name

    def _settle(self, final: bool) -> None:
        """Record the `undecided` stages dvx.yaml declares as they ran by now; once `final`
        (no command runs: dvx.yaml is as the pipeline leaves it), the others are unrecorded."""
        for result in list(self.undecided):
            if self.still_declared(self.dag.stages[result.name]):
                self._release_downstream(result.name)
                self._record(result)
                if result.outcome == FAILED:  # said done already: say it failed
                    self.reporter.finished(result)
                    self._stop_if_failed(result)
            elif final:
                self._release_downstream(result.name)
                self.unrecorded.append(result.name)
                give_back(self.repo, result.linked)  # no dvx.lock names their objects
            else:
                continue
            self.undecided.remove(result)

    def unrecorded_message(self) -> str:
        """What to say of the `unrecorded` stages (_unrecorded_message)."""
        return _unrecorded_message(self.dag, self.unrecorded, {
            name for name in self.unrecorded if self.results[name].outcome != RAN},
            self.options.command)

    def _release_downstream(self, name: str) -> None:
        """The selected stages waiting for `name` alone are ready."""
        for child in self.dag.downstream[name] & self.chosen:
            self.waiting[child] -= 1
            if not self.waiting[child]:
                heapq.heappush(self.ready, (self.place[child], child))

    def _record(self, result: StageResult) -> None:
        """Record the run or restore of a stage dvx.yaml declares as it ran: .gitignore,
        dvx.lock, the outputs' links to the cache. Stopped or failing before dvx.lock names
        their objects, it gives back the outputs storing made hard links of them. A stage
        whose records changed on disk meanwhile (RecordsAsRead) fails instead, recording
        nothing, also when its run gives the entry dvx.lock had when it started: dvx.lock
        may have another one now."""
        if result.lock is not None:
            stage = self.dag.stages[result.name]
            old = self.locks.get(result.name)
            same = self.lock_writer.same_entry(result.name, old, result.lock)
            with given_back_unless_recorded(self.repo) as unnamed:
                if not same:  # else dvx.lock names their objects already
                    unnamed += result.linked
                # A check-out of the recorded outputs is no run that could undo a change.
                if not same or result.outcome != CHECKED_OUT:
                    changed = self.as_read.changed(stage, self.own)
                    if changed is not None:
                        self._refuse_record(result, changed)
                        return
                touched = len(self.touched)
                run_over = self.run_over.get(result.name, [])
                changes = self._update_gitignore(stage, result.ignored_again, run_over)
                # The workspace holds what dvx.lock is about to record: pending records,
                # written before dvx.lock is, so that a run killed between the two never
                # makes an output look changed in Git (dvx/syncstate.py).
                synced = {locked.path: Synced.whole(locked.oid, locked.is_dir,
                                                    locked.executable)
                          for locked in result.lock.outs if locked.cache}
                for path, record in synced.items():
                    if self.repo.syncstate.get(path) != record:
                        self.repo.syncstate.expect_in_lock(path, record)
                        changes.expected.append(path)
                self.repo.syncstate.flush()
                # Outputs Git tracks (metrics, plots: cache: false) may have changed: the git
                # add hint and autostage take those that did (see _stage_in_git).
                self.touched += [o.path for o in stage.outs if not o.cache]
                if not same:
                    faults.point("repro.before_lock_write")
                    before = self._as_recorded()
                    self._record_outputs(old, result.lock)
                    self.locks[result.name] = result.lock
                    self.own.add(result.name)
                    left = [p for p in self._drop_replaced(result.lock) if p not in run_over]
                    left += self._dropped_outs(old, run_over)
                    make_users_own(self.repo, left, ignored_by_git=True)
                    holding = holding_outputs(self.repo, left, self.declared)
                    removed, ignore_files = _unignore(self.repo, holding)
                    changes.removed += removed
                    self.touched += ignore_files
                    written, changed = self._write_lock(stage, unnamed)
                    if changed is not None:  # its records changed while dvx.lock was written
                        self._take_back_record(before)
                        self._put_back(changes, touched)
                        self._refuse_record(result, changed)
                        return
                    if written:
                        self.lock_written = True
                        self.touched.append(LOCK_FILE)
                        forget_recorded(self.repo)  # the stages after it read its new outputs
                    no_longer_data(self.repo, left)
                    self.left_ignored += [p for p in left if p not in holding]
                    self.unignored.update(holding)
            for path, record in synced.items():
                self.repo.syncstate.record(path, record)
            for path in changes.uncached:  # no longer data dvx placed
                self.repo.syncstate.forget(path)
            link_stored(self.repo, result.to_link)

    def _write_lock(self, stage: Stage, unnamed: list[Linked]) -> tuple[bool, str | None]:
        """Write dvx.lock with `self.locks`, the entries of the stages this run recorded
        (`self.own`, `stage`'s among them) over what the file holds now (`take_in`): a `git
        pull` landing while its new bytes are written is taken in too, checked last before
        the rename (`LockWriter.write_unmoved`). Whether its bytes changed, and what changed
        of `stage`'s records meanwhile (RecordsAsRead.changed), with nothing written then:
        asked before each `take_in` of a file that moved, which would take the change in
        but for the entries of `self.own`, written over it. Once dvx.lock is written,
        `unnamed` is emptied (`_write_naming`)."""
        while True:
            faults.point("repro.before_lock_take_in")
            if self.lock_writer.moved():
                changed = self.as_read.changed(stage, self.own)
                if changed is not None:
                    return False, changed
            if self.lock_writer.take_in(self.locks, self.own):
                self.produced = produced_outputs(self.locks)
                log.warning("%s changed on disk while %s ran (a `git merge`, `git "
                            "pull` or `git checkout`?): only the entries of the "
                            "stages this run recorded are written into it, the "
                            "others kept as it has them now.", LOCK_FILE,
                            self.options.command)
            try:
                return _write_naming(self.lock_writer, self.locks, unnamed, unmoved=True), None
            except LockMoved:  # taken in next round, unless it changed this stage's
                continue

    def _as_recorded(self) -> _Recorded:
        """What recording a stage changes of the run's records, as they are before it."""
        return _Recorded(dict(self.locks), set(self.own), list(self.gone), list(self.dropped))

    def _take_back_record(self, before: _Recorded) -> None:
        """Take a stage's refused record out of `self.locks` (in place, as the workers read
        it): the entries it set or dropped, those not in `before.own` (the stages this run
        had recorded before), are as they were in `before.locks`; the file's version of them
        is taken in next (`take_in`), as of any stage this run did not record. The others
        stay as `take_in` made them meanwhile. The entries of stages gone from dvx.yaml it
        dropped are kept again, and no longer said dropped."""
        for name in self.own - before.own:
            if name in before.locks:
                self.locks[name] = before.locks[name]
            else:
                self.locks.pop(name, None)
        self.own.intersection_update(before.own)
        self.gone, self.dropped = before.gone, before.dropped
        self.produced = produced_outputs(self.locks)

    def _refuse_record(self, result: StageResult, changed: str) -> None:
        """Fail the stage of `result`, whose records `changed` on disk since the run read
        them (RecordsAsRead.changed): nothing of its run is recorded, and its outputs that
        storing made links of their objects are files of their own again."""
        give_back(self.repo, result.linked)
        ran = "its command wrote" if result.outcome == RAN else "restored from the run-cache"
        outs = ", ".join(self.dag.stages[result.name].out_paths)
        result.outcome, result.lock, result.record, result.to_link = FAILED, None, None, []
        command = self.options.command
        # An experiment is recorded only by the run of its pipeline as typed (its -n, -S)
        again = f"{command} {result.name}" if command == "repro" or not self.options.again \
            else self.options.again_once_run or self.options.again
        result.error = (
            f"{changed} while {command} ran (a `git checkout` or `git pull`, say), so its "
            "run is not recorded: it ran on what was there before that change, and "
            f"recording it would undo it. The outputs {ran} stay in the "
            f"workspace, not recorded in {LOCK_FILE}: {outs}. Run `dvx status` to see where "
            f"it stands now, then `dvx {again}` again to run it on what is "
            "there now")
        self.unsuccessful.add(result.name)


def _unrecorded_message(dag: Dag, names: list[str], restored: Collection[str],
                        running: str = "repro") -> str:
    """What to say of the stages `names` run, or `restored` from the run-cache, whose run
    is not recorded as dvx.yaml no longer declares them as run: the outputs a command wrote
    stay as it left them, files of their own (`give_back`), those restored as placed.
    `running`: the dvx command running (repro, exp run)."""
    which, _ = _stages_and_commands(names)
    said = [f"{PIPELINE_FILE} changed while {running} ran (a `git checkout` of another branch or "
            f"commit, or an edit): it no longer declares the {which} as run, so "
            f"{'its' if len(names) == 1 else 'their'} run is not recorded in {LOCK_FILE} "
            "(nor in .gitignore)."]
    ran = [n for n in names if n not in restored]
    outs = [o for n in ran for o in dag.stages[n].out_paths]
    if outs:
        _, command = _stages_and_commands(ran)
        said.append(f"The outputs {'its' if len(ran) == 1 else 'their'} {command} wrote stay "
                    f"in the workspace as {'it' if len(ran) == 1 else 'they'} left them, each "
                    f"a file of its own, not a link into the cache: {', '.join(outs)}.")
    outs = [o for n in names if n in restored for o in dag.stages[n].out_paths]
    if outs:
        said.append("The outputs restored from the run-cache (no command ran) stay in the "
                    f"workspace as placed: {', '.join(outs)}.")
    said.append(f"Run `dvx {running}` on the branch whose {PIPELINE_FILE} you mean to run.")
    return " ".join(said)


def _wrote_into_cache(repo: Repo, written: list[LinkedInput], temporary: bool) -> str:
    """Set aside the objects the stage's command wrote into through its dependencies (the
    workspace files linked to them keep the bytes it wrote); why the stage failed, and how
    to get the recorded data back wherever a link to them no longer holds it: here, and in
    the other worktrees sharing the cache. `temporary`: the workspace is a queued run's,
    removed after it, so nothing here is to be mended."""
    moved = set_aside_changed(repo, [item.oid for item in written])
    where = {item.oid: moved[item.oid][0] if item.oid in moved else None for item in written}
    named = ", ".join(f"'{item.path}'" for item in written)
    typed = " ".join(for_command(repo.root, item.path) for item in written)
    one = len(written) == 1
    quarantine = next(iter(where.values())) if one and None not in where.values() else \
        os.path.join(repo.cache.root, "quarantine")
    said = (f"{named}, {'a link' if one else 'links'} into the cache (cache.type "
            f"{','.join(repo.link_types)}), {'was' if one else 'were'} written into while its "
            "command ran (by it, or by a command running beside it), so the cache no longer "
            f"holds the data recorded there: {'its object is' if one else 'their objects are'} "
            f"moved to {quarantine}, ")
    if temporary:
        said += "which holds what was written, and this run records nothing."
    else:
        said += (f"{named} now {'holds' if one else 'hold'} what was written, and {LOCK_FILE} "
                 "records nothing of this run. The recorded data comes back from a remote "
                 f"that has it (`dvx pull --force {typed}`, or `dvx fetch` then `dvx checkout "
                 f"--force {typed}`).")
    elsewhere = linked_elsewhere(repo, where)
    said += "".join(_linked_elsewhere_advice(other, one) for other in elsewhere)
    if not temporary:
        return (f"{said} For a command to change its input, run `dvx unprotect {typed}` first "
                "(a copy of its own), or have it write a new file")
    shared = repo.shared_dvx_dir
    if not elsewhere and shared is not None:
        said += (" The recorded data comes back into the cache from a remote that has it "
                 f"(`dvx fetch` in {os.path.dirname(shared)}).")
    return (f"{said} This is a queued run's workspace, removed after it: for the command to "
            "change its input, declare the stage to write a new file instead, or have the "
            "workspace hold copies of the data, not links (`dvx config cache.type copy`)")


def _linked_elsewhere_advice(other: LinkedElsewhere, one_object: bool) -> str:
    """What became of another worktree's files linked to objects set aside, and how to get
    their recorded data back there."""
    names = ", ".join(f"'{path}'" for path in other.paths)
    typed = " ".join(for_command(other.workspace, p, other.workspace) for p in other.paths)
    lacks = "holds the data its pointer records" if len(other.paths) == 1 else \
        "hold the data their pointers record"
    return (f" In the worktree {other.workspace}, {names} linked to "
            f"{'it' if one_object else 'them'} too, and no longer {lacks}: there, "
            f"`dvx pull --force {typed}` brings it back from a remote that has it.")


def _set_aside_changed(repo: Repo, stage: Stage, targets: list[Target]) -> bool:
    """Before outputs are placed from the cache: set aside their objects that no longer hash
    to their oids (written in place through a link to them, say), so that a damaged object is
    never placed again; whether any was. (Only an object not known intact is hashed:
    `LocalCache.intact`.)"""
    changed = changed_in_cache(repo, targets)
    if not changed:
        return False
    for oid, (moved, kept) in set_aside_changed(repo, changed).items():
        kept = [p for p in kept if not any(overlaps(p, o) for o in stage.out_paths)]
        log.warning("The cached object %s of an output of stage '%s' no longer holds its "
                    "bytes (changed through a link to it?): moved to %s, and not placed "
                    "again.%s", oid, stage.name, moved, kept_message(kept))
    return True


def _remove_outputs(repo: Repo, stage: Stage, locked: StageLock | None,
                    former: StageLock | None, kept: Collection[str] = ()) -> list[str]:
    """Delete what the stage will produce, so nothing stale survives a failed run; outputs
    that persist between runs are kept, as writable copies the command may change. Files
    .dvxignore keeps out of an output directory are not its data (never cached, so nothing
    could bring them back) and stay, unless the manifest `locked` records names them.
    The dropped outputs (those `former`, its entry with the outputs there of stages gone
    from dvx.yaml, records: `with_outputs_of_gone`) deleted as in the way of its outputs'
    folders, or now inside a persistent one (`_dropped_outputs_kept_inside`, Git still
    ignoring those `kept`)."""
    manifests = {o.path: o.oid for o in locked.outs if o.is_dir} if locked else {}
    _record_as_placed(repo, stage, locked)
    run_over = _remove_dropped_outputs_in_the_way(repo, stage, former)
    for out in stage.outs:
        full = repo.abspath(out.path)
        if out.persist:
            run_over += _dropped_outputs_kept_inside(repo, out.path, stage, former, kept)
            if os.path.lexists(full):
                _make_editable(repo, full)
            continue
        if os.path.lexists(full):
            delete_tracked_data(repo, out.path, manifests.get(out.path))
        fsutil.makedirs(os.path.dirname(full))
    return run_over + _dropped_outputs_deleted_inside(repo, stage, former)


def _dropped_outputs_deleted_inside(repo: Repo, stage: Stage, locked: StageLock | None
                                    ) -> list[str]:
    """The outputs `locked` records that the stage no longer declares, inside one it does
    (`res/a.txt` of the output that became `res`), that deleting that output deleted: no
    longer dvx's data, nor the user's to keep (their sync records go). Those deleted."""
    if locked is None:
        return []
    deleting = [out.path for out in stage.outs if not out.persist]
    deleted = [o.path for o in locked.outs
               if o.cache and o.path not in stage.out_paths
               and any(o.path.startswith(path + "/") for path in deleting)
               and not os.path.lexists(repo.abspath(o.path))]
    no_longer_data(repo, deleted)
    return deleted


def _dropped_outputs_kept_inside(repo: Repo, persistent: str, stage: Stage,
                                 locked: StageLock | None, kept: Collection[str] = ()
                                 ) -> list[str]:
    """The outputs `locked` records that the stage no longer declares, inside its output
    `persistent` (`res/a.txt` of the output that became `res`, `persist: true`): the run
    keeps them as data of `persistent`, so they are no longer outputs of their own (their
    sync records go), and the entries dvx wrote for them in the .gitignore there go before
    the run, so that `persistent` is recorded as it stays: that .gitignore is deleted when
    it holds their entries alone (`ignores_recorded_outputs_only`), else it keeps the
    user's rules, as data of `persistent`; but those of the outputs `kept` (of an entry
    dvx.lock still records), taken out once the command succeeded. Those."""
    if locked is None:
        return []
    inside = [o.path for o in locked.outs
              if o.cache and o.path not in stage.out_paths
              and o.path.startswith(persistent + "/")]
    _take_out_ignore_entries(repo, [p for p in inside if p not in kept], locked)
    no_longer_data(repo, inside)
    return inside


def _take_out_ignore_entries(repo: Repo, paths: list[str], locked: StageLock | None) -> None:
    """Take the .gitignore entries dvx wrote for the outputs at `paths` (which `locked`
    records) out, deleting a .gitignore that holds such entries alone."""
    for folder in sorted({posixpath.dirname(path) for path in paths}):
        ignore_file = posixpath.join(folder, ".gitignore")
        if os.path.lexists(repo.abspath(ignore_file)) \
                and ignores_recorded_outputs_only(repo, ignore_file, locked):
            os.unlink(repo.abspath(ignore_file))
    for path in paths:
        gitignore.remove_entry(repo.abspath(path))


def _remove_dropped_outputs_in_the_way(repo: Repo, stage: Stage, locked: StageLock | None
                                       ) -> list[str]:
    """Delete the outputs `locked` records that the stage no longer declares and that stand
    where folders of its outputs go (`dropped_outputs_in_the_way`: their data is in the
    cache), and their sync records: no longer dvx's data, nor the user's to keep. Those
    deleted."""
    dropped = dropped_outputs_in_the_way(repo, stage, locked)
    for path in dropped:
        os.unlink(repo.abspath(path))
    no_longer_data(repo, dropped)
    return dropped


def _record_as_placed(repo: Repo, stage: Stage, locked: StageLock | None) -> None:
    """Whatever the run about to start leaves at the stage's outputs (all of it, stopped or
    failed half-way) is dvx's, never data of the user's own (staleness `_own_data`): each
    recorded output with no sync record gets one, of what dvx.lock records, written before
    the outputs are deleted."""
    recorded = {o.path: o for o in locked.outs if o.cache} if locked else {}
    for out in stage.outs:
        old = recorded.get(out.path)
        if old is not None and out.cache and not out.persist \
                and repo.syncstate.get(out.path) is None:
            repo.syncstate.record(out.path, Synced.whole(old.oid, old.is_dir, old.executable))
    repo.syncstate.flush()


def _make_editable(repo: Repo, full: str) -> None:
    paths = [full]
    if os.path.isdir(full) and not os.path.islink(full):
        walk = walk_directory(full)  # os.walk would recurse, once per level
        paths = [e.path for e in walk.files] + [join_posix(full, rel) for rel in walk.symlinks]
    for path in paths:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) and repo.cache.object_for_symlink(
                os.path.realpath(path)) is None:
            continue  # not a link dvx made: leave it alone
        if stat.S_ISLNK(st.st_mode) or st.st_nlink > 1:  # shares its bytes with the cache
            executable = fsutil.is_executable(os.stat(path).st_mode)
            fsutil.place(os.path.realpath(path), path, ("copy",), exec_bit=executable)
        else:
            fsutil.make_writable(path)


def _stage_in_git(repo: Repo, touched: list[str], result: ReproResult) -> None:
    """Stage (core.autostage) or list for `git add` the files Git tracks that repro changed:
    dvx.lock, committed inputs' pointers, .gitignore entries, outputs with `cache: false`
    (`stage_for_git`)."""
    staging = stage_for_git(repo, touched)
    result.ignored_by_git = staging.ignored
    result.staged, result.to_stage = staging.staged, staging.to_stage


# -- dvx status ------------------------------------------------------------------------------

@dataclass
class StageStatus:
    name: str
    reasons: list[str]  # empty: up to date
    frozen: bool = False
    own_data: Sequence[str] = ()  # OWN_DATA_OUTS: outputs over which `repro` refuses to run
    # FORMER_ALGORITHM_OUTS, among `own_data`: {output: the algorithm the cache holds it under}
    former_algorithm: Mapping[str, str] = field(default_factory=dict)
    # why whether it is up to date cannot be told (a file it reads or writes that dvx may
    # not read): then it is neither up to date nor stale
    unknown: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name,
                "stale": None if self.unknown else bool(self.reasons),
                "reasons": self.reasons, "frozen": self.frozen, "unknown": self.unknown}


def _not_told_why(path: str) -> str:
    return f"whether it is up to date cannot be told: '{path}' cannot be read (see below)"


@dataclass
class PipelineStatus:
    stages: list[StageStatus]  # every stage of dvx.yaml, in the order they run
    # the stages dvx.lock records while dvx.yaml is missing or says nothing of stages:
    # repro refuses to run
    recorded_while_none_declared: list[str] = field(default_factory=list)
    pipeline_missing: bool = False  # there is no dvx.yaml
    # the output folders of stale stages whose run `repro` refuses (uncommitted_outputs)
    uncommitted: list[UncommittedOutput] = field(default_factory=list)
    # while a stage is stale, the cached outputs of any stage that stop a run of the whole
    # pipeline (`repro` refuses every stage it selects over one: outputs_in_git)
    in_git: list[OutputInGit] = field(default_factory=list)
    # while a stage is stale, the tracked inputs of any stage holding a repository of their
    # own, each with its `.git` or `.dvx`: `repro` refuses (inputs_holding_a_repository)
    holding: list[tuple[str, str]] = field(default_factory=list)


def inputs_holding_a_repository(repo: Repo, dag: Dag, selected: Collection[str]
                                ) -> list[tuple[str, str]]:
    """(path, the `.git` or `.dvx` in it) of the data tracked with `dvx add` that the stages
    `selected` (frozen ones left out) read and that holds a repository of its own, as
    `_read_inputs` refuses it: which of its files changed cannot be told."""
    deps = _inputs(dag, list(selected))
    found = []
    for output in all_outputs(repo):
        if output.stage is None and any(overlaps(output.path, d) for d in deps):
            entry = repository_held(repo, output.path)
            if entry is not None:
                found.append((output.path, entry))
    return found


def pipeline_status(repo: Repo) -> PipelineStatus:
    """Every stage of dvx.yaml with why it is stale (an empty list if it is up to date), and
    the stages dvx.lock records that a missing or emptied dvx.yaml no longer declares."""
    pipeline = load_pipeline(repo)
    if pipeline is None:
        return PipelineStatus([], recorded_without_pipeline(repo), pipeline_missing=True)
    dag = build_dag(pipeline)
    locks = repo.read_lock()
    reader = ParamsReader(repo)
    produced = produced_outputs(locks)
    left_out = tracked_data_left_out(
        repo, list(dict.fromkeys(dep for stage in dag.stages.values() for dep in stage.deps)))
    # As a run of the whole pipeline finds it (`repro`): dropped entries' outputs are leftovers
    stray = inputs_no_clone_has(repo, dag, dag.stages, locks,
                                [n for n in locks if n not in dag.stages])
    statuses = []
    for name in dag.order():
        stage = dag.stages[name]
        if stage.frozen:
            statuses.append(StageStatus(name, [], frozen=True))
            continue
        try:
            state = stage_state(repo, stage, reader,
                                on_untrackable=lambda exc: warn_untrackable(repo, exc))
            stale = staleness(repo, stage, locks.get(name), state, produced, left_out)
        except UnreadableError as exc:  # named at the end; the other stages still reported
            repo.unreadable.setdefault(exc.path, exc)
            statuses.append(StageStatus(name, [], unknown=_not_told_why(exc.path)))
            continue
        reasons = stale.reasons
        # Said of the outputs themselves (not checked out: `dvx checkout` brings them).
        reasons = [] if only_behind_git(reasons) else reasons
        if name in stray:
            reasons.append(no_clone_has_reason(repo.root, stray[name], stage.deps))
        statuses.append(StageStatus(name, reasons, own_data=stale.own_data,
                                    former_algorithm=stale.former_algorithm))
    stale_names = [s.name for s in statuses if s.reasons]
    uncommitted = uncommitted_outputs(repo, dag, stale_names, locks)
    repo.statcache.flush()
    # as a plain repro selects
    in_git = outputs_in_git(repo, dag, dag.stages, locks) if stale_names else []
    holding = inputs_holding_a_repository(repo, dag, dag.stages) if stale_names else []
    return PipelineStatus(statuses, recorded_while_none_declared(pipeline, locks),
                          uncommitted=uncommitted, in_git=in_git, holding=holding)
