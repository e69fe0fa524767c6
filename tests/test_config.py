import json
import os
import subprocess
from pathlib import Path

import pytest

from dvx.config import Config, global_config_path, split_key, validate
from dvx.errors import ConfigError
from dvx.remote.backends import BACKENDS, is_secret
from tests.conftest import git, make_git_repo, run_dvx_proc, write
from tests.servers import refusing_ftp


def test_levels_merge_most_specific_last(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    dvx_dir = tmp_path / ".dvx"
    dvx_dir.mkdir()
    (tmp_path / "xdg" / "dvx").mkdir(parents=True)
    (tmp_path / "xdg" / "dvx" / "config").write_text("[cache]\ntype = copy\ndir = /g\n")
    (dvx_dir / "config").write_text("[cache]\ntype = hardlink\n")
    (dvx_dir / "config.local").write_text("[core]\nremote = mine\n")
    config = Config(str(dvx_dir))
    assert config.get("cache", "type") == "hardlink"
    assert config.get("cache", "dir") == "/g"
    assert config.get("core", "remote") == "mine"
    assert config.where("cache", "type") == "project"


def test_unknown_keys_survive_a_rewrite(tmp_path):
    dvx_dir = tmp_path / ".dvx"
    dvx_dir.mkdir()
    (dvx_dir / "config").write_text("[core]\nfuture_option = 7\n[newsection]\nx = 1\n")
    config = Config(str(dvx_dir))
    config.file("project").set("cache", "type", "copy")
    config.file("project").save()
    text = (dvx_dir / "config").read_text()
    assert "future_option = 7" in text and "[newsection]" in text and "type = copy" in text


def test_an_option_or_section_dvx_does_not_know_is_said_to_be_ignored(repo, dvx):
    """core.jobs written by hand (a remote's option) and a section of another tool: every
    command says once that they are ignored, naming the file, and what the option may have
    meant; `dvx config --unset` of the option ends the warning."""
    with open(repo / ".dvx" / "config", "a") as f:
        f.write("[core]\njobs = 4\n[state]\ndir = x\n")
    config = repo / ".dvx" / "config"
    shown = dvx("status")
    said = " ".join(shown.stderr.split())
    assert shown.code == 0 and "Traceback" not in said, shown.output
    assert said.count("core.jobs") == 2, said  # once, and once in its own --unset
    assert (f"The option core.jobs in the config file '{config}' is not one this dvx knows "
            "(jobs is an option of each remote: remote.NAME.jobs), so it is ignored") in said
    assert "`dvx config --unset core.jobs` removes it." in said, said
    assert f"The section [state] in the config file '{config}' is not one this dvx knows" in said
    assert dvx("config", "--unset", "core.jobs").code == 0
    again = " ".join(dvx("status").stderr.split())  # each command says what it finds
    assert "core.jobs" not in again and "The section [state] in the config file" in again, again
    (repo / ".dvx" / "config.local").write_text("[cache]\ntipe = copy\n")
    assert "`dvx config --local --unset cache.tipe` removes it." in " ".join(
        dvx("status").stderr.split())


def test_config_list_leaves_out_an_option_dvx_says_it_ignores(repo, dvx):
    """An option of [core] or [cache] this dvx does not know (DVC's core.checksum_jobs, a
    typo) is no option in effect, as the same run warns: `config --list` leaves it out, at any
    level and in JSON, as reading the key refuses it."""
    assert dvx("config", "cache.type", "copy").code == 0
    with open(repo / ".dvx" / "config", "a") as f:
        f.write("[core]\nchecksum_jobs = 4\n")
    (repo / ".dvx" / "config.local").write_text("[cache]\ntipe = hardlink\n")
    for args in ((), ("--json",), ("--project",), ("--local",), ("--show-origin",)):
        listed = dvx("config", "--list", *args)
        assert listed.code == 0, (args, listed.output)
        assert "checksum_jobs" not in listed.stdout and "tipe" not in listed.stdout, args
        assert "core.checksum_jobs in the config file" in listed.stderr, (args, listed.stderr)
    assert dvx("config", "--list").stdout == "cache.type=copy\n"
    assert dvx("config", "core.checksum_jobs").code == 2


def test_config_list_leaves_out_a_section_dvx_ignores_and_names_a_dotted_remote_whole(
        repo, dvx, tmp_path):
    """A section dvx keeps but ignores (DVC's [state]) is no option in effect: `config --list`
    leaves it out, at any level, instead of failing on it; a remote named with a '.' (which
    `remote add` takes) is read, set and listed as remote.my.store.KEY."""
    assert dvx("config", "cache.type", "copy").code == 0
    with open(repo / ".dvx" / "config", "a") as f:
        f.write("[state]\nrow_limit = 100\n")
    (repo / ".dvx" / "config.local").write_text("[feature]\nplots = true\n")
    for args in ((), ("--json",), ("--project",), ("--local",)):
        listed = dvx("config", "--list", *args)
        assert listed.code == 0, (args, listed.output)
        assert "row_limit" not in listed.stdout and "plots" not in listed.stdout, args
    assert dvx("config", "--list").stdout == "cache.type=copy\n"
    assert dvx("remote", "add", "-d", "my.store", str(tmp_path / "store")).code == 0
    assert dvx("config", "remote.my.store.url").stdout == f"{tmp_path / 'store'}\n"
    assert dvx("config", "remote.my.store.jobs", "4").code == 0
    assert '[remote "my.store"]' in (repo / ".dvx" / "config").read_text()
    assert "jobs = 4" in (repo / ".dvx" / "config").read_text()
    assert "remote.my.store.jobs=4" in dvx("config", "--list").stdout.splitlines()
    assert '[remote "my"]' not in (repo / ".dvx" / "config").read_text()


@pytest.mark.parametrize("key, value", [
    ("cache.type", "teleport"), ("cache.shared", "everyone"), ("core.autostage", "maybe"),
    ("core.hash", "md5"),
    ("core.lock_wait", "-1"), ("core.lock_wait", "nan"), ("core.lock_wait", "inf"),
    ("core.nonsense", "1"), ("remote.r.jobs", "-3"), ("remote.r.jobs", "2.5"),
    ("remote.r.jobs", "0"),
    ("remote.r.retries", "inf"), ("remote.r.timeout", "nan"),
])
def test_invalid_values_are_refused(key, value):
    with pytest.raises(ConfigError):
        validate(*split_key(key), value)


def test_keys_are_parsed():
    assert split_key("remote.store.url") == ('remote "store"', "url")
    assert split_key("remote.my.store.url") == ('remote "my.store"', "url")
    for key in ("remote.store", "remote..url", "remote.store.", "state.row_limit"):
        with pytest.raises(ConfigError):
            split_key(key)
    with pytest.raises(ConfigError):
        split_key("nope")


def test_unparsable_file_is_a_clear_error(tmp_path):
    dvx_dir = tmp_path / ".dvx"
    dvx_dir.mkdir()
    (dvx_dir / "config").write_text("this is not ini\n")
    with pytest.raises(ConfigError, match="Cannot parse"):
        Config(str(dvx_dir))


def test_a_config_left_with_merge_conflict_markers_says_to_resolve_the_conflict(tmp_path):
    dvx_dir = tmp_path / ".dvx"
    dvx_dir.mkdir()
    (dvx_dir / "config").write_text("<<<<<<< HEAD\n[core]\nremote = a\n=======\n[core]\n"
                                    "remote = b\n>>>>>>> other\n")
    with pytest.raises(ConfigError, match="unresolved Git merge conflict") as raised:
        Config(str(dvx_dir))
    assert "`git add`" in str(raised.value)


@pytest.mark.parametrize("conflict, line", [
    ("<<<<<<< HEAD\n[core]\nremote = a\n=======\n[core]\nremote = b\n>>>>>>> other\n", 1),
    ("[core]\nremote = a\n<<<<<<< HEAD\n[core]\nremote = b\n=======\n>>>>>>> other\n", 3),
])
def test_a_config_left_with_a_merge_conflict_is_named_so_with_how_to_resolve_it(
        repo, dvx, conflict, line):
    """A `git pull` that conflicted in .dvx/config: one sentence naming the file and the
    conflict, never the parser's repr of a marker line; Git's `git add` only for the file
    Git tracks."""
    config = repo / ".dvx" / "config"
    config.write_text(conflict)
    refused = dvx("status")
    assert refused.code != 0 and refused.stderr.count("\n") == 1, refused.output
    assert refused.stderr == (
        f"ERROR: The config file '{config}' holds an unresolved Git merge conflict: its line "
        f"{line} starts one (<<<<<<<). Edit it to keep what each side needs and delete the "
        "conflict marker lines (<<<<<<<, =======, >>>>>>>), then `git add` it.\n")
    config.write_text("")
    for untracked in (repo / ".dvx" / "config.local", Path(global_config_path())):
        write(untracked, conflict)
        refused = dvx("status")
        assert f"'{untracked}' holds an unresolved Git merge conflict" in refused.stderr
        assert refused.stderr.endswith("(<<<<<<<, =======, >>>>>>>).\n"), refused.output
        untracked.unlink()


@pytest.mark.parametrize("text, problem", [
    ("[core]\nremote = a\nfoo\n",
     "line 3 is neither a [section] header nor a `name = value` option: 'foo'."),
    ("[core]\nremote = a\x0cb\nfoo\n",  # lines are counted as the parser does: by \n only
     "line 3 is neither a [section] header nor a `name = value` option: 'foo'."),
    ("[core]\nfoo\n\tx = 1\nbar\nbaz\n",
     "line 2 is neither a [section] header nor a `name = value` option: 'foo' (and 2 more "
     "lines like it)."),
    ("remote = a\n", "line 1 comes before any [section] header: 'remote = a'."),
    ("[core\nremote = a\n", "line 1 comes before any [section] header: '[core'."),
    ("[core]\nremote = a\n[core]\n", "line 3 opens the section [core] again."),
    ("[core]\nremote = a\nremote = b\n", "line 3 sets 'remote' again in [core]."),
    ("[core]\nremote = caf\xe9\n", "line 2 is not UTF-8 text."),
    ("[core]\n\x1b]0;title\x07\n",
     "line 2 is neither a [section] header nor a `name = value` option: '\ufffd]0;title\ufffd'."),
])
def test_a_config_that_cannot_be_parsed_names_the_line_as_written(repo, dvx, text, problem):
    """Each level's file: the line at fault named as it reads, never as a Python repr
    (`'foo\\n'`), and no character of it acts on the terminal."""
    for config in (repo / ".dvx" / "config", repo / ".dvx" / "config.local",
                   Path(global_config_path())):
        before = config.read_bytes() if config.exists() else None
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_bytes(text.encode("latin-1"))
        refused = dvx("status")
        assert refused.code != 0 and refused.stderr == (
            f"ERROR: Cannot parse the config file '{config}': {problem} Fix or remove the "
            "offending line.\n"), refused.output
        if before is None:
            config.unlink()
        else:
            config.write_bytes(before)


@pytest.mark.parametrize("text, shown", [
    ('[remote "s"]\naccess_key_id = AKIAEXAMPLE\nsecret_access_key: wJalrXUtnFEMI\n',
     "line 3 is neither a [section] header nor a `name = value` option: "
     "'secret_access_key: ***'."),
    ("password = hunter2secret\n",
     "line 1 comes before any [section] header: 'password = ***'."),
    ('[remote "s"]\npassword hunter2secret\n',
     "line 2 is neither a [section] header nor a `name = value` option: 'password ***'."),
    ("remote.s.Session_Token=hunter2secret\n",
     "line 1 comes before any [section] header: 'remote.s.Session_Token=***'."),
    ('[remote "w"]\ntoken: hunter2secret\n',  # a generic fsspec remote's client option
     "line 2 is neither a [section] header nor a `name = value` option: 'token: ***'."),
])
def test_a_config_line_that_cannot_be_parsed_never_shows_a_secret_option_s_value(
        repo, dvx, text, shown):
    """A secret written with ':' or without '=' (as ~/.aws/credentials or YAML have it), or
    before any section: the line is named by its option, its value hidden, in every level."""
    for config in (repo / ".dvx" / "config.local", Path(global_config_path())):
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(text)
        refused = dvx("status")
        assert refused.code == 2 and refused.stderr == (
            f"ERROR: Cannot parse the config file '{config}': {shown} Fix or remove the "
            "offending line.\n"), refused.output
        assert "hunter2secret" not in refused.output and "wJal" not in refused.output
        config.unlink()


def test_a_core_or_cache_option_written_by_hand_that_cannot_work_names_its_file_and_fix(
        repo, dvx):
    """As for core.hash: the file that holds the bad value, and the command that sets it
    there (1e400 is read as infinity, which no wait is)."""
    (repo / "a.txt").write_text("a\n")
    with open(repo / ".dvx" / "config", "a") as f:
        f.write("[core]\nlock_wait = 1e400\n")
    refused = dvx("add", "a.txt")
    assert refused.code != 0, refused.output
    assert (f"ERROR: Invalid value '1e400' for core.lock_wait in the config file "
            f"'{repo / '.dvx' / 'config'}': expected a finite number, 0 or more. Fix it with "
            "`dvx config core.lock_wait 30`, or unset it with `dvx config --unset "
            "core.lock_wait`.\n") == refused.stderr
    assert dvx("config", "core.lock_wait", "30").code == 0  # the fix it names works
    (repo / ".dvx" / "config.local").write_text("[cache]\ntype = teleport\n")
    refused = dvx("add", "a.txt")
    assert f"for cache.type in the config file '{repo / '.dvx' / 'config.local'}'" \
           in refused.stderr, refused.output
    assert "`dvx config --local cache.type reflink,copy`" in refused.stderr
    assert dvx("config", "--local", "--unset", "cache.type").code == 0
    assert dvx("add", "a.txt").code == 0


def test_a_url_timeout_written_by_hand_that_cannot_work_names_its_file_and_fix(repo, dvx):
    """core.url_timeout as every other core option: import-url and get-url name the file
    that holds the bad value, and the command that sets it there."""
    (repo / ".dvx" / "config.local").write_text("[core]\nurl_timeout = 0\n")
    for command in ("import-url", "get-url"):
        refused = dvx(command, "https://127.0.0.1:9/x.csv")
        assert refused.code == 2 and refused.stderr == (
            f"ERROR: Invalid value '0' for core.url_timeout in the config file "
            f"'{repo / '.dvx' / 'config.local'}': expected a number of seconds, more than 0. "
            "Fix it with `dvx config --local core.url_timeout 60`, or unset it with `dvx "
            "config --local --unset core.url_timeout`.\n"), refused.output


@pytest.mark.parametrize("home", ["dev-null", "xdg-file"])
def test_a_global_config_path_through_a_file_is_no_config_as_for_git(repo, dvx, monkeypatch,
                                                                      tmp_path, home):
    """HOME=/dev/null (services, build sandboxes), or XDG_CONFIG_HOME naming a file: there
    can be no global config there, so there is none, as Git sees it for its own."""
    if home == "dev-null":
        monkeypatch.setenv("HOME", "/dev/null")
        monkeypatch.delenv("XDG_CONFIG_HOME")
    else:
        (tmp_path / "a-file").write_text("")
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "a-file"))
    (repo / "f.txt").write_text("hi\n")
    added = dvx("add", "f.txt")
    assert added.code == 0, added.output
    assert dvx("status").code == 0
    assert Config(None).get("cache", "type") is None


