"""Experiment commands: exp run/show/diff/apply/branch/remove/save/push/pull, and the queue."""

from __future__ import annotations

import sys

import click

from dvx.cli.common import (
    JOBS_RANGE,
    UTF8,
    NotEmpty,
    RemoteName,
    common_options,
    example,
    is_quiet,
    one_of,
    open_repo,
    refuse_rounding_json,
)
from dvx.cli.data import report_checkout, some_paths
from dvx.cli.ui import emit_json, out, say_nothing, warn
from dvx.wording import counted

GIT_REMOTE = NotEmpty("a Git remote (its name or URL)")

JSON = ("--json", "json", "Output as JSON.")
CSV = ("--csv", "csv", "Output as CSV.")
MD = ("--md", "md", "Output as a Markdown table.")
SET_PARAM = click.option("-S", "--set-param", "sets", multiple=True, metavar="[FILE:]KEY=VALUE",
                         type=UTF8, help="Set a param before running (repeatable); FILE, "
                                         "named from the current folder, defaults to "
                                         "params.yaml.")


@click.group(epilog=example("""
dvx exp run -S train.lr=0.01 -n low-lr
dvx exp show --only-changed --sort-by accuracy
dvx exp apply low-lr && git commit -am "lower learning rate"
"""))
@common_options
def exp() -> None:
    """Run and compare experiments: pipeline runs with changed params, each kept as a Git
    commit under refs/exps/ (never on your branch), with its outputs in the cache."""


@exp.command("run", epilog=example("""
dvx exp run -S train.lr=0.01 -S train.epochs=20 -n longer
dvx exp run -S params.yaml:seed=7 --queue     # run later: dvx queue start -j 2
dvx exp run -S train.lr=0.1 train             # only train and the stages it depends on
"""))
@click.argument("targets", nargs=-1)
@SET_PARAM
@click.option("-n", "--name", help="The experiment's name (default: a generated one).")
@click.option("-f", "--force", is_flag=True, help="Run every stage, even those up to date.")
@click.option("-j", "--jobs", type=JOBS_RANGE, default=1, show_default=True,
              help="Stages run at once.")
@click.option("--queue", is_flag=True, help="Queue it instead of running it now.")
@click.option("--baseline", hidden=True)  # a queued run names the commit it started from
@common_options
def exp_run(targets: tuple[str, ...], sets: tuple[str, ...], name: str | None, force: bool,
            jobs: int, queue: bool, baseline: str | None) -> None:
    """Set params (-S), reproduce the pipeline in the workspace and record the result as an
    experiment of HEAD. The workspace keeps the results; your branch, index and HEAD do not
    change. `dvx exp apply` and `git commit` keep an experiment for good.

    TARGETS are stage names, as for `dvx repro`: only they and the stages they depend on run
    (without targets, every stage).
    """
    if queue and targets:
        from dvx.errors import UsageError

        raise UsageError(f"A queued experiment runs the whole pipeline, so --queue takes no "
                         f"stage names ({' '.join(targets)}); nothing was queued.",
                         "Queue it without them, or run it now: `dvx exp run` with the stage "
                         "names and without --queue.")
    if queue:
        from dvx.exps.queue import enqueue

        entry = enqueue(open_repo(), list(sets), name, force, jobs)
        if not is_quiet():
            out(f"Queued experiment '{entry.name}'. Run the queue with `dvx queue start`.")
        return
    from dvx.cli.pipeline import _Reporter, report_dropped
    from dvx.exps.run import run

    result = run(open_repo(), list(sets), name, force, jobs,
                 _Reporter(capture=jobs > 1, to_stderr=False), baseline, targets)
    if not is_quiet():
        report_dropped(result.repro, dry=False, in_workspace=baseline is None)
    if result.experiment is None:
        failed = [s.name for s in result.repro.stages if s.outcome == "failed"]
        stages = f"stage {', '.join(failed)} failed" if failed else (
            f"dvx.yaml no longer declares stage {', '.join(result.repro.unrecorded)} as it "
            "ran (a `git checkout` meanwhile?)")
        if result.nothing_ran:
            warn(f"ERROR: the experiment was not recorded: {_nothing_ran(result)}; fix it "
                 f"and run `{result.again}` again.")
        elif baseline is None:
            warn(f"ERROR: the experiment was not recorded: {stages}. The workspace keeps what "
                 f"ran; fix it and run `{result.again}` again.")
        else:  # a queued run, in a temporary worktree `queue start` removes
            warn(f"ERROR: the experiment was not recorded: {stages}. It ran in a temporary "
                 "worktree, which is removed with what the run made; fix the cause and queue "
                 f"it again with `{result.again}`.")
        sys.exit(1)
    _say_if_renamed(name, result.experiment.name, "this run")
    if not is_quiet():
        out(f"Ran experiment '{result.experiment.name}' ({result.experiment.commit[:7]}). "
            f"Compare with `dvx exp show`; keep it with `dvx exp apply "
            f"{result.experiment.name}`.")


