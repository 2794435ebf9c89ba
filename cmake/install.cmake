# The core library as it leaves the repository (included from core/CMakeLists.txt):
#
#   include/marllb/{shm_layout.h,shm.h,shm.hpp,seed_compat.h}   the C and C++ API
#   include/marllb/seed/shm_layout.h                           the seed's include name (opt-in)
#   lib/libmarllb_shm.so.<ABI>.<minor>.<patch>, .so.<ABI>      the shared library (SONAME .so.<ABI>)
#   lib/libmarllb_shm.so, lib/libmarllb_shm.a                   for linking
#   lib/pkgconfig/marllb-shm.pc, marllb-shm-seed.pc            pkg-config
#   lib/cmake/marllb_shm/                                       find_package(marllb_shm CONFIG)
#
# Components: "runtime" (the versioned shared library) and "dev" (the rest), the two Debian
# packages of cmake/packaging.cmake.
if(MARLLB_FUZZ)
  return() # clang's sanitizer runtimes are linked into executables only
endif()
include(CMakePackageConfigHelpers)

# SONAME major = the region's ABI version (MARLLB_ABI_VERSION, cmake/abi_version.cmake): a
# library that maps regions differently, or whose C/C++ interface breaks, gets a new SONAME,
# and a program linked against the old one never loads it.
set(MARLLB_SO_VERSION ${MARLLB_ABI_VERSION}.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH})

configure_file(${PROJECT_SOURCE_DIR}/cmake/marllb_shm.map.in ${PROJECT_BINARY_DIR}/marllb_shm.map @ONLY)
add_library(marllb_shm_shared SHARED $<TARGET_OBJECTS:marllb_shm>)
add_library(marllb::shm_shared ALIAS marllb_shm_shared)
target_include_directories(marllb_shm_shared PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/core/include>
                                                    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# --no-undefined: every dependency is a DT_NEEDED of the library (libstdc++, libhwloc), so a C
# program links it with plain gcc and no -lstdc++.
target_link_libraries(marllb_shm_shared PRIVATE PkgConfig::HWLOC
  -Wl,--version-script=${PROJECT_BINARY_DIR}/marllb_shm.map -Wl,--no-undefined -Wl,-z,relro,-z,now)
set_target_properties(marllb_shm_shared PROPERTIES
  OUTPUT_NAME marllb_shm
  EXPORT_NAME shm
  LINKER_LANGUAGE CXX
  SOVERSION ${MARLLB_ABI_VERSION}
  VERSION ${MARLLB_SO_VERSION}
  LINK_DEPENDS ${PROJECT_BINARY_DIR}/marllb_shm.map)
# Installed, the static library is marllb::shm_static (the tree's marllb::shm). It is C++
# inside: a C++ link brings libstdc++, a C-only project (as VPP's) needs it named.
set_target_properties(marllb_shm PROPERTIES EXPORT_NAME shm_static)
target_link_libraries(marllb_shm INTERFACE $<INSTALL_INTERFACE:$<$<NOT:$<LINK_LANGUAGE:CXX>>:stdc++>>)
target_compile_features(marllb_shm INTERFACE cxx_std_23)        # shm.hpp's std::expected
target_compile_features(marllb_shm_shared INTERFACE cxx_std_23)

install(TARGETS marllb_shm_shared EXPORT marllb_shm_targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(TARGETS marllb_shm EXPORT marllb_shm_targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(FILES
  ${PROJECT_SOURCE_DIR}/core/include/marllb/shm_layout.h
  ${PROJECT_SOURCE_DIR}/core/include/marllb/shm.h
  ${PROJECT_SOURCE_DIR}/core/include/marllb/shm.hpp
  ${PROJECT_SOURCE_DIR}/core/include/marllb/seed_compat.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/marllb COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/core/include/marllb/seed/shm_layout.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/marllb/seed COMPONENT dev)

# pkg-config: marllb-shm (the library) and marllb-shm-seed (adds the seed's include name).
foreach(pc marllb-shm marllb-shm-seed)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()

# CMake package: marllb::shm (shared), marllb::shm_static, marllb::shm_seed.
set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/marllb_shm)
install(EXPORT marllb_shm_targets NAMESPACE marllb:: FILE marllb_shmTargets.cmake
  DESTINATION ${_cmake_dir} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/marllb_shmConfig.cmake.in
  ${PROJECT_BINARY_DIR}/marllb_shmConfig.cmake INSTALL_DESTINATION ${_cmake_dir})
# SameMajorVersion would accept any 0.x; before 1.0 a minor release may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/marllb_shmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/marllb_shmConfig.cmake ${PROJECT_BINARY_DIR}/marllb_shmConfigVersion.cmake
  DESTINATION ${_cmake_dir} COMPONENT dev)

