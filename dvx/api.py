"""dvx's Python API: the same operations as the commands, returning plain data.

    import dvx.api
    dvx.api.metrics_show()                        # the workspace's metrics
    dvx.api.metrics_show(revs=["main", "v1.0"])   # those revisions (and not the workspace)
    dvx.api.params_show(repo="path/to/project")

    with dvx.api.open("data/train.csv", rev="v1") as f:         # a tracked file, as it was in v1
        header = f.readline()
    dvx.api.read("model.pt", repo="https://github.com/org/models", mode="rb")
    dvx.api.get_url("data/train.csv")                            # where the remote keeps it

Each function takes `repo`, a dvx repository: a local path (default: the one holding the
current directory) or, for open/read/get_url, a Git URL (cloned once into the user's cache).
They raise `dvx.errors.DvxError` subclasses on failure.
"""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dvx.ops.source import Source

__all__ = ["exp_show", "get_url", "metrics_show", "open", "params_show", "read"]


def open(path: str, repo: str | None = None, rev: str | None = None,  # as io.open does
         remote: str | None = None, mode: str = "rb", encoding: str | None = None
         ) -> IO[Any]:
    """A file object for `path` (relative to the repository's root), as it is in `rev` (a
    branch, tag or commit; default: the workspace's pointers for a local repository, the
    default branch for a URL). A dvx-tracked file is read from the cache when it is there,
    else streamed from the remote (`remote`, default: the repository's default remote) and
    checked against its hash when read to the end; a file Git tracks is read from Git.
    `mode` is "rb" or "r" (text, in `encoding`)."""
    if mode not in ("r", "rb", "rt"):
        from dvx.errors import UsageError

        raise UsageError(f"dvx.api.open reads only: mode {mode!r} is not 'r' or 'rb'.")
    source = _source(repo, rev, remote)
    raw = _open_binary(source, _in_repository(path, source))
    return raw if mode == "rb" else io.TextIOWrapper(raw, encoding=encoding)


def read(path: str, repo: str | None = None, rev: str | None = None,
         remote: str | None = None, mode: str = "r", encoding: str | None = None
         ) -> str | bytes:
    """The whole content of `path` (see `open`): text with mode "r", bytes with "rb"."""
    with open(path, repo, rev, remote, mode, encoding) as f:
        data: str | bytes = f.read()
        return data


def get_url(path: str, repo: str | None = None, rev: str | None = None,
            remote: str | None = None) -> str:
    """The URL of the object holding `path` on the remote (where `dvx push` put it)."""
    from dvx.errors import PathError

    source = _source(repo, rev, remote)
    path = _in_repository(path, source)
    found = source.find(path)
    files = list(source.files_below(found))
    if len(files) != 1 or files[0][0] != "":
        raise PathError(f"'{path}' is a directory; get_url names one file's object.")
    oid = files[0][1]
    _, store = source.remote(found.output.remote)
    pack, offset, length = store.locate([oid]).get(oid, (None, 0, 0))
    if pack is not None:
        raise PathError(f"'{path}' is stored inside a pack on the remote (packs/{pack}, "
                        f"{length} bytes at offset {offset}), so it has no URL of its own.",
                        "Read it with dvx.api.open or dvx.api.read; a remote whose objects "
                        "need URLs of their own takes `dvx remote modify NAME pack_threshold "
                        "0` before the push.")
    return f"{store.url.rstrip('/')}/files/{source.repo.algo}/{oid[:2]}/{oid[2:]}"


def _in_repository(path: str, source: Source) -> str:
    """`path` as the repository names it, relative to its top: `./data.csv` is `data.csv`.
    An absolute path is refused, with the relative one where it leads into a local source."""
    from dvx.errors import PathError
    from dvx.ops.source import readable_path, refuse_absolute_path

    refuse_absolute_path(path, source.repo.root if source.is_local else None,
                         "dvx.api takes", "Pass", at_top="It names the top of the repository, "
                         "not a file in it: pass one that `dvx ls URL -R` lists.")
    while path.startswith("./"):
        path = path[2:]
    if path and not readable_path(path):
        raise PathError(f"'{path}' is inside a '.dvx' or '.git' folder, which dvx.api and the "
                        "dvx:// filesystem never read (nor list): dvx's own configuration is "
                        "no data of the repository.",
                        "Read it from Git (`git show REV:PATH` in a clone), or name a path "
                        "that `dvx ls URL -R` lists.")
    return path


def _source(repo: str | None, rev: str | None, remote: str | None) -> Source:
    from dvx.errors import DvxError
    from dvx.ops.source import Source
    from dvx.repo import Repo, find_root

    if repo is None:
        here = Repo.find()
        return Source(here.root, rev, remote, reader=here)
    try:  # the reader's own repository, if it is in one: its cache takes what is fetched,
        reader: Repo | None = Repo(find_root())  # its remotes' credentials apply
    except DvxError:  # not in a repository: the user-level cache and config
        reader = None
    return Source(repo, rev, remote, reader=reader)


def _open_binary(source: Source, path: str) -> IO[bytes]:
    from dvx.errors import PathError

    try:
        found = source.find(path)
    except PathError:
        data = source.git_blob(path.strip("/"))
        if data is None:
            raise
        return io.BytesIO(data)
    files = list(source.files_below(found))
    if len(files) != 1 or files[0][0] != "":
        raise PathError(f"'{path}' is a directory in {source.describe()}; open one of its files.")
    return source.open_object(files[0][1], files[0][2], found.output.remote, found.path)


def params_show(repo: str | None = None, revs: list[str] | None = None) -> dict[str, Any]:
    """The params of the workspace, or of each revision in `revs` (branches, tags, commits,
    or "workspace"): exactly what `dvx params show --json` prints, a mapping of each
    revision's name to {"data": {path: {"data": {...}} or {"error": {...}}}}."""
    return _show("params", repo, revs)


def metrics_show(repo: str | None = None, revs: list[str] | None = None) -> dict[str, Any]:
    """The metrics of the workspace, or of each revision in `revs`: exactly what
    `dvx metrics show --json` prints (see `params_show`)."""
    return _show("metrics", repo, revs)


def exp_show(repo: str | None = None, all_baselines: bool = False) -> list[dict[str, Any]]:
    """The workspace, the baseline and its experiments (of every baseline with
    `all_baselines`): exactly what `dvx exp show --json` prints, one dict per row with
    "name", "rev", "baseline", "created", "params" and "metrics" ({file: {key: value}})."""
    from dvx.exps.show import show
    from dvx.repo import Repo

    return [row.to_json() for row in show(Repo.find(repo), all_baselines)]


def _show(kind: str, repo: str | None, revs: list[str] | None) -> dict[str, Any]:
    from dvx.history import Scope
    from dvx.metrics.values import show
    from dvx.repo import Repo

    names = list(revs or [])
    scope = Scope(workspace=not names or "workspace" in names,
                  revs=tuple(r for r in names if r != "workspace"))
    return show(Repo.find(repo), kind, scope).to_json()
