"""The docs page and the playground in a real browser: headless Chromium driven by Playwright, on
the stack `make run` starts, with the network cut to loopback (every request to another host is
aborted, and the tests assert that none was attempted).

Chromium is Playwright's own build when it was downloaded (`playwright install chromium`), else the
system's (`make browser` installs Debian's `chromium`). The playground test leaves a screenshot in
out/playground.png: copy it to docs/playground.png to refresh the README's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect, sync_playwright

from tests.e2e.conftest import ROOT, LocalStack, wait_for_job

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SCREENSHOT = ROOT / "out" / "playground.png"
PHOTO = ROOT / "samples" / "photo.jpg"  # 1600 x 1067
DESKTOP = {"width": 1280, "height": 1000}


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium: Playwright's own when it is there, else the system's."""
    if Path(playwright.chromium.executable_path).exists():
        return playwright.chromium.launch(args=FLAGS)
    system = shutil.which("chromium") or shutil.which("chromium-browser")
    if system is None:
        pytest.fail("no Chromium for the browser tests: `make browser` installs it")
    return playwright.chromium.launch(executable_path=system, args=FLAGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@dataclass
class Offline:
    """A browser context that reaches loopback only: what it refused, and what went wrong in pages."""

    context: BrowserContext
    refused: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def page(self) -> Page:
        page = self.context.new_page()
        page.on("console", lambda message: message.type == "error" and self.problems.append(message.text))
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        return page


@pytest.fixture
def offline(browser: Browser) -> Iterator[Offline]:
    context = browser.new_context(viewport=DESKTOP)
    state = Offline(context)

    def only_loopback(route: Route) -> None:
        url = route.request.url
        state.requested.append(url)
        if urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            state.refused.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    yield state
    context.close()


def drop(page: Page, target: str, path: Path, content_type: str) -> None:
    """Drops a file on `target` as a user dragging it from their desktop would."""
    transfer = page.evaluate_handle(
        """([name, bytes, type]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, {type}));
            return transfer;
        }""",
        [path.name, list(path.read_bytes()), content_type],
    )
    page.dispatch_event(target, "drop", {"dataTransfer": transfer})


def natural_size(page: Page, selector: str) -> list[int]:
    """The rendered image's own size, once it has loaded."""
    page.wait_for_function(
        "selector => { const img = document.querySelector(selector); return img?.complete && img.naturalWidth > 0 }",
        arg=selector,
        timeout=60_000,
    )
    return list(page.locator(selector).evaluate("img => [img.naturalWidth, img.naturalHeight]"))


# ---- the docs page -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_the_docs_page_shows_every_route_with_the_network_cut_to_loopback(
    local_stack: LocalStack, offline: Offline, path: str
) -> None:
    document = requests.get(f"{local_stack.api_url}/openapi.json", timeout=10).json()
    routes = {(method.upper(), route) for route, item in document["paths"].items() for method in item}
    callbacks = {(method.upper(), name) for name, item in document["webhooks"].items() for method in item}
    page = offline.page()

    page.goto(f"{local_stack.api_url}{path}")
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    shown = page.evaluate(
        """() => [...document.querySelectorAll('.opblock-summary')].map(summary => [
            summary.querySelector('.opblock-summary-method').innerText,
            summary.querySelector('.opblock-summary-path').dataset.path])"""
    )

    assert {tuple(route) for route in shown} == routes | callbacks  # the callbacks appear as webhooks
    assert len(routes) >= 12
    assert offline.refused == []
    assert offline.problems == []


# ---- the playground ------------------------------------------------------------------------------


def build_a_resized_webp(page: Page, stack: LocalStack, width: int) -> None:
    page.goto(f"{stack.api_url}/playground")
    page.get_by_label("API key").fill(stack.api_key)
    drop(page, "#drop", PHOTO, "image/jpeg")
    page.get_by_role("button", name="Add output").click()
    page.get_by_label("format").select_option("webp")
    page.get_by_label("Operation to add").select_option("resize")
    page.get_by_role("button", name="Add operation").click()
    page.get_by_label("width", exact=True).fill(str(width))


def test_the_playground_turns_a_dropped_jpeg_into_a_resized_webp_it_displays(
    local_stack: LocalStack, offline: Offline
) -> None:
    # GIVEN the playground, a dropped JPEG (1600 x 1067) and one output: a WebP resized to 320 wide
    page = offline.page()
    build_a_resized_webp(page, local_stack, 320)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')]
            .filter(c => !(c.labels?.length || c.getAttribute('aria-label') || c.innerText.trim()))
            .map(control => control.outerHTML)"""
    )

    # WHEN it runs
    page.get_by_role("button", name="Run job").click()

    # THEN the output is displayed beside the original, at the size the job reports
    output = 'figure[data-output="output-1"]'
    assert natural_size(page, f"{output} img") == [320, 213]
    assert natural_size(page, "figure[data-original] img") == [1600, 1067]
    facts = page.locator(f"{output} .facts").inner_text().split("\n")
    assert facts[:2] == ["webp", "320\N{MULTIPLICATION SIGN}213 px"]
    assert facts[3].endswith("% smaller")
    assert "succeeded" in page.locator("#status").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT)
    # every control is labelled; the key stays in the tab, out of every URL
    assert unlabelled == []
    assert page.evaluate("sessionStorage.getItem('imagejobs.apiKey')") == local_stack.api_key
    assert not [url for url in offline.requested if local_stack.api_key in url]
    # nothing left loopback, nothing failed
    assert offline.refused == []
    assert offline.problems == []
    # at phone width nothing is wider than the screen
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_playground_copies_the_exact_request_as_curl_and_python(local_stack: LocalStack, offline: Offline) -> None:
    page = offline.page()
    build_a_resized_webp(page, local_stack, 200)
    page.get_by_role("button", name="Run job").click()
    natural_size(page, 'figure[data-output="output-1"] img')
    environment = {**os.environ, "IMAGEJOBS_API_KEY": local_stack.api_key}

    def run(kind: str, *command: str) -> str:
        page.get_by_role("button", name=f"Copy as {kind}").click()
        snippet = page.locator("#snippet").inner_text()
        ran = subprocess.run(
            [*command, snippet], env=environment, capture_output=True, text=True, timeout=30, check=False
        )
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    job = wait_for_job(local_stack, json.loads(run("curl", "bash", "-c"))["id"])
    assert [(output["name"], output["format"], output["width"]) for output in job["outputs"]] == [
        ("output-1", "webp", 200)
    ]
    status, _, printed = run("Python", sys.executable, "-c").partition(" ")
    assert status == "202"
    assert "'status': 'queued'" in printed


def test_the_playground_shows_each_api_error_on_the_field_its_path_names(
    local_stack: LocalStack, offline: Offline
) -> None:
    # GIVEN an output name the API keeps for pages, and a resize with neither width nor height
    page = offline.page()
    build_a_resized_webp(page, local_stack, 320)
    page.get_by_label("width", exact=True).fill("")
    page.get_by_label("name").fill("thumb-p2")

    # WHEN it runs
    page.get_by_role("button", name="Run job").click()

    # THEN the 422's details are shown where their paths point: the name field, the operation
    name = page.get_by_label("name")
    expect(page.locator(".output .field", has=name).locator(".error")).to_contain_text(
        "may not end in -p and digits", timeout=30_000
    )
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".operation > .error")).to_have_text("give width, height or both")
    expect(page.get_by_role("alert")).to_contain_text("outputs[0].operations[0]: give width, height or both")
    assert page.locator("figure").count() == 0
    assert offline.refused == []
