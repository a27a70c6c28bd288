"""The one-line outputs of `imagejobs run --output`, as the JSON the API takes."""

from __future__ import annotations

import pytest

from imagejobs_client.outputs import parse_output, spec_from_json

OPTIONS = {"quality", "lossless", "max_bytes", "progressive", "effort", "keep_metadata", "min_ssim"}


@pytest.mark.parametrize(
    ("text", "output"),
    [
        (
            "thumb:webp:resize=400x400,cover",
            {
                "name": "thumb",
                "format": "webp",
                "operations": [{"type": "resize", "width": 400, "height": 400, "fit": "cover"}],
            },
        ),
        (
            "hero:avif:resize=1200x,inside:quality=60:lossless",
            {
                "name": "hero",
                "format": "avif",
                "quality": 60,
                "lossless": True,
                "operations": [{"type": "resize", "width": 1200, "fit": "inside"}],
            },
        ),
        (
            "half:png:resize=50%",
            {"name": "half", "format": "png", "operations": [{"type": "resize", "width": "50%"}]},
        ),
        (
            "tall:jpeg:resize=x300:rotate=90:filter=grayscale:max_bytes=150000",
            {
                "name": "tall",
                "format": "jpeg",
                "max_bytes": 150000,
                "operations": [
                    {"type": "resize", "height": 300},
                    {"type": "rotate", "angle": 90},
                    {"type": "filter", "name": "grayscale"},
                ],
            },
        ),
        (
            "cut:png:crop=100x50+10+20:blur=1.5:auto_enhance",
            {
                "name": "cut",
                "format": "png",
                "operations": [
                    {"type": "crop", "width": 100, "height": 50, "x": 10, "y": 20},
                    {"type": "blur", "sigma": 1.5},
                    {"type": "auto_enhance"},
                ],
            },
        ),
        (
            "mark:webp:text=ACME,size=24,gravity=southeast:adjust=brightness=1.1,saturation=0",
            {
                "name": "mark",
                "format": "webp",
                "operations": [
                    {"type": "text", "text": "ACME", "size": 24, "gravity": "southeast"},
                    {"type": "adjust", "brightness": 1.1, "saturation": 0},
                ],
            },
        ),
        ("plain:gif", {"name": "plain", "format": "gif"}),
        (
            "pad:png:pad=1,2,3,4,#ff8800:resize=10x10,cover,attention",
            {
                "name": "pad",
                "format": "png",
                "operations": [
                    {"type": "pad", "top": 1, "right": 2, "bottom": 3, "left": 4, "background": "#ff8800"},
                    {"type": "resize", "width": 10, "height": 10, "fit": "cover", "position": "attention"},
                ],
            },
        ),
    ],
)
def test_one_line_outputs_read_as_the_apis_json(text: str, output: dict) -> None:
    assert parse_output(text, OPTIONS) == output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("thumb", "NAME:FORMAT"),
        (":webp", "NAME:FORMAT"),
        ("a:webp:resize=x", "neither width nor height"),
        ("a:webp:resize=wide", "not a size"),
        ("a:webp:resize=10x10+1+1", "only crop takes an offset"),
        ("a:webp:rotate=90,white,extra", "at most 2 bare values"),
        ("a:webp:adjust=1.2", "only key=value"),
        ("a:webp::quality=5", "empty step"),
    ],
)
def test_what_cannot_be_read_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_output(text, OPTIONS)


def test_spec_files_take_what_imagejobs_process_takes() -> None:
    one = {"name": "a", "format": "png"}

    assert spec_from_json(one) == {"outputs": [one]}
    assert spec_from_json([one, one]) == {"outputs": [one, one]}
    assert spec_from_json({"preset": "og-image"}) == {"preset": "og-image"}
    with pytest.raises(ValueError, match="nothing else"):
        spec_from_json({"preset": "og-image", "name": "x"})
    with pytest.raises(ValueError, match="an output object"):
        spec_from_json("og-image")
