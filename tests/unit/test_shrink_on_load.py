"""Shrink-on-load: a JPEG or WebP decoded at 1/2, 1/4 or 1/8 when every output starts with a resize.

Each test renders twice, on real pixels: as the engine does, and with shrink-on-load turned off
(`engine.decode_size` answering None, i.e. the whole source decoded as before). The outputs must be
the same size and look the same (SSIM); a spy on `source.decode` shows the decode really was shrunk.
The outputs compared are PNG: two lossy encodings of nearly equal images differ by more than the
decodes do (a WebP q80 of the same shrunk decode scores about 0.988 against the whole decode's).
"""

from __future__ import annotations

import io
from typing import Any

import pillow_heif
import pytest
from PIL import Image

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import Limits, Rendered, SourceInfo
from imagejobs.errors import TooManyPixelsError
from imagejobs.spec.outputs import Output
from tests import images
from tests.images import RED, near, pixel

LIMITS = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)
SIMILAR = 0.99


def output(name: str, fmt: str, *operations: dict[str, Any]) -> Output:
    return Output.model_validate({"name": name, "format": fmt, "operations": list(operations)})


def resize(**params: Any) -> dict[str, Any]:
    return {"type": "resize", **params}


def photo_jpeg(width: int, height: int, **params: Any) -> bytes:
    return images.encoded(images.photo_picture(width, height), "JPEG", quality=92, **params)


