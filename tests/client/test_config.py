"""Where the client finds the API and its key: arguments, then the environment, then the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagejobs_client.config import LOCAL_DEV_KEY, ConfigError, load


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_nothing_configured_is_the_local_stack_with_its_development_key(tmp_path: Path) -> None:
    config = load(environ={"XDG_CONFIG_HOME": str(tmp_path)})

    assert (config.url, config.api_key, config.webhook_secret) == ("http://127.0.0.1:3000/v1", LOCAL_DEV_KEY, None)


def test_the_local_stack_port_is_the_one_make_run_reads(tmp_path: Path) -> None:
    config = load(environ={"XDG_CONFIG_HOME": str(tmp_path), "IMAGEJOBS_PORT": "3100"})

    assert config.url == "http://127.0.0.1:3100/v1"


def test_the_development_key_is_never_sent_to_another_host(tmp_path: Path) -> None:
    config = load(environ={"XDG_CONFIG_HOME": str(tmp_path), "IMAGEJOBS_URL": "https://api.example.com/v1/"})

    assert (config.url, config.api_key) == ("https://api.example.com/v1", None)


def test_arguments_beat_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    write(
        tmp_path / "imagejobs" / "config.toml",
        'url = "https://file.example.com/v1"\napi_key = "ij_file"\nwebhook_secret = "whsec_file"\n',
    )
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "IMAGEJOBS_API_KEY": "ij_env"}

    from_file_and_env = load(environ=environ)
    from_arguments = load("https://arg.example.com/v1", "ij_arg", environ=environ)

    assert (from_file_and_env.url, from_file_and_env.api_key, from_file_and_env.webhook_secret) == (
        "https://file.example.com/v1",
        "ij_env",
        "whsec_file",
    )
    assert (from_arguments.url, from_arguments.api_key) == ("https://arg.example.com/v1", "ij_arg")


def test_a_named_config_file_must_exist_and_hold_only_known_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load(environ={"IMAGEJOBS_CONFIG": str(tmp_path / "missing.toml")})
    typo = write(tmp_path / "typo.toml", 'url = "https://x.example.com/v1"\napikey = "ij_x"\n')
    with pytest.raises(ConfigError, match="unknown keys apikey"):
        load(path=typo, environ={})
    broken = write(tmp_path / "broken.toml", "url = \n")
    with pytest.raises(ConfigError, match=str(broken)):
        load(path=broken, environ={})
