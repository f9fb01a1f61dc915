"""Loading LiteLLM offline and quietly, and registering the embedded model as a LiteLLM provider."""

from __future__ import annotations

import asyncio
import atexit
import gc
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


def load() -> ModuleType:
    """Import and configure LiteLLM once (3-5 s); safe to call from any thread."""
    global _litellm
    with _lock:
        if _litellm is not None:
            return _litellm
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
        # LiteLLM's import leaves millions of objects that live as long as the process. Every full garbage
        # collection walked them all (about 300 ms, a frozen UI, several times a minute while streaming);
        # frozen, they are skipped.
        gc.freeze()
        _litellm = litellm
        return litellm


def is_loaded() -> bool:
    return _litellm is not None


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


def warm_local_model() -> float:
    """Load the GGUF ahead of the first prompt; returns seconds taken."""
    started = time.perf_counter()
    _local_model.load()
    return time.perf_counter() - started
