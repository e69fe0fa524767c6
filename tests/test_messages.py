"""Messages that used to mislead, each as a user met it: what dvx says now."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest
import xxhash
from pipeline_kit import make_ml_repo, run_and_commit

from tests.conftest import dvx_unprivileged, git, run_dvx_proc, write


def test_a_failed_pull_names_paths_and_does_not_suggest_pull_again(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "data" / "a.csv", "a")
    assert dvx("add", "data/a.csv").code == 0  # never pushed
    (repo / "data" / "a.csv").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    os.makedirs(store)
    for obj in (repo / ".dvx" / "cache" / "files").rglob("*"):
        if obj.is_file():
            obj.chmod(0o644)
            obj.unlink()
    pulled = dvx("pull")
    oid = xxhash.xxh3_128_hexdigest(b"a")
    assert pulled.code == 1 and f"Failed data/a.csv ({oid}): not on the remote" in pulled.stderr
    assert "run `dvx pull`" not in pulled.stderr
    assert "the download failed, above" in pulled.stderr


def test_many_failures_for_one_reason_are_one_line_with_examples(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(6):
        write(repo / "data" / f"{i}.csv", f"row {i}")
    assert dvx("add", *(f"data/{i}.csv" for i in range(6))).code == 0  # never pushed
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    os.makedirs(store)
    cache = repo / ".dvx" / "cache"
    for obj in (cache / "files").rglob("*"):
        if obj.is_file():
            obj.chmod(0o644)
            obj.unlink()
    pulled = dvx("pull")
    first = xxhash.xxh3_128_hexdigest(b"row 0")
    assert pulled.code == 1
    assert f"Failed 6 objects: not on the remote (for example data/0.csv ({first}), " in (
        pulled.stderr)
    assert pulled.stderr.count("not on the remote") == 1


def test_the_failure_report_keeps_rare_reasons_apart_and_is_bounded():
    from dvx.cli.sync import SHOWN_FAILURES, failure_lines

    failed = {f"{i:032x}": "refused" for i in range(10)}
    failed.update({"f" * 32: "corrupt", "e" * 32: "timed out"})
    lines = failure_lines(failed, {"f" * 32: "model.pt"})
    assert lines == [f"Failed 10 objects: refused (for example {0:032x}, {1:032x})",
                     f"Failed {'e' * 32}: timed out", f"Failed model.pt ({'f' * 32}): corrupt"]
    many = failure_lines({f"{i:032x}": f"reason {i}" for i in range(80)}, {})
    assert len(many) == SHOWN_FAILURES + 1 and many[-1].startswith("... and 30 more lines")


def test_the_files_git_tracks_kept_by_a_delete_are_named_in_plain_grammar():
    """The note of `remove --outs` and `stage remove --outs` on the files Git's index holds
    reads as a sentence for one file and for several."""
    from dvx.cli.ui import kept_in_git

    assert kept_in_git(["d/a"]) == ("Kept 1 file Git tracks (Git's index holds it, so it is "
                                    "Git's, never the data's): d/a.")
    assert kept_in_git(["d/a", "d/b"]) == (
        "Kept 2 files Git tracks (Git's index holds them, so they are Git's, never the "
        "data's): d/a, d/b.")


def test_updated_dvx_lock_only_when_it_changed_and_the_hint_lists_what_git_tracks(repo, dvx):
    make_ml_repo(repo)
    assert dvx("add", "data/raw.csv").code == 0
    first = dvx("repro")
    assert "Updated dvx.lock." in first.stdout
    hint = first.stdout.split("git add", 1)[1]
    assert "metrics.json" in hint and "dvx.lock" in hint
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    again = dvx("repro", "--force", "evaluate", "--single-item")  # same results, same bytes
    assert again.code == 0
    assert "Updated dvx.lock" not in again.stdout and "git add" not in again.stdout


def test_the_hint_and_autostage_take_a_plots_directory_repro_changed(repo, dvx):
    # Git names the files below a directory only: a new, changed or deleted plot is a change
    # of the directory output, which the commit must hold with the dvx.lock recording it.
    write(repo / "n.txt", "1")
    script = ('mkdir -p plots; rm -f plots/*; n=$(cat n.txt); echo $n > plots/p.csv; '
              'echo x > plots/only$n.csv')
    assert dvx("stage", "add", "-n", "ev", "-d", "n.txt", "--plots", "plots", script).code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "n.txt", "2")
    git(repo, "commit", "-qam", "n=2")
    hinted = dvx("repro")
    assert "To record this in Git, run:\n    git add plots dvx.lock" in hinted.stdout, \
        hinted.stdout
    _run_hint(hinted.stdout, repo)
    assert sorted(git(repo, "status", "--porcelain", "--no-renames").splitlines()) == [
        "A  plots/only2.csv", "D  plots/only1.csv", "M  dvx.lock", "M  plots/p.csv"]
    git(repo, "commit", "-qm", "v2")
    assert dvx("config", "core.autostage", "true").code == 0
    write(repo / "n.txt", "3")
    git(repo, "commit", "-qam", "n=3")
    staged = dvx("repro")
    assert "Staged in Git: plots dvx.lock" in staged.stdout, staged.stdout
    assert sorted(git(repo, "status", "--porcelain", "--no-renames").splitlines()) == [
        "A  plots/only3.csv", "D  plots/only2.csv", "M  dvx.lock", "M  plots/p.csv"]


def _run_hint(output: str, cwd) -> str:
    """Run the `git add ...` command a hint prints, as a user copying it would."""
    command = next(line.strip() for line in output.splitlines()
                   if line.strip().startswith("git add"))
    subprocess.run(command, shell=True, cwd=cwd, check=True, capture_output=True)
    return command


def test_git_add_hints_work_when_copied_in_a_subdirectory(repo, dvx):
    sub = repo / "data" / "raw"
    write(sub / "a b.csv", "a")
    added = dvx("add", "a b.csv", cwd=sub)
    assert _run_hint(added.stdout, sub) == "git add 'a b.csv.dvx' .gitignore"
    moved = dvx("move", "a b.csv", "../-c.csv", cwd=sub)
    assert _run_hint(moved.stdout, sub) == ("git add ../-c.csv.dvx ../.gitignore "
                                            "'a b.csv.dvx' .gitignore")
    removed = dvx("remove", "../-c.csv.dvx", cwd=sub)
    _run_hint(removed.stdout, sub)
    stage = dvx("stage", "add", "-n", "s", "-o", "o", "echo o > o", cwd=sub)
    assert "`git add ../../dvx.yaml`" in stage.stdout
    _run_hint(dvx("repro", cwd=sub).stdout, sub)
    _run_hint(dvx("install", cwd=sub).stdout, sub)
    assert {".gitattributes", "dvx.lock", "data/raw/.gitignore"} <= set(
        git(repo, "diff", "--cached", "--name-only").split())


def test_a_stage_whose_run_cannot_be_kept_says_why(repo, dvx):
    write(repo / "in.txt", "x")
    write(repo / "dvx.yaml", "stages:\n  many:\n    cmd: mkdir -p out && cp in.txt out/a\n"
          "    deps: [in.txt]\n    outs:\n      - out:\n          cache: false\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "not kept in the run-cache: its output out is a directory Git tracks" in ran.stdout


def test_a_stage_failing_on_a_symlink_output_says_so_in_one_sentence(repo, dvx):
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: ln -s in.txt out\n    deps: [in.txt]\n"
                             "    outs: [out]\n")
    result = dvx("repro")
    assert result.code == 1 and "Stage 's' failed: 'out' is a symbolic link" in result.stderr
    assert ".." not in result.stderr.replace("../", ""), result.stderr


def test_status_says_repro_rebuilds_a_push_false_output_not_pull(repo, dvx, tmp_path):
    write(repo / "in.txt", "x\n")
    run_and_commit(repo, "stages:\n  s:\n    cmd: cp in.txt big\n    deps: [in.txt]\n"
                         "    outs:\n      - big:\n          push: false\n", "pipeline")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    status = dvx("status", cwd=clone)
    assert "`dvx repro` rebuilds" in status.stdout and "dvx pull" not in status.stdout, \
        status.stdout



@pytest.mark.parametrize("url, words", [
    ("http://[::1", "not a valid URL"), ("s3://", "names no bucket"),
    ("ssh:///srv/store", "names no host"), ("ssh://host:99999/x", "Port out of range"),
    ("", "it is empty"), ("a\nb", "control character"),
    ("s3://bkt/team//proj", "write s3://bkt/team/proj"),
    ("s3://bkt/team#a", "holds '#'"), ("s3://bkt/team?x", "holds '?'"),
    ("ssh://host/srv/store#p1", "percent-encoded ('%23')"),
    ("https://host/store?token=t#x", "would be 'https://host/store?token=***'"),
])
def test_remote_add_checks_the_url(repo, dvx, url, words):
    result = dvx("remote", "add", "r", url)
    assert result.code == 2 and words in result.stderr and "internal error" not in result.stderr
    assert "[remote" not in (repo / ".dvx" / "config").read_text()


@pytest.mark.parametrize("url, words", [
    ("webdav://host/x", "webdav4"),  # fsspec knows it; its client is not installed
    ("abfs://x", "Cannot set up the remote 'r'"),  # a client failing without its options
])
def test_a_remote_whose_client_cannot_be_set_up_says_so(repo, dvx, url, words):
    write(repo / "f.txt", "x")
    assert dvx("add", "f.txt").code == 0
    assert dvx("remote", "add", "-d", "r", url).code == 0
    result = dvx("push")
    assert result.code == 1 and words in result.stderr, result.output
    assert "internal error" not in result.stderr and "Traceback" not in result.output


def test_output_piped_into_head_ends_quietly(repo):
    for i in range(300):
        write(repo / f"f{i:03d}.txt", str(i))
    env = {**os.environ}
    add = subprocess.run([sys.executable, "-m", "dvx", "add", *[f"f{i:03d}.txt" for i in
                                                             range(300)]], cwd=repo, env=env,
                         capture_output=True)
    assert add.returncode == 0
    for i in range(300):
        (repo / f"f{i:03d}.txt").unlink()
    piped = subprocess.run(f"{sys.executable} -m dvx status | head -1", shell=True, cwd=repo,
                           capture_output=True, text=True)
    assert piped.stdout.count("\n") == 1 and piped.stderr == "", piped.stderr


def test_a_bad_manifest_entry_names_the_pointer_and_the_manifest(repo, dvx):
    header = '{"algo":"xxh128","format":"dvx-tree","version":1}\n'
    oid = xxhash.xxh3_128_hexdigest(b"x")
    body = (header + f'["a","{oid}",1,false]\n' + f'["a","{oid}",1,false]\n').encode()
    manifest_oid = xxhash.xxh3_128_hexdigest(body)
    write(repo / ".dvx/cache/files/xxh128" / manifest_oid[:2] / manifest_oid[2:], body)
    write(repo / "data.dvx", f"dvx: 1\ntype: dir\nalgo: xxh128\noid: {manifest_oid}\nsize: 2\n"
          "nfiles: 2\n")
    result = dvx("checkout", "data")
    assert result.code == 1 and "'data.dvx' names the directory manifest" in result.stderr
    assert manifest_oid in result.stderr and "twice" in result.stderr


def test_status_of_the_repository_root_is_the_whole_repository(repo, dvx):
    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0
    (repo / "a.txt").unlink()
    result = dvx("status", ".")
    assert result.code == 0 and "a.txt: deleted" in result.stdout


def test_one_missing_object_in_symlink_mode_does_not_break_status(repo, dvx):
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "a.txt", "a")
    write(repo / "b.txt", "b")
    assert dvx("add", "a.txt", "b.txt").code == 0
    gone = xxhash.xxh3_128_hexdigest(b"a")
    obj = repo / ".dvx/cache/files/xxh128" / gone[:2] / gone[2:]
    obj.chmod(0o644)
    obj.unlink()
    status = dvx("status")
    assert status.code == 0 and "a.txt: not in cache" in status.stdout
    assert "b.txt" not in status.stdout
    refused = dvx("add", "a.txt")
    assert refused.code == 1 and "no longer in the cache" in refused.stderr


def test_an_unknown_ssh_host_is_named_with_the_remote(repo, dvx):
    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0
    assert dvx("remote", "add", "-d", "far", "ssh://no-such-host.invalid/srv/store").code == 0
    result = dvx("push")
    assert result.code == 1 and "remote 'far'" in result.stderr
    assert "host 'no-such-host.invalid' was not found" in result.stderr


def test_an_s3_endpoint_that_does_not_answer_is_named_not_the_bucket(repo, dvx):
    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0
    for args in (("remote", "add", "-d", "s3", "s3://my-bucket/proj"),
                 ("remote", "modify", "s3", "endpointurl", "http://127.0.0.1:1"),
                 ("remote", "modify", "s3", "retries", "1"),
                 ("remote", "modify", "--local", "s3", "access_key_id", "k"),
                 ("remote", "modify", "--local", "s3", "secret_access_key", "s")):
        assert dvx(*args).code == 0
    for command in ("status", "push"):
        result = dvx(command, *(["--remote"] if command == "status" else []))
        assert result.code == 1 and "127.0.0.1:1 did not accept the connection" in \
            result.stderr, result.output
        assert "my-bucket did not" not in result.stderr


def test_an_s3_endpoint_that_accepts_and_never_answers_is_said_to_have_stopped_answering(
        repo, dvx):
    import socket

    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0
    with socket.socket() as silent:  # accepts the connection (the kernel does), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        for args in (("remote", "add", "-d", "s3", "s3://my-bucket/proj"),
                     ("remote", "modify", "s3", "endpointurl", f"http://127.0.0.1:{port}"),
                     ("remote", "modify", "s3", "timeout", "1"),
                     ("remote", "modify", "--local", "s3", "access_key_id", "k"),
                     ("remote", "modify", "--local", "s3", "secret_access_key", "s")):
            assert dvx(*args).code == 0
        result = dvx("status", "--remote")
    assert result.code == 1, result.output
    assert f"127.0.0.1:{port} stopped answering (no byte moved in time)" in result.stderr
    assert "did not accept" not in result.stderr


def test_a_missing_ssh_keyfile_is_named_with_its_option(repo, dvx, tmp_path):
    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0
    assert dvx("remote", "add", "-d", "s", "ssh://user@127.0.0.1:9/srv/store").code == 0
    key = tmp_path / "no_such_key"
    assert dvx("remote", "modify", "s", "keyfile", str(key)).code == 0
    result = dvx("push")
    assert result.code == 1, result.output
    assert f"its keyfile '{key}' cannot be read (No such file or directory)" in result.stderr
    assert "Fix it with `dvx remote modify s keyfile PATH`." in result.stderr
    assert "network" not in result.stderr


def test_an_unknown_host_of_a_bucket_s_store_is_not_named_after_the_bucket():
    """s3://BUCKET names no host: without an endpointurl the client asks the cloud's own."""
    import socket

    from dvx.remote.fs import network_failure

    failure = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert network_failure(failure, "s3://bkt1/p") == (
        "the host of its storage service was not found (Name or service not known)")
    assert "'minio.lan'" in network_failure(failure, "s3://bkt1/p", "minio.lan")
    assert "'far.invalid'" in network_failure(failure, "ssh://far.invalid/p")


