# Debian packages of the core library (cpack -G DEB; scripts/install_test.sh builds and checks
# them):
#   libmarllb-shm<ABI>   component "runtime": the shared library
#   libmarllb-shm-dev    component "dev": headers, libmarllb_shm.so and .a, pkg-config files,
#                        the CMake package; depends on the runtime package and libhwloc-dev
# They install under the prefix the build was configured with: configure with
# -DCMAKE_INSTALL_PREFIX=/usr for packages (GNUInstallDirs then gives lib/<multiarch>).
if(MARLLB_FUZZ)
  return()
endif()

set(MARLLB_DEB_MAINTAINER "marllb-shm maintainers <maintainers@users.noreply.r-seed-b0cb1740.example>"
    CACHE STRING "Maintainer field of the Debian packages")
set(_runtime_pkg libmarllb-shm${MARLLB_ABI_VERSION})
set(_dev_pkg libmarllb-shm-dev)

# Each package's /usr/share/doc/<package>: copyright and changelog (Debian policy 12.5, 12.7).
configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/changelog.in ${PROJECT_BINARY_DIR}/debian/changelog @ONLY)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/debian/changelog.gz
  COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/debian/changelog > ${PROJECT_BINARY_DIR}/debian/changelog.gz
  DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog)
add_custom_target(marllb_debian_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog.gz)
foreach(pair "${_runtime_pkg};runtime" "${_dev_pkg};dev")
  list(GET pair 0 pkg)
  list(GET pair 1 component)
  install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/copyright ${PROJECT_BINARY_DIR}/debian/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${component})
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME marllb-shm)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${MARLLB_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MARLLB_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SOURCE marllb-shm)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${_runtime_pkg})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)      # libc6, libstdc++6, libhwloc15
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)        # the shlibs file
# ldconfig runs through a trigger, as Debian's own library packages do (lintian's
# lacks-ldconfig-trigger). CPack would otherwise generate a postinst and postrm that call
# ldconfig themselves; these do nothing.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/cmake/debian/triggers ${PROJECT_SOURCE_DIR}/cmake/debian/postinst
  ${PROJECT_SOURCE_DIR}/cmake/debian/postrm)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME ${_dev_pkg})
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_runtime_pkg} (= ${PROJECT_VERSION}), libhwloc-dev")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
"lock-free shared-memory IPC for MARLLB load balancers (library)
marllb-shm passes observations from a load balancer's data plane to the
reinforcement-learning agent that sets its server weights, and the agent's
weights back, through one shared-memory region per load balancer: seqlocked
ring slots, no locks on the packet path, validated actions.
.
This package contains the shared library.")
set(CPACK_COMPONENT_DEV_DESCRIPTION
"lock-free shared-memory IPC for MARLLB load balancers (development files)
marllb-shm passes observations from a load balancer's data plane to the
reinforcement-learning agent that sets its server weights, and the agent's
weights back, through one shared-memory region per load balancer.
.
This package contains the C and C++ headers, the static library, the
pkg-config files (marllb-shm, marllb-shm-seed) and the CMake package
(find_package(marllb_shm CONFIG)).")
include(CPack)
