"""dvx diff: files added, deleted, modified and renamed between revisions and the workspace,
inside tracked directories too, on a fresh clone as well (manifests come from the remote)."""

import json
import shutil
import socket

import pytest

from tests.conftest import git, run_dvx, write
from tests.pipeline_kit import run_and_commit
from tests.team import Team, commit, edit, must, share


def _diff(cwd, *args):
    result = run_dvx("diff", "--json", *args, cwd=cwd)
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def _summary(doc):
    return {"added": [f["path"] for f in doc["added"]],
            "deleted": [f["path"] for f in doc["deleted"]],
            "modified": [f["path"] for f in doc["modified"]],
            "renamed": [(r["path"]["old"], r["path"]["new"]) for r in doc["renamed"]]}


def _two_versions(tmp_path):
    team = Team(tmp_path)
    alice = team.founder()
    for i in range(5):
        write(alice / "data" / "images" / f"{i}.png", f"image {i}\n")
    write(alice / "data" / "train.csv", "a,b\n1,2\n")
    must("add", "data/images", "data/train.csv", cwd=alice)
    share(alice, "v1")
    git(alice, "tag", "v1")
    edit(alice, "data/images/1.png", "image 1, retouched\n")
    (alice / "data/images/2.png").rename(alice / "data/images/2-renamed.png")
    (alice / "data/images/3.png").unlink()
    write(alice / "data" / "images" / "new.png", "a new image\n")
    write(alice / "model.pt", "weights")
    must("add", "data/images", "model.pt", cwd=alice)
    share(alice, "v2")
    git(alice, "push", "-q", "origin", "v1")
    return team, alice


def test_two_revisions_down_to_the_files_of_a_directory(tmp_path):
    _, alice = _two_versions(tmp_path)
    doc = _diff(alice, "v1", "HEAD")
    assert (doc["a"], doc["b"]) == ("v1", "HEAD")
    assert _summary(doc) == {
        "added": ["data/images/new.png", "model.pt"], "deleted": ["data/images/3.png"],
        "modified": ["data/images/1.png"],
        "renamed": [("data/images/2.png", "data/images/2-renamed.png")]}
    modified = doc["modified"][0]
    assert (modified["old"]["size"], modified["new"]["size"]) == (8, 19)
    assert doc["added"][1]["size"] == 7 and len(doc["added"][1]["oid"]) == 32
    backwards = _summary(_diff(alice, "HEAD", "v1"))
    assert backwards["added"] == ["data/images/3.png"]
    assert backwards["deleted"] == ["data/images/new.png", "model.pt"]


def test_a_fresh_clone_fetches_only_the_manifests_it_needs(tmp_path):
    team, _ = _two_versions(tmp_path)
    bob = team.clone("bob", pull=False)
    doc = _diff(bob, "v1", "main")
    assert doc["problems"] == []
    assert _summary(doc)["modified"] == ["data/images/1.png"]
    cached = [p for p in (bob / ".dvx" / "cache").rglob("*") if p.is_file()
              and "files" in p.parts]
    assert len(cached) == 2  # the two manifests of data/images, and no data


def test_a_manifest_no_one_has_leaves_its_directory_out_on_both_sides(tmp_path):
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    write(alice / "d" / "b", "b\n")
    write(alice / "f.csv", "1\n")
    must("add", "d", "f.csv", cwd=alice)
    commit(alice, "c1")
    git(alice, "tag", "c1")
    write(alice / "d" / "c", "c\n")
    edit(alice, "f.csv", "2\n")
    must("add", "d", "f.csv", cwd=alice)
    share(alice, "c2")  # c1's manifest of d never reaches the remote
    git(alice, "push", "-q", "origin", "c1")
    bob = team.clone("bob", pull=False)
    doc = _diff(bob, "c1", "main")
    assert len(doc["problems"]) == 1 and "c1:d" in doc["problems"][0]
    assert _summary(doc) == {"added": [], "deleted": [], "modified": ["f.csv"], "renamed": []}


