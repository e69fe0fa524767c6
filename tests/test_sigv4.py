"""dvx's own SigV4 signer produces exactly botocore's signature for the requests the lean S3
path sends (real servers check it too: see the S3 cases of test_remote_contract.py)."""

import calendar
import datetime
import hashlib

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dvx.remote.sigv4 import EMPTY_SHA256, SigV4Signer

WHEN = datetime.datetime(2026, 3, 14, 15, 9, 26)
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def botocore_headers(monkeypatch, method, url, body, headers, token):
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: WHEN)
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    S3SigV4Auth(Credentials(KEY, SECRET, token), "s3", "eu-west-3").add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


CASES = [
    ("GET", "http://127.0.0.1:8333/bucket/files/xxh128/ab/cdef0123", b"", {}),
    ("PUT", "http://127.0.0.1:8333/bucket/prefix/files/xxh128/ab/cd", b"x" * 3000,
     {"Content-MD5": "q83vEjRWeJA="}),
    ("GET", "http://localhost:9000/bucket/?list-type=2&max-keys=1000&prefix=p%2Ffiles%2F", b"", {}),
    ("GET", "http://h:9000/b/?continuation-token=a%2Bb%3D%3D&list-type=2&prefix=x%20y%2F", b"",
     {}),
    ("PUT", "https://bucket.s3.amazonaws.com/a%20key/with~tilde", b"", {}),
]


@pytest.mark.parametrize("token", [None, "session-token"])
@pytest.mark.parametrize(("method", "url", "body", "headers"), CASES)
def test_signature_matches_botocore(monkeypatch, method, url, body, headers, token):
    payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    ours = SigV4Signer(KEY, SECRET, token, "eu-west-3").sign(
        method, url, headers, payload, now=calendar.timegm(WHEN.timetuple()))
    theirs = botocore_headers(monkeypatch, method, url, body, headers, token)
    assert ours["Authorization"] == theirs["authorization"]
    assert ours["x-amz-content-sha256"] == theirs["x-amz-content-sha256"]


def test_default_ports_are_left_out_of_the_signed_host():
    signer = SigV4Signer(KEY, SECRET, None, "us-east-1")
    assert signer.sign("GET", "http://example.com:80/b/k")["host"] == "example.com"
    assert signer.sign("GET", "https://example.com:443/b/k")["host"] == "example.com"
    assert signer.sign("GET", "http://example.com:9000/b/k")["host"] == "example.com:9000"
    assert signer.sign("GET", "http://[::1]:9000/b/k")["host"] == "[::1]:9000"
