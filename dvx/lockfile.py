"""dvx.lock: what each pipeline stage last ran with (command, dependency hashes, params values)
and what it produced (output hashes). See docs/formats.md for the normative format.

The file is canonical: the same content always gives the same bytes (keys sorted, dependencies
and outputs sorted by path), so an unchanged pipeline leaves Git nothing to commit. It is
replaced atomically, so an interrupted `repro` leaves the previous complete file. It is a file
format like a pointer (no pipeline logic here), so the modules that list tracked outputs can
read it.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from dvx import fsutil
from dvx.errors import (
    DvxError,
    FormatError,
    MergeConflictError,
    NewerFormatError,
    OtherAlgorithmError,
    UnknownKeysError,
    unknown_keys_hint,
)
from dvx.hashing import ALGORITHMS, MAX_SIZE, check_oid
from dvx.ignore import IGNORE_FILE
from dvx.paths import (
    POINTER_SUFFIX,
    check_relpath,
    for_command,
    from_here,
    make_readable_hint,
    pipeline_file_is_a_link,
)
from dvx.pointer import committed_conflict_hint
from dvx.scm import (
    blob_content,
    commit_holding,
    git_add_command,
    going_on_note,
    literal_pathspec,
    rebase_sides_note,
    unmerged_entries,
)
from dvx.yamlio import YAML_1_1, has_conflict_markers, parse_yaml, safe_dumper

LOCK_FILE = "dvx.lock"
PIPELINE_FILE = "dvx.yaml"  # the pipeline whose runs it records
PIPELINE_FILES = (PIPELINE_FILE, LOCK_FILE)  # at the repository's root: never data, nor outputs
# Files in any directory that tell Git or dvx how to treat the others: never data (dvx would
# write its own entry into a tracked .gitignore, and hide it from Git), never a stage's output.
OWN_NAMES = (".gitignore", IGNORE_FILE, ".gitattributes")
FORMAT_VERSION = 1
MAX_LOCK_BYTES = 64 << 20
HEADER = "# dvx lock file: what each stage of dvx.yaml last ran with and produced. Written by " \
         "`dvx repro`.\n"

_STAGE_KEYS = frozenset({"cmd", "deps", "params", "outs"})
_DEP_KEYS = frozenset({"path", "oid", "size", "nfiles"})
# Where dvx.lock holds object ids, read as the text they are written as (yamlio.as_text).
_OIDS = (("stages", "*", "deps", "*", "oid"), ("stages", "*", "outs", "*", "oid"))
_OUT_KEYS = _DEP_KEYS | {"exec", "cache", "push", "remote"}


@dataclass(frozen=True)
class LockedPath:
    """A dependency or output as recorded: a file, or a directory by its manifest oid."""
    path: str  # repo-relative POSIX
    oid: str
    size: int
    nfiles: int | None = None  # directories only
    executable: bool = False  # files only
    cache: bool = True  # outputs only: stored in the cache (else Git tracks it)
    push: bool = True  # outputs only: `dvx push` uploads it
    remote: str | None = None  # outputs only: the remote it belongs to, if not the default

    @property
    def is_dir(self) -> bool:
        return self.nfiles is not None

    def same_data(self, other: LockedPath | None) -> bool:
        return other is not None and (self.oid, self.nfiles is None) == (
            other.oid, other.nfiles is None)


@dataclass(frozen=True)
class StageLock:
    cmd: tuple[str, ...]
    deps: tuple[LockedPath, ...]
    params: Mapping[str, Mapping[str, Any]]  # params file -> dotted key -> value
    outs: tuple[LockedPath, ...]


def lock_path(root: str) -> str:
    return os.path.join(root, LOCK_FILE)


# -- writing ---------------------------------------------------------------------------------

def _entry(p: LockedPath, is_out: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"path": p.path, "oid": p.oid, "size": p.size}
    if p.nfiles is not None:
        doc["nfiles"] = p.nfiles
    if is_out:
        if p.executable and p.nfiles is None:
            doc["exec"] = True
        if not p.cache:
            doc["cache"] = False
        if not p.push:
            doc["push"] = False
        if p.remote is not None:
            doc["remote"] = p.remote
    return doc


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted(v) for v in value]
    return value


def entry_document(lock: StageLock) -> dict[str, Any]:
    """A stage's entry as the mapping dvx.lock holds, keys in their fixed order."""
    entry: dict[str, Any] = {"cmd": lock.cmd[0] if len(lock.cmd) == 1 else list(lock.cmd)}
    if lock.deps:
        entry["deps"] = [_entry(d, False) for d in sorted(lock.deps, key=lambda d: d.path)]
    if lock.params:
        entry["params"] = _sorted(lock.params)
    if lock.outs:
        entry["outs"] = [_entry(o, True) for o in sorted(lock.outs, key=lambda o: o.path)]
    return entry


