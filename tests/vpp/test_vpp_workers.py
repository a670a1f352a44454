"""Both plugins in a VPP with a worker thread: one core worker (session table, epoch reader
slot) per VPP thread, and traffic is translated on whichever thread polls the pg input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from pycontrol.vpp.instance import Vpp
from pycontrol.vpp.pg import PacketRun, PgLink
from pycontrol.vppapi.plugins import PROTO_TCP, Backend, DnatApi, Translation

from .conftest import assert_checksums, ip4, vpp_location

pytestmark = pytest.mark.needs_vpp


@pytest.fixture(scope="module")
def vpp2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vpp]:
    pytest.importorskip("vpp_papi", reason="vpp_papi (VPP's Python API client) not installed")
    v = Vpp(vpp_location(), Path(tmp_path_factory.mktemp("vpp-workers")), workers=1)
    try:
        v.start()
        yield v
        assert v.alive(), f"VPP died during the tests:\n{v.log_tail()}"
    finally:
        v.stop()


def test_each_thread_is_a_core_worker_and_translates(vpp2: Vpp) -> None:
    pg0 = PgLink(vpp2, 0).create(["10.0.0.1/24"])
    pg1 = PgLink(vpp2, 1).create(["10.1.0.1/24"])
    pg1.neighbor("10.1.0.10", "02:fe:00:00:01:0a")
    c = vpp2.client("calico_dnat")
    for link in (pg0, pg1):
        c.call("calico_dnat_interface_enable_disable", sw_if_index=link.sw_if_index, is_enable=True)
    DnatApi(c).translations_update(
        [Translation(ip4("10.96.0.10"), 80, PROTO_TCP, (Backend(ip4("10.1.0.10"), 8080),))]
    )
    syn = (
        Ether(src="02:fe:00:00:00:02", dst=pg0.mac)
        / IP(src="10.0.0.2", dst="10.96.0.10")
        / TCP(sport=5555, dport=80, flags="S")
    )
    (out,) = PacketRun(vpp2, [pg0, pg1]).run({pg0: [syn]})["pg1"]
    assert (out[IP].dst, out[TCP].dport) == ("10.1.0.10", 8080)
    assert_checksums(out)
    sessions = vpp2.cli("show calico dnat sessions")
    assert "thread 0:" in sessions and "thread 1:" in sessions
    assert "10.0.0.2:5555 -> 10.96.0.10:80" in sessions
