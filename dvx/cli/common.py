"""Options and helpers shared by every command."""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dvx.cli.ui import is_quiet
from dvx.threads import MAX_JOBS

if TYPE_CHECKING:
    from dvx.lock import Command, Work
    from dvx.repo import Repo

F = TypeVar("F", bound=Callable[..., Any])

# A path argument that dvx reads itself: click's check that it is readable would turn an
# unreadable file into a usage error, instead of the one-paragraph ERROR dvx gives for it.
PATH = click.Path(readable=False)


def _verbose(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value:
        from dvx import logs

        logs.set_level(logs.DEBUG if value > 1 else logs.INFO, with_names=value > 1)
        if ctx.obj is not None:
            ctx.obj["verbose"] = max(value, ctx.obj.get("verbose") or 0)
        refuse_quiet_with_verbose(ctx)
    return value


def _quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        from dvx import logs

        logs.set_level(logs.ERROR)
        if ctx.obj is not None:
            ctx.obj["quiet"] = True
        refuse_quiet_with_verbose(ctx)
    return value


def refuse_quiet_with_verbose(ctx: click.Context) -> None:
    """-q and -v given together (before or after the command's name), as DVC refuses them:
    one asks for less output, the other for more, and neither may silently win."""
    if ctx.obj and ctx.obj.get("quiet") and ctx.obj.get("verbose"):
        raise click.UsageError("-q (--quiet) and -v (--verbose) cannot be used together.", ctx)


# -q's help, on every command. Most commands then print nothing but errors; those run for a
# report (`dvx exp show`, `dvx metrics diff`, `dvx ls`, ...) still print the report itself.
QUIET_HELP = "No messages but errors (a command run for its report still prints the report)."


def common_options(func: F) -> F:
    """-v/-q on every command, so they work after the command name too."""
    func = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_quiet,
                        help=QUIET_HELP)(func)
    func = click.option("-v", "--verbose", count=True, expose_value=False, callback=_verbose,
                        help="Show what dvx is doing (-vv: more).")(func)
    return func


class FiniteFloat(click.FloatRange):
    """A number in a range, never nan or infinity: nan compares false with every bound, so a
    range alone lets it through, and neither is a number a user means."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class NumbersAsValues(click.Command):
    """A command whose VALUE may be a negative number (`dvx config core.lock_wait -1`), which
    click would take for an option. Before click parses them, the words up to `--` that start
    with '-' and are no number go first, as options, and the others after a `--`, as
    arguments in the order given: click then refuses, by name, an option the command lacks
    (`--system`, a mistyped `-x`) instead of taking it for a VALUE. Only for commands whose
    options are all flags, so that no option's value can be taken for an argument."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        taking_values = [p.name for p in self.params
                         if isinstance(p, click.Option) and not (p.is_flag or p.count)]
        if taking_values:
            raise TypeError(f"{self.name}: options {taking_values} take a value")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        options = [word for word in args[:end] if _is_option(word)]
        values = [word for word in args[:end] if not _is_option(word)]
        return super().parse_args(ctx, [*options, "--", *values, *args[end + 1:]])


def _is_option(word: str) -> bool:
    if not word.startswith("-") or word == "-":
        return False
    try:
        float(word)  # -5, -1e-3: a value
    except ValueError:
        return True
    return False


class RemoteName(click.ParamType):
    """The name of a remote, never an option: `gc -r --dry-run` forgot the name, and taking
    `--dry-run` for it would lose the option too (no remote's name starts with '-'). Never
    empty either: `-r "$REMOTE"` with the variable unset would otherwise read as no option
    at all, and act on the default remote, or on none."""

    name = "remote name"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if value == "":
            self.fail("an empty remote name was given. Name a remote (`dvx remote list` lists "
                      "them); a variable of a script that was not set gives an empty one.",
                      param, ctx)
        if isinstance(value, str) and value.startswith("-"):
            self.fail(f"it needs a remote's name, and {value!r} is an option: name the remote "
                      "first.", param, ctx)
        return value


