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
    (f"dvx: 1.0\ntype: file\nalgo: xxh128\noid: {OID}\nsize: 5\n", "no valid 'dvx: 1'"),
    (f"dvx: !!float 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: 5\n", "no valid 'dvx: 1'"),
    (f"dvx: true\ntype: file\nalgo: xxh128\noid: {OID}\nsize: 5\n", "no valid 'dvx: 1'"),
    (f"dvx: 1\ntype: link\nalgo: xxh128\noid: {OID}\nsize: 5\n", "invalid type"),
    (f"dvx: 1\ntype: file\nalgo: md5\noid: {OID}\nsize: 5\n", "unknown hash"),
    (f"dvx: 1\ntype: file\noid: {OID}\nsize: 5\n", r"has no 'algo:' line \(its oid's hash"),
    (f"dvx: 1\ntype: file\nalgo:\noid: {OID}\nsize: 5\n", "has an empty 'algo:' line"),
    (f"dvx: 1\nalgo: xxh128\noid: {OID}\nsize: 5\n", r"has no 'type:' line \(file or dir\)"),
    ("dvx: 1\ntype: file\nalgo: xxh128\nsize: 5\n", r"has no 'oid:' line \(the hash of"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\n", r"has no 'size:' line \(its size"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize:\n", "has an empty 'size:' line"),
    (f"dvx: 1\ntype: dir\nalgo: xxh128\noid: {OID}.dir\nsize: 5\n",
     r"has no 'nfiles:' line \(its number of files\)"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID.upper()}\nsize: 5\n", "Invalid xxh128"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: -1\n", "size"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: true\n", "size"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: {2**63}\n", "size"),
    (f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: 99999999999999999999999\n", "size"),
    (f"dvx: 1\ntype: dir\nalgo: xxh128\noid: {OID}\nsize: 5\nnfiles: {2**64}\n", "nfiles"),
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


HEADER_LINE = "# dvx pointer: the data it names lives in the dvx cache and remotes, not in Git.\n"
BODY = f"dvx: 1\ntype: file\nalgo: xxh128\noid: {OID}\nsize: 5\n"


@pytest.mark.parametrize("text", [
    HEADER_LINE + BODY,
    HEADER_LINE + BODY + "exec: true\n",
    HEADER_LINE + BODY.replace("type: file", "type: dir") + "nfiles: 0\n",
    HEADER_LINE + BODY.replace(OID, '"' + "1" * 32 + '"'),
    HEADER_LINE + BODY.replace(OID, "1" * 32),            # YAML: an integer
    HEADER_LINE + BODY.replace(OID, "0b" + "10" * 15),    # YAML: an integer in base 2
    HEADER_LINE + BODY.replace(OID, f"'{OID}'"),
    HEADER_LINE + BODY.replace("size: 5", "size: 010"),   # YAML: octal
    HEADER_LINE + BODY.replace("size: 5", "size: 1_0"),
    HEADER_LINE + BODY.replace("size: 5", f"size: {2**63 - 1}"),  # the largest size
    HEADER_LINE + BODY.replace("type: file", "type: yes"),
    HEADER_LINE + BODY + "exec: yes\n",
    HEADER_LINE + BODY + "size: 6\n",                     # a repeated key
    HEADER_LINE + BODY.replace("\n", "\r\n"),
    HEADER_LINE + BODY.rstrip("\n"),
    HEADER_LINE + "dvx: 1\n",
    BODY,
])
def test_the_quick_reading_agrees_with_yaml_or_leaves_the_file_to_it(text):
    """Pointers in dvx's own layout are read without PyYAML; anything else must go to it."""
    from dvx.pointer import _parse_canonical
    from dvx.yamlio import YAML_1_1, parse_yaml

    data = text.encode()
    quick = _parse_canonical(data)
    if quick is not None:
        assert quick == parse_yaml(data, "pointer", version=YAML_1_1)


@pytest.mark.parametrize("oid", ["1" * 32, "0b" + "01" * 15, "0b" + "2" * 30, OID])
def test_oids_that_yaml_would_read_as_numbers_round_trip(oid):
    from dvx.pointer import _parse_canonical

    pointer = Pointer("file", "xxh128", oid, 5)
    assert parse_pointer(pointer.to_bytes(), "x.dvx") == pointer
    assert _parse_canonical(pointer.to_bytes()) is not None  # dvx's own layout: the quick path


@pytest.mark.parametrize("oid", ["70392752177682696296731627434175",
                                 "00000000000000000000000000000012",  # YAML 1.1: octal 10
                                 "0b" + "01" * 15])
def test_an_oid_written_unquoted_is_its_text_never_a_number(oid):
    """formats.md, pointer rule 4: written as its template shows (`oid: <oid>`, no quotes),
    an oid YAML would read as a number is still the text of the scalar. A key `oid` inside
    `meta` is the user's, and keeps its YAML value."""
    text = f"dvx: 1\ntype: file\nalgo: xxh128\noid: {oid}\nsize: 5\nmeta:\n  oid: 012\n"
    pointer = parse_pointer(text.encode(), "x.dvx")
    assert pointer.oid == oid and pointer.meta == {"oid": 10}


def test_yaml_1_1_line_breaks_in_desc_and_meta_read_back_as_written():
    """NEL, U+2028 and U+2029 would be folded to a space if written raw in a quoted scalar."""
    odd = "a\x85b\u2028c\u2029d"
    pointer = Pointer("file", "xxh128", OID, 5, desc=odd, meta={odd: [odd]})
    again = parse_pointer(pointer.to_bytes(), "x.dvx")
    assert again.desc == odd and again.meta == {odd: [odd]}
    assert again.to_bytes() == pointer.to_bytes()
