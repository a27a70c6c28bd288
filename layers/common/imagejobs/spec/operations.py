"""The operations of an output's pipeline: one model per type, discriminated on `type`.

Codec-free: the API validates with these; the engine (`imagejobs.engine.operations`) runs them.
Two value types are shared by every operation: `Color` and the pixel values (`Length`, `Inset`,
`Offset`), which take whole pixels or a percentage of the current image's width or height: "50%"
of the side the value measures, "50w" of the width, "50h" of the height (a width of "50h" is half
the image's height).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from imagejobs.spec.model import Model


class Strict(Model):
    model_config = ConfigDict(extra="forbid")


# ---- colours ------------------------------------------------------------------------------------

_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
NAMED_COLORS: dict[str, str] = {
    "transparent": "#00000000",
    "black": "#000000",
    "white": "#ffffff",
    "grey": "#808080",
    "gray": "#808080",
    "silver": "#c0c0c0",
    "red": "#ff0000",
    "orange": "#ffa500",
    "yellow": "#ffff00",
    "green": "#008000",
    "lime": "#00ff00",
    "cyan": "#00ffff",
    "blue": "#0000ff",
    "navy": "#000080",
    "magenta": "#ff00ff",
    "purple": "#800080",
}


def rgba(color: str) -> tuple[int, int, int, int]:
    """A colour's (r, g, b, alpha), 0-255: "#rgb", "#rgba", "#rrggbb", "#rrggbbaa" or a name of NAMED_COLORS."""
    value = NAMED_COLORS.get(color.lower(), color)
    if not _HEX_COLOR.fullmatch(value):
        names = ", ".join(NAMED_COLORS)
        raise ValueError(f'must be "#rrggbb", "#rrggbbaa", "#rgb", "#rgba" or one of {names}, not {color!r}')
    digits = value[1:] if len(value) > 5 else "".join(digit * 2 for digit in value[1:])
    channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    return channels[0], channels[1], channels[2], channels[3] if len(channels) == 4 else 255


def _check_color(color: str) -> str:
    rgba(color)
    return color


Color = Annotated[
    str,
    AfterValidator(_check_color),
    Field(
        description='"#rrggbb", "#rrggbbaa" (alpha last), "#rgb", "#rgba", or a CSS name: ' + ", ".join(NAMED_COLORS),
        examples=["#ff8800", "#00000080", "white"],
    ),
]


# ---- pixel values -------------------------------------------------------------------------------

_PERCENTAGE = r"[0-9]{1,5}(?:\.[0-9]{1,4})?[%wh]"
Share = tuple[float, Literal["%", "w", "h"]]


def _pixels(sign: Literal["positive", "non-negative", "any"], kind: str) -> tuple[PlainValidator, WithJsonSchema]:
    """Validates whole pixels or a percentage string ("50%", "50w", "50h") of the image, keeping the value."""
    pattern = re.compile(("-?" if sign == "any" else "") + _PERCENTAGE)
    minimum = {"positive": 1, "non-negative": 0}.get(sign)
    bound = {"positive": " above 0", "non-negative": " of 0 or more", "any": ""}[sign]
    message = (
        f'must be {kind}: whole pixels{bound}, or a percentage such as "50%" (of the side it measures), '
        '"50w" (of the width) or "50h" (of the height)'
    )

    def check(value: object) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            number: float = value
        elif isinstance(value, str) and pattern.fullmatch(value):
            number = float(value[:-1])
        else:
            raise ValueError(message)
        if sign != "any" and (number < 0 or (number == 0 and sign == "positive")):
            raise ValueError(message)
        return value

    integer = {"type": "integer"} | ({} if minimum is None else {"minimum": minimum})
    schema = {
        "description": f'{kind.capitalize()}: whole pixels, or a percentage of the image: "50%" of the side '
        'it measures, "50w" of the width, "50h" of the height',
        "oneOf": [integer, {"type": "string", "pattern": f"^{pattern.pattern}$", "examples": ["50%", "50h"]}],
    }
    return PlainValidator(check), WithJsonSchema(schema)


Length = Annotated[int | str, *_pixels("positive", "a length")]
"""A width or height."""
Inset = Annotated[int | str, *_pixels("non-negative", "a distance")]
"""A position from the top or left, a side of padding."""
Offset = Annotated[int | str, *_pixels("any", "an offset")]


