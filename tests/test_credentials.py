"""Credentials (SPEC §4.7): a password in a remote URL is never shown by dvx, in listings,
logs or error messages; and it is not stored in the tracked configuration."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from dvx.errors import LostConnection
from dvx.remote.backends import redact_urls

SECRET = "s3cr3t-pa55"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Connecting fails at once: the error paths run without any network beyond loopback.
URL = f"ssh://alice:{SECRET}@127.0.0.1:{closed_port()}/project"


def lacking_data(repo: Path, dvx) -> None:
    """A tracked file whose data the cache lacks: fetch and pull need the remote for it
    (what the cache holds, they ask of no remote), and so reach its error paths."""
    (repo / "f").write_text("data\n")
    assert dvx("add", "f").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")


def test_a_password_in_a_remote_url_is_never_printed(repo, dvx):
    lacking_data(repo, dvx)
    assert dvx("remote", "add", "--local", "-d", "s", URL).code == 0
    outputs = [dvx("remote", "list"), dvx("remote", "list", "--json"),
               dvx("config", "--list"), dvx("config", "remote.s.url"),
               dvx("pull", "-v"), dvx("push", "-vv")]
    for result in outputs:
        assert SECRET not in result.output, result.output
    assert "alice" not in outputs[0].output and "***@127.0.0.1" in outputs[0].output
    assert outputs[4].code != 0 and outputs[4].stderr.startswith("ERROR:")


@pytest.mark.parametrize("url", [
    f"https://alice:{SECRET}@127.0.0.1:{closed_port()}/store",
    f"https://127.0.0.1:{closed_port()}/store?user=alice&token={SECRET}"],
    ids=["password", "query"])
def test_a_secret_in_an_http_url_is_never_printed(repo, dvx, url):
    """The password of a URL and every value of its query string (a token, a signature)."""
    lacking_data(repo, dvx)
    assert dvx("remote", "add", "--local", "-d", "h", url).code == 0
    outputs = [dvx("remote", "list"), dvx("config", "--list"), dvx("fetch"), dvx("pull"),
               dvx("status", "-c")]
    for result in outputs:
        assert SECRET not in result.output, result.output
    assert outputs[2].code != 0 and outputs[2].stderr.startswith("ERROR: Cannot reach")


def test_the_local_config_holding_it_is_never_tracked(repo, dvx):
    assert dvx("remote", "add", "--local", "s", URL).code == 0
    assert SECRET in (repo / ".dvx/config.local").read_text()
    assert SECRET not in (repo / ".dvx/config").read_text()
    would_commit = subprocess.run(["git", "ls-files", "--cached", "--others",
                                   "--exclude-standard"], cwd=repo, capture_output=True,
                                  text=True, check=True).stdout
    assert ".dvx/config.local" not in would_commit


def test_a_password_never_lands_in_the_tracked_config(repo, dvx):
    result = dvx("remote", "add", "s", URL)  # the project level: tracked by Git
    assert "Traceback" not in result.output and SECRET not in result.output
    assert result.code == 2 and "`dvx remote modify --local s password ...`" in result.stderr
    assert SECRET not in (repo / ".dvx/config").read_text()


def test_an_access_token_as_a_url_s_user_name_never_lands_in_the_tracked_config(repo, dvx):
    """As `import` refuses it for a pointer: a GitHub or GitLab token given as the user name
    is a credential, taken by the local config only."""
    for token in ("ghp_abc123", "glpat-abc123"):
        url = f"https://{token}@example.com/store"
        refused = dvx("remote", "add", "h", url)
        assert refused.code == 2 and refused.stderr.startswith(
            "ERROR: The remote URL contains an access token (as its user name), which would "
            "be stored in plain text in the config Git tracks."), refused.output
        assert token not in refused.output
        assert token not in (repo / ".dvx/config").read_text()
        assert dvx("remote", "add", "--local", "h", url).code == 0
        assert token in (repo / ".dvx/config.local").read_text()
        assert dvx("remote", "remove", "--local", "h").code == 0
    assert dvx("remote", "add", "u", "https://alice@example.com/store").code == 0  # a user


def test_a_password_in_a_url_is_taken_by_the_global_config_as_by_the_local_one(repo, dvx):
    """The global config is the user's own, outside any repository: never tracked, and it
    takes secret options already."""
    from dvx.config import global_config_path

    added = dvx("remote", "add", "--global", "gx", URL)
    assert added.code == 0 and "Git tracks" not in added.stderr, added.output
    assert SECRET in Path(global_config_path()).read_text()
    assert SECRET not in (repo / ".dvx/config").read_text()
    listed = dvx("remote", "list")
    assert "gx\tssh://***@127.0.0.1" in listed.stdout and SECRET not in listed.output
    refused = dvx("remote", "add", "px", URL)
    assert refused.code == 2 and "--global (your own config" in refused.stderr, refused.output


def test_a_local_config_made_private_stays_private_when_dvx_rewrites_it(repo, dvx):
    assert dvx("remote", "add", "--local", "s", URL).code == 0
    local = repo / ".dvx/config.local"
    local.chmod(0o600)
    assert dvx("remote", "modify", "--local", "s", "timeout", "5").code == 0
    assert "timeout = 5" in local.read_text() and local.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("url", "options"), [
    (f"s3://AKIDEXAMPLE:{SECRET}@bucket/store", "access_key_id ...` and `... secret_access_key"),
    (f"azure://devacct:{SECRET}@container/store", "account_name ...` and `... account_key"),
], ids=["s3", "azure"])
def test_credentials_in_a_bucket_s_url_are_refused_naming_the_options_that_take_them(
        repo, dvx, url, options):
    """A bucket's URL names the bucket where a host's names a login: 'KEY:SECRET@' would
    be taken for part of the bucket's name, never used."""
    for level in ("--local", "--project"):
        refused = dvx("remote", "add", level, "store", url)
        assert refused.code == 2, refused.output
        assert "holds credentials" in refused.stderr, refused.stderr
        assert f"`dvx remote modify --local store {options} ...`" in refused.stderr
        assert "password" not in refused.stderr.replace("USER:PASSWORD", "")
    assert SECRET not in refused.output and "store" not in dvx("remote", "list").stdout
    (repo / ".dvx/config.local").write_text(f'[remote "store"]\nurl = {url}\n')  # by hand
    pushed = dvx("push", "-r", "store")
    assert pushed.code != 0 and "holds credentials" in pushed.stderr, pushed.output
    assert SECRET not in pushed.output


