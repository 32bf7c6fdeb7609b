"""Connecting a host account through the X emulator's OAuth 2.0 consent page: the app's
settings for the emulator's client, the ``brand`` fixture (@Airbus), and what a browser
would do on the consent page. Shared by the X account store and API tests."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx
import pytest

from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.settings import Settings


def emulator_settings(server: EmulatorServer, control: EmulatorControl, **over: str) -> Settings:
    app = control.app()
    return Settings(
        x_api_base_url=server.base_url,
        x_bearer_token=app["bearer_token"],
        x_client_id=app["client_id"],
        x_client_secret=app["client_secret"],
        **over,  # type: ignore[arg-type]
    )


@pytest.fixture
def brand(control: EmulatorControl) -> AccountTokens:
    control.create_account("someone_else", "Someone Else")
    return control.create_account("Airbus", "Airbus")


class _Form(HTMLParser):
    """The fields a browser would submit from the consent page's form."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.select: str | None = None
        self.options: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option":
            self.options.append(a["value"])


async def authorize_in_browser(url: str, username: str, decision: str = "allow") -> str:
    """Open X's consent page, pick ``username``, press a button: where X redirects to."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        form = _Form()
        form.feed(page.text)
        assert form.select is not None and username in form.options
        fields = {**form.fields, form.select: username, "decision": decision}
        answer = await browser.post(urljoin(url, form.action or url), data=fields)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def query_of(location: str) -> dict[str, str]:
    return dict(httpx.URL(location).params)
