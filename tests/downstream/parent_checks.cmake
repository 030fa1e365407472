# What a project that embeds goro (add_subdirectory, FetchContent) may rely on.

# The parent's own targets carry the names goro uses for its tests, examples and benchmarks: an
# embedded goro with those on by default would fail to configure ("target already exists").
function(goro_parent_targets)
  foreach(name goro_tests goro_crash hello echo_server quote_fanout goro_bench)
    add_custom_target(${name} COMMAND ${CMAKE_COMMAND} -E true)
  endforeach()
endfunction()

# After goro is added: nothing global changed, nothing but the library (and its alias) defined.
function(goro_parent_checks)
  if(NOT TARGET goro::goro)
    message(FATAL_ERROR "goro::goro is not defined")
  endif()
  if(CMAKE_BUILD_TYPE)
    message(FATAL_ERROR "goro set the parent's CMAKE_BUILD_TYPE to '${CMAKE_BUILD_TYPE}'")
  endif()
  foreach(opt GORO_BUILD_TESTS GORO_BUILD_EXAMPLES GORO_BUILD_BENCH GORO_INSTALL)
    if(${opt})
      message(FATAL_ERROR "${opt} is ON in an embedded goro; it must default to OFF")
    endif()
  endforeach()
  foreach(var CMAKE_CXX_STANDARD CMAKE_CXX_FLAGS)
    if(${var})
      message(FATAL_ERROR "goro changed the parent's ${var} to '${${var}}'")
    endif()
  endforeach()
  get_property(tests_on DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY TESTS)
  if(tests_on)
    message(FATAL_ERROR "goro registered tests in the parent: ${tests_on}")
  endif()
endfunction()