def test_a_password_holding_an_at_sign_or_a_slash_is_hidden_whole(repo, dvx):
    """Unencoded, as users type them: urlsplit reads up to the last '@' of the host part, and
    a '/' ends that part (the URL is refused, without showing it)."""
    port = closed_port()
    at = f"ssh://alice:FIRSTHALF@{SECRET}@127.0.0.1:{port}/store"
    assert dvx("remote", "add", "--local", "-d", "at", at).code == 0
    outputs = [dvx("remote", "list"), dvx("config", "--list"), dvx("push", "-v")]
    assert f"at\tssh://***@127.0.0.1:{port}/store" in outputs[0].stdout, outputs[0].output
    assert outputs[2].code == 1 and "Cannot reach the remote 'at'" in outputs[2].stderr
    slash = dvx("remote", "add", "--local", "sl", f"ssh://alice:FIRSTHALF/{SECRET}@127.0.0.1/s")
    assert slash.code == 2 and "ssh://***@127.0.0.1/s' is not a valid URL" in slash.stderr, \
        slash.output
    assert "percent-encoded" in slash.stderr
    folders = dvx("remote", "add", "--local", "e", f"ssh://alice:{SECRET}@127.0.0.1//a//b")
    assert folders.code == 2 and "write ssh://***@127.0.0.1/a/b" in folders.stderr
    for result in [*outputs, slash, folders]:
        assert "FIRSTHALF" not in result.output and SECRET not in result.output, result.output


def test_the_traceback_of_an_internal_error_is_scrubbed_too(repo, dvx, monkeypatch):
    """-v shows an unexpected error's traceback, which may quote a URL or a secret."""
    assert dvx("remote", "add", "--local", "-d", "s", URL).code == 0

    def broken(*args, **kwargs):
        raise RuntimeError(f"a library quoting {URL} and {SECRET}")

    monkeypatch.setattr("dvx.ops.sync.push", broken)
    for flags in ((), ("-v",)):
        result = dvx(*flags, "push")
        assert result.code == 255 and "Unexpected internal error: RuntimeError" in result.stderr
        assert ("Traceback" in result.stderr) == bool(flags), result.stderr
        assert SECRET not in result.output and "ssh://***@127.0.0.1" in result.stderr


