"""The run-cache: past successful runs of stages, found by what went into them.

A *stage key* names a stage by what it is (command, dependency paths, output paths); a *run
key* names one run of it by what went in (the stage key, each dependency's oid, the params
values). After a successful run, dvx stores a run record, a small canonical JSON document
listing the outputs' oids, at

    <cache or remote root>/runs/<algo>/<stage key>/<run key>

Both keys are recomputed from the record whenever one is read, so a record can only be found
under the name its content gives it. When `repro` meets a stale stage whose run key has a
record, and every output object is in the cache, it checks the outputs out instead of running
the command. Records and their objects travel through the remote with `push/fetch/pull
--run-cache` (objects first, records last). See docs/formats.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvx import fsutil
from dvx.errors import FormatError, Interrupted
from dvx.hashing import check_oid, hash_bytes
from dvx.lockfile import LockedPath, StageLock
from dvx.logs import get_logger
from dvx.objects import layout
from dvx.outputs import Output, Target, load_tree
from dvx.paths import check_relpath
from dvx.pipeline.spec import Out, Pipeline, Stage
from dvx.pipeline.staleness import StageState
from dvx.pointer import Pointer
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import NOT_ON_REMOTE, TransferResult, lost_with_its_pack
from dvx.remote.workers import also_left
from dvx.repo import Repo

if TYPE_CHECKING:
    from dvx.ops.sync import SyncResult

log = get_logger(__name__)

RUNS_DIR = layout.RUNS_DIR
FORMAT = "dvx-run"
VERSION = 1
MAX_RECORD_BYTES = 1 << 20
_HEX = re.compile(r"[0-9a-f]+")


def _canonical(doc: Any) -> bytes:
    # A non-finite float param is written Infinity, -Infinity or NaN (as json reads them):
    # unlike any string, so the string 'inf' and the float .inf make two runs.
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True).encode("utf-8")


def stage_key(algo: str, cmd: Iterable[str], deps: Iterable[str], outs: Iterable[str]) -> str:
    return hash_bytes(_canonical({"cmd": list(cmd), "deps": sorted(deps),
                                  "outs": sorted(outs)}), algo)


def run_key(algo: str, skey: str, deps: Iterable[tuple[str, str]],
            params: Mapping[str, Mapping[str, Any]]) -> str:
    return hash_bytes(_canonical({"stage": skey, "deps": sorted([p, o] for p, o in deps),
                                  "params": params}), algo)


def keys_for(repo: Repo, stage: Stage, state: StageState) -> tuple[str, str]:
    skey = stage_key(repo.algo, stage.cmd, stage.deps, stage.out_paths)
    return skey, run_key(repo.algo, skey, [(d.path, d.oid) for d in state.deps], state.params)


def why_not_kept(stage: Stage) -> str | None:
    """Why runs of this stage cannot be recorded and restored (None: they can)."""
    if not stage.deps and not stage.params:
        return "it has no dependencies or params, so no run of it is told apart from another"
    if not stage.outs:
        return "it has no outputs to restore"
    if stage.always_changed:
        return "it is marked always_changed"
    persistent = [o.path for o in stage.outs if o.persist]
    if persistent:
        return f"its output {persistent[0]} persists from run to run"
    return None


def cacheable(stage: Stage) -> bool:
    """Runs of this stage may be recorded and restored: it has dependencies or params (as in
    DVC, params are inputs that tell runs apart) and outputs, no output persists from run to
    run, and it is not marked as depending on something outside the repository
    (always_changed). Outputs with `cache: false` must be files: the run-cache keeps a copy
    of them, so that a restored run is complete."""
    return bool((stage.deps or stage.params) and stage.outs) and not stage.always_changed \
        and all(not o.persist for o in stage.outs)


def fits(stage: Stage, record: RunRecord) -> bool:
    """Can the run be restored as the stage declares its outputs now? The stage key names
    output paths, not options, so a run made while an output was cached is found after it
    became one Git tracks (`cache: false`): restored as such, it is copied out of the cache,
    which a directory cannot be (only its files are objects there)."""
    uncached = {o.path for o in stage.outs if not o.cache}
    return not any(o.is_dir and o.path in uncached for o in record.outs)


@dataclass(frozen=True)
class RunRecord:
    algo: str
    cmd: tuple[str, ...]
    deps: tuple[tuple[str, str], ...]  # (path, oid), sorted
    params: Mapping[str, Mapping[str, Any]]
    outs: tuple[LockedPath, ...]  # sorted by path; data fields only

    @property
    def stage_key(self) -> str:
        return stage_key(self.algo, self.cmd, (p for p, _ in self.deps),
                         (o.path for o in self.outs))

    @property
    def run_key(self) -> str:
        return run_key(self.algo, self.stage_key, self.deps, self.params)

    def to_bytes(self) -> bytes:
        outs = []
        for o in self.outs:
            out: dict[str, Any] = {"path": o.path, "oid": o.oid, "size": o.size}
            if o.nfiles is not None:
                out["nfiles"] = o.nfiles
            elif o.executable:
                out["exec"] = True
            outs.append(out)
        return _canonical({"format": FORMAT, "version": VERSION, "algo": self.algo,
                           "cmd": list(self.cmd), "deps": [list(d) for d in self.deps],
                           "params": self.params, "outs": outs}) + b"\n"


def make_record(repo: Repo, stage: Stage, state: StageState, outs: Iterable[LockedPath]
                ) -> RunRecord:
    data = tuple(sorted((LockedPath(o.path, o.oid, o.size, o.nfiles, o.executable)
                         for o in outs), key=lambda o: o.path))
    return RunRecord(repo.algo, stage.cmd, tuple(sorted((d.path, d.oid) for d in state.deps)),
                     state.params, data)


def parse_record(data: bytes, algo: str, where: str) -> RunRecord:
    def bad(why: str) -> FormatError:
        return FormatError(f"The run record {where} is invalid: {why}.")

    if len(data) > MAX_RECORD_BYTES:
        raise bad("it is too large")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise bad("it is not UTF-8 JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"format", "version", "algo", "cmd", "deps",
                                                 "params", "outs"}:
        raise bad("it does not have exactly the expected keys")
    if (doc["format"], doc["version"], doc["algo"]) != (FORMAT, VERSION, algo) or type(
            doc["version"]) is not int:  # 1.0 and true are "equal" to 1
        raise bad("unknown format, version or algorithm")
    cmd, deps, params, outs = doc["cmd"], doc["deps"], doc["params"], doc["outs"]
    if not isinstance(cmd, list) or not cmd or not all(isinstance(c, str) for c in cmd):
        raise bad("'cmd' is not a list of strings")
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise bad("'params' is not a mapping of files to mappings")
    if not isinstance(deps, list) or not isinstance(outs, list):
        raise bad("'deps' or 'outs' is not a list")
    try:
        parsed_deps = []
        for dep in deps:
            if not isinstance(dep, list) or len(dep) != 2:
                raise bad("a dependency is not a [path, oid] pair")
            parsed_deps.append((check_relpath(dep[0]), check_oid(dep[1], algo)))
        parsed_outs = [_parse_out(o, algo, bad) for o in outs]
    except FormatError as exc:
        raise bad(exc.message.rstrip(".")) from None
    if not parsed_outs or len({o.path for o in parsed_outs}) != len(parsed_outs):
        raise bad("it lists no outputs, or one twice")
    return RunRecord(algo, tuple(cmd), tuple(sorted(parsed_deps)), params,
                     tuple(sorted(parsed_outs, key=lambda o: o.path)))


def _parse_out(out: object, algo: str, bad: Any) -> LockedPath:
    if not isinstance(out, dict) or not {"path", "oid", "size"} <= set(out) <= {
            "path", "oid", "size", "nfiles", "exec"}:
        raise bad("an output is not a mapping of path, oid, size (nfiles, exec)")
    size, nfiles, executable = out["size"], out.get("nfiles"), out.get("exec", False)
    for n in (size, nfiles):
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
            raise bad("an output has an invalid size or nfiles")
    if not isinstance(executable, bool):
        raise bad("an output has an invalid exec")
    return LockedPath(check_relpath(out["path"]), check_oid(out["oid"], algo), size, nfiles,
                      executable)


# -- the local index ------------------------------------------------------------------------

def runs_root(repo: Repo) -> str:
    return os.path.join(repo.cache.root, RUNS_DIR, repo.algo)


def _valid_key(name: str, algo: str) -> bool:
    try:
        check_oid(name, algo)
    except FormatError:
        return False
    return True


def lookup(repo: Repo, skey: str, rkey: str) -> RunRecord | None:
    record, unusable = _read_local(repo, skey, rkey)
    if unusable is not None:
        log.warning("%s", unusable)
    return record


def _read_local(repo: Repo, skey: str, rkey: str) -> tuple[RunRecord | None, str | None]:
    """The local cache's record of this run, or None and why it cannot be used (None too
    when there is none)."""
    path = os.path.join(runs_root(repo), skey, rkey)
    try:
        fd, _ = fsutil.open_regular(path)
    except FileNotFoundError:
        return None, None
    except fsutil.NotRegularFileError:  # a directory made there, say: damaged as any other
        return None, f"Ignoring a damaged run record: '{path}' is not a file."
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_RECORD_BYTES + 1)
    try:
        record = parse_record(data, repo.algo, f"'{path}'")
    except FormatError as exc:
        return None, f"Ignoring a damaged run record: {exc.message}"
    if (record.stage_key, record.run_key) != (skey, rkey):
        return None, f"Ignoring the run record '{path}': its content does not match its name."
    wrong = wrong_size(repo, record)
    if wrong is not None:
        return None, f"Ignoring the run record '{path}': {wrong}."
    return record, None


def save(repo: Repo, record: RunRecord, replace: bool = False) -> bool:
    """Store `record` unless a usable record of the same run is already there (both are
    valid), or in its place with `replace`. One a reader rejects is replaced, so that it is
    not rejected again at every run."""
    directory = os.path.join(runs_root(repo), record.stage_key)
    path = os.path.join(directory, record.run_key)
    if not replace and _read_local(repo, record.stage_key, record.run_key)[0] is not None:
        return False
    if os.path.isdir(path) and not os.path.islink(path):  # no rename replaces it
        log.warning("Not recording the run in the run-cache: '%s' is a directory, where its "
                    "record goes (a damaged record). Delete it, and the next run is recorded.",
                    path)
        return False
    repo.cache.make_folder(directory)
    fsutil.atomic_write(path, record.to_bytes(), fsync=repo.fsync, mode=repo.cache.record_mode)
    return True


def local_entries(repo: Repo) -> list[tuple[str, str]]:
    root = runs_root(repo)
    found = []
    try:
        stage_dirs = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    for skey in stage_dirs:
        if not _valid_key(skey, repo.algo):
            continue
        try:
            names = sorted(os.listdir(os.path.join(root, skey)))
        except NotADirectoryError:
            continue
        found += [(skey, name) for name in names if _valid_key(name, repo.algo)]
    return found


def targets_for(record: RunRecord) -> list[Target]:
    """The outputs of a run, as targets that checkout and the transfer engine understand."""
    return [Target(Output(o.path, Pointer("dir" if o.is_dir else "file", record.algo, o.oid,
                                          o.size, o.nfiles, o.executable)))
            for o in record.outs]


def wrong_size(repo: Repo, record: RunRecord) -> str | None:
    """How an output of the run gives a size (or a number of files) its object in the cache
    denies, or None. A record comes from anyone who can push to a remote: restoring from one
    with a wrong size would record that size in dvx.lock. An object the cache lacks, an
    invalid manifest or an object changed in the cache (its bytes no longer hash to its oid)
    is not the record's fault: checkout and `objects_of` deal with those."""
    for out in record.outs:
        if out.is_dir:
            try:
                tree = load_tree(repo, Pointer("dir", record.algo, out.oid, out.size, out.nfiles))
            except FormatError:
                continue
            if tree is not None and (tree.size, tree.nfiles) != (out.size, out.nfiles):
                return (f"it gives {out.size} bytes in {out.nfiles} files for the output "
                        f"'{out.path}', but its manifest {out.oid} lists {tree.size} bytes in "
                        f"{tree.nfiles} files")
        elif repo.cache.exists(out.oid):
            size = repo.cache.size(out.oid)
            if size != out.size and repo.cache.verify(out.oid):  # else the object changed
                return (f"it gives {out.size} bytes as the size of the output '{out.path}', "
                        f"but its object {out.oid} is {size} bytes")
    return None


