"""The guides for Moodle administrators, teachers and learners: every guide renders in German and English with
this installation's values, the tool's pages link them, and every Moodle label they quote is the one recorded in
guides/moodle-strings.toml (menu paths segment by segment, in the guide's language)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool.admin.accounts import create_operator
from lti_tool.db import session_scope
from lti_tool.guides.loader import (
    GUIDE_IDS,
    LANGUAGES,
    MENU_SEPARATOR,
    GuideError,
    load_guides,
    load_strings,
    parse_guide,
)
from lti_tool.lti.toolinfo import tool_info

from ..admin.conftest import PASSWORD, USERNAME, AdminClient
from ..course.learner import Learner
from ..gradebook.conftest import launch_teacher
from ..peer import Launcher

GUIDES = load_guides()
STRINGS = load_strings()
# Menu paths are written in italics: *Website-Administration › Plugins › …* (one line or wrapped).
ITALIC = re.compile(r"(?<![*\w])\*(?!\*)(?P<text>[^*]+?)\*(?!\*)")
BOLD = re.compile(r"\*\*(?P<text>[^*]+?)\*\*")
LINK = re.compile(r"\]\((?P<target>[^)]+)\)")
SOFT_HYPHEN = "\u00ad"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _pattern(moodle_text: str) -> re.Pattern[str]:
    """A recorded text as it may appear in a guide: `{$a}` (a name Moodle fills in) is "…" or anything."""
    parts = [re.escape(_flat(part)) for part in moodle_text.split("{$a}")]
    return re.compile(r"(?:…|[^\n]*?)".join(parts))


def menu_paths(markdown: str) -> list[str]:
    return [_flat(m["text"]) for m in ITALIC.finditer(markdown) if MENU_SEPARATOR.strip() in m["text"]]


def page(client: Any, path: str) -> str:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code, resp.text[:500])
    return str(resp.text).replace(SOFT_HYPHEN, "")


# --- The guides as pages ---


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("guide_id", GUIDE_IDS)
def test_every_guide_renders_in_german_and_english(
    app: Flask, client: Any, guide_id: str, language: str
) -> None:
    guide = GUIDES[(guide_id, language)]
    html = page(client, f"/anleitungen/{guide_id}?lang={language}")
    assert f'<html lang="{language}">' in html
    assert f'<h1 id="guide-title">{guide.title}</h1>' in html
    assert (
        "{{" not in html and "moodle-strings" not in html
    )  # placeholders filled, the source comment not shown
    # Every link of the guide survives rendering (a target the renderer does not know would become plain text).
    links = LINK.findall(guide.body)
    article = html.split('<article class="guide"', 1)[1].split("</article>", 1)[0]
    assert article.count("<a ") == len(links), (links, article)
    for other in GUIDE_IDS:
        if f"guide:{other}" in guide.body:
            assert f'href="/anleitungen/{other}?lang={language}"' in article


def test_the_administrators_guide_gives_this_installations_addresses(app: Flask, client: Any) -> None:
    with app.test_request_context():
        from lti_tool.lti.views import external_url

        info = tool_info(external_url)
    for language in LANGUAGES:
        html = page(client, f"/anleitungen/moodle-administration?lang={language}")
        for key in ("launch_url", "login_url", "jwks_url", "deep_linking_url"):
            assert f"<code>{info[key]}</code>" in html, key
        assert "<code>course=grundlagenkurs</code>" in html


def test_the_learners_guide_states_the_default_courses_figures(app: Flask, client: Any) -> None:
    from lti_tool.course.catalog import get_catalog

    course = get_catalog(app).get(app.config["DEFAULT_COURSE"])
    assert course is not None
    html = page(client, "/anleitungen/teilnehmende?lang=de")
    assert f"Der Kurs hat {len(course.modules)} Module." in html
    assert f"mindestens {course.pass_mark} % richtige Antworten" in html
    assert "nach 90 Minuten ohne Aktivität" in html  # SESSION_IDLE_SECONDS of the test configuration


def test_the_guide_list_names_every_guide_and_an_unknown_guide_is_404(client: Any) -> None:
    html = page(client, "/anleitungen/?lang=de")
    for guide_id in GUIDE_IDS:
        assert f'href="/anleitungen/{guide_id}?lang=de"' in html
        assert GUIDES[(guide_id, "de")].title in html
    resp = client.get("/anleitungen/handbuch")
    assert resp.status_code == 404
    assert "Unter dieser Adresse gibt es keine Anleitung." in resp.text


# --- Where the tool links them ---


def test_lti_config_and_the_home_page_link_the_guides(client: Any) -> None:
    html = page(client, "/lti/config?lang=de")
    assert 'href="/anleitungen/moodle-administration?lang=de"' in html
    assert 'href="/anleitungen/?lang=de"' in html
    assert 'href="/anleitungen/moodle-administration?lang=en"' in page(client, "/lti/config?lang=en")
    assert 'href="/anleitungen/?lang=de"' in page(client, "/?lang=de")


def test_the_operator_area_links_the_guides(app: Flask) -> None:
    with session_scope(app, write=True) as s:
        create_operator(s, USERNAME, PASSWORD)
    admin = AdminClient(app)
    assert admin.login().status_code == 303
    for path in ("/admin/", "/admin/registration-links", "/admin/health"):
        html = page(admin, path)
        assert 'href="/anleitungen/?lang=' in html, path
    links = page(admin, "/admin/registration-links")
    assert 'href="/anleitungen/moodle-administration?lang=de"' in links
    assert 'href="/anleitungen/moodle-administration?lang=en"' in links


def test_learner_and_teacher_pages_link_their_guide(launcher: Launcher) -> None:
    learner = Learner.launch(launcher, sub="learner-guide")
    assert '/anleitungen/teilnehmende?lang=de"' in learner.page.text
    teacher = launch_teacher(launcher)
    assert '/anleitungen/lehrende?lang=de"' in teacher.page.text
    teacher.post("sprache", {"lang": "en", "next": ""})  # the session's language follows the switch
    assert '/anleitungen/lehrende?lang=en"' in teacher.get("lehrende/").text


# --- Moodle's words ---


@pytest.mark.parametrize("language", LANGUAGES)
def test_menu_paths_in_the_guides_are_moodles_recorded_paths(language: str) -> None:
    recorded = {STRINGS.path_text(name, language) for name in STRINGS.paths}
    used: set[str] = set()
    for guide_id in GUIDE_IDS:
        for path in menu_paths(GUIDES[(guide_id, language)].body):
            assert path in recorded, (guide_id, language, path, recorded)
            used.add(path)
    admin_paths = set(menu_paths(GUIDES[("moodle-administration", language)].body))
    assert admin_paths == recorded, "the administrators' guide walks every recorded path"
    assert used == recorded


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("guide_id", GUIDE_IDS)
def test_every_cited_moodle_string_is_recorded_and_quoted_as_recorded(guide_id: str, language: str) -> None:
    guide = GUIDES[(guide_id, language)]
    text = _flat(guide.body)
    assert guide.cited, "the guide's comment names the Moodle strings it quotes"
    for key in guide.cited:
        assert key in STRINGS.strings, (guide_id, key)
        moodle_text = STRINGS.strings[key].text(language)
        assert moodle_text is not None, (guide_id, language, key, "has no text in this language")
        assert _pattern(moodle_text).search(text), (guide_id, language, key, moodle_text)


@pytest.mark.parametrize("guide_id", GUIDE_IDS)
def test_a_german_guide_quotes_no_english_moodle_label_and_the_reverse(guide_id: str) -> None:
    """A label in bold that is Moodle's text only in the other language is a label left untranslated."""
    for language, other in (("de", "en"), ("en", "de")):
        own = {_flat(s.text(language) or "") for s in STRINGS.strings.values()}
        foreign = {_flat(s.text(other) or "") for s in STRINGS.strings.values()} - own
        for bold in BOLD.finditer(GUIDES[(guide_id, language)].body):
            assert _flat(bold["text"]) not in foreign, (guide_id, language, bold["text"])


