"""A folder a checkout keeps where a file of a tracked directory goes, `--force` or not,
because it holds a file `.dvxignore` leaves out of the data: which file that is, and the
one wording of why, with the way past it, that checkout and status give."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from dvx.ignore import is_ignore_file
from dvx.paths import Walk, for_command
from dvx.repo import Repo

# Why a file of a tracked directory is not placed: a folder stands where it goes
FOLDER_IN_THE_WAY = "a folder is where it goes"


def left_out_inside(repo: Repo, display: str, walk: Walk, dvx_s: Callable[[str], bool]
                    ) -> str | None:
    """The first path (relative to the root) of the files `walk` (of the folder `display`)
    met that .dvxignore leaves out of the data (a .dvxignore itself, never data, included)
    and no version of it names (`dvx_s`: a file dvx placed is its data, never the user's to
    keep); None if none. A folder holding one stays where a file of a tracked directory
    goes, --force or not."""
    for rel in itertools.chain((entry.relpath for entry in walk.files), walk.symlinks,
                               walk.others):
        path = f"{display}/{rel}"
        if _left_out(repo, path) and not dvx_s(path):
            return path
    return None


def _left_out(repo: Repo, path: str) -> bool:
    return is_ignore_file(path) or repo.dvxignore.check(path) is not None


def kept_for_left_out_why(root: str, display: str, left_out: str,
                          verb: str = "checkout") -> str:
    """Why the folder at `display`, where a file of a tracked directory goes, stays, and the
    way past it: it holds `left_out` (`left_out_inside`). Checkout says it, and status for
    the file it calls deleted or not pulled, as no forced checkout places that file; `verb`
    places it once the folder is moved: a pull, where the cache lacks it."""
    return (f"{FOLDER_IN_THE_WAY}, holding '{left_out}', which .dvxignore leaves out of the "
            "data: checkout keeps such a file, --force or not; move the folder away, then "
            f"`dvx {verb} {for_command(root, display)}` places the file")
