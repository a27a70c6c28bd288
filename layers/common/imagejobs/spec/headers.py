"""What a file's header declares, read from its bytes with no codec.

- `raw_kind`: whether a TIFF-structured file is a camera RAW (a DNG, or a sensor's colour filter
  array) rather than a picture, and of which camera family; a NEF or a DNG starts like any TIFF, and
  a TIFF reader would give its small preview instead.
- `declared_size`: the width and height a header states, so that a source over the pixel limit is
  refused as such (`too_many_pixels`) even when its codec will not open a header that large.
- `jxl_size`: a JPEG XL codestream's size header, which the JPEG XL decoder only gives with the pixels.

Every reader here is bounded: it looks at a fixed number of structures, never past the bytes given.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

type Size = tuple[int, int]

# TIFF tags and values
_WIDTH, _LENGTH, _PHOTOMETRIC, _MAKE, _SUBIFDS, _DNG_VERSION = 256, 257, 262, 271, 330, 50706
_SENSOR_PHOTOMETRICS = {32803, 34892}  # CFA (a Bayer or X-Trans mosaic), LinearRaw
_MAX_IFDS = 32
_TYPE_SIZES = {1: "B", 2: "s", 3: "H", 4: "I", 16: "Q"}  # BYTE, ASCII, SHORT, LONG, LONG8
# Camera makers (the Make tag of a sensor's TIFF) whose RAW has a format of its own in the catalogue.
_MAKERS = {"NIKON": "nef", "SONY": "arw", "PENTAX": "pef", "RICOH": "pef", "SAMSUNG": "srw", "CANON": "cr2"}


def tiff_ifds(data: bytes) -> Iterator[dict[int, tuple[int | bytes, ...]]]:
    """The image file directories of a TIFF-structured file (the chain from IFD0, and their SubIFDs).

    Each is {tag: values} for the tags whose values are numbers or text; out-of-range offsets end the walk.
    """
    order = "<" if data[:2] == b"II" else ">"
    pending, seen = [_unpack(order, "I", data, 4)], set[int]()
    while pending and len(seen) < _MAX_IFDS:
        offset = pending.pop(0)
        if not offset or offset in seen or offset + 2 > len(data):
            continue
        seen.add(offset)
        count = _unpack(order, "H", data, offset)
        entries: dict[int, tuple[int | bytes, ...]] = {}
        for index in range(min(count, 512)):
            entry = offset + 2 + 12 * index
            if entry + 12 > len(data):
                break
            tag, kind, number = struct.unpack_from(order + "HHI", data, entry)
            if (code := _TYPE_SIZES.get(kind)) is not None and number <= 1024:
                entries[tag] = _values(order, code, number, data, entry + 8)
        yield entries
        pending.append(_unpack(order, "I", data, offset + 2 + 12 * count))
        pending.extend(value for value in entries.get(_SUBIFDS, ()) if isinstance(value, int))


def _values(order: str, code: str, number: int, data: bytes, field: int) -> tuple[int | bytes, ...]:
    size = struct.calcsize(code) * number
    start = field if size <= 4 else _unpack(order, "I", data, field)
    if start + size > len(data):
        return ()
    if code == "s":
        return (data[start : start + size].rstrip(b"\0"),)
    return struct.unpack_from(f"{order}{number}{code}", data, start)


def _unpack(order: str, code: str, data: bytes, offset: int) -> int:
    size = struct.calcsize(code)
    return int(struct.unpack_from(order + code, data, offset)[0]) if offset + size <= len(data) else 0


def raw_kind(data: bytes) -> str | None:
    """The camera RAW format of a file that starts like a TIFF, or None for a TIFF picture.

    cr2 by its own signature, dng by its DNGVersion tag, and the other TIFF-based RAWs (nef, arw, pef,
    srw, …) by a directory holding sensor data (a colour filter array or linear raw), named by the maker.
    """
    if data[8:10] == b"CR":
        return "cr2"
    ifds = list(tiff_ifds(data))
    if any(_DNG_VERSION in ifd for ifd in ifds):
        return "dng"
    if not any(_number(ifd, _PHOTOMETRIC) in _SENSOR_PHOTOMETRICS for ifd in ifds):
        return None
    make = ifds[0].get(_MAKE, (b"",))[0] if ifds and ifds[0].get(_MAKE) else b""
    name = make.decode("latin-1").strip().upper() if isinstance(make, bytes) else ""
    return next((kind for maker, kind in _MAKERS.items() if name.startswith(maker)), "raw")


def declared_size(fmt: str, data: bytes) -> Size | None:  # noqa: PLR0911 (a return per format reads best)
    """The largest width and height the header of `data`, sniffed as `fmt`, declares; None if it cannot tell."""
    if fmt == "png" and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack_from(">II", data, 16)
    if fmt == "gif" and len(data) >= 10:
        return struct.unpack_from("<HH", data, 6)
    if fmt == "bmp" and len(data) >= 26:
        if data[14] == 12:  # OS/2 core header: 16-bit sizes
            return struct.unpack_from("<HH", data, 18)
        width, height = struct.unpack_from("<ii", data, 18)
        return abs(width), abs(height)
    if fmt == "jpeg":
        return _jpeg_size(data)
    if fmt == "webp":
        return _webp_size(data)
    if fmt in ("heic", "avif"):
        return _largest_ispe(data)
    if fmt == "jxl":
        return jxl_size(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):  # tiff and the TIFF-based RAWs
        sizes = [(_number(ifd, _WIDTH) or 0, _number(ifd, _LENGTH) or 0) for ifd in tiff_ifds(data)]
        return max(sizes, key=_area, default=None)
    return None


def _number(ifd: dict[int, tuple[int | bytes, ...]], tag: int) -> int | None:
    value = ifd.get(tag, (None,))[0] if ifd.get(tag) else None
    return value if isinstance(value, int) else None


def _area(size: Size) -> int:
    return size[0] * size[1]


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> Size | None:
    offset = 2
    while offset + 9 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker in _SOF:
            height, width = struct.unpack_from(">HH", data, offset + 5)
            return width, height
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            offset += 1 if marker == 0xFF else 2
            continue
        offset += 2 + struct.unpack_from(">H", data, offset + 2)[0]
    return None


def _webp_size(data: bytes) -> Size | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _largest_ispe(data: bytes) -> Size | None:
    """The largest `ispe` (image spatial extents) property of a HEIF file's items."""
    sizes: list[Size] = []
    start = 0
    while (at := data.find(b"ispe", start, 1 << 20)) != -1 and len(sizes) < 256:
        if at + 16 <= len(data):
            sizes.append(struct.unpack_from(">II", data, at + 8))
        start = at + 4
    return max(sizes, key=_area, default=None)


