"""Git integration: the only module that talks to Git.

gitpython drives index changes (autostage). Listing paths runs `git ls-files` directly: it is
on the hot path of `status`, and importing gitpython would cost more than the listing itself.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from dvx.errors import DvxError


def find_git_root(start: str) -> str | None:
    current = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


class Git:
    def __init__(self, root: str) -> None:
        self.root = root
        self._repo: Any = None

    def _run(self, *args: str) -> bytes:
        try:
            proc = subprocess.run(["git", "-C", self.root, *args], capture_output=True, check=False)
        except FileNotFoundError:
            raise DvxError("The 'git' program was not found.", "Install Git, or use "
                           "`dvx init --no-scm` for a repository without Git.") from None
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip().splitlines()
            raise DvxError(f"git {args[0]} failed: {detail[0] if detail else proc.returncode}")
        return proc.stdout

    def ls_files(self, *args: str) -> list[str]:
        out = self._run("ls-files", "-z", "--full-name", *args)
        return [os.fsdecode(p) for p in out.split(b"\0") if p]

    def tracked_under(self, relpaths: list[str]) -> list[str]:
        """Files Git tracks at or below any of `relpaths` (repo-relative)."""
        if not relpaths:
            return []
        return self.ls_files("--", *[":(literal)" + p for p in relpaths])

    def pointer_files(self) -> list[str]:
        """Pointer files Git tracks or would track (untracked but not ignored)."""
        found = self.ls_files("--cached", "--others", "--exclude-standard", "--", "*.dvx")
        # A pointer deleted from the workspace but still in the index is no longer tracked.
        return sorted({p for p in found if p.endswith(".dvx") and not p.endswith("/.dvx")
                       and p != ".dvx" and os.path.lexists(os.path.join(self.root, p))})

    @property
    def repo(self) -> Any:
        if self._repo is None:
            import git

            self._repo = git.Repo(self.root)
        return self._repo

    def stage(self, relpaths: list[str]) -> None:
        """`git add` what exists and unstage what was removed (autostage)."""
        existing = [p for p in relpaths if os.path.lexists(os.path.join(self.root, p))]
        removed = [p for p in relpaths if p not in existing]
        if existing:
            self.repo.git.add("--", *existing)
        if removed:
            self.repo.git.rm("--cached", "--ignore-unmatch", "-q", "--", *removed)
