# Compares a goro port's stdout with its Go original's (see CMakeLists.txt).
#   -DPORT=<port executable> -DEXPECTED=<name.expected> -DGO_SRC=<name.go> -DWORK=<scratch dir>
#   -DGO=<go executable> -DGO_WORK=<GOCACHE/GOPATH root>   (optional: without GO, the port is
#                                                            compared with EXPECTED only)
# Fails (FATAL_ERROR) on a non-zero exit status or any difference, printing both outputs.
cmake_minimum_required(VERSION 3.25)
foreach(v PORT EXPECTED GO_SRC WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "compare.cmake: -D${v}=... is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${WORK})

# Runs a program; its stdout goes to <out_var>. A non-zero status or a timeout fails the test.
function(run_program what out_var)
  execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc
                  TIMEOUT 30)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${err}\n--- its stdout:\n${out}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# Fails, showing both texts and a diff, unless a and b are identical.
function(require_same a_what a b_what b)
  if(NOT a STREQUAL b)
    file(WRITE ${WORK}/a.txt "${a}")
    file(WRITE ${WORK}/b.txt "${b}")
    execute_process(COMMAND diff -u ${WORK}/a.txt ${WORK}/b.txt OUTPUT_VARIABLE d)
    message(FATAL_ERROR "${a_what} and ${b_what} differ (diff -u ${a_what} ${b_what}):\n${d}")
  endif()
endfunction()

run_program("the port (${PORT})" port_out ${PORT})
file(READ ${EXPECTED} expected_out)

if(DEFINED GO)
  get_filename_component(name ${GO_SRC} NAME_WE)
  set(env ${CMAKE_COMMAND} -E env GOCACHE=${GO_WORK}/cache GOPATH=${GO_WORK}/gopath
          GO111MODULE=off GOFLAGS= CGO_ENABLED=0)
  run_program("go build ${GO_SRC}" ignored ${env} ${GO} build -o ${WORK}/${name}_go ${GO_SRC})
  run_program("the Go original (${WORK}/${name}_go)" go_out ${WORK}/${name}_go)
  require_same("Go's output" "${go_out}" "the port's output" "${port_out}")
  require_same("Go's output" "${go_out}" "${EXPECTED}" "${expected_out}")
  message(STATUS "identical to the Go original's output (and to ${EXPECTED})")
else()
  require_same("${EXPECTED}" "${expected_out}" "the port's output" "${port_out}")
  message(STATUS "identical to ${EXPECTED}")
endif()
