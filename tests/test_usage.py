"""ops/usage.py: sizes by folder from a listing, without a repository."""

from __future__ import annotations

from dvx.ops.usage import Usage, disk_usage


def _file(name: str, size: int, dvx: bool = True) -> dict:
    return {"name": name, "type": "file", "size": size, "dvx": dvx}


def _listing() -> dict:
    entries = {info["name"]: info for info in (
        _file("data/a.csv", 10), _file("data/img/1.png", 5), _file("data/img/2.png", 7),
        _file("src/train.py", 100, dvx=False), _file("README.md", 3, dvx=False))}
    for folder in ("data", "data/img", "src"):
        entries[folder] = {"name": folder, "type": "directory", "size": 0, "dvx": False}
    return entries


def test_each_entry_then_the_total():
    assert disk_usage(_listing(), "") == [
        Usage("README.md", 3, 1, ()), Usage("data", 22, 3, ()), Usage("src", 100, 1, ()),
        Usage(".", 125, 5, ())]
    assert disk_usage(_listing(), "data/") == [
        Usage("data/a.csv", 10, 1, ()), Usage("data/img", 12, 2, ()), Usage("data", 22, 3, ())]


def test_summarize_a_file_and_dvx_only():
    assert disk_usage(_listing(), "data", summarize=True) == [Usage("data", 22, 3, ())]
    assert disk_usage(_listing(), "data/a.csv") == [Usage("data/a.csv", 10, 1, ())]
    assert disk_usage(_listing(), "", dvx_only=True) == [
        Usage("data", 22, 3, ()), Usage(".", 22, 3, ())]  # folders without dvx data left out


def test_what_cannot_be_read_is_named_not_counted():
    entries = _listing()
    entries["data/broken"] = {"name": "data/broken", "type": "directory", "size": 0,
                              "dvx": True, "unreadable": "its manifest is missing"}
    rows = disk_usage(entries, "")
    assert rows[1] == Usage("data", 22, 3, ("data/broken",))
    assert rows[-1].unreadable == ("data/broken",) and rows[-1].size == 125
