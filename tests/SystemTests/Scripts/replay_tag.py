"""A TCP client made of raw packets, to replay a trace tag: it sends a SYN whose FlowMesh
option carries the given tag (copied from another connection) under an ISN of its own,
completes the handshake with the server's SYN-ACK, then resets the connection. Its
packets carry the mark 0x464d, so that a firewall rule can drop the kernel's own reset
to the SYN-ACK (the kernel knows no socket for this connection). Prints the ISN it used.

usage: replay_tag.py SOURCE DESTINATION PORT TAG
"""
import random
import socket
import struct
import sys

MARK = 0x464D
src, dst, dport, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sport = random.randint(40000, 60000)
isn = random.getrandbits(32)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def segment(seq, ack, flags, options=b""):
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, ((20 + len(options)) // 4) << 4, flags, 65535, 0, 0) + options
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(header))
    return header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]


# RFC 6994 experimental option: kind 253, length 12, ExID 0x464D, the tag as the Node stores it (little-endian).
option = bytes([253, 12, 0x46, 0x4D]) + struct.pack("<Q", tag)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
raw.settimeout(5)
raw.sendto(segment(isn, 0, 0x02, option), (dst, 0))
while True:
    packet, _ = raw.recvfrom(65535)
    tcp = packet[(packet[0] & 0x0F) * 4:]
    source, target, seq, _, _, flags = struct.unpack("!HHIIBB", tcp[:14])
    if source == dport and target == sport and flags & 0x12 == 0x12:
        break
raw.sendto(segment(isn + 1, seq + 1, 0x10), (dst, 0))  # ACK: the server's socket is established now
raw.sendto(segment(isn + 1, seq + 1, 0x14), (dst, 0))  # RST|ACK: and closed
print(isn)
