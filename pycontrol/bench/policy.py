"""``pycontrol bench policy``: the calico_policy classifier against DPDK's rte_acl.

ClassBench mode (default): the same first-match 5-tuple rule set and trace go through our
decision-tree classifier and through rte_acl (the ``rte_acl_peer`` harness, bench/), every
result is compared, both costs are printed. Calico mode (``--calico N:M``): N policies
selecting sources by ipsets of M members through the whole policy engine, and the same with
10-member sets, to show what set size costs per packet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pycontrol import log
from pycontrol._native import ffi, lib
from pycontrol.bench.report import Scalar, emit, machine
from pycontrol.common.packet import Burst
from pycontrol.policy import classbench, gen, lookup_isa
from pycontrol.policy.model import Direction, Stage, point
from pycontrol.policy.native import NativePolicy

# --force-max-simd-bitwidth=512 lets rte_acl use its AVX-512 methods where the CPU has them
# (DPDK stops at 256-bit vectors by default); the peer times every method and reports its best.
EAL_ARGS = [
    "--no-huge",
    "-m",
    "512",
    "--no-pci",
    "--no-shconf",
    "-l",
    "0",
    "--log-level=1",
    "--force-max-simd-bitwidth=512",
]


class PeerMissingError(RuntimeError):
    pass


def peer_binary() -> Path:
    """The rte_acl harness: $PYCONTROL_RTE_ACL_PEER, else the one CMake installed next to
    this module (built when libdpdk-dev is present), else one on PATH."""
    env = os.environ.get("PYCONTROL_RTE_ACL_PEER")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).with_name("rte_acl_peer"))
    found = shutil.which("rte_acl_peer")
    if found:
        candidates.append(Path(found))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    raise PeerMissingError(
        "rte_acl_peer not found: install libdpdk-dev and rebuild (pip install . or the "
        "CMake dev build), or set PYCONTROL_RTE_ACL_PEER; --no-peer skips the comparison"
    )


def _flat_rules(rules: list[classbench.Filter]) -> list[int]:
    flat: list[int] = []
    for r in rules:
        for lo, hi in r.ranges():
            flat += [lo, hi]
    return flat


def run_ours(
    rules: list[classbench.Filter], trace: list[classbench.Header], reps: int, rounds: int
) -> tuple[dict[str, Scalar], list[int]]:
    n, m = len(rules), len(trace)
    flat = ffi.new("uint32_t[]", _flat_rules(rules) or [0])
    build_ns = ffi.new("uint64_t *")
    builds = []
    tree = ffi.NULL
    for _ in range(3):  # build time: best of 3
        if tree != ffi.NULL:
            lib.cp_mfc_free(tree)
        tree = lib.cp_mfc_build_5tuple(flat, n, build_ns)
        if tree == ffi.NULL:
            raise MemoryError("classifier build failed")
        builds.append(int(build_ns[0]))
    keys = ffi.new("uint32_t[]", [v for h in trace for v in (h.sa, h.da, h.sp, h.dp, h.proto)])
    res = ffi.new("int32_t[]", m)
    best = min(int(lib.cp_mfc_bench(tree, keys, m, reps, 64, res)) for _ in range(rounds))
    out: dict[str, Scalar] = {
        "ours_ns_per_packet": best / (m * reps),
        "build_ms": min(builds) / 1e6,
        "memory_bytes": int(tree.memory_bytes),
        "tree_nodes": int(tree.n_nodes),
        "tree_leaf_entries": int(tree.n_entries),
        "tree_max_depth": int(tree.max_depth),
        "trees": int(tree.n_trees),
        "isa": lookup_isa.current(),
    }
    results = [int(res[i]) for i in range(m)]
    lib.cp_mfc_free(tree)
    return out, results


def run_peer(
    rules: list[classbench.Filter], trace: list[classbench.Header], reps: int, rounds: int
) -> tuple[dict[str, Scalar], list[int]]:
    binary = peer_binary()
    with tempfile.TemporaryDirectory(prefix="pycontrol-policy-") as d:
        rp, tp, op = Path(d, "rules"), Path(d, "trace"), Path(d, "results")
        rp.write_text(
            "".join(
                f"{r.sa} {r.sa_len} {r.da} {r.da_len} {r.sp_lo} {r.sp_hi} {r.dp_lo} {r.dp_hi} "
                f"{r.proto} {r.proto_mask}\n"
                for r in rules
            )
        )
        tp.write_text("".join(f"{h.sa} {h.da} {h.sp} {h.dp} {h.proto}\n" for h in trace))
        proc = subprocess.run(
            [str(binary), str(rp), str(tp), str(op), str(reps), str(rounds), *EAL_ARGS],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"rte_acl_peer failed: {proc.stderr.strip()[-500:]}")
        line = [x for x in proc.stdout.splitlines() if x.startswith("{")][-1]
        figures = json.loads(line)
        results = [int(x) for x in op.read_text().split()]
    return {
        "rte_acl_ns_per_packet": float(figures["ns_per_packet"]),
        "rte_acl_alg": str(figures["alg"]),
        "rte_acl_build_ms": float(figures["build_ms"]),
        "rte_acl_memory_bytes": int(figures["memory_bytes"]),
    }, results


def run_classbench(
    rules: list[classbench.Filter],
    trace: list[classbench.Header],
    *,
    reps: int = 5,
    rounds: int = 5,
    repeat: int = 2,
    peer: bool = True,
    results_path: Path | None = None,
) -> dict[str, Scalar]:
    """Ours, then the peer, `repeat` times in alternation; each side keeps its best run, so
    a load change on the shared machine between the two measurements biases the ratio less."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    ours: dict[str, Scalar] = {}
    theirs: dict[str, Scalar] = {}
    res: list[int] = []
    peer_res: list[int] = []
    for _ in range(repeat):
        o, res = run_ours(rules, trace, reps, rounds)
        if not ours or _ns(o, "ours_ns_per_packet") < _ns(ours, "ours_ns_per_packet"):
            ours = o
        if peer:
            t, peer_res = run_peer(rules, trace, reps, rounds)
            if not theirs or _ns(t, "rte_acl_ns_per_packet") < _ns(theirs, "rte_acl_ns_per_packet"):
                theirs = t
    out: dict[str, Scalar] = {**machine(), "rules": len(rules), "packets": len(trace), **ours}
    if results_path is not None:
        results_path.write_text("".join(f"{r}\n" for r in res))
    if peer:
        out.update(theirs)
        out["ratio_vs_rte_acl"] = _ns(theirs, "rte_acl_ns_per_packet") / _ns(
            ours, "ours_ns_per_packet"
        )
        out["mismatches_vs_rte_acl"] = sum(a != b for a, b in zip(res, peer_res, strict=True))
    return out


