# Writes every name.expected from its Go original's output:
#   cmake -DGO=go -DOUT_DIR=examples/go_classics -P examples/go_classics/regenerate.cmake
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED GO OR NOT DEFINED OUT_DIR)
  message(FATAL_ERROR "usage: cmake -DGO=<go> -DOUT_DIR=<examples/go_classics> -P regenerate.cmake")
endif()
set(work ${CMAKE_CURRENT_BINARY_DIR}/go_classics_regen)
file(MAKE_DIRECTORY ${work})
file(GLOB sources ${OUT_DIR}/*.go)
foreach(src IN LISTS sources)
  get_filename_component(name ${src} NAME_WE)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env GOCACHE=${work}/cache GOPATH=${work}/gopath
                          GO111MODULE=off GOFLAGS= CGO_ENABLED=0
                          ${GO} build -o ${work}/${name} ${src} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "go build ${src} failed")
  endif()
  execute_process(COMMAND ${work}/${name} OUTPUT_FILE ${OUT_DIR}/${name}.expected RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc})")
  endif()
  message(STATUS "wrote ${OUT_DIR}/${name}.expected")
endforeach()
