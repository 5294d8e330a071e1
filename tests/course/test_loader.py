"""The loader: a valid course loads into frozen objects, and every kind of content problem is reported with
file and field. Each test breaks the valid course from conftest.py in one place."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lti_tool.course.fields import CourseError, Problem
from lti_tool.course.loader import check_course, load_catalog, load_course
from lti_tool.course.model import Course

from .conftest import course_files, write_files

Edit = Callable[[str, str, str], None]


def problems(course_dir: Path) -> list[str]:
    return [str(problem) for problem in check_course(course_dir)]


# --- A valid course ----------------------------------------------------------------------------


def test_valid_course_has_no_problems(course_dir: Path) -> None:
    assert check_course(course_dir) == []


def test_valid_course_loads_into_frozen_objects(course_dir: Path) -> None:
    course = load_course(course_dir)

    assert isinstance(course, Course)
    assert (course.id, course.title, course.language, course.issuer) == (
        "kurs",
        "Testkurs",
        "de",
        "LAG 21 NRW",
    )
    assert course.pass_mark == 80
    assert course.practice_required is True
    assert course.practice_review_required is False
    assert course.required_module_ids == frozenset({"eins", "zwei"})
    assert course.path == course_dir
    assert [m.id for m in course.modules] == ["eins", "zwei"]
    assert [m.position for m in course.modules] == [1, 2]
    assert list(course.sources) == ["S1", "S2"]
    assert course.sources["S2"].url == "http://example.org/zwei"
    with pytest.raises(TypeError):
        course.sources["S3"] = course.sources["S1"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        course.title = "anders"  # type: ignore[misc]

    module = course.modules[0]
    assert (module.title, module.minutes, module.summary) == ("Modul eins", 20, "Worum es geht.")
    assert module.objectives == ("Sie können etwas erklären.",)
    assert [(lesson.id, lesson.position) for lesson in module.lessons] == [("01-start", 1), ("02-weiter", 2)]
    assert module.lessons[1].sources == (course.sources["S1"], course.sources["S2"])
    assert module.practice.min_length == 200
    assert module.practice.max_length == 5000
    assert module.practice.title == "Praxisaufgabe"
    assert '<a href="../eins/01-start">Lektion</a>' in module.practice.prompt_html


def test_lookups(course_dir: Path) -> None:
    course = load_course(course_dir)
    eins = course.module("eins")
    assert eins is not None
    assert course.module("drei") is None
    assert course.next_module("eins") is course.module("zwei")
    assert course.next_module("zwei") is None
    assert course.next_module("drei") is None
    assert eins.lesson("02-weiter") is eins.lessons[1]
    assert eins.lesson("03-fehlt") is None
    assert eins.quiz.question("wahr") is eins.quiz.questions[2]
    assert eins.quiz.question("fehlt") is None
    question = eins.quiz.questions[0]
    assert question.option("b") is question.options[1]
    assert question.option("z") is None


def test_markdown_is_rendered_with_the_right_link_base(course_dir: Path) -> None:
    course = load_course(course_dir)
    assert '<a href="m/eins/">Modul eins</a>' in course.description_html
    lesson = course.modules[0].lessons[0]
    assert "<h2>Worum es geht</h2>" in lesson.html
    assert '<a href="../zwei/01-start">weiter</a>' in lesson.html
    assert 'target="_blank"' in lesson.html
    explanation = course.modules[0].quiz.questions[0].options[0].explanation_html
    assert '<a href="../eins/01-start">Start</a>' in explanation


def test_question_scoring(course_dir: Path) -> None:
    quiz = load_course(course_dir).modules[0].quiz
    single, multiple, truefalse, ordering = quiz.questions

    assert single.correct_option_ids == frozenset({"a"})
    assert single.is_correct(["a"])
    assert single.is_correct("a")
    assert not single.is_correct(["b"])
    assert not single.is_correct(["a", "b"])
    assert not single.is_correct([])

    assert multiple.correct_option_ids == frozenset({"a", "b"})
    assert multiple.is_correct(["b", "a"])
    assert not multiple.is_correct(["a"])
    assert not multiple.is_correct(["a", "b", "c"])
    assert not multiple.is_correct(["a", "b", "x"])
    assert not multiple.is_correct(["a", "a", "b"])

    assert truefalse.is_correct(["false"])
    assert not truefalse.is_correct(["true"])
    assert truefalse.kind == "truefalse"

    assert ordering.correct_order == ("erst", "dann", "zuletzt")
    assert ordering.correct_option_ids == frozenset()
    assert all(not option.correct for option in ordering.options)
    assert ordering.is_correct(["erst", "dann", "zuletzt"])
    assert not ordering.is_correct(["dann", "erst", "zuletzt"])
    assert not ordering.is_correct(["erst", "dann"])
    assert not ordering.is_correct(["erst", "dann", "zuletzt", "mehr"])


def test_question_sources(course_dir: Path) -> None:
    quiz = load_course(course_dir).modules[0].quiz
    assert [source.id for source in quiz.questions[0].sources] == ["S1"]
    assert quiz.questions[1].sources == ()


def test_defaults(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", "pass_mark = 80\n", "")
    edit("course.toml", 'required_modules = ["eins", "zwei"]\n', "")
    edit("course.toml", "practice_required = true\n", "")
    edit("course.toml", "practice_review_required = false\n", "")
    edit("eins/module.toml", "min_length = 200\nmax_length = 5000\n", "")
    course = load_course(course_dir)
    assert course.pass_mark == 80
    assert course.required_module_ids == frozenset({"eins", "zwei"})
    assert course.practice_required is True
    assert course.practice_review_required is False
    assert (course.modules[0].practice.min_length, course.modules[0].practice.max_length) == (50, 5000)


def test_lesson_order_from_module_toml(course_dir: Path, edit: Edit) -> None:
    edit("eins/module.toml", "summary", 'lessons = ["02-weiter.md", "01-start.md"]\nsummary')
    module = load_course(course_dir).modules[0]
    assert [(lesson.id, lesson.position) for lesson in module.lessons] == [("02-weiter", 1), ("01-start", 2)]


def test_problem_str_and_course_error(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'title = "Testkurs"\n', "")
    edit("eins/quiz.toml", '  explanation = "Falsch."\n', "")
    with pytest.raises(CourseError) as caught:
        load_course(course_dir)
    assert caught.value.problems == [
        Problem("kurs/course.toml", "title", "missing"),
        Problem("kurs/eins/quiz.toml", "questions[1].options[2].explanation", "missing"),
    ]
    assert str(caught.value) == (
        "kurs/course.toml: title: missing\nkurs/eins/quiz.toml: questions[1].options[2].explanation: missing"
    )
    assert str(Problem("kurs/course.toml", "", "file not found")) == "kurs/course.toml: file not found"


# --- course.toml -------------------------------------------------------------------------------


def test_unknown_keys(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'title = "Testkurs"', 'title = "Testkurs"\nautor = "X"')
    edit("course.toml", 'url = "https://example.org/eins"', 'url = "https://example.org/eins"\njahr = 2020')
    edit("eins/module.toml", "minutes = 20", "minutes = 20\nminuten = 20")
    edit("eins/module.toml", "max_length = 5000", "max_length = 5000\nmax = 1")
    edit("eins/lessons/01-start.md", 'title = "Der Start"', 'title = "Der Start"\nautor = "X"')
    edit("eins/quiz.toml", 'prompt = "Welche?"', 'prompt = "Welche?"\ntip = "x"')
    edit("eins/quiz.toml", 'text = "A"', 'text = "A"\ncorect = true')
    assert problems(course_dir) == [
        "kurs/course.toml: sources.S1.jahr: unknown key",
        "kurs/course.toml: autor: unknown key",
        "kurs/eins/module.toml: practice.max: unknown key",
        "kurs/eins/module.toml: minuten: unknown key",
        "kurs/eins/lessons/01-start.md: autor: unknown key",
        "kurs/eins/quiz.toml: questions[2].options[1].corect: unknown key",
        "kurs/eins/quiz.toml: questions[2].tip: unknown key",
    ]


def test_missing_keys(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'issuer = "LAG 21 NRW"\n', "")
    edit("course.toml", 'title = "Quelle zwei"\n', "")
    edit("zwei/module.toml", "minutes = 20\n", "")
    edit("zwei/module.toml", 'title = "Praxisaufgabe"\n', "")
    edit("zwei/quiz.toml", 'prompt = "Welche Zahl?"\n', "")
    edit("zwei/quiz.toml", 'text = "Eins"\n', "")
    assert problems(course_dir) == [
        "kurs/course.toml: issuer: missing",
        "kurs/course.toml: sources.S2.title: missing",
        "kurs/zwei/module.toml: minutes: missing",
        "kurs/zwei/module.toml: practice.title: missing",
        "kurs/zwei/quiz.toml: questions[1].prompt: missing",
        "kurs/zwei/quiz.toml: questions[1].options[1].text: missing",
    ]


def test_wrong_types(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", "pass_mark = 80", 'pass_mark = "80"')
    edit("course.toml", "practice_required = true", 'practice_required = "ja"')
    edit("course.toml", 'required_modules = ["eins", "zwei"]', 'required_modules = "eins"')
    edit("eins/module.toml", "minutes = 20", "minutes = true")
    edit("eins/module.toml", 'objectives = ["Sie können etwas erklären."]', 'objectives = "Sie können es."')
    edit("eins/quiz.toml", "correct = true", 'correct = "ja"')
    assert problems(course_dir) == [
        "kurs/course.toml: pass_mark: must be a whole number",
        "kurs/course.toml: practice_required: must be true or false",
        "kurs/course.toml: required_modules: must be a list of strings",
        "kurs/eins/module.toml: minutes: must be a whole number",
        "kurs/eins/module.toml: objectives: must be a list of strings",
        "kurs/eins/quiz.toml: questions[1].options[1].correct: must be true or false",
        "kurs/eins/quiz.toml: questions[1].options: a single question needs exactly one "
        "correct option, not 0",
    ]


def test_table_where_a_value_belongs(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", "[sources.S2]", "[sources]\nS3 = 'https://example.org'\n\n[sources.S2]")
    assert problems(course_dir) == ["kurs/course.toml: sources.S3: must be a table"]


def test_bad_identifiers(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", "[sources.S2]", '[sources."S 2"]')
    edit("course.toml", 'modules = ["eins", "zwei"]', 'modules = ["eins", "zwei", "-drei"]')
    edit("eins/quiz.toml", 'id = "mehrere"', 'id = "mehrere fragen"')
    edit("eins/quiz.toml", 'id = "erst"', 'id = "erst!"')
    edit("eins/lessons/02-weiter.md", '"S1", "S2"', '"S1", "S 2"')
    assert problems(course_dir) == [
        "kurs/course.toml: sources.S 2: is not a valid source id",
        "kurs/course.toml: modules: '-drei' is not a valid module id",
        "kurs/eins/quiz.toml: questions[2].id: 'mehrere fragen' is not a valid identifier "
        "([A-Za-z0-9][A-Za-z0-9_-]{0,63})",
        "kurs/eins/quiz.toml: questions[4].options[1].id: 'erst!' is not a valid identifier "
        "([A-Za-z0-9][A-Za-z0-9_-]{0,63})",
        # module zwei still cites the source by its valid name
        "kurs/zwei/lessons/02-weiter.md: sources: unknown source 'S2' (not in [sources] of course.toml)",
    ]


def test_course_id_must_equal_folder_name(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'id = "kurs"', 'id = "anderer-kurs"')
    assert problems(course_dir) == ["kurs/course.toml: id: 'anderer-kurs' must equal the folder name 'kurs'"]


def test_listed_module_without_folder(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'modules = ["eins", "zwei"]', 'modules = ["eins", "zwei", "drei"]')
    edit("course.toml", 'required_modules = ["eins", "zwei"]', 'required_modules = ["eins", "drei"]')
    # reported once, not again under required_modules
    assert problems(course_dir) == ["kurs/course.toml: modules: 'drei' has no folder drei/"]


def test_module_folder_not_listed(course_dir: Path) -> None:
    shutil.copytree(course_dir / "zwei", course_dir / "drei")
    (course_dir / ".git-ish").mkdir()  # hidden folders are not modules
    assert problems(course_dir) == [
        "kurs/course.toml: modules: folder drei/ is not listed (add it or remove the folder)"
    ]


def test_module_folder_without_module_toml(course_dir: Path) -> None:
    (course_dir / "zwei" / "module.toml").unlink()
    assert problems(course_dir) == ["kurs/zwei/module.toml: file not found"]


def test_required_modules_must_be_in_modules(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'required_modules = ["eins", "zwei"]', 'required_modules = ["eins", "drei"]')
    assert problems(course_dir) == ["kurs/course.toml: required_modules: 'drei' is not in modules"]


def test_no_modules(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'modules = ["eins", "zwei"]', "modules = []")
    edit("course.toml", 'required_modules = ["eins", "zwei"]\n', "")
    shutil.rmtree(course_dir / "eins")
    shutil.rmtree(course_dir / "zwei")
    assert problems(course_dir) == [
        "kurs/course.toml: modules: must list at least one module",
        "kurs/course.toml: description: link 'module:eins': there is no module 'eins'",
    ]


@pytest.mark.parametrize("pass_mark", [0, 101, -5])
def test_pass_mark_out_of_range(course_dir: Path, edit: Edit, pass_mark: int) -> None:
    edit("course.toml", "pass_mark = 80", f"pass_mark = {pass_mark}")
    assert problems(course_dir) == [
        f"kurs/course.toml: pass_mark: must be between 1 and 100 (percent), not {pass_mark}"
    ]


@pytest.mark.parametrize("pass_mark", [1, 100])
def test_pass_mark_limits_are_allowed(course_dir: Path, edit: Edit, pass_mark: int) -> None:
    edit("course.toml", "pass_mark = 80", f"pass_mark = {pass_mark}")
    assert load_course(course_dir).pass_mark == pass_mark


@pytest.mark.parametrize("url", ["ftp://example.org/x", "example.org", "javascript:alert(1)", "https://"])
def test_source_url_must_be_http(course_dir: Path, edit: Edit, url: str) -> None:
    edit("course.toml", 'url = "http://example.org/zwei"', f'url = "{url}"')
    assert problems(course_dir) == [
        f"kurs/course.toml: sources.S2.url: must be an http:// or https:// address, not {url!r}"
    ]


def test_sources_table_missing(course_dir: Path) -> None:
    text = (course_dir / "course.toml").read_text(encoding="utf-8")
    (course_dir / "course.toml").write_text(text.split("[sources.S1]")[0], encoding="utf-8")
    found = problems(course_dir)
    assert found[0] == "kurs/course.toml: sources: missing"
    assert (
        "kurs/eins/lessons/01-start.md: sources: unknown source 'S1' (not in [sources] of course.toml)"
        in found
    )


# --- TOML and text files -----------------------------------------------------------------------


def test_toml_syntax_error_names_file_and_line(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'prompt = "Welche?"', 'prompt = "Welche?\nkind = 1')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: line 22, column 18: TOML syntax error: Illegal character '\\n'"
    ]


def test_toml_syntax_error_in_course_toml(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'language = "de"', "language = de")
    assert problems(course_dir) == [
        "kurs/course.toml: line 3, column 12: TOML syntax error: Invalid value",
    ]


def test_toml_syntax_error_in_front_matter_counts_file_lines(course_dir: Path, edit: Edit) -> None:
    edit("eins/lessons/02-weiter.md", 'sources = ["S1", "S2"]', 'sources = ["S1" "S2"]')
    edit("zwei/lessons/02-weiter.md", 'sources = ["S1", "S2"]', 'sources = ["S1", "S2"')
    assert problems(course_dir) == [
        # +++ is line 1, the title line 2
        "kurs/eins/lessons/02-weiter.md: line 3, column 17: TOML syntax error: Unclosed array",
        "kurs/zwei/lessons/02-weiter.md: end of front matter: TOML syntax error: Unclosed array",
    ]


def test_duplicate_toml_key_is_a_syntax_error(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", "[sources.S2]", "[sources.S1]")
    (found,) = check_course(course_dir)
    assert (found.file, found.field) == ("kurs/course.toml", "line 16, column 12")


def test_file_not_utf8(course_dir: Path) -> None:
    (course_dir / "eins" / "lessons" / "02-weiter.md").write_bytes(b'+++\ntitle = "Stra\xdfe"\n+++\n')
    (found,) = check_course(course_dir)
    assert found.file == "kurs/eins/lessons/02-weiter.md"
    assert found.message.startswith("not UTF-8 text")


def test_missing_course_toml_and_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "leer").mkdir()
    assert [str(p) for p in check_course(tmp_path / "leer")] == ["leer/course.toml: file not found"]
    assert [str(p) for p in check_course(tmp_path / "gibtsnicht")] == ["gibtsnicht: course folder not found"]


# --- module.toml -------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [0, -10])
def test_minutes_must_be_positive(course_dir: Path, edit: Edit, minutes: int) -> None:
    edit("eins/module.toml", "minutes = 20", f"minutes = {minutes}")
    assert problems(course_dir) == ["kurs/eins/module.toml: minutes: must be greater than 0"]


def test_objectives_must_not_be_empty(course_dir: Path, edit: Edit) -> None:
    edit("eins/module.toml", 'objectives = ["Sie können etwas erklären."]', "objectives = []")
    edit("zwei/module.toml", 'objectives = ["Sie können etwas erklären."]', 'objectives = ["Gut.", " "]')
    assert problems(course_dir) == [
        "kurs/eins/module.toml: objectives: must list at least one learning objective",
        "kurs/zwei/module.toml: objectives[2]: must not be empty",
    ]


def test_practice_table_missing(course_dir: Path) -> None:
    path = course_dir / "eins" / "module.toml"
    path.write_text(path.read_text(encoding="utf-8").split("[practice]")[0], encoding="utf-8")
    assert problems(course_dir) == ["kurs/eins/module.toml: practice: missing"]


def test_practice_min_length_greater_than_max_length(course_dir: Path, edit: Edit) -> None:
    edit("eins/module.toml", "min_length = 200", "min_length = 6000")
    assert problems(course_dir) == [
        "kurs/eins/module.toml: practice.min_length: 6000 is greater than max_length 5000"
    ]


def test_practice_lengths_must_be_sensible(course_dir: Path, edit: Edit) -> None:
    edit("eins/module.toml", "min_length = 200", "min_length = -1")
    edit("eins/module.toml", "max_length = 5000", "max_length = 0")
    assert problems(course_dir) == [
        "kurs/eins/module.toml: practice.min_length: must not be negative",
        "kurs/eins/module.toml: practice.max_length: must be at least 1",
    ]


def test_duplicate_module_ids(course_dir: Path, edit: Edit) -> None:
    edit("course.toml", 'modules = ["eins", "zwei"]', 'modules = ["eins", "zwei", "eins"]')
    assert problems(course_dir) == ["kurs/course.toml: modules: 'eins' is listed twice"]


def test_duplicate_lessons_in_lesson_list(course_dir: Path, edit: Edit) -> None:
    edit("eins/module.toml", "summary", 'lessons = ["01-start.md", "02-weiter.md", "01-start.md"]\nsummary')
    assert problems(course_dir) == ["kurs/eins/module.toml: lessons: '01-start.md' is listed twice"]


def test_lesson_list_names_missing_file_and_misses_a_file(course_dir: Path, edit: Edit) -> None:
    edit("eins/module.toml", "summary", 'lessons = ["01-start.md", "03-fehlt.md"]\nsummary')
    assert problems(course_dir) == [
        "kurs/eins/module.toml: lessons: '03-fehlt.md' is not a file in lessons/",
        "kurs/eins/module.toml: lessons: lessons/02-weiter.md is not listed",
    ]


# --- Lessons -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["start.md", "1-start.md", "01_start.md", "01-.md", "01-start.markdown"])
def test_lesson_file_name_must_be_nn_slug(course_dir: Path, name: str) -> None:
    lessons = course_dir / "eins" / "lessons"
    (lessons / "02-weiter.md").rename(lessons / name)
    found = problems(course_dir)
    if name.endswith(".md"):
        assert found == [
            f"kurs/eins/lessons/{name}: file name must look like NN-slug.md (e.g. 01-beschluss.md)"
        ]
    else:
        assert found == [f"kurs/eins/lessons/{name}: not a lesson (lesson files end in .md)"]


def test_missing_front_matter(course_dir: Path) -> None:
    (course_dir / "eins" / "lessons" / "02-weiter.md").write_text("## Nur Text\n", encoding="utf-8")
    assert problems(course_dir) == [
        "kurs/eins/lessons/02-weiter.md: missing front matter (a block between +++ lines "
        "at the top of the file)"
    ]


def test_unclosed_front_matter(course_dir: Path) -> None:
    (course_dir / "eins" / "lessons" / "02-weiter.md").write_text(
        '+++\ntitle = "x"\n\nText\n', encoding="utf-8"
    )
    assert len(problems(course_dir)) == 1
    assert "missing front matter" in problems(course_dir)[0]


def test_missing_title_and_sources(course_dir: Path, edit: Edit) -> None:
    edit("eins/lessons/01-start.md", 'title = "Der Start"\n', "")
    edit("eins/lessons/02-weiter.md", 'sources = ["S1", "S2"]\n', "")
    edit("zwei/lessons/02-weiter.md", 'sources = ["S1", "S2"]', "sources = []")
    assert problems(course_dir) == [
        "kurs/eins/lessons/01-start.md: title: missing",
        "kurs/eins/lessons/02-weiter.md: sources: missing",
        "kurs/zwei/lessons/02-weiter.md: sources: must list at least one source",
    ]


def test_unknown_source_ids(course_dir: Path, edit: Edit) -> None:
    edit("eins/lessons/01-start.md", 'sources = ["S1"]', 'sources = ["S1", "S9"]')
    edit("eins/quiz.toml", 'sources = ["S1"]', 'sources = ["S8"]')
    assert problems(course_dir) == [
        "kurs/eins/lessons/01-start.md: sources: unknown source 'S9' (not in [sources] of course.toml)",
        "kurs/eins/quiz.toml: questions[1].sources: unknown source 'S8' (not in [sources] of course.toml)",
    ]


@pytest.mark.parametrize("heading", ["# Titel\n", "Titel\n=====\n"])
def test_level_1_heading_in_lesson(course_dir: Path, edit: Edit, heading: str) -> None:
    edit("eins/lessons/01-start.md", "## Worum es geht\n", heading)
    assert problems(course_dir) == [
        "kurs/eins/lessons/01-start.md: text: level-1 heading 'Titel': the page title is "
        "the title, start at ##"
    ]


def test_broken_internal_links(course_dir: Path, edit: Edit) -> None:
    edit("eins/lessons/01-start.md", "module:zwei/01-start", "module:zwei/09-fehlt")
    edit("eins/lessons/02-weiter.md", "module:eins/01-start", "module:drei")
    edit("course.toml", "module:eins", "module:eins/01-starten")
    edit("eins/quiz.toml", "module:eins/01-start", "module:vier/01-start")
    edit("zwei/module.toml", "module:eins/01-start", "module:eins/")
    assert problems(course_dir) == [
        "kurs/course.toml: description: link 'module:eins/01-starten': module 'eins' has "
        "no lesson '01-starten'",
        "kurs/eins/lessons/01-start.md: text: link 'module:zwei/09-fehlt': module 'zwei' "
        "has no lesson '09-fehlt'",
        "kurs/eins/lessons/02-weiter.md: text: link 'module:drei': there is no module 'drei'",
        "kurs/eins/quiz.toml: questions[1].options[1].explanation: link 'module:vier/01-start': "
        "there is no module 'vier'",
        "kurs/zwei/module.toml: practice.prompt: link 'module:eins/': "
        "write module:<module-id> or module:<module-id>/<lesson-id>",
    ]


@pytest.mark.parametrize(
    "target", ["javascript:alert(1)", "../eins/", "seite.html", "#oben", "//evil.example"]
)
def test_link_targets_must_be_web_mail_or_internal(course_dir: Path, edit: Edit, target: str) -> None:
    edit("eins/lessons/01-start.md", "https://example.org/eins", target)
    assert problems(course_dir) == [
        f"kurs/eins/lessons/01-start.md: text: link {target!r}: links go to http(s)://, "
        "mailto:, module:, glossary: or page: targets"
    ]


def test_mailto_and_autolinks_are_fine(course_dir: Path, edit: Edit) -> None:
    edit(
        "eins/lessons/01-start.md",
        "Text mit",
        "Schreiben Sie an <mailto:info@example.org> oder <https://x.org>. Text mit",
    )
    assert problems(course_dir) == []


# --- Quizzes -----------------------------------------------------------------------------------


def test_missing_explanation(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", '  explanation = "Am Ende."\n', "")
    assert problems(course_dir) == ["kurs/eins/quiz.toml: questions[4].options[3].explanation: missing"]


def test_empty_explanation(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'explanation = "Am Ende."', 'explanation = "  "')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[4].options[3].explanation: must not be empty"
    ]


def test_duplicate_question_ids(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'id = "mehrere"', 'id = "eins"')
    assert problems(course_dir) == ["kurs/eins/quiz.toml: questions: question id 'eins' is used twice"]


def test_duplicate_option_ids(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'id = "dann"', 'id = "erst"')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[4].options: option id 'erst' is used twice"
    ]


def test_unknown_question_kind(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'kind = "multiple"', 'kind = "essay"')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[2].kind: 'essay' is not one of single, multiple, truefalse, ordering"
    ]


def test_single_without_correct_option(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", "correct = true", "correct = false")
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[1].options: a single question needs exactly one correct option, not 0"
    ]


def test_single_with_two_correct_options(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'text = "Zwei"\n  correct = false', 'text = "Zwei"\n  correct = true')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[1].options: a single question needs exactly one correct option, not 2"
    ]


def test_multiple_without_correct_option(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'text = "A"\n  correct = true', 'text = "A"\n  correct = false')
    edit("eins/quiz.toml", 'text = "B"\n  correct = true', 'text = "B"')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[2].options: a multiple question needs at least one correct option"
    ]


def test_truefalse_option_ids(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'id = "true"', 'id = "ja"')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[3].options: a truefalse question has exactly two "
        'options, ids "true" and '
        '"false"'
    ]


def test_truefalse_needs_exactly_one_correct(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'text = "Richtig"\n  correct = false', 'text = "Richtig"\n  correct = true')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[3].options: a truefalse question needs exactly "
        "one correct option, not 2"
    ]


def test_ordering_options_have_no_correct_key(course_dir: Path, edit: Edit) -> None:
    edit("eins/quiz.toml", 'text = "Dann"', 'text = "Dann"\n  correct = true')
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions[4].options[2].correct: "
        "not used in ordering questions (write the options in the right order)"
    ]


def _option(option_id: str) -> str:
    return f'\n  [[questions.options]]\n  id = "{option_id}"\n  text = "x"\n  explanation = "y"\n'


def test_option_counts(course_dir: Path, edit: Edit) -> None:
    quiz = course_dir / "zwei" / "quiz.toml"
    many = "".join(_option(f"o{n}") for n in range(8))
    quiz.write_text(
        '[[questions]]\nid = "eine"\nkind = "single"\nprompt = "?"\n'
        '  [[questions.options]]\n  id = "a"\n  text = "x"\n  correct = true\n  explanation = "y"\n'
        '[[questions]]\nid = "zu-viele"\nkind = "multiple"\nprompt = "?"\n'
        '  [[questions.options]]\n  id = "a"\n  text = "x"\n  correct = true\n  explanation = "y"\n'
        f"{many}"
        '[[questions]]\nid = "kurze-reihe"\nkind = "ordering"\nprompt = "?"\n'
        f"{_option('a')}{_option('b')}",
        encoding="utf-8",
    )
    assert problems(course_dir) == [
        "kurs/zwei/quiz.toml: questions[1].options: a single question needs 2 to 8 options, not 1",
        "kurs/zwei/quiz.toml: questions[2].options: a multiple question needs 2 to 8 options, not 9",
        "kurs/zwei/quiz.toml: questions[3].options: an ordering question needs 3 to 8 options, not 2",
    ]


def test_empty_quiz(course_dir: Path) -> None:
    (course_dir / "eins" / "quiz.toml").write_text("questions = []\n", encoding="utf-8")
    (course_dir / "zwei" / "quiz.toml").write_text("", encoding="utf-8")
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions: a quiz needs at least one question",
        "kurs/zwei/quiz.toml: questions: missing",
    ]


def test_quiz_file_missing(course_dir: Path) -> None:
    (course_dir / "eins" / "quiz.toml").unlink()
    assert problems(course_dir) == ["kurs/eins/quiz.toml: file not found"]


def test_questions_must_be_tables(course_dir: Path) -> None:
    (course_dir / "eins" / "quiz.toml").write_text('questions = ["a"]\n', encoding="utf-8")
    assert problems(course_dir) == [
        "kurs/eins/quiz.toml: questions: must be a list of tables ([[questions]])"
    ]


# --- Catalog -----------------------------------------------------------------------------------


def test_catalog_loads_every_course_folder(content_dir: Path) -> None:
    files = {name.replace("kurs/", "zweiter/", 1): text for name, text in course_files().items()}
    files["zweiter/course.toml"] = files["zweiter/course.toml"].replace('id = "kurs"', 'id = "zweiter"')
    write_files(content_dir, files)
    (content_dir / "notizen").mkdir()  # no course.toml: not a course
    (content_dir / "FORMAT.md").write_text("# Format\n", encoding="utf-8")

    catalog = load_catalog(content_dir)

    assert sorted(catalog.courses) == ["kurs", "zweiter"]
    kurs = catalog.get("kurs")
    assert kurs is not None
    assert kurs.title == "Testkurs"
    assert catalog.get("notizen") is None


def test_catalog_lists_the_problems_of_all_broken_courses(content_dir: Path) -> None:
    files = {name.replace("kurs/", "zweiter/", 1): text for name, text in course_files().items()}
    write_files(content_dir, files)  # id "kurs" in folder "zweiter"
    (content_dir / "kurs" / "eins" / "quiz.toml").unlink()

    with pytest.raises(CourseError) as caught:
        load_catalog(content_dir)

    assert [str(p) for p in caught.value.problems] == [
        "kurs/eins/quiz.toml: file not found",
        "zweiter/course.toml: id: 'kurs' must equal the folder name 'zweiter'",
    ]


def test_catalog_of_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="content folder not found"):
        load_catalog(tmp_path / "fehlt")


def test_empty_catalog(tmp_path: Path) -> None:
    assert dict(load_catalog(tmp_path).courses) == {}
