"""The operator area's forms (Flask-WTF). The CSRF token of every POST is checked before any view runs
(csrf.py), so these only read and validate fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..i18n import lazy_gettext as _l
from ..lti.platforms import MAX_LENGTH

REQUIRED = _l("Please fill in this field.")


def without_nul(value: object) -> object:
    """No browser sends a NUL from a text field, and PostgreSQL refuses one: a form leaves it out."""
    return value.replace("\x00", "") if isinstance(value, str) else value


class LoginForm(FlaskForm):  # type: ignore[misc]
    username = StringField(_l("User name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=1024)])


class PlatformForm(FlaskForm):  # type: ignore[misc]
    """The values `scripts/flask platform add` takes; checked by lti.platforms.spec_problems, like the CLI's."""

    name = StringField(_l("Name (for people)"))
    issuer = StringField(_l("Platform ID (issuer)"))
    client_id = StringField(_l("Client ID"))
    deployment_id = StringField(_l("Deployment ID"))
    auth_login_url = StringField(_l("Authentication request URL"))
    auth_token_url = StringField(_l("Access token URL"))
    jwks_url = StringField(_l("Public keyset URL"))
    auth_audience = StringField(_l("Token audience (only if not the access token URL)"))

    def strip(self) -> None:
        for field in self:
            if isinstance(field.data, str):
                field.data = str(without_nul(field.data)).strip()


LINK_DAYS = [1, 3, 7, 14, 30]


class RegistrationLinkForm(FlaskForm):  # type: ignore[misc]
    note = StringField(
        _l("Who is the link for?"),
        filters=[without_nul],
        validators=[
            DataRequired(REQUIRED),
            Length(max=MAX_LENGTH["name"], message=_l("At most 255 characters.")),
        ],
    )
    days = SelectField(
        _l("Valid for"),
        choices=[SelectChoice(d, _l("%(days)s days", days=d) if d > 1 else _l("1 day")) for d in LINK_DAYS],
        default=7,
        coerce=int,
    )
