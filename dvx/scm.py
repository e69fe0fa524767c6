"""Git integration: the only module that talks to Git.

gitpython drives index changes (autostage). Listing paths runs `git ls-files` directly: it is
on the hot path of `status`, and importing gitpython would cost more than the listing itself.
"""

from __future__ import annotations

import os
from typing import Any

from dvx.errors import DvxError, UsageError


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

    def _run(self, *args: str, stdin: bytes | None = None) -> bytes:
        import subprocess

        try:
            proc = subprocess.run(["git", "-C", self.root, *args], capture_output=True,
                                  check=False, input=stdin)
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

    # -- history, for gc: which pointer files the commits in a scope hold ----------------------

    def resolve_revision(self, rev: str) -> str:
        """The commit a user-given revision names; never lets it be read as an option."""
        if rev.startswith("-") or "\0" in rev:
            raise UsageError(f"Invalid revision {rev!r}: it must not start with '-'.")
        try:
            out = self._run("rev-parse", "--verify", "--quiet", "--end-of-options",
                            f"{rev}^{{commit}}")
        except DvxError:
            raise UsageError(f"Unknown revision {rev!r}.",
                             "Name a branch, tag or commit of this repository.") from None
        return out.decode().strip()

    def commits(self, all_branches: bool, all_tags: bool, all_commits: bool) -> list[str]:
        refs: list[str] = []
        if all_commits:
            out = self._run("rev-list", "--all")
            return sorted(set(out.decode().split()))
        if all_branches:
            refs.append("refs/heads")
        if all_tags:
            refs.append("refs/tags")
        if not refs:
            return []
        out = self._run("for-each-ref", "--format=%(objectname)^{commit}", *refs)
        wanted = out.decode().split()
        if not wanted:
            return []
        resolved = self._run("rev-parse", *wanted)
        return sorted(set(resolved.decode().split()))

    def blobs_named(self, commit: str, suffixes: tuple[str, ...]) -> dict[str, str]:
        """{blob sha: path} of the files in `commit` whose names end with one of `suffixes`."""
        out = self._run("ls-tree", "-r", "-z", "--full-tree", commit)
        found: dict[str, str] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path_bytes = record.partition(b"\t")
            _mode, kind, sha = meta.decode().split()
            path = os.fsdecode(path_bytes)
            if kind == "blob" and path.endswith(suffixes):
                found[sha] = path
        return found

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """The contents of many blobs in one `git cat-file --batch`."""
        if not shas:
            return {}
        out = self._run("cat-file", "--batch", stdin=("\n".join(shas) + "\n").encode())
        contents: dict[str, bytes] = {}
        position = 0
        for sha in shas:
            header_end = out.index(b"\n", position)
            header = out[position:header_end].decode().split()
            if len(header) < 3 or header[1] == "missing":
                raise DvxError(f"Git object {sha} is missing from the repository.")
            size = int(header[2])
            contents[sha] = out[header_end + 1:header_end + 1 + size]
            position = header_end + 1 + size + 1
        return contents

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
