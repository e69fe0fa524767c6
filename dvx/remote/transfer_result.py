"""What a transfer did, and how it is to run: shared by the loose and the packed paths."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field

from dvx.objects.cache import LocalCache, kept_message
from dvx.progress import Progress


@dataclass
class TransferResult:
    transferred: int = 0  # objects moved (a count: a million oids need not be kept)
    already_there: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # oid -> reason
    bytes: int = 0

    def merge(self, other: TransferResult) -> None:
        self.transferred += other.transferred
        self.already_there += other.already_there
        self.failed.update(other.failed)
        self.bytes += other.bytes


NOT_ON_REMOTE = "not on the remote"  # why the download of an absent object failed
# why the download failed of an object whose name a directory has (made by hand), as `dvx
# fsck --remote` names it
NOT_AN_OBJECT = ("not an object: what has its name on the remote is a directory, not a file "
                 "(not made by dvx: move it out of the remote's files/ folder, then `dvx push` "
                 "from a clone whose cache has the data uploads it)")


def pack_not_on_remote(pack: str) -> str:
    """Why the download of an object failed whose pack, which an index names, the remote
    lacks."""
    return f"its pack {pack} is {NOT_ON_REMOTE}"


def lost_with_its_pack(why: str) -> bool:
    """Did a download fail because the object's pack is gone (`pack_not_on_remote`)?"""
    return why.startswith("its pack ") and why.endswith(NOT_ON_REMOTE)


CUT_SHORT = "is shorter than its index says"


def pack_cut_short(pack: str) -> str:
    """Why the read of objects failed whose pack holds fewer bytes than its index gives."""
    return f"pack {pack} {CUT_SHORT}"


def in_a_pack_cut_short(why: str) -> bool:
    """Did a download fail because the object's pack was cut short (`pack_cut_short`)?"""
    return why.startswith("pack ") and why.endswith(CUT_SHORT)


# The cache's words (LocalCache) for downloaded bytes that hash to another oid than their own
_HASH_TO_ANOTHER = re.compile(r"Object [0-9a-f]+ is corrupt: its \d+ bytes hash to ")


def read_damaged(why: str) -> bool:
    """Did a download fail because the bytes read from the remote hash to another oid: the
    remote's copy is damaged? (A size other than a pointer records is not counted: the
    pointer may be the one that is wrong.)"""
    return _HASH_TO_ANOTHER.match(why) is not None


CHANGED_IN_CACHE = ("its object in the cache changed after it was stored (written in place "
                    "through a link to it, say), so it no longer holds the bytes its oid names")
_FROM_A_REMOTE = ("`dvx status` shows the changed data: `dvx add` records it as a new version, "
                  "and the recorded version comes back only from a remote that has it "
                  "(`dvx pull`)")


def set_aside_changed(cache: LocalCache, oid: str) -> str:
    """Move aside a cached object found changed on its way to a remote (not the size recorded
    for it, or not hashing to its oid); the reason its upload failed."""
    kept: list[str] = []
    with contextlib.suppress(FileNotFoundError):  # set aside already (another process)
        _, kept = cache.set_aside(oid)
    return (f"{CHANGED_IN_CACHE}: not uploaded, and moved to "
            f"{os.path.join(cache.root, 'quarantine')}. {_FROM_A_REMOTE}"
            + ("." + kept_message(kept).rstrip(".") if kept else ""))


def held_in_workspace(why: str, path: str) -> str:
    """`why`, the reason `set_aside_changed` gave, for an object whose recorded bytes the
    workspace still holds, unchanged, at `path` (as a command names it): stored again from
    there, with no remote."""
    return why.replace(_FROM_A_REMOTE, "The workspace still holds the recorded version "
                       f"unchanged: `dvx commit {path}` stores it in the cache again, and "
                       "`dvx push` then uploads it")


@dataclass(frozen=True)
class Settings:
    jobs: int
    retries: int
    progress: Progress
