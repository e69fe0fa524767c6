import json

import pytest

from dvx.errors import FormatError, NewerFormatError
from dvx.hashing import hash_bytes
from dvx.objects.tree import LeftOut, Tree, TreeEntry

A = "0" * 32
B = "1" * 32


def _manifest(rows, header=None):
    header = header or {"algo": "xxh128", "format": "dvx-tree", "version": 1}
    lines = [json.dumps(header, sort_keys=True, separators=(",", ":"))]
    lines += [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows]
    data = ("\n".join(lines) + "\n").encode()
    return data, hash_bytes(data)


def test_same_content_same_bytes_whatever_the_order():
    t1 = Tree.build("xxh128", [TreeEntry("b", B, 1), TreeEntry("a/x", A, 2, True)])
    t2 = Tree.build("xxh128", [TreeEntry("a/x", A, 2, True), TreeEntry("b", B, 1)])
    assert t1.to_bytes() == t2.to_bytes()
    assert t1.oid() == hash_bytes(t1.to_bytes())
    assert Tree.from_bytes(t1.to_bytes(), "xxh128", t1.oid()) == t1
    assert (t1.size, t1.nfiles) == (3, 2)


def test_non_ascii_names_round_trip():
    tree = Tree.build("xxh128", [TreeEntry("ñandú/ü 1.png", A, 1)])
    assert Tree.from_bytes(tree.to_bytes(), "xxh128", tree.oid()) == tree


def test_encoding_is_exactly_json_lines():
    """to_bytes writes each line itself, faster than json.dumps: it must give the same bytes
    for any name, including quotes, control characters and characters outside the BMP."""
    names = ['plain', 'quote"d', "tab\there", "ctl\x01\x7f", "line\u2028sep", "emoji 🐍",
             "ñandú/ü 1.png", "ab:c/d;e"]
    entries = [TreeEntry(name, A, 10 ** i, i % 2 == 0) for i, name in enumerate(names)]
    tree = Tree.build("xxh128", entries)
    data, _ = _manifest([[e.path, e.oid, e.size, e.executable] for e in tree.entries])
    assert tree.to_bytes() == data


def test_names_with_a_colon_after_the_first_character_are_ordinary():
    tree = Tree.build("xxh128", [TreeEntry("logs/12:30.txt", A, 1), TreeEntry("ab:c", B, 2)])
    assert Tree.from_bytes(tree.to_bytes(), "xxh128", tree.oid()) == tree


def test_a_folder_named_like_a_pointer_file_is_data_but_a_file_so_named_is_refused():
    """Only a file whose name ends in `.dvx` is never data inside a tracked directory
    (formats.md): `dvx commit` would refuse it there."""
    tree = Tree.build("xxh128", [TreeEntry("d.dvx/f", A, 1)])
    assert Tree.from_bytes(tree.to_bytes(), "xxh128", tree.oid()) == tree
    data, oid = _manifest([["d.dvx/f.dvx", A, 1, False]])
    with pytest.raises(FormatError, match=r"'d\.dvx/f\.dvx', named as dvx names its pointer"):
        Tree.from_bytes(data, "xxh128", oid)


def test_names_like_temporaries_of_older_versions_or_of_a_directory_are_data():
    """Only a file named as dvx names its temporaries now is never data (formats.md):
    a name without the `dvx-` mark, or a directory named so, is a user's."""
    tree = Tree.build("xxh128", [TreeEntry(".a.0123456789ab.tmp", A, 1),
                                 TreeEntry(".d.dvx-0123456789ab.tmp/f", B, 2)])
    assert Tree.from_bytes(tree.to_bytes(), "xxh128", tree.oid()) == tree


def test_a_folder_named_as_a_get_s_scratch_folder_is_refused_but_a_file_so_named_is_data():
    """A workspace walk leaves out a folder `dvx get` builds in (`.dvx-get-` and 8 random
    characters): a manifest being written that lists files below one is refused, as they
    would be placed and then found missing by every status. A file so named, or another
    `.dvx-get-` folder, is data."""
    tree = Tree.build("xxh128", [TreeEntry("d/.dvx-get-abcd_123", A, 1),
                                 TreeEntry(".dvx-get-mine/f", B, 2)])
    assert Tree.from_bytes(tree.to_bytes(), "xxh128", tree.oid()) == tree
    assert tree.left_out is None
    with pytest.raises(FormatError, match=r"'d/\.dvx-get-abcd_123/new/x', in a folder named as "
                                          "`dvx get`"):
        Tree.build("xxh128", [TreeEntry("d/.dvx-get-abcd_123/new/x", A, 1)])