def objects_of(repo: Repo, record: RunRecord) -> set[str] | None:
    """Every object the outputs of a run need, or None if any of them is not in the cache."""
    needed: set[str] = set()
    for target in targets_for(record):
        pointer = target.output.pointer
        needed.add(pointer.oid)
        if pointer.is_dir:
            try:
                tree = load_tree(repo, pointer)
            except FormatError:
                return None
            if tree is None:
                return None
            needed.update(e.oid for e in tree.entries)
    if repo.cache.existing(needed) != needed:
        return None
    return needed


# -- sharing through a remote ---------------------------------------------------------------

@dataclass
class RunsTransfer:
    """What `--run-cache` moved: records (and their objects, through `sync`)."""
    records: int = 0
    sync: Any = None  # the SyncResult of the objects
    problems: list[str] = field(default_factory=list)
    quoting: list[BaseException] = field(default_factory=list)  # the errors problems quote
    held_back: int = 0  # records not pushed: an output of theirs may not go to that remote


def _remote_runs_dir(algo: str) -> str:
    """Where a remote keeps run records (relative to its root)."""
    return f"{RUNS_DIR}/{algo}"


def _remote_entries(remote: RemoteStore, algo: str) -> set[tuple[str, str]]:
    runs_dir = _remote_runs_dir(algo)
    found = set()
    for name in remote.retried.walk(runs_dir):
        skey, _, rkey = name[len(runs_dir) + 1:].partition("/")
        if _valid_key(skey, algo) and _valid_key(rkey, algo):
            found.add((skey, rkey))
    return found