@pytest.mark.parametrize("text", [
    "Its URL needs a host (ssh://[USER@]HOST[:PORT]/PATH).",
    "Use ssh://[USER@]HOST[:PORT]/PATH.",
    "Remote 'q' (https://example.com/store) is read-only.",
    "A folder (http://host/a_(b)/c) of its own brackets.",
])
def test_the_scrubber_leaves_dvx_s_own_text_around_urls_whole(text):
    assert redact_urls(text) == text


@pytest.mark.parametrize("text, shown", [
    ("Remote 'q' (https://example.com/store?token=abc) is read-only",
     "Remote 'q' (https://example.com/store?token=***) is read-only"),
    ("at https://h/x?token=abc, then https://h/y?sig=def.",
     "at https://h/x?token=***, then https://h/y?sig=***."),
    ("(ssh://alice:pw@h/x)", "(ssh://***@h/x)"),
    ("http://h/a_(b)?t=abc", "http://h/a_(b)?t=***"),
    # a bracketed login followed by a real one is no form of dvx's own
    ("ssh://[USER@]x:pw@h/p", "ssh://***@h/p"),
    ("ssh://[USER@]HOST/p?token=abc", "ssh://[USER@]HOST/p?token=***"),
    # only the very form dvx writes is its own: a client's text in that shape is a login
    ("quoting ssh://[ADMIN:HUNTER@]host/x", "quoting ssh://***@]host/x"),
    ("quoting ssh://[ADMIN@]host/x", "quoting ssh://***@]host/x"),
    ("quoting ssh://[USER:PASSWORD@]host/x", "quoting ssh://***@]host/x"),
])
def test_the_scrubber_hides_a_url_s_secrets_up_to_the_punctuation_after_it(text, shown):
    assert redact_urls(text) == shown


def test_a_hint_writing_a_url_s_form_and_a_read_only_remote_s_url_are_shown_whole(repo, dvx):
    no_host = dvx("remote", "add", "r", "ssh://")
    assert no_host.code == 2 and "(ssh://[USER@]HOST[:PORT]/PATH)." in no_host.stderr
    (repo / "f").write_text("f")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "q", "https://example.com/store?token=abc").code == 0
    pushed = dvx("push", "-r", "q")
    assert pushed.code != 0 and "(https://example.com/store?token=***) " in pushed.stderr, \
        pushed.output


def test_a_password_that_is_a_word_of_dvx_s_own_messages_leaves_them_whole(repo, dvx):
    """A short secret that is a plain word ("remote") is hidden where a library's error
    quotes it, never out of dvx's own sentences."""
    lacking_data(repo, dvx)
    url = f"ssh://alice:remote@127.0.0.1:{closed_port()}/project"
    assert dvx("remote", "add", "--local", "-d", "s", url).code == 0
    pulled = dvx("pull")
    assert pulled.code == 1, pulled.output
    assert pulled.stderr.startswith("ERROR: Cannot reach the remote 's' (ssh://***@127.0.0.1:")
    assert "***" not in pulled.stderr.replace("ssh://***@", ""), pulled.stderr


def test_a_password_that_is_a_word_is_hidden_where_a_library_quotes_it(repo, dvx, monkeypatch):
    """The other side of the test above: the same kind of secret, in a library's error that
    dvx's message quotes, is hidden as a whole word ("tigers" is not that word)."""
    import sshfs

    def quoting(*args, **kwargs):
        raise ValueError("password tiger refused for tigers")

    monkeypatch.setattr(sshfs, "SSHFileSystem", quoting)
    lacking_data(repo, dvx)
    url = f"ssh://alice:tiger@127.0.0.1:{closed_port()}/project"
    assert dvx("remote", "add", "--local", "-d", "s", url).code == 0
    pulled = dvx("pull")
    assert pulled.code == 1, pulled.output
    assert "Cannot set up the remote 's'" in pulled.stderr, pulled.stderr
    assert "password *** refused for tigers" in pulled.stderr, pulled.stderr


