"""One Python implementation of one case, driven by run.py over stdin/stdout.

    python bench/worker.py IMPL CASE_JSON

Start-up (imports, reading the input, building the outputs) happens before `ready`; each `run`
line then times only bytes-in-memory → encoded-bytes-in-memory and answers one JSON line:
{"ms", "cpu_ms", "bytes", "sizes", "peak_kb"} (VmHWM so far) or {"error"}. `quit` ends the
process. The thread count comes from the environment run.py sets (VIPS_CONCURRENCY,
BENCH_THREADS); libvips' operation cache is off so repeated runs of one input cannot hit it.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "common"))

import pyvips  # noqa: E402 - after the path, and after run.py set VIPS_CONCURRENCY

pyvips.cache_set_max(0)
THREADS = int(os.environ.get("BENCH_THREADS", "0")) or os.cpu_count() or 1
SINGLE = os.environ.get("VIPS_CONCURRENCY") == "1"

type Run = Callable[[bytes], list[tuple[int, int, int]]]  # → (width, height, bytes) per output


class UnsupportedError(Exception):
    """The implementation cannot do this case (yet): reported, not a crash."""


def _target(width: int, height: int, out: dict[str, Any]) -> tuple[int, int] | None:
    """The (width, height) to scale to, as sharp computes it (cover: before the crop), or None."""
    w, h = out.get("width"), out.get("height")
    if not w and not h:
        return None
    hs, vs = (w / width if w else None), (h / height if h else None)
    scale = hs or vs or 1.0
    if hs and vs:
        scale = max(hs, vs) if out.get("fit", "cover") == "cover" else min(hs, vs)
    if out.get("without_enlargement"):
        scale = min(scale, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


# --- ours: the real engine, in process -------------------------------------------------------------


def _ours_one_thread(spec: dict[str, Any]) -> Run:
    """Ours with one thread all through (the engine's and libvips'): the threaded case's baseline."""
    pyvips.concurrency_set(1)
    return _ours(spec, threads=1)


def _ours(spec: dict[str, Any], threads: int = THREADS) -> Run:
    try:
        from imagejobs.deadline import Deadline  # noqa: PLC0415
        from imagejobs.engine import Limits, render  # noqa: PLC0415
        from imagejobs.spec.outputs import Output  # noqa: PLC0415
    except Exception as error:  # the engine is being changed by others as this runs
        raise UnsupportedError(f"the engine does not import: {type(error).__name__}: {error}") from error
    try:
        if spec.get("preset"):
            from imagejobs.spec import presets  # noqa: PLC0415

            outputs = presets.expand(spec["preset"])
        else:
            outputs = [Output.model_validate(_as_output(out)) for out in spec["outputs"]]
    except Exception as error:  # a pydantic ValidationError: a format or option it lacks
        raise UnsupportedError(_first_line(error)) from error
    limits = _limits(Limits)
    deadline = Deadline.unlimited()

    def run(data: bytes) -> list[tuple[int, int, int]]:
        _, rendered = render(data, outputs, limits, deadline, threads=threads)
        return [(r.width, r.height, len(r.data)) for r in rendered]

    return run


def _as_output(out: dict[str, Any]) -> dict[str, Any]:
    output: dict[str, Any] = {"name": out["name"], "format": out["format"]}
    if out.get("quality") is not None:
        output["quality"] = out["quality"]
    if "effort" in out:
        output["effort"] = out["effort"]
    resize = {k: out[k] for k in ("width", "height", "fit", "without_enlargement") if k in out}
    if resize:
        output["operations"] = [{"type": "resize", **resize}]
    return output


def _limits(limits_type: Any) -> Any:
    """The keyed limits of SPEC §5, for whichever fields Limits has now."""
    known = {"max_source_pixels": 100_000_000, "max_output_dimension": 16384, "max_frames": 500, "max_pages": 500}
    import dataclasses  # noqa: PLC0415

    names = {f.name for f in dataclasses.fields(limits_type)}
    return limits_type(**{k: v for k, v in known.items() if k in names})


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return " ".join(line.strip() for line in text[:3])[:300] or type(error).__name__


# --- libvips by hand ----------------------------------------------------------------------------

type Encoder = Callable[[pyvips.Image, dict[str, Any]], bytes]
ENCODER_NOTE = ""  # how the hand-made variants encode, for the report