@pytest.mark.parametrize("problem", ["unreadable", "a-directory"])
def test_a_global_config_that_cannot_be_read_is_an_error(tmp_path, monkeypatch, problem):
    import os

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = tmp_path / "dvx" / "config"
    if problem == "a-directory":
        config.mkdir(parents=True)
    else:
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        config.parent.mkdir()
        config.write_text("[cache]\ntype = copy\n")
        config.chmod(0)
    why = r"not a regular file \(a folder\)" if problem == "a-directory" else "Permission denied"
    with pytest.raises(ConfigError, match=f"Cannot read the config file .*: {why}"):
        Config(None)


def test_a_value_is_shown_with_where_it_comes_from(repo, dvx):
    default = dvx("config", "cache.type")
    assert (default.stdout, default.stderr) == ("reflink,copy\n", "(the default)\n")
    assert dvx("config", "--local", "cache.type", "copy").code == 0
    local = dvx("config", "cache.type")
    assert (local.stdout, local.stderr) == ("copy\n", "(from .dvx/config.local)\n")
    assert dvx("config", "-q", "cache.type").stderr == ""  # scripts read stdout alone
    listed = dvx("config", "--list", "--show-origin").stdout
    assert ".dvx/config.local\tcache.type=copy" in listed.splitlines()
    assert dvx("config", "remote.nothing.retries").code == 2  # no such remote: nothing set
    assert dvx("config", "--global", "core.lock_wait", "5").code == 0
    globally = dvx("config", "--list", "--show-origin").stdout.splitlines()
    assert f"{global_config_path()}\tcore.lock_wait=5" in globally  # its file, as the others



REMOTE_TABLE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def test_a_remote_option_no_level_sets_shows_its_default_as_the_docs_give_it(repo, dvx):
    """remotes.md documents a default for each of these: `dvx config` prints it, marked as
    the default, and configuration.md's remote table names every option a remote takes."""
    assert dvx("remote", "add", "-d", "storage", str(repo.parent / "store")).code == 0
    shown = {key: dvx("config", f"remote.storage.{key}")
             for key in ("retries", "timeout", "pack_threshold", "pack_size")}
    assert {key: (run.code, run.stdout, run.stderr) for key, run in shown.items()} == {
        "retries": (0, "5\n", "(the default)\n"), "timeout": (0, "60\n", "(the default)\n"),
        "pack_threshold": (0, "1048576\n", "(the default)\n"),
        "pack_size": (0, "16777216\n", "(the default)\n")}
    text = REMOTE_TABLE.read_text(encoding="utf-8")
    section = text[text.index('### `remote "NAME"`'):text.index("## File syntax")]
    rows = {cells[1].strip(" `"): (cells[2], cells[3].strip()) for cells in
            (line.split("|") for line in section.splitlines() if line.startswith("| `remote."))}
    for key, run in shown.items():
        assert rows[f"remote.NAME.{key}"][1].startswith(run.stdout.strip()), key
    options = {option for backend in BACKENDS for option in backend.all_options()}
    assert [o for o in sorted(options) if f"remote.NAME.{o}" not in rows
            and f"`{o}`" not in rows["remote.NAME.*"][0]] == []


def test_a_config_an_editor_began_with_a_byte_order_mark_is_read_and_rewritten(repo, dvx):
    """Windows' Notepad saves a byte order mark first, which Git skips in its own config."""
    config = repo / ".dvx" / "config"
    config.write_bytes(b"\xef\xbb\xbf[cache]\r\ntype = copy\r\n")
    assert dvx("config", "cache.type").stdout == "copy\n"
    assert dvx("status").code == 0
    assert dvx("config", "core.autostage", "true").code == 0  # rewritten without the mark
    assert dvx("config", "--list").stdout.splitlines() == ["cache.type=copy",
                                                           "core.autostage=true"]


def test_json_prints_one_value_read_and_is_refused_with_a_value_to_write(repo, dvx):
    assert json.loads(dvx("config", "--json", "cache.type").stdout) == {
        "key": "cache.type", "value": "reflink,copy", "level": "default", "origin": "default"}
    assert dvx("config", "--local", "cache.type", "copy").code == 0
    local = dvx("config", "cache.type", "--json")
    assert json.loads(local.stdout) == {"key": "cache.type", "value": "copy", "level": "local",
                                        "origin": ".dvx/config.local"} and local.stderr == ""
    for args in (("cache.type", "hardlink"), ("--unset", "cache.type")):
        refused = dvx("config", "--json", *args)
        assert refused.code == 2 and "--json" in refused.stderr, refused.output
    assert "copy" in (repo / ".dvx" / "config.local").read_text()

def test_u_unsets_anywhere_and_other_options_are_refused_not_stored_as_values(repo, dvx):
    """-u is --unset, as in DVC; `--system` (DVC has it, dvx does not) or a mistyped option
    is refused by name instead of becoming the VALUE; -5 and -1e-3 stay values."""
    assert dvx("config", "core.lock_wait", "7").code == 0
    assert dvx("config", "core.autostage", "true").code == 0
    assert dvx("config", "core.lock_wait", "-u").code == 0
    assert dvx("config", "-u", "core.autostage").code == 0
    config = (repo / ".dvx" / "config").read_text()
    assert "lock_wait" not in config and "autostage" not in config
    for args in (("core.remote", "--system"), ("--system", "core.remote", "x"),
                 ("core.remote", "-x")):
        refused = dvx("config", *args)
        word = next(a for a in args if a.startswith("-"))
        assert refused.code == 2 and f"No such option '{word}'" in refused.stderr, refused.output
    for number in ("-5", "-1e-3"):
        negative = dvx("config", "core.lock_wait", number)
        assert negative.code == 2 and f"Invalid value '{number}'" in negative.stderr
    assert (repo / ".dvx" / "config").read_text() == config