def _nothing_ran(result: object) -> str:
    """Why a run none of whose stages started recorded nothing, and that -S was undone."""
    from dvx.exps.run import RunResult

    assert isinstance(result, RunResult)
    refused = [s.name for s in result.repro.stages if s.outcome == "failed"]
    one, files = len(refused) == 1, result.params_put_back
    said = (f"stage {', '.join(refused)} {'was' if one else 'were'} refused before "
            f"{'its command' if one else 'their commands'} ran, so nothing ran")
    if files:
        said += (f" and {', '.join(files)} {'is' if len(files) == 1 else 'are'} as "
                 f"{'it was' if len(files) == 1 else 'they were'} before -S")
    return said


def _say_if_renamed(asked: str | None, recorded: str, what: str) -> None:
    """Warn when the experiment is recorded under another name than -n gave: an experiment of
    that name and baseline was made while it ran, and is kept as it is."""
    if asked is not None and recorded != asked:
        warn(f"WARNING: an experiment called '{asked}' of this baseline was made while {what} "
             f"went on (another `exp run -n {asked}`, an `exp pull`, a `git fetch`), so "
             f"{what} is recorded as '{recorded}' and that one is kept as it is. Compare them "
             f"with `dvx exp diff {asked} {recorded}`.")


@exp.command("save", epilog=example("dvx exp save -n hand-tuned"))
@click.option("-n", "--name", help="The experiment's name (default: a generated one).")
@common_options
def exp_save(name: str | None) -> None:
    """Record the workspace as it is as an experiment of HEAD (nothing runs)."""
    from dvx.exps.run import save

    saved = save(open_repo(), name)
    _say_if_renamed(name, saved.name, "this save")
    if not is_quiet():
        out(f"Saved experiment '{saved.name}' ({saved.commit[:7]}).")


@exp.command("show", epilog=example("""
dvx exp show
dvx exp show --only-changed --sort-by accuracy --sort-order desc
dvx exp show -A --csv > experiments.csv
"""))
@click.option("-A", "--all-commits", "all_baselines", is_flag=True,
              help="Experiments of every baseline, not only of HEAD.")
@click.option("--only-changed", is_flag=True, help="Only the columns whose values differ.")
@click.option("--sort-by", metavar="NAME", help="Sort each baseline's experiments by this "
                                                "param or metric (FILE:KEY when several "
                                                "files have the key).")
@click.option("--sort-order", type=click.Choice(["asc", "desc"]),
              help="With --sort-by: ascending (the default) or descending.")
@click.option("--precision", type=click.IntRange(min=0), default=5, show_default=True)
@one_of("fmt", JSON, CSV, MD)
@common_options
def exp_show(all_baselines: bool, only_changed: bool, sort_by: str | None,
             sort_order: str | None, precision: int, fmt: str | None) -> None:
    """Show the workspace, the baseline and its experiments, a column per param and metric.
    --only-changed and --sort-by shape the table (text, --csv, --md); --json gives every
    experiment with all of its params and metrics, for a program to pick from."""
    from dvx.errors import UsageError
    from dvx.exps.show import show, table, warnings

    if sort_order is not None and sort_by is None:
        raise UsageError("--sort-order goes with --sort-by NAME (the column to sort by).")
    refuse_rounding_json(fmt)
    if fmt == "json" and (sort_by is not None or only_changed):
        shaping = "--sort-by" if sort_by is not None else "--only-changed"
        raise UsageError(f"{shaping} shapes the table, and --json gives every experiment with "
                         "all of its params and metrics.", "Use --csv or --md for a table "
                         "shaped so, or pick from the JSON (with jq, say).")
    rows = show(open_repo(), all_baselines)
    for warning in warnings(rows):  # values left out of their columns
        warn(f"WARNING: {warning}")
    if fmt == "json":
        emit_json([r.to_json() for r in rows])
        return
    rendered = table(rows, only_changed, sort_by, sort_order == "desc", precision,
                     indent=fmt is None)
    out(rendered.render(fmt or "text"), nl=False)
    for row in rows:  # the table shows '-' for what could not be read: say why
        for error in row.errors:
            warn(f"WARNING: {row.name}: {error}")