def test_a_full_disk_during_checkout_names_the_file_and_the_disk(small_disk, tmp_path, dvx):
    work = small_disk / "repo"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    assert dvx("init", cwd=work).code == 0
    assert dvx("config", "--local", "cache.dir", str(tmp_path / "cache"), cwd=work).code == 0
    data = os.urandom(3 << 20)
    write(work / "model.bin", data)
    assert dvx("add", "model.bin", cwd=work).code == 0
    (work / "model.bin").unlink()
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # leave well under 3 MiB free
        try:
            while True:
                f.write(b"\0" * (1 << 20))
        except OSError:
            pass
    result = dvx("checkout", cwd=work)
    assert result.code == 1 and "Traceback" not in result.output
    assert "model.bin" in result.stderr and f"mounted at {small_disk}" in result.stderr
    assert "cache/files" not in result.stderr  # the workspace's disk, not the cache object
    assert not (work / "model.bin").exists()
    filler.unlink()
    assert dvx("checkout", cwd=work).code == 0
    assert (work / "model.bin").read_bytes() == data


@pytest.mark.parametrize("command", ["add", "commit"])
def test_a_full_disk_names_what_could_not_be_written_and_its_disk(repo, dvx, command):
    from dvx.fsutil import mount_point

    write(repo / "model.bin", os.urandom(2 << 20))  # large: copied into the cache by a stream
    if command == "commit":
        assert dvx("add", "model.bin").code == 0
        (repo / "model.bin").unlink()
        write(repo / "model.bin", os.urandom(2 << 20))
    result = run_dvx_proc(command, "model.bin", cwd=repo, env={
        "DVX_FAULT": "cache.copy.after_temp_write", "DVX_FAULT_ACTION": "enospc"})
    assert result.code == 1 and result.stderr.startswith("ERROR:"), result.stderr
    assert "No space left on device" in result.stderr
    assert f"{repo / '.dvx/cache'} could not be written" in result.stderr
    assert f"mounted at {mount_point(str(repo))})" in result.stderr
    assert ".tmp" not in result.stderr