def _ns(figures: dict[str, Scalar], key: str) -> float:
    return float(figures[key] or 0.0)


def run_calico(
    n_policies: int, members: int, packets: int = 20000, reps: int = 20, rounds: int = 5
) -> dict[str, Scalar]:
    """ns/packet through the whole policy engine with M-member ipsets and with 10-member
    ipsets (same policies and traffic shape), and the rebuild time."""
    out: dict[str, Scalar] = {**machine(), "policies": n_policies, "ipset_members": members}
    for label, m in (("large", members), ("small", 10)):
        cfg = gen.calico_config(n_policies, m)
        pkts = gen.calico_packets(cfg, packets)
        with NativePolicy() as native:
            native.apply(cfg)
            rc = ffi.new("int *")
            build_ns = int(lib.cp_policy_bench_build(native.handle, rc))
            burst = Burst(pkts)
            burst.parse()
            verdict = ffi.new("uint8_t[]", packets)
            pt = point(Stage.NORMAL, Direction.INGRESS)
            best = min(
                int(
                    lib.cp_policy_bench(
                        native.handle, burst.views, packets, 1, pt, reps, 256, verdict
                    )
                )
                for _ in range(rounds)
            )
            out[f"{label}_ns_per_packet"] = best / (packets * reps)
            out[f"{label}_build_ms"] = build_ns / 1e6
            out[f"{label}_memory_bytes"] = native.memory_bytes
            out[f"{label}_allowed_share"] = sum(verdict[i] == 1 for i in range(packets)) / packets
    out["ipset_cost_ns"] = float(out["large_ns_per_packet"] or 0) - float(
        out["small_ns_per_packet"] or 0
    )
    return out


HELP = "policy classifier vs DPDK rte_acl on ClassBench rules; Calico-shaped ipset sets"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", type=Path, help="ClassBench filter set (else one is generated)")
    p.add_argument("--trace", type=Path, help="ClassBench trace (else one is generated)")
    p.add_argument("--results", type=Path, help="write the matched rule index per trace line")
    p.add_argument(
        "--generate",
        default="acl:1000",
        help="KIND:N rule set to generate without --rules (acl, fw, ipc)",
    )
    p.add_argument("--packets", type=int, default=100000, help="generated trace length")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="measure ours and rte_acl this many times in alternation, keep each one's best",
    )
    p.add_argument("--no-peer", action="store_true", help="skip rte_acl")
    p.add_argument(
        "--isa",
        choices=lookup_isa.NAMES,
        help="run our lookup with this instruction set (default: the best this CPU runs)",
    )
    p.add_argument(
        "--calico",
        metavar="N:M",
        help="instead: N policies with M-member ipsets through the policy engine",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def main(args: argparse.Namespace) -> int:
    if args.isa:
        try:
            lookup_isa.select(args.isa)
        except ValueError as e:
            raise SystemExit(str(e)) from None
    if args.calico:
        n, m = (int(x) for x in args.calico.split(":"))
        emit("policy (Calico-shaped)", run_calico(n, m), args.json)
        return 0
    if args.rules:
        rules = classbench.read_filters(args.rules)
    else:
        kind, _, count = args.generate.partition(":")
        if kind not in gen.KINDS or not count.isdigit():
            raise SystemExit("--generate takes KIND:N with KIND in acl, fw, ipc")
        rules = gen.filters(kind, int(count))
    trace = classbench.read_trace(args.trace) if args.trace else gen.trace(rules, args.packets)
    if not trace:
        raise SystemExit("empty trace")
    peer = not args.no_peer
    if peer:
        try:
            peer_binary()
        except PeerMissingError as e:
            log.get(__name__).warning("rte_acl peer unavailable: ours only", reason=str(e))
            peer = False
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    out = run_classbench(
        rules, trace, reps=args.reps, repeat=args.repeat, peer=peer, results_path=args.results
    )
    emit("policy classifier vs rte_acl", out, args.json)
    mism = out.get("mismatches_vs_rte_acl")
    return 1 if isinstance(mism, int) and mism else 0
