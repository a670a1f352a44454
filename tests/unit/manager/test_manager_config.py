"""Configuration from Calico/VPP's environment variables: values, defaults, and errors that
name the variable and the field."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from pycontrol.manager import config
from pycontrol.manager.config import CliOverrides, Driver, RxMode
from pycontrol.manager.errors import ConfigError

TEMPLATE = "unix { nodaemon }\n"


def env(**kw: str) -> dict[str, str]:
    base = {
        "NODENAME": "node-a",
        "CALICOVPP_INTERFACES": json.dumps({"uplinkInterfaces": [{"interfaceName": "eth1"}]}),
        "CALICOVPP_CONFIG_TEMPLATE": TEMPLATE,
    }
    base.update(kw)
    return base


def uplinks(*items: dict[str, object], **top: object) -> str:
    return json.dumps({"uplinkInterfaces": list(items), **top})


def test_calico_shaped_configuration_is_read() -> None:
    e = env(
        CALICOVPP_INTERFACES=uplinks(
            {
                "interfaceName": "eth1",
                "vppDriver": "af_xdp",
                "mtu": 1450,
                "rx": 2,
                "tx": 2,
                "rxqsz": 2048,
                "rxMode": "adaptive",
            },
            vppHostTapSpec={"rx": 1, "tx": 1, "rxqsz": 1024, "txqsz": 1024, "isl3": False},
            maxPodIfSpec={"rx": 10, "tx": 10, "rxqsz": 1024, "txqsz": 1024},
        ),
        CALICOVPP_INITIAL_CONFIG=json.dumps(
            {
                "vppStartupSleepSeconds": 1,
                "corePattern": "/var/lib/vpp/vppcore.%e.%p",
                "defaultGWs": "192.168.0.1,fd00::1",
                "redirectToHostRules": [{"proto": "udp", "port": 53, "ip": "172.18.0.1"}],
            }
        ),
        SERVICE_PREFIX="10.96.0.0/12,fd10::/108",
        CALICOVPP_CONFIG_EXEC_TEMPLATE="set interface state __VPP_DATAPLANE_IF__ up",
        CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT="500ms",
        CALICOVPP_HOOK_VPP_RUNNING="systemctl restart systemd-networkd",
    )
    c = config.load(e)
    assert c.node_name == "node-a"
    assert c.uplink.interface_name == "eth1"
    assert c.uplink.vpp_driver is Driver.AF_XDP
    assert c.uplink.mtu == 1450
    assert c.uplink.queues() == (2, 2, 2048, 1024)
    assert c.uplink.rx_mode is RxMode.ADAPTIVE
    assert c.initial.vpp_startup_sleep_seconds == 1
    assert [str(g) for g in c.initial.gateways()] == ["192.168.0.1", "fd00::1"]
    assert c.service_prefixes == (
        ipaddress.ip_network("10.96.0.0/12"),
        ipaddress.ip_network("fd10::/108"),
    )
    assert c.grace_period == 0.5
    assert c.hooks == {"vpp_running": "systemctl restart systemd-networkd"}
    assert c.config_exec_template.startswith("set interface")


def test_defaults_are_calicos() -> None:
    c = config.load(env())
    assert c.uplink.vpp_driver is None  # auto-selection
    assert c.uplink.queues() == (1, 1, 1024, 1024)
    assert c.vpp_binary == "vpp"
    assert c.vpp_netns == "calico-vpp-ns"
    assert c.info_file == Path("/var/run/vpp/vppmanagerinfofile")
    assert c.grace_period == 10.0


def test_legacy_variables_still_work() -> None:
    e = env(CALICOVPP_INTERFACE="eth2", CALICOVPP_NATIVE_DRIVER="af_packet")
    del e["CALICOVPP_INTERFACES"]
    c = config.load(e)
    assert (c.uplink.interface_name, c.uplink.vpp_driver) == ("eth2", Driver.AF_PACKET)


def test_cli_options_win_and_state_file_follows_if_config_save_path() -> None:
    e = env(CALICOVPP_INITIAL_CONFIG=json.dumps({"ifConfigSavePath": "/var/lib/x/state.json"}))
    c = config.load(e, CliOverrides(vpp_binary="/opt/vpp/bin/vpp", driver="af_packet"))
    assert c.vpp_binary == "/opt/vpp/bin/vpp"
    assert c.uplink.vpp_driver is Driver.AF_PACKET
    assert c.state_file == Path("/var/lib/x/state.json")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"NODENAME": ""}, "NODENAME: required"),
        ({"CALICOVPP_INTERFACES": "{nope"}, "CALICOVPP_INTERFACES: not valid JSON"),
        ({"CALICOVPP_INTERFACES": uplinks()}, "CALICOVPP_INTERFACES: uplinkInterfaces: no uplink"),
        (
            {"CALICOVPP_INTERFACES": uplinks({"interfaceName": "eth1", "vppDriver": "avf"})},
            "CALICOVPP_INTERFACES: uplinkInterfaces.0.vppDriver",
        ),
        (
            {"CALICOVPP_INTERFACES": uplinks({"interfaceName": "eth1", "mtu": 100})},
            "CALICOVPP_INTERFACES: uplinkInterfaces.0.mtu",
        ),
        (
            {"CALICOVPP_INTERFACES": uplinks({"interfaceName": "eth1", "rxqsz": 1000})},
            "uplinkInterfaces.0.rxqsz: Value error, queue size 1000 is not a power of two",
        ),
        (
            {"CALICOVPP_INTERFACES": uplinks({"interfaceName": "bad/name"})},
            "uplinkInterfaces.0.interfaceName",
        ),
        (
            {"CALICOVPP_INTERFACES": uplinks({"interfaceName": "eth1", "colour": "red"})},
            "uplinkInterfaces.0.colour: Extra inputs are not permitted",
        ),
        (
            {"CALICOVPP_INTERFACES": uplinks({"interfaceName": "eth1"}, {"interfaceName": "eth1"})},
            "listed twice",
        ),
        (
            {"CALICOVPP_INTERFACES": uplinks({"interfaceName": "eth1"}, {"interfaceName": "eth2"})},
            "only one uplink",
        ),
        ({"CALICOVPP_INTERFACE": "eth7"}, "CALICOVPP_INTERFACE: 'eth7' conflicts"),
        ({"CALICOVPP_CONFIG_TEMPLATE": " "}, "CALICOVPP_CONFIG_TEMPLATE: required"),
        (
            {"CALICOVPP_INITIAL_CONFIG": '{"defaultGWs": "10.0.0.1,banana"}'},
            "CALICOVPP_INITIAL_CONFIG: defaultGWs: Value error, 'banana' is not an IP address",
        ),
        (
            {"CALICOVPP_INITIAL_CONFIG": '{"vppStartupSleepSeconds": -1}'},
            "CALICOVPP_INITIAL_CONFIG: vppStartupSleepSeconds",
        ),
        ({"SERVICE_PREFIX": "10.96.0.0/12,10.1.2.3/8"}, "SERVICE_PREFIX: '10.1.2.3/8'"),
        ({"CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT": "soon"}, "CALICOVPP_GRACEFUL_SHUTDOWN_TIMEOUT"),
        ({"CALICOVPP_NODE_ANNOTATIONS": "[1]"}, "CALICOVPP_NODE_ANNOTATIONS: must be"),
    ],
)
def test_bad_environment_names_variable_and_field(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.load(env(**overrides))
    assert message in str(exc.value)


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        (CliOverrides(uplink="eth9"), "--uplink: 'eth9' conflicts with configured 'eth1'"),
        (CliOverrides(driver="turbo"), "--driver: unknown driver 'turbo'"),
        (CliOverrides(grace_period=0), "--grace-period"),
        (CliOverrides(api_timeout=-1), "--api-timeout"),
        (CliOverrides(vpp_netns="a/b"), "--vpp-netns"),
        (CliOverrides(config_template_file=Path("/nonexistent/t.conf")), "--config-template-file"),
    ],
)
def test_bad_cli_options_are_named(cli: CliOverrides, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.load(env(), cli)
    assert message in str(exc.value)


def test_cli_driver_conflicting_with_the_configured_one_is_refused() -> None:
    e = env(CALICOVPP_INTERFACES=uplinks({"interfaceName": "eth1", "vppDriver": "af_packet"}))
    with pytest.raises(ConfigError, match="--driver: dpdk conflicts with configured vppDriver"):
        config.load(e, CliOverrides(driver="dpdk"))


def test_template_file_and_template_variable_together_conflict(tmp_path: Path) -> None:
    t = tmp_path / "t.conf"
    t.write_text(TEMPLATE)
    with pytest.raises(ConfigError, match="conflicts with CALICOVPP_CONFIG_TEMPLATE"):
        config.load(env(), CliOverrides(config_template_file=t))
    e = env()
    del e["CALICOVPP_CONFIG_TEMPLATE"]
    assert config.load(e, CliOverrides(config_template_file=t)).config_template == TEMPLATE


@pytest.mark.parametrize(
    ("raw", "seconds"), [("10s", 10.0), ("500ms", 0.5), ("1m", 60.0), ("3", 3.0)]
)
def test_durations_parse_like_go(raw: str, seconds: float) -> None:
    assert config.parse_duration("X", raw) == seconds
