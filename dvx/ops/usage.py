"""`dvx du`: how many bytes the files of a repository take, by folder, at a revision.

Sizes come from what Git and dvx record (Git's blobs, pointers and the manifests of tracked
directories), as `dvx ls` lists them: nothing is downloaded, and data not pulled counts as
much as data in the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Usage:
    path: str  # "." for the repository's top
    size: int  # bytes of the files below it (of dvx's only, with dvx_only)
    files: int
    unreadable: tuple[str, ...]  # paths below it that could not be read (size not counted)


def disk_usage(entries: dict[str, dict[str, Any]], top: str, *, summarize: bool = False,
               dvx_only: bool = False) -> list[Usage]:
    """The usage of each entry directly in `top` (a folder of `entries`, as
    `Source.listing` gives them; "" for the top), then of `top` itself; of `top` alone with
    `summarize` or when it is a file."""
    top = top.strip("/")
    prefix = top + "/" if top else ""
    totals: dict[str, _Total] = {}  # child of top (top itself: "") -> its running total
    for name, info in entries.items():
        if name == top:
            child = ""
        elif name.startswith(prefix):
            child = name[:len(prefix)] + name[len(prefix):].split("/", 1)[0]
        else:
            continue
        for key in ("", child) if child else ("",):
            totals.setdefault(key, _Total()).count(name, info, dvx_only)
    whole = totals.get("", _Total()).usage(top or ".")
    if summarize or (top and entries[top]["type"] == "file"):
        return [whole]
    children = [totals[key].usage(key) for key in sorted(totals)
                if key and (not dvx_only or totals[key].files or totals[key].unreadable)]
    return [*children, whole]


class _Total:
    def __init__(self) -> None:
        self.size = self.files = 0
        self.unreadable: list[str] = []

    def count(self, name: str, info: dict[str, Any], dvx_only: bool) -> None:
        if "unreadable" in info:
            self.unreadable.append(name)
        elif info["type"] == "file" and (info.get("dvx") or not dvx_only):
            self.size += info["size"]
            self.files += 1

    def usage(self, path: str) -> Usage:
        return Usage(path, self.size, self.files, tuple(sorted(self.unreadable)))
