"""Options of gs:// and azure:// remotes reach gcsfs and adlfs as meant (the remote contract
suite runs both against emulators: fake-gcs-server and Azurite)."""

from __future__ import annotations

import time

import pytest

from dvx.remote.backends import backend_for


def test_a_gs_remote_with_an_endpoint_speaks_the_json_api_only(fake_gcs):
    """Newer gcsfs asks a gRPC API about each bucket first; an endpoint that has none (an
    emulator, a proxy) would cost a minute per call."""
    import gcsfs

    url = "gs://probe/project"
    fs, root = backend_for(url).build(
        url, {"endpointurl": fake_gcs["endpoint_url"], "anonymous": "true"}, 60.0)
    assert type(fs) is gcsfs.core.GCSFileSystem and root == "probe/project"
    assert fs.credentials.token == "anon"  # no credential lookup, no metadata server asked
    assert (fs.requests_timeout.sock_connect, fs.requests_timeout.sock_read) == (30, 60)
    start = time.monotonic()
    fs.mkdir("probe")
    fs.pipe(f"{root}/k", b"x")
    assert fs.cat(f"{root}/k") == b"x" and fs.find(root) == [f"{root}/k"]
    fs.rm(f"{root}/k")
    assert time.monotonic() - start < 10


def test_an_azure_remote_passes_its_timeout_to_the_client():
    pytest.importorskip("adlfs")
    url = "azure://container/project"
    fs, root = backend_for(url).build(url, {"account_name": "a", "account_key": "a2V5"}, 45.0)
    assert root == "container/project"
    assert fs._timeout_kwargs == {"connection_timeout": 30, "read_timeout": 45}
