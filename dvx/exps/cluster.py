"""Queued experiments on a Dask cluster (`dvx queue start --dask ADDRESS`, dvx's extra `dask`).

Nothing depends on a shared disk: before submitting, the queued snapshots' inputs go to the
dvx remote and the snapshots themselves (refs/exps-queue/<snapshot>/<name>) to the Git remote.
Each task clones the Git remote on its worker, checks the snapshot out, pulls its inputs, runs
`dvx exp run`, and `dvx exp push`es the experiment (data, then ref) back. When the tasks are
done, the submitting repository pulls the experiments like any others (`dvx exp pull`).

An experiment a queued run records names the snapshot it ran from (`queued_snapshot`), so an
outcome that never came back (the client interrupted, the scheduler lost, a worker killed
after its push) is read from the Git remote: the entry is done if the remote has its
experiment, else it stays queued with its snapshot.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from dvx import faults, fsutil
from dvx.errors import (
    NOTHING_HALF_WRITTEN,
    STOPPED_BY,
    DvxError,
    Interrupted,
    UsageError,
    install_extra_hint,
    stop_status,
)
from dvx.experiment_refs import experiments, git_of, queued_snapshot, ref_of
from dvx.exps.published import left_published, published_ref, unpublish
from dvx.exps.queue import (
    DONE,
    FAILED,
    QUEUE_REFS,
    QUEUED,
    STOPPED,
    Entry,
    dask_waiting,
    entries,
    keep_queued,
    load_entry,
    log_path,
    mark_published,
    mark_running_elsewhere,
    name_taken,
    record_outcome,
    unpublish_entries,
    warn_damaged,
)
from dvx.exps.share import pull_experiments, remote_experiments
from dvx.history import Scope, scope_targets
from dvx.logs import get_logger, shell_quote
from dvx.ops.sync import push
from dvx.process_groups import process_alive
from dvx.remote.backends import redact_urls
from dvx.repo import Repo
from dvx.scm import Git
from dvx.self_command import dvx_argv
from dvx.stop_signals import stops_held

log = get_logger(__name__)


def start_on_dask(repo: Repo, address: str, git_remote: str = "origin",
                  say: Callable[[str], None] = lambda text: None) -> list[Entry]:
    try:
        import distributed
    except ImportError:
        raise UsageError("Running experiments on Dask needs dask.distributed.",
                         install_extra_hint("dask")) from None
    _check_address(address)
    found = entries(repo)  # puts back those a `queue start --dask` that died left running
    warn_damaged(found)
    queued = [e for e in found if e.state == QUEUED]
    if not queued:
        return []
    # Each task runs with this clone's config.local, so a core.hash of the user's own that
    # the repository's data is not named by would make every run refuse on its worker:
    # refused here before anything is published, the entries staying queued, as `queue
    # start` refuses.
    repo.refuse_own_hash_setting()
    handled = list(queued)
    git = git_of(repo)
    try:
        url = git.run("remote", "get-url", "--", git_remote).decode().strip()
    except DvxError:
        raise UsageError(f"There is no Git remote '{git_remote}' for the workers to clone.",
                         "Pass --git-remote NAME.") from None
    done: list[Entry] = []
    unpublished = False
    try:
        with _quiet(distributed):
            queued = _not_taken(repo, git_remote, queued, done, say)
            if queued:
                with _connected(distributed, address) as client, dask_waiting(repo):
                    _publish(repo, git_remote, queued)
                    _run_tasks(repo, client, distributed, url, git_remote, queued, done, say)
            left = _unpublish(repo, git_remote, handled)
            unpublished = True
        if left:
            log.warning("%s %s", *left_published(repo, git_remote, left))
        finished = _finished_refs(done)
        if finished:
            pull_experiments(repo, git_remote, finished)
    except (KeyboardInterrupt, Interrupted) as stop:  # Interrupted: a push's or pull's
        # The client is closed by now: the tasks still queued on the cluster are dropped,
        # and those running fetched their snapshots when they started.
        left = [] if unpublished else _unpublish_once_stopped(repo, git_remote, handled)
        if not _finished_refs(done) and not left:
            raise
        raise _stopped_leaving(stop, git_remote, done,
                               left_published(repo, git_remote, left) if left else None) from None
    return done


def _finished_refs(done: list[Entry]) -> list[str]:
    """The experiments of the entries recorded as done, by full ref: only what ran here, not
    the Git remote's experiments of the same name on other baselines."""
    return [ref_of(e.baseline, e.name) for e in done if e.state == DONE]


