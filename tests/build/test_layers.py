"""The built layers: native code for the target architecture, within Lambda's size limit, importable.

The arm64 checks read the build `make test` runs before pytest (.aws-sam/build). The x86_64 check
builds that variant into a temporary directory and imports it in a Python that sees only the
layers and the standard library, as far as this (x86_64) machine can stand in for the runtime.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
PYTHON = ROOT / ".venv" / "bin" / "python"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
LAYERS = ("CodecsLayer", "RawLayer", "CommonLayer")
MB = 1024 * 1024
# Lambda: a function and all its layers, unzipped, at most 250 MB. The codecs layer keeps 100 MB
# of that for the others (the RAW layer and the common one, which the process function carries too).
CODECS_LIMIT = 150 * MB
TOTAL_LIMIT = 250 * MB
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")

pytestmark = pytest.mark.build


def elf_machine(path: Path) -> int:
    """e_machine of an ELF file's header: 2 bytes at offset 18, in the byte order EI_DATA names."""
    with path.open("rb") as file:
        header = file.read(20)
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    byte_order = {1: "<", 2: ">"}[header[5]]
    return int(struct.unpack_from(f"{byte_order}H", header, 18)[0])


def shared_objects(python_dir: Path) -> list[Path]:
    return sorted(p for p in python_dir.rglob("*") if p.is_file() and SHARED_OBJECT.search(p.name))


def unzipped_size(python_dir: Path) -> int:
    return sum(p.stat().st_size for p in python_dir.rglob("*") if p.is_file() and not p.is_symlink())


def wrong_machines(python_dirs: list[Path], expected: int) -> list[str]:
    return [
        f"{so.relative_to(d)}: e_machine {machine}"
        for d in python_dirs
        for so in shared_objects(d)
        if (machine := elf_machine(so)) != expected
    ]


# ---- (a) the build make test made -------------------------------------------------------------


@pytest.fixture(scope="module")
def built() -> dict[str, Path]:
    dirs = {layer: BUILD / layer / "python" for layer in LAYERS}
    missing = [str(d.relative_to(ROOT)) for d in dirs.values() if not d.is_dir()]
    if missing:
        pytest.skip(f"no layer build in {', '.join(missing)}: run `make build` (make test does) first")
    return dirs


def test_every_shared_object_in_the_built_layers_is_for_the_target_architecture(built: dict[str, Path]) -> None:
    # `make test ARCH=x86_64` exports ARCH to pytest; plain `make test` builds arm64.
    arch = os.environ.get("ARCH", "arm64")
    objects = [so for d in built.values() for so in shared_objects(d)]
    assert len(objects) > 10, f"only {len(objects)} shared objects: the native wheels are missing"
    assert wrong_machines(list(built.values()), ELF_MACHINE[arch]) == [], f"not {arch} (e_machine {ELF_MACHINE[arch]})"


def test_the_layers_fit_lambdas_unzipped_size_limit(built: dict[str, Path]) -> None:
    sizes = {layer: unzipped_size(path) for layer, path in built.items()}
    codecs, total = sizes["CodecsLayer"], sum(sizes.values())
    assert codecs <= CODECS_LIMIT, f"CodecsLayer is {codecs / MB:.1f} MB unzipped (limit {CODECS_LIMIT // MB} MB)"
    assert total <= TOTAL_LIMIT, (
        " + ".join(f"{layer} {size / MB:.1f} MB" for layer, size in sizes.items())
        + f" = {total / MB:.1f} MB unzipped (Lambda's limit {TOTAL_LIMIT // MB} MB)"
    )


@pytest.mark.parametrize("layer", LAYERS)
def test_the_layers_leave_boto3_and_botocore_to_the_runtime(built: dict[str, Path], layer: str) -> None:
    shipped = sorted(
        p.name for p in built[layer].iterdir() if p.name.split("-")[0].removesuffix(".py") in RUNTIME_PROVIDED
    )
    assert shipped == [], f"{layer} ships {shipped}, which would shadow the runtime's (stale build? `make build`)"


def test_every_module_in_the_layers_ships_its_bytecode_for_python_3_13(built: dict[str, Path]) -> None:
    # A cold start must not compile (/opt is read-only): every .py has its .pyc, hash-based and
    # unchecked (a zip keeps no times to compare), made for the runtime's Python.
    assert sys.version_info[:2] == (3, 13), "the tests run on the runtime's Python (make unit makes .venv with it)"
    wrong: list[str] = []
    for directory in built.values():
        for source in directory.rglob("*.py"):
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
            if not pyc.is_file():
                wrong.append(f"{source.relative_to(directory)}: no {pyc.name}")
                continue
            header = pyc.read_bytes()[:16]
            flags = int.from_bytes(header[4:8], "little")
            if flags != 0b01 or header[:4] != importlib.util.MAGIC_NUMBER:
                wrong.append(f"{source.relative_to(directory)}: flags {flags}, magic {header[:4].hex()}")
    assert wrong == [], f"{len(wrong)} modules without unchecked-hash 3.13 bytecode: {wrong[:10]}"


def test_the_common_layer_carries_the_imagejobs_package(built: dict[str, Path]) -> None:
    package = built["CommonLayer"] / "imagejobs"
    assert (package / "__init__.py").is_file()
    source = ROOT / "layers" / "common" / "imagejobs"
    modules = {p.relative_to(source) for p in source.rglob("*.py")}
    assert modules <= {p.relative_to(package) for p in package.rglob("*.py")}, (
        "imagejobs modules are missing (stale build? `make build`)"
    )


