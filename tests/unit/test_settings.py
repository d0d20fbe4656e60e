"""Settings precedence: defaults < clausewise.toml < CLAUSEWISE_* environment < CLI overrides."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from clausewise.settings import Settings, load_settings


def test_file_then_env_then_cli_override(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "clausewise.toml"
    config.write_text('top_k = 7\nbackend = "extractive"\nport = 9000\n', encoding="utf-8")
    monkeypatch.setenv("CLAUSEWISE_CONFIG", str(config))
    monkeypatch.delenv("CLAUSEWISE_TOP_K", raising=False)
    monkeypatch.delenv("CLAUSEWISE_BACKEND", raising=False)
    monkeypatch.delenv("CLAUSEWISE_PORT", raising=False)
    assert load_settings().top_k == 7
    assert load_settings().backend == "extractive"
    monkeypatch.setenv("CLAUSEWISE_TOP_K", "3")
    assert load_settings().top_k == 3
    assert load_settings(top_k=9, port=None).top_k == 9
    assert load_settings(port=None).port == 9000  # a None CLI flag does not erase the file's value


def test_ollama_host_read_from_the_standard_variable(monkeypatch) -> None:
    monkeypatch.delenv("CLAUSEWISE_OLLAMA_HOST", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", "http://gpu-box:11434")
    assert load_settings().ollama_host == "http://gpu-box:11434"


def test_defaults_are_private(monkeypatch) -> None:
    for name in ("CLAUSEWISE_HOST", "CLAUSEWISE_AUTH", "CLAUSEWISE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUSEWISE_CONFIG", "/nonexistent/clausewise.toml")
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.auth is None


def test_the_refusal_threshold_is_the_fitted_one_unless_set_and_must_be_a_probability(monkeypatch) -> None:
    monkeypatch.delenv("CLAUSEWISE_REFUSAL_THRESHOLD", raising=False)
    assert Settings().refusal_threshold is None

    monkeypatch.setenv("CLAUSEWISE_REFUSAL_THRESHOLD", "0.7")
    assert Settings().refusal_threshold == 0.7

    monkeypatch.setenv("CLAUSEWISE_REFUSAL_THRESHOLD", "1.5")
    with pytest.raises(ValidationError, match="refusal_threshold"):
        Settings()
