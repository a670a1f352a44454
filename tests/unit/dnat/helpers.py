"""Packet helpers for the DNAT tests: scapy builders and an independent checksum check
(pure Python RFC 1071 and CRC32c, not the C code under test)."""

from __future__ import annotations

import ipaddress
import struct

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.sctp import SCTP, crc32c
from scapy.packet import Packet


def ones_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo(af: int, src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if af == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def _l4_ok(af: int, src: bytes, dst: bytes, proto: int, l4: bytes, full: bool) -> None:
    if proto == 6 and full:
        assert ones_sum(pseudo(af, src, dst, 6, len(l4)) + l4) == 0xFFFF, "bad TCP checksum"
    elif proto == 17 and full:
        if af == 4 and l4[6:8] == b"\0\0":
            return
        assert ones_sum(pseudo(af, src, dst, 17, len(l4)) + l4) == 0xFFFF, "bad UDP checksum"
    elif proto == 132 and full:
        want = struct.pack(">I", crc32c(l4[:8] + b"\0\0\0\0" + l4[12:]))  # scapy's order
        assert l4[8:12] == want, "bad SCTP CRC32c"
    elif proto == 1 and full:
        assert ones_sum(l4) == 0xFFFF, "bad ICMP checksum"
    elif proto == 58 and full:
        assert ones_sum(pseudo(af, src, dst, 58, len(l4)) + l4) == 0xFFFF, "bad ICMPv6 checksum"


def check_checksums(raw: bytes, quoted: bool = False) -> None:
    """Validate every checksum of a packet, recursing into ICMP error payloads (whose
    quoted packet the tests always include whole)."""
    v = raw[0] >> 4
    if v == 4:
        ihl = (raw[0] & 0xF) * 4
        assert ones_sum(raw[:ihl]) == 0xFFFF, "bad IPv4 header checksum"
        total = struct.unpack("!H", raw[2:4])[0]
        proto, src, dst, l4 = raw[9], raw[12:16], raw[16:20], raw[ihl:total]
        af = 4
    else:
        total = 40 + struct.unpack("!H", raw[4:6])[0]
        proto, src, dst, l4 = raw[6], raw[8:24], raw[24:40], raw[40:total]
        af = 6
    _l4_ok(af, src, dst, proto, l4, full=True)
    if (af == 4 and proto == 1 and l4[0] in (3, 4, 5, 11, 12)) or (
        af == 6 and proto == 58 and 1 <= l4[0] <= 4
    ):
        check_checksums(l4[8:], quoted=True)
    del quoted


def ip(af: int, src: str, dst: str) -> Packet:
    return IP(src=src, dst=dst) if af == 4 else IPv6(src=src, dst=dst)


def addr(af: int, last: int, net: int = 0) -> str:
    """Deterministic test addresses: 10.net.0.last / fd00:net::last."""
    return f"10.{net}.0.{last}" if af == 4 else f"fd00:{net}::{last}"


def ipa(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(s)


def tcp(af: int, src: str, dst: str, sport: int, dport: int, flags: str = "S") -> bytes:
    return bytes(ip(af, src, dst) / TCP(sport=sport, dport=dport, flags=flags) / b"hello")


def udp(af: int, src: str, dst: str, sport: int, dport: int) -> bytes:
    return bytes(ip(af, src, dst) / UDP(sport=sport, dport=dport) / b"payload!")


def sctp(af: int, src: str, dst: str, sport: int, dport: int) -> bytes:
    return bytes(ip(af, src, dst) / SCTP(sport=sport, dport=dport) / (b"\x00" * 16))


def fields(raw: bytes) -> tuple[str, str, int, int]:
    """(src, dst, sport, dport) of a TCP/UDP/SCTP packet."""
    p = IP(raw) if raw[0] >> 4 == 4 else IPv6(raw)
    l4 = p.payload
    return str(p.src), str(p.dst), int(l4.sport), int(l4.dport)


def icmp_echo(af: int, src: str, dst: str, ident: int) -> bytes:
    if af == 4:
        return bytes(IP(src=src, dst=dst) / ICMP(type=8, id=ident, seq=1) / b"ping")
    return bytes(IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=ident, seq=1) / b"ping")


__all__ = ["TCP", "UDP"]