def percentage(value: int | str) -> Share | None:
    """The percentage of a pixel value and what it is of ("50h" -> (50.0, "h")), or None for whole pixels."""
    return (float(value[:-1]), value[-1]) if isinstance(value, str) else None  # type: ignore[return-value]


# ---- operations ---------------------------------------------------------------------------------

Gravity = Literal["centre", "north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest"]
SmartGravity = Literal[Gravity, "entropy", "attention"]
"""A compass point, or a smart crop: `entropy` keeps the busiest part, `attention` the most striking."""


class Resize(Strict):
    """Scale to `width` and/or `height`; `fit` says what happens when both are given."""

    type: Literal["resize"]
    width: Length | None = None
    height: Length | None = None
    fit: Literal["cover", "contain", "inside", "outside", "fill", "blur_background"] = Field(
        default="cover",
        description="cover: fill the box, cropping the overflow; contain: fit within and pad to the box; "
        "inside: fit within; outside: cover the box without cropping; fill: stretch; "
        "blur_background: fit within, over a blurred copy covering the box",
    )
    position: SmartGravity = Field(default="centre", description="what `cover` keeps, where `contain` places")
    without_enlargement: bool = False
    background: Color = Field(default="#000000", description="the padding of `contain`")

    @model_validator(mode="after")
    def _one_side(self) -> Self:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self


class Crop(Strict):
    """The region at `x`, `y`; or, without them, the region at `gravity` (a compass point or a smart crop).

    A region reaching past the image is cut to it.
    """

    type: Literal["crop"]
    width: Length
    height: Length
    x: Inset | None = None
    y: Inset | None = None
    gravity: SmartGravity | None = Field(default=None, description="where the region is when x and y are not given")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y, or neither")
        if self.x is not None and self.gravity is not None:
            raise ValueError("give x and y, or gravity, not both")
        return self


class Rotate(Strict):
    type: Literal["rotate"]
    angle: float = Field(ge=-360, le=360, description="degrees clockwise; multiples of 90 are lossless")
    background: Color = Field(default="#000000", description="fills the corners of other angles")


class Flip(Strict):
    """Mirrors the image: `horizontal` swaps left and right, `vertical` top and bottom, `both` turns it half round."""

    type: Literal["flip"]
    direction: Literal["horizontal", "vertical", "both"] = "horizontal"


class Pad(Strict):
    """Adds a border: percentages of top and bottom are of the height, of left and right of the width."""

    type: Literal["pad"]
    top: Inset = 0
    right: Inset = 0
    bottom: Inset = 0
    left: Inset = 0
    background: Color = "#000000"

    @model_validator(mode="after")
    def _some_side(self) -> Self:
        if not {"top", "right", "bottom", "left"} & self.model_fields_set:
            raise ValueError("give at least one of top, right, bottom, left")
        return self


class Trim(Strict):
    type: Literal["trim"]
    threshold: float = Field(
        default=10, ge=0, le=255, description="how far (0-255) a pixel may differ from the border's colour"
    )
    background: Color | None = Field(default=None, description="the border's colour; default: the top-left pixel's")


class Blur(Strict):
    type: Literal["blur"]
    sigma: float = Field(default=2, ge=0.3, le=50, description="the Gaussian's standard deviation, in pixels")


class Sharpen(Strict):
    type: Literal["sharpen"]
    sigma: float = Field(default=1, ge=0.3, le=10, description="the radius of the edges to sharpen, in pixels")
    amount: float = Field(default=2, ge=0, le=10, description="how strongly edges are sharpened (0: not at all)")


class Adjust(Strict):
    """Brightness, contrast, saturation, hue and gamma; every default leaves the image as it is."""

    type: Literal["adjust"]
    brightness: float = Field(default=1, ge=0, le=4, description="multiplies lightness: 0 black, 1 unchanged")
    contrast: float = Field(default=1, ge=0, le=4, description="spreads values from mid-grey: 0 flat grey, 1 unchanged")
    saturation: float = Field(default=1, ge=0, le=4, description="multiplies chroma: 0 grey, 1 unchanged")
    hue: float = Field(default=0, ge=-360, le=360, description="rotates the hue, in degrees: 0 unchanged")
    gamma: float = Field(
        default=1, ge=0.1, le=10, description="above 1 lightens mid-tones, below 1 darkens: 1 unchanged"
    )


