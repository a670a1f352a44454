"""Generators of ClassBench-like filter sets and traces, and of Calico-shaped policy sets.

Three flavours after ClassBench's seed families, with the traits that make them easy or
hard for a classifier: ``acl`` (specific destinations, mostly exact well-known destination
ports), ``fw`` (many wildcards and port ranges on both sides: heavy overlap) and ``ipc``
(a mixture, protocol often wildcarded). Addresses are drawn under a small pool of base
networks so prefixes nest and cluster as in real rule sets. Deterministic for a seed.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from typing import Literal

from scapy.layers.inet import IP, TCP

from pycontrol.policy.classbench import Filter, Header
from pycontrol.policy.model import (
    Action,
    Config,
    Endpoint,
    IPSet,
    IPSetType,
    Policy,
    PortRange,
    Rule,
    Tier,
)

Kind = Literal["acl", "fw", "ipc"]
KINDS: tuple[Kind, ...] = ("acl", "fw", "ipc")

_WELL_KNOWN = [
    20,
    21,
    22,
    23,
    25,
    53,
    80,
    110,
    123,
    143,
    161,
    389,
    443,
    445,
    514,
    636,
    993,
    995,
    1433,
    1521,
    3306,
    3389,
    5060,
    5432,
    6379,
    8080,
    8443,
    9090,
]


@dataclass(frozen=True, slots=True)
class _Profile:
    # (weight, (min_len, max_len)) choices for prefix lengths
    sa_len: tuple[tuple[int, tuple[int, int]], ...]
    da_len: tuple[tuple[int, tuple[int, int]], ...]
    # weights: wildcard, exact, range
    sp: tuple[int, int, int]
    dp: tuple[int, int, int]
    # weights: tcp, udp, icmp, wildcard
    proto: tuple[int, int, int, int]


_PROFILES: dict[Kind, _Profile] = {
    "acl": _Profile(
        sa_len=((40, (32, 32)), (15, (0, 0)), (25, (24, 31)), (20, (8, 23))),
        da_len=((30, (32, 32)), (45, (24, 31)), (20, (16, 23)), (5, (0, 0))),
        sp=(95, 4, 1),
        dp=(25, 60, 15),
        proto=(70, 15, 5, 10),
    ),
    "fw": _Profile(
        sa_len=((40, (0, 0)), (20, (32, 32)), (40, (8, 31))),
        da_len=((30, (0, 0)), (30, (32, 32)), (40, (8, 31))),
        sp=(70, 10, 20),
        dp=(40, 30, 30),
        proto=(45, 20, 5, 30),
    ),
    "ipc": _Profile(
        sa_len=((20, (0, 0)), (30, (32, 32)), (50, (16, 31))),
        da_len=((20, (0, 0)), (30, (32, 32)), (50, (16, 31))),
        sp=(80, 15, 5),
        dp=(40, 50, 10),
        proto=(50, 30, 0, 20),
    ),
}


def _pick_len(rnd: random.Random, dist: tuple[tuple[int, tuple[int, int]], ...]) -> int:
    lo, hi = rnd.choices([r for _, r in dist], weights=[w for w, _ in dist])[0]
    return rnd.randint(lo, hi)


def _prefix(rnd: random.Random, bases: list[int], length: int) -> int:
    if length == 0:
        return 0
    addr = rnd.choice(bases) | rnd.getrandbits(16)  # bases are /16s
    return addr & (((1 << length) - 1) << (32 - length))


def _ports(rnd: random.Random, w: tuple[int, int, int]) -> tuple[int, int]:
    k = rnd.choices([0, 1, 2], weights=w)[0]
    if k == 0:
        return 0, 65535
    if k == 1:
        p = rnd.choice(_WELL_KNOWN) if rnd.random() < 0.8 else rnd.randint(1, 65535)
        return p, p
    if rnd.random() < 0.5:
        return 1024, 65535
    lo = rnd.randint(0, 65000)
    return lo, min(65535, lo + rnd.choice([1, 7, 15, 99, 255, 1000]))


def filters(kind: Kind, n: int, seed: int = 1) -> list[Filter]:
    """``n`` distinct filters of the given flavour."""
    prof = _PROFILES[kind]
    rnd = random.Random(f"{kind}-{seed}")
    bases = [rnd.getrandbits(16) << 16 for _ in range(max(8, n // 200))]
    out: list[Filter] = []
    seen: set[Filter] = set()
    while len(out) < n:
        sl = _pick_len(rnd, prof.sa_len)
        dl = _pick_len(rnd, prof.da_len)
        sp = _ports(rnd, prof.sp)
        dp = _ports(rnd, prof.dp)
        k = rnd.choices([0, 1, 2, 3], weights=prof.proto)[0]
        proto, pmask = [(6, 0xFF), (17, 0xFF), (1, 0xFF), (0, 0)][k]
        if proto == 1:
            sp, dp = (0, 65535), (0, 65535)
        f = Filter(_prefix(rnd, bases, sl), sl, _prefix(rnd, bases, dl), dl, *sp, *dp, proto, pmask)
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out


def trace(rules: list[Filter], n: int, seed: int = 1, random_share: float = 0.05) -> list[Header]:
    """``n`` headers, each drawn inside a random filter (its index in the ``rule`` column,
    as ClassBench's trace generator does: the first match is at most that index), plus a
    share of uniformly random headers (column -1)."""
    rnd = random.Random(f"trace-{seed}")
    out: list[Header] = []
    for _ in range(n):
        if not rules or rnd.random() < random_share:
            out.append(
                Header(
                    rnd.getrandbits(32),
                    rnd.getrandbits(32),
                    rnd.getrandbits(16),
                    rnd.getrandbits(16),
                    rnd.choice([6, 17, 1, 47]),
                    0,
                    -1,
                )
            )
            continue
        i = rnd.randrange(len(rules))
        r = rules[i]
        (sa0, sa1), (da0, da1), _, _, _ = r.ranges()
        proto = r.proto if r.proto_mask else rnd.choice([6, 17, 1, 50])
        out.append(
            Header(
                rnd.randint(sa0, sa1),
                rnd.randint(da0, da1),
                rnd.randint(r.sp_lo, r.sp_hi),
                rnd.randint(r.dp_lo, r.dp_hi),
                proto,
                0,
                i,
            )
        )
    return out


def calico_config(n_policies: int, members: int, seed: int = 1) -> Config:
    """A Calico-shaped configuration: one workload endpoint whose single tier holds
    ``n_policies`` policies; policy i allows TCP to port 1000+i from the members of ipset i
    (``members`` IPv4 addresses each, as label selectors render); a profile denies the rest."""
    rnd = random.Random(f"calico-{seed}")
    cfg = Config()
    for i in range(n_policies):
        addrs = {ipaddress.IPv4Address((10 << 24) | a) for a in rnd.sample(range(1 << 24), members)}
        cfg.ipsets[i + 1] = IPSet(i + 1, IPSetType.IP, frozenset(addrs))
        cfg.policies[i + 1] = Policy(
            i + 1,
            inbound=(
                Rule(
                    Action.ALLOW,
                    protocol=6,
                    dst_ports=(PortRange(1000 + i, 1000 + i),),
                    src_ipsets=(i + 1,),
                ),
            ),
        )
    cfg.profiles[1] = Policy(1, inbound=(Rule(Action.DENY),), outbound=(Rule(Action.ALLOW),))
    cfg.endpoints[1] = Endpoint(
        1, tiers=(Tier(ingress_policies=tuple(range(1, n_policies + 1))),), profiles=(1,)
    )
    return cfg


def calico_packets(cfg: Config, n: int, seed: int = 1, hit_share: float = 0.8) -> list[bytes]:
    """TCP/IPv4 packets towards endpoint 1: ``hit_share`` from a member of policy i's set to
    port 1000+i (allowed), the rest from random sources (denied by the profile)."""
    rnd = random.Random(f"calico-pkts-{seed}")
    template = bytearray(bytes(IP(src="10.0.0.1", dst="192.168.0.1") / TCP(sport=40000, dport=1)))
    sets = [sorted(cfg.ipsets[i].members, key=str) for i in sorted(cfg.ipsets)]
    out: list[bytes] = []
    for _ in range(n):
        b = bytearray(template)
        if sets and rnd.random() < hit_share:
            i = rnd.randrange(len(sets))
            src = rnd.choice(sets[i])
            assert isinstance(src, ipaddress.IPv4Address)
            b[12:16] = src.packed
            b[22:24] = (1000 + i).to_bytes(2, "big")
        else:
            b[12:16] = rnd.randbytes(4)
            b[22:24] = rnd.randbytes(2)
        out.append(bytes(b))
    return out
