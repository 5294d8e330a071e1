"""The loader and `course check` for FORMAT.md's "Second edition": pools and topics, question hints, review
options, attempt policy, workload, issuer details, model answers, glossary, course pages, source language.
Each problem test breaks the valid second-edition course below in one place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lti_tool.course.loader import check_course, load_course
from lti_tool.course.model import AttemptPolicy, ReviewOptions, Workload

Edit = Callable[[str, str, str], None]

POOL_HEAD = """\
draw = 2

[topics.zahlen]
title = "Zahlen"
draw = 1

[topics.reihen]
title = "Reihen"
draw = 1

"""

SETTINGS = """
min_pool_factor = 2

[review.failed]
answers = true
correctness = true
hints = true
explanations = false
correct_answers = false

[review.passed]
answers = true
correctness = true
hints = false
explanations = true
correct_answers = true

[attempts]
wait_minutes = 30
per_day = 3

[workload]
hours = 1.5
teaching_units = 2

[issuer_details]
url = "https://www.lag21.de/"
"""

GLOSSARY = """\
[[terms]]
id = "sdg"
term = "SDG"
expansion = "Sustainable Development Goals"
definition = "Die 17 Ziele der [Agenda](page:wofuer). Siehe [Start](module:eins/01-start)."
sources = ["S1"]

[[terms]]
id = "aenderung"
term = "Änderung"
definition = "Etwas anderes, vgl. [SDG](glossary:sdg)."

[[terms]]
id = "agenda"
term = "Agenda 21"
definition = "Das Aktionsprogramm von Rio."
"""

PAGE = """\
+++
title = "Wofür dieser Kurs zählt"
sources = ["S2"]
order = 1
+++
## Anrechnung

