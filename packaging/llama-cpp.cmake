# Build settings for llama-cpp-python, the embedded model's runtime. pip passes them to its build through
#     CMAKE_ARGS="-DCMAKE_PROJECT_INCLUDE=$PWD/packaging/llama-cpp.cmake"
# CMake includes this file after every project() call, so it also runs after llama-cpp-python's own
# CMakeLists has forced LLAMA_BUILD_COMMON on, and before llama.cpp reads it.

# Portable x86-64 (SSE4.2, AVX2, FMA, F16C, BMI2: any x86-64 CPU since 2013-2015), not tuned to the build
# machine. A native build on an Intel CPU with AMX, compiled by GCC < 13, crashes on every prompt longer than
# one token: GCC's _tile_loadconfig reads 8 of the 64 bytes of the tile configuration, so the stores that
# fill it are optimised away (ggml-org/llama.cpp#20824, #26954). A native wheel would also be cached by pip
# and could be copied to a machine without the build machine's instructions.
set(GGML_NATIVE OFF CACHE BOOL "" FORCE)

# The Python package loads libllama and libggml only (libmtmd lazily, for images). llama.cpp's `common`
# library (chat parsers, argument parsing, downloads over cpp-httplib; 53 files) was more than half of the
# compile time, and the multimodal library (mtmd) is another 51 files; text completion uses neither.
# With both off the build has 83 steps instead of 193.
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "" FORCE)
set(LLAVA_BUILD OFF CACHE BOOL "" FORCE)
