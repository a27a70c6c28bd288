"""Key templates of output destinations, source placeholders, and how grants match keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from imagejobs.services.destinations import several_pages
from imagejobs.spec import keys
from imagejobs.spec.outputs import Output
from imagejobs.spec.requests import JobRequest
from imagejobs.spec.validation import details
from imagejobs.store.tenants import GrantRecord

VALUES = {
    "job_id": "job_01KAZ5Y0000000000000000003",
    "name": "thumb",
    "ext": "webp",
    "width": "400",
    "height": "300",
    **keys.source_values("products/shoes/123.heic"),
    **keys.metadata_values({"sku": "A-1", "count": 3, "draft": False, "tags": ["x"]}),
}


def test_every_placeholder_is_filled_in() -> None:
    template = keys.KeyTemplate.parse(
        "{source_dir}/{source_stem}/{name}-{width}x{height}.{ext}?from={source_key}&job={job_id}&sku={metadata.sku}"
        "&n={metadata.count}&draft={metadata.draft}"
    )

    assert template.render(VALUES) == (
        "products/shoes/123/thumb-400x300.webp?from=products/shoes/123.heic&job=job_01KAZ5Y0000000000000000003"
        "&sku=A-1&n=3&draft=false"
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("products/123.heic", {"source_key": "products/123.heic", "source_stem": "123", "source_dir": "products"}),
        ("a/b/photo.tar.gz", {"source_key": "a/b/photo.tar.gz", "source_stem": "photo.tar", "source_dir": "a/b"}),
        ("123.jpg", {"source_key": "123.jpg", "source_stem": "123", "source_dir": ""}),
        ("dir/.hidden", {"source_key": "dir/.hidden", "source_stem": ".hidden", "source_dir": "dir"}),
        ("dir/README", {"source_key": "dir/README", "source_stem": "README", "source_dir": "dir"}),
    ],
)
def test_source_placeholders_split_the_key_at_its_last_slash_and_last_dot(key: str, expected: dict) -> None:
    assert keys.source_values(key) == expected


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("out/{width", "outside a placeholder"),
        ("out/}x", "outside a placeholder"),
        ("out/{size}.jpg", "unknown placeholder {size}"),
        ("out/{metadata.}.jpg", "unknown placeholder {metadata.}"),
        ("out/{}.jpg", "unknown placeholder {}"),
        ("/out/{name}.jpg", "starts with /"),
        ("out/../{name}.jpg", "has a .. segment"),
        ("..", "has a .. segment"),
        ("out/\x07{name}.jpg", "control character"),
        ("out/\n", "control character"),
        ("é" * 513, "is 1026 bytes long"),
    ],
)
def test_a_template_no_values_could_make_valid_is_refused_with_the_reason(template: str, reason: str) -> None:
    with pytest.raises(keys.InvalidKeyError, match=reason.replace("{", r"\{").replace(".", r"\.")):
        keys.KeyTemplate.parse(template)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({**VALUES, "metadata.sku": "../up"}, "has a .. segment"),
        ({**VALUES, "source_dir": ""}, "starts with /"),
        ({**VALUES, "metadata.sku": "a\tb"}, "control character"),
        ({**VALUES, "metadata.sku": "x" * 1020}, "bytes long"),
    ],
)
def test_values_that_make_an_invalid_key_are_refused(values: dict[str, str], reason: str) -> None:
    template = keys.KeyTemplate.parse("{source_dir}/{metadata.sku}/{name}.{ext}")

    with pytest.raises(keys.InvalidKeyError, match=reason):
        template.render(values)


def test_dots_are_fine_where_they_make_no_dot_dot_segment() -> None:
    assert keys.KeyTemplate.parse("a/..b/c../{name}.{ext}").render(VALUES) == "a/..b/c../thumb.webp"


def test_the_prefix_is_the_template_up_to_the_first_placeholder_without_a_value() -> None:
    template = keys.KeyTemplate.parse("{source_dir}/thumbs/{name}-{width}.{ext}")

    assert template.prefix({"source_dir": "products", "name": "thumb"}) == "products/thumbs/thumb-"
    assert template.prefix({"name": "thumb"}) == ""
    assert template.fill({"source_dir": "products", "ext": "webp"}) == "products/thumbs/{name}-{width}.webp"


def test_a_missing_value_is_refused_when_the_key_is_made() -> None:
    with pytest.raises(keys.InvalidKeyError, match=r"no value for \{height\}, \{width\}"):
        keys.KeyTemplate.parse("{width}x{height}").render({"name": "x"})


def test_metadata_that_is_not_a_string_number_or_boolean_gives_no_placeholder() -> None:
    assert keys.metadata_values({"a": {"b": 1}, "c": None, "d": 1.5, "e": True}) == {
        "metadata.d": "1.5",
        "metadata.e": "true",
    }


def test_a_destination_key_error_names_the_field_of_the_output() -> None:
    with pytest.raises(ValidationError) as caught:
        JobRequest.model_validate(
            {
                "source": {"upload_id": "upl_01KAZ5Y0000000000000000002"},
                "outputs": [
                    {"name": "a", "format": "png"},
                    {"name": "b", "format": "png", "destination": {"bucket": "media", "key": "x/{nope}"}},
                ],
            }
        )

    [detail] = details(caught.value.errors())
    assert detail["path"] == "outputs[1].destination.key"
    assert "unknown placeholder {nope}" in detail["message"]


@pytest.mark.parametrize(
    ("destination", "path"),
    [
        ({"bucket": "Media", "key": "a"}, "outputs[0].destination.bucket"),
        ({"bucket": "media", "key": ""}, "outputs[0].destination.key"),
        ({"bucket": "media", "key": "a", "if_exists": "merge"}, "outputs[0].destination.if_exists"),
        (
            {"bucket": "media", "key": "a", "cache_control": "max-age=1\r\nX-Evil: 1"},
            "outputs[0].destination.cache_control",
        ),
        ({"bucket": "media", "key": "a", "acl": "public-read"}, "outputs[0].destination.acl"),
    ],
)
def test_every_destination_field_is_validated_by_its_path(destination: dict, path: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Output.model_validate({"name": "a", "format": "png", "destination": destination})

    assert [d["path"] for d in details(caught.value.errors())] == [path.removeprefix("outputs[0].")]


def test_an_s3_source_is_one_source_and_its_key_is_at_most_1024_bytes() -> None:
    with pytest.raises(ValidationError, match="exactly one of upload_id, upload, url or s3"):
        JobRequest.model_validate(
            {"source": {"url": "https://a.example/x.jpg", "s3": {"bucket": "media", "key": "a"}}, "preset": "og-image"}
        )
    with pytest.raises(ValidationError, match="at most 1024 bytes"):
        JobRequest.model_validate({"source": {"s3": {"bucket": "media", "key": "é" * 600}}, "preset": "og-image"})


@pytest.mark.parametrize(
    ("uri", "parsed"),
    [
        ("s3://media/products/", ("media", "products/")),
        ("s3://media/", ("media", "")),
        ("s3://media", ("media", "")),
        ("s3://my.bucket-1/a/b", ("my.bucket-1", "a/b")),
    ],
)
def test_grant_addresses_are_a_bucket_and_a_prefix(uri: str, parsed: tuple[str, str]) -> None:
    assert keys.parse_s3_uri(uri) == parsed


@pytest.mark.parametrize("uri", ["media/products/", "s3://Media/", "s3://ab/", "https://media/x", "s3://media/a\x00"])
def test_anything_else_is_not_a_grant_address(uri: str) -> None:
    with pytest.raises(ValueError):
        keys.parse_s3_uri(uri)


def grant(prefix: str, *, read: bool = True, write: bool = False) -> GrantRecord:
    return GrantRecord(
        tenant_id="ten_A", bucket="media", prefix=prefix, read=read, write=write, created_at=datetime.now(UTC)
    )


def test_a_grant_covers_the_keys_that_start_with_its_prefix_as_s3_matches_prefixes() -> None:
    folder = grant("products/")

    assert folder.allows("read", "media", "products/123.heic")
    assert folder.allows("read", "media", "products/")
    assert not folder.allows("read", "media", "products")  # the folder's own name is outside it
    assert not folder.allows("read", "media", "other/products/123.heic")
    assert not folder.allows("read", "other-bucket", "products/123.heic")
    assert grant("products").allows("read", "media", "products-old/1.jpg")  # no slash: a plain prefix
    assert grant("").allows("read", "media", "anything/at/all")


def test_a_grant_gives_only_the_access_it_names() -> None:
    assert not grant("", read=True, write=False).allows("write", "media", "a.jpg")
    assert grant("", read=False, write=True).allows("write", "media", "a.jpg")
    assert not grant("", read=False, write=True).allows("read", "media", "a.jpg")


@pytest.mark.parametrize(
    ("pages", "several"), [(None, False), ("1", False), ("3-3", False), ("1-2", True), ("2-", True), ("1,3", True)]
)
def test_a_selection_of_pages_may_give_several_outputs_for_one(pages: str | None, several: bool) -> None:
    assert several_pages(pages) is several


TEMPLATE_TEXT = st.lists(
    st.sampled_from(["{", "}", "/", ".", "..", "a", "é", "\x00", "\n", "{name}", "{width}", "{metadata.x}", "{nope}"]),
    max_size=30,
).map("".join)
VALUE = st.text(st.sampled_from(["a", "/", ".", "\t", "é"]), max_size=8)


@given(text=TEMPLATE_TEXT, value=VALUE)
def test_any_template_and_values_give_a_valid_key_or_say_why_not(text: str, value: str) -> None:
    try:
        template = keys.KeyTemplate.parse(text)
        key = template.render({**VALUES, "metadata.x": value})
    except keys.InvalidKeyError:
        return
    assert key == keys.check_key(key)
    assert not key.startswith("/") and ".." not in key.split("/")
    assert not any(ord(c) < 32 or ord(c) == 127 for c in key)
