"""The names dvx gives what it writes in a store (dvx/objects/layout.py, docs/formats.md):
each folder's rule takes every name dvx writes there, and none of the files others put
beside them."""

from __future__ import annotations

import pytest

from dvx.objects import layout

OID = "0123456789abcdef0123456789abcdef"
HEX16 = "0123456789abcdef"


@pytest.mark.parametrize("name, ours", [
    (f"files/xxh128/01/{OID[2:]}", True),
    (f"files/xxh128/01/.{OID[2:]}.x1y2.tmp", False),  # a temporary
    ("files/xxh128/01/README", False),
    (f"files/xxh128/01/{OID[2:]}/x", False),
    (f"files/sha256/01/{OID[2:]}", False),  # another algorithm's folder
    ("files/README", False),
    ("files/", False),
])
def test_an_object_s_name_is_its_oid_split_under_its_algorithm(name, ours):
    assert (layout.oid_of(name, "xxh128") == OID) is ours
    assert layout.is_upload_name(name, "xxh128") is ours


def test_pack_index_log_lock_and_probe_names_are_those_dvx_writes():
    assert layout.is_pack_name(f"{OID}.pack", "xxh128")
    assert layout.is_index_name(f"{OID}.idx", "xxh128")
    assert layout.is_log_name(layout.log_name(1_700_000_000, HEX16))
    assert layout.lock_kind_and_time(layout.lock_name("gc", 1_700_000_000, HEX16)) == (
        "gc", 1_700_000_000.0)
    assert layout.lock_kind_and_time(layout.lock_name("mirror", 1_700_000_000, HEX16)) == (
        "mirror", 1_700_000_000.0)  # a newer dvx's kind is still a lock
    assert layout.is_probe_name(layout.probe_name(HEX16))
    for suffix, rule in ((".pack", layout.is_pack_name), (".idx", layout.is_index_name)):
        for other in ("", "README", suffix, f"{OID}{suffix}.tmp", f"{OID.upper()}{suffix}",
                      f"{OID[:-1]}{suffix}", f"{OID}.txt"):
            assert not rule(other, "xxh128")
    for other in ("README", "notes.log", f"1700000000-{HEX16}.log.bak", f"170000000-{HEX16}.log"):
        assert not layout.is_log_name(other)
    for other in ("README", "notes.lock", "backup-1700000000.lock", f"gc-17-{HEX16}.lock"):
        assert layout.lock_kind_and_time(other) is None
    assert not layout.is_probe_name("clock-notes.probe")


@pytest.mark.parametrize("name, ours", [
    (f"packs/{OID}.pack", True), (f"indexes/{OID}.idx", True),
    (f"logs/push/1700000000-{HEX16}.log", True), (f"locks/push-1700000000-{HEX16}.lock", True),
    (f"locks/clock-{HEX16}.probe", True), (f"runs/xxh128/{OID}/{OID}", True),
    ("packs/notes.pack", False), (f"backups/{OID}.pack", False),
    ("backups/nightly-db-dump.tar", False), ("logs/push/notes.log", False),
    (f"logs/pull/1700000000-{HEX16}.log", False), ("locks/notes.lock", False),
    (f"runs/sha256/{OID}/{OID}", False), (f"runs/xxh128/{OID}/README", False),
])
def test_only_a_name_dvx_writes_is_an_upload_of_dvx_s(name, ours):
    assert layout.is_upload_name(name, "xxh128") is ours
