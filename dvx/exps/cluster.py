"""Queued experiments on a Dask cluster (`dvx queue start --dask ADDRESS`, dvx's extra `dask`).

Nothing depends on a shared disk: before submitting, the queued snapshots' inputs go to the
dvx remote and the snapshots themselves (refs/exps-queue/<name>) to the Git remote. Each task
clones the Git remote on its worker, checks the snapshot out, pulls its inputs, runs
`dvx exp run`, and `dvx exp push`es the experiment (data, then ref) back. When the tasks are
done, the submitting repository pulls the experiments like any others (`dvx exp pull`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from dvx import fsutil
from dvx.errors import DvxError, UsageError, install_extra_hint
from dvx.experiment_refs import git_of, ref_of
from dvx.exps.queue import (
    DONE,
    FAILED,
    QUEUE_REFS,
    QUEUED,
    RUNNING,
    Entry,
    entries,
    keep_queued,
    log_path,
    name_taken,
    once_free,
    warn_damaged,
)
from dvx.exps.queue import _save as save_entry
from dvx.exps.share import pull_experiments, remote_experiments
from dvx.history import Scope, scope_targets
from dvx.ops.sync import push
from dvx.remote.backends import redact_urls
from dvx.repo import Repo


def start_on_dask(repo: Repo, address: str, git_remote: str = "origin",
                  say: Callable[[str], None] = lambda text: None) -> list[Entry]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise UsageError("Running experiments on Dask needs dask.distributed.",
                         install_extra_hint("dask")) from None
    found = entries(repo)
    warn_damaged(found)
    queued = [e for e in found if e.state == QUEUED]
    if not queued:
        return []
    git = git_of(repo)
    try:
        url = git.run("remote", "get-url", "--", git_remote).decode().strip()
    except DvxError:
        raise UsageError(f"There is no Git remote '{git_remote}' for the workers to clone.",
                         "Pass --git-remote NAME.") from None
    done: list[Entry] = []
    queued = _not_taken(repo, git_remote, queued, done, say)
    if not queued:
        return done
    _publish(repo, git_remote, queued)
    env = _identity(repo)
    local = os.path.join(repo.dvx_dir, "config.local")
    settings = ""
    if os.path.exists(local):
        with open(local, encoding="utf-8") as f:
            settings = f.read()
    with Client(address, timeout="30s") as client:
        futures = {}
        for entry in queued:
            future = client.submit(run_task, url, entry.name, entry.snapshot, entry.baseline,
                                   entry.sets, settings, env, key=f"dvx-exp-{entry.name}",
                                   pure=False)
            futures[future] = entry
            entry.state = RUNNING
            save_entry(repo, entry)
            say(f"Submitted '{entry.name}'.")
        for future in as_completed(list(futures)):
            entry = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # a worker that died, a task that could not start
                outcome = {"ok": False, "log": f"the task failed: {exc}\n"}
            with open(log_path(repo, entry.name), "w", encoding="utf-8") as f:
                f.write(redact_urls(outcome["log"]))  # a worker of an older dvx did not
            taken = None if outcome["ok"] else _taken_on(
                git_remote, entry, _experiments_on(repo, git_remote))
            if taken:  # since it was submitted: kept, to run again, as `queue start` keeps it
                entry.state, entry.error = QUEUED, taken
                say(f"'{entry.name}' not recorded: {taken} {_once_free_on(git_remote, entry)}")
            else:
                entry.state = DONE if outcome["ok"] else FAILED
                entry.error = None if outcome["ok"] else f"see `dvx queue logs {entry.name}`"
                entry.finished_at = time.time()
                say(f"'{entry.name}' {entry.state}.")
            save_entry(repo, entry)
            done.append(entry)
    _unpublish(repo, git_remote, queued)
    # by full ref: only what ran here, not the remote's experiments of the same name on
    # other baselines
    finished = [ref_of(e.baseline, e.name) for e in done if e.state == DONE]
    if finished:
        pull_experiments(repo, git_remote, finished)
    return done


def _not_taken(repo: Repo, git_remote: str, queued: list[Entry], kept: list[Entry],
               say: Callable[[str], None]) -> list[Entry]:
    """The `queued` entries whose name and baseline no experiment has, here or on
    `git_remote` (their runs could not record or push theirs); the others stay queued with
    their snapshots, as `queue.start` keeps them, added to `kept`."""
    theirs = _experiments_on(repo, git_remote)
    free = []
    for entry in queued:
        here = name_taken(repo, entry)
        taken = here or _taken_on(git_remote, entry, theirs)
        if not taken:
            free.append(entry)
            continue
        what_to_do = once_free(entry) if here else _once_free_on(git_remote, entry)
        waiting = keep_queued(repo, entry.name, taken)
        if waiting is not None:  # None: removed from the queue meanwhile
            say(f"'{entry.name}' not started: {taken} {what_to_do}")
            kept.append(waiting)
    return free


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
    ref, remote = ref_of(entry.baseline, entry.name), shlex.quote(git_remote)
    return f"It stays queued with its snapshot: keep that experiment as a branch if you want " \
        f"it (`git fetch {remote} {ref}:refs/heads/BRANCH`), remove it from '{git_remote}' " \
        f"(`dvx exp remove -g {remote} {ref}`), and `dvx queue start --dask` runs this one " \
        f"(`dvx queue remove {entry.name}` drops it)."


def _publish(repo: Repo, git_remote: str, queued: list[Entry]) -> None:
    targets, _ = scope_targets(repo, Scope(workspace=False,
                                           revs=tuple(e.snapshot for e in queued)))
    if targets:
        result = push(repo, targets)
        if not result.ok:
            raise DvxError("The inputs of the queued experiments could not all be pushed to "
                           "the dvx remote, so the workers could not get them.",
                           "Run `dvx push` and look at what fails.")
    refs = [f"{QUEUE_REFS}/{e.name}:{QUEUE_REFS}/{e.name}" for e in queued]
    git_of(repo).run("push", "--quiet", "--force", "--", git_remote, *refs)


def _unpublish(repo: Repo, git_remote: str, queued: list[Entry]) -> None:
    git = git_of(repo)
    with contextlib.suppress(DvxError):  # if left on the remote: harmless, replaced next time
        git.run("push", "--quiet", "--", git_remote,
                *[f":{QUEUE_REFS}/{e.name}" for e in queued])
    for entry in queued:
        if entry.state != QUEUED:  # one kept queued keeps its snapshot, to run again
            git.delete_ref(f"{QUEUE_REFS}/{entry.name}")


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


def run_task(git_url: str, name: str, snapshot: str, baseline: str, sets: list[str],
             settings: str, env: dict[str, str]) -> dict[str, Any]:
    """One queued experiment, on a Dask worker: clone, check the snapshot out, pull its
    inputs, run, push the experiment back. {"ok": bool, "log": the commands and their output,
    with the credentials of any URL in them (the Git remote's token) hidden}."""
    work = tempfile.mkdtemp(prefix=f"dvx-dask-{name}-")
    log: list[str] = []
    environ = {**os.environ, **env, "GIT_TERMINAL_PROMPT": "0"}
    dvx = [sys.executable, "-m", "dvx"]
    steps = [
        ["git", "clone", "--quiet", "--no-checkout", "--", git_url, work],
        ["git", "fetch", "--quiet", "origin", f"+{QUEUE_REFS}/{name}:{QUEUE_REFS}/{name}"],
        ["git", "checkout", "--quiet", "--detach", snapshot],
        [*dvx, "pull", "-q"],
        [*dvx, "exp", "run", "-n", name, "--baseline", baseline,
         *[arg for text in sets for arg in ("-S", text)]],
        [*dvx, "exp", "push", "origin", name],
    ]
    try:
        for index, argv in enumerate(steps):
            if index == 3:  # the submitter's own settings (credentials), as config.local
                fsutil.atomic_write(os.path.join(work, ".dvx", "config.local"),
                                    settings.encode("utf-8"), mode=0o600)
            done = subprocess.run(argv, cwd=work if index else None, env=environ,
                                  capture_output=True, text=True)
            log.append(redact_urls(f"$ {subprocess.list2cmdline(argv)}\n{done.stdout}"
                                   f"{done.stderr}"))
            if done.returncode != 0:
                return {"ok": False, "log": "".join(log)}
        return {"ok": True, "log": "".join(log)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
