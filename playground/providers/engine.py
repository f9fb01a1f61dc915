"""Loading LiteLLM offline and quietly, and registering the embedded model as a LiteLLM provider."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import functools
import gc
import json
import logging
import os
import threading
import time
from types import ModuleType

from playground.providers.local import LocalModel, LocalUsage

_lock = threading.Lock()
_litellm: ModuleType | None = None
_local_model = LocalModel()
atexit.register(_local_model.close)

LOCAL_PROVIDER = "local"
DEFAULT_LOCAL_MAX_TOKENS = 512


class SendClock:
    """When the current attempt's HTTP request left: set by the shared client's request hook.

    LiteLLM builds the request, its client and (the first time) imports a provider module before
    anything is sent; timing from the call would count that set-up as the provider's latency.
    """

    __slots__ = ("received", "sent")

    def __init__(self) -> None:
        self.sent: float | None = None
        self.received: float | None = None
        """When the latest bytes of the response arrived: its last byte once the stream is read."""


_send_clock: contextvars.ContextVar[SendClock | None] = contextvars.ContextVar("send_clock", default=None)


def watch_send() -> SendClock:
    """A clock for the request the current task is about to make; the hook runs in the same task."""
    clock = SendClock()
    _send_clock.set(clock)
    return clock


async def _note_sent(request) -> None:
    clock = _send_clock.get()
    if clock is not None and clock.sent is None:
        clock.sent = time.perf_counter()


@functools.cache
def _timed_body_class() -> type:
    import httpx

    class TimedBody(httpx.AsyncByteStream):
        """The response body as read off the socket, noting when each piece arrived. (A piece that
        arrives while LiteLLM is busy on the event loop is noted when it asks for it: on one loop,
        nothing can see it earlier.)"""

        def __init__(self, body, clock: SendClock) -> None:
            self.body = body
            self.clock = clock

        async def __aiter__(self):
            async for piece in self.body:
                self.clock.received = time.perf_counter()
                yield piece

        async def aclose(self) -> None:
            await self.body.aclose()

    return TimedBody


async def _note_received(response) -> None:
    # LiteLLM's end-of-stream work (assembling the response, costing it) runs after the last byte;
    # the provider's latency ends with that byte.
    clock = _send_clock.get()
    if clock is not None:
        response.stream = _timed_body_class()(response.stream, clock)


def load() -> ModuleType:
    """Import and configure LiteLLM once (3-5 s); safe to call from any thread."""
    global _litellm
    with _lock:
        if _litellm is not None:
            return _litellm
        # LiteLLM's import leaves some 300,000 objects that live as long as the process. Collections during
        # the import walked them again and again (a quarter of its seconds); afterwards every full
        # collection walked them all (about 300 ms, a frozen UI, several times a minute while streaming).
        # So none runs until they are frozen, and frozen they are skipped. (The import's own garbage is
        # frozen with them: a few MB, cheaper than the 0.4 s a collection takes to find it.)
        collecting = gc.isenabled()
        gc.disable()
        try:
            litellm = _import_and_configure()
            _warm(litellm)
            gc.freeze()
        finally:
            if collecting:
                gc.enable()
        _litellm = litellm
        return litellm


def _import_and_configure() -> ModuleType:
    # Without this LiteLLM downloads its price map at import time.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_LOG", "CRITICAL")
    import litellm

    # Its "Give Feedback / Get Help" banners go to stdout and would corrupt a full-screen UI.
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    litellm.telemetry = False
    litellm.drop_params = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False
    litellm.custom_provider_map = [
        entry for entry in litellm.custom_provider_map if entry.get("provider") != LOCAL_PROVIDER
    ] + [{"provider": LOCAL_PROVIDER, "custom_handler": _make_local_handler(litellm)}]
    litellm.utils.custom_llm_setup()
    return litellm


def _warm(litellm: ModuleType) -> None:
    """Do now what LiteLLM would otherwise do inside the first call (lazy imports, pydantic schemas, its
    tokenizer: 0.3-1 s cold), and share one HTTP client whose request hook tells the attempt when its
    request was sent."""
    from litellm.llms.openai.common_utils import BaseOpenAILLM

    def rehearse() -> None:
        with contextlib.suppress(Exception):  # a failed warm-up only leaves the first call slower
            asyncio.run(_rehearse(litellm))

    # On a thread of its own: the caller may be inside an event loop.
    thread = threading.Thread(target=rehearse, name="litellm-warm-up", daemon=True)
    thread.start()
    thread.join()
    client = BaseOpenAILLM.get_async_http_client()
    if client is not None:
        client.event_hooks["request"].append(_note_sent)
        client.event_hooks["response"].append(_note_received)
        litellm.aclient_session = client  # type: ignore[attr-defined]  # read by LiteLLM's OpenAI handler


_REHEARSAL = b"".join(
    b"data: " + json.dumps({"id": "warm", "object": "chat.completion.chunk", "created": 0, "model": "warm",
                            **body}).encode() + b"\n\n"
    for body in ({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
                 {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                 {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
) + b"data: [DONE]\n\n"


async def _rehearse(litellm: ModuleType) -> None:
    """One streamed call through LiteLLM's OpenAI path, answered in memory: no socket is opened."""
    import httpx
    import openai

    class Canned(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_REHEARSAL)

    async with httpx.AsyncClient(transport=Canned()) as http:
        client = openai.AsyncOpenAI(api_key="warm-up", base_url="http://warm-up.invalid/v1", http_client=http)
        stream = await litellm.acompletion(model="openai/warm-up", messages=[{"role": "user", "content": "hi"}],
                                           client=client, stream=True, stream_options={"include_usage": True},
                                           max_retries=0)
        async for _chunk in stream:
            pass


