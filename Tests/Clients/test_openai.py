"""The official `openai` Python SDK against devstack's mock inference servers."""

import base64
import struct
import time

import httpx
import openai
import pytest

pytestmark = pytest.mark.usefixtures("clean_mocks")


def client(env, key="INSTANT_URL", **options) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=env[key], api_key="sk-devstack", **options)


def test_chat_completion(env):
    completion = client(env).chat.completions.create(model="instant", messages=[{"role": "user", "content": "ping from the sdk"}])
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "You said: ping from the sdk"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 4
    assert completion.usage.completion_tokens == 6
    assert completion.usage.total_tokens == 10


def test_fixture_answer(env):
    completion = client(env).chat.completions.create(model="instant", messages=[{"role": "user", "content": "hello there"}])
    assert completion.choices[0].message.content == "Hello! This is the devstack mock."


def test_streaming_with_usage(env):
    stream = client(env).chat.completions.create(
        model="instant",
        messages=[{"role": "user", "content": "stream me three words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "You said: stream me three words"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 6
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + 6


def test_models(env):
    models = client(env).models.list()
    assert [model.id for model in models.data] == ["instant"]
    assert client(env).models.retrieve("instant").id == "instant"
    with pytest.raises(openai.NotFoundError):
        client(env).models.retrieve("gpt-nonexistent")


def test_embeddings_with_the_default_encoding(stack, env):
    sdk = client(env)
    first = sdk.embeddings.create(model="instant", input=["devstack", "another text"])
    again = sdk.embeddings.create(model="instant", input="devstack")
    assert len(first.data) == 2
    assert len(first.data[0].embedding) == 1536
    assert first.data[0].embedding == again.data[0].embedding
    assert first.data[0].embedding != first.data[1].embedding
    assert abs(sum(value * value for value in first.data[0].embedding) - 1) < 1e-4
    # The SDK asked for base64 (float32) without being told to.
    journal = stack.control(env["INSTANT_URL"], "GET", "/__devstack/requests?path=embeddings")["data"]
    assert journal[-1]["body"]["encoding_format"] == "base64"
    explicit = sdk.embeddings.create(model="instant", input="devstack", encoding_format="base64", dimensions=4)
    raw = base64.b64decode(explicit.data[0].embedding)
    assert len(struct.unpack("<4f", raw)) == 4


@pytest.mark.parametrize(
    "status, exception",
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (409, openai.ConflictError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_each_error_status_raises_the_matching_exception(stack, env, status, exception):
    stack.control(env["INSTANT_URL"], "POST", "/__devstack/faults", {"status": status, "count": 1, "message": f"injected {status}"})
    with pytest.raises(exception) as raised:
        client(env).chat.completions.create(model="instant", messages=[{"role": "user", "content": "x"}])
    assert raised.value.status_code == status
    assert raised.value.message.endswith(f"injected {status}") or f"injected {status}" in str(raised.value)
    assert raised.value.body["message"] == f"injected {status}"


def test_unknown_model_and_bad_request_come_back_as_sdk_errors(env):
    with pytest.raises(openai.NotFoundError) as raised:
        client(env).chat.completions.create(model="gpt-404", messages=[{"role": "user", "content": "x"}])
    assert raised.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as raised:
        client(env).chat.completions.create(model="instant", messages=[])
    assert raised.value.param == "messages"


def test_retries_are_visible_in_the_journal_and_honour_retry_after_ms(stack, env):
    stack.control(env["INSTANT_URL"], "POST", "/__devstack/faults", {"status": 429, "count": 2, "retry_after_ms": 300})
    completion = client(env, max_retries=2).chat.completions.create(model="instant", messages=[{"role": "user", "content": "retry me"}])
    assert completion.choices[0].message.content == "You said: retry me"
    journal = stack.control(env["INSTANT_URL"], "GET", "/__devstack/requests?path=chat/completions")["data"]
    assert [entry["status"] for entry in journal] == [429, 429, 200]
    assert [entry["headers"].get("x-stainless-retry-count") for entry in journal] == ["0", "1", "2"]
    times = [entry["time"] for entry in journal]
    from datetime import datetime

    moments = [datetime.fromisoformat(moment.replace("Z", "+00:00")) for moment in times]
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(moments, moments[1:])]
    # The SDK waited as told (its own default backoff would be about 0.5 s and 1 s, not 0.3 s).
    assert all(gap >= 0.3 for gap in gaps), gaps


def test_a_hung_request_times_out(stack, env):
    stack.control(env["INSTANT_URL"], "POST", "/__devstack/faults", {"fault": "hang", "count": 1})
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(env, timeout=0.5).chat.completions.create(model="instant", messages=[{"role": "user", "content": "x"}])
    assert time.monotonic() - started < 30
    # The next request is answered normally.
    assert client(env).chat.completions.create(model="instant", messages=[{"role": "user", "content": "y"}]).choices[0].message.content


def test_a_mid_stream_disconnect_surfaces_as_an_error(stack, env):
    stack.control(env["INSTANT_URL"], "POST", "/__devstack/faults", {"fault": "disconnect", "count": 1})
    received = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        stream = client(env).chat.completions.create(
            model="instant", messages=[{"role": "user", "content": "a long enough answer to cut in half"}], stream=True
        )
        for chunk in stream:
            received.append(chunk)
    assert received, "the stream broke before any chunk arrived"


def test_an_error_event_mid_stream_raises(stack, env):
    stack.control(env["INSTANT_URL"], "POST", "/__devstack/faults", {"fault": "error_event", "count": 1})
    with pytest.raises(openai.APIError):
        for _ in client(env).chat.completions.create(
            model="instant", messages=[{"role": "user", "content": "one two three four"}], stream=True
        ):
            pass


def test_openrouter_reasoning_fields_are_readable(env):
    openrouter = env["THINK_URL"].removesuffix("/v1") + "/api/v1"
    sdk = openai.OpenAI(
        base_url=openrouter,
        api_key="sk-or-devstack",
        max_retries=0,
        default_headers={"HTTP-Referer": "https://devstack.test", "X-Title": "devstack client tests"},
    )
    completion = sdk.chat.completions.create(model="thinking", messages=[{"role": "user", "content": "why is the sky blue"}])
    message = completion.choices[0].message
    extra = message.model_extra
    assert "why is the sky blue" in extra["reasoning"]
    assert extra["reasoning_details"][0]["type"] == "reasoning.text"
    assert extra["reasoning_content"] == extra["reasoning"]
    assert message.content == "You said: why is the sky blue"
    assert completion.usage.completion_tokens_details.reasoning_tokens > 0

    stream = sdk.chat.completions.create(model="thinking", messages=[{"role": "user", "content": "think"}], stream=True)
    order = []
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if (delta.model_extra or {}).get("reasoning"):
            order.append("reasoning")
        elif delta.content:
            order.append("content")
    assert order.index("content") > order.index("reasoning")
    assert "content" not in order[: order.index("content")]
    assert order[-1] == "content" and order.count("reasoning") > 1

    with pytest.raises(openai.NotFoundError) as raised:
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert raised.value.body["code"] == 404
