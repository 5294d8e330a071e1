"""The tool's own logo (the `logo_uri` that dynamic registration gives the LMS, which Moodle shows on every
activity of the tool) and its favicon: both exist, are ours (drawn shapes, nothing fetched from elsewhere), and
every page links the icon."""

from __future__ import annotations

import io
import re
from urllib.parse import urljoin
from xml.etree import ElementTree

import requests
from flask import Flask
from PIL import Image

from .course.learner import Learner
from .gradebook.conftest import launch_teacher
from .peer import Launcher, ServerThread

SVG = "{http://www.w3.org/2000/svg}"
ICON_LINKS = re.compile(r'<link rel="icon" href="([^"]+)"')


def test_the_advertised_logo_exists_and_is_a_self_contained_svg(tool_server: ServerThread) -> None:
    # test_with_demo_lms follows the logo_uri of a real dynamic registration to this file.
    logo = requests.get(tool_server.url + "/static/logo.svg", timeout=5)
    assert logo.status_code == 200 and logo.headers["Content-Type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(logo.content)
    assert root.tag == SVG + "svg" and root.get("viewBox") == "0 0 64 64"  # square: Moodle shows it at 24 px
    title = root.find(SVG + "title")
    assert title is not None and title.text == "NaMa NRW"
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= {"svg", "title", "rect", "path"}  # drawn shapes only: no image, script, font or text
    assert not re.search(rb"href|url\(|@import", logo.content)  # nothing loaded from elsewhere


def test_favicon_is_an_icon_in_three_sizes_also_where_browsers_look_for_it(tool_server: ServerThread) -> None:
    for path in ("/favicon.ico", "/static/favicon.ico"):
        icon = requests.get(tool_server.url + path, timeout=5)
        assert icon.status_code == 200, path
        assert icon.headers["Content-Type"] in ("image/vnd.microsoft.icon", "image/x-icon"), icon.headers
        image = Image.open(io.BytesIO(icon.content))
        assert image.format == "ICO" and image.info["sizes"] == {(16, 16), (32, 32), (48, 48)}


def assert_links_the_icons(page: requests.Response) -> None:
    links = ICON_LINKS.findall(page.text)
    assert links == ["/static/favicon.ico", "/static/logo.svg"], (page.url, links)
    for link in links:
        assert requests.get(urljoin(page.url, link), timeout=5).status_code == 200


def test_every_kind_of_page_links_the_icon(app: Flask, tool_server: ServerThread, launcher: Launcher) -> None:
    public = [
        requests.get(tool_server.url + path, timeout=5)
        for path in ("/", "/lti/config", "/verify/", "/admin/login", "/lti/login")
    ]
    assert [p.status_code for p in public] == [200, 200, 200, 200, 400]  # the last: a refusal page
    learner = Learner.launch(launcher, sub="icon-learner")
    teacher = launch_teacher(launcher)
    overview = learner.get("uebersicht")
    assert overview.status_code == 200 and "Willkommen, Lea Schneider." in overview.text
    ended = learner.post("sitzung/beenden", {})
    assert ended.status_code == 200 and "Sitzung" in ended.text
    assert teacher.page.status_code == 200 and teacher.page.url.endswith("/lehrende/")
    for page in [*public, overview, teacher.page, ended]:
        assert_links_the_icons(page)
