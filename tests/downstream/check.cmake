# One way of consuming goro, checked end to end: a separate project is configured, built with the
# same generator and compiler as goro's own build, and run. Run by CTest (tests/CMakeLists.txt):
#   cmake -DMODE=<mode> -DGORO_SOURCE_DIR=... -DGORO_BINARY_DIR=... -DWORK_DIR=...
#         -DGENERATOR=... -DCMAKE_CXX_COMPILER=... -P check.cmake
# MODE:
#   find_package      install goro from GORO_BINARY_DIR into a scratch prefix; the project finds
#                     it with find_package(goro)
#   add_subdirectory  the project holds goro's tree at extern/goro, as a git submodule would
#   fetchcontent      the project declares goro with FetchContent_Declare(goro SOURCE_DIR ...)
#   package_source    `package_source` makes the source tarball; it is unpacked outside any git
#                     checkout, configured, built and its tests run
set(here ${CMAKE_CURRENT_LIST_DIR})
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc)
    message(FATAL_ERROR "${MODE}: ${what} failed (${rc}):\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

set(configure_args -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER})
if(MODE STREQUAL "package_source")
  run("cmake --build --target package_source"
      ${CMAKE_COMMAND} --build ${GORO_BINARY_DIR} --target package_source)
  file(GLOB tarball ${GORO_BINARY_DIR}/goro-*-Source.tar.gz)
  list(LENGTH tarball n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "${MODE}: expected one goro-*-Source.tar.gz in ${GORO_BINARY_DIR}, found '${tarball}'")
  endif()
  file(ARCHIVE_EXTRACT INPUT ${tarball} DESTINATION ${WORK_DIR})
  file(GLOB src LIST_DIRECTORIES true ${WORK_DIR}/goro-*-Source)
  if(EXISTS ${src}/.git OR NOT EXISTS ${src}/CMakeLists.txt)
    message(FATAL_ERROR "${MODE}: the tarball holds no source tree, or a .git: ${src}")
  endif()
  # The examples' and the benchmarks' builds are the regular build's business; this checks that the
  # library and its test suite build and pass from the tarball alone.
  run("configuring the unpacked tarball"
      ${CMAKE_COMMAND} -S ${src} -B ${WORK_DIR}/build ${configure_args}
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORO_BUILD_EXAMPLES=OFF)
  run("building the unpacked tarball" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
  # Once per test case (not the GOMAXPROCS variants, which the regular build runs), and not this
  # check itself or the other downstream builds.
  run("the unpacked tarball's tests"
      ${CMAKE_CTEST_COMMAND} --test-dir ${WORK_DIR}/build -j2 --timeout 300 --output-on-failure
      -E "GOMAXPROCS|^downstream_")
  string(REGEX MATCH "[0-9]+ tests failed out of [0-9]+|tests passed, 0 tests failed out of [0-9]+" summary "${out}")
  message(STATUS "the tarball's suite: ${summary}")
  return()
endif()

if(MODE STREQUAL "find_package")
  run("cmake --install" ${CMAKE_COMMAND} --install ${GORO_BINARY_DIR} --prefix ${WORK_DIR}/prefix)
  set(project ${here}/find_package)
  list(APPEND configure_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
elseif(MODE STREQUAL "add_subdirectory")
  # The layout of a project with goro as a submodule: <project>/extern/goro.
  set(project ${WORK_DIR}/project)
  file(MAKE_DIRECTORY ${project}/extern)
  file(COPY ${here}/add_subdirectory/CMakeLists.txt DESTINATION ${project})
  file(COPY ${here}/main.cpp ${here}/parent_checks.cmake DESTINATION ${WORK_DIR})
  file(CREATE_LINK ${GORO_SOURCE_DIR} ${project}/extern/goro SYMBOLIC)
elseif(MODE STREQUAL "fetchcontent")
  set(project ${here}/fetchcontent)
  list(APPEND configure_args -DGORO_SOURCE_DIR=${GORO_SOURCE_DIR})
else()
  message(FATAL_ERROR "MODE must be find_package, add_subdirectory, fetchcontent or package_source, not '${MODE}'")
endif()

run("configuring the downstream project" ${CMAKE_COMMAND} -S ${project} -B ${WORK_DIR}/build ${configure_args})
run("building the downstream project" ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
execute_process(COMMAND ${WORK_DIR}/build/downstream RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc OR NOT out MATCHES "downstream ok 5050")
  message(FATAL_ERROR "${MODE}: the downstream program failed (${rc}): ${out}")
endif()
message(STATUS "${MODE}: the downstream program printed: ${out}")
