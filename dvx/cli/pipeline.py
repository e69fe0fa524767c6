"""Pipeline commands: stage add/list, repro, dag."""

from __future__ import annotations

import shlex
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from dvx.cli.common import (
    JOBS_RANGE,
    UTF8,
    common_options,
    example,
    is_quiet,
    one_of,
    open_repo,
    warn_if_merge_driver_missing,
)
from dvx.cli.scrub import scrubbed
from dvx.cli.ui import (
    emit_json,
    git_add,
    kept_in_git,
    kept_untracked,
    out,
    report_staging,
    say_nothing,
    unignored_note,
    warn,
)
from dvx.logs import shell_join, shown_path
from dvx.wording import counted

if TYPE_CHECKING:
    from dvx.pipeline.repro import ReproResult, StageResult
    from dvx.pipeline.spec import Stage


@click.group(epilog=example("""
dvx stage add -n train -d data/features.csv -d train.py -p train.lr -o model.pkl \\
    python train.py
dvx stage list
"""))
@common_options
def stage() -> None:
    """Add, list and remove the pipeline stages of dvx.yaml."""


@stage.command("add", context_settings={"allow_interspersed_args": False},
               epilog=example("""
dvx stage add -n prepare -d data/raw.csv -d prepare.py -o data/prepared python prepare.py
dvx stage add -n train -d data/features -p train.lr,train.epochs -o model.pkl \\
    -m metrics.json "python train.py --out model.pkl"
dvx stage add -f -n train -d data/features -o model.pkl python train.py   # replace it
"""))
@click.option("-n", "--name", required=True, type=UTF8, help="Name of the stage.")
@click.option("-d", "--deps", "deps", multiple=True, type=UTF8, metavar="PATH",
              help="A file or directory the command reads (repeatable).")
@click.option("-o", "--outs", "outs", multiple=True, type=UTF8, metavar="PATH",
              help="An output, stored in the cache (repeatable).")
@click.option("-O", "--outs-no-cache", "outs_no_cache", multiple=True, type=UTF8, metavar="PATH",
              help="An output that Git tracks instead of the cache (repeatable).")
@click.option("--outs-persist", "outs_persist", multiple=True, type=UTF8, metavar="PATH",
              help="An output kept between runs, not deleted before the command (repeatable).")
@click.option("-p", "--params", "params", multiple=True, type=UTF8, metavar="[FILE:]KEYS",
              help="Params the command reads: keys of params.yaml, comma-separated, or "
                   "FILE:KEYS for another YAML, JSON or TOML file (repeatable).")
@click.option("-m", "--metrics", "metrics", multiple=True, type=UTF8, metavar="PATH",
              help="A metrics file the command writes (tracked by Git; repeatable).")
@click.option("--plots", "plots", multiple=True, type=UTF8, metavar="PATH",
              help="A plots file the command writes (tracked by Git; repeatable).")
@click.option("-w", "--wdir", type=UTF8, metavar="DIR",
              help="Directory to run the command in (default: the current one).")
@click.option("--desc", type=UTF8, metavar="TEXT", help="A description of the stage.")
@click.option("--always-changed", is_flag=True, help="Run the stage every time.")
@click.option("-f", "--force", is_flag=True, help="Replace a stage of the same name.")
@click.argument("command", nargs=-1, required=True, type=UTF8)
@common_options
def stage_add(name: str, deps: tuple[str, ...], outs: tuple[str, ...],
              outs_no_cache: tuple[str, ...], outs_persist: tuple[str, ...],
              params: tuple[str, ...], metrics: tuple[str, ...], plots: tuple[str, ...],
              wdir: str | None, desc: str | None, always_changed: bool, force: bool,
              command: tuple[str, ...]) -> None:
    """Write a stage to dvx.yaml (keeping the file's comments and layout).

    Everything from the first argument that is not an option is the COMMAND (options after it
    belong to the command), run with /bin/sh -c from the stage's working directory: the
    current directory, or WDIR relative to it. Paths are relative to that directory. Run it
    with `dvx repro`.
    """
    import os
    import posixpath

    from dvx.paths import to_posix
    from dvx.pipeline.editor import NewStage, add_stage
    from dvx.pipeline.none_declared import created_note, recorded_without_pipeline

    _refuse_empty_values({"-d/--deps": deps, "-o/--outs": outs, "-O/--outs-no-cache":
                          outs_no_cache, "--outs-persist": outs_persist, "-p/--params": params,
                          "-m/--metrics": metrics, "--plots": plots,
                          "-w/--wdir": () if wdir is None else (wdir,)})
    repo = open_repo()
    here = to_posix(os.path.relpath(os.getcwd(), repo.root))
    wdir = posixpath.normpath(posixpath.join(here, to_posix(wdir or ".")))
    # the words as /bin/sh is to run them, never a message's $'...' form
    cmd = command[0] if len(command) == 1 else shlex.join(command)  # noqa: TID251
    new = NewStage(name, cmd, deps, outs, outs_no_cache, outs_persist, params, metrics, plots,
                   None if wdir == "." else wdir, desc, always_changed)
    recorded = recorded_without_pipeline(repo)  # dvx.yaml deleted: this one starts anew
    replaced = add_stage(repo, new, force)
    undeclared = [n for n in recorded if n != name]
    if undeclared:  # never quiet: the next `dvx repro` drops their entries
        warn(f"WARNING: {created_note(repo, undeclared, name)}")
    if not is_quiet():
        out(f"{'Replaced' if replaced else 'Added'} stage '{name}' in dvx.yaml.")
        record = (f"; record it in Git with `{git_add(repo.root, ['dvx.yaml'])}`"
                  if repo.git is not None else "")
        out(f"Run it with `dvx repro {name}`{record}.")


