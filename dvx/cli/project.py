"""Project commands: init, config, version."""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING

import click

from dvx.cli.common import F, common_options, example, is_quiet, open_repo
from dvx.cli.ui import emit_json, out, warn

if TYPE_CHECKING:
    from dvx.config import Config


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
    if result.to_stage:
        out("Commit the configuration with:\n    git add " + " ".join(result.to_stage)
            + ' && git commit -m "Initialize dvx"')


LEVEL_OPTIONS = [
    click.option("--global", "level", flag_value="global", help="Use the per-user config."),
    click.option("--project", "level", flag_value="project",
                 help="Use .dvx/config (tracked by Git; the default for changes)."),
    click.option("--local", "level", flag_value="local",
                 help="Use .dvx/config.local (not tracked: for credentials)."),
]


def level_options(func: F) -> F:
    for option in reversed(LEVEL_OPTIONS):
        func = option(func)
    return func


@click.command(epilog=example("""
dvx config cache.type hardlink,copy
dvx config core.autostage true
dvx config --local remote.storage.url /mnt/fast-store
dvx config --list
"""))
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--unset", is_flag=True, help="Remove the option.")
@click.option("-l", "--list", "list_all", is_flag=True, help="List all options in effect.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON (with --list).")
@level_options
@common_options
def config(key: str | None, value: str | None, unset: bool, list_all: bool, as_json: bool,
           level: str | None) -> None:
    """Get or set configuration options (core.*, cache.*, remote.NAME.*).

    Reading shows the value in effect (or that of the level given); writing goes to the
    project config unless --local or --global says otherwise.
    """
    from dvx.config import Config, split_key, validate
    from dvx.errors import NotARepoError, UsageError

    try:
        cfg = open_repo().config
    except NotARepoError:
        if level != "global":
            raise
        cfg = Config(None)
    if list_all:
        values = {}
        for section in cfg.section_names():
            name = section.replace('remote "', "remote.").rstrip('"')
            for option in _options(cfg, section, level):
                shown = cfg.file(level).get(section, option) if level else cfg.get(section, option)
                values[f"{name}.{option}"] = _shown(option, shown or "")
        if as_json:
            emit_json(values)
        else:
            for k, v in sorted(values.items()):
                out(f"{k}={v}")
        return
    if key is None:
        raise UsageError("Name an option, or use --list.", "Example: dvx config cache.type")
    section, option = split_key(key)
    if value is None and not unset:
        current = cfg.file(level).get(section, option) if level else cfg.get(section, option)
        if current is None:
            raise UsageError(f"'{key}' is not set" + (f" in the {level} config." if level else "."))
        out(_shown(option, current))
        return
    if section.startswith("remote "):
        from dvx.ops.remote import modify_remote

        name = key.split(".")[1]
        notice = modify_remote(open_repo(), name, option, None if unset else value, level)
        if notice:
            warn(notice)
        return
    config_file = cfg.file(level or "project")
    if unset:
        if not config_file.unset(section, option):
            raise UsageError(f"'{key}' is not set in the {level or 'project'} config.")
        config_file.save()
        return
    assert value is not None
    config_file.set(section, option, validate(section, option, value))
    config_file.save()


def _options(cfg: Config, section: str, level: str | None) -> list[str]:
    seen: list[str] = []
    for file_level, config_file in cfg.files.items():
        if level and file_level != level:
            continue
        if config_file.parser.has_section(section):
            seen += [o for o in config_file.parser.options(section) if o not in seen]
    return seen


def _shown(option: str, value: str) -> str:
    from dvx.remote.backends import is_secret
    from dvx.remote.fs import redact_url

    return "***" if is_secret(option) else redact_url(value)


@click.command(epilog=example("dvx version"))
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def version(as_json: bool) -> None:
    """Show the versions of dvx, Python and key libraries."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    from dvx import __version__

    info = {"dvx": __version__, "python": platform.python_version(),
            "platform": platform.platform()}
    for package in ("fsspec", "xxhash", "gitpython", "click", "pyyaml", "s3fs", "sshfs"):
        try:
            info[package] = package_version(package)
        except PackageNotFoundError:
            info[package] = None  # type: ignore[assignment]
    if as_json:
        emit_json(info)
        return
    for name, value in info.items():
        out(f"{name}: {value if value is not None else 'not installed'}")


COMMANDS = [init, config, version]
