"""PDF out with pymupdf, which only PDF outputs load."""

from __future__ import annotations

import pymupdf


def write_pdf(image_data: bytes, width: int, height: int) -> bytes:
    """One page of width x height points (one point per pixel) showing an encoded JPEG or PNG; no metadata."""
    document = pymupdf.open()
    page = document.new_page(width=width, height=height)
    page.insert_image(page.rect, stream=image_data)
    return document.tobytes(garbage=3, deflate=True)