def test_every_recorded_string_names_its_sources() -> None:
    for string in STRINGS.strings.values():
        assert string.de_source in STRINGS.sources
        assert string.en is None or string.en_source in STRINGS.sources, string.key
    # What the guides quote in German was read in a Moodle 4.4 or 4.5 language pack, never guessed.
    for name in {s.de_source for s in STRINGS.strings.values()}:
        assert re.search(r"Moodle 4\.[45]", STRINGS.sources[name]), name


def test_the_tools_own_texts_use_moodles_recorded_menu_paths() -> None:
    """The tool's pages (German catalogs, English message ids) quote Moodle's menu paths as the guides do."""
    recorded = {language: {STRINGS.path_text(n, language) for n in STRINGS.paths} for language in LANGUAGES}
    root = Path(__file__).resolve().parents[2] / "lti_tool"
    from babel.messages.pofile import read_po

    found = 0
    for po in root.rglob("translations/de/LC_MESSAGES/messages.po"):
        with po.open("rb") as f:
            for message in read_po(f):
                for language, text in (("en", str(message.id)), ("de", str(message.string))):
                    for start in ("Site administration ›", "Website-Administration ›"):
                        if start in text:
                            found += 1
                            rest = text[text.index(start) :]
                            matching = [p for p in recorded[language] if rest.startswith(p)]
                            assert matching, (po, text)
                            assert not rest[len(matching[0]) :].startswith(MENU_SEPARATOR), (po, text)
    assert found >= 4


