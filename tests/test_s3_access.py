"""How the lean S3 path learns the endpoint, region and credentials: straight from the
remote's options and the environment when they give all of it (no AWS client library is
loaded), else from botocore. Both ways must reach the same answer, and both must move data."""

from __future__ import annotations

import errno
import os
import re
import uuid
from functools import partial
from pathlib import Path

import fsspec
import pytest
from fsspec.asyn import sync

import dvx.api
from dvx.errors import RemoteError
from dvx.remote.backends import _build_s3, s3_access
from dvx.remote.s3fast import Access, _access_of
from tests.conftest import git, make_git_repo, run_dvx_proc, tree_bytes, write
from tests.remotes import _s3_spec, clone
from tests.servers import connect_proxy, self_signed_cert, tls_in_front

ENDPOINT = "http://127.0.0.1:9"  # nothing is sent: resolving credentials needs no network
KEYS = {"endpointurl": ENDPOINT, "access_key_id": "AKIDOPTION", "secret_access_key": "opt-secret"}


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AWS_", "FSSPEC_")) or name == "REQUESTS_CA_BUNDLE":
            monkeypatch.delenv(name)


def by_botocore(options: dict[str, str]) -> Access:
    fs, _ = _build_s3("s3://bucket/prefix", options)
    return sync(fs.loop, _access_of, fs)


