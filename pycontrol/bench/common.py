"""``pycontrol bench common``: the shared primitives (parse, flow hash, checksum).

Baselines in the same run: reading the 5-tuple at fixed offsets with no validation (the
cost of a bounds-checked parse) and full header checksum recomputation (the gain of
RFC 1624 incremental updates).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from pycontrol._native import ffi, lib
from pycontrol.bench.report import Scalar, emit, machine


def traffic(n: int, seed: int = 1) -> list[bytes]:
    """64-byte-class TCP/UDP packets, 80 % IPv4, random addresses and ports."""
    rnd = random.Random(seed)
    out: list[bytes] = []
    templates = [
        bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2)),
        bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2) / (b"\0" * 18)),
        bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2)),
    ]
    for _ in range(n):
        k = rnd.choices([0, 1, 2], weights=[5, 3, 2])[0]
        b = bytearray(templates[k])
        if k < 2:
            b[12:20] = rnd.randbytes(8)
            b[20:24] = rnd.randbytes(4)
        else:
            b[8:40] = rnd.randbytes(32)
            b[40:44] = rnd.randbytes(4)
        out.append(bytes(b))
    return out


def _best(fn: Callable[[], int], rounds: int) -> int:
    return min(fn() for _ in range(rounds))


def run(packets: int = 65536, reps: int = 20, rounds: int = 5) -> dict[str, Scalar]:
    pkts = traffic(packets)
    keep = [ffi.from_buffer(p) for p in pkts]
    data = ffi.new("const uint8_t *[]", keep)
    lens = ffi.new("uint32_t[]", [len(p) for p in pkts])
    per = float(packets * reps)

    parse_ns = _best(lambda: int(lib.cp_bench_parse(data, lens, packets, reps, 0)), rounds) / per
    hash_ns = (
        _best(lambda: int(lib.cp_bench_parse(data, lens, packets, reps, lib.CP_FH_5TUPLE)), rounds)
        / per
    )
    fixed_ns = (
        _best(lambda: int(lib.cp_bench_fixed_offsets(data, lens, packets, reps)), rounds) / per
    )

    v4 = [bytearray(p) for p in pkts if p[0] >> 4 == 4]
    wbufs = [ffi.from_buffer(b) for b in v4]
    wdata = ffi.new("uint8_t *[]", wbufs)
    incr = _best(lambda: int(lib.cp_bench_rewrite_csum(wdata, len(v4), reps, 1)), rounds)
    full = _best(lambda: int(lib.cp_bench_rewrite_csum(wdata, len(v4), reps, 0)), rounds)
    nv4 = float(len(v4) * reps)
    return {
        **machine(),
        "packets": packets,
        "parse_ns_per_packet": parse_ns,
        "parse_hash_ns_per_packet": hash_ns,
        "fixed_offsets_ns_per_packet": fixed_ns,
        "parse_vs_fixed_offsets": parse_ns / fixed_ns if fixed_ns else 0.0,
        "csum_incremental_ns_per_packet": incr / nv4,
        "csum_full_ns_per_packet": full / nv4,
        "csum_full_vs_incremental": full / incr if incr else 0.0,
    }


HELP = "packet parse, flow hash, checksum (vs fixed-offset reads and full recomputation)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--packets", type=int, default=65536)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def main(args: argparse.Namespace) -> int:
    if args.packets <= 0 or args.reps <= 0:
        raise SystemExit("--packets and --reps must be positive")
    emit("common primitives", run(packets=args.packets, reps=args.reps), args.json)
    return 0
