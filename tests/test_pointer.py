import pytest

from dvx.errors import FormatError
from dvx.pointer import Pointer, parse_pointer

OID = "b5e9c1ad071b3e7fc779cfaa5e523818"


def test_canonical_encoding_round_trips_byte_for_byte():
    pointer = Pointer("dir", "xxh128", OID, 1234, nfiles=3, desc='cats "and" dogs',
                      meta={"owner": "ml-team", "tags": ["a", "b"]})
    data = pointer.to_bytes()
    again = parse_pointer(data, "x.dvx")
    assert again == pointer and again.meta == pointer.meta
    assert again.to_bytes() == data


def test_file_pointer_layout_is_stable():
    data = Pointer("file", "xxh128", OID, 5, executable=True).to_bytes().decode()
    assert data.splitlines()[1:] == ["dvx: 1", "type: file", "algo: xxh128", f"oid: {OID}",
                                     "size: 5", "exec: true"]


@pytest.mark.parametrize("text, message", [
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: 5\nfuture: 1\n", "unknown keys"),
    (f"dvx: 2\ntype: file\nalgo: xxh128\noid: {OID}\nsize: 5\n", "newer dvx"),
    (f"dvx: 1\ntype: link\nalgo: xxh128\noid: {OID}\nsize: 5\n", "invalid type"),
    (f"dvx: 1\ntype: file\nalgo: md5\noid: {OID}\nsize: 5\n", "unknown hash"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID.upper()}\nsize: 5\n", "Invalid xxh128"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: -1\n", "size"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: true\n", "size"),
    (f"dvx: 1\ntype: dir\nalgo: xxh128\noid: {OID}\nsize: 5\n", "nfiles"),
    ("- a list\n", "not a YAML mapping"),
    ("dvx: 1\noid: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("a: &x [1]\nb: *x\n", "anchors"),
    ("x: " + "[" * 100 + "]" * 100 + "\n", "nested"),
    ("dvx: 1\n" + "#" * 70000 + "\n", "larger than"),
])
def test_invalid_pointers_are_rejected_with_a_reason(text, message):
    with pytest.raises(FormatError, match=message):
        parse_pointer(text.encode(), "bad.dvx")