class Utf8Text(click.ParamType):
    """Text dvx writes into a UTF-8 file (a config, dvx.yaml, params): an argument holding
    bytes that are not UTF-8 (kept by Python as surrogates) is refused here, naming it,
    rather than failing where the file is written."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                shown = os.fsencode(value).decode("utf-8", "backslashreplace")
                self.fail(f"'{shown}' is not valid UTF-8; dvx writes it into a UTF-8 file. "
                          "Give it in UTF-8.", param, ctx)
        return value


UTF8 = Utf8Text()

# Every -j: stages, experiments, transfers or checks at once (threads.MAX_JOBS)
JOBS_RANGE = click.IntRange(1, MAX_JOBS)


def transfer_jobs(help: str) -> Callable[[F], F]:
    """The -j (--jobs) of a command that transfers or checks objects: it wins over a remote's
    `jobs` option, so one dvx refuses, which stops the command without -j, is named with this
    -j as the other way past it."""
    option = click.option("-j", "--jobs", type=JOBS_RANGE, help=help)

    def decorate(command: F) -> F:
        from dvx.errors import JobsSettingError

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except JobsSettingError as exc:
                raise exc.with_j() from None

        return option(run)  # type: ignore[return-value]

    return decorate


class NotEmpty(click.ParamType):
    """A value that may not be empty: `--dask "$ADDRESS"` with the variable unset would
    otherwise read as no option at all, and do something else (run here, use origin)."""

    name = "text"

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted  # what to name instead, for the message

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if value == "":
            self.fail(f"an empty value was given. Name {self.wanted}; a variable of a script "
                      "that was not set gives an empty one.", param, ctx)
        return value


# What an option taking a remote's name gets when given without one (`status --remote`,
# `gc -c`): the default remote. No remote can have this name.
DEFAULT_REMOTE = "\0default"


def refuse_value_to_unset(value: str | None, sets_instead: str) -> None:
    """-u (--unset) with a VALUE: refused, as DVC refuses it, never the option removed and the
    VALUE dropped. `sets_instead`: the command that sets the option to VALUE."""
    from dvx.errors import UsageError

    if value is not None:
        raise UsageError("-u (--unset) removes KEY: give it no VALUE.",
                         f"`{sets_instead}` sets it instead.")


def one_of(dest: str, *flags: tuple[str, str, str]) -> Callable[[F], F]:
    """Flags a command takes at most one of, each (flag, value, help): the command gets
    `dest` = the value of the one given, or None. Two given together are refused, so that
    neither silently wins."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            given = [(flag, value) for flag, value, _ in flags
                     if kwargs.pop(f"{dest}_{value}")]
            if len(given) > 1:
                from dvx.errors import UsageError

                raise UsageError(f"{given[0][0]} and {given[1][0]} cannot be used together.",
                                 "Give only one of " + ", ".join(f for f, _, _ in flags) + ".")
            kwargs[dest] = given[0][1] if given else None
            return func(*args, **kwargs)

        decorated: Any = command
        for flag, value, help_text in reversed(flags):
            decorated = click.option(flag, f"{dest}_{value}", is_flag=True,
                                     help=help_text)(decorated)
        return decorated

    return decorate


def refuse_rounding_json(fmt: str | None) -> None:
    """--precision rounds the numbers of a table; JSON gives them as they are, so
    --precision given with --json would be ignored: refused (a default precision is none)."""
    from click.core import ParameterSource

    from dvx.errors import UsageError

    source = click.get_current_context().get_parameter_source("precision")
    if fmt == "json" and source is ParameterSource.COMMANDLINE:
        raise UsageError("--precision rounds the numbers of a table, and --json gives them "
                         "as they are, never rounded.", "Use --md or --csv (or no format "
                         "option) for a rounded table, or leave out --precision.")


