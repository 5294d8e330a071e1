"""The shipped Grundlagenkurs: loads without problems and keeps the promises of the course outline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lti_tool.course.loader import check_course, load_course
from lti_tool.course.markdown import internal_links, is_external_link
from lti_tool.course.model import Course

COURSE_DIR = Path(__file__).resolve().parents[2] / "content" / "grundlagenkurs"

# The eight modules of the course outline, in its order, with its minutes.
OUTLINE_MODULES = [
    ("agenda-2030", "Die Agenda 2030: globaler Rahmen", 20),
    ("mehrebenensystem", "Nachhaltigkeit im Mehrebenensystem: Bund und NRW", 20),
    ("lokalisierung", "Die Agenda 2030 vor Ort lokalisieren", 25),
    ("strategieprozess", "Der kommunale Strategieprozess Schritt für Schritt", 30),
    ("instrumente", "Instrumente: Indikatoren, Bericht, Haushalt", 25),
    ("strukturwandel", "Strukturwandel in NRW nachhaltig gestalten", 30),
    ("beteiligung", "Beteiligung und integrierte Strategieprozesse", 20),
    ("netzwerk", "Netzwerk und Weiterqualifizierung: LAG 21 NRW und NaMa NRW", 15),
]

# Modules that have an ordering question (where the outline's facts have an order).
MODULES_WITH_ORDERING = {
    "mehrebenensystem",
    "lokalisierung",
    "strategieprozess",
    "instrumente",
    "strukturwandel",
    "beteiligung",
    "netzwerk",
}


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


def test_certification_is_an_intent_not_a_promise(course: Course) -> None:
    description = " ".join(course.description_html.split())
    assert "erklärte Absicht" in description
    assert "nicht garantiert" in description


def test_eight_modules_in_outline_order_with_outline_minutes(course: Course) -> None:
    assert [(m.id, m.title, m.minutes) for m in course.modules] == OUTLINE_MODULES


@pytest.mark.parametrize("module_id", [module_id for module_id, _, _ in OUTLINE_MODULES])
def test_module_shape(course: Course, module_id: str) -> None:
    module = course.module(module_id)
    assert module is not None
    assert 2 <= len(module.lessons) <= 4
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
    assert 150 <= practice.min_length <= 300
    assert practice.max_length == 5000
    prompt = " ".join(practice.prompt_html.split())
    assert "Kommune" in prompt
    assert "anderen Teilnehmenden" in prompt  # peers read it after submitting theirs
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
        for item in (*module.lessons, *module.quiz.questions)
        for source in item.sources
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
