"""Web addresses from outside (a request, a claim, a platform's configuration): parsed in one place.

`urllib.parse` raises ValueError on some malformed input (`http://[::1`, a port `99999` or `abc`) and accepts
other things no browser would send (no host, `javascript:`); every URL the tool acts on passes `http_url()`
first, so a bad one is a clear refusal, never a 500.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2048
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """scheme://host:port, as browsers compare them (host in lower case, the scheme's default port filled in)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{host}" + ("" if default else f":{self.port}")

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an IP address when it is written as one (`127.0.0.1`, `[::1]`)."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def http_url(value: object) -> SplitResult | None:
    """`value` split, if it is an absolute http(s) URL with a host and a valid port; else None."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return None
    if _CONTROL_OR_SPACE.search(value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
        host = parts.hostname
    except ValueError:  # "http://[::1", "http://h:99999", "http://h:abc"
        return None
    if parts.scheme not in DEFAULT_PORTS or not host or parts.username is not None or port == 0:
        return None
    return parts


def origin_of(value: object) -> Origin | None:
    """The origin of an absolute http(s) URL (see `http_url`), else None. The URLs asked about most (a platform's
    `Origin` header, an activity's target_link_uri: every launch request) are worked out once (a URL split
    costs ~40,000 instructions)."""
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return None
    return _origin_of(value)


@functools.lru_cache(maxsize=1024)
def _origin_of(value: str) -> Origin | None:
    parts = http_url(value)
    if parts is None:
        return None
    assert parts.hostname is not None
    return Origin(parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme])


def same_origin(a: str, b: str) -> bool:
    """Both are http(s) URLs of one origin (a malformed one is never the same origin)."""
    first, second = origin_of(a), origin_of(b)
    return first is not None and first == second
