# Unit tests: one cmocka executable per file, each run by ctest in its own
# process with label "unit" and a 60 s timeout. Included from the top level
# right after include(CTest), before any add_subdirectory, so the host's,
# the plugins' and the tests' directories can all register tests.
#
#   mq_cmocka_test(<target> SOURCES <files...> [LIBS <libs...>]
#                  [INCLUDES <dirs...>] [DEFINES <defs...>] [NAME <ctest name>])
# The ctest name defaults to unit.<target>.
if(NOT BUILD_TESTING)
  function(mq_cmocka_test)
  endfunction()
  return()
endif()

pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

function(mq_cmocka_test target)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;INCLUDES;DEFINES" ${ARGN})
  if(NOT T_NAME)
    set(T_NAME unit.${target})
  endif()
  add_executable(${target} ${T_SOURCES})
  target_link_libraries(${target} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/api ${T_INCLUDES})
  target_compile_definitions(${target} PRIVATE ${T_DEFINES})
  add_test(NAME ${T_NAME} COMMAND ${target})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT 60 LABELS unit)
endfunction()
