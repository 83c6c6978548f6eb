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