def is_loaded() -> bool:
    return _litellm is not None


def load_in_background() -> None:
    """Start importing LiteLLM now, on a thread of its own, so that seconds of import overlap what the caller
    does meanwhile (opening the store, loading the encoder); `load()` then waits for it to finish. A daemon:
    a process that ends first (a bad prompt, no model) does not wait. A failure shows in `load()`."""
    if _litellm is None:
        threading.Thread(target=_load_quietly, name="litellm-import", daemon=True).start()


def _load_quietly() -> None:
    with contextlib.suppress(Exception):
        load()


def _make_local_handler(litellm: ModuleType):
    from litellm import CustomLLM

    class LocalHandler(CustomLLM):
        """Streams from llama.cpp in a thread so the event loop never waits on generation."""

        async def astreaming(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose,
                             encoding, api_key, logging_obj, optional_params, *args, **kwargs):
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue = asyncio.Queue()
            stop = threading.Event()
            max_tokens = optional_params.get("max_tokens") or DEFAULT_LOCAL_MAX_TOKENS
            temperature = optional_params.get("temperature", 0.2)

            def hand(item) -> bool:
                """Pass an item to the consumer; False once nobody listens (the app quit, its loop closed)."""
                if stop.is_set():
                    return False
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:  # "Event loop is closed": stop generating, quietly
                    stop.set()
                    return False
                return True

            def produce() -> None:
                try:
                    for item in _local_model.generate(messages, max_tokens, temperature, stop):
                        if not hand(item):
                            break
                except BaseException as exc:  # handed to the consumer, which raises it
                    hand(exc)
                finally:
                    hand(None)

            thread = threading.Thread(target=produce, name="local-model", daemon=True)
            thread.start()
            try:
                while (item := await queue.get()) is not None:
                    if isinstance(item, BaseException):
                        raise litellm.APIError(status_code=500, message=f"local model failed: {item}",
                                               llm_provider=LOCAL_PROVIDER, model=model)
                    if isinstance(item, LocalUsage):
                        yield {"text": "", "is_finished": True, "finish_reason": item.finish_reason, "index": 0,
                               "tool_use": None,
                               "usage": {"prompt_tokens": item.prompt_tokens,
                                         "completion_tokens": item.completion_tokens,
                                         "total_tokens": item.prompt_tokens + item.completion_tokens}}
                    else:
                        yield {"text": item, "is_finished": False, "finish_reason": "", "index": 0,
                               "tool_use": None, "usage": None}
            finally:
                stop.set()

    return LocalHandler()


def local_model_loaded() -> bool:
    return _local_model.loaded


def warm_local_model() -> float:
    """Load the GGUF ahead of the first prompt; returns seconds taken."""
    started = time.perf_counter()
    _local_model.load()
    return time.perf_counter() - started
