"""Which folders hold Git's or dvx's own files, where no command writes the user's output."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dvx.paths import RESERVED_NAMES

if TYPE_CHECKING:
    from dvx.repo import Repo


def own_files_holding(repo: Repo, path: str) -> str | None:
    """How to name the folder of Git's or dvx's own files that `path` is in or is (`'.git'`,
    `'.dvx'`, `the cache (...)`, `the Git directory (...)`), judged by its real path so a
    symbolic link does not hide it; None when `path` is none of those."""
    real = os.path.realpath(path)
    root = os.path.realpath(repo.root)
    if os.path.commonpath([real, root]) == root and real != root:
        first = os.path.relpath(real, root).split(os.sep)[0]
        if first.casefold() in RESERVED_NAMES:
            return f"'{first}'"
    owned = {"the cache": repo.cache_dir}
    if repo.git is not None:
        common = repo.git.run("rev-parse", "--git-common-dir").decode().strip()
        owned["the Git directory"] = os.path.join(repo.root, common)
    for what, directory in owned.items():
        top = os.path.realpath(directory)
        if os.path.commonpath([real, top]) == top:
            return f"{what} ({top})"
    return None
