"""The pages the API serves itself (the docs and the playground) and their scripts and styles: text
only (binary media through API Gateway is a trap: BinaryMediaTypes breaks CORS), each with its
content type, an ETag, and caching that lets a browser keep an asset until it changes.

A page names its assets as `{{static:NAME}}`, which becomes `static/NAME?v=<its hash>` relative to
the page, and `{{root}}` the API's base (`/v1/`) relative to the page, so the page works at
`/v1/docs` and at `/v1/docs/` alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import PurePath

CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
# Nothing on the pages comes from another host, and no script but the page's own files runs. Images
# and uploads go to S3 (presigned URLs), whose host the page only learns from the API.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https: http:; "
    "connect-src 'self' https: http:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
REVALIDATE = "no-cache"  # keep, but ask (If-None-Match) before each use
FOREVER = "public, max-age=31536000, immutable"
_PLACEHOLDER = re.compile(r"\{\{(root|static:([\w.-]+))\}\}")


@dataclass(frozen=True)
class Text:
    """A text file as served: its body, content type and ETag."""

    body: str
    content_type: str

    @property
    def version(self) -> str:
        return hashlib.sha256(self.body.encode()).hexdigest()[:16]

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str


class Site:
    """Pages and assets by name, each read once, when first asked for."""

    def __init__(self, pages: Mapping[str, Callable[[], str]], assets: Mapping[str, Callable[[], str]]) -> None:
        self._pages, self._assets = pages, assets
        self.asset = cache(self._asset)
        self.page = cache(self._page)

    def _asset(self, name: str) -> Text | None:
        read = self._assets.get(name)
        return Text(read(), CONTENT_TYPES[PurePath(name).suffix]) if read else None

    def _page(self, name: str, depth: int) -> Text:
        """The page, its links written for a URL `depth` folders below the API's base (1 for
        `/v1/docs/`, 0 for `/v1/docs`)."""
        root = "../" * depth

        def link(match: re.Match[str]) -> str:
            if match.group(1) == "root":
                return root
            asset = self.asset(match.group(2))
            if asset is None:
                raise KeyError(f"page {name} links to {match.group(2)}, which is not an asset")
            return f"{root}static/{match.group(2)}?v={asset.version}"

        return Text(_PLACEHOLDER.sub(link, self._pages[name]()), CONTENT_TYPES[".html"])


def serve(text: Text, if_none_match: str | None, cache_control: str, extra: Mapping[str, str] | None = None) -> Answer:
    """The answer for a GET of `text`: 304 when the browser's copy (If-None-Match) is this one."""
    headers = {"Cache-Control": cache_control, "ETag": text.etag, "X-Content-Type-Options": "nosniff", **(extra or {})}
    if if_none_match and text.etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Answer(304, headers, "")
    return Answer(200, {"Content-Type": text.content_type, **headers}, text.body)


def page(site: Site, name: str, path: str, if_none_match: str | None) -> Answer:
    """A page at `path` (as the request had it: a trailing slash puts its links one folder up)."""
    text = site.page(name, 1 if path.endswith("/") else 0)
    return serve(text, if_none_match, REVALIDATE, {"Content-Security-Policy": PAGE_POLICY})


def asset(site: Site, name: str, version: str | None, if_none_match: str | None) -> Answer | None:
    """An asset; kept for a year when asked for by its current version (as the pages link it)."""
    text = site.asset(name)
    if text is None:
        return None
    return serve(text, if_none_match, FOREVER if version == text.version else REVALIDATE)
