""".dvxignore: files left out of tracked directories, and `dvx check-ignore`."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from dvx.ignore import is_ignore_file
from dvx.lockfile import read_lock
from dvx.pointer import parse_pointer
from tests.conftest import dvx_unprivileged, git, make_git_repo, run_dvx, run_dvx_proc, write
from tests.team import Team, must, share


@pytest.mark.parametrize(("rel", "rules"), [
    (".dvxignore", True), ("a/b/.dvxignore", True), ("", False), ("a.dvxignore", False),
    (".dvxignore/x", False), ("a/x.dvxignore", False), ("a/.dvxignore.bak", False),
])
def test_only_a_file_named_dvxignore_is_taken_for_rules(rel, rules):
    """Walks, manifests, checkout and Git's index all tell a .dvxignore by this one test."""
    assert is_ignore_file(rel) is rules


def test_ignored_files_are_never_added_reported_or_deleted(repo, dvx):
    write(repo / ".dvxignore", "*.tmp\n# thumbnails are rebuilt\nthumbs/\n")
    write(repo / "data" / "a.txt", "a")
    write(repo / "data" / "scratch.tmp", "s")
    write(repo / "data" / "thumbs" / "a.png", "t")
    write(repo / "data" / "sub" / ".dvxignore", "keep-out.txt\n")
    write(repo / "data" / "sub" / "keep-out.txt", "k")
    write(repo / "data" / "sub" / "b.txt", "b")
    added = dvx("add", "data", "--json")
    assert added.code == 0
    assert json.loads(added.stdout)["added"][0]["nfiles"] == 2  # a.txt, sub/b.txt
    write(repo / "data" / "another.tmp", "x")
    assert dvx("status", "-q").code == 0  # an ignored file is no change
    (repo / "data" / "a.txt").unlink()
    assert dvx("checkout").code == 0
    assert (repo / "data" / "scratch.tmp").exists()  # never deleted by checkout
    assert (repo / "data" / "thumbs" / "a.png").exists()
    refused = dvx("add", "data/scratch.tmp")
    assert refused.code == 2 and "ignored by .dvxignore" in refused.stderr


def test_a_folder_named_dvxignore_is_data_holding_no_rules(repo, dvx):
    """Only a file named .dvxignore holds rules: a folder named so is data, tracked, placed
    and checked like any other (docs/formats.md, item 8)."""
    write(repo / "data" / ".dvxignore" / "f", "1\n")
    write(repo / "data" / "a", "2\n")
    added = dvx("add", "data", "--json")
    assert added.code == 0, added.output
    assert json.loads(added.stdout)["added"][0]["nfiles"] == 2
    assert dvx("status", "-q").code == 0
    (repo / "data" / ".dvxignore" / "f").unlink()
    assert dvx("status", "-q").code == 1
    assert dvx("checkout").code == 0
    assert (repo / "data" / ".dvxignore" / "f").read_text() == "1\n"
    checked = dvx("check-ignore", "data/.dvxignore/f")
    assert checked.code == 1 and "Traceback" not in checked.output, checked.output


def test_check_ignore_says_what_ignores_a_path(repo, dvx):
    write(repo / ".dvxignore", "*.tmp\n!keep.tmp\n")
    found = dvx("check-ignore", "-d", "x.tmp", "keep.tmp", "y.txt")
    assert found.code == 0 and found.stdout == ".dvxignore:1:*.tmp\tx.tmp\n"
    assert dvx("check-ignore", "y.txt").code == 1
    doc = json.loads(dvx("check-ignore", "x.tmp", "y.txt", "--json").stdout)
    assert doc == [{"path": "x.tmp", "ignored": True, "source": ".dvxignore", "line": 1,
                    "pattern": "*.tmp"},
                   {"path": "y.txt", "ignored": False, "source": None, "line": None,
                    "pattern": None}]


