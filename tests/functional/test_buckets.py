"""Connected buckets: objects read as sources, outputs written to destinations, under grants.

The stack connects local-media, media and vanishing (read and write) and originals (read only),
and grants the development tenant (`api`) each whole; other tenants get the grants each test gives.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.stack import Stack
from imagejobs.errors import ImageJobsError
from imagejobs.services import accounts, auth, grants
from imagejobs.settings import get_settings
from imagejobs.store import buckets
from tests import images
from tests.conftest import PHOTO
from tests.functional.conftest import Client, drain

S3_SOURCE = "image/jpeg"


@pytest.fixture
def folder() -> str:
    """A prefix of its own for each test: the buckets are the session's."""
    return f"t-{uuid.uuid4().hex[:12]}/"


def put(stack: Stack, bucket: str, key: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return dict(stack.client("s3").put_object(Bucket=bucket, Key=key, Body=data, **extra))


def fetch(stack: Stack, bucket: str, key: str) -> dict[str, Any]:
    found = stack.client("s3").get_object(Bucket=bucket, Key=key)
    return {**found, "data": found["Body"].read()}


def keys_under(stack: Stack, bucket: str, prefix: str) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def tenant(stack: Stack, *granted: tuple[str, str]) -> Client:
    """A new tenant and its key, granted ("s3://bucket/prefix", "rw" | "r" | "w") each."""
    made = accounts.create_tenant(f"buckets {uuid.uuid4().hex[:6]}")
    for uri, access in granted:
        grants.add(made.id, uri, read="r" in access, write="w" in access)
    return Client(stack, accounts.create_key(made.id, "tests"))


def run(client: Client, stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/jobs", body)
    assert created.status_code == 202, created.text
    drain(stack)
    return dict(client.get(f"/jobs/{created.json()['id']}").json())


def refusal(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/jobs", body)
    assert answer.status_code == 422, answer.text
    return dict(answer.json()["error"])


def outputs(bucket: str, key: str, **destination: Any) -> list[dict[str, Any]]:
    return [{"name": "web", "format": "webp", "destination": {"bucket": bucket, "key": key, **destination}}]


# ---- sources and destinations -------------------------------------------------------------------


def test_an_object_in_a_connected_bucket_becomes_a_job_whose_outputs_land_at_their_keys(
    api: Client, stack: Stack, folder: str
) -> None:
    # GIVEN a photo put in the bucket, as a user does with the AWS CLI
    put(stack, "local-media", f"{folder}products/123.jpg", PHOTO)

    # WHEN a job reads it and writes three outputs next to it, and one only to its download link
    job = run(
        api,
        stack,
        {
            "source": {"s3": {"bucket": "local-media", "key": f"{folder}products/123.jpg"}},
            "outputs": [
                {
                    "name": "thumb",
                    "format": "webp",
                    "operations": [{"type": "resize", "width": 400}],
                    "destination": {
                        "bucket": "local-media",
                        "key": "{source_dir}/thumbs/{source_stem}-{width}x{height}.{ext}",
                        "cache_control": "public, max-age=31536000, immutable",
                    },
                },
                {
                    "name": "square",
                    "format": "png",
                    "operations": [{"type": "resize", "width": 64, "height": 64, "fit": "cover"}],
                    "destination": {"bucket": "media", "key": f"{folder}{{metadata.sku}}/{{name}}.{{ext}}"},
                },
                {
                    "name": "print",
                    "format": "jpeg",
                    "destination": {"bucket": "local-media", "key": "{source_key}.{ext}"},
                },
                {"name": "link-only", "format": "gif", "operations": [{"type": "resize", "width": 32}]},
            ],
            "metadata": {"sku": "SKU-9"},
        },
    )

    # THEN it succeeded, and says where each went
    assert job["status"] == "succeeded", job["error"]
    assert job["source"]["s3"] == {"bucket": "local-media", "key": f"{folder}products/123.jpg", "version_id": None}
    assert (job["source"]["format"], job["source"]["width"], job["source"]["bytes"]) == ("jpeg", 1600, len(PHOTO))
    made = {o["name"]: (o["destination"], o["destination_status"]) for o in job["outputs"]}
    assert made == {
        "thumb": (f"s3://local-media/{folder}products/thumbs/123-400x267.webp", "written"),
        "square": (f"s3://media/{folder}SKU-9/square.png", "written"),
        "print": (f"s3://local-media/{folder}products/123.jpg.jpg", "written"),
        "link-only": (None, None),
    }
    # AND the objects are there, with their content types, the pixels of the outputs, and the job's id
    thumb = fetch(stack, "local-media", f"{folder}products/thumbs/123-400x267.webp")
    assert (thumb["ContentType"], thumb["CacheControl"]) == ("image/webp", "public, max-age=31536000, immutable")
    assert thumb["data"][8:12] == b"WEBP" and images.size(thumb["data"]) == (400, 267)
    assert thumb["Metadata"] == {buckets.JOB_METADATA: job["id"]}
    square = fetch(stack, "media", f"{folder}SKU-9/square.png")
    assert square["ContentType"] == "image/png" and images.size(square["data"]) == (64, 64)
    assert "CacheControl" not in square
    printed = fetch(stack, "local-media", f"{folder}products/123.jpg.jpg")
    assert printed["ContentType"] == "image/jpeg" and images.ssim(printed["data"], PHOTO) > 0.9
    # AND the download links serve the same images
    link = next(o["url"] for o in job["outputs"] if o["name"] == "thumb")
    assert stack.client("s3").meta.endpoint_url in link
    assert keys_under(stack, "local-media", folder) == sorted(
        [f"{folder}products/123.jpg", f"{folder}products/123.jpg.jpg", f"{folder}products/thumbs/123-400x267.webp"]
    )


def test_an_upload_source_gives_its_file_name_to_the_source_placeholders(
    api: Client, stack: Stack, folder: str
) -> None:
    form = api.post(
        "/jobs",
        {
            "source": {"upload": {"filename": "holiday.heic", "content_type": "image/heic"}},
            "outputs": outputs("media", f"{folder}{{source_stem}}.{{ext}}"),
        },
    ).json()
    put(stack, stack.template.refs["Bucket"], form["upload"]["fields"]["key"], images.heic(64, 48))
    drain(stack)

    job = api.get(f"/jobs/{form['id']}").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["outputs"][0]["destination"] == f"s3://media/{folder}holiday.webp"
    assert images.size(fetch(stack, "media", f"{folder}holiday.webp")["data"]) == (64, 48)


def test_each_page_of_a_pdf_lands_at_the_key_its_name_makes(api: Client, stack: Stack, folder: str) -> None:
    put(stack, "local-media", f"{folder}leaflet.pdf", images.pdf((144, 72, images.RED), (72, 144, images.BLUE)))
    made = {"bucket": "local-media", "key": "{source_dir}/{source_stem}/{name}.{ext}"}

    job = run(
        api,
        stack,
        {
            "source": {"s3": {"bucket": "local-media", "key": f"{folder}leaflet.pdf"}, "pages": "1-2", "dpi": 72},
            "outputs": [{"name": "page", "format": "png", "destination": made},
                        {"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 36}],
                         "destination": made}],
        },
    )  # fmt: skip

    assert job["status"] == "succeeded", job["error"]
    assert sorted(o["destination"] for o in job["outputs"]) == [
        f"s3://local-media/{folder}leaflet/{name}"
        for name in ("page-p1.png", "page-p2.png", "small-p1.webp", "small-p2.webp")
    ]
    first, second = (fetch(stack, "local-media", f"{folder}leaflet/page-p{n}.png")["data"] for n in (1, 2))
    assert (images.size(first), images.size(second)) == ((144, 72), (72, 144))
    assert images.near(images.pixel(first, 70, 36), images.RED) and images.near(
        images.pixel(second, 36, 70), images.BLUE
    )


def test_a_missing_object_or_version_fails_the_job_with_source_not_found(
    api: Client, stack: Stack, folder: str
) -> None:
    put(stack, "local-media", f"{folder}there.jpg", PHOTO)
    for source in (
        {"bucket": "local-media", "key": f"{folder}not-there.jpg"},
        {"bucket": "local-media", "key": f"{folder}there.jpg", "version_id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"},
    ):
        job = run(api, stack, {"source": {"s3": source}, "outputs": [{"name": "a", "format": "png"}]})

        assert job["status"] == "failed"
        assert job["error"]["code"] == "source_not_found", job["error"]
        assert f"s3://local-media/{folder}" in job["error"]["message"]


def test_a_version_id_reads_that_version_and_the_job_says_which_it_read(api: Client, stack: Stack, folder: str) -> None:
    s3 = stack.client("s3")
    s3.create_bucket(Bucket="versioned-media")
    s3.put_bucket_versioning(Bucket="versioned-media", VersioningConfiguration={"Status": "Enabled"})
    key = f"{folder}photo"
    first = put(stack, "versioned-media", key, images.jpeg(40, 30))["VersionId"]
    latest = put(stack, "versioned-media", key, images.png(20, 10))["VersionId"]
    with pytest.MonkeyPatch.context() as patch:  # connected for this test only
        patch.setenv("CONNECTED_READ_ONLY_BUCKETS", "originals,versioned-media")
        get_settings.cache_clear()
        grants.add(stack.tenant_id, "s3://versioned-media/", read=True, write=False)
        try:
            old = run(
                api,
                stack,
                {
                    "source": {"s3": {"bucket": "versioned-media", "key": key, "version_id": first}},
                    "outputs": [{"name": "a", "format": "png"}],
                },
            )
            new = run(
                api,
                stack,
                {
                    "source": {"s3": {"bucket": "versioned-media", "key": key}},
                    "outputs": [{"name": "a", "format": "png"}],
                },
            )
        finally:
            grants.revoke(stack.tenant_id, "s3://versioned-media/")
    get_settings.cache_clear()

    assert (old["status"], old["source"]["format"], old["source"]["width"]) == ("succeeded", "jpeg", 40)
    assert old["source"]["s3"]["version_id"] == first
    assert (new["status"], new["source"]["format"], new["source"]["width"]) == ("succeeded", "png", 20)
    assert new["source"]["s3"]["version_id"] == latest


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keyed callers' limits of 10 kB and 100 kilopixels."""
    monkeypatch.setenv("UPLOAD_MAX_BYTES", "10000")
    monkeypatch.setenv("MAX_SOURCE_PIXELS", "100000")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_an_object_over_the_size_or_pixel_limit_fails_as_an_upload_would(
    api: Client, stack: Stack, folder: str, small_limits: None
) -> None:
    put(stack, "local-media", f"{folder}big.jpg", PHOTO)  # 41 kB
    put(stack, "local-media", f"{folder}wide.png", images.png(1000, 200))  # 200 kilopixels, a few hundred bytes

    big = run(
        api, stack, {"source": {"s3": {"bucket": "local-media", "key": f"{folder}big.jpg"}}, "preset": "og-image"}
    )
    wide = run(
        api, stack, {"source": {"s3": {"bucket": "local-media", "key": f"{folder}wide.png"}}, "preset": "og-image"}
    )

    assert (big["status"], big["error"]["code"]) == ("failed", "too_large")
    assert "10000" in big["error"]["message"]
    assert (wide["status"], wide["error"]["code"]) == ("failed", "too_many_pixels")


# ---- if_exists, and a job's own earlier writes --------------------------------------------------


def test_if_exists_overwrite_replaces_skip_keeps_and_fail_fails_before_writing_anything(
    api: Client, stack: Stack, folder: str
) -> None:
    source = {"s3": {"bucket": "local-media", "key": f"{folder}in.png"}}
    put(stack, "local-media", f"{folder}in.png", images.png(30, 20))
    for name in ("over", "skip", "fail"):
        put(stack, "local-media", f"{folder}{name}.webp", b"someone else's", ContentType="text/plain")

    def job(if_exists: str, extra: list[dict[str, Any]] = []) -> dict[str, Any]:  # noqa: B006 (read only)
        destination = {"bucket": "local-media", "key": f"{folder}{if_exists[:4]}.webp", "if_exists": if_exists}
        body = {"source": source, "outputs": [{"name": "a", "format": "webp", "destination": destination}, *extra]}
        return run(api, stack, body)

    overwritten = job("overwrite")
    skipped = job("skip")
    fresh = {"name": "b", "format": "png", "destination": {"bucket": "local-media", "key": f"{folder}fresh.png"}}
    failed = job("fail", [fresh])

    assert overwritten["status"] == "succeeded"
    assert fetch(stack, "local-media", f"{folder}over.webp")["ContentType"] == "image/webp"
    assert skipped["status"] == "succeeded"
    assert skipped["outputs"][0]["destination_status"] == "skipped"
    assert fetch(stack, "local-media", f"{folder}skip.webp")["data"] == b"someone else's"
    assert (failed["status"], failed["error"]["code"], failed["outputs"]) == ("failed", "destination_exists", [])
    assert f"s3://local-media/{folder}fail.webp already exists; nothing was written" in failed["error"]["message"]
    assert fetch(stack, "local-media", f"{folder}fail.webp")["data"] == b"someone else's"
    assert keys_under(stack, "local-media", f"{folder}fresh") == []  # the other output was not written either


def test_a_job_run_again_writes_over_its_own_earlier_objects_even_with_if_exists_fail(
    api: Client, stack: Stack, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a job whose second destination is taken by someone else while the first is written
    put(stack, "local-media", f"{folder}in.png", images.png(30, 20))
    first, second = f"{folder}first.png", f"{folder}second.png"
    real_put = buckets.put

    def racing(bucket: str, key: str, data: bytes, **options: Any) -> None:
        if key == second:
            put(stack, bucket, key, b"someone else's")
        real_put(bucket, key, data, **options)

    monkeypatch.setattr(buckets, "put", racing)
    body = {
        "source": {"s3": {"bucket": "local-media", "key": f"{folder}in.png"}},
        "outputs": [
            {
                "name": "one",
                "format": "png",
                "destination": {"bucket": "local-media", "key": first, "if_exists": "fail"},
            },
            {
                "name": "two",
                "format": "png",
                "destination": {"bucket": "local-media", "key": second, "if_exists": "fail"},
            },
        ],
    }
    failed = run(api, stack, body)
    monkeypatch.undo()

    # THEN it fails, saying what it had written, and reports no outputs
    assert (failed["status"], failed["error"]["code"], failed["outputs"]) == ("failed", "destination_exists", [])
    assert f"written before it: s3://local-media/{first}" in failed["error"]["message"]
    assert fetch(stack, "local-media", first)["Metadata"] == {buckets.JOB_METADATA: failed["id"]}

    # WHEN the other object is moved away and the job is retried
    stack.client("s3").delete_object(Bucket="local-media", Key=second)
    assert api.post(f"/jobs/{failed['id']}/retry", {}).status_code == 202
    drain(stack)
    retried = api.get(f"/jobs/{failed['id']}").json()

    # THEN its own first object does not count as "existing": both are written
    assert retried["status"] == "succeeded", retried["error"]
    assert [o["destination_status"] for o in retried["outputs"]] == ["written", "written"]
    assert images.size(fetch(stack, "local-media", second)["data"]) == (30, 20)


def test_a_write_s3_refuses_fails_the_job_with_destination_write_failed(api: Client, stack: Stack, folder: str) -> None:
    put(stack, "local-media", f"{folder}in.png", images.png(30, 20))
    stack.client("s3").delete_bucket(Bucket="vanishing")  # connected and granted, but gone
    try:
        job = run(
            api,
            stack,
            {
                "source": {"s3": {"bucket": "local-media", "key": f"{folder}in.png"}},
                "outputs": [
                    {"name": "ok", "format": "png", "destination": {"bucket": "local-media", "key": f"{folder}ok.png"}},
                    {"name": "lost", "format": "png", "destination": {"bucket": "vanishing", "key": "x.png"}},
                ],
            },
        )
    finally:
        stack.client("s3").create_bucket(Bucket="vanishing")

    assert (job["status"], job["error"]["code"], job["outputs"]) == ("failed", "destination_write_failed", [])
    assert job["error"]["message"] == (
        f"outputs[1].destination: S3 refused to write s3://vanishing/x.png (NoSuchBucket); "
        f"written before it: s3://local-media/{folder}ok.png"
    )


def test_destination_objects_outlive_the_job_deleted_or_expired(api: Client, stack: Stack, folder: str) -> None:
    put(stack, "local-media", f"{folder}in.png", images.png(30, 20))
    body = {"source": {"s3": {"bucket": "local-media", "key": f"{folder}in.png"}}}
    deleted = run(api, stack, {**body, "outputs": outputs("local-media", f"{folder}deleted.webp")})
    expired = run(api, stack, {**body, "outputs": outputs("local-media", f"{folder}expired.webp")})
    ours = stack.template.refs["Bucket"]

    assert api.request("DELETE", f"/jobs/{deleted['id']}").status_code == 204
    stack.client("dynamodb").update_item(
        TableName=stack.template.refs["Table"],
        Key={"pk": {"S": f"TENANT#{stack.tenant_id}"}, "sk": {"S": f"JOB#{expired['id']}"}},
        UpdateExpression="SET #ttl = :past",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    stack.ttl.sweep_once()

    for job in (deleted, expired):
        assert keys_under(stack, ours, f"outputs/{stack.tenant_id}/{job['id']}/") == []
    assert keys_under(stack, "local-media", folder) == [
        f"{folder}deleted.webp",
        f"{folder}expired.webp",
        f"{folder}in.png",
    ]


def test_a_batch_takes_s3_sources_and_names_the_job_of_a_refused_one(api: Client, stack: Stack, folder: str) -> None:
    for name in ("a", "b"):
        put(stack, "local-media", f"{folder}{name}.png", images.png(30, 20))
    jobs = [
        {"source": {"s3": {"bucket": "local-media", "key": f"{folder}{name}.png"}},
         "outputs": outputs("media", f"{folder}out/{{source_stem}}.{{ext}}")}
        for name in ("a", "b")
    ]  # fmt: skip

    refused = api.post("/batches", {"jobs": [jobs[0], {**jobs[1], "source": {"s3": {"bucket": "nope", "key": "b"}}}]})
    batch = api.post("/batches", {"jobs": jobs})
    drain(stack)

    assert refused.status_code == 422
    assert [d["path"] for d in refused.json()["error"]["details"]] == ["jobs[1].source.s3.bucket"]
    assert batch.status_code == 202
    assert keys_under(stack, "media", f"{folder}out/") == [f"{folder}out/a.webp", f"{folder}out/b.webp"]


# ---- keys refused when the job is made ------------------------------------------------------------

PNG_SOURCE = {"s3": {"bucket": "local-media", "key": "products/123.png"}}
KEY = "outputs[0].destination.key"


@pytest.mark.parametrize(
    ("body", "path", "says"),
    [
        ({"outputs": outputs("media", "x/{nope}")}, KEY, "unknown placeholder {nope}"),
        ({"outputs": outputs("media", "/x/{name}")}, KEY, "starts with /"),
        ({"outputs": outputs("media", "x/../{name}")}, KEY, ".. segment"),
        ({"outputs": outputs("media", "x/\u0000{name}")}, KEY, "control character"),
        ({"outputs": outputs("media", "{metadata.dir}/{name}"), "metadata": {"dir": ".."}}, KEY,
         "filled in, it has a .. segment"),
        ({"outputs": outputs("media", "{metadata.dir}/{name}"), "metadata": {"dir": "/a"}}, KEY,
         "filled in, it starts with /"),
        ({"outputs": outputs("media", "{metadata.dir}/{name}"), "metadata": {"dir": "a\tb"}},
         KEY, "filled in, it has a control character"),
        ({"outputs": outputs("media", "{metadata.dir}/{name}"), "metadata": {"dir": "d" * 1021}},
         KEY, "bytes long"),
        ({"outputs": outputs("media", "{metadata.dir}/{width}"), "metadata": {"dir": "d" * 1019}},
         KEY, "bytes long"),  # 1019 + "/" + 5 digits: too long at the widest allowed
        ({"outputs": outputs("media", "{metadata.dir}/{name}")}, KEY,
         "metadata has no string, number or boolean 'dir'"),
        ({"outputs": outputs("media", "{metadata.dir}/{name}"), "metadata": {"dir": ["a"]}},
         KEY, "metadata has no string, number or boolean 'dir'"),
        ({"outputs": outputs("media", "{source_dir}/{name}.{ext}")}, KEY,
         "filled in, it starts with /"),  # products/123.png has a directory; a root key has none: see below
        ({"source": {"url": "https://images.example.com/a.jpg"}, "outputs": outputs("media", "{source_stem}.webp")},
         KEY, "{source_stem} needs an s3 or upload source"),
        ({"source": {**PNG_SOURCE, "pages": "1-2"}, "outputs": outputs("media", "x.webp")},
         KEY, "the key needs {name}"),
        ({"outputs": [{"name": "a", "format": "png", "destination": {"bucket": "media", "key": "same.png"}},
                      {"name": "b", "format": "png", "destination": {"bucket": "media", "key": "same.png"}}]},
         "outputs[1].destination.key", "makes the same key as outputs[0].destination.key"),
        ({"outputs": [{"name": "a", "format": "png", "destination": {"bucket": "media", "key": "{width}.png"}},
                      {"name": "b", "format": "webp", "destination": {"bucket": "media", "key": "{width}.png"}}]},
         "outputs[1].destination.key", "makes the same key"),
        ({"outputs": [{"name": "a", "format": "png", "destination": {"bucket": "media", "key": "{metadata.n}.png"}},
                      {"name": "b", "format": "png", "destination": {"bucket": "media", "key": "7.{ext}"}}],
          "metadata": {"n": 7}}, "outputs[1].destination.key", "makes the same key"),
        ({"outputs": outputs("originals", "x/{name}")}, "outputs[0].destination.bucket",
         "no grant lets this tenant write this bucket"),
    ],
)  # fmt: skip
def test_a_bad_key_is_refused_when_the_job_is_made_naming_its_field(
    api: Client, body: dict[str, Any], path: str, says: str
) -> None:
    source = {"s3": {"bucket": "local-media", "key": "123.png"}} if "source_dir" in json.dumps(body) else PNG_SOURCE
    error = refusal(api, {"source": source, **body})

    assert [d["path"] for d in error["details"]] == [path]
    assert says in error["details"][0]["message"]


def test_keys_that_differ_by_their_name_or_differ_at_all_are_accepted(api: Client) -> None:
    body = {
        "source": PNG_SOURCE,
        "outputs": [
            {"name": "a", "format": "png", "destination": {"bucket": "media", "key": "{name}.{ext}"}},
            {"name": "b", "format": "png", "destination": {"bucket": "media", "key": "{name}.{ext}"}},
            {"name": "c", "format": "auto", "destination": {"bucket": "media", "key": "c/{width}.{ext}"}},
            {"name": "d", "format": "png", "destination": {"bucket": "local-media", "key": "a.png"}},
        ],
    }

    assert api.post("/jobs", body).status_code == 202


# ---- grants: who may reach what -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenants(stack: Stack) -> dict[str, Client]:
    """A owns media/a/ (read and write), B media/b/, R reads originals/r/ only, N has no grant."""
    return {
        "A": tenant(stack, ("s3://media/a/", "rw")),
        "B": tenant(stack, ("s3://media/b/", "rw")),
        "R": tenant(stack, ("s3://originals/r/", "r")),
        "N": tenant(stack),
    }


def read_body(bucket: str, key: str) -> dict[str, Any]:
    return {"source": {"s3": {"bucket": bucket, "key": key}}, "outputs": [{"name": "a", "format": "png"}]}


def write_body(bucket: str, key: str) -> dict[str, Any]:
    return {"source": {"url": "https://images.example.com/a.jpg"}, "outputs": outputs(bucket, key)}


@pytest.mark.parametrize("body", [read_body, write_body])
def test_a_tenant_reaching_another_tenants_prefix_is_told_what_a_bucket_that_does_not_exist_tells(
    tenants: dict[str, Client], body: Any
) -> None:
    field = "source.s3" if body is read_body else "outputs[0].destination"
    # N, with no grant on the bucket: A's prefix, an ungranted bucket, a bucket that does not exist: the same answer
    answers = [refusal(tenants["N"], body(bucket, key)) for bucket, key in
               (("media", "a/1.png"), ("local-media", "a/1.png"), ("no-such-bucket", "a/1.png"))]  # fmt: skip
    assert answers[0] == answers[1] == answers[2]
    assert [d["path"] for d in answers[0]["details"]] == [f"{field}.bucket"]
    # B, granted another prefix of the bucket: A's prefix is what a prefix where nothing exists is
    theirs, nowhere = refusal(tenants["B"], body("media", "a/1.png")), refusal(tenants["B"], body("media", "zz/1.png"))
    assert theirs == json.loads(json.dumps(nowhere).replace("zz/", "a/"))  # a message may quote the key asked for
    assert [d["path"] for d in theirs["details"]] == [f"{field}.key"]


def test_a_grant_gives_its_tenant_its_prefix_and_its_access_only(tenants: dict[str, Client], stack: Stack) -> None:
    put(stack, "media", "a/1.png", images.png(8, 8))
    put(stack, "originals", "r/1.png", images.png(8, 8))

    assert run(tenants["A"], stack, read_body("media", "a/1.png"))["status"] == "succeeded"
    assert run(tenants["R"], stack, read_body("originals", "r/1.png"))["status"] == "succeeded"
    assert [d["path"] for d in refusal(tenants["A"], read_body("media", "a"))["details"]] == ["source.s3.key"]
    assert [d["path"] for d in refusal(tenants["R"], write_body("originals", "r/x"))["details"]] == [
        "outputs[0].destination.bucket"
    ]
    # a key template's fixed part must lie under the prefix: "{metadata.x}/…" could go anywhere
    wild = {"source": {"s3": {"bucket": "media", "key": "a/1.png"}}, "outputs": outputs("media", "{name}/a/x.webp")}
    error = refusal(tenants["A"], wild)
    assert error["details"] == [
        {"path": "outputs[0].destination.key", "message": "no grant lets this tenant write under 'web/a/x.webp'"
         ", where this key starts"}
    ]  # fmt: skip
    under = {**wild, "outputs": outputs("media", "a/{name}/{width}.{ext}")}
    assert tenants["A"].post("/jobs", under).status_code == 202
    drain(stack)


def test_a_grant_revoked_before_the_job_runs_fails_it_with_not_granted(stack: Stack, folder: str) -> None:
    client = tenant(stack, ("s3://media/", "rw"))
    tenant_id = auth.authorize(client.key, None).tenant_id
    put(stack, "media", f"{folder}in.png", images.png(8, 8))
    created = client.post("/jobs", {**read_body("media", f"{folder}in.png"), "outputs": outputs("media", f"{folder}x")})
    assert created.status_code == 202

    grants.revoke(tenant_id, "s3://media/")
    drain(stack)

    job = client.get(f"/jobs/{created.json()['id']}").json()
    assert (job["status"], job["error"]["code"]) == ("failed", "not_granted")
    assert job["error"]["message"] == (
        f"source.s3: no grant lets this tenant read s3://media/{folder}in.png any longer"
    )


def test_grants_name_connected_buckets_and_a_read_only_one_for_reading(stack: Stack) -> None:
    made = accounts.create_tenant("grants")
    with pytest.raises(ImageJobsError, match="the stack may not read elsewhere: connect it first"):
        grants.add(made.id, "s3://elsewhere/", read=True, write=False)
    with pytest.raises(ImageJobsError, match="the stack may not write originals"):
        grants.add(made.id, "s3://originals/", read=True, write=True)
    with pytest.raises(ImageJobsError, match="give --read, --write or both"):
        grants.add(made.id, "s3://media/", read=False, write=False)
    assert grants.add(made.id, "s3://originals/x/", read=True, write=False).uri == "s3://originals/x/"