def test_setting_an_outside_cache_dir_here_confirms_it_for_this_clone_only(repo, dvx, tmp_path):
    shared = tmp_path / "shared-cache"
    result = dvx("config", "cache.dir", str(shared))
    assert result.code == 0 and "config.local" in result.stderr
    assert f"dir = {shared}" in (repo / ".dvx" / "config").read_text()
    assert f"dir = {shared}" in (repo / ".dvx" / "config.local").read_text()
    (repo / "x.txt").write_text("x")
    assert dvx("add", "x.txt").code == 0
    assert any((shared / "files").rglob("*"))


def test_an_outside_cache_dir_whose_tracked_write_fails_is_left_unset_in_both_configs(
        repo, dvx_proc, tmp_path):
    """The confirmation in config.local is written first, then .dvx/config: a failure
    writing the tracked one (a full disk) takes the confirmation back, so this clone does
    not use a cache the project does not name."""
    shared = tmp_path / "shared-cache"
    tracked = (repo / ".dvx" / "config").read_text()
    failed = dvx_proc("config", "cache.dir", str(shared), cwd=repo,
                      env={"DVX_FAULT": "atomic_write.before_rename:2",
                           "DVX_FAULT_ACTION": "enospc"})
    assert failed.code == 1 and "Nothing was left half-written" in failed.stderr, failed.stderr
    assert not (repo / ".dvx" / "config.local").exists()
    assert (repo / ".dvx" / "config").read_text() == tracked


def test_moving_the_cache_names_the_objects_left_behind_and_how_to_bring_them(repo, dvx,
                                                                              tmp_path):
    shared = tmp_path / "shared-cache"
    assert "old cache" not in dvx("config", "--local", "cache.dir", str(shared)).stderr
    assert dvx("config", "--local", "--unset", "cache.dir").code == 0  # it was empty
    (repo / "x.txt").write_text("mine, not pushed")
    assert dvx("add", "x.txt").code == 0
    moved = dvx("config", "--local", "cache.dir", str(shared))
    assert moved.code == 0
    old = repo / ".dvx" / "cache"
    assert f"The old cache at {old} holds 1 object that the new cache at {shared}" in (
        moved.stderr)
    assert "Nothing was deleted" in moved.stderr and "set cache.dir back" in moved.stderr
    assert "not in cache" in dvx("status").stdout
    copy = moved.stderr.split("new one (`")[1].split("`")[0]  # the cp command it suggests
    subprocess.run(copy, shell=True, check=True)
    assert dvx("status", "-q").code == 0
    assert "old cache" not in dvx("config", "--local", "cache.dir", str(shared)).stderr


def test_confirming_a_teammate_s_cache_dir_names_the_objects_left_in_the_default_cache(
        repo, dvx, tmp_path):
    """A cache.dir a teammate committed is used by no command until this clone confirms it,
    so what was added before it came is in .dvx/cache, which confirming it leaves behind."""
    (repo / "x.txt").write_text("mine, not pushed")
    assert dvx("add", "x.txt").code == 0
    shared = tmp_path / "team-cache"
    tracked = repo / ".dvx" / "config"
    tracked.write_text(tracked.read_text() + f"[cache]\ndir = {shared}\n")  # as a pull brings it
    confirmed = dvx("config", "--local", "cache.dir", str(shared))
    assert confirmed.code == 0, confirmed.output
    old = repo / ".dvx" / "cache"
    assert f"The old cache at {old} holds 1 object that the new cache at {shared}" in (
        confirmed.stderr)
    copy = confirmed.stderr.split("new one (`")[1].split("`")[0]
    subprocess.run(copy, shell=True, check=True, cwd=repo)
    assert dvx("status", "-q").code == 0


def test_confirming_a_teammate_s_cache_dir_names_the_objects_left_in_the_global_one(
        repo, dvx, tmp_path):
    """The tracked config's cache.dir overrides the global one, which was the cache in use
    until it came: confirming it leaves behind what only the global cache holds."""
    mine = tmp_path / "my-cache"
    assert dvx("config", "--global", "cache.dir", str(mine)).code == 0
    (repo / "x.txt").write_text("mine, not pushed")
    assert dvx("add", "x.txt").code == 0
    shared = tmp_path / "team-cache"
    tracked = repo / ".dvx" / "config"
    tracked.write_text(tracked.read_text() + f"[cache]\ndir = {shared}\n")  # as a pull brings it
    confirmed = dvx("config", "--local", "cache.dir", str(shared))
    assert confirmed.code == 0, confirmed.output
    assert f"The old cache at {mine} holds 1 object that the new cache at {shared}" in (
        confirmed.stderr)


def test_the_command_that_brings_objects_left_behind_quotes_its_paths(repo, dvx, tmp_path):
    """A space in the new cache's path would copy the objects into folders of the workspace
    (where `git add -A` commits them), and a `;` would run the rest as a command."""
    (repo / "x.txt").write_text("mine, not pushed")
    assert dvx("add", "x.txt").code == 0
    shared = tmp_path / "team cache; touch ran"
    moved = dvx("config", "--local", "cache.dir", str(shared))
    assert moved.code == 0, moved.output
    copy = moved.stderr.split("new one (`")[1].split("`")[0]
    subprocess.run(copy, shell=True, check=True, cwd=repo)
    assert not (repo / "ran").exists() and not (repo / "team").exists()
    assert len([p for p in (shared / "files").rglob("*") if p.is_file()]) == 1
    assert dvx("status", "-q").code == 0


def test_cache_dir_is_refused_in_the_git_directory_and_where_git_sees_it(repo, dvx):
    """Git ignores only dvx's own folders in .dvx/: a cache anywhere else in the workspace,
    .dvx/ itself included, would have `git add -A` commit the data."""
    for value, words in (("../.git/objects-of-dvx", "leads into the Git directory"),
                         ("..", "leads into the workspace"), ("../data", "the workspace"),
                         ("mycache", "outside .dvx/cache"), ("tmp", "outside .dvx/cache"),
                         (".", "outside .dvx/cache")):
        refused = dvx("config", "cache.dir", value)
        assert refused.code == 2 and words in refused.stderr, refused.output
        assert "dir" not in (repo / ".dvx" / "config").read_text()
    tracked = (repo / ".dvx" / "config").read_text()
    (repo / ".dvx" / "config").write_text(tracked + "[cache]\ndir = mycache\n")  # by hand
    (repo / "x.txt").write_text("x")
    by_hand = dvx("add", "x.txt")
    assert by_hand.code == 2 and "outside .dvx/cache" in by_hand.stderr, by_hand.output
    assert not (repo / ".dvx" / "mycache").exists()
    (repo / ".dvx" / "config").write_text(tracked)
    assert dvx("config", "cache.dir", "cache/objects").code == 0  # in .dvx/cache: ignored
    assert dvx("add", "x.txt").code == 0
    assert any((repo / ".dvx" / "cache" / "objects" / "files").rglob("*"))
    seen = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", ".dvx"],
                          cwd=repo, capture_output=True, text=True, check=True).stdout
    assert sorted(seen.splitlines()) == ["?? .dvx/.gitignore", "?? .dvx/config"]


def test_a_relative_cache_dir_is_refused_in_the_global_config(repo, dvx, tmp_path):
    """The global config applies to every repository: a relative path would name a folder
    in each repository's .dvx/, never one cache. Set, it is refused; written by hand, every
    command that uses the cache refuses it in the same words, naming the file, and the
    command that mends it works; one that does not use the cache runs."""
    write(repo / "x.txt", "x")
    refused = dvx("config", "--global", "cache.dir", "mycache")
    why = (f"ERROR: cache.dir 'mycache' is a relative path, which the global config "
           f"('{global_config_path()}') does not take: it applies to every repository, so a "
           "relative path names no one folder. Give an absolute path (`dvx config --global "
           "cache.dir /PATH`, `~` is expanded)")
    assert refused.code == 2 and " ".join(refused.stderr.split()) == f"{why}.", refused.output
    assert not Path(global_config_path()).exists() or \
        "mycache" not in Path(global_config_path()).read_text()
    write(Path(global_config_path()), "[cache]\ndir = mycache\n")  # by hand
    added = dvx("add", "x.txt")
    assert added.code == 2 and " ".join(added.stderr.split()) == (
        f"{why}, or remove it with `dvx config --global --unset cache.dir`."), added.output
    assert dvx("remote", "list").code == 0
    assert not (repo / ".dvx" / "mycache").exists() and not (repo / "x.txt.dvx").exists()
    assert dvx("config", "--global", "--unset", "cache.dir").code == 0  # as the hint says
    assert dvx("add", "x.txt").code == 0
    assert dvx("config", "--global", "cache.dir", "~/dvx-cache").code == 0  # `~`: absolute


def test_a_cache_dir_leading_into_the_workspace_names_the_config_that_sets_it(repo, dvx,
                                                                           tmp_path):
    """The way out a refusal names works: unsetting it where it is set, and replacing a
    symbolic link only where one leads there."""
    write(repo / "x.txt", "x")
    refused = dvx("config", "--global", "cache.dir", str(repo / "data"))
    assert refused.code == 2 and refused.stderr.endswith(
        "Name a folder outside the repository (`dvx config --global --unset cache.dir` for the "
        "default).\n"), refused.output  # a global one is never in .dvx/cache, every repository's
    write(Path(global_config_path()), f"[cache]\ndir = {repo / 'data'}\n")  # by hand
    refused = dvx("add", "x.txt")
    assert refused.code == 2 and "leads into the workspace" in refused.stderr, refused.output
    assert "`dvx config --global --unset cache.dir`" in refused.stderr
    assert "symbolic link" not in refused.stderr and "or in .dvx/cache" not in refused.stderr
    assert dvx("config", "--global", "--unset", "cache.dir").code == 0
    (tmp_path / "elsewhere").symlink_to(repo / "data", target_is_directory=True)
    assert dvx("config", "--local", "cache.dir", str(tmp_path / "elsewhere")).code == 2
    write(repo / ".dvx" / "config.local", f"[cache]\ndir = {tmp_path / 'elsewhere'}\n")
    linked = dvx("add", "x.txt")
    assert linked.code == 2 and "`dvx config --local --unset cache.dir`" in linked.stderr
    assert "replace the symbolic link" in linked.stderr, linked.output
    assert dvx("config", "--local", "--unset", "cache.dir").code == 0
    assert dvx("add", "x.txt").code == 0


