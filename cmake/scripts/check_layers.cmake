# Checks that every include between the library's headers points down DESIGN.md's six layers
# (a header may include its own layer or a lower one, never a higher one):
#
#   cmake -DINCLUDE_DIR=<repo>/include -P check_layers.cmake
#
# The layers, by path under include/datamesh/ (first match wins):
#   0 vocabulary  error, exit_reason, log, none, fwd, detail/assert, detail/type_name (and the
#                 deprecated reason.hpp): what every layer names
#   1 policy      demand, buffer, dispatch/, subscribe_options, subscription_id (what a
#                 dispatcher reads), supervisor/restart, supervisor/worker_slots, mesh/mesh_dispatcher
#   2 runtime     runtime/
#   4 supervision supervisor/
#   5 mesh        mesh/
#   6 flow        flow/, redis/ (the optional connector)
#   3 stages      everything else at the root and in detail/
#   9             datamesh.hpp, the umbrella
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED INCLUDE_DIR)
  message(FATAL_ERROR "check_layers.cmake: -DINCLUDE_DIR=... is required")
endif()

function(layer_of path out)
  if(path MATCHES "^datamesh/datamesh\\.hpp$")
    set(layer 9)
  elseif(path MATCHES "^datamesh/(error|exit_reason|reason|log|none|fwd|detail/assert|detail/type_name)\\.hpp$")
    set(layer 0)
  elseif(path MATCHES "^datamesh/(demand|buffer|subscribe_options|subscription_id|supervisor/restart|supervisor/worker_slots|mesh/mesh_dispatcher)\\.hpp$"
         OR path MATCHES "^datamesh/dispatch/")
    set(layer 1)
  elseif(path MATCHES "^datamesh/runtime/")
    set(layer 2)
  elseif(path MATCHES "^datamesh/supervisor/")
    set(layer 4)
  elseif(path MATCHES "^datamesh/mesh/")
    set(layer 5)
  elseif(path MATCHES "^datamesh/(flow|redis)/")
    set(layer 6)
  else()
    set(layer 3)
  endif()
  set(${out} ${layer} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/datamesh/*.hpp")
list(LENGTH headers header_count)
if(header_count EQUAL 0)
  message(FATAL_ERROR "check_layers.cmake: no headers under ${INCLUDE_DIR}/datamesh")
endif()
set(violations "")
set(edges 0)
foreach(header IN LISTS headers)
  layer_of("${header}" from)
  file(STRINGS "${INCLUDE_DIR}/${header}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*<datamesh/")
  foreach(line IN LISTS includes)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*<([^>]+)>.*$" "\\1" target "${line}")
    if(NOT EXISTS "${INCLUDE_DIR}/${target}")
      string(APPEND violations "\n  ${header} includes ${target}, which does not exist")
      continue()
    endif()
    layer_of("${target}" to)
    math(EXPR edges "${edges} + 1")
    if(to GREATER from)
      string(APPEND violations "\n  ${header} (layer ${from}) includes ${target} (layer ${to})")
    endif()
  endforeach()
endforeach()
if(NOT violations STREQUAL "")
  message(FATAL_ERROR "includes that point up a layer (DESIGN.md: arrows only point down):${violations}")
endif()
message(STATUS "${header_count} headers, ${edges} includes between them, all pointing down")
