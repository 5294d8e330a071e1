"""A browser without JavaScript for tests: find the forms on a page and post them as a user would.

Auto-submitting forms (OIDC form_post, deep-linking return) only do this sooner; iframe sources are listed too.
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


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.iframes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "iframe":
            self.iframes.append(a.get("src", ""))
        elif tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower(), [], {}))
        elif tag == "input" and self.forms and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                self.forms[-1].choices.setdefault(a["name"], []).append(a.get("value", "on"))
            elif kind != "submit":
                self.forms[-1].fields.append((a["name"], a.get("value", "")))


def forms(resp: requests.Response) -> list[Form]:
    parser = _FormParser()
    parser.feed(resp.text)
    return parser.forms


def find_form(resp: requests.Response, having: str) -> Form:
    """The one form on the page with a field or choice of that name."""
    found = [f for f in forms(resp) if having in f.choices or any(name == having for name, _ in f.fields)]
    assert len(found) == 1, (having, found, resp.text[:800])
    return found[0]


def submit(
    browser: requests.Session, resp: requests.Response, having: str, **chosen: list[str]
) -> requests.Response:
    """Post a form as a browser without JavaScript does (an auto-submit script only does this sooner)."""
    form = find_form(resp, having)
    assert form.method == "post", form
    # Browsers send the origin of the page that holds the form with every POST (the tool's launch checks it).
    page = urlsplit(resp.url)
    origin = f"{page.scheme}://{page.netloc}"
    return browser.post(urljoin(resp.url, form.action), data=form.data(**chosen), headers={"Origin": origin})


def iframes(resp: requests.Response) -> list[str]:
    parser = _FormParser()
    parser.feed(resp.text)
    return [urljoin(resp.url, src) for src in parser.iframes]