def _encoded_entry(name: str, lock: StageLock) -> str:
    """One stage's entry, as the lines it takes under `stages:`: dumped where it sits in the
    file, so its lines are those one dump of the whole file writes for it."""
    return _dump({"stages": {name: entry_document(lock)}}).removeprefix(_STAGES_LINE)


_STAGES_LINE = "stages:\n"


def _dump(doc: Any) -> str:
    import yaml

    return yaml.dump(doc, Dumper=safe_dumper(), sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1 << 30, indent=2)


def path_as_written(path: str) -> str:
    """The text a path takes in dvx.lock (quoted as YAML needs): what a search of its
    history for that path looks for."""
    return _dump({"path": path}).removeprefix("path: ").rstrip("\n")


class LockMoved(Exception):
    """dvx.lock changed on disk between a `LockWriter`'s last read or write of it and the
    rename of its new bytes (`LockWriter.write_unmoved`): nothing was written."""


class LockWriter:
    """Writes dvx.lock again and again as the stages of a run finish. An entry is encoded
    again only for a record it has not encoded yet, so a run of N stages encodes N entries,
    not N whole files. Records are told apart by identity, never by `==`, which calls 1,
    1.0 and true the same param value."""

    def __init__(self, root: str, algo: str, fsync: bool = True) -> None:
        self.root, self.algo, self.fsync = root, algo, fsync
        self._entries: dict[str, tuple[StageLock, str]] = {}
        # The bytes of dvx.lock as this writer last read or wrote them (None: no file), once
        # `read` was called: what `take_in` compares the file with.
        self._known: bytes | None = None
        self._has_read = False
        # The entries `take_in` replaced by the file's version of them, as this writer had
        # them before (None: none): what `changed_entries` still compares them with, as the
        # command read them, until it records them itself.
        self._before_taken_in: dict[str, StageLock | None] = {}

    def read(self) -> dict[str, StageLock]:
        """The stages dvx.lock records now, as read_lock reads them; `take_in` later finds
        what changed in the file since."""
        data = _lock_bytes(self.root)
        self._known, self._has_read = data, True
        self._before_taken_in = {}
        return dict(_parsed_lock(data, self.algo, self.root)) if data is not None else {}

    def moved(self) -> bool:
        """Did dvx.lock change on disk since this writer read or wrote it (a `git checkout`
        or `git pull` meanwhile)? A file that cannot be read now has."""
        if not self._has_read:
            return False
        try:
            return _lock_bytes(self.root) != self._known
        except FormatError:
            return True

    def take_in(self, stages: dict[str, StageLock], own: Collection[str]) -> bool:
        """If dvx.lock changed on disk since this writer read or wrote it (a `git merge` or
        `git pull` while the command ran: Git takes no repository lock), make `stages` what
        the file records now, but for the entries of `own`, the stages this command records
        or dropped, kept as `stages` has them; whether that changed `stages`. Called just
        before `write`, with the entries the command is about to write: `changed_entries`
        compares those of `own` with them from then on. `stages` is changed in place, an
        entry in it as well as on disk never missing from it meanwhile (the workers of
        `repro` read it). A file that cannot be read now (a merge conflict in it) raises its
        error, and nothing is written."""
        if not self._has_read:
            return False
        for name in own:
            self._before_taken_in.pop(name, None)
        data = _lock_bytes(self.root)
        if data == self._known:
            return False
        on_disk = dict(_parsed_lock(data, self.algo, self.root)) if data is not None else {}
        merged = {name: lock for name, lock in on_disk.items() if name not in own}
        merged.update((name, lock) for name, lock in stages.items() if name in own)
        self._known = data
        changed = [name for name in {*merged, *stages} if merged.get(name) is None
                   or not self.same_entry(name, stages.get(name), merged[name])]
        for name in changed:
            self._before_taken_in.setdefault(name, stages.get(name))
        for name in [name for name in stages if name not in merged]:
            del stages[name]
        stages.update((name, merged[name]) for name in changed if name in merged)
        return bool(changed)

    def changed_entries(self, names: Collection[str]) -> list[str]:
        """Of the stages `names`, those whose entry on disk is not the one this command read
        (or, for a stage it recorded or dropped, wrote): added, removed or changed by a `git
        checkout` or `git pull` while the command ran, be it taken in since (`take_in`) or
        not. Writing over such an entry would undo that change. A file that cannot be read
        now raises its error."""
        if not self._has_read:
            return []
        data = _lock_bytes(self.root)
        asked = names if data != self._known else \
            [name for name in names if name in self._before_taken_in]
        if not asked:
            return []
        known = dict(_parsed_lock(self._known, self.algo, self.root)) \
            if self._known is not None else {}
        now = dict(_parsed_lock(data, self.algo, self.root)) if data is not None else {}
        return sorted(name for name in asked if not _same_entry(
            name, self._before_taken_in[name] if name in self._before_taken_in
            else known.get(name), now.get(name)))

    def entry(self, name: str, lock: StageLock) -> str:
        """The lines `lock` takes in dvx.lock as stage `name`'s entry."""
        known = self._entries.get(name)
        if known is None or known[0] is not lock:
            known = self._entries[name] = (lock, _encoded_entry(name, lock))
        return known[1]

    def same_entry(self, name: str, old: StageLock | None, new: StageLock) -> bool:
        """Would recording `new` instead of `old` leave stage `name`'s entry as it is?"""
        return old is not None and (old is new or (old == new and self.entry(
            name, old) == self.entry(name, new)))

    def encode(self, stages: Mapping[str, StageLock]) -> bytes:
        """The canonical bytes: every mapping in a fixed order (see docs/formats.md), written
        by PyYAML's safe emitter in block style."""
        head = _dump({"dvx": FORMAT_VERSION, "algo": self.algo})
        if not stages:
            return (HEADER + head + _dump({"stages": {}})).encode("utf-8")
        entries = [self.entry(name, stages[name]) for name in sorted(stages)]
        return (HEADER + head + _STAGES_LINE + "".join(entries)).encode("utf-8")

    def holds(self, stages: Mapping[str, StageLock]) -> bool:
        """Does dvx.lock record `stages`, byte for byte? After a `write` that raised, whether
        it got as far as its rename (the moment dvx.lock is written) before a Ctrl-C or a
        failed fsync of the folder stopped it."""
        try:
            return _lock_bytes(self.root) == self.encode(stages)
        except FormatError:  # unreadable
            return False

    def write(self, stages: Mapping[str, StageLock],
              before_rename: Callable[[], None] = lambda: None) -> bool:
        """Write dvx.lock if its bytes change; whether they did. `before_rename` runs once the
        new bytes are on disk, last before they replace the file (`fsutil.rewrite`): a
        check there that raises leaves dvx.lock as it is."""
        data = self.encode(stages)
        if _lock_bytes(self.root) == data:
            self._known = data
            return False
        fsutil.rewrite(lock_path(self.root), data, fsync=self.fsync,
                       before_rename=before_rename)
        self._known = data
        return True

    def write_unmoved(self, stages: Mapping[str, StageLock]) -> bool:
        """As `write`, only over the bytes this writer last read or wrote, checked last
        before the rename: a `git pull` that changed dvx.lock since (after `take_in`, say)
        raises LockMoved, and leaves the file as Git wrote it."""

        def unmoved() -> None:
            if self.moved():
                raise LockMoved

        return self.write(stages, unmoved)


