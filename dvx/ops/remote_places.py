"""Where a directory remote may be: never at or inside data this repository tracks (a
pointer's data, an output dvx.lock records or dvx.yaml declares). dvx puts that data in
.gitignore, so the Git check of a remote's folder lets it by, and then a push writes into
the data, `dvx add` records the remote's objects as data, and `checkout --force` or a stage
(which deletes its outputs before it runs) deletes every object pushed.

`refuse_remote_in_data` is the one check, asked from both sides: by `remote add`/`modify`
and every command opening a remote (this remote, against all the data tracked), and by
`dvx add`, `dvx stage add` and `dvx repro` (these paths, against every directory remote
configured)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dvx.errors import MODIFY_A_REMOTE, ConfigError, DvxError
from dvx.outputs import pointer_files
from dvx.paths import for_command
from dvx.pointer import data_path_of
from dvx.remote.backends import path_of_local_url
from dvx.remote.fs import is_local_url, local_path
from dvx.repo import Repo


@dataclass(frozen=True)
class DirectoryRemote:
    """A directory remote inside the repository's work tree."""
    shown: str  # how a message names it: "remote 'store' (build/store)"
    real: str  # its real path
    rel: str  # its path from the repository root, with '/'
    modify: str = MODIFY_A_REMOTE  # the command that changes its options


def directory_remote(repo: Repo, path: str, shown: str,
                     modify: str = MODIFY_A_REMOTE) -> DirectoryRemote | None:
    """The directory remote at `path`, if it is inside the repository's work tree.
    `modify`: the command that changes its options, for hints (config.modify_command)."""
    root = os.path.realpath(repo.root)
    real = os.path.realpath(path)
    if not real.startswith(root.rstrip(os.sep) + os.sep):
        return None
    return DirectoryRemote(shown, real, os.path.relpath(real, root).replace(os.sep, "/"), modify)


def configured_directory_remotes(repo: Repo) -> list[DirectoryRemote]:
    """The remotes the configuration names whose folder is in the work tree: one read of the
    configuration for the whole command. A remote whose URL cannot be used (a relative path
    in the global config, which every repository would take from its own root) is left
    out: the commands that open it say why."""
    config = repo.config
    found = []
    for name in config.remote_names():
        try:
            url = config.remote_options(name).get("url")
            if not url or not is_local_url(url):
                continue
            if config.where(f'remote "{name}"', "url") == "global" \
                    and not os.path.isabs(os.path.expanduser(path_of_local_url(url))):
                continue
            remote = directory_remote(repo, local_path(url, repo.root),
                                      f"remote '{name}' ({url})", config.modify_command(name))
        except DvxError:
            continue
        if remote is not None:
            found.append(remote)
    return found


def tracked_paths(repo: Repo) -> Iterator[tuple[str, str]]:
    """Each path of data the workspace tracks, and what tracks it. A dvx.lock that cannot be
    read adds none: the commands that need it say why."""
    for pointer in pointer_files(repo):
        yield data_path_of(pointer), f"data dvx tracks ({pointer})"
    try:
        stages = repo.read_lock()
    except DvxError:
        return
    for name, lock in stages.items():
        for out in lock.outs:
            yield out.path, f"an output of the pipeline stage '{name}' (dvx.lock)"


def refuse_remote_in_data(remotes: Iterable[DirectoryRemote], data: Iterable[tuple[str, str]],
                          harm: str, hint: Callable[[DirectoryRemote, str], str]) -> None:
    """Refuse (a configuration error, exit 2) the first of `remotes` at or inside one of the
    `data` paths, each given with what it is ("data to add"); `harm` says what would happen,
    `hint(remote, data path)` what to do instead. Nothing is changed before."""
    remotes = list(remotes)
    if not remotes:
        return
    for path, what in data:
        for remote in remotes:
            if remote.rel == path or remote.rel.startswith(path + "/"):
                raise ConfigError(f"The {remote.shown} is the directory '{remote.real}', in "
                                  f"'{path}', {what}: {harm}", hint(remote, path))


def move_the_remote(root: str) -> Callable[[DirectoryRemote, str], str]:
    """The hint of a path that would take in a configured remote: move the remote out."""
    def hint(remote: DirectoryRemote, path: str) -> str:
        return (f"Move the remote's folder out of '{for_command(root, path)}' and point the "
                f"remote at it (`{remote.modify} url DIR`), or choose "
                "another path.")
    return hint


def refuse_outputs_holding_a_remote(repo: Repo, outputs: Iterable[tuple[str, str]]) -> None:
    """Refuse stage outputs, given as (path, stage name), at or holding a directory remote:
    the stage deletes its outputs before it runs, and with them every object pushed."""
    outputs = list(outputs)
    if not outputs:
        return
    root = repo.root

    def hint(remote: DirectoryRemote, path: str) -> str:
        return (f"Move the remote's folder out of '{for_command(root, path)}' and point the "
                f"remote at it (`{remote.modify} url DIR`), or have the stage "
                "write another output.")
    refuse_remote_in_data(configured_directory_remotes(repo),
                          [(path, f"an output of the pipeline stage '{name}' (dvx.yaml)")
                           for path, name in outputs],
                          "the stage deletes its outputs before it runs, and with them every "
                          "object pushed to the remote; nothing was changed.", hint)
