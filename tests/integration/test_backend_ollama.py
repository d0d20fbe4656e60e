"""The Ollama backend against a stand-in Ollama server (no Ollama binary can run on this machine)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from clausewise.settings import Settings
from rag.backends import BackendError, Generator, OllamaGenerator, ollama_reachable, select_generator
from rag.backends.ollama import clear_reachable_cache
from rag.prompts import PromptSource, build_messages
from tests.support.fake_ollama import FakeOllama, split_pieces, unused_local_url

ANSWER = "Acme shares your email address with advertising partners [1]. You can opt out in settings [2]."
MESSAGES = build_messages(
    "Does Acme share my email?",
    [
        PromptSource(1, "Acme", "Sharing", "We share your email address with advertising partners."),
        PromptSource(2, "Acme", "Choices", "You can opt out of sharing in your account settings."),
    ],
)


@pytest.fixture(autouse=True)
def fresh_reachability() -> None:
    """Ports get reused: never let one test see another's cached reachability answer."""
    clear_reachable_cache()


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(ANSWER, pieces=5) as server:
        yield server


def settings_for(host: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "ollama_host": host,
        "ollama_model": "qwen2.5:3b-instruct",
        "ollama_num_ctx": 3072,
        "ollama_timeout": 5.0,
        "max_tokens": 200,
        "temperature": 0.1,
        "gguf": None,
        **overrides,
    }
    return Settings(**values)


def test_stream_arrives_in_pieces_that_join_to_the_answer(fake: FakeOllama) -> None:
    generator = OllamaGenerator(settings_for(fake.url))

    pieces = list(generator.stream(MESSAGES))

    assert pieces == split_pieces(ANSWER, 5)
    assert len(pieces) == 5
    assert "".join(pieces) == ANSWER
    assert generator.generate(MESSAGES) == ANSWER
    assert isinstance(generator, Generator) and generator.name == "ollama"
    assert generator.label == f"Ollama qwen2.5:3b-instruct at {fake.url}"


def test_request_carries_num_ctx_limits_and_the_delimited_prompt(fake: FakeOllama) -> None:
    generator = OllamaGenerator(settings_for(fake.url))

    list(generator.stream(MESSAGES))
    generator.generate(MESSAGES)

    streamed, whole = fake.chat_requests()
    assert streamed["stream"] is True and whole["stream"] is False
    for body in (streamed, whole):
        assert body["model"] == "qwen2.5:3b-instruct"
        assert body["options"]["num_ctx"] == 3072
        assert body["options"]["num_predict"] == 200
        assert body["options"]["temperature"] == pytest.approx(0.1)
        assert body["messages"] == MESSAGES
        user = body["messages"][1]["content"]
        assert "<<<CLAUSE 1 | vendor: Acme" in user and "<<<END CLAUSE 2>>>" in user
    # context_window is set explicitly, so the client never has to ask /api/show for it
    assert not [r for r in fake.requests if r.path == "/api/show"]


def test_missing_model_tells_the_user_to_pull_it(fake: FakeOllama) -> None:
    generator = OllamaGenerator(settings_for(fake.url, ollama_model="llama-nope:7b"))

    with pytest.raises(BackendError, match="`ollama pull llama-nope:7b`"):
        generator.generate(MESSAGES)
    with pytest.raises(BackendError, match="`ollama pull llama-nope:7b`"):
        list(generator.stream(MESSAGES))


def test_slow_server_times_out_with_a_clear_error(fake: FakeOllama) -> None:
    fake.sleep_before_answer(10)
    generator = OllamaGenerator(settings_for(fake.url, ollama_timeout=0.3))

    started = time.monotonic()
    with pytest.raises(BackendError, match=r"did not answer within 0\.3 s"):
        list(generator.stream(MESSAGES))
    with pytest.raises(BackendError, match=r"did not answer within 0\.3 s"):
        generator.generate(MESSAGES)
    assert time.monotonic() - started < 3


def test_connection_dropped_mid_stream_is_reported_after_the_pieces_already_shown(fake: FakeOllama) -> None:
    fake.drop_mid_stream(after_pieces=2)
    generator = OllamaGenerator(settings_for(fake.url))

    received: list[str] = []
    with pytest.raises(BackendError, match="dropped before the answer was complete"):
        for piece in generator.stream(MESSAGES):
            received.append(piece)
    assert received == split_pieces(ANSWER, 5)[:2]

    with pytest.raises(BackendError, match="dropped before the answer was complete"):
        generator.generate(MESSAGES)


def test_closed_port_makes_ollama_fail_and_auto_fall_back_to_extractive() -> None:
    host = unused_local_url()
    settings = settings_for(host)

    with pytest.raises(BackendError) as raised:
        select_generator(settings, "ollama")
    message = str(raised.value)
    assert f"Ollama is not reachable at {host}" in message
    assert "`ollama serve`" in message and "OLLAMA_HOST" in message

    generator, reason = select_generator(settings, "auto")
    assert generator is None
    assert host in reason and "no GGUF configured" in reason and "extractive" in reason

    with pytest.raises(BackendError, match=f"Cannot connect to Ollama at {host}"):
        OllamaGenerator(settings).generate(MESSAGES)


def test_auto_and_ollama_pick_a_running_server(fake: FakeOllama) -> None:
    generator, reason = select_generator(settings_for(fake.url, backend="auto"))

    assert generator is not None and generator.name == "ollama"
    assert "qwen2.5:3b-instruct" in reason and fake.url in reason
    assert "".join(generator.stream(MESSAGES)) == ANSWER

    explicit, _ = select_generator(settings_for(fake.url), "ollama")
    assert explicit is not None and explicit.name == "ollama"


def test_extractive_and_unknown_backends() -> None:
    assert select_generator(settings_for(unused_local_url()), "extractive")[0] is None
    with pytest.raises(BackendError, match="Unknown backend 'gpt'"):
        select_generator(settings_for(unused_local_url()), "gpt")


def test_reachability_is_quick_and_cached_per_host(fake: FakeOllama) -> None:
    assert ollama_reachable(fake.url) == (True, "Ollama is running with 1 model(s) installed")
    assert [r.path for r in fake.requests] == ["/api/tags"]

    fake.stop()
    assert ollama_reachable(fake.url)[0] is True  # cached for ~10 s
    clear_reachable_cache()
    started = time.monotonic()
    ok, why = ollama_reachable(fake.url)
    assert not ok and "cannot connect" in why
    assert time.monotonic() - started < 1.0


def test_host_without_scheme_or_port_is_understood(fake: FakeOllama) -> None:
    bare = fake.url.removeprefix("http://")

    generator = OllamaGenerator(settings_for(bare))

    assert generator.label == f"Ollama qwen2.5:3b-instruct at {fake.url}"
    assert ollama_reachable(bare)[0] is True
