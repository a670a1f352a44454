"""Differential property tests: the native classifier's verdict and matched rule equal the
pure-Python reference evaluator's, over random ipsets, rules, policies, tiers, profiles,
endpoints and packets (IPv4/IPv6, TCP/UDP/SCTP/ICMP/other, later fragments)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from policy.strategies import ENDPOINT_IDS, configs, packets
from pycontrol.common.packet import parse
from pycontrol.policy import reference
from pycontrol.policy.model import Config, Direction, Stage
from pycontrol.policy.native import NativePolicy

pytestmark = pytest.mark.native

points = st.tuples(
    st.sampled_from([*ENDPOINT_IDS, *ENDPOINT_IDS, *ENDPOINT_IDS, 99]),  # 99: no such endpoint
    st.sampled_from([Stage.NORMAL, Stage.NORMAL, Stage.NORMAL, *Stage]),
    st.sampled_from(list(Direction)),
)


def _check(cfg: Config, pkts: list[bytes], where: list[tuple[int, Stage, Direction]]) -> None:
    with NativePolicy() as native:
        native.apply(cfg)
        got = native.classify(
            pkts, [w[0] for w in where], [w[1] for w in where], [w[2] for w in where]
        )
    for pkt, (ep, stage, d), (verdict, match) in zip(pkts, where, got, strict=True):
        want = reference.evaluate(cfg, ep, stage, d, parse(pkt))
        assert (verdict, match) == (want.verdict, want.match), (ep, stage, d, pkt.hex())
        event(f"{want.verdict.name} {want.match.reason.name}")


@st.composite
def cases(draw: st.DrawFn, n_min: int, n_max: int) -> tuple[Config, list[bytes], list]:
    cfg = draw(configs())
    n = draw(st.integers(n_min, n_max))
    pkts = draw(st.lists(packets(), min_size=n, max_size=n))
    where = draw(st.lists(points, min_size=n, max_size=n))
    return cfg, pkts, where


_SETTINGS = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@settings(max_examples=600, **_SETTINGS)  # 25-45 packets each: ~21k cases
@given(cases(25, 45))
def test_verdict_and_matched_rule_equal_the_reference(case):
    _check(*case)


@pytest.mark.slow
@settings(max_examples=5000, **_SETTINGS)
@given(cases(20, 60))
def test_verdict_and_matched_rule_equal_the_reference_long_run(case):
    _check(*case)
