# One way of consuming goro, checked end to end: a separate project is configured, built with the
# same generator and compiler as goro's own build, and run. Run by CTest (tests/CMakeLists.txt):
#   cmake -DMODE=<mode> -DGORO_SOURCE_DIR=... -DGORO_BINARY_DIR=... -DWORK_DIR=...
#         -DGENERATOR=... -DCMAKE_CXX_COMPILER=... -P check.cmake
# MODE:
#   find_package      install goro from GORO_BINARY_DIR into a scratch prefix; the project finds
#                     it with find_package(goro)
#   add_subdirectory  the project holds goro's tree at extern/goro, as a git submodule would
#   fetchcontent      the project declares goro with FetchContent_Declare(goro SOURCE_DIR ...)
#   pkg_config        install as for find_package; a Makefile builds the program with the flags
#                     `pkg-config --cflags --libs goro` gives
#   shared            goro configured afresh with BUILD_SHARED_LIBS=ON: libgoro.so.<major>.<minor>
#                     (the SONAME) installed, found with find_package, and the program needs it
#   deb               `cpack -G DEB` makes libgoro-dev_*.deb; its control fields are checked, it is
#                     unpacked (dpkg-deb -x, not installed), and the program builds against its
#                     /usr with find_package and with pkg-config
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

# Configures, builds and runs the CMake downstream project <project> with extra configure args.
function(cmake_downstream project build)
  run("configuring the downstream project" ${CMAKE_COMMAND} -S ${project} -B ${build} ${configure_args} ${ARGN})
  run("building the downstream project" ${CMAKE_COMMAND} --build ${build} -j2)
  check_program(${build}/downstream)
endfunction()

# Builds the program with make and pkg-config, goro.pc looked up in <pc_dir>, and runs it.
function(make_downstream pc_dir build)
  file(MAKE_DIRECTORY ${build})
  run("make with pkg-config" ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir}
      make -C ${build} -f ${here}/pkg_config/Makefile SRC=${here}/main.cpp CXX=${CMAKE_CXX_COMPILER})
  check_program(${build}/downstream)
endfunction()

function(check_program exe)
  execute_process(COMMAND ${exe} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(rc OR NOT out MATCHES "downstream ok 5050")
    message(FATAL_ERROR "${MODE}: the downstream program ${exe} failed (${rc}): ${out}")
  endif()
  message(STATUS "${MODE}: ${exe} printed: ${out}")
endfunction()

function(expect_match what text regex)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "${MODE}: ${what}: expected to match '${regex}', got:\n${text}")
  endif()
endfunction()

if(MODE STREQUAL "find_package")
  run("cmake --install" ${CMAKE_COMMAND} --install ${GORO_BINARY_DIR} --prefix ${WORK_DIR}/prefix)
  cmake_downstream(${here}/find_package ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
elseif(MODE STREQUAL "pkg_config")
  run("cmake --install" ${CMAKE_COMMAND} --install ${GORO_BINARY_DIR} --prefix ${WORK_DIR}/prefix)
  file(GLOB pc ${WORK_DIR}/prefix/lib*/pkgconfig/goro.pc ${WORK_DIR}/prefix/lib/*/pkgconfig/goro.pc)
  if(NOT pc)
    message(FATAL_ERROR "${MODE}: no goro.pc was installed under ${WORK_DIR}/prefix")
  endif()
  get_filename_component(pc_dir ${pc} DIRECTORY)
  make_downstream(${pc_dir} ${WORK_DIR}/build)
elseif(MODE STREQUAL "shared")
  run("configuring a shared goro" ${CMAKE_COMMAND} -S ${GORO_SOURCE_DIR} -B ${WORK_DIR}/goro
      ${configure_args} -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_SHARED_LIBS=ON
      -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_EXAMPLES=OFF)
  run("building a shared goro" ${CMAKE_COMMAND} --build ${WORK_DIR}/goro -j2)
  run("installing a shared goro" ${CMAKE_COMMAND} --install ${WORK_DIR}/goro --prefix ${WORK_DIR}/prefix)
  file(GLOB so ${WORK_DIR}/prefix/lib/libgoro.so.*.*.*)
  if(NOT so)
    message(FATAL_ERROR "${MODE}: no libgoro.so.<version> installed in ${WORK_DIR}/prefix/lib")
  endif()
  run("objdump -p libgoro.so" objdump -p ${so})
  expect_match("the library's SONAME" "${out}" "SONAME +libgoro\\.so\\.0\\.[0-9]+\n")
  cmake_downstream(${here}/find_package ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
  run("objdump -p downstream" objdump -p ${WORK_DIR}/build/downstream)
  expect_match("the program's NEEDED" "${out}" "NEEDED +libgoro\\.so\\.0\\.[0-9]+\n")
elseif(MODE STREQUAL "deb")
  run("cpack -G DEB" cpack -G DEB --config ${GORO_BINARY_DIR}/CPackConfig.cmake -B ${WORK_DIR}/pkg)
  file(GLOB deb ${WORK_DIR}/pkg/libgoro-dev_*.deb)
  if(NOT deb)
    message(FATAL_ERROR "${MODE}: cpack made no libgoro-dev_*.deb in ${WORK_DIR}/pkg:\n${out}")
  endif()
  run("dpkg-deb -f" dpkg-deb -f ${deb} Package Version Depends Section)
  expect_match("the package's control fields" "${out}" "Package: libgoro-dev\n")
  expect_match("the package's control fields" "${out}" "Depends: [^\n]*libboost-context-dev[^\n]*liburing-dev")
  run("dpkg-deb -c" dpkg-deb -c ${deb})
  expect_match("the package's files" "${out}" "\\./usr/include/goro/goro\\.hpp")
  expect_match("the package's files" "${out}" "\\./usr/lib/[^ ]*cmake/goro/goroConfig\\.cmake")
  expect_match("the package's files" "${out}" "\\./usr/lib/[^ ]*pkgconfig/goro\\.pc")
  run("dpkg-deb -x" dpkg-deb -x ${deb} ${WORK_DIR}/root)
  cmake_downstream(${here}/find_package ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/root/usr)
  file(GLOB_RECURSE pc ${WORK_DIR}/root/usr/goro.pc)
  get_filename_component(pc_dir ${pc} DIRECTORY)
  make_downstream(${pc_dir} ${WORK_DIR}/make)
elseif(MODE STREQUAL "add_subdirectory")
  # The layout of a project with goro as a submodule: <project>/extern/goro.
  set(project ${WORK_DIR}/project)
  file(MAKE_DIRECTORY ${project}/extern)
  file(COPY ${here}/add_subdirectory/CMakeLists.txt DESTINATION ${project})
  file(COPY ${here}/main.cpp ${here}/parent_checks.cmake DESTINATION ${WORK_DIR})
  file(CREATE_LINK ${GORO_SOURCE_DIR} ${project}/extern/goro SYMBOLIC)
  cmake_downstream(${project} ${WORK_DIR}/build)
elseif(MODE STREQUAL "fetchcontent")
  cmake_downstream(${here}/fetchcontent ${WORK_DIR}/build -DGORO_SOURCE_DIR=${GORO_SOURCE_DIR})
else()
  message(FATAL_ERROR "MODE must be find_package, pkg_config, shared, deb, add_subdirectory, fetchcontent or package_source, not '${MODE}'")
endif()
