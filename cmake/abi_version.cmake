# MARLLB_ABI_VERSION: the region's ABI version, read from core/include/marllb/shm_layout.h; the
# shared library's SONAME major and the runtime package's name carry it (cmake/install.cmake,
# cmake/packaging.cmake).
file(STRINGS ${PROJECT_SOURCE_DIR}/core/include/marllb/shm_layout.h _abi_line
     REGEX "^#define MARLLB_ABI_VERSION [0-9]+u?$")
if(NOT _abi_line MATCHES "MARLLB_ABI_VERSION ([0-9]+)")
  message(FATAL_ERROR "core/include/marllb/shm_layout.h: no '#define MARLLB_ABI_VERSION <n>u' line to take the SONAME from")
endif()
set(MARLLB_ABI_VERSION ${CMAKE_MATCH_1})
