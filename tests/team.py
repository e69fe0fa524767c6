"""A team for tests: a bare Git origin, a shared directory remote, and clones that push and pull
through both, as people on a team do."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from tests.conftest import git, run_dvx, write


class Team:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.origin = base / "origin.git"
        self.store = base / "store"
        git(base, "init", "-q", "--bare", "-b", "main", str(self.origin))

    def founder(self, name: str = "alice") -> Path:
        """The first clone: initializes dvx, sets the shared remote, pushes the setup."""
        clone = self.clone(name, pull=False)
        must("init", cwd=clone)
        must("remote", "add", "-d", "shared", str(self.store), cwd=clone)
        commit(clone, "set up dvx")
        git(clone, "push", "-q", "origin", "main")
        return clone

    def clone(self, name: str, pull: bool = True) -> Path:
        git(self.base, "clone", "-q", str(self.origin), name)
        clone = self.base / name
        if pull:
            must("pull", cwd=clone)
        return clone


def must(*args: str, cwd: Path) -> str:
    result = run_dvx(*args, cwd=cwd)
    assert result.code == 0, f"dvx {' '.join(args)}: {result.output}"
    return result.output


def pasted(command: str, cwd: Path) -> None:
    """Run `command`, a way out a message names (`git ...`, `dvx ...` or `rm ...`, joined by
    ` && `), as a shell would split it, in `cwd`; each part must succeed."""
    for part in command.split(" && "):
        program, *args = shlex.split(part)
        if program == "git":
            git(cwd, *args)
        elif program == "rm":
            for name in args:
                os.remove(cwd / name)
        else:
            assert program == "dvx", command
            must(*args, cwd=cwd)


def commit(clone: Path, message: str) -> None:
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", message)


def share(clone: Path, message: str) -> None:
    """Commit everything, push the data and then the commit (the order a careful user uses)."""
    commit(clone, message)
    must("push", cwd=clone)
    git(clone, "push", "-q", "origin", "HEAD")


def edit(clone: Path, rel: str, content: bytes | str) -> None:
    """Change a tracked file the way a user would: unprotect (a linked file is read-only)."""
    path = clone / rel
    if path.exists():
        path.unlink()
    write(path, content)


def publish(clone: Path, origin: Path) -> None:
    """Give a clone that has no Git remote a bare `origin` at `origin` holding all its
    branches and tags, fetched back: the Git remote a gc --remote over history asks what
    teammates pushed."""
    git(origin.parent, "init", "-q", "--bare", str(origin))
    git(clone, "remote", "add", "origin", str(origin))
    git(clone, "push", "-q", "origin", "--all")
    git(clone, "push", "-q", "origin", "--tags")
    git(clone, "fetch", "-q", "origin")
