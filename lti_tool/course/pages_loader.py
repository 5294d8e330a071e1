"""The course-wide texts beside the modules: `glossary.toml` and `pages/<page-id>.md` (both optional)."""

from __future__ import annotations

from pathlib import Path

from .fields import IDENTIFIER, Table, duplicates
from .model import GlossaryTerm, Page
from .reading import Reading

PAGES_FOLDER = "pages"
GLOSSARY_FILE = "glossary.toml"

# DIN 5007-1 ("Wörterbuch"): umlauts sort as their base letters, ß as ss.
_SORT_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "ß": "ss"})


def term_sort_key(term: str) -> tuple[str, str]:
    return term.casefold().translate(_SORT_FOLD), term


def read_glossary(reading: Reading) -> tuple[GlossaryTerm, ...]:
    """The glossary's terms sorted as a German dictionary sorts them; () when the course has none."""
    path = reading.dir / GLOSSARY_FILE
    if not path.exists():
        return ()
    data = reading.report.load_toml(path)
    if data is None:
        return ()
    glossary = Table(reading.report, path, data)
    tables = glossary.tables("terms")
    if glossary.data.get("terms") == []:
        glossary.problem("terms", "a glossary needs at least one term (or leave glossary.toml out)")
    terms = [_read_term(reading, table) for table in tables]
    glossary.end()
    for duplicate in duplicates(term.id for term in terms):
        glossary.problem("terms", f"term id {duplicate!r} is used twice")
    for duplicate in duplicates(term.term for term in terms):
        glossary.problem("terms", f"term {duplicate!r} is explained twice")
    reading.targets.terms = {term.id for term in terms if term.id}
    return tuple(sorted(terms, key=lambda term: term_sort_key(term.term)))


def _read_term(reading: Reading, table: Table) -> GlossaryTerm:
    term_id = table.identifier("id")
    term = table.string("term")
    expansion = table.string("expansion", required=False)
    definition = table.string("definition")
    sources = reading.cited(table, "sources", required=False)
    table.end()
    html = reading.markdown(table.path, table.at("definition"), definition, "course")
    return GlossaryTerm(term_id, term, expansion, html, sources)


def read_pages(reading: Reading) -> tuple[Page, ...]:
    """The course pages in the overview's order: by `order`, then pages without one, each group by id."""
    folder = reading.dir / PAGES_FOLDER
    if not folder.is_dir():
        return ()
    pages: list[Page] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        page_id = path.name.removesuffix(".md")
        if not path.name.endswith(".md") or not path.is_file():
            reading.report.add(path, "", "not a course page (course pages are <page-id>.md files)")
        elif not IDENTIFIER.fullmatch(page_id):
            reading.report.add(path, "", f"{page_id!r} is not a valid page id ({IDENTIFIER.pattern})")
        elif (page := _read_page(reading, path, page_id)) is not None:
            pages.append(page)
    reading.targets.pages = {page.id for page in pages}
    return tuple(sorted(pages, key=lambda page: (page.order is None, page.order or 0, page.id)))


def _read_page(reading: Reading, path: Path, page_id: str) -> Page | None:
    read = reading.page_file(path)
    if read is None:
        return None
    front, body = read
    title = front.string("title")
    sources = reading.cited(front, "sources", required=True)
    order = front.integer("order", required=False) if front.has("order") else None
    front.end()
    html = reading.markdown(path, "text", body, "page")
    return Page(page_id, title, sources, html, order)
