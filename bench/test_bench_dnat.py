"""calico_dnat: a 256-packet vector of established flows and of new flows, against the
parse + rewrite + checksum baseline in the same group, and the Maglev build."""

from __future__ import annotations

import pytest

from pycontrol._native import ffi, lib
from pycontrol.bench.dnat import EST_ORDER, _core, _template

FLOWS = 1 << 16


@pytest.fixture(scope="module")
def loaded():
    core = _core(FLOWS, 10)
    tmpl = _template()
    t = ffi.new("uint8_t[]", tmpl)
    lib.cdn_bench_run(core.handle, t, len(tmpl), FLOWS, 0, FLOWS, 1, lib.CDN_BENCH_DNAT, 0)
    assert core.session_count() == FLOWS
    return core, t, len(tmpl)


def test_established_flows_vector_of_256(benchmark, loaded):
    core, t, n = loaded
    benchmark.group = "dnat: 256-packet vector"
    benchmark(lib.cdn_bench_run, core.handle, t, n, FLOWS, 0, 256, EST_ORDER, lib.CDN_BENCH_DNAT, 0)


def test_baseline_parse_rewrite_checksum_vector_of_256(benchmark, loaded):
    core, t, n = loaded
    benchmark.group = "dnat: 256-packet vector"
    benchmark(
        lib.cdn_bench_run, core.handle, t, n, FLOWS, 0, 256, EST_ORDER, lib.CDN_BENCH_BASELINE, 0
    )


def test_flow_owner_vector_of_256(benchmark):
    """The handoff's question for a 4-worker core: which worker owns each packet."""
    core = _core(1024, 10, workers=4)
    tmpl = _template()
    t = ffi.new("uint8_t[]", tmpl)
    benchmark.group = "dnat: 256-packet vector"
    benchmark(
        lib.cdn_bench_run,
        core.handle,
        t,
        len(tmpl),
        FLOWS,
        0,
        256,
        EST_ORDER,
        lib.CDN_BENCH_OWNER,
        0,
    )


def test_new_flows_vector_of_256(benchmark):
    core = _core(FLOWS, 10)
    tmpl = _template()
    t = ffi.new("uint8_t[]", tmpl)
    state = {"first": 0}

    def run() -> int:
        if state["first"] + 256 > FLOWS:
            core.flush()
            state["first"] = 0
        ns = int(
            lib.cdn_bench_run(
                core.handle, t, len(tmpl), FLOWS, state["first"], 256, 1, lib.CDN_BENCH_DNAT, 0
            )
        )
        state["first"] += 256
        return ns

    benchmark.group = "dnat: 256-packet vector"
    benchmark(run)


def test_maglev_build_1000_backends_m65537(benchmark):
    benchmark.group = "dnat: maglev"
    ns = benchmark(lib.cdn_bench_maglev, 1000, 65537, 1)
    assert ns > 0