def _same_entry(name: str, one: StageLock | None, other: StageLock | None) -> bool:
    """Do two records of stage `name` take the same lines in dvx.lock (None: no entry)?"""
    if one is None or other is None:
        return one is other
    return _encoded_entry(name, one) == _encoded_entry(name, other)


def encode_lock(stages: Mapping[str, StageLock], algo: str) -> bytes:
    return LockWriter("", algo).encode(stages)


def write_lock(root: str, stages: Mapping[str, StageLock], algo: str, fsync: bool = True,
               before_rename: Callable[[], None] = lambda: None) -> bool:
    """Write dvx.lock if its bytes change; whether they did. `before_rename`: as
    `LockWriter.write` takes it."""
    return LockWriter(root, algo, fsync).write(stages, before_rename)


def lock_holds(root: str, stages: Mapping[str, StageLock], algo: str) -> bool:
    """Does dvx.lock record `stages`, byte for byte (`LockWriter.holds`)?"""
    return LockWriter(root, algo).holds(stages)


# -- reading ---------------------------------------------------------------------------------

def uncached_paths(locks: Mapping[str, StageLock]) -> set[str]:
    """The paths of the `cache: false` outputs `locks` record: those Git is to track."""
    return {out.path for lock in locks.values() for out in lock.outs if not out.cache}