def test_check_ignore_quotes_names_a_terminal_acts_on_as_status_does(repo, dvx):
    """ESC and BEL in a name never reach the terminal, with or without -d, and a name holding
    a backslash is quoted so it never shows as another; --json keeps the names as given."""
    write(repo / ".dvxignore", "*.tmp\n")
    evil, slash = "evil\033]0;pwned\a.tmp", "\\377.tmp"
    plain = dvx("check-ignore", evil, slash)
    assert plain.code == 0 and plain.stdout == '"evil\\033]0;pwned\\a.tmp"\n"\\\\377.tmp"\n'
    detailed = dvx("check-ignore", "-d", "-n", evil, "ok\033.txt")
    assert detailed.stdout == ('.dvxignore:1:*.tmp\t"evil\\033]0;pwned\\a.tmp"\n'
                               '::\t"ok\\033.txt"\n')
    assert "\033" not in plain.stdout + detailed.stdout
    doc = json.loads(dvx("check-ignore", "--json", evil).stdout)
    assert doc[0]["path"] == evil


def test_check_ignore_names_the_rule_that_takes_a_path_back_in_as_git_does(repo, dvx):
    write(repo / ".dvxignore", "*.tmp\n!keep.tmp\n")
    write(repo / ".gitignore", "*.tmp\n!keep.tmp\n")
    paths = ("imgs/a.tmp", "imgs/keep.tmp", "imgs/b.txt")
    shown = dvx("check-ignore", "-d", "-n", *paths)
    assert shown.code == 0 and shown.stdout == (
        ".dvxignore:1:*.tmp\timgs/a.tmp\n.dvxignore:2:!keep.tmp\timgs/keep.tmp\n::\timgs/b.txt\n")
    assert shown.stdout.replace(".dvxignore", ".gitignore") == git(
        repo, "check-ignore", "-v", "-n", *paths)
    doc = json.loads(dvx("check-ignore", "--json", "imgs/keep.tmp").stdout)
    assert doc == [{"path": "imgs/keep.tmp", "ignored": False, "source": ".dvxignore",
                    "line": 2, "pattern": "!keep.tmp"}]
    assert dvx("check-ignore", "-d", "imgs/keep.tmp").stdout == ""  # not ignored: not listed
    alone = dvx("check-ignore", "-n", "imgs/keep.tmp")  # git refuses it too
    assert alone.code == 2 and "only applies with -d" in alone.stderr, alone.output


def test_adding_an_ignored_file_suggests_a_check_ignore_that_can_be_pasted(repo):
    write(repo / ".dvxignore", "*.tmp\n")
    write(repo / "d d" / "my file.tmp", "x\n")
    refused = run_dvx("add", "my file.tmp", cwd=repo / "d d")
    assert refused.code == 2 and "`dvx check-ignore -d 'my file.tmp'`" in refused.stderr
    found = run_dvx("check-ignore", "-d", "my file.tmp", cwd=repo / "d d")  # as pasted
    assert found.code == 0 and found.stdout.startswith(".dvxignore:1:*.tmp")


def test_a_dvxignore_that_is_not_utf8_matches_the_names_it_spells(repo, dvx):
    write(repo / "d" / "a.txt", "a")
    write(repo / "d" / "caf\udce9.tmp", "scratch")  # a Latin-1 name
    write(repo / "d" / ".dvxignore", b"/caf\xe9.tmp\r\n")
    added = dvx("add", "d", "--json")
    assert added.code == 0, added.output
    assert json.loads(added.stdout)["added"][0]["nfiles"] == 1
    write(repo / "d" / "caf\udce9.tmp", "changed")
    assert dvx("status", "-q").code == 0  # an ignored file is no change


def test_a_new_rule_leaves_files_the_directory_has_tracked_and_safe(repo, dvx):
    write(repo / "d" / "a.csv", "a\n")
    write(repo / "d" / "c.txt", "c\n")
    assert dvx("add", "d").code == 0
    write(repo / ".dvxignore", "*.csv\n")  # as in Git: tracked files stay tracked
    write(repo / "d" / "a.csv", "my edit, in no cache\n")
    assert dvx("status", "-q").code == 1  # the edit is a change, whatever the rule
    refused = dvx("checkout")
    assert refused.code == 1 and "d/a.csv" in refused.output
    assert (repo / "d" / "a.csv").read_text() == "my edit, in no cache\n"
    write(repo / "d" / "new.csv", "new\n")  # a new file the rule does ignore
    assert dvx("commit", "d").code == 0
    listed = {e["path"] for e in json.loads(dvx("ls", ".", "d", "-R", "--json").stdout)}
    assert {"d/a.csv", "d/c.txt"} <= listed and "d/new.csv" not in listed
    (repo / "d" / "a.csv").unlink()  # deleting it is how it leaves the directory
    assert dvx("commit", "d").code == 0
    assert "d/a.csv" not in {e["path"] for e in json.loads(
        dvx("ls", ".", "d", "-R", "--json").stdout)}