@exp.command("diff", epilog=example("""
dvx exp diff low-lr longer
dvx exp diff low-lr            # against the workspace
dvx exp diff                   # HEAD against the workspace
"""))
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--all", "show_all", is_flag=True, help="Also what did not change.")
@one_of("fmt", JSON, MD)
@common_options
def exp_diff(a: str | None, b: str | None, show_all: bool, fmt: str | None) -> None:
    """Compare the params and metrics of A (default: HEAD) with those of B (default: the
    workspace), as DVC does. A and B are each an experiment, any Git revision, or
    `workspace`; a branch, tag or commit wins over an experiment of the same name."""
    from dvx.metrics.tables import diff_table
    from dvx.metrics.values import METRICS, PARAMS, diff

    repo = open_repo()
    results = [diff(repo, kind, a, b, show_all=show_all) for kind in (PARAMS, METRICS)]
    for warning in (w for r in results for w in r.warnings):  # values left out
        warn(f"WARNING: {warning}")
    label_a, label_b = results[0].a.label, results[0].b.label
    if fmt == "json":
        emit_json({r.kind: r.to_json() for r in results})
        return
    if not any(r.changes or r.errors for r in results):
        say_nothing(fmt, f"No params or metrics changed between {label_a} and {label_b}.")
    # Markdown: both tables always (a header alone when nothing changed); a blank line
    # between two tables, or Markdown reads them as one
    shown = [r for r in results if fmt == "md" or r.changes or r.errors]
    out("\n".join(diff_table(r).render(fmt or "text") for r in shown), nl=False)


@exp.command("apply", epilog=example("dvx exp apply low-lr && git commit -am 'low lr'"))
@click.argument("name")
@click.option("-f", "--force", is_flag=True,
              help="Overwrite changes that neither Git, an experiment of HEAD nor the cache "
                   "holds, in the files and outputs the experiment changed. Such changes to "
                   "the other files are kept, with or without it.")
@common_options
def exp_apply(name: str, force: bool) -> None:
    """Make the workspace the experiment: its params, code, dvx.lock and metrics (those HEAD
    does not have staged in Git's index), the files Git tracks that it does not change as
    committed (in Git's index too), and its outputs checked out, ready to commit. A file it
    does not change that holds your unsaved work (a `dvx add` of a new version, an edit no
    commit or experiment holds) is kept as it is, with a warning; so is a staged version
    that nothing else holds, in Git's index."""
    from dvx.exps.apply import apply

    applied = apply(open_repo(), name, force)
    if not is_quiet():
        out(_applied_line(applied))
    if applied.kept:
        warn(f"WARNING: kept your unsaved changes to {some_paths(applied.kept)}; the "
             "workspace is not exactly the experiment there.")
    if applied.kept_staged:
        warn(f"WARNING: kept your staged changes to {some_paths(applied.kept_staged)} in "
             "Git's index, as no commit or experiment holds them; the workspace has those "
             "files as applied (`git diff --cached` shows your changes, and `git commit -a` "
             "commits the workspace's versions instead).")
    if applied.new_to_git and not is_quiet():
        out(f"Staged in Git's index, as HEAD does not have them: "
            f"{some_paths(applied.new_to_git)} (so `git commit -a` commits them too; `git rm "
            "--cached PATH` leaves one out).")
    if applied.moved_inputs:
        warn(f"Note: HEAD has changed {some_paths(applied.moved_inputs)} since "
             f"'{applied.experiment.name}' ran (on {applied.experiment.baseline[:7]}); the "
             "workspace keeps HEAD's versions, so the stages using them are stale (`dvx "
             "status` names them, `dvx repro` runs them).")
    report_checkout(applied.checkout)
    if not applied.checkout.ok:
        sys.exit(1)