def test_a_pointer_that_cannot_be_replaced_is_named_not_its_temporary(repo, dvx):
    write(repo / "s.txt", "small")
    (repo / "s.txt.dvx" / "x").mkdir(parents=True)  # in the way of the pointer
    result = dvx("add", "s.txt")
    assert result.code == 2 and "'s.txt.dvx' is a directory" in result.stderr, result.stderr
    assert ".tmp" not in result.stderr


def test_an_unreadable_file_is_one_error_paragraph(repo):
    secret = write(repo / "secret.bin", "x")
    secret.chmod(0)
    write(repo / "d" / "a", "x").chmod(0)
    for path in ("secret.bin", "d"):  # named, or inside a directory named: the same error
        result = dvx_unprivileged(repo, "add", path)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("ERROR:") and "Usage:" not in result.stderr
        assert "permission denied" in result.stderr.lower() and path in result.stderr


def test_doctor_where_dvx_may_not_write_says_the_link_types_are_unknown(repo):
    """A cache or .dvx/tmp dvx may not write (a shared cache, another user's repository):
    the rest of the report is still given, and no link type is said not to work."""
    cache, tmp = repo / ".dvx" / "cache", repo / ".dvx" / "tmp"
    for read_only in (cache, tmp):
        for folder in (cache, tmp):
            folder.chmod(0o755)
        shutil.rmtree(cache / "tmp", ignore_errors=True)
        read_only.chmod(0o555)
        done = dvx_unprivileged(repo, "doctor")
        assert done.returncode == 0, done.stderr
        assert "dvx: " in done.stdout and f"cache: {cache}" in done.stdout
        assert "link types here: unknown (no test file could be written: " in done.stdout
        assert "copy no" not in done.stdout


