# Run at every build (cmake -P, from measure/CMakeLists.txt): writes OUT, the source of
# marllb::measure::build_git_commit(), with the checkout's HEAD (12 hex digits), "-dirty" when
# a tracked file outside results/ differs from it, or "unknown" outside a git checkout. The file
# is rewritten only when that changes, so a build with the same commit relinks nothing.
#   cmake -DSOURCE_DIR=<repo> -DOUT=<file.cpp> -P git_commit.cmake
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0 OR commit STREQUAL "")
  set(commit "unknown")
else()
  # results/ changes with every run; only the sources make a build "dirty".
  execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD -- . ":(exclude)results"
                  RESULT_VARIABLE dirty OUTPUT_QUIET ERROR_QUIET)
  if(dirty EQUAL 1)
    string(APPEND commit "-dirty")
  endif()
endif()
set(text "// Generated at build time by cmake/git_commit.cmake: do not edit.
#include \"marllb/measure/host.hpp\"
const char *marllb::measure::build_git_commit() noexcept { return \"${commit}\"; }
")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
