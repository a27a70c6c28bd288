"""PDF pages rendered with pymupdf, which only PDF sources load: read here, drawn in a child process (`vector`)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pymupdf
import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine.readers import vector
from imagejobs.engine.readers.base import Reader
from imagejobs.errors import CorruptImageError, UnsupportedFormatError

DEFAULT_DPI = 150
_POINTS_PER_INCH = 72


class PdfReader(Reader):
    """Pages rendered at `dpi` on white; without a `dpi`, at 150 or lower if the pages would not fit the limit."""

    bands = 3  # drawn on white

    def __init__(self, data: bytes, dpi: int | None) -> None:
        self._data = data
        try:
            self._document = pymupdf.open(stream=data, filetype="pdf")
        except pymupdf.FileDataError as error:
            raise CorruptImageError("the pdf cannot be read") from error
        if self._document.needs_pass:
            raise UnsupportedFormatError("the pdf is password-protected")
        self.page_count = self._document.page_count
        if self.page_count == 0:
            raise CorruptImageError("the pdf has no pages")
        self._dpi: float = dpi or DEFAULT_DPI
        self._chosen = dpi is not None

    def fit(self, indices: list[int], max_pixels: int) -> None:
        if self._chosen:
            return
        points = sum(self._page(index).rect.width * self._page(index).rect.height for index in indices)
        fitting = _POINTS_PER_INCH * math.sqrt(max_pixels / points) if points else DEFAULT_DPI
        self._dpi = min(DEFAULT_DPI, math.floor(fitting * 100) / 100)

    def size(self, index: int) -> tuple[int, int]:
        box = (self._page(index).rect * self._matrix).irect
        return box.width, box.height

    def load(self, index: int) -> pyvips.Image:
        [page] = self.load_pages([index], Deadline.unlimited())
        return page

    def load_pages(self, indices: list[int], deadline: Deadline) -> Iterator[pyvips.Image]:
        """The pages drawn by MuPDF in a child process, which the deadline stops."""
        return vector.draw("pdf", self._data, {"dpi": self._dpi, "pages": indices}, deadline)

    @property
    def _matrix(self) -> pymupdf.Matrix:
        return pymupdf.Matrix(self._dpi / _POINTS_PER_INCH, self._dpi / _POINTS_PER_INCH)

    def _page(self, index: int) -> pymupdf.Page:
        try:
            return self._document.load_page(index)
        except (RuntimeError, pymupdf.mupdf.FzErrorBase) as error:  # pymupdf's own and MuPDF's
            raise CorruptImageError(f"page {index + 1} of the pdf cannot be read") from error


def reader(fmt: str, data: bytes, dpi: int | None) -> PdfReader:
    return PdfReader(data, dpi)
