"""Interface language: German first, English available (Flask-Babel).

Message ids are English; every area keeps its German catalog next to its code in a `translations` folder
(`lti_tool/**/translations/de/LC_MESSAGES/messages.po`), merged at run time. Catalogs are compiled to .mo on start
when the .po is newer, so there is no build step. Course text stays in the course's own language.

Which language: the tool session's (from the launch's `launch_presentation.locale`, changed by the switch on
every page), else `?lang=`, else the browser's Accept-Language, else the first of LANGUAGES.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import tempfile
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, request
from flask.globals import _cv_app, _cv_request
from flask_babel import Babel, LazyString, get_translations, gettext
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup, escape
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parent
BERLIN = ZoneInfo("Europe/Berlin")


class LazyText(LazyString):  # type: ignore[misc]  # Flask-Babel has no type hints
    """A message translated when it is used, its `%(name)s` values filled in then.

    Flask-Babel's LazyString calls itself safe markup (its `__html__` returns the plain string), so Jinja would
    put the values filled into it (an issuer, a deployment id, a claim from the request) into the page as
    raw HTML. This one is text: rendered into a page, the whole message is escaped like any other value.
    """

    def __html__(self) -> Markup:
        return escape(str(self))


def lazy_gettext(string: str, **variables: Any) -> LazyText:
    """The only lazy gettext of the tool (tests/test_escaping.py checks that no module uses Flask-Babel's)."""
    return LazyText(gettext, string, **variables)


def translation_dirs() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("translations") if p.is_dir())


def compile_catalogs() -> None:
    for po in PACKAGE.rglob("translations/*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        try:  # one stat, not exists() then stat(): the catalog may go in between (removed by a deploy or a test)
            if mo.stat().st_mtime >= po.stat().st_mtime:
                continue
        except FileNotFoundError:
            pass
        with po.open("rb") as f:
            catalog = read_po(f)
        # A temporary file of this process's own (a fixed name let two processes starting at once write into
        # the same file), then renamed into place: atomic, so a reader sees the old or the new catalog whole.
        fd, tmp_name = tempfile.mkstemp(prefix=mo.name + ".", suffix=".tmp", dir=mo.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as f:
                write_mo(f, catalog)
            os.chmod(tmp, 0o644)  # as a plain file would be (mkstemp makes it 0600)
            tmp.replace(mo)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        log.debug("compiled %s", mo.relative_to(PACKAGE))


def _request_translations() -> Any:
    # The locale is settled before a page renders (the session is loaded before the view runs). Read through the
    # app context's variable itself: templates ask for every message, and the `g` proxy costs more than the rest.
    ctx = _cv_app.get(None)
    if ctx is None:
        return get_translations()
    found = ctx.g.__dict__
    translations = found.get("_nama_translations")
    if translations is None:
        translations = found["_nama_translations"] = get_translations()
    return translations


_RENDERED: dict[tuple[Any, str], Markup] = {}
_MAX_RENDERED = 8192


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, string: str, **variables: Any) -> str:
    """`_()` in templates: Jinja's newstyle gettext (translate, mark safe, fill in `%(name)s` with escaping),
    with a message without values translated and formatted once per catalog instead of on every call (the
    layout alone asks for ~35 per page).

    It takes the evaluation context, not the template context as Jinja's own does: Jinja copies the whole
    template context for each call of a context function inside a loop or a block with variables (two dozen
    copies of ~100 names per overview page)."""
    translations = _request_translations()
    autoescape = eval_ctx.autoescape
    if variables or not autoescape:
        text = translations.ugettext(string)
        # The catalogs are the tool's own text, as for Jinja's gettext; the values are escaped by `%`.
        return (Markup(text) if autoescape else text) % variables  # noqa: S704
    key = (translations, string)  # the catalog object itself: kept alive, so its identity is not reused
    rendered = _RENDERED.get(key)
    if rendered is None:
        if len(_RENDERED) >= _MAX_RENDERED:
            _RENDERED.clear()
        rendered = _RENDERED[key] = Markup(translations.ugettext(string)) % {}  # noqa: S704
    return rendered


@pass_eval_context
def _template_ngettext(eval_ctx: EvalContext, singular: str, plural: str, num: int, **variables: Any) -> str:
    """`ngettext()` in templates: Jinja's newstyle ngettext (`num` among the values), with the evaluation context
    for the same reason as `_()`."""
    variables.setdefault("num", num)
    text = _request_translations().ungettext(singular, plural, num)
    # The catalogs are the tool's own text, as for Jinja's ngettext; the values are escaped by `%`.
    return (Markup(text) if eval_ctx.autoescape else text) % variables  # noqa: S704


def select_locale() -> str:
    """The request's language: the session's (`g.locale`), else `?lang=`, else the browser's (Accept-Language)."""
    ctx = _cv_app.get()
    languages: list[str] = ctx.app.config["LANGUAGES"]
    chosen = ctx.g.__dict__.get("locale")
    if chosen in languages:
        return str(chosen)
    req = _cv_request.get().request
    query = req.environ.get("QUERY_STRING", "")
    # Without "lang" or an escape in the query no parameter can be called lang: its parsing is skipped (most
    # pages have no query at all). A query that is not UTF-8 asks for no language (werkzeug raises on it).
    if "lang" in query or "%" in query:
        try:
            asked = req.args.get("lang")
        except UnicodeDecodeError:
            asked = None
        if asked in languages:
            return str(asked)
    header = req.environ.get("HTTP_ACCEPT_LANGUAGE", "")
    if len(header) > 256:  # no browser's; not kept
        return _best_language.__wrapped__(header, tuple(languages))
    return _best_language(header, tuple(languages))


@functools.lru_cache(maxsize=256)
def _best_language(accept_language: str, languages: tuple[str, ...]) -> str:
    """The browser's language among ours, as werkzeug's `request.accept_languages.best_match` finds it: a browser
    sends the same header with every request, and few headers are common, so each is read once."""
    found = parse_accept_header(accept_language, LanguageAccept).best_match(languages)
    return found or languages[0]


@functools.lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


def _selected_locale() -> Locale:
    """Flask-Babel's locale of the request: parsed once per language (Babel's Locale.parse looks for the language's
    data file on disk on every call while that data is not loaded, and learner pages do not load it)."""
    return _locale(select_locale())


def init_app(app: Flask) -> None:
    compile_catalogs()
    Babel(
        app,
        locale_selector=_selected_locale,
        default_locale=app.config["LANGUAGES"][0],
        default_translation_directories=";".join(str(p) for p in translation_dirs()),
        default_timezone="Europe/Berlin",
    )
    init_language_switch(app)
    # Templates call _() dozens of times per page; Flask-Babel looks the catalog up on every call. Look it up
    # once per request and locale instead (Jinja's newstyle gettext does the %(name)s formatting and escaping).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: _request_translations().ugettext(message),
        lambda singular, plural, n: _request_translations().ungettext(singular, plural, n),
        newstyle=True,
    )
    app.jinja_env.globals.update(gettext=_template_gettext, _=_template_gettext, ngettext=_template_ngettext)


