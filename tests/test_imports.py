"""dvx ls, get, import, update, import-url and get-url: reusing data of other repositories
(a local path or a Git URL, each with its own remote) and of plain URLs."""

import contextlib
import email.utils
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import xxhash

import dvx.api
from dvx.errors import DvxError
from tests.conftest import (
    dvx_unprivileged,
    git,
    make_git_repo,
    run_dvx,
    run_dvx_proc,
    stopped_at,
    write,
)
from tests.pipeline_kit import run_and_commit
from tests.remotes import local_spec
from tests.servers import recording_listener, serving
from tests.team import Team, commit, edit, must, share


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A dataset repository with two tagged versions pushed to its own remote."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    (tmp_path / "datasets").mkdir()
    team = Team(tmp_path / "datasets")
    alice = team.founder()
    for i in range(3):
        write(alice / "images" / f"{i}.png", f"image {i}\n")
    write(alice / "raw" / "train.csv", "a,b\n1,2\n")
    write(alice / "README.md", "the datasets\n")
    must("add", "images", "raw/train.csv", cwd=alice)
    share(alice, "v1")
    git(alice, "tag", "v1")
    git(alice, "push", "-q", "origin", "v1")
    return team, alice


@pytest.fixture
def project(tmp_path):
    repo = make_git_repo(tmp_path / "project")
    must("init", cwd=repo)
    return repo


def _new_version(alice):
    write(alice / "images" / "3.png", "image 3\n")
    must("add", "images", cwd=alice)
    share(alice, "v2")


def test_an_option_the_source_s_config_sets_that_dvx_ignores_is_not_warned_of_here(source,
                                                                                   project):
    """A source repository's own config (an option of a newer dvx, or a typo there) is its
    owner's to fix: importing from its work tree warns of nothing here, where the `dvx config
    --unset` a warning would name cannot reach it."""
    _, alice = source
    with open(alice / ".dvx" / "config", "a") as f:
        f.write("[cache]\nprotected = true\n")
    imported = run_dvx("import", str(alice), "raw/train.csv", cwd=project)
    assert imported.code == 0, imported.output
    assert "cache.protected" not in imported.stderr, imported.stderr
    assert "cache.protected" in run_dvx("status", cwd=alice).stderr  # there, it is said


def test_ls_lists_git_and_dvx_files_at_a_revision(source, project):
    team, alice = source
    _new_version(alice)
    listed = json.loads(run_dvx("ls", str(team.origin), "images", "--json", "--rev", "v1",
                                cwd=project).stdout)
    assert [(e["path"], e["dvx"]) for e in listed] == [
        ("images/0.png", True), ("images/1.png", True), ("images/2.png", True)]
    top = run_dvx("ls", str(team.origin), cwd=project)
    assert top.code == 0 and "dvx" in top.stdout and "README.md" in top.stdout
    deep = json.loads(run_dvx("ls", str(alice), "-R", "--dvx-only", "--json",
                              cwd=project).stdout)
    assert "images/3.png" in [e["path"] for e in deep]
    missing = run_dvx("ls", str(alice), "nothing-here", cwd=project)
    assert missing.code != 0 and "is not in" in missing.stderr


def test_du_counts_data_not_pulled_by_entry_and_in_total(source, project):
    team, alice = source
    _new_version(alice)  # images/3.png: pushed, never in this reader's cache or workspace
    rows = json.loads(run_dvx("du", str(team.origin), "--json", cwd=project).stdout)
    by_path = {row["path"]: (row["size"], row["files"]) for row in rows}
    assert by_path["images"] == (4 * len("image 0\n"), 4)
    assert by_path["raw"][1] == 3  # the data, its pointer and the .gitignore naming it
    assert rows[-1]["path"] == "." and rows[-1]["size"] == sum(
        size for path, (size, _) in by_path.items() if path != ".")
    tracked = json.loads(run_dvx("du", str(team.origin), "-s", "--dvx-only", "--rev", "v1",
                                 "--json", cwd=project).stdout)
    assert tracked == [{"path": ".", "size": 3 * 8 + 8, "files": 4}]
    one = run_dvx("du", str(alice), "images/3.png", cwd=project)
    assert one.code == 0 and one.stdout.split() == ["8", "B", "images/3.png"]
    missing = run_dvx("du", str(alice), "nothing-here", cwd=project)
    assert missing.code != 0 and "is not in" in missing.stderr


def test_ls_and_du_of_a_local_folder_below_the_top_read_its_repository_from_that_folder(
        source, project):
    """`dvx ls .` in data/ lists data/, as `git ls-files` does; a PATH given too is below
    that folder."""
    _, alice = source
    listed = json.loads(run_dvx("ls", ".", "--json", cwd=alice / "images").stdout)
    assert [e["path"] for e in listed] == ["images/0.png", "images/1.png", "images/2.png"]
    named = json.loads(run_dvx("ls", str(alice / "raw"), "train.csv", "--json",
                               cwd=project).stdout)
    assert [(e["path"], e["dvx"]) for e in named] == [("raw/train.csv", True)]
    rows = json.loads(run_dvx("du", ".", "-s", "--json", cwd=alice / "images").stdout)
    assert rows == [{"path": "images", "size": 3 * 8, "files": 3}]
    missing = run_dvx("ls", ".", "nothing-here", cwd=alice / "images")
    assert missing.code == 2 and "'images/nothing-here' is not in" in missing.stderr
    vendor = make_git_repo(alice / "vendor")  # another Git repository: not alice's folder
    other = run_dvx("ls", ".", cwd=vendor)
    assert other.code == 2 and "not the top of a dvx repository" in other.stderr


def test_ls_and_du_from_a_subfolder_reach_its_siblings_through_dot_dot(source):
    """A PATH is normalised as Git normalises a pathspec: `../raw` from images/ is raw/, and
    only a PATH that leaves the repository is refused."""
    _, alice = source
    listed = json.loads(run_dvx("ls", ".", "../raw", "--json", cwd=alice / "images").stdout)
    assert ("raw/train.csv", True) in [(e["path"], e["dvx"]) for e in listed]
    assert all(e["path"].startswith("raw/") for e in listed), listed
    rows = json.loads(run_dvx("du", ".", "../raw", "-s", "--json", cwd=alice / "images").stdout)
    assert [row["path"] for row in rows] == ["raw"]
    top = json.loads(run_dvx("ls", ".", "..", "--json", cwd=alice / "images").stdout)
    assert {"images", "raw"} <= {e["path"] for e in top}
    outside = run_dvx("ls", ".", "../..", cwd=alice / "images")
    assert outside.code == 2 and f"'..' is not in '{alice}'" in outside.stderr, outside.stderr


def test_get_and_import_of_a_local_folder_below_the_top_read_its_repository_from_that_folder(
        source, project, tmp_path):
    """As ls and du: `dvx get . 0.png` in images/ gets images/0.png, and an import from
    raw/ records the repository's top and the path from it. The Python API, whose paths are
    from the top wherever it runs, names that top instead."""
    import dvx.api
    from dvx.errors import UsageError

    _, alice = source
    got = run_dvx("get", ".", "0.png", "-o", str(tmp_path / "got.png"), cwd=alice / "images")
    assert got.code == 0 and (tmp_path / "got.png").read_text() == "image 0\n", got.output
    sibling = run_dvx("get", ".", "../raw/train.csv", "-o", str(tmp_path / "t.csv"),
                      cwd=alice / "images")
    assert sibling.code == 0 and (tmp_path / "t.csv").read_text() == "a,b\n1,2\n", \
        sibling.output
    imported = run_dvx("import", str(alice / "raw"), "train.csv", cwd=project)
    assert imported.code == 0, imported.output
    recorded = (project / "train.csv.dvx").read_text()
    assert 'path: "raw/train.csv"' in recorded and "alice/raw" not in recorded, recorded
    assert run_dvx("update", cwd=project).code == 0
    with pytest.raises(UsageError) as refused:
        dvx.api.read("0.png", repo=str(alice / "images"))
    assert f"the dvx repository '{alice}'" in str(refused.value.hint), refused.value.hint


def test_import_and_import_url_into_the_repository_s_top_put_the_data_there_under_its_name(
        source, project, tmp_path):
    """An OUT that is an existing directory receives the data under its name: the top of the
    repository too, named `.`, `./` or by its absolute path, as `dvx get -o .` does."""
    team, _ = source
    for out in (".", "./", str(project)):
        imported = run_dvx("import", str(team.origin), "raw/train.csv", "-o", out, cwd=project)
        assert imported.code == 0, imported.output
        assert (project / "train.csv").read_text() == "a,b\n1,2\n"
        assert "source:" in (project / "train.csv.dvx").read_text()
        must("remove", "--outs", "train.csv.dvx", cwd=project)
    upstream = write(tmp_path / "upstream" / "data.csv", "x\n1\n")
    fetched = run_dvx("import-url", str(upstream), ".", cwd=project)
    assert fetched.code == 0, fetched.output
    assert (project / "data.csv").read_text() == "x\n1\n"
    assert (project / "data.csv.dvx").exists()


def test_an_out_ending_in_a_slash_is_a_directory_created_to_put_the_data_in(
        source, project, tmp_path):
    """`-o data/` where no data/ is yet puts the data at data/<name> for get, get-url, import
    and import-url, creating data/, rather than writing a file named data; a slash after the
    name of a file is refused, leaving the file as it was."""
    team, alice = source
    for args in (("import", str(team.origin), "raw/train.csv", "-o", "data/"),
                 ("get", str(team.origin), "raw/train.csv", "-o", "got/"),
                 ("get-url", str(alice / "README.md"), "fetched/"),
                 ("import-url", str(alice / "README.md"), "urls/")):
        done = run_dvx(*args, cwd=project)
        assert done.code == 0, done.output
    assert (project / "data" / "train.csv").read_text() == "a,b\n1,2\n"
    assert "source:" in (project / "data" / "train.csv.dvx").read_text()
    assert (project / "got" / "train.csv").read_text() == "a,b\n1,2\n"
    assert (project / "fetched" / "README.md").read_text() == "the datasets\n"
    assert (project / "urls" / "README.md.dvx").exists()
    assert not (project / "data.dvx").exists() and not (project / "urls.dvx").exists()

    write(project / "notes", "mine\n")
    for args in (("import", str(team.origin), "raw/train.csv", "-o", "notes/", "--force"),
                 ("get", str(team.origin), "raw/train.csv", "-o", "notes/", "--force")):
        refused = run_dvx_proc(*args, cwd=project)
        assert refused.code == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert "'notes/' ends in a slash" in refused.stderr, refused.stderr
    assert (project / "notes").read_text() == "mine\n"


def test_a_stage_output_over_an_import_is_refused_naming_the_import_and_a_way_out_keeping_it(
        source, project):
    """The refusal calls the import an import, not data `dvx add` tracks, and the `dvx move`
    it offers keeps the import's source; `dvx remove` is named with what it would drop."""
    team, _ = source
    must("import", str(team.origin), "raw/train.csv", cwd=project)
    write(project / "dvx.yaml", "stages:\n  s:\n    cmd: echo x > train.csv\n"
                                "    outs: [train.csv]\n")
    refused = run_dvx_proc("repro", cwd=project)
    assert refused.code == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "'train.csv', an import (dvx import)" in refused.stderr, refused.stderr
    assert "(dvx add)" not in refused.stderr
    assert "`dvx move train.csv NEW-PATH`, which keeps its source" in refused.stderr
    assert "`dvx remove train.csv.dvx` would end the import" in refused.stderr

    must("move", "train.csv", "upstream.csv", cwd=project)  # the way out, as pasted
    assert "source:" in (project / "upstream.csv.dvx").read_text()
    assert run_dvx("repro", cwd=project).code == 0
    assert (project / "train.csv").read_text() == "x\n"


def test_get_downloads_untracked_data_and_git_files(source, project, tmp_path):
    team, _ = source
    out = tmp_path / "got"
    assert run_dvx("get", str(team.origin), "images", "-o", str(out), cwd=project).code == 0
    assert sorted(os.listdir(out)) == ["0.png", "1.png", "2.png"]
    assert run_dvx("get", str(team.origin), "README.md", "-o", str(tmp_path / "r.md"),
                   cwd=project).code == 0
    assert (tmp_path / "r.md").read_text() == "the datasets\n"
    inside = run_dvx("get", str(team.origin), "images", "-o", str(out), cwd=project)
    assert inside.code == 0 and (out / "images" / "0.png").exists()  # into the directory
    again = run_dvx("get", str(team.origin), "images", "-o", str(out), cwd=project)
    assert again.code != 0 and "already exists" in again.stderr
    assert not (project / "images.dvx").exists()


def test_get_and_read_from_a_local_workspace_copy_only_files_git_s_index_holds(source, project,
                                                                             tmp_path):
    """A local source without --rev is its workspace as Git's index holds it, as `dvx ls`
    lists it: a git-ignored secret, data whose pointer was removed and a file never added
    into a tracked folder are not the source's, and are never copied out of it."""
    _, alice = source
    write(alice / ".env", "SECRET=1\n")
    write(alice / ".gitignore", ".env\n")
    must("remove", "raw/train.csv.dvx", cwd=alice)
    write(alice / "raw" / "train.csv", "scratch edits\n")
    write(alice / "images" / "draft.png", "draft\n")
    write(alice / "notes.txt", "added, not committed\n")
    git(alice, "add", "notes.txt")
    for n, path in enumerate((".env", "raw/train.csv", "images/draft.png")):
        out = tmp_path / f"copy{n}"
        got = run_dvx("get", str(alice), path, "-o", str(out), cwd=project)
        assert got.code == 2 and "not tracked by dvx" in got.stderr, (path, got.output)
        assert not out.exists(), path
        with pytest.raises(DvxError, match="not tracked by dvx"):
            dvx.api.read(path, repo=str(alice))
    got = run_dvx("get", str(alice), "notes.txt", "-o", str(tmp_path / "notes"), cwd=project)
    assert got.code == 0 and (tmp_path / "notes").read_text() == "added, not committed\n"
    assert dvx.api.read("README.md", repo=str(alice)) == "the datasets\n"


def test_a_workspace_file_larger_than_the_limit_is_refused_never_cut_short(source):
    _, alice = source
    from dvx.ops.source import Source

    readme = Source(str(alice))
    assert readme.git_blob("README.md", max_bytes=len("the datasets\n")) == b"the datasets\n"
    with pytest.raises(DvxError, match="larger than 4 bytes"):
        readme.git_blob("README.md", max_bytes=4)


def test_a_source_s_cache_dir_outside_it_is_never_used_nor_asked_to_be_confirmed(
        source, tmp_path, monkeypatch):
    """A source whose committed config sets cache.dir outside it (a team's shared cache) is
    read from its remote: its cache is never written, so it needs no confirming, by a Git
    URL or by a local clone that has no cache at all. Each case starts cold (a new reader,
    a new user-level cache), so that no manifest read by an earlier one is found."""
    team, alice = source
    shared = tmp_path / "team-cache"
    assert run_dvx("config", "cache.dir", str(shared), cwd=alice).code == 0
    commit(alice, "a shared cache")
    git(alice, "push", "-q", "origin", "HEAD")
    git(tmp_path, "clone", "-q", str(team.origin), "plain-clone")
    clone = tmp_path / "plain-clone"
    for at, url in enumerate((f"file://{team.origin}", str(clone), f"file://{clone}")):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"user-cache{at}"))
        reader = make_git_repo(tmp_path / f"reader{at}")
        must("init", cwd=reader)
        listed = run_dvx("ls", url, cwd=reader)
        assert listed.code == 0 and "images/" in listed.stdout, listed.output
        inside = run_dvx("ls", url, "images", cwd=reader)
        assert inside.code == 0 and "1.png" in inside.stdout, inside.output
        one = run_dvx("get", url, "images/1.png", "-o", str(tmp_path / f"one{at}"), cwd=reader)
        assert one.code == 0 and (tmp_path / f"one{at}").read_text() == "image 1\n", one.output
        out = tmp_path / f"got{at}"
        got = run_dvx("get", url, "images", "-o", str(out), cwd=reader)
        assert got.code == 0 and sorted(os.listdir(out)) == ["0.png", "1.png", "2.png"], \
            got.output
        imported = run_dvx("import", url, "images", cwd=reader)
        assert imported.code == 0 and (reader / "images" / "2.png").read_text() == "image 2\n", \
            imported.output
        for run in (listed, inside, one, got, imported):
            assert "cache.dir" not in run.output and "dvx config" not in run.output
        assert not (reader / ".dvx/config.local").exists()
    assert not shared.exists()


def test_a_source_s_invalid_core_hash_is_its_own_to_fix_never_a_dvx_config_here(
        source, project, monkeypatch):
    """A hash algorithm the source's committed config names wrongly is fixed there: the error
    names the source and never a `dvx config` to type here, which would change the reader's
    own config and leave the source as it was."""
    team, alice = source
    config = alice / ".dvx" / "config"
    config.write_text(config.read_text().replace("[core]", "[core]\nhash = XXH128", 1))
    commit(alice, "a hash named wrongly")
    git(alice, "push", "-q", "origin", "HEAD")
    for url in (str(alice), f"file://{team.origin}"):
        for args in (("ls", url), ("get", url, "raw/train.csv", "-o", "t.csv"),
                     ("import", url, "images")):
            run = run_dvx(*args, cwd=project)
            assert run.code == 2 and "XXH128" in run.stderr, (args, run.output)
            assert url in run.stderr and "fixed in the source repository" in run.stderr, \
                run.output
            assert "the source's .dvx/config" in " ".join(run.stderr.split()), run.output
            assert "dvx config" not in run.output and "/dvx/repos/" not in run.output, \
                run.output
    assert "XXH128" not in (project / ".dvx" / "config").read_text()
    monkeypatch.chdir(alice)  # read by a repository of its own, the fix is typed there
    with pytest.raises(DvxError) as raised:
        dvx.api.read("README.md")
    assert "dvx config --unset core.hash" in (raised.value.hint or "")