def _vips_save(image: pyvips.Image, out: dict[str, Any]) -> bytes:
    """libvips at its defaults (effort 4 for WebP and AVIF), metadata stripped."""
    quality = out.get("quality") or 80
    fmt = out["format"]
    if fmt == "jpeg":
        if image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        return image.jpegsave_buffer(Q=quality, optimize_coding=True, keep="none")
    if fmt == "webp":
        return image.webpsave_buffer(Q=quality, keep="none")
    if fmt == "avif":
        return image.heifsave_buffer(Q=quality, compression="av1", keep="none")
    raise UnsupportedError(f"format {fmt}")


def _encoder(spec: dict[str, Any]) -> Encoder:
    """The engine's own encoder (imagejobs.engine.encode.encode) when it can encode these outputs.

    The hand-made variants then differ from ours only in how the source is decoded and resized,
    which is what they are here to measure. Otherwise libvips at its defaults.
    """
    global ENCODER_NOTE  # noqa: PLW0603 - one note per worker process
    try:
        from imagejobs.deadline import Deadline  # noqa: PLC0415
        from imagejobs.engine import encode as engine_encode  # noqa: PLC0415
        from imagejobs.spec.outputs import Output  # noqa: PLC0415

        outputs = {out["name"]: Output.model_validate(_as_output(out) | {"operations": []}) for out in spec["outputs"]}
        deadline = Deadline.unlimited()

        def encode(image: pyvips.Image, out: dict[str, Any]) -> bytes:
            output = outputs[out["name"]]
            try:
                encoded = engine_encode.encode(image, output, deadline, output.name)
            except TypeError:  # the engine's earlier signature
                encoded = engine_encode.encode(image, output)  # type: ignore[call-arg]
            return encoded if isinstance(encoded, bytes) else encoded.data

        probe = pyvips.Image.black(8, 8, bands=3).copy(interpretation="srgb")
        for out in spec["outputs"]:
            encode(probe, out)
    except Exception as error:  # noqa: BLE001 - any failure: fall back to libvips' defaults
        ENCODER_NOTE = f"libvips defaults (the engine's encoder cannot: {_first_line(error)[:80]})"
        return _vips_save
    ENCODER_NOTE = "the engine's encoder"
    return encode