@pytest.mark.parametrize("down", ["moved away", "s3 not answering"])
def test_a_remote_that_cannot_be_read_names_each_manifest_left_out_and_why(tmp_path, down):
    team, _ = _two_versions(tmp_path)
    bob = team.clone("bob", pull=False)
    if down == "moved away":
        team.store.rename(tmp_path / "elsewhere")
        why = f"the default remote cannot be opened: The remote directory '{team.store}' " \
              "does not exist."
    else:
        pytest.importorskip("s3fs")
        with socket.socket() as closed:  # nothing listens there
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        must("remote", "add", "--local", "-d", "s3r", "s3://bucket/p", cwd=bob)
        for key, value in (("endpointurl", f"http://127.0.0.1:{port}"),
                           ("access_key_id", "key"), ("secret_access_key", "secret")):
            must("remote", "modify", "--local", "s3r", key, value, cwd=bob)
        why = f"remote 's3r' could not be read: Could not list the pack indexes on the remote " \
              f"'s3r' (s3://bucket/p): 127.0.0.1:{port} did not accept the connection"
    problems = _diff(bob, "v1", "main")["problems"]
    assert [p.split(":")[0] for p in problems] == ["v1", "main"], problems
    assert all(p.startswith(f"{side}:data/images: its directory manifest ") and why in p
               for side, p in zip(("v1", "main"), problems, strict=True)), problems


def test_an_unreadable_pointer_is_a_problem_not_a_change(repo, dvx):
    write(repo / "a", "a\n")
    write(repo / "b", "b\n")
    assert dvx("add", "a", "b").code == 0
    commit(repo, "c1")
    write(repo / "a.dvx", "dvx: 1\ntype: [file\n")  # a botched edit or merge
    edit(repo, "b", "b2\n")
    doc = _diff(repo)
    assert len(doc["problems"]) == 1 and doc["problems"][0].startswith("a.dvx: ")
    assert _summary(doc) == {"added": [], "deleted": [], "modified": ["b"], "renamed": []}
    text = dvx("diff")
    assert "WARNING: a.dvx: " in text.stderr and "    a  " not in text.stdout
    commit(repo, "c2")  # the same unreadable pointer in a revision
    doc = _diff(repo, "HEAD~1", "HEAD")
    assert len(doc["problems"]) == 1 and ":a.dvx: " in doc["problems"][0]
    assert _summary(doc)["deleted"] == [] and _summary(doc)["added"] == []



def test_among_many_pointers_only_the_changed_ones_are_listed(repo, dvx):
    """Outputs the same on both sides are set aside (once, whatever their number) before
    any of their files is listed: what changed is still listed, and nothing else."""
    for i in range(40):
        write(repo / "many" / f"f{i:02d}.txt", f"{i}\n")
    write(repo / "dir" / "x", "x\n")
    assert dvx("add", "dir", *(f"many/f{i:02d}.txt" for i in range(40))).code == 0
    commit(repo, "c1")
    edit(repo, "many/f07.txt", "seven\n")
    edit(repo, "dir/x", "x2\n")
    (repo / "many" / "f30.txt").unlink()
    write(repo / "many" / "new.txt", "new\n")
    assert dvx("add", "many/new.txt").code == 0
    assert _summary(_diff(repo)) == {
        "added": ["many/new.txt"], "deleted": ["many/f30.txt"],
        "modified": ["dir/x", "many/f07.txt"], "renamed": []}


def test_quiet_diff_fails_when_a_conflicted_pointer_was_left_out(repo, dvx):
    write(repo / "a", "a\n")
    assert dvx("add", "a").code == 0
    commit(repo, "c1")
    assert dvx("diff", "-q").code == 0
    write(repo / "a.dvx", "<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> b\n")
    quiet = dvx("diff", "-q")
    assert quiet.code == 1 and quiet.stdout == "" and "WARNING: a.dvx" in quiet.stderr
    assert dvx("diff").code == 0  # without -q: the warning, and what could be compared
    write(repo / "b", "b\n")
    assert dvx("add", "b").code == 0
    listed = dvx("diff")  # a change found besides: its summary says it is partial too
    assert listed.code == 0 and "added" in listed.stdout, listed.output
    assert "1 added, 0 deleted, 0 modified, 0 renamed (of what could be compared: see the " \
           "warnings)" in listed.stdout, listed.stdout