def test_the_meta_function_carries_its_pages_and_the_layer_swagger_ui(built: dict[str, Path]) -> None:
    pages = {p.name for p in (ROOT / "functions" / "meta" / "web").iterdir()}
    swagger_ui = built["CommonLayer"] / "aws_lambda_powertools" / "event_handler" / "openapi" / "swagger_ui"

    assert pages <= {p.name for p in (BUILD / "MetaFunction" / "web").iterdir()}, "stale build? `make build`"
    assert (swagger_ui / "swagger-ui-bundle.min.js").is_file()
    assert (swagger_ui / "swagger-ui.min.css").is_file()


# ---- (b) the x86_64 variant, built and imported -----------------------------------------------


@pytest.fixture(scope="module")
def x86_64_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not SAM.exists():
        pytest.skip(f"the SAM CLI is not installed at {SAM.relative_to(ROOT)} (make test installs it)")
    if not PYTHON.exists():
        pytest.skip(f"no {PYTHON.relative_to(ROOT)} to build the layers with")
    build_dir = tmp_path_factory.mktemp("sam-x86_64") / "build"
    env = {
        **os.environ,
        "ARCH": "x86_64",
        "PATH": f"{PYTHON.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "LAYER_PYTHON": str(PYTHON),
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
    }
    command = [str(SAM), "build", "--build-dir", str(build_dir), "--parameter-overrides", "Architecture=x86_64"]
    result = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"sam build for x86_64 failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return {layer: build_dir / layer / "python" for layer in LAYERS}


def test_the_x86_64_build_has_only_x86_64_shared_objects(x86_64_build: dict[str, Path]) -> None:
    assert shared_objects(x86_64_build["CodecsLayer"]), "the codecs layer has no shared objects"
    assert wrong_machines(list(x86_64_build.values()), ELF_MACHINE["x86_64"]) == []


IMPORT_CHECK = textwrap.dedent(
    """
    import io, json, sys
    sys.path[:0] = json.loads(sys.argv[1])
    import importlib.util
    assert importlib.util.find_spec("boto3") is None, "boto3 is visible: the check is not isolated"

    import pyvips
    assert pyvips.API_mode, "pyvips fell back to ABI mode: _libvips did not load"
    image = pyvips.Image.black(5, 3, bands=3) + [255, 0, 0]
    png = image.write_to_buffer(".png")
    assert png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    decoded = pyvips.Image.new_from_buffer(png, "")
    assert (decoded.width, decoded.height, decoded.bands) == (5, 3, 3)
    assert decoded(2, 1) == [255.0, 0.0, 0.0]

    from PIL import Image
    import pillow_heif
    heif = pillow_heif.from_pillow(Image.new("RGB", (16, 16), (0, 0, 255)))
    buffer = io.BytesIO()
    heif.save(buffer, quality=90)
    heic = buffer.getvalue()
    assert heic[4:8] == b"ftyp", heic[:16]
    reopened = pillow_heif.open_heif(io.BytesIO(heic))
    assert reopened.size == (16, 16)

    from pillow_jxl import Decoder, Encoder
    jxl = Encoder(mode="RGB", lossless=True, quality=100)(b"\\x00\\x00\\xff" * 4, 2, 2, jpeg_encode=False)
    _, info, pixels, _, _ = Decoder()(jxl)
    assert (info.width, info.height, pixels) == (2, 2, b"\\x00\\x00\\xff" * 4)

    import rawpy
    assert rawpy.libraw_version >= (0, 21), rawpy.libraw_version
    try:
        rawpy.imread(io.BytesIO(b"II*\\x00" + bytes(64)))
    except rawpy.LibRawError:
        pass  # LibRaw loaded and refused a file that is no RAW
    else:
        raise AssertionError("LibRaw opened a file that is no RAW")

    import pymupdf
    document = pymupdf.open()
    document.new_page(width=200, height=100)
    pdf = document.tobytes()
    assert pdf.startswith(b"%PDF-")
    assert pymupdf.open(stream=pdf, filetype="pdf").page_count == 1

    import pydantic
    class Point(pydantic.BaseModel):
        x: int
    assert Point.model_validate_json('{"x": "3"}').x == 3

    import base64
    from standardwebhooks import Webhook
    hook = Webhook("whsec_" + base64.b64encode(b"k" * 32).decode())
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc)
    signature = hook.sign("msg_1", now, '{"a":1}')
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    assert hook.verify('{"a":1}', headers) == {"a": 1}

    import imagejobs.engine, imagejobs.net  # the domain code that needs the codecs, on the built layers

    modules = [pyvips, Image, pillow_heif, rawpy, pymupdf, pydantic, imagejobs.engine]
    print(json.dumps({m.__name__: m.__file__ for m in modules}))
    """
)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="only an x86_64 machine can load the x86_64 layers")
def test_the_x86_64_layers_import_and_work_with_nothing_but_the_standard_library(
    x86_64_build: dict[str, Path],
) -> None:
    layer_dirs = [str(x86_64_build[layer]) for layer in LAYERS]
    # -I: no user site, no PYTHON* variables, no script dir; -S: no site-packages (the venv's included).
    command = [str(PYTHON), "-I", "-S", "-c", IMPORT_CHECK, json.dumps(layer_dirs)]
    result = subprocess.run(command, check=False, cwd="/", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    files = json.loads(result.stdout.strip().splitlines()[-1])
    outside = {name: file for name, file in files.items() if not file.startswith(tuple(layer_dirs))}
    assert outside == {}, "modules were imported from outside the layers"