def _dep_and_pointer(clone, dep: str) -> tuple[str, str]:
    """The oid dvx.lock records for stage s's dependency `dep`, and the one its pointer has."""
    recorded = {d.path: d.oid for d in read_lock(str(clone), "xxh128")["s"].deps}
    pointer = parse_pointer((clone / f"{dep}.dvx").read_bytes(), f"{dep}.dvx")
    return recorded[dep], pointer.oid


def test_a_new_rule_leaves_a_stage_on_the_files_its_dependency_has_tracked(tmp_path):
    """As `dvx commit` keeps a file a rule added later matches, a stage reading the tracked
    directory compares and records it as its pointer has it, file included, in every clone:
    dvx.lock never names a version of the directory that no pointer or cache holds."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a", "1\n")
    write(alice / "d" / "x.tmp", "read by the stage\n")
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d", "-o", "out.txt", "cat d/* > out.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "a stage reading d")
    write(alice / ".dvxignore", "*.tmp\n")
    share(alice, "ignore temporaries")
    bob = team.clone("bob")
    for clone in (alice, bob):
        assert run_dvx("status", "-q", cwd=clone).code == 0, run_dvx("status", cwd=clone).output
        assert "Running stage" not in must("repro", cwd=clone)
        write(clone / "d" / "new.tmp", "a file the rule does ignore\n")
        assert "Running stage" not in must("repro", cwd=clone)
        recorded, pointed = _dep_and_pointer(clone, "d")
        assert recorded == pointed
    (bob / "d" / "x.tmp").unlink()  # deleting it is how it leaves the directory
    assert "Running stage 's'" in must("repro", cwd=bob)
    recorded, pointed = _dep_and_pointer(bob, "d")
    assert recorded == pointed
    assert "read by the stage" not in (bob / "out.txt").read_text()



def test_a_stage_reading_an_output_a_new_rule_matches_records_it_as_its_new_run_has_it(
        repo, dvx):
    """The output's file the rule matches stays data until a run writes the output again,
    which leaves it out: the stage reading the output compares and records it as dvx.lock
    has it at each point of one repro."""
    write(repo / "in.txt", "1\n")
    write(repo / "dvx.yaml", """\
stages:
  a:
    cmd: mkdir -p o && cp in.txt o/a && echo t > o/x.tmp
    deps: [in.txt]
    outs: [o]
  b:
    cmd: cat o/* > out.txt
    deps: [o]
    outs: [out.txt]
""")
    assert dvx("repro").code == 0
    write(repo / ".dvxignore", "*.tmp\n")
    assert dvx("status", "-q").code == 0
    write(repo / "in.txt", "2\n")
    assert dvx("repro").code == 0
    lock = read_lock(str(repo), "xxh128")
    assert lock["b"].deps[0].oid == lock["a"].outs[0].oid and lock["a"].outs[0].nfiles == 1
    assert dvx("status", "-q").code == 0
    assert "Running stage" not in dvx("repro").output


# Rules whose reading differs between glob libraries; Git's is the one users see everywhere.
GIT_RULES = [
    "[[:alpha:]]", "[[:digit:]]", "[[:upper:]]", "[[:lower:]]", "[[:space:]]", "[[:punct:]]",
    "[[:alnum:]]", "[[:xdigit:]]", "[[:blank:]]", "[[:cntrl:]]", "[[:graph:]]", "[[:print:]]",
    "[![:alpha:]]", "[^[:digit:]x]", "[[:alpha:]5]", "[[:foo:]]", "[[:alpha:]", "[[:]]",
    "[\\]]", "[]]", "[]a]", "[!]]", "[a-c]", "[c-a]", "[a\\-c]", "[a-]", "[-a]", "[\\\\]",
    "[[]", "[a-\\]]", "[!-/]", "x*", "*]", "\\[x\\]", "[", "?", "??", "x\t", "x ", "x\\ ",
    "\\!x", "\\#x", " #x", "a]", "x\\", "*\n![[:digit:]]", "d/[[:alpha:]]", "/d/?",
    "d/**", "**/q", "d/**/q", "d**/q", "**", "*/", "d/[!a]",
]
GIT_NAMES = [
    "q", "Q", "a]", ":]", "keep.csv", "5", "x", "ab", "b", "c", " ", "\t", "\v", "\f", "\r",
    "\n", "!", "]", "[", "\\", "-", "^", "é", "x\t", "x ", "x\\ ", "!x", "#x", " #x", "[x]",
    "\x01", "\x7f", "x\\",
]


