"""Repository content is untrusted (SPEC §4.1, §4.5).

Each test builds a repository that dvx itself would refuse to create (crafted pointers,
crafted manifests pushed to the remote under their correct oid, corrupt remote objects,
symbolic links, a hostile config), commits it, clones it, and runs `dvx pull`, `checkout` and
`status` in the clone. Every command must fail (or skip the bad item) with a clear message and
no traceback, and must write nothing outside the clone's workspace and nothing under `.git`:
everything else in the test's directory, and the clone's whole `.git` (hooks and config
included), stays byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import xxhash
from conftest import git, make_git_repo, run_dvx, run_dvx_proc, write
from pipeline_kit import run_and_commit

from dvx.config import global_config_path
from tests.servers import serving

PAYLOAD = b"#!/bin/sh\necho pwned\n"
PAYLOAD_OID = xxhash.xxh3_128_hexdigest(PAYLOAD)
VALID_OID = "0123456789abcdef0123456789abcdef"


# --- building hostile repositories ------------------------------------------------------------


class Hostile:
    """An origin repository with a default remote, and a way to commit arbitrary content."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.remote = base / "remote"
        self.outside = base / "outside"  # where escaping writes would land
        self.outside.mkdir()
        write(self.outside / "victim.txt", "must stay as it is\n")
        self.origin = make_git_repo(base / "origin")
        assert run_dvx("init", cwd=self.origin).code == 0
        assert run_dvx("remote", "add", "-d", "s", str(self.remote), cwd=self.origin).code == 0
        self.put_object(PAYLOAD)

    def put_object(self, data: bytes, oid: str | None = None) -> str:
        """Store `data` on the remote under `oid` (its real oid unless told otherwise)."""
        oid = oid or xxhash.xxh3_128_hexdigest(data)
        write(self.remote / "files/xxh128" / oid[:2] / oid[2:], data)
        return oid

    def commit(self, files: dict[str, bytes | str], force: tuple[str, ...] = ()) -> None:
        """Commit `files` (written first) and everything else Git does not ignore; `force`
        names paths to commit even though they are ignored (tracked data made into links)."""
        for rel, content in files.items():
            write(self.origin / rel, content)
        git(self.origin, "add", "-A")
        git(self.origin, "add", "-f", "--", *files, *force)
        git(self.origin, "commit", "-qm", "hostile content")

    def clone(self) -> Path:
        git(self.base, "clone", "-q", str(self.origin), "clone")
        return self.base / "clone"


def loose_objects_only(origin: Path) -> None:
    """Push every object alone (no packs), so that the test can swap one object's file;
    hostile packs and indexes have tests of their own (test_packs.py)."""
    assert run_dvx("remote", "modify", "s", "pack_threshold", "0", cwd=origin).code == 0


def manifest(rows: list[list[object]], *, compact: bool = True) -> bytes:
    header = '{"algo":"xxh128","format":"dvx-tree","version":1}'
    separators = (",", ":") if compact else (", ", ": ")
    lines = [header] + [json.dumps(row, separators=separators) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def dir_pointer(oid: str, nfiles: int = 1) -> str:
    return f"dvx: 1\ntype: dir\nalgo: xxh128\noid: {oid}\nsize: 1\nnfiles: {nfiles}\n"


def file_pointer(oid: str, extra: str = "") -> str:
    return f"dvx: 1\ntype: file\nalgo: xxh128\noid: {oid}\nsize: 1\n{extra}"


# --- what must hold ---------------------------------------------------------------------------


def files_under(root: Path, skip: Path | None = None) -> dict[str, tuple[str, bytes]]:
    """Every entry below `root` (links not followed), with its kind and content."""
    found: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if skip is not None and here == skip.parent:
            dirnames[:] = [d for d in dirnames if here / d != skip]
        for name in dirnames + filenames:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path).encode())
            elif path.is_file():
                found[rel] = ("file", path.read_bytes())
            elif path.is_dir() and name in dirnames:
                found[rel] = ("dir", b"")
    return found


def protected(base: Path, clone: Path) -> dict[str, tuple[str, bytes]]:
    """Everything a command in `clone` must not change: all of `base` but the clone, plus the
    clone's whole .git directory but for the lines dvx adds to its exclude file (its
    temporaries', an interrupted get's folders' and config.local's patterns:
    Repo.exclude_temporaries)."""
    from dvx.gitignore import (
        GET_SCRATCH_COMMENT,
        GET_SCRATCH_PATTERN,
        PRIVATE_SETTINGS_COMMENT,
        PRIVATE_SETTINGS_PATTERN,
        TEMPORARIES_COMMENT,
        TEMPORARIES_PATTERN,
    )

    outside = files_under(base, skip=clone)
    inside_git = {f"clone/.git/{k}": v for k, v in files_under(clone / ".git").items()}
    kind, exclude = inside_git.get("clone/.git/info/exclude", ("file", b""))
    for comment, pattern in ((TEMPORARIES_COMMENT, TEMPORARIES_PATTERN),
                             (GET_SCRATCH_COMMENT, GET_SCRATCH_PATTERN),
                             (PRIVATE_SETTINGS_COMMENT, PRIVATE_SETTINGS_PATTERN)):
        exclude = exclude.replace(f"{comment}\n{pattern}\n".encode(), b"")
    inside_git["clone/.git/info/exclude"] = (kind, exclude)
    return {**outside, **inside_git}


def run_clean(*args: str, cwd: Path) -> str:
    """Run a command that must fail cleanly; return its one-paragraph message."""
    result = run_dvx(*args, cwd=cwd)
    assert result.code not in (0, 255), f"{' '.join(args)} exited {result.code}: {result.output}"
    assert "Traceback" not in result.output
    assert result.stderr.strip(), "failed without saying why"
    return " ".join(result.stderr.split())


def assert_refused(hostile: Hostile, commands: list[tuple[str, ...]],
                   prepare: Callable[[Path], None] | None = None) -> list[str]:
    """Clone, `prepare` the clone (what its user did there), run each command: each fails
    with a clear message and changes nothing outside the workspace."""
    clone = hostile.clone()
    if prepare is not None:
        prepare(clone)
    before = protected(hostile.base, clone)
    messages = [run_clean(*args, cwd=clone) for args in commands]
    assert protected(hostile.base, clone) == before, "something outside the workspace changed"
    return messages


EVERYTHING = [("pull",), ("checkout",), ("status",)]


# --- pointers ---------------------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    ["dvx: 1", "type: file", "algo: xxh128", f"oid: {VALID_OID}", "size: 1", "meta:",
     '  a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [f"  {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
       f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]"
       for i in range(8)]) + "\n"

HOSTILE_POINTERS: dict[str, tuple[str | bytes, str]] = {
    "uppercase oid": (file_pointer(VALID_OID.upper()), "lowercase hex"),
    "short oid": (file_pointer("0123abcd"), "lowercase hex"),
    "oid with slash": (file_pointer("01/../../../../../outside/victim.txt"), "lowercase hex"),
    "oid with dotdot": (file_pointer(".." + VALID_OID[2:]), "lowercase hex"),
    "oid not a string": (file_pointer("[1, 2]"), "object id"),
    "unknown key": (file_pointer(VALID_OID, "command: rm -rf /\n"), "unknown keys"),
    "a key twice": (file_pointer(VALID_OID, f"oid: {'0' * 32}\n"), "the key 'oid' twice"),
    "python tag": (file_pointer("!!python/object/apply:os.system ['touch pwned']"), "YAML"),
    "alias bomb": (BILLION_LAUGHS, "aliases"),
    "deep nesting": (file_pointer(VALID_OID, "meta: " + "[" * 5000 + "]" * 5000 + "\n"),
                     "nest"),
    "larger than 64 KiB": (file_pointer(VALID_OID, 'desc: "' + "a" * 70_000 + '"\n'),
                           "larger than"),
    "not UTF-8": (b"dvx: 1\ntype: file\ndesc: \xff\xfe\n", "UTF-8"),
    "not a mapping": ("- dvx\n- 1\n", "mapping"),
    "unknown type": (file_pointer(VALID_OID).replace("type: file", "type: symlink"), "type"),
    "negative size": (file_pointer(VALID_OID).replace("size: 1", "size: -1"), "size"),
    "other algorithm": (file_pointer(VALID_OID).replace("algo: xxh128", "algo: md5"), "md5"),
    "newer format": (file_pointer(VALID_OID).replace("dvx: 1", "dvx: 99"), "newer dvx"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_POINTERS))
def test_hostile_pointer_is_refused(case, tmp_path):
    content, fragment = HOSTILE_POINTERS[case]
    hostile = Hostile(tmp_path)
    hostile.commit({"data.bin.dvx": content})
    for message in assert_refused(hostile, EVERYTHING):
        assert message.startswith("ERROR:") and "data.bin.dvx" in message
        assert fragment.lower() in message.lower(), message
    assert not (tmp_path / "clone/pwned").exists()
    assert not (tmp_path / "clone/data.bin").exists()


# --- directory manifests ----------------------------------------------------------------------


def row(path: object, oid: object = PAYLOAD_OID) -> list[object]:
    return [path, oid, len(PAYLOAD), False]


HOSTILE_MANIFESTS: dict[str, Callable[[Path], bytes]] = {
    "dotdot": lambda base: manifest([row("../../outside/pwned")]),
    "dotdot inside": lambda base: manifest([row("a/../../../outside/pwned")]),
    "absolute": lambda base: manifest([row(str(base / "outside/pwned"))]),
    "backslash": lambda base: manifest([row("..\\..\\outside\\pwned")]),
    "empty component": lambda base: manifest([row("a//pwned")]),
    "dot component": lambda base: manifest([row("./pwned")]),
    ".git component": lambda base: manifest([row(".git/hooks/post-checkout")]),
    "nested .git": lambda base: manifest([row("sub/.git/hooks/post-checkout")]),
    "upper-case .GIT": lambda base: manifest([row(".GIT/hooks/post-checkout")]),
    ".dvx component": lambda base: manifest([row(".dvx/config")]),
    "NUL byte": lambda base: manifest([row("pw\x00ned")]),
    "line break": lambda base: manifest([row("pw\nned")]),
    "duplicate": lambda base: manifest([row("a"), row("a")]),
    "file and directory": lambda base: manifest([row("a"), row("a/b")]),
    "unsorted": lambda base: manifest([row("b"), row("a")]),
    "non-canonical spacing": lambda base: manifest([row("a")], compact=False),
    "entry oid traversal": lambda base: manifest([row("a", "../../../../outside/victim.t")]),
    "entry oid uppercase": lambda base: manifest([row("a", PAYLOAD_OID.upper())]),
    "longer than any filesystem holds": lambda base: manifest([row("d/" * 2100 + "f")]),
    "a name longer than any filesystem holds": lambda base: manifest([row("n" * 300)]),
    "wrong header": lambda base: manifest([row("a")]).replace(b'"version":1', b'"version":0'),
    "a dvx temporary's name": lambda base: manifest([row("sub/.a.dvx-0123456789ab.tmp")]),
    "a dvx temporary's cut name": lambda base: manifest([row(".a~dvx-0123456789ab.tmp")]),
    "not JSON": lambda base: b'{"algo":"xxh128","format":"dvx-tree","version":1}\nnope\n',
    "a .dvxignore": lambda base: manifest([row("a"), row("sub/.dvxignore")]),
    "a .dvxignore at its top": lambda base: manifest([row(".dvxignore"), row("a")]),
    "a pointer file's name": lambda base: manifest([row("a"), row("a.dvx")]),
    "a pointer file's name below": lambda base: manifest([row("sub/b.csv.dvx")]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MANIFESTS))
def test_hostile_manifest_is_refused(case, tmp_path):
    hostile = Hostile(tmp_path)
    oid = hostile.put_object(HOSTILE_MANIFESTS[case](tmp_path))
    hostile.commit({"data.dvx": dir_pointer(oid)})
    for message in assert_refused(hostile, EVERYTHING):
        assert message.startswith("ERROR:") and "manifest" in message, message
    assert not (tmp_path / "clone/data").exists()


def test_an_invalid_manifest_skips_its_directory_and_the_rest_is_placed(tmp_path):
    """A manifest hashing to its oid but naming a path out of its folder is skipped as an
    invalid pointer is: the other data is placed, the command exits 1 naming the pointer
    file, and never says to fetch again what would be the same bytes."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "one.txt", b"one")
    oid = hostile.put_object(HOSTILE_MANIFESTS["dotdot"](tmp_path))
    hostile.commit({"data.dvx": dir_pointer(oid)})
    clone = hostile.clone()
    for command in (("pull",), ("checkout",)):
        (clone / "one.txt").unlink(missing_ok=True)
        before = protected(tmp_path, clone)
        result = run_dvx(*command, cwd=clone)
        assert protected(tmp_path, clone) == before
        assert result.code == 1 and "Traceback" not in result.output, result.output
        assert (clone / "one.txt").read_bytes() == b"one", (command, result.output)
        assert not (clone / "data").exists()
        message = " ".join(result.stderr.split())
        assert message.count("ERROR:") == 1, message
        assert "ERROR: Skipped data.dvx: " in message, message
        assert "'../../outside/pwned': it has a '..' component" in message, message
        assert "outside its folder" in message and "fetch" in message, message
        assert "`dvx fetch`" not in message, message
    assert not (tmp_path / "outside/pwned").exists()


def test_a_manifest_a_newer_dvx_wrote_says_to_upgrade_dvx(tmp_path):
    """A manifest in a format newer than this dvx's is named as a newer dvx's, with an
    upgrade as the way out, never as one dvx never writes."""
    hostile = Hostile(tmp_path)
    newer = manifest([row("a")]).replace(b'"version":1', b'"version":2')
    hostile.commit({"data.dvx": dir_pointer(hostile.put_object(newer))})
    clone = hostile.clone()
    for command in (("pull",), ("checkout",), ("status",)):
        result = run_dvx(*command, cwd=clone)
        assert result.code == 1 and "Traceback" not in result.output, result.output
        message = " ".join(result.stderr.split())
        assert "ERROR: Skipped data.dvx: " in message, (command, message)
        assert "was written by a newer dvx (format 2)" in message, (command, message)
        assert "Upgrade dvx to read it." in message, (command, message)
        assert "never writes such a manifest" not in message, (command, message)
    assert not (clone / "data").exists()


def test_status_names_a_directory_with_an_invalid_manifest_and_reports_the_rest(tmp_path):
    """Status leaves out a directory whose committed manifest names a path out of its folder,
    as pull and checkout skip it: every other change is still reported, then one `ERROR:
    Skipped` line names its pointer file and why, and status exits with status 1."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "one.txt", b"one")
    oid = hostile.put_object(HOSTILE_MANIFESTS["dotdot"](tmp_path))
    hostile.commit({"data.dvx": dir_pointer(oid)})
    clone = hostile.clone()
    assert run_dvx("pull", cwd=clone).code == 1  # brings the manifest into the cache
    (clone / "one.txt").unlink()
    result = run_dvx("status", cwd=clone)
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert "one.txt: deleted" in result.stdout, result.output
    message = " ".join(result.stderr.split())
    assert message.count("ERROR:") == 1, message
    assert "ERROR: Skipped data.dvx: " in message, message
    assert "'../../outside/pwned': it has a '..' component" in message, message
    doc = json.loads(run_dvx("status", "--json", cwd=clone).stdout)
    assert [o["path"] for o in doc["outputs"]] == ["one.txt"], doc
    assert [u["path"] for u in doc["unreadable"]] == ["data.dvx"] and doc["changed"], doc
    assert not (tmp_path / "outside/pwned").exists()


