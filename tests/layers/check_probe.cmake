# Builds one layer probe (tests/layers/CMakeLists.txt) and checks the outcome:
#   EXPECT=PASS  the build succeeds;
#   EXPECT=FAIL  the build fails because HEADER is not found (gcc: "HEADER: No such file or
#                directory", clang: "'HEADER' file not found"), not for some other reason.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
string(REPLACE "." "\\." header_re "${HEADER}")
if(EXPECT STREQUAL "PASS")
  if(rc)
    message(FATAL_ERROR "${TARGET}: a downward include must build, but it failed:\n${out}")
  endif()
  message(STATUS "${TARGET}: built, as it should")
elseif(EXPECT STREQUAL "FAIL")
  if(NOT rc)
    message(FATAL_ERROR "${TARGET}: <${HEADER}> is a higher layer's (or private) header, yet the build succeeded: the layers are not enforced")
  endif()
  if(NOT out MATCHES "${header_re}: No such file or directory|'${header_re}' file not found")
    message(FATAL_ERROR "${TARGET}: the build failed, but not because <${HEADER}> was not found:\n${out}")
  endif()
  message(STATUS "${TARGET}: refused, as it should: <${HEADER}> not found")
else()
  message(FATAL_ERROR "EXPECT must be PASS or FAIL")
endif()
