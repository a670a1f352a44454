"""Bad input: a clear error naming the problem, exit status 2, and nothing on the host changed
(no VPP started, the uplink untouched, no state file written)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from manager_netns import UPLINK, Host, ip, snapshot

pytestmark = pytest.mark.needs_root


def _assert_untouched(host: Host, out: str) -> None:
    assert host.vpp_events() == [], "VPP was started"
    assert not host.state_file.exists()
    assert not (host.tmp / "etc" / "startup.conf").exists()
    host.assert_restored(out)


def _uplinks(**fields: object) -> str:
    return json.dumps({"uplinkInterfaces": [{"interfaceName": UPLINK, **fields}]})


def test_unknown_interface_is_refused_before_any_change(host: Host) -> None:
    rc, out = host.run(
        CALICOVPP_INTERFACES=json.dumps({"uplinkInterfaces": [{"interfaceName": "nosuch0"}]})
    )
    assert rc == 2, out
    assert "uplink interface 'nosuch0' not found" in out
    _assert_untouched(host, out)


def test_interface_without_addresses_is_refused(host: Host) -> None:
    ip(host.ns, "link", "add", "bare0", "type", "veth", "peer", "name", "bare1")
    host.before = snapshot(host.ns)
    rc, out = host.run(
        CALICOVPP_INTERFACES=json.dumps({"uplinkInterfaces": [{"interfaceName": "bare0"}]})
    )
    assert rc == 2, out
    assert "'bare0' has no IPv4/IPv6 address" in out
    _assert_untouched(host, out)


def test_malformed_interfaces_json_names_the_variable(host: Host) -> None:
    rc, out = host.run(CALICOVPP_INTERFACES='{"uplinkInterfaces": [')
    assert rc == 2, out
    assert "CALICOVPP_INTERFACES: not valid JSON" in out
    _assert_untouched(host, out)


def test_bad_field_names_the_variable_and_the_field(host: Host) -> None:
    rc, out = host.run(CALICOVPP_INTERFACES=_uplinks(vppDriver="avf9"))
    assert rc == 2, out
    assert "CALICOVPP_INTERFACES: uplinkInterfaces.0.vppDriver" in out
    _assert_untouched(host, out)


def test_conflicting_legacy_interface_variable_is_refused(host: Host) -> None:
    rc, out = host.run(CALICOVPP_INTERFACE="eth9")
    assert rc == 2, out
    assert "CALICOVPP_INTERFACE" in out and "conflicts" in out
    _assert_untouched(host, out)


def test_template_with_unknown_placeholder_is_refused(host: Host) -> None:
    env = host.env()
    template = env["CALICOVPP_CONFIG_TEMPLATE"] + "buffers { buffers-per-numa __BUFFERS__ }\n"
    rc, out = host.run(CALICOVPP_CONFIG_TEMPLATE=template)
    assert rc == 2, out
    assert "unknown placeholder __BUFFERS__" in out
    _assert_untouched(host, out)


def test_template_disabling_the_drivers_plugin_is_a_conflict(host: Host) -> None:
    env = host.env()
    template = env["CALICOVPP_CONFIG_TEMPLATE"].replace(
        "plugin default { enable }",
        "plugin default { enable }\n  plugin af_xdp_plugin.so { disable }",
    )
    rc, out = host.run(
        CALICOVPP_CONFIG_TEMPLATE=template, CALICOVPP_INTERFACES=_uplinks(vppDriver="af_xdp")
    )
    assert rc == 2, out
    assert "disables af_xdp_plugin.so" in out
    _assert_untouched(host, out)


def test_driver_that_cannot_take_the_uplink_is_refused(host: Host) -> None:
    rc, out = host.run(CALICOVPP_INTERFACES=_uplinks(vppDriver="dpdk"))
    assert rc == 2, out
    assert "dpdk needs a PCI device" in out
    _assert_untouched(host, out)


def test_real_vpp_api_without_its_definitions_is_refused_before_any_change(host: Host) -> None:
    # the real CLI with the real vpp_papi dataplane: no VPP install here, so no *.api.json
    rc, out = host.run("--vpp-api-dir", str(host.tmp), standin_dp=False)
    assert rc == 2, out
    assert "--vpp-api-dir: no VPP API definitions (*.api.json) found" in out
    _assert_untouched(host, out)


def test_missing_vpp_binary_is_refused(host: Host) -> None:
    args = host.manager_args()
    args[args.index("--vpp-binary") + 1] = str(host.tmp / "no-vpp-here")
    r = subprocess.run(
        ["ip", "netns", "exec", host.ns, sys.executable, "-m", "pycontrol.cli", *args],
        env=host.env(),
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    assert r.returncode == 2, r.stderr
    assert "--vpp-binary" in r.stderr and "not an executable file" in r.stderr
    _assert_untouched(host, r.stderr)
