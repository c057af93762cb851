# Installs the library, the public headers, the mha binary and a CMake package so that a user's
# project can do find_package(mha) and link mha::mha (all the layer libraries, mha::mha_core …).
include(CMakePackageConfigHelpers)

get_property(mha_components GLOBAL PROPERTY MHA_COMPONENTS)
install(TARGETS mha ${mha_components} EXPORT mhaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/mha DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mhaTargets NAMESPACE mha:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mha)

configure_package_config_file(cmake/mhaConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/mhaConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mha)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mhaConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mhaConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/mhaConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mha)
