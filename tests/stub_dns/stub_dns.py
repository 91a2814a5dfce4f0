#!/usr/bin/env python3
"""A DNS stand-in that answers only the test network's own names and writes down every
other name it is asked for. An air-gapped gateway uses it as its resolver: anything LiteLLM,
pip or the OS tries to reach outside the network (an index, a cost map, a binary download,
telemetry, a tokenizer) starts with a lookup, which lands in the log and gets NXDOMAIN.

Usage: stub_dns.py --log FILE --port 53 name=address [name=address ...]   (stdlib only)"""

import argparse
import socket
import struct
import time


def parse_name(packet, offset):
    labels = []
    while True:
        length = packet[offset]
        if length == 0:
            return ".".join(labels), offset + 1
        labels.append(packet[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length


def answer(packet, known):
    """(reply, name, qtype, found): A records for known names, empty NOERROR for their other types,
    NXDOMAIN for every other name."""
    ident, _flags, qdcount = struct.unpack("!HHH", packet[:6])
    name, end = parse_name(packet, 12)
    qtype, _qclass = struct.unpack("!HH", packet[end:end + 4])
    question = packet[12:end + 4]
    address = known.get(name.lower().rstrip("."))
    records = b""
    rcode = 0 if address else 3
    if address and qtype == 1:
        records = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + socket.inet_aton(address)
    header = struct.pack("!HHHHHH", ident, 0x8180 | rcode, qdcount, 1 if records else 0, 0, 0)
    return header + question + records, name, qtype, bool(address)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    known = dict(pair.split("=", 1) for pair in args.names)
    known = {k.lower(): v for k, v in known.items()}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.host, args.port))
    while True:
        packet, peer = sock.recvfrom(4096)
        try:
            reply, name, qtype, found = answer(packet, known)
        except (IndexError, struct.error):
            continue
        sock.sendto(reply, peer)
        if not found:
            with open(args.log, "a") as log:
                log.write("%.3f %s %s type=%d\n" % (time.time(), peer[0], name, qtype))


if __name__ == "__main__":
    main()