def _current_locale() -> str:
    """The interface language of the request ("de" outside one). Once Flask-Babel has selected the request's
    locale, read where it keeps it (its `get_locale` looks the app context's `g` up four times through Flask's
    proxy on every call; `force_locale` and `refresh` change the same place)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        locale = getattr(ctx.g.__dict__.get("_flask_babel"), "babel_locale", None)
        if locale is not None:
            return str(locale.language)
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "de"


@dataclass(frozen=True)
class _Formats:
    """What Babel's (CLDR's) formats of one interface language are made of, for the few formats learner pages use."""

    decimal: str  # decimal separator
    group: str  # thousands separator
    percent: str  # "{}" the number
    date: str  # the "medium" date: {day}, {day2} (two digits), {month2}, {mon} (abbreviated name), {year}


# Learner pages format numbers and dates with these instead of loading Babel's locale data for the language
# (~4 MB more in every web process, for "4,5", "80 %" and "06.12.2026"); tests/test_i18n.py checks every format
# against Babel's. Languages not listed here go through Babel.
_FORMATS = {
    "de": _Formats(decimal=",", group=".", percent="{}\u00a0%", date="{day2}.{month2}.{year}"),
    "en": _Formats(decimal=".", group=",", percent="{}%", date="{mon} {day}, {year}"),
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _grouped(whole: int, group: str) -> str:
    return f"{whole:,}".replace(",", group)


def decimal(value: float | int, fraction_digits: int = 1) -> str:
    """A number in the interface language with at most `fraction_digits` decimals, as Babel's format_decimal with
    "#,##0.#" ("#,##0.##" for 2) writes it: 4 -> "4", 4.5 -> "4,5", 1234.25 -> "1.234,2" (half to even)."""
    language = _current_locale()
    formats = _FORMATS.get(language)
    if formats is None:
        from flask_babel import format_decimal

        return str(format_decimal(value, format="#,##0." + "#" * fraction_digits))
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-fraction_digits), rounding=ROUND_HALF_EVEN)
    whole, _, fraction = f"{abs(exact):f}".partition(".")
    fraction = fraction.rstrip("0")
    sign = "-" if exact < 0 else ""
    return sign + _grouped(int(whole), formats.group) + (formats.decimal + fraction if fraction else "")


def percent(score: float | None) -> str:
    """A quiz score (0.0..1.0) as the pages show it: whole percent, rounded down (completion.whole_percent), in the
    interface language ("80 %", "80%"); "" for no score."""
    from .course.completion import whole_percent

    if score is None:
        return ""
    formats = _FORMATS.get(_current_locale())
    if formats is None:
        from flask_babel import format_percent

        return str(format_percent(whole_percent(score) / 100))
    shown = whole_percent(score)
    return ("-" if shown < 0 else "") + formats.percent.format(_grouped(abs(shown), formats.group))


def berlin_date(value: dt.datetime | str) -> str:
    """A date as people in NRW read it (Europe/Berlin), in the interface language: the one date format of the
    tool (Babel's "medium": 06.12.2026 in German)."""
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    day = moment.astimezone(BERLIN).date()
    formats = _FORMATS.get(_current_locale())
    if formats is None:
        from flask_babel import format_date

        return str(format_date(day, "medium"))
    return formats.date.format(
        day=day.day,
        day2=f"{day.day:02d}",
        month2=f"{day.month:02d}",
        mon=_MONTHS_EN[day.month - 1],
        year=day.year,
    )


def document_date(value: dt.datetime | str) -> str:
    """The same date format in German, whatever the interface language: for what the tool writes for others
    to read (the certificate, CSV downloads for the certification office): 06.12.2026."""
    from babel.dates import format_date as babel_format_date

    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return str(babel_format_date(moment.astimezone(BERLIN).date(), "medium", locale="de"))


def spreadsheet_time(value: dt.datetime) -> str:
    """Date and time for spreadsheet downloads, Europe/Berlin: "2026-12-06 14:30". Excel and LibreOffice read this
    ISO order as that date and time whatever their language (06.12.2026 would be 12 June in an English Excel); the
    column headers name the time zone."""
    return value.astimezone(BERLIN).replace(tzinfo=None).isoformat(" ", "minutes")  # faster than strftime


def berlin_time(value: dt.datetime) -> str:
    """The one time format of the tool (Babel's "short": 14:30 in German), Europe/Berlin."""
    from flask_babel import format_time

    return str(format_time(value.astimezone(BERLIN).time(), "short"))


def berlin_when(value: dt.datetime | None) -> str:
    """Date and time, each in the tool's one format: "06.12.2026, 14:30"; "–" for no time."""
    if value is None:
        return "–"
    return f"{berlin_date(value)}, {berlin_time(value)}"


def init_language_switch(app: Flask) -> None:
    """POST /s/<sid>/sprache: the switch on every page; stored in the tool session."""
    from flask import redirect, url_for
    from sqlalchemy import update
    from werkzeug.wrappers import Response

    from . import db
    from .auth import current_visitor, session_blueprint
    from .models import ToolSession

    bp = session_blueprint("language", __name__, "/sprache")

    @bp.post("/")
    def switch() -> Response:
        visitor = current_visitor()
        lang = request.form.get("lang", "")
        if lang in current_app.config["LANGUAGES"]:
            s = db.write_session()
            s.execute(update(ToolSession).where(ToolSession.id == visitor.session.id).values(locale=lang))
            s.commit()
        target = request.form.get("next", "")
        prefix = url_for("learner.start")
        # Only back to a page of this session (no open redirect).
        if not target.startswith(prefix) or "//" in target or "\\" in target:
            target = prefix
        return redirect(target, code=303)

    app.register_blueprint(bp)
    app.jinja_env.globals["current_locale"] = _current_locale
    app.jinja_env.filters["berlin_date"] = berlin_date
    app.jinja_env.globals["when"] = berlin_when
