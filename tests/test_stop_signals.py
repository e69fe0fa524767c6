"""Ctrl-C, SIGTERM and SIGHUP held back while a clean-up runs (dvx/stop_signals.py)."""

import signal

import pytest

from dvx.stop_signals import stops_held


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C as the `dvx` process has it: KeyboardInterrupt."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_during_held_work_takes_effect_once_it_is_done():
    done = []
    with pytest.raises(KeyboardInterrupt), stops_held():
        signal.raise_signal(signal.SIGINT)
        done.append("the rest")
    assert done == ["the rest"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_while_the_command_stops_for_one_is_ignored():
    done = []
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        with stops_held():
            signal.raise_signal(signal.SIGINT)
            done.append("the rest")
    assert done == ["the rest"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_the_process_ignores_stays_ignored():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with stops_held():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