def test_each_stage_output_with_an_invalid_manifest_is_named_and_the_others_placed(tmp_path):
    """Two stage outputs of dvx.lock naming a manifest with '..': pull names each by its own
    path (not dvx.lock as a whole) and places the third; gc says a fetch brings no other."""
    hostile = Hostile(tmp_path)
    write(hostile.origin / "dvx.yaml", "stages:\n" + "".join(
        f"  g{i}:\n    cmd: mkdir -p o{i} && echo {i} > o{i}/f\n    outs: [o{i}]\n"
        for i in (1, 2, 3)))
    assert run_dvx("repro", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    oid = hostile.put_object(HOSTILE_MANIFESTS["dotdot"](tmp_path))
    lock = (hostile.origin / "dvx.lock").read_text()
    for i in (1, 2):
        lock = re.sub(rf"(path: o{i}\n(?:\s+\w+: .*\n)*?\s+oid: )\w+", rf"\g<1>{oid}", lock)
    assert lock.count(oid) == 2, lock
    hostile.commit({"dvx.lock": lock})
    clone = hostile.clone()
    pulled = run_dvx("pull", cwd=clone)
    assert pulled.code == 1 and "Traceback" not in pulled.output, pulled.output
    message = " ".join(pulled.stderr.split())
    assert message.count("ERROR:") == 2, message
    assert "ERROR: Skipped o1: dvx.lock (stage 'g1') names the directory manifest" in message
    assert "ERROR: Skipped o2: dvx.lock (stage 'g2') names the directory manifest" in message
    assert "Skipped dvx.lock" not in message, message
    assert (clone / "o3/f").read_text() == "3\n"
    assert not (clone / "o1").exists() and not (clone / "o2").exists()
    assert not (tmp_path / "outside/pwned").exists()

    gc = run_dvx("gc", "-w", "--dry-run", cwd=clone)
    assert gc.code == 1, gc.output
    message = " ".join(gc.stderr.split())
    assert "o1: Invalid path in a directory manifest" in message, message
    assert "fetch" in message and "brings the same one" in message, message
    assert "Fix or fetch" not in message and "`dvx fetch`" not in message, message


def test_a_source_s_unreadable_pointer_or_manifest_is_named_and_the_rest_listed(tmp_path):
    hostile = Hostile(tmp_path)
    write(hostile.origin / "good.csv", "ok\n")
    assert run_dvx("add", "good.csv", cwd=hostile.origin).code == 0
    oid = hostile.put_object(HOSTILE_MANIFESTS["dotdot"](tmp_path))
    hostile.commit({"bad.dvx": dir_pointer(oid), "badptr.dvx": file_pointer("nothex")})
    reader = make_git_repo(tmp_path / "reader")
    assert run_dvx("init", cwd=reader).code == 0
    origin, cloned = str(hostile.origin), str(hostile.origin / ".git")
    # its workspace, a revision of its history, and a clone of it
    for source, rev in ((origin, ()), (origin, ("--rev", "HEAD")), (cloned, ())):
        listed = run_dvx("ls", source, *rev, cwd=reader)
        assert listed.code == 1 and "Traceback" not in listed.output, listed.output
        assert "good.csv" in listed.stdout and "bad/ (unreadable)" in listed.stdout
        assert "ERROR: Skipped bad: " in listed.stderr and "manifest" in listed.stderr
        assert "ERROR: Skipped badptr: " in listed.stderr and "nothex" in listed.stderr
        assert " 'badptr.dvx' " in listed.stderr, listed.stderr  # the plain path
        assert run_dvx("ls", source, "good.csv", *rev, cwd=reader).code == 0
        message = run_clean("import", source, "badptr", *rev, cwd=reader)
        assert " 'badptr.dvx' is invalid" in message and "not tracked" not in message
    assert not (tmp_path / "outside/pwned").exists()


def test_a_skipped_pointer_s_name_can_neither_drive_the_terminal_nor_forge_a_line(tmp_path):
    """A committed pointer whose name holds terminal escapes and a line break: status and ls
    of the repository name it, as Git quotes such a name, on the one `ERROR: Skipped` line,
    never raw (an escape the terminal acts on, a line of its own that looks like dvx's)."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "a.txt", b"hello")
    name = "zz\x1b]0;PWNED\x07\nData and pointers are up to date"
    hostile.commit({f"{name}.dvx": (hostile.origin / "a.txt.dvx").read_text()})
    shown = '"zz\\033]0;PWNED\\a\\nData and pointers are up to date'
    reader = make_git_repo(tmp_path / "reader")
    assert run_dvx("init", cwd=reader).code == 0
    for args, cwd, skipped in ((("status",), hostile.origin, f'{shown}.dvx"'),
                               (("ls", str(hostile.origin)), reader, f'{shown}"')):
        result = run_dvx(*args, cwd=cwd)
        assert result.code == 1 and "Traceback" not in result.output, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, result.output
        lines = result.stderr.splitlines()
        assert not any(line.startswith("Data and pointers") for line in lines), lines
        assert any(line.startswith(f"ERROR: Skipped {skipped}: ") for line in lines), lines


def test_an_import_s_name_can_neither_drive_the_terminal_nor_forge_a_line_of_update(tmp_path):
    """An import whose pointer was committed under a name holding terminal escapes: `dvx
    update` names it as Git quotes such a name, never raw."""
    source = make_git_repo(tmp_path / "source")
    assert run_dvx("init", cwd=source).code == 0
    (source / "a.txt").write_text("hello\n")
    assert run_dvx("add", "a.txt", cwd=source).code == 0
    git(source, "add", "-A")
    git(source, "commit", "-qm", "data")
    reader = make_git_repo(tmp_path / "reader")
    assert run_dvx("init", cwd=reader).code == 0
    assert run_dvx("import", str(source), "a.txt", cwd=reader).code == 0
    name = "zz\x1b]0;PWNED\x07x"
    (reader / "a.txt.dvx").rename(reader / f"{name}.dvx")
    (reader / "a.txt").unlink()
    result = run_dvx("update", cwd=reader)
    assert "Traceback" not in result.output, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output, result.output
    assert result.code == 0 and '"zz\\033]0;PWNED\\ax": up to date' in result.stdout, \
        result.output


def test_a_data_file_s_name_can_neither_drive_the_terminal_nor_forge_a_line_of_status_or_gc(
        tmp_path):
    """Data tracked under a name holding terminal escapes: `status -c` (not on the remote),
    `gc --dry-run` (an object only an older commit uses) and a failed transfer's lines name
    it as Git quotes such a name, never raw."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    assert run_dvx("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo).code == 0
    (tmp_path / "store").mkdir()  # empty: nothing pushed
    name = "zz\x1b]0;PWNED\x07x"
    shown = '"zz\\033]0;PWNED\\ax"'
    write(repo / name, "hello\n")
    assert run_dvx("add", name, cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    compared = run_dvx("status", "-c", cwd=repo)
    assert run_dvx("remove", f"{name}.dvx", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no data")
    listed = run_dvx("gc", "-w", "--dry-run", "--grace", "0", "--force-last-copy", cwd=repo)
    for result in (compared, listed):
        assert result.code == 0 and "Traceback" not in result.output, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, result.output
        assert any(line.endswith(shown) for line in result.stdout.splitlines()), result.output
    from dvx.cli.sync import failure_lines  # a transfer's failures, named by path

    oid = "f" * 32
    assert failure_lines({oid: "refused"}, {oid: name}) == [f"Failed {shown} ({oid}): refused"]


def test_a_stage_input_s_name_can_neither_drive_the_terminal_nor_forge_a_line_of_repro(
        tmp_path):
    """Tracked data under a name holding terminal escapes that a stage reads, changed since
    it was recorded: `repro --dry` and `repro` name it, committing it, as Git quotes such a
    name, never raw."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    name = "zz\x1b]0;PWNED\x07x"
    write(repo / name, "hello\n")
    assert run_dvx("add", name, cwd=repo).code == 0
    write(repo / "dvx.yaml", 'stages:\n  s:\n    cmd: echo ok > out\n'
                             '    deps: ["zz\\e]0;PWNED\\ax"]\n    outs: [out]\n')
    write(repo / name, "changed\n")
    shown = '"zz\\033]0;PWNED\\ax": it changed since it was recorded'
    for args, said in ((("--dry",), f"Would commit {shown}"), ((), f"Committed {shown}")):
        result = run_dvx("repro", *args, cwd=repo)
        assert result.code == 0 and "Traceback" not in result.output, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output, result.output
        assert said in result.stdout, result.output


def test_a_data_file_s_name_can_not_drive_the_terminal_from_the_warning_of_an_edit_through_its_link(
        tmp_path):
    """A file under a name holding terminal escapes, in a directory tracked with hard links
    into the cache, edited in place through its link: `unprotect`'s warning that the edit
    stays in it, and the cached object was moved aside, names it escaped, never raw."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    assert run_dvx("config", "cache.type", "hardlink", cwd=repo).code == 0
    name = "zz\x1b]0;PWNED\x07x"
    write(repo / "data" / name, "v1\n")
    write(repo / "data" / "other", "o\n")
    assert run_dvx("add", "data", cwd=repo).code == 0
    edited = repo / "data" / name
    edited.chmod(0o644)
    with edited.open("a") as f:
        f.write("edit\n")
    result = run_dvx("unprotect", "data", cwd=repo)
    assert result.code == 0 and "Traceback" not in result.output, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output, result.output
    assert "'data/zz\\x1b]0;PWNED\\x07x' was edited in place" in result.stderr, result.output


def test_a_name_a_killed_get_force_moved_aside_can_not_drive_the_terminal_from_commit_or_status(
        tmp_path):
    """A committed file named with terminal escapes and a leading '-', which a killed `dvx
    get --force` moved aside: commit's refusal and status's warning name it escaped, never
    raw, and the `mv` they hint, pasted into a shell, puts it back."""
    source = make_git_repo(tmp_path / "source")
    assert run_dvx("init", cwd=source).code == 0
    write(source / "images" / "0.png", "image\n")
    assert run_dvx("add", "images", cwd=source).code == 0
    git(source, "add", "-A")
    git(source, "commit", "-qm", "images")
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    name = "-zz\x1b]0;PWNED\x07x"
    write(repo / "data" / "a", "aa\n")
    write(repo / "data" / "sub" / name, "mine\n")
    assert run_dvx("add", "data", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    killed = run_dvx_proc("get", str(source), "images", "-o", f"data/sub/{name}", "--force",
                          cwd=repo, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    sub = repo / "data" / "sub"
    for args, cwd in ((("commit", "data"), repo), (("status",), sub)):
        said = run_dvx(*args, cwd=cwd)
        assert "Traceback" not in said.output, said.output
        assert "\x1b" not in said.output and "\x07" not in said.output, (args, said.output)
        assert "-zz\\x1b]0;PWNED\\x07x" in said.stderr, (args, said.output)
    hint = " ".join(said.stderr.split()).split("`mv -- ", 1)[1].split("`", 1)[0]
    subprocess.run(["bash", "-c", f"mv -- {hint}"], cwd=sub, check=True)
    assert (sub / name).read_text() == "mine\n"


def test_folders_named_as_a_get_s_in_a_folder_with_a_hostile_name_are_named_escaped_by_status(
        tmp_path):
    """In a committed folder whose name holds terminal escapes, a folder of the user's named
    as a get's scratch folder and the partial copy a killed get left: status's warnings name
    both escaped, never raw."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    name = "zz\x1b]0;PWNED\x07x"
    write(repo / name / "notes", "n\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notes")
    write(repo / name / ".dvx-get-abcdefgh" / "new" / "results.csv", "precious\n")
    write(repo / name / ".dvx-get-ijklmnop" / "new" / "part", "p")
    write(repo / name / ".dvx-get-ijklmnop" / "held", "got")

    said = run_dvx("status", cwd=repo)

    assert "Traceback" not in said.output, said.output
    assert "\x1b" not in said.output and "\x07" not in said.output, said.output
    assert ("'zz\\x1b]0;PWNED\\x07x/.dvx-get-abcdefgh' is named as the folder `dvx get` "
            "builds its copy in") in " ".join(said.stderr.split()), said.output
    assert ("'zz\\x1b]0;PWNED\\x07x/.dvx-get-ijklmnop' is the partial copy of an "
            "interrupted `dvx get`") in " ".join(said.stderr.split()), said.output


def test_manifest_whose_bytes_do_not_match_its_oid_is_never_used(tmp_path):
    hostile = Hostile(tmp_path)
    honest = manifest([row("a")])
    oid = xxhash.xxh3_128_hexdigest(honest)
    hostile.put_object(manifest([row("../../outside/pwned")]), oid=oid)  # corrupt on the remote
    hostile.commit({"data.dvx": dir_pointer(oid)})
    pull, checkout = assert_refused(hostile, [("pull",), ("checkout",)])
    assert f"Failed data ({oid})" in pull and "corrupt" in pull
    assert "not in the cache" in checkout.lower() and "data" in checkout
    status = run_dvx("status", cwd=tmp_path / "clone")
    assert "data: not pulled yet, not in cache" in status.stdout  # never placed here
    assert not (tmp_path / "clone/.dvx/cache/files/xxh128" / oid[:2] / oid[2:]).exists()
    assert not (tmp_path / "clone/data").exists()


# --- corrupt objects on the remote ------------------------------------------------------------


def test_corrupt_and_truncated_objects_are_reported_and_never_used(tmp_path):
    hostile = Hostile(tmp_path)
    origin = hostile.origin
    write(origin / "a.bin", b"A" * 5000)
    write(origin / "b.bin", b"B" * 5000)
    loose_objects_only(origin)
    for i in range(3):
        write(origin / f"images/{i}.png", bytes([i]) * 3000)
    assert run_dvx("add", "a.bin", "b.bin", "images", cwd=origin).code == 0
    assert run_dvx("push", cwd=origin).code == 0
    hostile.commit({})
    a_oid = xxhash.xxh3_128_hexdigest(b"A" * 5000)
    img_oid = xxhash.xxh3_128_hexdigest(bytes([1]) * 3000)
    hostile.put_object(b"X" * 5000, oid=a_oid)  # same size, other bytes
    hostile.put_object(bytes([1]) * 1000, oid=img_oid)  # truncated

    clone = hostile.clone()
    before = protected(tmp_path, clone)
    message = run_clean("pull", cwd=clone)
    assert protected(tmp_path, clone) == before
    assert f"Failed a.bin ({a_oid})" in message and f"Failed images/1.png ({img_oid})" in message
    assert "corrupt" in message
    assert "a.bin" in message and "images/1.png" in message  # and what could not be restored
    cache = clone / ".dvx/cache"
    for oid in (a_oid, img_oid):
        assert not (cache / "files/xxh128" / oid[:2] / oid[2:]).exists()
    assert not [p for p in cache.rglob("*") if p.is_file() and p.name.endswith(".tmp")]
    assert not (clone / "a.bin").exists() and not (clone / "images/1.png").exists()
    assert (clone / "b.bin").read_bytes() == b"B" * 5000  # everything else still arrives
    assert (clone / "images/0.png").read_bytes() == bytes([0]) * 3000
    assert (clone / "images/2.png").read_bytes() == bytes([2]) * 3000


def test_a_truncated_object_of_a_source_is_named_in_one_sentence(tmp_path):
    hostile = Hostile(tmp_path)
    loose_objects_only(hostile.origin)
    write(hostile.origin / "a.bin", b"A" * 999)
    assert run_dvx("add", "a.bin", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    hostile.commit({})
    hostile.put_object(b"A" * 6, oid=xxhash.xxh3_128_hexdigest(b"A" * 999))
    message = run_clean("get", str(hostile.origin / ".git"), "a.bin", cwd=tmp_path)
    assert "truncated: 6 bytes where 999 were expected. The source's remote 's' holds a " \
        "damaged copy" in message, message
    assert ".." not in message


# --- symbolic links ---------------------------------------------------------------------------


def tracked_file(hostile: Hostile, rel: str, content: bytes) -> None:
    write(hostile.origin / rel, content)
    assert run_dvx("add", rel, cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0


@pytest.mark.parametrize("target", [".git/hooks/pre-commit", ".git/config", "../outside/x"])
@pytest.mark.parametrize("force", [False, True])
def test_tracked_path_committed_as_a_symlink_is_never_written_through(target, force, tmp_path):
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "model.bin", b"weights")
    (hostile.origin / "model.bin").unlink()
    os.symlink(target, hostile.origin / "model.bin")
    hostile.commit({}, force=("model.bin",))
    clone = hostile.clone()
    before = protected(tmp_path, clone)
    result = run_dvx("pull", *(["--force"] if force else []), cwd=clone)
    assert protected(tmp_path, clone) == before
    # Git versions the link beside its pointer: it is left to Git, --force or not
    assert result.code == 1 and "Skipped model.bin: it is tracked by Git too" in result.stderr
    assert (clone / "model.bin").is_symlink()
    git(clone, "rm", "-q", "-r", "--cached", "--", "model.bin")
    before = protected(tmp_path, clone)  # but for Git's index
    result = run_dvx("pull", *(["--force"] if force else []), cwd=clone)
    assert protected(tmp_path, clone) == before
    assert "Traceback" not in result.output
    if force:  # the link itself is replaced by the data, never written through
        assert result.code == 0, result.output
        assert not (clone / "model.bin").is_symlink()
        assert (clone / "model.bin").read_bytes() == b"weights"
    else:
        assert result.code == 1 and "model.bin" in result.stderr and "symbolic link" in (
            result.stderr)
        assert (clone / "model.bin").is_symlink()


@pytest.mark.parametrize("force", [False, True])
def test_symlinked_subdirectory_of_a_tracked_directory_is_never_followed(force, tmp_path):
    hostile = Hostile(tmp_path)
    write(hostile.origin / "images/hooks/post-checkout", PAYLOAD)
    write(hostile.origin / "images/ok.png", b"fine")
    assert run_dvx("add", "images", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    os.remove(hostile.origin / "images/hooks/post-checkout")
    os.rmdir(hostile.origin / "images/hooks")
    os.symlink("../.git/hooks", hostile.origin / "images/hooks")
    hostile.commit({}, force=("images/hooks",))
    clone = hostile.clone()
    before = protected(tmp_path, clone)
    result = run_dvx("pull", *(["--force"] if force else []), cwd=clone)
    assert protected(tmp_path, clone) == before
    # Git versions the link: the folder is left to Git whole, --force or not, and the way
    # out named
    assert result.code == 1 and "Skipped images: it is tracked by Git too" in (
        result.stderr), result.output
    assert "`git rm -r --cached -- images` stops that" in result.stderr
    assert not (clone / "images/ok.png").exists()
    assert (clone / "images/hooks").is_symlink()
    git(clone, "rm", "-q", "-r", "--cached", "--", "images")
    before = protected(tmp_path, clone)  # but for Git's index
    result = run_dvx("pull", *(["--force"] if force else []), cwd=clone)
    assert protected(tmp_path, clone) == before
    assert "Traceback" not in result.output
    if force:
        assert result.code == 0, result.output
        assert (clone / "images/hooks/post-checkout").read_bytes() == PAYLOAD
        assert not (clone / "images/hooks").is_symlink()
    else:
        assert result.code == 1 and "images/hooks" in result.stderr
        assert (clone / "images/hooks").is_symlink()


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_data_git_tracks_beside_its_pointer_is_left_to_git_by_pull_and_checkout_force(
        kind, tmp_path):
    """A commit holds data in Git (`git add -f`) and a pointer to other bytes at its path:
    pull and checkout leave Git's files as Git placed them, --force or not, and say that Git
    tracks them too, with the way out, never that they are changes of the user's that --force
    discards; a directory of which Git tracks any file is left to Git whole (none of the
    data is mixed into Git's files), and no later command calls the pull unfinished."""
    hostile = Hostile(tmp_path)
    if kind == "file":
        output, in_git = "src/code.py", {"src/code.py": 'print("good")\n'}
        tracked_file(hostile, output, b'print("EVIL")\n')
    else:  # one file of the manifest in Git with other bytes, one in Git the manifest lacks
        output, in_git = "d", {"d/a.txt": "good a\n", "d/extra.txt": "Git's alone\n"}
        write(hostile.origin / "d/a.txt", "EVIL a\n")
        write(hostile.origin / "d/b.txt", "b\n")
        assert run_dvx("add", "d", cwd=hostile.origin).code == 0
        assert run_dvx("push", cwd=hostile.origin).code == 0
    hostile.commit(in_git, force=tuple(in_git))
    clone = hostile.clone()
    for args in (("pull",), ("checkout", "--force"), ("pull", "--force")):
        result = run_dvx(*args, cwd=clone)
        assert result.code == 1, result.output
        assert f"Skipped {output}: it is tracked by Git too" in result.stderr, result.output
        assert f"`git rm -r --cached -- {output}` stops that" in result.stderr
        assert "use --force to discard" not in result.stderr
        assert "Only some of its files" not in result.stderr
        assert {path: (clone / path).read_text() for path in in_git} == in_git
        assert git(clone, "status", "--porcelain") == ""
    if kind == "directory":
        assert not (clone / "d/b.txt").exists()
    status = run_dvx("status", cwd=clone)
    assert "tracked by Git too" in status.stdout and "ended by an error" not in status.output


def _clone_with_a_pointer_over_code(tmp_path: Path) -> Path:
    """A clone of a repository committing `lib.dvx` (data pushed) and `lib/util.py`, code Git
    tracks at the place the pointer names (and no .gitignore entry keeping data out of it)."""
    hostile = Hostile(tmp_path)
    write(hostile.origin / "dd/z", "data\n")
    assert run_dvx("add", "dd", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    os.replace(hostile.origin / "dd.dvx", hostile.origin / "lib.dvx")
    shutil.rmtree(hostile.origin / "dd")
    hostile.commit({".gitignore": "", "lib/util.py": "x = 1\n"})
    return hostile.clone()


def test_a_directory_pointer_over_a_folder_of_code_git_tracks_leaves_the_folder_to_git(
        tmp_path):
    """A committed `lib.dvx` names a folder whose code Git tracks (and no .gitignore entry
    keeps data out of it): pull and checkout --force place none of the pointer's files among
    the code, where `git add -A` would commit them, and delete none of the user's files
    there; status names no `dvx checkout --force` that checkout then refuses."""
    clone = _clone_with_a_pointer_over_code(tmp_path)
    write(clone / "lib/mine.txt", "my notes\n")
    for args in (("pull",), ("checkout", "--force")):
        result = run_dvx(*args, cwd=clone)
        assert result.code == 1, result.output
        assert "Skipped lib: it is tracked by Git too" in result.stderr, result.output
        assert sorted(os.listdir(clone / "lib")) == ["mine.txt", "util.py"]
        assert git(clone, "status", "--porcelain") == "?? lib/mine.txt\n"
    status = run_dvx("status", cwd=clone)
    assert "lib: tracked by Git too" in status.stdout, status.output
    assert "dvx checkout --force" not in status.stdout, status.output


def test_a_pointer_over_code_git_tracks_names_moving_the_pointer_before_git_rm_cached(
        tmp_path):
    """`lib.dvx` over a folder of the team's code: pull and status name renaming the pointer
    (or `dvx remove` of it) first, and `git rm -r --cached`, which would take the code out of
    the repository for every teammate, only for data put in Git by mistake."""
    clone = _clone_with_a_pointer_over_code(tmp_path)
    pulled = run_dvx("pull", cwd=clone)
    status = run_dvx("status", cwd=clone)
    for said in (" ".join(pulled.stderr.split()), " ".join(status.stdout.split())):
        assert "rename its pointer 'lib.dvx' (`git mv`), then `dvx checkout` the new path" \
            in said, said
        assert "`dvx remove lib.dvx` stops tracking it" in said, said
        assert said.index("`git mv`") < said.index("if those files are data put in Git by "
                                                   "mistake, `git rm -r --cached -- lib`")


def test_commit_of_a_pointer_over_code_names_moving_the_pointer_before_git_rm_cached(
        tmp_path):
    """`dvx commit lib` (and `dvx add lib`) where `lib.dvx` names a folder of the team's
    code: the refusal names renaming the pointer, or `dvx remove lib.dvx`, first, and `git
    rm -r --cached`, which would take the code out of the repository for every teammate,
    only for data put in Git by mistake; nothing is recorded."""
    clone = _clone_with_a_pointer_over_code(tmp_path)
    pointer = (clone / "lib.dvx").read_text()
    for args in (("commit", "lib"), ("commit",), ("add", "lib")):
        refused = run_dvx(*args, cwd=clone)
        assert refused.code == 2 and "Traceback" not in refused.output, refused.output
        said = " ".join(refused.stderr.split())
        assert "'lib' is tracked by Git too ('lib/util.py' is in the Git index" in said, said
        assert "rename its pointer 'lib.dvx' (`git mv`), then `dvx checkout` the new path" \
            in said, said
        assert "`dvx remove lib.dvx` stops tracking it" in said, said
        assert said.index("`git mv`") < said.index("if those files are data put in Git by "
                                                   "mistake, `git rm -r --cached -- lib`")
        assert (clone / "lib.dvx").read_text() == pointer


def test_status_names_no_checkout_for_a_stage_output_git_tracks(tmp_path):
    """dvx.lock records README.md, which Git tracks, as a stage's cached output: status says
    it is tracked by Git too, and no hint names the `dvx checkout --force` that checkout
    refuses for it."""
    hostile = Hostile(tmp_path)
    oid = hostile.put_object(b"EVIL\n")
    hostile.commit({"README.md": "readme\n",
                    "dvx.yaml": "stages:\n  s:\n    cmd: echo hi\n    outs: [README.md]\n",
                    "dvx.lock": ("dvx: 1\nalgo: xxh128\nstages:\n  s:\n    cmd: echo hi\n"
                                 f"    outs:\n    - path: README.md\n      oid: {oid}\n"
                                 "      size: 5\n")})
    clone = hostile.clone()
    status = run_dvx("status", cwd=clone)
    assert "README.md: tracked by Git too" in status.stdout, status.output
    assert "dvx checkout --force" not in status.stdout, status.output
    refused = run_dvx("checkout", "--force", cwd=clone)
    assert refused.code == 1 and "Skipped README.md: it is tracked by Git too" in refused.stderr
    assert (clone / "README.md").read_text() == "readme\n"


def _clone_with_a_pointer_at_a_submodule(tmp_path: Path) -> Path:
    """A clone (submodules checked out) of a commit whose `sub.dvx` names the path of a
    submodule, `sub`, holding `smfile`."""
    hostile = Hostile(tmp_path)
    other = make_git_repo(tmp_path / "other")
    write(other / "smfile", "sm\n")
    git(other, "add", "-A")
    git(other, "commit", "-qm", "sm")
    write(hostile.origin / "sub/a", "data\n")
    assert run_dvx("add", "sub", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    shutil.rmtree(hostile.origin / "sub")
    git(hostile.origin, "-c", "protocol.file.allow=always", "submodule", "add", "-f", "-q",
        str(other), "sub")
    hostile.commit({})
    git(tmp_path, "-c", "protocol.file.allow=always", "clone", "-q", "--recurse-submodules",
        str(hostile.origin), "clone")
    return tmp_path / "clone"


def test_a_pointer_at_a_submodule_leaves_the_submodule_to_git(tmp_path):
    """A committed `sub.dvx` names the path of a submodule: pull writes nothing into the
    submodule's work tree, and checkout --force deletes neither its `.git` file nor its
    files; both say Git tracks it."""
    clone = _clone_with_a_pointer_at_a_submodule(tmp_path)
    for args in (("pull",), ("checkout", "--force")):
        result = run_dvx(*args, cwd=clone)
        assert result.code == 1, result.output
        assert "Skipped sub: it is a submodule of this repository" in result.stderr, \
            result.output
        assert sorted(os.listdir(clone / "sub")) == [".git", "smfile"]
        assert git(clone / "sub", "log", "--format=%s") == "sm\n"
        assert git(clone, "status", "--porcelain") == ""


def test_a_pointer_at_a_submodule_names_no_git_rm_cached_that_would_unregister_it(tmp_path):
    """`git rm -r --cached -- sub` would unregister a submodule: pull, checkout --force and
    status name `sub` as a submodule Git keeps, with `dvx remove` or a move of the pointer as
    the way to track data elsewhere, status names it once, and commit refuses it as one."""
    clone = _clone_with_a_pointer_at_a_submodule(tmp_path)
    for args in (("pull",), ("checkout", "--force")):
        result = run_dvx(*args, cwd=clone)
        assert result.code == 1, result.output
        message = " ".join(result.stderr.split())
        assert "Skipped sub: it is a submodule of this repository" in message, result.output
        assert "git rm" not in message and "git add -f" not in message, result.output
        assert "dvx remove sub.dvx" in message, result.output
    status = run_dvx("status", cwd=clone)
    lines = [line for line in status.stdout.splitlines() if line.startswith("sub")]
    assert len(lines) == 1, status.output
    assert "a submodule of this repository" in lines[0], status.output
    assert "git rm" not in status.stdout and "dvx checkout --force" not in status.stdout, \
        status.output
    refused = run_clean("commit", "sub", cwd=clone)
    assert "a submodule" in refused and "git rm" not in refused, refused
    assert git(clone, "status", "--porcelain") == ""


def _nested_repository(folder: Path, kind: str) -> Path:
    """Make `folder` another repository (`kind`: a Git clone with a commit and a file in
    progress, a dvx project holding data no remote has, a `.GIT` folder); a file of its own
    that a checkout must keep."""
    if kind == "letter case":
        write(folder / ".GIT" / "HEAD", "ref: refs/heads/main\n")
        return folder / ".GIT" / "HEAD"
    make_git_repo(folder)
    if kind == "dvx project":
        assert run_dvx("init", cwd=folder).code == 0
        write(folder / "big.bin", "unpushed\n")
        assert run_dvx("add", "big.bin", cwd=folder).code == 0
        return next(p for p in (folder / ".dvx/cache/files").rglob("*") if p.is_file())
    write(folder / "notes", "mine\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "my work")
    write(folder / "wip", "wip\n")
    return folder / ".git" / "HEAD"


@pytest.mark.parametrize("kind", ["clone", "dvx project", "letter case"])
@pytest.mark.parametrize("where", ["tools", "tools/sub"])
def test_a_repository_nested_in_a_tracked_folder_is_never_data_nor_deleted(
        kind, where, tmp_path):
    """A teammate commits `tools.dvx` while the user has a repository of their own at
    `tools`, or below it: pull and checkout --force leave the folder whole, its `.git` or
    `.dvx` and its files, and say why; status lists none of its files, names no `dvx
    checkout --force`, and says the same; commit refuses it, as add does."""
    hostile = Hostile(tmp_path)
    write(hostile.origin / "tools/a", "a\n")
    assert run_dvx("add", "tools", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    shutil.rmtree(hostile.origin / "tools")
    hostile.commit({})
    clone = hostile.clone()
    write(clone / "tools/a", "a\n")
    kept = _nested_repository(clone / where, kind)
    before = files_under(clone / "tools")
    for args in (("pull",), ("checkout", "--force"), ("pull", "--force")):
        result = run_dvx(*args, cwd=clone)
        assert result.code == 1, result.output
        message = " ".join(result.stderr.split())
        assert "Skipped tools: it holds the `.git` or `.dvx` of a repository of its own" \
            in message, result.output
        assert "--force or not" in message and "Traceback" not in result.output
        way = "move or rename the folder" if where == "tools" else \
            "move that repository out of it"
        assert f"; {way}, then `dvx checkout tools` places the data" in message, message
        assert files_under(clone / "tools") == before and kept.is_file()
    status = run_dvx("status", cwd=clone)
    assert status.code == 0, status.output
    assert "tools: holds 'tools/" in status.stdout, status.output
    assert "added:" not in status.stdout, status.output
    assert "dvx checkout --force" not in status.stdout, status.output
    refused = run_clean("commit", "tools", cwd=clone)
    assert "repository of its own" in refused, refused
    assert files_under(clone / "tools") == before


@pytest.mark.parametrize("rule", [".git\n", "tools/.git\n", "tools/\n"])
def test_a_repository_where_a_file_goes_is_never_deleted_whatever_dvxignore_says(
        rule, tmp_path):
    """A teammate commits `tools.dvx`, a file, while the user has a repository of their own
    at `tools` whose `.git` a .dvxignore rule leaves out of data: checkout --force and pull
    --force delete nothing of the folder, and say why; the rule keeps a `.git` out of what
    dvx tracks, never makes it dvx's to delete."""
    hostile = Hostile(tmp_path)
    write(hostile.origin / "tools", "a file\n")
    assert run_dvx("add", "tools", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    (hostile.origin / "tools").unlink()
    hostile.commit({})
    clone = hostile.clone()
    kept = _nested_repository(clone / "tools", "clone")
    write(clone / ".dvxignore", rule)
    before = files_under(clone / "tools")
    for args in (("pull", "--force"), ("checkout", "--force")):
        result = run_dvx(*args, cwd=clone)
        assert result.code == 1, result.output
        message = " ".join(result.stderr.split())
        assert "Skipped tools: it holds the `.git` or `.dvx` of a repository of its own" \
            in message, result.output
        assert files_under(clone / "tools") == before and kept.is_file(), result.output


def test_a_repository_where_a_tracked_directory_s_file_goes_is_never_deleted(tmp_path):
    """data/sub was a folder of the tracked directory data; the user made it a Git clone of
    their own (its `.git` left out by .dvxignore) when data's new version has a file there:
    checkout and checkout --force skip it by name, delete nothing in it (the file a
    checkout placed included), and end with no work left for a rerun."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    write(repo / "data" / "a", "a\n")
    write(repo / "data" / "sub" / "x", "x\n")
    assert run_dvx("add", "data", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    shutil.rmtree(repo / "data" / "sub")
    write(repo / "data" / "sub", "a file now\n")
    assert run_dvx("add", "data", cwd=repo).code == 0
    git(repo, "commit", "-qam", "v2")
    git(repo, "checkout", "-q", "HEAD~1")
    assert run_dvx("checkout", cwd=repo).code == 0
    kept = _nested_repository(repo / "data" / "sub", "clone")
    write(repo / ".dvxignore", ".git\n")
    git(repo, "checkout", "-q", "main")
    before = files_under(repo / "data" / "sub")
    for args in (("checkout",), ("checkout", "--force")):
        result = run_dvx(*args, cwd=repo)
        assert result.code == 1, result.output
        message = " ".join(result.stderr.split())
        assert "Skipped data/sub: it holds the `.git` or `.dvx` of a repository of its own" \
            in message, result.output
        assert "Is a directory" not in message and "ended with an error" not in message
        assert files_under(repo / "data" / "sub") == before and kept.is_file()
        assert not (repo / ".dvx/tmp/lock.stopped").exists()


def test_status_of_a_file_pointer_where_a_clone_stands_names_the_repository_and_no_command(
        repo):
    """`weights.dvx` names a file while the user has a clone of their own at `weights`:
    status says the folder holds a repository of its own, with the way out, and gives no
    hint to record it with `dvx commit` (which refuses it) or discard it with `dvx checkout
    --force` (which leaves it as it is)."""
    write(repo / "weights", "W\n")
    assert run_dvx("add", "weights", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "weights")
    (repo / "weights").unlink()
    kept = _nested_repository(repo / "weights", "clone")
    before = files_under(repo / "weights")
    status = run_dvx("status", cwd=repo)
    assert status.code == 0 and "Traceback" not in status.output, status.output
    said = " ".join(status.stdout.split())
    assert "weights: holds 'weights/.git', the `.git` or `.dvx` of a repository of its own" \
        in said, said
    assert "move or rename the folder, then `dvx checkout weights` places the data" in said
    assert "modified" not in said and "records changes" not in said, said
    assert "`dvx commit` refuses it" in said and "dvx checkout --force" not in said, said
    found = json.loads(run_dvx("status", "--json", cwd=repo).stdout)["outputs"][0]
    assert (found["workspace"], found["repository_inside"]) == \
        ("holds_repository", "weights/.git")
    assert "'weights' holds 'weights/.git'" in run_clean("commit", cwd=repo)
    assert files_under(repo / "weights") == before and kept.is_file()


def test_status_of_data_left_behind_holding_a_clone_offers_no_dvx_add(repo):
    """Data whose pointer left Git (a teammate's `git rm`) and that holds a clone of the
    user's: status says why it is kept and offers no `dvx add`, which refuses it."""
    write(repo / "data/f1", "1\n")
    assert run_dvx("add", "data", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    make_git_repo(repo / "data/clone")
    git(repo, "rm", "-q", "--", "data.dvx")
    git(repo, "commit", "-qm", "a teammate's rm")
    status = run_dvx("status", cwd=repo)
    assert status.code == 0 and "Traceback" not in status.output, status.output
    said = " ".join(status.stdout.split())
    assert "data: no longer tracked, its pointer left Git; it holds the `.git` or `.dvx` of " \
        "a repository of its own ('data/clone/.git'" in said, said
    assert "dvx add" not in said, said
    assert "repository of its own" in run_clean("add", "data", cwd=repo)


def _data_made_a_clone(repo: Path, partial: bool = False, wip: bool = True) -> Path:
    """In the dvx repository `repo`, track `tools` (files `a` and `notes`), check it out (in
    part: only `notes`, with `partial`), then make it a Git clone of the user's that commits
    `notes` (and holds work in progress, `wip`); its folder."""
    write(repo / "tools/a", "a\n")
    write(repo / "tools/notes", "notes\n")
    assert run_dvx("add", "tools", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tools")
    if partial:
        shutil.rmtree(repo / "tools")
        assert run_dvx("checkout", "tools/notes", cwd=repo).code == 0
        assert sorted(os.listdir(repo / "tools")) == ["notes"]
    git(repo / "tools", "init", "-q", "-b", "main")
    git(repo / "tools", "add", "notes")
    git(repo / "tools", "commit", "-qm", "my notes")
    if wip:
        write(repo / "tools/wip", "wip\n")
    return repo / "tools"


@pytest.mark.parametrize("partial", [False, True])
def test_a_folder_holding_a_repository_stays_whole_when_its_pointer_leaves_git(
        partial, repo):
    """`tools.dvx` leaves Git (a teammate's `git rm`, a branch switch) while `tools` is a
    clone of the user's: the checkout that settles data left behind deletes nothing of it,
    its `.git` and the files it commits, and says why."""
    clone = _data_made_a_clone(repo, partial, wip=False)  # all of it as dvx placed it
    before = files_under(clone)
    git(repo, "rm", "-q", "--", "tools.dvx")
    git(repo, "commit", "-qm", "no tools")
    result = run_dvx("checkout", cwd=repo)
    assert "Traceback" not in result.output
    assert files_under(clone) == before, result.output
    message = " ".join(result.stderr.split())
    assert "tools: its pointer is no longer in Git, but it holds the `.git` or `.dvx` of a " \
        "repository of its own ('tools/.git'" in message, result.output
    assert "dvx add tools" not in message, result.output
    assert run_dvx("checkout", cwd=repo).stderr == ""  # said once: the user's own
    assert files_under(clone) == before


def test_commit_without_targets_refuses_a_changed_folder_holding_a_repository_by_name(repo):
    """A tracked folder changed here that also holds a clone of the user's: `dvx commit`
    without targets refuses it by name, as `dvx commit tools` does, never skipping it
    without a word; nothing is recorded."""
    clone = _data_made_a_clone(repo)
    write(repo / "tools/a", "a edited\n")
    pointer = (repo / "tools.dvx").read_bytes()
    for args in (("commit",), ("commit", "tools")):
        refused = run_clean(*args, cwd=repo)
        assert "'tools' holds 'tools/.git'" in refused, refused
        assert (repo / "tools.dvx").read_bytes() == pointer and (clone / ".git").is_dir()


def test_status_names_a_commit_of_the_other_changes_while_a_folder_holds_a_repository(repo):
    """tools holds a clone of the user's and model.pkl changed: status says a bare `dvx
    commit` refuses tools, and names the commit of model.pkl that records its change, as the
    refusal does; that commit records it."""
    _data_made_a_clone(repo)
    write(repo / "model.pkl", "m1\n")
    assert run_dvx("add", "model.pkl", cwd=repo).code == 0
    write(repo / "model.pkl", "m2\n")
    shown = " ".join(run_dvx("status", cwd=repo).stdout.split())
    assert "`dvx commit` refuses it, without targets too, while it holds that repository" \
        in shown, shown
    assert "checkout and commit leave it as it is" not in shown, shown
    assert "(`dvx commit model.pkl` records changes;" in shown, shown
    refused = run_clean("commit", cwd=repo)
    assert "'tools' holds 'tools/.git'" in refused and "`dvx commit PATH...`" in refused
    assert run_dvx("commit", "model.pkl", cwd=repo).code == 0
    assert "model.pkl" not in run_dvx("status", cwd=repo).stdout


@pytest.mark.parametrize("force", [False, True])
def test_remove_outs_of_a_folder_holding_a_repository_deletes_nothing(force, repo):
    """`dvx remove --outs [--force] tools.dvx` where `tools` is a clone of the user's is
    refused before anything changes: the clone, the pointer and its record stay."""
    clone = _data_made_a_clone(repo)
    before = files_under(clone)
    refused = run_clean("remove", "--outs", *(["--force"] if force else []), "tools.dvx",
                        cwd=repo)
    assert "'tools' holds 'tools/.git'" in refused and "without --outs" in refused, refused
    assert files_under(clone) == before and (repo / "tools.dvx").is_file()
    assert run_dvx("remove", "tools.dvx", cwd=repo).code == 0
    assert files_under(clone) == before


def test_repro_of_a_stage_whose_output_holds_a_repository_deletes_nothing(repo):
    """A stage's output folder became a clone of the user's: repro, which deletes a stage's
    outputs before it runs, refuses before the run, and the clone stays whole; so does
    `dvx stage remove --outs`."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p tools && echo a > tools/a\n"
                             "    deps: [in.txt]\n    outs: [tools]\n")
    write(repo / "in.txt", "1\n")
    assert run_dvx("repro", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stage")
    clone = repo / "tools"
    git(clone, "init", "-q", "-b", "main")
    write(clone / "notes", "notes\n")
    git(clone, "add", "notes")
    git(clone, "commit", "-qm", "my notes")
    before = files_under(clone)
    write(repo / "in.txt", "2\n")
    refused = run_clean("repro", cwd=repo)
    assert "'tools' holds 'tools/.git'" in refused, refused
    assert files_under(clone) == before
    refused = run_clean("stage", "remove", "--outs", "s", cwd=repo)
    assert "'tools' holds 'tools/.git'" in refused, refused
    assert files_under(clone) == before and "tools" in (repo / "dvx.yaml").read_text()


def test_status_and_repro_name_a_stage_output_holding_a_repository_and_run_nothing(repo):
    """A stage's output folder holds a clone of the user's: whole-project `status` (and
    `-q`) and `repro --dry` name that stage's output as holding a repository of its own and
    still report the other changes; `repro` refuses that stage before its command runs."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: mkdir -p out && echo 1 > out/r && "
                             "echo ran >> ran.log\n    outs: [out]\n")
    assert run_dvx("repro", cwd=repo).code == 0
    write(repo / "other/x", "x\n")
    assert run_dvx("add", "other", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    write(repo / "other/x", "y\n")  # a change status reports all the same
    make_git_repo(repo / "out/clone")
    before = files_under(repo / "out")
    status = run_dvx("status", cwd=repo)
    assert status.code == 0 and "Traceback" not in status.output, status.output
    said = " ".join(status.stdout.split())
    assert "gen: outputs holding a repository of their own: out/clone/.git" in said, said
    assert "other: modified" in said and "`dvx repro` runs the stale stages" not in said, said
    assert run_dvx("status", "-q", cwd=repo).code == 1
    dry = run_dvx("repro", "--dry", cwd=repo)
    assert "Would fail stage 'gen': 'out' holds 'out/clone/.git'" in dry.stdout, dry.output
    assert "ERROR" not in dry.stderr, dry.output
    ran = run_dvx("repro", cwd=repo)
    assert ran.code == 1, ran.output
    message = " ".join(ran.stderr.split())
    assert "'out' holds 'out/clone/.git'" in message and "was not run" in message, message
    assert (repo / "ran.log").read_text() == "ran\n"
    assert files_under(repo / "out") == before


def test_a_stage_never_run_whose_output_holds_a_repository_is_named_and_deletes_nothing(repo):
    """A stage never run, whose second output folder holds a clone of the user's: `status`
    and `repro --dry` name that output as `repro` finds it, and `repro` refuses the stage
    before its command runs, deleting nothing of its other output either."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: mkdir -p kept out && echo 1 > out/r && "
                             "echo ran >> ran.log\n    outs: [kept, out]\n")
    write(repo / "kept/mine.txt", "mine\n")
    make_git_repo(repo / "out/clone")
    before = files_under(repo / "out")
    status = run_dvx("status", cwd=repo)
    said = " ".join(status.stdout.split())
    assert "gen: never run; outputs holding a repository of their own: out/clone/.git" in said, \
        status.output
    assert "`dvx repro` runs the stale stages" not in said, said
    dry = run_dvx("repro", "--dry", cwd=repo)
    assert "Would fail stage 'gen': 'out' holds 'out/clone/.git'" in dry.stdout, dry.output
    ran = run_dvx("repro", cwd=repo)
    assert ran.code == 1, ran.output
    message = " ".join(ran.stderr.split())
    assert "'out' holds 'out/clone/.git'" in message and "was not run" in message, message
    assert not (repo / "ran.log").exists()
    assert (repo / "kept/mine.txt").read_text() == "mine\n"
    assert files_under(repo / "out") == before


def test_exp_run_over_an_output_holding_a_repository_names_its_own_command_to_run_again(repo):
    """The stage's refusal, under `exp run -S`, names the `dvx exp run` as typed (its -n and
    -S), as the run's last line does, never `dvx repro`, which would record no experiment."""
    write(repo / "params.yaml", "lr: 1\n")
    run_and_commit(repo, "stages:\n  a:\n    cmd: mkdir -p outa && cat params.yaml > "
                         "outa/x.txt\n    params: [lr]\n    outs: [outa]\n", "base")
    make_git_repo(repo / "outa/nested")
    ran = run_dvx("exp", "run", "-S", "lr=2", "-n", "e1", cwd=repo)
    message = " ".join(ran.stderr.split())
    assert ran.code == 1 and "'outa' holds 'outa/nested/.git'" in message, ran.output
    assert "then run `dvx exp run -n e1 -S lr=2` again" in message, message
    assert "dvx repro" not in message, message


@pytest.mark.parametrize("link_target", ["../outside/sub", ".git/hooks"])
def test_pointer_below_a_symlinked_directory_is_refused(link_target, tmp_path):
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "sub/data.bin", b"data")
    hostile.commit({})
    clone = hostile.clone()
    # The working tree now reaches the pointer through a symlink (the index still lists it).
    target = (clone / link_target).resolve()
    target.mkdir(parents=True, exist_ok=True)
    os.replace(clone / "sub/data.bin.dvx", target / "data.bin.dvx")
    os.replace(clone / "sub/.gitignore", target / ".gitignore")
    os.rmdir(clone / "sub")
    os.symlink(target, clone / "sub")
    before = protected(tmp_path, clone)
    for args in [*EVERYTHING, ("checkout", "--force"), ("commit",), ("add", "sub/data.bin")]:
        message = run_clean(*args, cwd=clone)
        assert message.startswith("ERROR:") and "symbolic link" in message, message
    assert protected(tmp_path, clone) == before


def test_get_never_follows_a_source_s_link_out_of_it(tmp_path):
    hostile = Hostile(tmp_path)
    origin, outside = hostile.origin, hostile.outside
    write(origin / "README.md", "the readme\n")
    links = {"abs.txt": str(outside / "victim.txt"), "up.txt": "../outside/victim.txt",
             "sub": str(outside), "rel-sub": "../outside", "git.txt": ".git/config",
             "ok.txt": "docs/../README.md"}
    for name, target in links.items():
        os.symlink(target, origin / name)
    hostile.commit({})
    reader = tmp_path / "reader"
    reader.mkdir()
    for source in (str(origin), str(origin / ".git")):  # read in place, and cloned
        for path in ("abs.txt", "up.txt", "sub/victim.txt", "rel-sub/victim.txt", "git.txt"):
            message = run_clean("get", source, path, "-o", "got", cwd=reader)
            assert "symbolic link" in message and "outside the repository" in message
            assert not (reader / "got").exists()
        assert run_dvx("get", source, "ok.txt", "-o", "ok", cwd=reader).code == 0
        assert (reader / "ok").read_text() == "the readme\n"
        (reader / "ok").unlink()


@pytest.mark.parametrize("bad", ["link", "other bytes"])
def test_a_source_s_cache_is_checked_and_never_followed(bad, tmp_path, monkeypatch):
    import fsspec

    import dvx.api
    from dvx.errors import DvxError

    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.txt", b"public data\n")
    write(hostile.outside / "victim.txt", "the reader's private key\n")
    oid = xxhash.xxh3_128_hexdigest(b"public data\n")
    obj = hostile.origin / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    obj.unlink()
    if bad == "link":
        os.symlink(hostile.outside / "victim.txt", obj)
    else:
        write(obj, "tampered data\n")
    hostile.commit({})
    reader = make_git_repo(tmp_path / "reader")
    assert run_dvx("init", cwd=reader).code == 0
    why = "is a symbolic link" if bad == "link" else "is corrupt"
    monkeypatch.chdir(reader)  # streamed: refused, naming the source's cache
    with pytest.raises(DvxError, match=why):
        dvx.api.read("data.txt", repo=str(hostile.origin))
    with pytest.raises((DvxError, OSError), match=why):  # OSError: refused when opened
        fsspec.filesystem("dvx", repo=str(hostile.origin)).cat("data.txt")
    for args in (("get", str(hostile.origin), "data.txt"),  # copied: from the remote instead
                 ("import", str(hostile.origin), "data.txt", "-f")):
        assert run_dvx(*args, cwd=reader).code == 0
        assert (reader / "data.txt").read_bytes() == b"public data\n"
    for path in files_under(reader).values():
        assert b"private" not in path[1]


def test_ls_gives_a_source_s_link_its_own_size_never_its_target_s(tmp_path):
    hostile = Hostile(tmp_path)
    write(hostile.outside / "victim.txt", "a secret of 31 bytes, say......\n")
    target = str(hostile.outside / "victim.txt")
    os.symlink(target, hostile.origin / "link.txt")
    hostile.commit({})
    reader = tmp_path / "reader"
    reader.mkdir()
    for source in (str(hostile.origin), str(hostile.origin / ".git")):
        listed = json.loads(run_dvx("ls", source, "--json", cwd=reader).stdout)
        sizes = {entry["path"]: entry["size"] for entry in listed}
        assert sizes["link.txt"] == len(os.fsencode(target)), (source, sizes)


def test_pointer_file_that_is_a_symlink_is_not_read(tmp_path):
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    os.replace(hostile.origin / "data.bin.dvx", hostile.outside / "real.dvx")
    os.symlink("../outside/real.dvx", hostile.origin / "data.bin.dvx")
    hostile.commit({})
    for message in assert_refused(hostile, EVERYTHING):
        assert message.startswith("ERROR:") and "data.bin.dvx" in message
        assert "symbolic link" in message
    assert not (tmp_path / "clone/data.bin").exists()


def test_a_dvx_lock_committed_as_a_symlink_is_refused_never_read_through(tmp_path):
    """A dvx.lock that is a link leading out of the repository is refused, as a dvx.yaml
    link is: what it leads to is a file of the user's, never the pipeline's record."""
    hostile = Hostile(tmp_path)
    write(hostile.outside / "settings.yaml",
          "# db_password: hunter2\ndvx: 1\nstages:\n  s:\n    cmd: echo hi\n")
    write(hostile.origin / "dvx.yaml", "stages:\n  s:\n    cmd: echo hi\n")
    os.symlink("../outside/settings.yaml", hostile.origin / "dvx.lock")
    hostile.commit({})
    for message in assert_refused(hostile, [("status",), ("repro",)]):
        assert "Refusing to read dvx.lock: it is a symbolic link." in message, message
        assert "db_password" not in message and "hunter2" not in message
    assert (tmp_path / "clone/dvx.lock").is_symlink()


def test_ignore_files_committed_as_symlinks_are_never_read_or_written(tmp_path):
    hostile = Hostile(tmp_path)
    victim = hostile.outside / "victim.txt"
    for rel in (".gitignore", ".gitattributes", ".dvxignore"):
        os.symlink(victim, hostile.origin / rel)
    hostile.commit({})
    clone = hostile.clone()
    write(clone / "new.txt", "new\n")
    before = protected(hostile.base, clone)

    def refused(args: tuple[str, ...], link: str) -> None:
        result = run_dvx(*args, cwd=clone)
        assert result.code == 2 and "Traceback" not in result.output, result.output
        message = " ".join(result.stderr.split())
        assert f"ERROR: '{link}' is a symbolic link" in message, message
        assert "a file of its own" in message

    refused(("install",), ".gitattributes")
    refused(("add", "new.txt"), ".dvxignore")
    (clone / ".dvxignore").unlink()  # the user deletes it; the linked .gitignore still stops
    refused(("add", "new.txt"), ".gitignore")
    assert protected(hostile.base, clone) == before
    assert (clone / ".gitattributes").is_symlink() and (clone / ".gitignore").is_symlink()
    assert not (clone / "new.txt.dvx").exists()
    assert subprocess.run(["git", "config", "--get", "merge.dvx.driver"], cwd=clone,
                          capture_output=True).returncode == 1  # install stopped before it


@pytest.mark.parametrize("kind", ["folder", "symbolic link"])
def test_no_data_is_placed_beside_a_gitignore_that_is_a_folder_or_a_link(kind, tmp_path):
    """A `.gitignore` committed as a folder (or a link) takes no entry: pull and checkout
    place no data there that Git would not ignore, and say why, naming it; the commands that
    read such a `.gitignore` or `.gitattributes` refuse in one paragraph naming it."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "sub/d", b"hello\n")
    (hostile.origin / "sub" / "d").unlink()
    (hostile.origin / "sub" / ".gitignore").unlink()
    if kind == "folder":
        write(hostile.origin / "sub" / ".gitignore" / "z", "z\n")
    else:
        os.symlink(hostile.outside / "victim.txt", hostile.origin / "sub" / ".gitignore")
    hostile.commit({})
    clone = hostile.clone()
    before = protected(hostile.base, clone)
    for command in (("pull",), ("checkout",)):
        result = run_dvx(*command, cwd=clone)
        message = " ".join(result.stderr.split())
        assert result.code == 1 and "Traceback" not in result.output, result.output
        assert "Skipped sub/d: data placed there could not be kept out of Git. " \
               f"'sub/.gitignore' is a {kind}" in message, message
        assert not (clone / "sub" / "d").exists()
    write(clone / "sub" / "new.txt", "new\n")
    added = run_dvx("add", "sub/new.txt", cwd=clone)
    assert added.code == 2 and f"ERROR: 'sub/.gitignore' is a {kind}" in added.stderr, \
        added.output
    if kind == "folder":
        (clone / ".gitattributes").mkdir()
        installed = run_dvx("install", cwd=clone)
        assert installed.code == 2, installed.output
        assert installed.stderr.startswith("ERROR: '.gitattributes' is a folder, not a file")
    assert protected(hostile.base, clone) == before
    assert not (clone / "sub" / "new.txt.dvx").exists()


# --- hostile configuration --------------------------------------------------------------------


def test_remote_url_starting_with_a_dash_is_refused(tmp_path):
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    config = hostile.origin / ".dvx/config"
    text = config.read_text().replace(f"url = {hostile.remote}", "url = -oProxyCommand=touch pwned")
    config.write_text(text)
    hostile.commit({})
    (message,) = assert_refused(hostile, [("pull",)])
    assert message.startswith("ERROR:") and "-oProxyCommand" in message and "'-'" in message
    assert not (tmp_path / "clone/pwned").exists()


@pytest.mark.parametrize("url", ["fd::0", "ext::sh -c touch% pwned", "x-helper::anything"])
def test_an_import_s_source_reached_by_another_git_transport_is_refused(url, tmp_path):
    """An import's source is read over a path, file, git, http, https or ssh only: a URL from a
    clone's pointer that names Git's `fd::` transport (the user's terminal), `ext::` (a
    command) or a remote helper is refused with Git's reason, and no Git process it starts
    reads dvx's standard input (docs/guarantees.md)."""
    source = make_git_repo(tmp_path / "source")
    assert run_dvx("init", cwd=source).code == 0
    write(source / "d.txt", "data\n")
    assert run_dvx("add", "d.txt", cwd=source).code == 0
    git(source, "add", "-A")
    git(source, "commit", "-qm", "data")
    hostile = Hostile(tmp_path)
    assert run_dvx("import", str(source), "d.txt", cwd=hostile.origin).code == 0
    pointer = (hostile.origin / "d.txt.dvx").read_text()
    hostile.commit({"d.txt.dvx": re.sub(r"(?m)^  repo: .*$", f"  repo: {json.dumps(url)}",
                                        pointer)})
    clone = hostile.clone()
    name = url.split("::")[0]
    status = run_dvx_proc("status", cwd=clone)
    assert status.code == 0, status.output
    assert (f"WARNING: d.txt: its source could not be checked: Could not fetch the repository "
            f"'{url}': transport '{name}' not allowed.") in status.stderr, status.stderr
    updated = run_dvx_proc("update", cwd=clone)
    assert updated.code == 1 and f"transport '{name}' not allowed" in updated.stderr, \
        updated.output
    assert not (clone / "pwned").exists() and not (clone / "d.txt").exists()


def commit_symlink(repo: Path, rel: str, target: str) -> None:
    """Put a symbolic link into the index without touching the working tree."""
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=target,
                          capture_output=True, text=True, check=True).stdout.strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"120000,{blob},{rel}")


def lead_private_directory(hostile: Hostile, how: str, into: str) -> Callable[[Path], None]:
    """Commit a cache.dir (`how` "cache.dir") that leads to `into`, a path relative to the
    repository's root; or (`how` "PATH symlink") return what makes a link at a directory of
    .dvx/ lead there in a clone: Git never brings one
    (test_private_files_git_tracks_are_refused)."""
    if how == "cache.dir":
        config = (hostile.origin / ".dvx/config").read_text()
        hostile.commit({".dvx/config": config + f"[cache]\ndir = ../{into}\n"})
        return lambda clone: None
    hostile.commit({})
    name = how.split()[0]

    def make_link(clone: Path) -> None:
        if (clone / name).is_dir():
            (clone / name).rmdir()
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink("../" * name.count("/") + into, clone / name)

    return make_link


@pytest.mark.parametrize("how, into", [("cache.dir", ".git/objects/dvx"),
                                       (".dvx/cache symlink", ".git/objects"),
                                       (".dvx/tmp symlink", ".git/hooks")])
def test_private_directories_leading_into_git_are_refused(how, into, tmp_path):
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    link = lead_private_directory(hostile, how, into)
    for message in assert_refused(hostile, EVERYTHING, link):
        assert message.startswith("ERROR:") and "leads into the Git directory" in message


@pytest.mark.parametrize("how", ["cache.dir", ".dvx/cache symlink", ".dvx/cache/files symlink",
                                 ".dvx/cache/tmp symlink"])
def test_a_cache_leading_into_the_workspace_is_refused(how, tmp_path):
    """Objects in the workspace outside .dvx/ are files Git sees: `git add -A` would commit the
    data itself. `dvx config` refuses such a cache.dir; a cloned config or link is refused too,
    whether it is the cache itself or a folder in it that dvx writes to."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    link = lead_private_directory(hostile, how, "store")
    for message in assert_refused(hostile, EVERYTHING, link):
        assert message.startswith("ERROR:") and "leads into the workspace" in message


def _victim_cache(hostile: Hostile) -> Path:
    """Another project's cache outside the clone, with an object a hostile clone could
    delete or overwrite."""
    victim = hostile.outside / "mine-cache"
    write(victim / "files/xxh128" / PAYLOAD_OID[:2] / PAYLOAD_OID[2:], PAYLOAD)
    return victim


def _commit_private(hostile: Hostile, what: str) -> None:
    """Commit, as a hostile repository can (`git add -f`), one of dvx's private files."""
    victim = _victim_cache(hostile)
    oid = xxhash.xxh3_128_hexdigest(b"data")
    shard = f".dvx/cache/files/xxh128/{oid[:2]}"
    hostile.commit({})
    if what == ".dvx/config.local":
        write(hostile.origin / what, f"[cache]\ndir = {victim}\n")
        git(hostile.origin, "add", "-f", what)
    elif what == ".dvx":  # the directory itself a link
        git(hostile.origin, "rm", "-rq", "--cached", ".dvx")
        commit_symlink(hostile.origin, ".dvx", str(hostile.outside))
    else:
        commit_symlink(hostile.origin, what.format(shard=shard, object=f"{shard}/{oid[2:]}"),
                       {".dvx/tmp": str(hostile.outside),
                        "{object}": str(hostile.outside / "victim.txt")}.get(what, str(victim)))
    git(hostile.origin, "commit", "-qm", f"{what} from Git")


@pytest.mark.parametrize("what", [".dvx/cache", ".dvx/tmp", ".dvx/config.local", "{shard}",
                                  "{object}", ".dvx"])
def test_private_files_git_tracks_are_refused(what, tmp_path):
    """A cache, temporary directory or local config from Git is the cloned repository's
    choice of where dvx writes and deletes (another project's cache, the user's files): every
    command refuses the repository, says how to clean up, and touches nothing."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    _commit_private(hostile, what)
    commands = [*EVERYTHING, ("gc", "-w", "-f", "--grace", "0"), ("fetch",)]
    for message in assert_refused(hostile, commands):
        assert message.startswith("ERROR: Git tracks") and "git rm -r --cached" in message
    assert not (tmp_path / "clone/data.bin").exists()


def test_dvx_init_makes_git_ignore_its_private_files_whatever_they_are(repo):
    """Links at .dvx/cache, .dvx/tmp or .dvx/config.local are ignored like directories."""
    for name in ("cache", "tmp", "config.local"):
        path = repo / ".dvx" / name
        if path.is_dir():
            shutil.rmtree(path)
        os.symlink("/nowhere", path)
    git(repo, "add", "-A")
    assert not [p for p in git(repo, "ls-files", ".dvx").split() if p != ".dvx/config"
                and p != ".dvx/.gitignore"]


def _clone_taking_config_local_into_git(hostile: Hostile) -> Path:
    """A clone of a repository whose committed .dvx/.gitignore takes .dvx/config.local back
    into Git, past the clone's own exclude file; it has an S3 remote, 's3r'."""
    assert run_dvx("remote", "add", "s3r", "s3://bucket/x", cwd=hostile.origin).code == 0
    hostile.commit({".dvx/.gitignore": "/tmp\n/cache\n!/config.local\n"})
    return hostile.clone()


@pytest.mark.parametrize("command", [
    ("remote", "add", "--local", "mine", "s3://bucket/x"),
    ("remote", "modify", "--local", "s3r", "secret_access_key", "SUPERSECRETKEY"),
    ("remote", "modify", "s3r", "secret_access_key", "SUPERSECRETKEY"),
    ("config", "--local", "core.fsync", "false"),
])
def test_no_setting_is_written_to_a_config_local_a_committed_rule_takes_into_git(command,
                                                                                 tmp_path):
    """A credential written to config.local where Git does not ignore it would be staged by
    the next `git add -A`: the write is refused, naming the rule, and nothing is written."""
    clone = _clone_taking_config_local_into_git(Hostile(tmp_path))
    message = run_clean(*command, cwd=clone)
    assert message.startswith("ERROR: dvx wrote nothing to .dvx/config.local") \
        and "'!/config.local' in .dvx/.gitignore:3" in message, message
    assert not (clone / ".dvx/config.local").exists()
    git(clone, "add", "-A")
    assert ".dvx/config.local" not in git(clone, "ls-files", ".dvx")


def test_a_committed_no_scm_does_not_let_a_setting_into_a_config_local_git_would_add(
        tmp_path):
    """`core.no_scm` says dvx works without Git, not that Git is gone: a clone whose committed
    config sets it still has its credentials' file staged by the next `git add -A`."""
    hostile = Hostile(tmp_path)
    assert run_dvx("config", "core.no_scm", "true", cwd=hostile.origin).code == 0
    clone = _clone_taking_config_local_into_git(hostile)
    message = run_clean("remote", "modify", "--local", "s3r", "secret_access_key",
                        "SUPERSECRETKEY", cwd=clone)
    assert message.startswith("ERROR: dvx wrote nothing to .dvx/config.local") \
        and "'!/config.local' in .dvx/.gitignore:3" in message, message
    assert not (clone / ".dvx/config.local").exists()


def test_status_warns_of_a_config_local_git_does_not_ignore(tmp_path):
    clone = _clone_taking_config_local_into_git(Hostile(tmp_path))
    write(clone / ".dvx/config.local", '[remote "s3r"]\nsecret_access_key = SECRET\n')
    result = run_dvx("status", cwd=clone)
    warning = " ".join(result.stderr.split())
    assert result.code == 0 and warning.startswith(
        "WARNING: Git does not ignore .dvx/config.local") \
        and "'!/config.local' in .dvx/.gitignore:3" in warning, result.output
    (clone / ".dvx/config.local").unlink()
    assert "config.local" not in run_dvx("status", cwd=clone).stderr


def test_the_pre_commit_hook_stops_a_commit_whose_index_holds_config_local(tmp_path):
    """dvx's hooks installed, a commit that would put the clone's credentials into Git stops,
    saying how to take them out of it."""
    clone = _clone_taking_config_local_into_git(Hostile(tmp_path))
    assert run_dvx("install", cwd=clone).code == 0
    write(clone / ".dvx/config.local", '[remote "s3r"]\nsecret_access_key = SECRET\n')
    git(clone, "add", "-A")
    commit = subprocess.run(["git", "commit", "-qm", "work"], cwd=clone, capture_output=True,
                            text=True, check=False)
    message = " ".join(commit.stderr.split())
    assert commit.returncode != 0 and "ERROR: dvx stopped the commit: Git tracks " \
        ".dvx/config.local" in message and "git rm -r --cached -- .dvx/config.local" in message, \
        message
    assert ".dvx/config.local" not in git(clone, "ls-tree", "-r", "--name-only", "HEAD")


@pytest.mark.parametrize("where", ["another project's cache", "the clone's .git",
                                   "the clone's .git, by local://",
                                   "another project's cache, by asynclocal://",
                                   "another project's cache, by FILE://"])
def test_a_directory_remote_in_a_private_directory_is_refused(where, tmp_path):
    """No remote lives in a repository's .dvx (its cache) or .git: a tracked config naming one
    could make `gc --remote` delete another project's objects, or `push` write into .git.
    Every spelling of a directory (fsspec's local://) is a directory remote, so checked."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    mine = make_git_repo(hostile.outside / "mine")
    assert run_dvx("init", cwd=mine).code == 0
    write(mine / "precious.txt", "my data\n")
    assert run_dvx("add", "precious.txt", cwd=mine).code == 0
    url = {"another project's cache": f"file://{mine}/.dvx/cache",
           "the clone's .git": ".git/dvx",
           "the clone's .git, by local://": "local://.git/dvx",
           "another project's cache, by asynclocal://": f"asynclocal://{mine}/.dvx/cache",
           "another project's cache, by FILE://": f"FILE://{mine}/.dvx/cache"}[where]
    refused = run_dvx("remote", "add", "-d", "storage", url, cwd=hostile.origin)
    assert refused.code == 2 and "private directory" in refused.stderr, refused.output
    hostile.commit({".dvx/config": f'[core]\nremote = storage\n[remote "storage"]\nurl = {url}\n'})
    commands = [("pull",), ("push",), ("fetch",), ("gc", "-w", "-c", "storage", "-f", "--grace",
                                                   "0")]
    for message in assert_refused(hostile, commands):
        assert "private directory" in message and "dvx remote modify storage url" in message
    assert (mine / "precious.txt").read_text() == "my data\n"


@pytest.mark.parametrize("scheme", ["", "local://"])
def test_a_directory_remote_that_is_the_cache_is_refused(scheme, tmp_path):
    """With the cache outside the repository (`cache.dir`), a remote naming that folder would
    be the cache itself: gc would delete from the cache what it takes the remote to hold."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    cache = tmp_path / "shared-cache"
    hostile.commit({".dvx/config": f'[core]\nremote = storage\n[remote "storage"]\n'
                                   f"url = {scheme}{cache}\n"})
    commands = [("push",), ("fetch",), ("gc", "-w", "-c", "storage", "-f", "--grace", "0")]

    def use_that_cache(clone: Path) -> None:
        assert run_dvx("config", "--local", "cache.dir", str(cache), cwd=clone).code == 0
        refused = run_dvx("remote", "add", "other", str(cache / "files"), cwd=clone)
        assert refused.code == 1 and "this repository's cache" in refused.stderr

    for message in assert_refused(hostile, commands, prepare=use_that_cache):
        assert "this repository's cache" in message, message


def test_a_cloned_remote_named_as_a_global_one_never_gets_its_credentials(tmp_path):
    """Remotes are matched by name across the levels, so a cloned .dvx/config naming its
    remote as the user's global one is named would be lent that remote's credentials, and
    send them to the clone's server: the global options apply only where the URL is theirs."""
    sent: list[str | None] = []

    class Recording(http.server.SimpleHTTPRequestHandler):
        def send_head(self):  # type: ignore[no-untyped-def]
            sent.append(self.headers.get("Authorization"))
            return super().send_head()

        def log_message(self, *args: object) -> None:
            pass

    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    with serving(Recording, hostile.remote) as url:
        hostile.commit({".dvx/config": f'[core]\nremote = storage\n[remote "storage"]\n'
                                       f"url = {url}\n"})
        clone = hostile.clone()
        for args in (("add", "--global", "storage", "https://data.example.com/store"),
                     ("modify", "--global", "storage", "user", "alice"),
                     ("modify", "--global", "storage", "password", "S3cretGlobalPW")):
            assert run_dvx("remote", *args, cwd=tmp_path).code == 0  # the user's, before
        pulled = run_dvx("pull", cwd=clone)
        assert pulled.code == 0, pulled.output
        assert sent and set(sent) == {None}, "the user's credentials went to the clone's server"
        assert (clone / "data.bin").read_bytes() == b"data"
        assert " ".join(pulled.stderr.split()).startswith(
            "The global config's remote 'storage' has another URL "
            "(https://data.example.com/store), so its options (password, user) are not used "
            f"for this repository's remote 'storage' ({url})")
        # The global remote of that very URL lends its options, as it always did.
        assert run_dvx("remote", "modify", "--global", "storage", "url", url,
                       cwd=clone).code == 0
        (clone / "data.bin").unlink()
        shutil.rmtree(clone / ".dvx" / "cache")  # for the pull to ask the remote again
        sent.clear()
        pulled = run_dvx("pull", cwd=clone)
        assert pulled.code == 0 and "another URL" not in pulled.stderr, pulled.output
        assert sent and set(sent) == {"Basic " + base64.b64encode(b"alice:S3cretGlobalPW")
                                      .decode()}


def test_a_cloned_remote_at_the_global_one_s_url_but_its_own_endpoint_gets_no_credentials(
        tmp_path, monkeypatch):
    """The same bucket URL at an endpoint a cloned .dvx/config chooses is another store: the
    user's global credentials for the bucket (signed requests name the key id, and carry the
    session token) must not go to that server."""
    seen: list[str] = []

    class Recording(http.server.SimpleHTTPRequestHandler):
        def _record(self) -> None:
            seen.append(str(self.headers))
            self.send_error(403)

        do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = _record

        def log_message(self, *args: object) -> None:
            pass

    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    for args in (("add", "--global", "storage", "s3://company-bucket/dvx"),
                 ("modify", "--global", "storage", "access_key_id", "AKIAUSERKEY"),
                 ("modify", "--global", "storage", "secret_access_key", "usersecret"),
                 ("modify", "--global", "storage", "session_token", "USER-SESSION-TOKEN")):
        assert run_dvx("remote", *args, cwd=tmp_path).code == 0  # the user's, before
    with serving(Recording, hostile.remote) as url:
        hostile.commit({".dvx/config": '[core]\nremote = storage\n[remote "storage"]\n'
                                       f"url = s3://company-bucket/dvx\nendpointurl = {url}\n"})
        clone = hostile.clone()
        for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                         "AWS_PROFILE"):
            monkeypatch.delenv(variable, raising=False)
        pushed = run_dvx("push", cwd=clone)
    assert pushed.code != 0
    assert not [h for h in seen if "AKIAUSERKEY" in h or "USER-SESSION-TOKEN" in h], seen
    assert (f"has the same URL but names no endpointurl while this one names endpointurl "
            f"{url}, so its options (access_key_id, secret_access_key, session_token) are not "
            "used" in " ".join(pushed.stderr.split())), pushed.output


@pytest.mark.parametrize("remote", [
    # fsspec's caches write where their options say: the user's ~/.ssh, say
    "url = simplecache://{store}\ntarget_protocol = file\ncache_storage = {outside}/planted",
    "url = filecache::file://{store}",  # a chain of filesystems
    "url = dask://127.0.0.1:8786/store",  # a Dask client takes pickles from its scheduler
    "url = memory://store",  # this process's memory: no store at all
    "url = reference://{store}\nfo = {outside}/refs.json",
    "url = zip://data.zip\nfo = {outside}/data.zip",  # an archive of the user's
    "url = dir://{store}\ntarget_protocol = file",
])
def test_a_remote_of_a_protocol_that_caches_wraps_or_computes_is_refused(remote, tmp_path):
    """Only fsspec's storage protocols make remotes: the others its registry knows would write
    where the cloned config says, read the user's files, or speak pickle to a server."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    options = remote.format(store=hostile.remote, outside=hostile.outside)
    url = options.splitlines()[0].removeprefix("url = ")
    refused = run_dvx("remote", "add", "other", url, cwd=hostile.origin)
    assert refused.code == 2 and "Use a directory path or one of: " in refused.stderr
    hostile.commit({".dvx/config": f'[core]\nremote = s\n[remote "s"]\n{options}\n'})
    for message in assert_refused(hostile, [("pull",), ("push",), ("fetch",)]):
        assert ("no kind of store dvx opens as a remote" in message
                or "chains filesystems ('::')" in message), message
        assert "webdav://" in message  # the protocols it takes


def test_a_generic_remote_takes_its_client_s_options_from_the_user_s_config_only(tmp_path):
    """A generic fsspec remote hands its options to its client as given, where one may name a
    folder to write in or a file to read: the tracked config's are refused, the user's own
    (.dvx/config.local, where `remote modify` writes them) are used."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    hostile.commit({".dvx/config": '[core]\nremote = s\n[remote "s"]\n'
                                   "url = ftp://127.0.0.1:1/store\njobs = 2\n"
                                   f"tempdir = {hostile.outside}\n"})
    for message in assert_refused(hostile, [("pull",), ("push",), ("fetch",)]):
        assert message.startswith("ERROR: Remote 's' (ftp://127.0.0.1:1/store) gets options of "
                                  "its client from the tracked .dvx/config (tempdir)"), message
        assert "`dvx remote modify --local s tempdir VALUE`" in message
    clone = hostile.base / "clone"
    set_here = run_dvx("remote", "modify", "s", "timeout", "5", cwd=clone)  # dvx's own
    assert set_here.code == 0 and "timeout = 5" in (clone / ".dvx" / "config").read_text()
    moved = run_dvx("remote", "modify", "s", "tempdir", "/tmp", cwd=clone)
    assert moved.code == 0 and "written to .dvx/config.local" in moved.output, moved.output
    assert "tempdir = /tmp" in (clone / ".dvx" / "config.local").read_text()
    unreachable = run_dvx("fetch", cwd=clone)  # the user's own option wins: the server tried
    assert unreachable.code == 1 and "Cannot reach the remote 's'" in unreachable.stderr, \
        unreachable.output


@pytest.mark.parametrize("option, named, refused, what", [
    ("keyfile", "{fifo}", "{fifo}", "keyfile"),
    ("keyfile", "keys/id", "{clone}/keys/id", "keyfile"),  # a committed link to /dev/zero
    ("keyfile", "keys/key", "{clone}/keys/key.pub", "keyfile's public key"),
    ("keyfile", "{huge}", "{huge}", "keyfile"),
    ("known_hosts", "keys/hosts", "{clone}/keys/hosts", "known_hosts"),
    ("ssl_verify", "keys/id", "{clone}/keys/id", "CA bundle"),
    ("ssl_verify", "{huge}", "{huge}", "CA bundle"),
])
def test_a_file_a_cloned_remote_option_names_is_read_only_if_a_regular_file_of_plausible_size(
        option, named, refused, what, tmp_path):
    """A client library reads a key, known_hosts file or CA bundle whole, by name: a FIFO or
    a terminal there would hold the command forever (Ctrl-C included), /dev/zero or a huge
    file would fill the memory. Each is refused unread, named with its option."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    fifo, huge = hostile.outside / "fifo", hostile.outside / "huge"
    os.mkfifo(fifo)
    with open(huge, "wb") as f:
        f.truncate(9 << 20)  # sparse: more than any such file holds
    keys = hostile.origin / "keys"
    keys.mkdir()
    os.symlink("/dev/zero", keys / "id")
    os.symlink(fifo, keys / "hosts")
    write(keys / "key", "not read either\n")
    os.symlink(fifo, keys / "key.pub")
    url = "https://127.0.0.1:1/store" if option == "ssl_verify" else "ssh://127.0.0.1:1/store"
    hostile.commit({".dvx/config": f'[core]\nremote = s\n[remote "s"]\nurl = {url}\n'
                                   f"{option} = {named.format(fifo=fifo, huge=huge)}\n"})
    clone = hostile.clone()
    refused = refused.format(fifo=fifo, huge=huge, clone=clone)
    for command in (["pull"], ["status", "-c"], ["fetch"]):
        result = run_dvx_proc(*command, cwd=clone, timeout=60)
        assert result.code == 1, result.output
        assert result.stderr.count("ERROR:") == 1 and "Traceback" not in result.stderr
        assert f"its {what} '{refused}' is " in result.stderr \
            or f"it must be true, false or the path of a CA bundle file (a relative one is " \
               f"taken from the repository root), and '{refused}' is " in result.stderr, \
            result.stderr
        assert ("is larger than 8 MiB" if refused.endswith("huge") else
                "is not a regular file (a FIFO, socket or device)") in result.stderr
        assert "network" not in result.stderr


def test_unparsable_config_is_a_clear_error(tmp_path):
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    hostile.commit({".dvx/config": "[core\nremote = s\n"})
    for message in assert_refused(hostile, EVERYTHING):
        assert message.startswith("ERROR:") and ".dvx/config" in message


def test_sha256_repository_verifies_downloads_with_sha256(tmp_path):
    """For untrusted remotes: with core.hash sha256 a substituted object would need a sha256
    collision, and is refused like any corrupt one."""
    hostile = Hostile(tmp_path)
    origin = hostile.origin
    assert run_dvx("config", "core.hash", "sha256", cwd=origin).code == 0
    loose_objects_only(origin)
    write(origin / "good.bin", b"good")
    write(origin / "swapped.bin", b"original")
    assert run_dvx("add", "good.bin", "swapped.bin", cwd=origin).code == 0
    assert run_dvx("push", cwd=origin).code == 0
    hostile.commit({})
    swapped = hashlib.sha256(b"original").hexdigest()
    assert f"oid: {swapped}" in (origin / "swapped.bin.dvx").read_text()
    write(hostile.remote / "files/sha256" / swapped[:2] / swapped[2:], b"replaced")

    clone = hostile.clone()
    before = protected(tmp_path, clone)
    message = run_clean("pull", cwd=clone)
    assert protected(tmp_path, clone) == before
    assert f"({swapped})" in message and "corrupt" in message
    assert (clone / "good.bin").read_bytes() == b"good"
    assert not (clone / "swapped.bin").exists()


@pytest.mark.parametrize("where", [".dvx/config.dvx", "sub/.Dvx/cache.dvx"])
def test_pointer_naming_data_inside_dvx_is_refused(where, tmp_path):
    hostile = Hostile(tmp_path)
    pointer = file_pointer(PAYLOAD_OID).replace("size: 1", f"size: {len(PAYLOAD)}")
    hostile.commit({where: pointer})
    clone_config = None
    for message in assert_refused(hostile, EVERYTHING):
        assert message.startswith("ERROR:") and "reserved" in message, message
        clone_config = (tmp_path / "clone/.dvx/config").read_bytes()
    assert clone_config == (hostile.origin / ".dvx/config").read_bytes()


def test_a_pointer_whose_name_is_not_utf8_is_refused(tmp_path):
    hostile = Hostile(tmp_path)
    pointer = file_pointer(PAYLOAD_OID).replace("size: 1", f"size: {len(PAYLOAD)}")
    hostile.commit({os.fsdecode(b"caf\xe9.bin.dvx"): pointer, "same.bin.dvx": pointer})
    gc = ("gc", "-w", "-f")  # reads the pointers Git's index holds, by their bytes
    for message in assert_refused(hostile, [*EVERYTHING, gc]):
        assert "same.bin" not in message, message  # the same bytes under a good name
        assert message.startswith("ERROR:") and "not valid UTF-8" in message, message
        # as Git writes such a byte, and a command that pastes as it is
        assert "`git rm -- $'caf\\351.bin.dvx'`" in message, message


@pytest.mark.parametrize("where", ["..dvx", ".git.dvx", ".dvx.dvx", "sub/..dvx"])
def test_a_pointer_naming_the_repository_itself_is_refused(where, tmp_path):
    hostile = Hostile(tmp_path)
    pointer = file_pointer(PAYLOAD_OID).replace("size: 1", f"size: {len(PAYLOAD)}")
    hostile.commit({where: pointer, "sub/notes.txt": "kept\n"})
    clone = hostile.clone()
    hostile.put_object(PAYLOAD)
    for args in (("checkout", "--force"), ("pull", "--force"), ("commit",),
                 ("remove", "--outs", where)):
        message = run_clean(*args, cwd=clone)
        assert "Invalid data path" in message, message
    # The workspace, Git and dvx's own folders are whole.
    assert git(clone, "status", "--porcelain") == ""
    assert (clone / "sub/notes.txt").read_text() == "kept\n"
    assert (clone / ".dvx/config").is_file() and (clone / ".git").is_dir()


OWN_FILES = ["dvx.yaml", "dvx.lock", ".dvxignore", "sub/.gitignore", ".gitattributes", "x.dvx"]


@pytest.mark.parametrize("data", OWN_FILES)
def test_a_pointer_placing_data_at_a_file_of_dvx_s_or_git_s_own_is_refused(data, tmp_path):
    """`dvx.yaml.dvx` would have pull write a pipeline Git never showed, which repro runs;
    `.gitignore.dvx` an ignore file: no dvx writes such a pointer, in the workspace or in a
    commit, so every command that reads one takes it as unreadable and writes nothing there."""
    hostile = Hostile(tmp_path)
    pipeline = f"stages:\n  s:\n    cmd: touch {tmp_path / 'pwned'}\n".encode()
    pointer = file_pointer(hostile.put_object(pipeline)).replace(
        "size: 1", f"size: {len(pipeline)}")
    hostile.commit({f"{data}.dvx": pointer})
    for message in assert_refused(hostile, [*EVERYTHING, ("fetch", "--rev", "HEAD")]):
        assert f"names '{data}' as its data" in message and "never data" in message, message
    clone = tmp_path / "clone"
    assert not (clone / data).exists() or (clone / data).read_bytes() != pipeline
    run_dvx("repro", cwd=clone)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("out", OWN_FILES)
def test_a_dvx_lock_recording_an_output_at_a_file_of_dvx_s_or_git_s_own_is_refused(
        out, tmp_path):
    """dvx.yaml refuses such outputs; a dvx.lock committed without its dvx.yaml (or with
    another one) is refused the same way, so pull never writes the data there."""
    hostile = Hostile(tmp_path)
    pipeline = f"stages:\n  s:\n    cmd: touch {tmp_path / 'pwned'}\n".encode()
    oid = hostile.put_object(pipeline)
    lock = (f"dvx: 1\nalgo: xxh128\nstages:\n  s:\n    cmd: cp a b\n    outs:\n"
            f"    - path: {out}\n      oid: {oid}\n      size: {len(pipeline)}\n")
    hostile.commit({"dvx.lock": lock})
    for message in assert_refused(hostile, [*EVERYTHING, ("fetch", "--rev", "HEAD")]):
        assert f"records '{out}' as an output" in message, message
    clone = tmp_path / "clone"
    assert not (clone / out).exists() or (clone / out).read_bytes() != pipeline
    run_dvx("repro", cwd=clone)
    assert not (tmp_path / "pwned").exists()


def test_a_manifest_1000_levels_deep_is_checked_out_without_recursion(tmp_path):
    hostile = Hostile(tmp_path)
    deep = "d/" * 1000 + "pwned"
    oid = hostile.put_object(manifest([row(deep)]))
    hostile.commit({"data.dvx": dir_pointer(oid)})
    clone = hostile.clone()
    for args in [("pull",), ("status",), ("checkout", "--force"), ("remove", "--outs",
                                                                  "data.dvx")]:
        result = run_dvx(*args, cwd=clone)
        assert result.code == 0, f"{args}: {result.output[-500:]}"
    assert not (clone / "data").exists()


# --- a cloned config and the files dvx may delete ---------------------------------------------

OLD = 2 * 3600  # seconds: older than the hour after which dvx clears its own leftovers


def _aged(path: Path, content: str) -> Path:
    write(path, content)
    stamp = path.stat().st_mtime - OLD
    os.utime(path, (stamp, stamp))
    return path


@pytest.mark.parametrize("setting", ["absolute", "dotdot", "home"])
def test_a_cloned_cache_dir_outside_the_repository_needs_the_users_confirmation(
        setting, tmp_path):
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    home = Path(os.environ["HOME"])
    shared = {"absolute": hostile.outside / "shared", "dotdot": hostile.outside / "shared",
              "home": home / "shared"}[setting]
    value = {"absolute": str(shared), "dotdot": "../../outside/shared",
             "home": "~/shared"}[setting]
    notes = _aged(shared / "tmp" / "notes.txt", "the user's own file\n")
    leftover = _aged(shared / "tmp" / ".object.0123456789ab.tmp", "a killed download")
    config = (hostile.origin / ".dvx/config").read_text()
    hostile.commit({".dvx/config": config + f"[cache]\ndir = {value}\n"})
    for message in assert_refused(hostile, EVERYTHING):
        assert "outside the repository" in message and "dvx config --local cache.dir" in message
    assert notes.read_text() == "the user's own file\n" and leftover.exists()
    clone = tmp_path / "clone"
    assert run_dvx("config", "--local", "cache.dir", value, cwd=clone).code == 0
    pulled = run_dvx("pull", cwd=clone)
    assert pulled.code == 0, pulled.output
    assert (clone / "data.bin").read_bytes() == b"data"
    assert any((shared / "files").rglob("*"))  # the confirmed cache is used
    assert notes.read_text() == "the user's own file\n"  # never a name dvx did not make
    assert not leftover.exists()  # dvx's own leftover, old and held by no process


@pytest.mark.parametrize("link, value", [("lnk", "../lnk"), (".dvx/cc", "cc")])
def test_a_cache_dir_through_a_link_git_tracks_is_refused_and_a_retarget_never_followed(
        link, value, tmp_path):
    """A confirmation names a folder, never a link a commit can move: a cache.dir through a
    symbolic link the repository tracks is refused in every config, and the folder the user
    confirms by its real path stays the cache once a teammate points the link at another
    project's cache."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    shared = tmp_path / "shared"
    shared.mkdir()
    real = os.path.realpath(shared)
    other = _aged(tmp_path / "other/.dvx/cache/files/xxh128/ab" / ("c" * 30), "unpushed")
    (hostile.origin / link).symlink_to(shared, target_is_directory=True)
    config = (hostile.origin / ".dvx/config").read_text()
    hostile.commit({".dvx/config": config + f"[cache]\ndir = {value}\n"}, force=(link,))
    for message in assert_refused(hostile, EVERYTHING):
        assert f"goes through the symbolic link '{link}', which Git tracks" in message
        assert f"dvx config --local cache.dir {real}" in message
    clone = tmp_path / "clone"
    refused = run_dvx("config", "--local", "cache.dir", value, cwd=clone)
    assert refused.code == 2 and "which Git tracks" in refused.output, refused.output
    write(clone / ".dvx/config.local", f"[cache]\ndir = {value}\n")  # written by hand
    named = run_dvx("status", cwd=clone)
    assert named.code == 2 and "in .dvx/config.local goes through" in named.output
    (clone / ".dvx/config.local").unlink()
    assert run_dvx("config", "--local", "cache.dir", real, cwd=clone).code == 0
    assert run_dvx("pull", cwd=clone).code == 0
    (hostile.origin / link).unlink()
    (hostile.origin / link).symlink_to(other.parents[3], target_is_directory=True)
    hostile.commit({}, force=(link,))
    git(clone, "pull", "-q")
    assert os.path.realpath(clone / link) == os.path.realpath(other.parents[3])
    for args in [("pull",), ("gc", "-w", "-f", "--grace", "0")]:
        result = run_dvx(*args, cwd=clone)
        assert result.code == 0, f"{args}: {result.output}"
    assert any((shared / "files").rglob("*"))  # the confirmed folder is still the cache
    assert other.read_text() == "unpushed"
    assert not any(p.is_file() and p != other for p in other.parents[3].rglob("*"))


@pytest.mark.parametrize("absolute", [True, False])
def test_a_cache_dir_through_the_user_s_own_link_to_a_tracked_link_is_refused(
        absolute, repo, dvx, tmp_path):
    """Each link on the way is looked at, not only the folder they all lead to: the user's
    own link that leads to a link Git tracks goes wherever a teammate's commit points it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (repo / "lnk").symlink_to(shared, target_is_directory=True)
    git(repo, "add", "lnk")
    git(repo, "commit", "-qm", "link")
    mine = tmp_path / "mylink"
    mine.symlink_to(repo / "lnk" if absolute else Path("repo/lnk"), target_is_directory=True)
    for level in ("--local", "--global"):
        refused = dvx("config", level, "cache.dir", str(mine / "cache"))
        assert refused.code == 2, refused.output
        assert "goes through the symbolic link 'lnk', which Git tracks" in refused.output
    assert not Path(global_config_path()).exists()
    write(repo / ".dvx/config.local", f"[cache]\ndir = {mine / 'cache'}\n")  # by hand
    write(repo / "data.txt", "data")
    named = dvx("add", "data.txt")
    assert named.code == 2 and "in .dvx/config.local goes through" in named.output
    assert not (shared / "cache").exists()


def test_a_cache_dir_through_a_link_the_superproject_tracks_is_refused(tmp_path):
    """In a submodule, a link the superproject tracks moves with every pull of the
    superproject: a cache.dir through it is refused as one through the project's own."""
    real = tmp_path / "real"
    real.mkdir()
    superproject = make_git_repo(tmp_path / "super")
    (superproject / "slink").symlink_to(real, target_is_directory=True)
    sub = make_git_repo(superproject / "sub")
    assert run_dvx("init", cwd=sub).code == 0
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "init")
    git(superproject, "submodule", "add", "-q", "./sub", "sub")
    git(superproject, "add", "slink")
    git(superproject, "commit", "-qm", "sub and link")
    refused = run_dvx("config", "--local", "cache.dir", "../../slink/cache", cwd=sub)
    assert refused.code == 2, refused.output
    assert f"goes through the symbolic link '{superproject / 'slink'}', which Git tracks" in (
        refused.output)
    assert "nothing was written to .dvx/config.local" in refused.output
    assert not (real / "cache").exists()


def test_the_user_s_own_link_is_not_taken_for_a_tracked_file_differing_in_case(
        repo, dvx, tmp_path):
    """Git tracks `Cache`, a file; the link `cache` is the user's own, which no pull moves.
    A refusal names the config file `dvx config` was asked to write, and says nothing was."""
    real = tmp_path / "real"
    real.mkdir()
    write(repo / "Cache", "notes")
    (repo / "cache").symlink_to(real, target_is_directory=True)
    if (repo / "Cache").is_symlink():
        pytest.skip("a file system that takes Cache and cache for one name")
    with open(repo / ".gitignore", "a", encoding="utf-8") as ignore:
        ignore.write("/cache\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notes")
    accepted = dvx("config", "--local", "cache.dir", "../cache/cache")
    assert accepted.code == 0, accepted.output
    git(repo, "add", "-f", "cache")
    git(repo, "commit", "-qm", "the link too")
    refused = dvx("config", "--local", "cache.dir", "../cache/other")
    assert refused.code == 2, refused.output
    assert "goes through the symbolic link 'cache', which Git tracks" in refused.output
    assert "nothing was written to .dvx/config.local" in refused.output
    assert "remove the setting from .dvx/config" not in refused.output


def test_a_file_git_tracks_is_never_taken_for_a_temporary(tmp_path):
    """A clone can bring a file named like the temporaries dvx leaves beside data (committed
    with `git add -f`): it is Git's, so no command deletes it and status never calls it a
    temporary."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "one.txt", b"single")
    name = ".one.txt.dvx-0123456789ab.tmp"
    hostile.commit({name: "important notes\n"}, force=(name,))
    clone = hostile.clone()
    status = run_dvx("status", cwd=clone)
    assert status.code == 0 and name not in status.output, status.output
    for command in (("pull",), ("add", "one.txt"), ("checkout", "--force", "one.txt")):
        result = run_dvx(*command, cwd=clone)
        assert result.code == 0, result.output
        assert (clone / name).read_text() == "important notes\n", command
    assert git(clone, "status", "--porcelain") == ""
    removed = run_dvx("remove", "--outs", "one.txt.dvx", cwd=clone)
    assert removed.code == 0, removed.output
    assert (clone / name).read_text() == "important notes\n"


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
def test_a_file_git_tracks_inside_tracked_data_is_never_taken_for_a_temporary(tmp_path, force):
    """Inside a tracked folder too: a file named like a temporary of one of its files that
    Git's index holds is Git's, so `remove --outs` (of the folder as tracked, or forced on
    a clone's, never pulled) deletes the data around it and keeps it."""
    hostile = Hostile(tmp_path)
    write(hostile.origin / "data" / "f1", "one\n")
    assert run_dvx("add", "data", cwd=hostile.origin).code == 0
    assert run_dvx("push", cwd=hostile.origin).code == 0
    name = "data/.f1.dvx-0123456789ab.tmp"
    hostile.commit({name: "important notes\n"}, force=(name,))
    where = hostile.clone() if force else hostile.origin
    removed = run_dvx("remove", "--outs", *(["--force"] if force else []), "data.dvx",
                      cwd=where)
    assert removed.code == 0, removed.output
    assert (where / name).read_text() == "important notes\n"
    assert not (where / "data" / "f1").exists()
    assert f" D {name}" not in git(where, "status", "--porcelain")


def test_cleanup_spares_temporaries_a_live_process_holds(repo, tmp_path):
    from dvx.objects.cache import LocalCache

    cache = LocalCache(str(tmp_path / "cache"), "xxh128")
    held = _aged(tmp_path / "cache/tmp/.object.aaaaaaaaaaaa.tmp", "being written")
    young = write(tmp_path / "cache/tmp/.object.bbbbbbbbbbbb.tmp", "just started")
    stale = _aged(tmp_path / "cache/tmp/.object.cccccccccccc.tmp", "left by a kill")
    mine = _aged(tmp_path / "cache/tmp/object.tmp", "not dvx's pattern")
    holder = subprocess.Popen(
        ["python3", "-c", "import fcntl, sys, time\n"
         "f = open(sys.argv[1], 'rb'); fcntl.flock(f, fcntl.LOCK_EX)\n"
         "print('held', flush=True); time.sleep(60)", str(held)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        cache.remove_stale_temporaries()
    finally:
        holder.kill()
        holder.wait()
    assert held.exists() and young.exists() and mine.exists()
    assert not stale.exists()


def test_hooks_run_the_dvx_that_installed_them_from_the_repository_it_tracks_data_in(
        repo, tmp_path):
    """dvx's own source tree, installed editable (on the path by its top folder), tracking
    data in that same repository: Git's hooks import that dvx, the one `dvx install` ran,
    though they drop the top folder they start in, and nothing else of that folder."""
    source = Path(__file__).resolve().parent.parent / "dvx"
    shutil.copytree(source, repo / "dvx", ignore=shutil.ignore_patterns("__pycache__"))
    ran = tmp_path / "ran"
    with (repo / "dvx" / "__init__.py").open("a") as init:
        init.write(f"open({str(ran)!r}, 'a').write(__file__ + '\\n')\n")
    git(repo, "add", "dvx")
    git(repo, "commit", "-qm", "the tool's source")
    on_top = {"PYTHONPATH": str(repo)}  # what an editable install's .pth does
    assert run_dvx_proc("install", cwd=repo, env=on_top).code == 0
    write(repo / "data" / "a.txt", "a\n")
    assert run_dvx_proc("add", "-q", "data/a.txt", cwd=repo, env=on_top).code == 0
    ran.unlink()
    # a module of that folder the hook must not import (dvx itself would, run there)
    write(repo / "platform.py", f"open({str(tmp_path / 'platform')!r}, 'w').write('x')\n")
    git(repo, "add", "-A")
    committed = subprocess.run(["git", "commit", "-qm", "a"], cwd=repo, text=True,
                               capture_output=True, env={**os.environ, **on_top})
    assert committed.returncode == 0, committed.stderr
    assert ran.read_text() == f"{repo / 'dvx' / '__init__.py'}\n"  # the pre-commit hook's
    assert not (tmp_path / "platform").exists()


def test_the_merge_driver_runs_the_dvx_that_installed_it_from_a_folder_named_with_a_percent(
        repo, tmp_path):
    """Git expands %A, %O and the like anywhere in the merge driver's line: the folder of
    the dvx that ran `dvx install` holding a `%` in its name (`50%Aoff`) is still the one
    the driver imports dvx from."""
    home = tmp_path / "50%Aoff"
    shutil.copytree(Path(__file__).resolve().parent.parent / "dvx", home / "dvx",
                    ignore=shutil.ignore_patterns("__pycache__"))
    ran = tmp_path / "ran"
    with (home / "dvx" / "__init__.py").open("a") as init:
        init.write(f"import sys\nif 'merge-driver' in sys.argv: open({str(ran)!r}, 'w')\n")
    there = {"PYTHONPATH": str(home)}
    must = lambda *args: run_dvx_proc(*args, cwd=repo, env=there)  # noqa: E731
    assert must("install").code == 0
    write(repo / "data" / "a.txt", "a\n")
    assert must("add", "-q", "data/a.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    git(repo, "checkout", "-q", "-b", "other")
    write(repo / "data" / "b.txt", "b\n")
    assert must("add", "-q", "data/b.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "b")
    git(repo, "checkout", "-q", "main")
    write(repo / "data" / "c.txt", "c\n")
    assert must("add", "-q", "data/c.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "c")
    alone = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # found by its folder
    merged = subprocess.run(["git", "merge", "-q", "--no-edit", "other"], cwd=repo,
                            capture_output=True, text=True, env=alone)
    assert merged.returncode == 0, merged.stderr
    assert (repo / "data" / ".gitignore").read_text() == "/a.txt\n/c.txt\n/b.txt\n"
    assert ran.exists()  # the driver ran that dvx


def _modules_that_note_being_run(root: Path, canary: Path) -> None:
    """A `dvx/` package and a `platform.py` at the top of `root` (a hostile clone's, a
    project's own module) that write to `canary` if ever imported."""
    code = f"open({str(canary)!r}, 'a').write(__file__ + '\\n')\n"
    write(root / "dvx" / "__init__.py", code)
    write(root / "platform.py", code)


@pytest.mark.parametrize("start_on_path", ["", ":", ".:"])
def test_git_s_hooks_and_merge_driver_never_import_the_repository_s_modules(
        repo, tmp_path, monkeypatch, start_on_path):
    """Git runs dvx's hooks and merge driver in the repository's top folder: a committed
    `dvx/` or `platform.py` there is never imported by them, and they do their work; also
    when PYTHONPATH names that folder too, by an empty part (`export
    PYTHONPATH=$PYTHONPATH:/x` with it unset) or by `.`."""
    if start_on_path:
        dvx_home = str(Path(__file__).resolve().parent.parent)  # where this dvx comes from
        monkeypatch.setenv("PYTHONPATH", start_on_path + dvx_home)
    else:  # unset, as on a user's machine (tests/conftest.py sets it for the tests)
        monkeypatch.delenv("PYTHONPATH", raising=False)
    canary = tmp_path / "imported"
    _modules_that_note_being_run(repo, canary)
    must = lambda *args: run_dvx(*args, cwd=repo)  # noqa: E731
    assert must("install").code == 0
    write(repo / "data" / "a.txt", "a\n")
    assert must("add", "-q", "data/a.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")  # pre-commit
    git(repo, "checkout", "-q", "-b", "other")
    write(repo / "data" / "b.txt", "b\n")
    assert must("add", "-q", "data/b.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "b")
    git(repo, "checkout", "-q", "main")  # post-checkout removes b.txt
    assert not (repo / "data" / "b.txt").exists()
    write(repo / "data" / "c.txt", "c\n")
    assert must("add", "-q", "data/c.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "c")
    # both branches added a line to data/.gitignore: the merge driver merges it
    git(repo, "merge", "-q", "--no-edit", "other")
    assert (repo / "data" / "b.txt").read_text() == "b\n"  # post-merge placed it
    assert (repo / "data" / ".gitignore").read_text() == "/a.txt\n/c.txt\n/b.txt\n"
    assert not canary.exists(), canary.read_text()


def test_a_cloned_remote_name_remote_add_refuses_is_refused_and_no_hint_runs_what_it_holds(
        tmp_path):
    """A cloned .dvx/config may name a remote `s; touch PWNED`, which `remote add` refuses:
    it is refused before use, with a rename whose name is quoted for the shell, so the
    command pasted as printed renames it and runs nothing else; the hints naming a remote
    (Config.modify_command among them) quote it too."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    bad = "s; touch PWNED"
    hostile.commit({".dvx/config": f'[core]\nremote = {bad}\n[remote "{bad}"]\n'
                                   f"url = {hostile.remote}\njobs = 0\n"})
    clone = hostile.clone()
    pulled = run_dvx_proc("pull", cwd=clone)
    assert pulled.code == 1, pulled.output
    said = " ".join(pulled.stderr.split())
    assert said == (
        "ERROR: The remote name 's; touch PWNED' (.dvx/config) is not one dvx takes: a "
        "remote's name is letters, digits, '.', '_' and '-', starting with a letter or digit. "
        "Rename it with `dvx remote rename 's; touch PWNED' NEW_NAME`, and commit "
        ".dvx/config."), pulled.output
    assert not (clone / "data.bin").exists()
    pasted = re.search(r"`dvx (remote rename .*?)`", said)
    assert pasted is not None
    command = pasted.group(1).replace("NEW_NAME", "st")
    subprocess.run(["bash", "-c", f"{sys.executable} -m dvx {command}"], cwd=clone, check=True)
    assert not (clone / "PWNED").exists()
    assert '[remote "st"]' in (clone / ".dvx" / "config").read_text()
    from dvx.config import Config

    assert Config(str(hostile.origin / ".dvx")).modify_command(bad) == (
        "dvx remote modify 's; touch PWNED'")


def test_a_cloned_remote_name_starting_with_a_dash_is_named_after_double_dash_in_each_hint(
        tmp_path):
    """A cloned .dvx/config may name a remote `-x`, which `remote add` refuses and which a
    command line takes for an option: each hint naming it puts it after `--` (the command's
    own options before), so that the command pasted as printed acts on that remote."""
    hostile = Hostile(tmp_path)
    tracked_file(hostile, "data.bin", b"data")
    hostile.commit({".dvx/config": f'[core]\nremote = -x\n[remote "-x"]\n'
                                   f"url = {hostile.remote}\njobs = 2\n"})
    clone = hostile.clone()
    (clone / ".dvx" / "config.local").write_text(f'[remote "-x"]\nurl = {tmp_path / "mine"}\n')

    def hints_of(*args: str) -> list[str]:
        ran = run_dvx_proc(*args, cwd=clone)
        assert ran.code != 0 or "still defines" in ran.stderr, (args, ran.output)
        return re.findall(r"`dvx ([^`]*)`", " ".join(ran.stderr.split()))

    assert hints_of("pull") == ["remote rename --local -- -x NEW_NAME"]
    assert hints_of("remote", "modify", "--local", "--unset", "--", "-x", "jobs") == [
        "remote modify --project --unset -- -x jobs"]
    assert hints_of("remote", "modify", "--global", "--", "-x", "jobs", "4") == [
        "remote modify --project -- -x jobs VALUE"]
    assert hints_of("remote", "modify", "--", "-x", "pack_size", "5") == [
        "remote modify -- -x pack_size BYTES"]
    assert hints_of("remote", "modify", "--unset", "--", "-x", "url") == [
        "remote remove -- -x", "remote modify -- -x url URL"]
    assert hints_of("remote", "remove", "--global", "--", "-x") == [
        "remote remove --local -- -x"]
    assert hints_of("remote", "remove", "--local", "--", "-x") == [
        "remote remove --project -- -x"]  # still defined there: removed, as the hint says
    subprocess.run(["bash", "-c", f"{sys.executable} -m dvx remote remove --project -- -x"],
                   cwd=clone, check=True, capture_output=True)
    assert "-x" not in (clone / ".dvx" / "config").read_text()
    from dvx.config import Config

    assert Config(str(hostile.origin / ".dvx")).modify_command("-x") == (
        "dvx remote modify -- -x")


def test_a_cloned_remote_name_holding_braces_is_named_whole_by_remove_and_rename(tmp_path):
    """A cloned .dvx/config may name a remote `a{b}`: remove and rename at a level that does
    not define it are refused with a hint naming the remote as it is, never a crash."""
    hostile = Hostile(tmp_path)
    hostile.commit({".dvx/config": f'[remote "a{{b}}"]\nurl = {hostile.remote}\n'})
    clone = hostile.clone()

    removed = run_dvx_proc("remote", "remove", "--local", "a{b}", cwd=clone)
    assert removed.code == 2, removed.output
    assert " ".join(removed.stderr.split()) == (
        "ERROR: Remote 'a{b}' is defined in the project config, not in the local config. "
        "Remove it there with `dvx remote remove --project 'a{b}'`.")
    renamed = run_dvx_proc("remote", "rename", "--global", "a{b}", "ab", cwd=clone)
    assert renamed.code == 2, renamed.output
    assert " ".join(renamed.stderr.split()) == (
        "ERROR: Remote 'a{b}' is defined in the project config, not in the global config. "
        "Rename it there with `dvx remote rename --project 'a{b}' ab`.")
    assert '[remote "a{b}"]' in (clone / ".dvx" / "config").read_text()


HOSTILE_NAME = "-x; touch PWNED"


def _hints_naming_a_remote(name: str, tmp_path: Path) -> list[str]:
    """The hints that name the remote `name`, from each place that writes one, given that
    name as a cloned config could hold it."""
    from dvx.cli.sync import _repair_advice
    from dvx.errors import DvxError
    from dvx.remote.backends import (
        backend_for,
        credentials_commands,
        host_key_refusal,
        seconds_option,
    )
    from dvx.remote.fs import (
        _unreadable_option_file,
        check_settings,
        keyfile_needs_agent,
        login_refused,
        no_credentials,
        refuse_private_directory,
    )
    from dvx.remote.repack import repair_advice
    from dvx.remote.ssh import KeyfileNeedsAgent

    def hint_of(raising: Callable[[], object]) -> str:
        with pytest.raises(DvxError) as caught:
            raising()
        return caught.value.hint or ""

    class HostKeyNotVerifiable(Exception):
        pass

    unreadable = PermissionError(13, "Permission denied", str(tmp_path / "key"))
    refused = host_key_refusal(HostKeyNotVerifiable(), "ssh://127.0.0.1:9/x",
                               {"known_hosts": str(tmp_path / "none")}, name)
    assert refused is not None
    return [
        hint_of(lambda: refuse_private_directory(str(tmp_path / ".git"), "remote", name)),
        _unreadable_option_file("remote", name, unreadable, "keyfile", "keyfile").hint or "",
        no_credentials("remote", name, "none", "s3://bucket/x").hint or "",
        no_credentials("remote", name, "none", "azure://c/x").hint or "",
        login_refused("remote", PermissionError("refused"), backend_for("ssh://h/x"), name,
                      "ssh://h/x").hint or "",
        keyfile_needs_agent("remote", KeyfileNeedsAgent("k", "no agent", "Start one"),
                            name).hint or "",
        hint_of(lambda: check_settings({"pack_size": "1"}, name)),
        hint_of(lambda: seconds_option({"timeout": "soon"}, "timeout", 1.0, name)),
        credentials_commands(backend_for("s3://bucket/x"), name),
        refused.hint or "",
        repair_advice(name),
        _repair_advice(name),
    ]


def test_every_hint_naming_a_remote_gives_its_name_as_one_argument_to_paste(tmp_path):
    """A cloned config may name a remote `-x; touch PWNED`, refused before use; should a
    command ever reach a hint without that check, each `dvx ...` it gives still names the
    remote as one argument, never an option (after `--`, or as an option's value), and runs
    nothing else when pasted."""
    import shlex

    for hint in _hints_naming_a_remote(HOSTILE_NAME, tmp_path):
        commands = [c for c in re.findall(r"`(dvx [^`]*)`", hint) if "PWNED" in c]
        assert commands, hint
        for command in commands:
            words = shlex.split(command)
            assert HOSTILE_NAME in words, command
            at = words.index(HOSTILE_NAME)
            assert words[at - 1] in ("-r", "--remote") or "--" in words[:at], command


def test_a_hint_unsetting_an_option_of_a_remote_named_with_a_dash_gets_its_level(tmp_path):
    """The level flag a hint gets for a remote config.local defines goes before `--unset`,
    which goes before the `--` ahead of a name starting with '-'."""
    from dvx.config import Config
    from dvx.ops.remote import _at_its_level
    from dvx.remote.fs import keyfile_needs_agent
    from dvx.remote.ssh import KeyfileNeedsAgent

    write(tmp_path / ".dvx" / "config.local", '[remote "-x"]\nurl = ssh://h/x\nkeyfile = k\n')
    hint = keyfile_needs_agent("remote", KeyfileNeedsAgent("k", "no agent", "Start one"),
                               "-x").hint
    assert _at_its_level(hint, Config(str(tmp_path / ".dvx")), "-x", {"keyfile": "local"}) == (
        "Start one, or drop the option to log in with the agent's other keys and those of "
        "~/.ssh: `dvx remote modify --local --unset -- -x keyfile`.")


def test_a_pointer_inside_a_path_a_file_pointer_tracks_is_named_as_inside_a_file(
        tmp_path, repo, dvx):
    """A commit holding 'data.txt/y.dvx' beside 'data.txt.dvx', which tracks a file: the
    overlap says the first tracks a file there, never a folder it tracks whole."""
    write(repo / "data.txt", "hello\n")
    assert dvx("add", "data.txt").code == 0
    git(repo, "add", "-A")
    blob = git(repo, "hash-object", "-w", "data.txt.dvx").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},data.txt/y.dvx")
    git(repo, "commit", "-qm", "pointer inside a path a file pointer tracks")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    said = " ".join(dvx("status", cwd=clone).output.split())
    assert ("the second tracks 'data.txt/y', inside 'data.txt', which the first tracks as a "
            "file, so it cannot be a folder holding it") in said, said
    assert "the folder 'data.txt'" not in said


def test_a_pointer_s_data_a_dvx_lock_stage_no_dvx_yaml_declares_records_names_that_entry(
        repo, dvx):
    """dvx.lock records a stage's output that a pointer tracks, and there is no dvx.yaml:
    the way out names the dvx.lock entry, never an output of dvx.yaml to remove."""
    write(repo / "data.txt", "hello\n")
    assert dvx("add", "data.txt").code == 0
    oid = xxhash.xxh3_128_hexdigest(b"hello\n")
    write(repo / "dvx.lock", "dvx: 1\nalgo: xxh128\nstages:\n  ghost:\n    cmd: echo\n"
          f"    outs:\n    - path: data.txt\n      oid: {oid}\n      size: 6\n")
    said = " ".join(dvx("status").output.split())
    assert "Keep 'data.txt.dvx': take stage 'ghost' from dvx.lock, which no dvx.yaml " \
        "declares: restore dvx.lock from Git (`git checkout -- dvx.lock`) if it was changed " \
        "here, or delete the stage's entry from it." in said, said
    assert "from dvx.yaml" not in said
    assert "dvx remove" not in said, said  # no pull brings back what only the entry records


@pytest.mark.parametrize("declared", [False, True])
def test_a_pointer_s_data_a_dvx_lock_stage_dvx_yaml_lacks_records_names_that_entry(
        repo, dvx, declared):
    """dvx.lock records a stage's output that a pointer tracks, and dvx.yaml declares other
    stages but not that one: the one way out is `dvx repro`, which drops that entry, never an
    output of dvx.yaml to remove, nor the pointer, whose removal would leave the stages
    reading that gone stage's output in place of the pointer's data; where dvx.yaml declares
    the stage, either goes."""
    write(repo / "data.txt", "hello\n")
    assert dvx("add", "data.txt").code == 0
    oid = xxhash.xxh3_128_hexdigest(b"hello\n")
    write(repo / "dvx.lock", "dvx: 1\nalgo: xxh128\nstages:\n  ghost:\n    cmd: echo\n"
          f"    outs:\n    - path: data.txt\n      oid: {oid}\n      size: 6\n")
    stages = ("other", "ghost") if declared else ("other",)
    write(repo / "dvx.yaml", "stages:\n" + "".join(
        f"  {name}:\n    cmd: echo > {name}.txt\n    outs: [{name}.txt]\n" for name in stages))
    said = " ".join(dvx("status").output.split())
    assert "'data.txt' is tracked twice: by 'data.txt.dvx' and as an output of stage 'ghost' " \
        "in dvx.lock" in said, said
    if declared:
        assert "Remove one: `dvx remove data.txt.dvx`, or the output from dvx.yaml." in said, said
        return
    assert "Keep 'data.txt.dvx': run `dvx repro`, which drops the entry of stage 'ghost' " \
        "left in dvx.lock that dvx.yaml does not declare, and the `git add` it names." \
        in said, said
    assert "from dvx.yaml" not in said
    assert "dvx remove" not in said, said


def test_git_s_file_at_an_output_only_dvx_lock_names_is_given_the_way_that_drops_that_entry(
        repo, dvx):
    """dvx.lock still records stage 'ghost', gone from dvx.yaml, and Git's index holds its
    output: status and checkout name `dvx repro`, which drops that entry, never an output
    path in dvx.yaml, which holds no such stage; following it leaves the file to Git."""
    write(repo / "dvx.yaml", "stages:\n  ghost:\n    cmd: echo gen > out.txt\n"
          "    outs: [out.txt]\n  real:\n    cmd: echo r > r.txt\n    outs: [r.txt]\n")
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", "stages:\n  real:\n    cmd: echo r > r.txt\n    outs: [r.txt]\n")
    write(repo / "out.txt", "code\n")
    git(repo, "add", "-f", "out.txt")
    said = " ".join(dvx("status").output.split())
    checkout = dvx("checkout", "--force")
    for text in (said, " ".join(checkout.output.split())):
        assert "to leave 'out.txt' to Git alone, run `dvx repro`, which drops the entry of " \
            "stage 'ghost' left in dvx.lock that dvx.yaml does not declare, and the `git add` " \
            "it names" in text, text
        assert "another output path" not in text, text
    assert dvx("repro").code == 0
    assert "tracked by Git too" not in dvx("status").output
    assert (repo / "out.txt").read_text() == "code\n"


def _refused_path_on_default_branch(origin: Path) -> None:
    """Commit on `origin`'s branch a tree holding 'dir/../evil.txt', a path Git refuses to
    check out (made with plumbing: no porcelain command writes one)."""
    def plumbing(args: list[str], text: str) -> str:
        return subprocess.run(["git", *args], cwd=origin, input=text, capture_output=True,
                              text=True, check=True).stdout.strip()

    blob = plumbing(["hash-object", "-w", "--stdin"], "EVIL\n")
    inner = plumbing(["mktree"], f"100644 blob {blob}\tevil.txt\n")
    folder = plumbing(["mktree"], f"040000 tree {inner}\t..\n100644 blob {blob}\tok.txt\n")
    root = plumbing(["mktree"], git(origin, "ls-tree", "HEAD") + f"040000 tree {folder}\tdir\n")
    commit = plumbing(["commit-tree", root, "-p", "HEAD", "-m", "hostile"], "")
    git(origin, "update-ref", "refs/heads/main", commit)


def test_a_source_whose_default_branch_holds_a_path_git_refuses_is_read_never_written(
        tmp_path):
    """A source whose default branch holds 'dir/../evil.txt' is read from Git's objects, at
    that branch and at a --rev of a clean commit, and the refused path is written nowhere;
    no message sends the user to delete the clone, which would change nothing."""
    origin = make_git_repo(tmp_path / "origin")
    assert run_dvx("init", cwd=origin).code == 0
    write(origin / "keep.txt", "ok\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "clean")
    write(origin / "keep.txt", "ok 2\n")
    git(origin, "commit", "-qam", "clean again")
    _refused_path_on_default_branch(origin)
    reader = tmp_path / "reader"
    reader.mkdir()
    source = f"file://{origin}/.git"
    for args, expected in ((("--rev", "main~2", "-o", "k1"), "ok\n"),
                           ((), "ok 2\n"), (("--rev", "main~1", "-o", "k2"), "ok 2\n")):
        got = run_dvx("get", source, "keep.txt", *args, cwd=reader)
        assert got.code == 0 and "Delete the clone" not in got.output, got.output
        name = args[-1] if args else "keep.txt"
        assert (reader / name).read_text() == expected
    written = [p for p in tmp_path.rglob("*") if p.name == "evil.txt"]
    assert written == [], written


def test_a_pointer_overlapping_an_output_only_dvx_lock_names_is_given_repro_as_the_way_out(
        repo, dvx):
    """A folder's pointer holds the output of stage 'ghost', which dvx.lock still records
    and dvx.yaml no longer declares: the overlap's way out that keeps the folder is
    `dvx repro`, which drops that entry, never `dvx stage remove` of a stage dvx.yaml lacks;
    keeping the stage's output is no way out, as no pull brings it back."""
    write(repo / "data" / "keep", "kept\n")
    write(repo / "dvx.yaml", "stages:\n  ghost:\n    cmd: echo gen > data/res\n"
          "    outs: [data/res]\n")
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", "stages:\n  other:\n    cmd: echo o > o.txt\n    outs: [o.txt]\n")
    shutil.copytree(repo / "data", repo / "copy")
    assert dvx("add", "copy").code == 0
    os.replace(repo / "copy.dvx", repo / "data.dvx")
    said = " ".join(dvx("status").output.split())
    assert "Keep 'data': `dvx repro`, which drops the entry of stage 'ghost' left in dvx.lock " \
        "that dvx.yaml does not declare, and the `git add` it names, then `dvx pull --force " \
        "data`." in said, said
    assert "stage remove" not in said, said
    assert "Or keep 'data/res'" not in said, said  # no pull brings back a gone stage's output
