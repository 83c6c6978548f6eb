# Sanitizer support, driven by the DATAMESH_SANITIZERS cache string (e.g. "address,undefined" or
# "thread"; empty means none).
#
# datamesh_enable_sanitizers(<target>)
#   Compiles <target> with -fsanitize=<list> -fno-omit-frame-pointer -fno-sanitize-recover=all
#   and links it with the same -fsanitize=<list>. Only DataMesh's own targets call this.
#   -fno-sanitize-recover=all makes a UBSan finding a test failure rather than a log line.
#
# DATAMESH_TEST_ENVIRONMENT
#   A list of NAME=value entries for the ctest ENVIRONMENT property of every test: sanitizer
#   options and the suppression files in cmake/sanitizers/. Empty without sanitizers.
include_guard(GLOBAL)

set(DATAMESH_TEST_ENVIRONMENT "")
set(DATAMESH_SANITIZER_FLAGS "")

if(DATAMESH_SANITIZERS)
  if(MSVC)
    message(FATAL_ERROR "datamesh: DATAMESH_SANITIZERS is supported with GCC and Clang only")
  endif()
  string(REPLACE " " "" _datamesh_sanitizers "${DATAMESH_SANITIZERS}")
  string(REPLACE "," ";" _datamesh_sanitizer_list "${_datamesh_sanitizers}")
  if("thread" IN_LIST _datamesh_sanitizer_list AND
     ("address" IN_LIST _datamesh_sanitizer_list OR "leak" IN_LIST _datamesh_sanitizer_list))
    message(FATAL_ERROR
      "datamesh: DATAMESH_SANITIZERS='${DATAMESH_SANITIZERS}': thread cannot be combined with "
      "address or leak; configure a separate build (see the asan and tsan presets)")
  endif()
  set(DATAMESH_SANITIZER_FLAGS "-fsanitize=${_datamesh_sanitizers}")
  message(STATUS "datamesh: sanitizers enabled: ${_datamesh_sanitizers}")

  set(_datamesh_supp_dir "${CMAKE_CURRENT_LIST_DIR}/sanitizers")
  # Sanitizer option strings split on ':' ',' and blanks; quoting the paths keeps them whole.
  set(DATAMESH_TEST_ENVIRONMENT
    "ASAN_OPTIONS=detect_leaks=1:check_initialization_order=1:strict_init_order=1"
    "LSAN_OPTIONS=suppressions='${_datamesh_supp_dir}/lsan.supp':print_suppressions=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    "TSAN_OPTIONS=suppressions='${_datamesh_supp_dir}/tsan.supp':halt_on_error=1:second_deadlock_stack=1")
endif()

function(datamesh_enable_sanitizers target)
  if(NOT DATAMESH_SANITIZER_FLAGS)
    return()
  endif()
  target_compile_options(${target} PRIVATE
    ${DATAMESH_SANITIZER_FLAGS} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  # A sanitized library needs the sanitizer runtime wherever it is linked, so for libraries the
  # link flag is part of the interface (and of an installed package built this way).
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "STATIC_LIBRARY")
    target_link_options(${target} INTERFACE ${DATAMESH_SANITIZER_FLAGS})
  elseif(_type STREQUAL "SHARED_LIBRARY")
    target_link_options(${target} PUBLIC ${DATAMESH_SANITIZER_FLAGS})
  elseif(_type STREQUAL "EXECUTABLE" OR _type STREQUAL "MODULE_LIBRARY")
    target_link_options(${target} PRIVATE ${DATAMESH_SANITIZER_FLAGS})
  endif()
endfunction()
