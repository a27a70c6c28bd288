"""What every reader is: a source whose header is read and whose pixels are not, yet."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pyvips

if TYPE_CHECKING:
    from PIL import Image

    from imagejobs.deadline import Deadline

type Size = tuple[int, int]


class Reader(ABC):
    """A source whose header is read and whose pixels are not, yet."""

    page_count = 1
    frames = 1  # animation frames, the same for every page
    bands = 4  # of the decoded pixels: 3 (sRGB) or 4 (with alpha); 4 unless the header tells
    embedded_pixels = 0  # of the images the source embeds, decoded with it (an SVG's rasters)

    @abstractmethod
    def size(self, index: int) -> tuple[int, int]:
        """The width and height of one frame of page `index` (0-based), from the header."""

    @abstractmethod
    def load(self, index: int) -> pyvips.Image:
        """Page `index` decoded: every frame, in whatever colour space and depth the source has."""

    def load_pages(self, indices: list[int], deadline: Deadline) -> Iterator[pyvips.Image]:
        """Each of those pages `load`ed in turn, the deadline checked before each."""
        for index in indices:
            deadline.check(f"decode page {index + 1}")
            yield self.load(index)

    def fit(self, indices: list[int], max_pixels: int) -> None:  # noqa: B027 - a hook only documents fill in
        """Lowers a resolution the client did not ask for, so that the pages fit the pixel limit."""

    def upright_size(self, index: int) -> Size:
        """`size` once the EXIF orientation is applied (decoding turns the pixels upright)."""
        return self.size(index)

    def load_shrunk(self, index: int, at_least: Size) -> pyvips.Image | None:
        """Page `index` decoded smaller, still at least `at_least` (upright) each side; None if it cannot be."""
        return None

    def exif(self, index: int) -> bytes | None:
        """Page `index`'s EXIF block as the codec found it (read with the header), or None."""
        return None


def from_pillow(picture: Image.Image) -> pyvips.Image:
    """A Pillow image as an sRGB libvips image (RGB, or RGBA if it has transparency), its ICC profile kept."""
    if picture.mode.startswith("I;16"):  # 16-bit grey: Pillow's own conversion would clip it, not scale it
        picture = picture.convert("I").point(lambda value: value / 256).convert("L")
    if picture.mode not in ("RGB", "RGBA"):
        picture = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
    image = pyvips.Image.new_from_memory(
        picture.tobytes(), picture.width, picture.height, len(picture.mode), "uchar"
    ).copy(interpretation="srgb")
    if icc := picture.info.get("icc_profile"):
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    return image


@contextmanager
def quiet_bombs() -> Iterator[None]:
    """Pillow warns above its own pixel limit; ours is checked on the header right after."""
    from PIL import Image  # noqa: PLC0415 - Pillow is imported only by the formats that need it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield
