"""The platform's public key set (Moodle: mod/lti/certs.php, served from jwks_helper::get_jwks())."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from . import state
from .faults import fault_group

bp = Blueprint("jwks", __name__)


@bp.get("/jwks")
@bp.get("/mod/lti/certs.php", endpoint="certs")
@fault_group("jwks")
def jwks() -> Response:
    response = jsonify(state.lms().keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
