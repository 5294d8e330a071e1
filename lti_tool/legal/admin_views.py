"""The record of processing activities (Art. 30 GDPR) in the operator area: read it at
`/admin/verarbeitungsverzeichnis`, download it as one HTML file (`…/verarbeitungsverzeichnis.html`) to keep,
print or hand to the data-protection officer. It is made from the same declarations as the privacy notice, so
both change when the code does.

The routes join the operator area's blueprint (its guard: signed-in operators only; no-store; never framed). The
operator area's pages also learn which legal facts are missing (the overview lists them).
"""

from __future__ import annotations

import datetime as dt

from flask import Response, current_app, render_template

from ..admin.views import bp
from ..i18n import BERLIN, berlin_date
from . import notice
from .settings import get_legal


@bp.context_processor
def _legal_facts_missing() -> dict[str, object]:
    return {"legal_missing": get_legal().missing_required}


def _record_context() -> dict[str, object]:
    views = notice.personal_data(current_app.config)
    return {
        "legal": get_legal(),
        "tables": views,
        "recipients": notice.recipients(views),
        "subjects": notice.subjects(views),
        "no_personal_data": notice.tables_without_personal_data(),
        "claims": notice.launch_claims_kept(),
        "score_fields": notice.score_fields(),
        "made_on": berlin_date(dt.datetime.now(dt.UTC)),
        "redis": bool(current_app.config.get("REDIS_URL")),
    }


@bp.get("/verarbeitungsverzeichnis")
def processing_record() -> str:
    return render_template("legal/record.html", section="admin.processing_record", **_record_context())


@bp.get("/verarbeitungsverzeichnis.html")
def processing_record_download() -> Response:
    body = render_template("legal/record_document.html", **_record_context())
    stamp = dt.datetime.now(BERLIN).date().isoformat()  # a file name, not a date people read
    return Response(
        body,
        mimetype="text/html",
        headers={"Content-Disposition": f'attachment; filename="verarbeitungsverzeichnis-{stamp}.html"'},
    )
