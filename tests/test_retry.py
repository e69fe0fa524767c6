import pytest

from dvx.errors import CorruptObjectError, MissingObjectError
from dvx.remote.retry import with_retries


def _flaky(failures, exc):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= failures:
            raise exc
        return "ok"

    return call, calls


def test_transient_errors_are_retried_until_success():
    call, calls = _flaky(3, ConnectionError("reset"))
    assert with_retries(call, 5, "x", sleep=lambda s: None) == "ok"
    assert len(calls) == 4


def test_attempts_are_bounded():
    call, calls = _flaky(10, ConnectionError("reset"))
    with pytest.raises(ConnectionError):
        with_retries(call, 3, "x", sleep=lambda s: None)
    assert len(calls) == 3


def test_a_timeout_is_tried_once_more_only():
    """Each attempt waited out the whole timeout: two are enough to call the remote stuck."""
    call, calls = _flaky(10, TimeoutError("no byte moved"))
    with pytest.raises(TimeoutError):
        with_retries(call, 5, "x", sleep=lambda s: None)
    assert len(calls) == 2


@pytest.mark.parametrize("exc", [FileNotFoundError("gone"), PermissionError("no"),
                                 MissingObjectError("not on the remote")])
def test_permanent_errors_fail_at_once(exc):
    call, calls = _flaky(10, exc)
    with pytest.raises(type(exc)):
        with_retries(call, 5, "x", sleep=lambda s: None)
    assert len(calls) == 1


def test_corrupt_downloads_are_retried():
    call, _calls = _flaky(1, CorruptObjectError("truncated"))
    assert with_retries(call, 3, "x", sleep=lambda s: None) == "ok"


def test_backoff_is_bounded():
    delays = []
    call, _ = _flaky(6, ConnectionError())
    with_retries(call, 7, "x", sleep=delays.append)
    assert len(delays) == 6 and max(delays) <= 3.0


def test_credential_errors_are_not_retried():
    class PartialCredentialsError(Exception):  # the name is what counts: no botocore import
        pass

    call, calls = _flaky(10, PartialCredentialsError("missing: aws_access_key_id"))
    with pytest.raises(PartialCredentialsError):
        with_retries(call, 5, "x", sleep=lambda s: None)
    assert len(calls) == 1