def test_a_cache_dir_that_is_no_folder_is_refused_when_set(repo, dvx, tmp_path):
    """No cache can be made there, and every command after it would fail: refused before it
    is written down, at every level (the global one inside a repository or outside any). A
    folder not made yet is fine: the cache makes it."""
    write(repo / "x.txt", "x")
    assert dvx("add", "x.txt").code == 0
    afile = write(tmp_path / "afile", "not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    outside = tmp_path / "outside"
    outside.mkdir()
    for value, words in ((afile, "is a file, not a folder"),
                         (afile / "sub", f"leads through {afile}, which is a file"),
                         (tmp_path / "dangling", "is a symbolic link to nothing")):
        for level, cwd in (("--local", repo), ("--project", repo), ("--global", repo),
                           ("--global", outside)):
            refused = dvx("config", level, "cache.dir", str(value), cwd=cwd)
            assert refused.code == 2 and words in refused.stderr, refused.output
            assert "mkdir" not in refused.output
            unset = "dvx config --unset" if level == "--project" else f"dvx config {level} --unset"
            assert f"`{unset} cache.dir` for the default" in refused.stderr, refused.output
    assert not Path(global_config_path()).exists()
    assert "dir" not in (repo / ".dvx" / "config").read_text()
    assert not (repo / ".dvx" / "config.local").exists() or \
        "dir" not in (repo / ".dvx" / "config.local").read_text()
    assert dvx("status", "-q").code == 0
    assert dvx("config", "--local", "cache.dir", str(tmp_path / "new" / "cache")).code == 0
    assert dvx("add", "x.txt").code == 0 and (tmp_path / "new" / "cache" / "files").is_dir()


def test_remote_jobs_0_is_refused_as_j_0_is(repo, dvx, tmp_path):
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push", "-j", "0").code == 2
    for args in (("remote", "modify", "store", "jobs", "0"), ("config", "remote.store.jobs", "0")):
        refused = dvx(*args)
        assert refused.code == 2 and "1 to 65536" in refused.stderr, refused.output
    assert "jobs =" not in (repo / ".dvx" / "config").read_text()
    assert dvx("remote", "modify", "store", "jobs", "1").code == 0


def test_cache_dir_in_another_repositorys_work_tree_is_refused_unless_ignored(repo, dvx,
                                                                            tmp_path):
    """Another repository's `git add -A` would commit the objects, as this one's would: its
    work tree (unless Git ignores the folder there) and its Git directory are refused, when
    set and when a config written by hand names them."""
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", str(other))
    for value, words in ((other / "objects", "the work tree of another Git repository"),
                         (other / ".git" / "cache", "leads into the Git directory")):
        refused = dvx("config", "--local", "cache.dir", str(value))
        assert refused.code == 2 and words in refused.stderr, refused.output
    (repo / "x.txt").write_text("x")
    with open(repo / ".dvx" / "config.local", "a") as f:
        f.write(f"[cache]\ndir = {other / 'objects'}\n")
    by_hand = dvx("add", "x.txt")
    assert by_hand.code == 2 and "does not ignore it" in by_hand.stderr, by_hand.output
    assert not (other / "objects").exists()

    (other / ".gitignore").write_text("objects/\n")
    assert dvx("add", "x.txt").code == 0 and any((other / "objects").rglob("*"))
    assert git(other, "status", "--porcelain", "--untracked-files=all") == "?? .gitignore\n"


def test_a_global_cache_dir_where_another_git_sees_it_is_refused_and_its_hint_unsets_it(
        repo, dvx, tmp_path):
    """The global cache.dir, which every repository reads, is refused as the others are
    where Git would see every object (a dotfiles repository at ~/.config, a .git), inside a
    repository or outside any; one written there by hand is refused where it is used, with
    the command that unsets it at the global level, which then works."""
    dotfiles = make_git_repo(Path(global_config_path()).parent.parent)
    for value, cwd in ((dotfiles / "dvxcache", repo), (repo / ".git" / "c", repo),
                       (dotfiles / "dvxcache", tmp_path)):
        refused = dvx("config", "--global", "cache.dir", str(value), cwd=cwd)
        assert refused.code == 2 and "`dvx config --global --unset cache.dir` for the " \
            "default" in refused.stderr, refused.output
        assert not Path(global_config_path()).exists()
    (repo / "x.txt").write_text("x")
    Path(global_config_path()).parent.mkdir(parents=True)
    Path(global_config_path()).write_text(f"[cache]\ndir = {dotfiles / 'dvxcache'}\n")
    by_hand = dvx("add", "x.txt")
    assert by_hand.code == 2 and "does not ignore it" in by_hand.stderr and \
        "(`dvx config --global --unset cache.dir` for the default)" in by_hand.stderr, \
        by_hand.output
    assert dvx("config", "--global", "--unset", "cache.dir").code == 0
    assert dvx("add", "x.txt").code == 0 and not (dotfiles / "dvxcache").exists()


def test_core_remote_must_name_a_remote_and_numbers_are_numbers(repo, dvx):
    unknown = dvx("config", "core.remote", "nosuch")
    assert unknown.code == 2 and "no remote called 'nosuch'" in unknown.stderr
    assert dvx("remote", "add", "store", "/tmp/store-of-a-test").code == 0
    assert dvx("config", "core.remote", "store").code == 0
    word = dvx("config", "core.lock_wait", "abc")
    assert word.code == 2 and "expected a number" in word.stderr and "float" not in word.stderr
    for option in ("jobs", "retries"):  # `²` is a digit to Python's isdigit(), not to int()
        sign = dvx("config", f"remote.store.{option}", "²")
        assert sign.code == 2 and "expected a whole number" in sign.stderr, sign.output
        assert "int()" not in sign.stderr
    (repo / "a.txt").write_text("a\n")
    assert dvx("add", "a.txt").code == 0
    (repo / ".dvx" / "config.local").write_text('[remote "store"]\njobs = ²\n')  # by hand
    pushed = dvx("push")
    assert pushed.code != 0 and "expected a whole number" in pushed.stderr, pushed.output
    assert "int()" not in pushed.stderr


def test_an_invalid_value_written_by_hand_stops_a_command_before_it_writes(repo, dvx):
    """core.autostage is used at the end of add, commit, move, remove, import and repro: read
    before anything; commands that never stage files in Git do not read it."""
    (repo / "a.txt").write_text("a\n")
    with open(repo / ".dvx" / "config", "a") as f:
        f.write("[core]\nautostage = maybe\n")
    refused = dvx("add", "a.txt")
    assert refused.code == 2 and "core.autostage" in refused.stderr, refused.output
    assert not (repo / "a.txt.dvx").exists() and not (repo / ".gitignore").exists()
    for unaffected in (("status",), ("checkout",), ("gc", "-w", "-f")):  # never stage in Git
        assert dvx(*unaffected).code == 0, unaffected


def test_an_invalid_core_fsync_stops_a_writing_command_before_it_takes_the_lock(repo, dvx):
    """core.fsync is read by every write: read when the lock is asked for, an invalid value
    stops the command before it changes anything, and no later status names it as cut
    short."""
    (repo / "a.txt").write_text("a\n")
    with open(repo / ".dvx" / "config", "a") as f:
        f.write("[core]\nfsync = 2\n")
    refused = dvx("add", "a.txt")
    assert refused.code == 2 and "core.fsync" in refused.stderr, refused.output
    assert "half-changed" not in refused.stderr
    assert not (repo / "a.txt.dvx").exists() and not (repo / ".gitignore").exists()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    status = dvx("status")
    assert "ended by an error" not in status.output, status.output


def test_a_core_hash_written_by_hand_that_names_no_algorithm_is_refused_naming_the_file(
        repo, dvx):
    """A typo (`XXH128`) is not another algorithm: every pointer and dvx.lock would look
    hashed with the wrong one, and `dvx repro --force` be advised for a typo."""
    (repo / "a.txt").write_text("hello\n")
    assert dvx("add", "a.txt").code == 0
    with open(repo / ".dvx" / "config", "a") as f:
        f.write("[core]\nhash = XXH128\n")
    for command in (("status",), ("fsck",), ("checkout",), ("add", "a.txt")):
        refused = dvx(*command)
        assert refused.code == 2, (command, refused.output)
        assert (f"Invalid value 'XXH128' for core.hash in the config file "
                f"'{repo / '.dvx' / 'config'}': expected one of sha256, xxh128."
                in refused.stderr), refused.output
        assert "repro --force" not in refused.stderr and "pointer" not in refused.stderr
    doctor = dvx("doctor")
    assert doctor.code == 0 and "core.hash: not valid" in doctor.stdout
    assert "WARNING: The hash algorithm: Invalid value 'XXH128'" in doctor.stderr
    assert dvx("config", "core.hash", "xxh128").code == 0  # the fix it names works
    assert dvx("status", "-q").code == 0


def test_fsck_names_the_objects_of_another_algorithm_it_does_not_check(repo, dvx):
    (repo / "a.txt").write_text("hello\n")
    assert dvx("add", "a.txt").code == 0
    assert dvx("config", "core.hash", "sha256").code == 0
    fsck = dvx("fsck")
    assert fsck.code == 0 and "Checked 0 objects in the cache: 0 corrupt." in fsck.stdout
    assert ("Not checked: 1 object of the cache hashed with xxh128. This repository hashes "
            "with sha256 (core.hash)" in fsck.stderr), fsck.output
    assert "`dvx config core.hash xxh128`" in fsck.stderr
    assert json.loads(dvx("fsck", "--json").stdout)["other_algorithms"] == {"xxh128": 1}


def test_a_tracked_config_that_is_a_symbolic_link_is_refused_and_never_copied(repo, dvx,
                                                                              tmp_path):
    elsewhere = tmp_path / "elsewhere.cfg"
    elsewhere.write_text('[core]\nremote = x\n[remote "x"]\nurl = /tmp/store-of-a-test\n')
    config = repo / ".dvx" / "config"
    config.unlink()
    config.symlink_to(elsewhere)
    for command in (("remote", "list"), ("config", "core.autostage", "true"), ("status",)):
        refused = dvx(*command)
        assert refused.code == 2 and "is a symbolic link" in refused.stderr, command
    assert config.is_symlink() and "autostage" not in elsewhere.read_text()


def test_a_global_or_local_config_that_is_a_symbolic_link_is_written_through_it(
        repo, dvx, tmp_path):
    """As Git writes a symlinked ~/.gitconfig: the link stays, its target (a dotfiles
    checkout) gets the setting, whole (written atomically beside it), with its permissions;
    a link to no file yet makes that file. The tracked .dvx/config stays refused."""
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    mine = dotfiles / "dvx-config"
    mine.write_text("[core]\nlock_wait = 10\n")
    mine.chmod(0o600)
    link = Path(global_config_path())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(mine, link.parent))
    assert dvx("config", "--global", "core.lock_wait").stdout == "10\n"
    assert dvx("config", "--global", "core.autostage", "true").code == 0
    assert link.is_symlink() and oct(mine.stat().st_mode & 0o777) == "0o600"
    assert mine.read_text() == "[core]\nlock_wait = 10\nautostage = true\n\n"
    local = repo / ".dvx" / "config.local"
    local.symlink_to(dotfiles / "local-cfg")  # nothing there yet
    assert dvx("remote", "add", "--local", "-d", "mine", str(tmp_path / "store")).code == 0
    assert local.is_symlink() and "[remote \"mine\"]" in (dotfiles / "local-cfg").read_text()
    assert dvx("remote", "modify", "--local", "mine", "jobs", "3").code == 0
    assert local.is_symlink() and "jobs = 3" in (dotfiles / "local-cfg").read_text()
    assert dvx("config", "remote.mine.jobs").stdout == "3\n"
    assert sorted(p.name for p in dotfiles.iterdir()) == ["dvx-config", "local-cfg"]
    assert not [p for p in local.parent.iterdir() if p.name.endswith(".tmp")]
    local.unlink()
    local.symlink_to(tmp_path / "no-such-folder" / "cfg")
    refused = dvx("config", "--local", "core.autostage", "true")
    assert refused.code == 2 and "is a symbolic link to" in refused.stderr, refused.output
    assert local.is_symlink() and not (tmp_path / "no-such-folder").exists()


