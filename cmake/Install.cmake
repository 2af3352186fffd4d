# The installable SDK: one shared library, libswitchboard.so (target switchboard_sdk,
# exported as switchboard::switchboard), the public headers, both programs, a CMake
# package (find_package(switchboard)) and a pkg-config file (switchboard.pc).
#
# The library reuses the objects the static libraries already built (all of them are
# position-independent), so nothing compiles twice. Its third-party dependencies stay
# private: the public headers use only the standard library.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(switchboard_sdk SHARED
  $<TARGET_OBJECTS:switchboard_core>
  $<TARGET_OBJECTS:switchboard_webrtc>
  $<TARGET_OBJECTS:switchboard_signaling>
  $<TARGET_OBJECTS:switchboard_client>)
add_library(switchboard::switchboard ALIAS switchboard_sdk)
target_include_directories(switchboard_sdk PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(switchboard_sdk PUBLIC cxx_std_20)
find_package(Threads REQUIRED)
find_package(spdlog REQUIRED)
target_link_libraries(switchboard_sdk PRIVATE
  ${SWITCHBOARD_WEBRTC_LIBRARIES} ${SWITCHBOARD_SIGNALING_LIBRARIES} spdlog::spdlog
  Threads::Threads)
set_target_properties(switchboard_sdk PROPERTIES
  OUTPUT_NAME switchboard
  EXPORT_NAME switchboard
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)

install(TARGETS switchboard_sdk EXPORT switchboardTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/switchboard
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
foreach(program switchboard switchboard-server)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

set(SWITCHBOARD_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/switchboard)
install(EXPORT switchboardTargets
  NAMESPACE switchboard::
  DESTINATION ${SWITCHBOARD_CMAKE_DIR})
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/switchboardConfig.cmake.in
  ${PROJECT_BINARY_DIR}/switchboardConfig.cmake
  INSTALL_DESTINATION ${SWITCHBOARD_CMAKE_DIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/switchboardConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/switchboardConfig.cmake
  ${PROJECT_BINARY_DIR}/switchboardConfigVersion.cmake
  DESTINATION ${SWITCHBOARD_CMAKE_DIR})

# pkg-config finds the prefix from where the .pc file lies, so an install moved or made
# with `cmake --install --prefix` still works.
file(RELATIVE_PATH SWITCHBOARD_PC_TO_PREFIX
  /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" SWITCHBOARD_PC_TO_PREFIX "${SWITCHBOARD_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/switchboard.pc.in
  ${PROJECT_BINARY_DIR}/switchboard.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/switchboard.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
