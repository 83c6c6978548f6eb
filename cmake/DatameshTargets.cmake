# datamesh_configure_target(<target>)
#
# What every DataMesh-owned target (library, tests, benchmarks, examples) gets: C++20 without
# compiler extensions, the warning set (DatameshWarnings.cmake) and the sanitizers selected by
# DATAMESH_SANITIZERS (DatameshSanitizers.cmake).
include_guard(GLOBAL)

include(DatameshWarnings)
include(DatameshSanitizers)

function(datamesh_configure_target target)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  datamesh_set_warnings(${target})
  datamesh_enable_sanitizers(${target})
endfunction()

# datamesh_precompile_headers(<target> [REUSE_FROM <other>])
#
# With DATAMESH_PRECOMPILED_HEADERS, precompiles <datamesh/datamesh.hpp> for <target>, or reuses
# <other>'s precompiled header (same compile flags required). Parsing the library's headers (with
# Asio's) is about 5 s of every test and example file; done once per target it saves minutes of
# CI, three builds over.
function(datamesh_precompile_headers target)
  if(NOT DATAMESH_PRECOMPILED_HEADERS)
    return()
  endif()
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "REUSE_FROM" "")
  if(arg_REUSE_FROM)
    target_precompile_headers(${target} REUSE_FROM ${arg_REUSE_FROM})
  else()
    target_precompile_headers(${target} PRIVATE <datamesh/datamesh.hpp>)
  endif()
endfunction()