def open_repo(configuring: bool = False, from_git_directory: bool = False,
              warning_of_config: bool = True) -> Any:
    """The repository here, refused from inside its Git directory (`refuse_git_directory`)
    unless `from_git_directory` (dvx add, whose every path names the data it works on).
    `configuring` (dvx config) opens one below the top of its Git work tree too, which
    Repo.git refuses: setting core.no_scm is how to fix that. Not `warning_of_config`: Git's
    hooks and merge driver, which a Git command may run once per file, leave the config
    options dvx ignores to the user's own dvx commands to name."""
    from dvx.cli.ui import progress_for
    from dvx.repo import Repo, refuse_git_directory
    from dvx.scm import refuse_other_repository

    repo = Repo.find(progress=progress_for(is_quiet()))
    ctx = click.get_current_context(silent=True)
    if not from_git_directory:
        refuse_git_directory(repo.root, ctx.command_path if ctx is not None else "dvx")
    if not (configuring and repo.below_the_top_of_git()) and repo.git is not None:
        refuse_other_repository(repo.root)
    root = ctx.find_root() if ctx is not None else None
    shared = root.obj if root is not None and root.obj is not None else {}
    # Once a command, not once a process: a test or a caller runs many in one.
    if warning_of_config:
        repo.warn_of_unknown_options(shared.setdefault("said_of_config", set()))
    if ctx is not None:  # for the end of the command: what it could not read (main.py)
        repo.command = command_of(ctx, repo)
        shared.setdefault("repos", []).append(repo)
    return repo


# Options that change only what a command prints or how fast it runs, never what it does.
OUTPUT_ONLY_OPTIONS = frozenset({"quiet", "verbose", "as_json", "fmt_json", "fmt_csv", "fmt_md",
                                 "fmt_dot", "fmt_mermaid", "precision", "jobs"})


def command_of(ctx: click.Context, repo: Repo) -> Command:
    """The running command as the repository lock records it: what makes another run the same
    command is its subcommand, its arguments in their order (`move a b` undoes `move b a`) and
    every option that changes what it does, with its value (`checkout --relink` relinks what
    a plain checkout leaves): paths made absolute and normalized (`data`, `./data/` and, from a
    subfolder, `../data` are one target), options that change only the output (`-q`, `-j 4`)
    left out. A Git hook's arguments change with every call: any run of that hook is the
    same. And the work it does (_work_of), by which another command can finish it; for a hook
    that checks out, which no user runs by its name, the command that does that work."""
    from dvx.lock import Command, this_command

    same_as: list[object] = [ctx.command_path]
    if not ctx.command_path.startswith("dvx git-hook "):
        for param in ctx.command.params:
            name = param.name or ""
            if name in OUTPUT_ONLY_OPTIONS or param.expose_value is False:
                continue
            value = _as_target(param, ctx.params.get(name))
            same_as.append(value if isinstance(param, click.Argument) else [name, value])
    redo = "dvx checkout" if _hook_name(ctx) in HOOKS_THAT_CHECK_OUT else None
    return Command(this_command().shown, json.dumps(same_as), _work_of(ctx, repo), redo)


# The Git hooks of cli/git.py that check out every tracked path after Git moved the pointers
# (each only when it takes the repository lock: a post-checkout of files, or a post-commit
# of no merge, does nothing).
HOOKS_THAT_CHECK_OUT = frozenset({"post-checkout", "post-merge", "post-commit", "post-rewrite"})


def _hook_name(ctx: click.Context) -> str | None:
    """The Git hook `ctx` runs (`dvx git-hook NAME`), if it runs one."""
    parent = ctx.parent
    if parent is None or parent.command.name != "git-hook":
        return None
    return ctx.command.name


def _work_of(ctx: click.Context, repo: Repo) -> Work | None:
    """The work of a command whose run to its end settles its paths whatever a stopped one
    left there (lock.Work): checkout and pull place their files as the pointers say, with
    --force and --relink as they change that, and so does update for the imports it brings
    up to date (its targets, or every import), whichever revision they moved to (narrowed,
    as it goes, to the import it is updating: ops/imports.py); add, remove
    and commit leave each path tracked
    or not, whatever options they have. A move only moves what is tracked, and a commit
    without targets records only what changed of it: a stopped one is finished by those
    others, but they finish no other command. A Git hook that checks out does a checkout's
    work on every tracked path. None: a command of no such work."""
    from dvx.lock import TRACKING, WORKSPACE, Work

    if _hook_name(ctx) in HOOKS_THAT_CHECK_OUT:
        return Work(WORKSPACE, None)
    if ctx.parent is None or ctx.parent.parent is not None:  # `dvx exp pull`: another work
        return None
    name, params = ctx.command.name, ctx.params
    if name in ("checkout", "pull"):
        state = " ".join([WORKSPACE, *(f"--{flag}" for flag in ("force", "relink")
                                       if params.get(flag))])
        targets = params["targets"]
        if not targets:
            return Work(state, None)
        return Work(state, _data_paths(targets),
                    names_everything=lambda: _name_every_output(repo, targets))
    if name == "update":  # it checks out the imports it updates, as a checkout of them
        state = " ".join([WORKSPACE, *(["--force"] if params.get("force") else [])])
        imports = params["targets"] or _import_paths(repo)
        if imports is None:
            return None
        return Work(state, _data_paths(imports),
                    names_everything=lambda: _name_every_output(repo, imports))
    if name in ("add", "remove", "commit", "move"):
        paths = (params["src"], params["dst"]) if name == "move" else \
            params.get("paths") or params["targets"]
        if not paths:  # a commit of every tracked path that changed
            return Work(TRACKING, None, settles=False)
        return Work(TRACKING, _data_paths(paths), settles=name != "move")
    return None