def test_a_global_config_in_a_linked_folder_not_made_yet_is_one_clear_error(dvx, tmp_path):
    """GNU stow's ~/.config/dvx linked to a dotfiles folder not made yet: every write of the
    global config is refused in one paragraph, as a link to a file in no folder is, and
    nothing is made; once the folder is there, it is written through the link."""
    folder = Path(global_config_path()).parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    folder.symlink_to(dotfiles / "dvx", target_is_directory=True)
    for command in (("config", "--global", "core.autostage", "true"),
                    ("remote", "add", "--global", "s", str(tmp_path / "store"))):
        refused = dvx(*command, cwd=tmp_path)
        assert refused.code == 2 and refused.stderr == (
            f"ERROR: The config file '{folder / 'config'}' is in '{folder}', a symbolic link "
            f"to '{dotfiles / 'dvx'}', which is no folder that exists, so nothing was "
            "written. Create that folder, or point the link at one.\n"), refused.output
    assert folder.is_symlink() and list(dotfiles.iterdir()) == []
    (dotfiles / "dvx").mkdir()
    assert dvx("config", "--global", "core.autostage", "true", cwd=tmp_path).code == 0
    assert "autostage = true" in (dotfiles / "dvx" / "config").read_text()


def test_a_linked_config_local_is_never_written_where_git_add_would_take_it(repo, dvx,
                                                                         tmp_path):
    """config.local written through its link: the file the link leads to holds the clone's
    credentials, so one that `git add -A` would stage (a settings file in the work tree) is
    refused, and nothing is written; one Git ignores is written."""
    local = repo / ".dvx" / "config.local"
    local.symlink_to(os.path.join("..", "settings.ini"))
    assert dvx("remote", "add", "s3r", "s3://bucket/path").code == 0
    refused = dvx("remote", "modify", "--local", "s3r", "secret_access_key", "SECRET1")
    assert refused.code == 2, refused.output
    assert refused.stderr.startswith(
        f"ERROR: dvx wrote nothing to .dvx/config.local, a symbolic link to "
        f"'{repo / 'settings.ini'}': Git would not ignore that file"), refused.stderr
    assert not (repo / "settings.ini").exists() and local.is_symlink()
    (repo / ".gitignore").write_text("/settings.ini\n")
    assert dvx("remote", "modify", "--local", "s3r", "secret_access_key", "SECRET1").code == 0
    assert "SECRET1" in (repo / "settings.ini").read_text()
    git(repo, "add", "-A")
    assert "settings.ini" not in git(repo, "ls-files")


@pytest.mark.parametrize("option, secret", [
    ("token", True), ("client_secret", True), ("auth", True), ("private_key", True),
    ("passphrase", True), ("Session_Token", True), ("connection_string", True),
    ("keyfile", False), ("key_filename", False), ("credentialpath", False),
    ("access_key_id", False), ("user", False), ("endpointurl", False),
    ("apikey", True), ("api_key", True), ("apiKey", True), ("client_credentials", True),
    ("auth_url", False), ("auth_type", False), ("auth_method", False), ("token_version", False),
    ("key_file", False), ("token_path", False), ("look_for_keys", False), ("keys", False),
    ("monkeypatch", False), ("authority", False), ("tokenizer", False),
])
def test_a_remote_option_is_a_secret_by_its_name_whatever_the_kind_of_remote(option, secret):
    assert is_secret(option) is secret


def test_an_option_whose_name_only_contains_a_secret_word_is_shown_and_kept_as_given(repo,
                                                                                    dvx):
    """A webdav remote's `auth_url` (where to log in) and an sftp client's `look_for_keys`
    are no credentials: they read back as written, a dotfiles global config takes them, and
    the notice says why they go to .dvx/config.local (a client option), not that they are
    secrets."""
    make_git_repo(Path(global_config_path()).parent.parent)  # ~/.config: a dotfiles repository
    assert dvx("remote", "add", "--global", "w", "webdav://host/x").code == 0
    kept = dvx("remote", "modify", "--global", "w", "auth_url", "https://login.example/")
    assert kept.code == 0, kept.output
    assert "https://login.example/" in Path(global_config_path()).read_text()
    assert dvx("remote", "add", "wd", "webdav://host/x").code == 0
    moved = dvx("remote", "modify", "wd", "look_for_keys", "false")
    assert moved.code == 0, moved.output
    assert "is a secret" not in moved.output
    assert "'look_for_keys' goes to the client of its kind of remote" in moved.output
    assert dvx("config", "remote.wd.look_for_keys").stdout == "false\n"
    assert dvx("config", "remote.w.auth_url").stdout == "https://login.example/\n"
    assert "remote.wd.look_for_keys=false\n" in dvx("config", "--list").stdout


def test_a_generic_remote_s_credential_options_are_never_shown_nor_put_where_git_takes_them(
        repo, dvx):
    """A webhdfs or webdav remote's `token`, `client_secret`, `auth`: secrets as a password
    is, though no named kind of remote has them."""
    make_git_repo(Path(global_config_path()).parent.parent)  # ~/.config: a dotfiles repository
    assert dvx("remote", "add", "--global", "w", "webhdfs://host/x").code == 0
    refused = dvx("remote", "modify", "--global", "w", "token", "SEKRIT1")
    assert refused.code == 2 and "it would hold credentials (remote.w.token)" in \
        refused.stderr, refused.output
    assert "SEKRIT1" not in Path(global_config_path()).read_text()
    assert dvx("remote", "add", "wd", "webdav://host/x").code == 0
    for option in ("client_secret", "token", "auth"):
        assert dvx("remote", "modify", "wd", option, f"SEKRIT-{option}").code == 0
    listed = dvx("config", "--list")
    assert "remote.wd.token=***\n" in listed.stdout and "SEKRIT" not in listed.output
    assert "SEKRIT" not in dvx("config", "--list", "--json").output
    shown = dvx("config", "remote.wd.client_secret")
    assert shown.stdout == "***\n" and "SEKRIT" not in shown.output
    refused = dvx("remote", "modify", "wd", "token", " SEKPAD")
    assert refused.code == 2 and refused.stderr.startswith(
        'ERROR: Invalid value *** for remote "wd".token: '), refused.output
    assert "SEKPAD" not in refused.output


def test_a_linked_global_config_is_never_written_where_git_add_would_take_it(repo, dvx,
                                                                           tmp_path):
    """The global config linked into a dotfiles checkout whose Git tracks the file: a
    setting with no credential is written there, as dotfiles are for sharing; a credential
    would be committed with the next `git add -A`, so that write is refused and nothing is
    written; a link to a file that Git ignores takes it."""
    dotfiles = tmp_path / "dotfiles"
    make_git_repo(dotfiles)
    mine = dotfiles / "dvx-config"
    mine.write_text("[core]\n")
    git(dotfiles, "add", "-A")
    git(dotfiles, "commit", "-qm", "dot")
    link = Path(global_config_path())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(mine)
    assert dvx("remote", "add", "--global", "s3g", "s3://bucket/g").code == 0
    shared = mine.read_text()
    assert "s3://bucket/g" in shared and link.is_symlink()
    refused = dvx("remote", "modify", "--global", "s3g", "secret_access_key", "SECRET1")
    assert refused.code == 2 and refused.stderr.startswith(
        f"ERROR: dvx wrote nothing to {link}, a symbolic link to '{mine}': it would hold "
        "credentials (remote.s3g.secret_access_key) and Git would not ignore that file"), \
        refused.output
    assert mine.read_text() == shared and link.is_symlink()
    (dotfiles / ".gitignore").write_text("/private-dvx-config\n")
    link.unlink()
    link.symlink_to(dotfiles / "private-dvx-config")
    assert dvx("remote", "add", "--global", "s3g", "s3://bucket/g").code == 0
    assert dvx("remote", "modify", "--global", "s3g", "secret_access_key", "SECRET1").code == 0
    assert "SECRET1" in (dotfiles / "private-dvx-config").read_text()


