"""pytest-benchmark suite of the policy classifier (figures: docs/benchmarks.md).

Each classify benchmark runs one pass over a 20k-packet trace in bursts of 64; the
peer comparison with rte_acl is `pycontrol bench policy` (it needs the DPDK harness)."""

from __future__ import annotations

import pytest

from pycontrol._native import ffi, lib
from pycontrol.bench import policy as bench_policy
from pycontrol.common.packet import Burst
from pycontrol.policy import classbench, gen
from pycontrol.policy.model import Direction, Stage, point
from pycontrol.policy.native import NativePolicy

PACKETS = 20_000


@pytest.fixture(
    scope="module",
    params=[("acl", 1000), ("acl", 10000), ("fw", 1000), ("ipc", 1000)],
    ids=lambda p: f"{p[0]}{p[1]}",
)
def classbench_set(request):
    kind, n = request.param
    rules = gen.filters(kind, n)
    trace = gen.trace(rules, PACKETS)
    return rules, trace


def test_classify_classbench(benchmark, classbench_set):
    rules, trace = classbench_set
    flat = ffi.new("uint32_t[]", bench_policy._flat_rules(rules))
    ns = ffi.new("uint64_t *")
    tree = lib.cp_mfc_build_5tuple(flat, len(rules), ns)
    keys = ffi.new("uint32_t[]", [v for h in trace for v in (h.sa, h.da, h.sp, h.dp, h.proto)])
    res = ffi.new("int32_t[]", PACKETS)
    benchmark(lib.cp_mfc_bench, tree, keys, PACKETS, 1, 64, res)
    # spot-check correctness of what was timed
    for i in range(0, PACKETS, 997):
        assert res[i] == classbench.first_match(rules, trace[i])
    lib.cp_mfc_free(tree)


def test_build_classbench(benchmark, classbench_set):
    rules, _ = classbench_set
    flat = ffi.new("uint32_t[]", bench_policy._flat_rules(rules))
    ns = ffi.new("uint64_t *")

    def build() -> None:
        lib.cp_mfc_free(lib.cp_mfc_build_5tuple(flat, len(rules), ns))

    benchmark(build)


@pytest.mark.parametrize("members", [10, 100_000])
def test_classify_calico_ipsets(benchmark, members):
    cfg = gen.calico_config(20, members)
    pkts = gen.calico_packets(cfg, PACKETS)
    with NativePolicy() as native:
        native.apply(cfg)
        burst = Burst(pkts)
        burst.parse()
        verdict = ffi.new("uint8_t[]", PACKETS)
        pt = point(Stage.NORMAL, Direction.INGRESS)
        benchmark(lib.cp_policy_bench, native.handle, burst.views, PACKETS, 1, pt, 1, 256, verdict)
        assert 0.7 < sum(verdict[i] == 1 for i in range(PACKETS)) / PACKETS < 0.9