def _stopped_leaving(stop: BaseException, git_remote: str, done: list[Entry],
                     left: tuple[str, str] | None) -> Interrupted:
    """What a stop says when it leaves something to do: the entries recorded as done, whose
    experiments are on `git_remote`, maybe not pulled here yet (running the command again
    would not pull them: it takes up the entries still queued only), and `left`, what to say
    of the published snapshots left on `git_remote` and how to delete them (None: none). What
    an Interrupted `stop` said (a pull's or a push's: what it moved) is said first, and its
    hint kept, unless it is the one that says to run the command again, which the hints here
    replace."""
    said = [stop.message if isinstance(stop, Interrupted) else f"{STOPPED_BY[stop_status(stop)]}."]
    hints = []
    if isinstance(stop, Interrupted) and stop.hint and stop.hint != NOTHING_HALF_WRITTEN:
        hints.append(stop.hint)
    if _finished_refs(done):
        names = ", ".join(f"'{e.name}'" for e in done if e.state == DONE)
        refs = " ".join(shell_quote(ref) for ref in _finished_refs(done))
        said.append(f"Recorded as done before `dvx queue start --dask` stopped: {names}; "
                    f"their tasks pushed their experiments to '{git_remote}'.")
        hints.append(f"`dvx exp pull {shell_quote(git_remote)} {refs}` brings them here (a "
                     "pull stopped part-way is finished by running it again); `dvx queue start "
                     "--dask` records or runs the experiments still queued, never these.")
    if left is not None:
        published, deletes = left
        said.append(published)
        hints.append(deletes)
    stopped = Interrupted(" ".join(said), " ".join(hints))
    stopped.exit_code = stop_status(stop)
    return stopped


def _check_address(address: str) -> None:
    """Refuse a scheduler address that Dask cannot read (a typo, a dashboard's http:// URL),
    before anything is pushed."""
    why = _unreadable(address)
    if why is not None:
        raise UsageError(f"'{address}' is not the address of a Dask scheduler: {why}.",
                         "Pass the scheduler's address, SCHEME://HOST:PORT such as "
                         "tcp://scheduler:8786 (not its dashboard's http:// URL).")


def _unreadable(address: str) -> str | None:
    """Why Dask cannot read `address` as a scheduler's; None if it can."""
    from distributed.comm import registry
    from distributed.comm.addressing import parse_address

    try:
        scheme, location = parse_address(address)
        backend = registry.get_backend(scheme)
    except ValueError:
        scheme = address.partition("://")[0]
        return f"Dask knows no scheme '{scheme}' (it knows {', '.join(registry.backends)})"
    if scheme == "inproc":
        return None
    _, colon, port = location.rpartition(":")
    if not colon or location.endswith("]") or not port:  # [::1] alone is an IPv6 host
        return "it names no port"
    if not port.isdigit() or not 0 < int(port) < 1 << 16:
        return f"its port '{port}' is not a port number"
    try:
        backend.get_address_host_port(location)
    except ValueError as exc:
        return str(exc)
    except NotImplementedError:  # a scheme whose backend gives no host and port (ucx)
        pass
    return None


@contextlib.contextmanager
def _connected(distributed: Any, address: str) -> Iterator[Any]:
    """A client of the scheduler at `address`, connected before anything is pushed for it;
    DvxError if it cannot be reached (within Dask's connect timeout)."""
    try:
        client = distributed.Client(address)
    except (OSError, TimeoutError) as exc:
        raise DvxError(f"Could not connect to the Dask scheduler at {address}: {exc}.",
                       "Check that the scheduler runs and that this machine can reach it; "
                       "nothing was pushed or submitted.") from None
    with client:
        yield client


