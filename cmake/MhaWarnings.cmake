# mha_target_warnings(target): the project's warning set, -Werror when MHA_WERROR is on, and the
# sanitizers when MHA_SANITIZE is on.
add_library(mha_warnings INTERFACE)
target_compile_options(mha_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Wnon-virtual-dtor
  $<$<BOOL:${MHA_WERROR}>:-Werror>
  # GCC 12 at -O3 reports false positives inside libstdc++ after inlining (GCC bugs 105651,
  # 108088, 107852, 105746: -Wrestrict in std::string's operator+, -Wfree-nonheap-object,
  # -Wstringop-overflow and -Warray-bounds in std::vector's memmove/destructor). They stay
  # visible as warnings but do not fail the build; ASan+UBSan check the real thing.
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-error=restrict -Wno-error=free-nonheap-object -Wno-error=stringop-overflow -Wno-error=array-bounds -Wno-error=stringop-overread>)

add_library(mha_sanitizers INTERFACE)
if(MHA_SANITIZE)
  target_compile_options(mha_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(mha_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
if(MHA_TSAN)
  if(MHA_SANITIZE)
    message(FATAL_ERROR "MHA_TSAN and MHA_SANITIZE cannot be combined: ThreadSanitizer excludes ASan")
  endif()
  target_compile_options(mha_sanitizers INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(mha_sanitizers INTERFACE -fsanitize=thread)
endif()

function(mha_target_warnings target)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:mha_warnings>
                                          $<BUILD_INTERFACE:mha_sanitizers>)
endfunction()
