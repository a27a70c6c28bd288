"""Stable links and the CDN over HTTP, as `make run` serves them: the README's Links snippets pasted
into bash and zsh, and a stack started with EnableCdn=true and a small link throttle."""

from __future__ import annotations

import io
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from PIL import Image

from imagejobs_client import Client
from tests import images
from tests.e2e.conftest import ROOT, LocalStack, running_stack, wait_for_job

README = (ROOT / "README.md").read_text()
WALKTHROUGH = re.findall(
    r"```sh\n(.*?)```", README.split("<!-- walkthrough -->")[1].split("<!-- /walkthrough -->")[0], re.S
)
LINKS = re.search(r"<!-- links -->\s*```sh\n(.*?)```", README, re.S).group(1)  # type: ignore[union-attr]
LINKS_PYTHON = re.search(r"<!-- links-python -->\s*```python\n(.*?)```", README, re.S).group(1)  # type: ignore[union-attr]
# The walkthrough's helpers ($API, $KEY, field, form, wait_job) and its first job (its steps 1 and 2).
HELPERS = WALKTHROUGH[0]
FIRST_JOB = "".join(WALKTHROUGH[:3])


def shell(name: str, script: str, cwd: Path, stack: LocalStack) -> subprocess.CompletedProcess[str]:
    command = [name, "-euo", "pipefail", "-c", script] if name == "bash" else [name, "-eu", "-c", script]
    return subprocess.run(
        command,
        check=False,
        cwd=cwd,
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "IMAGEJOBS_PORT": str(stack.port),
            "IMAGEJOBS_API_KEY": stack.api_key,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("name", ["bash", "zsh"])
def test_the_readme_links_work_pasted_as_written(local_stack: LocalStack, tmp_path: Path, name: str) -> None:
    # GIVEN the walkthrough's first job, made in bash as "Try it" says
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    made = shell("bash", FIRST_JOB, tmp_path, local_stack)
    assert made.returncode == 0, made.stderr + made.stdout

    # WHEN the Links block is pasted into the same kind of terminal (its helpers defined again)
    result = shell(name, HELPERS + "JOB=$(field id < job.json)\n" + LINKS, tmp_path, local_stack)

    # THEN the link redirected without a key, downloaded the thumbnail, and was a 404 once the job was deleted
    assert result.returncode == 0, result.stderr + result.stdout
    redirect, responsive, gone = result.stdout.split("\n")[:3]
    assert re.fullmatch(rf"302 http://127\.0\.0\.1:{local_stack.aws_port}/\S+X-Amz-Expires=600\S*", redirect)
    assert (responsive, gone) == ("succeeded", "404")
    assert (tmp_path / "thumb-again.webp").read_bytes() == (tmp_path / "thumb.webp").read_bytes()
    # AND the page's srcset is the responsive job's links, one per width of the 1600 px photo
    page = (tmp_path / "page.html").read_text()
    candidates = re.fullmatch(r'<img srcset="(.*)" sizes="100vw" alt="">\n', page).group(1).split(", ")  # type: ignore[union-attr]
    assert [c.rsplit(" ", 1)[1] for c in candidates] == ["320w", "640w", "960w", "1280w", "1600w"]
    for candidate in (candidates[0], candidates[-1]):
        url, width = candidate.rsplit(" ", 1)
        assert url.startswith(f"{local_stack.api_url}/o/")
        picture = Image.open(io.BytesIO(requests.get(url, timeout=10).content))
        assert (picture.format, f"{picture.width}w") == ("WEBP", width)


def test_the_readme_python_links_snippet_runs(local_stack: LocalStack) -> None:
    session = requests.Session()
    session.headers["X-API-Key"] = local_stack.api_key
    form = session.post(f"{local_stack.api_url}/uploads", json={"filename": "a.png", "content_type": "image/png"})
    sent = requests.post(
        form.json()["url"], data=form.json()["fields"], files={"file": images.png(800, 400)}, timeout=10
    )
    assert sent.status_code == 204
    body = {"source": {"upload_id": form.json()["upload_id"]}, "outputs": [{"name": "small", "format": "png"}]}
    job = wait_for_job(local_stack, session.post(f"{local_stack.api_url}/jobs", json=body).json()["id"])
    names = {
        "requests": requests,
        "API": local_stack.api_url,
        "KEY": local_stack.api_key,
        "s": session,
        "job_id": job["id"],
        "upload_id": form.json()["upload_id"],
    }

    exec(LINKS_PYTHON, names)  # the README's own snippet

    assert Image.open(io.BytesIO(names["image"])).size == (800, 400)  # type: ignore[arg-type]
    assert names["html"] == f'<img src="{job["outputs"][0]["link"]}" alt="">'
    srcset = names["srcset"]
    assert isinstance(srcset, dict)
    assert f'srcset="{srcset["avif"]}"' in str(names["picture"])
    assert srcset["webp"].split(", ")[-1].endswith(" 800w")


def test_the_python_client_gives_each_outputs_link(local_stack: LocalStack, tmp_path: Path) -> None:
    with Client(local_stack.api_url, local_stack.api_key) as client:
        result = client.run(ROOT / "samples" / "logo.png", outputs=[{"name": "icon", "format": "png"}], out=tmp_path)

    (output,) = result.job.outputs
    assert output.link is not None
    assert output.link.startswith(f"{local_stack.api_url}/o/")
    assert output.cdn_url is None
    assert requests.get(output.link, timeout=10).content == result.files["icon"].read_bytes()


# ---- EnableCdn=true, and the link route's throttle ---------------------------------------------


@pytest.fixture(scope="module")
def cdn_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    overrides = "EnableCdn=true LinkRateLimit=1 LinkBurstLimit=4"
    with running_stack(tmp_path_factory.mktemp("cdn") / "devstack.log", overrides) as stack:
        yield stack


def finished(stack: LocalStack, data: bytes, **request: object) -> dict:
    form = requests.post(
        f"{stack.api_url}/uploads",
        json={"filename": "a.png", "content_type": "image/png"},
        headers=stack.headers(),
        timeout=10,
    ).json()
    assert requests.post(form["url"], data=form["fields"], files={"file": data}, timeout=10).status_code == 204
    created = requests.post(
        f"{stack.api_url}/jobs",
        json={"source": {"upload_id": form["upload_id"]}, **request},
        headers=stack.headers(),
        timeout=10,
    )
    assert created.status_code == 202, created.text
    job = wait_for_job(stack, created.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def test_with_the_cdn_on_outputs_have_a_cdn_url_cacheable_until_the_job_expires(cdn_stack: LocalStack) -> None:
    # GIVEN a job on a stack with EnableCdn=true
    outputs = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 40}]}]
    job = finished(cdn_stack, images.png(80, 40, images.BLUE), outputs=outputs, ttl_seconds=3600)
    (small,) = job["outputs"]

    # WHEN its cdn_url is read, with no key
    assert re.fullmatch(rf"http://127\.0\.0\.1:{cdn_stack.port}/cdn/ten_\w+/{job['id']}/small\.png", small["cdn_url"])
    answer = requests.get(small["cdn_url"], timeout=10)

    # THEN it is the output, cacheable until the job expires, readable by pages of any origin
    assert answer.status_code == 200
    assert answer.content == requests.get(small["url"], timeout=10).content
    assert Image.open(io.BytesIO(answer.content)).size == (40, 20)
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["Cache-Control"] == "public, immutable"
    expires = parsedate_to_datetime(answer.headers["Expires"])
    assert abs(expires - datetime.fromisoformat(job["expires_at"])) < timedelta(seconds=1)
    assert answer.headers["Access-Control-Allow-Origin"] == "*"

    # AND once the job is deleted, the CDN path and the link both end
    link = small["link"]
    assert requests.delete(f"{cdn_stack.api_url}/jobs/{job['id']}", headers=cdn_stack.headers(), timeout=10).ok
    assert requests.get(small["cdn_url"], timeout=10).status_code == 403  # S3's answer to CloudFront: gone
    assert requests.get(link, timeout=10).status_code == 404