FilterName = Literal[
    "grayscale", "sepia", "negate", "emboss", "edge_detect", "vintage", "posterize", "solarize", "warm", "cool",
    "black_white", "smooth", "mean_removal", "blur_selective",
]  # fmt: skip


class Filter(Strict):
    type: Literal["filter"]
    name: FilterName = Field(
        description="grayscale; sepia (brown tones); negate (inverted colours); emboss (grey relief); edge_detect "
        "(light edges on black); vintage (faded sepia); posterize (4 levels a channel); solarize (light values "
        "inverted); warm, cool (colour balance); black_white (two tones); smooth (a light 3x3 smoothing); "
        "mean_removal (each pixel minus its neighbours' mean: strong sharpening, a sketchy look); blur_selective "
        "(blurs flat areas, keeps edges sharp)"
    )


class Zoom(Strict):
    """Magnifies the image in place: it keeps its size and shows less of itself, larger."""

    type: Literal["zoom"]
    level: float = Field(
        ge=0,
        le=10,
        description="0 leaves the image as it is; each level magnifies by a tenth more: 10 shows half "
        "the width and height at twice the size",
    )
    gravity: Gravity = Field(default="centre", description="the part that stays in view")


class Tint(Strict):
    type: Literal["tint"]
    color: Color = Field(description="the image's lightness in this colour; the colour's alpha sets the strength")


class AutoEnhance(Strict):
    """Stretches lightness so the darkest 1% becomes black and the lightest 1% white; hues are kept."""

    type: Literal["auto_enhance"]


FONTS: dict[str, tuple[str, str]] = {
    "sans": ("DejaVu Sans", "DejaVuSans.ttf"),
    "sans-bold": ("DejaVu Sans Bold", "DejaVuSans-Bold.ttf"),
    "serif": ("DejaVu Serif", "DejaVuSerif.ttf"),
    "mono": ("DejaVu Sans Mono", "DejaVuSansMono.ttf"),
}
"""The bundled fonts (imagejobs/fonts): name -> (Pango family, file)."""
Font = Literal["sans", "sans-bold", "serif", "mono"]

_OFFSETS = "move the element inwards from the edge of its gravity (rightwards and downwards at the centre)"
_OPACITY = "0 invisible … 1 opaque"


class Text(Strict):
    """Draws text, wrapped at the image's width."""

    type: Literal["text"]
    text: str = Field(min_length=1, max_length=1000)
    size: int = Field(default=32, ge=4, le=1000, description="the font size, in pixels")
    color: Color = "#ffffff"
    font: Font = "sans"
    gravity: Gravity = "centre"
    offset_x: Offset = Field(default=0, description=_OFFSETS)
    offset_y: Offset = Field(default=0, description=_OFFSETS)
    opacity: float = Field(default=1, ge=0, le=1, description=_OPACITY)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("must not be blank")
        return text


class Watermark(Strict):
    """Draws another upload of the same tenant over the image, scaled to fit `width` x `height` if given."""

    type: Literal["watermark"]
    upload_id: str = Field(pattern=r"^upl_[0-9A-Z]{26}$")
    gravity: Gravity = "southeast"
    width: Length | None = Field(default=None, description="the mark's width; a percentage is of the image's")
    height: Length | None = Field(default=None, description="the mark's height; a percentage is of the image's")
    offset_x: Offset = Field(default=0, description=_OFFSETS)
    offset_y: Offset = Field(default=0, description=_OFFSETS)
    opacity: float = Field(default=1, ge=0, le=1, description=_OPACITY)


class Flatten(Strict):
    type: Literal["flatten"]
    background: Color = Field(default="#ffffff", description="an opaque colour under the transparent parts")

    @field_validator("background")
    @classmethod
    def _opaque(cls, background: str) -> str:
        if rgba(background)[3] != 255:
            raise ValueError("must be an opaque colour")
        return background


Operation = Annotated[
    Resize
    | Crop
    | Rotate
    | Flip
    | Pad
    | Trim
    | Blur
    | Sharpen
    | Adjust
    | Filter
    | Zoom
    | Tint
    | AutoEnhance
    | Text
    | Watermark
    | Flatten,
    Field(discriminator="type"),
]
OPERATION_TYPES: frozenset[str] = frozenset(
    get_args(model.model_fields["type"].annotation)[0] for model in get_args(get_args(Operation)[0])
)
