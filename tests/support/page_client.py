"""An HTTP client for the annotation page's tests: no proxy, no redirect followed (a 303 is the answer
under test), the status, headers and body of every reply, errors included."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: str


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """One request to ``url`` (a POST when ``data`` is given)."""
    sent = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with _OPENER.open(sent, timeout=10) as response:
            return Reply(response.status, dict(response.headers), response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, dict(error.headers), error.read().decode("utf-8"))
