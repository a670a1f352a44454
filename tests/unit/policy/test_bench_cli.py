"""`pycontrol bench policy` as a user runs it: both classifiers, every result compared."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pycontrol.bench.policy import PeerMissingError, peer_binary
from pycontrol.policy import classbench, gen

pytestmark = pytest.mark.native


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pycontrol.cli", "bench", "policy", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",  # the installed package must run, not the source tree
    )


def _peer_usable() -> bool:
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        return False  # DPDK under the ASan runtime is not what this measures
    try:
        peer_binary()
    except PeerMissingError:
        return False
    return True


def test_results_file_holds_the_first_match_per_trace_line(tmp_path):
    rules = gen.filters("acl", 300, seed=5)
    trace = gen.trace(rules, 3000, seed=5, random_share=0.3)
    classbench.write_filters(tmp_path / "rules", rules)
    classbench.write_trace(tmp_path / "trace", trace)
    r = run_cli(
        "--rules",
        str(tmp_path / "rules"),
        "--trace",
        str(tmp_path / "trace"),
        "--results",
        str(tmp_path / "out"),
        "--json",
        "--no-peer",
        "--reps",
        "1",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["rules"], out["packets"]) == (300, 3000)
    got = [int(x) for x in (tmp_path / "out").read_text().split()]
    assert got == [classbench.first_match(rules, h) for h in trace]


@pytest.mark.skipif(not _peer_usable(), reason="rte_acl_peer not built (libdpdk-dev) or ASan")
def test_same_run_compares_every_result_with_rte_acl():
    r = run_cli("--generate", "fw:500", "--packets", "5000", "--json", "--reps", "1")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mismatches_vs_rte_acl"] == 0
    for key in (
        "ours_ns_per_packet",
        "rte_acl_ns_per_packet",
        "ratio_vs_rte_acl",
        "build_ms",
        "rte_acl_build_ms",
        "memory_bytes",
        "rte_acl_memory_bytes",
    ):
        assert out[key] > 0, key
    # the peer at its best: the fastest of the classify methods this CPU runs
    assert out["rte_acl_alg"] in {"sse", "avx2", "avx512x16", "avx512x32"}


def test_bad_rule_file_is_a_clear_error(tmp_path):
    (tmp_path / "rules").write_text("@10.0.0.0/8\t10.0.0.0/8\t9 : 1\t0 : 0\t0x06/0xFF\n")
    r = run_cli("--rules", str(tmp_path / "rules"), "--no-peer")
    assert r.returncode != 0
    assert "inverted" in r.stderr


def test_repeat_below_one_is_a_clear_error():
    r = run_cli("--generate", "acl:50", "--packets", "100", "--repeat", "0", "--no-peer")
    assert r.returncode != 0
    assert "--repeat must be at least 1" in r.stderr
