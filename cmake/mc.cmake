# Helpers shared by the module CMakeLists.txt files.

# mc_library(NAME SOURCES ... [LIBS ...])
#   A static library for one pkg/ module. Headers are included as
#   "module/header.h" (pkg/ is on the include path).
function(mc_library name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR}/pkg)
  target_link_libraries(${name} PUBLIC ${A_LIBS})
endfunction()

# mc_unit_test(NAME SOURCES ... [LIBS ...])
#   A cmocka test binary in build/tests/, registered with ctest (label "unit").
function(mc_unit_test name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${MC_TEST_BIN_DIR})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/pkg ${CMAKE_SOURCE_DIR}/test)
  target_link_libraries(${name} PRIVATE ${A_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 300
    ENVIRONMENT "MC_SOURCE_DIR=${CMAKE_SOURCE_DIR};MC_BINARY_DIR=${CMAKE_BINARY_DIR}")
endfunction()

# mc_e2e_test(NAME SCRIPT [TIMEOUT seconds])
#   A test/e2e shell script driven with the real kubectl (label "e2e").
function(mc_e2e_test name script)
  cmake_parse_arguments(A "" "TIMEOUT" "" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND bash ${script})
  set_tests_properties(${name} PROPERTIES LABELS e2e TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "MC_SOURCE_DIR=${CMAKE_SOURCE_DIR};MC_BINARY_DIR=${CMAKE_BINARY_DIR};MC_BIN=${CMAKE_BINARY_DIR}/bin")
endfunction()