@pytest.mark.parametrize("options, env", [
    (KEYS, {}),
    ({**KEYS, "session_token": "opt-token", "region": "eu-west-3"}, {}),
    ({**KEYS, "ssl_verify": "false"}, {"AWS_DEFAULT_REGION": "ap-south-1"}),
    (KEYS, {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret",
            "AWS_SESSION_TOKEN": "env-token"}),  # explicit keys never borrow the env's token
    ({"endpointurl": ENDPOINT}, {"AWS_ACCESS_KEY_ID": "AKIDENV",
                                 "AWS_SECRET_ACCESS_KEY": "env-secret",
                                 "AWS_SESSION_TOKEN": "env-token"}),
    ({"endpointurl": ENDPOINT, "region": "us-west-2"},
     {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret",
      "AWS_DEFAULT_REGION": "eu-north-1", "AWS_CA_BUNDLE": __file__}),
    (KEYS, {"REQUESTS_CA_BUNDLE": __file__}),
    # half a key pair in the options gives way to the environment's whole pair
    ({"endpointurl": ENDPOINT, "access_key_id": "AKIDSHARED", "session_token": "opt-token"},
     {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret",
      "AWS_SESSION_TOKEN": "env-token"}),
    ({"endpointurl": ENDPOINT, "secret_access_key": "opt-secret"},
     {"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret"}),
])
def test_options_alone_resolve_as_botocore_does(options, env, monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    direct = s3_access(options, os.environ)
    assert direct is not None
    assert direct == by_botocore(options)
    if "access_key_id" in options and "secret_access_key" not in options:
        # never the config's key id with the environment's secret (nor its token)
        assert (direct.access_key, direct.token) == ("AKIDENV", "env-token")


@pytest.mark.parametrize("options, env, files", [
    ({**KEYS, "profile": "lab"}, {}, ()),  # a profile: only botocore reads ~/.aws
    (KEYS, {}, (".aws/config",)),  # it may set a region, an addressing style, a CA bundle
    (KEYS, {"AWS_CONFIG_FILE": "{home}/elsewhere.ini"}, ("elsewhere.ini",)),
    ({"endpointurl": ENDPOINT, "access_key_id": "AKIDOPTION"}, {}, ()),  # half a key pair
    ({"endpointurl": ENDPOINT}, {}, ()),  # keys from ~/.aws/credentials or an instance role
    ({"access_key_id": "AKIDOPTION", "secret_access_key": "opt-secret"}, {}, ()),  # AWS itself
])
def test_botocore_decides_whenever_anything_else_could_matter(options, env, files, monkeypatch):
    home = Path(os.environ["HOME"])
    for name in files:
        write(home / name, "[default]\nregion = eu-central-1\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(home=home))
    assert s3_access(options, os.environ) is None


def test_fsspec_s3_configuration_leaves_it_to_botocore(monkeypatch):
    from fsspec.config import conf  # from FSSPEC_S3_* variables or fsspec's config files

    monkeypatch.setitem(conf, "s3", {"client_kwargs": {"region_name": "eu-west-1"}})
    assert s3_access(KEYS, os.environ) is None


def _round_trip(tmp_path: Path, server: dict[str, str], options: dict[str, str],
                env: dict[str, str]) -> tuple[str, str]:
    """Push from one repository and pull into a clone, each in a real process; the imports
    each process made (python -X importtime) come back for the caller to inspect."""
    import boto3

    bucket = f"t-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=server["endpoint_url"], aws_access_key_id=server["key"],
                 aws_secret_access_key=server["secret"], region_name="us-east-1"
                 ).create_bucket(Bucket=bucket)
    env = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx_proc("init", cwd=repo).code == 0
    for i in range(80):  # more than one listing threshold's worth, and one small directory
        write(repo / "data" / f"{i:02d}.bin", os.urandom(100 + 37 * i))
    write(repo / "model.pt", os.urandom(70_000))
    for args in (("add", "data", "model.pt"), ("remote", "add", "-d", "r", f"s3://{bucket}/p"),
                 *(("remote", "modify", "--local", "r", k, v) for k, v in options.items())):
        result = run_dvx_proc(*args, cwd=repo)
        assert result.code == 0, result.output
    pushed = run_dvx_proc("push", "-v", cwd=repo, env=env)
    assert pushed.code == 0 and "Pushed 82 objects" in pushed.stdout, pushed.output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    (clone / ".dvx" / "config.local").write_text((repo / ".dvx/config.local").read_text())
    pulled = run_dvx_proc("pull", "-v", cwd=clone, env=env)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(clone / "data") == tree_bytes(repo / "data")
    assert (clone / "model.pt").read_bytes() == (repo / "model.pt").read_bytes()
    for result in (pushed, pulled):  # the lean path did the work, start to end
        assert "general S3 client" not in result.stderr, result.stderr
    return pushed.stderr, pulled.stderr


def test_explicit_settings_move_data_without_the_aws_client_library(tmp_path, seaweed_s3):
    options = {"endpointurl": seaweed_s3["endpoint_url"], "access_key_id": seaweed_s3["key"],
               "secret_access_key": seaweed_s3["secret"]}
    for imports in _round_trip(tmp_path, seaweed_s3, options, {}):
        assert "| s3fs" not in imports and "botocore" not in imports


def test_settings_from_a_profile_go_through_botocore(tmp_path, seaweed_s3):
    home = Path(os.environ["HOME"])
    write(home / ".aws" / "credentials", f"[lab]\naws_access_key_id = {seaweed_s3['key']}\n"
                                         f"aws_secret_access_key = {seaweed_s3['secret']}\n")
    options = {"endpointurl": seaweed_s3["endpoint_url"], "profile": "lab"}
    for imports in _round_trip(tmp_path, seaweed_s3, options, {}):
        assert "| s3fs" in imports and "botocore" in imports


def test_no_credentials_is_one_clear_error_for_every_command(repo, dvx, moto_s3, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask for
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "s3", "s3://bkt/proj").code == 0
    assert dvx("remote", "modify", "s3", "endpointurl", moto_s3["endpoint_url"]).code == 0
    for args in (("status", "--remote"), ("push",), ("fsck", "--remote", "s3"),
                 ("gc", "-w", "-c", "s3", "-f")):
        result = dvx(*args)
        assert result.code == 1, (args, result.output)
        assert result.stderr.startswith("ERROR: No credentials for the remote 's3' "
                                        "(s3://bkt/proj)"), (args, result.stderr)
        assert "AWS_ACCESS_KEY_ID" in result.stderr and "internal error" not in result.stderr


def test_a_key_id_without_its_secret_is_the_same_clear_error(repo, dvx, tmp_path):
    """The team's config names the key id; this clone has no secret yet. Push and pull (the
    lean path) say so as status --remote does, before any request is sent."""
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "s3", "s3://bkt/proj").code == 0
    assert dvx("remote", "modify", "s3", "endpointurl", ENDPOINT).code == 0
    assert dvx("remote", "modify", "s3", "access_key_id", "AKIDSHARED").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    for args, cwd in ((("push",), repo), (("status", "--remote"), repo), (("pull",), clone),
                      (("fetch",), clone), (("gc", "-w", "-c", "s3", "-f"), repo)):
        result = dvx(*args, cwd=cwd)
        assert result.code == 1, (args, result.output)
        assert result.stderr.startswith(
            "ERROR: No credentials for the remote 's3' (s3://bkt/proj): its options give the "
            "access_key_id but not the secret_access_key, and the environment no key pair to "
            "use instead (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); its access_key_id "
            "comes from the project config (.dvx/config). Give the secret_access_key with "
            "`dvx remote modify --local s3 secret_access_key ...`"), (args, result.stderr)