def push_runs(repo: Repo, remote_name: str | None, jobs: int | None,
              data: SyncResult | None = None) -> RunsTransfer:
    """Upload the records the remote lacks, with their outputs. `data`: the push of data
    this command made before, whose objects are not pushed or counted again."""
    from dvx.ops.remote import open_remote
    from dvx.ops.sync import push
    from dvx.remote.retry import describe

    name, remote = open_remote(repo, remote_name)
    result = RunsTransfer()
    records = []
    rules = _output_rules(repo)
    for skey, rkey in local_entries(repo):
        record = lookup(repo, skey, rkey)
        needed = objects_of(repo, record) if record is not None else None
        if record is None or needed is None:  # its outputs left the cache
            continue
        if _may_go_to(record, rules, name, explicit=remote_name is not None):
            records.append((record, needed))
        else:
            result.held_back += 1
    targets = [t for record, _ in records for t in targets_for(record)]
    try:
        result.sync = push(repo, targets, name, jobs, earlier=data)
    except Interrupted as exc:
        raise also_left(exc, "upload the run records") from None
    # A record goes only with every object it needs on the remote: none failed, and no
    # manifest held back (its files failed, or it is nowhere to be had).
    failed = set(result.sync.transfer.failed) | result.sync.manifests_held_back
    on_remote = _remote_entries(remote, repo.algo) if records else set()
    runs_dir = _remote_runs_dir(repo.algo)
    todo = [r for r, needed in records
            if (r.stage_key, r.run_key) not in on_remote and not needed & failed]

    def upload(record: RunRecord) -> None:
        # Published whole (blobs.py): no reader ever sees a record half-written.
        name = f"{runs_dir}/{record.stage_key}/{record.run_key}"
        remote.retried.put(name, record.to_bytes())

    for record, error in _each(upload, todo, jobs):
        if error is None:
            result.records += 1
        else:
            result.problems.append(f"run record {record.run_key}: {describe(error)}")
    return result


