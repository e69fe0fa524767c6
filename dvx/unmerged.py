"""Pointer files and dvx.lock that Git's index lists as unmerged though they hold no
conflict markers.

Git hands them to dvx's merge driver; when the driver cannot run (the interpreter it names
is gone: a virtual environment rebuilt) or is killed, Git leaves the file holding our side
alone, markers none, and the merge unresolved in its index. Read as it is, the file looks
fine, and a `git add` of it would drop the other side's changes without a word: what reads
the workspace's pointers names them as conflicts instead.
"""

from __future__ import annotations

import hashlib
import os

from dvx.errors import MergeConflictError
from dvx.lockfile import LOCK_FILE
from dvx.paths import POINTER_SUFFIX, for_command, from_here
from dvx.pointer import data_path_of
from dvx.scm import literal_pathspec, unmerged_entries
from dvx.yamlio import has_conflict_markers

_OURS, _THEIRS = 2, 3  # the stages of Git's index that hold each side
_WHOSE = {"ours": "our", "theirs": "their"}


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
    found = {}
    for path, blobs in sorted(stages.items()):
        try:
            with open(os.path.join(root, path), "rb") as f:
                data = f.read()
        except OSError:
            continue  # deleted on one side and gone here: Git's own status names it
        side = _side_held(data, blobs)
        # Their side alone is what `git checkout --theirs` leaves, as dvx's own hint for a
        # conflict says to run (a driver that failed leaves ours): a choice, no conflict.
        if not has_conflict_markers(data) and side != "theirs":
            found[path] = _conflict(root, path, side)
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


def _conflict(root: str, path: str, side: str | None) -> MergeConflictError:
    shown = literal_pathspec(from_here(root, path))
    then = ("`dvx repro`" if path == LOCK_FILE
            else f"`dvx pull {for_command(root, data_path_of(path))}`")
    what = f"The pointer file '{path}'" if path != LOCK_FILE else LOCK_FILE
    if side is None:
        return MergeConflictError(
            f"{what} is not merged yet: Git's index still lists it as unmerged.",
            f"Once it holds what you want (`git checkout -m {shown}` merged it again, or you "
            f"edited it), run {then}, then `git add {shown}`.", path)
    other = "theirs" if side == "ours" else "ours"
    holds = ("our side alone: dvx's merge driver did not merge it (it could not run, or "
             "stopped), and Git left it without conflict markers, or `git checkout --ours` "
             "took our side")
    return MergeConflictError(
        f"{what} holds an unresolved Git merge conflict: Git's index lists it as unmerged, "
        f"and it holds {holds}. `git add` now would drop {_WHOSE[other]} changes to it.",
        f"To keep both sides' changes, merge it again with dvx's merge driver: `dvx install` "
        f"(which writes the driver anew), then `git checkout -m {shown}`. Or keep one side "
        f"knowingly: `git checkout --{side} {shown}` (or --{other}). Then run {then} and "
        f"`git add {shown}`.", path)
