# Compiler flags for a WHARF_FUZZ=ON build, included by the top-level
# CMakeLists.txt before any target exists so that they reach every library
# the fuzz targets link or load (core, SDK, bundled plugins).
#
# Every object gets libFuzzer's coverage instrumentation (fuzzer-no-link)
# plus ASan and UBSan. Only the fuzz targets link the libFuzzer runtime
# itself (-fsanitize=fuzzer, in tests/fuzz/CMakeLists.txt), because it
# brings its own main().

if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR
    "WHARF_FUZZ=ON needs clang for C and C++, but the compilers are "
    "${CMAKE_C_COMPILER_ID} and ${CMAKE_CXX_COMPILER_ID}; configure a fresh "
    "build directory with -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "
    "(scripts/install-deps installs clang)")
endif()

add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                    -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
add_link_options(-fsanitize=address,undefined)
