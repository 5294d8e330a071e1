"""The README's pictures, made from the demo LMS as a learner sees the tool (so they stay current).

Starts the quickstart (tool + demo LMS) on free ports with a fresh instance folder, launches the demo learner in
Debian's Chromium, works through the Grundlagenkurs the way a person would (every lesson, each quiz with the
answers the course file marks right, one attempt that fails first, the practice tasks) and photographs:

  overview.png        the course overview with progress (after two modules)
  result-failed.png   a quiz result that did not pass (hints, no answers)
  result-passed.png   the same quiz passed (answers and explanations folded)
  certificate.png     the certificate page, and certificate-pdf.png, the PDF's page (pypdfium2)
  overview-phone.png  the overview at 360 px

Usage: scripts/screenshots [--out docs/screenshots]. PNGs are reduced to a small palette (Pillow).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Error as PlaywrightError  # noqa: E402

from lti_tool.course.loader import load_course  # noqa: E402
from lti_tool.course.model import Course, Module  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PRACTICE_TEXT = (
    "In unserer Kommune gibt es seit 2021 einen Ratsbeschluss zur Nachhaltigkeitsstrategie. Die Stabsstelle "
    "Nachhaltigkeit koordiniert die Fachbereiche; der Bericht erscheint alle zwei Jahre und wird im Rat beraten."
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"nothing answers on port {port} after {seconds} s")


def answer_key(module: Module) -> dict[str, dict[str, Any]]:
    """Per question prompt: its kind and the texts of the right options (in the right order for ordering)."""
    key: dict[str, dict[str, Any]] = {}
    for question in module.quiz.questions:
        if question.kind == "ordering":
            right = [option.text for option in question.options]
        else:
            right = [option.text for option in question.options if option.correct]
        key[" ".join(question.prompt.split())] = {"kind": question.kind, "right": right}
    return key


ANSWER_JS = """
([key, wrongFrom]) => {
  const norm = s => s.replace(/\\u00ad/g, '').replace(/\\s+/g, ' ').trim();
  document.querySelectorAll('fieldset.question').forEach((fs, index) => {
    const q = key[norm(fs.querySelector('.question__prompt').textContent)];
    if (!q) throw new Error('unknown question: ' + fs.querySelector('.question__prompt').textContent);
    const wrong = index >= wrongFrom;
    if (q.kind === 'ordering') {
      const order = q.right.slice();
      if (wrong) [order[0], order[1]] = [order[1], order[0]];
      fs.querySelectorAll('select').forEach(select => {
        const text = norm(fs.querySelector(`label[for="${select.id}"]`).textContent.replace(/^\\S+ \\S+ /, ''));
        const found = order.findIndex(t => text.endsWith(norm(t)));
        select.value = String(found + 1);
        select.dispatchEvent(new Event('change', {bubbles: true}));
      });
      return;
    }
    let picked = false;
    fs.querySelectorAll('input').forEach(input => {
      const text = norm(fs.querySelector(`label[for="${input.id}"]`).textContent);
      const right = q.right.map(norm).includes(text);
      input.checked = wrong ? (!right && !picked) : right;
      if (input.checked && wrong) picked = true;
    });
  });
}
"""


class Tour:
    """The demo learner's frame inside the demo LMS page."""

    def __init__(self, page: Any, course: Course) -> None:
        self.page = page
        self.course = course
        self.frame: Any = None
        self.base = ""

    def launch(self, lms_url: str, button: str = "a.button:not(.secondary)") -> None:
        """Launch from the demo LMS's course page: by default as the first learner, else the button chosen."""
        self.page.goto(lms_url)
        self.page.locator(button).first.click()
        self.page.wait_for_selector("iframe.tool")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for frame in self.page.frames[1:]:
                try:  # a cross-site frame's url attribute can lag behind a form post; ask the frame itself
                    href = str(frame.evaluate("location.href"))
                except PlaywrightError:  # the frame is navigating at this moment
                    href = ""
                match = re.match(r"(https?://[^/]+/s/[^/]+/)", href)
                if match:
                    self.frame, self.base = frame, match.group(1)
                    self.frame.wait_for_load_state()
                    return
            time.sleep(0.2)
        raise SystemExit("the tool did not open in the demo LMS")

    def go(self, path: str) -> None:
        self.frame.goto(self.base + path)
        self.frame.wait_for_load_state()

    def read_lessons(self, module: Module) -> None:
        for lesson in module.lessons:
            self.go(f"m/{module.id}/{lesson.id}")

    def take_quiz(self, module: Module, wrong_from: int = 1000) -> None:
        self.go(f"m/{module.id}/quiz")
        self.frame.evaluate(ANSWER_JS, [answer_key(module), wrong_from])
        with self.frame.expect_navigation():
            self.frame.locator("form.quiz button[type=submit]").click()
        if "/ergebnis" not in self.frame.url:
            raise SystemExit(f"quiz of {module.id} was not accepted: {self.frame.url}")

    def practice(self, module: Module) -> None:
        self.go(f"m/{module.id}/praxis")
        text = PRACTICE_TEXT
        minimum = module.practice.min_length
        while len(text) < minimum:
            text += " " + PRACTICE_TEXT
        self.frame.fill("#practice-text", text[: module.practice.max_length])
        with self.frame.expect_navigation():
            self.frame.locator("main form button.button[type=submit]").click()

    def complete(self, module: Module) -> None:
        self.read_lessons(module)
        self.take_quiz(module)
        self.practice(module)

    def shot(self, path: Path, *, full: bool = False) -> None:
        """The LMS page with the tool's frame sized to its content (as the top of the page a person sees)."""
        height = self.frame.evaluate("document.documentElement.scrollHeight")
        self.page.evaluate(
            "h => { document.querySelector('iframe.tool').style.height = h + 'px'; }", height + 8
        )
        self.page.wait_for_timeout(400)  # the frame repaints at its new size
        self.page.evaluate("window.scrollTo(0, 0)")  # a focused element in the frame may have scrolled the LMS page
        self.page.screenshot(path=str(path), full_page=full)