@contextlib.contextmanager
def _quiet(distributed: Any) -> Iterator[None]:
    """Keep dask.distributed's own log lines (a lost scheduler, say) out of dvx's output: dvx
    says what became of each experiment."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
               if name == "distributed" or name.startswith("distributed.")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _run_tasks(repo: Repo, client: Any, distributed: Any, url: str, git_remote: str,
               queued: list[Entry], done: list[Entry], say: Callable[[str], None]) -> None:
    """Submit a task for each entry and record how each ended, in `done`."""
    env = _identity(repo)
    local = os.path.join(repo.dvx_dir, "config.local")
    settings = ""
    if os.path.exists(local):
        with open(local, encoding="utf-8") as f:
            settings = f.read()
    submission = secrets.token_hex(8)
    futures = {}
    for entry in queued:
        if not mark_running_elsewhere(repo, entry):  # dropped meanwhile
            continue
        # A key of its own: the scheduler hands a task's result to whoever submits its key,
        # and another project on the cluster may queue the same name.
        key = f"dvx-exp-{entry.name}-{entry.snapshot[:12]}-{submission}"
        futures[client.submit(run_task, url, entry.name, entry.snapshot, entry.baseline,
                              entry.sets, settings, env, _published(entry),
                              entry.run_options(), key=key, pure=False)] = entry
        say(f"Submitted '{entry.name}'.")
    for entry, outcome in _outcomes(repo, client, distributed, futures):
        _record(repo, git_remote, entry, outcome, say, done)


def _outcomes(repo: Repo, client: Any, distributed: Any, futures: dict[Any, Entry]
              ) -> Iterator[tuple[Entry, dict[str, Any] | str]]:
    """Each entry as its task ends, with its task's outcome, or why the outcome never came
    (the scheduler lost, a worker that died too often). The task of an entry `queue stop`
    stopped meanwhile is cancelled, and the entry left stopped."""
    pending = dict(futures)
    while pending:
        failure: Exception | None = None
        try:
            distributed.wait(list(pending), timeout=1, return_when="FIRST_COMPLETED")
        except distributed.TimeoutError:
            pass
        except Exception as exc:  # futures cancelled (the scheduler lost), the client closed
            failure = exc
        for future in [f for f in pending if f.done()] or (list(pending) if failure else []):
            entry = pending.pop(future)
            if not future.done():
                yield entry, _why(failure)
                continue
            try:
                yield entry, future.result()
            except Exception as exc:  # whatever kept the outcome from us
                yield entry, _why(exc)
        stopped = [f for f, e in pending.items()
                   if (current := load_entry(repo, e.name)) is None or current.state == STOPPED]
        if stopped:
            client.cancel(stopped)
            for future in stopped:
                del pending[future]


def _why(exc: BaseException | None) -> str:
    said = str(exc).strip().splitlines()
    return type(exc).__name__ + (f": {said[0]}" if said else "")


def _record(repo: Repo, git_remote: str, entry: Entry, outcome: dict[str, Any] | str,
            say: Callable[[str], None], done: list[Entry]) -> None:
    """Record how the entry's task ended (`outcome`: what it reported, or why it reported
    nothing), say so, and add the entry as recorded to `done` (unless removed meanwhile)."""
    report = outcome if isinstance(outcome, dict) else None
    state, error, said = _outcome_of(repo, git_remote, entry, report, outcome)
    # Whole: a stop meanwhile (held) takes effect once the entry, its snapshot ref, its log
    # and `done` agree and its outcome was said, so that the stop names it as recorded.
    with stops_held():
        recorded = record_outcome(repo, entry, state, error)
        if recorded is None:
            return
        _write_log(repo, entry, report["log"] if report is not None else
                   f"The outcome of its task on the Dask cluster never came back ({outcome}).\n")
        if recorded.state == state:
            say(said)
        done.append(recorded)


def _write_log(repo: Repo, entry: Entry, text: str) -> None:
    with open(log_path(repo, entry.name), "w", encoding="utf-8") as f:
        f.write(redact_urls(text))  # a worker of an older dvx did not


def _outcome_of(repo: Repo, git_remote: str, entry: Entry, report: dict[str, Any] | None,
                lost: object) -> tuple[str, str | None, str]:
    """The entry's state, error and what to say, from its task's `report`, or, when that
    never came (None; `lost` says why), from what the Git remote holds."""
    name = entry.name
    if report is not None and report["ok"]:
        return DONE, None, f"'{name}' done."
    theirs = _experiments_on(repo, git_remote)  # what the task did, the Git remote may tell
    if _ran_from_snapshot(repo, git_remote, entry, theirs):
        return DONE, None, f"'{name}' done: its task pushed its experiment to " \
            f"'{git_remote}'" + ("." if report else f", though its outcome never came back "
                                                  f"({lost}).")
    if taken := _taken_on(git_remote, entry, theirs):
        return QUEUED, taken, f"'{name}' not recorded: {taken} {_once_free_on(git_remote, entry)}"
    if report is None:
        error = f"its task's outcome never came back ({lost}), and '{git_remote}' has no " \
            "experiment of it"
        return QUEUED, error, f"'{name}' not recorded: {error}. It stays queued with its " \
            "snapshot: `dvx queue start --dask` records it as done if its task pushes it " \
            f"meanwhile, else runs it again (`dvx queue remove {name}` drops it)."
    if not report.get("started", True):  # a worker of an older dvx does not say
        error = "its task could not clone the Git remote, check its snapshot out or pull its " \
            f"inputs (see `dvx queue logs {name}`)"
        return QUEUED, error, f"'{name}' not started: {error}. It stays queued with its " \
            "snapshot: `dvx queue start --dask` runs it once the workers can (`dvx queue " \
            f"remove {name}` drops it)."
    return FAILED, f"see `dvx queue logs {name}`", f"'{name}' failed."


def _not_taken(repo: Repo, git_remote: str, queued: list[Entry], kept: list[Entry],
               say: Callable[[str], None]) -> list[Entry]:
    """The `queued` entries whose name and baseline no experiment has, here or on
    `git_remote` (their runs could not record or push theirs); the others are added to
    `kept`: done if that experiment ran from the entry's snapshot (its task pushed it, and
    the `queue start --dask` that submitted it never learned so), else kept queued with
    their snapshots, as `queue.start` keeps them."""
    theirs = _experiments_on(repo, git_remote)
    free = []
    for entry in queued:
        if _ran_from_snapshot(repo, git_remote, entry, theirs):
            with stops_held():  # whole, as `_record` records an outcome
                recorded = record_outcome(repo, entry, DONE)
                if recorded is not None and recorded.state == DONE:
                    _write_log(repo, entry, f"Its task on the Dask cluster pushed its "
                               f"experiment to '{git_remote}'; its output never came back "
                               f"(the `dvx queue start --dask` that submitted it ended "
                               f"first).\n")
                    say(f"'{entry.name}' done: its task had pushed its experiment to "
                        f"'{git_remote}'.")
                    kept.append(recorded)
            continue
        here = name_taken(repo, entry)
        taken = here.why if here else _taken_on(git_remote, entry, theirs)
        if not taken:
            free.append(entry)
            continue
        what_to_do = here.remedy if here else _once_free_on(git_remote, entry)
        waiting = keep_queued(repo, entry.name, taken)
        if waiting is not None:  # None: removed from the queue meanwhile
            say(f"'{entry.name}' not started: {taken} {what_to_do}")
            kept.append(waiting)
    return free


def _ran_from_snapshot(repo: Repo, git_remote: str, entry: Entry, theirs: dict[str, str]
                       ) -> bool:
    """Is the experiment of the entry's name and baseline, here or on `git_remote` (holding
    the experiments `theirs`), one that ran from the entry's snapshot (its commit message
    says so)? Then it is the entry's run: a task whose outcome never came back, or that ran
    twice, pushed it."""
    git, ref = git_of(repo), ref_of(entry.baseline, entry.name)
    commits = [e.commit for e in experiments(repo, entry.baseline) if e.ref == ref]
    if ref in theirs and theirs[ref] not in commits:
        commits.append(theirs[ref])
    return any(_queued_from(git, git_remote, ref, c) == entry.snapshot for c in commits)


def _queued_from(git: Git, git_remote: str, ref: str, commit: str) -> str | None:
    """The queue snapshot the experiment `commit` ran from (None: none it names), fetched
    from `git_remote`'s `ref` if this repository lacks it."""
    for attempt in range(2):
        try:
            return queued_snapshot(git.run("show", "-s", "--format=%B", commit).decode(
                errors="replace"))
        except DvxError:
            if attempt:
                return None
            with contextlib.suppress(DvxError):
                git.run("fetch", "--quiet", "--", git_remote, ref)
    return None


