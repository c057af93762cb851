# mha_component(NAME [DEPENDS LAYER...] SOURCES FILE...): the static library mha_NAME for one layer of
# the stack (src/NAME, include/mha/NAME). It links mha_LAYER for each dependency, PUBLIC because
# their headers are part of its own, and it compiles against a header view instead of include/
# and src/:
#   <build>/header_views/NAME/public/mha/NAME  → include/mha/NAME   (handed on to what links it)
#   <build>/header_views/NAME/private/NAME     → src/NAME           (this target only)
#   <build>/header_views/NAME/private/core     → src/core           (core's private helpers)
# So a header of a layer that NAME does not link, directly or through what it links, is not on
# its include path: `#include "mha/models/bert.hpp"` in src/layers fails to compile.
# scripts/check_layering.sh checks the stricter rule, direct dependencies only, on the same table.
include_guard(GLOBAL)

function(mha_component name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "DEPENDS;SOURCES")
  set(target mha_${name})
  add_library(${target} STATIC ${arg_SOURCES})
  set(view ${PROJECT_BINARY_DIR}/header_views/${name})
  file(MAKE_DIRECTORY ${view}/public/mha ${view}/private)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/mha/${name} ${view}/public/mha/${name} SYMBOLIC)
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR}/${name} ${view}/private/${name} SYMBOLIC)
  if(NOT name STREQUAL "core")
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR}/core ${view}/private/core SYMBOLIC)
  endif()
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${view}/public> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${view}/private)
  foreach(dependency IN LISTS arg_DEPENDS)
    target_link_libraries(${target} PUBLIC mha_${dependency})
  endforeach()
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  mha_target_warnings(${target})
  set_property(GLOBAL APPEND PROPERTY MHA_COMPONENTS ${target})
endfunction()