def test_a_link_dvx_did_not_make_is_left_out_with_a_warning(repo, dvx):
    """`dvx add` refuses such a link; diff (a reader, like status) still shows the rest."""
    write(repo / "d" / "a", "a\n")
    write(repo / "solo", "s\n")
    assert dvx("add", "d", "solo").code == 0
    commit(repo, "c1")
    write(repo / "d" / "c", "c\n")
    (repo / "d" / "link").symlink_to("/etc/hostname")
    (repo / "solo").unlink()
    (repo / "solo").symlink_to("/etc/hostname")
    doc = _diff(repo)
    assert _summary(doc) == {"added": ["d/c"], "deleted": [], "modified": [], "renamed": []}
    assert sorted(p.split("'")[1] for p in doc["problems"]) == ["d/link", "solo"]
    shown = dvx("diff")
    assert shown.code == 0 and "WARNING: left out: 'd/link'" in shown.stderr
    assert "d/c" in shown.stdout


def test_a_tracked_directory_made_a_link_or_a_file_made_a_socket_is_left_out(repo, dvx):
    """A tracked directory replaced by a symlink is left out whole, as a tracked file replaced
    by one is: its recorded files are not listed as deleted. A socket is left out too, saying
    why."""
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    write(repo / "f", "f\n")
    assert dvx("add", "d", "f").code == 0
    commit(repo, "c1")
    (repo / "d").rename(repo / "d.real")
    (repo / "d").symlink_to("d.real")
    (repo / "f").unlink()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("f")
        doc = _diff(repo)
    assert _summary(doc) == {"added": [], "deleted": [], "modified": [], "renamed": []}
    problems = sorted(doc["problems"])
    assert len(problems) == 2 and "'d' is a symbolic link" in problems[0]
    assert "'f' is not a regular file (a socket, fifo or device), which dvx cannot track" \
        in problems[1]


def test_a_tracked_folder_holding_a_repository_is_left_out_and_the_rest_diffed(repo, dvx):
    """A repository of the user's inside a tracked folder (a `git init` there): diff, a
    reader as status is, names that folder as left out and diffs the rest."""
    write(repo / "tools" / "a", "a\n")
    write(repo / "d" / "a", "a\n")
    assert dvx("add", "tools", "d").code == 0
    commit(repo, "c1")
    git(repo / "tools", "init", "-q")
    write(repo / "tools" / "b", "b\n")
    write(repo / "d" / "c", "c\n")
    doc = _diff(repo)
    assert _summary(doc) == {"added": ["d/c"], "deleted": [], "modified": [], "renamed": []}
    assert len(doc["problems"]) == 1 and "'tools' holds 'tools/.git'" in doc["problems"][0]
    shown = dvx("diff")
    assert shown.code == 0 and "WARNING: left out: 'tools' holds" in shown.stderr


def test_the_workspace_against_head_and_targets(tmp_path):
    _, alice = _two_versions(tmp_path)
    assert _summary(_diff(alice)) == {"added": [], "deleted": [], "modified": [], "renamed": []}
    quiet = run_dvx("diff", "-q", cwd=alice)
    assert quiet.code == 0 and quiet.output == ""
    edit(alice, "data/train.csv", "a,b\n1,3\n")
    edit(alice, "data/images/0.png", "changed, not yet added\n")
    (alice / "model.pt").unlink()
    assert _summary(_diff(alice)) == {
        "added": [], "deleted": ["model.pt"],
        "modified": ["data/images/0.png", "data/train.csv"], "renamed": []}
    only = _diff(alice, "--targets", "data/images", "--targets", "model.pt")
    assert _summary(only)["modified"] == ["data/images/0.png"]
    assert _summary(_diff(alice, "--targets", "data/images/0.png"))["modified"] == [
        "data/images/0.png"]
    # the pointer file names its data, the repository root everything
    assert _summary(_diff(alice, "--targets", "data/images.dvx"))["modified"] == [
        "data/images/0.png"]
    assert _summary(_diff(alice, "--targets", "."))["deleted"] == ["model.pt"]
    typo = _diff(alice, "--targets", "data/imagse")
    assert not _summary(typo)["modified"]
    assert typo["problems"] == ["'data/imagse' names nothing dvx tracks in HEAD or workspace."]
    assert run_dvx("diff", "-q", cwd=alice).code == 1
    text = run_dvx("diff", cwd=alice).stdout
    assert "Modified:\n    data/images/0.png" in text and "1 deleted, 2 modified" in text
    table = run_dvx("diff", "--md", cwd=alice).stdout
    assert table.startswith("| Status | Path | Size |") and "| deleted | model.pt |" in table


