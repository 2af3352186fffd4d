# Warnings for Switchboard's own targets (not for third-party headers).
add_library(switchboard_warnings INTERFACE)
target_compile_options(switchboard_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough)
if(SWITCHBOARD_WERROR)
  target_compile_options(switchboard_warnings INTERFACE -Werror)
endif()
