"""SVG sources made safe and bounded before librsvg (through libvips) renders them.

Parsed with the standard library's expat, refusing a DOCTYPE with an internal subset: that is
where entities are declared (billion laughs, external entities); external DTDs are never
loaded. The parse stops at `MAX_BYTES`, `MAX_ELEMENTS` elements or `MAX_DEPTH` levels (as deep
as librsvg's own parser goes), and the tree is walked without recursion. Then removed: scripts,
`foreignObject` (HTML), animation (a render is static anyway, and `set` can rewrite links), event
handler attributes, links (`href`, `xlink:href`) to anything but a fragment (`#id`) or an
embedded raster image (`data:image/png;…`), and styles that import or point outside the document
(`url()` may only name a fragment).

Then counted, all with `too_large` above the limit:
- the elements drawn: each element once, and what it references (`<use>`, a `url(#…)` paint
  server, filter, clip path, mask or marker) again wherever it is referenced, at most
  `MAX_ELEMENTS` (a billion laughs made of references rather than entities). Markers and CSS
  selectors can still repeat an element more often than this counts; librsvg's own limit (500,000
  referenced elements) and the deadline bound those.
- the embedded rasters: each distinct one's header is read (an unreadable one is removed, as a
  browser shows a broken image) and its pixels count against the source pixel limit
  (`Reader.embedded_pixels`): librsvg decodes them whatever their size.

librsvg's time follows the document, not the pixels: it measures the drawing of an SVG that has no
size of its own (a path of 10,000 crossing lines took 23 s just to be measured), applies every style
rule to every element, and cannot be interrupted. So librsvg only runs in child processes
(`vector`): one reads the size, killed after `READ_SECONDS`; another draws the page, killed at
the job's deadline.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes
from xml.parsers import expat

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine.readers import vector
from imagejobs.engine.readers.base import Reader
from imagejobs.errors import CorruptImageError, TooLargeError, UnsupportedFormatError

MAX_BYTES = 10_000_000
MAX_ELEMENTS = 50_000  # about 2 s of librsvg's parsing and drawing; counted as drawn, references and all
MAX_DEPTH = 256  # libxml2, which librsvg parses with, refuses deeper documents (without XML_PARSE_HUGE)
READ_SECONDS = 10  # for librsvg to parse the document and find its size (seconds for the largest one allowed)

_DROPPED = {
    "script", "foreignObject", "handler", "listener", "set", "animate", "animateColor", "animateMotion",
    "animateTransform", "iframe", "embed", "object",
}  # fmt: skip
_EMBEDDED = re.compile(r"^\s*data:image/(png|jpeg|gif|webp)[;,]", re.IGNORECASE)
_RASTER_LOADERS = {"pngload_buffer", "jpegload_buffer", "gifload_buffer", "webpload_buffer"}
_URL = re.compile(r"""url\(\s*['"]?([^)'"]*)""", re.IGNORECASE)
_FRAGMENT = re.compile(r"^\s*#")

DEFAULT_DPI = 72  # an SVG's own size


@dataclass(frozen=True)
class Sanitised:
    data: bytes
    embedded_pixels: int  # of the distinct raster images it embeds


class SvgReader(Reader):
    """The sanitised SVG, read and drawn by librsvg in child processes: its header within `READ_SECONDS`,
    its pixels within the job's deadline. librsvg is never called in this process."""

    def __init__(self, sanitised: Sanitised, dpi: float) -> None:
        self._data, self._dpi = sanitised.data, dpi
        self._width, self._height, self.bands = vector.measure("svg", self._data, {"dpi": dpi}, READ_SECONDS)
        self.embedded_pixels = sanitised.embedded_pixels

    def size(self, index: int) -> tuple[int, int]:
        return self._width, self._height

    def load(self, index: int) -> pyvips.Image:
        [page] = self.load_pages([index], Deadline.unlimited())
        return page

    def load_pages(self, indices: list[int], deadline: Deadline) -> Iterator[pyvips.Image]:
        return vector.draw("svg", self._data, {"dpi": self._dpi}, deadline)


def reader(fmt: str, data: bytes, dpi: int | None) -> SvgReader:
    """The SVG sanitised, then read by librsvg through libvips at `dpi`."""
    return SvgReader(sanitise(data), dpi or DEFAULT_DPI)


def sanitise(data: bytes) -> Sanitised:
    if len(data) > MAX_BYTES:
        raise TooLargeError(f"the svg is {len(data)} bytes, above the limit of {MAX_BYTES} for svg sources")
    root = _parse(data)
    _clean(root)
    if _drawn(root) > MAX_ELEMENTS:
        raise TooLargeError(
            f"the svg draws more than {MAX_ELEMENTS} elements, counting each one a reference (<use>, url(#…)) draws"
        )
    embedded_pixels = _embedded_pixels(root)
    return Sanitised(ET.tostring(root), embedded_pixels)


def _parse(data: bytes) -> ET.Element:
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_internal_subset
    depth = count = 0

    def start(tag: str, attributes: dict[str, str]) -> None:
        nonlocal depth, count
        depth, count = depth + 1, count + 1
        if depth > MAX_DEPTH:
            raise TooLargeError(f"the svg nests elements more than {MAX_DEPTH} deep")
        if count > MAX_ELEMENTS:
            raise TooLargeError(f"the svg has more than {MAX_ELEMENTS} elements")
        builder.start(_name(tag), {_name(key): value for key, value in attributes.items()})

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(_name(tag))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise CorruptImageError(f"the svg is not well-formed XML ({expat.errors.messages[error.code]})") from error
    return builder.close()


def _refuse_internal_subset(_name: str, _system_id: str | None, _public_id: str | None, internal: int) -> None:
    if internal:
        raise UnsupportedFormatError("svg with a DOCTYPE that declares entities is refused")


def _name(expat_name: str) -> str:
    """expat's "namespace}local" as ElementTree's "{namespace}local"."""
    return "{" + expat_name if "}" in expat_name else expat_name


def _local(name: str) -> str:
    return name.rpartition("}")[2]


def _clean(root: ET.Element) -> None:
    elements = [root]
    while elements:
        element = elements.pop()
        for child in list(element):
            if _local(child.tag) in _DROPPED or (_local(child.tag) == "style" and _leaves(child.text or "")):
                element.remove(child)
            else:
                elements.append(child)
        for attribute, value in list(element.attrib.items()):
            local = _local(attribute)
            links_out = local == "href" and not (_FRAGMENT.match(value) or _EMBEDDED.match(value))
            if local.lower().startswith("on") or links_out or _leaves(value):
                del element.attrib[attribute]


def _leaves(text: str) -> bool:
    """Whether CSS or an attribute points outside the document (or at an embedded image: only `href` may)."""
    return "@import" in text.lower() or any(not _FRAGMENT.match(url) for url in _URL.findall(text))


def _drawn(root: ET.Element) -> int:
    """How many elements drawing the document takes, up to just above `MAX_ELEMENTS`.

    Each element counts once with its children, and the elements it references again where it
    references them; a reference back into itself (which librsvg does not draw) counts nothing.
    Depth first without recursion: an element's count is made once its children's and references' are.
    """
    ids = {element.get("id"): element for element in root.iter() if element.get("id")}

    def below(element: ET.Element) -> list[ET.Element]:
        return [*element, *(ids[name] for name in _references(element) if name in ids)]

    counts: dict[int, int] = {}
    open_: set[int] = set()  # elements whose children and references are being counted
    stack = [(root, False)]
    while stack:
        element, ready = stack.pop()
        key = id(element)
        if ready:
            open_.discard(key)
            counts[key] = min(MAX_ELEMENTS + 1, 1 + sum(counts.get(id(under), 0) for under in below(element)))
        elif key not in counts and key not in open_:
            open_.add(key)
            stack.append((element, True))
            stack.extend((under, False) for under in below(element))
    return counts[id(root)]


def _references(element: ET.Element) -> Iterator[str]:
    """The ids an element draws: its `href` (but a link's, `<a>`), and `url(#id)` in its attributes."""
    for attribute, value in element.attrib.items():
        if _local(attribute) == "href" and _local(element.tag) != "a" and _FRAGMENT.match(value):
            yield value.strip()[1:]
        for url in _URL.findall(value):
            if _FRAGMENT.match(url):
                yield url.strip()[1:]


def _embedded_pixels(root: ET.Element) -> int:
    """The pixels of the distinct rasters the SVG embeds; one whose header cannot be read is removed."""
    pixels: dict[str, int | None] = {}
    for element in root.iter():
        for attribute, value in list(element.attrib.items()):
            if _local(attribute) == "href" and _EMBEDDED.match(value):
                if value not in pixels:
                    pixels[value] = _raster_pixels(value)
                if pixels[value] is None:
                    del element.attrib[attribute]
    return sum(count for count in pixels.values() if count)


def _raster_pixels(uri: str) -> int | None:
    """Width x height from the header of a `data:image/…` raster; None if it is not one libvips reads as such."""
    meta, _, payload = uri.partition(",")
    try:
        data = base64.b64decode(payload) if meta.strip().lower().endswith(";base64") else unquote_to_bytes(payload)
        header = pyvips.Image.new_from_buffer(data, "")
    except (binascii.Error, ValueError, pyvips.Error):
        return None
    if header.get("vips-loader") not in _RASTER_LOADERS:
        return None
    return header.width * header.height