def test_a_linked_config_is_never_written_into_a_file_git_tracks_though_a_rule_ignores_it(
        repo, dvx, tmp_path):
    """The dotfiles pattern `*` in .gitignore, each file added with `git add -f`: Git tracks
    the files a rule ignores, so `git commit -a` there would commit a credential written into
    one. config.local and the global config linked to such a file are refused, unwritten."""
    dotfiles = tmp_path / "dotfiles"
    make_git_repo(dotfiles)
    (dotfiles / ".gitignore").write_text("*\n")
    (dotfiles / "dvx-local").write_text("# my dvx local settings\n")
    (dotfiles / "dvx-global").write_text("[core]\nautostage = false\n")
    git(dotfiles, "add", "-f", ".gitignore", "dvx-local", "dvx-global")
    git(dotfiles, "commit", "-qm", "dot")
    assert dvx("remote", "add", "-d", "h", "https://example.com/store").code == 0
    local = repo / ".dvx" / "config.local"
    local.symlink_to(dotfiles / "dvx-local")
    refused = dvx("remote", "modify", "h", "password", "hunter2")
    assert refused.code == 2 and refused.stderr.startswith(
        f"ERROR: dvx wrote nothing to .dvx/config.local, a symbolic link to "
        f"'{dotfiles / 'dvx-local'}': Git would not ignore that file (Git tracks it)"), \
        refused.output
    link = Path(global_config_path())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(dotfiles / "dvx-global")
    refused = dvx("remote", "add", "--global", "g", "https://bob:hunter3@example.com/g")
    assert refused.code == 2 and refused.stderr.startswith(
        f"ERROR: dvx wrote nothing to {link}, a symbolic link to '{dotfiles / 'dvx-global'}'"
        ": it would hold credentials (remote.g.url) and Git would not ignore that file (Git "
        "tracks it)"), refused.output
    assert git(dotfiles, "status", "--short") == ""


def test_a_global_config_git_would_add_is_never_written_link_or_not(repo, dvx, tmp_path):
    """The global config reached through a linked folder (GNU stow's ~/.config/dvx ->
    ~/dotfiles/dvx), or a regular file in a Git work tree (~/.config is the dotfiles
    repository): the file it really is would be staged by `git add -A`, so a credential is
    not written there, nor anything with it; a setting with no credential is. A regular file
    that Git ignores there takes credentials too."""
    config_home = Path(global_config_path()).parent.parent
    dotfiles = tmp_path / "dotfiles"
    make_git_repo(dotfiles)
    (dotfiles / "dvx").mkdir()
    config_home.mkdir(parents=True, exist_ok=True)
    (config_home / "dvx").symlink_to(dotfiles / "dvx")
    refused = dvx("remote", "add", "--global", "g", "https://bob:hunter3@example.com/g")
    assert refused.code == 2 and refused.stderr.startswith(
        f"ERROR: dvx wrote nothing to {global_config_path()}, which is "
        f"'{dotfiles / 'dvx' / 'config'}' by its real path: it would hold credentials "
        "(remote.g.url) and Git would not ignore that file (no rule of Git's ignores it)"), \
        refused.output
    assert not (dotfiles / "dvx" / "config").exists()
    (config_home / "dvx").unlink()
    make_git_repo(config_home)
    refused = dvx("remote", "add", "--global", "g", "https://bob:hunter3@example.com/g")
    assert refused.code == 2 and refused.stderr.startswith(
        f"ERROR: dvx wrote nothing to {global_config_path()}, the global config: it would "
        "hold credentials (remote.g.url) and Git would not ignore that file (no rule of Git's "
        "ignores it)"), refused.output
    assert not Path(global_config_path()).exists()
    assert dvx("config", "--global", "core.autostage", "true").code == 0  # no credential
    (config_home / ".gitignore").write_text("/dvx/\n")
    assert dvx("remote", "add", "--global", "g", "https://bob:hunter3@example.com/g").code == 0
    assert "hunter3" in Path(global_config_path()).read_text()
    assert "autostage = true" in Path(global_config_path()).read_text()


def test_a_linked_global_config_git_would_add_is_never_written_outside_a_repository(
        dvx, tmp_path):
    """`dvx config --global` and `dvx remote add --global` run outside any repository ask
    Git as they do inside one: a global config linked into a dotfiles repository that does
    not ignore the file is not written with a credential (a setting with none is)."""
    dotfiles = tmp_path / "dotfiles"
    make_git_repo(dotfiles)
    link = Path(global_config_path())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(dotfiles / "dvx-config")
    outside = tmp_path / "outside"
    outside.mkdir()
    refused = dvx("remote", "add", "--global", "g", "https://bob:hunter3@example.com/g",
                  cwd=outside)
    assert refused.code == 2 and refused.stderr.startswith(
        f"ERROR: dvx wrote nothing to {link}, a symbolic link to "
        f"'{dotfiles / 'dvx-config'}': it would hold credentials"), refused.output
    assert not (dotfiles / "dvx-config").exists()
    assert dvx("config", "--global", "cache.dir", str(tmp_path / "cache"), cwd=outside).code == 0
    assert "hunter3" not in (dotfiles / "dvx-config").read_text()


def test_a_remote_renamed_in_a_global_config_dvx_cannot_write_changes_no_level(
        repo, dvx, tmp_path):
    """The global config linked into a dotfiles repository that tracks it: a rename keeps
    the credential it holds already (no new harm), so it is written, with config.local's
    options of the remote brought along. Where config.local cannot be written (a committed
    rule takes it back into Git), the global config is checked with it before any file is
    written, so neither changes. A removal takes credentials away: written, both levels."""
    dotfiles = tmp_path / "dotfiles"
    make_git_repo(dotfiles)
    mine = dotfiles / "dvx-config"
    mine.write_text('[remote "g"]\nurl = https://bob:pw@example.com/g\n'
                    '[remote "h"]\nurl = https://example.com/h\npassword = pw\n'
                    '[core]\nremote = g\n')
    git(dotfiles, "add", "-A")
    git(dotfiles, "commit", "-qm", "dot")
    link = Path(global_config_path())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(mine)
    local = repo / ".dvx" / "config.local"
    local.write_text('[remote "g"]\njobs = 3\n')
    assert dvx("remote", "rename", "--global", "g", "g2").code == 0
    assert '[remote "g2"]' in mine.read_text() and "bob:pw@" in mine.read_text()
    assert dvx("config", "remote.g2.jobs").stdout == "3\n"
    before = mine.read_text(), local.read_text()
    with open(repo / ".dvx" / ".gitignore", "a") as rules:
        rules.write("!/config.local\n")
    refused = dvx("remote", "rename", "--global", "g2", "g3")
    assert refused.code == 2 and "dvx wrote nothing to .dvx/config.local" in refused.stderr, \
        refused.output
    assert (mine.read_text(), local.read_text()) == before
    (repo / ".dvx" / ".gitignore").write_text("/config.local\n/tmp\n/cache\n")
    for remote in ("g2", "h"):  # each removal leaves the other's credential as it was
        assert dvx("remote", "remove", "--global", remote).code == 0
    assert "pw" not in mine.read_text() and "[remote" not in local.read_text()


def test_a_remote_rename_whose_global_write_fails_puts_back_every_file_it_wrote(
        repo, dvx, dvx_proc):
    """config.local is written first, then the global config; a failure writing the global
    one (a full disk, a folder dvx cannot write to) puts config.local back as it was, so
    the error's word that nothing was left half-written holds."""
    link = Path(global_config_path())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.write_text('[remote "g"]\nurl = https://example.com/g\n')
    local = repo / ".dvx" / "config.local"
    local.write_text('[remote "g"]\njobs = 3\n[core]\nremote = g\n')
    local.chmod(0o600)
    failed = dvx_proc("remote", "rename", "--global", "g", "g2", cwd=repo,
                      env={"DVX_FAULT": "config.before_write:2", "DVX_FAULT_ACTION": "enospc"})
    assert failed.code == 1 and "Nothing was left half-written" in failed.stderr, failed.stderr
    assert local.read_text() == '[remote "g"]\njobs = 3\n[core]\nremote = g\n'
    assert local.stat().st_mode & 0o777 == 0o600
    assert link.read_text() == '[remote "g"]\nurl = https://example.com/g\n'
    assert dvx("config", "remote.g.jobs").stdout == "3\n"
    assert dvx("remote", "rename", "--global", "g", "g2").code == 0
    assert "g2" in local.read_text() and "g2" in link.read_text()


def test_a_config_write_killed_before_its_rename_leaves_git_nothing_to_stage(
        repo, dvx, dvx_proc, tmp_path):
    """A fresh clone (no dvx command has run there yet): a `remote modify --local` killed
    mid-write leaves a temporary holding the secret, which Git never sees; the next write of
    that file deletes it."""
    from tests.conftest import git

    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("remote", "add", "s3r", "s3://bucket/path", cwd=clone).code == 0
    killed = dvx_proc("remote", "modify", "--local", "s3r", "secret_access_key", "SECRET1",
                      cwd=clone, env={"DVX_FAULT": "atomic_write.before_rename"})
    assert killed.code != 0
    left = [p.name for p in (clone / ".dvx").iterdir() if p.name.endswith(".tmp")]
    assert len(left) == 1 and "SECRET1" in (clone / ".dvx" / left[0]).read_text()
    git(clone, "add", "-A")
    assert git(clone, "diff", "--cached", "--name-only").split() == [".dvx/config"]

    assert dvx("remote", "modify", "--local", "s3r", "secret_access_key", "SECRET2",
               cwd=clone).code == 0
    assert sorted(p.name for p in (clone / ".dvx").iterdir()) == [
        ".gitignore", "config", "config.local"]


def _remote_levels(tmp_path, **levels: str):
    """A Config whose levels (global, project, local) give the remote 'storage' these lines."""
    dvx_dir = tmp_path / ".dvx"
    dvx_dir.mkdir()
    paths = {"global": global_config_path(), "project": str(dvx_dir / "config"),
             "local": str(dvx_dir / "config.local")}
    for level, lines in levels.items():
        os.makedirs(os.path.dirname(paths[level]), exist_ok=True)
        with open(paths[level], "w") as f:
            f.write(f'[remote "storage"]\n{lines}\n')
    return Config(str(dvx_dir))