def test_dvxignore_rules_ignore_exactly_what_git_ignores(tmp_path):
    from dvx.ignore import DvxIgnore

    root = make_git_repo(tmp_path / "r")
    for name in GIT_NAMES:
        write(root / "d" / name, "x")
    write(root / "d" / "q-dir" / "q", "x")
    paths = [f"d/{name}" for name in GIT_NAMES] + ["d/q-dir/q", "d/q-dir"]
    for rules in GIT_RULES:
        write(root / ".gitignore", rules + "\n")
        write(root / ".dvxignore", rules + "\n")
        listed = subprocess.run(["git", "check-ignore", "--no-index", "-z", "--stdin"],
                                cwd=root, input="\0".join(paths).encode(), capture_output=True)
        assert listed.returncode in (0, 1), listed.stderr
        by_git = set(listed.stdout.decode().split("\0")) - {""}
        by_dvx = {p for p in paths
                  if DvxIgnore(str(root)).check(p, is_dir=p == "d/q-dir") is not None}
        assert by_dvx == by_git, f"rules {rules!r}"


# Rules a teammate can commit that make a matcher trying every way of splitting a name among
# the `*`s run for hours on a long name or a deep path: `re` with a `[^/]*` per `*` on all
# three, and Git's own wildmatch (2.39) on the two with `**/` (so Git is not asked here; it
# ignores the same paths when the names are short).
HOSTILE_RULES = [
    "*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "**/a*/**/a*/**/a*/**/a*/**/a*/**/a*/**/a*/**/b",
    "d/a*a*a*a*a*a*a*a/**/*a*a*a*a*a*a*a*b",
]


def test_rules_with_many_stars_are_matched_without_stalling(repo, dvx_proc):
    long, deep = "a" * 200, "/".join(["aa"] * 120)
    kept = [f"d/{long}", f"d/{deep}/x", f"d/{long}a/{long}"]
    ignored = [f"d/{long}b", f"d/{deep}/b", f"d/{long}a/{long}b"]
    for path in kept + ignored:
        write(repo / path, "x")
    write(repo / ".dvxignore", "\n".join(HOSTILE_RULES) + "\n")
    added = dvx_proc("add", "d", "--json", cwd=repo)  # bounded by run_dvx_proc's timeout
    assert added.code == 0, added.output
    assert json.loads(added.stdout)["added"][0]["nfiles"] == len(kept)
    listed = dvx_proc("check-ignore", *kept, *ignored, cwd=repo)
    assert listed.stdout.splitlines() == ignored