@pytest.mark.parametrize("validated_before", [False, True])
def test_a_manifest_read_leaves_out_the_files_in_a_get_s_scratch_folder_and_counts_them(
        validated_before):
    """A manifest an earlier dvx wrote listing files in a folder a killed get built in is
    read without them (`left_out` names the folders and counts them, for the pointer's
    size and file count), whether or not its bytes were checked before; the other rules
    still hold for such a file."""
    data, oid = _manifest([["a", A, 1, False], ["d/.dvx-get-abcd_123/held", B, 2, False],
                           ["d/.dvx-get-abcd_123/new/.x.dvx", A, 4, False],
                           ["d/.dvx-get-abcd_123/new/x", A, 8, False], ["d/z", B, 16, False]])
    tree = Tree.from_bytes(data, "xxh128", oid, validated_before=validated_before)
    assert [e.path for e in tree.entries] == ["a", "d/z"]
    assert tree.left_out == LeftOut(("d/.dvx-get-abcd_123",), ((B, 2), (A, 4), (A, 8)))
    assert (tree.size, tree.nfiles, tree.recorded_counts()) == (17, 2, (31, 5))
    assert sorted(tree.every_oid()) == [A, A, A, B, B]
    data, oid = _manifest([["d/.dvx-get-abcd_123/../x", A, 1, False]])
    with pytest.raises(FormatError, match=r"'\.\.'"):
        Tree.from_bytes(data, "xxh128", oid)


@pytest.mark.parametrize("rows", [
    [["d/.dvx-get-abcd_123/held", B, 2, False], ["d/.dvx-get-abcd_123/old/x", A, 8, False]],
    [["d/.dvx-get-abcd_123/held", B, 2, False], ["d/.dvx-get-abcd_123/new/x", A, 4, False],
     ["d/.dvx-get-abcd_123/old", A, 8, False]],
    [["d/.dvx-get-abcd_123/cat.jpg", A, 8, False]],
    [["d/.dvx-get-abcd_123/new/x", A, 8, False]],
    [["d/.dvx-get-abcd_123/held", B, 0, False], ["d/.dvx-get-abcd_123/new/x", A, 8, False]],
])
def test_a_manifest_read_refuses_a_get_s_folder_holding_more_than_its_partial_copy(rows):
    """Only what a get lays out as its partial copy (`held`, naming a path once anything
    else is there, and `new`) is left out on reading: what a killed `get --force` moved
    aside (`old`), or a folder so named the user laid out, is data the reader refuses whole,
    as it refuses one being written, never dropped."""
    data, oid = _manifest([["a", A, 1, False], *rows, ["d/z", B, 16, False]])
    for validated_before in (False, True):
        with pytest.raises(FormatError, match=r"in a folder named as `dvx get`"):
            Tree.from_bytes(data, "xxh128", oid, validated_before=validated_before)


def test_a_get_s_partial_copy_split_across_read_windows_is_left_out_whole(monkeypatch):
    """A folder's entries read in several windows are judged together."""
    monkeypatch.setattr("dvx.objects.tree.CHUNK_BYTES", 64)
    rows = [["d/.dvx-get-abcd_123/held", B, 2, False],
            *([f"d/.dvx-get-abcd_123/new/{i:03}", A, i, False] for i in range(40)),
            ["d/z", B, 16, False]]
    data, oid = _manifest(rows)
    tree = Tree.from_bytes(data, "xxh128", oid)
    assert [e.path for e in tree.entries] == ["d/z"]
    assert tree.left_out is not None and tree.left_out.nfiles == 41
    data, oid = _manifest([*rows[:-1], ["d/.dvx-get-abcd_123/old", A, 1, False], rows[-1]])
    with pytest.raises(FormatError, match=r"'d/\.dvx-get-abcd_123/old'"):
        Tree.from_bytes(data, "xxh128", oid)


@pytest.mark.parametrize("rows, message", [
    ([["../evil", A, 1, False]], "'..'"),
    ([["/etc/passwd", A, 1, False]], "absolute"),
    ([["a\\b", A, 1, False]], "backslash"),
    ([["a//b", A, 1, False]], "empty"),
    ([[".git/hooks/post-checkout", A, 1, False]], "reserved"),
    ([["x/.dvx/config", A, 1, False]], "reserved"),
    ([["a", A, 1, False], ["a", B, 1, False]], "twice"),
    ([["a", A, 1, False], ["a/b", B, 1, False]], "both as a file and as a directory"),
    ([["a", "A" * 32, 1, False]], "Invalid xxh128"),
    ([["a", A + "\n" + B, 1, False]], "Invalid xxh128"),  # looks like two good oids joined
    ([["a", A, 1, False], ["b", 7, 1, False]], "malformed"),
    ([["a", A, 1, False], [3, B, 1, False]], "malformed"),
    ([["c:/windows", A, 1, False]], "absolute"),
    ([["a/./b", A, 1, False]], "'.'"),
    ([["a/", A, 1, False]], "empty"),
    ([["line\nbreak", A, 1, False]], "line break"),
    ([["x/.GIT/config", A, 1, False]], "reserved"),
    ([["a", A, -1, False]], "malformed"),
    ([["a", A, 2**63, False]], "malformed"),  # larger than any file
    ([["a", A, 1, "yes"]], "malformed"),
    ([["a", A, 1]], "malformed"),
    ([[".a.dvx-0123456789ab.tmp", A, 1, False]], "temporary files"),
    ([["d/.a~dvx-0123456789ab.tmp", A, 1, False]], "temporary files"),
    ([["a.dvx", A, 1, False]], "pointer files"),
    ([["d/b.csv.dvx", A, 1, False]], "pointer files"),
])
def test_hostile_manifests_are_rejected(rows, message):
    data, oid = _manifest(rows)
    with pytest.raises(FormatError, match=message):
        Tree.from_bytes(data, "xxh128", oid)


