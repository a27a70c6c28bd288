"""Where the client finds the API, its key and the webhook secret.

Each setting comes from, in order: the argument given to `Client` (or the command's option), the
environment (`IMAGEJOBS_URL`, `IMAGEJOBS_API_KEY`, `IMAGEJOBS_WEBHOOK_SECRET`), then the config
file: `IMAGEJOBS_CONFIG`, or else `$XDG_CONFIG_HOME/imagejobs/config.toml`
(`~/.config/imagejobs/config.toml`), with the keys `url`, `api_key` and `webhook_secret`.

With no URL anywhere, the client talks to the local stack `make run` starts,
`http://127.0.0.1:$IMAGEJOBS_PORT/v1` (port 3000 by default), and with no key to a loopback URL
it sends that stack's development key, `ij_local_dev_key`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_DEV_KEY = "ij_local_dev_key"
KEYS = ("url", "api_key", "webhook_secret")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ConfigError(ValueError):
    """A config file that cannot be read, or one with keys the client does not know."""


@dataclass(frozen=True)
class Config:
    url: str  # the API's base, with its stage: https://….execute-api.….amazonaws.com/v1
    api_key: str | None
    webhook_secret: str | None


def default_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "imagejobs" / "config.toml"


def read_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(unknown)} (it may have {', '.join(KEYS)})")
    wrong = sorted(key for key, value in data.items() if not isinstance(value, str))
    if wrong:
        raise ConfigError(f"{path}: {', '.join(wrong)} must be strings")
    return data


def load(
    url: str | None = None,
    api_key: str | None = None,
    webhook_secret: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The settings from the arguments, then the environment, then the config file."""
    env = os.environ if environ is None else environ
    explicit = path or env.get("IMAGEJOBS_CONFIG")
    file_path = Path(explicit) if explicit else default_path(env)
    from_file = read_file(file_path) if explicit or file_path.is_file() else {}

    def pick(given: str | None, variable: str, key: str) -> str | None:
        return given or env.get(variable) or from_file.get(key) or None

    found_url = pick(url, "IMAGEJOBS_URL", "url")
    base = (found_url or f"http://127.0.0.1:{env.get('IMAGEJOBS_PORT') or 3000}/v1").rstrip("/")
    key = pick(api_key, "IMAGEJOBS_API_KEY", "api_key")
    if key is None and urlsplit(base).hostname in LOOPBACK:
        key = LOCAL_DEV_KEY
    return Config(
        url=base, api_key=key, webhook_secret=pick(webhook_secret, "IMAGEJOBS_WEBHOOK_SECRET", "webhook_secret")
    )