def test_a_folder_on_the_way_dvx_may_not_enter_is_named_with_its_chmod_u_x(repo):
    """A folder on the way to the file to add that this user may not enter (mode 666): the
    error says it may not be entered, from the current directory, with `chmod u+x`."""
    write(repo / "sub" / "d" / "e" / "x", "x")
    (repo / "sub" / "d").chmod(0o666)
    try:
        done = dvx_unprivileged(repo / "sub", "add", "d/e/x")
    finally:
        (repo / "sub" / "d").chmod(0o755)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "ERROR: 'd' may not be entered (Permission denied). Nothing was left half-written; "
        "let dvx enter it (`chmod u+x d`, as its owner) and run the command again.\n")
    assert not (repo / "sub" / "d" / "e" / "x.dvx").exists()


def test_add_into_a_cache_folder_it_may_not_write_names_that_folder(repo, dvx):
    """A shard folder of a shared cache another user made without group write: the error
    names that folder from where the user is (in hardlink mode, linked through
    /proc/self/fd/N, it once named that) with the chmod that lets dvx write there, and the
    file stays the user's own."""
    data = write(repo / "sub" / "data.csv", "records\n")
    oid = xxhash.xxh3_128_hexdigest(b"records\n")
    shard = repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2]
    shard.mkdir(parents=True)
    shard.chmod(0o555)
    try:
        for types, here, shown in (("hardlink,copy", repo, f".dvx/cache/files/xxh128/{oid[:2]}"),
                                   ("copy", repo / "sub",
                                    f"../.dvx/cache/files/xxh128/{oid[:2]}")):
            assert dvx("config", "cache.type", types).code == 0
            done = dvx_unprivileged(here, "add", os.path.relpath(data, here))
            assert done.returncode == 1, done.stderr
            assert done.stderr == (
                f"ERROR: dvx may not write in the folder '{shown}' (Permission denied). "
                f"Nothing was left half-written; let dvx write there (`chmod u+w {shown}`, as "
                "its owner) and run the command again.\n")
            assert data.stat().st_nlink == 1 and data.stat().st_mode & stat.S_IWUSR
    finally:
        shard.chmod(0o755)


