#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/, kept in the repo):
#   seeds.py <fuzz build bin dir>
# Hand-made here: API requests for every route, pipeline programs (a full-NAT connection from
# handshake to close, a SYN-proxied one with a kill, DSR, DNS), the repo's configuration files
# and the golden capture. Written by the targets themselves (XLB_FUZZ_SEEDS): the XDP target's
# frames (also the parser's, without its 3-byte prefix), the state files, cluster datagrams.
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


GET, POST, PUT, PATCH, DELETE = range(5)
API = [
    (GET, "/api/v1/status", ""),
    (GET, "/api/v1/stats", ""),
    (GET, "/api/v1/config", ""),
    (PATCH, "/api/v1/config", '{"vips": [{"address": "10.0.0.100", "ports": [80], "syn_flood": {"mode": "auto", "threshold_pps": 100}}]}'),
    (GET, "/api/v1/blocklist?limit=2&next=10.9.0.0%2F16", ""),
    (POST, "/api/v1/blocklist", '{"cidr": "203.0.113.0/24", "ttl_seconds": 3600, "comment": "scan"}'),
    (POST, "/api/v1/blocklist/import?ttl_seconds=60&comment=a%20b", "10.1.0.0/16\n# c\n2001:db8:bad::/48\n300.1.1.1\n"),
    (DELETE, "/api/v1/blocklist/203.0.113.0/24", ""),
    (POST, "/api/v1/config/reload", ""),
    (GET, "/api/v1/vips", ""),
    (POST, "/api/v1/vips", '{"address": "10.0.0.101", "ports": [443], "backend_ports": {"443": 8443}, "syn_flood": {"mode": "auto", "threshold_pps": 20000}, "backends": [{"address": "10.0.0.11", "weight": 1}]}'),
    (POST, "/api/v1/vips", '{"address": "10.0.0.102", "protocol": "udp", "quic": true, "ports": [443], "backends": [{"address": "10.0.0.12"}]}'),
    (POST, "/api/v1/vips", '{"address": "10.0.0.103", "ports": [80], "forwarding": "dsr", "encapsulation": "ipip", "syn_flood": {"mode": "off"}, "backends": [{"address": "10.0.0.13"}]}'),
    (DELETE, "/api/v1/vips/10.0.0.100", ""),
    (GET, "/api/v1/vips/10.0.0.100%2Fudp/backends", ""),
    (POST, "/api/v1/vips/2001:db8::100/backends", '{"address": "2001:db8::12", "weight": 2}'),
    (PATCH, "/api/v1/vips/10.0.0.100/backends/10.0.0.11", '{"weight": 3, "state": "draining"}'),
    (DELETE, "/api/v1/vips/10.0.0.100/backends/10.0.0.11?protocol=tcp", ""),
    (GET, "/api/v1/connections?vip=10.0.0.100&state=established&limit=10", ""),
    (DELETE, "/api/v1/connections?client=10.0.0.1", ""),
    (GET, "/api/v1/cluster", ""),
    (POST, "/api/v1/cluster/drain", ""),
    (DELETE, "/api/v1/cluster/drain", ""),
    (PATCH, "/api/v1/config", '{"auto_block": {"mode": "block", "window_ms": 500, "limits": {"syn_without_handshake": 10, "filtered_port": 5, "packets": 0}, "ttl_s": 30, "fold": {"ipv4": 24, "ipv6": 64, "sources": 2}, "allow": ["10.0.0.0/30", "2001:db8::/64"]}}'),
]


def api_seeds():
    for i, (m, url, body) in enumerate(API):
        put("api", f"route-{i:02d}", bytes([m]) + f"{url}\n{body}".encode())
    # A sequence: add a VIP, a backend, block, then list.
    seq = b"\0".join(bytes([m]) + f"{u}\n{b}".encode() for m, u, b in (API[10], API[15], API[5], API[9]))
    put("api", "sequence", seq)


