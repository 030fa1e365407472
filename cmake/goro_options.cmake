# Shared compile settings for goro's own targets.

function(goro_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(GORO_WERROR)  # CI: scripts/test.sh turns it on in every job
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
  # g++ 12 at -O3 (Release) warns -Wrestrict inside libstdc++'s own std::string code for plain
  # string concatenations ("memcpy accessing 9223372036854775810 or more bytes"): a known false
  # positive of that release (GCC bug 105329), nothing in our code.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  # Bind every symbol at load time: lazy binding runs the dynamic linker's resolver on whatever
  # stack is current, and it saves the full vector register state (KiBs with AVX-512). See
  # docs/architecture.md, "Lazy work on a small stack".
  target_link_options(${target} INTERFACE -Wl,-z,now)
endfunction()

# The sanitizer flags are PUBLIC on goro: a user's program that links a sanitized goro must be
# compiled the same way, and goro's fiber-switch annotations are compiled in accordingly.
function(goro_apply_sanitizer target scope)
  if(GORO_SANITIZE STREQUAL "address")
    target_compile_options(${target} ${scope} -fsanitize=address,undefined -fno-omit-frame-pointer
                           -fno-sanitize-recover=undefined)
    target_link_options(${target} ${scope} -fsanitize=address,undefined)
  elseif(GORO_SANITIZE STREQUAL "thread")
    target_compile_options(${target} ${scope} -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} ${scope} -fsanitize=thread)
  elseif(NOT GORO_SANITIZE STREQUAL "")
    message(FATAL_ERROR "GORO_SANITIZE must be '', 'address' or 'thread', not '${GORO_SANITIZE}'")
  endif()
endfunction()