def test_a_key_id_alone_gives_way_to_the_environment_s_key_pair(tmp_path, moto_s3,
                                                                 monkeypatch):
    """The team's config names the key id, each clone's config.local its secret. A CI clone
    and a reader of the repository (get, import, dvx.api) that have the key pair in
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and no secret in any config, use that
    pair. With half of it, the error names what each of the config and the environment
    gives, and never recommends as it stands what is set already."""
    import boto3

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_s3["endpoint_url"], aws_access_key_id="k",
                 aws_secret_access_key="s", region_name="us-east-1").create_bucket(Bucket=bucket)
    url = f"s3://{bucket}/proj"
    alice = make_git_repo(tmp_path / "alice")
    for args in (("init",), ("remote", "add", "-d", "s3", url),
                 ("remote", "modify", "s3", "endpointurl", moto_s3["endpoint_url"]),
                 ("remote", "modify", "s3", "access_key_id", "AKIDTEAM"),
                 ("remote", "modify", "--local", "s3", "secret_access_key", "alice-secret")):
        assert run_dvx_proc(*args, cwd=alice).code == 0, args
    assert "access_key_id = AKIDTEAM" in (alice / ".dvx" / "config").read_text()
    write(alice / "data.csv", "a,b\n1,2\n")
    for args in (("add", "data.csv"), ("push",)):
        assert run_dvx_proc(*args, cwd=alice).code == 0, args
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "data")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(alice), str(origin))
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", str(origin), str(ci))
    project = make_git_repo(tmp_path / "project")
    assert run_dvx_proc("init", cwd=project).code == 0
    reads = ((("pull",), ci), (("get", str(origin), "data.csv", "-o", "got.csv"), tmp_path),
             (("import", str(origin), "data.csv"), project))

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCI")  # half the pair: an error each
    for args, cwd in reads:
        result = run_dvx_proc(*args, cwd=cwd)
        assert result.code == 1, (args, result.output)
        assert "its options give the access_key_id but not the secret_access_key, and the " \
               "environment no key pair to use instead (it gives AWS_ACCESS_KEY_ID without " \
               "AWS_SECRET_ACCESS_KEY); its access_key_id comes from the project config " \
               "(.dvx/config)." in result.stderr, (args, result.stderr)
        assert "AWS_SECRET_ACCESS_KEY beside the environment's AWS_ACCESS_KEY_ID" \
            in result.stderr, (args, result.stderr)
        assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment" \
            not in result.stderr, (args, result.stderr)
        own = args == ("pull",)  # the source's remote is given credentials in one's own config
        assert ("`dvx remote modify --local s3 secret_access_key ...`" in result.stderr,
                f"`dvx remote add --global NAME {url}`" in result.stderr) == (own, not own), \
            (args, result.stderr)
    assert not (ci / "data.csv").exists() and not (tmp_path / "got.csv").exists()

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ci-secret")  # the whole pair
    for args, cwd in reads:
        result = run_dvx_proc(*args, cwd=cwd)
        assert result.code == 0, (args, result.output)
    for got in (ci / "data.csv", tmp_path / "got.csv", project / "data.csv"):
        assert got.read_text() == "a,b\n1,2\n", got
    (tmp_path / "user-cache").rename(tmp_path / "used-cache")  # read from the remote again
    monkeypatch.chdir(tmp_path)
    assert dvx.api.read("data.csv", repo=str(origin)) == "a,b\n1,2\n"


