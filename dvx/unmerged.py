"""Pointer files and dvx.lock that Git's index lists as unmerged though they hold no
conflict markers.

Git hands them to dvx's merge driver; when the driver cannot run (the interpreter it names
is gone: a virtual environment rebuilt) or is killed, Git leaves the file holding our side
alone, markers none, and the merge unresolved in its index. Read as it is, the file looks
fine, and a `git add` of it would drop the other side's changes without a word: what reads
the workspace's pointers names them as conflicts instead.

One side deleted the file and the other changed it (a modify/delete conflict): Git never asks
the driver, leaves the changed version, and its index holds that side alone, so neither `git
checkout -m` nor --ours/--theirs can resolve it. It is named as such, with the two ways out:
`git add` keeps it, `git rm` accepts the deletion. Where Git's index holds files at the data's
path (the deleting side committed them into Git), keeping it starts with `git rm -r --cached`
of that path, which keeps the files: a checkout leaves data Git tracks to Git. For the same
reason, accepting the deletion there leaves those files in the workspace as Git's.
"""

from __future__ import annotations

import hashlib
import os
import posixpath

from dvx.errors import MergeConflictError
from dvx.lockfile import LOCK_FILE
from dvx.paths import POINTER_SUFFIX, for_command, from_here
from dvx.pointer import data_path_of
from dvx.scm import (
    REBASE_SIDES,
    git_add_command,
    going_on_notes,
    literal_pathspec,
    rebase_in_progress,
    tracked_in,
    unmerged_entries,
    untrack_command,
)
from dvx.yamlio import has_conflict_markers

_BASE, _OURS, _THEIRS = 1, 2, 3  # the stages of Git's index: merge base, each side
# Who each side is, and its changes, as told to the user. A rebase (`git pull --rebase`) builds
# on the upstream and replays one's own commit onto it: there, Git's ours is the upstream.
_MERGE_SIDES = {_OURS: ("our side", "our changes"), _THEIRS: ("their side", "their changes")}
_REBASE_SIDES = {_OURS: ("the upstream's side", "the upstream's changes"),
                 _THEIRS: ("your commit's side", "your commit's changes")}


def unmerged_without_markers(root: str) -> dict[str, MergeConflictError]:
    """{path: the conflict to report} for each pointer file and the dvx.lock below `root`
    that Git's index lists as unmerged and that the workspace holds without conflict
    markers (one holding markers is refused where it is read). One `git ls-files -u`, which
    reads the index alone."""
    stages: dict[str, dict[int, str]] = {}  # path -> {stage: blob}
    for path, stage, blob in unmerged_entries(root) or []:
        if path == LOCK_FILE or (path.endswith(POINTER_SUFFIX)
                                 and path.rpartition("/")[2] != POINTER_SUFFIX):
            stages.setdefault(path, {})[stage] = blob
    reported: dict[str, dict[int, str]] = {}
    held: dict[str, str | None] = {}
    for path, blobs in sorted(stages.items()):
        try:
            with open(os.path.join(root, path), "rb") as f:
                data = f.read()
        except OSError:
            continue  # deleted on one side and gone here: Git's own status names it
        side = _side_held(data, blobs)
        # One side deleted it: a modify/delete conflict, whatever the file holds. Else their
        # side alone is what `git checkout --theirs` leaves, as dvx's own hint for a conflict
        # says to run (a driver that failed leaves ours): a choice, no conflict.
        if len(blobs.keys() & {_OURS, _THEIRS}) == 1 or (
                not has_conflict_markers(data) and side != "theirs"):
            reported[path], held[path] = blobs, side
    if not reported:
        return {}
    rebasing = rebase_in_progress(root)
    going_on = going_on_notes(root, {path: blobs.get(_THEIRS)
                                     for path, blobs in reported.items()})
    found = {}
    for path, blobs in reported.items():
        sides = blobs.keys() & {_OURS, _THEIRS}
        found[path] = (_deleted_on_one_side(root, path, sides.pop(), rebasing, going_on[path])
                       if len(sides) == 1 else
                       _conflict(root, path, held[path], _BASE not in blobs, rebasing,
                                 going_on[path]))
    return found


def _side_held(data: bytes, blobs: dict[int, str]) -> str | None:
    """"ours" or "theirs" when the file holds that side as Git stored it, None otherwise
    (merged again by `git checkout -m`, or edited)."""
    for stage, side in ((_OURS, "ours"), (_THEIRS, "theirs")):
        blob = blobs.get(stage)
        if blob is not None and _blob_id(data, len(blob)) == blob:
            return side
    return None