def _applied_line(applied: object) -> str:
    """What `exp apply` says it wrote: the files, those it set back as committed, and of
    those, the ones whose staged change it undid in Git's index as well, and the
    experiment's files whose staged change (held by a commit) it undid there."""
    from dvx.exps.apply import Applied

    assert isinstance(applied, Applied)
    said = f"Applied experiment '{applied.experiment.name}': {counted(len(applied.files), 'file')}"
    if applied.set_back:
        said += ("; set back as committed, as the experiment does not change them: "
                 f"{some_paths(applied.set_back)}")
    if applied.unstaged:
        said += ("; in Git's index as well (their staged changes undone): "
                 f"{some_paths(applied.unstaged)}")
    if applied.unstaged_written:
        said += ("; staged changes a commit or experiment holds undone in Git's index, for "
                 f"the experiment's versions: {some_paths(applied.unstaged_written)}")
    return said + "."


@exp.command("branch", epilog=example("dvx exp branch low-lr try-low-lr"))
@click.argument("name")
@click.argument("branch_name", metavar="BRANCH")
@common_options
def exp_branch(name: str, branch_name: str) -> None:
    """Make a Git branch of an experiment."""
    from dvx.exps.run import branch

    made = branch(open_repo(), name, branch_name)
    if not is_quiet():
        out(f"Branch '{branch_name}' is experiment '{made.name}' ({made.commit[:7]}).")


