# SPDX-License-Identifier: Apache-2.0
# What `make package` installs and how CPack makes the Debian package of it (packaging/ holds the
# unit, the default configuration and the Debian metadata). Paths follow Debian bookworm: daemons
# and xlbctl in /usr/sbin, units in /lib/systemd/system.
include(GNUInstallDirs)
set(XLB_PKG ${PROJECT_SOURCE_DIR}/packaging)
set(XLB_DOC_DIR ${CMAKE_BINARY_DIR}/doc)

install(TARGETS xlbd xlbctl RUNTIME DESTINATION sbin)
install(TARGETS xlb-sim RUNTIME DESTINATION bin)
# The DSR backends' decapsulation program (`ip link set dev eth0 xdp obj ... sec xdp`).
install(FILES ${XLB_BIN_DIR}/xlb_decap.bpf.o DESTINATION lib/xlb)
install(FILES ${XLB_PKG}/xlb.yaml DESTINATION /etc/xlb)
install(FILES ${XLB_PKG}/xlbd.service DESTINATION /lib/systemd/system)
# state_dir; the unit's StateDirectoryMode makes it 0700 when xlbd starts.
install(DIRECTORY DESTINATION /var/lib/xlb)
install(FILES ${XLB_PKG}/lintian-overrides DESTINATION share/lintian/overrides RENAME xlb)
install(FILES ${XLB_DOC_DIR}/completions/xlbctl DESTINATION share/bash-completion/completions)
# Debian wants man pages and changelogs compressed (gzip -9n: reproducible).
add_custom_command(OUTPUT ${XLB_DOC_DIR}/gz/xlbd.8.gz ${XLB_DOC_DIR}/gz/xlbctl.8.gz
    ${XLB_DOC_DIR}/gz/xlb-sim.1.gz ${XLB_DOC_DIR}/gz/changelog.Debian.gz
    ${XLB_DOC_DIR}/gz/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${XLB_DOC_DIR}/gz
  COMMAND sh -c "gzip -9n -c man8/xlbd.8 > gz/xlbd.8.gz && gzip -9n -c man8/xlbctl.8 > gz/xlbctl.8.gz && gzip -9n -c man1/xlb-sim.1 > gz/xlb-sim.1.gz && gzip -9n -c \"$1/changelog\" > gz/changelog.Debian.gz && gzip -9n -c \"$2\" > gz/changelog.gz"
    sh ${XLB_PKG} ${PROJECT_SOURCE_DIR}/CHANGELOG.md
  WORKING_DIRECTORY ${XLB_DOC_DIR}
  DEPENDS ${XLB_DOC_DIR}/man8/xlbd.8 ${XLB_DOC_DIR}/man8/xlbctl.8 ${XLB_DOC_DIR}/man1/xlb-sim.1
    ${XLB_PKG}/changelog ${PROJECT_SOURCE_DIR}/CHANGELOG.md VERBATIM)
add_custom_target(xlb_docs_gz ALL DEPENDS ${XLB_DOC_DIR}/gz/changelog.gz)
add_dependencies(xlb_docs_gz xlb_docs)
install(FILES ${XLB_DOC_DIR}/gz/xlbd.8.gz ${XLB_DOC_DIR}/gz/xlbctl.8.gz
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${XLB_DOC_DIR}/gz/xlb-sim.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${XLB_DOC_DIR}/gz/changelog.Debian.gz ${XLB_DOC_DIR}/gz/changelog.gz
  ${XLB_PKG}/copyright DESTINATION share/doc/xlb)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/API.md
  ${PROJECT_SOURCE_DIR}/docs/openapi.yaml ${PROJECT_SOURCE_DIR}/docs/SIM.md
  ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md DESTINATION share/doc/xlb)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/contrib/ DESTINATION share/doc/xlb/contrib)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xlb)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "xlb developers <xlb@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "layer-4 load balancer on XDP and AF_XDP")
# Debian wraps the extended description at 80 columns: one line each here.
set(CPACK_PACKAGE_DESCRIPTION "xlb spreads the connections to each virtual IP over weighted
backends with Maglev hashing and full NAT or direct server return. An XDP
program drops blocklisted sources and answers SYN floods with cookies; AF_XDP
workers track every connection. This package holds the daemon xlbd with its
systemd unit, the command-line client xlbctl, the simulator xlb-sim and the
DSR decapsulation program.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The unit's ExecReload runs /bin/kill.
set(CPACK_DEBIAN_PACKAGE_DEPENDS procps)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${XLB_PKG}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
