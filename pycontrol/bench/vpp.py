"""`pycontrol bench vpp`: clocks per packet of both plugins inside a real VPP.

Method (as the peer figures in shared/PEERS.md): VPP's main thread, 4 KiB pages, the
packet generator sending 64-byte UDP frames into pg0 at 256 packets per vector, routed to
pg1; `clear runtime` before and `show runtime` after each run; the figure is the clocks of
every node on the path (the generator excluded) per offered packet. Plain forwarding is
measured in the same VPP and every path is also given as its cost over forwarding.

Needs a VPP with the plugins (VPP_PREFIX / VPP_BINARY / VPP_PLUGIN_PATH, see
pycontrol.vpp.instance); without one it says so and exits 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from pycontrol.bench.report import Scalar, emit, machine
from pycontrol.vpp.instance import Vpp, VppLocation, VppUnavailableError
from pycontrol.vpp.pg import PgLink
from pycontrol.vpp.runtime import NodeRuntime, parse_runtime, path_clocks
from pycontrol.vppapi.client import PluginClient
from pycontrol.vppapi.plugins import PROTO_UDP, Backend, DnatApi, Translation

HELP = "calico_dnat / calico_policy clocks per packet in VPP (show runtime, pg, 64 B UDP)"
log = structlog.get_logger(__name__)

VIP = "10.96.0.10"
BACKENDS = [f"10.1.0.{10 + i}" for i in range(10)]
CLIENT_MAC = "02:fe:00:00:00:02"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--packets", type=int, default=1_000_000, help="packets per measured run")
    p.add_argument("--runs", type=int, default=5, help="runs per path (median reported)")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker threads (1: the generator runs on the worker, and calico_dnat's "
        "handoff node is on the path; this machine has room for one)",
    )
    p.add_argument("--json", action="store_true")


@dataclass(frozen=True)
class Traffic:
    """pg ranges: "a - b" increments per packet."""

    src: str
    sport: str
    dst: str


def _stream(link: PgLink, name: str, limit: int, t: Traffic) -> str:
    return (
        f"packet-generator new {{ name {name} limit {limit} size 64-64 maxframe 256 "
        f"interface {link.name} node ethernet-input data {{ "
        f"IP4: {CLIENT_MAC} -> {link.mac} UDP: {t.src} -> {t.dst} UDP: {t.sport} -> 80 "
        f"incrementing 22 }} }}"
    )


def _run(vpp: Vpp, link: PgLink, limit: int, t: Traffic) -> dict[str, NodeRuntime]:
    """One measured run: the nodes that processed packets."""
    vpp.cli("clear runtime")
    vpp.cli(_stream(link, "bench", limit, t))
    vpp.cli("packet-generator enable-stream bench")
    deadline = time.monotonic() + 300
    while "Yes" in vpp.cli("show packet-generator"):
        if time.monotonic() > deadline:
            raise RuntimeError("the packet generator did not stop")
        time.sleep(0.05)
    nodes = parse_runtime(vpp.cli("show runtime"))
    vpp.cli("packet-generator delete bench")
    return nodes


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def _rule(rid: int, port: int, src_net: str) -> dict[str, Any]:
    matches = [
        {"kind": 0, "value": {"prefix": ipaddress.ip_network(src_net)}},
        {"kind": 6, "value": {"ports": {"first": port, "last": port}}},
    ]
    return {
        "id": rid,
        "action": 1,
        "ip_version": 0,
        "has_protocol": True,
        "protocol": PROTO_UDP,
        "has_not_protocol": False,
        "not_protocol": 0,
        "icmp": 0,
        "icmp_type": 0,
        "icmp_code": 0,
        "not_icmp": 0,
        "not_icmp_type": 0,
        "not_icmp_code": 0,
        "n_matches": len(matches),
        "matches": matches,
    }


def _policy(pol: PluginClient, pods: PgLink, n_rules: int) -> None:
    """n_rules ingress rules on the pods' endpoint; only the last admits the traffic
    (UDP to 8080 from 10.0.0.0/8): the worst case for a linear rule scan."""
    rules = [_rule(1000 + i, 9000 + i, "192.168.0.0/16") for i in range(n_rules - 1)]
    rules.append(_rule(1000 + n_rules - 1, 8080, "10.0.0.0/8"))
    pol.call_many("calico_policy_rule_update", rules)
    ids = [r["id"] for r in rules]
    pol.call(
        "calico_policy_policy_update", id=1, n_ingress=len(ids), n_rules=len(ids), rule_ids=ids
    )
    pol.call(
        "calico_policy_tier_update",
        id=1,
        default_action=2,
        n_ingress=1,
        n_policies=1,
        policy_ids=[1],
    )
    pol.call(
        "calico_policy_endpoint_update",
        sw_if_index=pods.sw_if_index,
        kind=0,
        n_tiers=1,
        n_forward_tiers=0,
        n_pre_dnat_tiers=0,
        n_untracked_tiers=0,
        n_ids=1,
        ids=[1],
    )
    pol.call("calico_policy_publish")


def measure(vpp: Vpp, packets: int, runs: int) -> dict[str, Scalar]:
    pg0 = PgLink(vpp, 0).create(["10.0.0.1/24"])
    pg1 = PgLink(vpp, 1).create(["10.1.0.1/24"])
    for i, b in enumerate(BACKENDS):
        pg1.neighbor(b, f"02:fe:00:00:01:{i:02x}")
    res: dict[str, Scalar] = {}

    def path(key: str, t: Traffic, warm: int = 0) -> float:
        """Median over runs of the path's clocks per packet; our nodes' own clocks too."""
        totals: list[float] = []
        ours: dict[str, list[float]] = {}
        for _ in range(runs):
            if "new_flow" in key:
                vpp.cli("clear calico dnat sessions")  # the stream restarts at its first flow
            if warm:
                _run(vpp, pg0, warm, t)
            nodes = _run(vpp, pg0, packets, t)
            totals.append(path_clocks(nodes, packets, skip=("pg-input",)))
            for n in nodes.values():
                if n.name.startswith("calico-"):
                    ours.setdefault(n.name, []).append(n.clocks)
        m = _median(totals)
        res[f"{key}_clocks"] = round(m, 1)
        for name, vals in sorted(ours.items()):
            res[f"{key}.{name}"] = round(_median(vals), 1)
        log.info("vpp path measured", path=key, clocks=round(m, 1), runs=[round(v) for v in totals])
        return m

    est_t = Traffic("10.0.0.2", "1024 - 1279", VIP)  # 256 flows, established after warm-up
    new_t = Traffic("10.0.0.2 - 10.255.255.250", "1024 - 65535", VIP)  # every packet a new flow
    fwd = path("forward", Traffic(est_t.src, est_t.sport, BACKENDS[0]))

    dn = vpp.client("calico_dnat")
    for link in (pg0, pg1):
        dn.call(
            "calico_dnat_interface_enable_disable", sw_if_index=link.sw_if_index, is_enable=True
        )
    DnatApi(dn).translations_update(
        [
            Translation(
                ipaddress.IPv4Address(VIP),
                80,
                PROTO_UDP,
                tuple(Backend(ipaddress.IPv4Address(b), 8080) for b in BACKENDS),
            )
        ]
    )
    est = path("dnat_established", est_t, warm=256)
    new = path("dnat_new_flow", new_t)
    res["dnat_established_over_forward"] = round(est - fwd, 1)
    res["dnat_new_flow_over_forward"] = round(new - fwd, 1)

    pol = vpp.client("calico_policy")
    pol.call("calico_policy_interface_enable_disable", sw_if_index=pg1.sw_if_index, is_enable=True)
    for n_rules in (10, 100, 1000):
        _policy(pol, pg1, n_rules)
        path(f"dnat_policy_{n_rules}_rules_established", est_t, warm=256)
        path(f"dnat_policy_{n_rules}_rules_new_flow", new_t)
    drops = vpp.cli("show errors")
    res["policy_denied_any"] = "denied by policy" in drops
    return res


def main(args: argparse.Namespace) -> int:
    if args.packets <= 0 or args.runs <= 0 or not 0 <= args.workers <= 8:
        raise SystemExit("--packets and --runs must be positive, --workers 0..8")
    try:
        loc = VppLocation.from_env()
    except VppUnavailableError as e:
        print(f"bench vpp: skipped: {e}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-vpp-") as wd:
        vpp = Vpp(loc, Path(wd), session_limit=2 * args.packets, workers=args.workers)
        with vpp:
            res = measure(vpp, args.packets, args.runs)
    out: dict[str, Scalar] = {
        **machine(),
        "packets": args.packets,
        "runs": args.runs,
        "workers": args.workers,
        **res,
    }
    emit("calico plugins in VPP: clocks per packet (show runtime)", out, args.json)
    return 0
