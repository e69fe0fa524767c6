"""Pointer files: the small `<name>.dvx` file Git tracks in place of the data `<name>`.

One canonical encoding (docs/formats.md): fixed key order, no optional whitespace, so
re-adding unchanged data gives byte-identical pointers. Unknown keys are rejected with a
message (a newer dvx may have written them); `desc` and `meta` belong to the user and are
preserved as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dvx.errors import (
    DvxError,
    FormatError,
    MergeConflictError,
    NewerFormatError,
    PathError,
    UnknownKeysError,
    unknown_keys_hint,
)
from dvx.fsutil import PATH_MAX, path_too_long, read_regular
from dvx.hashing import ALGORITHMS, MAX_SIZE, check_oid
from dvx.paths import POINTER_SUFFIX, for_command, from_here
from dvx.scm import (
    abort_and_again,
    blob_content,
    commit_holding,
    git_add_command,
    going_on_note,
    literal_pathspec,
    merged_by_dvx_driver,
    rebase_sides_note,
    unmerged_entries,
)
from dvx.wording import counted, human_size
from dvx.yamlio import YAML_1_1, has_conflict_markers, json_scalar, parse_yaml, safe_dumper

FORMAT_VERSION = 1
MAX_POINTER_BYTES = 64 * 1024
HEADER = "# dvx pointer: the data it names lives in the dvx cache and remotes, not in Git.\n"
KNOWN_KEYS = frozenset({"dvx", "type", "algo", "oid", "size", "nfiles", "exec", "desc", "meta",
                        "source"})
# Where imported data came from (dvx import / import-url): another repository's path at a
# resolved commit, or a URL with the version its server reported.
REPO_SOURCE_KEYS = frozenset({"repo", "path", "rev", "rev_lock"})
URL_SOURCE_KEYS = frozenset({"url", "etag"})


@dataclass(frozen=True)
class WrongCounts:
    """The size (and number of files) a pointer records beside those of the data its oid
    names, when they differ (edited by hand, a bad merge): its oid still names the data, and
    `dvx commit PATH` writes them again."""
    recorded_size: int
    size: int
    recorded_nfiles: int | None
    nfiles: int | None

    @property
    def size_wrong(self) -> bool:
        return self.recorded_size != self.size

    @property
    def nfiles_wrong(self) -> bool:
        return self.nfiles is not None and self.recorded_nfiles != self.nfiles

    def to_json(self) -> dict[str, int | None]:
        return {"recorded_size": self.recorded_size, "size": self.size,
                "recorded_nfiles": self.recorded_nfiles, "nfiles": self.nfiles}


def recorded_wrongly(wrong: WrongCounts) -> str:
    """What a pointer records wrongly of the data it names, as every command says it:
    "records a size of 999 B, where the data it names is 6 B"."""
    recorded, real = human_size(wrong.recorded_size), human_size(wrong.size)
    if recorded == real:  # rounded alike: the bytes tell them apart
        recorded, real = f"{wrong.recorded_size} B", f"{wrong.size} B"
    if not wrong.nfiles_wrong:
        return f"records a size of {recorded}, where the data it names is {real}"
    if not wrong.size_wrong:
        return (f"records {counted(wrong.recorded_nfiles or 0, 'file')}, where the data it "
                f"names has {wrong.nfiles}")
    return (f"records a size of {recorded} in {counted(wrong.recorded_nfiles or 0, 'file')}, "
            f"where the data it names is {real} in {counted(wrong.nfiles or 0, 'file')}")


@dataclass(frozen=True)
class Pointer:
    kind: str  # "file" or "dir"
    algo: str
    oid: str  # for "dir": the oid of the directory manifest
    size: int  # total bytes of the data
    nfiles: int | None = None  # "dir" only
    executable: bool = False  # "file" only
    desc: str | None = None
    meta: Any = field(default=None, compare=False)
    source: tuple[tuple[str, str], ...] | None = None  # sorted (key, value) pairs

    @property
    def source_info(self) -> dict[str, str] | None:
        return None if self.source is None else dict(self.source)

    @property
    def is_dir(self) -> bool:
        return self.kind == "dir"

    def same_data(self, other: Pointer | None) -> bool:
        """Does `other` name the same data (the user's fields and the import source aside)?"""
        return other is not None and self._data() == other._data()

    def _data(self) -> tuple[object, ...]:
        return self.kind, self.algo, self.oid, self.size, self.nfiles, self.executable

    def wrong_counts(self, size: int, nfiles: int | None) -> WrongCounts | None:
        """What this pointer records wrongly of the data its oid names, which holds `size`
        bytes in `nfiles` files (None for a file): None when both are right."""
        wrong = WrongCounts(self.size, size, self.nfiles, nfiles)
        return wrong if wrong.size_wrong or wrong.nfiles_wrong else None

    def with_data(self, kind: str, oid: str, size: int, nfiles: int | None,
                  executable: bool) -> Pointer:
        """A pointer to new data that keeps this pointer's user fields (and its import source
        only while the data is still what was imported)."""
        return replace(self, kind=kind, oid=oid, size=size, nfiles=nfiles, executable=executable,
                       source=self.source if oid == self.oid else None)

    def with_user_fields_of(self, replaced: Pointer | None) -> Pointer:
        """This pointer with the user's own fields (`desc`, `meta`) of the pointer it replaces,
        which dvx never drops when it rewrites a pointer (an import updated, say)."""
        if replaced is None:
            return self
        return replace(self, desc=replaced.desc, meta=replaced.meta)

    def to_bytes(self) -> bytes:
        lines = [HEADER, f"dvx: {FORMAT_VERSION}\n", f"type: {self.kind}\n",
                 f"algo: {self.algo}\n", f"oid: {_yaml_str(self.oid)}\n", f"size: {self.size}\n"]
        if self.kind == "dir":
            lines.append(f"nfiles: {self.nfiles}\n")
        elif self.executable:
            lines.append("exec: true\n")
        if self.source is not None:
            lines.append("source:\n")
            lines += [f"  {key}: {json_scalar(value)}\n"
                      for key, value in self.source]
        if self.desc is not None:
            lines.append(f"desc: {json_scalar(self.desc)}\n")
        if self.meta is not None:
            import yaml

            lines.append(yaml.dump({"meta": self.meta}, Dumper=safe_dumper(), sort_keys=True,
                                   allow_unicode=True, default_flow_style=False))
        return "".join(lines).encode("utf-8")


def _yaml_str(hex_digits: str) -> str:
    # Quoted only where YAML 1.1 would read something else than a string: decimal digits
    # (an integer) and 0b followed by binary digits (an integer in base 2).
    binary = hex_digits[:2] == "0b" and hex_digits[2:] != "" and set(hex_digits[2:]) <= {"0", "1"}
    return f'"{hex_digits}"' if hex_digits.isdigit() or binary else hex_digits


def _is_hex(text: str) -> bool:
    return text != "" and text.isascii() and all(c in "0123456789abcdef" for c in text)


def data_path_of(pointer_path: str) -> str:
    return pointer_path[: -len(POINTER_SUFFIX)]


def pointer_path_of(data_path: str) -> str:
    return data_path + POINTER_SUFFIX


_HEADER_BYTES = HEADER.encode("ascii")
_NAMES = {"type": ("file", "dir"), "algo": tuple(ALGORITHMS)}
_REQUIRED = frozenset({"dvx", "type", "algo", "oid", "size"})


def _parse_canonical(data: bytes) -> dict[str, Any] | None:
    """The keys of a pointer written exactly as dvx writes it without `desc` or `meta`, or
    None: anything else (comments, quoting, other spellings of a value) goes to the YAML
    parser. Only values that YAML reads the same way are accepted here, so both readings
    agree; it spares most commands the import of PyYAML."""
    if len(data) > MAX_POINTER_BYTES or not data.startswith(_HEADER_BYTES) or not data.isascii():
        return None
    lines = data[len(_HEADER_BYTES):].decode("ascii").split("\n")
    if lines.pop() != "":
        return None
    doc: dict[str, Any] = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep or key in doc:
            return None
        if key in ("dvx", "size", "nfiles"):
            if not value.isdigit() or (value[0] == "0" and value != "0"):  # 010 is octal in YAML
                return None
            doc[key] = int(value)
        elif key in ("type", "algo"):
            if value not in _NAMES[key]:
                return None
            doc[key] = value
        elif key == "oid":
            oid = value.strip('"')
            if not _is_hex(oid) or value != _yaml_str(oid):
                return None
            doc[key] = oid
        elif key == "exec" and value == "true":
            doc[key] = True
        else:
            return None
    return doc if doc.keys() >= _REQUIRED else None


# The labels of a conflict the merge driver leaves as one side's pointer against the other's.
SIDE_LABELS = ("ours", "theirs")
# The labels of a conflict the merge driver leaves as two merged versions: each is the pointer
# merged with one side's version of what both sides changed (MergedVersions). A rebase replays
# one's own commit onto the upstream, so there Git's ours is the upstream: it names the sides so.
MERGED_VERSION_LABELS = ("ours, with their other changes", "theirs, with our other changes")
REBASE_MERGED_VERSION_LABELS = ("the upstream's, with your commit's other changes",
                                "your commit's, with the upstream's other changes")
REBASE_SIDE_LABELS = ("the upstream's", "your commit's")  # one side's pointer against the other's


def holds_merged_versions(data: bytes) -> bool:
    """Is the conflicted pointer `data` the merge driver's two merged versions (rather than
    one side's pointer against the other's)?"""
    return any(data.startswith(f"<<<<<<< {labels[0]}\n".encode())
               for labels in (MERGED_VERSION_LABELS, REBASE_MERGED_VERSION_LABELS))


def left_by_the_driver(data: bytes) -> bool:
    """Do the conflict markers of the pointer `data` carry the labels dvx's merge driver
    writes (around the whole file)? Others are Git's own line-by-line merge, which ran
    without the driver: an octopus merge (`git merge A B`) never runs one (its labels are
    `.merge_file_XXXXXX`), nor a merge begun before `dvx install`."""
    return any(data.startswith(f"<<<<<<< {labels[0]}\n".encode())
               for labels in (SIDE_LABELS, REBASE_SIDE_LABELS, MERGED_VERSION_LABELS,
                              REBASE_MERGED_VERSION_LABELS))


def committed_conflict_hint(commit: str, path: str, root: str | None, then: str) -> str:
    """How the pointer file or dvx.lock `path` that `commit` holds with a merge's conflict
    markers is fixed: by a later commit, as that one cannot change (`then`: the command that
    brings the data in line with the version kept). Paths are named as `from_here` names
    them."""
    return (f"Commit {commit[:10]} holds it so, and a commit cannot change: a later commit "
            f"must fix it. Where the current commit holds the markers too, keep one version "
            f"in {for_command(root, path)} (delete the other and the marker lines), run "
            f"{then}, then `{git_add_command(root, [path])}` and commit.")


def _how_to_resolve(data: bytes, path: str, root: str | None,
                    in_cache: Callable[[str], bool] | None = None) -> str:
    """The commands that resolve a conflicted pointer. The data of the side kept is placed
    with `dvx pull`, not `dvx checkout`: the other side is most often a teammate's, whose
    data this cache never fetched, and pull fetches only what the cache lacks. `in_cache`
    (an oid: does the cache hold it?), when known, tells whether a manifest the merge
    driver lacked can be why it left the conflict."""
    entries = unmerged_entries(root) if root is not None else None
    merging = entries is None or any(entry[0] == path for entry in entries)
    if root is not None and not merging:
        commit = commit_holding(root, path, data)  # no merge: it was committed so, maybe
        if commit is not None:
            return committed_conflict_hint(commit, path, root,
                                           f"`dvx pull {for_command(root, data_path_of(path))}`")
    theirs = next((blob for other, stage, blob in entries or [] if other == path and stage == 3),
                  None)
    going_on = going_on_note(root, path, theirs, entries) if entries else ""
    return _ways_out(data, path, root, in_cache, entries, merging) + going_on


def _ways_out(data: bytes, path: str, root: str | None, in_cache: Callable[[str], bool] | None,
              entries: list[tuple[str, int, str]] | None, merging: bool) -> str:
    """The commands that resolve the conflicted pointer `path`, as `_how_to_resolve` gives
    them, but for what goes on with the Git operation once it is resolved. `entries`: Git's
    `unmerged_entries`; `merging`: whether they list `path` (or Git cannot say)."""
    data_path = for_command(root, data_path_of(path))
    pointer = literal_pathspec(from_here(root, path))
    others = _resolved_with(entries, path)
    add = git_add_command(root, [path])
    staged = add + (" && git rm " + " ".join(
        literal_pathspec(from_here(root, other)) for other in others) if others else "")
    keep = (f"Keep one side: `git checkout --theirs {pointer} && dvx pull {data_path}` "
            f"(or --ours), then `{add}`.")
    # First: whoever made the markers (the driver, Git line by line) and whatever the index
    # holds, no merge joins a folder and a file, so only keeping one side resolves it.
    sides = _kind_of_each_side(data, _kinds_in_index(root, entries, path))
    if sides is not None and sides[0][1] != sides[1][1]:
        edit = (f"Edit it to keep one side (delete the other side and the marker lines), "
                f"then `{staged}` and `dvx pull {data_path}`.")
        return _kinds_differ(sides, keep if others is None else edit, data_path, root)
    if holds_merged_versions(data):
        return (f"Both versions in the file keep every change that did not conflict; they "
                f"differ only in what both sides changed. Keep one version (delete the "
                f"other and the marker lines), then `dvx pull {data_path}` and "
                f"`{staged}`. (`git checkout --theirs`/`--ours` would instead take "
                f"that side's whole pointer, without the other side's other changes.)"
                f"{rebase_sides_note(root)}")
    if others is not None:
        renamed = " (both sides renamed it, each to a name of its own)" if others else ""
        index = ("Git's index holds no side of it to check out" if merging else
                 "No merge of it is under way, so Git's index holds no side of it to check out")
        return (f"{index}{renamed}. Edit it to keep one "
                f"side's oid and size (the markers show both; delete the other side and the "
                f"marker lines), then `{staged}` and `dvx pull {data_path}`.")
    if root is not None and merging and not left_by_the_driver(data) \
            and merged_by_dvx_driver(root, path):
        return (f"Git merged it line by line, without dvx's merge driver (an octopus merge, "
                f"`git merge A B`, never runs one): `git checkout -m {pointer}` merges it "
                f"again with the driver, keeping both sides' changes, then `dvx pull "
                f"{data_path}` and `{add}`. {keep}{rebase_sides_note(root)}")
    if not _names_a_directory(data):
        return keep + rebase_sides_note(root)
    dropped = (f"{keep[:-1]}; that drops the other side's changes to the folder {data_path}."
               f"{rebase_sides_note(root)}")
    if in_cache is not None and all(in_cache(oid) for oid in
                                    _oids_named(data, _base_version(root, entries, path))):
        return dropped  # the driver had every manifest: merging again leaves the same conflict
    return (f"{dropped} "
            f"Where dvx's merge driver left it so because a side's manifest is in neither "
            f"the cache nor the remote (not pushed yet), keep both sides' changes instead: "
            f"once that side's author has run `dvx push`, merge it again with "
            f"`git checkout -m {pointer}` (the driver fetches the manifest), then `dvx pull "
            f"{data_path}` and `{add}`{_or_again(root, data_path)}.")


def _or_again(root: str | None, data_path: str) -> str:
    """The other way to merge a conflicted pointer again, to end a hint with: abandon the
    Git operation under way and run it again (`scm.abort_and_again`), then pull the data;
    "" where none is under way that an abort undoes (a `git stash pop`)."""
    again = abort_and_again(root) if root is not None else None
    return f"; or {again}, then `dvx pull {data_path}`" if again else ""


def _base_version(root: str | None, entries: list[tuple[str, int, str]] | None,
                  path: str) -> bytes:
    """The merge base's version of the conflicted pointer `path` as Git's index holds it
    (`entries`: `unmerged_entries`); empty when it holds none."""
    blob = next((blob for other, stage, blob in entries or [] if other == path and stage == 1),
                None)
    if root is None or blob is None:
        return b""
    return blob_content(root, blob, MAX_POINTER_BYTES) or b""


def _oids_named(*versions: bytes) -> list[str]:
    """The oids the `oid:` lines of the pointer `versions` name, conflict markers or not."""
    return [line[len(b"oid: "):].strip().decode(errors="replace")
            for version in versions for line in version.splitlines()
            if line.startswith(b"oid: ")]


def _kinds_differ(sides: tuple[tuple[str, str], tuple[str, str]], keep: str, data_path: str,
                  root: str | None) -> str:
    """The hint for a conflicted pointer whose marked versions track `data_path` as a folder
    and as a file (`sides`: `_kind_of_each_side`): `keep` one, as no merge joins them."""
    (ours, our_kind), (theirs, their_kind) = sides
    return (f"{keep} The version marked `{ours}` tracks {data_path} as a {our_kind}, the "
            f"one marked `{theirs}` as a {their_kind}: keeping either drops the other "
            f"side's data there.{rebase_sides_note(root)}")


def _kind_of_each_side(data: bytes, in_index: tuple[str, str] | None = None
                       ) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """The label and kind ("folder" or "file") of our and their side of the conflicted
    pointer `data`: the kinds `in_index` (`_kinds_in_index`) when Git's index holds both
    sides, else each side rebuilt from the lines between its markers and those outside any
    (Git's line-by-line merge may keep one side's `type:` line for both); None when a side
    does not name one kind."""
    sides: tuple[list[bytes], list[bytes]] = ([], [])
    labels = ["", ""]
    into: tuple[list[bytes], ...] = sides
    for line in data.splitlines():
        if line.startswith(b"<<<<<<<"):
            labels[0] = labels[0] or line[8:].decode(errors="replace").strip()
            into = (sides[0],)
        elif line.startswith(b"|||||||"):  # the merge base, in Git's diff3 style
            into = ()
        elif line.startswith(b"=======") and into is not sides:
            into = (sides[1],)
        elif line.startswith(b">>>>>>>"):
            labels[1] = labels[1] or line[8:].decode(errors="replace").strip()
            into = sides
        else:
            for side in into:
                side.append(line)
    kinds = in_index or tuple(_kind_named(b"\n".join(side)) for side in sides)
    if None in kinds:
        return None
    return ((labels[0], str(kinds[0])), (labels[1], str(kinds[1])))


def _kinds_in_index(root: str | None, entries: list[tuple[str, int, str]] | None, path: str
                    ) -> tuple[str, str] | None:
    """The kinds ("folder" or "file") of our and their version of the conflicted pointer
    `path` as Git's index holds them (`entries`: `unmerged_entries`), whole; None when it
    does not hold both, or a version names no one kind."""
    blobs = {stage: blob for other, stage, blob in entries or [] if other == path}
    if root is None or not {2, 3} <= blobs.keys():
        return None
    ours, theirs = (_kind_named(blob_content(root, blobs[stage], MAX_POINTER_BYTES) or b"")
                    for stage in (2, 3))
    return None if ours is None or theirs is None else (ours, theirs)


def _kind_named(pointer: bytes) -> str | None:
    """The kind ("folder" or "file") the `type:` lines of `pointer` name; None unless they
    name one."""
    found = {_KIND_NAMES.get(line[len(b"type: "):].rstrip(), "")
             for line in pointer.splitlines() if line.startswith(b"type: ")}
    return next(iter(found)) if len(found) == 1 and "" not in found else None


_KIND_NAMES = {b"dir": "folder", b"file": "file"}  # a pointer's `type:`, as a message says it


def _names_a_directory(data: bytes) -> bool:
    """Does a side of the conflicted pointer `data` track a directory?"""
    return any(line.strip() == b"type: dir" for line in data.splitlines())


def _resolved_with(entries: list[tuple[str, int, str]] | None, path: str
                   ) -> list[str] | None:
    """When Git's index holds no ours and theirs of the conflicted pointer `path` (so
    `git checkout --theirs`/`--ours` cannot resolve it), the entries `git rm` resolves with
    it: a rename/rename conflict stores the merged file, markers and all, as the one side of
    each new name, and the old name as the merge base's alone. None when the index holds
    both sides (or Git cannot say: `entries` is None), `entries` being Git's
    (`unmerged_entries`)."""
    if entries is None:
        return None
    sides: dict[str, dict[int, str]] = {}  # path -> {stage: blob}
    for other, stage, blob in entries:
        sides.setdefault(other, {})[stage] = blob
    own = sides.pop(path, {})
    if {2, 3} <= own.keys():
        return None
    if not own:
        return []  # not in conflict in the index (committed with its markers): edit, add
    return sorted(other for other, stages in sides.items() if other.endswith(POINTER_SUFFIX)
                  and (set(stages.values()) & set(own.values()) or stages.keys() == {1}))


def parse_pointer(data: bytes, where: str, root: str | None = None,
                  path: str | None = None, commit: str | None = None,
                  in_cache: Callable[[str], bool] | None = None) -> Pointer:
    """The pointer `data` read from `where`: with the `root` of the repository it is in (a
    pointer in the workspace), the commands a conflict's hint suggests name it from the
    current directory, by its `path` in the repository where `where` names it otherwise
    (`index:PATH`, `COMMIT:PATH`). Read from a `commit`, a conflict's hint says that a later
    commit must fix it. `in_cache` (an oid: does this repository's cache hold it?) lets a
    conflict's hint leave out remedies a manifest in the cache rules out."""
    doc = _parse_canonical(data)
    if doc is None:
        if has_conflict_markers(data):
            named = path or where
            hint = (_how_to_resolve(data, named, root, in_cache) if commit is None else
                     committed_conflict_hint(commit, named, root, "`dvx pull "
                                             f"{for_command(root, data_path_of(named))}`"))
            raise MergeConflictError(
                f"The pointer file '{where}' holds an unresolved Git merge conflict: both "
                "sides changed it.", hint, path or where,
                "`dvx install` adds a merge driver that merges pointers field by field and "
                "directories entry by entry, leaving a conflict only where both sides changed "
                "the same thing.")
        doc = parse_yaml(data, f"pointer file '{where}'", MAX_POINTER_BYTES, YAML_1_1,
                         text_at=(("oid",),))
    if not isinstance(doc, dict):
        raise FormatError(f"The pointer file '{where}' is not a YAML mapping.")
    version = doc.get("dvx")
    # The integer 1: not 1.0 nor true, which Python calls equal to it.
    if type(version) is not int or version != FORMAT_VERSION:
        if type(version) is int and version > FORMAT_VERSION:
            raise NewerFormatError.of(f"The pointer file '{where}'", version)
        raise FormatError(f"The pointer file '{where}' has no valid 'dvx: {FORMAT_VERSION}' line.")
    unknown = set(doc) - KNOWN_KEYS
    if unknown:
        raise UnknownKeysError(
            f"The pointer file '{where}' has unknown keys: {', '.join(sorted(map(str, unknown)))}.",
            unknown_keys_hint("remove the keys"),
        )
    _refuse_missing(doc, where, (("type", "file or dir"), ("algo", "its oid's hash algorithm")))
    kind, algo = doc.get("type"), doc.get("algo")
    _refuse_missing(doc, where, (("oid", "the hash of its data"), ("size", "its size in bytes"),
                                 *((("nfiles", "its number of files"),) if kind == "dir"
                                   else ())))
    if kind not in ("file", "dir"):
        raise FormatError(f"The pointer file '{where}' has an invalid type {kind!r}.")
    if algo not in ALGORITHMS:
        raise FormatError(f"The pointer file '{where}' names an unknown hash algorithm {algo!r}.")
    try:
        oid = check_oid(doc.get("oid"), algo)
    except FormatError as exc:
        raise FormatError(f"The pointer file '{where}' is invalid: {exc.message}") from None
    size = _non_negative_int(doc.get("size"), "size", where)
    nfiles = _non_negative_int(doc.get("nfiles"), "nfiles", where) if kind == "dir" else None
    if kind == "file" and "nfiles" in doc:
        raise FormatError(f"The pointer file '{where}' has 'nfiles' but tracks a file.")
    executable = doc.get("exec", False)
    if not isinstance(executable, bool) or (kind == "dir" and "exec" in doc):
        raise FormatError(f"The pointer file '{where}' has an invalid 'exec' value.")
    desc = doc.get("desc")
    if desc is not None and not isinstance(desc, str):
        raise FormatError(f"The pointer file '{where}' has a 'desc' that is not a string.")
    source = _source(doc.get("source"), where) if "source" in doc else None
    return Pointer(kind, algo, oid, size, nfiles, executable, desc, doc.get("meta"), source)


def _source(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise FormatError(f"The pointer file '{where}' has a 'source' that is not a mapping "
                          "of names to strings.")
    keys = set(value)
    if not ((keys <= REPO_SOURCE_KEYS and {"repo", "path", "rev_lock"} <= keys)
            or (keys <= URL_SOURCE_KEYS and "url" in keys)):
        raise FormatError(f"The pointer file '{where}' has a 'source' with keys "
                          f"{sorted(keys)}: expected repo, path, rev_lock (and rev), or url "
                          "(and etag).")
    return tuple(sorted(value.items()))


def _refuse_missing(doc: dict[Any, Any], where: str, keys: tuple[tuple[str, str], ...]
                    ) -> None:
    """Each of `keys` (key, what it holds) has a line with a value in the pointer `doc`: a
    missing or empty one is named as such, not as the None a message would quote as invalid."""
    for key, what in keys:
        if doc.get(key) is None:
            how = "an empty" if key in doc else "no"
            raise FormatError(f"The pointer file '{where}' has {how} '{key}:' line ({what}).")


def _non_negative_int(value: object, key: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SIZE:
        raise FormatError(f"The pointer file '{where}' has an invalid '{key}' {value!r}.")
    return value


def read_pointer(path: str, where: str, root: str | None = None,
                 in_cache: Callable[[str], bool] | None = None) -> Pointer:
    try:
        data = read_regular(path, MAX_POINTER_BYTES + 1)
    except OSError as exc:
        raise unreadable_pointer(where, exc) from None
    return parse_pointer(data, where, root, in_cache=in_cache)


def unreadable_pointer(where: str, exc: OSError) -> DvxError:
    """The error for the pointer file `where` that could not be opened (`exc`)."""
    if path_too_long(exc):  # a clone under a longer folder: the same pointer fits elsewhere
        return PathError(f"Cannot read the pointer file '{where}': {exc.strerror} (its full "
                         f"path is longer than the system allows, {PATH_MAX} bytes), so its "
                         "data cannot be placed either.",
                         "Move the repository to a folder with a shorter path (or clone it "
                         "there) and run the command again.")
    return FormatError(f"Cannot read the pointer file '{where}': {exc.strerror}.")