def _thumb_args(header: pyvips.Image, out: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    size = _target(header.width, header.height, out)
    if size is None:
        return header.width, {"height": header.height}
    if out.get("width") and out.get("height") and out.get("fit", "cover") == "cover":
        return out["width"], {"height": out["height"], "crop": "centre"}
    return size[0], {"height": size[1], "size": "force"}


def _vips_thumb(spec: dict[str, Any]) -> Run:
    """thumbnail_buffer per output: libvips picks shrink-on-load (JPEG DCT scaling) itself."""
    save = _encoder(spec)

    def run(data: bytes) -> list[tuple[int, int, int]]:
        header = pyvips.Image.new_from_buffer(data, "")
        results = []
        for out in spec["outputs"]:
            width, kwargs = _thumb_args(header, out)
            image = pyvips.Image.thumbnail_buffer(data, width, **kwargs)
            results.append((image.width, image.height, len(save(image, out))))
        return results

    return run


def _vips_once(spec: dict[str, Any]) -> Run:
    """Decode once, shrunk on load to the largest output, into memory; every output from that copy.

    What the engine's "one decode shared by every output" could be with shrink-on-load.
    """
    save = _encoder(spec)

    def run(data: bytes) -> list[tuple[int, int, int]]:
        header = pyvips.Image.new_from_buffer(data, "")
        sizes = [_target(header.width, header.height, out) or (header.width, header.height) for out in spec["outputs"]]
        largest = max(sizes)
        base = pyvips.Image.thumbnail_buffer(data, largest[0], height=largest[1], size="force").copy_memory()
        results = []
        for out, size in zip(spec["outputs"], sizes, strict=True):
            image = base
            if size != (base.width, base.height):
                image = base.thumbnail_image(size[0], height=size[1], size="force")
            results.append((image.width, image.height, len(save(image, out))))
        return results

    return run


def _limit(spec: dict[str, Any]) -> Run:
    """The floor of a job: the engine's own one decode (shrunk on load as it would be) and the engine's
    encodes of the outputs, scaled beforehand, untimed. Everything else the engine does is on top.
    The process's allocator is set as the engine sets it (`configure_malloc`), so that the floor does not
    pay page faults the engine avoids."""
    from imagejobs.deadline import Deadline  # noqa: PLC0415
    from imagejobs.engine import configure_malloc, decode_size, encode, source  # noqa: PLC0415
    from imagejobs.spec.outputs import Output  # noqa: PLC0415

    configure_malloc()
    deadline = Deadline.unlimited()
    outputs = [Output.model_validate(_as_output(out)) for out in spec["outputs"]]
    data = Path(spec["input_path"]).read_bytes()

    def decoded(data: bytes) -> pyvips.Image:
        header = source.read_header(data, 100_000_000, 500)
        return source.decode(header, deadline, decode_size(outputs, source.upright_size(header)))[0].image

    whole = pyvips.Image.new_from_buffer(data, "").autorot()
    scaled = []
    for out in spec["outputs"]:
        width, kwargs = _thumb_args(whole, out)
        scaled.append(whole.thumbnail_image(width, **kwargs).copy_memory())

    def run(data: bytes) -> list[tuple[int, int, int]]:
        decoded(data)
        results = []
        for image, output in zip(scaled, outputs, strict=True):
            encoded = encode.encode(image, output, deadline, output.name)
            results.append((encoded.width, encoded.height, len(encoded.data)))
        return results

    return run


def _cascade(spec: dict[str, Any]) -> Run:
    """The cheapest correct ladder, by hand: what any pipeline that scales the rungs itself must spend. The
    engine's decode (shrunk on load as it would be), opened only and streamed into the largest rung, each
    smaller rung scaled from the one above (lanczos3, into memory), the engine's encoder on each; none of
    the engine's planning, checks or deadline. Outputs of one plain width each, largest first."""
    from imagejobs.deadline import Deadline  # noqa: PLC0415
    from imagejobs.engine import configure_malloc, decode_size, encode, source  # noqa: PLC0415
    from imagejobs.spec.outputs import Output  # noqa: PLC0415

    configure_malloc()
    deadline = Deadline.unlimited()
    outputs = [Output.model_validate(_as_output(out)) for out in spec["outputs"]]
    if any(set(out) - {"name", "format", "quality", "width"} for out in spec["outputs"]):
        raise UnsupportedError("outputs other than a plain width")
    order = sorted(range(len(outputs)), key=lambda index: -spec["outputs"][index]["width"])

    def run(data: bytes) -> list[tuple[int, int, int]]:
        header = source.read_header(data, 100_000_000, 500)
        [page] = source.decode(header, deadline, decode_size(outputs, source.upright_size(header)), False)
        above, results = page.image, {}
        for index in order:
            size = _target(page.width, page.height, spec["outputs"][index]) or (page.width, page.height)
            if size == (above.width, above.height):
                above = above.copy_memory()  # the decode itself is a rung: read again by the next
            else:
                above = above.thumbnail_image(size[0], height=size[1], size="force").copy_memory()
            encoded = encode.encode(above, outputs[index], deadline, outputs[index].name)
            results[index] = (encoded.width, encoded.height, len(encoded.data))
        return [results[index] for index in range(len(outputs))]

    return run


def _heif_pillow(spec: dict[str, Any]) -> Run:
    """pillow-heif decodes, Pillow holds the pixels, libvips encodes (the engine's own route)."""
    import pillow_heif  # noqa: PLC0415

    pillow_heif.options.DECODE_THREADS = THREADS
    save = _encoder(spec)

    def run(data: bytes) -> list[tuple[int, int, int]]:
        picture = pillow_heif.open_heif(data).to_pillow()
        pixels = picture.tobytes()
        image = pyvips.Image.new_from_memory(pixels, picture.width, picture.height, len(picture.mode), "uchar")
        image = image.copy(interpretation="srgb")
        return [(image.width, image.height, len(save(image, out))) for out in spec["outputs"]]

    return run


def _heif_buffer(spec: dict[str, Any]) -> Run:
    """pillow-heif decodes; libvips reads its pixel buffer directly (no Pillow image, no tobytes copy)."""
    import pillow_heif  # noqa: PLC0415

    pillow_heif.options.DECODE_THREADS = THREADS
    save = _encoder(spec)

    def run(data: bytes) -> list[tuple[int, int, int]]:
        heif = pillow_heif.open_heif(data)
        width, height = heif.size
        bands = 4 if heif.has_alpha else 3
        if heif.stride == width * bands:
            image = pyvips.Image.new_from_memory(heif.data, width, height, bands, "uchar")
        else:  # rows padded: view the padded buffer, then crop the padding off
            image = pyvips.Image.new_from_memory(heif.data, heif.stride // bands, height, bands, "uchar").crop(
                0, 0, width, height
            )
        image = image.copy(interpretation="srgb")
        return [(image.width, image.height, len(save(image, out))) for out in spec["outputs"]]

    return run


# --- Pillow: the naive peer ----------------------------------------------------------------------


def _pillow(spec: dict[str, Any]) -> Run:
    """What a developer writes first: open, load, resize (Lanczos), save. No draft() shrink-on-load."""
    from PIL import Image, ImageOps  # noqa: PLC0415

    if any(out["format"] == "avif" for out in spec["outputs"]):
        from PIL import features  # noqa: PLC0415

        if not features.check("avif"):
            raise UnsupportedError("this Pillow has no AVIF")
    import pillow_heif  # noqa: PLC0415

    pillow_heif.register_heif_opener()
    pillow_heif.options.DECODE_THREADS = THREADS
    lanczos = Image.Resampling.LANCZOS

    def save(picture: Image.Image, out: dict[str, Any]) -> int:
        buffer = io.BytesIO()
        fmt, quality = out["format"], out.get("quality") or 80
        if fmt == "jpeg":
            picture.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True)
        elif fmt == "webp":
            picture.save(buffer, "WEBP", quality=quality)
        elif fmt == "avif":
            picture.save(buffer, "AVIF", quality=quality, max_threads=THREADS)
        else:
            raise UnsupportedError(f"format {fmt}")
        return buffer.tell()

    def run(data: bytes) -> list[tuple[int, int, int]]:
        source = Image.open(io.BytesIO(data))
        source.load()
        results = []
        for out in spec["outputs"]:
            picture = source
            size = _target(source.width, source.height, out)
            if size is not None and out.get("width") and out.get("height") and out.get("fit", "cover") == "cover":
                picture = ImageOps.fit(source, (out["width"], out["height"]), lanczos)
            elif size is not None and size != source.size:
                picture = source.resize(size, lanczos)
            results.append((picture.width, picture.height, save(picture, out)))
        return results

    return run


