"""dvx status: how the workspace and the cache differ from what the pointers record."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dvx.errors import FormatError
from dvx.objects.tree import Tree, TreeEntry
from dvx.outputs import Output, Target, load_tree
from dvx.paths import fingerprint_directory
from dvx.pointer import Pointer
from dvx.repo import Repo
from dvx.workspace import file_state, scan_directory


@dataclass
class OutputStatus:
    path: str
    kind: str
    workspace: str  # "unchanged", "modified" or "deleted"
    in_cache: bool  # the recorded data (and, for a directory, all of its files) is cached
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.workspace != "unchanged" or not self.in_cache

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"path": self.path, "type": self.kind,
                                  "workspace": self.workspace, "in_cache": self.in_cache}
        if self.kind == "dir":
            doc.update(added=self.added, modified=self.modified, deleted=self.deleted)
        return doc


@dataclass
class StatusResult:
    outputs: list[OutputStatus]

    @property
    def changed(self) -> bool:
        return any(o.changed for o in self.outputs)

    def to_json(self) -> dict[str, object]:
        return {"changed": self.changed, "outputs": [o.to_json() for o in self.outputs]}


def status(repo: Repo, targets: list[Target]) -> StatusResult:
    results = [output_status(repo, t.output) for t in targets]
    repo.statcache.flush()
    return StatusResult(results)


def output_status(repo: Repo, output: Output) -> OutputStatus:
    pointer = output.pointer
    full = repo.abspath(output.path)
    if not pointer.is_dir:
        in_cache = repo.cache.exists(pointer.oid)
        state = file_state(repo, full, output.path) if not os.path.isdir(full) else None
        if state is None and not os.path.lexists(full):
            workspace = "deleted"
        elif state is None or state.oid != pointer.oid or (
                state.executable != pointer.executable and not state.is_cache_link):
            workspace = "modified"
        else:
            workspace = "unchanged"
        return OutputStatus(output.path, "file", workspace, in_cache)

    if os.path.isdir(full) and not os.path.islink(full):
        fingerprint = fingerprint_directory(full)
        if repo.statcache.get_dir(full, fingerprint.digest) == pointer.oid:
            # Not a single stat has changed since this directory last matched the pointer.
            return OutputStatus(output.path, "dir", "unchanged", _dir_in_cache(repo, pointer))
    tree = load_tree(repo, pointer)
    in_cache = tree is not None and _all_files_cached(repo, pointer.oid, tree)
    if not os.path.lexists(full):
        return OutputStatus(output.path, "dir", "deleted", in_cache)
    if not os.path.isdir(full) or os.path.islink(full):
        return OutputStatus(output.path, "dir", "modified", in_cache)
    current = scan_directory(repo, full, output.path)
    if tree is None:  # without the recorded manifest, compare manifest oids
        same = _manifest_oid(repo, current) == pointer.oid
        return OutputStatus(output.path, "dir", "unchanged" if same else "modified", in_cache)
    result = OutputStatus(output.path, "dir", "unchanged", in_cache)
    recorded = tree.by_path()
    for path, entry in current.items():
        old = recorded.get(path)
        if old is None:
            result.added.append(path)
        elif (old.oid, old.executable) != (entry.oid, entry.executable):
            result.modified.append(path)
    result.deleted = [p for p in recorded if p not in current]
    result.added.sort()
    result.modified.sort()
    if result.added or result.modified or result.deleted:
        result.workspace = "modified"
    else:
        repo.statcache.put_dir(full, fingerprint.digest, fingerprint.newest, pointer.oid)
    return result


def _dir_in_cache(repo: Repo, pointer: Pointer) -> bool:
    if repo.statcache.is_complete_tree(pointer.oid, repo.cache.generation()):
        return True
    tree = load_tree(repo, pointer)
    return tree is not None and _all_files_cached(repo, pointer.oid, tree)


def _manifest_oid(repo: Repo, entries: dict[str, TreeEntry]) -> str | None:
    try:
        return Tree.build(repo.algo, entries.values()).oid()
    except FormatError:
        return None  # names no manifest can hold: certainly not the recorded data


def _all_files_cached(repo: Repo, tree_oid: str, tree: Tree) -> bool:
    """Checked once per cache generation: objects only leave the cache through gc or fsck,
    which start a new generation."""
    generation = repo.cache.generation()
    if repo.statcache.is_complete_tree(tree_oid, generation):
        return True
    # The oids come from a validated manifest, so the path is built without re-checking them.
    exists = os.path.exists
    root = repo.cache.files_root + "/"
    if any(not exists(root + e.oid[:2] + "/" + e.oid[2:]) for e in tree.entries):
        return False
    repo.statcache.mark_complete_tree(tree_oid, generation)
    return True