def _import_paths(repo: Repo) -> tuple[str, ...] | None:
    """Every import of `repo`, as absolute paths: what `dvx update` without targets updates;
    None when they cannot be read (the command itself then says why)."""
    from dvx.errors import DvxError
    from dvx.outputs import scan_outputs

    try:
        outputs = scan_outputs(repo)[0]
    except (DvxError, OSError):
        return None
    return tuple(repo.abspath(o.path) for o in outputs if o.pointer.source is not None)


def _data_paths(paths: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Paths as the repository lock compares them: absolute and normalized, a pointer file
    named by its data."""
    from dvx.paths import POINTER_SUFFIX

    absolute = (os.path.normpath(os.path.abspath(p)) for p in paths)
    return tuple(p[:-len(POINTER_SUFFIX)] if p.endswith(POINTER_SUFFIX) else p for p in absolute)


def _name_every_output(repo: Repo, targets: tuple[str, ...]) -> bool:
    """Do `targets` name every tracked path of `repo` as a whole (`dvx checkout data` where
    data is all that is tracked)? Asked as the command ends: what cannot be read says no,
    never fails the command."""
    from dvx.errors import DvxError
    from dvx.outputs import resolve_targets, scan_outputs

    try:
        named = {t.output.path for t in resolve_targets(repo, targets) if t.subpath is None}
        return {o.path for o in scan_outputs(repo)[0]} <= named
    except (DvxError, OSError):
        return False


def _as_target(param: click.Parameter, value: Any) -> Any:
    values = value if isinstance(value, (tuple, list)) else (value,)
    if not isinstance(param.type, click.Path):
        return [v if v is None or isinstance(v, (bool, int, float)) else str(v)
                for v in values]
    return [os.path.normpath(os.path.abspath(v)) if v is not None else None for v in values]


def holding_lock(repo: Any) -> Any:
    """The repository lock, which a command that changes the workspace takes before it reads
    any pointer file, dvx.lock or sync record: it then acts on what they say while no other
    command can change them, never on what they said before another command that held the
    lock changed them (an `add` of new data, `git checkout`'s hook checking out another
    commit's). The operations it calls take the lock again, reentrantly."""
    return repo.lock()


def warn_if_merge_driver_missing(repo: Any) -> None:
    """Once per command that reads dvx.lock: the repository asks for dvx's merge driver, but
    this clone never set it up, so Git merges pointers and dvx.lock line by line; or the
    driver it set up names a program that is gone, so Git cannot run it."""
    if is_quiet():
        return
    from dvx.cli.ui import warn
    from dvx.ops.install import driver_interpreter_gone, driver_not_set_up

    if driver_not_set_up(repo):
        warn("WARNING: .gitattributes asks Git to merge pointers and dvx.lock with dvx's "
             "merge driver, which this clone has not set up, so Git merges them line by line: "
             "that can combine two runs of one stage into a dvx.lock entry no run produced. "
             "Run `dvx install` in this clone.")
        return
    gone = driver_interpreter_gone(repo)
    if gone is not None:
        warn(f"WARNING: dvx's merge driver, as this clone set it up, runs {gone}, which no "
             "longer exists: Git cannot run it, and leaves each pointer and dvx.lock that "
             "both sides changed holding our side alone, without conflict markers. Run "
             "`dvx install` in this clone to write the driver anew.")


def example(text: str) -> str:
    """An epilog that click prints as written."""
    lines = "\n".join("  " + line for line in text.strip().splitlines())
    return "\b\nExamples:\n" + lines


REVISION_OPTIONS = [
    click.option("-a", "--all-branches", is_flag=True,
                 help="Also the data of every branch's tip, remote-tracking branches "
                      "(origin/feature, as the last git fetch saw it) included; push and "
                      "status -c read this clone's own branches only."),
    click.option("-T", "--all-tags", is_flag=True, help="Also the data of every tag."),
    click.option("-A", "--all-commits", is_flag=True,
                 help="Also the data of every commit, reflogs and stashes included."),
    click.option("--rev", "revs", multiple=True, metavar="REV",
                 help="Also the data of REV (repeatable)."),
    click.option("-n", "--num", "last_n", type=click.IntRange(min=1), metavar="N",
                 help="The last N commits of each branch, tag or REV (of HEAD if none)."),
]


def revision_options(func: F) -> F:
    for option in reversed(REVISION_OPTIONS):
        func = option(func)
    return func


def history_paths(repo: Any, targets: tuple[str, ...]) -> list[str] | None:
    """The repository-relative paths TARGETS name in any revision, as they name them in the
    workspace: a pointer file names its data, and the repository itself names everything
    (None, as no targets)."""
    from dvx.paths import POINTER_SUFFIX, names_the_root, repo_relpath
    from dvx.pointer import data_path_of

    if not targets or any(names_the_root(repo.root, t) for t in targets):
        return None
    paths = [repo_relpath(repo.root, t) for t in targets]
    return [data_path_of(p) if p.endswith(POINTER_SUFFIX) else p for p in paths]


def targets_in_scope(repo: Any, targets: tuple[str, ...], all_branches: bool,
                     all_tags: bool, all_commits: bool, revs: tuple[str, ...],
                     last_n: int | None, *, remote_branches: bool = True,
                     with_overlaps: bool = False) -> tuple[list[Any], list[Any]]:
    """The workspace's targets, and those of the revisions asked for (read from Git's
    objects, never checked out), limited to the TARGETS paths if any. Every branch is what
    gc -a keeps: the remote-tracking ones a `git fetch` brought too, unless `remote_branches`
    is False (push, and status -c, which reports what push would send: a teammate's branch
    is its author's to push, its data perhaps in no cache of this clone). -A is every commit gc
    -A keeps, and whose last copies gc keeps: those only reflogs and stash entries reach too,
    so that `push -A` uploads what gc asks it to. `with_overlaps`: the workspace's pointers
    that a merge left overlapping are targets too (push sends both's data), not skipped."""
    from dvx.history import Scope, scope_targets
    from dvx.outputs import resolve_targets

    scope = Scope(False, all_branches, all_tags, all_commits, revs, last_n,
                  remote_branches=all_branches and remote_branches, reflogs=all_commits)
    if not scope.has_revisions:
        return resolve_targets(repo, targets, with_overlaps), []
    paths = history_paths(repo, targets)
    history, _ = scope_targets(repo, scope, [], paths=paths)
    workspace = _in_workspace_too(repo, targets, history, with_overlaps)
    seen = {(t.output.path, t.output.pointer.oid, t.subpath) for t in workspace}
    return workspace, [t for t in history
                       if (t.output.path, t.output.pointer.oid, t.subpath) not in seen]


def _in_workspace_too(repo: Any, targets: tuple[str, ...], history: list[Any],
                      with_overlaps: bool) -> list[Any]:
    """The workspace's targets of TARGETS; one the workspace no longer tracks is no error
    when the revisions asked for do (a file since removed, pushed from an old tag)."""
    from dvx.errors import UsageError
    from dvx.outputs import resolve_targets

    try:
        return resolve_targets(repo, targets, with_overlaps)
    except UsageError:
        if not targets:
            raise
    found = []
    for target in targets:
        try:
            found += resolve_targets(repo, (target,), with_overlaps)
        except UsageError:
            named = (history_paths(repo, (target,)) or [""])[0]
            if not any(t.output.path == named or t.output.path.startswith(named + "/")
                       or named.startswith(t.output.path + "/") for t in history):
                raise
    return found
