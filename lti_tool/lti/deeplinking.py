"""Deep Linking 2.0: an instructor picks modules (or the whole course) as their own LMS activities.

Each returned `ltiResourceLink` carries custom parameters (course, module) and a `lineItem` (scoreMaximum 100,
label, resourceId = module id or course id, tag = course id), so every placed module gets its own grade column.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, render_template, request
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select

from .. import db
from ..auth import current_visitor, instructor_required, session_blueprint
from ..course.catalog import get_catalog
from ..course.model import Course
from ..errors import NotAllowed, ToolError
from ..i18n import lazy_gettext as _l
from ..models import Deployment, Platform
from .keys import signing_key
from .toolconf import ToolRegistration

bp = session_blueprint("deeplinking", __name__, "/auswahl")

SCORE_MAXIMUM = 100


def _items(course: Course, chosen: list[str], launch_url: str) -> list[DeepLinkResource]:
    items: list[DeepLinkResource] = []
    for choice in chosen:
        if choice == "course":
            title, resource_id, custom = course.title, course.id, {"course": course.id}
        else:
            module = course.module(choice)
            if module is None:
                raise ToolError(
                    _l("Please choose only modules from the list."), code="deep_linking_bad_choice"
                )
            title = f"{course.title}: {module.position}. {module.title}"
            resource_id, custom = module.id, {"course": course.id, "module": module.id}
        line_item = (
            LineItem()
            .set_score_maximum(SCORE_MAXIMUM)
            .set_label(title[:255])
            .set_resource_id(resource_id)
            .set_tag(course.id)
        )
        items.append(
            DeepLinkResource()
            .set_url(launch_url)
            .set_title(title[:255])
            .set_custom_params(custom)
            .set_lineitem(line_item)
        )
    return items


@bp.route("/", methods=["GET", "POST"])
@instructor_required
def picker() -> str | tuple[str, int]:
    visitor = current_visitor()
    settings: dict[str, Any] = visitor.session.claims.get("deep_linking_settings") or {}
    if visitor.session.message_type != "LtiDeepLinkingRequest" or not settings:
        raise NotAllowed(
            _l('Content selection is only possible when your course asks for it ("select content").'),
            code="not_deep_linking",
        )
    course = get_catalog().get(visitor.course_id)
    assert course is not None
    multiple = settings.get("accept_multiple") not in (False, "false")
    if request.method == "GET":
        return render_template(
            "lti/deep_linking.html", course=course, multiple=multiple, settings=settings, error=None
        )

    chosen = [c for c in request.form.getlist("item") if isinstance(c, str)]
    if not chosen or (not multiple and len(chosen) > 1):
        error = _l("Please choose one entry.") if not multiple else _l("Please choose at least one entry.")
        page = render_template(
            "lti/deep_linking.html", course=course, multiple=multiple, settings=settings, error=error
        )
        return page, 422
    if len(chosen) != len(set(chosen)) or len(chosen) > len(course.modules) + 1:
        raise ToolError(_l("Please choose only modules from the list."), code="deep_linking_bad_choice")

    from .views import external_url

    s = db.session()
    platform, deployment = s.execute(
        select(Platform, Deployment)
        .join(Deployment, Deployment.platform_id == Platform.id)
        .where(Deployment.id == visitor.session.deployment_id)
    ).one()
    registration = ToolRegistration(platform, signing_key(s, current_app._get_current_object()))  # type: ignore[attr-defined]
    link = DeepLink(registration, deployment.deployment_id, settings)  # type: ignore[arg-type]
    jwt_value = link.get_response_jwt(_items(course, chosen, external_url("lti.launch")))
    return_url = str(settings["deep_link_return_url"])
    parts = urlsplit(return_url)
    # Let the auto-submitting form reach the platform (Content-Security-Policy form-action).
    g.csp_form_action = f"{parts.scheme}://{parts.netloc}"
    current_app.logger.info(
        "deep linking response with %d item(s) for context %s", len(chosen), visitor.context.id
    )
    return render_template("lti/deep_linking_return.html", return_url=return_url, jwt=jwt_value)