def read_lock(root: str, algo: str) -> dict[str, StageLock]:
    """The stages recorded in dvx.lock (none if it does not exist), fully validated."""
    data = _lock_bytes(root)
    if data is None:
        return {}
    return dict(_parsed_lock(data, algo, root))  # a dict of its own: callers change theirs


def _lock_bytes(root: str) -> bytes | None:
    """The bytes of the workspace's dvx.lock (up to one past the largest it may be), None
    if there is none. A symbolic link there is refused, never read through (a committed
    one may lead out of the repository), as a dvx.yaml link is."""
    try:
        return fsutil.read_regular(lock_path(root), MAX_LOCK_BYTES + 1, follow_links=False)
    except FileNotFoundError:
        return None
    except PermissionError as exc:
        raise FormatError(f"Cannot read {LOCK_FILE}: {exc.strerror}.",
                          make_readable_hint(for_command(root, LOCK_FILE))) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise pipeline_file_is_a_link(LOCK_FILE) from None
        raise FormatError(f"Cannot read {LOCK_FILE}: {exc.strerror}.") from None


@functools.lru_cache(maxsize=1)
def _parsed_lock(data: bytes, algo: str, root: str) -> dict[str, StageLock]:
    """parse_lock, once for the same bytes: a command reads dvx.lock in several places (its
    targets' outputs, the stages' records, the data left behind), and parsing is most of the
    cost of a large one. Keyed on the whole content, so any change is parsed anew."""
    return parse_lock(data, algo, root)


def own_file_problem(rel: str) -> str | None:
    """Why the repo-relative path `rel` is a file of Git's or dvx's own, never data nor a
    stage's output: a pointer file, an ignore or attributes file in any folder, or the
    pipeline files at the root. A pointer or a dvx.lock entry naming it would have `pull`
    write over it, or write a file Git never showed: a dvx.yaml whose commands `repro` runs."""
    if rel.endswith(POINTER_SUFFIX):
        return f"ends in '{POINTER_SUFFIX}', as dvx's pointer files do"
    if rel.rpartition("/")[2] in OWN_NAMES:
        return "tells Git or dvx how to treat the files beside it"
    if rel in PIPELINE_FILES:
        return "is dvx's own pipeline file"
    return None


def _how_to_resolve(data: bytes, root: str | None) -> str:
    """The commands that resolve the conflicted dvx.lock `data`: Git's `checkout --theirs`
    while a merge of it is under way, else (committed so, by a `--no-verify` merge say) an
    edit and a later commit, as `checkout --theirs` fails outside a merge."""
    lock = literal_pathspec(from_here(root, LOCK_FILE))
    removed = going_on = ""
    if root is not None:
        entries = unmerged_entries(root)
        if entries is not None and not any(entry[0] == LOCK_FILE for entry in entries):
            commit = commit_holding(root, LOCK_FILE, data)
            if commit is not None:
                return committed_conflict_hint(commit, LOCK_FILE, root, "`dvx repro`")
        removed = _removed_on_one_side(root, entries or [])
        theirs = next((blob for path, stage, blob in entries or []
                       if path == LOCK_FILE and stage == 3), None)
        going_on = going_on_note(root, LOCK_FILE, theirs, entries) if entries else ""
    return (f"Keep one side: `git checkout --theirs {lock}` (or --ours), run `dvx repro` "
            f"to bring it up to date, then `{git_add_command(root, [LOCK_FILE])}`.{removed}"
            f"{rebase_sides_note(root)}{going_on}")