def test_manifest_must_match_its_oid():
    tree = Tree.build("xxh128", [TreeEntry("a", A, 1)])
    with pytest.raises(FormatError, match="corrupt"):
        Tree.from_bytes(tree.to_bytes(), "xxh128", B)


def test_non_canonical_encoding_is_rejected():
    data, oid = _manifest([["b", A, 1, False], ["a", B, 1, False]])  # unsorted
    with pytest.raises(FormatError, match="canonical"):
        Tree.from_bytes(data, "xxh128", oid)
    spaced = b'{"algo": "xxh128", "format": "dvx-tree", "version": 1}\n'
    with pytest.raises(FormatError, match="canonical"):
        Tree.from_bytes(spaced, "xxh128", hash_bytes(spaced))


@pytest.mark.parametrize("header", [
    {"algo": "xxh128", "format": "dvx-tree", "version": 0},
    {"algo": "xxh128", "format": "other", "version": 9},
    {"algo": "md5", "format": "dvx-tree", "version": 1},
    ["dvx-tree", 1],
])
def test_unknown_header_is_rejected(header):
    data, oid = _manifest([], header=header)
    with pytest.raises(FormatError, match="header") as refused:
        Tree.from_bytes(data, "xxh128", oid)
    assert not isinstance(refused.value, NewerFormatError)


def test_a_header_of_a_newer_format_version_says_a_newer_dvx_wrote_it():
    data, oid = _manifest([], header={"algo": "xxh128", "format": "dvx-tree", "version": 9})
    with pytest.raises(NewerFormatError, match=r"written by a newer dvx \(format 9\)"):
        Tree.from_bytes(data, "xxh128", oid)


@pytest.mark.parametrize("path", [
    ".", "..", "...", "a/..b", ".git", ".GIT", "a/.Dvx", "a/.gitx", "x.git", "c:", "x:y",
    "", "/a", "a/", "a//b", "a/./b", "a/../b", "a\\b", "a\x00b", "a\rb", "ß/.git/x", "ok/name",
])
def test_the_one_pass_path_screen_never_passes_a_path_the_full_check_refuses(path):
    from dvx.objects.tree import _paths_look_ordinary
    from dvx.paths import check_relpath

    if _paths_look_ordinary(["first", path, "last"]):
        check_relpath(path)


@pytest.mark.parametrize("window", [1, 7, 64, 1 << 20])
def test_a_manifest_read_a_window_at_a_time_is_the_same_tree(monkeypatch, window):
    import io

    import dvx.objects.tree as tree_module

    tree = Tree.build("xxh128", [TreeEntry(f"d{i % 7}/f{i:04d}-{'é' * (i % 3)}", A, i, i % 2 == 0)
                                 for i in range(300)])
    data = tree.to_bytes()
    monkeypatch.setattr(tree_module, "CHUNK_BYTES", window)
    assert Tree.from_stream(io.BytesIO(data), "xxh128", tree.oid()) == tree
    assert Tree.from_stream(io.BytesIO(data), "xxh128", tree.oid(), validated_before=True) == tree


@pytest.mark.parametrize("data", [b"", b'{"algo":"xxh128","format":"dvx-tree","version":1}',
                                  b'{"algo":"xxh128","format":"dvx-tree","version":1}\n["a"'])
def test_a_manifest_without_its_last_line_break_is_refused(monkeypatch, data):
    import dvx.objects.tree as tree_module

    monkeypatch.setattr(tree_module, "CHUNK_BYTES", 5)
    with pytest.raises(FormatError, match=r"canonical form|JSON Lines"):
        Tree.from_bytes(data, "xxh128", hash_bytes(data))


def test_a_damaged_manifest_is_called_corrupt_before_any_format_error(monkeypatch):
    import dvx.objects.tree as tree_module

    data, oid = _manifest([["a", A, 1, False]])
    monkeypatch.setattr(tree_module, "CHUNK_BYTES", 8)
    with pytest.raises(FormatError, match="corrupt"):
        Tree.from_bytes(data.replace(b'"a"', b'"a'), "xxh128", oid)


def test_a_path_column_behaves_as_the_sorted_list_of_its_paths():
    from bisect import bisect_left

    from dvx.objects.tree import PathColumn

    paths = ["", "a", "a-b", "a/x", "é/ü", "𝔘/z"]  # an empty one, and characters of every width
    column = PathColumn.of(paths)
    assert len(column) == len(paths) and list(column) == paths and column == paths
    assert [column[i] for i in range(len(paths))] == paths and column[-1] == "𝔘/z"
    assert column[1:3] == ["a", "a-b"]
    assert [bisect_left(column, p) for p in paths] == list(range(len(paths)))
    with pytest.raises(IndexError):
        column[len(paths)]
