"""Options and helpers shared by every command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _verbose(ctx: click.Context, _param: click.Parameter, value: int) -> int:
    if value:
        from dvx import logs

        logs.set_level(logs.DEBUG if value > 1 else logs.INFO, with_names=value > 1)
    return value


def _quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        from dvx import logs

        logs.set_level(logs.ERROR)
        if ctx.obj is not None:
            ctx.obj["quiet"] = True
    return value


def common_options(func: F) -> F:
    """-v/-q on every command, so they work after the command name too."""
    func = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_quiet,
                        help="Print only errors.")(func)
    func = click.option("-v", "--verbose", count=True, expose_value=False, callback=_verbose,
                        help="Show what dvx is doing (-vv: more).")(func)
    return func


def is_quiet() -> bool:
    ctx = click.get_current_context()
    return bool(ctx.obj and ctx.obj.get("quiet"))


def open_repo() -> Any:
    from dvx.cli.ui import progress_for
    from dvx.repo import Repo

    repo = Repo.find(progress=progress_for(is_quiet()))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # for the end of the command: what it could not read (main.py)
        root = ctx.find_root()
        if root.obj is not None:
            root.obj.setdefault("repos", []).append(repo)
    return repo


def example(text: str) -> str:
    """An epilog that click prints as written."""
    lines = "\n".join("  " + line for line in text.strip().splitlines())
    return "\b\nExamples:\n" + lines
