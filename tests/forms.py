"""HTML pages as a browser without JavaScript reads them: the one HTML parser of the tests.

`parse(html)` reads a page's start tags, and from them its forms, inputs and iframes; `csrf_token` and `field`
take a value from a page; `submit` posts a form as a user would (auto-submitting forms, such as the OIDC form_post
or the deep-linking return, only do this sooner).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]]
    choices: dict[str, list[str]]  # checkbox / radio values by name

    def data(self, **chosen: list[str]) -> list[tuple[str, str]]:
        data = list(self.fields)
        for name, values in chosen.items():
            unknown = set(values) - set(self.choices.get(name, []))
            assert not unknown, f"no {name} choices {unknown} in form"
            data += [(name, v) for v in values]
        return data

    def value(self, name: str) -> str | None:
        return dict(self.fields).get(name)


@dataclass
class Page:
    """A page as its start tags, in order: what a browser without JavaScript or a structure check reads of it."""

    tags: list[tuple[str, dict[str, str]]]

    @property
    def forms(self) -> list[Form]:
        found: list[Form] = []
        for tag, a in self.tags:
            if tag == "form":
                found.append(Form(a.get("action", ""), a.get("method", "get").lower(), [], {}))
            elif tag == "input" and a.get("name") and found:
                kind = a.get("type", "text").lower()
                if kind in ("checkbox", "radio"):
                    found[-1].choices.setdefault(a["name"], []).append(a.get("value", "on"))
                elif kind != "submit":
                    found[-1].fields.append((a["name"], a.get("value", "")))
        return found

    @property
    def inputs(self) -> list[tuple[str, str]]:
        """Every named input, in a form or not."""
        return [(a["name"], a.get("value", "")) for tag, a in self.tags if tag == "input" and a.get("name")]

    @property
    def iframes(self) -> list[str]:
        """The iframe sources as written."""
        return [a.get("src", "") for tag, a in self.tags if tag == "iframe"]


class _TagParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def parse(html: str) -> Page:
    parser = _TagParser()
    parser.feed(html)
    return Page(parser.tags)


def forms(html: str) -> list[Form]:
    return parse(html).forms


def field(html: str, name: str) -> str:
    """The value of the page's first input named `name`."""
    values = [value for key, value in parse(html).inputs if key == name]
    assert values, f"no input {name!r} on the page: {html[:2000]}"
    return values[0]


def csrf_token(html: str) -> str:
    """The CSRF token the page's forms carry."""
    return field(html, "csrf_token")


def form_token(html: str, action: str) -> str | None:
    """The CSRF token in the page's form that posts to `action` (what a browser would send)."""
    for form in forms(html):
        if form.method == "post" and form.action == action:
            return form.value("csrf_token")
    return None


def find_form(resp: requests.Response, having: str) -> Form:
    """The one form on the page with a field or choice of that name."""
    found = [
        f for f in forms(resp.text) if having in f.choices or any(name == having for name, _ in f.fields)
    ]
    assert len(found) == 1, (having, found, resp.text[:800])
    return found[0]


def submit(
    browser: requests.Session, resp: requests.Response, having: str, **chosen: list[str]
) -> requests.Response:
    """Post a form as a browser without JavaScript does (an auto-submit script only does this sooner)."""
    form = find_form(resp, having)
    assert form.method == "post", form
    # Browsers send the origin of the page that holds the form with every POST (the tool's launch checks it).
    origin = urlsplit(resp.url)
    return browser.post(
        urljoin(resp.url, form.action),
        data=form.data(**chosen),
        headers={"Origin": f"{origin.scheme}://{origin.netloc}"},
    )


def iframes(resp: requests.Response) -> list[str]:
    """The page's iframe sources as absolute URLs."""
    return [urljoin(resp.url, src) for src in parse(resp.text).iframes]
