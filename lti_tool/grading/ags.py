"""Assignment and Grade Services over HTTP: post one score, find or create a line item, and say what the
platform's answer means for the outbox.

Outcomes: 2xx sent; 409 applied (Moodle: the score is not newer than the stored one); 404 removed (Moodle: the
teacher deleted the grade item, "Grade item N doesn't exist"); 401 drops the access
token and tries once more with a fresh one; 408, 425, 429, 5xx, time-outs and connection errors are retried
later (with the platform's Retry-After, if any); every other answer fails the row with the platform's status
and a short, sanitised excerpt of what it said as the reason (`lti_tool.http.short_reason`, never the body).
Requests go through the guarded client to the platform's registered origins only; a refused address fails the
row. Tokens never appear in reasons or logs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from ..http import GuardedClient, OutboundRefused, platform_json, short_reason
from ..urls import http_url
from .singleflight import Busy
from .tokens import AccessTokens, PlatformInfo, TokenError

log = logging.getLogger(__name__)

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"

RETRYABLE = frozenset({408, 425, 429})
REASON_LIMIT = 500
MAX_PAGES = 20
LINEITEM_URL_MAX = 1024  # the columns that keep a line item's URL (line_item.url, grade_outbox.lineitem_url)


class OutcomeKind(StrEnum):
    """What a platform's answer means for a score (the outbox turns it into a row state: outbox/record.py)."""

    SENT = "sent"  # 2xx
    APPLIED = "applied"  # 409: the platform already holds this score or a newer one
    RETRY = "retry"  # worth trying again later
    FAILED = "failed"  # refused for good
    REMOVED = "removed"  # 404: the grade item no longer exists


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    status: int | None = None
    reason: str = ""
    retry_after: str | None = None  # the raw Retry-After header
    rest_until: dt.datetime | None = None  # no access token from the platform before then (tokens.py)

    @property
    def platform_trouble(self) -> bool:
        """The platform is unreachable, down, asks us to slow down or gives no access token (not a problem with
        one score): the worker gives it a rest instead of trying the rest of its batch. A plain 500 from a
        score post may be about one score."""
        if self.rest_until is not None:
            return True
        return self.kind == OutcomeKind.RETRY and self.status in (None, 429, 502, 503, 504)