def test_a_command_started_in_a_deleted_directory_says_so(repo):
    (repo / "gone").mkdir()
    script = f"cd gone && rmdir ../gone && exec {sys.executable} -m dvx status"
    done = subprocess.run(["/bin/sh", "-c", script], cwd=repo, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("ERROR: The current directory no longer exists")
    assert "Traceback" not in done.stderr and "filesystem operation" not in done.stderr


def test_a_refused_hardlink_mode_add_leaves_every_target_as_it_was(repo, dvx):
    """In hardlink mode storing a file makes it a read-only link into the cache: an add
    refused for what a later target holds (a FIFO, an unreadable file, folder or .gitignore)
    must not have linked the earlier targets already."""
    assert dvx("config", "cache.type", "hardlink").code == 0
    write(repo / "big.bin", "big")
    write(repo / "d1" / "a", "a")
    write(repo / "d2" / "b", "b")
    os.mkfifo(repo / "d2" / "pipe")
    write(repo / "d3" / "s", "s").chmod(0)
    (repo / "d4" / "sub").mkdir(parents=True)
    (repo / "d4" / "sub").chmod(0)
    write(repo / "d5" / ".gitignore", "/x\n").chmod(0)
    for last, code, said in (("d2", 2, "'d2/pipe' is not a regular file"),
                             ("d3", 1, "'d3/s' cannot be read: permission denied"),
                             ("d4", 1, "'d4/sub' cannot be read: permission denied"),
                             ("d5", 1, "'d5/.gitignore' cannot be read: permission denied")):
        refused = dvx_unprivileged(repo, "add", "big.bin", "d1", last)
        assert refused.returncode == code, refused.stderr
        assert said in refused.stderr and "Traceback" not in refused.stderr
        for name in ("big.bin", "d1/a"):
            st = os.stat(repo / name)
            assert st.st_nlink == 1 and st.st_mode & stat.S_IWUSR, name
        assert not list(repo.glob("?*.dvx"))
    (repo / "d4" / "sub").chmod(0o755)


def test_status_reports_the_rest_and_names_an_unreadable_file_of_a_tracked_directory(repo, dvx):
    """One file dvx may not read inside one tracked directory: status still reports every
    other path, names that file at the end and exits 1; commit names it, with what to do."""
    write(repo / "d" / "a", "a")
    write(repo / "d" / "s", "s")
    write(repo / "other.bin", "other")
    assert dvx("add", "d", "other.bin").code == 0
    write(repo / "other.bin", "changed")
    (repo / "d" / "s").chmod(0)
    checked = dvx_unprivileged(repo, "status")
    assert checked.returncode == 1, checked.stderr
    assert "other.bin: modified" in checked.stdout
    assert "'d/s' cannot be read: permission denied" in checked.stderr
    assert "filesystem operation failed" not in checked.stderr
    committed = dvx_unprivileged(repo, "commit", "-f", "d")
    assert committed.returncode == 1, committed.stderr
    assert committed.stderr.startswith("ERROR: 'd/s' cannot be read: permission denied. Fix "
                                       "its permissions (`chmod u+r d/s`, as its owner)")
    assert "Traceback" not in committed.stderr
    (repo / "d" / "s").chmod(0o644)


@pytest.mark.parametrize("command", [["diff"], ["checkout"], ["checkout", "d"], ["add", "d"],
                                     ["commit", "d"], ["commit", "-f", "d"], ["pull"],
                                     ["add", "../new"]])
def test_an_unreadable_file_of_tracked_data_is_named_from_here_with_its_chmod(
        repo, dvx, tmp_path, command):
    """A file mode 000 inside a tracked folder, or a folder to add: every command reading
    that folder ends with the one paragraph status gives of it, naming the file from the
    current directory with the chmod that lets dvx read it (never an absolute path that may
    not be read or changed; moving it out of tracked data only offered when there is tracked
    data to move it out of), exit status 1, and writes nothing: the pointer as it was (none
    for the folder to add), no stopped command."""
    write(repo / "data" / "d" / "a", "a")
    write(repo / "data" / "d" / "s", "s")
    assert dvx("add", "data/d").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "data" / "d" / "a", "changed")  # something for add, commit and diff to do
    write(repo / "new" / "s", "s")
    pointer = (repo / "data" / "d.dvx").read_bytes()
    unreadable = [repo / "data" / "d" / "s", repo / "new" / "s"]
    for path in unreadable:
        path.chmod(0)
    try:
        done = dvx_unprivileged(repo / "data", *command)
    finally:
        for path in unreadable:
            path.chmod(0o644)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "ERROR: '../new/s' cannot be read: permission denied. Fix its permissions (`chmod "
        "u+r ../new/s`, as its owner), then run the command again.\n"
        if command == ["add", "../new"] else
        "ERROR: 'd/s' cannot be read: permission denied. Fix its permissions (`chmod u+r "
        "d/s`, as its owner) or move it out of the tracked directory, then run the command "
        "again.\n")
    assert (repo / "data" / "d.dvx").read_bytes() == pointer
    assert not (repo / "new.dvx").exists()
    assert (repo / "data" / "d" / "a").read_text() == "changed"
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()



