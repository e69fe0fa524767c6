"""Reuse commands: ls, du, get, import, update, get-url, import-url."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dvx.cli import ui
from dvx.cli.common import PATH, NotEmpty, common_options, example, is_quiet, open_repo
from dvx.cli.data import report_checkout
from dvx.cli.ui import emit_json, out, report_staging, warn
from dvx.logs import shown_path
from dvx.wording import human_size

if TYPE_CHECKING:
    from dvx.config import Config
    from dvx.ops.imports import Updated
    from dvx.repo import Repo

F = TypeVar("F", bound=Callable[..., Any])
URL = click.argument("url", metavar="URL")
OUT = click.option("-o", "--out", type=PATH,
                   help="Where to put it (default: its name, here). A directory, existing or "
                   "named with a trailing '/', receives it under its name.")
FORCE = click.option("-f", "--force", is_flag=True, help="Replace what is at the output path.")
# Never empty: `--rev "$TAG"` with the variable unset would read as no --rev (an update
# then keeps its pin and calls it up to date).
REV = click.option("--rev", metavar="REV", type=NotEmpty("a branch, tag or commit of the source"),
                   help="A branch, tag or commit of the source, or an experiment of a local "
                        "one (default: its default branch; for a local path, its workspace).")


LISTED_PATH = click.argument("path", required=False)  # none: the top (_listed_path)


def _from_a_repository(func: F) -> F:
    """URL PATH [-o OUT] [--rev REV] [-f]: the arguments of get and import."""
    for decorate in reversed([URL, click.argument("path"), OUT, REV, FORCE, common_options]):
        func = decorate(func)
    return func


@click.command("ls", epilog=example("""
dvx ls https://github.com/org/project data
dvx ls ../other-project -R --rev v1
dvx ls . --json
"""))
@URL
@LISTED_PATH
@REV
@click.option("-R", "--recursive", is_flag=True, help="List everything below PATH.")
@click.option("--dvx-only", is_flag=True, help="Only what dvx tracks.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def ls(url: str, path: str | None, rev: str | None, recursive: bool, dvx_only: bool,
       as_json: bool) -> None:
    """List the files and directories of the repository at URL (a Git URL or a local path),
    at PATH, marking what dvx tracks. Nothing is checked out or downloaded but the manifests
    of tracked directories. A local path to a folder inside a repository (not its top) stands
    for that repository and PATH starts in that folder: `dvx ls .` in data/ lists data/."""
    import posixpath

    from dvx.ops.source import Source

    url, path = _from_the_top(url, _listed_path(path))
    entries = Source(url, rev).listing()
    top = _check_listed(entries, path, url)
    if top and (entries[top]["type"] == "file" or "unreadable" in entries[top]):
        chosen = [entries[top]]  # a directory that cannot be read is named, not empty
    else:
        chosen = [info for name, info in sorted(entries.items()) if name and (
            name.startswith(top + "/") if top else True)
            and (recursive or posixpath.dirname(name) == top)]
    if dvx_only:
        chosen = [info for info in chosen if info.get("dvx")]
    if as_json:
        emit_json([{"path": info["name"], "type": info["type"], "size": info["size"],
                    "dvx": bool(info.get("dvx")), **{key: info[key] for key in (
                        "oid", "unreadable") if key in info}} for info in chosen])
    else:
        for info in chosen:
            mark = "dvx" if info.get("dvx") else "git" if info["type"] == "file" else ""
            shown = shown_path(info["name"]) + ("/" if info["type"] == "directory" else "")
            size = human_size(info["size"]) if info["type"] == "file" else ""
            if "unreadable" in info:
                size, shown = "?", f"{shown} (unreadable)"
            out(f"{mark:<4} {size:>10}  {shown}")
    _report_unreadable(chosen)


def _listed_path(path: str | None) -> str:
    """PATH of ls and du, "" (the top) when none is given; an empty one is refused, never
    read as none: `dvx ls . "$DIR"` with the variable unset would list the top instead."""
    from dvx.paths import refuse_empty

    if path is None:
        return ""
    refuse_empty(path, "a file or directory of the repository, or none for its top")
    return path


def _from_the_top(url: str, path: str, at_top: str | None = None) -> tuple[str, str]:
    """URL and PATH with a local URL inside a dvx repository (not its top) read as that
    repository and, as PATH's start, the folder URL names: `dvx ls .` in data/ lists data/,
    `dvx ls . raw` there lists data/raw, as Git takes the current folder. PATH is normalised
    as Git normalises a pathspec, so `..` from data/ reaches its siblings (`dvx ls . ../src`);
    only a PATH that leaves the repository keeps a leading `..`, which is not in it. An
    absolute PATH is refused, naming the relative one (`at_top`: the hint when it is the
    top, for a command that wants a file or directory in it)."""
    import os
    import posixpath

    from dvx.ops.source import (
        file_url_path,
        local_source_top,
        local_top_and_below,
        refuse_absolute_path,
        source_path,
    )

    top, below = local_top_and_below(url)
    # from a folder of the repository, PATH starts there: so does the relative path named
    refuse_absolute_path(path, top if below else local_source_top(url), "PATH names", "Name",
                         start=os.path.abspath(file_url_path(url)) if below else None,
                         at_top=at_top)
    joined = posixpath.normpath(posixpath.join(below, source_path(path)))
    return (top if below else url), ("" if joined == "." else joined)


def _check_listed(entries: dict[str, dict[str, Any]], path: str, url: str) -> str:
    """PATH as a key of `entries` ("" for the top), or the error saying why it is not one."""
    from dvx.errors import DvxError, PathError
    from dvx.ops.source import source_path

    top = source_path(path)
    if top and top not in entries:
        for name, info in entries.items():
            if "unreadable" in info and top.startswith(name + "/"):
                raise DvxError(f"'{top}' cannot be listed: {info['unreadable']}")
        raise PathError(f"'{top}' is not in '{url}'.", "List the top with `dvx ls URL`.")
    return top


@click.command("du", epilog=example("""
dvx du .                       # this repository (from a subfolder: that folder), by entry
dvx du . data --dvx-only       # what dvx tracks in data/, by entry
dvx du https://github.com/org/project -s --rev v1
"""))
@URL
@LISTED_PATH
@REV
@click.option("-s", "--summarize", is_flag=True, help="Only the total of PATH.")
@click.option("--dvx-only", is_flag=True, help="Count only what dvx tracks.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON (sizes in bytes).")
@common_options
def du(url: str, path: str | None, rev: str | None, summarize: bool, dvx_only: bool,
       as_json: bool) -> None:
    """Show how much the files of the repository at URL (a Git URL or a local path) take: each
    entry of PATH, then PATH's total, counting Git's files and dvx's tracked data as Git and
    the pointers record them. Nothing is checked out or downloaded but the manifests of
    tracked directories, so data not pulled counts too. A local path to a folder inside a
    repository (not its top) stands for that repository and PATH starts in that folder:
    `dvx du .` in data/ shows data/."""
    from dvx.ops.source import Source
    from dvx.ops.usage import disk_usage

    url, path = _from_the_top(url, _listed_path(path))
    entries = Source(url, rev).listing()
    rows = disk_usage(entries, _check_listed(entries, path, url), summarize=summarize,
                      dvx_only=dvx_only)
    if as_json:
        emit_json([{"path": row.path, "size": row.size, "files": row.files,
                    **({"unreadable": list(row.unreadable)} if row.unreadable else {})}
                   for row in rows])
    else:
        for row in rows:
            size = human_size(row.size) + ("+?" if row.unreadable else "")
            out(f"{size:>10}  {shown_path(row.path)}")
    _report_unreadable([entries[name] for name in sorted({
        name for row in rows for name in row.unreadable})])


def _report_unreadable(chosen: list[dict[str, Any]]) -> None:
    """Entries listed without what dvx could not read of them: named at the end, one
    paragraph each, and status 1, as other commands do with what they could not read."""
    unreadable = [info for info in chosen if "unreadable" in info]
    for info in unreadable:
        warn(f"ERROR: Skipped {shown_path(info['name'])}: {info['unreadable']}")
    if unreadable:
        sys.exit(1)


@click.command("get", epilog=example("""
dvx get https://github.com/org/project data/train.csv
dvx get ../other-project models/model.pt -o model.pt --rev v2
"""))
@_from_a_repository
def get(url: str, path: str, out: str | None, rev: str | None, force: bool) -> None:
    """Download a file or directory that the repository at URL tracks (with dvx or Git),
    without tracking it here. It is read from that repository's remote and checked by hash.
    A local path to a folder inside a repository (not its top) stands for that repository and
    PATH starts in that folder: `dvx get . raw.csv` in data/ gets data/raw.csv."""
    from dvx.ops.imports import AT_TOP, COPIED, get_repo
    from dvx.paths import refuse_empty

    refuse_empty(path, COPIED)  # before a local URL's folder is taken as PATH's start
    url, path = _from_the_top(url, path, AT_TOP)
    written = get_repo(url, path or ".", out, rev, force)
    if not is_quiet():
        ui.out(f"Downloaded {shown_path(path)} to {shown_path(written)}")


@click.command("import", epilog=example("""
dvx import https://github.com/org/datasets images -o data/images --rev v1.2
dvx import ../shared-data raw/train.csv
git add data/images.dvx data/.gitignore
"""))
@_from_a_repository
def import_(url: str, path: str, out: str | None, rev: str | None, force: bool) -> None:
    """Download a file or directory that the repository at URL tracks, and track it here. Its
    pointer records the source (URL, path, the revision asked for and the commit it resolved
    to), so `dvx status` tells when the source moved and `dvx update` brings it up to date.
    The data goes to this repository's cache: `dvx push` sends it to your remote. A local
    path to a folder inside a repository (not its top) stands for that repository and PATH
    starts in that folder, as for `dvx get`."""
    from dvx.ops.imports import AT_TOP, COPIED, import_repo
    from dvx.paths import refuse_empty

    refuse_empty(path, COPIED)  # before a local URL's folder is taken as PATH's start
    repo = open_repo()
    url, path = _from_the_top(url, path, AT_TOP)
    result = import_repo(repo, url, path or ".", out, rev, force)
    _report_import(repo.root, result)


@click.command("import-url", epilog=example("""
dvx import-url s3://bucket/raw/train.csv data/train.csv
dvx import-url https://example.com/data.zip
"""))
@URL
@click.argument("out", required=False, type=PATH)
@FORCE
@common_options
def import_url(url: str, out: str | None, force: bool) -> None:
    """Download the file at URL (a local path, s3://, gs://, https://, ssh://, azure://, or
    any kind of store a remote may be on) and track it here, recording the version its
    server reports (ETag or checksum, else size and modification time), so `dvx update`
    downloads it again only when it changed."""
    from dvx.ops.imports import import_url as do_import_url

    repo = open_repo()
    result = do_import_url(repo, url, out, force)
    _report_import(repo.root, result)


@click.command("get-url", epilog=example("""
dvx get-url s3://bucket/raw/train.csv
dvx get-url https://example.com/data.zip data.zip
"""))
@URL
@click.argument("out", required=False, type=PATH)
@FORCE
@common_options
def get_url(url: str, out: str | None, force: bool) -> None:
    """Download the file at URL (a local path, or any kind of store a remote may be on),
    untracked."""
    from dvx.ops.imports import get_url as do_get_url
    from dvx.ops.imports import url_timeout
    from dvx.remote.backends import redact_url

    written = do_get_url(url, out, force, url_timeout(_config_here()))
    if not is_quiet():  # the URL may hold a password, shown as elsewhere: ***
        ui.out(f"Downloaded {redact_url(url)} to {written}")


def _config_here() -> Config:
    """The settings of the repository here, else the global ones: get-url needs none."""
    from dvx.config import Config
    from dvx.errors import NotARepoError
    from dvx.repo import Repo

    try:
        return Repo.find().config
    except NotARepoError:
        return Config(None)


@click.command("update", epilog=example("""
dvx update                       # every import
dvx update data/images.dvx --rev v1.3
dvx update && dvx repro          # retrain on the newest data
"""))
@click.argument("targets", nargs=-1, type=PATH)
@REV
@click.option("-f", "--force", is_flag=True,
              help="Replace workspace copies even with changes: ones not in the cache, "
                   "and ones made here since the last checkout.")
@click.option("--json", "as_json", is_flag=True, help="Output as JSON.")
@common_options
def update(targets: tuple[str, ...], rev: str | None, force: bool, as_json: bool) -> None:
    """Bring imports up to date: an import from a repository follows its revision (or moves
    to --rev), an import from a URL is downloaded again if its version changed (always when
    its server reports none, to compare the data)."""
    from dvx.ops.imports import UpdateInterrupted
    from dvx.ops.imports import update as do_update

    repo = open_repo()
    try:
        results = do_update(repo, list(targets) or None, rev, force)
    except UpdateInterrupted as stopped:  # what was done before, then the ERROR: line
        if not as_json:
            _report_updates(repo, stopped.updated[:-1], stopped.updated)
        raise
    if as_json:
        emit_json([{"path": r.path, "changed": r.changed, "pointer_changed": r.rewritten,
                    "detail": r.detail, "ok": r.ok, "failed": r.failed}
                   for r in results + _unread_pointers(repo)])
    else:
        if not results and not repo.unreadable and not is_quiet():
            out("No imports to update.")  # else each unreadable pointer is named
        _report_updates(repo, results, results)
    if not all(r.ok for r in results):
        sys.exit(1)  # a source that failed, a workspace copy kept or not restored


def _report_updates(repo: Repo, shown: list[Updated], written: list[Updated]) -> None:
    """Each import of `shown` and what became of it, then what records in Git the pointer
    files of `written` that were rewritten."""
    for r in shown:
        if r.failed:
            warn(f"ERROR: {shown_path(r.path)}: {r.detail}")
        elif not is_quiet():
            out(f"{shown_path(r.path)}: {r.detail}")
    report_staging(repo.root, [f"{r.path}.dvx" for r in written if r.staged],
                   [f"{r.path}.dvx" for r in written if r.rewritten and not r.staged])


def _unread_pointers(repo: Repo) -> list[Updated]:
    """A pointer file update could not read (a merge conflict), which may be an import: a
    failed entry of the JSON list, so that a reader of stdout alone learns of it too."""
    from dvx.ops.imports import Updated
    from dvx.paths import POINTER_SUFFIX
    from dvx.pointer import data_path_of

    return [Updated(data_path_of(path), False,
                    f"not updated: {exc.message} {exc.hint}".rstrip(), ok=False, failed=True)
            for path, exc in sorted(repo.unreadable.items()) if path.endswith(POINTER_SUFFIX)]


def _report_import(root: str, result: object) -> None:
    """What an import recorded and placed, and the `git add` that records its pointer: named
    too when the copy was not placed (one of the user's edits kept in its place), since the
    pointer was written all the same."""
    from dvx.ops.imports import ImportResult

    assert isinstance(result, ImportResult)
    for added in result.added.added:
        if not is_quiet():
            out(f"Imported {added.path} ({added.pointer.oid[:12]})")
    report_checkout(result.checkout)
    report_staging(root, result.added.staged, result.added.to_stage)
    if not result.checkout.ok:
        sys.exit(1)


COMMANDS = [ls, du, get, import_, import_url, get_url, update]