IMPLEMENTATIONS: dict[str, Callable[[dict[str, Any]], Run]] = {
    "ours": _ours,
    "ours-1": _ours_one_thread,
    "limit": _limit,
    "cascade": _cascade,
    "pillow": _pillow,
    "vips-thumb": _vips_thumb,
    "vips-once": _vips_once,
    "heif-pillow": _heif_pillow,
    "heif-buffer": _heif_buffer,
}


def _peak_kb() -> int:
    """VmHWM: this process's peak resident set so far, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    impl, spec = sys.argv[1], json.loads(sys.argv[2])
    data = Path(spec["input_path"]).read_bytes()
    try:
        run = IMPLEMENTATIONS[impl](spec)
    except UnsupportedError as error:
        _say({"unsupported": str(error)})
        return
    _say({"ready": True, "baseline_kb": _peak_kb(), "threads": THREADS if not SINGLE else 1, "note": ENCODER_NOTE})
    for line in sys.stdin:
        if line.strip() != "run":
            break
        wall, cpu = time.perf_counter_ns(), time.process_time_ns()
        try:
            sizes = run(data)
        except UnsupportedError as error:
            _say({"unsupported": str(error)})
            continue
        except Exception as error:  # noqa: BLE001 - reported per implementation, the bench goes on
            _say({"error": f"{type(error).__name__}: {_first_line(error)}"})
            continue
        _say(
            {
                "ms": (time.perf_counter_ns() - wall) / 1e6,
                "cpu_ms": (time.process_time_ns() - cpu) / 1e6,
                "bytes": sum(size[2] for size in sizes),
                "sizes": sizes,
                "peak_kb": _peak_kb(),
            }
        )


if __name__ == "__main__":
    main()