@pytest.mark.parametrize(("levels", "used", "aside"), [
    # the global remote of another URL lends nothing to the tracked one of its name
    ({"global": "url = https://mine.example/store\npassword = pw\njobs = 3",
      "project": "url = http://theirs.example/store"},
     {"url": "http://theirs.example/store"}, [("global", "jobs"), ("global", "password")]),
    # of the same URL (another login), it does; the tracked config's options win
    ({"global": "url = https://alice@mine.example/store\npassword = pw\njobs = 3",
      "project": "url = https://mine.example/store\njobs = 8"},
     {"url": "https://mine.example/store", "password": "pw", "jobs": "8"}, []),
    # a global section without a URL names no store: nothing of it is lent
    ({"global": "password = pw", "project": "url = http://theirs.example/store"},
     {"url": "http://theirs.example/store"}, [("global", "password")]),
    # the local config is the user's own: its options apply by name, its URL too
    ({"global": "url = https://mine.example/store\npassword = pw",
      "project": "url = http://theirs.example/store",
      "local": "url = https://mine.example/store\nuser = alice"},
     {"url": "https://mine.example/store", "password": "pw", "user": "alice"}, []),
    # the user's own options (config.local's, a global one's) never make another store: a
    # generic fsspec remote's password beside the global login, an endpoint as the global's
    ({"global": "url = ftp://127.0.0.1:2121/store\nusername = bob",
      "local": "password = pw\nport = 2121"},
     {"url": "ftp://127.0.0.1:2121/store", "username": "bob", "password": "pw",
      "port": "2121"}, []),
    ({"global": "url = s3://company/dvx\naccess_key_id = AK",
      "project": "url = s3://company/dvx\nendpointurl = http://127.0.0.1:9000",
      "local": "endpointurl = https://s3.amazonaws.com"},
     {"url": "s3://company/dvx", "endpointurl": "https://s3.amazonaws.com",
      "access_key_id": "AK"}, []),
    # a global option that the user's config.local sets too is overridden, not set aside
    ({"global": "url = https://mine.example/store\npassword = pw\njobs = 3",
      "project": "url = http://theirs.example/store", "local": "jobs = 3"},
     {"url": "http://theirs.example/store", "jobs": "3"}, [("global", "password")]),
    # turning the check of a server's identity off is never the tracked config's to say
    ({"project": "url = ssh://host/store\nknown_hosts = ignore\nssl_verify = No"},
     {"url": "ssh://host/store"}, [("project", "known_hosts"), ("project", "ssl_verify")]),
    # ... but where the user's own config sets it, the tracked value is not used anyway
    ({"project": "url = https://host/store\nknown_hosts = ignore\nssl_verify = false",
      "local": "known_hosts = ignore\nssl_verify = true"},
     {"url": "https://host/store", "known_hosts": "ignore", "ssl_verify": "true"}, []),
    ({"global": "url = ssh://host/store\nknown_hosts = ignore",
      "project": "url = ssh://host/store\nknown_hosts = ignore"},
     {"url": "ssh://host/store", "known_hosts": "ignore"}, []),
    # a CA bundle, a file of host keys: still a check, which a project shares
    ({"project": "url = https://host/store\nssl_verify = certs/ca.pem\nknown_hosts = hosts"},
     {"url": "https://host/store", "ssl_verify": "certs/ca.pem", "known_hosts": "hosts"}, []),
    # the same bucket at another endpoint (or the global's at AWS itself) is another store
    ({"global": "url = s3://company/dvx\naccess_key_id = AK\nsession_token = T",
      "project": "url = s3://company/dvx\nendpointurl = http://127.0.0.1:9000"},
     {"url": "s3://company/dvx", "endpointurl": "http://127.0.0.1:9000"},
     [("global", "access_key_id"), ("global", "session_token")]),
    ({"global": "url = gs://b/p\nendpointurl = https://mine.example\ncredentialpath = k",
      "project": "url = gs://b/p\nendpointurl = https://theirs.example"},
     {"url": "gs://b/p", "endpointurl": "https://theirs.example"},
     [("global", "credentialpath"), ("global", "endpointurl")]),
    ({"global": "url = azure://c/p\naccount_name = mine\naccount_key = K",
      "project": "url = azure://c/p\naccount_name = theirs"},
     {"url": "azure://c/p", "account_name": "theirs"},
     [("global", "account_key"), ("global", "account_name")]),
    ({"global": "url = ssh://host/store\npassword = pw",
      "project": "url = ssh://host/store\nport = 2222"},
     {"url": "ssh://host/store", "port": "2222"}, [("global", "password")]),
    # the same store in another spelling: a trailing slash, letter case, a default port, an
    # endpoint's; the options that choose the server as the global config sets them
    ({"global": "url = s3://bkt/r1/\nendpointurl = HTTP://S3.example:80/\naccess_key_id = AK",
      "project": "url = s3://bkt/r1"},
     {"url": "s3://bkt/r1", "endpointurl": "HTTP://S3.example:80/", "access_key_id": "AK"}, []),
    ({"global": "url = s3://bkt/r1\nendpointurl = http://s3.example\naccess_key_id = AK",
      "project": "url = s3://bkt/r1/\nendpointurl = HTTP://S3.example:80/"},
     {"url": "s3://bkt/r1/", "endpointurl": "HTTP://S3.example:80/", "access_key_id": "AK"},
     []),
    ({"global": "url = SSH://Host:22/store/\npassword = pw",
      "project": "url = sftp://bob@host/store"},
     {"url": "sftp://bob@host/store", "password": "pw"}, []),
    ({"global": "url = ssh://host/store\nport = 2222\npassword = pw",
      "project": "url = ssh://host:2222/store"},
     {"url": "ssh://host:2222/store", "port": "2222", "password": "pw"}, []),
])
def test_a_remote_s_options_from_the_global_config_apply_only_to_the_same_store(
        tmp_path, levels, used, aside):
    config = _remote_levels(tmp_path, **levels)
    assert config.remote_options("storage") == used
    assert sorted(config.set_aside_options("storage")) == aside


@pytest.mark.parametrize(("project", "lent"), [
    ("url = st6", True), ("url = ./st6/", True), (f"url = file://{os.sep}ST6", False),
    ("url = ../st6", False)])
def test_a_directory_remote_s_global_options_apply_to_its_path_from_the_repo_root(
        tmp_path, project, lent):
    """A relative directory remote is taken from the repository's root, as dvx opens it."""
    config = _remote_levels(tmp_path, **{"global": f"url = {tmp_path / 'st6'}/\nshared = group",
                                         "project": project})
    assert ("shared" in config.remote_options("storage")) is lent


def test_a_setting_that_turns_off_the_server_check_goes_to_the_local_config(repo, dvx):
    assert dvx("remote", "add", "s", "https://host.example/store").code == 0
    result = dvx("remote", "modify", "s", "ssl_verify", "false")
    assert result.code == 0 and "written to .dvx/config.local" in result.output, result.output
    assert "ssl_verify" not in (repo / ".dvx" / "config").read_text()
    assert "ssl_verify = false" in (repo / ".dvx" / "config.local").read_text()
    assert dvx("remote", "modify", "s", "ssl_verify", "true").code == 0  # a check: shared
    assert "ssl_verify = true" in (repo / ".dvx" / "config").read_text()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_config_shows_a_global_remote_s_options_only_where_they_are_lent(repo, dvx):
    """A cloned .dvx/config naming its remote as your global one is named, at another URL,
    does not get that remote's credentials: `dvx config` shows them as not in effect, as
    every command that opens the remote says, and never prints them."""
    for args in (("add", "--global", "storage", "https://mine.example/store"),
                 ("modify", "--global", "storage", "password", "S3cretGlobalPW"),
                 ("modify", "--global", "storage", "jobs", "3")):
        assert dvx("remote", *args).code == 0
    write(repo / ".dvx" / "config", '[remote "storage"]\nurl = http://theirs.example/store\n')
    said = ("The global config's remote 'storage' has another URL (https://mine.example/store), "
            "so its options (jobs, password) are not used for this repository's remote "
            "'storage' (http://theirs.example/store)")

    listed = dvx("config", "--list", "--show-origin")
    assert listed.stdout.splitlines() == [".dvx/config\tremote.storage.url=http://theirs.example"
                                          "/store"], listed.output
    assert _one_line(listed.stderr).startswith(said), listed.stderr
    as_json = dvx("config", "--list", "--json")
    assert json.loads(as_json.stdout) == {"remote.storage.url": "http://theirs.example/store"}
    read = dvx("config", "remote.storage.password")
    assert (read.code, read.stdout) == (2, "")
    assert _one_line(read.stderr).startswith(
        f"ERROR: 'remote.storage.password' is not in effect. {said}"), read.stderr
    assert "`dvx remote modify --local storage KEY VALUE`" in _one_line(read.stderr)
    own = dvx("config", "--global", "remote.storage.jobs")  # the global file's own, noted
    assert own.stdout == "3\n" and said in _one_line(own.stderr), own.output
    assert not any("S3cretGlobalPW" in run.output for run in (listed, as_json, read, own))

    # The global remote of this very store (in another spelling) lends its options again.
    assert dvx("remote", "modify", "--global", "storage", "url",
               "HTTP://Theirs.example:80/store/").code == 0
    read = dvx("config", "remote.storage.password")
    assert (read.stdout, read.stderr) == ("***\n", f"(from {global_config_path()})\n")
    assert dvx("config", "--list").stdout.splitlines() == [
        "remote.storage.jobs=3", "remote.storage.password=***",
        "remote.storage.url=http://theirs.example/store"]


@pytest.mark.parametrize(("url", "key", "value"), [
    ("ssh://host.example/store", "known_hosts", "ignore"),
    ("https://host.example/store", "ssl_verify", "false")])
def test_config_shows_a_tracked_choice_to_skip_the_server_check_as_not_in_effect(
        repo, dvx, url, key, value):
    """A tracked `known_hosts ignore` or `ssl_verify false` is not used: `dvx config` shows
    the value in effect (the user's own, or none) and names the one set aside on stderr."""
    write(repo / ".dvx" / "config", f'[remote "s"]\nurl = {url}\n{key} = {value}\n')
    said = (f"The tracked .dvx/config sets {key} = {value} for remote 's', which would turn "
            "off the check of the server's identity: not used, the server is checked. If you "
            f"trust the network to it, set it in your own config: `dvx remote modify --local "
            f"s {key} {value}`.")

    listed = dvx("config", "--list", "--show-origin")
    assert listed.stdout.splitlines() == [f".dvx/config\tremote.s.url={url}"], listed.output
    assert _one_line(listed.stderr) == said
    read = dvx("config", f"remote.s.{key}")
    assert (read.code, read.stdout) == (2, "")
    assert _one_line(read.stderr) == f"ERROR: 'remote.s.{key}' is not in effect. {said}"
    assert dvx("config", "--project", f"remote.s.{key}").stdout == f"{value}\n"  # the file's

    # The user's own global remote of this store: its check is the one in effect, and the
    # tracked value, which the user's own replaces, goes unsaid.
    checked = str(write(repo.parent / ("hosts" if key == "known_hosts" else "ca.pem"), ""))
    write(Path(global_config_path()), f'[remote "s"]\nurl = {url}\n{key} = {checked}\n')
    read = dvx("config", f"remote.s.{key}")
    assert read.stdout == f"{checked}\n", read.output
    assert _one_line(read.stderr) == f"(from {global_config_path()})"
    assert dvx("config", "--list").stdout.splitlines() == [f"remote.s.{key}={checked}",
                                                           f"remote.s.url={url}"]


@pytest.mark.parametrize(("url", "key", "value"), [
    ("ssh://host.example/store", "known_hosts", "ignore"),
    ("https://host.example/store", "ssl_verify", "false")])
