"""Real photographs for the bench: public test images, fetched once into bench/.cache and checked by sha256.

    .venv/bin/python bench/photos.py        # fetches what is missing, prints what is there

Each photo is a file of a public repository pinned to a commit, read from
raw.githubusercontent.com. Where that host cannot be reached, `BENCH_PHOTOS_MIRROR` may name a
folder of git mirrors (`<owner>+<name>/repo`, bare), from which the same file at the same commit is
read with `git show`. Either way the bytes must have the sha256 below. None of them is committed here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
SHARP = ("lovell/sharp", "ea5bef24c187b2c7ee3fe3cad3b45c8cb67a46fd")


@dataclass(frozen=True)
class Photo:
    repo: str
    commit: str
    path: str
    sha256: str
    description: str
    origin: str  # where the repository says it comes from, and its licence as far as it says

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"


PHOTOS = {
    "flickr6": Photo(
        *SHARP,
        "test/fixtures/2569067123_aca715a2ee_o.jpg",
        "0de3824939c164c81b2742b83b51a0f621ed1142b57ef8ad3f33a5a2c2634dd0",
        "2725x2225 camera JPEG (6 MP, 829 kB): a circular saw cutting wood, flash-lit",
        "sharp's test fixture `inputJpg`, from flickr.com/photos/grizdave/2569067123 (sharp: Apache-2.0)",
    ),
    "uhdr8": Photo(
        *SHARP,
        "test/fixtures/gain-map.jpg",
        "e647d3a151a23270ebc2ac2aee34d8ac259c396d0f167d858824794ffe54f86c",
        "3840x2160 phone JPEG (8 MP, 1.2 MB, Ultra HDR gain map): a rocket launch on a screen",
        "sharp's test fixture `inputJpgWithGainMap`, from libvips/libvips issue 3799 (sharp: Apache-2.0)",
    ),
}


def _fetch(photo: Photo) -> bytes:
    mirror = os.environ.get("BENCH_PHOTOS_MIRROR")
    if mirror:
        git_dir = Path(mirror) / photo.repo.replace("/", "+") / "repo"
        shown = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{photo.commit}:{photo.path}"],
            capture_output=True,
            check=False,
        )
        if shown.returncode == 0:
            return shown.stdout
        print(f"{photo.path}: not in the mirror {git_dir}; trying {photo.url}", file=sys.stderr)
    with urllib.request.urlopen(photo.url, timeout=60) as answer:
        return answer.read()


def path(key: str) -> Path:
    """The cached photo, fetched on first use; its sha256 checked every time."""
    photo = PHOTOS[key]
    target = CACHE / f"{key}-{Path(photo.path).name}"
    if not target.exists():
        data = _fetch(photo)
        digest = hashlib.sha256(data).hexdigest()
        if digest != photo.sha256:
            raise SystemExit(f"{photo.url}: sha256 {digest}, expected {photo.sha256}")
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(target)
    elif hashlib.sha256(target.read_bytes()).hexdigest() != photo.sha256:
        raise SystemExit(f"{target}: not the photo pinned (sha256); delete it to fetch it again")
    return target


def main() -> None:
    for key, photo in PHOTOS.items():
        file = path(key)
        print(f"{file.name}: {photo.description}; {photo.origin}")


if __name__ == "__main__":
    main()
