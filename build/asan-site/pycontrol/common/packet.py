"""Packet view parsing, checksums and flow hashing through the native common library."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pycontrol._native import ffi, lib


class Status(enum.IntEnum):
    OK = 0
    TRUNCATED = 1
    MALFORMED = 2


class Flag(enum.IntFlag):
    FRAGMENT = 1
    LATER_FRAG = 2
    HAS_L4 = 4
    ICMP_ERROR = 8
    IP4_OPTIONS = 16
    IP6_EXT = 32
    INNER_L4 = 64
    INNER_LATER_FRAG = 128


class HashField(enum.IntFlag):
    SRC_ADDR = 1
    DST_ADDR = 2
    PROTO = 4
    SRC_PORT = 8
    DST_PORT = 16
    SYMMETRIC = 32
    FIVE_TUPLE = 31


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class InnerHeader:
    src: IPAddress
    dst: IPAddress
    proto: int
    sport: int
    dport: int
    icmp_type: int
    icmp_code: int
    l3_offset: int
    l4_offset: int


@dataclass(frozen=True, slots=True)
class PacketView:
    status: Status
    af: int
    flags: Flag
    src: IPAddress | None
    dst: IPAddress | None
    proto: int
    sport: int
    dport: int
    icmp_type: int
    icmp_code: int
    tcp_flags: int
    ttl: int
    l4_offset: int
    total_len: int
    frag_id: int
    frag_offset: int
    inner: InnerHeader | None


def _addr(af: int, a: Any) -> IPAddress:
    raw = bytes(ffi.buffer(a.b, 16))
    return ipaddress.IPv4Address(raw[:4]) if af == 4 else ipaddress.IPv6Address(raw)


def _view(p: Any) -> PacketView:
    status = Status(p.status)
    ok = status is Status.OK
    flags = Flag(p.flags)
    inner = None
    if ok and flags & Flag.ICMP_ERROR:
        i = p.inner
        inner = InnerHeader(
            src=_addr(p.af, i.src),
            dst=_addr(p.af, i.dst),
            proto=i.proto,
            sport=i.sport,
            dport=i.dport,
            icmp_type=i.icmp_type,
            icmp_code=i.icmp_code,
            l3_offset=i.l3_offset,
            l4_offset=i.l4_offset,
        )
    return PacketView(
        status=status,
        af=p.af,
        flags=flags,
        src=_addr(p.af, p.src) if ok else None,
        dst=_addr(p.af, p.dst) if ok else None,
        proto=p.proto,
        sport=p.sport,
        dport=p.dport,
        icmp_type=p.icmp_type,
        icmp_code=p.icmp_code,
        tcp_flags=p.tcp_flags,
        ttl=p.ttl,
        l4_offset=p.l4_offset,
        total_len=p.total_len,
        frag_id=p.frag_id,
        frag_offset=p.frag_offset,
        inner=inner,
    )


def parse(data: bytes) -> PacketView:
    """Parse one packet that starts at its IP header."""
    p = ffi.new("cp_pkt_t *")
    lib.cp_pkt_parse(data, len(data), p)
    return _view(p)


class Burst:
    """Packets held in C memory for batch calls (parse, hash) without per-call copies."""

    def __init__(self, packets: Sequence[bytes]) -> None:
        self.n = len(packets)
        self._bufs = [ffi.from_buffer(b) for b in packets]
        self.data = ffi.new("const uint8_t *[]", self._bufs)
        self.lens = ffi.new("uint32_t[]", [len(b) for b in packets])
        self.views = ffi.new("cp_pkt_t[]", max(self.n, 1))

    def parse(self) -> int:
        """Parse every packet; returns how many parsed OK."""
        return int(lib.cp_pkt_parse_burst(self.data, self.lens, self.n, self.views))

    def view(self, i: int) -> PacketView:
        return _view(self.views[i])

    def hashes(self, fields: HashField = HashField.FIVE_TUPLE, seed: int = 0) -> list[int]:
        out = ffi.new("uint32_t[]", max(self.n, 1))
        lib.cp_flow_hash_burst(self.views, self.n, int(fields), seed, out)
        return list(out[0 : self.n])


def flow_hash(data: bytes, fields: HashField = HashField.FIVE_TUPLE, seed: int = 0) -> int:
    p = ffi.new("cp_pkt_t *")
    lib.cp_pkt_parse(data, len(data), p)
    return int(lib.cp_flow_hash_pkt(p, int(fields), seed))


def checksum(data: bytes) -> int:
    """Internet checksum field value over ``data``, as it would sit in the packet."""
    v = int(lib.cp_csum_bytes(data, len(data)))
    return int.from_bytes(v.to_bytes(2, "little"), "big")


def checksum_update(field: int, old: bytes, new: bytes) -> int:
    """RFC 1624 incremental update of a checksum field (big-endian int) for an edit."""
    if len(old) != len(new) or len(old) % 2:
        raise ValueError("old and new must have the same even length")
    f = int.from_bytes(field.to_bytes(2, "big"), "little")
    v = int(lib.cp_csum_update_bytes(f, old, new, len(old)))
    return int.from_bytes(v.to_bytes(2, "little"), "big")