def pipeline_seeds():
    u8 = lambda v: struct.pack("<B", v & 0xFF)
    u16 = lambda v: struct.pack("<H", v & 0xFFFF)
    u32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)
    SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
    who = 0  # client 10.0.0.1:40000 -> 10.0.0.100:80

    def client(flags, seq, ack, opts=0, payload=0):
        o = b""
        if opts & 1: o += u16(1460)
        if opts & 4: o += u8(7)
        if opts & 8: o += u32(1234) + u32(0)
        return u8(1) + u8(who) + u8(flags) + u32(seq) + u32(ack) + u16(65535) + u8(opts) + o + u8(payload)

    def reply(op, ring, flags, payload=0):  # op 3: backend, 4: client, relative numbers
        return u8(op) + u8(ring) + u8(flags) + u8(0) + u8(0) + u16(1000) + u8(0) + u8(payload)

    clock = lambda ms: u8(7) + u16(ms)
    fullnat = (u8(0) + client(SYN, 1000, 0, 1 | 2 | 4 | 8) + reply(3, 0, SYN | ACK) +
               reply(4, 0, ACK) + reply(4, 0, ACK | PSH, 20) + reply(3, 1, ACK | PSH, 40) +
               reply(4, 1, ACK | FIN) + reply(3, 2, ACK | FIN) + reply(4, 2, ACK) + clock(0x8000 | 30))
    put("pipeline", "fullnat-connection", fullnat)
    put("pipeline", "fullnat-reset", u8(0) + client(SYN, 5, 0) + reply(3, 0, SYN | ACK) + reply(4, 0, RST))
    proxy = (u8(1) + u8(2) + u8(who) + u32(77) + u8(1) + u16(1460) + u8(PSH) + u8(30) +
             reply(3, 0, SYN | ACK) + reply(4, 0, ACK | PSH, 10) + u8(8) + u8(1) + clock(500))
    put("pipeline", "synproxy-kill", proxy)
    put("pipeline", "dsr", u8(2) + client(SYN, 9, 0) + client(ACK, 10, 1) + client(ACK | FIN, 10, 1))
    dns = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    udp = u8(0) + u8(5) + u8(2 << 5) + u8(len(dns)) + dns + u8(6) + u8(0) + u8(len(dns)) + dns
    put("pipeline", "dns", udp)
    quic = bytes([0xC3, 0, 0, 0, 1, 8]) + bytes(range(8)) + bytes([0]) + bytes(30)
    put("pipeline", "quic", u8(0) + u8(5) + u8(1 << 5) + u8(len(quic)) + quic)


def file_seeds():
    for name in ("docs/xlb.example.yaml", "pcaps/sim.yaml"):
        shutil.copy(os.path.join(ROOT, name), os.path.join(CORPUS, "config", os.path.basename(name)))
    put("config", "minimal.yaml", "interface: eth0\nsnat:\n  addresses: [10.0.0.2]\nvips:\n"
        "  - address: 10.0.0.100\n    ports: [80]\n    backends: [{address: 10.0.0.11}]\n")
    shutil.copy(os.path.join(ROOT, "pcaps/golden/mixed.pcap"), os.path.join(CORPUS, "pcap", "mixed.pcap"))


def target_seeds(bindir):
    with tempfile.TemporaryDirectory() as tmp:
        for target in ("xdp", "state", "cluster_wire"):
            out = os.path.join(CORPUS, target)
            os.makedirs(out, exist_ok=True)
            env = dict(os.environ, XLB_FUZZ_SEEDS=out)
            subprocess.run([os.path.join(bindir, "xlb-fuzz-" + target), "-runs=0", tmp],
                           env=env, check=True, capture_output=True)
    for name in sorted(os.listdir(os.path.join(CORPUS, "xdp"))):
        with open(os.path.join(CORPUS, "xdp", name), "rb") as f:
            put("parse", name, f.read()[3:])


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    for t in ("api", "pipeline", "config", "pcap"):
        os.makedirs(os.path.join(CORPUS, t), exist_ok=True)
    api_seeds()
    pipeline_seeds()
    file_seeds()
    target_seeds(sys.argv[1])


if __name__ == "__main__":
    main()
