"""The shipped Grundlagenkurs: loads without problems and keeps the promises of the course outline."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lti_tool.course.loader import check_course, load_course
from lti_tool.course.markdown import internal_links, is_external_link
from lti_tool.course.model import REVIEW_EVERYTHING, Course

COURSE_DIR = Path(__file__).resolve().parents[2] / "content" / "grundlagenkurs"

# The eight modules of the course outline, in its order, with its minutes.
OUTLINE_MODULES = [
    ("agenda-2030", "Die Agenda 2030: globaler Rahmen", 30),
    ("mehrebenensystem", "Nachhaltigkeit im Mehrebenensystem: Bund und NRW", 25),
    ("lokalisierung", "Die Agenda 2030 vor Ort lokalisieren", 25),
    ("strategieprozess", "Der kommunale Strategieprozess Schritt für Schritt", 35),
    ("instrumente", "Instrumente: Indikatoren, Bericht, Haushalt", 35),
    ("strukturwandel", "Strukturwandel in NRW nachhaltig gestalten", 45),
    ("beteiligung", "Beteiligung und integrierte Strategieprozesse", 25),
    ("netzwerk", "Netzwerk und Weiterqualifizierung: LAG 21 NRW und NaMa NRW", 15),
]

# Modules that have an ordering question (where the outline's facts have an order).
MODULES_WITH_ORDERING = {
    "mehrebenensystem",
    "strategieprozess",
    "instrumente",
    "strukturwandel",
    "beteiligung",
}


# Modules rewritten for the second edition (issue 11): question pools with topics, hints and applied
# questions, practice tasks with a model answer. Read from the TOML files, so the promise holds whatever the
# loader's model calls the fields.
SECOND_EDITION_MODULES = {
    "agenda-2030",
    "mehrebenensystem",
    "lokalisierung",
    "strategieprozess",
    "instrumente",
    "strukturwandel",
    "beteiligung",
    "netzwerk",
}

# Editorial notes and author's-voice hedging that must never reach learners again.
OLD_EDITORIAL_PHRASES = (
    "konnte für diesen Kurs nicht",
    "Dieser Kurs legt sich",
    "legt sich dieser Kurs nicht",
    "nicht garantiert",
)

# The five Ruhr power-plant sites of the 5-StandorteProgramm (InvKG § 12).
RUHR_SITES = ("Duisburg", "Gelsenkirchen", "Hamm", "Herne", "Kreis Unna")


@pytest.fixture(scope="module")
def course() -> Course:
    return load_course(COURSE_DIR)


def source_texts() -> Iterator[tuple[Path, str]]:
    for path in sorted(COURSE_DIR.rglob("*")):
        if path.suffix in (".md", ".toml"):
            yield path, path.read_text(encoding="utf-8")


def shown_texts(course: Course) -> Iterator[str]:
    """Everything a learner can read, as rendered."""
    yield course.title
    yield course.description_html
    for module in course.modules:
        yield module.title
        yield module.summary
        yield from module.objectives
        yield module.practice.title
        yield module.practice.prompt_html
        for lesson in module.lessons:
            yield lesson.title
            yield lesson.html
        for question in module.quiz.questions:
            yield question.prompt
            for option in question.options:
                yield option.text
                yield option.explanation_html


def test_the_course_has_no_problems() -> None:
    assert [str(problem) for problem in check_course(COURSE_DIR)] == []


def test_course_settings(course: Course) -> None:
    assert course.id == "grundlagenkurs"
    assert course.title == "Grundlagenkurs Kommunales Nachhaltigkeitsmanagement"
    assert course.language == "de"
    assert course.issuer == "LAG 21 NRW – Landesarbeitsgemeinschaft Agenda 21 NRW e. V."
    assert course.pass_mark == 80
    assert course.required_module_ids == {module.id for module in course.modules}
    assert course.practice_required is True
    assert course.practice_review_required is False


def test_description_names_the_target_group(course: Course) -> None:
    for place in ("Rheinischen Revier", "Duisburg", "Gelsenkirchen", "Hamm", "Herne", "Kreis Unna"):
        assert place in course.description_html


def test_crediting_is_left_to_who_decides_it() -> None:
    # The overview points to the page "Wofür dieser Kurs zählt"; the page names who decides about crediting
    # towards NaMa NRW and how to ask, instead of an author's "not guaranteed".
    description = tomllib.loads((COURSE_DIR / "course.toml").read_text(encoding="utf-8"))["description"]
    assert "page:wofuer-dieser-kurs-zaehlt" in description
    page = " ".join(
        (COURSE_DIR / "pages" / "wofuer-dieser-kurs-zaehlt.md").read_text(encoding="utf-8").split()
    )
    assert "entscheiden die Träger des Lehrgangs" in page
    assert "LAG 21 NRW" in page and "BEW" in page
    assert "https://www.nama-nrw.de/" in page
    for phrase in OLD_EDITORIAL_PHRASES:
        assert phrase not in description and phrase not in page, phrase


def test_eight_modules_in_outline_order_with_outline_minutes(course: Course) -> None:
    assert [(m.id, m.title, m.minutes) for m in course.modules] == OUTLINE_MODULES


@pytest.mark.parametrize("module_id", [module_id for module_id, _, _ in OUTLINE_MODULES])
def test_module_shape(course: Course, module_id: str) -> None:
    module = course.module(module_id)
    assert module is not None
    assert 2 <= len(module.lessons) <= 5
    assert len(module.quiz.questions) >= 6
    assert module.summary.strip()
    assert module.objectives
    assert all(objective.startswith("Sie können") for objective in module.objectives)
    for lesson in module.lessons:
        assert lesson.sources, lesson.id
        assert "<h2>" in lesson.html, f"{lesson.id} has no ## subheading"


@pytest.mark.parametrize("module_id", [module_id for module_id, _, _ in OUTLINE_MODULES])
def test_practice_task(course: Course, module_id: str) -> None:
    module = course.module(module_id)
    assert module is not None
    practice = module.practice
    if module_id in SECOND_EDITION_MODULES:
        assert 400 <= practice.min_length <= 1000  # asks for a real answer
    else:
        assert 150 <= practice.min_length <= 300
    assert practice.max_length == 5000
    prompt = " ".join(practice.prompt_html.split())
    assert "Kommune" in prompt
    # peers read it after submitting theirs
    assert "anderen Teilnehmenden" in prompt or "anderen Teilnehmer*innen" in prompt
    assert "personenbezogenen Daten" in prompt


def test_every_question_kind_is_used(course: Course) -> None:
    kinds = {question.kind for module in course.modules for question in module.quiz.questions}
    assert kinds == {"single", "multiple", "truefalse", "ordering"}


def test_each_module_mixes_question_kinds(course: Course) -> None:
    for module in course.modules:
        kinds = {question.kind for question in module.quiz.questions}
        assert {"single", "multiple", "truefalse"} & kinds, module.id
        assert len(kinds) >= 3, module.id


def test_ordering_questions_where_written(course: Course) -> None:
    with_ordering = {
        module.id
        for module in course.modules
        if any(question.kind == "ordering" for question in module.quiz.questions)
    }
    assert with_ordering == MODULES_WITH_ORDERING


def test_phases_of_the_strategy_process_in_order(course: Course) -> None:
    module = course.module("strategieprozess")
    assert module is not None
    question = module.quiz.question("phasen-reihenfolge")
    assert question is not None
    assert [option.text for option in question.options] == [
        "Aufbauorganisation",
        "Bestandsaufnahme und Priorisierung",
        "Handlungsprogramm",
        "Ratsbeschluss",
        "Umsetzung und Monitoring",
        "Evaluation und Fortschreibung",
    ]


def test_participation_levels_in_order(course: Course) -> None:
    module = course.module("beteiligung")
    assert module is not None
    question = module.quiz.question("stufen-reihenfolge")
    assert question is not None
    assert question.correct_order == ("information", "konsultation", "mitentscheiden", "entscheiden")


def test_every_explanation_says_something(course: Course) -> None:
    for module in course.modules:
        for question in module.quiz.questions:
            for option in question.options:
                text = re.sub(r"<[^>]+>", "", option.explanation_html)
                assert len(text.split()) >= 3, f"{module.id}/{question.id}/{option.id}"


def test_every_source_is_cited_and_the_unofficial_one_is_not_there(course: Course) -> None:
    cited = {
        source.id
        for module in course.modules
        for sources in (
            *(lesson.sources for lesson in module.lessons),
            *(question.sources for question in module.quiz.questions),
        )
        for source in sources
    }
    assert cited == set(course.sources)
    assert "S41" not in course.sources  # the non-official 14,8 bn figure's source


def test_external_links_go_only_to_listed_sources(course: Course) -> None:
    urls = {source.url for source in course.sources.values()}
    for path, text in source_texts():
        for target in internal_links(text) if path.suffix == ".md" else []:
            if is_external_link(target):
                assert target in urls, f"{path.name}: {target}"


def test_the_unofficial_figure_never_appears(course: Course) -> None:
    for path, text in source_texts():
        assert "14,8" not in text, path
        assert not re.search(r"14[.,]8\s*(Mrd|Milliarden)", text), path
    for text in shown_texts(course):
        assert "14,8" not in text


def test_unverified_dates_are_absent_or_stated_as_uncertain(course: Course) -> None:
    everything = " ".join(" ".join(shown_texts(course)).split())
    # Coming into force of the coal phase-out law: unverified, left out.
    assert "14.08.2020" not in everything
    assert "14. August 2020" not in everything
    # Cabinet decision on the DNS 2025: never one date without the other.
    first = "17.02.2025" in everything or "17. Februar 2025" in everything
    second = "29.01.2025" in everything or "29. Januar 2025" in everything
    assert first == second


def test_formal_address(course: Course) -> None:
    everything = " ".join(shown_texts(course))
    assert not re.search(r"\b(du|dein|deine|dich|dir)\b", everything, re.IGNORECASE)


def quiz_data(module_id: str) -> dict[str, Any]:
    return tomllib.loads((COURSE_DIR / module_id / "quiz.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("module_id", sorted(SECOND_EDITION_MODULES))
def test_question_pool(module_id: str) -> None:
    quiz = quiz_data(module_id)
    questions = quiz["questions"]
    assert quiz["draw"] == 8
    assert len(questions) >= 16
    topics = quiz["topics"]
    assert sum(topic["draw"] for topic in topics.values()) == quiz["draw"]
    for topic_id, topic in topics.items():
        in_topic = [question for question in questions if question["topic"] == topic_id]
        assert len(in_topic) >= 2 * topic["draw"], topic_id
    applied = [question for question in questions if question.get("applied") is True]
    assert 2 * len(applied) >= len(questions), f"{len(applied)} of {len(questions)} applied"


@pytest.mark.parametrize("module_id", sorted(SECOND_EDITION_MODULES))
def test_every_question_has_a_hint_to_a_lesson_that_keeps_the_answer(course: Course, module_id: str) -> None:
    module = course.module(module_id)
    assert module is not None
    lesson_ids = {lesson.id for lesson in module.lessons}
    for question in quiz_data(module_id)["questions"]:
        assert question["hint"].strip(), question["id"]
        assert question["lesson"] in lesson_ids, question["id"]
        for option in question["options"]:
            if option.get("correct") or question["kind"] == "ordering":
                assert option["text"] not in question["hint"], question["id"]


@pytest.mark.parametrize("module_id", sorted(SECOND_EDITION_MODULES))
def test_practice_task_has_model_answer_and_checklist(module_id: str) -> None:
    module = tomllib.loads((COURSE_DIR / module_id / "module.toml").read_text(encoding="utf-8"))
    practice = module["practice"]
    assert len(practice["model_answer"].strip()) >= practice["min_length"]
    assert len(practice["checklist"]) >= 3


@pytest.mark.parametrize("module_id", sorted(SECOND_EDITION_MODULES))
def test_lessons_cite_sources_and_carry_no_editorial_notes(course: Course, module_id: str) -> None:
    module = course.module(module_id)
    assert module is not None
    for lesson in module.lessons:
        assert lesson.sources, lesson.id
        text = " ".join(lesson.html.split())
        for phrase in OLD_EDITORIAL_PHRASES:
            assert phrase not in text, (lesson.id, phrase)


def test_gender_star_is_never_read_as_emphasis(course: Course) -> None:
    # "Teilnehmer*innen und Bürger*innen": the renderer keeps the gender star a star (never <em>).
    for text in shown_texts(course):
        assert "<em>innen" not in text and "</em>innen" not in text, text[:200]


def test_the_ruhr_is_as_present_as_the_rheinisches_revier(course: Course) -> None:
    module = course.module("strukturwandel")
    assert module is not None
    ruhr = next(lesson for lesson in module.lessons if lesson.id == "04-ruhr")
    revier = next(lesson for lesson in module.lessons if lesson.id == "03-rheinisches-revier")
    for site in RUHR_SITES:
        assert site in ruhr.html, site
    # Each region has its own lesson with a sourced municipal case and its own quiz topic of equal weight.
    assert "Wasserstoffallianz Westfalen" in ruhr.html and "NEULAND HAMBACH" in revier.html
    topics = quiz_data("strukturwandel")["topics"]
    assert topics["ruhr"]["draw"] == topics["rheinisches-revier"]["draw"]


def test_coal_exit_milestones_are_current(course: Course) -> None:
    module = course.module("strukturwandel")
    assert module is not None
    text = " ".join(" ".join(lesson.html for lesson in module.lessons).split())
    assert "21. Dezember 2018" in text  # end of hard-coal mining in the Ruhr
    assert "24. Dezember 2022" in text  # the 2030 exit in the Rheinisches Revier is law
    assert "Reserve" in text
    assert "InvKG" in text and "STARK" in text


def test_sdg_portal_findings_stay_fixed(course: Course) -> None:
    module = course.module("instrumente")
    assert module is not None
    text = " ".join(" ".join(lesson.html for lesson in module.lessons).split())
    # Problem-Check and Aufgaben-Check are steps of choosing the indicators, not tools of the portal.
    assert "Schritte der Indikatorenauswahl" in text
    # 69 is the number of key figures with data in the portal (2022), not the size of the catalogue.
    assert "Daten zu 69 Kennzahlen" in text
    assert "Engagement Global" not in text


def test_workload_is_derived_from_the_modules_minutes(course: Course) -> None:
    """course.toml [workload]: the modules' minutes to the nearest half hour, and in Unterrichtseinheiten à 45 min
    counting full units only (the certificate prints both; a certification office must not be credited more units
    than the course takes)."""
    minutes = sum(module.minutes for module in course.modules)
    hours = math.floor(minutes / 30 + 0.5) / 2
    units = minutes // 45
    assert units * 45 <= minutes
    assert course.workload is not None
    assert (course.workload.hours, course.workload.teaching_units) == (hours, units), (
        f"the modules take {minutes} min: set [workload] hours = {hours:g}, teaching_units = {units} in course.toml"
    )


def test_review_options_are_the_documented_defaults(course: Course) -> None:
    assert course.review.passed == REVIEW_EVERYTHING
    failed = course.review.failed
    assert (failed.answers, failed.correctness, failed.explanations, failed.correct_answers) == (
        True,
        True,
        False,
        False,
    )
    every_question_has_a_hint = all(q.hint_html for m in course.modules for q in m.quiz.questions)
    assert failed.hints == every_question_has_a_hint