def optimise(path: Path, colours: int = 64) -> None:
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(
            colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    course = load_course(ROOT / "content" / "grundlagenkurs")
    tool_port, lms_port = free_port(), free_port()
    instance = Path(tempfile.mkdtemp(prefix="nama-screenshots-"))
    env = {**os.environ, "LTI_TOOL_INSTANCE_PATH": str(instance), "LTI_TOOL_ENV": "development"}
    server = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "lti_tool.quickstart",
            "--tool-port",
            str(tool_port),
            "--lms-port",
            str(lms_port),
            "--instance",
            str(instance),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lms_url = f"http://localhost:{lms_port}/"
    try:
        wait_for(tool_port)
        wait_for(lms_port)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="de-DE")
            tour = Tour(page, course)
            tour.launch(lms_url)
            first, second = course.modules[0], course.modules[1]
            tour.read_lessons(first)
            tour.take_quiz(first, wrong_from=4)
            tour.shot(out / "result-failed.png")
            tour.take_quiz(first)
            tour.shot(out / "result-passed.png")
            tour.practice(first)
            tour.complete(second)
            tour.read_lessons(course.modules[2])
            tour.go("uebersicht")
            tour.shot(out / "overview.png")
            page.set_viewport_size({"width": 360, "height": 800})
            tour.go("uebersicht")
            tour.shot(out / "overview-phone.png")
            page.set_viewport_size({"width": 1280, "height": 900})
            for module in course.modules[2:]:
                tour.complete(module)
            tour.go("bescheinigung/")
            tour.shot(out / "certificate.png")
            pdf = page.request.get(tour.base + "bescheinigung/teilnahmebescheinigung.pdf")
            if not pdf.ok:
                raise SystemExit(f"certificate PDF: HTTP {pdf.status}")
            import pypdfium2

            document = pypdfium2.PdfDocument(pdf.body())
            document[0].render(scale=0.9).to_pil().save(out / "certificate-pdf.png")
            document.close()
            teacher = Tour(page, course)
            teacher.launch(lms_url, "a.button.secondary")  # the demo course's teacher
            teacher.shot(out / "gradebook.png")
            page.set_viewport_size({"width": 360, "height": 800})
            teacher.frame.goto(str(teacher.frame.evaluate("location.href")))  # laid out afresh at 360 px
            teacher.frame.wait_for_load_state()
            teacher.shot(out / "gradebook-phone.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(instance, ignore_errors=True)
    for png in sorted(out.glob("*.png")):
        optimise(png)
        print(f"{png}: {png.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