def _blob_id(data: bytes, id_length: int) -> str:
    """Git's id of the blob `data`, in the repository's hash (told by the length of its ids)."""
    digest = hashlib.sha256 if id_length == 64 else hashlib.sha1
    return digest(b"blob %d\0" % len(data) + data).hexdigest()


def _then(root: str, path: str) -> str:
    """The command that brings the data in line with the pointer or dvx.lock `path` kept."""
    return ("`dvx repro`" if path == LOCK_FILE
            else f"`dvx pull {for_command(root, data_path_of(path))}`")


def _what(path: str) -> str:
    return f"The pointer file '{path}'" if path != LOCK_FILE else LOCK_FILE


def _conflict(root: str, path: str, side: str | None, added: bool,
              rebasing: bool, going_on: str) -> MergeConflictError:
    """Both sides changed `path` (or, `added`, both added it), and it holds our side
    (`side`) or neither as Git stored them. `going_on` ends the hint (`going_on_note`)."""
    shown = literal_pathspec(from_here(root, path))
    add = git_add_command(root, [path])
    then, what = _then(root, path), _what(path)
    if side is None:
        return MergeConflictError(
            f"{what} is not merged yet: Git's index still lists it as unmerged.",
            f"Once it holds what you want (`git checkout -m {shown}` merged it again, or you "
            f"edited it), run {then}, then `{add}`.{going_on}", path)
    names = _REBASE_SIDES if rebasing else _MERGE_SIDES
    both = " (both sides added it)" if added else ""
    holds = (f"{names[_OURS][0]} alone: dvx's merge driver did not merge it (it could not "
             f"run, or stopped), and Git left it without conflict markers, or `git checkout "
             f"--ours` took {names[_OURS][0]}")
    return MergeConflictError(
        f"{what} holds an unresolved Git merge conflict{both}: Git's index lists it as "
        f"unmerged, and it holds {holds}. `git add` now would drop {names[_THEIRS][1]} to it.",
        f"To keep both sides' changes, merge it again with dvx's merge driver: `dvx install` "
        f"(which writes the driver anew), then `git checkout -m {shown}`. Or keep one side "
        f"knowingly: `git checkout --ours {shown}` (or --theirs). Then run {then} and "
        f"`{add}`." + (f" {REBASE_SIDES}" if rebasing else "") + going_on, path)


def _deleted_on_one_side(root: str, path: str, kept: int, rebasing: bool, going_on: str
                         ) -> MergeConflictError:
    """One side deleted `path`, the other (stage `kept`) changed it: a modify/delete
    conflict, which only `git add` (keep it) or `git rm` (delete it) resolves. `going_on`
    ends the hint (`going_on_note`)."""
    shown = literal_pathspec(from_here(root, path))
    add = git_add_command(root, [path])
    names = _REBASE_SIDES if rebasing else _MERGE_SIDES
    changer, deleter = names[kept][0], names[_OURS + _THEIRS - kept][0]
    if path == LOCK_FILE:
        keep = f"`{add}`, then `dvx repro` brings it up to date"
        drop = "`dvx status` then names the stages that must run again"
    else:
        data = for_command(root, data_path_of(path))
        # The deletion took the data's .gitignore entry too: the pull writes it again, and
        # a rebase goes on only once that is staged.
        gitignore = posixpath.join(posixpath.dirname(data_path_of(path)), ".gitignore")
        keep = (f"`{add}`, then `dvx pull {data}` places its data and writes its .gitignore "
                f"entry again, then `{git_add_command(root, [gitignore])}`")
        drop = (f"`dvx checkout` then removes the data at {data} from the workspace where the "
                f"cache holds it (the cache keeps it until `dvx gc`)")
        if tracked_in(root, data_path_of(path)):
            # The deleting side committed the data into Git: a checkout leaves Git's files be
            keep = f"`{untrack_command(root, data_path_of(path))}`, then {keep}"
            drop = (f"what Git tracks at {data} stays in the workspace as Git's files, and "
                    f"`dvx checkout` then removes any other data dvx placed there where the "
                    f"cache holds it (the cache keeps it until `dvx gc`)")
    return MergeConflictError(
        f"{_what(path)} holds an unresolved Git merge conflict: {deleter} deleted it and "
        f"{changer} changed it (a modify/delete conflict). Git left the changed version in "
        f"the workspace, and its index holds that side alone, so neither `git checkout -m` "
        f"nor --ours/--theirs can resolve it.",
        f"Keep it as changed: {keep}. Or accept the deletion: `git rm {shown}`; {drop}."
        f"{going_on}", path)