@pytest.mark.parametrize("unreadable", ["d/s", "prep.py", "out/n", "metrics.json"])
def test_status_tells_a_stage_with_an_unreadable_file_cannot_be_judged_and_repro_names_it(
        repo, dvx, unreadable):
    """A file a stage reads (in a tracked folder, or a script) or writes (an output, a
    metrics file) that dvx may not read: status reports everything else, says the stage's
    state cannot be told (neither up to date nor stale), names the file at the end and exits
    1; `repro --dry` refuses naming it."""
    write(repo / "d" / "a", "a")
    write(repo / "d" / "s", "s")
    write(repo / "other.bin", "other")
    write(repo / "prep.py", "import os\nos.makedirs('out', exist_ok=True)\n"
          "open('out/n', 'w').write(str(len(os.listdir('d'))))\n"
          "open('metrics.json', 'w').write('{\"n\": 2}')\n")
    assert dvx("add", "d", "other.bin").code == 0
    assert dvx("stage", "add", "-n", "prep", "-d", "d", "-d", "prep.py", "-o", "out",
               "-m", "metrics.json", f"{sys.executable} prep.py").code == 0
    assert dvx("repro").code == 0
    write(repo / "other.bin", "changed")
    (repo / unreadable).chmod(0)
    try:
        checked = dvx_unprivileged(repo, "status")
        as_json = dvx_unprivileged(repo, "status", "--json")
        dry = dvx_unprivileged(repo, "repro", "--dry")
    finally:
        (repo / unreadable).chmod(0o644)
    assert checked.returncode == 1, checked.stderr
    assert "other.bin: modified" in checked.stdout
    assert f"prep: whether it is up to date cannot be told: '{unreadable}' cannot be read" \
        in checked.stdout
    assert f"'{unreadable}' cannot be read: permission denied. Fix its permissions" \
        in checked.stderr
    assert "may not be read or changed" not in checked.stderr + dry.stderr
    assert as_json.returncode == 1, as_json.stderr
    stage = json.loads(as_json.stdout)["stages"][0]
    assert stage["stale"] is None and stage["unknown"] is not None
    assert dry.returncode == 1
    assert dry.stderr.startswith(f"ERROR: '{unreadable}' cannot be read: permission denied.")