def test_an_invalid_core_hash_in_the_user_s_global_config_is_named_there_never_the_source_s(
        source, project):
    """A core.hash the user's own global config names wrongly is fixed there: importing a
    source into a repository hashing by it names that file and the `dvx config --global`
    that fixes it, never the source; read from outside a repository, the source, whose data
    its own config names, is read as it is."""
    team, alice = source
    write(Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config", "[core]\nhash = XXH128\n")
    for url in (str(alice), f"file://{team.origin}"):
        outside = run_dvx("ls", url, cwd=project.parent)
        assert outside.code == 0 and "images" in outside.stdout, outside.output
        run = run_dvx("import", url, "raw/train.csv", cwd=project)
        assert run.code == 2 and "XXH128" in run.stderr, run.output
        assert "fixed in the source repository" not in run.stderr, run.output
        assert "dvx config --global --unset core.hash" in run.stderr, run.output
        assert "/dvx/repos/" not in run.stderr, run.output


def test_a_valid_core_hash_in_the_reader_s_global_config_never_names_a_source_s_data(
        source, project):
    """The reader's global config sets another valid core.hash (sha256) than the source's
    data was added with (the default): ls, get and import read the source's pointers and
    remote with the source's own algorithm, from its committed config or the default; the
    reader's setting applies to its own side: an import into a repository hashing with
    another algorithm is refused as such, naming each one's."""
    team, alice = source
    write(Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config", "[core]\nhash = sha256\n")
    for at, url in enumerate((str(alice), f"file://{team.origin}")):
        listed = run_dvx("ls", url, "raw", cwd=project)
        assert listed.code == 0 and "train.csv" in listed.stdout, listed.output
        got = run_dvx("get", url, "raw/train.csv", "-o", f"t{at}.csv", cwd=project)
        assert got.code == 0 and (project / f"t{at}.csv").read_text() == "a,b\n1,2\n", \
            got.output
    imported = run_dvx("import", str(alice), "images", cwd=project)
    said = " ".join(imported.stderr.split())
    assert imported.code == 2 and "hashes with xxh128, this repository with sha256" in said, \
        imported.output


def test_a_local_source_read_in_place_hashes_as_its_own_config_local_says(project, tmp_path):
    """A local source whose own config.local sets core.hash (sha256) is read in place as it
    reads itself: that file is the source's, never the reader's, so ls and get read its
    data; a revision of it is read by its committed config alone."""
    theirs = make_git_repo(tmp_path / "theirs")
    must("init", cwd=theirs)
    must("config", "--local", "core.hash", "sha256", cwd=theirs)
    write(theirs / "d" / "f.txt", "theirs\n")
    must("add", "d", cwd=theirs)
    listed = run_dvx("ls", str(theirs), "d", cwd=project)
    assert listed.code == 0 and "f.txt" in listed.stdout, listed.output
    got = run_dvx("get", str(theirs), "d", "-o", "got", cwd=project)
    assert got.code == 0 and (project / "got" / "f.txt").read_text() == "theirs\n", got.output


def test_a_source_revision_whose_dvx_lock_records_another_algorithm_says_so_for_its_outputs(
        project, tmp_path):
    """A source revision whose .dvx/config switched core.hash to sha256 while its dvx.lock
    still records its stage's output with xxh128 (committed before `dvx repro` recorded it
    again): get and import of that output say the algorithm differs, naming dvx.lock, never
    that the output is not tracked, and ls lists it as unreadable, never leaves it out; a
    path it does not record is still not tracked."""
    theirs = make_git_repo(tmp_path / "theirs")
    must("init", cwd=theirs)
    must("stage", "add", "-n", "make", "-o", "out.txt", "echo made > out.txt", cwd=theirs)
    must("repro", cwd=theirs)
    commit(theirs, "made")
    must("config", "core.hash", "sha256", cwd=theirs)
    commit(theirs, "switch to sha256")
    for command in (("get", "-o", "got.txt"), ("import", "-o", "imported.txt")):
        run = run_dvx(command[0], str(theirs), "out.txt", "--rev", "HEAD", *command[1:],
                      cwd=project)
        said = " ".join(run.stderr.split())
        assert run.code == 2 and "'out.txt' cannot be read from" in said, run.output
        assert "'dvx.lock' uses xxh128" in said and "sha256" in said, said
        assert "not tracked" not in said and "Traceback" not in run.output, said
        assert not (project / command[2]).exists()
    listed = run_dvx("ls", str(theirs), "--rev", "HEAD", cwd=project)
    assert "out.txt (unreadable)" in listed.stdout, listed.output
    assert "'dvx.lock' uses xxh128" in listed.stderr, listed.output
    elsewhere = run_dvx("get", str(theirs), "other.txt", "--rev", "HEAD", cwd=project)
    assert elsewhere.code == 2 and "'other.txt' is not tracked by dvx" in elsewhere.stderr, \
        elsewhere.output


def test_a_git_folder_holding_an_output_of_a_dvx_lock_of_another_algorithm_is_refused_whole(
        project, tmp_path):
    """As for the output itself: `dvx get` of a folder Git tracks files in, which holds an
    output dvx.lock records with another algorithm than the source revision's, is refused
    naming dvx.lock, never a copy reported as downloaded without that output."""
    theirs = make_git_repo(tmp_path / "theirs")
    must("init", cwd=theirs)
    write(theirs / "sub" / "README.md", "about sub\n")
    must("stage", "add", "-n", "make", "-o", "sub/out.txt", "echo made > sub/out.txt",
         cwd=theirs)
    must("repro", cwd=theirs)
    commit(theirs, "made")
    must("config", "core.hash", "sha256", cwd=theirs)
    commit(theirs, "switch to sha256")
    run = run_dvx("get", str(theirs), "sub", "--rev", "HEAD", "-o", "got", cwd=project)
    said = " ".join(run.stderr.split())
    assert run.code == 2 and "'sub' holds an output of dvx.lock that cannot be read" in said, \
        run.output
    assert "'dvx.lock' uses xxh128" in said and not (project / "got").exists(), said
    whole = run_dvx("get", str(theirs), "sub", "--rev", "HEAD~1", "-o", "got", cwd=project)
    assert whole.code == 0 and (project / "got" / "out.txt").read_text() == "made\n", \
        whole.output


def test_a_source_whose_owner_s_global_core_hash_named_it_is_read_by_the_algorithm_its_data_records(
        tmp_path, monkeypatch):
    """The source's owner set core.hash (sha256) in their global config after its `dvx
    init` (which would have written it into .dvx/config) and ran no pre-commit hook, so its
    committed config names none while every pointer and its dvx.lock record sha256: ls, get
    and import read its data by that algorithm (a local path, a file:// URL, a revision),
    from a reader hashing with sha256 too as from one hashing with the default."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    (tmp_path / "datasets").mkdir()
    team = Team(tmp_path / "datasets")
    owner = team.founder()
    reader = make_git_repo(tmp_path / "reader")
    must("init", cwd=reader)  # before the setting too: its .dvx/config names no algorithm
    write(global_config, "[core]\nhash = sha256\n")
    write(owner / "d" / "f.txt", "theirs\n")
    must("add", "d", cwd=owner)
    share(owner, "data")
    assert "hash" not in (owner / ".dvx" / "config").read_text()
    sources = ((str(owner), ()), (f"file://{team.origin}", ()), (str(owner), ("--rev", "HEAD")))
    for round, setting in enumerate(("[core]\nhash = sha256\n", "")):
        write(global_config, setting)
        for at, (url, rev) in enumerate(sources):
            listed = run_dvx("ls", url, "d", *rev, cwd=reader)
            assert listed.code == 0 and "f.txt" in listed.stdout, (url, rev, listed.output)
            assert "unreadable" not in listed.stdout, (url, rev, listed.output)
            out = f"got{round}{at}"
            got = run_dvx("get", url, "d", "-o", out, *rev, cwd=reader)
            assert got.code == 0, (url, rev, got.output)
            assert (reader / out / "f.txt").read_text() == "theirs\n"
    imported = run_dvx("import", str(owner), "d", cwd=reader)
    said = " ".join(imported.stderr.split())
    assert imported.code == 2 and "hashes with sha256, this repository with xxh128" in said, \
        imported.output
    # Both ways out it names work: an untracked copy, or hashing as the source does.
    assert f"`dvx get {owner} d` copies it here without tracking its source" in said, said
    assert ("as this repository tracks no data yet, make it hash as the source does (`dvx "
            "config core.hash sha256`)" in said), said
    must("get", str(owner), "d", "-o", "copied", cwd=reader)
    assert (reader / "copied" / "f.txt").read_text() == "theirs\n"
    other = make_git_repo(tmp_path / "other")
    must("init", cwd=other)
    must("config", "core.hash", "sha256", cwd=other)
    must("import", str(owner), "d", cwd=other)
    assert (other / "d" / "f.txt").read_text() == "theirs\n"
    write(global_config, "[core]\nhash = sha256\n")
    must("import", str(owner), "d", cwd=reader)
    assert (reader / "d" / "f.txt").read_text() == "theirs\n"


def test_a_source_whose_pointers_record_different_algorithms_and_whose_config_names_none_is_refused(
        tmp_path, monkeypatch):
    """A source whose committed config names no core.hash and whose pointers were added
    with different algorithms (sha256, then the default) is read by no one of them, which
    would leave the other's data unreadable: ls, get, import and the API refuse it (a local
    path, a file:// URL, a revision), naming each algorithm and the files recording it, and
    write nothing; once its config names one, the data of that algorithm is read."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    (tmp_path / "datasets").mkdir()
    team = Team(tmp_path / "datasets")
    owner = team.founder()
    must("config", "--local", "core.hash", "sha256", cwd=owner)
    write(owner / "a.txt", "sha256's\n")
    must("add", "a.txt", cwd=owner)
    must("push", cwd=owner)
    must("config", "--local", "--unset", "core.hash", cwd=owner)
    write(owner / "b.txt", "xxh128's\n")
    must("add", "b.txt", cwd=owner)
    must("push", "b.txt", cwd=owner)
    commit(owner, "data of two algorithms")
    git(owner, "push", "-q", "origin", "HEAD")
    assert "hash" not in (owner / ".dvx" / "config").read_text()
    reader = make_git_repo(tmp_path / "reader")
    must("init", cwd=reader)
    before = sorted(os.listdir(reader))
    for url, rev in ((str(owner), ()), (f"file://{team.origin}", ()),
                     (str(owner), ("--rev", "HEAD"))):
        for args in (("ls", url, *rev), ("get", url, "b.txt", "-o", "got.txt", *rev),
                     ("import", url, "a.txt", *rev)):
            run = run_dvx(*args, cwd=reader)
            said = " ".join(run.stderr.split())
            assert run.code == 2 and f"Cannot read '{url}'" in said, (args, run.output)
            assert "record different hash algorithms (sha256 by 'a.txt.dvx'; xxh128 by " \
                   "'b.txt.dvx')" in said, (args, said)
            assert "its pointer files record" in said and "dvx.lock" not in said, said
            assert "keeping one of them: there, name it (`dvx config core.hash ALGO`), " \
                "delete the pointer files recording another (`rm PATH.dvx`, which keeps the " \
                "data), `dvx add` their data again, `dvx push`, and commit .dvx/config with " \
                "them." in said, said
            assert "Traceback" not in run.output
        assert sorted(os.listdir(reader)) == before
    with pytest.raises(DvxError, match="record different hash algorithms"):
        dvx.api.read("b.txt", repo=str(owner))
    # The way out it names, keeping xxh128: a.txt's data added again with it.
    must("config", "core.hash", "xxh128", cwd=owner)
    (owner / "a.txt.dvx").unlink()
    must("add", "a.txt", cwd=owner)
    must("push", cwd=owner)
    commit(owner, "one algorithm")
    assert (owner / "a.txt").read_text() == "sha256's\n"
    for path in ("a.txt", "b.txt"):
        must("get", str(owner), path, "-o", f"got-{path}", cwd=reader)
    assert (reader / "got-a.txt").read_text() == "sha256's\n"
    assert (reader / "got-b.txt").read_text() == "xxh128's\n"


def test_an_import_whose_source_came_to_record_different_algorithms_is_not_updated_until_fixed(
        tmp_path, monkeypatch):
    """An import of a source hashing with sha256 whose owner then added data with the default
    (its config naming no core.hash, its dvx.lock recording sha256 too) is reported not
    updated, keeping the version it has, naming the pointer files and dvx.lock; once the
    owner follows the way out, keeping sha256, the import updates."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    (tmp_path / "datasets").mkdir()
    owner = Team(tmp_path / "datasets").founder()
    must("config", "--local", "core.hash", "sha256", cwd=owner)
    write(owner / "a.txt", "v1\n")
    must("add", "a.txt", cwd=owner)
    write(owner / "dvx.yaml", "stages:\n  s:\n    cmd: cat a.txt > o.txt\n"
          "    deps: [a.txt]\n    outs: [o.txt]\n")
    must("repro", cwd=owner)
    share(owner, "sha256 data")
    reader = make_git_repo(tmp_path / "reader")
    must("init", cwd=reader)
    must("config", "core.hash", "sha256", cwd=reader)
    must("import", str(owner), "a.txt", cwd=reader)
    commit(reader, "import")
    must("config", "--local", "--unset", "core.hash", cwd=owner)
    write(owner / "b.txt", "xxh128's\n")
    must("add", "b.txt", cwd=owner)
    must("push", "b.txt", cwd=owner)
    commit(owner, "data of two algorithms")
    pointer = (reader / "a.txt.dvx").read_bytes()
    refused = run_dvx("update", "a.txt.dvx", cwd=reader)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "a.txt: not updated" in said, refused.output
    assert "its pointer files and dvx.lock record different hash algorithms (sha256 by " \
        "'a.txt.dvx', 'dvx.lock'; xxh128 by 'b.txt.dvx')" in said, said
    assert "(where dvx.lock records another, `rm dvx.lock` and `dvx repro` record its stages " \
        "again)" in said, said
    assert "Traceback" not in refused.output
    assert (reader / "a.txt.dvx").read_bytes() == pointer
    assert (reader / "a.txt").read_text() == "v1\n"
    # The way out it names, keeping sha256: b.txt's data added again with it.
    must("config", "core.hash", "sha256", cwd=owner)
    (owner / "b.txt.dvx").unlink()
    must("add", "b.txt", cwd=owner)
    edit(owner, "a.txt", "v2\n")
    must("add", "a.txt", cwd=owner)
    share(owner, "one algorithm")
    updated = run_dvx("update", "a.txt.dvx", cwd=reader)
    assert updated.code == 0, updated.output
    assert (reader / "a.txt").read_text() == "v2\n"


def test_a_local_source_s_config_this_user_may_not_read_is_named_with_chmod_not_a_commit(
        project, tmp_path):
    """A file mode is never committed: ls and get of a local source whose .dvx/config the
    reader may not read name the `chmod u+r` that fixes it there, from here."""
    theirs = make_git_repo(tmp_path / "theirs")
    must("init", cwd=theirs)
    write(theirs / "model.bin", "m\n")
    must("add", "model.bin", cwd=theirs)
    commit(theirs, "v1")
    (theirs / ".dvx" / "config").chmod(0)
    try:
        runs = [dvx_unprivileged(project, *args)
                for args in (("ls", "../theirs"), ("get", "../theirs", "model.bin", "-o", "got"))]
    finally:
        (theirs / ".dvx" / "config").chmod(0o644)
    for run in runs:
        said = " ".join(run.stderr.split())
        assert run.returncode == 2 and "Traceback" not in said, said
        assert "Cannot read '../theirs': cannot read the source's .dvx/config: Permission " \
            "denied. Make it readable (`chmod u+r ../theirs/.dvx/config`, as its owner, or " \
            "fix the folder holding it) and run the command again." in said, said
        assert "committed there" not in said, said
    assert not (project / "got").exists()


def test_an_invalid_core_hash_in_a_local_source_s_config_local_is_named_there_never_as_committed(
        project, tmp_path):
    """A local source's own config.local sets core.hash to no algorithm: ls and get of it read
    in place name that file, which is not committed, never its .dvx/config nor a commit."""
    theirs = make_git_repo(tmp_path / "theirs")
    must("init", cwd=theirs)
    write(theirs / "d" / "f.txt", "theirs\n")
    must("add", "d", cwd=theirs)
    write(theirs / ".dvx" / "config.local", "[core]\nhash = md5\n")
    for args in (("ls", str(theirs), "d"), ("get", str(theirs), "d", "-o", "got")):
        run = run_dvx(*args, cwd=project)
        said = " ".join(run.stderr.split())
        assert run.code == 2 and "Traceback" not in run.output, (args, run.output)
        assert ".dvx/config.local sets core.hash to 'md5'" in said, (args, run.output)
        assert "committed there" not in said, (args, run.output)
        assert "source's .dvx/config " not in said, (args, run.output)
    assert not (project / "got").exists()


@pytest.mark.parametrize("setting", ["[core]\nno_scm = maybe", "[core\nhash = md5"])
def test_a_source_s_unreadable_config_is_its_own_to_fix_never_a_dvx_config_here(
        source, project, setting):
    """A committed config dvx cannot read in a source (a value it refuses, a line it cannot
    parse) is fixed there: the error names the source's .dvx/config, never dvx's private
    clone of it, nor a `dvx config` to type here."""
    team, alice = source
    config = alice / ".dvx" / "config"
    config.write_text(config.read_text().replace("[core]", setting, 1))
    commit(alice, "a config dvx cannot read")
    git(alice, "push", "-q", "origin", "HEAD")
    for url in (str(alice), f"file://{team.origin}"):
        for args in (("ls", url), ("get", url, "raw/train.csv", "-o", "t.csv")):
            run = run_dvx(*args, cwd=project)
            assert run.code == 2 and "Traceback" not in run.output, (args, run.output)
            assert url in run.stderr and "fixed in the source repository" in run.stderr, \
                (args, run.output)
            assert "the source's .dvx/config" in " ".join(run.stderr.split()), run.output
            assert "dvx config" not in run.output and "/dvx/repos/" not in run.output, \
                (args, run.output)
    assert not (project / "t.csv").exists()


def test_no_scm_in_the_user_s_global_config_leaves_a_source_read_through_git(source, project):
    """core.no_scm in the user's own global config says how that user works, never that a
    source's revisions hold no pointers: ls and get read the source through Git."""
    team, alice = source
    must("config", "--global", "core.no_scm", "true", cwd=project)
    for url in (str(alice), f"file://{team.origin}"):
        listed = run_dvx("ls", url, cwd=project)
        assert listed.code == 0 and "raw/" in listed.stdout, listed.output
        got = run_dvx("get", url, "raw/train.csv", "-o", str(project / "t.csv"), cwd=project)
        assert got.code == 0 and (project / "t.csv").exists(), got.output
        (project / "t.csv").unlink()


def test_a_source_whose_config_sets_no_scm_is_said_to_work_without_git_never_to_be_none(
        source, project):
    """A source whose committed config sets core.no_scm is a Git repository: ls, get and
    import say that its config makes it a project without Git (its revisions do not say what
    data it holds), never that it is not a Git repository, and nothing is written here."""
    team, alice = source
    config = alice / ".dvx" / "config"
    config.write_text(config.read_text().replace("[core]", "[core]\nno_scm = true", 1))
    commit(alice, "without Git")
    git(alice, "push", "-q", "origin", "HEAD")
    for url in (str(alice), f"file://{team.origin}"):
        for args in (("ls", url), ("get", url, "raw/train.csv", "-o", "t.csv"),
                     ("import", url, "images")):
            run = run_dvx(*args, cwd=project)
            assert run.code == 2 and "Traceback" not in run.output, (args, run.output)
            message = " ".join(run.stderr.split())
            assert "not a Git repository" not in message, (args, message)
            assert f"'{url}' is a dvx project that works without Git (its config sets " \
                "core.no_scm)" in message, (args, message)
            assert "dvx config" not in run.output, (args, run.output)
    assert not (project / "t.csv").exists() and not (project / "images").exists()


def test_get_copies_a_directory_git_tracks_with_the_data_dvx_tracks_in_it(source, project,
                                                                         tmp_path):
    team, alice = source
    write(alice / "code" / "train.py", "print(1)\n")
    write(alice / "code" / "run.sh", "#!/bin/sh\n")
    os.chmod(alice / "code" / "run.sh", 0o755)
    os.symlink("train.py", alice / "code" / "main.py")
    write(alice / "code" / "model" / "weights.bin", "w1\n")
    must("add", "code/model", cwd=alice)
    share(alice, "code")
    for n, where in enumerate(([str(alice)], [str(team.origin), "--rev", "main"])):
        out = tmp_path / f"code{n}"
        got = run_dvx("get", *where, "code", "-o", str(out), cwd=project)
        assert got.code == 0, (where, got.output)
        assert (out / "train.py").read_text() == "print(1)\n"
        assert os.access(out / "run.sh", os.X_OK) and os.readlink(out / "main.py") == "train.py"
        assert (out / "model" / "weights.bin").read_text() == "w1\n"  # dvx's data in it
        assert not (out / "model.dvx").exists()  # and no pointer that would track it here
        mixed = run_dvx("get", *where, "raw", "-o", str(tmp_path / f"raw{n}"), cwd=project)
        assert mixed.code == 0 and (tmp_path / f"raw{n}" / "train.csv").read_text() == (
            "a,b\n1,2\n"), mixed.output
    refused = run_dvx("import", str(alice), "code", cwd=project)
    assert refused.code != 0 and "not tracked by dvx" in refused.stderr, refused.output


def test_get_and_import_of_a_pointer_file_are_refused_naming_the_data(source, project):
    """A copy of the source's pointer file would track, where it lands, data that is in
    neither this repository's cache nor its remote: refused, naming the data to get."""
    team, alice = source
    for url in (str(team.origin), str(alice)):
        for rev in ((), ("--rev", "v1")):
            for args, pointer, data in (
                    (("get", url, "raw/train.csv.dvx"), "raw/train.csv.dvx", "raw/train.csv"),
                    (("get", url, "images.dvx", "-o", "images.dvx"), "images.dvx", "images"),
                    (("import", url, "images.dvx"), "images.dvx", "images")):
                refused = run_dvx(*args, *rev, cwd=project)
                assert refused.code == 2, (args, rev, refused.output)
                assert refused.stderr.startswith(
                    f"ERROR: '{pointer}' is the pointer file of '{data}' in "), refused.stderr
                assert f"Name the data instead: '{data}'" in refused.stderr
    assert sorted(os.listdir(project)) == [".dvx", ".git"]
    assert run_dvx("status", "-q", cwd=project).code == 0


def test_get_of_a_file_named_as_a_pointer_that_is_none_says_it_cannot_be_read(source,
                                                                              project):
    """A file Git tracks in the source whose name ends in .dvx but that is no pointer
    (`notes.dvx` holding plain text): get and import are refused saying the pointer file
    cannot be read and why, as for a directory holding it, not naming data 'notes' that
    does not exist."""
    team, alice = source
    write(alice / "notes.dvx", "plain\n")
    git(alice, "add", "notes.dvx")
    git(alice, "commit", "-qm", "notes")
    git(alice, "push", "-q", "origin", "HEAD")
    for url in (str(team.origin), str(alice)):
        for args in (("get", url, "notes.dvx", "-o", "n.out"), ("import", url, "notes.dvx")):
            refused = run_dvx(*args, cwd=project)
            assert refused.code == 2, (args, refused.output)
            assert refused.stderr.startswith("ERROR: 'notes.dvx' in ") and \
                "is a pointer file that cannot be read: The pointer file 'notes.dvx' is not " \
                "a YAML mapping." in refused.stderr, refused.stderr
            assert "Name the data instead" not in refused.stderr
    assert sorted(os.listdir(project)) == [".dvx", ".git"]


def test_get_force_replaces_what_is_there_and_never_writes_through_it(source, project,
                                                                      tmp_path):
    team, _ = source
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    os.symlink(notes, project / "train.csv")  # a link to a file outside
    got = run_dvx("get", str(team.origin), "raw/train.csv", "--force", cwd=project)
    assert got.code == 0, got.output
    assert notes.read_text() == "my notes\n"
    assert not (project / "train.csv").is_symlink()
    assert (project / "train.csv").read_text() == "a,b\n1,2\n"

    must("config", "cache.type", "hardlink", cwd=project)  # a tracked file shares the cache's
    write(project / "mine.csv", "only copy\n")
    must("add", "mine.csv", cwd=project)
    assert run_dvx("get", str(team.origin), "raw/train.csv", "-o", "mine.csv", "--force",
                   cwd=project).code == 0
    assert "0 corrupt" in must("fsck", cwd=project)

    write(project / "images" / "old.png", "not in the source\n")
    assert run_dvx("get", str(team.origin), "images", "--force", cwd=project).code == 0
    assert sorted(os.listdir(project / "images")) == ["0.png", "1.png", "2.png"]
    write(project / "README.md" / "old", "a directory where the file goes\n")
    assert run_dvx("get", str(team.origin), "README.md", "--force", cwd=project).code == 0
    assert (project / "README.md").read_text() == "the datasets\n"
    write(project / "keep" / "notes.txt", "mine\n")  # -o an existing directory: into it
    assert run_dvx("get", str(team.origin), "raw/train.csv", "-o", "keep", "--force",
                   cwd=project).code == 0
    assert sorted(os.listdir(project / "keep")) == ["notes.txt", "train.csv"]
    assert not [n for n in os.listdir(project) if n.startswith(".dvx-get-")]

    here = run_dvx("get", str(team.origin), "images", "-o", "..", "--force",
                   cwd=project / "images")  # ../images is where the command runs
    assert here.code != 0 and "current directory" in here.stderr


def test_get_and_get_url_never_write_into_git_s_or_dvx_s_own_files(source, project):
    team, alice = source
    config = (project / ".dvx" / "config").read_text()
    for args in (["get", str(team.origin), "raw/train.csv", "-o", ".dvx/config", "--force"],
                 ["get", str(team.origin), "raw/train.csv", "-o", ".git/hooks/pre-commit"],
                 ["get-url", str(alice / "README.md"), ".git/info/x"]):
        refused = run_dvx(*args, cwd=project)
        assert refused.code == 2, refused.output
        assert "which holds Git's or dvx's own files" in refused.stderr, refused.stderr
    assert (project / ".dvx" / "config").read_text() == config
    assert not (project / ".git" / "hooks" / "pre-commit").exists()
    assert not (project / ".git" / "info" / "x").exists()


def test_a_get_copying_an_object_another_command_marks_used_meanwhile_succeeds(source,
                                                                                project):
    """Adding content already cached marks its object used (a new mtime, for gc's grace
    period), and changes no byte: a get copying that object from the same cache meanwhile
    (a repository sharing it, or two gets at once into the user's cache) goes on."""
    import signal

    _, alice = source
    data = os.urandom(3 << 20)  # large: copied and hashed in one pass from the source's cache
    write(alice / "big.bin", data)
    must("add", "big.bin", cwd=alice)
    commit(alice, "big")
    getting = stopped_at("hash_copy.after_open", f"get {alice} big.bin -o got.bin", project)
    must("add", "big.bin", cwd=alice)  # already cached: its object is marked used
    os.kill(getting.pid, signal.SIGCONT)
    out, err = getting.communicate(timeout=60)
    assert getting.returncode == 0, out + err
    assert (project / "got.bin").read_bytes() == data


def test_bare_sources_of_the_same_relative_name_in_two_projects_are_two_sources(
        tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        alice = Team(tmp_path / name).founder()
        write(alice / "data.csv", f"the data of {name}\n")
        must("add", "data.csv", cwd=alice)
        share(alice, "data")
    for name in ("a", "b"):  # both sources are 'origin.git', relative to the project
        assert run_dvx("get", "origin.git", "data.csv", "-o", "got.csv",
                       cwd=tmp_path / name).code == 0
        assert (tmp_path / name / "got.csv").read_text() == f"the data of {name}\n"


def test_a_relative_xdg_cache_home_is_ignored_as_the_xdg_spec_says(source, project,
                                                                   monkeypatch, tmp_path):
    """A relative XDG_CACHE_HOME would put dvx's clones of Git sources and the objects read
    outside a repository in the folder a command runs from, a work tree Git sees (a clone in
    it is an embedded repository for `git add -A`): it is ignored for ~/.cache."""
    team, _ = source
    monkeypatch.setenv("XDG_CACHE_HOME", "cachedir")
    home_cache = Path(os.environ["HOME"]) / ".cache" / "dvx"
    imported = run_dvx("import", str(team.origin), "raw/train.csv", cwd=project)
    assert imported.code == 0, imported.output
    assert not (project / "cachedir").exists()
    assert "cachedir" not in git(project, "status", "--short", "--untracked-files=all")
    assert [p for p in (home_cache / "repos").iterdir() if p.is_dir()]  # the clone
    outside = tmp_path / "outside"
    outside.mkdir()
    got = run_dvx("get", str(team.origin), "images/0.png", "-o", "got.png", cwd=outside)
    assert got.code == 0 and (outside / "got.png").read_text() == "image 0\n", got.output
    assert sorted(p.name for p in outside.iterdir()) == ["got.png"]
    assert (home_cache / "cache").is_dir()


def test_a_bare_source_s_relative_remote_is_read_from_beside_it(tmp_path, monkeypatch,
                                                                project):
    from dvx.errors import RemoteError
    from dvx.ops.remote import open_source_remote
    from dvx.repo import Repo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    (tmp_path / "src").mkdir()
    team = Team(tmp_path / "src")
    alice = team.founder()
    must("remote", "modify", "shared", "url", "../store", cwd=alice)  # as docs/remotes.md has it
    for name in ("a.txt", "b.txt"):
        write(alice / name, f"{name}\n")
    must("add", "a.txt", "b.txt", cwd=alice)
    share(alice, "data")
    imported = run_dvx("import", str(team.origin), "a.txt", cwd=project)
    assert imported.code == 0 and (project / "a.txt").read_text() == "a.txt\n", imported.output
    assert not (team.origin / ".dvx").exists()  # the source is never written to
    team.store.rename(tmp_path / "moved")
    missing = run_dvx("import", str(team.origin), "b.txt", cwd=project)
    assert missing.code == 1, missing.output
    assert f"The remote directory '{team.store}' does not exist" in missing.stderr
    with pytest.raises(RemoteError, match=r"relative directory '\.\./store'"):
        source = Repo(str(alice))
        open_source_remote(source, source.config, None, (), None,  # a source elsewhere
                           str(tmp_path / "indexes"))


def test_import_tracks_with_its_source_and_update_follows_it(source, project):
    team, alice = source
    result = run_dvx("import", str(team.origin), "images", "-o", "data/images", "--rev",
                     "main", cwd=project)
    assert result.code == 0, result.output
    pointer = (project / "data" / "images.dvx").read_text()
    assert "source:" in pointer and 'rev: "main"' in pointer and "rev_lock:" in pointer
    assert sorted(os.listdir(project / "data" / "images")) == ["0.png", "1.png", "2.png"]
    commit(project, "import images")
    assert run_dvx("status", "-q", cwd=project).code == 0
    _new_version(alice)
    status = run_dvx("status", cwd=project)
    assert "data/images: its source moved" in status.stdout
    assert run_dvx("status", "-q", cwd=project).code == 1
    updated = run_dvx("update", "data/images.dvx", cwd=project)
    assert updated.code == 0 and "now at" in updated.stdout
    assert (project / "data" / "images" / "3.png").read_text() == "image 3\n"
    assert run_dvx("status", "-q", cwd=project).code == 0
    assert "up to date" in run_dvx("update", cwd=project).stdout
    # --rev moves an import to another revision
    assert run_dvx("update", "--rev", "v1", cwd=project).code == 0
    assert not (project / "data" / "images" / "3.png").exists()


def test_status_never_says_update_brings_an_import_its_source_no_longer_tracks(source,
                                                                              project,
                                                                              tmp_path):
    """The source moved to a commit where the imported path is no longer tracked: status
    says so, not that `dvx update` brings it (update fails for it), also in a clone whose
    cache lacks its data; another import of that source still names the update."""
    team, alice = source
    must("import", str(team.origin), "raw/train.csv", cwd=project)
    must("import", str(team.origin), "images", cwd=project)
    commit(project, "imports")
    must("remove", "raw/train.csv.dvx", cwd=alice)
    share(alice, "train.csv dropped")
    said = run_dvx("status", cwd=project).stdout
    assert "train.csv: its source moved (HEAD is now" in said, said
    assert "and no longer tracks 'raw/train.csv' there, so `dvx update` cannot bring it" in said
    assert "`dvx update train.csv.dvx`" not in said
    assert "(`dvx update images.dvx` brings it)" in said
    git(tmp_path, "clone", "-q", str(project), "mate")  # whose cache has none of it
    said = run_dvx("status", cwd=tmp_path / "mate").stdout
    assert "so `dvx update` cannot bring it" in said, said
    assert "`dvx update train.csv.dvx`" not in said, said
    assert "brings the data train.csv.dvx names from the commit it records" in said, said
    failed = run_dvx("update", "train.csv.dvx", cwd=project)
    assert failed.code == 1 and "is not tracked by dvx" in failed.stderr, failed.output


def test_a_source_that_moved_to_a_damaged_pointer_of_the_import_is_named_not_a_traceback(
        source, project):
    """The source moved to a commit whose pointer of the imported path cannot be read:
    status warns that the source could not be checked, naming the pointer, and update fails
    for it saying the pointer must be fixed there; neither stops with a traceback."""
    team, alice = source
    must("import", str(team.origin), "raw/train.csv", cwd=project)
    commit(project, "import")
    write(alice / "raw" / "train.csv.dvx", "outs:\n- oid: [\n")
    commit(alice, "pointer damaged")
    git(alice, "push", "-q", "origin", "HEAD")
    status = run_dvx("status", cwd=project)
    assert status.code == 0 and "Traceback" not in status.output, status.output
    assert ("WARNING: train.csv: its source could not be checked: 'raw/train.csv' cannot be "
            "read from") in status.stderr
    assert "The pointer file 'raw/train.csv.dvx' is not valid YAML" in status.stderr
    failed = run_dvx("update", "train.csv.dvx", cwd=project)
    assert failed.code == 1 and "Traceback" not in failed.output, failed.output
    assert "Its pointer must be fixed in the source repository." in failed.stderr


def test_an_import_puts_its_entry_after_a_rule_taking_the_data_back_into_git(source, project):
    """The .gitignore where the import lands names it, and a `!` rule follows (a teammate's):
    the import writes the entry after the rule, as add does, so `git add -A` never commits
    the data."""
    team, _alice = source
    write(project / "data" / ".gitignore", "/images\n!images/\n")
    commit(project, "the team's rules")
    result = run_dvx("import", str(team.origin), "images", "-o", "data/images", cwd=project)
    assert result.code == 0, result.output
    assert "The rule '!images/' in data/.gitignore:2 took 'data/images' back" in result.stderr
    assert (project / "data" / ".gitignore").read_text() == "!images/\n/images\n"
    assert git(project, "status", "--porcelain", "-uall", "--", "data/images") == ""


def _tree_state(top) -> dict[str, int]:
    """Every path below `top` (Git's folder too) with its modification time."""
    state = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            state[os.path.relpath(path, top)] = os.lstat(path).st_mtime_ns
    return state


def test_reading_a_local_source_from_its_remote_never_writes_into_it(source, project,
                                                                       tmp_path, monkeypatch):
    """Its remote's pack indexes are kept by the reader (or in the user's cache), never in
    the source's .dvx (docs/reuse.md)."""
    import dvx.api

    _, alice = source
    shutil.rmtree(alice / ".dvx" / "cache")  # so the data comes from the remote, in packs
    shutil.rmtree(alice / ".dvx" / "tmp")
    assert any(name.endswith(".pack") for _, _, files in os.walk(tmp_path / "datasets")
               for name in files)
    before = _tree_state(alice)
    for args in (("import", str(alice), "images"),
                 ("import", "--rev", "v1", str(alice), "raw/train.csv"),
                 ("get", str(alice), "images", "-o", "got"),
                 ("update",), ("update", "--rev", "v1", "images.dvx"),
                 ("ls", str(alice), "images")):
        done = run_dvx(*args, cwd=project)
        assert done.code == 0, (args, done.output)
    assert dvx.api.read("images/1.png", repo=str(alice)) == "image 1\n"
    monkeypatch.chdir(tmp_path)  # not inside any repository
    assert dvx.api.read("raw/train.csv", repo=str(alice), rev="v1") == "a,b\n1,2\n"
    assert _tree_state(alice) == before
    assert os.listdir(project / ".dvx" / "tmp" / "indexes")  # the reader keeps them


def test_an_import_cut_short_by_a_full_disk_is_finished_by_running_it_again(source, project):
    team, _ = source
    args = ("import", str(team.origin), "images", "-o", "data")
    full_disk = {"DVX_FAULT": "copy.after_temp_write:2", "DVX_FAULT_ACTION": "enospc"}
    cut = run_dvx_proc(*args, cwd=project, env=full_disk)
    assert cut.code == 1 and "Traceback" not in cut.stderr, cut.stderr
    assert len(os.listdir(project / "data")) < 3
    assert run_dvx("status", "-q", cwd=project).code == 1

    for _ in range(2):  # -o names the import's own output, not a directory to import into
        again = run_dvx(*args, cwd=project)
        assert again.code == 0, again.output
        assert sorted(os.listdir(project / "data")) == ["0.png", "1.png", "2.png"]
        assert run_dvx("status", "-q", cwd=project).code == 0
    (project / "plain").mkdir()  # any other existing directory takes the import inside it
    assert run_dvx("import", str(team.origin), "images", "-o", "plain", cwd=project).code == 0
    assert sorted(os.listdir(project / "plain" / "images")) == ["0.png", "1.png", "2.png"]


def test_an_import_of_one_file_of_a_directory_and_its_data_is_pushed_with_ours(
        source, project, tmp_path):
    team, _ = source
    assert run_dvx("import", str(team.origin), "images/1.png", cwd=project).code == 0
    assert (project / "1.png").read_text() == "image 1\n"
    must("remote", "add", "-d", "ours", str(tmp_path / "our-store"), cwd=project)
    must("push", cwd=project)
    assert local_spec(tmp_path / "our-store", "", {}).oids() == {  # that one object only
        xxhash.xxh3_128_hexdigest(b"image 1\n")}


def test_a_pipeline_output_with_a_remote_of_its_own_is_read_from_that_remote(
        source, project, tmp_path, monkeypatch):
    """An output of the source's dvx.yaml with `remote: archive` was pushed there, not to the
    default remote: get, import and dvx.api read it from there (docs/reuse.md); an output
    naming a remote the source no longer has is read from its default remote."""
    import dvx.api

    team, alice = source
    must("remote", "add", "archive", str(tmp_path / "archive"), cwd=alice)
    must("remote", "modify", "archive", "pack_threshold", "0", cwd=alice)  # URLs of their own
    write(alice / "dvx.yaml", """\
stages:
  train:
    cmd: mkdir -p feats && echo weights > model.bin && echo f > feats/a.txt
    outs:
    - model.bin: {remote: archive}
    - feats: {remote: archive}
""")
    must("repro", cwd=alice)
    share(alice, "model")  # model.bin and feats go to 'archive' only
    weights = xxhash.xxh3_128_hexdigest(b"weights\n")
    assert weights not in local_spec(team.store, "", {}).oids()
    origin = str(team.origin)  # read through a clone of its own, whose cache is empty
    imported = run_dvx("import", origin, "model.bin", cwd=project)
    assert imported.code == 0, imported.output
    assert (project / "model.bin").read_text() == "weights\n"
    got = run_dvx("get", origin, "feats", "-o", "got", cwd=project)
    assert got.code == 0, got.output
    assert (project / "got" / "a.txt").read_text() == "f\n"
    monkeypatch.chdir(tmp_path)  # the user's cache: nothing read before
    assert dvx.api.read("feats/a.txt", repo=origin) == "f\n"
    assert dvx.api.get_url("model.bin", repo=origin).startswith(str(tmp_path / "archive"))

    # Renamed in the source's config since: its outputs naming 'archive' are read from the
    # default remote, where its push now sends them too.
    must("remote", "rename", "archive", "cold", cwd=alice)
    must("push", "-r", "shared", cwd=alice)
    commit(alice, "renamed")
    git(alice, "push", "-q", "origin", "HEAD")
    got = run_dvx("get", origin, "model.bin", "-o", "again.bin", cwd=project)
    assert got.code == 0, got.output
    assert (project / "again.bin").read_text() == "weights\n"


def test_a_revision_is_read_from_the_remotes_its_own_config_names(source, project,
                                                                   tmp_path):
    """A branch that gave a stage's output a remote of its own, and one that made another
    remote the default, pushed their data there: get and import read each revision from the
    remotes its own committed .dvx/config names, not from those of the source's default
    branch (a clone) or workspace (a local source), both on main here."""
    team, alice = source
    git(alice, "checkout", "-q", "-b", "feat")
    must("remote", "add", "other", str(tmp_path / "other"), cwd=alice)
    write(alice / "dvx.yaml", """\
stages:
  mk:
    cmd: echo feat > out.bin
    outs:
    - out.bin: {remote: other}
""")
    must("repro", cwd=alice)
    share(alice, "out.bin on its own remote")
    git(alice, "checkout", "-q", "main")
    git(alice, "checkout", "-q", "-b", "moved")
    must("remote", "add", "-d", "newstore", str(tmp_path / "newstore"), cwd=alice)
    write(alice / "moved.txt", "moved\n")
    must("add", "moved.txt", cwd=alice)
    share(alice, "a new default remote")  # moved.txt goes there only
    git(alice, "checkout", "-q", "main")
    shutil.rmtree(alice / ".dvx" / "cache")  # read from the remotes, not from alice's cache
    for n, where in enumerate((str(team.origin), str(alice))):
        got = run_dvx("get", where, "out.bin", "--rev", "feat", "-o", f"out{n}.bin",
                      cwd=tmp_path)
        assert got.code == 0, got.output
        assert (tmp_path / f"out{n}.bin").read_text() == "feat\n"
        imported = run_dvx("import", where, "moved.txt", "--rev", "moved", "-o",
                           f"moved{n}.txt", cwd=project)
        assert imported.code == 0, imported.output
        assert (project / f"moved{n}.txt").read_text() == "moved\n"
        shutil.rmtree(project / ".dvx" / "cache")  # the next source is read afresh


def test_a_revision_committed_before_the_source_had_a_remote_is_read_from_today_s(source,
                                                                                   project):
    """A commit whose .dvx/config names no remote (made before the team set one up; its data
    pushed later): read from the remote of the source's default branch."""
    team, alice = source
    git(alice, "checkout", "-q", "-b", "early")
    must("remote", "remove", "shared", cwd=alice)
    write(alice / "early.txt", "from before the remote\n")
    must("add", "early.txt", cwd=alice)
    commit(alice, "no remote yet")
    must("remote", "add", "--local", "shared", str(team.store), cwd=alice)
    must("push", "-r", "shared", cwd=alice)
    git(alice, "push", "-q", "origin", "early")
    shutil.rmtree(alice / ".dvx" / "cache")
    got = run_dvx("get", str(team.origin), "early.txt", "--rev", "early", cwd=project)
    assert got.code == 0, got.output
    assert (project / "early.txt").read_text() == "from before the remote\n"


def test_a_revision_naming_remotes_but_no_default_reads_the_default_set_later(
        source, project, tmp_path):
    """A commit whose .dvx/config names a remote but sets no default (its data pushed with
    -r), that later commits make the default: read from that remote, by path and by URL."""
    team, alice = source
    git(alice, "checkout", "-q", "-b", "early")
    must("remote", "remove", "shared", cwd=alice)
    must("remote", "add", "st", str(tmp_path / "st"), cwd=alice)  # not the default yet
    write(alice / "early.txt", "pushed with -r\n")
    must("add", "early.txt", cwd=alice)
    commit(alice, "a remote, no default")
    must("push", "-r", "st", cwd=alice)
    git(alice, "push", "-q", "origin", "early")
    git(alice, "checkout", "-q", "main")
    must("remote", "add", "-d", "st", str(tmp_path / "st"), cwd=alice)
    share(alice, "st is the default now")
    shutil.rmtree(alice / ".dvx" / "cache")
    for n, where in enumerate((str(team.origin), str(alice))):
        got = run_dvx("get", where, "early.txt", "--rev", "early", "-o", f"early{n}.txt",
                      cwd=project)
        assert got.code == 0, got.output
        assert (project / f"early{n}.txt").read_text() == "pushed with -r\n"


def test_a_revision_whose_committed_config_is_a_symbolic_link_is_refused(source, project,
                                                                         tmp_path):
    team, alice = source
    write(tmp_path / "elsewhere.ini", f'[core]\nremote = mine\n[remote "mine"]\nurl = {tmp_path}\n')
    git(alice, "checkout", "-q", "-b", "linked")
    (alice / ".dvx" / "config").unlink()
    (alice / ".dvx" / "config").symlink_to(tmp_path / "elsewhere.ini")
    commit(alice, "a config from elsewhere")
    git(alice, "push", "-q", "origin", "linked")
    refused = run_dvx("get", str(team.origin), "raw/train.csv", "--rev", "linked", cwd=project)
    assert refused.code == 2, refused.output
    assert "'.dvx/config' of" in refused.stderr and "symbolic link" in refused.stderr
    assert not (project / "train.csv").exists()


def test_an_object_missing_on_the_source_s_remote_is_named_by_its_path(source, project,
                                                                        tmp_path):
    team, alice = source
    must("remote", "modify", "shared", "pack_threshold", "0", cwd=alice)  # stored whole
    for i in range(2):
        write(alice / "scans" / f"{i}.png", f"scan {i}\n")
    must("add", "scans", cwd=alice)
    share(alice, "scans")
    local_spec(team.store, "", {}).delete_raw(xxhash.xxh3_128_hexdigest(b"scan 1\n"))
    for command in ("get", "import"):
        failed = run_dvx(command, str(team.origin), "scans", cwd=project)
        assert failed.code == 1, failed.output
        assert "'scans/1.png' (" in failed.stderr and "not on the remote" in failed.stderr


def test_update_rev_takes_one_repository_named_by_path_and_by_file_url_as_one_source(
        source, project):
    team, alice = source
    _new_version(alice)
    git(alice, "tag", "v2")
    git(alice, "push", "-q", "origin", "v2")
    assert run_dvx("import", str(team.origin), "images", "--rev", "v1", cwd=project).code == 0
    assert run_dvx("import", f"file://{team.origin}/", "raw/train.csv", "--rev", "v1",
                   cwd=project).code == 0
    updated = run_dvx("update", "images.dvx", "train.csv.dvx", "--rev", "v2", cwd=project)
    assert updated.code == 0, updated.output
    assert (project / "images" / "3.png").read_text() == "image 3\n"
    assert 'rev: "v2"' in (project / "train.csv.dvx").read_text()
    before = (project / "images.dvx").read_text(), (project / "train.csv.dvx").read_text()
    unknown = run_dvx("update", "images.dvx", "train.csv.dvx", "--rev", "nope", cwd=project)
    assert unknown.code == 2, unknown.output  # a bad argument, as `push --rev nope` exits
    assert unknown.stderr.startswith("ERROR: Unknown revision 'nope' in ")
    assert ((project / "images.dvx").read_text(),
            (project / "train.csv.dvx").read_text()) == before


def test_a_revision_naming_no_one_commit_of_the_source_is_named_as_gc_names_it(source, project):
    team, alice = source
    for rev, why in (("HEAD~1..HEAD", "names a range or an exclusion of commits"),
                     ("^HEAD", "names a range or an exclusion of commits"),
                     ("HEAD^{tree}", "names a Git tree, not a commit"),
                     ("HEAD:README.md", "names a Git blob, not a commit")):
        for url in (str(alice), str(team.origin)):
            for args in (("ls", url), ("get", url, "README.md", "-o", "copy.md"),
                         ("import", url, "README.md", "-o", "copy.md")):
                refused = run_dvx(*args, "--rev", rev, cwd=project)
                assert refused.code == 2, (args, rev, refused.output)
                assert refused.stderr.startswith(f"ERROR: Invalid revision {rev!r}: it {why}"), (
                    args, refused.stderr)
                assert f"of the repository at '{url}'" in refused.stderr, refused.stderr
    assert not (project / "copy.md").exists()


def test_import_again_at_another_rev_takes_its_source_by_path_or_file_url_as_one(
        source, project):
    """Running an import again at another revision moves that import on however its source
    repository is named (a file:// URL, an absolute or relative path), as `update --rev`
    takes them as one source; the pointer records the spelling given last."""
    team, alice = source
    _new_version(alice)
    git(alice, "tag", "v2")
    git(alice, "push", "-q", "origin", "v2")
    must("import", f"file://{team.origin}/", "images", "--rev", "v1", "-o", "data/images",
         cwd=project)
    must("import", str(team.origin), "images", "--rev", "v2", "-o", "data/images",
         cwd=project)
    assert sorted(os.listdir(project / "data" / "images")) == ["0.png", "1.png", "2.png",
                                                               "3.png"]
    relative = os.path.relpath(team.origin, project)  # as a path is recorded
    assert f'repo: "{relative}"' in (project / "data" / "images.dvx").read_text()
    must("import", f"file://{team.origin}", "raw/train.csv", "--rev", "v1", "-o", "t.csv",
         cwd=project)
    must("import", relative, "raw/train.csv", "--rev", "v2", "-o", "t.csv", cwd=project)
    assert 'rev: "v2"' in (project / "t.csv.dvx").read_text()
    other = run_dvx("import", str(alice), "raw/train.csv", "--rev", "v2", "-o", "t.csv",
                    cwd=project)  # another repository (a clone of it) is another source
    assert other.code == 2 and "'t.csv' already exists: it is an import of" in other.stderr, (
        other.output)


def test_a_percent_encoded_file_url_names_the_folder_git_reads(source, project):
    """A file:// URL's percent-escapes are decoded as Git decodes them (`%20`: a space), for
    a work tree read in place and a bare repository cloned alike."""
    team, _ = source
    team.clone("data sets")
    git(team.base, "clone", "-q", "--bare", str(team.origin), "bare sets.git")
    for name in ("data sets", "bare sets.git"):
        url = "file://" + str(team.base / name).replace(" ", "%20")
        listed = run_dvx("ls", url, "raw", cwd=project)
        assert listed.code == 0 and "train.csv" in listed.stdout, listed.output
        out = name.split()[0] + ".csv"
        imported = run_dvx("import", url, "raw/train.csv", "-o", out, cwd=project)
        assert imported.code == 0, imported.output
        assert (project / out).read_text() == "a,b\n1,2\n"
        assert "up to date" in must("update", f"{out}.dvx", cwd=project)
        assert dvx.api.read("raw/train.csv", repo=url) == "a,b\n1,2\n"


def test_import_refuses_to_overwrite(source, project):
    team, _ = source
    write(project / "images" / "mine.txt", "mine")
    refused = run_dvx("import", str(team.origin), "images", cwd=project)
    assert refused.code != 0 and "already exists" in refused.stderr
    assert (project / "images" / "mine.txt").read_text() == "mine"
    bad = run_dvx("import", str(team.origin), "nope", cwd=project)
    assert bad.code != 0 and "not tracked by dvx" in bad.stderr


def test_import_refuses_a_path_git_tracks_even_with_force_as_add_does(source, project,
                                                                       tmp_path):
    """Imported data in place of a file Git tracks would be committed into Git by the next
    `git commit -a`: refused as `dvx add` refuses it, deleted from the workspace or not."""
    team, _ = source
    upstream = write(tmp_path / "u.txt", "imported\n")
    write(project / "README.md", "code\n")
    write(project / "docs" / "notes.md", "notes\n")
    commit(project, "code")
    (project / "docs" / "notes.md").unlink()  # deleted from the workspace only
    for args in (("import", str(team.origin), "raw/train.csv", "-o", "README.md", "--force"),
                 ("import-url", str(upstream), "README.md", "--force"),
                 ("import", str(team.origin), "raw/train.csv", "-o", "docs/notes.md")):
        refused = run_dvx(*args, cwd=project)
        assert refused.code == 2, (args, refused.output)
        assert "is tracked by Git" in refused.stderr and "git rm -r --cached" in \
            refused.stderr, refused.output
    assert (project / "README.md").read_text() == "code\n"
    assert git(project, "status", "--porcelain") == " D docs/notes.md\n"
    here = run_dvx("import-url", str(upstream), "notes.md", cwd=project / "docs")
    assert here.code == 2 and "git rm -r --cached -- notes.md" in here.stderr, here.output


def test_import_refuses_a_place_git_or_dvxignore_leaves_out_even_with_force_as_add_does(
        source, project, tmp_path):
    """A pointer Git ignores would never be committed, and data .dvxignore leaves out is
    never tracked: refused as `dvx add` refuses them, before any data is fetched; a `name/`
    rule of .dvxignore leaves out a folder only. `dvx get` writes no pointer: never refused."""
    team, _ = source
    upstream = write(tmp_path / "u.txt", "imported\n")
    write(project / ".gitignore", "build/\n")
    write(project / ".dvxignore", "skip/\npics/\n")
    commit(project, "rules")
    for args in (("import", str(team.origin), "raw/train.csv", "-o", "build/train.csv"),
                 ("import", str(team.origin), "images", "-o", "build/", "--force"),
                 ("import-url", str(upstream), "build/u.txt", "--force")):
        refused = run_dvx(*args, cwd=project)
        assert refused.code == 2, (args, refused.output)
        assert "is ignored by Git (rule 'build/' in .gitignore:1), so it would never be " \
            "committed" in refused.stderr, refused.output
    for args in (("import", str(team.origin), "raw/train.csv", "-o", "skip/train.csv"),
                 ("import", str(team.origin), "images", "-o", "pics", "--force"),
                 ("import-url", str(upstream), "skip/u.txt")):
        refused = run_dvx(*args, cwd=project)
        assert refused.code == 2, (args, refused.output)
        assert "is ignored by .dvxignore" in refused.stderr, refused.output
        assert "Import to another path" in refused.stderr, refused.output
    assert not list((project / ".dvx" / "cache").glob("files/*/*/*"))  # nothing fetched
    assert git(project, "status", "--porcelain") == ""
    assert not [name for name in ("build", "skip", "pics") if (project / name).exists()]
    assert run_dvx("get", str(team.origin), "raw/train.csv", "-o", "build/train.csv",
                   cwd=project).code == 0
    assert (project / "build" / "train.csv").read_text() == "a,b\n1,2\n"
    a_file = run_dvx("import", str(team.origin), "images/0.png", "-o", "pics", cwd=project)
    assert a_file.code == 0, a_file.output
    assert (project / "pics").read_text() == "image 0\n"


def test_update_of_an_import_git_ignores_since_it_was_made_warns_that_git_will_not_commit_it(
        source, project):
    """A .gitignore rule written after the import leaves its pointer out of Git: update
    still brings the new data, and says so, as the other commands do."""
    team, alice = source
    must("import", str(team.origin), "images", "-o", "later/images", "--rev", "v1",
         cwd=project)
    write(project / ".gitignore", "later/\n")
    _new_version(alice)
    git(alice, "tag", "v2")
    git(alice, "push", "-q", "origin", "v2")
    updated = run_dvx("update", "later/images", "--rev", "v2", cwd=project)
    assert updated.code == 0, updated.output
    assert (project / "later" / "images" / "3.png").read_text() == "image 3\n"
    assert "later/images.dvx is ignored by Git (a .gitignore rule), so Git will not commit " \
        "it" in updated.stderr, updated.output


def test_import_refuses_to_replace_another_import_without_force(source, project, tmp_path):
    team, _ = source
    other = write(tmp_path / "elsewhere" / "train.csv", "other,data\n")
    assert run_dvx("import", str(team.origin), "raw/train.csv", cwd=project).code == 0
    for args in (("import", str(team.origin), "images/0.png", "-o", "train.csv"),
                 ("import-url", str(other), "train.csv")):
        refused = run_dvx(*args, cwd=project)
        assert refused.code != 0 and "already exists" in refused.stderr, refused.output
        assert "--force" in refused.stderr
        assert (project / "train.csv").read_text() == "a,b\n1,2\n"
        assert "raw/train.csv" in (project / "train.csv.dvx").read_text()
    again = run_dvx("import", str(team.origin), "raw/train.csv", "--rev", "v1", cwd=project)
    assert again.code == 0, again.output  # the same import, moved to a revision
    assert run_dvx("import-url", str(other), "train.csv", "--force", cwd=project).code == 0
    assert (project / "train.csv").read_text() == "other,data\n"


def test_import_never_replaces_data_dvx_tracks_that_is_not_an_import_even_with_force(
        source, project, tmp_path):
    """Replacing it would drop its record (docs/reuse.md): refused, --force or not."""
    team, _ = source
    upstream = write(tmp_path / "u.txt", "imported\n")
    write(project / "mine.txt", "mine\n")
    must("add", "mine.txt", cwd=project)
    for args in (("import-url", str(upstream), "mine.txt", "--force"),
                 ("import", str(team.origin), "raw/train.csv", "-o", "mine.txt", "--force")):
        refused = run_dvx(*args, cwd=project)
        assert refused.code == 2, (args, refused.output)
        assert "'mine.txt' is already tracked (not an import)" in refused.stderr
    assert (project / "mine.txt").read_text() == "mine\n"
    assert "source" not in (project / "mine.txt.dvx").read_text()


def test_import_url_records_the_version_and_update_downloads_a_new_one(project, tmp_path):
    upstream = write(tmp_path / "upstream" / "data.csv", "x\n1\n")
    assert run_dvx("import-url", str(upstream), "data.csv", cwd=project).code == 0
    assert 'url: "' in (project / "data.csv.dvx").read_text()
    assert "up to date" in run_dvx("update", cwd=project).stdout
    write(upstream, "x\n1\n2\n")
    status = run_dvx("status", cwd=project)
    assert "data.csv: its source URL has a new version" in status.stdout
    updated = run_dvx("update", cwd=project)
    assert updated.code == 0 and "new version" in updated.stdout
    assert (project / "data.csv").read_text() == "x\n1\n2\n"
    got = tmp_path / "copy.csv"
    assert run_dvx("get-url", str(upstream), str(got), cwd=project).code == 0
    assert got.read_text() == "x\n1\n2\n"
    missing = run_dvx("import-url", str(tmp_path / "none.csv"), cwd=project)
    assert missing.code != 0 and "Nothing at" in missing.stderr


def test_a_same_size_change_at_an_http_url_is_seen_by_its_modification_time(
        project, http_server):
    """python -m http.server sends Last-Modified and no ETag: the version is size and time."""
    served = write(http_server["root"] / "same-size" / "data.csv", "version1\n")
    os.utime(served, (1_000_000_000, 1_000_000_000))
    url = f"{http_server['url']}/same-size/data.csv"
    assert run_dvx("import-url", url, cwd=project).code == 0
    assert "2001" in (project / "data.csv.dvx").read_text()  # the time, not `9-None`
    write(served, "version2\n")
    os.utime(served, (1_000_000_100, 1_000_000_100))
    status = run_dvx("status", cwd=project)
    assert "data.csv: its source URL has a new version" in status.stdout
    updated = run_dvx("update", cwd=project)
    assert updated.code == 0 and "data.csv: new version" in updated.stdout
    assert (project / "data.csv").read_text() == "version2\n"


class _FixedTime(http.server.SimpleHTTPRequestHandler):
    """Serves a directory with the Last-Modified `stamp` for every file, and no ETag (as
    python -m http.server does)."""

    stamp = ""

    def log_message(self, *args: object) -> None:
        pass

    def send_header(self, keyword: str, value: str) -> None:
        super().send_header(keyword, self.stamp if keyword.lower() == "last-modified" else value)


def test_a_same_size_change_in_the_second_of_the_download_is_never_taken_as_up_to_date(
        project, tmp_path):
    """A Last-Modified (whole seconds) that is not older than the download cannot tell a
    rewrite of the same size within that second, as Git's racy entries: the version is
    recorded as none, so status warns and update compares the data, then records the time
    once it is old enough to tell."""
    root = tmp_path / "www"
    served = write(root / "prices.csv", "price=100\n")
    handler = type("Now", (_FixedTime,), {"stamp": email.utils.formatdate(usegmt=True)})
    with serving(handler, root) as url:
        assert run_dvx("import-url", f"{url}/prices.csv", cwd=project).code == 0
        assert 'etag: "10-None"' in (project / "prices.csv.dvx").read_text()
        write(served, "price=999\n")  # rewritten by its producer within the same second
        status = run_dvx("status", "-q", cwd=project)
        assert status.code == 0, status.output
        assert ("prices.csv: whether its source URL changed cannot be told (its pointer "
                "records neither an ETag nor a modification time older than its download)"
                ) in status.stderr, status.output
        handler.stamp = "Sun, 09 Sep 2001 01:46:40 GMT"  # its time, now old enough to tell
        updated = run_dvx("update", cwd=project)
        assert updated.code == 0 and "prices.csv: downloaded again to compare" in \
            updated.stdout, updated.output
        assert (project / "prices.csv").read_text() == "price=999\n"
        assert 'etag: "10-Sun, 09 Sep 2001 01:46:40 GMT"' in \
            (project / "prices.csv.dvx").read_text()
        assert run_dvx("update", cwd=project).stdout == "prices.csv: up to date\n"


def test_a_url_naming_no_file_asks_for_out(project, tmp_path, http_server):
    """`http://host/` names no file to call the download after: OUT gives the name."""
    for command, where in (("import-url", project), ("get-url", tmp_path)):
        for url in (f"{http_server['url']}/", http_server["url"]):
            refused = run_dvx(command, url, cwd=where)
            assert refused.code == 2, refused.output
            assert refused.stderr == (f"ERROR: The URL '{url}' names no file name to download "
                                      "it to. Give OUT, the path of the file to download it "
                                      "to.\n"), refused.stderr
    assert run_dvx("get-url", f"{http_server['url']}/", "index.html", cwd=tmp_path).code == 0
    assert "Directory listing" in (tmp_path / "index.html").read_text()


class _NoVersion(http.server.SimpleHTTPRequestHandler):
    """Serves a directory with neither ETag nor Last-Modified (as many generated files are)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() != "last-modified":
            super().send_header(keyword, value)


@pytest.fixture
def unversioned_server(tmp_path) -> Iterator[tuple[str, os.PathLike[str]]]:
    root = tmp_path / "www"
    root.mkdir()
    with serving(_NoVersion, root) as url:
        yield url, root


def test_a_url_that_reports_no_version_is_downloaded_again_by_update(
        project, unversioned_server):
    """Its size alone cannot tell a change: status says so (a warning, not a change) and
    update downloads it again and compares the data, never calling it up to date unseen."""
    url, root = unversioned_server
    served = write(root / "data.csv", "version1\n")
    assert run_dvx("import-url", f"{url}/data.csv", cwd=project).code == 0
    write(served, "version2\n")
    status = run_dvx("status", "-q", cwd=project)
    assert status.code == 0, status.output
    assert ("data.csv: whether its source URL changed cannot be told (its server reports "
            "neither an ETag nor a modification time); `dvx update data.csv.dvx` downloads "
            "it again to compare") in status.stderr
    updated = run_dvx("update", cwd=project)
    assert updated.code == 0 and "data.csv: downloaded again to compare" in updated.stdout
    assert (project / "data.csv").read_text() == "version2\n"
    again = run_dvx("update", cwd=project)
    assert again.code == 0 and "the data is the same" in again.stdout, again.output
    assert (project / "data.csv").read_text() == "version2\n"


def test_a_url_s_query_string_is_no_part_of_the_name_it_is_downloaded_to(project, tmp_path,
                                                                         http_server):
    """Without OUT the file is named after the last part of the URL's path, as DVC names it:
    a token in the query would be in the name, .gitignore and the pointer's name, and a long
    signature too long a name."""
    write(http_server["root"] / "queried" / "data.csv", "x\n1\n")
    url = f"{http_server['url']}/queried/data.csv"
    got = run_dvx("get-url", f"{url}?token=SECRETQ", cwd=tmp_path)
    assert got.code == 0, got.output
    assert (tmp_path / "data.csv").read_text() == "x\n1\n" and "SECRETQ" not in got.output
    imported = run_dvx("import-url", f"{url}?X-Amz-Signature={'A' * 300}", cwd=project)
    assert imported.code == 0, imported.output
    assert (project / "data.csv").read_text() == "x\n1\n"
    assert "/data.csv\n" in (project / ".gitignore").read_text()
    assert "X-Amz-Signature" in (project / "data.csv.dvx").read_text()  # the URL as given


class _BasicAuth(http.server.SimpleHTTPRequestHandler):
    """Serves a directory to requests that log in as bob with PASSW0RD."""

    refusal = 401  # the answer to any other request

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Basic Ym9iOlBBU1NXMFJE":  # bob:PASSW0RD
            self.send_response(self.refusal)
            self.send_header("WWW-Authenticate", 'Basic realm="data"')
            self.end_headers()
            return
        super().do_GET()

    do_HEAD = do_GET


def test_import_url_refuses_a_password_in_the_url_and_reads_netrc_instead(
        project, tmp_path, monkeypatch):
    """The pointer is committed: the password would be in Git's history for good."""
    root = tmp_path / "www"
    write(root / "data.csv", "v1\n")
    with serving(_BasicAuth, root) as url:
        host = url.removeprefix("http://")
        refused = run_dvx("import-url", f"http://bob:PASSW0RD@{host}/data.csv", cwd=project)
        assert refused.code == 2, refused.output
        assert refused.stderr.startswith("ERROR: The URL contains a password, which would be "
                                         "stored in plain text"), refused.stderr
        assert "~/.netrc" in refused.stderr and "PASSW0RD" not in refused.output
        assert not (project / "data.csv.dvx").exists() and not (project / "data.csv").exists()
        write(tmp_path / "netrc", "machine 127.0.0.1\nlogin bob\npassword PASSW0RD\n")
        monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
        imported = run_dvx("import-url", f"http://{host}/data.csv", cwd=project)
        assert imported.code == 0, imported.output
        assert "PASSW0RD" not in (project / "data.csv.dvx").read_text()
        write(root / "data.csv", "v2 and more\n")
        assert run_dvx("update", cwd=project).code == 0
        assert (project / "data.csv").read_text() == "v2 and more\n"


class _CountedBasicAuth(_BasicAuth):
    """As _BasicAuth, recording the path of each request it gets."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        super().do_GET()

    do_HEAD = do_GET


def test_import_refuses_a_password_or_token_in_a_git_url_before_reading_it(
        project, tmp_path, monkeypatch):
    """As import-url: the pointer records the source's URL. Refused before Git asks the
    server anything; a plain user name is taken, Git's credential helper giving the password
    (`dvx update` reads the source the same way)."""
    source = make_git_repo(tmp_path / "source")
    must("init", cwd=source)
    write(source / "f.txt", "data\n")
    must("add", "f.txt", cwd=source)
    must("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=source)
    must("push", cwd=source)
    commit(source, "data")
    served = tmp_path / "www"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(served / "src.git"))
    git(served / "src.git", "update-server-info")  # Git's dumb HTTP
    _CountedBasicAuth.asked.clear()
    with serving(_CountedBasicAuth, served) as url:
        host = url.removeprefix("http://")
        for login, said in (("bob:PASSW0RD", "a password"),
                            ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "an access token"),
                            ("x-access-token:ghs_16C7e42F292c6912E7710c8383", "a password")):
            for command, way_out in (
                    (("import", f"http://{login}@{host}/src.git", "f.txt"),
                     "a Git credential helper (`git help credentials`"),
                    (("import-url", f"http://{login}@{host}/src.git/HEAD", "h"), "~/.netrc")):
                refused = run_dvx(*command, cwd=project)
                assert refused.code == 2, (command, refused.output)
                assert refused.stderr.startswith(f"ERROR: The URL contains {said}"), \
                    refused.stderr
                assert way_out in refused.stderr and login.split(":")[-1] not in refused.output
        assert _CountedBasicAuth.asked == [] and sorted(os.listdir(project)) == [".dvx", ".git"]
        write(tmp_path / "credentials", f"http://bob:PASSW0RD@{host}\n")
        git(project, "config", "--global", "credential.helper",
            f"store --file={tmp_path / 'credentials'}")
        imported = run_dvx("import", f"http://bob@{host}/src.git", "f.txt", cwd=project)
        assert imported.code == 0, imported.output
        assert (project / "f.txt").read_text() == "data\n"
        pointer = (project / "f.txt.dvx").read_text()
        assert f"http://bob@{host}/src.git" in pointer and "PASSW0RD" not in pointer
        assert run_dvx("update", cwd=project).code == 0


class _Forbids(_BasicAuth):
    """As _BasicAuth, but answering any other request with 403, as servers that ask for no
    login do."""

    refusal = 403


@pytest.mark.parametrize("handler", [_BasicAuth, _Forbids])
def test_a_source_s_web_server_refusing_its_reader_says_how_they_give_their_login(
        handler, tmp_path, project, monkeypatch):
    """The way out is a remote of the same URL in the reader's own config (the source's is
    not theirs to modify), named with the source; given there, the login is used."""
    source = make_git_repo(tmp_path / "source")
    must("init", cwd=source)
    must("remote", "add", "store", str(tmp_path / "www"), cwd=source)
    write(source / "a.txt", "served\n")
    must("add", "a.txt", cwd=source)
    must("push", "-r", "store", cwd=source)
    with serving(handler, tmp_path / "www") as url:
        must("remote", "add", "-d", "web", url, cwd=source)
        commit(source, "data on the web")
        git(tmp_path, "clone", "-q", "--bare", str(source), "source.git")
        origin = str(tmp_path / "source.git")
        way_out = f"`dvx remote add --global NAME {url}`, then `dvx remote modify --global NAME"
        refused = run_dvx("get", origin, "a.txt", "-o", "got.txt", cwd=project)
        assert refused.code == 1, refused.output
        assert f"of '{origin}'" in refused.stderr, refused.stderr  # the source, by name
        assert way_out in refused.stderr and "dvx remote modify web" not in refused.stderr
        monkeypatch.chdir(project)
        with pytest.raises(DvxError) as failed:
            dvx.api.read("a.txt", repo=origin)
        assert failed.value.message.startswith(f"Cannot read the remote of '{origin}': ")
        assert way_out + " user ...` and `... password ...`." in failed.value.hint
        for args in (("add", "--global", "mine", url), ("modify", "--global", "mine", "user",
                     "bob"), ("modify", "--global", "mine", "password", "PASSW0RD")):
            must("remote", *args, cwd=project)
        got = run_dvx("get", origin, "a.txt", "-o", "got.txt", cwd=project)
        assert got.code == 0, got.output
        assert (project / "got.txt").read_text() == "served\n"
        assert dvx.api.read("a.txt", repo=origin) == "served\n"


class _Stalling(http.server.SimpleHTTPRequestHandler):
    """Serves a directory, but takes each request of a method in `stalled` and never answers
    it, as a server whose machine stalled does (its kernel still accepts the connection),
    until `released` is set."""

    stalled: set[str]
    released: threading.Event

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if not self._stalls():
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._stalls():
            super().do_HEAD()

    def _stalls(self) -> bool:
        if self.command not in self.stalled:
            return False
        self.released.wait()
        return True


@pytest.fixture
def stalling_server(tmp_path) -> Iterator[tuple[str, os.PathLike[str], set[str]]]:
    """(its URL, the directory it serves, the methods it stops answering)."""
    handler = type("Stalling", (_Stalling,), {"stalled": set(), "released": threading.Event()})
    root = tmp_path / "www"
    root.mkdir()
    with serving(handler, root) as url:
        try:
            yield url, root, handler.stalled
        finally:
            handler.released.set()


def test_a_source_url_that_stops_answering_fails_after_its_timeout(project, tmp_path,
                                                                    stalling_server):
    """A server that takes the request and then says nothing holds no command: after
    `core.url_timeout` seconds without an answer, status warns and goes on, and update,
    import-url and get-url fail saying so, whether the first request got no answer or the
    download after it (docs/guarantees.md)."""
    url, root, stalled = stalling_server
    write(root / "data.csv", "x\n1\n")
    assert run_dvx("import-url", f"{url}/data.csv", cwd=project).code == 0
    must("config", "core.url_timeout", "1", cwd=project)
    stalled.add("GET")
    cut = run_dvx_proc("import-url", f"{url}/data.csv", "again.csv", cwd=project, timeout=60)
    assert cut.code == 1, cut.output
    assert cut.stderr.startswith(f"ERROR: Could not download '{url}/data.csv': its server "
                                 "stopped answering (timed out)."), cut.stderr
    assert "`core.url_timeout` sets how many seconds dvx waits for an answer (default 60)" \
        in cut.stderr
    assert not (project / "again.csv").exists() and not (project / "again.csv.dvx").exists()
    stalled.add("HEAD")
    no_answer = f"Cannot reach '{url}/data.csv': its server stopped answering (timed out)."
    status = run_dvx_proc("status", cwd=project, timeout=60)
    assert status.code == 0, status.output
    assert f"WARNING: data.csv: its source could not be checked: {no_answer}" \
        in status.stderr, status.stderr
    updated = run_dvx_proc("update", cwd=project, timeout=60)
    assert updated.code == 1 and f"data.csv: not updated: {no_answer}" in updated.stderr, \
        updated.output
    assert (project / "data.csv").read_text() == "x\n1\n"
    must("config", "--global", "core.url_timeout", "1", cwd=project)  # outside a repository
    got = run_dvx_proc("get-url", f"{url}/data.csv", "got.csv", cwd=tmp_path, timeout=60)
    assert got.code == 1 and got.stderr.startswith(f"ERROR: {no_answer}"), got.output
    refused = run_dvx("config", "core.url_timeout", "0", cwd=project)
    assert refused.code == 2 and "more than 0" in refused.stderr, refused.output


class _NoHttpAnswer(http.server.SimpleHTTPRequestHandler):
    """Answers HEAD as a web server does, and GET with bytes that are no HTTP answer: what
    the client reads after an answer whose server sent more than its Content-Length."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.wfile.write(bytes(range(256)) * 2000)


def test_an_answer_that_is_no_http_is_named_so_without_its_bytes(project, tmp_path):
    """What the client library could not read is no answer of the server's (its parse
    error's 400 is its own): one short paragraph says so, and none of the bytes is shown."""
    write(tmp_path / "www" / "data.bin", "data\n")
    with serving(_NoHttpAnswer, tmp_path / "www") as url:
        for args, cwd in ((("import-url", f"{url}/data.bin"), project),
                          (("get-url", f"{url}/data.bin"), tmp_path)):
            failed = run_dvx_proc(*args, cwd=cwd)
            assert failed.code == 1, failed.output
            assert failed.stderr.startswith(f"ERROR: The answer of the server of "
                                            f"'{url}/data.bin' could not be read: Bad status "
                                            "line. "), failed.stderr
            assert len(failed.stderr) < 400 and failed.stderr.count("\n") == 1, failed.stderr
            said = failed.stderr.replace(url, "URL")  # the port may hold "400"
            assert "400" not in said and "\\x" not in said
    assert not (project / "data.bin.dvx").exists() and not (tmp_path / "data.bin").exists()


def test_a_download_killed_midway_leaves_what_gc_removes_once_an_hour_old(project,
                                                                           tmp_path):
    """import-url downloads into the cache's tmp/, where what a killed command left is
    removed by a later fetch, pull or gc once it is an hour old (docs/guarantees.md)."""
    upstream = write(tmp_path / "upstream" / "big.bin", "x" * (3 << 20))
    killed = run_dvx_proc("import-url", str(upstream), cwd=project,
                          env={"DVX_FAULT": "import_url.after_block"})
    assert killed.code == -9, killed.output
    tmp = project / ".dvx" / "cache" / "tmp"
    left = [path for path in tmp.iterdir() if path.name.startswith(".import-url.dvx-")]
    assert len(left) == 1 and left[0].stat().st_size > 0, list(tmp.iterdir())
    assert not [p for p in (project / ".dvx" / "tmp").iterdir() if "import-url" in p.name]
    must("gc", "-w", "-f", cwd=project)
    assert left[0].exists()  # a command may still be writing it
    two_hours_ago = time.time() - 7200
    os.utime(left[0], (two_hours_ago, two_hours_ago))
    must("gc", "-w", "-f", cwd=project)
    assert not left[0].exists()
    assert run_dvx("import-url", str(upstream), cwd=project).code == 0
    assert (project / "big.bin").read_bytes() == upstream.read_bytes()
    assert not list(tmp.iterdir())


def test_status_names_a_committed_import_s_local_source_outside_the_repository(
        source, project, tmp_path, monkeypatch):
    """A cloned repository's pointers can name any file or repository of the user's, which
    `update` would read (docs/guarantees.md §5, Limits): status says which, before that, a
    path or a URL of the local kind in any spelling (`~` in one is the home folder, as
    fsspec reads it)."""
    _, alice = source
    victim = write(tmp_path / "home" / ".aws" / "credentials", "secret\n")
    zero = "f" * 32
    write(project / "creds.txt.dvx", f'dvx: 1\ntype: file\nalgo: xxh128\noid: {zero}\n'
          f'size: 1\nsource:\n  etag: "0"\n  url: "{victim}"\n')
    write(project / "p.txt.dvx", f'dvx: 1\ntype: file\nalgo: xxh128\noid: {zero}\nsize: 1\n'
          f'source:\n  path: "raw/train.csv"\n  repo: "../datasets/alice"\n'
          f'  rev_lock: "{"0" * 40}"\n')
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    spellings = (("by-url", f"file://{victim}"), ("by-home", "file://~/.aws/credentials"),
                 ("by-upper", f"FILE://{victim}"), ("by-local", f"local://{victim}"),
                 ("by-async", f"asynclocal://{victim}"))
    for name, url in spellings:
        write(project / f"{name}.txt.dvx", f'dvx: 1\ntype: file\nalgo: xxh128\noid: {zero}\n'
              f'size: 1\nsource:\n  etag: "0"\n  url: "{url}"\n')
    status = run_dvx("status", cwd=project).stdout
    for name in ("creds", *(name for name, _ in spellings)):
        assert (f"{name}.txt: its source URL has a new version; it is the local path "
                f"'{victim}', outside this repository") in status, status
    assert f"it is the local path '{alice}', outside this repository" in status
    assert "(`dvx update p.txt.dvx` brings it)" in status


def _url_import_pointer(project, name: str, url: str) -> None:
    """The pointer of an import of `url` to `name`, as a cloned repository (or an older dvx)
    may have written it: its data in no cache."""
    write(project / f"{name}.dvx", f'dvx: 1\ntype: file\nalgo: xxh128\noid: {"f" * 32}\n'
          f'size: 1\nsource:\n  etag: "0"\n  url: "{url}"\n')


# fsspec protocols that are no store: a Dask client connects to the scheduler its URL names,
# which sends it pickles to run; the others read and write where their options say, or hold
# nothing ({port}: a listener recording connections, {victim}: a file of the user's).
_NO_STORE_URLS = ("dask://127.0.0.1:{port}/data.csv", "dask://127.0.0.1:{port}::file://{victim}",
                  "memory://data.csv", "simplecache::s3://bucket/data.csv",
                  "filecache::file://{victim}", "reference://data.csv", "zip::file://{victim}",
                  "tar://data.csv", "libarchive://data.csv", "dir://{victim}")


def _refusal_of(url: str) -> str:
    """The start of the error refusing `url` as a source URL."""
    if "::" in url:
        return f"The source URL '{url}' chains filesystems ('::')"
    return f"The source URL scheme '{url.split('://')[0]}://' is fsspec's, but no kind of store"


def test_a_pointer_s_source_url_of_a_protocol_that_is_no_store_is_never_opened(project,
                                                                               tmp_path):
    """A source URL is accepted by the rule of remote URLs: status, update and pull never open
    one of another fsspec protocol, whoever wrote its pointer, and no client connects."""
    victim = write(tmp_path / "home" / "secret.txt", "secret\n")
    with recording_listener() as (port, accepted):
        urls = [url.format(port=port, victim=victim) for url in _NO_STORE_URLS]
        for i, url in enumerate(urls):
            _url_import_pointer(project, f"p{i}.txt", url)
        status = run_dvx_proc("status", cwd=project)
        updated = run_dvx_proc("update", cwd=project)
        pulled = run_dvx_proc("pull", cwd=project)
    assert accepted == []
    assert updated.code == 1 and pulled.code != 0, updated.output + pulled.output
    for i, url in enumerate(urls):
        assert f"p{i}.txt: its source could not be checked: {_refusal_of(url)}" in status.stderr
        assert f"ERROR: p{i}.txt: not updated: {_refusal_of(url)}" in updated.stderr
        assert not (project / f"p{i}.txt").exists()
    assert "Use a local path or one of: " in updated.stderr and "s3://" in updated.stderr
    assert not any("Traceback" in run.output for run in (status, updated, pulled))


def test_import_url_and_get_url_refuse_a_protocol_that_is_no_store(project, tmp_path):
    with recording_listener() as (port, accepted):
        dask = f"dask://127.0.0.1:{port}/data.csv"
        imported = run_dvx_proc("import-url", dask, "data.csv", cwd=project)
        got = run_dvx_proc("get-url", dask, str(tmp_path / "got.csv"), cwd=project)
    assert accepted == []
    for refused in (imported, got):
        assert refused.code == 2 and refused.stderr.startswith(f"ERROR: {_refusal_of(dask)}")
        assert "Use a local path or one of: " in refused.stderr and "Traceback" not in \
            refused.output, refused.output
    chained = run_dvx("import-url", "simplecache::s3://bucket/data.csv", cwd=project)
    assert chained.code == 2 and "chains filesystems ('::')" in chained.stderr
    alias = run_dvx("import-url", "s3a://bucket/data.csv", cwd=project)
    assert alias.code == 2 and "Use s3://bucket/data.csv." in alias.stderr, alias.output
    assert not (project / "data.csv.dvx").exists() and not (tmp_path / "got.csv").exists()


@pytest.mark.parametrize("url, words", [
    ("ssh:///data/file.csv", "The URL 'ssh:///data/file.csv' names no host."),
    ("sftp:///data/file.csv", "The URL 'sftp:///data/file.csv' names no host."),
    ("http:///file.csv", "The URL 'http:///file.csv' names no host."),
    ("s3:///file.csv", "The URL 's3:///file.csv' names no bucket."),
    ("http://[::1/file.csv", "'http://[::1/file.csv' is not a valid URL: Invalid IPv6 URL."),
    ("ssh://host:abc/file.csv", "'ssh://host:abc/file.csv' is not a valid URL: Port"),
])
def test_get_url_and_import_url_say_what_a_malformed_url_lacks(project, tmp_path, url, words):
    """Said as `dvx remote add` says it, before any client is made: never a client
    library's internals (a missing argument, an invalid URL) blamed on the network."""
    for command, where in (("import-url", project), ("get-url", tmp_path)):
        refused = run_dvx(command, url, "out.csv", cwd=where)
        assert refused.code == 2 and refused.stderr.startswith(f"ERROR: {words}"), \
            refused.output
        assert "network" not in refused.stderr and "Error:" not in refused.stderr
    assert not (project / "out.csv.dvx").exists() and not (tmp_path / "out.csv").exists()


def test_get_url_of_a_kind_whose_client_is_not_installed_names_the_package(
        project, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)  # as if not installed
    for command, where in (("import-url", project), ("get-url", tmp_path)):
        got = run_dvx(command, "hdfs://namenode/file.csv", "out.csv", cwd=where)
        assert got.code == 1 and got.stderr.startswith(
            "ERROR: Cannot read 'hdfs://namenode/file.csv': the Python package for its kind of "
            "storage is not installed"), got.output
        assert "(`pip install pyarrow`)" in got.stderr and "network" not in got.stderr


def test_a_local_source_path_holding_a_double_colon_is_that_file(project, tmp_path):
    """fsspec would read the path as a chain of filesystems, and open the part before '::'."""
    upstream = write(tmp_path / "upstream" / "simplecache::data.csv", "x\n1\n")
    write(tmp_path / "upstream" / "simplecache", "not this\n")
    imported = run_dvx("import-url", str(upstream), "data.csv", cwd=project)
    assert imported.code == 0, imported.output
    assert (project / "data.csv").read_text() == "x\n1\n"
    assert "data.csv: up to date" in run_dvx("update", cwd=project).stdout


def test_a_local_file_s_version_is_its_time_in_any_spelling_of_its_url(project, tmp_path):
    """A local file's modification time is from our own clock: one older than the download
    is recorded however its URL spells the local kind, with no allowance for a server's
    clock, which would record it as no version (`<size>-None`)."""
    upstream = write(tmp_path / "upstream" / "data.csv", "x\n1\n")
    two_seconds_ago = time.time() - 2
    os.utime(upstream, (two_seconds_ago, two_seconds_ago))
    version = f'etag: "4-{os.stat(upstream).st_mtime}"'
    for i, scheme in enumerate(("file", "FILE", "local", "asynclocal")):
        imported = run_dvx("import-url", f"{scheme}://{upstream}", f"d{i}.csv", cwd=project)
        assert imported.code == 0, imported.output
        assert version in (project / f"d{i}.csv.dvx").read_text(), scheme


def test_a_local_source_path_holding_a_colon_is_found_from_any_folder(project):
    """`raw::v1.csv` recorded from the root is that file of the root wherever dvx runs (a
    first segment holding ':' is Git's host:path only where no such file is)."""
    write(project / "raw::v1.csv", "a\n")
    (project / "sub").mkdir()
    assert run_dvx("import-url", "raw::v1.csv", "out.csv", cwd=project).code == 0
    assert 'url: "raw::v1.csv"' in (project / "out.csv.dvx").read_text()
    write(project / "raw::v1.csv", "a2\n")
    status = run_dvx("status", cwd=project / "sub")
    assert status.code == 0 and status.stderr == "", status.output
    assert status.stdout == ("out.csv: its source URL has a new version (`dvx update "
                             "../out.csv.dvx` brings it)\n")
    updated = run_dvx("update", "../out.csv.dvx", cwd=project / "sub")
    assert updated.code == 0 and "out.csv: new version" in updated.stdout, updated.output
    assert (project / "out.csv").read_text() == "a2\n"


def test_a_source_url_of_a_protocol_the_program_registered_is_read(tmp_path):
    """A program using dvx may register a filesystem of its own with fsspec, as for a
    remote: its source URLs are read, while fsspec's own memory:// is refused."""
    import fsspec
    from fsspec.implementations.memory import MemoryFileSystem

    from dvx.ops.imports import get_url

    class Served(MemoryFileSystem):
        """fsspec's in-memory filesystem, under a protocol of the program's own."""
        protocol = "dvxtestserved"
        store: ClassVar[dict[str, Any]] = {}
        pseudo_dirs: ClassVar[list[str]] = [""]

        @classmethod
        def _strip_protocol(cls, path):
            return super()._strip_protocol(path.removeprefix("dvxtestserved://"))

    fsspec.register_implementation("dvxtestserved", Served, clobber=True)
    Served().pipe("/data.csv", b"x\n1\n")
    assert get_url("dvxtestserved://data.csv", str(tmp_path / "got.csv")) == str(
        tmp_path / "got.csv")
    assert (tmp_path / "got.csv").read_bytes() == b"x\n1\n"
    with pytest.raises(DvxError, match="The source URL scheme 'memory://' is fsspec's"):
        get_url("memory://data.csv", str(tmp_path / "other.csv"))


def test_an_import_from_the_repository_itself_names_a_revision_its_commits_do_not_move(
        project):
    """Without --rev (or at the branch checked out) its commit would be HEAD, which committing
    the import moves on: never up to date, rewritten by every update. Refused, saying how to
    pin a version instead; a tag is imported and stays current."""
    write(project / "raw.csv", "v1\n")
    must("add", "raw.csv", cwd=project)
    commit(project, "data")
    git(project, "tag", "v1")
    for rev in ((), ("--rev", "main"), ("--rev", "HEAD")):
        refused = run_dvx("import", ".", "raw.csv", "-o", "copy.csv", *rev, cwd=project)
        assert refused.code == 2, (rev, refused.output)
        assert "this repository itself" in refused.stderr and "--rev" in refused.stderr
        assert "dvx add" in refused.stderr, refused.stderr
        assert not (project / "copy.csv.dvx").exists()
    assert run_dvx("import", ".", "raw.csv", "-o", "copy.csv", "--rev", "v1",
                   cwd=project).code == 0
    commit(project, "import")
    status = run_dvx("status", "-q", cwd=project)
    assert status.code == 0, status.output
    assert "up to date" in run_dvx("update", cwd=project).stdout
    assert git(project, "status", "--porcelain") == ""
    for rev in ("main", "HEAD"):  # update --rev is refused the same way, a bad argument
        moved = run_dvx("update", "copy.csv.dvx", "--rev", rev, cwd=project)
        assert moved.code == 2 and "this repository itself" in moved.stderr, moved.output
    assert git(project, "status", "--porcelain") == ""


def test_an_import_from_the_repository_itself_is_refused_at_any_revision_counted_from_head(
        project):
    """What decides is the name a revision starts from, not its spelling: HEAD~0, main~0,
    @ and HEAD^{commit} name HEAD as HEAD and main do, and HEAD~1 moves with each commit too.
    An import made at one before (HEAD~0) is not updated, and status says it cannot be
    checked, rather than call it moved after every update."""
    write(project / "raw.csv", "v1\n")
    must("add", "raw.csv", cwd=project)
    commit(project, "data")
    write(project / "notes.txt", "more\n")
    commit(project, "more")
    for rev in ("HEAD~0", "main~0", "@", "@~1", "HEAD^{commit}", "refs/heads/main~1",
                "main@{0}"):
        refused = run_dvx("import", ".", "raw.csv", "-o", "copy.csv", "--rev", rev,
                          cwd=project)
        assert refused.code == 2, (rev, refused.output)
        assert f"this repository itself at '{rev}' (counted from" in refused.stderr
        assert not (project / "copy.csv.dvx").exists()
    head = git(project, "rev-parse", "HEAD").strip()  # the same commit, named by itself
    for out in ("pinned.csv", "copy.csv"):
        assert run_dvx("import", ".", "raw.csv", "-o", out, "--rev", head,
                       cwd=project).code == 0
    pointer = project / "copy.csv.dvx"  # as made before HEAD~0 was refused
    pointer.write_text(pointer.read_text().replace(f'rev: "{head}"', 'rev: "HEAD~0"'))
    commit(project, "imports")
    status = run_dvx("status", cwd=project)
    assert status.code == 0 and "moved" not in status.output, status.output
    assert "WARNING: copy.csv: its source could not be checked" in status.stderr
    updated = run_dvx("update", cwd=project)
    assert updated.code == 1 and "'HEAD~0' (counted from HEAD)" in updated.output
    assert git(project, "status", "--porcelain") == ""


def test_an_import_from_the_repository_s_own_git_remote_is_refused_at_a_moving_revision(
        source):
    """The Git remote this clone pushes to is the repository itself: at HEAD or the branch
    the one checked out tracks there, each commit and push of the import would move its
    source on. Refused under any name of the remote's URL; a tag is imported."""
    team, alice = source
    origin = str(team.origin)
    names = [origin, origin + "/", f"file://{origin}/",
             os.path.relpath(origin, alice)]
    for url, rev in [(url, ()) for url in names] + [(origin, ("--rev", "HEAD")),
                                                    (origin, ("--rev", "main")),
                                                    (origin, ("--rev", "main~0")),
                                                    (origin, ("--rev", "refs/heads/main")),
                                                    (origin, ("--rev", "HEAD^{commit}"))]:
        refused = run_dvx("import", url, "raw/train.csv", "-o", "copy.csv", *rev, cwd=alice)
        assert refused.code == 2, (url, rev, refused.output)
        assert "this repository itself (its Git remote 'origin')" in refused.stderr
        assert not (alice / "copy.csv.dvx").exists()
    assert run_dvx("import", origin, "raw/train.csv", "-o", "copy.csv", "--rev", "v1",
                   cwd=alice).code == 0
    commit(alice, "import")
    git(alice, "push", "-q", "origin", "HEAD")
    assert "up to date" in run_dvx("update", cwd=alice).stdout
    git(alice, "checkout", "-q", "-b", "dev")
    git(alice, "push", "-q", "-u", "origin", "dev")  # its commits move dev, not HEAD's main
    from_head = run_dvx("import", origin, "raw/train.csv", "-o", "main.csv", cwd=alice)
    assert from_head.code == 0, from_head.output
    refused = run_dvx("import", origin, "raw/train.csv", "-o", "dev.csv", "--rev", "dev",
                      cwd=alice)
    assert refused.code == 2 and "the branch that 'dev' tracks there" in refused.stderr


def test_an_import_from_the_repository_itself_is_refused_at_the_branch_its_pushes_move(
        source):
    """origin/main, where alice's main is pushed, names what @{u} names: each commit and push
    of the import would move its source on, under any name of that remote-tracking branch (or
    of the same branch under another remote of the same URL), and so would any other
    remote-tracking branch, which a fetch moves on: the commit it names is imported and stays
    up to date."""
    team, alice = source
    origin = str(team.origin)
    git(alice, "remote", "set-head", "origin", "main")
    git(alice, "remote", "add", "mirror", origin + "/")
    git(alice, "fetch", "-q", "mirror")
    for rev in ("origin/main", "refs/remotes/origin/main", "remotes/origin/main", "origin/HEAD",
                "origin", "origin/main~0", "origin/main^{commit}", "mirror/main", "@{u}"):
        refused = run_dvx("import", ".", "raw/train.csv", "-o", "copy.csv", "--rev", rev,
                          cwd=alice)
        assert refused.code == 2, (rev, refused.output)
        assert f"this repository itself at '{rev}' (" in refused.stderr, refused.stderr
        assert not (alice / "copy.csv.dvx").exists()
    assert "the remote-tracking branch of the branch that 'main' tracks" in run_dvx(
        "import", ".", "raw/train.csv", "-o", "copy.csv", "--rev", "origin/main",
        cwd=alice).stderr
    git(alice, "push", "-q", "origin", "main:other")
    git(alice, "fetch", "-q", "origin")
    other = git(alice, "rev-parse", "origin/other").strip()
    refused = run_dvx("import", ".", "raw/train.csv", "-o", "copy.csv", "--rev", "origin/other",
                      cwd=alice)
    assert refused.code == 2, refused.output
    assert "'origin/other' (a remote-tracking branch, which pushing or fetching moves on)" \
        in refused.stderr and f"--rev {other}" in refused.stderr
    assert run_dvx("import", ".", "raw/train.csv", "-o", "copy.csv", "--rev", other,
                   cwd=alice).code == 0
    share(alice, "import")
    status = run_dvx("status", "-q", cwd=alice)
    assert status.code == 0, status.output
    assert "up to date" in run_dvx("update", cwd=alice).stdout
    # The branch tracked at the second name of the same remote: its pushes move it as well.
    git(alice, "config", "branch.main.remote", "mirror")
    refused = run_dvx("import", origin, "raw/train.csv", "-o", "main.csv", "--rev", "main",
                      cwd=alice)
    assert refused.code == 2, refused.output
    assert "this repository itself (its Git remote 'mirror')" in refused.stderr
    assert not (alice / "main.csv.dvx").exists()


def test_an_import_from_the_repository_itself_is_refused_at_a_branch_pushed_without_upstream(
        tmp_path):
    """`git push origin main` without -u sets no upstream, and moves origin/main all the
    same: an import of the repository itself at origin/main is refused, naming the commit to
    pin instead; and with remote.pushDefault naming the remote, an import from that remote's
    URL at the branch checked out is refused too."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    alice = make_git_repo(tmp_path / "alice")
    git(alice, "remote", "add", "origin", str(origin))
    must("init", cwd=alice)
    write(alice / "d.txt", "v1\n")
    must("add", "d.txt", cwd=alice)
    commit(alice, "one")
    git(alice, "push", "-q", "origin", "main")
    head = git(alice, "rev-parse", "HEAD").strip()
    refused = run_dvx("import", ".", "d.txt", "-o", "imp.txt", "--rev", "origin/main",
                      cwd=alice)
    assert refused.code == 2, refused.output
    assert "this repository itself at 'origin/main' (a remote-tracking branch" in refused.stderr
    assert f"--rev {head}" in refused.stderr
    assert not (alice / "imp.txt.dvx").exists()
    assert run_dvx("import", str(origin), "d.txt", "-o", "imp.txt", "--rev", "main",
                   cwd=alice).code == 0  # pushed to by hand only: nothing says where
    must("remove", "--outs", "imp.txt.dvx", cwd=alice)
    git(alice, "config", "remote.pushDefault", "origin")
    refused = run_dvx("import", str(origin), "d.txt", "-o", "imp.txt", "--rev", "main",
                      cwd=alice)
    assert refused.code == 2, refused.output
    assert "this repository itself (its Git remote 'origin')" in refused.stderr
    assert not (alice / "imp.txt.dvx").exists()


def test_an_import_from_the_remote_a_branch_is_pushed_to_apart_from_its_upstream_is_refused(
        tmp_path):
    """A branch that tracks origin/main but is pushed to a fork (branch.main.pushRemote):
    `git push` moves the fork's main, so an import from the fork at main is refused too."""
    origin, fork = tmp_path / "origin.git", tmp_path / "fork.git"
    for bare in (origin, fork):
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    alice = make_git_repo(tmp_path / "alice")
    git(alice, "remote", "add", "origin", str(origin))
    git(alice, "remote", "add", "fork", str(fork))
    must("init", cwd=alice)
    write(alice / "d.txt", "v1\n")
    must("add", "d.txt", cwd=alice)
    commit(alice, "one")
    git(alice, "push", "-q", "-u", "origin", "main")
    git(alice, "push", "-q", "fork", "main")
    git(alice, "config", "branch.main.pushRemote", "fork")
    refused = run_dvx("import", str(fork), "d.txt", "-o", "imp.txt", "--rev", "main",
                      cwd=alice)
    assert refused.code == 2, refused.output
    assert "this repository itself (its Git remote 'fork')" in refused.stderr
    assert not (alice / "imp.txt.dvx").exists()
    refused = run_dvx("import", str(origin), "d.txt", "-o", "imp.txt", cwd=alice)
    assert refused.code == 2 and "its Git remote 'origin'" in refused.stderr, refused.output


def test_a_cloned_source_s_revisions_are_named_as_the_source_names_them(source, project):
    """A Git URL's source is read from dvx's clone of it, where its branches are
    refs/remotes/origin/*: its full branch names are taken (refs/heads/main), and the
    clone's own names (origin/main, origin/HEAD), which the source has not, are refused,
    so that an import of this repository's own branch under one never slips past its
    refusal."""
    team, alice = source
    origin = str(team.origin)
    for rev in ("refs/heads/main", "refs/heads/main~0", "refs/tags/v1", "main", "v1"):
        listed = run_dvx("ls", origin, "raw", "--rev", rev, cwd=project)
        assert listed.code == 0 and "train.csv" in listed.stdout, (rev, listed.output)
    for rev, named in [("origin/main", "'main' or 'refs/heads/main'"),
                       ("refs/remotes/origin/main~1", "'main' or 'refs/heads/main'"),
                       ("remotes/origin/main", "'main' or 'refs/heads/main'"),
                       ("origin/HEAD", "no --rev (its default branch)"),
                       ("origin", "no --rev (its default branch)")]:
        refused = run_dvx("ls", origin, "--rev", rev, cwd=project)
        assert refused.code == 2, (rev, refused.output)
        assert refused.stderr.startswith(
            f"ERROR: {rev!r} is no revision of '{origin}': it names a ref of the copy dvx "
            f"keeps of it") and f"as the repository does ({named})" in refused.stderr
    assert "Unknown revision 'refs/heads/nope'" in run_dvx(
        "ls", origin, "--rev", "refs/heads/nope", cwd=project).stderr
    own = run_dvx("import", origin, "raw/train.csv", "-o", "copy.csv", "--rev", "origin/main",
                  cwd=alice)
    assert own.code == 2 and "is no revision of" in own.stderr, own.output
    assert not (alice / "copy.csv.dvx").exists()


def test_a_cloned_source_s_reflog_is_no_revision_of_it(source, project):
    """`main@{1}`, `HEAD@{1}`, `@{u}` of a Git URL would be read from dvx's clone of it,
    whose reflogs say what dvx fetched when: refused, as the clone's own ref names are."""
    team, alice = source
    origin = str(team.origin)
    assert run_dvx("get", origin, "raw/train.csv", "-o", "first.csv", cwd=project).code == 0
    _new_version(alice)
    assert run_dvx("get", origin, "raw/train.csv", "-o", "second.csv", cwd=project).code == 0
    for rev in ("main@{1}", "HEAD@{1}", "@{1}", "main@{0}~1", "@{u}", "@{-1}",
                "refs/heads/main@{1}", "main@{yesterday}"):
        refused = run_dvx("get", origin, "raw/train.csv", "-o", "copy.csv", "--rev", rev,
                          cwd=project)
        assert refused.code == 2, (rev, refused.output)
        assert refused.stderr.startswith(
            f"ERROR: {rev!r} is no revision of '{origin}': its '@{{...}}' reads the reflog or "
            "settings of the copy dvx keeps of it"), refused.stderr
        assert not (project / "copy.csv").exists()
    for args in (("ls", origin), ("import", origin, "raw/train.csv", "-o", "copy.csv")):
        refused = run_dvx(*args, "--rev", "main@{1}", cwd=project)
        assert refused.code == 2 and "is no revision of" in refused.stderr, refused.output
    assert not (project / "copy.csv.dvx").exists()
    assert run_dvx("get", origin, "raw/train.csv", "-o", "copy.csv", "--rev", "main~1",
                   cwd=project).code == 0


def test_a_local_edit_of_an_import_is_kept_by_update(source, project):
    team, alice = source
    assert run_dvx("import", str(team.origin), "raw/train.csv", cwd=project).code == 0
    edit(project, "train.csv", "mine\n")
    edit(alice, "raw/train.csv", "a,b\n5,6\n")
    must("add", "raw/train.csv", cwd=alice)
    share(alice, "v2")
    result = run_dvx("update", cwd=project)
    kept = "the workspace copy of 'train.csv' was kept"
    assert result.code == 1 and kept in result.stdout, result.output
    assert (project / "train.csv").read_text() == "mine\n"
    again = run_dvx("update", cwd=project)  # the pointer is current; the copy is still kept
    assert again.code == 1 and kept in again.stdout, again.output
    assert run_dvx("update", "--force", cwd=project).code == 0
    assert (project / "train.csv").read_text() == "a,b\n5,6\n"


def test_import_again_over_an_edited_copy_names_the_git_add_of_the_pointer_it_rewrote(
        source, project):
    """Importing at another --rev over a copy the user edited keeps the edit (exit 1) and
    rewrites the pointer all the same: the `git add` that records it is named, as update
    names it."""
    team, alice = source
    must("import", str(team.origin), "raw/train.csv", "--rev", "v1", cwd=project)
    commit(project, "import v1")
    edit(alice, "raw/train.csv", "a,b\n5,6\n")
    must("add", "raw/train.csv", cwd=alice)
    share(alice, "v2")
    edit(project, "train.csv", "mine\n")
    again = run_dvx("import", str(team.origin), "raw/train.csv", "--rev", "main", cwd=project)
    assert again.code == 1, again.output
    assert (project / "train.csv").read_text() == "mine\n"
    assert 'rev: "main"' in (project / "train.csv.dvx").read_text()
    assert "To record this in Git, run:\n    git add train.csv.dvx" in again.stdout, \
        again.output


def test_update_and_import_again_keep_the_user_s_desc_and_meta(source, project, tmp_path):
    team, alice = source
    upstream = write(tmp_path / "upstream" / "data.csv", "x\n1\n")
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    must("import-url", str(upstream), "data.csv", cwd=project)
    own = 'desc: "my note"\nmeta:\n  owner: bob\n'
    for name in ("images.dvx", "data.csv.dvx"):
        (project / name).write_text((project / name).read_text() + own)
    commit(project, "described")
    _new_version(alice)
    write(upstream, "x\n1\n2\n")

    def kept(name: str) -> bool:
        return (project / name).read_text().endswith(own)

    assert "new version" in must("update", cwd=project)
    assert kept("data.csv.dvx")
    assert "now at" in must("update", "--rev", "main", "images.dvx", cwd=project)
    assert kept("images.dvx") and (project / "images" / "3.png").exists()
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)  # over itself
    assert kept("images.dvx") and not (project / "images" / "3.png").exists()
    assert "up to date" in must("update", cwd=project)  # nothing rewritten on the way
    assert kept("images.dvx") and kept("data.csv.dvx")


def test_update_fails_naming_a_conflicted_pointer_rather_than_call_it_current(source,
                                                                               project):
    team, alice = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    must("import", str(team.origin), "raw/train.csv", cwd=project)
    commit(project, "imports")
    ours = (project / "images.dvx").read_text()
    _new_version(alice)
    must("update", "--rev", "main", "images.dvx", cwd=project)
    theirs = (project / "images.dvx").read_text()
    (project / "images.dvx").write_text(f"<<<<<<< HEAD\n{ours}=======\n{theirs}>>>>>>> x\n")

    everything = run_dvx("update", cwd=project)
    assert everything.code == 1 and "train.csv: now at" in everything.stdout  # the others go on
    assert "No imports to update" not in everything.stdout
    assert "ERROR: Skipped images.dvx: The pointer file 'images.dvx' holds an unresolved Git " \
           "merge conflict" in everything.stderr
    named = run_dvx("update", "images.dvx", cwd=project)
    assert named.code == 1 and "unresolved Git merge conflict" in named.stderr
    assert "not an import" not in named.stderr
    only_json = run_dvx("update", "--json", cwd=project)
    assert only_json.code == 1 and "Skipped images.dvx" in only_json.stderr
    listed = {r["path"]: r for r in json.loads(only_json.stdout)}  # stdout alone tells it
    assert listed["images"]["failed"] and not listed["images"]["ok"]
    assert "unresolved Git merge conflict" in listed["images"]["detail"]
    assert not listed["train.csv"]["failed"]


def test_update_names_every_pointer_it_rewrote_even_with_the_same_data(source, project):
    team, alice = source
    must("import", str(team.origin), "images/0.png", "-o", "zero", cwd=project)
    must("import", str(team.origin), "images/1.png", "-o", "one", cwd=project)
    commit(project, "imports")
    edit(alice, "images/1.png", "image 1, v2\n")
    must("add", "images", cwd=alice)
    share(alice, "v2")  # a new source commit: zero's data is the same, one's is new
    updated = run_dvx("update", cwd=project)
    assert updated.code == 0 and "zero: now at" in updated.stdout
    assert "git add one.dvx zero.dvx" in updated.stdout
    git(project, "checkout", "-q", "--", "one.dvx", "zero.dvx")
    assert run_dvx("checkout", "-q", cwd=project).code == 0
    as_json = run_dvx("update", "--json", cwd=project)
    assert as_json.code == 0
    assert [(r["path"], r["changed"], r["pointer_changed"]) for r in json.loads(
        as_json.stdout)] == [("one", True, True), ("zero", False, True)]  # stdout is JSON only
    again = json.loads(run_dvx("update", "--json", cwd=project).stdout)
    assert [(r["changed"], r["pointer_changed"]) for r in again] == [(False, False)] * 2


def test_update_with_an_empty_rev_is_refused_and_keeps_the_import_at_its_pin(source, project):
    """`dvx update --rev "$TAG"` with TAG unset is a mistake, refused (exit 2), never an
    update without --rev that keeps the old pin and calls it up to date."""
    team, alice = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    commit(project, "import")
    _new_version(alice)
    git(alice, "tag", "v2")
    git(alice, "push", "-q", "origin", "v2")
    pointer = (project / "images.dvx").read_text()
    refused = run_dvx("update", "--rev", "", "images.dvx", cwd=project)
    assert refused.code == 2, refused.output
    assert refused.stderr.startswith("ERROR: Invalid value for '--rev': an empty value was "
                                     "given."), refused.stderr
    assert "up to date" not in refused.output
    assert (project / "images.dvx").read_text() == pointer
    assert not (project / "images" / "3.png").exists()


def test_update_of_one_import_named_several_ways_updates_and_reports_it_once(source, project):
    """`dvx update images.dvx images ./images` names one import three ways: it is updated
    once, and named once, as `add` acts once on a path given twice."""
    team, alice = source
    must("import", str(team.origin), "images", "--rev", "main", cwd=project)
    commit(project, "import")
    _new_version(alice)
    updated = run_dvx("update", "images.dvx", "images", "./images", cwd=project)
    assert updated.code == 0, updated.output
    assert updated.stdout.count("images: ") == 1 and "now at" in updated.stdout
    assert (project / "images" / "3.png").read_text() == "image 3\n"
    edit(alice, "images/3.png", "image 3, v3\n")
    must("add", "images", cwd=alice)
    share(alice, "v3")
    as_json = run_dvx("update", "--json", "images", "images.dvx", cwd=project)
    assert as_json.code == 0, as_json.output
    assert [(r["path"], r["changed"], r["failed"]) for r in json.loads(as_json.stdout)] == [
        ("images", True, False)]
    assert (project / "images" / "3.png").read_text() == "image 3, v3\n"


def test_update_under_autostage_stages_the_pointers_it_rewrote(source, project):
    team, alice = source
    must("import", str(team.origin), "images/1.png", "-o", "one", cwd=project)
    commit(project, "import")
    must("config", "core.autostage", "true", cwd=project)
    edit(alice, "images/1.png", "image 1, v2\n")
    must("add", "images", cwd=alice)
    share(alice, "v2")
    updated = run_dvx("update", cwd=project)
    assert updated.code == 0 and "Staged in Git: one.dvx" in updated.stdout, updated.output
    assert "git add" not in updated.stdout
    assert git(project, "diff", "--cached", "--name-only").strip() == "one.dvx"


def test_update_of_a_directory_names_the_files_it_kept(source, project):
    team, alice = source
    assert run_dvx("import", str(team.origin), "images", cwd=project).code == 0
    edit(project, "images/0.png", "mine\n")
    (alice / "images" / "2.png").unlink()
    _new_version(alice)  # 3.png added
    result = run_dvx("update", cwd=project)
    assert result.code == 1, result.output
    assert "the workspace copy of 'images/0.png' was kept: it has changes" in result.stdout
    assert sorted(os.listdir(project / "images")) == ["0.png", "1.png", "3.png"]
    assert (project / "images" / "0.png").read_text() == "mine\n"


def _resumed(proc) -> tuple[int, str]:
    """Let a command stopped at a fault point (`stopped_at`) go on; its status and stderr."""
    import signal

    os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_an_update_writes_nothing_over_a_pointer_another_command_changed_meanwhile(
        source, project):
    """The user records an edit of the import's data (`dvx add`: it is data of their own now)
    while an update downloads: the update, once it holds the lock to write, finds the pointer
    changed and writes nothing, neither the pointer nor the data."""
    team, alice = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    commit(project, "import")
    _new_version(alice)
    updating = stopped_at("transfer.after_object", "update images.dvx --rev main", project)
    edit(project, "images/0.png", "mine\n")
    must("add", "images", cwd=project)
    mine = (project / "images.dvx").read_text()
    code, err = _resumed(updating)
    assert code == 1, err
    assert "'images.dvx' changed while this update read its source" in err
    assert "Traceback" not in err
    assert (project / "images.dvx").read_text() == mine and "source:" not in mine
    assert (project / "images" / "0.png").read_text() == "mine\n"
    assert not (project / "images" / "3.png").exists()


def test_an_update_with_nothing_new_places_nothing_for_a_pointer_changed_meanwhile(
        source, project, tmp_path):
    """An update finishing an import (its data fetched from the source, then checked out)
    checks out nothing once its pointer changed: the data it names now is the user's."""
    team, _ = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    commit(project, "import")  # and no `dvx push`
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    updating = stopped_at("transfer.after_object", "update images.dvx", mate)
    write(mate / "images" / "0.png", "mine\n")
    must("add", "images", cwd=mate)
    code, err = _resumed(updating)
    assert code == 1 and "'images.dvx' changed while this update" in err, err
    assert os.listdir(mate / "images") == ["0.png"]
    assert (mate / "images" / "0.png").read_text() == "mine\n"


def test_an_import_writes_nothing_where_another_command_wrote_meanwhile(source, project):
    """What an import checked before its download is checked again once it holds the lock to
    write: a path tracked meanwhile as the user's own data is refused as it would have been
    before, and a pointer of the same import changed meanwhile (its description, say) is
    not written over."""
    team, alice = source
    importing = stopped_at("transfer.after_object", f"import {team.origin} images", project)
    write(project / "images" / "mine.png", "mine\n")
    must("add", "images", cwd=project)
    code, err = _resumed(importing)
    assert code == 2 and "'images' is already tracked (not an import)" in err, err
    assert "source:" not in (project / "images.dvx").read_text()
    assert os.listdir(project / "images") == ["mine.png"]

    must("import", str(team.origin), "raw/train.csv", "--rev", "v1", cwd=project)
    edit(alice, "raw/train.csv", "a,b\n3,4\n")
    must("add", "raw/train.csv", cwd=alice)
    share(alice, "v2")
    importing = stopped_at("transfer.after_object",
                           f"import {team.origin} raw/train.csv --rev main", project)
    described = (project / "train.csv.dvx").read_text() + 'desc: "my note"\n'
    (project / "train.csv.dvx").write_text(described)
    code, err = _resumed(importing)
    assert code == 1 and "'train.csv.dvx' changed while this import read its source" in err
    assert (project / "train.csv.dvx").read_text() == described
    assert (project / "train.csv").read_text() == "a,b\n1,2\n"


def test_an_update_cut_short_is_finished_by_running_it_again(source, project):
    team, alice = source
    assert run_dvx("import", str(team.origin), "images", cwd=project).code == 0
    commit(project, "import images")
    for i in range(3):
        edit(alice, f"images/{i}.png", f"image {i}, v2\n")
    must("add", "images", cwd=alice)
    share(alice, "v2")
    killed = run_dvx_proc("update", cwd=project, env={"DVX_FAULT": "checkout.after_file:1"})
    assert killed.code == -9 and "v2" not in (project / "images" / "2.png").read_text()
    again = run_dvx("update", cwd=project)
    assert again.code == 0 and "up to date" in again.stdout, again.output
    assert [(project / "images" / f"{i}.png").read_text() for i in range(3)] == [
        f"image {i}, v2\n" for i in range(3)]
    assert run_dvx("status", "-q", cwd=project).code == 0


def _named_as_stopped(project: Path) -> list[str]:
    """The commands `dvx status` names as stopped before they finished."""
    said = " ".join(run_dvx_proc("status", cwd=project).stderr.split())
    return [part.partition("`")[0] for part in said.split("The last `")[1:]
            if "was stopped before it finished" in part]


def test_a_later_update_or_checkout_of_an_import_finishes_a_stopped_update(source, project):
    """`dvx update images.dvx --rev main` killed while it checks out is named (a change, as a
    stopped checkout is) until a later command that places that import's files as its
    pointer says ends without an error: an update of it (named, or of every import, at
    whichever revision) or a checkout of it; an update of another import finishes nothing
    of it."""
    def stopped() -> list[str]:
        return _named_as_stopped(project)

    def killed(*args: str) -> None:
        run = run_dvx_proc(*args, cwd=project, env={"DVX_FAULT": "checkout.after_file:1"})
        assert run.code == -9, run.output

    team, alice = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    must("import", str(team.origin), "raw/train.csv", cwd=project)
    commit(project, "imports")
    for i in range(3):
        edit(alice, f"images/{i}.png", f"image {i}, v2\n")
    must("add", "images", cwd=alice)
    share(alice, "v2")
    killed("update", "images.dvx", "--rev", "main")
    assert stopped() == ["dvx update images.dvx --rev main"]
    assert run_dvx("status", "-q", cwd=project).code == 1
    must("update", "train.csv.dvx", cwd=project)
    assert stopped() == ["dvx update images.dvx --rev main"]
    must("update", "-q", "images", cwd=project)
    assert stopped() == []
    assert (project / "images" / "2.png").read_text() == "image 2, v2\n"

    killed("update", "images.dvx", "--rev", "v1")
    must("checkout", "images", cwd=project)
    assert stopped() == []
    killed("update", "images.dvx", "--rev", "main")
    must("update", cwd=project)
    assert stopped() == []
    assert (project / "images" / "2.png").read_text() == "image 2, v2\n"
    assert run_dvx("status", "-q", cwd=project).code == 0


@pytest.mark.parametrize(("stop", "finish"), [
    ("kill -9", "update images.dvx"), ("kill -9", "checkout --force images"),
    ("SIGTERM", "update -q images"), ("SIGTERM", "checkout images")])
def test_finishing_the_import_a_stopped_update_of_every_import_was_on_finishes_that_update(
        source, project, stop, finish):
    """`dvx update` of every import stopped (kill -9, or SIGTERM) while it places the files of
    the first: it was working on that import alone, the others untouched, so an update or a
    checkout of that one, ended without an error, finishes it, as docs/reuse.md says."""
    team, alice = source
    must("import", str(team.origin), "images", "--rev", "main", cwd=project)
    must("import", str(team.origin), "raw/train.csv", "--rev", "main", cwd=project)
    commit(project, "imports")
    for i in range(3):
        edit(alice, f"images/{i}.png", f"image {i}, v2\n")
    edit(alice, "raw/train.csv", "a,b\n3,4\n")
    must("add", "images", "raw/train.csv", cwd=alice)
    share(alice, "v2")
    if stop == "kill -9":
        killed = run_dvx_proc("update", cwd=project, env={"DVX_FAULT": "checkout.after_file:1"})
        assert killed.code == -9, killed.output
    else:
        updating = stopped_at("checkout.after_file", "update", project)
        updating.send_signal(signal.SIGTERM)
        while updating.poll() is None:  # the fault point stops it again while it stops: go on
            updating.send_signal(signal.SIGCONT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                updating.wait(timeout=1)
        updating.communicate(timeout=60)
        assert updating.returncode == 143
    assert _named_as_stopped(project) == ["dvx update"]
    assert (project / "train.csv").read_text() == "a,b\n1,2\n"  # not reached
    finished = run_dvx(*finish.split(), cwd=project)
    assert finished.code == 0, finished.output
    assert _named_as_stopped(project) == []
    assert [(project / "images" / f"{i}.png").read_text() for i in range(3)] == [
        f"image {i}, v2\n" for i in range(3)]


@pytest.mark.parametrize(("signum", "code", "said"), [
    (signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated")])
def test_ctrl_c_or_sigterm_stops_an_update_of_several_imports_at_once(source, project, signum,
                                                                      code, said):
    """Ctrl-C (or `kill PID`) while an update places the files of the first of two imports:
    the update stops there, with the signal's exit status, the second import untouched; it
    says the first one's pointer names its new data already, and the `git add` that records
    it; no notice names this very run as one whose process is gone."""
    team, alice = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    must("import", str(team.origin), "raw/train.csv", "--rev", "v1", cwd=project)
    commit(project, "imports")
    edit(alice, "images/0.png", "image 0, v2\n")
    edit(alice, "raw/train.csv", "a,b\n3,4\n")
    must("add", "images", "raw/train.csv", cwd=alice)
    share(alice, "v2")
    train = (project / "train.csv.dvx").read_text()
    updating = stopped_at("place.before_rename", "update images.dvx train.csv.dvx --rev main",
                          project)
    updating.send_signal(signum)
    while updating.poll() is None:  # the fault point stops it again while it stops: go on
        updating.send_signal(signal.SIGCONT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            updating.wait(timeout=1)
    out, err = updating.communicate(timeout=60)
    said_all = " ".join(err.split())
    assert updating.returncode == code, err
    assert f"ERROR: {said} while updating 'images', before 'train.csv': 'images.dvx' names " \
        "the data it was being updated to already." in said_all
    assert "git add images.dvx" in out and "train.csv" not in out, out
    assert "its process is gone" not in said_all and "Traceback" not in said_all
    assert "train.csv: " not in out + err.replace("before 'train.csv'", "")
    assert (project / "train.csv.dvx").read_text() == train
    assert (project / "train.csv").read_text() == "a,b\n1,2\n"
    assert 'rev: "main"' in (project / "images.dvx").read_text()
    assert "`dvx update images.dvx train.csv.dvx --rev main` in this repository was stopped" \
        in " ".join(run_dvx_proc("status", cwd=project).stderr.split())


def test_ctrl_c_during_an_update_s_download_says_which_import_first_then_what_was_downloaded(
        source, project):
    """The import being updated comes first, then what the transfer did, as a sentence of
    its own: never "...; the others were not while updating ..."."""
    import re

    team, alice = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    commit(project, "import")
    _new_version(alice)
    images = (project / "images.dvx").read_text()
    updating = stopped_at("transfer.after_object", "update images.dvx --rev main", project)
    updating.send_signal(signal.SIGINT)
    updating.send_signal(signal.SIGCONT)
    _, err = updating.communicate(timeout=60)
    said = " ".join(err.split())
    assert updating.returncode == 130, err
    assert re.search(r"ERROR: Interrupted while updating 'images': it was not updated\. "
                     r"\d+ of \d+ objects were downloaded before it stopped[^;]*; the others "
                     r"were not\.", said), said
    assert "were not while" not in said and "Traceback" not in said
    assert (project / "images.dvx").read_text() == images


def test_ctrl_c_past_the_first_of_two_imports_names_its_rewritten_pointer(source, project,
                                                                         tmp_path):
    """Ctrl-C while an update downloads the second of two imports, outside any transfer or
    lock, the first one updated already: the update stops with Ctrl-C's exit status, saying
    the second one was not updated, and names the first one's rewritten pointer in the `git
    add` that records it."""
    team, alice = source
    upstream = write(tmp_path / "upstream" / "data.csv", "x\n1\n")
    must("import", str(team.origin), "images", cwd=project)
    must("import-url", str(upstream), "data.csv", cwd=project)
    commit(project, "imports")
    edit(alice, "images/0.png", "image 0, v2\n")
    must("add", "images", cwd=alice)
    share(alice, "v2")
    write(upstream, "x\n1\n2\n")
    data = (project / "data.csv.dvx").read_text()
    updating = stopped_at("import_url.after_block", "update images.dvx data.csv.dvx", project)
    updating.send_signal(signal.SIGINT)
    updating.send_signal(signal.SIGCONT)
    out, err = updating.communicate(timeout=60)
    said = " ".join(err.split())
    assert updating.returncode == 130, err
    assert "ERROR: Interrupted while updating 'data.csv': it was not updated." in said
    assert "git add images.dvx" in out and "data.csv.dvx" not in out, out
    assert "Traceback" not in said
    assert (project / "data.csv.dvx").read_text() == data
    assert (project / "images" / "0.png").read_text() == "image 0, v2\n"


def test_an_update_keeping_a_folder_of_yours_is_not_unfinished_and_checkout_force_places_it(
        tmp_path, project):
    """An update whose import turned from a directory into a file, a file of the user's in
    that folder: the update records the new version and keeps the folder (exit 1), which is
    the user's, so it is not named unfinished; status names the folder and the pointer, and
    a `checkout --force` places the import's file."""
    source = make_git_repo(tmp_path / "source")
    must("init", cwd=source)
    write(source / "d" / "f", "1\n")
    must("add", "d", cwd=source)
    commit(source, "v1")
    git(source, "tag", "v1")
    must("remove", "d.dvx", cwd=source)
    shutil.rmtree(source / "d")
    write(source / "d", "a file now\n")
    must("add", "d", cwd=source)
    commit(source, "v2")
    git(source, "tag", "v2")
    must("import", str(source), "d", "--rev", "v1", cwd=project)
    commit(project, "import")
    write(project / "d" / "new", "mine\n")
    assert run_dvx_proc("update", "d.dvx", "--rev", "v2", cwd=project).code == 1
    said = " ".join(run_dvx_proc("status", cwd=project).stdout.split())
    assert "ended by an error" not in said and "d: modified, and its pointer changed" in said, \
        said
    forced = run_dvx("checkout", "--force", "d", cwd=project)
    assert forced.code == 0, forced.output
    assert (project / "d").read_text() == "a file now\n"
    status = run_dvx_proc("status", cwd=project)
    assert "ended by an error" not in status.output, status.output


_READING_IMAGES = """\
stages:
  use:
    cmd: cat images/* > used.txt
    deps: [images]
    outs: [used.txt]
"""


def test_repro_runs_no_stage_on_an_import_a_stopped_update_left_half_placed(source, project):
    """`dvx update` killed while it checks out a directory import leaves old and new files
    mixed under the new pointer: `repro` (and `--dry`) runs no stage on that mix and writes
    nothing, naming `dvx checkout` and the stopped update; checked out, the stage runs."""
    team, alice = source
    must("import", str(team.origin), "images", cwd=project)
    run_and_commit(project, _READING_IMAGES, "use images")
    for i in range(3):
        edit(alice, f"images/{i}.png", f"image {i}, v2\n")
    must("add", "images", cwd=alice)
    share(alice, "v2")
    killed = run_dvx_proc("update", "images.dvx", cwd=project,
                          env={"DVX_FAULT": "checkout.after_file:1"})
    assert killed.code == -9, killed.output
    lock, used = (project / "dvx.lock").read_text(), (project / "used.txt").read_text()
    for args in (("repro", "--dry"), ("repro",)):
        refused = run_dvx(*args, cwd=project)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1, refused.output
        assert "'images' is read by the stages but is not checked out as its pointer " \
               "names" in said
        assert "Run `dvx checkout images`" in said
        assert "run the stopped `dvx update images.dvx` again" in said
    assert (project / "dvx.lock").read_text() == lock
    assert (project / "used.txt").read_text() == used
    must("checkout", "images", cwd=project)
    must("repro", cwd=project)
    assert (project / "used.txt").read_text() == "".join(
        f"image {i}, v2\n" for i in range(3))
    assert run_dvx("status", "-q", cwd=project).code == 0


def test_repro_never_drops_the_source_of_an_import_changed_here(source, project):
    """A file of the user's added in a directory import, which `dvx update` keeps, is not
    committed by `repro` as data of the user's (its pointer would lose its source): `repro`
    refuses, naming the ways out; moved out, the import updates and the stage runs."""
    team, alice = source
    must("import", str(team.origin), "images", cwd=project)
    run_and_commit(project, _READING_IMAGES, "use images")
    write(project / "images" / "mine.png", "mine\n")
    _new_version(alice)
    assert run_dvx("update", "images.dvx", cwd=project).code == 1  # mine.png kept
    pointer = (project / "images.dvx").read_text()
    refused = run_dvx("repro", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1, refused.output
    assert "'images' is an import ('images.dvx' records its source), and its workspace " \
           "copy changed (added: 'mine.png')" in said
    assert "Move the files you added out of it" in said
    assert "record it first with `dvx commit images`" in said
    assert (project / "images.dvx").read_text() == pointer and "source:" in pointer
    (project / "images" / "mine.png").unlink()
    assert "up to date" in must("update", "images.dvx", cwd=project)
    must("repro", cwd=project)
    assert "image 3\n" in (project / "used.txt").read_text()
    assert run_dvx("status", "-q", cwd=project).code == 0



def test_exp_save_never_drops_the_source_of_an_import_no_stage_reads(source, project):
    """An import no stage reads, changed here, is refused by `exp save` as `repro` refuses
    one it reads: the refusal lists the files changed in it, and nothing is recorded."""
    team, _ = source
    must("import", str(team.origin), "images", cwd=project)
    commit(project, "import images")
    write(project / "images" / "mine.png", "mine\n")
    pointer = (project / "images.dvx").read_text()
    refused = run_dvx("exp", "save", "-n", "mine", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1, refused.output
    assert "'images' is an import ('images.dvx' records its source), and its workspace " \
           "copy changed (added: 'mine.png')" in said, said
    assert "Move the files you added out of it" in said
    assert "then run `dvx exp save -n mine` again" in said
    assert "record it first with `dvx commit images`" in said
    assert (project / "images.dvx").read_text() == pointer
    assert git(project, "for-each-ref", "refs/exps") == ""

def test_update_brings_an_import_that_was_never_pushed_from_its_source(source, project,
                                                                        tmp_path):
    team, _ = source
    assert run_dvx("import", str(team.origin), "images", cwd=project).code == 0
    commit(project, "import images")  # and no `dvx push`
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    updated = run_dvx("update", cwd=mate)
    assert updated.code == 0 and "3 files restored" in updated.stdout, updated.output
    assert sorted(os.listdir(mate / "images")) == ["0.png", "1.png", "2.png"]
    assert run_dvx("status", "-q", cwd=mate).code == 0


def test_pull_and_status_name_update_for_an_import_the_remote_lacks(source, project,
                                                                   tmp_path):
    """An import committed and not pushed: the teammate's pull fails for it, and both pull
    and status say that `dvx update` fetches it from its source, which pull cannot: the
    version the source has now, which is that data while the source has not moved on."""
    team, _ = source
    must("remote", "add", "-d", "mine", str(tmp_path / "store"), cwd=project)
    write(project / "other.txt", "other\n")
    must("add", "other.txt", cwd=project)
    must("push", cwd=project)
    assert run_dvx("import", str(team.origin), "images", "-o", "data/images",
                   cwd=project).code == 0
    commit(project, "import images")  # and no `dvx push`
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    pulled = run_dvx("pull", cwd=mate)
    assert pulled.code == 1, pulled.output
    assert ("data/images.dvx is an import: `dvx update data/images.dvx` fetches from its "
            "source the version the source has now, and records that one: this data only while "
            "the source has not moved on since the pointer was written (`dvx status` says "
            "whether it has).") in " ".join(pulled.stderr.split()), pulled.stderr
    status = run_dvx("status", cwd=mate / "data")
    assert ("(`dvx update images.dvx` fetches the data of an import from its source, which "
            "`dvx pull` cannot when no remote has it)") in status.stdout, status.stdout
    assert run_dvx("update", cwd=mate).code == 0
    assert sorted(os.listdir(mate / "data" / "images")) == ["0.png", "1.png", "2.png"]


def test_status_names_update_for_an_import_a_teammate_updated_without_pushing_its_data(
        source, project, tmp_path):
    """A teammate's `dvx update` arrives with `git pull`, its data pushed nowhere: the data
    is outdated and not in the cache, and status names `dvx update` for it, as for an
    import not pulled, beside the checkout and pull that fail then."""
    team, alice = source
    must("remote", "add", "-d", "mine", str(tmp_path / "store"), cwd=project)
    must("import", str(team.origin), "images", "--rev", "v1", "-o", "data/images",
         cwd=project)
    commit(project, "import images v1")
    must("push", cwd=project)
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    must("pull", cwd=mate)
    _new_version(alice)
    must("update", "data/images.dvx", "--rev", "main", cwd=project)
    commit(project, "images at main")  # and no `dvx push`
    git(mate, "pull", "-q")
    status = run_dvx("status", cwd=mate / "data")
    assert "images: pointer changed in Git" in status.stdout, status.stdout
    assert ("(`dvx update images.dvx` fetches the data of an import from its source, which "
            "`dvx pull` cannot when no remote has it)") in status.stdout, status.stdout
    assert "(`dvx pull` fetches what is not in the cache)" not in status.stdout
    must("update", "images.dvx", cwd=mate / "data")
    assert sorted(os.listdir(mate / "data" / "images")) == ["0.png", "1.png", "2.png", "3.png"]
    assert git(mate, "status", "--porcelain") == ""


def test_pull_and_status_name_the_import_that_brings_an_import_s_data_once_its_source_moved(
        source, project, tmp_path):
    """An import committed and not pushed, whose source has moved on since: `dvx update`
    would bring and record the newer version, so pull does not say it fetches the data, and
    names the `dvx import` that brings exactly the data the pointer names; status says
    update brings the version the source moved to. Following them places that data, and
    leaves the pointer as it was. An import pinned to its commit is named for update alone."""
    import re
    import shlex

    team, alice = source
    must("remote", "add", "-d", "mine", str(tmp_path / "store"), cwd=project)
    must("import", str(team.origin), "images", "-o", "data/images", cwd=project)
    v1 = git(alice, "rev-parse", "v1").strip()
    must("import", str(team.origin), "raw/train.csv", "--rev", v1, "-o", "train.csv",
         cwd=project)
    commit(project, "imports")  # and no `dvx push`
    _new_version(alice)
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    pulled = run_dvx("pull", cwd=mate)
    assert pulled.code == 1, pulled.output
    said = " ".join(pulled.stderr.split())
    assert "data/images.dvx, train.csv.dvx are imports: `dvx update data/images.dvx " \
        "train.csv.dvx` fetches from their sources the versions they have now, and records " \
        "those: this data only where a source has not moved on" in said, said
    found = re.search(r"`(dvx import [^`]+)` brings exactly the data data/images\.dvx names, "
                      r"from the commit it records, to a copy beside it \(`dvx remove --outs "
                      r"([^`]+)` then drops the copy, the cache keeping the data, which "
                      r"`dvx checkout` places\)", said)
    assert found is not None and f"--rev {v1[:12]} " in found[1], said
    assert "brings exactly the data train.csv.dvx" not in said  # pinned: update brings it
    status = run_dvx("status", cwd=mate)
    assert ("(`dvx update data/images.dvx` brings the version its source moved to, not the "
            f"data its pointer names; `{found[1]}` brings that data from the commit the pointer "
            f"records, to a copy beside it: `dvx remove --outs {found[2]}`") in status.stdout, \
        status.stdout
    assert "(`dvx update train.csv.dvx` fetches the data of an import from its source" \
        in status.stdout
    must(*shlex.split(found[1])[1:], cwd=mate)
    must("remove", "--outs", found[2], cwd=mate)
    must("checkout", "data/images", cwd=mate)
    assert sorted(os.listdir(mate / "data" / "images")) == ["0.png", "1.png", "2.png"]
    must("update", "train.csv.dvx", cwd=mate)
    assert (mate / "train.csv").read_text() == "a,b\n1,2\n"
    assert git(mate, "status", "--porcelain") == ""


def test_pull_names_update_for_an_import_when_the_remote_folder_was_never_made(
        source, project, tmp_path):
    """Nothing was ever pushed (the remote's folder does not exist): pull's error says so, and
    that `dvx update` fetches an import's data from its source all the same."""
    team, _ = source
    must("remote", "add", "-d", "mine", str(tmp_path / "never-pushed"), cwd=project)
    assert run_dvx("import", str(team.origin), "images", "-o", "data/images",
                   cwd=project).code == 0
    commit(project, "import images")
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    pulled = run_dvx("pull", cwd=mate / "data")
    assert pulled.code == 1, pulled.output
    assert "does not exist" in pulled.stderr and ("images.dvx is an import: `dvx update "
                                                  "images.dvx` fetches from its source the "
                                                  "version the source has now") \
        in pulled.stderr, pulled.stderr


def test_fetch_of_another_revision_s_import_names_the_import_that_brings_its_data(
        source, project, tmp_path):
    """`dvx update` brings the data of the workspace's import pointer only: for the data an
    older revision's pointer of it names, which no remote has, fetch names instead the `dvx
    import` of its source at the commit that pointer records, which brings it (to a copy
    beside it, that `dvx remove --outs` drops, the cache keeping the data)."""
    import re
    import shlex

    team, alice = source
    must("remote", "add", "-d", "mine", str(tmp_path / "store"), cwd=project)
    must("import", str(team.origin), "images", "--rev", "v1", "-o", "data/images",
         cwd=project)
    commit(project, "v1")  # its data never pushed
    _new_version(alice)
    must("update", "data/images.dvx", "--rev", "main", cwd=project)
    commit(project, "main")
    must("push", cwd=project)
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    fetched = run_dvx("fetch", "--rev", "HEAD~1", cwd=mate / "data")
    assert fetched.code == 1, fetched.output
    assert "fetches its data from its source" not in fetched.stderr
    found = re.search(r"data/images\.dvx is an import that named that data in commit \w+, not the "
                      r"workspace's data, which is all `dvx update` brings: `(dvx import [^`]+)` "
                      r"brings it from its source, to a copy beside it \(`dvx remove --outs "
                      r"([^`]+)` then drops the copy", fetched.stderr)
    assert found is not None, fetched.stderr
    v1 = git(alice, "rev-parse", "v1").strip()
    assert f"--rev {v1[:12]} " in found[1]
    must(*shlex.split(found[1])[1:], cwd=mate / "data")
    must("remove", "--outs", found[2], cwd=mate / "data")
    assert run_dvx("fetch", "--rev", "HEAD~1", cwd=mate).code == 0

    git(tmp_path, "clone", "-q", str(project), "other")
    other = tmp_path / "other"
    must("remote", "add", "empty", str(tmp_path / "never-pushed"), cwd=other)
    unread = run_dvx("fetch", "-r", "empty", "--rev", "HEAD~1", cwd=other)
    assert unread.code != 0 and "does not exist" in unread.stderr, unread.output
    assert ("data/images.dvx is an import: `dvx update data/images.dvx` fetches from its "
            "source the version") in unread.stderr  # the workspace's data
    assert "data/images.dvx is an import that named that data, not the workspace's" \
        in unread.stderr  # HEAD~1's


def test_fetch_names_no_import_for_data_an_import_read_from_its_source_s_uncommitted_workspace(
        source, project, tmp_path):
    """An import from a local source without --rev reads its workspace, and records the
    commit that is on: for an older revision's pointer of it whose data no remote has, fetch
    names the `dvx import` at that commit only when that commit holds the data; for data
    added there but not committed, it says that no import is known to bring it, and why."""
    import re
    import shlex

    _, alice = source
    must("remote", "add", "-d", "mine", str(tmp_path / "store"), cwd=project)
    must("import", str(alice), "raw/train.csv", cwd=project)
    commit(project, "committed data")
    for n in (3, 5):
        edit(alice, "raw/train.csv", f"a,b\n{n},{n + 1}\n")
        must("add", "raw/train.csv", cwd=alice)  # recorded there, not committed to Git
        must("update", "train.csv.dvx", cwd=project)
        commit(project, f"uncommitted data {n}")
    must("push", cwd=project)  # the workspace's data only
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    uncommitted = run_dvx("fetch", "--rev", "HEAD~1", cwd=mate)
    assert uncommitted.code == 1, uncommitted.output
    head = git(alice, "rev-parse", "HEAD").strip()
    assert ("train.csv.dvx is an import that named that data in commit ") in uncommitted.stderr
    assert ("and no `dvx import` is known to bring it: it was read from its source's "
            "workspace, not committed there (the commit it records there, "
            f"{head[:7]}, holds other data).") in uncommitted.stderr, uncommitted.stderr
    assert "dvx import " not in uncommitted.stderr and "brings it" not in uncommitted.stderr

    committed = run_dvx("fetch", "--rev", "HEAD~2", cwd=mate)
    assert committed.code == 1, committed.output
    found = re.search(r"`(dvx import [^`]+)` brings it from its source", committed.stderr)
    assert found is not None and f"--rev {head[:12]} " in found[1], committed.stderr
    must(*shlex.split(found[1])[1:], cwd=mate)
    assert run_dvx("fetch", "--rev", "HEAD~2", cwd=mate).code == 0


def _imported_then_amended_in_its_bare_source(source, project: Path, tmp_path: Path
                                               ) -> tuple[Any, str]:
    """raw/train.csv imported from the source's bare repository and committed; then the
    commit imported amended there (other data) and force-pushed. The source's team, and the
    commit imported."""
    team, alice = source
    _new_version(alice)
    must("remote", "add", "-d", "mine", str(tmp_path / "store"), cwd=project)
    must("import", str(team.origin), "raw/train.csv", cwd=project)
    commit(project, "import")
    old = git(alice, "rev-parse", "HEAD").strip()
    edit(alice, "raw/train.csv", "a,b\n7,8\n")
    must("add", "raw/train.csv", cwd=alice)
    git(alice, "commit", "-q", "--amend", "-am", "v2 again")
    must("push", cwd=alice)
    git(alice, "push", "-q", "--force", "origin", "HEAD")
    return team, old


def test_fetch_names_an_import_s_commit_its_bare_source_no_longer_has_as_gone(
        source, project, tmp_path):
    """An import from a local bare repository is cloned and read at its commit, never from a
    workspace: for an older pointer's data no remote has, fetch names the `dvx import` of
    that commit while the source has it, and once amended there and pruned, says it is gone."""
    team, old = _imported_then_amended_in_its_bare_source(source, project, tmp_path)
    must("update", "train.csv.dvx", cwd=project)
    commit(project, "update")
    must("push", cwd=project)  # the workspace's data only
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    held = run_dvx("fetch", "--rev", "HEAD~1", cwd=mate)
    assert held.code == 1, held.output
    assert f"--rev {old[:12]} " in held.stderr and "brings it from its source" in held.stderr
    assert "workspace" not in held.stderr.replace("the workspace's data", ""), held.stderr
    git(team.origin, "gc", "-q", "--prune=now")
    shutil.rmtree(tmp_path / "user-cache")  # and dvx's clone of it with the commit
    gone = run_dvx("fetch", "--rev", "HEAD~1", cwd=mate)
    assert gone.code == 1, gone.output
    assert ("and no `dvx import` is known to bring it: the commit it records "
            f"({old[:7]}) is no longer in its source") in gone.stderr, gone.stderr
    assert "source's workspace" not in gone.stderr and "dvx import " not in gone.stderr


def test_pull_says_update_brings_other_data_when_the_bare_source_lost_the_import_s_commit(
        source, project, tmp_path):
    """The workspace's pointer of an import from a local bare repository whose commit was
    amended there and pruned: `dvx pull`, lacking its data, does not say `dvx update`
    fetches it, but that its commit is no longer in the source and that update brings the
    source's current commit's data instead, which may be another version."""
    team, old = _imported_then_amended_in_its_bare_source(source, project, tmp_path)
    git(team.origin, "reflog", "expire", "--expire=now", "--all")
    git(team.origin, "gc", "-q", "--prune=now")
    git(tmp_path, "clone", "-q", str(project), "mate")
    pulled = run_dvx("pull", cwd=tmp_path / "mate")
    assert pulled.code == 1, pulled.output
    said = " ".join(pulled.stderr.split())
    assert f"train.csv.dvx is an import, but the commit it records ({old[:7]}) is no longer " \
        "in its source (amended or deleted there, then pruned): `dvx update train.csv.dvx` " \
        "brings the data of its source's current commit instead, which may be another " \
        "version" in said, said
    assert "fetches its data from its source" not in said


def test_a_local_source_s_uncommitted_data_is_seen_by_status_and_update(source, project):
    _, alice = source
    assert run_dvx("import", str(alice), "raw/train.csv", cwd=project).code == 0
    edit(alice, "raw/train.csv", "a,b\n3,4\n")
    must("add", "raw/train.csv", cwd=alice)  # recorded there, not committed to Git yet
    status = run_dvx("status", cwd=project)
    assert "workspace holds other data" in status.stdout, status.output
    updated = run_dvx("update", cwd=project)
    assert updated.code == 0 and "its workspace" in updated.stdout, updated.output
    assert (project / "train.csv").read_text() == "a,b\n3,4\n"
    assert "up to date" in must("update", cwd=project)


def test_bad_sources_get_one_clear_error_each(source, project, tmp_path):
    team, _ = source
    write(project / "tracked.txt", "mine\n")
    assert run_dvx("add", "tracked.txt", cwd=project).code == 0
    cases = [
        (("import", "http://127.0.0.1:9/nothing.git", "x"), "Could not fetch the repository"),
        (("import", str(team.origin), "images", "--rev", "no-such-rev"), "Unknown revision"),
        (("ls", str(tmp_path / "not-a-repo")), "neither a directory nor a Git URL"),
        (("get", str(team.origin), "images/9.png"), "not tracked by dvx"),
        (("update", "nothing.dvx"), "'nothing.dvx' does not exist"),
        (("update", "tracked.txt"), "'tracked.txt' is not an import"),
    ]
    for args, message in cases:
        result = run_dvx(*args, cwd=project)
        assert result.code != 0 and message in result.stderr, (args, result.output)
        assert "Traceback" not in result.output


def test_import_from_a_source_without_commits_says_so(project, tmp_path):
    empty = make_git_repo(tmp_path / "empty")
    must("init", cwd=empty)
    write(empty / "f", "x\n")
    must("add", "f", cwd=empty)
    assert run_dvx("get", str(empty), "f", "-o", str(tmp_path / "got"), cwd=project).code == 0
    refused = run_dvx("import", str(empty), "f", cwd=project)
    assert refused.code == 2 and f"The source '{empty}' has no commits yet" in refused.stderr, (
        refused.output)
    assert not (project / "f.dvx").exists()


def test_import_from_a_bare_source_without_commits_says_so(project, tmp_path):
    """A new bare repository: no commit to read, said as for a local source without commits
    (not as a broken clone), on the first try and the next; a commit pushed there is read."""
    bare = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    for args in (("import", str(bare), "f"), ("import", str(bare), "f"),
                 ("get", str(bare), "f", "-o", str(tmp_path / "got"))):
        refused = run_dvx(*args, cwd=project)
        assert refused.code == 2, (args, refused.output)
        assert f"The source '{bare}' has no commits yet" in refused.stderr, refused.output
        assert "clone" not in refused.stderr and "HEAD" not in refused.stderr
    alice = make_git_repo(tmp_path / "alice")
    must("init", cwd=alice)
    must("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=alice)
    write(alice / "f", "x\n")
    must("add", "f", cwd=alice)
    git(alice, "remote", "add", "origin", str(bare))
    share(alice, "f")
    must("import", str(bare), "f", cwd=project)
    assert (project / "f").read_text() == "x\n"


def test_a_branch_or_tag_deleted_from_the_source_no_longer_resolves(source, project):
    team, alice = source
    git(alice, "checkout", "-q", "-b", "exp")
    edit(alice, "raw/train.csv", "an,experiment\n")
    must("add", "raw/train.csv", cwd=alice)
    share(alice, "experiment")
    git(alice, "tag", "rc1")
    git(alice, "push", "-q", "origin", "rc1")
    for rev in ("exp", "rc1"):  # the cached clone knows them
        assert run_dvx("get", str(team.origin), "raw/train.csv", "--rev", rev, "-o",
                       f"{rev}.csv", cwd=project).code == 0
    git(team.origin, "branch", "-D", "exp")
    git(team.origin, "tag", "-d", "rc1")
    for rev in ("exp", "rc1"):
        gone = run_dvx("get", str(team.origin), "raw/train.csv", "--rev", rev, "-o",
                       f"{rev}-again.csv", cwd=project)
        assert gone.code != 0 and "Unknown revision" in gone.stderr, gone.output
    assert run_dvx("get", str(team.origin), "raw/train.csv", "--rev", "v1", "-o", "v1.csv",
                   cwd=project).code == 0


def test_a_link_in_the_source_to_its_dvx_data_leads_to_that_data_for_every_source(
        source, project, tmp_path):
    team, alice = source
    os.symlink("raw/train.csv", alice / "link.csv")
    os.symlink("images", alice / "link-images")
    share(alice, "links")
    for n, where in enumerate(([str(alice)], [str(alice), "--rev", "main"], [str(team.origin)])):
        for path, expect in (("link.csv", "a,b\n1,2\n"), ("link-images/1.png", "image 1\n")):
            out = tmp_path / f"{n}-{os.path.basename(path)}"
            got = run_dvx("get", *where, path, "-o", str(out), cwd=project)
            assert got.code == 0 and out.read_text() == expect, (where, path, got.output)
        got = run_dvx("get", *where, "link-images", "-o", str(tmp_path / f"{n}-dir"),
                      cwd=project)
        assert got.code == 0 and sorted(os.listdir(tmp_path / f"{n}-dir")) == [
            "0.png", "1.png", "2.png"], (where, got.output)
        imported = run_dvx("import", *where, "link-images", "-o", f"imp{n}", cwd=project)
        assert imported.code == 0, imported.output
        assert 'path: "images"' in (project / f"imp{n}.dvx").read_text()


def test_a_source_that_renames_its_default_branch_is_still_read(source, project):
    team, _ = source
    for rev in ("v1", "main"):
        assert run_dvx("import", str(team.origin), "raw/train.csv", "-o", f"{rev}.csv",
                       "--rev", rev, cwd=project).code == 0
    git(team.origin, "branch", "-m", "main", "trunk")
    git(team.origin, "symbolic-ref", "HEAD", "refs/heads/trunk")
    assert run_dvx("update", "v1.csv.dvx", cwd=project).code == 0  # the tag is unchanged
    gone = run_dvx("update", "main.csv.dvx", cwd=project)
    assert gone.code != 0 and "Unknown revision 'main'" in gone.stderr, gone.output
    fresh = run_dvx("import", str(team.origin), "raw/train.csv", "-o", "trunk.csv",
                    cwd=project)
    assert fresh.code == 0, fresh.output
    assert (project / "trunk.csv").read_text() == "a,b\n1,2\n"


def test_status_and_update_fetch_each_source_once(source, project, tmp_path):
    team, _ = source
    for name in ("0.png", "1.png", "2.png"):
        assert run_dvx("import", str(team.origin), f"images/{name}", cwd=project).code == 0
    for command in ("status", "update"):
        trace = tmp_path / f"{command}.trace"
        assert run_dvx_proc(command, cwd=project, env={"GIT_TRACE": str(trace)}).code == 0
        assert trace.read_text().count("built-in: git fetch") == 1, command


def test_an_unreachable_source_is_a_warning_not_a_change(source, project, tmp_path):
    team, _ = source
    moved_away = tmp_path / "moved-away"
    assert run_dvx("import", str(team.origin), "raw/train.csv", cwd=project).code == 0
    commit(project, "import")
    team.origin.rename(moved_away)  # the source is gone (offline, say)
    quiet = run_dvx("status", "-q", cwd=project)
    assert quiet.code == 0 and "could not be checked" in quiet.stderr


def test_update_goes_past_an_import_that_fails_and_names_each_outcome(source, project,
                                                                      tmp_path):
    team, alice = source
    other = make_git_repo(tmp_path / "other")
    must("init", cwd=other)
    write(other / "f.txt", "other\n")
    must("add", "f.txt", cwd=other)
    commit(other, "f")
    assert run_dvx("import", str(other), "f.txt", "-o", "a.txt", cwd=project).code == 0
    assert run_dvx("import", str(team.origin), "raw/train.csv", "-o", "b.csv",
                   cwd=project).code == 0
    commit(project, "imports")
    refused = run_dvx("update", "--rev", "v1", cwd=project)  # v1 is a tag of one of them
    assert refused.code == 2 and "one source" in refused.stderr, refused.output
    assert git(project, "status", "--porcelain") == ""
    edit(alice, "raw/train.csv", "a,b\n7,8\n")
    must("add", "raw/train.csv", cwd=alice)
    share(alice, "v2")
    other.rename(tmp_path / "gone")
    result = run_dvx("update", "--json", "-q", cwd=project)
    assert result.code == 1, result.output
    outcomes = {r["path"]: r for r in json.loads(result.stdout)}
    assert outcomes["a.txt"]["failed"] and "not updated" in outcomes["a.txt"]["detail"]
    assert outcomes["b.csv"]["changed"] and not outcomes["b.csv"]["failed"]
    assert (project / "b.csv").read_text() == "a,b\n7,8\n"
    shown = run_dvx("update", cwd=project)
    assert shown.code == 1 and "ERROR: a.txt: not updated: " in shown.stderr, shown.output
    assert "b.csv: up to date" in shown.stdout


class _FailingGet(http.server.SimpleHTTPRequestHandler):
    """Serves a directory whose HEAD answers well and whose GET fails as `failure` says:
    "500" answers 500, "cut" sends half the body its Content-Length announces; "" serves."""

    failure = ""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.failure == "500":
            self.send_error(500)
        elif self.failure == "cut":
            with open(self.translate_path(self.path), "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            super().do_GET()


def test_a_download_that_fails_after_a_good_head_changes_nothing_and_stops_no_other(
        project, tmp_path):
    """A GET answered 500, or a body cut short, is one clear error naming the URL: the
    import keeps its data and pointer, the other imports are still updated, and import-url
    and get-url leave nothing behind."""
    root = tmp_path / "www"
    served = write(root / "a.bin", "version 1 of the served file\n")
    local = write(tmp_path / "ext" / "z.txt", "one\n")

    class Failing(_FailingGet):
        pass

    with serving(Failing, root) as url:
        assert run_dvx("import-url", f"{url}/a.bin", cwd=project).code == 0
        assert run_dvx("import-url", str(local), "z.txt", cwd=project).code == 0
        commit(project, "imports")
        pointer = (project / "a.bin.dvx").read_text()
        write(served, "version 2 of the served file, longer\n")
        os.utime(served, (2_000_000_000, 2_000_000_000))
        write(local, "two\n")
        for failure in ("cut", "500"):
            Failing.failure = failure
            updated = run_dvx("update", cwd=project)
            assert updated.code == 1, updated.output
            assert f"ERROR: a.bin: not updated: Could not download '{url}/a.bin'" in \
                updated.stderr or f"ERROR: a.bin: not updated: The server of '{url}/a.bin' " \
                "answered 500" in updated.stderr, updated.output
            assert "Unexpected internal error" not in updated.output
            assert (project / "a.bin").read_text() == "version 1 of the served file\n"
            assert (project / "a.bin.dvx").read_text() == pointer
            assert (project / "z.txt").read_text() == "two\n"
            for command in (["import-url", f"{url}/a.bin", "b.bin"],
                            ["get-url", f"{url}/a.bin", "c.bin"]):
                failed = run_dvx(*command, cwd=project)
                assert failed.code == 1 and f"'{url}/a.bin'" in failed.stderr, failed.output
                assert "Unexpected internal error" not in failed.output
            assert not {"b.bin", "b.bin.dvx", "c.bin"} & set(os.listdir(project))
            kept = run_dvx("get-url", f"{url}/a.bin", "a.bin", "--force", cwd=project)
            assert kept.code == 1, kept.output
            assert (project / "a.bin").read_text() == "version 1 of the served file\n"
        Failing.failure = ""
        assert run_dvx("update", cwd=project).code == 0
        assert (project / "a.bin").read_text() == "version 2 of the served file, longer\n"


def test_a_source_whose_head_names_a_missing_branch_is_read_at_the_revision_asked(
        source, project, tmp_path):
    team, _ = source
    git(team.origin, "symbolic-ref", "HEAD", "refs/heads/master")  # `git init --bare` on master
    for _ in range(2):  # a new clone, then that clone fetched again
        plain = run_dvx("ls", str(team.origin), cwd=project)
        assert plain.code == 2 and "its HEAD names a branch it does not have" in plain.stderr
        assert "--rev with one of its branches (main)" in plain.stderr, plain.output
        assert "Traceback" not in plain.output
        listed = run_dvx("ls", str(team.origin), "raw", "--rev", "main", cwd=project)
        assert listed.code == 0 and "train.csv" in listed.stdout, listed.output
    got = run_dvx("get", str(team.origin), "raw/train.csv", "--rev", "main", "-o",
                  str(tmp_path / "got.csv"), cwd=project)
    assert got.code == 0 and (tmp_path / "got.csv").read_text() == "a,b\n1,2\n", got.output
    imported = run_dvx("import", str(team.origin), "raw/train.csv", "--rev", "main",
                       cwd=project)
    assert imported.code == 0 and (project / "train.csv").exists(), imported.output
    git(team.origin, "symbolic-ref", "HEAD", "refs/heads/main")  # mended: read as before
    assert run_dvx("ls", str(team.origin), "raw", cwd=project).code == 0
    git(team.origin, "symbolic-ref", "HEAD", "refs/heads/master")  # and broken again
    again = run_dvx("ls", str(team.origin), cwd=project)
    assert again.code == 2 and "HEAD names a branch" in again.stderr, again.output


def test_an_absolute_path_is_refused_and_the_relative_one_named(source, project, tmp_path):
    """Never read from the source's top (`/raw/train.csv` as `raw/train.csv`, `/etc/passwd`
    named 'etc/passwd'): refused as dvx.api refuses it, naming the relative path where it
    leads into a local source."""
    team, alice = source
    inside = str(alice / "raw" / "train.csv")
    for where in (str(alice), str(team.origin)):
        for path in ("/raw/train.csv", "/etc/passwd", inside):
            for args in (["get", where, path, "-o", str(tmp_path / "no")],
                         ["import", where, path], ["ls", where, path]):
                refused = run_dvx(*args, cwd=project)
                assert refused.code == 2, (args, refused.output)
                assert f"'{path}' is an absolute path" in refused.stderr, refused.stderr
                named = path == inside and where == str(alice)
                assert ("Name 'raw/train.csv' instead" in refused.stderr) == named
    assert not (tmp_path / "no").exists() and not (project / "train.csv").exists()
    here = run_dvx("ls", ".", inside, cwd=alice / "raw")  # PATH starts in that folder
    assert here.code == 2 and "Name 'train.csv' instead" in here.stderr, here.output


def test_the_path_an_absolute_path_hints_is_one_the_command_takes(source, project, tmp_path):
    """The hint names PATH from where it starts (the folder URL names, a sibling by `..`),
    never the top to get or import, which they refuse, nor a path inside `.dvx`."""
    _, alice = source
    runs = iter(range(100))

    def command(verb: str, url: str, path: str) -> list[str]:
        out = ["-o", str(tmp_path / f"got-{next(runs)}")] if verb == "get" else []
        return [verb, url, path, *out, *(["-f"] if verb == "import" else [])]

    for url, start in ((str(alice), "its top"),
                       (str(alice / "raw"), "the folder URL names, 'raw'")):
        for inside in (alice, alice / "raw", alice / "raw" / "train.csv", alice / "images",
                       alice / "images" / "1.png", alice / ".dvx" / "config"):
            for verb in ("ls", "du", "get", "import"):
                refused = run_dvx(*command(verb, url, str(inside)), cwd=project)
                assert refused.code == 2, (verb, url, inside, refused.output)
                assert f"relative to {start}." in refused.stderr, refused.stderr
                hint = refused.stderr.partition("Name '")[2].partition("' instead.")[0]
                if inside == alice and verb in ("get", "import"):
                    assert "Name '" not in refused.stderr, refused.stderr
                    assert "list what it holds with `dvx ls URL`" in refused.stderr
                    assert run_dvx("ls", url, cwd=project).code == 0
                elif inside.name == "config":
                    assert "Name '" not in refused.stderr, refused.stderr
                else:
                    taken = run_dvx(*command(verb, url, hint), cwd=project)
                    if verb == "import" and inside == alice / "raw":  # Git's folder, taken
                        assert "'raw' is not tracked by dvx" in taken.stderr, taken.output
                    else:
                        assert taken.code == 0, (verb, url, hint, taken.output)
    with pytest.raises(DvxError, match="is an absolute path") as top:
        dvx.api.read(str(alice), repo=str(alice))
    assert "Pass '" not in str(top.value.hint) and "`dvx ls URL -R`" in str(top.value.hint)


def test_a_path_typed_with_a_leading_dot_slash_is_the_same_path(source, project, tmp_path):
    team, alice = source
    for where in (str(alice), str(team.origin)):
        listed = run_dvx("ls", where, "./raw", cwd=project)
        assert listed.code == 0 and "train.csv" in listed.stdout, listed.output
        top = run_dvx("ls", where, ".", cwd=project)
        assert top.code == 0 and "README.md" in top.stdout, top.output
        out = tmp_path / f"got-{len(where)}.csv"
        got = run_dvx("get", where, "./raw/train.csv", "-o", str(out), cwd=project)
        assert got.code == 0 and out.read_text() == "a,b\n1,2\n", got.output
        for bad, words in (("./../raw/train.csv", "Invalid path '../raw/train.csv'"),
                           (".", "is the top of the repository")):
            refused = run_dvx("get", where, bad, "-o", str(tmp_path / "no"), cwd=project)
            assert refused.code == 2 and words in refused.stderr, refused.output
    imported = run_dvx("import", str(team.origin), "./raw/train.csv", cwd=project)
    assert imported.code == 0, imported.output
    assert 'path: "raw/train.csv"' in (project / "train.csv.dvx").read_text()


def test_without_a_remote_pull_and_status_name_update_for_the_imports_the_cache_lacks(
        source, project, tmp_path):
    """A clone of a project that has no dvx remote, whose only data is an import: pull and
    fetch say `dvx update` brings it from its source, not that a remote is missing; status
    offers that update, never a `dvx pull` that cannot fetch it."""
    team, _ = source
    must("import", str(team.origin), "images", "-o", "data/images", cwd=project)
    commit(project, "import images")
    git(tmp_path, "clone", "-q", str(project), "mate")
    mate = tmp_path / "mate"
    for verb in ("pull", "fetch"):
        refused = run_dvx(verb, cwd=mate)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1, refused.output
        assert "the data the cache lacks is that of imports, which come from their sources, " \
            "not a remote." in said, said
        assert "data/images.dvx is an import: `dvx update data/images.dvx` fetches from its " \
            "source" in said, said
    status = run_dvx("status", cwd=mate)
    assert "dvx pull` fetches" not in status.stdout, status.stdout
    assert "(`dvx update data/images.dvx` fetches the data of an import from its source" \
        in status.stdout, status.stdout
    assert run_dvx("update", "data/images.dvx", cwd=mate).code == 0
    assert sorted(os.listdir(mate / "data" / "images")) == ["0.png", "1.png", "2.png"]
    write(mate / "own.txt", "own\n")
    must("add", "own.txt", cwd=mate)
    (mate / "own.txt").unlink()
    git(mate, "add", "-A")
    git(mate, "commit", "-qm", "own")
    shutil.rmtree(mate / ".dvx" / "cache")
    status = run_dvx("status", cwd=mate)  # data other than an import: pull, once a remote is set
    assert "(`dvx pull` fetches what is not in the cache once a default remote is set: " \
        "`dvx remote add -d NAME URL`)" in " ".join(status.stdout.split()), status.stdout


def test_status_never_offers_update_for_an_import_whose_source_check_it_warned_failed(
        repo, tmp_path):
    """A committed pointer importing from the repository itself at HEAD (no rev), its data
    in no cache: status warns that its source could not be checked, and offers no `dvx
    update` for it, which refuses it the same way."""
    must("remote", "add", "-d", "s", str(tmp_path / "store"), cwd=repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    head = git(repo, "rev-parse", "HEAD").strip()
    write(repo / "self.txt.dvx", "dvx: 1\ntype: file\nalgo: xxh128\n"
          "oid: 0123456789abcdef0123456789abcdef\nsize: 6\nsource:\n  path: \"self.txt\"\n"
          f"  repo: \".\"\n  rev_lock: \"{head}\"\n")
    commit(repo, "self import")
    status = run_dvx("status", cwd=repo)
    assert "self.txt: its source could not be checked" in status.stderr, status.output
    assert "dvx update" not in status.stdout, status.stdout
    assert run_dvx("update", "self.txt.dvx", cwd=repo).code == 1


def test_rerunning_an_update_killed_after_it_rewrote_a_pointer_still_names_it_for_git(
        source, project):
    """An update killed while it checks out, after it rewrote the pointer: the rerun that
    finishes it finds the import current, but Git's index still holds the former pointer,
    so the rerun names it for `git add` (and --json says its pointer changed), as the killed
    update would have."""
    team, alice = source
    must("import", str(team.origin), "images", "--rev", "v1", cwd=project)
    must("import", str(team.origin), "raw/train.csv", "--rev", "v1", cwd=project)
    commit(project, "imports")
    for i in range(3):
        edit(alice, f"images/{i}.png", f"image {i}, v2\n")
    edit(alice, "raw/train.csv", "a,b\n3,4\n")
    must("add", "images", "raw/train.csv", cwd=alice)
    share(alice, "v2")
    update = ("update", "--rev", "main", "images.dvx", "train.csv.dvx")

    def killed_then_rerun(*options: str) -> str:
        killed = run_dvx_proc(*update, cwd=project, env={"DVX_FAULT": "checkout.after_file:1"})
        assert killed.code == -9, killed.output
        again = run_dvx(*update, *options, cwd=project)
        assert again.code == 0, again.output
        return again.stdout

    said = killed_then_rerun()
    assert "git add images.dvx train.csv.dvx" in said, said
    git(project, "checkout", "-q", "HEAD", "--", "images.dvx", "train.csv.dvx")
    must("checkout", "-q", "--force", cwd=project)
    listed = json.loads(killed_then_rerun("--json"))
    assert {r["path"]: r["pointer_changed"] for r in listed} == {
        "images": True, "train.csv": True}
    git(project, "add", "images.dvx", "train.csv.dvx")
    commit(project, "updated")
    done = json.loads(run_dvx(*update, "--json", cwd=project).stdout)
    assert [r["pointer_changed"] for r in done] == [False, False]
    assert git(project, "status", "--porcelain") == ""


def _get_folders(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir() if p.name.startswith(".dvx-get-"))


def test_a_get_killed_midway_leaves_a_folder_git_ignores_and_the_next_get_removes(source,
                                                                                  project):
    """`dvx get` killed while it copies leaves its partial copy in a `.dvx-get-*` folder
    beside the path it writes: Git ignores it (so `git add -A` never commits it), `dvx
    status` names it, and the next get into that folder removes it; one a running get
    holds is left alone."""
    team, _ = source
    commit(project, "dvx init")
    get = ("get", str(team.origin), "images", "-o", "got")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.after_file:1"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project)
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
    said = run_dvx_proc("status", cwd=project)
    assert f"'{left}' is the partial copy of an interrupted `dvx get`" in said.stderr, said.output
    listed = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)
    assert listed["interrupted_gets"] == [{"path": left, "holds_former": False}]

    running = stopped_at("get.after_file", f"get {team.origin} raw/train.csv -o t.csv", project)
    try:
        [held] = [n for n in _get_folders(project) if n != left]
        again = run_dvx(*get, cwd=project)
        assert again.code == 0, again.output
        assert _get_folders(project) == [held]
    finally:
        running.send_signal(signal.SIGCONT)
        running.communicate(timeout=60)
    assert running.returncode == 0
    assert _get_folders(project) == []
    assert sorted(os.listdir(project / "got")) == ["0.png", "1.png", "2.png"]


def test_a_rerun_get_force_names_the_former_output_as_things_stand_once_its_copy_is_written(
        source, project):
    """The rerun of a `dvx get --force` killed between its renames names the former output it
    finds in the left folder once its own copy is in place: never with the `mv` back to the
    path, which now holds the new copy (an `mv` into that folder would mix the two)."""
    team, _ = source
    commit(project, "dvx init")
    write(project / "got", "my own\n")
    get = ("get", str(team.origin), "images", "-o", "got", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project)
    again = run_dvx_proc(*get, cwd=project)
    said = " ".join(again.stderr.split())
    assert again.code == 0, again.output
    assert sorted(os.listdir(project / "got")) == ["0.png", "1.png", "2.png"]
    assert f"`mv -- {left}/old got`" not in said, said
    assert (f"'{left}' holds, in '{left}/old', what was at 'got' before an interrupted `dvx "
            f"get --force` replaced it; dvx never deletes it. To keep it, move '{left}/old' "
            "where you want it") in said, said


def test_status_names_a_killed_get_s_folder_in_a_project_below_git_never_entering_ignored_ones(
        source, tmp_path):
    """The folder a killed `dvx get` left is named by `dvx status` in a project that is a
    folder of a Git repository (`core.no_scm`), where Git does not ignore it; status never
    walks a folder Git ignores holding no tracked data (a virtualenv, downloads), so one left
    there is found by the next get into that folder, not by status."""
    team, _ = source
    top = make_git_repo(tmp_path / "top")
    write(top / ".gitignore", "/project/scratch/\n")
    project = top / "project"
    project.mkdir()
    must("init", "--no-scm", cwd=project)
    ignored = project / "scratch" / "deep"
    ignored.mkdir(parents=True)
    for where in (project, ignored):
        out = os.path.relpath(where / "got", project)
        killed = run_dvx_proc("get", str(team.origin), "images", "-o", out, cwd=project,
                              env={"DVX_FAULT": "get.after_file:1"})
        assert killed.code == -9, killed.output
    [named] = _get_folders(project)
    [unseen] = _get_folders(ignored)
    said = run_dvx_proc("status", cwd=project)
    assert f"'{named}' is the partial copy of an interrupted `dvx get`" in said.stderr, \
        said.output
    assert unseen not in said.stderr, said.output
    listed = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)
    assert [g["path"] for g in listed["interrupted_gets"]] == [named], listed
    must("get", str(team.origin), "images", "-o", "scratch/deep/got", cwd=project)
    assert _get_folders(ignored) == []


def test_a_get_force_killed_between_its_renames_keeps_the_former_output_and_names_it(
        source, project):
    """`dvx get --force` killed after it moved what was at the path aside, before it put the
    copy there: that former output stays in the get's folder, never deleted by a later get
    or status, which name where it is and the `mv` that puts it back."""
    team, _ = source
    commit(project, "dvx init")
    write(project / "got", "my own\n")
    get = ("get", str(team.origin), "images", "-o", "got", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    assert not (project / "got").exists()
    [left] = _get_folders(project)
    said = " ".join(run_dvx_proc("status", cwd=project).stderr.split())
    assert (f"'{left}' holds, in '{left}/old', what was at 'got' before an interrupted `dvx "
            f"get --force` replaced it; dvx never deletes it. To keep it, `mv -- {left}/old got`"
            ) in said, said
    again = run_dvx_proc(*get, cwd=project)
    assert again.code == 0 and f"'{left}/old'" in again.stderr, again.output
    assert (project / left / "old").read_text() == "my own\n"
    assert sorted(os.listdir(project / "got")) == ["0.png", "1.png", "2.png"]
    assert git(project, "status", "--porcelain", "--untracked-files=all") == "?? got/0.png\n" \
        "?? got/1.png\n?? got/2.png\n"


def test_a_get_killed_inside_a_tracked_directory_leaves_a_folder_that_is_never_data(source,
                                                                                  project):
    """The folder of a get killed inside a tracked directory (its partial copy, what was at
    the path, its `held` file) is dvx's, never data: status lists none of it as added, and
    `dvx commit` records none of it."""
    team, _ = source
    write(project / "data" / "a", "aa\n")
    write(project / "data" / "sub" / "dl", "my old download\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    get = ("get", str(team.origin), "images", "-o", "data/sub/dl", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data" / "sub")
    listed = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)
    [data] = listed["outputs"]
    assert ".dvx-get-" not in json.dumps(data), data
    assert listed["interrupted_gets"] == [{"path": f"data/sub/{left}", "holds_former": True}]
    write(project / "data" / "sub" / "dl", "written since\n")  # no deletion to refuse
    must("commit", "data", cwd=project)
    recorded = json.loads(run_dvx_proc("ls", ".", "data", "-R", "--json", cwd=project).stdout)
    assert ".dvx-get-" not in json.dumps(recorded), recorded
    assert (project / "data" / "sub" / left / "old").read_text() == "my old download\n"


def _recorded_as_an_earlier_dvx_did(clone: Path, stores: list[Path], files: dict[str, bytes]
                                    ) -> None:
    """Commit `data` as `files`, its manifest and objects written straight into `stores`
    (caches or directory remotes), as a dvx without today's checks recorded it."""
    def stored(content: bytes) -> str:
        oid = xxhash.xxh3_128_hexdigest(content)
        for store in stores:
            write(store / "files" / "xxh128" / oid[:2] / oid[2:], content)
        return oid

    rows = sorted([path, stored(content), len(content), False] for path, content in files.items())
    oid = stored(b'{"algo":"xxh128","format":"dvx-tree","version":1}\n' + b"".join(
        json.dumps(row, separators=(",", ":")).encode() + b"\n" for row in rows))
    write(clone / "data.dvx", "dvx: 1\ntype: dir\nalgo: xxh128\n"
          f"oid: {oid}\nsize: {sum(map(len, files.values()))}\nnfiles: {len(files)}\n")
    commit(clone, "recorded by an earlier dvx")
    git(clone, "push", "-q", "origin", "HEAD")


def test_a_killed_get_s_folder_an_earlier_dvx_recorded_in_a_directory_is_left_out_on_reading(
        tmp_path):
    """A directory an earlier dvx recorded with a killed get's partial copy inside (its
    `.dvx-get-*` folder) can still be pulled, checked out, listed and diffed: the folder's
    files are left out (never placed, nor counted as missing), with one warning naming each
    folder as a killed get's partial copy an earlier version recorded; pull still fetches
    their objects, which the manifest names."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a", "aa\n")
    write(alice / "data" / "sub" / "b", "bb\n")
    must("add", "data", cwd=alice)
    share(alice, "data")
    left = "sub/.dvx-get-abcd1234"
    _recorded_as_an_earlier_dvx_did(alice, [alice / ".dvx" / "cache", team.store], {
        "a": b"aa, changed\n", "sub/b": b"bb\n", f"{left}/held": b"dl",
        f"{left}/new/0.png": b"image 0\n", ".dvx-get-wxyz5678/held": b""})
    bob = team.clone("bob", pull=False)
    pulled = run_dvx("pull", cwd=bob)
    said = " ".join(pulled.stderr.split())
    assert pulled.code == 0, pulled.output
    assert said.count(f"'{left}'") == 1, said
    assert f"lists 3 files in its folders '.dvx-get-wxyz5678', '{left}': the partial copies " \
           "(`held` and `new`) of `dvx get`s killed there, which an earlier dvx version " \
           "recorded" in said, said
    assert all(_stored_in(bob / ".dvx" / "cache", content) for content in (b"dl", b"image 0\n"))
    assert (bob / "data" / "a").read_text() == "aa, changed\n"
    assert sorted(os.listdir(bob / "data" / "sub")) == ["b"]
    shutil.rmtree(bob / "data")
    must("checkout", "data", cwd=bob)
    assert sorted(os.listdir(bob / "data" / "sub")) == ["b"]
    status = run_dvx("status", "--json", cwd=bob)
    assert status.code == 0, status.output
    [data] = json.loads(status.stdout)["outputs"]
    assert data["workspace"] == "unchanged" and ".dvx-get-" not in json.dumps(data), data
    listed = run_dvx("ls", ".", "data", "-R", "--json", cwd=bob)
    assert listed.code == 0, listed.output
    assert [e["path"] for e in json.loads(listed.stdout) if e["type"] == "file"] == [
        "data/a", "data/sub/b"], listed.stdout
    diff = run_dvx("diff", "HEAD~1", "--json", cwd=bob)
    assert diff.code == 0, diff.output
    assert ".dvx-get-" not in diff.stdout and "data/a" in diff.stdout, diff.stdout


def test_commit_of_a_directory_an_earlier_dvx_recorded_with_a_killed_get_s_folder_drops_it(
        tmp_path):
    """`dvx commit` of a directory an earlier dvx recorded with a killed get's partial copy
    inside, unchanged here, records it again without that folder: the warning naming it says
    so, and stops once the new pointer is written."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a", "aa\n")
    must("add", "data", cwd=alice)
    share(alice, "data")
    left = ".dvx-get-abcd1234"
    _recorded_as_an_earlier_dvx_did(alice, [alice / ".dvx" / "cache", team.store], {
        "a": b"aa\n", f"{left}/held": b"dl", f"{left}/new/0.png": b"image 0\n"})
    bob = team.clone("bob")
    said = " ".join(run_dvx("status", cwd=bob).stderr.split())
    assert f"lists 2 files in its folder '{left}': the partial copy (`held` and `new`) of a " \
           "`dvx get` killed there" in said, said
    assert "Where that version is checked out, `dvx commit` naming the directory records it " \
        "again without them." in said, said
    committed = run_dvx("commit", "data", cwd=bob)
    assert committed.code == 0, committed.output
    pointer = (bob / "data.dvx").read_text()
    assert "nfiles: 1\n" in pointer and "size: 3\n" in pointer, pointer
    status = run_dvx("status", cwd=bob)
    assert status.code == 0 and left not in status.output, status.output
    assert sorted(os.listdir(bob / "data")) == ["a"]


def _stored_in(store: Path, content: bytes) -> bool:
    """Does the cache or directory remote `store` hold `content` (loose, or in a pack)?"""
    from dvx.remote.fs import open_store
    oid = xxhash.xxh3_128_hexdigest(content)
    if (store / "files" / "xxh128" / oid[:2] / oid[2:]).exists():
        return True
    return store.name != "cache" and open_store(str(store), {}, str(store.parent), "xxh128",
                                                "r").exists(oid)


def test_gc_of_a_remote_keeps_every_file_a_manifest_an_earlier_dvx_recorded_lists(tmp_path):
    """gc -A -c keeps every object a committed manifest lists: the partial copy of a killed
    get left out on reading, and what a killed `get --force` moved aside (`old`) or a folder
    of the user's so named, for which the manifest is refused (nothing is deleted)."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a", "aa\n")
    must("add", "data", cwd=alice)
    share(alice, "data")
    left = ".dvx-get-abcd1234"
    _recorded_as_an_earlier_dvx_did(alice, [alice / ".dvx" / "cache", team.store], {
        "a": b"aa\n", f"{left}/held": b"dl", f"{left}/new/dl": b"partial\n"})
    bob = team.clone("bob", pull=False)
    collected = run_dvx("gc", "-A", "-c", "-f", "--grace", "0", cwd=bob)
    assert collected.code == 0, collected.output
    assert _stored_in(team.store, b"dl") and _stored_in(team.store, b"partial\n")
    _recorded_as_an_earlier_dvx_did(alice, [alice / ".dvx" / "cache", team.store], {
        "a": b"aa\n", f"{left}/held": b"dl", f"{left}/old/dl": b"my only copy\n",
        "photos/.dvx-get-zzzz9999/cat.jpg": b"cat\n"})
    git(bob, "pull", "-q", "origin", "main")
    collected = run_dvx("gc", "-A", "-c", "-f", "--grace", "0", cwd=bob)
    assert collected.code != 0, collected.output
    for content in (b"dl", b"partial\n", b"my only copy\n", b"cat\n"):
        assert _stored_in(team.store, content), content


def test_push_sends_and_gc_of_the_cache_keeps_the_files_left_out_of_an_earlier_manifest(
        tmp_path):
    """push uploads every object a manifest an earlier dvx recorded lists, those of a killed
    get's partial copy left out on reading too, and gc -w keeps them in the cache: nothing a
    committed manifest lists is left unpushed or deleted. One listing what a killed
    `get --force` moved aside is refused whole by both, which keep its objects."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a", "aa\n")
    must("add", "data", cwd=alice)
    share(alice, "data")
    left = ".dvx-get-abcd1234"
    _recorded_as_an_earlier_dvx_did(alice, [alice / ".dvx" / "cache"], {
        "a": b"aa\n", f"{left}/held": b"dl", f"{left}/new/dl": b"partial\n"})
    pushed = run_dvx("push", cwd=alice)
    assert pushed.code == 0, pushed.output
    assert _stored_in(team.store, b"dl") and _stored_in(team.store, b"partial\n")
    collected = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=alice)
    assert collected.code == 0, collected.output
    cache = alice / ".dvx" / "cache"
    assert _stored_in(cache, b"dl") and _stored_in(cache, b"partial\n")
    _recorded_as_an_earlier_dvx_did(alice, [cache], {
        "a": b"aa\n", f"{left}/held": b"dl", f"{left}/old/dl": b"my only copy\n"})
    pushed = run_dvx("push", cwd=alice)
    assert pushed.code != 0 and f"{left}/old/dl" in " ".join(pushed.stderr.split()), \
        pushed.output
    collected = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=alice)
    assert collected.code != 0, collected.output
    assert _stored_in(cache, b"my only copy\n")


def test_status_says_a_killed_get_s_partial_copy_inside_tracked_data_stays_until_deleted(
        source, project):
    """Status names the partial copy a get killed inside a tracked directory left as staying
    until the user deletes it, which is what happens: no get removes a folder there (its
    files could be the data's). Beside a path outside tracked data, the next get removes one."""
    team, _ = source
    write(project / "data" / "a", "aa\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    for out in ("data/got", "got"):
        killed = run_dvx_proc("get", str(team.origin), "images", "-o", out, cwd=project,
                              env={"DVX_FAULT": "get.after_file:1"})
        assert killed.code == -9, killed.output
    [inside] = _get_folders(project / "data")
    [beside] = _get_folders(project)
    said = " ".join(run_dvx_proc("status", cwd=project).stderr.split())
    assert (f"'data/{inside}' is the partial copy of an interrupted `dvx get`, never data: "
            "inside tracked data no get removes it (its files could be the data's), so it "
            "stays until you delete it.") in said, said
    assert (f"'{beside}' is the partial copy of an interrupted `dvx get`, never data: the "
            "next `dvx get` or `dvx import` into its folder removes it, or delete it.") in said, \
        said
    must("get", str(team.origin), "raw/train.csv", "-o", "data/t.csv", cwd=project)
    must("get", str(team.origin), "raw/train.csv", "-o", "t.csv", cwd=project)
    assert _get_folders(project / "data") == [inside]
    assert _get_folders(project) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_get_force_stopped_between_its_renames_puts_the_former_output_back(source, project,
                                                                             signum):
    """Ctrl-C or SIGTERM after `dvx get --force` moved what was at the path aside, before it
    put the copy there: what was there goes back to the path, and no folder is left."""
    team, _ = source
    commit(project, "dvx init")
    write(project / "got", "my own\n")
    running = stopped_at("get.between_renames",
                         f"get {team.origin} images -o got --force", project)
    assert not (project / "got").exists()
    running.send_signal(signum)
    running.send_signal(signal.SIGCONT)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert (project / "got").read_text() == "my own\n"
    assert _get_folders(project) == []


def test_a_get_force_stopped_between_its_renames_keeps_the_former_output_if_the_path_is_taken(
        source, project):
    """Stopped between its renames while something new took the path meanwhile: what was there
    stays in the get's folder (neither is deleted), and the warning names it."""
    team, _ = source
    commit(project, "dvx init")
    write(project / "got", "my own\n")
    running = stopped_at("get.between_renames",
                         f"get {team.origin} images -o got --force", project)
    [left] = _get_folders(project)
    write(project / "got", "written meanwhile\n")
    running.send_signal(signal.SIGINT)
    running.send_signal(signal.SIGCONT)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    said = " ".join(err.split())
    assert f"'{left}' holds, in '{left}/old', what was at 'got' before an interrupted" in said, err
    assert (project / left / "old").read_text() == "my own\n"
    assert (project / "got").read_text() == "written meanwhile\n"


def test_checkout_force_or_remove_outs_of_a_tracked_directory_keeps_a_killed_get_s_folder(
        source, project):
    """What a `dvx get --force` killed inside a tracked directory moved aside stays in its
    folder through `dvx checkout --force` of that directory and `dvx remove --outs` of it,
    which status names and dvx never deletes; a folder merely named like one (not as a get
    names it) is data as any other."""
    team, _ = source
    write(project / "data" / "a", "aa\n")
    write(project / "data" / "sub" / "dl", "my old download\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    get = ("get", str(team.origin), "images", "-o", "data/sub/dl", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data" / "sub")
    write(project / "data" / ".dvx-get-yy" / "old", "mine\n")
    write(project / "data" / ".dvx-get-yy" / "held", "x")
    said = run_dvx_proc("status", cwd=project)
    assert "'data/.dvx-get-yy'" not in said.stderr, said.output
    assert "added: .dvx-get-yy/old" in said.stdout, said.output
    must("checkout", "--force", "data", cwd=project)
    assert (project / "data" / "sub" / left / "old").read_text() == "my old download\n"
    assert not (project / "data" / ".dvx-get-yy").exists()
    must("remove", "--outs", "data.dvx", cwd=project)
    assert (project / "data" / "sub" / left / "old").read_text() == "my old download\n"
    assert not (project / "data" / "a").exists()


def _a_file_output_over_what_a_killed_get_left(source, project) -> str:
    """`data`, a tracked directory holding `sub/dl`, became a file output (a later commit),
    and with the directory's pointer checked out a `dvx get --force` over `data/sub/dl` was
    killed between its renames; then the file's pointer came back. The get's folder name."""
    team, _ = source
    write(project / "data" / "a", "aa\n")
    write(project / "data" / "sub" / "dl", "my old download\n")
    must("add", "data", cwd=project)
    commit(project, "data, a directory")
    shutil.rmtree(project / "data")
    write(project / "data", "a file now\n")
    must("add", "data", cwd=project)
    commit(project, "data, a file")
    git(project, "checkout", "-q", "HEAD~1", "--", "data.dvx")
    must("checkout", "--force", "data", cwd=project)
    get = ("get", str(team.origin), "images", "-o", "data/sub/dl", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data" / "sub")
    git(project, "checkout", "-q", "HEAD", "--", "data.dvx")
    return left


@pytest.mark.parametrize("force", [False, True])
def test_checkout_of_a_file_where_a_folder_holds_what_a_killed_get_force_moved_aside_keeps_it(
        source, project, force):
    """A tracked directory's path is now a file output (Git brought its pointer), and the
    folder there holds what a killed `dvx get --force` moved aside: `dvx checkout`, --force
    or not, leaves the folder as it is, naming what the get left and how to keep it, rather
    than deleting it to place the file; once that is moved out, the file is placed."""
    left = _a_file_output_over_what_a_killed_get_left(source, project)
    refused = run_dvx("checkout", *(["--force"] if force else []), "data", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code != 0, refused.output
    assert (project / "data" / "sub" / left / "old").read_text() == "my old download\n"
    assert (f"'data' holds 'data/sub/{left}', in whose 'old' an interrupted `dvx get --force` "
            "left what was at 'data/sub/dl'") in said, said
    assert "dvx never deletes it" in said and "`dvx checkout data`" in said, said
    os.rename(project / "data" / "sub" / left / "old", project / "kept")
    must("checkout", "--force", "data", cwd=project)
    assert (project / "data").read_text() == "a file now\n"
    assert (project / "kept").read_text() == "my old download\n"


@pytest.mark.parametrize("force", [False, True])
def test_checkout_of_a_file_where_a_tracked_directory_s_folder_holds_a_killed_get_s_folder(
        source, project, force):
    """Inside a tracked directory, a path is a folder in one version and a file in the next,
    and a killed `dvx get --force` into that folder left its folder there: `dvx checkout`,
    --force or not, keeps the folder while the get's holds what it moved aside, naming it
    and how to keep it; once that is moved out, the get's partial copy holds nothing of the
    user's and goes with the folder, and the file is placed."""
    team, _ = source
    write(project / "data" / "x" / "y", "my old download\n")
    write(project / "data" / "a", "aa\n")
    must("add", "data", cwd=project)
    commit(project, "x, a folder")
    shutil.rmtree(project / "data" / "x")
    write(project / "data" / "x", "a file now\n")
    must("add", "data", cwd=project)
    commit(project, "x, a file")
    git(project, "checkout", "-q", "HEAD~1", "--", "data.dvx")
    must("checkout", "data", cwd=project)
    get = ("get", str(team.origin), "images", "-o", "data/x/y", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data" / "x")
    git(project, "checkout", "-q", "HEAD", "--", "data.dvx")
    forced = ["--force"] if force else []
    refused = run_dvx("checkout", *forced, cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code != 0, refused.output
    assert "Is a directory" not in said, said
    assert (f"'data/x' holds 'data/x/{left}', in whose 'old' an interrupted `dvx get "
            "--force` left what was at 'data/x/y'") in said, said
    assert (project / "data" / "x" / left / "old").read_text() == "my old download\n"
    os.rename(project / "data" / "x" / left / "old", project / "kept")
    placed = run_dvx("checkout", *forced, cwd=project)
    assert placed.code == 0, placed.output
    assert (project / "data" / "x").read_text() == "a file now\n"
    assert (project / "kept").read_text() == "my old download\n"


@pytest.mark.parametrize("command", ["import", "import-url"])
def test_an_import_into_a_tracked_directory_is_refused_as_add_refuses_it(source, project,
                                                                         command):
    """`dvx import` or `import-url` to a path inside a directory dvx tracks is refused with
    add's reason and way out (`dvx commit` of that directory), never with a hint to have Git
    see a pointer there, which would take the directory's data back into Git."""
    team, alice = source
    write(project / "data" / "a", "aa\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    what = ([str(team.origin), "raw/train.csv", "-o"] if command == "import"
            else [str(alice / "raw" / "train.csv")])
    refused = run_dvx(command, *what, "data/t.csv", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code != 0, refused.output
    assert "'data/t.csv' is inside 'data', which dvx already tracks." in said, said
    assert "`dvx commit data`" in said, said
    assert "ignored by Git" not in said and "!" not in said, said
    assert sorted(os.listdir(project / "data")) == ["a"]


def _scratch_like(folder: Path, note: str) -> Path:
    """A folder laid out as a killed get leaves one (a partial copy, `held` naming a path)."""
    left = folder / ".dvx-get-abcd1234"
    write(left / "new" / "notes.txt", note)
    write(left / "held", "got")
    return left


def test_a_get_never_removes_a_folder_named_as_its_own_that_git_tracks(source, project):
    """A folder named as a get's scratch folder that Git's index holds files in (committed
    with `git add -f`) is the repository's: a get or import writing beside it leaves it, and
    the user's uncommitted edit in it, as they are."""
    team, _ = source
    left = _scratch_like(project / "out", "committed\n")
    git(project, "add", "-f", "out")
    commit(project, "a folder so named")
    write(left / "new" / "notes.txt", "committed\nmy uncommitted edit\n")
    must("get", str(team.origin), "raw/train.csv", "-o", "out/t.csv", cwd=project)
    must("import", str(team.origin), "raw/train.csv", "-o", "out/i.csv", cwd=project)
    assert (left / "new" / "notes.txt").read_text() == "committed\nmy uncommitted edit\n"


def test_a_get_never_removes_a_folder_named_as_its_own_inside_tracked_data(source, project):
    """A folder laid out as a killed get's inside data dvx tracks (an older dvx let such a
    folder be recorded, and pull placed it) is left by a get writing beside it: its files may
    be the data's."""
    team, _ = source
    write(project / "data" / "a", "aa\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    left = _scratch_like(project / "data", "a teammate's\n")
    must("get", str(team.origin), "raw/train.csv", "-o", "data/t.csv", cwd=project)
    assert (left / "new" / "notes.txt").read_text() == "a teammate's\n"


def test_commit_or_add_never_records_as_deleted_what_a_killed_get_force_moved_aside(
        source, project):
    """A path of a tracked directory that a killed `dvx get --force` moved aside into its
    folder's `old` is not deleted: `dvx commit` and `dvx add` of the directory (--force or
    not) refuse to record its deletion, naming the `mv` that puts it back, and record the
    directory once it is back."""
    team, _ = source
    write(project / "data" / "a", "aa\n")
    write(project / "data" / "sub" / "dl", "my old download\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    get = ("get", str(team.origin), "images", "-o", "data/sub/dl", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data" / "sub")
    for command in (("commit", "data"), ("commit", "--force", "data"), ("add", "data")):
        refused = run_dvx(*command, cwd=project)
        said = " ".join(refused.stderr.split())
        assert refused.code != 0, refused.output
        assert "'data/sub/dl' is not deleted" in said, said
        assert f"`mv -- data/sub/{left}/old data/sub/dl`" in said, said
    assert git(project, "status", "--porcelain") == ""
    os.rename(project / "data" / "sub" / left / "old", project / "data" / "sub" / "dl")
    must("commit", "data", cwd=project)
    assert git(project, "status", "--porcelain") == ""


def test_status_and_diff_say_what_a_killed_get_force_moved_aside_is_moved_aside_not_deleted(
        source, project):
    """A path of a tracked directory that a killed `dvx get --force` moved aside into its
    folder's `old` is no deletion: status and diff list it as moved aside by an interrupted
    get (apart from the directory's deletions), status's hint is the `mv` that puts it back,
    never a `dvx commit`, which refuses it."""
    team, _ = source
    write(project / "data" / "one.txt", "mine1\n")
    write(project / "data" / "gone.txt", "gone\n")
    write(project / "data" / "sub" / "s.txt", "s\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    (project / "data" / "gone.txt").unlink()
    get = ("get", str(team.origin), "raw/train.csv", "-o", "data/one.txt", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data")
    said = run_dvx_proc("status", cwd=project)
    assert "    moved aside by an interrupted `dvx get --force`: one.txt" in said.stdout, \
        said.output
    assert "    deleted: gone.txt" in said.stdout and "deleted: one.txt" not in said.stdout, \
        said.output
    assert "dvx commit" not in said.stdout, said.output
    assert f"`mv -- data/{left}/old data/one.txt`" in " ".join(said.stderr.split()), said.output
    [data] = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)["outputs"]
    assert (data["deleted"], data["moved_aside"]) == (["gone.txt"], ["one.txt"]), data
    diff = run_dvx("diff", cwd=project)
    assert diff.code == 0, diff.output
    assert "Moved aside by an interrupted `dvx get --force`:\n    data/one.txt" in diff.stdout, \
        diff.output
    assert "Deleted:\n    data/gone.txt  (5 B)\n" in diff.stdout, diff.output
    listed = json.loads(run_dvx("diff", "--json", cwd=project).stdout)
    assert [row["path"] for row in listed["deleted"]] == ["data/gone.txt"], listed
    assert [row["path"] for row in listed["moved_aside"]] == ["data/one.txt"], listed
    refused = run_dvx("commit", "data", cwd=project)
    assert refused.code != 0 and "'data/one.txt' is not deleted" in refused.stderr, \
        refused.output


def test_status_says_a_tracked_file_a_killed_get_force_moved_aside_is_moved_aside_not_deleted(
        source, project):
    """A tracked file (no directory) that a killed `dvx get --force` moved aside into its
    folder's `old` is shown as a file of a directory is: moved aside by an interrupted get,
    never deleted, with the `mv` that puts it back."""
    team, _ = source
    write(project / "data" / "one.txt", "mine1\n")
    must("add", "data/one.txt", cwd=project)
    commit(project, "one.txt")
    get = ("get", str(team.origin), "raw/train.csv", "-o", "data/one.txt", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data")
    said = run_dvx_proc("status", cwd=project)
    assert "data/one.txt: moved aside by an interrupted `dvx get --force`\n" in said.stdout, \
        said.output
    assert "deleted" not in said.stdout, said.output
    assert f"`mv -- data/{left}/old data/one.txt`" in " ".join(said.stderr.split()), said.output
    [one] = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)["outputs"]
    assert one["moved_aside"] == [""], one  # a list, as of a directory: the file itself
    assert one["moved_aside_whole"] is True, one
    os.rename(project / "data" / left / "old", project / "data" / "one.txt")
    assert "up to date" in run_dvx_proc("status", cwd=project).stdout


def test_status_of_a_file_where_a_folder_holds_what_a_killed_get_force_moved_aside_names_it(
        source, project):
    """A tracked directory's path is now a file output, and the folder there (which Git
    ignores) holds what a killed `dvx get --force` moved aside: status names that get's folder
    with the `mv` that puts it back, and says checkout leaves the folder as it is, never
    offering a `checkout --force` that would be refused."""
    left = _a_file_output_over_what_a_killed_get_left(source, project)
    said = run_dvx_proc("status", cwd=project)
    shown, warned = " ".join(said.stdout.split()), " ".join(said.stderr.split())
    assert f"`mv -- data/sub/{left}/old data/sub/dl`" in warned, said.output
    assert (f"'data' holds 'data/sub/{left}', in whose 'old' an interrupted `dvx get --force` "
            "left what was at 'data/sub/dl'") in shown, said.output
    assert "checkout leaves 'data' as it is, --force or not" in shown, said.output
    assert "--force PATH" not in shown and "checkout --force" not in shown, said.output
    [data] = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)["outputs"]
    assert data["get_folder_inside"] == f"data/sub/{left}", data


def test_status_of_a_directory_s_file_where_a_folder_holds_a_killed_get_s_folder_names_it(
        source, project):
    """Inside a tracked directory, a path is a folder in one version and a file in the next,
    and a killed `dvx get --force` into that folder left its folder there with what it moved
    aside: status names the `mv` that puts it back and says checkout leaves the folder, never
    offering a checkout that would skip it."""
    team, _ = source
    write(project / "data" / "x" / "y", "my old download\n")
    write(project / "data" / "a", "aa\n")
    must("add", "data", cwd=project)
    commit(project, "x, a folder")
    shutil.rmtree(project / "data" / "x")
    write(project / "data" / "x", "a file now\n")
    must("add", "data", cwd=project)
    commit(project, "x, a file")
    git(project, "checkout", "-q", "HEAD~1", "--", "data.dvx")
    must("checkout", "data", cwd=project)
    get = ("get", str(team.origin), "images", "-o", "data/x/y", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data" / "x")
    git(project, "checkout", "-q", "HEAD", "--", "data.dvx")
    said = run_dvx_proc("status", cwd=project)
    shown, warned = " ".join(said.stdout.split()), " ".join(said.stderr.split())
    assert f"`mv -- data/x/{left}/old data/x/y`" in warned, said.output
    assert (f"'data/x' holds 'data/x/{left}', in whose 'old' an interrupted `dvx get --force` "
            "left what was at 'data/x/y'") in shown, said.output
    assert "`dvx checkout data`" not in shown and "--force" in shown, said.output
    [data] = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)["outputs"]
    assert data["kept_for_a_get"] == [{"path": "x", "get_folder": f"data/x/{left}"}], data


def test_a_tracked_file_a_killed_get_force_moved_aside_is_refused_by_name_with_its_mv(
        source, project):
    """`dvx commit` and `dvx add` of a tracked file a killed `dvx get --force` moved aside
    refuse it as a directory's file moved aside is refused, naming the `mv` that puts it back,
    never a checkout that would place the recorded version where it goes; `dvx status` of
    that file alone names the get's folder as a status of everything does."""
    team, _ = source
    write(project / "data" / "one.txt", "mine1\n")
    must("add", "data/one.txt", cwd=project)
    commit(project, "one.txt")
    get = ("get", str(team.origin), "raw/train.csv", "-o", "data/one.txt", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data")
    mv = f"`mv -- data/{left}/old data/one.txt`"
    for command in ("commit", "add"):
        refused = run_dvx(command, "data/one.txt", cwd=project)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1 and "'data/one.txt' is not deleted: an interrupted `dvx get " \
            "--force` moved it aside" in said and mv in said, refused.output
        assert "dvx checkout" not in said and "does not exist" not in said, refused.output
    said = run_dvx_proc("status", "data/one.txt", cwd=project)
    assert mv in " ".join(said.stderr.split()), said.output
    listed = json.loads(run_dvx_proc("status", "--json", "data/one.txt", cwd=project).stdout)
    assert listed["interrupted_gets"] == [{"path": f"data/{left}", "holds_former": True}], \
        listed


def test_a_tracked_directory_a_killed_get_force_moved_aside_whole_is_moved_aside(
        source, project):
    """A whole tracked directory a killed `dvx get --force` moved aside is shown moved aside,
    never deleted, with the `mv` that puts it back, by `dvx status` and `dvx status DIR`;
    `dvx commit DIR` refuses it naming that `mv`, never a checkout. Put back, it is as it
    was."""
    team, _ = source
    write(project / "images" / "one.txt", "mine1\n")
    write(project / "images" / "sub" / "two.txt", "mine2\n")
    must("add", "images", cwd=project)
    commit(project, "images")
    get = ("get", str(team.origin), "images", "--force")
    killed = run_dvx_proc(*get, cwd=project, env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project)
    mv = f"`mv -- {left}/old images`"
    for args in (("status",), ("status", "images")):
        said = run_dvx_proc(*args, cwd=project)
        assert "images: moved aside by an interrupted `dvx get --force`\n" in said.stdout, \
            said.output
        assert "deleted" not in said.stdout and mv in " ".join(said.stderr.split()), \
            said.output
        listed = json.loads(run_dvx_proc(*args[:1], "--json", *args[1:], cwd=project).stdout)
        assert listed["outputs"][0]["moved_aside_whole"] is True, listed
        assert listed["interrupted_gets"] == [{"path": left, "holds_former": True}], listed
    refused = run_dvx("commit", "images", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "'images' is not deleted" in said and mv in said, \
        refused.output
    assert "dvx checkout" not in said, refused.output
    os.rename(project / left / "old", project / "images")
    assert "up to date" in run_dvx_proc("status", cwd=project).stdout


def test_status_of_a_directory_names_the_killed_get_inside_it_as_status_of_all_does(
        source, project):
    """`dvx status DIR` (and `--json`) names the folder a killed `dvx get --force` left inside
    DIR, with the `mv` that puts back what it moved aside, as a status of everything does."""
    team, _ = source
    write(project / "data" / "images" / "m", "mine\n")
    write(project / "data" / "b", "b\n")
    must("add", "data", cwd=project)
    commit(project, "data")
    get = ("get", str(team.origin), "images", "--force")
    killed = run_dvx_proc(*get, cwd=project / "data", env={"DVX_FAULT": "get.between_renames"})
    assert killed.code == -9, killed.output
    [left] = _get_folders(project / "data")
    said = run_dvx_proc("status", "data", cwd=project)
    assert f"`mv -- data/{left}/old data/images`" in " ".join(said.stderr.split()), said.output
    listed = json.loads(run_dvx_proc("status", "--json", "data", cwd=project).stdout)
    assert listed["interrupted_gets"] == [{"path": f"data/{left}", "holds_former": True}], \
        listed
    assert listed["outputs"][0]["moved_aside"] == ["images/m"], listed


def test_a_file_deleted_from_what_a_killed_get_force_moved_aside_is_deleted_not_moved_aside(
        tmp_path):
    """Only a path the `old` of a killed `get --force`'s folder still holds is moved aside:
    one deleted from there is listed as deleted, and committed, as any deletion is."""
    from dvx import get_scratch
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "sub" / "x", "x\n")
    write(alice / "data" / "sub" / "y", "y\n")
    write(alice / "data" / "f", "f\n")
    must("add", "data", cwd=alice)
    commit(alice, "data")
    left = alice / "data" / ".dvx-get-abcd1234"
    write(left / "held", "sub")
    os.rename(alice / "data" / "sub", left / "old")
    (left / "old" / "y").unlink()
    found = get_scratch.moved_aside(str(alice / "data"), ["f", "sub/x", "sub/y"])
    assert sorted(found) == ["sub/x"], found
    [data] = json.loads(run_dvx("status", "--json", cwd=alice).stdout)["outputs"]
    assert (data["deleted"], data["moved_aside"]) == (["sub/y"], ["sub/x"]), data
    (left / "old" / "x").unlink()
    committed = run_dvx("commit", "data", cwd=alice)
    assert committed.code == 0, committed.output
    assert "nfiles: 1\n" in (alice / "data.dvx").read_text()


def test_a_folder_named_as_a_get_s_that_names_nothing_yet_holds_more_is_never_taken_as_one(
        tmp_path):
    """A get names its path in `held` before it writes anything else in its folder: a folder
    so named, older than an hour, holding `new` but no name is the user's, never a killed
    get's left for the next get to remove; one holding nothing else is a killed get's."""
    from dvx import get_scratch
    hour_ago = time.time() - 2 * 3600
    mine = tmp_path / ".dvx-get-abcd1234"
    write(mine / "new" / "notes.txt", "mine\n")
    empty = tmp_path / ".dvx-get-wxyz5678"
    empty.mkdir()
    (empty / "held").write_bytes(b"")
    for folder in (mine, empty):
        os.utime(folder, (hour_ago, hour_ago))
    left = get_scratch.left_beside(str(tmp_path))
    assert [entry.path for entry in left] == [str(empty)]


@pytest.mark.parametrize("inside", [{"new/results.csv": "precious\n"}, {"old": "mine\n"},
                                    {"held": "", "new/results.csv": "precious\n"}],
                         ids=["new", "old", "held-naming-nothing"])
def test_a_folder_of_yours_named_as_a_get_s_is_refused_by_add_and_named_by_status(
        project, inside):
    """A folder of the user's named as a get's scratch folder and holding what no get lays
    out there (no `held` naming a path) is never taken for a get's: `dvx add` of the folder
    around it refuses it, and status names it (Git ignores a folder so named), so what is in
    it is never left unversioned without a word; inside tracked data, status lists its files
    as added and `dvx commit` refuses them."""
    for name, content in inside.items():
        write(project / "d" / ".dvx-get-abcdefgh" / name, content)
    write(project / "d" / "top", "t\n")
    refused = run_dvx("add", "d", cwd=project)
    assert refused.code == 2, refused.output
    assert "'d/.dvx-get-abcdefgh' is named as the folder `dvx get` builds its copy in" \
        in " ".join(refused.stderr.split()), refused.output
    said = " ".join(run_dvx_proc("status", cwd=project).stderr.split())
    assert "'d/.dvx-get-abcdefgh' is named as the folder `dvx get` builds its copy in, but " \
        "holds what no get puts there" in said, said
    assert "Rename the folder." in said, said

    write(project / "data" / "a", "aa\n")
    must("add", "data", cwd=project)
    for name, content in inside.items():
        write(project / "data" / ".dvx-get-abcdefgh" / name, content)
    listed = json.loads(run_dvx_proc("status", "--json", cwd=project).stdout)
    [data] = [o for o in listed["outputs"] if o["path"] == "data"]
    assert data["added"] == sorted(f".dvx-get-abcdefgh/{name}" for name in inside), data
    assert listed["interrupted_gets"] == [], listed
    assert data["named_as_a_get_s"] == ["data/.dvx-get-abcdefgh"], data
    for args in (("status",), ("status", "data")):  # named, not offered to `dvx commit`
        said = run_dvx_proc(*args, cwd=project)
        assert "'data/.dvx-get-abcdefgh' is named as the folder `dvx get` builds its copy in, " \
            "but holds what no get puts there: dvx never records a folder so named in a " \
            "directory's data, so `dvx commit` and `dvx add` refuse the directory holding it" \
            in " ".join(said.stderr.split()), said.output
        assert "records changes" not in said.stdout, said.output
    refused = run_dvx("commit", "data", cwd=project)
    assert refused.code == 2, refused.output
    for name, content in inside.items():
        assert (project / "d" / ".dvx-get-abcdefgh" / name).read_text() == content
        assert (project / "data" / ".dvx-get-abcdefgh" / name).read_text() == content


def test_a_get_s_folder_is_known_as_one_at_every_moment_a_kill_can_leave_it(tmp_path,
                                                                           monkeypatch):
    """Every layout a get's folder passes through, from being made to being deleted (`held`
    last), is one a workspace walk knows as a get's and leaves out; a kill at any moment
    never turns it into data."""
    from dvx import get_scratch
    scratch = get_scratch.Scratch(str(tmp_path / "got"))
    name = os.path.basename(scratch.path)
    assert get_scratch.is_scratch_folder(scratch.path, name)
    write(Path(scratch.path) / "new" / "0.png", "image 0\n")
    write(Path(scratch.path) / "old", "mine\n")
    assert get_scratch.is_scratch_folder(scratch.path, name)
    seen: list[bool] = []  # before each file or folder in it is deleted

    def looked_at_before(delete: Any) -> Any:
        def deleting(*args: Any, **kwargs: Any) -> None:
            seen.append(get_scratch.is_scratch_folder(scratch.path, name))
            delete(*args, **kwargs)
        return deleting

    monkeypatch.setattr(os, "unlink", looked_at_before(os.unlink))
    monkeypatch.setattr(os, "rmdir", looked_at_before(os.rmdir))
    scratch.drop()
    monkeypatch.undo()
    assert seen and all(seen), seen
    assert not os.path.exists(scratch.path)
    empty = tmp_path / ".dvx-get-abcd1234"
    empty.mkdir()
    assert get_scratch.is_scratch_folder(str(empty), empty.name)
    (empty / "held").write_bytes(b"")
    assert get_scratch.is_scratch_folder(str(empty), empty.name)


def _pasted(hint: str, cwd: Path) -> None:
    """Run the `dvx ... && dvx ...` a hint names, as pasted into a shell."""
    for command in hint.split(" && "):
        words = shlex.split(command)
        assert words[0] == "dvx", hint
        must(*words[1:], cwd=cwd)


def test_an_update_from_a_source_now_hashing_otherwise_names_what_works_for_an_import(
        source, project):
    """The source re-tracks its data with sha256: status never says `dvx update` brings it,
    update keeps the import as it is and never suggests switching this repository's
    algorithm (it tracks the import); the way out both name, pasted, makes the source's new
    data this repository's own."""
    _, alice = source
    must("import", str(alice), "images", "-o", "imp", cwd=project)
    commit(project, "import")
    must("remove", "images.dvx", "raw/train.csv.dvx", cwd=alice)
    must("config", "core.hash", "sha256", cwd=alice)
    write(alice / "images" / "3.png", "image 3\n")
    must("add", "images", cwd=alice)
    share(alice, "sha256 now")
    status = run_dvx("status", cwd=project)
    said = " ".join(status.stdout.split())
    assert "imp: its source moved (HEAD is now" in said, status.output
    assert ("and now hashes with sha256, this repository with xxh128, so `dvx update` cannot "
            "bring it" in said), status.output
    assert "`dvx update imp.dvx` brings it" not in said, status.output
    updated = run_dvx("update", "imp.dvx", cwd=project)
    said = " ".join(updated.stderr.split())
    assert updated.code == 1 and "now hashes with sha256, this repository with xxh128" in said
    assert "'imp' keeps the version it has" in said, updated.output
    assert "tracks no data yet" not in said and "core.hash" not in said, updated.output
    way = re.search(r"no longer updated from its source: `([^`]*)`", said)
    assert way is not None, updated.output
    assert way.group(1) in " ".join(status.stdout.split()), status.output  # the same way
    _pasted(way.group(1), project)
    assert sorted(os.listdir(project / "imp")) == ["0.png", "1.png", "2.png", "3.png"]
    assert "algo: xxh128" in (project / "imp.dvx").read_text()
    assert "source:" not in (project / "imp.dvx").read_text()


def test_an_import_refused_for_the_reader_s_own_core_hash_names_that_level_and_keeps_the_args(
        source, project):
    """The reader's .dvx/config.local sets sha256, the source's data is xxh128: the
    refusal names `--local` (a `dvx config` of the tracked config would change nothing
    config.local overrides), and its `dvx get` keeps the user's -o and --rev; both work."""
    _, alice = source
    must("config", "--local", "core.hash", "sha256", cwd=project)
    refused = run_dvx("import", str(alice), "images", "-o", "imp", "--rev", "v1", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "hashes with xxh128, this repository with sha256" in said
    assert f"`dvx get {alice} images -o imp --rev v1` copies it here" in said, said
    assert "(`dvx config --local --unset core.hash`), and the import then works" in said, said
    assert "`dvx config core.hash" not in said, said
    _pasted(f"dvx get {alice} images -o imp --rev v1", project)
    assert sorted(os.listdir(project / "imp")) == ["0.png", "1.png", "2.png"]
    shutil.rmtree(project / "imp")
    must("config", "--local", "--unset", "core.hash", cwd=project)
    must("import", str(alice), "images", "-o", "imp", "--rev", "v1", cwd=project)
    assert "algo: xxh128" in (project / "imp.dvx").read_text()