def _experiments_on(repo: Repo, git_remote: str) -> dict[str, str]:
    """The experiments `git_remote` holds (ref -> commit); none if it cannot be listed (the
    workers may reach it where this machine does not: their logs say if they do not)."""
    try:
        return remote_experiments(repo, git_remote)
    except DvxError:
        return {}


def _taken_on(git_remote: str, entry: Entry, theirs: dict[str, str]) -> str | None:
    """Why the entry's run could not push its experiment, if `git_remote`, holding the
    experiments `theirs`, has one of its name and baseline; None if it has none."""
    ref = ref_of(entry.baseline, entry.name)
    if ref not in theirs:
        return None
    return f"'{git_remote}' has an experiment of its name and baseline already ({ref}), so " \
        "its run could not push it."


def _once_free_on(git_remote: str, entry: Entry) -> str:
    """What to do about an entry kept queued because `git_remote` has an experiment of its
    name and baseline (a teammate's, say)."""
    ref, remote = ref_of(entry.baseline, entry.name), shell_quote(git_remote)
    return f"It stays queued with its snapshot: keep that experiment as a branch if you want " \
        f"it (`git fetch {remote} {ref}:refs/heads/BRANCH`), remove it from '{git_remote}' " \
        f"(`dvx exp remove -g {remote} --force {ref}`), and `dvx queue start --dask` runs " \
        f"this one (`dvx queue remove {entry.name}` drops it)."


