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

Then it imports the dvx package from the folder this dvx was imported from, by its path, so
the process runs the dvx that started it (wrote the hook, queued the run) even when that is
the repository's own `dvx/` (dvx's source tree installed editable, tracking its own data),
which dropping the folder alone would leave unimportable, or when PYTHONPATH named a checkout
ahead of another dvx installed beside the interpreter. Its other modules come from that
folder, never from sys.path, so nothing else of the repository's top is imported. If that
folder is gone (dvx uninstalled from there), dvx is imported from sys.path.
"""

from __future__ import annotations

import os
import shlex
import sys

# '' is the folder Python starts in, which `-c` puts first on sys.path; `os` is loaded already.
# One line: the merge driver's command is a line of Git's config.
_START = ("import os, sys, importlib.util as u; here = os.path.realpath(os.getcwd()); "
          "sys.path = [p for p in sys.path if os.path.realpath(p) != here]; "
          "home = {home!r}; init = os.path.join(home, '__init__.py'); "
          "spec = u.spec_from_file_location('dvx', init, submodule_search_locations=[home]) "
          "if os.path.isfile(init) else None; "
          "dvx = spec and u.module_from_spec(spec); "
          "spec and sys.modules.__setitem__('dvx', dvx); "
          "spec and spec.loader.exec_module(dvx); "
          "from dvx.entry import main; main()")

# The folder of the dvx package this process runs
_PACKAGE_FOLDER = os.path.dirname(os.path.abspath(__file__))


def dvx_argv() -> list[str]:
    """The arguments that run this dvx (append its command's): this interpreter by its
    absolute path (a hook does not see the virtual environment the user activated), importing
    this dvx package by its folder, and nothing from the folder it starts in."""
    return [sys.executable, "-c", _START.format(home=_PACKAGE_FOLDER)]


def dvx_command() -> str:
    """`dvx_argv()` as a shell command (a hook's, the merge driver's)."""
    return shlex.join(dvx_argv())  # noqa: TID251 - run by sh, never pasted
