# Runs one compile-fail test (see tests/CMakeLists.txt):
#
#   cmake -DBUILD_DIR=<build tree> -DTARGET=<object library> -DCONFIG=<config>
#         -DSOURCE=<tests/compile_fail/x.cpp> -P compile_fail.cmake
#
# Builds TARGET, an EXCLUDE_FROM_ALL object library made of SOURCE alone. The test passes only if
# that build FAILS and its output matches every `// expect: <regex>` line of SOURCE (CMake regex
# syntax; escape the characters .[]()*+?^$\ to match them literally). The compiler runs with
# LC_ALL=C so GCC quotes with ' rather than typographic quotes.
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "compile_fail.cmake: -D${var}=... is required")
  endif()
endforeach()

# Collect the `// expect:` lines without CMake lists, which would split a regex at ';' and glue
# lines with unbalanced '[' ']'.
file(READ "${SOURCE}" text)
set(expects_count 0)
while(NOT text STREQUAL "")
  string(FIND "${text}" "\n" eol)
  if(eol EQUAL -1)
    set(line "${text}")
    set(text "")
  else()
    string(SUBSTRING "${text}" 0 ${eol} line)
    math(EXPR next "${eol} + 1")
    string(SUBSTRING "${text}" ${next} -1 text)
  endif()
  string(REGEX REPLACE "\r$" "" line "${line}")
  if(line MATCHES "^// expect: *(.*[^ ]) *$")
    set(expect_${expects_count} "${CMAKE_MATCH_1}")
    math(EXPR expects_count "${expects_count} + 1")
  endif()
endwhile()
if(expects_count EQUAL 0)
  message(FATAL_ERROR
    "${SOURCE}: no `// expect: <regex>` line; a compile-fail test must name the diagnostic it "
    "expects, or it would pass on any unrelated error")
endif()

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env LC_ALL=C LANG=C
          "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}" ${config_args}
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)

# Plain message() prints the compiler output verbatim; FATAL_ERROR would re-wrap it.
if(result EQUAL 0)
  message("${output}")
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()

set(missing "")
math(EXPR last "${expects_count} - 1")
foreach(i RANGE ${last})
  if(NOT output MATCHES "${expect_${i}}")
    string(APPEND missing "  ${expect_${i}}\n")
  endif()
endforeach()
if(NOT missing STREQUAL "")
  message("Compiler output:\n${output}")
  message("${SOURCE} failed to compile, but its output does not match:\n${missing}")
  message(FATAL_ERROR "unexpected diagnostic")
endif()
message(STATUS "${SOURCE}: failed to compile as expected")