Siehe [Glossar](glossary:sdg) und [Modul eins](module:eins).
"""

PAGE_HILFE = """\
+++
title = "Hilfe"
sources = ["S1"]
+++
Zurück zur [Seite](page:wofuer).
"""


def problems(course_dir: Path) -> list[str]:
    return [str(problem) for problem in check_course(course_dir)]


def _topics_and_hints(edit: Edit, module: str) -> None:
    quiz = f"{module}/quiz.toml"
    path_hint = 'hint = "Lesen Sie noch einmal die Lektion zum Start."\nlesson = "01-start"'
    edit(
        quiz,
        'prompt = "Welche Zahl?"',
        f'prompt = "Welche Zahl?"\ntopic = "zahlen"\napplied = true\n{path_hint}',
    )
    edit(quiz, 'prompt = "Welche?"', f'prompt = "Welche?"\ntopic = "zahlen"\n{path_hint}')
    edit(quiz, 'prompt = "Stimmt das?"', f'prompt = "Stimmt das?"\ntopic = "reihen"\n{path_hint}')
    edit(quiz, 'prompt = "Ordnen Sie."', f'prompt = "Ordnen Sie."\ntopic = "reihen"\n{path_hint}')


@pytest.fixture
def second(course_dir: Path, edit: Edit) -> Path:
    """The conftest course with every second-edition key in use (valid)."""
    course_toml = course_dir / "course.toml"
    text = course_toml.read_text(encoding="utf-8")
    head, sources = text.split("[sources.S1]", 1)
    course_toml.write_text(head + SETTINGS + "\n[sources.S1]" + sources, encoding="utf-8")
    edit("course.toml", 'url = "https://example.org/eins"', 'url = "https://example.org/eins"\nlang = "en"')
    edit(
        "course.toml", 'url = "http://example.org/zwei"', 'url = "http://example.org/zwei"\nstand = "03/2025"'
    )
    for module in ("eins", "zwei"):
        quiz = course_dir / module / "quiz.toml"
        quiz.write_text(POOL_HEAD + quiz.read_text(encoding="utf-8"), encoding="utf-8")
        _topics_and_hints(edit, module)
        edit(
            f"{module}/module.toml",
            "max_length = 5000",
            'max_length = 5000\nmodel_answer = "Eine *gute* Antwort nennt [SDG](glossary:sdg)."\n'
            'checklist = ["Nennt ein Ziel.", "Nennt eine Kennzahl."]',
        )
    (course_dir / "glossary.toml").write_text(GLOSSARY, encoding="utf-8")
    (course_dir / "pages").mkdir()
    (course_dir / "pages" / "wofuer.md").write_text(PAGE, encoding="utf-8")
    (course_dir / "pages" / "hilfe.md").write_text(PAGE_HILFE, encoding="utf-8")
    return course_dir


def test_second_edition_course_is_clean(second: Path) -> None:
    assert problems(second) == []


def test_pool_topics_and_question_keys_load(second: Path) -> None:
    quiz = load_course(second).modules[0].quiz
    assert quiz.draw == 2
    assert quiz.questions_per_attempt == 2
    assert quiz.is_pool
    assert [(t.id, t.title, t.draw) for t in quiz.topics] == [
        ("zahlen", "Zahlen", 1),
        ("reihen", "Reihen", 1),
    ]
    assert [q.topic for q in quiz.questions] == ["zahlen", "zahlen", "reihen", "reihen"]
    assert [q.id for q in quiz.topic_questions("reihen")] == ["wahr", "reihe"]
    assert [q.applied for q in quiz.questions] == [True, False, False, False]
    first = quiz.questions[0]
    assert first.hint_html == "<p>Lesen Sie noch einmal die Lektion zum Start.</p>\n"
    assert first.lesson_id == "01-start"


def test_course_settings_load(second: Path) -> None:
    course = load_course(second)
    assert course.min_pool_factor == 2
    assert course.review.after(False) == ReviewOptions(
        answers=True, correctness=True, hints=True, explanations=False, correct_answers=False
    )
    assert course.review.after(True) == ReviewOptions(
        answers=True, correctness=True, hints=False, explanations=True, correct_answers=True
    )
    assert course.attempts == AttemptPolicy(wait_minutes=30, per_day=3)
    assert course.workload == Workload(hours=1.5, teaching_units=2)
    assert course.issuer_url == "https://www.lag21.de/"
    assert (course.sources["S1"].lang, course.sources["S1"].stand) == ("en", "")
    assert (course.sources["S2"].lang, course.sources["S2"].stand) == ("", "03/2025")


def test_practice_model_answer_and_checklist(second: Path) -> None:
    practice = load_course(second).modules[0].practice
    assert practice.model_answer_html.startswith("<p>Eine <em>gute</em> Antwort nennt ")
    assert '<a href="../../glossar#begriff-sdg">SDG</a>' in practice.model_answer_html
    assert practice.checklist == ("Nennt ein Ziel.", "Nennt eine Kennzahl.")


def test_glossary_sorted_as_german_dictionary_with_links(second: Path) -> None:
    course = load_course(second)
    assert [term.term for term in course.glossary] == ["Agenda 21", "Änderung", "SDG"]
    sdg = course.term("sdg")
    assert sdg is not None
    assert sdg.expansion == "Sustainable Development Goals"
    assert [s.id for s in sdg.sources] == ["S1"]
    assert '<a href="seiten/wofuer">Agenda</a>' in sdg.definition_html
    assert '<a href="m/eins/01-start">Start</a>' in sdg.definition_html
    assert course.term("fehlt") is None


def test_pages_in_order_with_links(second: Path) -> None:
    course = load_course(second)
    assert [(page.id, page.order) for page in course.pages] == [("wofuer", 1), ("hilfe", None)]
    page = course.page("wofuer")
    assert page is not None
    assert page.title == "Wofür dieser Kurs zählt"
    assert [s.id for s in page.sources] == ["S2"]
    assert "<h2>Anrechnung</h2>" in page.html
    assert '<a href="../glossar#begriff-sdg">Glossar</a>' in page.html
    assert '<a href="../m/eins/">Modul eins</a>' in page.html


def test_a_course_without_second_edition_keys_loads_as_before(course_dir: Path) -> None:
    course = load_course(course_dir)
    quiz = course.modules[0].quiz
    assert (quiz.draw, quiz.questions_per_attempt, quiz.is_pool, quiz.topics) == (0, 4, False, ())
    assert course.review.after(False) == ReviewOptions(True, True, False, False, False)
    assert course.review.after(True) == ReviewOptions(True, True, False, True, True)
    assert course.attempts == AttemptPolicy(0, 0)
    assert (course.workload, course.issuer_url, course.min_pool_factor) == (None, "", 0)
    assert (course.glossary, course.pages) == ((), ())
    assert course.modules[0].practice.model_answer_html == ""
    assert course.modules[0].practice.checklist == ()


def test_failed_review_shows_hints_by_default_only_when_every_question_has_one(
    course_dir: Path, edit: Edit
) -> None:
    for module in ("eins", "zwei"):
        for prompt in ("Welche Zahl?", "Welche?", "Stimmt das?", "Ordnen Sie."):
            edit(f"{module}/quiz.toml", f'prompt = "{prompt}"', f'prompt = "{prompt}"\nhint = "Lektion 1."')
    assert load_course(course_dir).review.failed.hints is True
    edit("zwei/quiz.toml", 'prompt = "Ordnen Sie."\nhint = "Lektion 1."', 'prompt = "Ordnen Sie."')
    assert load_course(course_dir).review.failed.hints is False


def test_review_key_left_out_keeps_its_default(second: Path, edit: Edit) -> None:
    edit("course.toml", "explanations = true\ncorrect_answers = true\n", "")
    assert load_course(second).review.passed == ReviewOptions(True, True, False, True, True)


# --- problems ----------------------------------------------------------------------------------


def test_pool_problems(second: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", "draw = 2\n", "draw = 5\n")
    edit("zwei/quiz.toml", "draw = 2\n", "draw = 0\n")
    assert problems(second) == [
        "kurs/eins/quiz.toml: draw: draws 5 questions, but the quiz has only 4",
        "kurs/zwei/quiz.toml: draw: must be at least 1, not 0",
    ]


def test_draw_must_be_a_whole_number(course_dir: Path, edit: Edit) -> None:
    path = course_dir / "eins" / "quiz.toml"
    path.write_text('draw = "zwei"\n' + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert problems(course_dir) == ["kurs/eins/quiz.toml: draw: must be a whole number"]


def test_topic_problems(second: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'title = "Reihen"\ndraw = 1', 'title = "Reihen"\ndraw = 3\nfarbe = "rot"')
    edit("eins/quiz.toml", 'topic = "zahlen"\napplied', 'topic = "nummern"\napplied')
    edit("eins/quiz.toml", 'prompt = "Welche?"\ntopic = "zahlen"\n', 'prompt = "Welche?"\n')
    assert problems(second) == [
        "kurs/eins/quiz.toml: topics.reihen.farbe: unknown key",
        "kurs/eins/quiz.toml: questions[1].topic: 'nummern' is not in [topics] (topics: reihen, zahlen)",
        "kurs/eins/quiz.toml: questions[2].topic: missing",
        "kurs/eins/quiz.toml: topics: the topics draw 1 + 3 = 4, not draw = 2",
        "kurs/eins/quiz.toml: topics.zahlen.draw: draws 1, but only 0 questions have this topic",
        "kurs/eins/quiz.toml: topics.reihen.draw: draws 3, but only 2 questions have this topic",
        "kurs/eins/quiz.toml: topics.zahlen: has 0 questions; min_pool_factor = 2 asks for at least 2 × 1 = 2",
        "kurs/eins/quiz.toml: topics.reihen: has 2 questions; min_pool_factor = 2 asks for at least 2 × 3 = 6",
    ]


def test_topics_need_a_draw_and_questions_without_topics_have_no_topic(course_dir: Path, edit: Edit) -> None:
    quiz = course_dir / "eins" / "quiz.toml"
    quiz.write_text(
        POOL_HEAD.replace("draw = 2\n", "", 1) + quiz.read_text(encoding="utf-8"), encoding="utf-8"
    )
    _topics_and_hints(edit, "eins")
    edit("zwei/quiz.toml", 'prompt = "Welche?"', 'prompt = "Welche?"\ntopic = "zahlen"')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: draw: missing (a quiz with [topics] says how many questions an attempt draws)",
        "kurs/zwei/quiz.toml: questions[2].topic: the quiz has no [topics] (add them, or remove topic)",
    ]


def test_min_pool_factor_reports_small_pools_and_quizzes_without_pool(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", "pass_mark = 80\n", "pass_mark = 80\nmin_pool_factor = 2\n")
    quiz = course_dir / "eins" / "quiz.toml"
    quiz.write_text("draw = 3\n" + quiz.read_text(encoding="utf-8"), encoding="utf-8")
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: draw: the pool has 4 questions; min_pool_factor = 2 in course.toml asks for at "
        "least 2 × 3 = 6",
        "kurs/zwei/quiz.toml: questions: the pool has 4 questions; min_pool_factor = 2 in course.toml asks for "
        "at least 2 × 4 = 8",
    ]


def test_min_pool_factor_must_be_positive(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", "pass_mark = 80\n", "pass_mark = 80\nmin_pool_factor = 0\n")
    assert problems(course_dir) == ["kurs/course.toml: min_pool_factor: must be at least 1, not 0"]


def test_hint_problems(second: Path, edit: Edit) -> None:
    # review.failed says hints = true: every question needs a hint.
    edit(
        "eins/quiz.toml",
        'prompt = "Welche?"\ntopic = "zahlen"\nhint = "Lesen Sie noch einmal die Lektion zum Start."',
        'prompt = "Welche?"\ntopic = "zahlen"',
    )
    # A hint that contains the text of a correct option gives the answer away.
    edit(
        "zwei/quiz.toml",
        'hint = "Lesen Sie noch einmal die Lektion zum Start."',
        'hint = "Nicht zwei, sondern eins."',
    )
    edit("zwei/quiz.toml", 'lesson = "01-start"', 'lesson = "07-fehlt"')
    assert problems(second) == [
        "kurs/eins/quiz.toml: questions[2].hint: missing",
        "kurs/zwei/quiz.toml: questions[1].lesson: '07-fehlt' is not a lesson of this module "
        "(lessons: 01-start, 02-weiter)",
        "kurs/zwei/quiz.toml: questions[1].hint: names the answer (the correct option 'a')",
    ]


def test_hint_naming_a_word_inside_another_word_is_fine(second: Path, edit: Edit) -> None:
    edit(
        "eins/quiz.toml",
        'hint = "Lesen Sie noch einmal die Lektion zum Start."',
        'hint = "Lesen Sie Seite Einsicht."',
    )
    assert problems(second) == []


def test_without_review_hints_a_question_may_leave_out_its_hint(course_dir: Path) -> None:
    assert problems(course_dir) == []


def test_review_problems(second: Path, edit: Edit) -> None:
    edit(
        "course.toml",
        "explanations = false\ncorrect_answers = false",
        "explanations = true\ncorrect_answers = false\nfeedback = 1",
    )
    edit("course.toml", "[review.passed]\nanswers = true", '[review.passed]\nanswers = "ja"')
    edit("course.toml", "[review.failed]", "[review.immer]\nanswers = true\n\n[review.failed]")
    assert problems(second) == [
        "kurs/course.toml: review.failed.feedback: unknown key",
        "kurs/course.toml: review.failed.explanations: explanations = true needs correct_answers = true "
        "(explanations may state the right answer)",
        "kurs/course.toml: review.passed.answers: must be true or false",
        "kurs/course.toml: review.immer: unknown key",
    ]


def test_attempts_problems(second: Path, edit: Edit) -> None:
    edit("course.toml", "wait_minutes = 30\nper_day = 3", 'wait_minutes = -1\nper_day = "3"\npause = 2')
    assert problems(second) == [
        "kurs/course.toml: attempts.wait_minutes: must be at least 0, not -1",
        "kurs/course.toml: attempts.per_day: must be a whole number",
        "kurs/course.toml: attempts.pause: unknown key",
    ]


@pytest.mark.parametrize(
    ("workload", "expected"),
    [
        (
            "hours = 6\nteaching_units = 10",
            "workload.teaching_units: 10 Unterrichtseinheiten à 45 min do not agree with 6 hours (8.0 units; "
            "allowed: within one unit)",
        ),
        ("hours = 0\nteaching_units = 1", "workload.hours: must be greater than 0"),
        ("hours = 6", "workload.teaching_units: missing"),
        ('hours = "6"\nteaching_units = 8', "workload.hours: must be a number"),
        ("hours = 6\nteaching_units = 0", "workload.teaching_units: must be at least 1, not 0"),
    ],
)
def test_workload_problems(second: Path, edit: Edit, workload: str, expected: str) -> None:
    edit("course.toml", "hours = 1.5\nteaching_units = 2", workload)
    assert problems(second) == [f"kurs/course.toml: {expected}"]


def test_workload_within_one_unit_is_fine(second: Path, edit: Edit) -> None:
    edit("course.toml", "hours = 1.5\nteaching_units = 2", "hours = 6.5\nteaching_units = 9")
    assert load_course(second).workload == Workload(6.5, 9)


def test_issuer_and_source_problems(second: Path, edit: Edit) -> None:
    edit("course.toml", 'url = "https://www.lag21.de/"', 'url = "www.lag21.de"')
    edit("course.toml", 'lang = "en"', 'lang = "Englisch"')
    edit("course.toml", 'stand = "03/2025"', 'stand = "2025-03"')
    assert problems(second) == [
        "kurs/course.toml: issuer_details.url: must be an http:// or https:// address, not 'www.lag21.de'",
        'kurs/course.toml: sources.S1.lang: \'Englisch\' is not a language tag (e.g. "en" or "en-GB")',
        "kurs/course.toml: sources.S2.stand: '2025-03' is not a month as MM/JJJJ (e.g. \"03/2025\")",
    ]


def test_practice_problems(second: Path, edit: Edit) -> None:
    edit(
        "eins/module.toml",
        'checklist = ["Nennt ein Ziel.", "Nennt eine Kennzahl."]',
        'checklist = ["Nennt ein Ziel.", " "]',
    )
    edit("zwei/module.toml", 'checklist = ["Nennt ein Ziel.", "Nennt eine Kennzahl."]', "checklist = []")
    edit("zwei/module.toml", "model_answer = ", "model_answer = 3\nmusterloesung = ")
    assert problems(second) == [
        "kurs/eins/module.toml: practice.checklist[2]: must not be empty",
        "kurs/zwei/module.toml: practice.model_answer: must be a string",
        "kurs/zwei/module.toml: practice.checklist: lists no point (leave checklist out, or name what a good "
        "answer covers)",
        "kurs/zwei/module.toml: practice.musterloesung: unknown key",
    ]


def test_glossary_problems(second: Path) -> None:
    glossary = second / "glossary.toml"
    glossary.write_text(
        GLOSSARY.replace('id = "agenda"', 'id = "sdg"')
        .replace('definition = "Etwas anderes', 'definitoin = "Etwas anderes')
        .replace('sources = ["S1"]', 'sources = ["S9"]'),
        encoding="utf-8",
    )
    assert problems(second) == [
        "kurs/glossary.toml: terms[1].sources: unknown source 'S9' (not in [sources] of course.toml)",
        "kurs/glossary.toml: terms[2].definition: missing",
        "kurs/glossary.toml: terms[2].definitoin: unknown key",
        "kurs/glossary.toml: terms: term id 'sdg' is used twice",
    ]


def test_glossary_must_be_a_list_of_terms(second: Path) -> None:
    (second / "glossary.toml").write_text("terms = []\n", encoding="utf-8")
    assert problems(second)[0] == (
        "kurs/glossary.toml: terms: a glossary needs at least one term (or leave glossary.toml out)"
    )


def test_unknown_glossary_and_page_links(second: Path, edit: Edit) -> None:
    edit(
        "eins/lessons/01-start.md",
        "[weiter](module:zwei/01-start)",
        "[X](glossary:xyz) [Y](page:fehlt) [Z](page:)",
    )
    assert problems(second) == [
        "kurs/eins/lessons/01-start.md: text: link 'glossary:xyz': the glossary (glossary.toml) has no term 'xyz'",
        "kurs/eins/lessons/01-start.md: text: link 'page:fehlt': there is no course page pages/fehlt.md",
        "kurs/eins/lessons/01-start.md: text: link 'page:': write page:<page-id>",
    ]


def test_glossary_links_without_a_glossary(course_dir: Path, edit: Edit) -> None:
    edit("eins/lessons/01-start.md", "[weiter](module:zwei/01-start)", "[SDG](glossary:sdg)")
    assert problems(course_dir) == [
        "kurs/eins/lessons/01-start.md: text: link 'glossary:sdg': the glossary (glossary.toml) has no term 'sdg'"
    ]


def test_page_problems(second: Path) -> None:
    pages = second / "pages"
    (pages / "notiz.txt").write_text("x", encoding="utf-8")
    (pages / "zwei punkte.md").write_text(PAGE_HILFE, encoding="utf-8")
    (pages / "hilfe.md").write_text(
        PAGE_HILFE.replace('title = "Hilfe"\n', 'order = "eins"\n'), encoding="utf-8"
    )
    (pages / "leer.md").write_text("# Ohne Vorspann\n", encoding="utf-8")
    (pages / "titel.md").write_text(PAGE_HILFE + "\n# Zweiter Titel\n", encoding="utf-8")
    assert problems(second) == [
        "kurs/pages/hilfe.md: title: missing",
        "kurs/pages/hilfe.md: order: must be a whole number",
        "kurs/pages/leer.md: missing front matter (a block between +++ lines at the top of the file)",
        "kurs/pages/notiz.txt: not a course page (course pages are <page-id>.md files)",
        "kurs/pages/titel.md: text: level-1 heading 'Zweiter Titel': the page title is the title, start at ##",
        "kurs/pages/zwei punkte.md: 'zwei punkte' is not a valid page id ([A-Za-z0-9][A-Za-z0-9_-]{0,63})",
    ]


def test_pages_folder_is_not_a_module(second: Path, edit: Edit) -> None:
    edit("course.toml", 'modules = ["eins", "zwei"]', 'modules = ["eins", "zwei", "pages"]')
    assert problems(second) == [
        "kurs/course.toml: modules: 'pages': the folder pages/ holds the course pages",
    ]