def test_a_partial_pull_is_not_a_deletion(tmp_path):
    team, _ = _two_versions(tmp_path)
    carol = team.clone("carol", pull=False)
    must("pull", "data/images/0.png", cwd=carol)
    doc = _diff(carol, "--targets", "data/images")
    assert _summary(doc) == {"added": [], "deleted": [], "modified": [], "renamed": []}
    (carol / "data/images/0.png").unlink()
    assert _summary(_diff(carol, "--targets", "data/images"))["deleted"] == [
        "data/images/0.png"]


def test_data_not_pulled_yet_counts_as_its_pointer_records_not_as_deleted(tmp_path):
    """As `dvx status` says: data a fresh clone never pulled is not pulled yet, so the
    workspace side holds what the pointers record; once placed here, removing it is a
    deletion."""
    team, _ = _two_versions(tmp_path)
    bob = team.clone("bob", pull=False)
    assert "not pulled yet" in run_dvx("status", cwd=bob).stdout
    nothing = {"added": [], "deleted": [], "modified": [], "renamed": []}
    assert _summary(_diff(bob)) == nothing
    quiet = run_dvx("diff", "-q", cwd=bob)
    assert quiet.code == 0 and quiet.output == ""
    assert _summary(_diff(bob, "v1")) == _summary(_diff(bob, "v1", "HEAD"))
    must("pull", "model.pt", cwd=bob)
    (bob / "model.pt").unlink()
    assert _summary(_diff(bob)) == {**nothing, "deleted": ["model.pt"]}


def test_data_not_pulled_whose_manifest_no_one_has_is_left_out_not_deleted(tmp_path):
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    must("add", "d", cwd=alice)
    share(alice, "c1")
    git(alice, "tag", "c1")
    git(alice, "push", "-q", "origin", "c1")
    write(alice / "d" / "b", "b\n")
    must("add", "d", cwd=alice)
    commit(alice, "c2")
    git(alice, "push", "-q", "origin", "HEAD")  # c2's manifest of d never reaches the remote
    bob = team.clone("bob", pull=False)
    doc = _diff(bob, "c1")
    assert len(doc["problems"]) == 1 and "manifest" in doc["problems"][0], doc["problems"]
    assert _summary(doc) == {"added": [], "deleted": [], "modified": [], "renamed": []}
    assert run_dvx("diff", "-q", "c1", cwd=bob).code == 1  # not compared: may differ


def test_data_whose_pointer_a_sparse_checkout_leaves_out_counts_as_the_index_records_it(
        tmp_path):
    """Its pointer is in Git's index only: the data is tracked still, so the workspace side
    holds what the index records, whether or not the data is on disk, never a deletion."""
    team, _ = _two_versions(tmp_path)
    bob = team.clone("bob")
    git(bob, "sparse-checkout", "set", "--no-cone", "/*", "!/data/")
    assert not (bob / "data" / "train.csv.dvx").exists()
    assert (bob / "data" / "train.csv").exists()  # ignored: Git leaves it
    nothing = {"added": [], "deleted": [], "modified": [], "renamed": []}
    assert _summary(_diff(bob)) == nothing
    assert _summary(_diff(bob, "v1")) == _summary(_diff(bob, "v1", "HEAD"))
    for path in ("data/train.csv", "data/images"):
        quiet = run_dvx("diff", "-q", "--targets", path, cwd=bob)
        assert quiet.code == 0 and quiet.output == "", quiet.output
    shutil.rmtree(bob / "data")
    assert _summary(_diff(bob)) == nothing
    (bob / "model.pt").unlink()  # a pointer in the workspace: its data is deleted
    assert _summary(_diff(bob)) == {**nothing, "deleted": ["model.pt"]}