# Moodle's fields for a manually configured tool, as /lti/config names them (the value it gives beside each).
CONFIG_FIELDS = (
    "mod_lti/typename",
    "mod_lti/ltiversion",
    "mod_lti/toolurl",
    "mod_lti/initiatelogin",
    "mod_lti/redirectionuris",
    "mod_lti/keytype",
    "mod_lti/keytype_keyset",
    "mod_lti/publickeyset",
    "mod_lti/toolurl_contentitemselectionrequest",
    "mod_lti/services",
    "mod_lti/privacy",
    "mod_lti/custom",
    "mod_lti/default_launch_container",
    "mod_lti/embed_no_blocks",
    "ltiservice_gradebookservices/grade_synchronization",
    "ltiservice_gradebookservices/alwaysgs",
    "ltiservice_memberships/ltiservice_memberships",
    "ltiservice_memberships/allow",
    "mod_lti/share_name_admin",
    "mod_lti/share_email_admin",
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_lti_config_names_moodles_fields_as_moodle_does(client: Any, language: str) -> None:
    values = (
        page(client, f"/lti/config?lang={language}").split('<dl class="values">', 1)[1].split("</dl>", 1)[0]
    )
    text = _flat(re.sub(r"<[^>]+>", " ", values).replace("&#39;", "'"))
    for key in CONFIG_FIELDS:
        label = STRINGS.strings[key].text(language)
        assert label is not None and _flat(label) in text, (language, key, label)


def test_the_tools_own_texts_quote_moodles_labels_in_the_language_they_are_in() -> None:
    """Where an English message quotes a Moodle label (“…”), its German translation quotes Moodle's German one."""
    german: dict[str, set[str]] = {}
    for string in STRINGS.strings.values():
        if string.en:
            german.setdefault(_flat(string.en), set()).add(_flat(string.de))
    root = Path(__file__).resolve().parents[2] / "lti_tool"
    from babel.messages.pofile import read_po

    quoted = 0
    for po in root.rglob("translations/de/LC_MESSAGES/messages.po"):
        with po.open("rb") as f:
            for message in read_po(f):
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                msgstr = message.string if isinstance(message.string, str) else (message.string or [""])[0]
                for label in re.findall(r"“([^”]+)”", msgid):
                    if _flat(label) in german:
                        quoted += 1
                        assert any(f"„{de}“" in _flat(msgstr) for de in german[_flat(label)]), (
                            po,
                            label,
                            msgstr,
                        )
    assert quoted >= 5


# --- Bad input to the loader ---


def test_a_guide_without_its_source_comment_or_title_or_with_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(GuideError, match="starts without the comment"):
        parse_guide("lehrende", "de", "# Titel\n\nText\n")
    with pytest.raises(GuideError, match="must be the `# Title`"):
        parse_guide("lehrende", "de", "<!-- moodle-strings: grades/gradepass -->\nText ohne Titel\n")
    with pytest.raises(GuideError, match=r"unknown placeholder \{\{tool:password\}\}"):
        parse_guide("lehrende", "de", "<!-- x -->\n# Titel\n\n{{tool:password}}\n")
    guide = parse_guide("lehrende", "de", "<!--\nmoodle-strings: a/b c/d,\n  e/f\n-->\n# Titel\nText\n")
    assert guide.cited == ("a/b", "c/d", "e/f") and guide.title == "Titel" and guide.body == "Text\n"


def test_a_missing_guide_file_is_refused(tmp_path: Path) -> None:
    for language in LANGUAGES:
        (tmp_path / language).mkdir()
        for guide_id in GUIDE_IDS:
            (tmp_path / language / f"{guide_id}.md").write_text("<!-- -->\n# T\n", encoding="utf-8")
    (tmp_path / "en" / "lehrende.md").unlink()
    with pytest.raises(GuideError, match=r"missing guide en/lehrende\.md"):
        load_guides(tmp_path)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[sources]\na = "x"\n[strings."nokey"]\nde = "X"\nde_source = "a"\n', "needs a component/id key"),
        ('[sources]\na = "x"\n[strings."c/i"]\nde = "X"\nde_source = "b"\n', "known de_source"),
        (
            '[sources]\na = "x"\n[strings."c/i"]\nde = "X"\nde_source = "a"\nen_source = "b"\n',
            "unknown en_source",
        ),
        ('[sources]\na = "x"\n[paths]\np = ["c/i"]\n', "unknown strings"),
    ],
)
def test_a_strings_file_with_a_mistake_is_refused(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "strings.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(GuideError, match=message):
        load_strings(path)
