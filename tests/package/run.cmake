# Driver of the package tests (registered in tests/CMakeLists.txt):
#
#   cmake -DMODE=install|build_tree -DBUILD_DIR=<datamesh build tree> -DWORK_DIR=<scratch dir>
#         -DCONSUMER_SOURCE_DIR=<tests/package> [-DCONFIG=<config>] [-DGENERATOR=<generator>]
#         [-DMAKE_PROGRAM=<path>] [-DCXX_COMPILER=<path>] [-DPREFIX_PATH=<a|b|...>]
#         [-DBoost_DIR=<dir>] [-DSANITIZERS=<list>] -P run.cmake
#
# MODE=install:    cmake --install BUILD_DIR --prefix WORK_DIR/prefix, then the consumer finds
#                  datamesh there through CMAKE_PREFIX_PATH.
# MODE=build_tree: the consumer uses the build tree's export (datamesh_DIR=BUILD_DIR).
# Either way the consumer is configured, built and run (through its own ctest) from scratch.
# SANITIZERS: the -fsanitize= list the library was built with; a sanitized library links only
# into a program built with the same sanitizers, so the consumer gets them too.
cmake_minimum_required(VERSION 3.25)

foreach(var MODE BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run)
  execute_process(COMMAND ${ARGN} COMMAND_ECHO STDOUT RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "command failed (${result})")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()

set(prefix_path "")
if(PREFIX_PATH)
  string(REPLACE "|" ";" prefix_path "${PREFIX_PATH}")
endif()

set(consumer_args "")
if(MODE STREQUAL "install")
  set(prefix "${WORK_DIR}/prefix")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}" ${config_args})
  list(PREPEND prefix_path "${prefix}")
  list(APPEND consumer_args "-DDATAMESH_EXPECTED_PREFIX=${prefix}")
elseif(MODE STREQUAL "build_tree")
  list(APPEND consumer_args
    "-Ddatamesh_DIR=${BUILD_DIR}"
    "-DDATAMESH_EXPECTED_PREFIX=${BUILD_DIR}")
else()
  message(FATAL_ERROR "run.cmake: unknown MODE '${MODE}' (install or build_tree)")
endif()

if(GENERATOR)
  list(APPEND consumer_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND consumer_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND consumer_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CONFIG)
  list(APPEND consumer_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
if(Boost_DIR)
  list(APPEND consumer_args "-DBoost_DIR=${Boost_DIR}")
endif()
if(SANITIZERS)
  list(APPEND consumer_args "-DCMAKE_CXX_FLAGS=-fsanitize=${SANITIZERS}"
                            "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZERS}")
endif()
if(prefix_path)
  string(REPLACE ";" "\\;" prefix_path "${prefix_path}")
  list(APPEND consumer_args "-DCMAKE_PREFIX_PATH=${prefix_path}")
endif()

set(consumer_build "${WORK_DIR}/build")
run("${CMAKE_COMMAND}"
  -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  ${consumer_args})
run("${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

if(CMAKE_CTEST_COMMAND)
  set(ctest "${CMAKE_CTEST_COMMAND}")
else()
  get_filename_component(cmake_bin_dir "${CMAKE_COMMAND}" DIRECTORY)
  set(ctest "${cmake_bin_dir}/ctest")
endif()
if(CONFIG)
  set(ctest_config -C "${CONFIG}")
endif()
run("${ctest}" --test-dir "${consumer_build}" ${ctest_config} --output-on-failure --no-tests=error)
