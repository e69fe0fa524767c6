"""A teammate's change survives `git pull`: dvx tells a pointer that moved in Git from data
changed in the workspace, never records the older data over the newer pointer without
--force, and a partial pull never shrinks a directory (SPEC §4.9)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import git, run_dvx, write
from tests.team import Team, edit, must, share


@pytest.fixture
def team(tmp_path):
    return Team(tmp_path)


def pointer_oid(path) -> str:
    return next(line.split(": ")[1].strip('"') for line in path.read_text().splitlines()
                if line.startswith("oid: "))


def status_of(clone, path: str) -> dict[str, object]:
    doc = json.loads(run_dvx("status", "--json", cwd=clone).stdout)
    return next(o for o in doc["outputs"] if o["path"] == path)


def test_after_git_pull_the_moved_pointer_is_recognised_and_never_undone(team):
    alice = team.founder()
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "v1")
    old = pointer_oid(alice / "data.csv.dvx")

    bob = team.clone("bob")
    edit(bob, "data.csv", "v2\n")
    must("add", "data.csv", cwd=bob)
    share(bob, "v2")
    new = pointer_oid(bob / "data.csv.dvx")

    git(alice, "pull", "-q", "origin", "main")
    seen = status_of(alice, "data.csv")
    assert seen["workspace"] == "outdated"
    assert (seen["pointer_oid"], seen["synced_oid"]) == (new, old)
    text = run_dvx("status", cwd=alice)
    assert "pointer changed in Git, data not checked out" in text.stdout
    assert "dvx checkout" in text.stdout and "dvx commit`" not in text.stdout
    assert run_dvx("status", "-q", cwd=alice).code == 1

    skipped = run_dvx("commit", cwd=alice)  # "record whatever changed": nothing did
    assert skipped.code == 0 and "Not recorded data.csv" in skipped.stderr
    for args in (("commit", "data.csv"), ("add", "data.csv")):
        refused = run_dvx(*args, cwd=alice)
        assert refused.code == 1, refused.output
        assert new in refused.stderr and old in refused.stderr and "--force" in refused.stderr
    assert pointer_oid(alice / "data.csv.dvx") == new
    assert git(alice, "status", "--porcelain") == ""

    must("pull", cwd=alice)
    assert (alice / "data.csv").read_text() == "v2\n"
    assert status_of(alice, "data.csv")["workspace"] == "unchanged"
    edit(alice, "data.csv", "v3\n")  # a real local edit is still just that
    assert status_of(alice, "data.csv")["workspace"] == "modified"
    must("commit", cwd=alice)
    assert pointer_oid(alice / "data.csv.dvx") not in (old, new)


def test_checking_out_an_older_commit_then_back_is_not_a_change(team):
    alice = team.founder()
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "v1")
    edit(alice, "data.csv", "v2\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "v2")

    carol = team.clone("carol", pull=False)
    git(carol, "checkout", "-q", "HEAD~1")
    must("pull", cwd=carol)
    git(carol, "checkout", "-q", "main")
    assert status_of(carol, "data.csv")["workspace"] == "outdated"
    refused = run_dvx("commit", "data.csv", cwd=carol)
    assert refused.code == 1 and "dvx checkout data.csv" in refused.stderr
    assert git(carol, "status", "--porcelain") == ""
    must("pull", cwd=carol)
    assert (carol / "data.csv").read_text() == "v2\n"


def test_a_change_made_both_here_and_in_git_needs_force(team):
    alice = team.founder()
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "data.csv", "bob's\n")
    must("add", "data.csv", cwd=bob)
    share(bob, "bob")

    edit(alice, "data.csv", "alice's\n")  # edited, not yet recorded...
    git(alice, "pull", "-q", "origin", "main")  # ...when bob's version arrives
    seen = status_of(alice, "data.csv")
    assert seen["workspace"] == "modified" and seen["synced_oid"] is not None
    assert "changed both here and in Git" in run_dvx("status", cwd=alice).stdout
    bobs = pointer_oid(alice / "data.csv.dvx")
    for args in (("commit",), ("commit", "data.csv")):
        refused = run_dvx(*args, cwd=alice)
        assert refused.code == 1 and "changed both here and in Git" in refused.stderr
    assert pointer_oid(alice / "data.csv.dvx") == bobs
    must("commit", "--force", "data.csv", cwd=alice)
    assert pointer_oid(alice / "data.csv.dvx") != bobs
    assert (alice / "data.csv").read_text() == "alice's\n"


def test_a_directory_whose_pointer_moved_is_outdated_not_modified(team):
    alice = team.founder()
    for i in range(3):
        write(alice / "data" / f"f{i}.txt", f"{i}\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "data/f1.txt", "changed by bob\n")
    write(bob / "data" / "f3.txt", "added by bob\n")
    must("add", "data", cwd=bob)
    share(bob, "v2")

    git(alice, "pull", "-q", "origin", "main")
    assert status_of(alice, "data")["workspace"] == "outdated"
    assert run_dvx("commit", "data", cwd=alice).code == 1
    must("pull", cwd=alice)
    assert (alice / "data/f1.txt").read_text() == "changed by bob\n"
    assert (alice / "data/f3.txt").read_text() == "added by bob\n"


# -- partial pulls --------------------------------------------------------------------------


def test_a_partial_pull_never_shrinks_a_directory(team):
    alice = team.founder()
    for i in range(1, 6):
        write(alice / "data" / "images" / f"img{i}.bin", f"image {i}\n")
    must("add", "data/images", cwd=alice)
    share(alice, "five images")
    five = (alice / "data/images.dvx").read_text()

    dave = team.clone("dave", pull=False)
    must("pull", "data/images/img1.bin", cwd=dave)
    seen = status_of(dave, "data/images")
    assert seen["not_pulled"] == [f"img{i}.bin" for i in range(2, 6)]
    assert seen["deleted"] == [] and seen["workspace"] == "unchanged"
    assert "4 files not pulled" in run_dvx("status", cwd=dave).stdout
    must("commit", "data/images", cwd=dave)
    must("commit", cwd=dave)
    assert (dave / "data/images.dvx").read_text() == five  # still five files

    (dave / "data/images/img1.bin").unlink()  # placed here, then deleted: a deletion
    write(dave / "data/images/img6.bin", "image 6\n")
    seen = status_of(dave, "data/images")
    assert seen["deleted"] == ["img1.bin"] and seen["added"] == ["img6.bin"]
    must("commit", "data/images", cwd=dave)
    assert "nfiles: 5" in (dave / "data/images.dvx").read_text()
    share(dave, "img1 out, img6 in")

    git(alice, "pull", "-q", "origin", "main")
    must("pull", cwd=alice)
    assert sorted(p.name for p in (alice / "data/images").iterdir()) == [
        "img2.bin", "img3.bin", "img4.bin", "img5.bin", "img6.bin"]
    must("pull", cwd=dave)  # the rest arrives; nothing is "not pulled" any more
    seen = status_of(dave, "data/images")
    assert seen["not_pulled"] == [] and seen["workspace"] == "unchanged"


def test_a_second_partial_pull_adds_to_what_was_placed(team):
    alice = team.founder()
    for name in ("a/1.txt", "a/2.txt", "b/1.txt", "c.txt"):
        write(alice / "data" / name, name)
    must("add", "data", cwd=alice)
    share(alice, "data")
    erin = team.clone("erin", pull=False)
    must("pull", "data/a", cwd=erin)
    must("pull", "data/c.txt", cwd=erin)
    assert status_of(erin, "data")["not_pulled"] == ["b/1.txt"]
    (erin / "data/a/2.txt").unlink()
    assert status_of(erin, "data")["deleted"] == ["a/2.txt"]