# ---- JPEG XL ------------------------------------------------------------------------------------

JXL_CODESTREAM = b"\xff\x0a"
JXL_CONTAINER = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_JXL_SIZE_BITS = (9, 13, 18, 30)


def jxl_size(data: bytes) -> Size | None:
    """The width and height in a JPEG XL codestream's SizeHeader (bare, or in the ISO BMFF container)."""
    stream = _jxl_codestream(data)
    if not stream.startswith(JXL_CODESTREAM):
        return None
    bits = _Bits(stream, 16)
    try:
        small = bits.read(1)
        height = bits.size(small)
        ratio = bits.read(3)
        if ratio:
            numerator, denominator = _JXL_RATIOS[ratio]
            return height * numerator // denominator, height
        return bits.size(small), height
    except IndexError:  # the header is cut short
        return None


def _jxl_codestream(data: bytes) -> bytes:
    """The start of the codestream: the file itself, or the container's `jxlc` box or first `jxlp` boxes."""
    if not data.startswith(JXL_CONTAINER):
        return data
    offset, parts = len(JXL_CONTAINER), b""
    while offset + 8 <= len(data) and len(parts) < 64:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1 and offset + 16 <= len(data):
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < header:
            break
        if kind == b"jxlc":
            return data[offset + header : offset + size]
        if kind == b"jxlp":  # a part of the codestream, after its 4-byte index
            parts += data[offset + header + 4 : offset + size]
        offset += size
    return parts


class _Bits:
    """JPEG XL's bit reader: least significant bit first."""

    def __init__(self, data: bytes, position: int) -> None:
        self._data, self._position = data, position

    def read(self, count: int) -> int:
        value = 0
        for index in range(count):
            value |= ((self._data[self._position >> 3] >> (self._position & 7)) & 1) << index
            self._position += 1
        return value

    def size(self, small: int) -> int:
        """One side of a SizeHeader: in multiples of 8 when small, else a U32 of 9, 13, 18 or 30 bits, plus 1."""
        if small:
            return (self.read(5) + 1) * 8
        return self.read(_JXL_SIZE_BITS[self.read(2)]) + 1
