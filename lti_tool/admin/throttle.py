"""Failed sign-ins, counted in the launch store so that every process (and every host) sees the same counts.

Two scopes are counted: the user name *from this client address* (whether the name exists or not, so the answer
does not reveal which names do), and the client address alone. So a stranger who tries the operator's name from
elsewhere locks out only their own address, never the operator at theirs. IPv6 clients are counted per /64 (a
typical end-user network hands out a whole /64). Names arrive normalised (accounts.normalize_username: "NAME "
is "name"). Each attempt first takes a free slot in both scopes, and only then is the password
checked: `LaunchStore.add` is atomic, so parallel attempts never share a slot and at most `limit` passwords are
tried per scope, however many requests arrive at once. A wrong password keeps its slot; when a scope has no free
slot left, it is locked for the lockout time (the lock is set before the slots are cleared, and an attempt looks
for it again after taking its slot). A right password gives the slots back.
Only hashes of names and addresses are stored.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from ..cache import LaunchStore

PREFIX = "admin-login:"


@dataclass(frozen=True, slots=True)
class Scope:
    key: str
    limit: int


@dataclass(slots=True)
class Attempt:
    """The slots one sign-in attempt holds, one per scope."""

    taken: list[tuple[Scope, int]] = field(default_factory=list)


def client_network(address: str) -> str:
    """The unit an address is counted in: an IPv4 address, or an IPv6 address's /64."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip().lower()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class LoginThrottle:
    def __init__(self, store: LaunchStore, *, per_user: int, per_address: int, lockout_seconds: int) -> None:
        self.store = store
        self.per_user = max(1, per_user)
        self.per_address = max(1, per_address)
        self.lockout = max(1, lockout_seconds)

    @staticmethod
    def _digest(kind: str, value: str) -> str:
        return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()

    def scopes(self, username: str, address: str) -> list[Scope]:
        network = client_network(address)
        return [
            Scope(PREFIX + "user:" + self._digest("user", f"{username}\n{network}"), self.per_user),
            Scope(PREFIX + "addr:" + self._digest("addr", network), self.per_address),
        ]

    def begin(self, username: str, address: str) -> Attempt | None:
        """Take a slot in every scope; None (holding nothing) when one of them is locked or full."""
        attempt = Attempt()
        for scope in self.scopes(username, address):
            slot = None if self.is_locked(scope) else self._take(scope)
            if slot is not None:
                attempt.taken.append((scope, slot))
            # Checked again after taking: a lock set meanwhile freed the slots this one may have taken.
            if slot is None or self.is_locked(scope):
                self._give_back(attempt)
                return None
        return attempt

    def is_locked(self, scope: Scope) -> bool:
        return self.store.get(scope.key + ":lock") is not None

    def failed(self, attempt: Attempt) -> None:
        """The password was wrong: the slots stay taken; a scope without a free slot is locked."""
        for scope, _slot in attempt.taken:
            if all(self.store.get(f"{scope.key}:{i}") is not None for i in range(scope.limit)):
                self.store.set(scope.key + ":lock", 1, self.lockout)
                for i in range(scope.limit):
                    self.store.delete(f"{scope.key}:{i}")

    def succeeded(self, attempt: Attempt) -> None:
        """Signed in: this attempt's slots are given back and the user name's earlier failures forgotten."""
        for scope, _slot in attempt.taken[:1]:
            for i in range(scope.limit):
                self.store.delete(f"{scope.key}:{i}")
        self._give_back(Attempt(attempt.taken[1:]))

    def _take(self, scope: Scope) -> int | None:
        for i in range(scope.limit):
            if self.store.add(f"{scope.key}:{i}", 1, self.lockout):
                return i
        return None

    def _give_back(self, attempt: Attempt) -> None:
        for scope, slot in attempt.taken:
            self.store.delete(f"{scope.key}:{slot}")
