"""ML metadata commands: params show/diff, metrics show/diff, plots show/diff."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from dvx.cli.common import (
    common_options,
    example,
    is_quiet,
    one_of,
    open_repo,
    refuse_rounding_json,
)
from dvx.cli.ui import emit_json, out, say_nothing, warn
from dvx.logs import shown_path

F = TypeVar("F", bound=Callable[..., Any])


def _format_options(func: F) -> F:
    """--json, --md, --csv and --precision, shared by every command that prints a table."""
    func = click.option("--precision", type=click.IntRange(min=0), default=5,
                        show_default=True, metavar="N",
                        help="Round numbers to N digits after the decimal point (a "
                             "number that would show as 0 keeps N significant digits).")(func)
    return one_of("fmt", ("--json", "json", "Output as JSON (numbers are not rounded)."),
                  ("--md", "md", "Output a Markdown table."),
                  ("--csv", "csv", "Output a CSV table."))(func)


def _scope_options(func: F) -> F:
    options = [
        click.option("-a", "--all-branches", is_flag=True, help="Also every branch's tip."),
        click.option("-T", "--all-tags", is_flag=True, help="Also every tag."),
        click.option("-A", "--all-commits", is_flag=True,
                     help="Also every commit, newest first."),
        click.option("--rev", "revs", multiple=True, metavar="REV",
                     help="Also revision REV (repeatable)."),
        click.option("-n", "--num", "last_n", type=click.IntRange(min=1), metavar="N",
                     help="The last N commits of each branch, tag or REV (of HEAD if none)."),
        click.option("--no-workspace", is_flag=True,
                     help="Leave the workspace out (only the revisions asked for)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _targets(repo: Any, paths: tuple[str, ...]) -> list[str]:
    from dvx.paths import repo_relpath

    return [repo_relpath(repo.root, p) for p in paths]


def _show(kind: str, targets: tuple[str, ...], all_branches: bool, all_tags: bool,
          all_commits: bool, revs: tuple[str, ...], last_n: int | None, no_workspace: bool,
          fmt: str | None, precision: int) -> None:
    from dvx.errors import UsageError
    from dvx.history import Scope
    from dvx.metrics.tables import show_table
    from dvx.metrics.values import show

    refuse_rounding_json(fmt)
    scope = Scope(not no_workspace, all_branches, all_tags, all_commits, revs, last_n)
    if scope.empty:
        raise UsageError("--no-workspace leaves nothing to show.",
                         "Add revisions with --rev, -a, -T, -A or -n.")
    repo = open_repo()
    result = show(repo, kind, scope, _targets(repo, targets))
    _warn_of_shadowed(result.warnings)
    if fmt == "json":
        emit_json(result.to_json(), sort_keys=False)
        return
    if not any(r.files or r.error for r in result.revisions):
        say_nothing(fmt, f"No {kind} files: declare them in dvx.yaml"
                    + (" (a stage's `params`, or params.yaml)." if kind == "params" else
                       " (a stage's `metrics`), or name them as targets."))
        if fmt is None:
            return
    out(show_table(result, precision).render(fmt or "text"), nl=False)


def _diff(kind: str, a: str | None, b: str | None, targets: tuple[str, ...], show_all: bool,
          deps_only: bool, no_path: bool, fmt: str | None, precision: int) -> None:
    from dvx.metrics.tables import diff_table
    from dvx.metrics.values import diff

    refuse_rounding_json(fmt)
    repo = open_repo()
    result = diff(repo, kind, a, b, _targets(repo, targets), show_all, deps_only)
    _warn_of_shadowed(result.warnings)
    if fmt == "json":
        emit_json(result.to_json())
        for error in result.errors:
            warn(f"WARNING: {shown_path(error.path)} at {error.revision}: {error.message}")
        return
    if not result.changes and not result.errors:
        say_nothing(fmt, f"No {kind} changed between {result.a.label} and {result.b.label}.")
        if fmt is None:
            return
    out(diff_table(result, precision, not no_path).render(fmt or "text"), nl=False)


def _warn_of_shadowed(warnings: list[str]) -> None:
    """Values a table leaves out, as their names name others (see values.Shadowed)."""
    for warning in warnings:
        warn(f"WARNING: {warning}")


# -- params ----------------------------------------------------------------------------------

@click.group(epilog=example("""
dvx params diff                # what changed since HEAD
dvx params diff HEAD~1 HEAD
dvx params show -A             # the params of every commit
"""))
@common_options
def params() -> None:
    """Show and compare the params of stages (params.yaml and the files dvx.yaml names)."""


@params.command("diff", epilog=example("""
dvx params diff                    # HEAD against the workspace
dvx params diff main               # main against the workspace
dvx params diff v1 v2 --all --md   # every param, changed or not, as Markdown
dvx params diff --deps --json      # only the params stages depend on
"""))
@click.argument("a_rev", required=False, metavar="[A]")
@click.argument("b_rev", required=False, metavar="[B]")
@click.option("--targets", multiple=True, metavar="PATH",
              help="Only this params file (repeatable).")
@click.option("--all", "show_all", is_flag=True, help="Show unchanged params too.")
@click.option("--deps", "deps_only", is_flag=True,
              help="Only the params that stages depend on.")
@click.option("--no-path", is_flag=True, help="Leave out the Path column.")
@_format_options
@common_options
def params_diff(a_rev: str | None, b_rev: str | None, targets: tuple[str, ...],
                show_all: bool, deps_only: bool, no_path: bool, fmt: str | None,
                precision: int) -> None:
    """Compare params between revision A (default HEAD) and B (default the workspace).

    A and B are branches, tags, commits, `workspace` or experiment names. Params files are
    params.yaml at the root and every file a stage's `params` names in each revision's
    dvx.yaml; nested keys are shown with dots (train.lr). Numeric changes get the absolute
    and relative change.
    """
    _diff("params", a_rev, b_rev, targets, show_all, deps_only, no_path, fmt, precision)


@params.command("show", epilog=example("""
dvx params show
dvx params show -A --csv > params-history.csv
"""))
@click.argument("targets", nargs=-1, metavar="[PATHS]...")
@_scope_options
@_format_options
@common_options
def params_show(targets: tuple[str, ...], all_branches: bool, all_tags: bool,
                all_commits: bool, revs: tuple[str, ...], last_n: int | None,
                no_workspace: bool, fmt: str | None, precision: int) -> None:
    """Show the params of the workspace and of the revisions asked for, one row per
    revision and params file (only the files PATHS, if given)."""
    _show("params", targets, all_branches, all_tags, all_commits, revs, last_n, no_workspace,
          fmt, precision)


# -- metrics ---------------------------------------------------------------------------------

@click.group(epilog=example("""
dvx metrics show
dvx metrics diff main
"""))
@common_options
def metrics() -> None:
    """Show and compare the metrics files that stages write (declared as `metrics`)."""


@metrics.command("show", epilog=example("""
dvx metrics show                       # the workspace
dvx metrics show -A                    # every commit, newest first: the history
dvx metrics show -a -T --md            # branch tips and tags, as Markdown
dvx metrics show --rev v1 --rev v2 --json
dvx metrics show eval/metrics.json --precision 3
"""))
@click.argument("targets", nargs=-1, metavar="[PATHS]...")
@_scope_options
@_format_options
@common_options
def metrics_show(targets: tuple[str, ...], all_branches: bool, all_tags: bool,
                 all_commits: bool, revs: tuple[str, ...], last_n: int | None,
                 no_workspace: bool, fmt: str | None, precision: int) -> None:
    """Show the metrics of the workspace and of the revisions asked for, one row per
    revision and metrics file, one column per metric (nested keys joined with dots).

    Metrics files are the `metrics` of the stages in each revision's dvx.yaml (YAML, JSON
    or TOML), and any PATHS given. A file that is missing or cannot be parsed is shown with
    its error; the other files are still shown. A PATH that no revision shown has nor
    declares is an error (exit status 2).
    """
    _show("metrics", targets, all_branches, all_tags, all_commits, revs, last_n, no_workspace,
          fmt, precision)


@metrics.command("diff", epilog=example("""
dvx metrics diff                    # HEAD against the workspace
dvx metrics diff main               # main against the workspace
dvx metrics diff v1 v2 --md         # two tags, as Markdown (for a pull request)
dvx metrics diff --all --json
"""))
@click.argument("a_rev", required=False, metavar="[A]")
@click.argument("b_rev", required=False, metavar="[B]")
@click.option("--targets", multiple=True, metavar="PATH",
              help="Only this metrics file (repeatable).")
@click.option("--all", "show_all", is_flag=True, help="Show unchanged metrics too.")
@click.option("--no-path", is_flag=True, help="Leave out the Path column.")
@_format_options
@common_options
def metrics_diff(a_rev: str | None, b_rev: str | None, targets: tuple[str, ...],
                 show_all: bool, no_path: bool, fmt: str | None, precision: int) -> None:
    """Compare metrics between revision A (default HEAD) and B (default the workspace),
    with the absolute and relative change of each number.

    A and B are branches, tags, commits, `workspace` or experiment names. A metrics file
    missing on one side counts as empty (its metrics were added or removed); one that cannot
    be parsed is reported with its error.
    """
    _diff("metrics", a_rev, b_rev, targets, show_all, False, no_path, fmt, precision)


# -- plots -----------------------------------------------------------------------------------

@click.group(epilog=example("""
dvx plots show
dvx plots diff main
"""))
@common_options
def plots() -> None:
    """Draw the plots files that stages write (declared as `plots`), across revisions."""


def _plot_options(func: F) -> F:
    options = [
        click.option("-o", "--out", "out_dir", default="dvx_plots", show_default=True,
                     metavar="DIR", help="Directory to write index.html and the images to."),
        click.option("--image-format", type=click.Choice(["svg", "png"]), default="svg",
                     show_default=True, help="Format of the image file written per plot."),
        click.option("--open", "open_page", is_flag=True,
                     help="Open the page in a browser afterwards."),
        click.option("--json", "as_json", is_flag=True,
                     help="Output what was written, and each plot's errors, as JSON."),
        click.option("-f", "--force", is_flag=True,
                     help="Replace files in DIR that an earlier `dvx plots` did not write."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _draw(revs: list[str] | None, targets: tuple[str, ...], out_dir: str, image_format: str,
          open_page: bool, as_json: bool, force: bool) -> None:
    import os

    from dvx.metrics.plots import collect
    from dvx.metrics.render import render
    from dvx.paths import refuse_empty

    refuse_empty(out_dir, "a folder")  # never the current one, as an unset variable gives
    repo = open_repo()
    _refuse_reserved_out_dir(repo, out_dir)
    data = collect(repo, revs, _targets(repo, targets))
    if not data:  # as DVC: no page of nothing, and DIR left as it was
        if as_json:
            emit_json({"html": None, "images": [], "plots": []})
        elif not is_quiet():
            warn("No plots declared in dvx.yaml (list them under a stage's `plots`), so "
                 "nothing was written.")
        return
    rendered = render(data, out_dir, image_format, force=force)
    page = os.path.abspath(rendered.html)
    if as_json:
        emit_json({"html": page, "images": [os.path.abspath(p) for p in rendered.images],
                   "plots": [d.to_json() for d in data]})
    else:
        for path, rev, message in rendered.errors:
            warn(f"WARNING: {shown_path(path)} at {rev}: {message}")
        out(page)
    if open_page:
        click.launch(page)


def _refuse_reserved_out_dir(repo: Any, out_dir: str) -> None:
    """-o never leads into `.git`, `.dvx`, the cache or the Git directory, named or reached
    through a symbolic link (its real path is judged); nor, from inside the repository,
    out of it through a link the repository holds (a clone's `dvx_plots -> ../other`), where
    the run would write and delete another folder's files. A folder outside the repository
    that the user names (`-o ../report`) is theirs to choose."""
    import os

    from dvx.errors import UsageError
    from dvx.own_files import own_files_holding

    real = os.path.realpath(out_dir)
    link = _link_leading_out(repo.root, out_dir)
    if link is not None:
        raise UsageError(f"'{out_dir}' leads outside the repository, to '{real}', through "
                         f"a symbolic link in it ('{link}'), so nothing was written.",
                         "Name another directory with -o (one outside the repository is "
                         "written when named as such).")
    holder = own_files_holding(repo, out_dir)
    if holder is not None:
        raise UsageError(f"'{out_dir}' is inside {holder}, which holds Git's or dvx's own "
                         "files.", "Name another directory with -o.")


def _link_leading_out(root: str, out_dir: str) -> str | None:
    """How `out_dir`, a path inside the repository as spelt, leads outside it: the first
    symbolic link the repository holds on its way (named from the repository's top), or
    `out_dir` itself where `..` after a link does it; None when it stays inside, or is named
    outside. The path counts as spelt inside from its first folder that is the repository or
    in it, however reached (the repository's path, its real path, a link to either)."""
    import os

    top = os.path.realpath(root)

    def within(path: str) -> bool:
        return os.path.commonpath([os.path.realpath(path), top]) == top

    if within(out_dir):
        return None
    spelt = os.path.abspath(out_dir)
    head, *names = spelt.split(os.sep)
    folder = head + os.sep
    inside = within(folder)
    for name in names:
        path = os.path.join(folder, name)
        if inside and os.path.islink(path):
            from_top = os.path.relpath(os.path.realpath(folder), top)
            return os.path.normpath(os.path.join(from_top, name))
        folder, inside = path, inside or within(path)
    return out_dir if inside else None


@plots.command("show", epilog=example("""
dvx plots show                         # every plot of the workspace
dvx plots show eval/roc.csv -o report  # one plot, into report/
dvx plots show --image-format png --open
"""))
@click.argument("targets", nargs=-1, metavar="[TARGETS]...")
@_plot_options
@common_options
def plots_show(targets: tuple[str, ...], out_dir: str, image_format: str, open_page: bool,
               as_json: bool, force: bool) -> None:
    """Draw the workspace's plots into one HTML page (DIR/index.html, which works offline)
    and one image file per plot, and print the page's path.

    TARGETS are plots files or directories holding them; without targets, every plot of
    dvx.yaml. Each plot is drawn by its options in dvx.yaml (x, y, template, title,
    x_label, y_label); images (PNG, JPEG, GIF, SVG) are shown as they are.
    """
    _draw(None, targets, out_dir, image_format, open_page, as_json, force)


@plots.command("diff", epilog=example("""
dvx plots diff                     # HEAD and the workspace, overlaid
dvx plots diff main                # main and the workspace
dvx plots diff v1 v2 v3 -o compare # three tags
dvx plots diff HEAD~1 --targets eval/roc.csv
"""))
@click.argument("revisions", nargs=-1, metavar="[REVISIONS]...")
@click.option("--targets", multiple=True, metavar="PATH",
              help="Only this plots file or directory (repeatable).")
@_plot_options
@common_options
def plots_diff(revisions: tuple[str, ...], targets: tuple[str, ...], out_dir: str,
               image_format: str, open_page: bool, as_json: bool, force: bool) -> None:
    """Draw the plots of several revisions overlaid, one colour per revision, into one
    HTML page and one image file per plot, and print the page's path.

    With no REVISIONS: HEAD and the workspace; with one: that revision and the workspace;
    with more: exactly those (`workspace` names the workspace; an experiment's name, one).
    """
    revs = list(revisions) if len(revisions) > 1 else [*(revisions or ("HEAD",)), "workspace"]
    _draw(revs, targets, out_dir, image_format, open_page, as_json, force)


COMMANDS = [params, metrics, plots]
