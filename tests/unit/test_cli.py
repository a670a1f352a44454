"""The console script, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.native


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    # cwd=/: `python -m` puts the cwd first on sys.path; the installed package must run
    return subprocess.run(
        [sys.executable, "-m", "pycontrol.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )


def test_bench_common_json_reports_figures_and_ratios():
    r = run_cli("bench", "common", "--json", "--packets", "512", "--reps", "2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("parse_ns_per_packet", "parse_vs_fixed_offsets", "csum_full_vs_incremental"):
        assert out[key] > 0
    assert out["packets"] == 512


def test_bench_rejects_bad_arguments():
    r = run_cli("bench", "common", "--packets", "0")
    assert r.returncode != 0
    assert "must be positive" in r.stderr


def test_unknown_command_is_an_error():
    r = run_cli("frobnicate")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr


def test_bench_api_json_reports_the_ratio_and_no_mismatch():
    r = run_cli("bench", "api", "--json", "--messages", "60", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["messages"] == 60
    assert out["mismatches"] == 0
    for key in ("ours_msgs_per_s", "vpp_papi_msgs_per_s", "ratio_vs_vpp_papi"):
        assert out[key] > 0