def _removed_on_one_side(root: str, entries: list[tuple[str, int, str]]) -> str:
    """A sentence (a space first) naming the stages of the conflicted dvx.lock that one side
    removed and the other changed, with the `git checkout` option that takes each side, as
    the versions Git's index holds (`entries`: merge base, ours, theirs) tell; "" where it
    does not hold all three, or no stage was so."""
    blobs = {stage: blob for path, stage, blob in entries if path == LOCK_FILE}
    if not {1, 2, 3} <= blobs.keys():
        return ""
    base, ours, theirs = (_stage_entries(blob_content(root, blobs[stage], MAX_LOCK_BYTES))
                          for stage in (1, 2, 3))
    said = ""
    for removing, changing, by, other in ((ours, theirs, "--ours", "--theirs"),
                                          (theirs, ours, "--theirs", "--ours")):
        gone = sorted(name for name in base.keys() - removing.keys()
                      if name in changing and changing[name] != base[name])
        if gone:
            named = ", ".join(f"'{name}'" for name in gone)
            said += (f" Stage {named} was" if len(gone) == 1 else f" Stages {named} were") + (
                f" removed on the side `{by}` takes and changed on the one `{other}` takes.")
    return said


def _stage_entries(data: bytes | None) -> dict[str, Any]:
    """The entries of the stages a version of dvx.lock records, as read; {} for one that
    cannot be read."""
    try:
        doc = parse_yaml(data or b"", LOCK_FILE, MAX_LOCK_BYTES, YAML_1_1, text_at=_OIDS)
    except DvxError:
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    return stages if isinstance(stages, dict) else {}


def recorded_algo(data: bytes) -> str | None:
    """The algorithm the dvx.lock `data` says its oids are of (None: it names no known one,
    or cannot be read), whatever algorithm the repository reading it hashes with."""
    try:
        doc = parse_yaml(data, LOCK_FILE, MAX_LOCK_BYTES, YAML_1_1, text_at=_OIDS)
    except DvxError:
        return None
    algo = doc.get("algo") if isinstance(doc, dict) else None
    return algo if algo in ALGORITHMS else None


def parse_lock_as_recorded(data: bytes, algo: str) -> dict[str, StageLock]:
    """parse_lock of the dvx.lock `data` with the algorithm it records (`recorded_algo`),
    else `algo`: for what asks which stages and paths it records, never its oids, which name
    no object of this repository's algorithm. A dvx.lock a commit recorded before the
    repository switched algorithm still names its outputs."""
    return parse_lock(data, recorded_algo(data) or algo)


def parse_lock(data: bytes, algo: str, root: str | None = None) -> dict[str, StageLock]:
    """The stages recorded in the dvx.lock `data`: with the `root` of the repository it is
    in (the workspace's dvx.lock), the commands the hint of a conflict or of another hash
    algorithm suggests name it from the current directory."""
    if has_conflict_markers(data):
        raise MergeConflictError(
            f"{LOCK_FILE} holds an unresolved Git merge conflict: both sides changed it.",
            _how_to_resolve(data, root), LOCK_FILE,
            "`dvx install` sets up a merge driver that merges the entries of different stages "
            "by itself.")
    # Read by the YAML 1.1 rules PyYAML wrote it by, so every value reads back as written.
    doc = parse_yaml(data, LOCK_FILE, MAX_LOCK_BYTES, YAML_1_1, text_at=_OIDS)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise _bad("it is not a YAML mapping")
    version = doc.get("dvx")
    if type(version) is int and version > FORMAT_VERSION:
        raise NewerFormatError.of(LOCK_FILE, version)
    if type(version) is not int or version != FORMAT_VERSION:  # not 1.0 nor true, "equal" to 1
        raise _bad(f"it has no valid 'dvx: {FORMAT_VERSION}' line")
    unknown = set(doc) - {"dvx", "algo", "stages"}
    if unknown:
        raise _unknown(unknown)
    if doc.get("algo") not in ALGORITHMS:
        raise _bad(f"unknown hash algorithm {doc.get('algo')!r}")
    if doc["algo"] != algo:  # Repo.read_lock names the fix, which the repository decides
        raise OtherAlgorithmError(
            f"{LOCK_FILE} uses {doc['algo']}, but dvx hashes with {algo} here (core.hash).",
            "If that is the repository's algorithm, record every stage again with it: `rm "
            f"{for_command(root, LOCK_FILE)}`, then `dvx repro`; else hash with "
            f"{doc['algo']} (`dvx config core.hash` says where the value in effect comes "
            "from).", recorded=doc["algo"], algo=algo)
    stages = doc.get("stages")
    if stages is None:
        stages = {}
    if not isinstance(stages, dict):  # `stages: []` or `false` too: no entries is `{}`
        raise _bad("'stages' is not a mapping")
    result: dict[str, StageLock] = {}
    for name, entry in stages.items():
        if not isinstance(name, str) or not name:
            raise _bad(f"the stage name {name!r} is not a string")
        result[name] = _parse_stage(name, entry, algo)
    return result


