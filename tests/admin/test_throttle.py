"""The sign-in throttle on its own, with a launch store whose clock the test moves."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lti_tool.admin.throttle import LoginThrottle


class ClockStore:
    """The LaunchStore protocol in memory, with time in the test's hands."""

    unavailable: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        self.now = 0.0
        self.data: dict[str, tuple[Any, float]] = {}

    def _live(self, key: str) -> bool:
        return key in self.data and self.data[key][1] > self.now

    def get(self, key: str, *, session: Session | None = None) -> Any | None:
        return self.data[key][0] if self._live(key) else None

    def set(self, key: str, value: Any, ttl: int) -> None:
        self.data[key] = (value, self.now + ttl)

    def add(self, key: str, value: Any, ttl: int, *, session: Session | None = None) -> bool:
        if self._live(key):
            return False
        self.set(key, value, ttl)
        return True

    def pop(self, key: str) -> Any | None:
        value = self.get(key)
        self.data.pop(key, None)
        return value

    def delete(self, key: str, *, session: Session | None = None) -> None:
        self.data.pop(key, None)

    def purge_expired(self) -> int:
        return 0


def _fail(throttle: LoginThrottle, name: str = "anna", address: str = "192.0.2.1") -> bool:
    attempt = throttle.begin(name, address)
    if attempt is None:
        return False
    throttle.failed(attempt)
    return True


def test_five_failures_lock_for_the_lockout_time_then_count_afresh() -> None:
    store = ClockStore()
    throttle = LoginThrottle(store, per_user=5, per_address=20, lockout_seconds=900)
    assert all(_fail(throttle) for _ in range(5))
    assert throttle.begin("anna", "192.0.2.1") is None
    assert throttle.begin("anna", "198.51.100.9") is not None  # locked from that address only
    store.now += 899
    assert throttle.begin("anna", "192.0.2.1") is None
    store.now += 2
    assert all(_fail(throttle) for _ in range(5))
    assert throttle.begin("anna", "192.0.2.1") is None


def test_failures_spread_over_more_than_the_lockout_time_do_not_lock() -> None:
    store = ClockStore()
    throttle = LoginThrottle(store, per_user=5, per_address=20, lockout_seconds=900)
    for _ in range(12):
        assert _fail(throttle)
        store.now += 250  # at most 4 within any 900 s


def test_success_forgets_the_names_failures_but_not_the_addresss() -> None:
    store = ClockStore()
    throttle = LoginThrottle(store, per_user=5, per_address=6, lockout_seconds=900)
    for _ in range(4):
        _fail(throttle)
    attempt = throttle.begin("anna", "192.0.2.1")
    assert attempt is not None
    throttle.succeeded(attempt)
    assert _fail(throttle) and _fail(throttle)  # the name counts from zero again; the address holds 6 now
    assert throttle.begin("ben", "192.0.2.1") is None
    assert throttle.begin("ben", "198.51.100.9") is not None


def test_only_hashes_of_names_and_addresses_are_stored() -> None:
    store = ClockStore()
    throttle = LoginThrottle(store, per_user=5, per_address=20, lockout_seconds=900)
    _fail(throttle, "anna@example.org", "192.0.2.1")
    assert store.data and not any("anna" in k or "192.0.2.1" in k for k in store.data)


def test_a_stranger_cannot_lock_the_operator_out() -> None:
    """Failures for the operator's name (in any spelling) from a stranger's address leave the operator's own
    address untouched; the stranger's address is locked for every name."""
    store = ClockStore()
    throttle = LoginThrottle(store, per_user=5, per_address=20, lockout_seconds=900)
    for i in range(40):
        _fail(throttle, "anna", "203.0.113.66")
        _fail(throttle, f"other{i}", "203.0.113.66")
    assert throttle.begin("anna", "203.0.113.66") is None
    assert throttle.begin("ben", "203.0.113.66") is None
    assert throttle.begin("anna", "192.0.2.1") is not None


def test_ipv6_clients_count_per_64() -> None:
    store = ClockStore()
    throttle = LoginThrottle(store, per_user=5, per_address=20, lockout_seconds=900)
    for i in range(5):
        _fail(throttle, "anna", f"2001:db8:1:2::{i + 1:x}")  # five addresses of one /64
    assert throttle.begin("anna", "2001:db8:1:2:ffff::9") is None
    assert throttle.begin("anna", "2001:db8:1:3::1") is not None