def _output_rules(repo: Repo) -> dict[str, Out]:
    """Each output path of dvx.yaml with its options (`push`, `remote`), which hold for
    every run of an output of that path."""
    from dvx.pipeline.spec import load_pipeline

    pipeline = load_pipeline(repo)
    if pipeline is None:
        return {}
    return {out.path: out for stage in pipeline.stages for out in stage.outs}


def _may_go_to(record: RunRecord, rules: Mapping[str, Out], name: str, explicit: bool
               ) -> bool:
    """May the record, and so every output of it, go to the remote `name`? Not when an output
    is `push: false`, nor (unless `-r` named the remote, as a plain push -r) when an output
    belongs on another remote: a remote holds a record only with all of its objects."""
    for out in record.outs:
        rule = rules.get(out.path)
        if rule is None:
            continue
        if not rule.push or (not explicit and rule.remote not in (None, name)):
            return False
    return True


def fetch_runs(repo: Repo, remote_name: str | None, jobs: int | None,
               stage_keys: set[str], data: SyncResult | None = None) -> RunsTransfer:
    """Download the records of these stages that the cache lacks, with their outputs.
    `data`: the fetch of data this command made before, whose objects are not fetched or
    counted again."""
    from dvx.ops.remote import open_remote
    from dvx.ops.sync import fetch
    from dvx.remote.retry import describe

    name, remote = open_remote(repo, remote_name)
    result = RunsTransfer()
    if not remote.can_list:
        result.problems.append(f"remote '{name}' cannot list its files, so its run records "
                               "cannot be found")
        return result
    remote.blobs.prepare(create=False)  # a folder not there is an error, not no records
    local = set(local_entries(repo))
    wanted = sorted(e for e in _remote_entries(remote, repo.algo)
                    if e[0] in stage_keys and e not in local)
    runs_dir = _remote_runs_dir(repo.algo)

    def download(entry: tuple[str, str]) -> RunRecord:
        record_name = f"{runs_dir}/{entry[0]}/{entry[1]}"
        data = remote.retried.get(record_name)
        record = parse_record(data, repo.algo, f"'{entry[1]}' on remote '{name}'")
        if (record.stage_key, record.run_key) != entry:
            raise FormatError(f"The run record '{entry[1]}' on remote '{name}' does not match "
                              "its name.")
        return record

    records = []
    for entry, outcome in _each(download, wanted, jobs, keep_result=True):
        if isinstance(outcome, RunRecord):
            records.append(outcome)
        else:
            result.problems.append(f"run record {entry[1]}: {describe(outcome)}")
    try:
        result.sync = fetch(repo, [t for r in records for t in targets_for(r)], name, jobs,
                            earlier=data)
    except Interrupted as exc:
        raise also_left(exc, "keep the run records fetched") from None
    _forget_absent(result.sync.transfer)
    for record in records:
        wrong = wrong_size(repo, record)
        if wrong is not None:
            result.problems.append(f"run record {record.run_key} on remote '{name}' refused: "
                                   f"{wrong}")
        elif objects_of(repo, record) is not None and save(repo, record):
            result.records += 1
    return result