@pytest.mark.parametrize(("error", "said"), [
    (LostConnection("remote 's'", "password tiger refused for tigers"),
     "Cannot reach the remote 's': password *** refused for tigers."),
    (PermissionError(13, "password tiger refused for tigers", "f"),
     "'f' may not be read or changed (password *** refused for tigers)."),
    (OSError(5, "password tiger refused for tigers"),
     "A filesystem operation failed: password *** refused for tigers.")],
    ids=["lost-connection", "permission", "filesystem"])
def test_a_password_that_is_a_word_is_hidden_in_a_library_s_connection_or_file_error(
        repo, dvx, monkeypatch, error, said):
    """The same, where a library's error ends the command as a lost connection, a refused
    permission or any other filesystem error, which dvx's message quotes."""
    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr("dvx.ops.sync.push", failing)
    url = f"ssh://alice:tiger@127.0.0.1:{closed_port()}/project"
    assert dvx("remote", "add", "--local", "-d", "s", url).code == 0
    pushed = dvx("push")
    assert pushed.code == 1, pushed.output
    assert said in " ".join(pushed.stderr.split()), pushed.stderr
    assert "tiger " not in pushed.stderr, pushed.stderr


def test_a_query_string_written_to_the_tracked_config_is_warned_of(repo, dvx):
    """It is stored as given (a signed URL's token goes with every request)."""
    url = f"https://127.0.0.1:{closed_port()}/store?token={SECRET}"
    added = dvx("remote", "add", "h", url)
    assert added.code == 0 and "may hold a credential" in added.stderr, added.output
    assert "`dvx remote remove h`" in added.stderr and "--local" in added.stderr
    assert "?token=***" in added.stderr and SECRET not in added.output
    modified = dvx("remote", "modify", "h", "url", url.replace("store", "other"))
    assert "may hold a credential" in modified.stderr, modified.output
    for quiet in (("remote", "add", "--local", "l", url),
                  ("remote", "add", "plain", "https://127.0.0.1/store")):
        assert dvx(*quiet).stderr == ""


def test_a_query_string_written_to_a_global_config_git_would_add_is_warned_of(
        repo, dvx, tmp_path):
    """The global config linked into a dotfiles repository that does not ignore it: a URL's
    query string written there is warned of as it is for the tracked config; once Git
    ignores the file, it is not."""
    from dvx.config import global_config_path
    from tests.conftest import make_git_repo

    dotfiles = tmp_path / "dotfiles"
    make_git_repo(dotfiles)
    link = Path(global_config_path())
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(dotfiles / "dvx-config")
    url = f"https://127.0.0.1:{closed_port()}/store?token={SECRET}"
    added = dvx("remote", "add", "--global", "g", url)
    assert added.code == 0 and "may hold a credential" in added.stderr, added.output
    assert f"the global config '{link}', which Git would add to a commit (no rule of Git's " \
           "ignores it)" in " ".join(added.stderr.split()), added.stderr
    assert "`dvx remote remove --global g`" in added.stderr and SECRET not in added.output
    for modify in (("remote", "modify", "--global", "g", "url", url.replace("store", "x")),
                   ("config", "--global", "remote.g.url", url.replace("store", "y"))):
        assert "may hold a credential" in dvx(*modify).stderr
    (dotfiles / ".gitignore").write_text("/dvx-config\n")
    assert dvx("remote", "modify", "--global", "g", "url", url).stderr == ""


def test_a_password_of_digits_and_a_slash_is_refused_as_ambiguous_and_hidden(repo, dvx):
    """urlsplit reads 'alice:2024/s3cret@host' as the host 'alice', port 2024 and a path: the
    password would go to the tracked config and be shown as a path."""
    url = "https://alice:2024/s3cret@host.example/store"
    refused = dvx("remote", "add", "leak", url)
    assert refused.code == 2 and "is ambiguous" in refused.stderr, refused.output
    assert "'%2F', '%40'" in refused.stderr and "--local leak" in refused.stderr
    assert "https://***@host.example/store" in refused.stderr
    assert "s3cret" not in refused.output and "leak" not in dvx("remote", "list").stdout
    assert "s3cret" not in (repo / ".dvx/config").read_text()
    lacking_data(repo, dvx)
    (repo / ".dvx/config.local").write_text(f'[remote "leak"]\nurl = {url}\n')  # by hand
    outputs = [dvx("remote", "list"), dvx("config", "--list"), dvx("fetch", "-r", "leak")]
    assert "leak\thttps://***@host.example/store" in outputs[0].stdout, outputs[0].output
    assert outputs[2].code != 0 and "is ambiguous" in outputs[2].stderr, outputs[2].output
    for result in outputs:
        assert "s3cret" not in result.output, result.output


