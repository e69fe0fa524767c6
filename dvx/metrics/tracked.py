"""Params, metrics and plots files of the workspace that dvx tracks as data: a `cache: true`
output dvx.lock records, a file tracked with `dvx add`, or a file of a directory tracked so
(one its manifest lists, when the cache holds that manifest).

The workspace may lack one (never pulled or checked out here, or deleted since), or hold the
data placed before its pointer moved in Git (a `git pull` of a teammate's run, data not
checked out yet). Either is said as such, never read as an empty file nor as the values of
the data its pointer names: a table would pair the params of one run with the metrics of
another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dvx.errors import DvxError
from dvx.hashing import hash_bytes
from dvx.ops.status import moved_outside_a_commit, synced_lately, synced_record
from dvx.ops.sync_layers import version_tree
from dvx.outputs import Output, load_output, load_tree, pipeline_outputs
from dvx.paths import POINTER_SUFFIX, for_command
from dvx.repo import Repo
from dvx.syncstate import Synced, placed_here


@dataclass(frozen=True)
class Tracked:
    output: Output  # the tracked file, or the tracked directory holding it
    inside: str | None  # the file's path inside that directory; None: the output itself


def tracked(repo: Repo, rel: str) -> Tracked | None:
    """The data output that is, or holds, the workspace's file `rel`; None when dvx tracks no
    such data (Git does), or the pointer or dvx.lock naming it cannot be read (commands on
    that data report it)."""
    try:
        outputs = pipeline_outputs(repo)
    except DvxError:
        outputs = []
    for output in outputs:
        if rel == output.path:
            return Tracked(output, None)
        if rel.startswith(output.path + "/"):
            return Tracked(output, rel[len(output.path) + 1:])
    path = rel
    while path:
        if os.path.lexists(repo.abspath(path + POINTER_SUFFIX)):
            try:
                output = load_output(repo, path + POINTER_SUFFIX)
            except DvxError:
                return None
            return Tracked(output, None if path == rel else rel[len(path) + 1:])
        path = path.rpartition("/")[0]
    return None


def why_absent(repo: Repo, rel: str) -> str | None:
    """Why the workspace lacks the file `rel` that dvx tracks as data: never placed here (not
    checked out, or not even pulled), or deleted since. None when dvx tracks no such file:
    one a stage has yet to write, one Git tracks, or one its tracked directory's manifest
    does not list (a typo, or a file removed from it and recorded), absent as any file."""
    found = tracked(repo, rel)
    if found is None or _not_listed(repo, found):
        return None
    typed = for_command(repo.root, rel)
    synced = repo.syncstate.get(found.output.path)
    if synced is None or (found.inside is not None and not placed_here(synced, found.inside)):
        if _in_cache(repo, found):
            return f"it is not checked out yet (`dvx checkout {typed}` places it)"
        return f"it is not pulled yet (`dvx pull {typed}` fetches it)"
    return f"it was deleted since it was placed (`dvx checkout {typed}` puts it back)"


def outdated(repo: Repo, rel: str, data: bytes) -> str | None:
    """Why `data`, the bytes of the workspace's file `rel`, are not what dvx tracks there now:
    its pointer (or dvx.lock entry) moved since they were placed (a `git pull`, a `git
    checkout`), and the file still holds them. None when they are the recorded data, or a
    change made here (which is the workspace's own), or dvx tracks no such file."""
    found = tracked(repo, rel)
    if found is None:
        return None
    output = found.output
    # No record (.dvx/tmp deleted): the version HEAD's recent commits recorded, as status
    # takes it
    synced = synced_record(repo, output) or synced_lately(repo, output)
    if synced is None or (synced.oid == output.pointer.oid and synced.base is None):
        return None  # never placed here, or placed at the version the pointer names
    placed = _placed_oid(repo, synced, found)
    held = hash_bytes(data, repo.algo)
    recorded = _recorded_oid(repo, found)
    if placed is None or held != placed or held == recorded:
        return None
    typed = for_command(repo.root, rel)
    where = "outside a commit" if moved_outside_a_commit(repo, output, synced.oid) else "in Git"
    moved = f"{output.recorded_in} changed {where} since it was placed here"
    if recorded is None and found.inside is not None and not _manifest_cached(repo, output):
        return (f"'{rel}' in the workspace may be outdated: {moved}, and the cache lacks the "
                "new manifest of its directory, which says whether this file changed "
                f"(`dvx pull {typed}` fetches and places the new data).")
    if recorded is None:  # the new manifest, cached, lists no such file: a pull of it fails
        folder = for_command(repo.root, output.path)
        return (f"'{rel}' in the workspace is outdated: {moved}, and the version it records "
                f"no longer holds this file (`dvx checkout {folder}` places that version, "
                "without it).")
    fix = (f"`dvx checkout {typed}` places the new data" if _in_cache(repo, found)
           else f"`dvx pull {typed}` fetches and places the new data")
    return f"'{rel}' in the workspace is outdated: {moved}, and it still holds the data " \
           f"from before ({fix})."


def _not_listed(repo: Repo, found: Tracked) -> bool:
    """Is `found` a path inside a directory whose manifest, as its pointer names it now, is
    in the cache and lists no such file or folder? Not when that manifest is unknown: the
    path may be data not pulled yet."""
    if found.inside is None:
        return False
    try:
        tree = load_tree(repo, found.output.pointer)
    except DvxError:
        return False
    return tree is not None and not tree.holds(found.inside)


def _manifest_cached(repo: Repo, output: Output) -> bool:
    return repo.cache.exists(output.pointer.oid)


def _in_cache(repo: Repo, found: Tracked) -> bool:
    """Does the cache hold the file as the pointer names it now?"""
    oid = _recorded_oid(repo, found)
    return oid is not None and repo.cache.exists(oid)


def _recorded_oid(repo: Repo, found: Tracked) -> str | None:
    """The oid of the file the pointer names now; None when its directory's manifest is not
    in the cache, or holds no such file."""
    if found.inside is None:
        return found.output.pointer.oid
    try:
        tree = load_tree(repo, found.output.pointer)
    except DvxError:
        return None
    entry = None if tree is None else tree.get(found.inside)
    return None if entry is None else entry.oid


def _placed_oid(repo: Repo, synced: Synced, found: Tracked) -> str | None:
    """The oid of the file as it was last placed here; None when not known."""
    if found.inside is None:
        return synced.oid
    layer = synced.layer_for(found.inside)
    try:
        tree = None if layer is None else version_tree(repo, layer.oid)
    except DvxError:
        return None
    entry = None if tree is None else tree.get(found.inside)
    return None if entry is None else entry.oid
