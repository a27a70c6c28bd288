"""One reader module per kind of source, looked up by the sniffed format and imported on first use,
so that a job pays only for the codecs its source needs (pymupdf for a PDF, pillow-heif for a HEIC,
rawpy for a camera RAW).

Each module has `reader(fmt, data, dpi) -> Reader`, which reads the header and no pixels.
"""

from __future__ import annotations

from importlib import import_module

from imagejobs.engine.readers.base import Reader
from imagejobs.spec.formats import RAW_FORMATS

_MODULES = {
    "heic": "heif", "jxl": "jxl", "bmp": "pillow", "ico": "pillow", "pdf": "pdf", "svg": "svg",
    **dict.fromkeys(RAW_FORMATS, "raw"),
}  # fmt: skip
"""The reader module of each format that is not libvips' (vips, which hands the TIFFs it refuses to Pillow)."""


def open_reader(fmt: str, data: bytes, dpi: int | None) -> Reader:
    """A reader of `data`, which sniffing found to be `fmt`."""
    module = import_module(f"imagejobs.engine.readers.{_MODULES.get(fmt, 'vips')}")
    reader: Reader = module.reader(fmt, data, dpi)
    return reader
