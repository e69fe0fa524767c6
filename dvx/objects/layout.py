"""The names dvx gives what it writes in an object store, in one place (docs/formats.md is
their specification):

    files/<algo>/<2 hex digits>/<the oid's other digits>    objects (cache and remotes)
    packs/<hex>.pack        indexes/<hex>.idx                 packs and their indexes
    indexes/KEPT                                              the mark of a remote given packs
    logs/push/<10 digits>-<16 hex>.log                        push logs
    logs/gc/<10 digits>-<16 hex>.log                          gc logs (what a gc's packs held)
    locks/<kind>-<10 digits>-<16 hex>.lock                    remote locks
    locks/clock-<16 hex>.probe                                probes of a remote's clock
    runs/<algo>/<stage key>/<run key>                         run records (the run-cache)

A store's folders may hold files that are not dvx's: a README an operator put there, the empty
key an S3 console makes for a folder, another tool's upload under the same prefix. dvx reads,
counts, deletes and aborts only what has a name of these forms: every listing of one of its
folders is filtered by the rule for that folder here.
"""

from __future__ import annotations

import re

from dvx.hashing import is_valid_oid

FILES_DIR = "files"
PACKS_DIR = "packs"
INDEXES_DIR = "indexes"
PACK_SUFFIX = ".pack"
INDEX_SUFFIX = ".idx"
# Written into indexes/ before the first pack and never deleted: a remote holding packs but
# neither an index nor this mark lost its indexes (a copy that missed the folder), where one
# holding the mark without indexes only had a first push stopped before its index.
INDEXES_MARK = "KEPT"
INDEXES_MARK_TEXT = b"dvx keeps this file: this folder holds the indexes of the packs in packs/.\n"
LOGS_DIR = "logs"
LOCKS_DIR = "locks"
RUNS_DIR = "runs"

_LOG_NAME = re.compile(r"[0-9]{10}-[0-9a-f]{16}\.log")
_LOCK = re.compile(r"([a-z][a-z0-9_]*)-([0-9]{10})-[0-9a-f]{16}\.lock")
_PROBE = re.compile(r"clock-[0-9a-f]{16}\.probe")


def files_dir(algo: str) -> str:
    return f"{FILES_DIR}/{algo}"


def object_name(oid: str, algo: str) -> str:
    """The name of object `oid` (already checked) in its store."""
    return f"{files_dir(algo)}/{oid[:2]}/{oid[2:]}"


def oid_of(name: str, algo: str) -> str | None:
    """The oid that `name` (relative to the store's root) is the object of; None for any
    other name (a temporary, starting with '.', included)."""
    prefix = files_dir(algo) + "/"
    if not name.startswith(prefix):
        return None
    shard, _, rest = name[len(prefix):].partition("/")
    oid = shard + rest
    return oid if len(shard) == 2 and is_valid_oid(oid, algo) else None


def is_pack_name(name: str, algo: str) -> bool:
    """A pack's name in packs/: its content's hash and `.pack`."""
    return name.endswith(PACK_SUFFIX) and is_valid_oid(name[:-len(PACK_SUFFIX)], algo)


def is_index_name(name: str, algo: str) -> bool:
    """A pack index's name in indexes/: its content's hash and `.idx`."""
    return name.endswith(INDEX_SUFFIX) and is_valid_oid(name[:-len(INDEX_SUFFIX)], algo)


def log_name(seconds: int, random_hex: str) -> str:
    """A push log's or gc log's name: when it was begun, then random hex, so names sort by
    time and two clones writing in the same second never collide."""
    return f"{seconds:010d}-{random_hex}.log"


def is_log_name(name: str) -> bool:
    """A name `log_name` gives: a push log's in logs/push/ or a gc log's in logs/gc/."""
    return _LOG_NAME.fullmatch(name) is not None


def lock_name(kind: str, seconds: int, random_hex: str) -> str:
    return f"{kind}-{seconds:010d}-{random_hex}.lock"


def lock_kind_and_time(name: str) -> tuple[str, float] | None:
    """The kind and the seconds in the name of a lock in locks/ (a kind other than push and
    gc is a newer dvx's); None for a name no dvx gives a lock."""
    matched = _LOCK.fullmatch(name)
    return (matched[1], float(matched[2])) if matched else None


def probe_name(random_hex: str) -> str:
    return f"clock-{random_hex}.probe"


def is_probe_name(name: str) -> bool:
    """A clock probe's name in locks/."""
    return _PROBE.fullmatch(name) is not None


def is_upload_name(name: str, algo: str) -> bool:
    """Whether `name` (relative to the store's root) is one dvx gives what it writes in a
    store, so that an upload of it left unfinished (an S3 multipart upload, the temporary
    of an SSH put never renamed into place) is dvx's to abort: an object, a pack, an index,
    a push log, a lock, a clock probe or a run record. Another tool's upload under the same
    prefix is not dvx's."""
    folder, _, base = name.partition("/")
    if folder == PACKS_DIR:
        return is_pack_name(base, algo)
    if folder == INDEXES_DIR:
        return is_index_name(base, algo) or base == INDEXES_MARK
    if folder == LOCKS_DIR:
        return lock_kind_and_time(base) is not None or is_probe_name(base)
    if folder == LOGS_DIR:
        kind, _, log = base.partition("/")
        return kind in ("push", "gc") and is_log_name(log)
    if folder == RUNS_DIR:
        runs_of, _, keys = base.partition("/")
        stage, _, run = keys.partition("/")
        return runs_of == algo and is_valid_oid(stage, algo) and is_valid_oid(run, algo)
    return oid_of(name, algo) is not None
