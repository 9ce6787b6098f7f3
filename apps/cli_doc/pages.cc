// SPDX-License-Identifier: Apache-2.0
// The prose of xlb's man pages. Options are not described here: each page's OPTIONS and COMMANDS
// come from the program's own CLI::App (renderMan).
#include "cli_doc.h"

namespace xlb::clidoc {

ManPage xlbdPage() {
  ManPage p;
  p.name = "xlbd";
  p.section = 8;
  p.summary = "XDP and AF_XDP layer-4 load balancer daemon";
  p.before.push_back(
      {"DESCRIPTION",
       R"(xlbd spreads the connections to each virtual IP (VIP) over weighted backends with Maglev hashing and full NAT. An XDP program on the interface drops blocklisted sources, answers SYN floods with cookies and passes the host's own traffic; AF_XDP workers track every connection with a TCP state machine and rewrite its packets.

xlbd loads the configuration, restores the runtime changes kept in state_dir and the connections kept in runtime_dir, attaches XDP, serves the REST API and Prometheus metrics on control.listen, and runs health checks until it is stopped. The configuration format is described in /usr/share/doc/xlb/README.md and the API in /usr/share/doc/xlb/API.md; xlbctl(8) is its command-line client.

Before starting it on a NIC, put the VIP and SNAT addresses on the interface, keep the SNAT port range outside the kernel's ephemeral range, and give the interface at least as many queues as workers.)"});
  p.after.push_back(
      {"SIGNALS",
       R"(- SIGHUP: read the configuration file again and apply the difference (VIPs, ports, backends, SYN-flood settings, configured blocklist entries); settings that need a restart are named in the log and keep their running values. A file that does not validate changes nothing.
- SIGTERM, SIGINT: stop. The XDP program stays attached and the connections stay in runtime_dir, so that the next xlbd adopts them; xlbd --detach removes both.)"});
  p.after.push_back(
      {"FILES", R"(- /etc/xlb/xlb.yaml: the configuration the packaged service starts with.
- /var/lib/xlb: state_dir: the runtime changes made over the API (VIPs, backends, blocklist) and api-token, the API's bearer token (mode 0600).
- /run/xlb: runtime_dir: flows, the connection tables kept across a restart, and handover.sock, the socket a --takeover start talks to.)"});
  p.after.push_back(
      {"EXIT STATUS", R"(- 0: a clean stop, or a configuration that validates (--check-config).
- 1: a runtime failure: no interface, no permission, the XDP attach failed, the API port is taken.
- 2: a configuration that does not validate, or a bad command line.)"});
  p.after.push_back({"SEE ALSO", "xlbctl(8), xlb-sim(1), bpftool(8), ip-link(8)"});
  return p;
}

ManPage xlbctlPage() {
  ManPage p;
  p.name = "xlbctl";
  p.section = 8;
  p.summary = "control a running xlbd through its REST API";
  p.before.push_back(
      {"DESCRIPTION",
       R"(xlbctl sends one request to the REST API of a running xlbd(8) and prints the answer as a table or, with -o json, as the API's JSON. Reading needs no token; every change is sent with the bearer token read from --token-file, XLB_TOKEN_FILE, or /var/lib/xlb/api-token when it is readable.)"});
  p.after.push_back({"ENVIRONMENT", R"(- XLB_API: the API's base URL, as --api.
- XLB_TOKEN_FILE: the file holding the API token, as --token-file.)"});
  p.after.push_back({"EXIT STATUS", R"(- 0: the API answered with success.
- 1: the API answered with an error; its message is printed on standard error.
- 2: a bad command line, or the token file cannot be read.
- 3: the API cannot be reached.)"});
  p.after.push_back({"EXAMPLES", R"(- xlbctl stats: the running figures.
- xlbctl blocklist add 192.0.2.0/24 --ttl 3600 --comment scanner: block a prefix for an hour.
- xlbctl backends set 10.0.0.100 10.0.0.11 --state draining: take a backend out of rotation and let its connections finish.)"});
  p.after.push_back({"SEE ALSO", "xlbd(8), xlb-sim(1)"});
  return p;
}

ManPage xlbSimPage() {
  ManPage p;
  p.name = "xlb-sim";
  p.section = 1;
  p.summary = "run xlb's data path on a virtual clock";
  p.before.push_back(
      {"DESCRIPTION",
       R"(xlb-sim runs the real XDP object (its native build, or the kernel's through BPF_PROG_TEST_RUN) and the real engine on a virtual clock. replay feeds a capture through them open loop and reports what xlb sent and counted; run plays a closed-loop scenario with simulated clients and backends and checks its expectations through the API; generate writes deterministic input captures. Scenarios and reports are described in /usr/share/doc/xlb/SIM.md.)"});
  p.after.push_back({"EXIT STATUS", R"(- 0: done; for run, every expectation held.
- 1: a failure: an expectation did not hold, an input cannot be read, the XDP stage cannot run.
- 2: a bad command line or configuration.
- 77: the scenario needs the kernel's BPF and this process cannot load it.)"});
  p.after.push_back({"SEE ALSO", "xlbd(8), xlbctl(8), tcpreplay(1)"});
  return p;
}

}  // namespace xlb::clidoc