def _bad(why: str, stage: str | None = None) -> FormatError:
    where = f"{LOCK_FILE} (stage '{stage}')" if stage else LOCK_FILE
    return FormatError(f"{where} is invalid: {why}.",
                       "Restore it from Git, or delete it and run `dvx repro` to record every "
                       "stage again.")


def _unknown(keys: set[object], stage: str | None = None, of: str = "") -> UnknownKeysError:
    """Keys this dvx does not know (`of`: in what, within the stage): a newer dvx may have
    written them, so deleting dvx.lock, which would drop them, is not suggested."""
    where = f"{LOCK_FILE} (stage '{stage}')" if stage else LOCK_FILE
    return UnknownKeysError(f"{where} has {of}unknown keys: "
                            f"{', '.join(sorted(map(str, keys)))}.",
                            unknown_keys_hint("restore it from Git"))


def _parse_stage(name: str, entry: object, algo: str) -> StageLock:
    if not isinstance(entry, dict):
        raise _bad("the entry is not a mapping", name)
    unknown = set(entry) - _STAGE_KEYS
    if unknown:
        raise _unknown(unknown, name)
    cmd = entry.get("cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
        raise _bad("'cmd' is not a string or a list of strings", name)
    params = entry.get("params") or {}
    if not isinstance(params, dict) or not all(
            isinstance(f, str) and isinstance(v, dict) and all(isinstance(k, str) for k in v)
            for f, v in params.items()):
        raise _bad("'params' is not a mapping of files to mappings of keys to values", name)
    for f in params:
        _check_path(f, name)
    deps = _parse_paths(entry.get("deps"), "deps", name, algo)
    outs = _parse_paths(entry.get("outs"), "outs", name, algo)
    return StageLock(tuple(cmd), deps, params, outs)


def _check_path(path: object, stage: str) -> str:
    try:
        return check_relpath(path, "path")
    except FormatError as exc:
        raise _bad(exc.message.rstrip("."), stage) from None


def _parse_paths(items: object, key: str, stage: str, algo: str) -> tuple[LockedPath, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _bad(f"'{key}' is not a list", stage)
    is_out = key == "outs"
    parsed: list[LockedPath] = []
    for item in items:
        if not isinstance(item, dict):
            raise _bad(f"an entry of '{key}' is not a mapping", stage)
        unknown = set(item) - (_OUT_KEYS if is_out else _DEP_KEYS)
        if unknown:
            raise _unknown(unknown, stage, f"an entry of '{key}' with ")
        path = _check_path(item.get("path"), stage)
        problem = own_file_problem(path) if is_out else None
        if problem is not None:
            raise _bad(f"it records '{path}' as an output, but '{path}' {problem}", stage)
        try:
            oid = check_oid(item.get("oid"), algo)
        except FormatError as exc:
            raise _bad(f"'{path}': {exc.message.rstrip('.')}", stage) from None
        size, nfiles = item.get("size"), item.get("nfiles")
        if not _is_count(size) or (nfiles is not None and not _is_count(nfiles)):
            raise _bad(f"'{path}' has an invalid size or nfiles", stage)
        flags = {k: item.get(k, d) for k, d in (("exec", False), ("cache", True), ("push", True))}
        if not all(isinstance(v, bool) for v in flags.values()) or (
                nfiles is not None and "exec" in item):
            raise _bad(f"'{path}' has an invalid exec, cache or push value", stage)
        remote = item.get("remote")
        if remote is not None and not isinstance(remote, str):
            raise _bad(f"'{path}' has an invalid remote", stage)
        assert isinstance(size, int)
        parsed.append(LockedPath(path, oid, size, nfiles, flags["exec"], flags["cache"],
                                 flags["push"], remote))
    paths = [p.path for p in parsed]
    if len(set(paths)) != len(paths):
        raise _bad(f"a path appears twice in '{key}'", stage)
    return tuple(parsed)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SIZE