def _published(entry: Entry) -> str:
    return published_ref(entry.snapshot, entry.name)


def _publish(repo: Repo, git_remote: str, queued: list[Entry]) -> None:
    targets, _ = scope_targets(repo, Scope(workspace=False,
                                           revs=tuple(e.snapshot for e in queued)))
    if targets:
        result = push(repo, targets)
        if not result.ok:
            raise DvxError("The inputs of the queued experiments could not all be pushed to "
                           "the dvx remote, so the workers could not get them.",
                           "Run `dvx push` and look at what fails.")
    # Recorded first: a `queue start --dask` killed from here on leaves the entries naming
    # the refs they may have there, for whatever ends them to delete.
    unpublish_entries(repo, [e for e in queued if e.published_to not in (None, git_remote)])
    mark_published(repo, queued, git_remote)
    # Never forced: a ref of that name names that very snapshot, or it is not one of ours.
    refs = [f"{QUEUE_REFS}/{e.name}:{_published(e)}" for e in queued]
    git_of(repo).run("push", "--quiet", "--", git_remote, *refs)


def _unpublish(repo: Repo, git_remote: str, handled: list[Entry]) -> list[str]:
    """Delete the snapshots published for the `handled` entries from the Git remote (one an
    interrupted `queue start --dask` left too); the next start publishes those still
    queued again. The refs it could not delete (the remote out of reach): all of them."""
    left = unpublish(repo, git_remote, [_published(e) for e in handled])
    if not left:  # those published to another Git remote are left to whatever ends them
        mark_published(repo, [e for e in handled if e.published_to == git_remote], None)
    return left


def _unpublish_once_stopped(repo: Repo, git_remote: str, handled: list[Entry]) -> list[str]:
    """`_unpublish` on the way out of a stopped start; a second stop cutting it short leaves
    every ref, maybe deleted, maybe not, to be named."""
    try:
        faults.point("dask.unpublishing")
        return _unpublish(repo, git_remote, handled)
    except KeyboardInterrupt:
        return [_published(e) for e in handled]