def library_quoting(monkeypatch, password: str) -> None:
    """Setting up an SSH remote fails with a library's error quoting `password`."""
    import sshfs

    def quoting(*args, **kwargs):
        raise ValueError(f"password {password} refused for tigers")

    monkeypatch.setattr(sshfs, "SSHFileSystem", quoting)


def test_the_joined_errors_of_several_remotes_hide_a_word_a_library_quotes(
        repo, dvx, monkeypatch):
    """Outputs with a remote each: the error ending the command joins the remotes' own, and
    hides what each of them hides."""
    (repo / "dvx.yaml").write_text(
        "stages:\n  s:\n    cmd: echo 1 > o1; echo 2 > o2\n    outs:\n"
        "      - o1:\n          remote: s\n      - o2:\n          remote: s2\n")
    port = closed_port()
    for name, user in (("s", "alice"), ("s2", "bob")):
        url = f"ssh://{user}:tiger@127.0.0.1:{port}/{name}"
        assert dvx("remote", "add", "--local", name, url).code == 0
    assert dvx("repro").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")
    library_quoting(monkeypatch, "tiger")
    pulled = dvx("pull")
    assert pulled.code == 1, pulled.output
    assert "'s'" in pulled.stderr and "'s2'" in pulled.stderr, pulled.stderr
    assert pulled.stderr.count("password *** refused for tigers") == 2, pulled.stderr
    assert "tiger " not in pulled.output


@pytest.mark.parametrize("password", ["tiger", SECRET])
def test_a_problem_warned_of_hides_the_secrets_a_library_quotes(
        repo, dvx, monkeypatch, password):
    """`repro --pull` goes on, the cache holding the data, without the past runs of a remote
    it cannot set up: the problem it warns of quotes that remote's error, hidden as that
    error would be."""
    (repo / "in").write_text("a\n")
    assert dvx("add", "in").code == 0
    (repo / "dvx.yaml").write_text(
        "stages:\n  s:\n    cmd: cat in > out\n    deps: [in]\n    outs: [out]\n")
    url = f"ssh://alice:{password}@127.0.0.1:{closed_port()}/project"
    assert dvx("remote", "add", "--local", "-d", "s", url).code == 0
    library_quoting(monkeypatch, password)
    ran = dvx("repro", "--pull")
    assert ran.code == 0, ran.output
    assert "Problem: past runs of the stages were not fetched" in ran.stderr, ran.stderr
    assert "password *** refused for tigers" in ran.stderr, ran.stderr
    assert f"{password} " not in ran.output


def test_a_logged_warning_and_its_traceback_hide_the_secrets_a_library_quotes(
        repo, dvx, monkeypatch):
    """What dvx logs of a library's error (with -vv, its traceback too) is scrubbed as its
    errors are."""
    from dvx.errors import RemoteError
    from dvx.logs import get_logger

    assert dvx("remote", "add", "--local", "-d", "s", URL).code == 0
    log = get_logger("dvx.ops.sync")

    def logging(*args, **kwargs):
        try:
            raise ValueError(f"password {SECRET} refused at {URL}")
        except ValueError as exc:
            log.warning("Could not renew the lock on remote s: %s", exc)
            log.debug("Renewing failed", exc_info=exc)
            raise RemoteError("Cannot push.") from exc

    monkeypatch.setattr("dvx.ops.sync.push", logging)
    pushed = dvx("-vv", "push")
    assert pushed.code == 1, pushed.output
    assert "Could not renew the lock on remote s: password *** refused" in pushed.stderr
    assert "Traceback" in pushed.stderr and "ssh://***@127.0.0.1" in pushed.stderr
    assert SECRET not in pushed.output, pushed.stderr
