"""dvx.lock's bytes: a writer that encodes only the entries that changed (as `repro` writes the
file after every stage) gives exactly the bytes of one dump of the whole document, whatever
the names and values hold, and they read back as written."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from dvx.errors import FormatError
from dvx.lockfile import (
    HEADER,
    LockedPath,
    LockWriter,
    StageLock,
    encode_lock,
    entry_document,
    parse_lock,
    read_lock,
)
from dvx.yamlio import safe_dumper

OID = "0" * 32
# Strings PyYAML quotes, folds or breaks in different ways: line breaks of every kind YAML
# knows, blank lines, leading and trailing blanks, indicators, words YAML 1.1 reads as other types.
ODD = ["a", "a b", "a\nb", "a\n\nb", " lead", "trail ", "x: y", "#c", "'q'", '"dq"', "é ü",
       "\u2028x", "\u2029", "a\tb", "yes", "null", "1e3", "- x", "a\n", "\n", "  \n  x\n",
       "x\r\ny", "ø\x85z", "{a}", "[1]", "a" * 200 + " " + "b" * 100]
DEPS = ["data/a.csv", "x y/é ü", "#c", "'q'"]  # valid paths, apart from OUTS
OUTS = ["[1]", "yes", "null", "trail "]


def whole_dump(stages: dict[str, StageLock]) -> bytes:
    """The reference: the whole document built first and dumped once."""
    doc = {"dvx": 1, "algo": "xxh128",
           "stages": {name: entry_document(stages[name]) for name in sorted(stages)}}
    return (HEADER + yaml.dump(doc, Dumper=safe_dumper(), sort_keys=False, allow_unicode=True,
                               default_flow_style=False, width=1 << 30, indent=2)
            ).encode("utf-8")


def random_stages(rng: random.Random) -> dict[str, StageLock]:
    def text() -> str:
        return rng.choice(ODD) + rng.choice(["", str(rng.randint(0, 9))])

    def value(depth: int = 0) -> Any:
        kind = rng.randint(0, 5 if depth < 2 else 3)
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if kind == 5:
            return {text(): value(depth + 1) for _ in range(rng.randint(0, 3))}
        return [text(), rng.randint(-5, 10 ** 12), rng.random(), rng.choice([True, None])][kind]

    def paths(names: list[str]) -> tuple[LockedPath, ...]:
        return tuple(path(name, names is OUTS) for name in rng.sample(names, rng.randint(0, 2)))

    def path(name: str, is_out: bool) -> LockedPath:
        return LockedPath(name, OID, rng.randint(0, 99), rng.choice([None, 3]),
                          is_out and rng.random() < .3, not is_out or rng.random() < .8,
                          not is_out or rng.random() < .8,
                          rng.choice([None, "r", text()]) if is_out else None)

    return {text(): StageLock(tuple(text() for _ in range(rng.randint(1, 2))), paths(DEPS),
                              {name: {text(): value()} for name in rng.sample(DEPS, 2)},
                              paths(OUTS))
            for _ in range(rng.randint(0, 4))}


def test_entries_encoded_one_by_one_give_the_bytes_of_one_whole_dump():
    rng = random.Random(7)
    for _ in range(800):
        stages = random_stages(rng)
        assert encode_lock(stages, "xxh128") == whole_dump(stages)


def test_every_command_path_and_param_reads_back_as_written():
    """NEL, U+2028 and U+2029 included: YAML 1.1 folds them to a space in a quoted scalar."""
    rng = random.Random(5)
    for _ in range(300):
        stages = random_stages(rng)
        again = parse_lock(encode_lock(stages, "xxh128"), "xxh128")
        assert set(again) == set(stages)
        for name, lock in stages.items():
            assert again[name].cmd == lock.cmd and again[name].params == lock.params
            assert {p.path for p in again[name].outs} == {p.path for p in lock.outs}


def test_a_writer_that_remembers_entries_still_writes_what_changed(tmp_path):
    rng = random.Random(11)
    writer = LockWriter(str(tmp_path), "xxh128", fsync=False)
    stages: dict[str, StageLock] = {}
    for step in range(150):
        name = rng.choice(["prepare", "train", "evaluate", "a\nb"])
        changed = random_stages(rng)
        if changed and step % 7:
            stages[name] = next(iter(changed.values()))
        elif name in stages:
            del stages[name]
        writer.write(stages)
        data = (tmp_path / "dvx.lock").read_bytes()
        assert data == whole_dump(stages)
        assert set(parse_lock(data, "xxh128")) == set(stages)


def test_read_lock_hands_each_caller_its_own_stages_and_reads_a_changed_file_anew(tmp_path):
    """dvx.lock is parsed once for the same bytes (a command reads it in several places): a
    caller changing the stages it got changes no other caller's, and a file rewritten, to the
    same size even, is read as it is now."""
    def stage(cmd: str) -> StageLock:
        return StageLock((cmd,), (), {"params.yaml": {"lr": 1}},
                         (LockedPath("out.txt", OID, 3),))

    LockWriter(str(tmp_path), "xxh128", fsync=False).write({"a": stage("make a"),
                                                           "b": stage("make b")})
    first = read_lock(str(tmp_path), "xxh128")
    del first["a"]
    first["c"] = stage("make c")
    assert read_lock(str(tmp_path), "xxh128") == {"a": stage("make a"), "b": stage("make b")}
    path = tmp_path / "dvx.lock"
    path.write_bytes(path.read_bytes().replace(b"make b", b"make B"))
    assert read_lock(str(tmp_path), "xxh128")["b"] == stage("make B")


def test_an_oid_written_unquoted_is_its_text_never_a_number():
    """As in pointers (formats.md): an oid of decimal digits written without quotes is the
    text of the scalar, not an integer (nor YAML 1.1's octal); a param named `oid` keeps its
    value."""
    digits, octal = "70392752177682696296731627434175", "00000000000000000000000000000012"
    data = (HEADER + "dvx: 1\nalgo: xxh128\nstages:\n  s:\n    cmd: make\n    deps:\n"
            f"    - path: in\n      oid: {octal}\n      size: 1\n    params:\n"
            "      params.yaml:\n        oid: 012\n    outs:\n"
            f"    - path: out\n      oid: {digits}\n      size: 8\n").encode()
    stage = parse_lock(data, "xxh128")["s"]
    assert [d.oid for d in stage.deps] == [octal] and [o.oid for o in stage.outs] == [digits]
    assert stage.params == {"params.yaml": {"oid": 10}}


def test_stages_holding_anything_but_a_mapping_is_refused_never_read_as_no_entries():
    """`stages: {}` (or nothing under `stages:`) is a dvx.lock without entries; `[]`, `false`,
    `0` or `''` is a broken one, refused as `stages: 5` is."""
    head = HEADER + "dvx: 1\nalgo: xxh128\n"
    for empty in ("stages: {}\n", "stages:\n", ""):
        assert parse_lock((head + empty).encode(), "xxh128") == {}
    for value in ("[]", "false", "no", "0", "''", "5", "[s]"):
        with pytest.raises(FormatError, match="'stages' is not a mapping"):
            parse_lock((head + f"stages: {value}\n").encode(), "xxh128")
