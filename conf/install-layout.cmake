# Run by `cmake --install` (see conf/CMakeLists.txt, which sets the RM_* variables).
# Every path is under $ENV{DESTDIR}, so a scratch root gets the same layout as /.

set(root "$ENV{DESTDIR}")

# The example config becomes the live config only when there is none: an admin's edited
# config is never overwritten. The example is always in the docs to compare with.
get_filename_component(config_dir "${RM_CONFIG_FILE}" DIRECTORY)
if(EXISTS "${root}${RM_CONFIG_FILE}")
  message(STATUS "Keeping the existing ${root}${RM_CONFIG_FILE} (the shipped example is in the docs' examples/)")
else()
  # file(COPY), not file(INSTALL): the live config is the admin's from now on, so it
  # stays out of install_manifest.txt and `xargs rm < install_manifest.txt` keeps it.
  message(STATUS "Installing: ${root}${RM_CONFIG_FILE}")
  file(COPY "${RM_SOURCE_DIR}/conf/retention.toml" DESTINATION "${root}${config_dir}"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
endif()

# systemd units: every unit in conf/systemd/, with the program and config paths of this
# install (the files in the tree name /usr/sbin and /etc, the recommended prefix /usr).
set(sbin "${CMAKE_INSTALL_PREFIX}/${RM_SBIN_DIR}")
file(GLOB units "${RM_SOURCE_DIR}/conf/systemd/*.service" "${RM_SOURCE_DIR}/conf/systemd/*.timer")
file(MAKE_DIRECTORY "${root}${RM_UNIT_DIR}")
foreach(unit IN LISTS units)
  get_filename_component(name "${unit}" NAME)
  file(READ "${unit}" text)
  string(REPLACE "/usr/sbin/" "${sbin}/" text "${text}")
  string(REPLACE "/etc/retention-milter/retention.toml" "${RM_CONFIG_FILE}" text "${text}")
  message(STATUS "Installing: ${root}${RM_UNIT_DIR}/${name}")
  file(WRITE "${root}${RM_UNIT_DIR}/${name}" "${text}")
  # Recorded, so that uninstalling with install_manifest.txt removes the units too.
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${root}${RM_UNIT_DIR}/${name}")
endforeach()

# The state folder: setgid so that whatever file one of the three programs creates there
# keeps the shared group; nothing for others. Owner and group need the user to exist:
# set here when installing into / with the user already made, else by create-user.sh.
file(MAKE_DIRECTORY "${root}${RM_STATE_DIR}")
execute_process(COMMAND chmod 2770 "${root}${RM_STATE_DIR}")
if(root STREQUAL "")
  execute_process(COMMAND getent group retention RESULT_VARIABLE no_group OUTPUT_QUIET)
  if(no_group EQUAL 0)
    execute_process(COMMAND chown retention:retention "${RM_STATE_DIR}")
  else()
    message(STATUS "Run create-user.sh to create the user 'retention' and give it ${RM_STATE_DIR}")
  endif()
endif()
