"""SVG sources made safe before librsvg (through libvips) renders them.

Parsed with the standard library's expat, refusing a DOCTYPE with an internal subset: that is
where entities are declared (billion laughs, external entities); external DTDs are never
loaded. Then removed: scripts, `foreignObject` (HTML), animation (a render is static anyway,
and `set` can rewrite links), event handler attributes, links (`href`, `xlink:href`) to
anything but a fragment (`#id`) or an embedded raster image (`data:image/png;…`), and
styles that import or point outside the document.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from imagejobs.engine.readers.vips import VipsReader
from imagejobs.errors import CorruptImageError, UnsupportedFormatError

_DROPPED = {
    "script", "foreignObject", "handler", "listener", "set", "animate", "animateColor", "animateMotion",
    "animateTransform", "iframe", "embed", "object",
}  # fmt: skip
_SAFE_REFERENCE = re.compile(r"^\s*(#|data:image/(png|jpeg|gif|webp)[;,])", re.IGNORECASE)
_URL = re.compile(r"""url\(\s*['"]?([^)'"]*)""", re.IGNORECASE)

DEFAULT_DPI = 72  # an SVG's own size


def reader(fmt: str, data: bytes, dpi: int | None) -> VipsReader:
    """The SVG sanitised, then read by librsvg through libvips at `dpi`."""
    return VipsReader("svgload_buffer", sanitise(data), dpi=dpi or DEFAULT_DPI)


def sanitise(data: bytes) -> bytes:
    root = _parse(data)
    _clean(root)
    return ET.tostring(root)


def _parse(data: bytes) -> ET.Element:
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_internal_subset
    parser.StartElementHandler = lambda tag, attributes: builder.start(
        _name(tag), {_name(key): value for key, value in attributes.items()}
    )
    parser.EndElementHandler = lambda tag: builder.end(_name(tag))
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


def _clean(element: ET.Element) -> None:
    for child in list(element):
        if _local(child.tag) in _DROPPED or (_local(child.tag) == "style" and _leaves(child.text or "")):
            element.remove(child)
        else:
            _clean(child)
    for attribute, value in list(element.attrib.items()):
        local = _local(attribute)
        if local.lower().startswith("on") or (local == "href" and not _SAFE_REFERENCE.match(value)) or _leaves(value):
            del element.attrib[attribute]


def _leaves(text: str) -> bool:
    """Whether CSS or an attribute points outside the document."""
    return "@import" in text.lower() or any(not _SAFE_REFERENCE.match(url) for url in _URL.findall(text))
