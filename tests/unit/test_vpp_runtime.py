"""The `show runtime` parser behind `pycontrol bench vpp`, and how the VPP location is
taken from the environment (no VPP needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycontrol.vpp.instance import VppLocation, VppUnavailableError
from pycontrol.vpp.runtime import parse_runtime, path_clocks

RUNTIME = """\
Thread 0 vpp_main (lcore 0)
Time 3.1, 10 sec internal node vector rate 256.00 loops/sec 12345.00
  vector rates in 3.2e5, out 3.2e5, drop 0.0000e0, punt 0.0000e0
  Name  State  Calls  Vectors  Suspends  Clocks  Vectors/Call
calico-dnat-ip4-in  active  3907  1000000  0  1.20e2  255.95
ethernet-input  active  3907  1000000  0  2.00e1  255.95
ip4-drop  active  10  500  0  4.00e1  50.00
pg-input  polling  4000  1000000  0  9.00e1  250.00
unix-epoll-input  polling  9000  0  0  1.00e4  0.00
Thread 1 vpp_wk_0 (lcore 1)
  Name  State  Calls  Vectors  Suspends  Clocks  Vectors/Call
calico-dnat-ip4-in  active  3907  1000000  0  1.40e2  255.95
"""


def test_runtime_sums_threads_weighted_by_vectors() -> None:
    nodes = parse_runtime(RUNTIME)
    assert "unix-epoll-input" not in nodes  # no packets
    dn = nodes["calico-dnat-ip4-in"]
    assert dn.vectors == 2_000_000
    assert dn.clocks == pytest.approx(130.0)


def test_path_clocks_weigh_nodes_by_the_packets_they_saw() -> None:
    nodes = parse_runtime(RUNTIME)
    # 2e6 x 130 (dnat) + 1e6 x 20 (ethernet) + 500 x 40 (drop), pg-input excluded
    want = (2e6 * 130 + 1e6 * 20 + 500 * 40) / 2e6
    assert path_clocks(nodes, 2_000_000, skip=("pg-input",)) == pytest.approx(want)


def test_missing_vpp_is_reported_not_raised_later(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VPP_BINARY", str(tmp_path / "nope"))
    with pytest.raises(VppUnavailableError, match="no VPP executable"):
        VppLocation.from_env()


def test_vpp_without_the_calico_plugins_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    vpp = tmp_path / "bin" / "vpp"
    vpp.parent.mkdir()
    vpp.write_text("#!/bin/sh\n")
    vpp.chmod(0o755)
    (tmp_path / "lib" / "x86_64-linux-gnu" / "vpp_plugins").mkdir(parents=True)
    monkeypatch.setenv("VPP_BINARY", str(vpp))
    monkeypatch.delenv("VPP_PREFIX", raising=False)
    monkeypatch.delenv("VPP_PLUGIN_PATH", raising=False)
    with pytest.raises(VppUnavailableError, match=r"calico_dnat_plugin\.so not found"):
        VppLocation.from_env()
