"""Project commands: init, config, version (doctor), completion."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from dvx.cli.common import (
    UTF8,
    NumbersAsValues,
    common_options,
    example,
    is_quiet,
    one_of,
    open_repo,
    refuse_value_to_unset,
)
from dvx.cli.ui import emit_json, out, warn
from dvx.logs import shell_quote

if TYPE_CHECKING:
    from dvx.errors import UsageError
    from dvx.ops.doctor import Repository
    from dvx.ops.remote import SetAside
    from dvx.repo import Repo


@click.command(epilog=example("""
git init && dvx init
dvx init --no-scm      # without Git
"""))
@click.option("--no-scm", is_flag=True,
              help="Use dvx without Git (nothing is staged; .gitignore entries are still "
                   "written, for a Git repository added later).")
@common_options
def init(no_scm: bool) -> None:
    """Make the current directory a dvx repository (creates .dvx/)."""
    from dvx.ops.init import init as do_init

    result = do_init(os.getcwd(), no_scm=no_scm)
    if is_quiet():
        return
    if not result.created:
        out(f"dvx is already initialized in {result.root}; nothing changed.")
        return
    out(f"Initialized dvx in {result.root}/.dvx")
    if result.hash_shared:
        out(f"Its .dvx/config sets core.hash to {result.hash_shared}, as your global config "
            "does, so that every clone names its data as you do.")
    if result.to_stage:
        out("Commit the configuration with:\n    git add " + " ".join(result.to_stage)
            + ' && git commit -m "Initialize dvx"')


level_options = one_of(
    "level",
    ("--global", "global", "Use the per-user config."),
    ("--project", "project", "Use .dvx/config (tracked by Git; the default for changes)."),
    ("--local", "local", "Use .dvx/config.local (not tracked: for credentials)."))


@click.command(cls=NumbersAsValues, epilog=example("""
dvx config cache.type hardlink,copy
dvx config core.autostage true
dvx config --local remote.storage.url /mnt/fast-store
dvx config cache.type          # the value in effect, and where it comes from
dvx config -u core.remote      # remove it (--unset)
dvx config --list --show-origin
"""))
@click.argument("key", required=False, type=UTF8)
@click.argument("value", required=False, type=UTF8)
@click.option("-u", "--unset", is_flag=True, help="Remove the option.")
@click.option("-l", "--list", "list_all", is_flag=True,
              help="List all options that are set and in effect (a remote's that dvx sets "
                   "aside are named on stderr).")
@click.option("--show-origin", is_flag=True,
              help="With --list: also show which config file each value comes from.")
@click.option("--json", "as_json", is_flag=True,
              help="Output as JSON (with --list, or reading one KEY).")
@level_options
@common_options
def config(key: str | None, value: str | None, unset: bool, list_all: bool, show_origin: bool,
           as_json: bool, level: str | None) -> None:
    """Get or set configuration options (core.*, cache.*, remote.NAME.*).

    Reading prints the value in effect (or that of the level given) on stdout, and where it
    comes from (a config file, or the default) on stderr; writing goes to the project config
    unless --local or --global says otherwise. A VALUE may be a negative number; any other
    VALUE that starts with '-' goes after `--`.
    """
    from dvx.config import REMOTE_SECTION, Config, check_option_name, split_key
    from dvx.errors import NotARepoError, UsageError
    from dvx.ops.config import get_option, list_options, set_aside_of, set_option

    repo = None
    try:
        repo = open_repo(configuring=True)
        cfg = repo.config
    except NotARepoError:
        if level != "global":
            raise
        cfg = Config(None)
    if list_all and key is not None:  # refused as DVC refuses it: the KEY would be ignored
        raise UsageError("--list lists every option: give it no KEY.",
                         f"`dvx config {key}` reads that one.")
    if unset:
        flag = f"--{level} " if level else ""
        refuse_value_to_unset(value, f"dvx config {flag}{shell_quote(key or 'KEY')} VALUE")
    if list_all and unset:
        raise UsageError("--list lists every option and -u (--unset) removes one: use one "
                         "of them.", "`dvx config -u KEY` removes the option KEY.")
    if show_origin and not list_all and (unset or value is not None):
        raise UsageError("--show-origin goes with --list (reading one KEY shows where its "
                         "value comes from anyway); it shows nothing when setting or "
                         "removing an option.", "Drop --show-origin.")
    if list_all:
        settings = list_options(cfg, level)
        if as_json:
            emit_json({s.key: (_shown(s.key, s.value) if not show_origin else
                               {"value": _shown(s.key, s.value), "origin": s.origin})
                       for s in settings})
        else:
            for s in settings:
                origin = f"{s.origin}\t" if show_origin else ""
                out(f"{origin}{s.key}={_shown(s.key, s.value)}")
        _say_set_aside(set_aside_of(cfg, level=level))
        return
    if key is None:
        raise UsageError("Name an option, or use --list.", "Example: dvx config cache.type")
    section, option = split_key(key)
    if value is None and not unset:
        check_option_name(section, option)  # reading an option no dvx has is a mistake too
        setting = get_option(cfg, key, level)
        aside = set_aside_of(cfg, key, level)
        if setting is None:
            raise _not_set(key, level, aside)
        if as_json:
            emit_json({"key": key, "value": _shown(key, setting.value),
                       "level": setting.level, "origin": setting.origin})
        else:
            out(_shown(key, setting.value))
            if not is_quiet():
                warn("(the default)" if setting.level == "default"
                     else f"(from {setting.origin})")
        _say_set_aside(aside)
        return
    if as_json:
        raise UsageError("--json prints what is read: use it with --list, or with a KEY and "
                         "no VALUE.")
    remote = REMOTE_SECTION.fullmatch(section)
    if remote is not None:
        from dvx.ops.remote import modify_remote

        name = remote.group(1)
        notice = modify_remote(open_repo(), name, option, None if unset else value, level)
    else:
        old_cache = _cache_used_before(repo) if (section, option) == ("cache", "dir") else None
        notice = set_option(cfg, key, None if unset else value, level, repo)
        if old_cache is not None and repo is not None:
            notice = _join(notice, _cache_left_behind(repo, old_cache))
    if notice:
        warn(notice)


def _not_set(key: str, level: str | None, aside: list[SetAside]) -> UsageError:
    """The error for a KEY that has no value to print: none is set, or (with no level
    given) only one that dvx sets aside, which it then names with the reason."""
    from dvx.errors import UsageError

    if aside:
        return UsageError(f"'{key}' is not in effect. "
                          + " ".join(dict.fromkeys(a.reason for a in aside)),
                          " ".join(dict.fromkeys(a.remedy for a in aside)))
    return UsageError(f"'{key}' is not set" + (f" in the {level} config." if level else "."))


def _say_set_aside(aside: list[SetAside]) -> None:
    """Name the options shown or left out that dvx does not use, on stderr, so that stdout
    (a value, key=value lines, --json) stays what scripts read."""
    if not is_quiet():
        for options in aside:
            warn(options.notice)


def _cache_dir_or_none(repo: Repo | None) -> str | None:
    from dvx.errors import DvxError

    try:
        return repo.cache_dir if repo is not None else None
    except DvxError:  # an unconfirmed or refused cache.dir: no cache was in use
        return None


def _cache_used_before(repo: Repo | None) -> str | None:
    """The cache in use before cache.dir is set. A tracked cache.dir not confirmed yet (a
    teammate's commit brought it) is used by no command: the data written before it came
    is in the cache used then (the global config's, or the default), which confirming it
    leaves behind."""
    if repo is not None and repo.unconfirmed_cache_dir():
        return repo.cache_dir_unconfirmed_hides()
    return _cache_dir_or_none(repo)


def _cache_left_behind(repo: Repo, old_cache: str) -> str | None:
    """The objects that setting cache.dir left in the cache used before, if any."""
    from dvx.ops.config import left_behind
    from dvx.repo import Repo

    new_cache = _cache_dir_or_none(Repo(repo.root))  # the configuration as it is now
    return left_behind(old_cache, new_cache, repo.algo) if new_cache is not None else None


def _join(*notices: str | None) -> str | None:
    return " ".join(n for n in notices if n) or None


def _shown(key: str, value: str) -> str:
    from dvx.remote.backends import is_secret, redact_url

    return "***" if is_secret(key.rpartition(".")[2]) else redact_url(value)


@click.command(epilog=example("""
dvx version
dvx doctor --json      # the same report
"""))
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def version(as_json: bool) -> None:
    """Show the versions of dvx, Python and key libraries, the remote kinds this installation
    can use and, inside a repository, its cache, the filesystems of cache and workspace, the
    link types that work between them, its remotes, and the hooks of `dvx install` that a
    clone set up by an older dvx lacks or has as that dvx wrote them (`dvx doctor` is the
    same command)."""
    from dvx.errors import DvxError
    from dvx.ops.doctor import report

    repo: Repo | None = None
    outside = ""  # why there is no repository
    try:
        repo = open_repo()
    except DvxError as exc:
        outside = exc.message  # still a report: of the installation
    found = report(repo)
    if as_json:
        emit_json(found.as_dict())
        return
    for name, value in found.versions.items():
        out(f"{name}: {value if value is not None else 'not installed'}")
    out(f"supports: {', '.join(found.supports)}")
    if found.repository is None:
        out(f"repository: none ({outside})")
    else:
        _print_repository(found.repository)
    for problem in found.problems:
        warn(f"WARNING: {problem}")


def _print_repository(about: Repository) -> None:
    out(f"repository: {about.root}" + ("" if about.git else " (without Git)"))
    out(f"workspace filesystem: {about.workspace_filesystem or 'unknown'}")
    out(f"core.hash: {about.hash or 'not valid'}")
    if about.cache is not None:
        out(f"cache: {about.cache}")
        out(f"cache filesystem: {about.cache_filesystem or 'unknown'}")
        out(f"cache.type: {','.join(about.cache_type)}")
        if about.link_types is None:
            out(f"link types here: unknown ({about.link_types_unknown})")
        else:
            out("link types here: " + ", ".join(
                f"{name} {'yes' if works else 'no'}" for name, works in about.link_types.items()))
    for remote in about.remotes:
        out(f"remote: {remote.name} {remote.url}" + (" (default)" if remote.default else ""))
    if about.missing_hooks:
        out(f"hooks missing: {', '.join(about.missing_hooks)} (`dvx install` adds "
            f"{'it' if len(about.missing_hooks) == 1 else 'them'})")
    if about.unsafe_hooks:
        out(f"hooks of an older dvx: {', '.join(about.unsafe_hooks)} (they would run a dvx/ "
            "folder or platform.py the repository holds; `dvx install` writes them anew)")
    if about.outdated_hooks:
        out(f"outdated hooks: {', '.join(about.outdated_hooks)} (as an older dvx wrote "
            f"{'it' if len(about.outdated_hooks) == 1 else 'them'}; `dvx install` writes "
            f"{'it' if len(about.outdated_hooks) == 1 else 'them'} anew)")


@click.command(epilog=example("""
dvx completion bash >> ~/.bashrc
dvx completion zsh > ~/.zfunc/_dvx
dvx completion fish > ~/.config/fish/completions/dvx.fish
"""))
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@common_options
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL: commands, options and paths complete
    with Tab once the shell has loaded it."""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the choice above lists only shells click knows
    root = click.get_current_context().find_root().command
    click.echo(completer(root, {}, "dvx", "_DVX_COMPLETE").source())


COMMANDS = [init, config, version, completion]
ALIASES = {"doctor": version}  # DVC's two names for one report