def _refuse_empty_values(options: dict[str, tuple[str, ...]]) -> None:
    """An empty value names nothing (an unset shell variable, say): refused before dvx.yaml
    is touched, naming the option rather than the file."""
    from dvx.errors import UsageError

    for option, values in options.items():
        if any(not value.strip() for value in values):
            raise UsageError(f"The value given to {option} is empty.",
                             "Give it a value, or leave the option out.")


@stage.command("list", epilog=example("""
dvx stage list
dvx stage list --json
"""))
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def stage_list(as_json: bool) -> None:
    """List the stages of dvx.yaml, with their commands, dependencies and outputs."""
    from dvx.outputs import warn_of_pipeline_files_not_read
    from dvx.pipeline.graph import load_dag

    repo = open_repo()
    dag = load_dag(repo)
    if dag is None:  # with a dvx.yaml below the root, that one is what was meant
        warn_of_pipeline_files_not_read(repo, search=True)
    stages = [] if dag is None else [dag.stages[n] for n in dag.stages]
    if as_json:
        emit_json([s.to_json() for s in stages])
        return
    if not stages:
        from dvx.pipeline.none_declared import nothing_to_list

        out(nothing_to_list(repo))
    for s in stages:
        _print_stage(s)


@stage.command("remove", epilog=example("""
dvx stage remove evaluate
dvx stage remove --outs featurize      # and delete its outputs
"""))
@click.argument("name")
@click.option("--outs", is_flag=True, help="Also delete the stage's outputs.")
@click.option("-f", "--force", is_flag=True,
              help="With --outs, delete outputs even when they are not as recorded.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def stage_remove(name: str, outs: bool, force: bool, as_json: bool) -> None:
    """Take stage NAME (or every item of a foreach/matrix stage NAME) out of dvx.yaml and
    dvx.lock; its outputs stay in the workspace, no longer ignored by Git, unless --outs."""
    from dvx.errors import UsageError
    from dvx.pipeline.stages import remove

    if force and not outs:  # without --outs no output is deleted, so nothing to force
        raise UsageError("-f (--force) goes with --outs: it deletes the outputs even when "
                         "they are not as recorded, and without --outs they stay.")
    repo = open_repo()
    changed = remove(repo, name, outs, force)
    if as_json:
        emit_json({"removed": changed.stages, "deleted": changed.deleted,
                   "kept": changed.kept, "kept_in_git": changed.kept_in_git,
                   "undeclared": changed.undeclared,
                   "unignored": changed.unignored, "to_stage": changed.touched})
        return
    if not is_quiet():
        out(f"Removed stage{'s' if len(changed.stages) > 1 else ''} "
            + ", ".join(f"'{n}'" for n in changed.stages)
            + _deleted(changed.deleted, changed.kept_in_git) + ".")
        if changed.undeclared:
            out(_undeclared_left(changed.undeclared))
    if changed.kept:
        warn(kept_untracked(changed.kept))
    if changed.kept_in_git:
        warn(kept_in_git(changed.kept_in_git))
    if changed.unignored:
        warn(unignored_note(repo.root, changed.unignored, "the output data"))
    report_staging(repo.root, [], changed.touched)


def _deleted(deleted: list[str], kept_in_git: list[str]) -> str:
    """What `stage remove --outs` says it deleted: an output whose files Git's index holds
    are kept (named below) is named as its data deleted, never as all of it gone."""
    if not deleted:
        return ""
    return " and deleted " + ", ".join(
        f"the data of {path} (keeping the files Git tracks in it)"
        if any(kept.startswith(path + "/") for kept in kept_in_git) else path
        for path in deleted)


def _undeclared_left(paths: list[str]) -> str:
    """Outputs dvx.lock recorded that dvx.yaml no longer declared, which nothing else names."""
    one = len(paths) == 1
    return (f"{', '.join(paths)}, which dvx.lock recorded as {'an output' if one else 'outputs'}"
            f" but dvx.yaml no longer declared, {'stays' if one else 'stay'} in the workspace, "
            "no longer ignored by Git.")


@click.command(epilog=example("""
dvx freeze train       # repro never runs it, even if its inputs change
dvx unfreeze train
"""))
@click.argument("names", nargs=-1, required=True)
@common_options
def freeze(names: tuple[str, ...]) -> None:
    """Freeze stages: `dvx repro` leaves them as they are recorded, whatever changes."""
    _set_frozen(names, True)


@click.command(epilog=example("""
dvx unfreeze train
"""))
@click.argument("names", nargs=-1, required=True)
@common_options
def unfreeze(names: tuple[str, ...]) -> None:
    """Unfreeze stages: `dvx repro` runs them again when they are stale."""
    _set_frozen(names, False)


def _set_frozen(names: tuple[str, ...], frozen: bool) -> None:
    from dvx.pipeline.spec import stage_target
    from dvx.pipeline.stages import check_named
    from dvx.pipeline.stages import freeze as do_freeze

    repo = open_repo()
    targets = list(dict.fromkeys(map(stage_target, names)))  # a stage named twice: once
    for name in targets:  # all known before any changes
        check_named(repo, name)
    for name in targets:
        changed = do_freeze(repo, name, frozen)
        if not is_quiet():
            state = "frozen" if frozen else "not frozen"
            out(f"Stage '{name}' is {state}" + ("." if changed else " already."))


def _print_stage(s: Stage) -> None:
    flags = [f for f, on in (("frozen", s.frozen), ("always changed", s.always_changed)) if on]
    out(s.name + (f"  ({', '.join(flags)})" if flags else ""))
    if s.desc:
        out(f"    desc:   {s.desc}")
    for cmd in s.cmd:
        out(f"    cmd:    {cmd}")
    if s.wdir:
        out(f"    wdir:   {s.wdir}")
    if s.deps:
        out(f"    deps:   {', '.join(s.deps)}")
    if s.params:
        out("    params: " + ", ".join(f"{k} ({p.file})" if p.keys else f"{p.file} (all)"
                                       for p in s.params for k in (p.keys or ("",))))
    if s.outs:
        out("    outs:   " + ", ".join(o.path + ("" if o.cache else " (no cache)")
                                       for o in s.outs))


class _Reporter:
    """Prints what repro does as it happens; safe to call from the worker threads."""

    def __init__(self, capture: bool, to_stderr: bool) -> None:
        self.capture = capture
        self.to_stderr = to_stderr
        self.quiet = is_quiet()  # read here: the click context is not there in other threads
        self._lock = threading.Lock()

    def _say(self, text: str) -> None:
        with self._lock:
            (warn if self.to_stderr else out)(text)

    def pulled(self, result: Any) -> None:
        from dvx.cli.sync import report_sync

        if not self.to_stderr:  # --json: the summary is in the document
            report_sync("Fetched", result, False)

    def committed(self, path: str) -> None:
        if not self.quiet:
            self._say(f"Committed {shown_path(path)}: it changed since it was recorded, and "
                      "stages read it.")

    def starting(self, stage: Stage, reasons: list[str]) -> None:
        if not self.quiet:
            self._say(f"Running stage '{stage.name}' ({'; '.join(reasons)}):")

    def command(self, stage: str, cmd: str) -> None:
        if not self.quiet:
            self._say(f"> {cmd}")

    def line(self, stage: str, text: str) -> None:
        self._say(f"[{stage}] {text}")

    def finished(self, result: StageResult) -> None:
        from dvx.pipeline import repro as r

        if result.outcome == r.FAILED:
            with self._lock:
                warn(_sentence(f"Stage '{result.name}' failed: {result.error}"))
            return
        if result.outcome == r.SKIPPED:
            with self._lock:
                warn(_sentence(f"Skipped stage '{result.name}': {result.error}"))
            return
        if result.missing or result.modified:  # a frozen stage's: never quiet
            with self._lock:
                warn(f"WARNING: {result.note}")
            return
        if self.quiet:
            return
        messages = {
            r.UP_TO_DATE: f"Stage '{result.name}' is up to date.",
            r.FROZEN: f"Stage '{result.name}' is frozen; not checked.",
            r.RESTORED: f"Restored '{result.name}' from the run-cache "
                        f"({'; '.join(result.reasons)}).",
            r.CHECKED_OUT: f"Checked out the outputs dvx.lock records for '{result.name}' "
                           f"({'; '.join(result.reasons)}).",
            r.RAN: f"Stage '{result.name}' done.",
        }
        self._say(messages[result.outcome] if not result.note
                  else f"{messages[result.outcome][:-1]} ({result.note}).")


def _sentence(text: str) -> str:
    """`text` ending with one full stop (an error's own message may end with one)."""
    return text if text.endswith(".") else text + "."


@click.command(epilog=example("""
dvx repro                     # everything that is stale
dvx repro train               # train and the stages it depends on
dvx repro --dry               # what would run, and why
dvx repro -j 4 -k             # independent stages in parallel; keep going after a failure
dvx repro --pull              # in CI: fetch data and past runs first
"""))
@click.argument("targets", nargs=-1)
@click.option("--dry", is_flag=True,
              help="Only show what would run, and why (with --pull: also what would be "
                   "fetched, asking the remote what it holds).")
@click.option("-f", "--force", is_flag=True,
              help="Run the stages even if nothing changed (not from the run-cache).")
@click.option("-s", "--single-item", "single", is_flag=True,
              help="Only the targets, not the stages they depend on.")
@click.option("--downstream", is_flag=True,
              help="The targets and the stages that depend on them (not those they depend on).")
@click.option("--pull", is_flag=True,
              help="First fetch the data the stages read and write, and their past runs, from "
                   "the default remote.")
@click.option("--allow-missing", is_flag=True,
              help="With --pull: go on when the remote lacks some of the data (stages whose "
                   "outputs could not be fetched run instead).")
@click.option("-k", "--keep-going", is_flag=True,
              help="After a failure, go on with the stages that do not depend on it.")
@click.option("-j", "--jobs", type=JOBS_RANGE, default=1, show_default=True,
              help="Stages to run at once; their output lines are prefixed with [stage].")
@click.option("--no-run-cache", is_flag=True,
              help="Run stale stages even when the run-cache has their outputs.")
@click.option("--json", "as_json", is_flag=True, help="Output a JSON summary (messages go to "
                                                      "stderr).")
@common_options
def repro(targets: tuple[str, ...], dry: bool, force: bool, single: bool, downstream: bool,
          pull: bool, allow_missing: bool, keep_going: bool, jobs: int, no_run_cache: bool,
          as_json: bool) -> None:
    """Run the stages of dvx.yaml whose command, dependencies, params or outputs changed, in
    dependency order, and record what they ran with in dvx.lock.

    TARGETS are stage names (NAME, or NAME@ITEM for a foreach/matrix stage; NAME alone selects
    all of its items); without targets, every stage.
    """
    from dvx.errors import UsageError
    from dvx.pipeline.repro import ReproOptions
    from dvx.pipeline.repro import repro as do_repro

    if single and downstream:
        raise UsageError("--single-item and --downstream cannot be combined.")
    if allow_missing and not pull:
        raise UsageError("--allow-missing only applies to --pull.")
    flags = (("--dry", dry), ("-f", force), ("-s", single), ("--downstream", downstream),
             ("--pull", pull), ("--allow-missing", allow_missing), ("-k", keep_going),
             ("--no-run-cache", no_run_cache))
    again = shell_join(["repro", *(flag for flag, on in flags if on), *targets])
    options = ReproOptions(targets, dry, force, single, downstream, pull, keep_going, jobs,
                           not no_run_cache, allow_missing, again=again)
    reporter = _Reporter(capture=jobs > 1 or as_json, to_stderr=as_json)
    repo = open_repo()
    warn_if_merge_driver_missing(repo)
    result = do_repro(repo, options, reporter)
    for problem in result.problems:
        warn(f"Problem: {problem}", result.quoting)
    if as_json:
        emit_json(result.to_json())
    elif dry:
        _print_dry(result)
    elif not is_quiet():
        _print_summary(repo.root, result)
    if not result.ok and not any(s.outcome == "failed" for s in result.stages):
        sys.exit(1)  # ran but not recorded: its problem said why
    if not result.ok:
        warn(_failed_line([s for s in result.stages if s.outcome == "failed"]))
        sys.exit(1)


def _failed_line(failed: list[StageResult]) -> str:
    """The closing line of a repro whose stages `failed`: none is recorded, and what those
    started wrote stays unrecorded; those refused before they started ran nothing."""
    started = [s for s in failed if s.started]
    refused = ", ".join(s.name for s in failed if not s.started)
    ran = ", ".join(f"{s.name} (exit code {s.exit_code})" if s.exit_code else s.name
                    for s in started)
    commands = "its command" if len(failed) - len(started) == 1 else "their commands"
    entries = "Its dvx.lock entry is" if len(failed) == 1 else "Their dvx.lock entries are"
    if not refused:
        outcome = f"{ran}. {entries} unchanged: what {'it' if len(failed) == 1 else 'they'} " \
            "wrote is not recorded"
    elif not started:
        outcome = (f"{refused}, refused before {commands} ran. {entries} unchanged, and so "
                   f"{'are its' if len(failed) == 1 else 'are their'} outputs: nothing of "
                   f"{'it' if len(failed) == 1 else 'them'} ran")
    else:
        outcome = (f"{ran}, and {refused}, refused before {commands} ran. {entries} "
                   f"unchanged: what {', '.join(s.name for s in started)} wrote is not "
                   f"recorded, and nothing of {refused} ran")
    them = "it" if len(failed) == 1 else "them"
    return (f"ERROR: {counted(len(failed), 'stage')} failed: {outcome}; fix {them} and run "
            "`dvx repro` again.")


def _listed(paths: list[str]) -> str:
    return ", ".join(shown_path(path) for path in paths)


def _print_dry(result: ReproResult) -> None:
    fetched = [p for p, remote in result.would_pull.items() if remote]
    cached = [p for p, remote in result.would_pull.items() if not remote]
    if fetched:
        out(f"Would fetch from the remote and check out: {_listed(fetched)}.")
    if cached:
        out(f"Would check out from the cache: {_listed(cached)}.")
    for path in result.committed:
        out(f"Would commit {shown_path(path)}: it changed since it was recorded, and stages "
            "read it.")
    report_dropped(result, dry=True)
    for s in result.stages:
        why = f": {'; '.join(s.reasons)}" if s.reasons else ""
        if s.outcome == "would-run":
            out(f"Would run stage '{s.name}'{why}")
        elif s.outcome == "would-restore":
            out(f"Would restore '{s.name}' from the run-cache{why}")
        elif s.outcome == "would-fail":  # why: an error's, which may quote a library's
            out(scrubbed(f"Would fail stage '{s.name}': {s.error}."))
        elif s.outcome == "would-skip":
            out(scrubbed(f"Would skip stage '{s.name}': {s.error}."))
        elif s.outcome == "would-check-out":
            out(f"Would check out the outputs dvx.lock records for '{s.name}'{why}")
        elif s.outcome == "frozen" and (s.missing or s.modified):
            warn(f"WARNING: {s.note}")
        elif s.outcome == "frozen":
            out(f"Stage '{s.name}' is frozen; not checked.")
        elif not is_quiet():
            out(f"Stage '{s.name}' is up to date.")
    if not result.dropped and all(s.outcome in ("up-to-date", "frozen") and not s.missing
                                  and not s.modified for s in result.stages):
        out("No stage would run: every stage is up to date once that data is in place."
            if result.would_pull else "Nothing to do: every stage is up to date.")


def _dropped(result: ReproResult, dry: bool) -> str:
    """What dropping the dvx.lock entries of stages gone from dvx.yaml does (or would do)."""
    entries = "entry" if len(result.dropped) == 1 else "entries"
    return (f"{'Would drop' if dry else 'Dropped'} the dvx.lock {entries} of "
            f"{', '.join(repr(n) for n in result.dropped)}, no longer in dvx.yaml.")


def _left_ignored(paths: list[str], dry: bool) -> str:
    """Outputs no stage has any longer: no longer dvx's data, but still ignored by Git."""
    one = len(paths) == 1
    they, them, lines = ("it", "it", "its line") if one else ("they", "them", "their lines")
    stay = "would stay" if dry else "stays" if one else "stay"
    return (f"No stage outputs {', '.join(paths)} any longer: {they} {stay} in the workspace, "
            f"still ignored by Git, so `git add -A` leaves {them} out (delete {them}, or "
            f"remove {lines} from .gitignore to let Git see {them}).")


def _unignored(held: dict[str, list[str]], dry: bool) -> str:
    """Outputs no stage has any longer that hold outputs of the pipeline (`res`, whose stage
    now outputs `res/a.txt`): their lines in .gitignore went, and Git sees the rest of them."""
    went = "would go" if dry else "went"
    sees = "would see" if dry else "sees"
    return " ".join(
        f"No stage outputs {path} any longer, but it holds the output"
        f"{'s' if len(inside) > 1 else ''} {', '.join(inside)}: its line in .gitignore "
        f"{went}, for Git to see the .gitignore dvx keeps there, so Git {sees} the rest of "
        f"{path} too, as files of yours, which `git add -A` would commit (delete what you no "
        "longer need there, or list it in .gitignore, unless Git is to version it)."
        for path, inside in held.items())


def report_dropped(result: ReproResult, dry: bool, in_workspace: bool = True) -> None:
    """Say which dvx.lock entries a run of the whole pipeline (repro, exp run) dropped, and
    which outputs it left in the workspace, still ignored by Git (--dry: would); not those
    of a run in a temporary worktree (a queued experiment), removed with them."""
    if result.dropped:
        out(_dropped(result, dry))
    if result.left_ignored and in_workspace:
        out(_left_ignored(result.left_ignored, dry))
    if result.unignored and in_workspace:
        out(_unignored(result.unignored, dry))


def _print_summary(root: str, result: ReproResult) -> None:
    report_dropped(result, dry=False)
    # repro checks the stages and the data they read, not data no stage reads: `status` does
    if result.ok and all(s.outcome in ("up-to-date", "frozen") and not s.missing
                         and not s.modified for s in result.stages):
        out("Pipelines are up to date.")
    if result.lock_written:
        out("Updated dvx.lock.")
    report_staging(root, result.staged, result.to_stage)


@click.command(epilog=example("""
dvx dag
dvx dag train              # train and the stages it depends on
dvx dag --dot | dot -Tsvg > pipeline.svg
dvx dag --mermaid
dvx dag --json
"""))
@click.argument("target", required=False)
@one_of("fmt", ("--dot", "dot", "Graphviz dot instead of ASCII."),
        ("--mermaid", "mermaid", "A Mermaid flowchart instead of ASCII."),
        ("--json", "json", "The stages and their edges as JSON, in the order they run."))
@common_options
def dag(target: str | None, fmt: str | None) -> None:
    """Draw the pipeline: each stage below the stages whose outputs it depends on."""
    from dvx.outputs import warn_of_pipeline_files_not_read
    from dvx.pipeline.graph import Dag, edges, load_dag, to_ascii, to_dot, to_mermaid
    from dvx.pipeline.spec import no_pipeline_error

    _refuse_empty_values({"TARGET": (target,) if target is not None else ()})
    repo = open_repo()
    graph = load_dag(repo)
    if graph is None and target:
        raise no_pipeline_error(repo, f"There is no stage named '{target}': there is no "
                                f"dvx.yaml in {repo.root}.", "Add a stage with `dvx stage add`.")
    if graph is None:  # with a dvx.yaml below the root, that one is what was meant
        warn_of_pipeline_files_not_read(repo, search=True)
    graph = graph or Dag({})  # without dvx.yaml, the empty graph in the format asked for
    names = graph.select([target] if target else [])
    if fmt == "json":
        emit_json({"stages": [{"name": n, "deps": list(graph.stages[n].deps),
                               "outs": list(graph.stages[n].out_paths),
                               "frozen": graph.stages[n].frozen} for n in graph.order(names)],
                   "edges": [{"from": a, "to": b} for a, b in edges(graph, names)]})
        return
    if not graph.stages:
        from dvx.pipeline.none_declared import nothing_to_list

        say_nothing(fmt, nothing_to_list(repo))
        if fmt is None:
            return
    draw = {"dot": to_dot, "mermaid": to_mermaid}.get(fmt or "", to_ascii)
    out(draw(graph, names), nl=False)


COMMANDS = [stage, repro, dag, freeze, unfreeze]