def _identity(repo: Repo) -> dict[str, str]:
    """Who the experiment commits are by: the submitter's Git identity."""
    env = {}
    git = git_of(repo)
    for key, names in (("user.name", ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME")),
                       ("user.email", ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"))):
        try:
            value = git.run("config", "--get", key).decode().strip()
        except DvxError:
            value = os.environ.get(names[0], "")
        if value:
            env.update(dict.fromkeys(names, value))
    return env


# A task's clone is made at TMP/dvx-dask-NAME-PID-XXXXXXXX (mkdtemp: 0700), PID the worker
# process's: one a killed worker left (with its copy of config.local) is removed by the next
# task on that machine.
_CLONE = re.compile(r"dvx-dask-.+-([0-9]+)-[a-z0-9_]{8}")


def run_task(git_url: str, name: str, snapshot: str, baseline: str, sets: list[str],
             settings: str, env: dict[str, str], published: str | None = None,
             options: list[str] | None = None) -> dict[str, Any]:
    """One queued experiment, on a Dask worker: clone, check the snapshot (published at
    `published`) out, pull its inputs, run, push the experiment back. Dask runs a task again
    when its worker dies, so one whose experiment the Git remote has already (from this
    snapshot) is not run again. {"ok": bool, "started": whether it got as far as running
    (a task that could not clone, fetch or pull leaves the entry queued), "log": the
    commands and their output, with the credentials of any URL in them (the Git remote's
    token) hidden}. `options`: the `exp run` options queued with it (Entry.run_options)."""
    _remove_abandoned_clones()
    work = tempfile.mkdtemp(prefix=f"dvx-dask-{name}-{os.getpid()}-")
    task = _Task(work, {**os.environ, **env, "GIT_TERMINAL_PROMPT": "0"})
    dvx = dvx_argv()
    published = published or f"{QUEUE_REFS}/{name}"  # as earlier versions of dvx published it
    try:
        for argv in (["git", "clone", "--quiet", "--no-checkout", "--", git_url, work],
                     ["git", "fetch", "--quiet", "origin", f"+{published}:{published}"],
                     ["git", "checkout", "--quiet", "--detach", snapshot]):
            if not task.run(argv):
                return task.outcome(ok=False, started=False)
        pushed = task.pushed_from(ref_of(baseline, name))
        if pushed == snapshot:
            task.note("'origin' has this experiment already, run from this snapshot by an "
                      "earlier run of this task: not run again.\n")
            return task.outcome(ok=True, started=True)
        if pushed is not None:  # another experiment has its name: the client says so
            return task.outcome(ok=False, started=False)
        # the submitter's own settings (credentials), as config.local
        fsutil.atomic_write(os.path.join(work, ".dvx", "config.local"),
                            settings.encode("utf-8"), mode=0o600)
        if not task.run([*dvx, "pull", "-q"]):
            return task.outcome(ok=False, started=False)
        if not task.run([*dvx, "exp", "run", "-n", name, "--baseline", baseline,
                         *[arg for text in sets for arg in ("-S", text)], *(options or [])]):
            return task.outcome(ok=False, started=True)
        if task.run([*dvx, "exp", "push", "origin", name]):
            faults.point("dask.pushed")
            return task.outcome(ok=True, started=True)
        if task.pushed_from(ref_of(baseline, name)) == snapshot:  # this snapshot's run again
            task.note("'origin' has an experiment of this name run from this snapshot (this "
                      "task ran twice): that one is kept.\n")
            return task.outcome(ok=True, started=True)
        return task.outcome(ok=False, started=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Task:
    """The commands of a task, run in its clone, and its log."""

    def __init__(self, work: str, environ: dict[str, str]) -> None:
        self.work, self.environ, self.log = work, environ, []  # type: ignore[var-annotated]

    def run(self, argv: list[str]) -> bool:
        """Run `argv` (in the clone once it exists), logged; did it succeed?"""
        return self._run(argv, logged=True).returncode == 0

    def _run(self, argv: list[str], logged: bool) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, cwd=self.work if os.path.isdir(os.path.join(
            self.work, ".git")) else None, env=self.environ, capture_output=True, text=True)
        if logged:
            self.note(f"$ {subprocess.list2cmdline(argv)}\n{done.stdout}{done.stderr}")
        return done

    def note(self, text: str) -> None:
        self.log.append(redact_urls(text))

    def pushed_from(self, ref: str) -> str | None:
        """The snapshot the experiment 'origin' holds at `ref` ran from: "" if it names
        none, None if 'origin' has no such experiment (or cannot say)."""
        listed = self._run(["git", "ls-remote", "--refs", "origin", ref], logged=False)
        if listed.returncode != 0 or not listed.stdout.strip():
            return None
        if not self.run(["git", "fetch", "--quiet", "origin", ref]):
            return None
        shown = self._run(["git", "show", "-s", "--format=%B", "FETCH_HEAD"], logged=False)
        return (queued_snapshot(shown.stdout) or "") if shown.returncode == 0 else None

    def outcome(self, ok: bool, started: bool) -> dict[str, Any]:
        return {"ok": ok, "started": started, "log": "".join(self.log)}


def _remove_abandoned_clones() -> None:
    """Remove the clones (and their copy of config.local) of tasks whose worker process is
    gone (killed: Dask runs its task again elsewhere)."""
    top = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        for name in os.listdir(top):
            found = _CLONE.fullmatch(name)
            path = os.path.join(top, name)
            if found and not process_alive(int(found.group(1))) \
                    and os.lstat(path).st_uid == os.geteuid() and os.path.isdir(path) \
                    and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)

