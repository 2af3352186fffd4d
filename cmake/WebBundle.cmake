# web_bundle: `npm --prefix web run build` whenever the Web SDK or the demo changes, so
# web/dist (the server's default web root, SWITCHBOARD_WEB_ROOT) is there for `make run`
# and `make test`. Without npm it warns and is skipped: the C++ builds and the server
# answers 404 for the web routes, saying how to build them.
option(SWITCHBOARD_WEB "Build the Web SDK bundle and demo app (web/dist) with npm" ON)

if(NOT SWITCHBOARD_WEB)
  return()
endif()
find_program(SWITCHBOARD_NPM npm)
find_program(SWITCHBOARD_NODE node)
if(NOT SWITCHBOARD_NPM OR NOT SWITCHBOARD_NODE)
  message(WARNING "node/npm not found: the Web SDK and demo (web/dist) are not built; "
                  "switchboard-server answers 404 at / and /sdk/switchboard.js. Install "
                  "Node.js 20 (make setup) or pass -DSWITCHBOARD_WEB=OFF to silence this.")
  return()
endif()

set(web_dir "${PROJECT_SOURCE_DIR}/web")
set(web_dist "${web_dir}/dist")
file(GLOB_RECURSE web_inputs CONFIGURE_DEPENDS
  "${web_dir}/src/*.ts" "${web_dir}/demo/*" "${web_dir}/scripts/build.mjs"
  "${web_dir}/tsconfig*.json" "${web_dir}/package.json")

# The npm dev dependencies (esbuild, typescript): installed when node_modules is older
# than the lock file (node_modules/.package-lock.json is npm's record of what it
# installed), not merely because this build directory is new.
set(web_modules_stamp "${CMAKE_BINARY_DIR}/web_node_modules.stamp")
add_custom_command(
  OUTPUT "${web_modules_stamp}"
  COMMAND sh -c "test node_modules/.package-lock.json -nt package-lock.json || \"$0\" ci --no-audit --no-fund --ignore-scripts" "${SWITCHBOARD_NPM}"
  COMMAND "${CMAKE_COMMAND}" -E touch "${web_modules_stamp}"
  DEPENDS "${web_dir}/package-lock.json"
  WORKING_DIRECTORY "${web_dir}"
  COMMENT "web/node_modules up to date with package-lock.json"
  VERBATIM)

# build.mjs replaces each output atomically, so a running server never serves half a file.
add_custom_command(
  OUTPUT "${web_dist}/switchboard.js" "${web_dist}/demo/app.js" "${web_dist}/demo/index.html"
         "${web_dist}/demo/style.css"
  COMMAND "${SWITCHBOARD_NPM}" --prefix "${web_dir}" run --silent build
  DEPENDS ${web_inputs} "${web_modules_stamp}"
  WORKING_DIRECTORY "${web_dir}"
  COMMENT "npm run build (web/dist: switchboard.js, demo/)"
  VERBATIM)
add_custom_target(web_bundle ALL
  DEPENDS "${web_dist}/switchboard.js" "${web_dist}/demo/app.js"
          "${web_dist}/demo/index.html" "${web_dist}/demo/style.css")
