"""How long the review document of a course takes to make: HTML, PDF (fpdf2) and the PDF from the instance
folder's copy (what every request after the first gets), with the peak memory of making it.

    .venv/bin/python bench/review.py [--course grundlagenkurs] [--repeat 3]

Prints figures; asserts nothing. Runs in this process against the repository's content folder and a
throw-away instance folder (no database is touched).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lti_tool import create_app
from lti_tool.course.catalog import get_catalog
from lti_tool.review.cli import render_html
from lti_tool.review.document import ReviewDocument
from lti_tool.review.pdf import render_pdf
from lti_tool.review.views import cached_pdf


def timed(label: str, repeat: int, make: Callable[[], bytes | str]) -> None:
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = len(make())
        times.append(time.perf_counter() - start)
    print(
        f"{label:<28} median {statistics.median(times) * 1000:9.1f} ms  (min {min(times) * 1000:.1f}, "
        f"{repeat} runs), {size:,} bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", default="grundlagenkurs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "INSTANCE_PATH": instance,
                "DATABASE_URL": f"sqlite:///{Path(instance) / 'unused.db'}",
                "EMBEDDED_WORKER": False,
            }
        )
        course = get_catalog(app).get(args.course)
        assert course is not None, f"no course {args.course!r}"
        questions = sum(len(module.quiz.questions) for module in course.modules)
        print(
            f"{course.title}: {len(course.modules)} modules, {questions} questions, {len(course.glossary)} terms"
        )
        with app.test_request_context("/?lang=de"):
            timed("HTML (standalone)", args.repeat, lambda: render_html(course))
            timed("PDF, made", args.repeat, lambda: render_pdf(ReviewDocument(course)))
            cached_pdf(course)
            timed("PDF, from instance folder", args.repeat, lambda: cached_pdf(course))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
