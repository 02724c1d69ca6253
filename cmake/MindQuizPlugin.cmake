# MindQuizPlugin.cmake -- mq_add_plugin(): build a MindQuiz plugin that is
# safe to hot-reload.
#
#   mq_add_plugin(<target> SOURCES <files...>
#                 [OUTPUT_NAME <name>]     file is <name>.so (default <target>)
#                 [OUTPUT_DIR <dir>]       default ${MQ_PLUGIN_OUTPUT_DIR}, or
#                                          ${CMAKE_BINARY_DIR}/plugins if unset
#                 [DEFINITIONS <defs...>]  private compile definitions
#                 [NO_CHECK]               skip mq-plugin-check.sh (don't)
#                 [EXCLUDE_FROM_ALL])
#
# The plugin is a MODULE library (<name>.so, no "lib" prefix) compiled with
# -fPIC and -fvisibility=hidden against the one ABI header, mq_plugin.h.
# After each link mq-plugin-check.sh inspects it; an unsafe plugin fails the
# build and is deleted (DESIGN.md section 8 lists what is unsafe and why).
#
# One file serves two homes, and finds its neighbours relative to itself:
#   in tree    <src>/cmake/ beside the check script; the header in <src>/api/
#   installed  <prefix>/lib/cmake/MindQuizPlugin/ beside the check script;
#              MindQuizPluginConfig.cmake sets MQ_PLUGIN_INCLUDE_DIR to
#              <prefix>/include/mindquiz before including this file.
#
# It sets, for the includer:
#   MQ_PLUGIN_INCLUDE_DIR    directory holding mq_plugin.h
#   MQ_PLUGIN_CHECK_SCRIPT   mq-plugin-check.sh
#   MQ_PLUGIN_ABI_MAJOR, MQ_PLUGIN_ABI_MINOR   read from mq_plugin.h
#   MQ_BASH_EXECUTABLE       the bash that runs the check script

if(NOT MQ_PLUGIN_INCLUDE_DIR)
  set(MQ_PLUGIN_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../api")
endif()
get_filename_component(MQ_PLUGIN_INCLUDE_DIR "${MQ_PLUGIN_INCLUDE_DIR}" ABSOLUTE)
if(NOT EXISTS "${MQ_PLUGIN_INCLUDE_DIR}/mq_plugin.h")
  message(FATAL_ERROR "MindQuizPlugin: no mq_plugin.h in \"${MQ_PLUGIN_INCLUDE_DIR}\" "
                      "(set MQ_PLUGIN_INCLUDE_DIR, or use find_package(MindQuizPlugin))")
endif()
set(MQ_PLUGIN_CHECK_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/mq-plugin-check.sh")

file(STRINGS "${MQ_PLUGIN_INCLUDE_DIR}/mq_plugin.h" _mq_abi_lines
     REGEX "^#define MQ_ABI_(MAJOR|MINOR) +[0-9]+")
foreach(_mq_line IN LISTS _mq_abi_lines)
  if(_mq_line MATCHES "^#define MQ_ABI_(MAJOR|MINOR) +([0-9]+)")
    set(MQ_PLUGIN_ABI_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
  endif()
endforeach()
unset(_mq_abi_lines)
unset(_mq_line)

find_program(MQ_BASH_EXECUTABLE bash)
if(NOT MQ_BASH_EXECUTABLE)
  message(FATAL_ERROR "MindQuizPlugin: bash is needed to run mq-plugin-check.sh")
endif()

# Functions are global but variables are per directory: keep what the
# function needs in global properties, so mq_add_plugin() works in every
# directory no matter where this file was included or find_package() called.
set_property(GLOBAL PROPERTY MQ_PLUGIN_INCLUDE_DIR "${MQ_PLUGIN_INCLUDE_DIR}")
set_property(GLOBAL PROPERTY MQ_PLUGIN_CHECK_SCRIPT "${MQ_PLUGIN_CHECK_SCRIPT}")

# Contract: defines <target> as described at the top of this file; fails the
# configure step on a usage error.
function(mq_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_CHECK;EXCLUDE_FROM_ALL"
                        "OUTPUT_NAME;OUTPUT_DIR" "SOURCES;DEFINITIONS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mq_add_plugin(${target}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "mq_add_plugin(${target}): SOURCES is required")
  endif()
  if(NOT arg_OUTPUT_NAME)
    set(arg_OUTPUT_NAME ${target})
  endif()
  if(NOT arg_OUTPUT_DIR)
    if(MQ_PLUGIN_OUTPUT_DIR)
      set(arg_OUTPUT_DIR "${MQ_PLUGIN_OUTPUT_DIR}")
    else()
      set(arg_OUTPUT_DIR "${CMAKE_BINARY_DIR}/plugins")
    endif()
  endif()
  set(exclude)
  if(arg_EXCLUDE_FROM_ALL)
    set(exclude EXCLUDE_FROM_ALL)
  endif()
  get_property(include_dir GLOBAL PROPERTY MQ_PLUGIN_INCLUDE_DIR)
  get_property(check_script GLOBAL PROPERTY MQ_PLUGIN_CHECK_SCRIPT)

  add_library(${target} MODULE ${exclude} ${arg_SOURCES})
  target_include_directories(${target} PRIVATE "${include_dir}")
  if(arg_DEFINITIONS)
    target_compile_definitions(${target} PRIVATE ${arg_DEFINITIONS})
  endif()
  # Hidden visibility: the host loads RTLD_LOCAL and the plugin exports one
  # symbol, so no plugin's internals can bind to another's.
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    OUTPUT_NAME "${arg_OUTPUT_NAME}"
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIR}")
  # Multi-config generators would otherwise add a Debug/ or Release/ level.
  foreach(config IN LISTS CMAKE_CONFIGURATION_TYPES)
    string(TOUPPER "${config}" config)
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY_${config} "${arg_OUTPUT_DIR}")
  endforeach()
  # A static library linked into the plugin would re-export its globals,
  # whatever this plugin's own visibility: keep them local too.
  target_link_options(${target} PRIVATE "LINKER:--exclude-libs,ALL")

  if(NOT arg_NO_CHECK)
    set(readelf "${CMAKE_READELF}")
    if(NOT readelf)
      set(readelf readelf)
    endif()
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E env "READELF=${readelf}"
              "${MQ_BASH_EXECUTABLE}" "${check_script}" --delete-refused
              "$<TARGET_FILE:${target}>"
      COMMENT "Checking ${arg_OUTPUT_NAME}.so is safe to hot-reload"
      VERBATIM)
    # Relink, and so check again, when the rules change.
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${check_script}")
  endif()
endfunction()
