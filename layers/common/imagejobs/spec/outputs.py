"""An output: its name, its pipeline of operations, and how it is encoded.

Which encoding options apply to which format is the catalogue's (`formats.FORMATS[...].options`);
an option given a value other than its default for a format it does not apply to is refused,
naming the option.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, field_validator, model_validator

from imagejobs.spec import keys
from imagejobs.spec.formats import AUTO_CANDIDATES, FORMATS, AutoFormat, OutputFormat
from imagejobs.spec.operations import Operation, Strict

DEFAULT_MIN_SSIM = 0.98
"""`quality: "auto"` picks the lowest quality whose SSIM (on the luminance, at most 1024 pixels a side)
against the unencoded image is at least this."""

Effort = Literal["speed", "balanced", "quality"]
TiffCompression = Literal["none", "lzw", "deflate", "packbits", "jpeg", "webp"]
_TIFF_LOSSY = ("jpeg", "webp")
_PAGE_SUFFIX = re.compile(r"-p\d+$")
_OPTIONS = (
    "quality", "min_ssim", "lossless", "progressive", "effort", "max_bytes", "keep_metadata",
    "colors", "dither", "compression", "sizes", "accept",
)  # fmt: skip


IfExists = Literal["overwrite", "skip", "fail"]


class Destination(Strict):
    """Where in a connected bucket the output is also written. That object is yours: the job's
    expiry and `DELETE` never touch it."""

    bucket: str = Field(
        pattern=keys.BUCKET_PATTERN,
        description="A bucket the deployer connected (`ConnectedBuckets`) and granted your tenant write on.",
        examples=["media"],
    )
    key: str = Field(
        min_length=1,
        max_length=keys.MAX_KEY_BYTES,
        description="The object's key: a template of `{job_id}`, `{name}`, `{ext}`, `{width}`, `{height}`, "
        "`{source_key}`, `{source_stem}`, `{source_dir}` and `{metadata.<field>}`. Filled in, it may not start with "
        "`/`, have a `..` segment or a control character, or be over 1024 bytes; two outputs of a job may not "
        "make the same key.",
        examples=["products/{source_stem}/{name}.{ext}"],
    )
    cache_control: str | None = Field(
        default=None,
        max_length=1024,
        pattern=r"^[\x20-\x7e]+$",
        description="The object's Cache-Control header.",
        examples=["public, max-age=31536000, immutable"],
    )
    if_exists: IfExists = Field(
        default="overwrite",
        description="When another object is already at the key: `overwrite` it, `skip` writing this output there "
        "(it says `destination_status: skipped`), or `fail` the job with `destination_exists` before any "
        "destination is written. An object this job wrote on an earlier attempt is always written over.",
    )

    @field_validator("key")
    @classmethod
    def _template(cls, value: str) -> str:
        keys.KeyTemplate.parse(value)
        return value


class Output(Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Unique in the job. When the source selects several pages, each page gives an output named "
        "`<name>-p<page>` (`thumb-p2` for page 2), so names may not end in `-p` and digits.",
    )
    format: OutputFormat = Field(
        description="See GET /v1/formats; `auto` picks the smallest of avif, webp, jpeg (or of the formats in "
        "`accept`)."
    )
    quality: Annotated[int, Field(ge=1, le=100)] | Literal["auto"] | None = Field(
        default=None,
        description="1-100 (default per format, see GET /v1/formats), or `auto`: the lowest quality whose "
        f"SSIM against the unencoded image stays at least `min_ssim` (default {DEFAULT_MIN_SSIM}).",
    )
    min_ssim: float | None = Field(
        default=None, ge=0.5, le=1.0, description="With `quality: auto`: the similarity to keep."
    )
    lossless: bool = Field(
        default=False,
        description="webp, avif, heic, jxl: no loss; pdf: the image stored losslessly. jxl from a JPEG source with no "
        "operations and `keep_metadata`: the JPEG file itself recompressed (typically 20 % smaller), from which "
        "`djxl` rebuilds it byte for byte.",
    )
    progressive: bool = Field(default=False, description="Progressive JPEG, interlaced PNG or GIF.")
    effort: Effort = Field(
        default="balanced", description="CPU spent on compression: `speed` is fastest, `quality` compresses best."
    )
    max_bytes: int | None = Field(
        default=None,
        ge=100,
        description="At most this many bytes: the highest quality (up to `quality`) that fits; the job fails with "
        "`target_size_unreachable` when even quality 1 does not.",
    )
    keep_metadata: bool = Field(
        default=False,
        description="Keep the source's EXIF, XMP and IPTC (orientation reset: pixels are upright) and tag the "
        "output sRGB. By default all metadata is stripped.",
    )
    colors: int | None = Field(
        default=None,
        ge=2,
        le=256,
        description="GIF palette size; rounded down to a power of two (the quantiser works in bits per pixel).",
    )
    dither: float | None = Field(default=None, ge=0, le=1, description="GIF dithering, 0 (none) to 1 (default).")
    compression: TiffCompression | None = Field(default=None, description="TIFF compression (default lzw).")
    sizes: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="ICO: the icon sizes (square, 1-256 pixels); the image is fitted into each. Default 16, 32, 48.",
    )
    accept: list[AutoFormat] | None = Field(
        default=None,
        min_length=1,
        max_length=4,
        description=f"`auto` only: the formats the client can display (as its Accept header says), of "
        f"avif, webp, jpeg, jxl; `auto` picks the smallest of them the image allows. Default "
        f"{', '.join(AUTO_CANDIDATES)}: jxl is tried only when named here.",
        examples=[["jxl", "avif", "webp", "jpeg"]],
    )
    operations: list[Operation] = Field(default_factory=list, max_length=20)
    destination: Destination | None = Field(
        default=None, description="Also write the output to a connected bucket (besides the download link)."
    )

    @field_validator("quality", mode="wrap")
    @classmethod
    def _one_quality_error(cls, value: object, handler: ValidatorFunctionWrapHandler) -> int | str | None:
        try:
            return handler(value)
        except ValidationError as error:
            raise ValueError('must be an integer from 1 to 100 or "auto"') from error

    @field_validator("name")
    @classmethod
    def _not_a_page_name(cls, value: str) -> str:
        if _PAGE_SUFFIX.search(value):
            raise ValueError("may not end in -p and digits: those names are for the pages of multi-page sources")
        return value

    @field_validator("sizes")
    @classmethod
    def _icon_sizes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            if not all(1 <= side <= 256 for side in value):
                raise ValueError("each size is 1 to 256 pixels")
            return sorted(set(value))
        return value

    @field_validator("accept")
    @classmethod
    def _each_once(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("names each format once")
        return value

    @model_validator(mode="after")
    def _options_fit_the_format(self) -> Output:
        options = FORMATS[self.format].options
        for field in _OPTIONS:
            self._check_applies(field, options)
        if self.quality == "auto" and "min_ssim" not in options:
            raise ValueError(f"`quality` auto is not available for {self.format}; give 1-100")
        if self.min_ssim is not None and self.quality != "auto":
            raise ValueError('`min_ssim` goes with `quality: "auto"`')
        if self.lossless and (self.quality is not None or self.max_bytes is not None):
            raise ValueError("`lossless` excludes `quality` and `max_bytes`")
        if self.format == "tiff" and self.quality is not None and self.compression not in _TIFF_LOSSY:
            raise ValueError("`quality` applies to tiff with `compression` jpeg or webp")
        return self

    def _check_applies(self, field: str, options: tuple[str, ...]) -> None:
        if getattr(self, field) != type(self).model_fields[field].default and field not in options:
            allowed = ", ".join(options) or "none"
            raise ValueError(f"`{field}` is not an option of {self.format} outputs (its options: {allowed})")
