# install.cmake -- what `cmake --install <build> [--prefix <dir>]` puts where.
#
#   bin/mindquiz                                   component mq_host
#   include/mindquiz/mq_plugin.h                   component mq_sdk
#   lib/pkgconfig/mindquiz-plugin.pc               component mq_sdk
#   lib/cmake/MindQuizPlugin/                      component mq_sdk
#     MindQuizPluginConfig.cmake, MindQuizPluginConfigVersion.cmake,
#     MindQuizPlugin.cmake (mq_add_plugin), mq-plugin-check.sh
#
# The SDK (mq_sdk) is what an out-of-tree plugin developer needs: the one
# ABI header, plus the same build helper and safety check the tree uses.
# It installs without building anything (`--component mq_sdk`).
# Paths are fixed rather than GNUInstallDirs-derived so the pkg-config file
# and the CMake package can find each other relative to themselves.

include(CMakePackageConfigHelpers)

set(MQ_SDK_INCLUDEDIR include/mindquiz)
set(MQ_SDK_CMAKEDIR lib/cmake/MindQuizPlugin)
set(MQ_SDK_PKGCONFIGDIR lib/pkgconfig)
set(_mq_sdk_out ${CMAKE_BINARY_DIR}/sdk)

install(TARGETS mindquiz RUNTIME DESTINATION bin COMPONENT mq_host)

install(FILES ${PROJECT_SOURCE_DIR}/api/mq_plugin.h
        DESTINATION ${MQ_SDK_INCLUDEDIR} COMPONENT mq_sdk)

configure_file(${CMAKE_CURRENT_LIST_DIR}/mindquiz-plugin.pc.in
               ${_mq_sdk_out}/mindquiz-plugin.pc @ONLY)
install(FILES ${_mq_sdk_out}/mindquiz-plugin.pc
        DESTINATION ${MQ_SDK_PKGCONFIGDIR} COMPONENT mq_sdk)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/MindQuizPluginConfig.cmake.in
  ${_mq_sdk_out}/MindQuizPluginConfig.cmake
  INSTALL_DESTINATION ${MQ_SDK_CMAKEDIR}
  PATH_VARS MQ_SDK_INCLUDEDIR)
write_basic_package_version_file(
  ${_mq_sdk_out}/MindQuizPluginConfigVersion.cmake
  VERSION ${MQ_PLUGIN_ABI_MAJOR}.${MQ_PLUGIN_ABI_MINOR}
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT) # a header and CMake code: nothing compiled in
install(FILES ${_mq_sdk_out}/MindQuizPluginConfig.cmake
              ${_mq_sdk_out}/MindQuizPluginConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/MindQuizPlugin.cmake
        DESTINATION ${MQ_SDK_CMAKEDIR} COMPONENT mq_sdk)
install(PROGRAMS ${CMAKE_CURRENT_LIST_DIR}/mq-plugin-check.sh
        DESTINATION ${MQ_SDK_CMAKEDIR} COMPONENT mq_sdk)
