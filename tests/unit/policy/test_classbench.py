"""ClassBench files and the decision-tree classifier against a linear first match."""

from __future__ import annotations

import pytest

from pycontrol.bench import policy as bench_policy
from pycontrol.policy import classbench, gen, lookup_isa


def test_filter_line_round_trips(tmp_path):
    rules = gen.filters("fw", 50, seed=3)
    path = tmp_path / "rules"
    classbench.write_filters(path, rules)
    assert classbench.read_filters(path) == rules


def test_trace_round_trips(tmp_path):
    rules = gen.filters("acl", 20)
    trace = gen.trace(rules, 100)
    path = tmp_path / "trace"
    classbench.write_trace(path, trace)
    assert classbench.read_trace(path) == trace


def test_classbench_line_is_parsed_with_its_flags_ignored():
    f = classbench.parse_filter(
        "@192.168.1.0/24\t10.0.0.0/8\t0 : 65535\t80 : 80\t0x06/0xFF\t0x1000/0x1000"
    )
    assert (f.sa, f.sa_len, f.da_len, f.dp_lo, f.dp_hi, f.proto) == (0xC0A80100, 24, 8, 80, 80, 6)


@pytest.mark.parametrize(
    "line",
    [
        "192.168.1.0/24\t10.0.0.0/8\t0 : 65535\t80 : 80\t0x06/0xFF",  # no '@'
        "@192.168.1.0/24\t10.0.0.0/8\t90 : 80\t80 : 80\t0x06/0xFF",  # inverted range
        "@192.168.1.0/33\t10.0.0.0/8\t0 : 1\t80 : 80\t0x06/0xFF",  # bad prefix
        "@192.168.1.0/24\t10.0.0.0/8\t0 : 1\t80 : 80\t0x06/0x0F",  # partial protocol mask
    ],
)
def test_malformed_filter_lines_are_refused(line):
    with pytest.raises(classbench.ClassBenchError):
        classbench.parse_filter(line, 7)


def test_generated_trace_headers_fall_inside_their_rule():
    rules = gen.filters("ipc", 200)
    for h in gen.trace(rules, 500, random_share=0.0):
        assert rules[h.rule].matches(h)
        assert 0 <= classbench.first_match(rules, h) <= h.rule


@pytest.mark.native
@pytest.mark.parametrize("kind", gen.KINDS)
@pytest.mark.parametrize("n", [1, 300, 2000])
def test_tree_first_match_equals_linear_first_match(kind, n):
    rules = gen.filters(kind, n, seed=n)
    trace = gen.trace(rules, 2000, seed=n, random_share=0.2)
    want = [classbench.first_match(rules, h) for h in trace]
    try:
        for isa in lookup_isa.available():  # every lookup this build and CPU have
            lookup_isa.select(isa)
            _, got = bench_policy.run_ours(rules, trace, reps=1, rounds=1)
            assert got == want, isa
    finally:
        lookup_isa.select(None)
