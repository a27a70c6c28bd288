"""What a client may send: the bodies of POST /v1/uploads, /v1/jobs and /v1/batches."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from imagejobs.spec import keys, presets
from imagejobs.spec.formats import INPUT_CONTENT_TYPES, page_ranges
from imagejobs.spec.operations import Strict
from imagejobs.spec.outputs import Output

ContentType = Annotated[str, Field(json_schema_extra={"enum": sorted(INPUT_CONTENT_TYPES)})]
METADATA_MAX_DEPTH = 8


def _shallow(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata nested at most METADATA_MAX_DEPTH deep (the object itself is the first level), level by level."""
    level: list[Any] = [metadata]
    for _ in range(METADATA_MAX_DEPTH):
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
    if level:
        raise ValueError(f"nests objects and arrays more than {METADATA_MAX_DEPTH} levels deep")
    return metadata


# Echoed in the job, its events and callbacks: at most 2 KB as JSON (services.creation checks it).
Metadata = Annotated[dict[str, Any], AfterValidator(_shallow)]


class UploadRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"filename": "photo.heic", "content_type": "image/heic", "size_bytes": 2140000}]
        },
    )

    filename: str = Field(min_length=1, max_length=255)
    content_type: ContentType
    size_bytes: int | None = Field(default=None, ge=1)

    @field_validator("content_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value.lower() not in INPUT_CONTENT_TYPES:
            raise ValueError(f"must be one of {', '.join(sorted(INPUT_CONTENT_TYPES))}")
        return value.lower()


class S3Source(Strict):
    """An object in a bucket the deployer connected and granted your tenant read on."""

    bucket: str = Field(pattern=keys.BUCKET_PATTERN, examples=["media"])
    key: str = Field(min_length=1, max_length=keys.MAX_KEY_BYTES, examples=["products/123.heic"])
    version_id: str | None = Field(
        default=None, min_length=1, max_length=1024, description="A version of the object; default the latest."
    )

    @field_validator("key")
    @classmethod
    def _s3_key(cls, value: str) -> str:
        if len(value.encode()) > keys.MAX_KEY_BYTES:
            raise ValueError(f"S3 keys are at most {keys.MAX_KEY_BYTES} bytes (UTF-8)")
        return value


class Source(Strict):
    """Exactly one of: an earlier upload, a new upload the job waits for, a URL to fetch, or an
    object in a connected bucket."""

    upload_id: str | None = Field(default=None, pattern=r"^upl_[0-9A-Z]{26}$")
    upload: UploadRequest | None = None
    url: str | None = Field(
        default=None,
        max_length=2048,
        description="An https URL the service fetches: at most 5 redirects, each to a public address, and no "
        "more bytes than an upload may have. Failures end the job with `source_fetch_failed`.",
    )
    s3: S3Source | None = Field(
        default=None,
        description="Read by the service from a connected bucket, under the same size and pixel limits as an "
        "upload. A missing object (or version) fails the job with `source_not_found`.",
    )
    pages: str | None = Field(
        default=None,
        max_length=200,
        examples=["1-3,5", "2-"],
        description="Pages of a PDF or multi-page TIFF, 1-based, like `1-3,5` or `2-` (to the last page); "
        "default the first page. Each selected page gives each output once, named `<output>-p<page>` when "
        "several pages are selected. A page the source does not have fails the job with `source_not_found`. "
        "Animation frames are not pages: animated GIF and WebP keep them all.",
    )
    dpi: int | None = Field(
        default=None,
        ge=36,
        le=600,
        description="Resolution to render PDF pages (default 150, lowered when the pages would exceed the pixel "
        "limit) and SVG (default 72: its own size) at.",
    )

    @field_validator("pages")
    @classmethod
    def _page_ranges(cls, value: str | None) -> str | None:
        if value is not None:
            page_ranges(value)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if [self.upload_id, self.upload, self.url, self.s3].count(None) != 3:
            raise ValueError("give exactly one of upload_id, upload, url or s3")
        return self


class AnalysisRequest(Strict):
    """What `analysis` asks for beyond its defaults; `"analysis": true` is `{}`."""

    gps: bool = Field(
        default=False,
        description="Also the GPS position the source's EXIF records (`analysis.gps`). It is personal data: asked "
        "for here, shown in the job, its events and callbacks, and never in the outputs unless they `keep_metadata`.",
    )


def analysis_options(value: bool | AnalysisRequest | None) -> AnalysisRequest | None:
    """`analysis` as given (true, false, an object) as the options it asks for: None for none."""
    if isinstance(value, AnalysisRequest):
        return value
    return AnalysisRequest() if value else None


def _known_preset(value: str) -> str:
    if value not in presets.NAMES:
        raise ValueError(f"must be one of {', '.join(presets.NAMES)}")
    return value


PresetName = Annotated[str, Field(json_schema_extra={"enum": list(presets.NAMES)}), AfterValidator(_known_preset)]


class JobRequest(Strict):
    """Give exactly one of `outputs` or `preset`: a preset is expanded into its outputs when the job is created."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": {"upload_id": "upl_01JD4W3ZP8Q6S2KX7Y0M9N5B1C"},
                    "outputs": [
                        {
                            "name": "thumb",
                            "format": "webp",
                            "quality": 80,
                            "operations": [{"type": "resize", "width": 400, "height": 400, "position": "attention"}],
                        },
                        {
                            "name": "print",
                            "format": "jpeg",
                            "max_bytes": 153600,
                            "operations": [{"type": "rotate", "angle": 90}, {"type": "text", "text": "© ACME"}],
                        },
                    ],
                    "callback_url": "https://example.com/hooks/images",
                    "metadata": {"order": "1234"},
                    "ttl_seconds": 86400,
                },
                {"source": {"url": "https://images.example.com/a.jpg"}, "preset": "responsive", "analysis": True},
                {
                    "source": {"s3": {"bucket": "media", "key": "products/123.heic"}},
                    "outputs": [
                        {
                            "name": "thumb",
                            "format": "webp",
                            "operations": [{"type": "resize", "width": 400}],
                            "destination": {
                                "bucket": "media",
                                "key": "{source_dir}/thumbs/{source_stem}-{width}w.{ext}",
                                "cache_control": "public, max-age=31536000, immutable",
                            },
                        }
                    ],
                },
            ]
        },
    )

    source: Source
    outputs: list[Output] = Field(default_factory=list, max_length=10, description="1 to 10 outputs; or a `preset`.")
    preset: PresetName | None = Field(default=None, description="A preset's outputs instead (GET /v1/presets).")
    callback_url: str | None = Field(default=None, max_length=2048)
    metadata: Metadata = Field(default_factory=dict)
    ttl_seconds: int = Field(default=86400, ge=300, le=604800)
    analysis: bool | AnalysisRequest = Field(
        default=False,
        description="`true` (or an object, to ask for more) adds `analysis` to the job document once it has "
        "succeeded: dominant colours, BlurHash and ThumbHash placeholders, EXIF camera and capture time, alpha and "
        'animation, from the decode the outputs are made from. GPS only with `{"gps": true}`.',
    )

    @model_validator(mode="after")
    def _unique_names(self) -> JobRequest:
        names = [output.name for output in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError("output names must be unique")
        return self


MAX_BATCH_JOBS = 100
MAX_SUFFIXES = 20


class PrefixSource(Strict):
    """Every object under a prefix of a bucket the deployer connected and granted your tenant read on."""

    bucket: str = Field(pattern=keys.BUCKET_PATTERN, examples=["media"])
    prefix: str = Field(
        default="",
        max_length=keys.MAX_KEY_BYTES,
        examples=["products/"],
        description="Keys starting with it (S3's own prefix match: `products/` but not `products-old/`); "
        "empty for the whole bucket.",
    )
    suffixes: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SUFFIXES,
        examples=[[".jpg", ".jpeg", ".png"]],
        description="Only keys ending with one of these, compared without case (`.JPG` matches `.jpg`); "
        "default every key but folder markers (keys ending with `/`).",
    )

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if len(value.encode()) > keys.MAX_KEY_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError(f"at most {keys.MAX_KEY_BYTES} bytes (UTF-8), no control characters")
        return value

    @field_validator("suffixes")
    @classmethod
    def _suffixes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for suffix in value:
            if not 1 <= len(suffix) <= 32 or "/" in suffix or any(ord(c) < 32 or ord(c) == 127 for c in suffix):
                raise ValueError("each suffix is 1 to 32 characters, with no / and no control characters")
        return sorted({suffix.lower() for suffix in value})

    def matches(self, key: str) -> bool:
        """Whether the listed key is one the batch makes a job of."""
        if key.endswith("/"):
            return False
        return self.suffixes is None or key.lower().endswith(tuple(self.suffixes))


class BatchSource(Strict):
    s3_prefix: PrefixSource


class BatchRequest(Strict):
    """Either `jobs` (up to 100 job bodies) or a prefix batch: `source.s3_prefix` and the `outputs` (or
    `preset`) every object under it gets, one job per object, `{source_key}` and its kin in the
    destinations' keys naming each."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "jobs": [
                        {"source": {"upload_id": "upl_01JD4W3ZP8Q6S2KX7Y0M9N5B1C"}, "preset": "og-image"},
                        {"source": {"url": "https://images.example.com/b.jpg"}, "preset": "og-image"},
                    ],
                    "callback_url": "https://example.com/hooks/batches",
                },
                {
                    "source": {"s3_prefix": {"bucket": "media", "prefix": "products/", "suffixes": [".jpg", ".png"]}},
                    "outputs": [
                        {
                            "name": "thumb",
                            "format": "webp",
                            "operations": [{"type": "resize", "width": 400}],
                            "destination": {"bucket": "media", "key": "thumbs/{source_key}.{ext}"},
                        }
                    ],
                    "callback_url": "https://example.com/hooks/batches",
                },
            ]
        },
    )

    jobs: list[JobRequest] | None = Field(
        default=None, min_length=1, max_length=MAX_BATCH_JOBS, description="Up to 100 jobs; or a `source`."
    )
    source: BatchSource | None = Field(
        default=None,
        description="Instead of `jobs`: one job per object under a prefix of a connected bucket.",
    )
    outputs: list[Output] = Field(
        default_factory=list, max_length=10, description="With `source`: each object's outputs; or a `preset`."
    )
    preset: PresetName | None = Field(default=None, description="With `source`: a preset's outputs instead.")
    ttl_seconds: int = Field(default=86400, ge=300, le=604800, description="With `source`: each job's.")
    callback_url: str | None = Field(
        default=None, max_length=2048, description="Receives `batch.completed` once every job has ended."
    )
    metadata: Metadata = Field(default_factory=dict)

    @field_validator("source")
    @classmethod
    def _one_kind(cls, value: BatchSource | None, info: ValidationInfo) -> BatchSource | None:
        if value is not None and info.data.get("jobs") is not None:
            raise ValueError("give jobs, or a source (s3_prefix) with outputs or a preset, not both")
        return value

    @model_validator(mode="after")
    def _prefix_only(self) -> BatchRequest:
        if self.jobs is None and self.source is None:
            raise ValueError("give jobs, or a source (s3_prefix) with outputs or a preset")
        given = self.model_fields_set & {"outputs", "preset", "ttl_seconds"}
        if self.jobs is not None and given:
            raise ValueError(f"{', '.join(sorted(given))}: each job gives its own; only a prefix batch takes them")
        names = [output.name for output in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError("output names must be unique")
        return self

    def job(self, key: str) -> JobRequest:
        """The job a prefix batch makes of one object."""
        if self.source is None:
            raise ValueError("a batch of listed jobs makes no job of a key")
        prefix = self.source.s3_prefix
        body: dict[str, Any] = {
            "source": {"s3": {"bucket": prefix.bucket, "key": key}},
            "metadata": self.metadata,
            "ttl_seconds": self.ttl_seconds,
        }
        if self.preset is not None:
            body["preset"] = self.preset
        else:
            body["outputs"] = self.outputs
        return JobRequest.model_validate(body)