@pytest.mark.parametrize("ignore_file", ["data/.gitignore", ".gitignore"])
def test_an_unreadable_gitignore_is_named_by_status_and_refused_by_commit_and_add(
        repo, dvx, ignore_file):
    """A .gitignore dvx may not read (Git passes over it with a warning): status reports
    everything else, names the file with its fix and exits 1, never calling the entries
    there gone; commit and add of data whose entry it holds refuse before writing anything,
    naming it the same way, and leave no notice of a stopped command."""
    write(repo / "data" / "big.bin", "big")
    write(repo / "other.bin", "other")
    assert dvx("add", "data/big.bin", "other.bin").code == 0
    write(repo / "other.bin", "changed")
    pointer = (repo / "other.bin.dvx").read_bytes()
    (repo / ignore_file).chmod(0)
    try:
        checked = dvx_unprivileged(repo, "status")
        committed = dvx_unprivileged(repo, "commit", "data/big.bin", "other.bin")
        added = dvx_unprivileged(repo, "add", "data/big.bin", "other.bin")
        after = dvx_unprivileged(repo, "status")
    finally:
        (repo / ignore_file).chmod(0o644)
    said = f"'{ignore_file}' cannot be read: permission denied. Fix its permissions " \
        f"(`chmod u+r {ignore_file}`, as its owner), then run the command again."
    assert checked.returncode == 1, checked.stderr
    assert "other.bin: modified" in checked.stdout
    assert said in checked.stderr
    assert "entry is gone" not in checked.stdout + checked.stderr
    for refused in (committed, added):
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr == f"ERROR: {said}\n"
    assert (repo / "other.bin.dvx").read_bytes() == pointer
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert "stopped" not in after.stdout + after.stderr


def test_status_names_a_tracked_file_it_may_not_read_with_a_fix_for_a_file(repo, dvx):
    """Not inside a tracked directory: moving it out of one is no way out."""
    write(repo / "f.bin", "f")
    assert dvx("add", "f.bin").code == 0
    (repo / "f.bin").chmod(0)
    try:
        checked = dvx_unprivileged(repo, "status")
    finally:
        (repo / "f.bin").chmod(0o644)
    assert checked.returncode == 1, checked.stderr
    assert "'f.bin' cannot be read: permission denied. Fix its permissions (`chmod u+r f.bin`, " \
        "as its owner), then run the command again." in checked.stderr
    assert "tracked directory" not in checked.stderr


def test_status_warns_of_a_symlink_of_one_s_own_in_a_tracked_directory_never_lists_it_added(
        repo, dvx):
    write(repo / "d" / "a", "a")
    assert dvx("add", "d").code == 0
    (repo / "d" / "link").symlink_to("a")
    checked = dvx("status")
    assert "added: link" not in checked.stdout, checked.output
    assert "'d/link' is a symbolic link" in checked.stderr