def test_bad_revisions_and_no_commits_are_clear_errors(tmp_path, repo, dvx):
    result = dvx("diff")
    assert result.code != 0 and "no commit yet" in result.stderr
    write(repo / "f", "x")
    dvx("add", "f")
    commit(repo, "one")
    result = dvx("diff", "no-such-tag")
    assert result.code != 0 and "Unknown revision 'no-such-tag'" in result.stderr
    assert "Traceback" not in result.output


def test_a_revision_a_shallow_clone_lacks_names_the_fetch_that_brings_it(tmp_path, repo, dvx):
    """A CI checkout (`git clone --depth 1`) comparing with `HEAD~1`: refused as history the
    shallow clone lacks, naming `git fetch --deepen=1`, after which the same command works;
    a branch it never fetched, named with the fetch that makes it a name here, which works
    pasted; in a full clone an unknown revision is refused as before."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "acc.json", '{"acc": 1}\n')
    run_and_commit(repo, "stages:\n  train:\n    cmd: cp acc.json metrics.json\n"
                         "    params: [lr]\n    metrics: [{metrics.json: {cache: false}}]\n",
                   "v1")
    write(repo / "params.yaml", "lr: 0.2\n")
    commit(repo, "v2")
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(ci))
    for command in (("params", "diff"), ("metrics", "diff"), ("diff",)):
        refused = run_dvx(*command, "HEAD~1", cwd=ci)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "Traceback" not in refused.output, refused.output
        assert "Unknown revision 'HEAD~1' in this shallow clone" in said, said
        assert "`git fetch --deepen=1`" in said and "`git fetch --unshallow`" in said, said
    full = dvx("params", "diff", "HEAD~5")
    assert full.code == 2 and "shallow" not in full.stderr, full.stderr
    git(ci, "fetch", "-q", "--deepen=1")
    deepened = run_dvx("params", "diff", "HEAD~1", cwd=ci)
    assert deepened.code == 0 and "0.1" in deepened.stdout, deepened.output
    git(repo, "branch", "feat", "HEAD~1")  # a branch the single-branch clone never fetched
    for rev, fetch in (("feat", "git fetch origin feat:feat"),
                       ("origin/feat", "git fetch origin feat:refs/remotes/origin/feat")):
        refused = run_dvx("params", "diff", rev, cwd=ci)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and f"`{fetch}` the branch '{rev}'" in said, said
    git(ci, *fetch.split()[1:])
    fetched = run_dvx("params", "diff", "origin/feat", cwd=ci)
    assert fetched.code == 0 and "0.1" in fetched.stdout, fetched.output
    git(ci, "remote", "rename", "origin", "upstream")  # a clone made with -o upstream
    for rev, fetch in (("feat2", "git fetch upstream feat2:feat2"),
                       ("upstream/feat2", "git fetch upstream feat2:refs/remotes/upstream/feat2")):
        refused = run_dvx("params", "diff", rev, cwd=ci)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and f"`{fetch}` the branch '{rev}'" in said, said
    git(repo, "branch", "feat2", "HEAD~1")
    git(ci, *fetch.split()[1:])
    assert run_dvx("params", "diff", "upstream/feat2", cwd=ci).code == 0


def test_an_experiment_name_is_a_revision_to_diff_as_to_params_diff(repo, dvx):
    write(repo / "params.yaml", "n: 1\n")
    run_and_commit(repo, "stages:\n  gen:\n    cmd: grep n params.yaml > out.txt\n"
                         "    params: [n]\n    outs: [out.txt]\n", "baseline")
    assert dvx("exp", "run", "-q", "-S", "n=5", "-n", "e5").code == 0
    assert _summary(_diff(repo, "HEAD", "e5"))["modified"] == ["out.txt"]
    ref = git(repo, "for-each-ref", "--format=%(refname)", "refs/exps").split()[0]
    assert _summary(_diff(repo, "HEAD", ref))["modified"] == ["out.txt"]
    unknown = dvx("diff", "HEAD", "no-such-experiment")
    assert unknown.code == 2 and "Unknown revision 'no-such-experiment'" in unknown.stderr


def test_comparisons_without_git_say_there_is_no_revision_to_compare_with(tmp_path, dvx):
    """Not "use the workspace only (no --rev ...)", which no option of theirs helps: they
    compare with HEAD when no revision is named."""
    root = tmp_path / "plain"
    root.mkdir()
    assert dvx("init", "--no-scm", cwd=root).code == 0
    write(root / "f", "x")
    write(root / "params.yaml", "lr: 0.1\n")
    assert dvx("add", "f", cwd=root).code == 0
    for args, rev in ((("diff",), "HEAD"), (("diff", "v1"), "v1"), (("params", "diff"), "HEAD"),
                      (("metrics", "diff"), "HEAD"), (("plots", "diff"), "HEAD")):
        refused = dvx(*args, cwd=root)
        assert refused.code == 2, refused.output
        assert f"does not use Git, so it has no revision {rev}" in refused.stderr
        assert "no --rev" not in refused.stderr
    assert dvx("params", "show", cwd=root).code == 0


def test_a_file_replaced_by_a_directory_and_the_reverse(tmp_path, repo, dvx):
    write(repo / "f", "hi\n")
    write(repo / "d" / "x", "x\n")
    assert dvx("add", "f", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    (repo / "f").unlink()
    write(repo / "f" / "inside", "now a folder\n")
    (repo / "d" / "x").unlink()
    (repo / "d").rmdir()
    write(repo / "d", "now a file\n")
    assert _summary(_diff(repo)) == {"added": ["d", "f/inside"], "deleted": ["d/x", "f"],
                                     "modified": [], "renamed": []}


def test_diff_in_a_repository_git_refuses_relays_git_s_error(repo, dvx, monkeypatch):
    """Not "no commit yet": Git's reason (safe.directory) and its advice."""
    write(repo / "f.txt", "hi\n")
    dvx("add", "f.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "f")
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")  # as another user's repository
    result = dvx("diff")
    assert result.code == 1
    assert "detected dubious ownership" in result.stderr and "safe.directory" in result.stderr
    assert "no commit" not in result.stderr


def test_a_teammate_s_change_pulled_but_not_checked_out_is_no_change_made_here(tmp_path):
    """As `dvx status` and `dvx commit` read the sync record: data that still holds what this
    workspace was synced to, its pointer moved by `git pull` since, counts as what the pointer
    records, so `dvx diff` lists only the edits made here, never the teammate's, reversed."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "imgs" / "f1", "1\n")
    write(alice / "imgs" / "f2", "2\n")
    write(alice / "raw.csv", "raw\n")
    must("add", "imgs", "raw.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(alice, "raw.csv", "A\n")
    edit(alice, "imgs/f2", "2\nA2\n")
    write(alice / "imgs" / "f3", "3\n")
    must("add", "imgs", "raw.csv", cwd=alice)
    share(alice, "alice's change")
    git(bob, "pull", "-q")  # no hooks installed: the data stays as it was synced
    nothing = {"added": [], "deleted": [], "modified": [], "renamed": []}
    assert _summary(_diff(bob)) == nothing
    assert run_dvx("diff", "-q", cwd=bob).code == 0
    assert _summary(_diff(bob, "--targets", "imgs")) == nothing
    edit(bob, "imgs/f1", "1, bob's\n")
    write(bob / "imgs" / "mine", "bob's own\n")
    assert _summary(_diff(bob)) == {**nothing, "added": ["imgs/mine"],
                                    "modified": ["imgs/f1"]}