def test_a_tracked_choice_to_skip_the_server_check_that_your_config_local_makes_too_is_in_effect(
        repo, dvx, url, key, value):
    """Once the user's own config.local sets the value too, as the notice advises, that value
    is used (the server is not checked): no notice says otherwise."""
    write(repo / ".dvx" / "config", f'[remote "s"]\nurl = {url}\n{key} = {value}\n')
    assert dvx("remote", "modify", "--local", "s", key, value).code == 0

    read = dvx("config", f"remote.s.{key}")
    assert (read.code, read.stdout, read.stderr) == (0, f"{value}\n",
                                                     "(from .dvx/config.local)\n"), read.output
    listed = dvx("config", "--list")
    assert listed.stdout.splitlines() == [f"remote.s.{key}={value}", f"remote.s.url={url}"]
    assert listed.stderr == "", listed.stderr


def test_the_global_remote_s_options_your_config_local_sets_too_are_not_said_to_be_unused(
        repo, dvx, tmp_path):
    """The notice that a global remote's options are not used for the repository's remote of
    its name, at another URL, names only those the user has not given this clone's remote
    (`dvx remote modify --local`, as it advises), and is gone once none is left."""
    for args in (("add", "--global", "storage", str(tmp_path / "my-other-store")),
                 ("modify", "--global", "storage", "jobs", "2"),
                 ("modify", "--global", "storage", "retries", "3"),
                 ("add", "-f", "-d", "storage", str(tmp_path / "team-store"))):
        assert dvx("remote", *args).code == 0
    write(repo / "x.txt", "x")
    assert dvx("add", "x.txt").code == 0
    pushed = dvx("push")
    assert pushed.code == 0 and "so its options (jobs, retries) are not used" in _one_line(
        pushed.stderr), pushed.output

    assert dvx("remote", "modify", "--local", "storage", "jobs", "2").code == 0
    status = dvx("status", "-c")
    assert "so its options (retries) are not used" in _one_line(status.stderr), status.output
    assert dvx("remote", "modify", "--local", "storage", "retries", "3").code == 0
    for command in (("status", "-c"), ("push",), ("config", "--list")):
        result = dvx(*command)
        assert result.code == 0 and "global config's remote" not in result.stderr, result.output


def test_a_generic_remote_keeps_your_global_login_beside_a_password_in_config_local(
        repo, dvx):
    """A generic fsspec remote of the user's global config, its login there and its password
    in this clone's config.local: both are the user's own, so the store is the global one and
    its client logs in as that user, not anonymously."""
    write(repo / "x.txt", "x")
    assert dvx("add", "x.txt").code == 0
    with refusing_ftp() as (url, users):
        for args in (("add", "--global", "-d", "ftpstore", f"{url}/store"),
                     ("modify", "--global", "ftpstore", "username", "bob"),
                     ("modify", "--local", "ftpstore", "password", "pw123")):
            assert dvx("remote", *args).code == 0
        pushed = dvx("push")
    assert pushed.code != 0 and "530" in pushed.stderr, pushed.output  # refused, as it is
    assert "not used" not in pushed.stderr, pushed.stderr
    assert users and set(users) == {"bob"}, users


def test_git_s_hooks_and_merge_driver_leave_ignored_options_to_dvx_s_own_commands(repo, dvx):
    """A `git merge` running dvx's merge driver once per pointer file (and its hooks) names
    no ignored option: the user's own dvx commands do, once each."""
    assert dvx("install").code == 0
    (repo / ".dvx" / "config.local").write_text("[core]\njobs = 4\n")
    for name in ("a", "b"):
        write(repo / f"{name}.txt", "base\n")
    assert dvx("add", "a.txt", "b.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "other")
    for name in ("a", "b"):
        write(repo / f"{name}.txt", "other\n")
    assert dvx("add", "a.txt", "b.txt").code == 0
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    for name in ("a", "b"):
        write(repo / f"{name}.txt", "main\n")
    assert dvx("add", "a.txt", "b.txt").code == 0
    git(repo, "commit", "-qam", "main")
    merged = subprocess.run(["git", "merge", "other"], cwd=repo, capture_output=True,
                            text=True)
    assert "dvx: a.txt.dvx" in merged.stderr or "a.txt.dvx" in merged.stdout, merged
    assert "core.jobs" not in merged.stderr + merged.stdout, merged.stderr
    assert "core.jobs" in dvx("status").stderr


def test_a_value_with_white_space_around_it_is_refused_as_it_would_be_read_back_without(
        repo, dvx, tmp_path):
    """The config file keeps `url = /srv/store ` but every reader gets `/srv/store`: a value
    that begins or ends with white space is refused when set, at every level and for every
    option, so what was checked is what is used (never a push to a sibling folder)."""
    padded, bare = tmp_path / "store ", tmp_path / "store"
    padded.mkdir()
    bare.mkdir()
    assert dvx("remote", "add", "-d", "ssh1", "ssh://host/x").code == 0
    before = {p: p.read_bytes() for p in (repo / ".dvx").glob("config*")}
    for args in (("remote", "add", "s", str(padded)),
                 ("remote", "add", "--global", "s", f" {bare}"),
                 ("remote", "modify", "ssh1", "user", "bob "),
                 ("remote", "modify", "ssh1", "password", "\tpw"),
                 ("remote", "modify", "ssh1", "jobs", "4 "),
                 ("config", "remote.ssh1.port", " 22"),
                 ("config", "core.autostage", "true "),
                 ("config", "--local", "cache.type", "copy\n")):
        refused = dvx(*args)
        assert refused.code == 2, (args, refused.output)
        assert "begins or ends with white space" in refused.stderr, (args, refused.output)
    assert {p: p.read_bytes() for p in (repo / ".dvx").glob("config*")} == before
    assert not Path(global_config_path()).exists()
    assert list(bare.iterdir()) == [] and list(padded.iterdir()) == []


def test_a_relative_xdg_config_home_is_ignored_as_the_xdg_spec_says(repo, dvx, monkeypatch):
    """A relative XDG_CONFIG_HOME would put your own config (credentials and all) in the
    directory a command runs from, a work tree Git sees: it is ignored for ~/.config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", ".config")
    home_config = Path(os.environ["HOME"]) / ".config" / "dvx" / "config"
    assert global_config_path() == str(home_config)
    added = dvx("remote", "add", "--global", "-d", "storage",
                "https://alice:S3cretPW@example.com/data")
    assert added.code == 0, added.output
    assert "S3cretPW" in home_config.read_text()
    assert not (repo / ".config").exists()
    assert ".config" not in git(repo, "status", "--short", "--untracked-files=all")
    (repo / "sub").mkdir()
    listed = dvx("remote", "list", cwd=repo / "sub")
    assert listed.stdout.startswith("storage\t"), listed.output


def test_a_global_core_hash_chooses_a_new_repository_s_algorithm_never_one_its_data_has(
        repo, dvx, tmp_path):
    """A global core.hash is the user's default for repositories that track no data yet;
    in one whose data has another algorithm, a command recording data refuses before it
    writes anything, naming the global config and the commands that fix it, which work."""
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    (repo / "a.txt").write_text("a\n")
    assert dvx("add", "a.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    write(global_config, "[core]\nhash = sha256\n")
    (repo / "b.txt").write_text("b\n")
    refused = dvx("add", "b.txt")
    assert refused.code == 2, refused.output
    assert (f"Your global config ({global_config}) sets core.hash to sha256, but this "
            "repository's data is named by xxh128 (as 'a.txt.dvx' records)" in refused.stderr)
    assert ("`dvx config --local core.hash xxh128` or `dvx config --global --unset core.hash`"
            in refused.stderr), refused.output
    assert not (repo / "b.txt.dvx").exists()
    assert dvx("config", "--local", "core.hash", "xxh128").code == 0  # for this clone
    assert dvx("add", "b.txt").code == 0
    assert "algo: xxh128" in (repo / "b.txt.dvx").read_text()
    fresh = make_git_repo(tmp_path / "fresh")  # no data yet: the user's default applies
    assert dvx("init", cwd=fresh).code == 0
    (fresh / "c.txt").write_text("c\n")
    assert dvx("add", "c.txt", cwd=fresh).code == 0
    assert "algo: sha256" in (fresh / "c.txt.dvx").read_text()


def test_a_pointer_of_another_algorithm_than_dvx_hashes_with_names_the_setting_that_is_off(
        repo, dvx):
    """Where the pointer files record one algorithm and the setting in effect another, the
    setting is named as what is off, with the `dvx config` that sets back the algorithm the
    data has: a committed core.hash that none of the data records, or none at all where
    the data was added by a user's own sha256 (then to be committed for every clone)."""
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    (repo / "a.txt").write_text("a\n")
    assert dvx("add", "a.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    assert dvx("config", "core.hash", "sha256").code == 0
    status = dvx("status")
    assert ("'a.txt.dvx' uses xxh128, but its .dvx/config sets core.hash to sha256, which none "
            "of its tracked data records" in status.stderr), status.output
    assert "`dvx config core.hash xxh128`" in status.stderr, status.output
    assert dvx("config", "core.hash", "xxh128").code == 0  # pasted
    assert dvx("config", "--unset", "core.hash").code == 0
    assert dvx("status", "-q").code == 0
    write(global_config, "[core]\nhash = sha256\n")  # a repository whose data is sha256 ...
    git(repo, "rm", "-q", "--cached", "a.txt.dvx")
    (repo / "a.txt.dvx").unlink()
    assert dvx("add", "a.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a by sha256")
    global_config.unlink()  # ... read by a teammate hashing with the default
    status = dvx("status")
    assert ("'a.txt.dvx' uses sha256, as this repository's data does (as its tracked data "
            "records), but dvx hashes with xxh128 here, the default" in status.stderr), \
        status.output
    assert ("`dvx config core.hash sha256`, and commit .dvx/config so every clone does"
            in status.stderr), status.output
    assert dvx("config", "core.hash", "sha256").code == 0
    assert dvx("status", "-q").code == 0


def test_a_config_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    """A FIFO would hold every command until some process wrote a config into it."""
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx_proc("init", cwd=root).code == 0
    (root / ".dvx" / "config").unlink()
    os.mkfifo(root / ".dvx" / "config")
    result = run_dvx_proc("status", cwd=root, timeout=60)  # a regression fails, never hangs
    assert result.code == 2, result.output
    assert f"Cannot read the config file '{root / '.dvx' / 'config'}': not a regular file " \
           "(a FIFO, socket or device)." in result.stderr