class AgsError(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def scores_url(lineitem_url: str) -> str:
    """`<lineitem>/scores`, keeping the line item URL's query (Moodle's `?type_id=`)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def lineitem_body(*, resource_id: str, tag: str, label: str) -> dict[str, Any]:
    """A grade column the tool creates: the module's title, id and course, out of 100 (no personal data)."""
    return {"scoreMaximum": 100, "label": label, "resourceId": resource_id, "tag": tag}


def classify(response: requests.Response) -> Outcome:
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(OutcomeKind.SENT, status)
    if status == 409:
        return Outcome(OutcomeKind.APPLIED, status, "409: the platform already had this or a newer score")
    reason = short_reason(response)
    if status == 404:
        return Outcome(OutcomeKind.REMOVED, status, reason)
    if status in RETRYABLE or status >= 500:
        return Outcome(OutcomeKind.RETRY, status, reason, response.headers.get("Retry-After"))
    return Outcome(OutcomeKind.FAILED, status, reason)


def classify_exception(exc: Exception) -> Outcome:
    if isinstance(exc, TokenError):
        return Outcome(
            OutcomeKind.RETRY, exc.status, f"no access token: {exc}", exc.retry_after, exc.rest_until
        )
    if isinstance(exc, Busy):
        return Outcome(OutcomeKind.RETRY, None, str(exc))
    if isinstance(exc, requests.Timeout):
        return Outcome(OutcomeKind.RETRY, None, f"the platform did not answer in time ({type(exc).__name__})")
    if isinstance(exc, OutboundRefused):
        return Outcome(OutcomeKind.FAILED, None, f"refused by the tool: {exc}"[:REASON_LIMIT])
    if isinstance(exc, requests.ConnectionError):
        return Outcome(OutcomeKind.RETRY, None, "the platform could not be reached (connection failed)")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        return Outcome(OutcomeKind.FAILED, None, f"the line item URL is not usable: {exc}")
    if isinstance(exc, AgsError):
        return exc.outcome
    return Outcome(OutcomeKind.RETRY, None, f"unexpected error: {type(exc).__name__}")


class AgsClient:
    """AGS calls for one platform and scope set, over the guarded client (only to the platform's origins)."""

    def __init__(
        self, http: GuardedClient, tokens: AccessTokens, platform: PlatformInfo, scopes: Collection[str]
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.platform = platform
        self.scopes = sorted(set(scopes))

    def _call(self, method: str, url: str, headers: Mapping[str, str], **kwargs: Any) -> requests.Response:
        def send() -> tuple[str, requests.Response]:
            token = self.tokens.get(self.platform, self.scopes, self.http)
            authorised = {**headers, "Authorization": f"Bearer {token}"}
            return token, self.http.request(
                method, url, headers=authorised, allowed=self.platform.allowed, **kwargs
            )

        token, response = send()
        if response.status_code == 401:
            log.info("platform %s answered 401: fetching a fresh access token once", self.platform.id)
            self.tokens.drop(self.platform, self.scopes, token)
            _token, response = send()
        return response

    def post_score(self, lineitem_url: str, score: Mapping[str, Any]) -> Outcome:
        try:
            response = self._call(
                "POST",
                scores_url(lineitem_url),
                {"Content-Type": SCORE_TYPE, "Accept": "application/json"},
                data=json.dumps(score),
            )
        except Exception as exc:  # every failure becomes an outcome the outbox records
            return classify_exception(exc)
        return classify(response)

    def find_lineitem(self, lineitems_url: str, *, resource_id: str, tag: str) -> str | None:
        """The first line item of ours with this resourceId and tag (paging through `Link: rel="next"`)."""
        url: str | None = with_query(lineitems_url, resource_id=resource_id, tag=tag)
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._call("GET", url, {"Accept": CONTAINER_TYPE})
            outcome = classify(response)
            if outcome.kind != OutcomeKind.SENT:
                raise AgsError(outcome)
            items = read_json(response, "line items")
            if not isinstance(items, list):
                raise AgsError(
                    Outcome(OutcomeKind.FAILED, response.status_code, "line items: the answer is not a list")
                )
            for item in items:
                if (
                    isinstance(item, dict)
                    and item.get("resourceId") == resource_id
                    and item.get("tag") in (tag, None, "")
                ):
                    return self.usable_lineitem(item.get("id"), response.status_code, "found line item")
            url = response.links.get("next", {}).get("url")
        return None

    def create_lineitem(self, lineitems_url: str, *, resource_id: str, tag: str, label: str) -> str:
        body = lineitem_body(resource_id=resource_id, tag=tag, label=label)
        response = self._call(
            "POST",
            lineitems_url,
            {"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE},
            data=json.dumps(body),
        )
        outcome = classify(response)
        if outcome.kind != OutcomeKind.SENT:
            raise AgsError(outcome)
        created = read_json(response, "created line item")
        lineitem = created.get("id") if isinstance(created, dict) else None
        return self.usable_lineitem(lineitem, response.status_code, "created line item")

    def usable_lineitem(self, value: Any, status: int, what: str) -> str:
        """A line item's id is where the tool sends its scores from then on, and is stored: only an http(s) URL on
        the platform's registered origins that fits the columns is taken (as the launch's service URLs are)."""
        if value is None:
            raise AgsError(Outcome(OutcomeKind.FAILED, status, f"{what} has no id"))
        if (
            http_url(value) is None
            or len(value) > LINEITEM_URL_MAX
            or not self.platform.allowed.permits(value)
        ):
            said = "".join(c if c.isprintable() else " " for c in str(value)[:120])
            raise AgsError(
                Outcome(
                    OutcomeKind.FAILED,
                    status,
                    f"{what}: its id is not an address on the platform's registered origins ({said!r})",
                )
            )
        return str(value)


def read_json(response: requests.Response, what: str) -> Any:
    """A 2xx answer read as strictly as the tool's other platform JSON (`platform_json`: nested too deeply,
    NaN/Infinity, a NUL): such an answer fails the row with the reason. An answer that is no JSON at all (a proxy's
    maintenance page) is retried later."""
    try:
        return platform_json(response)
    except requests.JSONDecodeError as exc:
        raise AgsError(Outcome(OutcomeKind.RETRY, response.status_code, f"{what}: no JSON")) from exc
    except ValueError as exc:
        raise AgsError(
            Outcome(
                OutcomeKind.FAILED, response.status_code, f"{what}: the platform's answer is refused: {exc}"
            )
        ) from exc
