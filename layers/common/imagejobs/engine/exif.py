"""The few EXIF fields a job's analysis reports, read from an EXIF block (a TIFF structure).

A small reader of its own rather than Pillow's: it reads only the tags it needs (camera make and
model, capture time, GPS position), follows at most the two sub-IFDs they live in, never reads
past the block, and fails one way (`ExifError`) on whatever a broken or hostile block holds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

_HEADERS = (b"II*\x00", b"MM\x00*")
# the bytes of one value of each type: BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SLONG, SRATIONAL
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}
_MAX_ENTRIES = 1000  # an IFD with more is not a camera's
TEXT_MAX = 64  # characters kept of a make or a model

MAKE, MODEL, DATE_TIME, EXIF_IFD, GPS_IFD = 0x010F, 0x0110, 0x0132, 0x8769, 0x8825
DATE_TIME_ORIGINAL, DATE_TIME_DIGITIZED, OFFSET_TIME_ORIGINAL = 0x9003, 0x9004, 0x9011
GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE, GPS_ALTITUDE_REF, GPS_ALTITUDE = range(1, 7)


class ExifError(Exception):
    """The block is not EXIF that can be read."""


@dataclass(frozen=True)
class Exif:
    make: str | None = None
    model: str | None = None
    captured_at: str | None = None  # ISO 8601, with the offset when the camera recorded one
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None  # metres above sea level


def tiff_block(data: bytes) -> bytes | None:
    """The TIFF structure in an EXIF block as codecs give it (maybe after `Exif\\0\\0`), or None."""
    for start in (0, 6):
        if data[start : start + 4] in _HEADERS:
            return data[start:]
    return None


def read(data: bytes, *, gps: bool = False) -> Exif:
    """The fields of an EXIF block (what `tiff_block` accepts), the GPS position only with `gps`;
    ExifError if its structure is broken."""
    block = tiff_block(data)
    if block is None:
        raise ExifError("no TIFF header")
    order = "<" if block[:2] == b"II" else ">"
    ifd0 = _ifd(block, order, _unpack(block, order + "I", 4))
    exif = _ifd(block, order, _int(ifd0[EXIF_IFD])) if EXIF_IFD in ifd0 else {}
    position = _ifd(block, order, _int(ifd0[GPS_IFD])) if gps and GPS_IFD in ifd0 else {}
    latitude = _degrees(position.get(GPS_LATITUDE), position.get(GPS_LATITUDE_REF), "NS", 90)
    longitude = _degrees(position.get(GPS_LONGITUDE), position.get(GPS_LONGITUDE_REF), "EW", 180)
    if latitude is None or longitude is None:
        latitude = longitude = None
    altitude = _number(position.get(GPS_ALTITUDE)) if latitude is not None else None
    if altitude is not None and position.get(GPS_ALTITUDE_REF) == 1:
        altitude = -altitude
    taken = exif.get(DATE_TIME_ORIGINAL) or exif.get(DATE_TIME_DIGITIZED)
    return Exif(
        make=_text(ifd0.get(MAKE)),
        model=_text(ifd0.get(MODEL)),
        captured_at=_time(taken, exif.get(OFFSET_TIME_ORIGINAL)),
        latitude=latitude,
        longitude=longitude,
        altitude=round(altitude, 1) if altitude is not None else None,
    )


type Value = str | int | float | tuple[float, ...] | bytes


def _unpack(block: bytes, fmt: str, offset: int) -> int:
    try:
        value: int = struct.unpack_from(fmt, block, offset)[0]
    except struct.error as error:
        raise ExifError(f"the block ends before offset {offset}") from error
    return value


def _ifd(block: bytes, order: str, offset: int) -> dict[int, Value]:
    """The entries of the IFD at `offset`, their values read (those of a type it does not know skipped)."""
    if not 8 <= offset < len(block):
        raise ExifError(f"an IFD at offset {offset}, outside the block")
    count = _unpack(block, order + "H", offset)
    if count > _MAX_ENTRIES:
        raise ExifError(f"an IFD of {count} entries")
    entries: dict[int, Value] = {}
    for index in range(count):
        at = offset + 2 + 12 * index
        if at + 12 > len(block):
            raise ExifError(f"the IFD at {offset} runs past the block")
        tag, kind, number = struct.unpack_from(order + "HHI", block, at)
        size = _TYPE_SIZES.get(kind)
        if size is None:
            continue
        start = at + 8 if size * number <= 4 else _unpack(block, order + "I", at + 8)
        if start + size * number > len(block):
            raise ExifError(f"tag {tag:#06x} points past the block")
        entries[tag] = _value(block[start : start + size * number], order, kind, number)
    return entries


def _value(raw: bytes, order: str, kind: int, number: int) -> Value:
    if kind == 2:  # ASCII, NUL-terminated
        return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")
    if kind in (1, 7):
        return raw[0] if kind == 1 and number == 1 else raw
    if kind in (5, 10):
        pairs = struct.unpack(order + ("II" if kind == 5 else "ii") * number, raw)
        return tuple(top / bottom if bottom else 0.0 for top, bottom in zip(pairs[::2], pairs[1::2], strict=True))
    numbers = struct.unpack(order + {3: "H", 4: "I", 9: "i"}[kind] * number, raw)
    return numbers[0] if number == 1 else tuple(float(value) for value in numbers)


def _int(value: Value) -> int:
    if isinstance(value, int):
        return value
    raise ExifError("a sub-IFD's offset is not a number")


def _number(value: Value | None) -> float | None:
    if isinstance(value, tuple) and value:
        return value[0]
    return float(value) if isinstance(value, int | float) else None


def _text(value: Value | None) -> str | None:
    if not isinstance(value, str):
        return None
    text = "".join(character for character in value if character.isprintable()).strip()
    return text[:TEXT_MAX] or None


def _degrees(value: Value | None, ref: Value | None, refs: str, limit: int) -> float | None:
    """Degrees, minutes and seconds and their `refs` (N or S, E or W) as signed decimal degrees (6
    places: about 10 cm); None for anything else, or for more than `limit` degrees."""
    if not (isinstance(value, tuple) and len(value) == 3 and isinstance(ref, str) and ref[:1] and ref[0] in refs):
        return None
    degrees = value[0] + value[1] / 60 + value[2] / 3600
    if not 0 <= degrees <= limit:
        return None
    return round(-degrees if ref[0] == refs[1] else degrees, 6)


def _time(value: Value | None, offset: Value | None) -> str | None:
    """EXIF's `YYYY:MM:DD HH:MM:SS` (local time) as ISO 8601, with its `±HH:MM` offset when recorded."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value.strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # blank ("    :  :     :  :  "), zeroes, or not a time
    text = moment.isoformat()
    if isinstance(offset, str) and len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        try:
            datetime.strptime(offset[1:], "%H:%M")
        except ValueError:
            return text
        return text + offset
    return text