class Decodes:
    """The pages `source.decode` gave to the render they were made for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pages: list[engine.source.Page] = []
        decode = engine.source.decode
        monkeypatch.setattr(engine.source, "decode", lambda *args: self._kept(decode(*args)))

    def _kept(self, pages: list[engine.source.Page]) -> list[engine.source.Page]:
        self.pages = [*self.pages, *pages]
        return pages


def both_ways(
    monkeypatch: pytest.MonkeyPatch, data: bytes, *outputs: Output, limits: Limits = LIMITS
) -> tuple[tuple[SourceInfo, list[Rendered]], tuple[SourceInfo, list[Rendered]], Decodes]:
    """(as the engine renders, with the whole source decoded, the decodes of the first)."""
    decodes = Decodes(monkeypatch)
    shrunk = engine.render(data, outputs, limits, Deadline.unlimited())
    first = decodes.pages
    with monkeypatch.context() as whole:
        whole.setattr(engine, "decode_size", lambda *_: None)
        full = engine.render(data, outputs, limits, Deadline.unlimited())
    decodes.pages = first
    return shrunk, full, decodes


def assert_alike(shrunk: list[Rendered], full: list[Rendered]) -> None:
    for ours, reference in zip(shrunk, full, strict=True):
        assert (ours.name, ours.format, ours.width, ours.height) == (
            reference.name,
            reference.format,
            reference.width,
            reference.height,
        )
        assert images.size(ours.data) == (ours.width, ours.height)
        assert images.ssim(ours.data, reference.data) >= SIMILAR, ours.name


def test_a_jpeg_is_decoded_at_the_largest_shrink_every_output_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a 1600x1200 photo and outputs that scale it to at most 400x300 before their crops and padding
    outputs = (
        output("wide", "png", resize(width=400)),
        output("square", "png", resize(width=300, height=300, fit="cover"), {"type": "blur", "sigma": 1}),
        output("boxed", "png", resize(width=300, height=200, fit="contain", background="#fff")),
        output("backdrop", "png", resize(width=250, height=250, fit="blur_background")),
    )

    # WHEN it is rendered
    (info, shrunk), (_, full), decodes = both_ways(monkeypatch, photo_jpeg(1600, 1200), *outputs)

    # THEN it was decoded once, at a quarter (400x300: cover's 300x300 scales it to 400x300 first)
    [page] = decodes.pages
    assert page.shrunk
    assert (page.image.width, page.image.height) == (400, 300)
    # AND the source is reported at its own size, the outputs as from the whole decode
    assert (info.width, info.height) == (1600, 1200)
    assert [(r.width, r.height) for r in shrunk] == [(400, 300), (300, 300), (300, 200), (250, 250)]
    assert_alike(shrunk, full)


@pytest.mark.parametrize(
    ("width", "expected"),
    [(200, (200, 150)), (201, (400, 300)), (399, (400, 300)), (401, (800, 600)), (799, (800, 600)), (801, None)],
)
def test_the_shrink_keeps_the_decode_at_least_as_large_as_the_output(
    monkeypatch: pytest.MonkeyPatch, width: int, expected: tuple[int, int] | None
) -> None:
    (_, shrunk), (_, full), decodes = both_ways(
        monkeypatch, photo_jpeg(1600, 1200), output("out", "png", resize(width=width))
    )

    [page] = decodes.pages
    assert ((page.image.width, page.image.height) if page.shrunk else None) == expected
    assert_alike(shrunk, full)


def test_odd_sizes_round_as_from_the_whole_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a source whose sides do not divide by the shrink (libjpeg rounds the shrunk sides up)
    outputs = (
        output("a", "png", resize(width=203)),
        output("b", "png", resize(height=151, fit="inside")),
        output("c", "png", resize(width=190, height=97, fit="fill")),
        output("d", "png", resize(width="12.5%")),  # of the source's width, not of the shrunk decode's
    )

    (info, shrunk), (_, full), decodes = both_ways(monkeypatch, photo_jpeg(1603, 1197), *outputs)

    assert decodes.pages[0].shrunk
    assert (info.width, info.height) == (1603, 1197)
    assert [(r.width, r.height) for r in shrunk] == [(203, 152), (202, 151), (190, 97), (200, 149)]
    assert_alike(shrunk, full)


def test_an_exif_rotated_jpeg_is_shrunk_as_stored_and_turned_upright(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN quadrants stored 1600x1200 with orientation 6 (shown 1200x1600, turned 90° clockwise)
    data = images.exif_rotated_jpeg(1600, 1200, orientation=6)

    # WHEN it is scaled to 300 wide (300x400 upright)
    (info, [result]), (_, [reference]), decodes = both_ways(monkeypatch, data, output("out", "png", resize(width=300)))

    # THEN the stored 1600x1200 was decoded at a quarter and turned upright
    [page] = decodes.pages
    assert (page.image.width, page.image.height) == (300, 400)
    assert (info.width, info.height) == (1200, 1600)
    # AND the output is upright: red (stored top-left) is now top-right, blue (stored bottom-left) top-left
    assert (result.width, result.height) == (300, 400)
    assert near(pixel(result.data, 225, 100), images.RED)
    assert near(pixel(result.data, 75, 100), images.BLUE)
    assert near(pixel(result.data, 75, 300), images.WHITE)
    assert_alike([result], [reference])


def test_a_webp_is_decoded_scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    data = images.encoded(images.photo_picture(1600, 1200), "WEBP", quality=90)

    (_, shrunk), (_, full), decodes = both_ways(
        monkeypatch, data, output("a", "png", resize(width=400)), output("b", "png", resize(height=200))
    )

    [page] = decodes.pages
    assert (page.image.width, page.image.height) == (400, 300)
    assert_alike(shrunk, full)


def test_an_icc_profile_is_honoured_in_a_shrunk_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN red stored as CMYK with a profile
    (_, [result]), _, decodes = both_ways(
        monkeypatch, images.cmyk_jpeg(800, 800, RED), output("o", "png", resize(width=100))
    )

    assert decodes.pages[0].shrunk
    assert near(pixel(result.data, 50, 50), RED, tolerance=24)


@pytest.mark.parametrize(
    "operations",
    [
        pytest.param((), id="no-operations"),
        pytest.param(({"type": "crop", "width": 100, "height": 100}, resize(width=50)), id="crop-first"),
        pytest.param((resize(width=1200),), id="too-large-to-shrink"),
        pytest.param((resize(width=100, height=1000, fit="fill"),), id="one-side-too-large"),
    ],
)
def test_the_whole_source_is_decoded_unless_every_output_starts_with_a_resize_it_can_shrink_for(
    monkeypatch: pytest.MonkeyPatch, operations: tuple[dict[str, Any], ...]
) -> None:
    # GIVEN one output that shrink-on-load would serve and one that it would not
    outputs = (output("small", "jpeg", resize(width=100)), output("other", "png", *operations))

    (_, shrunk), (_, full), decodes = both_ways(monkeypatch, photo_jpeg(1600, 1200), *outputs)

    assert not decodes.pages[0].shrunk
    assert decodes.pages[0].image.width == 1600
    assert [r.data for r in shrunk] == [r.data for r in full]


def test_the_pixel_limit_is_on_the_whole_source_even_when_it_would_decode_shrunk() -> None:
    limits = Limits(max_source_pixels=1_000_000, max_output_dimension=16384)

    with pytest.raises(TooManyPixelsError, match="1600x1200"):
        engine.render(photo_jpeg(1600, 1200), [output("o", "jpeg", resize(width=100))], limits, Deadline.unlimited())


def test_an_animation_keeps_its_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    data = images.animated("WEBP", 400, 400, (images.RED, images.BLUE), (100, 200))

    (_, [result]), _, decodes = both_ways(monkeypatch, data, output("o", "webp", resize(width=50)))

    assert not decodes.pages[0].shrunk
    assert images.animation_of(result.data) == (2, [100, 200], 50)


def test_a_heic_is_decoded_from_pillow_heifs_buffer_with_its_alpha(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a HEIC with a transparent half, and Pillow's way out of pillow-heif closed
    picture = Image.new("RGBA", (64, 32), (*RED, 255))
    picture.paste((0, 0, 255, 0), (32, 0, 64, 32))
    data = images.encoded(picture, "HEIF", quality=100)

    def no_pillow(*_: object) -> None:
        raise AssertionError("to_pillow copies the pixels")

    monkeypatch.setattr(pillow_heif.HeifFile, "to_pillow", no_pillow)
    monkeypatch.setattr(pillow_heif.HeifImage, "to_pillow", no_pillow)

    # WHEN it is rendered as PNG
    _, [result] = engine.render(data, [output("o", "png")], LIMITS, Deadline.unlimited())

    # THEN the pixels and the transparency are there
    assert (result.width, result.height) == (64, 32)
    assert near(pixel(result.data, 8, 16), (*RED, 255))
    assert pixel(result.data, 56, 16)[3] == 0


def test_a_10_bit_heic_is_decoded_to_8_bits() -> None:
    # GIVEN a 10-bit HEIC of red (16-bit values written at 10 bits by pillow-heif)
    value = (65535).to_bytes(2, "little") + bytes(4)
    heif = pillow_heif.from_bytes(mode="RGB;16", size=(32, 16), data=value * 32 * 16)
    buffer = io.BytesIO()
    heif.save(buffer, quality=-1)

    _, [result] = engine.render(buffer.getvalue(), [output("o", "png")], LIMITS, Deadline.unlimited())

    assert near(pixel(result.data, 16, 8), RED)