def test_with_the_cdn_on_the_responsive_srcset_is_made_of_cdn_urls(cdn_stack: LocalStack) -> None:
    job = finished(cdn_stack, images.png(400, 200, images.GREEN), preset="responsive")

    outputs = {output["name"]: output for output in job["outputs"]}
    assert job["srcset"]["webp"] == f"{outputs['webp-320']['cdn_url']} 320w, {outputs['webp-640']['cdn_url']} 400w"
    picture = Image.open(io.BytesIO(requests.get(outputs["avif-640"]["cdn_url"], timeout=10).content))
    assert picture.size == (400, 200)


def test_the_link_route_has_its_own_throttle(cdn_stack: LocalStack) -> None:
    job = finished(cdn_stack, images.png(16, 16), outputs=[{"name": "a", "format": "png"}])
    link = job["outputs"][0]["link"]
    time.sleep(4)  # the bucket refills: 1 a second, up to the burst of 4

    answers = [requests.get(link, timeout=10, allow_redirects=False) for _ in range(6)]

    assert [answer.status_code for answer in answers[:4]] == [302] * 4
    refused = next(answer for answer in answers[4:] if answer.status_code == 429)
    assert (refused.headers["Retry-After"], refused.json()["error"]["code"]) == ("1", "rate_limited")
    # a key's own requests are metered by its usage plan, not by this throttle
    assert requests.get(f"{cdn_stack.api_url}/jobs/{job['id']}", headers=cdn_stack.headers(), timeout=10).ok
