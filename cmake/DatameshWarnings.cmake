# datamesh_set_warnings(<target>)
#
# Turns on DataMesh's warning set for one of DataMesh's own targets (never for a consumer's):
# -Wall -Wextra -Wpedantic, plus -Werror when DATAMESH_WERROR is ON (CI presets). The options are
# PRIVATE, so they do not leak to targets that link against <target>.
include_guard(GLOBAL)

function(datamesh_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
    if(DATAMESH_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(DATAMESH_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
