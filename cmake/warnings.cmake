# marllb_warnings(target): the project's own code builds with -Wall -Wextra (-Werror).
function(marllb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow)
  if(MARLLB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CMAKE_CXX_FLAGS MATCHES "sanitize=thread")
    # gcc warns that TSan does not model atomic_thread_fence; every shared access in the
    # seqlock is itself atomic, so TSan sees no race whatever it makes of the fences.
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-tsan>)
  endif()
endfunction()