def test_a_key_id_alone_gives_way_to_the_profile_of_one_s_own_config(repo, dvx, tmp_path,
                                                                       seaweed_s3, request,
                                                                       monkeypatch):
    """The team's config names the key id; a clone names its own AWS profile, which holds a
    whole key pair: that pair is used (before the environment's, as botocore leaves those
    aside for a profile named), never half of one. A profile without keys is the error,
    naming the profile and the key id that gave way to it."""
    spec = _s3_spec(seaweed_s3, request)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDWRONG")  # refused, if it were used
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    write(Path(os.environ["HOME"]) / ".aws" / "credentials",
          f"[team]\naws_access_key_id = {seaweed_s3['key']}\n"
          f"aws_secret_access_key = {seaweed_s3['secret']}\n[empty]\nregion = us-east-1\n")
    write(repo / "f", "hi")
    for args in (("add", "f"), ("remote", "add", "-d", "s3", spec.url),
                 ("remote", "modify", "s3", "endpointurl", spec.options["endpointurl"]),
                 ("remote", "modify", "s3", "access_key_id", seaweed_s3["key"]),
                 ("remote", "modify", "--local", "s3", "profile", "team")):
        assert dvx(*args).code == 0, args
    assert "access_key_id" in (repo / ".dvx" / "config").read_text()
    pushed = dvx("push")
    assert pushed.code == 0 and "Pushed 1 object" in pushed.stdout, pushed.output
    assert dvx("status", "--remote").code == 0
    assert spec.list_keys()

    assert dvx("remote", "modify", "--local", "s3", "profile", "empty").code == 0
    result = dvx("status", "--remote")
    assert result.code == 1, result.output
    assert result.stderr.startswith(
        f"ERROR: No credentials for the remote 's3' ({spec.url}): its profile option names the "
        "AWS profile 'empty', which gives no keys (the access_key_id the options give without "
        "the secret_access_key gives way to the profile), and leaves the environment's "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY unused"), result.stderr
    assert "`dvx remote modify --local s3 profile PROFILE`" in result.stderr


def test_a_key_id_alone_gives_way_to_the_profile_aws_profile_names(repo, dvx, seaweed_s3,
                                                                   request, monkeypatch):
    """The team's config names the key id; AWS_PROFILE names one's own profile, which holds a
    whole key pair: that pair is used, as the same profile given as the remote's option is,
    never half of one. The environment's own key pair comes before it, as in botocore. A
    profile without keys is the error, naming AWS_PROFILE and the key id that gave way."""
    spec = _s3_spec(seaweed_s3, request)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    write(Path(os.environ["HOME"]) / ".aws" / "credentials",
          f"[mine]\naws_access_key_id = {seaweed_s3['key']}\n"
          f"aws_secret_access_key = {seaweed_s3['secret']}\n[empty]\nregion = us-east-1\n")
    write(repo / "f", "hi")
    for args in (("add", "f"), ("remote", "add", "-d", "s3", spec.url),
                 ("remote", "modify", "s3", "endpointurl", spec.options["endpointurl"]),
                 ("remote", "modify", "s3", "access_key_id", "AKIDTEAM")):
        assert dvx(*args).code == 0, args
    monkeypatch.setenv("AWS_PROFILE", "mine")
    pushed = dvx("push")
    assert pushed.code == 0 and "Pushed 1 object" in pushed.stdout, pushed.output
    assert dvx("status", "--remote").code == 0
    assert spec.list_keys()

    monkeypatch.setenv("AWS_PROFILE", "empty")
    result = dvx("status", "--remote")
    assert result.code == 1, result.output
    assert result.stderr == (
        f"ERROR: No credentials for the remote 's3' ({spec.url}): AWS_PROFILE names the AWS "
        "profile 'empty', which gives no keys (the access_key_id the options give without the "
        "secret_access_key gives way to the profile); its access_key_id comes from the "
        "project config (.dvx/config). Give the profile its keys in your AWS credentials file "
        "(~/.aws/credentials), or unset AWS_PROFILE and give the secret_access_key with `dvx "
        "remote modify --local s3 secret_access_key ...`.\n")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed_s3["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed_s3["secret"])
    assert dvx("status", "--remote").code == 0


@pytest.mark.parametrize("profile_file", ["", "[profile team]\nregion = us-east-1\n"])
def test_a_profile_without_keys_names_it_and_never_the_environment_s_unused_keys(
        repo, dvx, profile_file, monkeypatch):
    """botocore takes no keys from the environment for a remote that names a profile: when
    the profile is missing, or gives no keys, the error names it and where it is set, and
    the way out is the profile, never AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, which
    are set."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    if profile_file:
        write(Path(os.environ["HOME"]) / ".aws" / "config", profile_file)
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    for args in (("remote", "add", "-d", "s3", "s3://bkt/proj"),
                 ("remote", "modify", "s3", "endpointurl", ENDPOINT),
                 ("remote", "modify", "s3", "profile", "team")):
        assert dvx(*args).code == 0, args
    result = dvx("push")
    assert result.code == 1, result.output
    found = "which gives no keys" if profile_file else \
        "which your AWS config and credentials files do not have"
    assert result.stderr == (
        f"ERROR: No credentials for the remote 's3' (s3://bkt/proj): its profile option names "
        f"the AWS profile 'team', {found}, and leaves the environment's AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY unused; its profile comes from the project config "
        "(.dvx/config). Give the profile its keys in your AWS credentials file "
        "(~/.aws/credentials), or name another with `dvx remote modify --local s3 profile "
        "PROFILE`.\n")


def test_a_wrong_secret_is_the_remote_s_refusal_for_every_command(tmp_path, seaweed_s3,
                                                                  request, monkeypatch):
    """A store that refuses the credentials (a wrong secret: a 403) is named as the remote
    that refused them by every command that meets it, and by the reading of another
    repository's data from it, as status --remote names it: never as a local file whose
    permissions are to be fixed."""
    spec = _s3_spec(seaweed_s3, request)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx_proc("init", cwd=repo).code == 0
    for args in (("remote", "add", "-d", "s3", spec.url),
                 ("remote", "modify", "s3", "endpointurl", spec.options["endpointurl"]),
                 *(("remote", "modify", "--local", "s3", key, spec.options[key])
                   for key in ("access_key_id", "secret_access_key"))):
        assert run_dvx_proc(*args, cwd=repo).code == 0
    write(repo / "data.csv", "a,b\n1,2\n")
    for args in (("add", "data.csv"), ("push",)):
        assert run_dvx_proc(*args, cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    mine = clone(repo, tmp_path)  # a teammate's, whose secret is wrong
    assert run_dvx_proc("remote", "modify", "s3", "secret_access_key", "wrong-secret",
                        cwd=mine).code == 0
    write(mine / "new.csv", "c\n")
    assert run_dvx_proc("add", "new.csv", cwd=mine).code == 0
    project = make_git_repo(tmp_path / "project")
    assert run_dvx_proc("init", cwd=project).code == 0
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", spec.options["access_key_id"])  # a reader's own
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    refused = f"The remote 's3' ({spec.url}) refused access: "
    for args, cwd in ((("status", "--remote"), mine), (("pull",), mine), (("fetch",), mine),
                      (("push",), mine), (("gc", "-w", "-c", "s3", "-f"), mine),
                      (("fsck", "--remote", "s3"), mine), (("get", str(origin), "data.csv",
                                                           "-o", "got.csv"), tmp_path),
                      (("import", str(origin), "data.csv"), project)):
        result = run_dvx_proc(*args, cwd=cwd)
        assert result.code == 1, (args, result.output)
        assert result.stderr.startswith(f"ERROR: {refused}the credentials are wrong "
                                        "(SignatureDoesNotMatch"), (args, result.stderr)
        taken = "the remote's options access_key_id and secret_access_key, set in the " \
                "local config (.dvx/config.local)" if cwd == mine else \
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
        assert f"Check them; they are taken from {taken}" in result.stderr, result.stderr
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RemoteError, match=re.escape(refused)):
        dvx.api.read("data.csv", repo=str(origin))
    with pytest.raises(OSError, match=re.escape(refused)) as failed:
        fsspec.filesystem("dvx", repo=str(origin)).cat("data.csv")
    assert failed.value.errno == errno.EIO


def test_credentials_the_store_refuses_are_wrong_and_named_by_where_they_come_from(
        repo, tmp_path, seaweed_s3, request, monkeypatch):
    """A wrong secret in the environment, a key id the store does not know in
    .dvx/config.local, a `profile` whose keys are stale while the environment holds good
    ones: each push says the credentials are wrong, with S3's reason, and where they were
    taken from, as get-url does; once they are right, it pushes."""
    spec = _s3_spec(seaweed_s3, request)
    key, secret = spec.options["access_key_id"], spec.options["secret_access_key"]
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(f"[old]\naws_access_key_id = {key}\n"
                           "aws_secret_access_key = stale-secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    for args in (("remote", "add", "-d", "s3", spec.url),
                 ("remote", "modify", "s3", "endpointurl", spec.options["endpointurl"])):
        assert run_dvx_proc(*args, cwd=repo).code == 0
    write(repo / "data.csv", "a,b\n1,2\n")
    assert run_dvx_proc("add", "data.csv", cwd=repo).code == 0
    refused = f"ERROR: The remote 's3' ({spec.url}) refused access: the credentials are wrong"
    unused = "; the environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go unused."
    local = "set in the local config (.dvx/config.local)"

    def push_says(reason: str, taken: str) -> None:
        result = run_dvx_proc("push", cwd=repo)
        assert result.code == 1, result.output
        assert result.stderr == f"{refused} ({reason}). Check them; they are taken from " \
                                f"{taken}\n", result.stderr

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    push_says("SignatureDoesNotMatch: the secret access key does not match the access key id",
              "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    for option, value in (("access_key_id", "NOSUCHKEY"), ("secret_access_key", "x")):
        assert run_dvx_proc("remote", "modify", "--local", "s3", option, value,
                            cwd=repo).code == 0
    push_says("InvalidAccessKeyId: the store knows no such access key id",
              f"the remote's options access_key_id and secret_access_key, {local}{unused}")
    for option in ("access_key_id", "secret_access_key"):
        assert run_dvx_proc("remote", "modify", "--local", "s3", "--unset", option,
                            cwd=repo).code == 0
    assert run_dvx_proc("remote", "modify", "--local", "s3", "profile", "old",
                        cwd=repo).code == 0
    push_says("SignatureDoesNotMatch: the secret access key does not match the access key id",
              f"the AWS profile 'old', named by the remote's profile option {local}{unused}")
    assert run_dvx_proc("remote", "modify", "--local", "s3", "--unset", "profile",
                        cwd=repo).code == 0
    pushed = run_dvx_proc("push", cwd=repo)
    assert pushed.code == 0 and "Pushed 1 object" in pushed.stdout, pushed.output


def test_no_credentials_for_a_source_s_remote_say_how_its_reader_gives_them(tmp_path,
                                                                            monkeypatch):
    """Reading another repository's S3 remote without credentials (get, import, dvx.api):
    the way out is one its reader can take (the environment, or a remote of the same URL in
    their own config), never `dvx remote modify` of a remote that is the source's; and,
    taken, it gives the remote its credentials."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask for
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    source = make_git_repo(tmp_path / "source")
    assert run_dvx_proc("init", cwd=source).code == 0
    for args in (("remote", "add", "-d", "s3", "s3://bkt/proj"),
                 ("remote", "modify", "s3", "endpointurl", ENDPOINT)):
        assert run_dvx_proc(*args, cwd=source).code == 0
    write(source / "data.csv", "a,b\n")
    assert run_dvx_proc("add", "data.csv", cwd=source).code == 0
    git(source, "add", "-A")
    git(source, "commit", "-qm", "data")
    origin = tmp_path / "origin.git"  # no cache of its own: its data is on its remote only
    git(tmp_path, "clone", "-q", "--bare", str(source), str(origin))
    project = make_git_repo(tmp_path / "project")
    assert run_dvx_proc("init", cwd=project).code == 0
    way_out = "`dvx remote add --global NAME s3://bkt/proj`, then `dvx remote modify --global"
    reads = ((("get", str(origin), "data.csv", "-o", "got.csv"), tmp_path),
             (("import", str(origin), "data.csv"), project))
    for args, cwd in reads:
        result = run_dvx_proc(*args, cwd=cwd)
        assert result.code == 1, (args, result.output)
        assert result.stderr.startswith(f"ERROR: Cannot read the remote of '{origin}': No "
                                        "credentials for the remote 's3' (s3://bkt/proj)"), (
            args, result.stderr)
        assert way_out in result.stderr and "AWS_ACCESS_KEY_ID" in result.stderr
        assert "dvx remote modify --local s3" not in result.stderr, result.stderr
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RemoteError) as failed:
        dvx.api.read("data.csv", repo=str(origin))
    assert way_out in failed.value.hint and "Give them" not in failed.value.message
    for args in (("remote", "add", "--global", "mine", "s3://bkt/proj"),
                 ("remote", "modify", "--global", "mine", "access_key_id", "AKIDMINE"),
                 ("remote", "modify", "--global", "mine", "secret_access_key", "my-secret")):
        assert run_dvx_proc(*args, cwd=tmp_path).code == 0
    for args, cwd in reads:  # the source's remote is at its own endpoint: another store
        result = run_dvx_proc(*args, cwd=cwd)
        assert result.code == 1 and "No credentials" in result.stderr, result.stderr
    assert run_dvx_proc("remote", "modify", "--global", "mine", "endpointurl", ENDPOINT,
                        cwd=tmp_path).code == 0
    for args, cwd in reads:  # credentials now: the request is sent (to nothing on port 9)
        result = run_dvx_proc(*args, cwd=cwd)
        assert result.code == 1 and "No credentials" not in result.stderr, result.stderr
        assert "127.0.0.1:9 did not accept the connection" in result.stderr, result.stderr


def test_an_s3_import_without_credentials_is_the_same_clear_error(repo, moto_s3, monkeypatch):
    """An import's source is read with the environment's credentials: without the secret (or
    any key), import-url, get-url and update say so as push does, and status warns."""
    import boto3

    dvx = partial(run_dvx_proc, cwd=repo)  # a new process each: fsspec keeps its clients

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3["endpoint_url"])
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_s3["endpoint_url"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="data/x.txt", Body=b"hello s3")
    url = f"s3://{bucket}/data/x.txt"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert dvx("import-url", url, "y").code == 0
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")  # the secret forgotten, then every key
    for missing in ("PartialCredentialsError", "NoCredentialsError"):
        for args in (("update", "y.dvx"), ("import-url", url, "w"), ("get-url", url, "z")):
            result = dvx(*args)
            assert result.code == 1, (args, result.output)
            assert f"No credentials for '{url}': {missing}" in result.stderr, (args, result.stderr)
            assert "AWS_SECRET_ACCESS_KEY" in result.stderr
            assert "internal error" not in result.stderr
        result = dvx("status")
        assert result.code == 0, result.output
        assert f"WARNING: y: its source could not be checked: No credentials for '{url}'" \
            in result.stderr
        monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)


