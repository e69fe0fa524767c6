"""How dvx starts itself in another process: Git's hooks and merge driver (`dvx install`),
and the runs of queued experiments.

Those processes start in a folder of the repository (Git runs hooks and drivers from its top,
a queued run starts in a worktree of it), and Python puts the folder it starts in first on
`sys.path` (`python -m`, `python -c`): a `dvx/` folder, a `platform.py` or a `uuid.py` that a
repository holds would be imported instead of dvx's own modules, and run. So the command drops
that folder before it imports anything, in every spelling: '' and also the absolute path
Python makes of an empty part of PYTHONPATH (`:/x`) or of a `.` in it. Not `-I`, which would
drop PYTHONPATH and the user's site-packages too, where dvx may be installed; not `-P`, which
Python 3.10 lacks. What Python imports before the command runs (`encodings`, `sitecustomize`)
through such a PYTHONPATH is out of dvx's reach.
"""

from __future__ import annotations

import shlex
import sys

# '' is the folder Python starts in, which `-c` puts first on sys.path; `os` is loaded already
_START = ("import os, sys; here = os.path.realpath(os.getcwd()); "
          "sys.path = [p for p in sys.path if os.path.realpath(p) != here]; "
          "from dvx.entry import main; main()")


def dvx_argv() -> list[str]:
    """The arguments that run this dvx (append its command's): this interpreter by its
    absolute path (a hook does not see the virtual environment the user activated), importing
    dvx from where this one comes from, never from the folder it starts in."""
    return [sys.executable, "-c", _START]


def dvx_command() -> str:
    """`dvx_argv()` as a shell command (a hook's, the merge driver's)."""
    return shlex.join(dvx_argv())