def test_a_folder_where_a_tracked_directory_s_file_goes_is_kept_for_the_files_it_leaves_out(
        tmp_path):
    """A teammate made data/sub, a folder of the tracked directory data, a file; here it
    holds run.log, which .dvxignore leaves out of the data: pull and pull --force keep the
    folder whole, naming that file, and end with no work left for a rerun. Without it, the
    folder (what a checkout placed) goes and the file takes its place."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / ".dvxignore", "*.log\n")
    write(alice / "data" / "a", "a\n")
    write(alice / "data" / "sub" / "x", "x\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob, carol = team.clone("bob"), team.clone("carol")
    write(bob / "data" / "sub" / "run.log", "bob's log\n")
    (alice / "data" / "sub" / "x").unlink()
    (alice / "data" / "sub").rmdir()
    write(alice / "data" / "sub", "a file now\n")
    must("add", "data", cwd=alice)
    share(alice, "v2")
    for clone in (bob, carol):
        git(clone, "pull", "-q", "origin", "main")
    for args in (("pull",), ("pull", "--force")):
        result = run_dvx(*args, cwd=bob)
        assert result.code == 1, result.output
        message = " ".join(result.stderr.split())
        assert "Skipped data/sub: a folder is where it goes, holding 'data/sub/run.log', " \
            "which .dvxignore leaves out of the data" in message, result.output
        assert "Is a directory" not in message and "ended with an error" not in message
        assert (bob / "data" / "sub" / "run.log").read_text() == "bob's log\n"
        assert (bob / "data" / "sub" / "x").read_text() == "x\n"
        assert not (bob / ".dvx/tmp/lock.stopped").exists()
    must("pull", cwd=carol)
    assert (carol / "data" / "sub").read_text() == "a file now\n"


def test_a_folder_dvx_placed_where_a_tracked_directory_s_file_goes_is_replaced_whatever_rule(
        tmp_path):
    """bob pulled data/sub/run.log, a file of the tracked directory data; the team then added
    a .dvxignore rule matching it, and made data/sub a file. That run.log is a version dvx
    placed, dvx's data, never a file .dvxignore leaves out: pull replaces the folder with the
    file, and status then finds nothing left to do."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a", "a\n")
    write(alice / "data" / "sub" / "x", "x\n")
    write(alice / "data" / "sub" / "run.log", "training log\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    assert (bob / "data" / "sub" / "run.log").read_text() == "training log\n"
    write(alice / ".dvxignore", "data/**/*.log\n")
    (alice / "data" / "sub" / "x").unlink()
    (alice / "data" / "sub" / "run.log").unlink()
    (alice / "data" / "sub").rmdir()
    write(alice / "data" / "sub", "a file now\n")
    must("add", "data", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 0, pulled.output
    assert (bob / "data" / "sub").read_text() == "a file now\n"
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_dvxignore_of_one_s_own_keeps_the_folder_where_a_tracked_directory_s_file_goes(
        tmp_path):
    """bob wrote a .dvxignore of his own into data/sub, a folder of the tracked directory data
    the team then made a file. A .dvxignore is never data: pull and pull --force keep the
    folder, naming the file, as they keep one a rule leaves out, and never call it a change."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a", "a\n")
    write(alice / "data" / "sub" / "x", "x\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    write(bob / "data" / "sub" / ".dvxignore", "# my rules\n*.tmp\n")
    (alice / "data" / "sub" / "x").unlink()
    (alice / "data" / "sub").rmdir()
    write(alice / "data" / "sub", "a file now\n")
    must("add", "data", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    for args in (("pull",), ("pull", "--force")):
        result = run_dvx(*args, cwd=bob)
        assert result.code == 1, result.output
        message = " ".join(result.stderr.split())
        assert "Skipped data/sub: a folder is where it goes, holding " \
            "'data/sub/.dvxignore', which .dvxignore leaves out of the data" in message, \
            result.output
        assert "not in the cache" not in message and "ended with an error" not in message
        assert (bob / "data" / "sub" / ".dvxignore").read_text() == "# my rules\n*.tmp\n"


def test_a_dvxignore_git_tracks_inside_a_tracked_folder_leaves_the_folder_to_dvx(tmp_path):
    """A .dvxignore is never data, so one shared in Git (`git add -f`) inside a folder
    tracked with `dvx add` is not Git holding the folder's data: status names nothing
    tracked by Git too, the folder is added and committed again, a run reading it is queued
    and run, and a fresh clone's `dvx pull` places every file of it."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a.txt", "1\n")
    write(alice / "d" / "b.txt", "2\n")
    write(alice / "d" / "x.tmp", "scratch\n")
    write(alice / "d" / ".dvxignore", "*.tmp\n")
    write(alice / "params.yaml", "lr: 1\n")
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d", "-p", "lr", "-o", "out.txt",
         "cat d/a.txt params.yaml > out.txt", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "add", "-f", "d/.dvxignore")
    must("repro", cwd=alice)
    share(alice, "a stage reading d, its .dvxignore in Git")
    assert git(alice, "ls-files", "d") == "d/.dvxignore\n"

    status = run_dvx("status", cwd=alice)
    assert status.code == 0 and "Git" not in status.output, status.output
    must("exp", "run", "--queue", "-S", "lr=3", "-n", "q1", cwd=alice)
    must("queue", "start", cwd=alice)
    assert "q1" in must("exp", "show", cwd=alice)
    write(alice / "d" / "c.txt", "3\n")
    must("add", "d", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "one more file")

    bob = team.clone("bob")  # its `dvx pull` must succeed
    assert sorted(p.name for p in (bob / "d").iterdir()) == \
        [".dvxignore", "a.txt", "b.txt", "c.txt"]
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_status_names_a_folder_kept_for_an_ignored_file_where_a_file_goes_with_a_way_that_works(
        repo, dvx):
    """A folder holding only files .dvxignore leaves out stands where the file d/f goes:
    checkout keeps it, --force or not, so status offers no forced checkout for it but the
    checkout's own way past it: move it away, then `dvx checkout d/f`, which places the file."""
    write(repo / ".dvxignore", "*.tmp\n")
    write(repo / "d" / "1", "1\n")
    write(repo / "d" / "f", "2\n")
    assert dvx("add", "d").code == 0
    (repo / "d" / "f").unlink()
    write(repo / "d" / "f" / "y.tmp", "t\n")

    shown = " ".join(dvx("status").stdout.split())
    assert "deleted: f" in shown, shown
    assert "--force" not in shown.replace("--force or not", ""), shown
    assert "(d/f: a folder is where it goes, holding 'd/f/y.tmp', which .dvxignore leaves out " \
        "of the data: checkout keeps such a file, --force or not; move the folder away, then " \
        "`dvx checkout d/f` places the file)" in shown, shown
    assert dvx("checkout", "--force").code == 1  # as status says: kept
    os.rename(repo / "d" / "f", repo / "f.mine")
    assert dvx("checkout", "d/f").code == 0
    assert (repo / "d" / "f").read_text() == "2\n"
    assert dvx("status").stdout == "Data and pointers are up to date.\n"


def test_a_folder_of_yours_in_the_way_holding_an_ignored_file_is_offered_no_forced_checkout(
        tmp_path):
    """A folder of the user's with changes, where a file not pulled goes, that holds a file
    .dvxignore leaves out: checkout keeps it, --force or not, so status and commit's refusal
    offer only moving it away, never `dvx checkout --force d/sub`."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    write(alice / "d" / "sub", "alice's file\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    must("fetch", cwd=bob)
    must("pull", "d/a", cwd=bob)
    write(bob / ".dvxignore", "*.tmp\n")
    write(bob / "d" / "sub" / "mine", "bob's\n")
    write(bob / "d" / "sub" / "x.tmp", "tmp\n")

    shown = " ".join(run_dvx("status", cwd=bob).stdout.split())
    assert "--force d/sub" not in shown, shown
    doc = json.loads(run_dvx("status", "--json", cwd=bob).stdout)["outputs"][0]
    assert doc["in_the_way"] == ["sub"], doc
    assert doc["kept_for_left_out"] == [{"path": "sub", "left_out": "d/sub/x.tmp"}], doc
    assert "move it away, then `dvx checkout d` places them all" in shown, shown
    assert "'d/sub/x.tmp', which .dvxignore leaves out of the data" in shown, shown
    refused = run_dvx("commit", "d", cwd=bob)
    assert refused.code != 0
    assert "--force d/sub" not in refused.stderr, refused.stderr
    assert "move it away, then `dvx checkout d` places them all" in \
        " ".join(refused.stderr.lower().split()), refused.stderr
    os.rename(bob / "d" / "sub", bob / "sub.mine")
    must("checkout", "d", cwd=bob)
    assert (bob / "d" / "sub").read_text() == "alice's file\n"


@pytest.mark.parametrize("fetched", [True, False])
def test_a_file_not_pulled_where_a_folder_holds_an_ignored_file_is_named_with_the_way_past_it(
        tmp_path, fetched):
    """A folder holding only a file .dvxignore leaves out stands where a file not pulled
    goes: no checkout places that file, so status names the folder with the way past it
    (move it away, then checkout or pull that path), never a checkout or pull of the
    directory that keeps it again."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    write(alice / "d" / "f", "f\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    if fetched:
        must("fetch", cwd=bob)
    must("pull", "d/a", cwd=bob)
    write(bob / ".dvxignore", "*.tmp\n")
    write(bob / "d" / "f" / "y.tmp", "t\n")

    verb = "checkout" if fetched else "pull"
    shown = " ".join(run_dvx("status", cwd=bob).stdout.split())
    assert "1 file not pulled" in shown, shown
    assert f"`dvx {verb} d`" not in shown, shown
    assert "(d/f: a folder is where it goes, holding 'd/f/y.tmp', which .dvxignore leaves " \
        "out of the data: checkout keeps such a file, --force or not; move the folder away, " \
        f"then `dvx {verb} d/f` places the file)" in shown, shown
    os.rename(bob / "d" / "f", bob / "f.mine")
    must(verb, "d/f", cwd=bob)
    assert (bob / "d" / "f").read_text() == "f\n"
    assert run_dvx("status", cwd=bob).stdout == "Data and pointers are up to date.\n"


def test_the_discard_hint_names_the_data_when_another_s_only_change_is_a_kept_folder(
        repo, dvx):
    """d's only change is a folder kept for an ignored file where d/f goes, which no forced
    checkout replaces; e has an ordinary change. The forced checkout status offers names e,
    never a bare one that would also try d and leave that folder."""
    write(repo / ".dvxignore", "*.tmp\n")
    write(repo / "d" / "1", "1\n")
    write(repo / "d" / "f", "2\n")
    write(repo / "e" / "1", "1\n")
    assert dvx("add", "d", "e").code == 0
    (repo / "d" / "f").unlink()
    write(repo / "d" / "f" / "y.tmp", "t\n")
    write(repo / "e" / "1", "changed\n")

    shown = " ".join(dvx("status").stdout.split())
    assert "`dvx checkout --force e` discards them" in shown, shown
    assert "`dvx checkout --force` " not in shown, shown


def test_a_fresh_clone_calls_a_folder_holding_only_a_shared_dvxignore_not_pulled_yet(tmp_path):
    """A fresh clone holds, of the tracked folder d, only the .dvxignore Git shares: its data
    is not pulled yet, as of a folder Git left absent, never "modified", and `dvx pull`
    places it."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    write(alice / "d" / "sub" / "s", "s\n")
    write(alice / "d" / ".dvxignore", "*.tmp\n")
    write(alice / "e" / "e", "e\n")
    must("add", "d", "e", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "add", "-f", "d/.dvxignore")
    share(alice, "d with its rules in Git")
    bob = team.clone("bob", pull=False)
    assert sorted(p.name for p in (bob / "d").iterdir()) == [".dvxignore"]

    status = run_dvx("status", "--json", cwd=bob)
    seen = {o["path"]: o["workspace"] for o in json.loads(status.stdout)["outputs"]}
    assert seen == {"d": "not_pulled", "e": "not_pulled"}, status.output
    must("pull", cwd=bob)
    assert (bob / "d" / "sub" / "s").read_text() == "s\n"
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_moving_a_folder_whose_dvxignore_git_tracks_is_refused_keeping_the_rules_in_git(
        repo, dvx):
    """`dvx move` would carry a .dvxignore Git's index holds (`git add -f`, the team's
    rules) into the new place, which Git ignores, and Git would lose it: the move is
    refused before anything is written, naming the file and the way out."""
    write(repo / "data" / "f1.csv", "1\n")
    write(repo / "data" / "x.tmp", "t\n")
    write(repo / "data" / ".dvxignore", "*.tmp\n")
    assert dvx("add", "data").code == 0
    git(repo, "add", "-A")
    git(repo, "add", "-f", "data/.dvxignore")
    git(repo, "commit", "-qm", "v1")

    refused = dvx("move", "data", "data2")
    assert refused.code == 2, refused.output
    assert "'data/.dvxignore'" in refused.stderr and "Nothing was moved" in refused.stderr
    assert "git rm --cached data/.dvxignore" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert (repo / "data" / ".dvxignore").read_text() == "*.tmp\n"
    assert not (repo / "data2").exists() and not (repo / "data2.dvx").exists()
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("force", [False, True])
def test_remove_outs_keeps_a_dvxignore_git_tracks_in_place_and_names_it_as_git_s(
        repo, dvx, force):
    """`dvx remove --outs` of a folder whose .dvxignore Git's index holds (`git add -f`, the
    team's rules) deletes the data around it and keeps it where it is, in Git as it was,
    naming it among the files Git tracks (`kept_in_git`), never among those .dvxignore keeps
    out, as it does for any file Git's index holds there."""
    write(repo / "data" / "f1.csv", "1\n")
    write(repo / "data" / "x.tmp", "t\n")
    write(repo / "data" / ".dvxignore", "*.tmp\n")
    assert dvx("add", "data").code == 0
    git(repo, "add", "-A")
    git(repo, "add", "-f", "data/.dvxignore")
    git(repo, "commit", "-qm", "v1")

    removed = dvx("remove", "--outs", *(["--force"] if force else []), "data.dvx")
    assert removed.code == 0, removed.output
    assert "Stopped tracking data and deleted its data, keeping the files Git tracks in it" \
        in removed.stdout, removed.output
    assert "Git's, never the data's): data/.dvxignore." in removed.stderr, removed.stderr
    assert "(.dvxignore keeps it out): data/x.tmp." in removed.stderr, removed.stderr
    assert sorted(os.listdir(repo / "data")) == [".dvxignore", "x.tmp"]
    assert (repo / "data" / ".dvxignore").read_text() == "*.tmp\n"
    assert "data/.dvxignore" in git(repo, "ls-files", "data")
    assert "data/.dvxignore" not in git(repo, "status", "--porcelain")