@exp.command("remove", epilog=example("""
dvx exp remove low-lr longer
dvx exp remove --all          # every experiment of HEAD
dvx exp remove -g origin low-lr  # from the Git remote (pushed with `dvx exp push`)
"""))
@click.argument("names", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every experiment of HEAD.")
@click.option("-g", "--git-remote", metavar="GIT_REMOTE", type=GIT_REMOTE,
              help="Delete them from this Git remote instead; your own copies stay.")
@click.option("-f", "--force", is_flag=True,
              help="With -g: also the remote's experiments that are not this clone's (a "
                   "teammate's, or replaced since): named, or of HEAD with --all.")
@common_options
def exp_remove(names: tuple[str, ...], everything: bool, git_remote: str | None,
               force: bool) -> None:
    """Delete experiments (their outputs stay in the cache until `dvx gc`)."""
    from dvx.errors import UsageError
    from dvx.exps.run import remove
    from dvx.exps.share import remove_from_remote

    if not names and not everything:
        raise UsageError("Name the experiments to remove, or use --all.")
    if names and everything:  # which was meant is not known: all of them is no small mistake
        raise UsageError(f"--all removes every experiment of HEAD, not only {', '.join(names)}: "
                         "name the experiments, or use --all, not both.")
    if force and git_remote is None:
        raise UsageError("--force goes with -g GIT_REMOTE (a teammate's experiments there).")
    if git_remote is not None:
        gone = remove_from_remote(open_repo(), git_remote, list(names), everything, force)
        if not is_quiet():
            out(f"Removed {counted(len(gone.removed), 'experiment')} from '{git_remote}'"
                f"{_by_baseline(gone.removed)}.")
        if gone.left:
            warn(f"WARNING: left on '{git_remote}' the experiments of HEAD this clone does "
                 f"not have (a teammate's, or replaced since you pulled): "
                 f"{', '.join(gone.left)}. "
                 "Add --force to remove them too.")
        return
    removed = remove(open_repo(), list(names), everything)
    if not is_quiet():
        out(f"Removed {counted(len(removed), 'experiment')}"
            f"{_by_baseline([(e.name, e.baseline) for e in removed])}.")


def _by_baseline(removed: list[tuple[str, str]]) -> str:
    """`: a, b (baseline 1a2b3c4); a (baseline 9f8e7d6)`: the (name, baseline) of each
    experiment removed, by baseline, as `exp show -A` lists them (empty: none)."""
    names: dict[str, list[str]] = {}
    for name, baseline in removed:
        names.setdefault(baseline, []).append(name)
    if not names:
        return ""
    return ": " + "; ".join(f"{', '.join(each)} (baseline {baseline[:7]})"
                            for baseline, each in names.items())


@exp.command("push", epilog=example("""
dvx exp push origin low-lr
dvx exp push origin           # every experiment of HEAD
"""))
@click.argument("git_remote", type=GIT_REMOTE)
@click.argument("names", nargs=-1)
@click.option("-r", "--remote", "dvx_remote", type=RemoteName(), metavar="NAME",
              help="The dvx remote for data.")
@click.option("-f", "--force", is_flag=True,
              help="Replace experiments of the same name that GIT_REMOTE holds.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON summary.")
@common_options
def exp_push(git_remote: str, names: tuple[str, ...], dvx_remote: str | None,
             force: bool, as_json: bool) -> None:
    """Share experiments: their data to the dvx remote, then their refs to GIT_REMOTE (those
    it holds already, at the same commit, are named as up to date there)."""
    from dvx.exps.share import push_experiments

    shared = push_experiments(open_repo(), git_remote, list(names), dvx_remote, force)
    _report_shared(shared, "Pushed", as_json)


@exp.command("pull", epilog=example("""
dvx exp pull origin
dvx exp pull origin refs/exps/<baseline>/tuned   # one of several called tuned
"""))
@click.argument("git_remote", type=GIT_REMOTE)
@click.argument("names", nargs=-1)
@click.option("-r", "--remote", "dvx_remote", type=RemoteName(), metavar="NAME",
              help="The dvx remote for data.")
@click.option("-f", "--force", is_flag=True,
              help="Replace your experiments of the same baseline and name with "
                   "GIT_REMOTE's.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON summary.")
@common_options
def exp_pull(git_remote: str, names: tuple[str, ...], dvx_remote: str | None,
             force: bool, as_json: bool) -> None:
    """Get experiments from GIT_REMOTE (all, or those named: by name, full ref or commit),
    and their data. One that would replace yours, or take a queued experiment's name, is left
    out, and named; one you hold already, at the same commit, is named as up to date here."""
    from dvx.exps.share import pull_experiments

    shared = pull_experiments(open_repo(), git_remote, list(names), dvx_remote, force)
    _report_shared(shared, "Pulled", as_json)


def _report_shared(shared: object, verb: str, as_json: bool) -> None:
    """Say what moved: the data that failed, what was pushed or pulled, and what was up to
    date already, the experiments a pull left out, and last the data error; exit 1 after any
    error, once all of it is said (a pull whose data did not all come still took the
    experiments' refs). `as_json`: the summary is one JSON document on stdout instead."""
    from dvx.exps.share import Shared

    assert isinstance(shared, Shared)
    if as_json:
        emit_json(shared.to_json())
    data_failed = bool(shared.not_pushed) or (shared.data is not None and not shared.data.ok)
    if shared.data is not None:
        from dvx.cli.sync import failure_lines

        failed = shared.data.transfer.failed
        for line in failure_lines(failed, shared.data.paths.lookup(failed)):
            warn(line)
        for problem in shared.data.problems:
            warn(f"Problem: {problem}")
    if data_failed and verb == "Pushed":
        warn(f"ERROR: the data of the experiments did not all move, so none of them was "
             f"pushed: {', '.join(shared.not_pushed)}.")
        sys.exit(1)
    if not is_quiet() and not as_json:
        out(f"{verb} {counted(len(shared.experiments), 'experiment')}"
            + (f": {', '.join(shared.experiments)}" if shared.experiments else "") + ".")
        if shared.up_to_date:
            where = f"on '{shared.git_remote}'" if verb == "Pushed" else "here"
            out(f"Up to date {where} already, at the same commit: "
                f"{', '.join(shared.up_to_date)}.")
        if shared.completed:
            out("Fetched the data the cache lacked of "
                f"{counted(len(shared.completed), 'experiment')} already here: "
                f"{', '.join(shared.completed)}.")
    if shared.left_out is not None:
        warn(f"ERROR: {shared.left_out}")
    if data_failed:
        warn("ERROR: the experiments were fetched, but not all of their data: `dvx exp apply` "
             "needs it. Whoever pushed them can send it again with `dvx exp push` if their "
             "cache still has it; what a `dvx gc --remote` deleted (its scope left the "
             "experiments out) and no cache holds is gone: run those experiments again.")
    if shared.left_out is not None or data_failed:
        sys.exit(1)


@click.group(epilog=example("""
dvx exp run --queue -S train.lr=0.1
dvx exp run --queue -S train.lr=0.01
dvx queue start -j 2
dvx queue status
"""))
@common_options
def queue() -> None:
    """Run queued experiments (`dvx exp run --queue`) in parallel, each in a temporary Git
    worktree sharing this repository's cache."""


@queue.command("start", epilog=example("""
dvx queue start -j 4
dvx queue start --dask tcp://scheduler:8786
"""))
@click.option("-j", "--jobs", type=JOBS_RANGE, default=1, show_default=True,
              help="Experiments run at once on this machine (not with --dask).")
@click.option("--dask", "dask_address", metavar="ADDRESS",
              type=NotEmpty("the Dask scheduler's address"),
              help="Run them as tasks on the Dask cluster at ADDRESS instead (dvx's dask extra).")
@click.option("--git-remote", metavar="GIT_REMOTE", type=GIT_REMOTE,
              help="With --dask: the Git remote the workers clone and push experiments to "
                   "(default: origin).")
@common_options
def queue_start(jobs: int, dask_address: str | None, git_remote: str | None) -> None:
    """Run every queued experiment until the queue is empty: JOBS at a time in temporary
    worktrees here, or with --dask as tasks on a Dask cluster, each starting from the Git
    remote and the dvx remote and pushing its experiment back (no shared disk needed)."""
    from dvx.errors import UsageError
    from dvx.exps.queue import DONE, start

    if git_remote is not None and dask_address is None:  # the runs here push nowhere
        raise UsageError("--git-remote goes with --dask ADDRESS: it names the Git remote the "
                         "Dask workers clone from; experiments run here are recorded in this "
                         "repository itself.")
    jobs_given = click.get_current_context().get_parameter_source("jobs") \
        is click.core.ParameterSource.COMMANDLINE
    if jobs_given and dask_address is not None:  # the cluster's workers set how many run
        raise UsageError("-j (--jobs) is how many experiments run at once on this machine; "
                         "with --dask they run as tasks on the cluster, as many at once as "
                         "its workers take.", "Drop -j, or drop --dask to run them here.")
    repo = open_repo()
    say = (lambda text: None) if is_quiet() else out
    if dask_address is not None:
        from dvx.exps.cluster import start_on_dask

        ran = start_on_dask(repo, dask_address, git_remote or "origin", say)
    else:
        ran = start(repo, jobs, say)
    if not ran and not is_quiet():
        out("The queue is empty.")
    if any(e.state != DONE or e.error is not None for e in ran):  # a run's errors too
        sys.exit(1)


@queue.command("status", epilog=example("dvx queue status --json"))
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def queue_status(as_json: bool) -> None:
    """List queued, running and finished experiments."""
    from dataclasses import asdict

    from dvx.exps.queue import entries

    found = entries(open_repo())
    if as_json:
        emit_json([asdict(e) for e in found])
        return
    if not found:
        out("The queue is empty.")
    for e in found:
        params = " ".join(e.sets)
        out(f"{e.name:<20} {e.state:<8} {params}" + (f"  ({e.error})" if e.error else ""))


@queue.command("logs", epilog=example("dvx queue logs low-lr"))
@click.argument("name")
@common_options
def queue_logs(name: str) -> None:
    """Print the output of a queued experiment's run."""
    from dvx.exps.queue import read_log

    log = read_log(open_repo(), name)
    sys.stdout.buffer.write(log if not log or log.endswith(b"\n") else log + b"\n")


@queue.command("stop", epilog=example("dvx queue stop"))
@common_options
def queue_stop() -> None:
    """Stop running experiments and empty the queue."""
    from dvx.exps.queue import stop

    stopped = stop(open_repo())
    if not is_quiet():
        out(f"Stopped {counted(len(stopped), 'experiment')}.")


@queue.command("remove", epilog=example("""
dvx queue remove low-lr
dvx queue remove --finished     # every done, failed or stopped entry
"""))
@click.argument("names", nargs=-1)
@click.option("--finished", is_flag=True, help="Every done, failed or stopped entry.")
@common_options
def queue_remove(names: tuple[str, ...], finished: bool) -> None:
    """Take entries out of the queue (queued or finished ones), with their logs."""
    from dvx.errors import UsageError
    from dvx.exps.queue import remove

    if not names and not finished:
        raise UsageError("Name the entries to remove, or use --finished.")
    removed = remove(open_repo(), list(names), finished)
    if not is_quiet():
        out(f"Removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}.")


COMMANDS = [exp, queue]
