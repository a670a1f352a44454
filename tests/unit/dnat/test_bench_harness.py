"""The benchmark harness's worker choice (`cdn_bench_run_on`) and the split figure of
`pycontrol bench dnat`: the packets go to the worker named, and to no other."""

from __future__ import annotations

import pytest

from pycontrol._native import ffi, lib
from pycontrol.bench.dnat import EST_ORDER, _core, _template, split_established

pytestmark = pytest.mark.native


def _tmpl() -> tuple[object, int]:
    tmpl = _template()
    return ffi.new("uint8_t[]", tmpl), len(tmpl)


def test_bench_run_on_feeds_the_worker_named():
    core = _core(512, 10, workers=2)
    t, n = _tmpl()
    assert lib.cdn_bench_run_on(core.handle, 1, t, n, 512, 0, 512, 1, lib.CDN_BENCH_DNAT, 0) > 0
    assert core.session_count(1) == 512
    assert core.session_count(0) == 0
    before = core.counters(1)["rewritten"]
    lib.cdn_bench_run_on(core.handle, 1, t, n, 512, 0, 512, EST_ORDER, lib.CDN_BENCH_DNAT, 0)
    assert core.counters(1)["rewritten"] == before + 512
    assert core.counters(1)["sessions_created"] == 512
    assert core.counters(0)["packets"] == 0


def test_bench_run_on_refuses_a_worker_the_context_does_not_have():
    core = _core(64, 10, workers=2)
    t, n = _tmpl()
    assert lib.cdn_bench_run_on(core.handle, 2, t, n, 64, 0, 64, 1, lib.CDN_BENCH_DNAT, 0) == 0
    assert lib.cdn_bench_run_on(ffi.NULL, 0, t, n, 64, 0, 64, 1, lib.CDN_BENCH_DNAT, 0) == 0
    assert core.session_count(0) == core.session_count(1) == 0
    # the baseline touches no context
    assert lib.cdn_bench_run_on(ffi.NULL, 0, t, n, 64, 0, 64, 1, lib.CDN_BENCH_BASELINE, 0) > 0


def test_split_figure_splits_the_sessions_over_the_workers():
    out = split_established(4096, 10, 1)
    assert out["split_workers"] == 2
    assert out["split_sessions_per_worker"] == 2048
    assert out["split_established_ns_per_packet"] > 0
    assert out["split_overlap"] > 0


@pytest.mark.parametrize("flows", [1, 3, 1000, 4096, 5000])
def test_the_shuffled_order_visits_every_flow_once(flows):
    # stride 0: a new-flow pass over the shuffle opens exactly one session per flow, and a
    # second pass over it finds them all
    core = _core(flows, 10)
    t, n = _tmpl()
    assert lib.cdn_bench_run(core.handle, t, n, flows, 7, flows, 0, lib.CDN_BENCH_DNAT, 0) > 0
    assert core.session_count() == flows
    assert core.counters()["sessions_created"] == flows
    lib.cdn_bench_run(core.handle, t, n, flows, 0, flows, 0, lib.CDN_BENCH_DNAT, 0)
    assert core.counters()["sessions_created"] == flows
    assert core.counters()["rewritten"] == 2 * flows