def test_stage_remove_outs_keeps_a_dvxignore_git_tracks_in_place_and_names_it_as_git_s(repo, dvx):
    """As `dvx remove --outs`, `dvx stage remove --outs` of a stage whose output folder holds
    a .dvxignore Git's index holds keeps it there, in Git, named among Git's files."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: mkdir -p out && echo a > out/a\n"
                             "    outs: [out]\n")
    assert dvx("repro").code == 0
    write(repo / "out" / ".dvxignore", "*.tmp\n")
    git(repo, "add", "-A")
    git(repo, "add", "-f", "out/.dvxignore")
    git(repo, "commit", "-qm", "v1")

    removed = dvx("stage", "remove", "--outs", "--json", "gen")
    assert removed.code == 0, removed.output
    shown = json.loads(removed.stdout)
    assert shown["kept_in_git"] == ["out/.dvxignore"] and shown["kept"] == [], shown
    assert os.listdir(repo / "out") == [".dvxignore"]
    assert "out/.dvxignore" in git(repo, "ls-files", "out")


def _data_added_under(repo, dvx, rel: str) -> None:
    """Tracked data/a.txt, a file added since (so status walks data/ again), and the
    .dvxignore `rel` where a walk of data/ reads it."""
    write(repo / "data" / "a.txt", "a")
    assert dvx("add", "data").code == 0
    write(repo / "data" / "b.txt", "b")
    write(repo / rel, "*.tmp\n")


@pytest.mark.parametrize("rel", [".dvxignore", "data/.dvxignore"])
def test_a_dvxignore_that_is_a_fifo_is_named_at_once_never_waited_on(repo, dvx, rel):
    """A FIFO would hold the command until some process wrote rules into it: it is refused
    as no regular file, named from the top of the repository, with what to do."""
    _data_added_under(repo, dvx, rel)
    (repo / rel).unlink()
    os.mkfifo(repo / rel)
    for command in (["status"], ["add", "data"]):
        result = run_dvx_proc(*command, cwd=repo, timeout=60)  # a regression fails, never hangs
        assert result.code == 1, result.output
        assert f"ERROR: Cannot read the ignore file '{rel}': not a regular file (a FIFO, " \
               f"socket or device). Replace it with a file of its own (`rm {rel}`, then " \
               "write its rules there), and run the command again." in result.stderr
        assert "Traceback" not in result.output
    assert stat.S_ISFIFO(os.lstat(repo / rel).st_mode)


def test_an_unreadable_dvxignore_is_named_with_the_chmod_that_fixes_it(repo, dvx):
    _data_added_under(repo, dvx, "data/.dvxignore")
    (repo / "data" / ".dvxignore").chmod(0)
    try:
        result = dvx_unprivileged(repo / "data", "status")
    finally:
        (repo / "data" / ".dvxignore").chmod(0o644)
    assert result.returncode == 1, result.stderr
    assert "ERROR: Cannot read the ignore file 'data/.dvxignore': Permission denied. Make it " \
           "readable (`chmod u+r .dvxignore`, as its owner), and run the command again." \
           in result.stderr
    assert "may not be read or changed" not in result.stderr
