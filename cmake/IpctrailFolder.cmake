# One library target per folder, and a build that refuses a wrong-way include.
#
# ipctrail_folder(NAME <target> DEPENDS <our targets...> [INTERNAL <headers...>] SOURCES <files...>)
# declares the static library <target> for the current folder. DEPENDS names the folders it may
# use (their targets, linked PUBLIC because their headers appear in ours); third-party libraries
# are linked PRIVATE by the folder itself, so no other folder sees them. INTERNAL lists headers of
# this folder that no other folder may include.
#
# At configure time every source and header of the folder is scanned: an `#include "dir/x.h"` of
# ours must name this folder, a folder it depends on (directly or through a dependency), and not
# another folder's INTERNAL header. Otherwise configuring fails with the line to fix. The folder's
# files are configure dependencies, so editing one re-runs the check on the next build.

set_property(GLOBAL PROPERTY IPCTRAIL_INTERNAL_HEADERS "")

function(ipctrail_folder)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME" "DEPENDS;INTERNAL;SOURCES")
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})

  add_library(${arg_NAME} STATIC ${arg_SOURCES})
  target_link_libraries(${arg_NAME} PUBLIC ${arg_DEPENDS})
  set_target_properties(${arg_NAME} PROPERTIES IPCTRAIL_FOLDER ${folder})

  set(allowed ${folder})
  foreach(dependency IN LISTS arg_DEPENDS)
    get_target_property(dependency_allowed ${dependency} IPCTRAIL_ALLOWED)
    list(APPEND allowed ${dependency_allowed})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set_target_properties(${arg_NAME} PROPERTIES IPCTRAIL_ALLOWED "${allowed}")

  foreach(header IN LISTS arg_INTERNAL)
    set_property(GLOBAL APPEND PROPERTY IPCTRAIL_INTERNAL_HEADERS ${folder}/${header})
  endforeach()
  get_property(internal GLOBAL PROPERTY IPCTRAIL_INTERNAL_HEADERS)

  file(GLOB files LIST_DIRECTORIES false ${CMAKE_CURRENT_SOURCE_DIR}/*.h
       ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${files})
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes REGEX "^#include \"[^\"]+\"")
    foreach(line IN LISTS includes)
      string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
      get_filename_component(included_folder ${included} DIRECTORY)
      if(NOT included_folder IN_LIST allowed)
        message(FATAL_ERROR "${file}: `${line}`: folder ${folder} may include only ${allowed} "
                            "(the one-way layout, docs/design.md)")
      endif()
      if(NOT included_folder STREQUAL folder AND included IN_LIST internal)
        message(FATAL_ERROR "${file}: `${line}`: ${included} is internal to ${included_folder}")
      endif()
    endforeach()
  endforeach()
endfunction()
