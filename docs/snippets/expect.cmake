# Runs PROGRAM and checks that it exits with EXIT_CODE and that its stderr matches PATTERN
# (a CMake regular expression). For snippets that end the process as Go does.
execute_process(COMMAND ${PROGRAM} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REPLACE "\n" " " err_line "${err}")
if(NOT rc STREQUAL "${EXIT_CODE}")
  message(FATAL_ERROR "${PROGRAM}: exit code ${rc}, expected ${EXIT_CODE}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT err_line MATCHES "${PATTERN}")
  message(FATAL_ERROR "${PROGRAM}: stderr does not match '${PATTERN}':\n${err}")
endif()
message(STATUS "exit code ${rc}, stderr as expected:\n${err}")