def test_a_wrong_secret_for_an_s3_source_is_its_server_s_refusal(repo, seaweed_s3, request,
                                                                   monkeypatch):
    """A store that refuses the credentials an import's source is read with (a wrong secret:
    a 403) is named as refusing them, with where they come from: never as a network
    problem."""
    spec = _s3_spec(seaweed_s3, request)
    spec.put_key("x.bin", b"x")
    url = f"{spec.url}/x.bin"
    monkeypatch.setenv("AWS_ENDPOINT_URL", spec.options["endpointurl"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", spec.options["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", spec.options["secret_access_key"])
    assert run_dvx_proc("import-url", url, "y", cwd=repo).code == 0
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    refused = f"The server of '{url}' refused access: "
    for args in (("update", "y.dvx"), ("import-url", url, "w"), ("get-url", url, "z")):
        result = run_dvx_proc(*args, cwd=repo)
        assert result.code == 1, (args, result.output)
        assert refused in result.stderr, (args, result.stderr)
        assert "Check the credentials and that they may read it; they are taken from " \
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in result.stderr, result.stderr
        assert "network" not in result.stderr and "wrong-secret" not in result.stderr
    status = run_dvx_proc("status", cwd=repo)
    assert status.code == 0, status.output
    assert f"WARNING: y: its source could not be checked: {refused}" in status.stderr


def test_an_s3_source_is_downloaded_in_blocks_never_held_whole(repo, moto_s3, tmp_path,
                                                                monkeypatch):
    """import-url and get-url read an S3 object in blocks of a bounded size, as pull does,
    never the whole object into memory: the peak memory of the command grows by much less
    than the object's size (s3fs's own download held it whole)."""
    import boto3

    size = 96 << 20
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_s3["endpoint_url"], region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    request_body = tmp_path / "large.bin"
    with open(request_body, "wb") as f:
        f.truncate(size)
    client.upload_file(str(request_body), bucket, "large.bin")
    client.put_object(Bucket=bucket, Key="small.bin", Body=b"x")
    try:
        base = _peak_memory("import-url", f"s3://{bucket}/small.bin", cwd=repo)
        for args in (("import-url", f"s3://{bucket}/large.bin"),
                     ("get-url", f"s3://{bucket}/large.bin", str(tmp_path / "got.bin"))):
            assert _peak_memory(*args, cwd=repo) - base < size // 2, args
        assert os.path.getsize(repo / "large.bin") == size
        assert (tmp_path / "got.bin").read_bytes() == request_body.read_bytes()
    finally:
        for key in ("large.bin", "small.bin"):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)


def _peak_memory(*args: str, cwd: Path) -> int:
    """The peak resident memory, in bytes, of `dvx args` run to success in a process of its
    own."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "dvx", "-q", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, args
    return usage.ru_maxrss * 1024  # KiB on Linux


@pytest.mark.parametrize("way", ["lean", "botocore", "proxy"])
def test_an_s3_store_over_tls_is_checked_against_the_ssl_verify_bundle(repo, dvx, moto_s3,
                                                                      tmp_path, monkeypatch,
                                                                      way):
    """A store whose certificate no system CA signed is refused at once (no retries),
    however ssl_verify names a bundle that does not trust it; a relative bundle path is the
    repository's, from any folder. Every way to the store agrees: the lean path with the
    options' settings or botocore's (an AWS config file), and the general client (a proxy)."""
    import boto3

    if way == "botocore":
        monkeypatch.setenv("AWS_CONFIG_FILE", str(write(tmp_path / "aws-config", "")))
    boto3.client("s3", endpoint_url=moto_s3["endpoint_url"], aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1"
                 ).create_bucket(Bucket="tls-bkt")
    moto_port = int(moto_s3["endpoint_url"].rsplit(":", 1)[1])
    with connect_proxy() as (proxy_url, tunnelled), \
            tls_in_front(moto_port, tmp_path / "tls") as (port, cert):
        if way == "proxy":
            monkeypatch.setenv("HTTPS_PROXY", proxy_url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
        write(repo / "certs" / "ca.pem", Path(cert).read_text())
        other, _ = self_signed_cert(tmp_path / "other")
        write(repo / "certs" / "other.pem", Path(other).read_text())
        write(repo / "f", "hi")
        assert dvx("add", "f").code == 0
        for args in (("remote", "add", "-d", "s", f"s3://tls-bkt/{uuid.uuid4().hex}"),
                     ("remote", "modify", "s", "endpointurl", f"https://127.0.0.1:{port}"),
                     ("remote", "modify", "--local", "s", "access_key_id", "testing"),
                     ("remote", "modify", "--local", "s", "secret_access_key", "testing")):
            assert dvx(*args).code == 0
        refused = dvx("push", "-v")
        assert refused.code == 1, refused.output
        assert "self-signed certificate" in refused.stderr and "ssl_verify" in refused.stderr
        assert "Retrying" not in refused.stderr
        assert dvx("remote", "modify", "s", "ssl_verify", "certs/ca.pem").code == 0
        pushed = dvx("push")
        assert pushed.code == 0 and "Pushed 1 object" in pushed.stdout, pushed.output
        (repo / "sub").mkdir()
        in_sync = dvx("status", "-c", cwd=repo / "sub")  # certs/ca.pem is not there
        assert in_sync.code == 0 and "in sync" in in_sync.stdout, in_sync.output
        assert dvx("remote", "modify", "s", "ssl_verify", "certs/other.pem").code == 0
        untrusted = dvx("status", "-c", cwd=repo / "sub")
        assert untrusted.code == 1, untrusted.output
        assert "TLS certificate could not be verified" in untrusted.stderr
        missing = dvx("remote", "modify", "s", "ssl_verify", "certs/gone.pem")
        assert missing.code == 2 and "does not exist" in missing.stderr, missing.output
        assert dvx("remote", "modify", "s", "ssl_verify", "false").code == 0
        assert dvx("status", "-c", cwd=repo / "sub").code == 0
    assert bool(tunnelled) == (way == "proxy")