def _forget_absent(transfer: TransferResult) -> None:
    """An object the remote lacks (a `gc --remote` took it) makes its record no record, not a
    failure: the record is not kept, and its stage runs as if nobody had run it."""
    for oid, why in list(transfer.failed.items()):
        if why == NOT_ON_REMOTE or lost_with_its_pack(why):
            del transfer.failed[oid]


def _each(work: Any, items: list[Any], jobs: int | None, keep_result: bool = False
          ) -> list[tuple[Any, Any]]:
    """Run `work` on every item concurrently; (item, error or None / result) for each."""
    def attempt(item: Any) -> Any:
        try:
            value = work(item)
            return value if keep_result else None
        except Exception as exc:  # every failure is reported, none stops the others
            return exc

    if not items:
        return []
    with ThreadPoolExecutor(max(1, min(jobs or 8, len(items)))) as pool:
        return list(zip(items, pool.map(attempt, items), strict=True))


def cached_records_needing(repo: Repo, gone: set[str]) -> list[str]:
    """The paths of the local cache's run records whose outputs need an object of `gone`
    (which gc deletes from the cache) or one the cache lacks already (taken by an older dvx's
    gc, or by that of a repository sharing the cache), to delete first: as on a remote, a
    store holds a record only with all its objects, and one that lost them is no record to
    any reader. A record that cannot be used otherwise stays: every reader rejects it."""
    found = []
    for skey, rkey in local_entries(repo):
        record, _ = _read_local(repo, skey, rkey)
        if record is None:
            continue
        needed = objects_of(repo, record)
        if needed is None or not needed.isdisjoint(gone):
            found.append(os.path.join(runs_root(repo), skey, rkey))
    return found


