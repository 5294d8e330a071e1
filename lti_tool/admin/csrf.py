"""Flask-WTF's CSRF protection, for the operator area's blueprint only.

`CSRFProtect.init_app(app)` would check every POST of the app, but LTI launches and OIDC logins are POSTed
cross-site by platforms and carry no such token; it would also put its own `csrf_token` into every template,
where the learner pages use theirs (lti_tool/auth.py, bound to the tool session in the URL). So the same check
(`protect()`: a token bound to the session cookie, signed, time-limited; over HTTPS also a same-origin
Referer) runs from the blueprint, and the token reaches only the blueprint's templates.

Flask-WTF (and with it WTForms, ~2.3 MB) is imported with the operator area's first request that needs a token,
not when a web process starts: most processes only ever serve learners.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NoReturn

from flask import Flask

from ..errors import NotAllowed
from ..i18n import lazy_gettext as _l

if TYPE_CHECKING:
    from flask_wtf.csrf import CSRFProtect


@functools.cache
def _protector() -> CSRFProtect:
    from flask_wtf.csrf import CSRFProtect

    class RefusingCSRF(CSRFProtect):  # type: ignore[misc]
        def _error_response(self, reason: str) -> NoReturn:
            raise NotAllowed(
                _l("The form could not be accepted: its security token is missing, wrong or expired."),
                hint=_l("Reload the page, sign in again if asked, and repeat what you did."),
                code="csrf_failed",
                detail=reason,
            )

    return RefusingCSRF()


def admin_csrf_token() -> str:
    from flask_wtf.csrf import generate_csrf

    return str(generate_csrf())


class BlueprintCSRF:
    """Call `protect()` from the blueprint's before_request; `template_context` is its context processor
    (templates put `admin_csrf_token()` into every form; macros that do are imported `with context`)."""

    def configure(self, app: Flask) -> None:
        app.config.setdefault("WTF_CSRF_ENABLED", True)
        app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # nothing outside the blueprint is checked
        app.config["WTF_CSRF_METHODS"] = {"POST", "PUT", "PATCH", "DELETE"}
        app.config.setdefault("WTF_CSRF_FIELD_NAME", "csrf_token")
        app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"])
        # A form stays usable as long as the sign-in it was shown in (the session cookie holds the secret).
        app.config.setdefault("WTF_CSRF_TIME_LIMIT", int(app.config["ADMIN_SESSION_SECONDS"]))
        app.config.setdefault("WTF_CSRF_SSL_STRICT", True)

    def protect(self) -> None:
        _protector().protect()

    @staticmethod
    def template_context() -> dict[str, Any]:
        # Its own name: `csrf_token` is the learner pages' global, and a macro imported without context
        # would silently fall back to it (the form would then always be refused).
        return {"admin_csrf_token": admin_csrf_token}
