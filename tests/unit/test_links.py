"""Stable links' tokens: made with the stack's secret, refused when anything in them changes, when
another secret made them, or once their job's time is up; and the address they start with."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagejobs import api, links

SECRET = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"
NOW = 1_800_000_000
CLAIM = links.Claim("ten_01KAZ5Y0000000000000000001", "job_01KAZ5Y0000000000000000003", "webp-320", NOW + 3600)
TOKEN = links.sign(CLAIM, SECRET)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_a_token_gives_back_its_claim_until_its_job_expires() -> None:
    assert links.verify(TOKEN, SECRET, now=NOW) == CLAIM
    assert links.verify(TOKEN, SECRET, now=CLAIM.expires_at - 1) == CLAIM
    assert links.verify(TOKEN, SECRET, now=CLAIM.expires_at) is None
    assert links.verify(TOKEN, SECRET, now=CLAIM.expires_at + 86400) is None


def test_a_token_is_url_safe_and_says_nothing_but_its_claim() -> None:
    assert set(TOKEN) <= set(ALPHABET + ".")
    text = TOKEN.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == [
        CLAIM.tenant_id,
        CLAIM.job_id,
        CLAIM.output,
        CLAIM.expires_at,
    ]


@given(position=st.integers(min_value=0, max_value=len(TOKEN) - 1), replacement=st.sampled_from(ALPHABET + "."))
def test_changing_any_character_of_a_token_refuses_it(position: int, replacement: str) -> None:
    changed = TOKEN[:position] + replacement + TOKEN[position + 1 :]
    if changed != TOKEN:
        assert links.verify(changed, SECRET, now=NOW) is None


@pytest.mark.parametrize(
    "other",
    [
        links.Claim("ten_01KAZ5Y0000000000000000009", CLAIM.job_id, CLAIM.output, CLAIM.expires_at),  # tenant
        links.Claim(CLAIM.tenant_id, "job_01KAZ5Y0000000000000000009", CLAIM.output, CLAIM.expires_at),  # job
        links.Claim(CLAIM.tenant_id, CLAIM.job_id, "avif-320", CLAIM.expires_at),  # output
        links.Claim(CLAIM.tenant_id, CLAIM.job_id, CLAIM.output, CLAIM.expires_at + 86400),  # a longer life
    ],
)
def test_a_signature_does_not_carry_over_to_another_tenant_job_output_or_expiry(other: links.Claim) -> None:
    forged = f"{links.sign(other, SECRET).split('.')[0]}.{TOKEN.split('.')[1]}"

    assert links.verify(forged, SECRET, now=NOW) is None
    assert links.verify(links.sign(other, SECRET), SECRET, now=NOW) == other  # signed by the secret: fine


def test_a_token_made_with_another_secret_is_refused() -> None:
    assert links.verify(links.sign(CLAIM, b"another stack's secret"), SECRET, now=NOW) is None


@given(st.text(max_size=800))
def test_any_other_text_is_refused_without_an_error(text: str) -> None:
    assert links.verify(text, SECRET, now=NOW) is None


def test_a_tokens_claim_is_never_read_before_its_signature_is_checked() -> None:
    not_json = base64.urlsafe_b64encode(b"\xff{[").decode().rstrip("=")
    assert links.verify(f"{not_json}.{'A' * 43}", SECRET, now=NOW) is None


# ---- the address a link starts with -----------------------------------------------------------


def test_a_link_starts_with_the_address_the_request_came_in_at_else_the_api_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(links, "get_settings", lambda: SimpleNamespace(api_url="https://abc.example/v1"))

    with links.serving("https://images.example.com/v1"):
        assert links.url("t.s") == "https://images.example.com/v1/o/t.s"
    assert links.url("t.s") == "https://abc.example/v1/o/t.s"


def test_without_an_address_no_link_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "get_settings", lambda: SimpleNamespace(api_url=""))

    with pytest.raises(LookupError):
        links.url("t.s")


@pytest.mark.parametrize(
    ("event", "base"),
    [
        (  # API Gateway's own address: the stage is the path's prefix
            {
                "path": "/jobs/job_1",
                "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"},
                "requestContext": {
                    "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                    "path": "/v1/jobs/job_1",
                    "stage": "v1",
                },
            },
            "https://abc123.execute-api.us-east-1.amazonaws.com/v1",
        ),
        (  # a custom domain with a base path mapping
            {
                "path": "/jobs/job_1",
                "headers": {"Host": "api.example.com"},
                "requestContext": {"domainName": "api.example.com", "path": "/images/jobs/job_1", "stage": "v1"},
            },
            "https://api.example.com/images",
        ),
        (  # the local stack, over http
            {
                "path": "/jobs/job_1",
                "headers": {"X-Forwarded-Proto": "http"},
                "requestContext": {"domainName": "127.0.0.1:3000", "path": "/v1/jobs/job_1", "stage": "v1"},
            },
            "http://127.0.0.1:3000/v1",
        ),
        (  # an event with no domain name (a sample event): its Host and stage
            {"path": "/jobs/job_1", "headers": {"Host": "abc.example"}, "requestContext": {"stage": "v1"}},
            "https://abc.example/v1",
        ),
        ({"path": "/jobs/job_1", "headers": {}, "requestContext": {"stage": "v1"}}, None),
    ],
)
def test_the_request_says_where_the_api_is(event: dict, base: str | None) -> None:
    assert api.served_at(event) == base
