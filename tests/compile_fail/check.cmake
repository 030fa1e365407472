# compile_fail_NAME (see CMakeLists.txt): SOURCE must compile as it is, and must fail to compile
# with -DGORO_COMPILE_FAIL, its first error containing the text of its `// expect-error:` line.
cmake_minimum_required(VERSION 3.25)
set(includes -I${SOURCE_DIR}/sched/include -I${SOURCE_DIR}/channels/include
             -I${SOURCE_DIR}/runtime/include)
file(STRINGS ${SOURCE} expect REGEX "^// expect-error: ")
list(LENGTH expect n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "${SOURCE}: needs exactly one `// expect-error: TEXT` line (found ${n})")
endif()
string(REGEX REPLACE "^// expect-error: " "" expect "${expect}")

execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only ${includes} ${SOURCE}
                RESULT_VARIABLE rc ERROR_VARIABLE e)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE}: the control (without GORO_COMPILE_FAIL) does not compile:\n${e}")
endif()

execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -DGORO_COMPILE_FAIL ${includes} ${SOURCE}
                RESULT_VARIABLE rc ERROR_VARIABLE e)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE}: compiles with GORO_COMPILE_FAIL, but must not")
endif()
string(REGEX MATCH "error: [^\n]*" first "${e}")
string(FIND "${first}" "${expect}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE}: the first error is not the expected one.\n"
                      "expected: ${expect}\nfirst error: ${first}\nall:\n${e}")
endif()
message(STATUS "${SOURCE}: fails as expected: ${first}")