def records_needing(repo: Repo, remote: RemoteStore, gone: set[str]) -> list[str]:
    """The names of the remote's run records whose outputs need an object of `gone` (which
    `gc --remote` deletes from it), to delete first: a store holds a record only with all its
    objects. A record that cannot be read stays: every reader rejects it anyway."""
    from dvx.ops.gc_scope import manifest

    runs_dir = _remote_runs_dir(repo.algo)
    names = [f"{runs_dir}/{skey}/{rkey}" for skey, rkey in _remote_entries(remote, repo.algo)]

    def needs_gone(name: str) -> bool:
        record = parse_record(remote.retried.get(name), repo.algo, f"'{name}'")
        for target in targets_for(record):
            pointer = target.output.pointer
            if pointer.oid in gone:
                return True
            tree = manifest(repo, pointer, remote, name, []) if pointer.is_dir else None
            if tree is not None and any(e.oid in gone for e in tree.entries):
                return True
        return False

    return sorted(name for name, needs in _each(needs_gone, names, None, keep_result=True)
                  if needs is True)


def pipeline_stage_keys(repo: Repo) -> set[str]:
    """The stage keys of every stage of dvx.yaml (none without a dvx.yaml)."""
    from dvx.pipeline.spec import load_pipeline

    pipeline = load_pipeline(repo)
    if pipeline is None:
        return set()
    return {stage_key(repo.algo, s.cmd, s.deps, s.out_paths) for s in pipeline.stages}


def record_committed(repo: Repo, pipeline: Pipeline | None, stages: Iterable[str]) -> None:
    """`dvx commit` recorded outputs of these stages in dvx.lock (a model fixed by hand): make
    each stage's dvx.lock entry the run-cache's run for its inputs, in place of the run
    recorded there, so that a later `repro` with those inputs restores what was committed, as
    in DVC. A run whose outputs the cache does not all hold is forgotten instead. `pipeline`:
    dvx.yaml as the commit read it before it wrote anything, so that one it cannot read
    stops it with nothing written."""
    if pipeline is None:
        return
    by_name = {s.name: s for s in pipeline.stages}
    locks = repo.read_lock()
    for name in sorted(set(stages)):
        stage, locked = by_name.get(name), locks.get(name)
        if stage is None or locked is None or not cacheable(stage) or not _of_stage(stage,
                                                                                   locked):
            continue
        params = {file: dict(values) for file, values in locked.params.items()}
        record = make_record(repo, stage, StageState(locked.deps, params), locked.outs)
        if objects_of(repo, record) is not None:
            save(repo, record, replace=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(runs_root(repo), record.stage_key, record.run_key))


def _of_stage(stage: Stage, locked: StageLock) -> bool:
    """Was this dvx.lock entry written for the stage as dvx.yaml defines it now?"""
    return (tuple(locked.cmd) == stage.cmd
            and sorted(d.path for d in locked.deps) == sorted(stage.deps)
            and sorted(o.path for o in locked.outs) == sorted(stage.out_paths))
