"""Keeping tracked data out of Git: one anchored entry per output in the .gitignore beside it."""

from __future__ import annotations

import os

from dvx import fsutil


def _entry(name: str) -> str:
    # Anchored to this directory, with gitignore's special characters escaped.
    escaped = "".join("\\" + c if c in "*?[]!#\\" else c for c in name)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def add_entry(data_path: str) -> str | None:
    """Ignore `data_path` in its directory's .gitignore; return the .gitignore path if changed."""
    directory, name = os.path.split(data_path)
    gitignore = os.path.join(directory, ".gitignore")
    entry = _entry(name)
    lines = _read_lines(gitignore)
    if entry in lines:
        return None
    fsutil.atomic_write(gitignore, ("\n".join([*lines, entry]) + "\n").encode("utf-8"))
    return gitignore


def has_entry(data_path: str) -> bool:
    """Does the .gitignore beside `data_path` hold the entry dvx writes for it?"""
    directory, name = os.path.split(data_path)
    return _entry(name) in _read_lines(os.path.join(directory, ".gitignore"))


def remove_entry(data_path: str) -> str | None:
    directory, name = os.path.split(data_path)
    gitignore = os.path.join(directory, ".gitignore")
    entry = _entry(name)
    lines = _read_lines(gitignore)
    if entry not in lines:
        return None
    kept = [line for line in lines if line != entry]
    if kept:
        fsutil.atomic_write(gitignore, ("\n".join(kept) + "\n").encode("utf-8"))
    else:
        os.unlink(gitignore)
    return gitignore
