"""Discovery of a real veth uplink with pyroute2, the state file round trip, and re-applying a
saved state onto a link that lost it."""

from __future__ import annotations

import ipaddress
import json

import pytest
from manager_netns import UPLINK, UPLINK_MAC, UPLINK_MTU, Host, ip, snapshot

from pycontrol.manager import netlink, statefile
from pycontrol.manager.linux_state import IFA_F_NOPREFIXROUTE, SavedState
from pycontrol.manager.restore import apply_state

pytestmark = pytest.mark.needs_root


def test_discovery_reads_addresses_routes_and_link_attributes(host: Host) -> None:
    s = netlink.discover(UPLINK, host.ns)
    assert (s.mtu, s.mac, s.is_up, s.promisc, s.kind) == (
        UPLINK_MTU,
        UPLINK_MAC,
        True,
        False,
        "veth",
    )
    by_addr = {str(a.address): a for a in s.addresses}
    assert set(by_addr) == {
        "192.0.2.10/24",
        "198.51.100.10/24",
        "2001:db8:1::10/64",
        "2001:db8:2::10/64",
        "fe80::5eff:fe10:a/64",
    }
    assert by_addr["198.51.100.10/24"].label == f"{UPLINK}:1"
    assert str(by_addr["198.51.100.10/24"].broadcast) == "198.51.100.255"
    assert by_addr["2001:db8:2::10/64"].flags == IFA_F_NOPREFIXROUTE
    assert by_addr["fe80::5eff:fe10:a/64"].is_link_local
    routes = {(str(r.dst), str(r.gateway), r.table, r.metric) for r in s.restorable_routes()}
    assert routes == {
        ("10.20.0.0/16", "192.0.2.254", 254, 50),
        ("10.30.0.0/16", "192.0.2.1", 100, None),
        ("0.0.0.0/0", "192.0.2.1", 254, 100),
        ("2001:db8:99::/48", "2001:db8:1::1", 254, 200),
        ("2001:db8:2::/64", "None", 254, 300),
        ("::/0", "2001:db8:1::1", 254, 1024),
    }


def test_routes_come_connected_first_and_defaults_last(host: Host) -> None:
    routes = netlink.discover(UPLINK, host.ns).restorable_routes()
    kinds = [(r.is_connected, r.is_default) for r in routes]
    assert kinds[0] == (True, False)  # 2001:db8:2::/64, attached
    assert all(d for _, d in kinds[-2:])  # the two defaults
    assert not any(d for _, d in kinds[:-2])


def test_state_file_round_trips_exactly(host: Host) -> None:
    s = netlink.discover(UPLINK, host.ns)
    path = host.tmp / "state.json"
    statefile.save(path, SavedState(uplink=s, driver="af_packet", vpp_owns_uplink=True))
    loaded = statefile.load(path)
    assert loaded is not None
    assert loaded.uplink == s
    assert loaded.vpp_owns_uplink
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not list(host.tmp.glob(".state.json.*"))  # no temporary left behind


def test_corrupt_state_file_is_an_error_not_a_silent_default(host: Host) -> None:
    path = host.tmp / "state.json"
    path.write_text('{"version": 1, "uplink": {')
    with pytest.raises(Exception, match=r"state file .* is unreadable"):
        statefile.load(path)


def test_saved_state_reapplied_to_a_stripped_link_restores_it_exactly(host: Host) -> None:
    s = netlink.discover(UPLINK, host.ns)
    ip(host.ns, "addr", "flush", "dev", UPLINK)
    ip(host.ns, "link", "set", UPLINK, "down", "mtu", "1500", "address", "02:11:22:33:44:55")
    ip(host.ns, "addr", "add", "172.16.0.1/24", "dev", UPLINK)  # not in the saved state
    assert snapshot(host.ns) != host.before
    errors = apply_state(s.ifindex, s, host.ns)
    assert errors == []
    host.assert_restored()


def test_manager_falls_back_to_the_state_file_when_the_uplink_lost_its_addresses(
    host: Host,
) -> None:
    rc, out = host.run(mode="exit")  # a first run saves the state (and restores)
    assert rc == 1, out
    ip(host.ns, "addr", "flush", "dev", UPLINK)
    p = host.start()
    try:
        host.wait_ready(p)
        calls = host.dp_calls()
        assert "192.0.2.10/24" in {c.get("address") for c in calls}
    finally:
        rc, out = host.stop(p)
    assert rc == 0, out
    assert "using the saved state" in out
    host.assert_restored(out)
    saved = json.loads(host.state_file.read_text())
    assert ipaddress.ip_interface(saved["uplink"]["addresses"][0]["address"])
