"""The seam to pylti1p3's `MessageLaunch`: the one module that knows its private attributes.

The tool's launch (lti/launch.py) is a pylti1p3 `MessageLaunch`, so the library's message validators and the
launch object its other parts expect stay in use (the id_token is parsed with PyJWT: lti/keysets.py). pylti1p3
keeps the launch's state in private attributes (`_jwt`, `_registration`, `_tool_config`, `_request`,
`_validated`, `_restored`) and offers no public way to set most of them; `PyltiLaunch` gives each a name, so the
rest of the tool reads `launch.body`, `launch.header` or `launch.param("state")` and never touches the library's
internals. When pylti1p3 is upgraded, this is the file to check (its tests: tests/lti/test_launch.py and
tests/lti/test_launch_refusals.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pylti1p3.cookie import CookieService
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.request import Request
from pylti1p3.session import SessionService

from ..http import NoHttp
from .toolconf import DbToolConf, ToolRegistration


class FormRequest(Request):
    """pylti1p3's view of the launch POST: its form fields and cookies."""

    def __init__(self, form: Mapping[str, str], cookies: Mapping[str, str], secure: bool) -> None:
        super().__init__()
        self._form = form
        self._cookies = cookies
        self._secure = secure

    def get_param(self, key: str) -> str:
        return self._form.get(key) or ""

    def get_cookie(self, key: str) -> str | None:
        return self._cookies.get(key)

    def is_secure(self) -> bool:
        return self._secure


class _UnusedCookies(CookieService):
    """pylti1p3 requires a cookie service; the launch keeps no state in cookies it sets."""

    def get_cookie(self, name: str) -> str | None:
        return None

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        raise AssertionError("launch validation sets no cookies")


# One for every launch: a requests.Session costs ~50 µs to make (its adapters and pools), and this one never sends.
_NO_HTTP = NoHttp()


class PyltiLaunch(MessageLaunch[FormRequest, DbToolConf, SessionService, CookieService]):
    """A pylti1p3 `MessageLaunch` of one launch POST, its state under public names.

    pylti1p3 gets no HTTP session it could use (`NoHttp`): the tool fetches platform keys itself, through its
    guarded client with timeouts (lti/keysets.py).
    """

    def __init__(
        self, *, form: Mapping[str, str], cookies: Mapping[str, str], secure: bool, conf: DbToolConf
    ) -> None:
        request = FormRequest(form, cookies, secure)
        super().__init__(
            request,
            conf,
            session_service=SessionService(request),
            cookie_service=_UnusedCookies(),
            requests_session=_NO_HTTP,
        )

    # --- the request -----------------------------------------------------------------------------

    def param(self, key: str) -> str:
        """A field of the launch POST ("" when absent)."""
        return self._request.get_param(key)

    def cookie(self, key: str) -> str | None:
        return self._request.get_cookie(key)

    def _get_request_param(self, key: str) -> str:  # pylti1p3 reads the id_token through this
        return self.param(key)

    # --- the id_token, once parsed (lti/keysets.py `parse_id_token`) ----------------------------------

    def use_token(self, header: dict[str, Any], body: dict[str, Any]) -> None:
        """The parsed id_token's header and claims, where pylti1p3 reads them (its `validate_jwt_format` puts them
        there; the tool parses the token with PyJWT, once)."""
        self._jwt = {"header": cast(Any, header), "body": cast(Any, body)}

    @property
    def header(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._jwt["header"])

    @property
    def body(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._jwt["body"])

    def claims(self) -> dict[str, Any]:
        """A copy of the validated id_token's claims."""
        return dict(self._get_jwt_body())

    # --- pylti1p3's own bookkeeping ------------------------------------------------------------------

    @property
    def conf(self) -> DbToolConf:
        return self._tool_config

    def use_registration(self, registration: ToolRegistration) -> None:
        """The registration pylti1p3's services (deep linking, AGS, NRPS) would sign and call with."""
        self._registration = registration

    @property
    def restored(self) -> bool:
        """Made from a stored launch (pylti1p3's `from_cache`): never validated again."""
        return self._restored

    def mark_validated(self, validated: bool) -> None:
        """pylti1p3's `_get_jwt_body()` validates on first use unless told the launch was (being) validated."""
        self._validated = validated
