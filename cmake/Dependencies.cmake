# Every third-party dependency, found once at the top so all directories see the targets.
find_package(OpenSSL 3 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(USRSCTP REQUIRED IMPORTED_TARGET GLOBAL usrsctp)
pkg_check_modules(NICE REQUIRED IMPORTED_TARGET GLOBAL nice)
find_package(Boost 1.74 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
