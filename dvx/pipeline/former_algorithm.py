"""Outputs holding data this cache has under another hash algorithm than dvx hashes with now.

A repository that moved to another algorithm (core.hash committed, dvx.lock recorded again)
leaves each clone's earlier runs in its cache under the former algorithm's names: an output
such a run placed, which dvx.lock (now of the new algorithm) does not record, is data dvx
recorded, not the user's own, though the cache of the algorithm in effect lacks it. A run
over it loses nothing (the copy stays in the cache), and records it with the new algorithm.
"""

from __future__ import annotations

import os

from dvx.errors import DvxError
from dvx.hashing import ALGORITHMS, hash_file
from dvx.objects.cache import LocalCache
from dvx.paths import walk_directory
from dvx.repo import Repo


def algorithm_holding(repo: Repo, rel: str) -> str | None:
    """The algorithm other than the one in effect under which this cache holds every file of
    the output `rel` (a file, or a folder's files); None where none does, and where the
    output holds anything else (a link, a FIFO, a folder that cannot be listed): a `repro
    --force` that deletes it is offered only when the cache has all of it."""
    files = _files_of(repo.abspath(rel))
    if not files:
        return None
    for algo in ALGORITHMS:
        if algo == repo.algo:
            continue
        cache = LocalCache(repo.cache_dir, algo)
        if not os.path.isdir(cache.files_root):  # no object of it: nothing to hash for
            continue
        try:
            if all(cache.exists(hash_file(path, algo)[0]) for path in files):
                return algo
        except OSError:  # unreadable: nothing says what it holds
            return None
    return None


def _files_of(path: str) -> list[str] | None:
    """The files of the output at `path`: itself, or a folder's regular files; None when it
    holds anything else or a folder below it cannot be listed, as the cache could not hold
    all of it."""
    if os.path.islink(path) or not os.path.isdir(path):
        return [path] if os.path.isfile(path) and not os.path.islink(path) else None
    try:
        walk = walk_directory(path)
    except (OSError, DvxError):
        return None
    if walk.symlinks or walk.others or walk.reserved or walk.scratch:
        return None
    return [entry.path for entry in walk.files]
