"""The sans-IO limits: token bucket, log throttle, handshake admission."""

from __future__ import annotations

import pytest

from cryptochat.server.admission import Admission, Admitted, Refused
from cryptochat.server.ratelimit import LogThrottle, TokenBucket


def test_a_burst_within_the_allowance_needs_no_wait() -> None:
    bucket = TokenBucket(rate=10, burst=100, now=0.0)
    assert bucket.take(100, now=0.0) == 0.0


def test_past_the_burst_the_wait_is_the_debt_at_the_rate() -> None:
    bucket = TokenBucket(rate=10, burst=100, now=0.0)
    assert bucket.take(120, now=0.0) == pytest.approx(2.0)
    # Two seconds later the debt is paid; the allowance refills at the rate, never beyond the burst.
    assert bucket.take(0, now=2.0) == 0.0
    assert bucket.take(100, now=1000.0) == 0.0
    assert bucket.take(1, now=1000.0) == pytest.approx(0.1)


def test_a_bucket_needs_a_positive_rate_and_a_burst_of_one() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=10, now=0.0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0, now=0.0)


def test_the_throttle_lets_one_line_per_key_and_interval_and_counts_the_rest() -> None:
    throttle = LogThrottle(interval=1.0)
    assert throttle.check("refused 10.0.0.1", 0.0) == 0
    assert throttle.check("refused 10.0.0.1", 0.5) is None
    assert throttle.check("refused 10.0.0.1", 0.9) is None
    assert throttle.check("refused 10.0.0.2", 0.9) == 0  # another source has its own line
    assert throttle.check("refused 10.0.0.1", 1.0) == 2
    assert throttle.check("refused 10.0.0.1", 2.5) == 0


def test_the_throttle_forgets_quiet_keys_so_many_sources_do_not_grow_it() -> None:
    throttle = LogThrottle(interval=1.0)
    for i in range(5000):
        throttle.check(f"refused 10.0.{i // 256}.{i % 256}", float(i))
    assert len(throttle._last) <= 1025


def test_a_newcomer_from_a_busy_address_replaces_its_oldest_handshake() -> None:
    admission = Admission(full=100, per_source=2)
    assert admission.admit(1, "a") == Admitted()
    assert admission.admit(2, "a") == Admitted()
    assert admission.admit(3, "a") == Admitted(evict=1)
    assert admission.admit(4, "a") == Admitted(evict=2)
    assert admission.admit(5, "b") == Admitted()
    assert len(admission) == 3


def test_reopening_connections_as_fast_as_they_are_cut_replaces_only_the_reopeners_own() -> None:
    # Held connections 1..16; a newcomer (100) comes; each one cut is reopened at once, and each reopening
    # replaces the oldest: the newcomer goes last, when the 16th newer one from its address comes.
    admission = Admission(full=100, per_source=16)
    for held in range(1, 17):
        assert admission.admit(held, "nat") == Admitted()
    cut = admission.admit(100, "nat")
    reopened = 200
    for _ in range(16):
        assert isinstance(cut, Admitted) and cut.evict != 100
        cut = admission.admit(reopened, "nat")
        reopened += 1
    assert cut == Admitted(evict=100)


def test_random_early_drop_starts_at_start_and_refuses_all_at_full() -> None:
    draws = iter([0.29, 0.31, 0.99])
    admission = Admission(full=4, per_source=10, start=2, chance=lambda: next(draws))
    assert admission.admit(1, "a") == Admitted()
    assert admission.admit(2, "b") == Admitted()
    # At start the chance of refusal is 30 %: a draw of 0.29 refuses, 0.31 lets through.
    assert isinstance(admission.admit(3, "c"), Refused)
    assert admission.admit(4, "c") == Admitted()
    # Three of four: 30 % + 70 % * 1/2 = 65 %; 0.99 gets through. Then full: refused whatever the draw.
    assert admission.admit(5, "d") == Admitted()
    refused = admission.admit(6, "e")
    assert isinstance(refused, Refused) and "too many" in refused.reason
    admission.done(5)
    admission.done(5)  # a second report is harmless
    assert len(admission) == 3


def test_a_connection_that_finished_its_handshake_frees_its_sources_slot() -> None:
    admission = Admission(full=10, per_source=1)
    assert admission.admit(1, "a") == Admitted()
    admission.done(1)
    assert admission.admit(2, "a") == Admitted()
