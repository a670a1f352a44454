"""startup.conf rendering: golden files per driver, placeholders, merging, and refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pycontrol.manager import startup_conf
from pycontrol.manager.config import Driver, UplinkInterfaceSpec
from pycontrol.manager.drivers import DRIVERS, HostCaps
from pycontrol.manager.errors import ConfigError
from pycontrol.manager.linux_state import LinuxAddress, LinuxInterfaceState
from pycontrol.manager.startup_conf import DriverSections, PlaceholderValues, render

GOLDEN = Path(__file__).parent / "golden"

# Calico/VPP's usual template, with every placeholder kind
TEMPLATE = """unix {
  nodaemon
  full-coredump
  cli-listen /var/run/vpp/cli.sock
  pidfile /run/vpp/vpp.pid
  exec /etc/vpp/startup.exec
}
api-trace { on }
cpu {
  main-core __CPUSET_CPUS_FIRST__
  workers 0
}
socksvr {
  socket-name /var/run/vpp/vpp-api.sock
}
# the uplink is __VPP_DATAPLANE_IF__ (__PCI_DEVICE_ID__)
plugins {
  plugin default { enable }
  plugin calico_plugin.so { enable }
}
buffers {
  buffers-per-numa __NODE_ANNOTATION:vpp.example.org/buffers__
}
"""

STATE = LinuxInterfaceState(
    name="eth1",
    ifindex=3,
    mtu=1500,
    mac="52:54:00:12:34:56",
    is_up=True,
    promisc=False,
    addresses=(LinuxAddress(address="192.0.2.10/24"),),  # type: ignore[arg-type]
    routes=(),
    driver="virtio-pci",
    pci_id="0000:00:04.0",
    num_rx_queues=4,
    num_tx_queues=4,
)
VALUES = PlaceholderValues("eth1", "0000:00:04.0", "2", {"vpp.example.org/buffers": "65536"})


def _sections(driver: Driver, hugepages: int) -> DriverSections:
    spec = UplinkInterfaceSpec.model_validate(
        {"interfaceName": "eth1", "vppDriver": str(driver), "rx": 2, "tx": 2, "rxqsz": 512}
    )
    caps = HostCaps((6, 1), hugepages, frozenset({"vfio_pci"}))
    return DRIVERS[driver](spec, STATE, caps).sections()


@pytest.mark.parametrize(
    ("golden", "driver", "hugepages"),
    [
        ("af_packet", Driver.AF_PACKET, 0),
        ("af_xdp", Driver.AF_XDP, 0),
        ("virtio", Driver.VIRTIO, 1024),
        ("dpdk", Driver.DPDK, 1024),
        ("dpdk_nohuge", Driver.DPDK, 0),
    ],
)
def test_rendering_matches_the_golden_file(golden: str, driver: Driver, hugepages: int) -> None:
    out = render(TEMPLATE, VALUES, _sections(driver, hugepages))
    path = GOLDEN / f"{golden}.conf"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out)
    assert out == path.read_text()


def test_dpdk_without_hugepages_falls_back_to_no_hugetlb() -> None:
    with_huge = render(TEMPLATE, VALUES, _sections(Driver.DPDK, 1024))
    without = render(TEMPLATE, VALUES, _sections(Driver.DPDK, 0))
    assert "no-hugetlb" not in with_huge
    assert "no-hugetlb" in without


def test_rendered_output_has_no_placeholder_left() -> None:
    for d in Driver:
        out = render(TEMPLATE, VALUES, _sections(d, 1024))
        assert startup_conf.PLACEHOLDER.search(out) is None


def test_unknown_placeholder_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"CALICOVPP_CONFIG_TEMPLATE: unknown placeholder __FOO__"
    ):
        render(TEMPLATE + "x { __FOO__ }\n", VALUES, DriverSections())


def test_placeholder_with_an_unknown_argument_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown placeholder __CPUSET:1__"):
        render(TEMPLATE + "x { __CPUSET:1__ }\n", VALUES, DriverSections())


def test_missing_node_annotation_is_refused() -> None:
    values = PlaceholderValues("eth1", None, "0", {})
    with pytest.raises(ConfigError, match=r"no annotation 'vpp\.example\.org/buffers'"):
        render(TEMPLATE.replace("(__PCI_DEVICE_ID__)", ""), values, DriverSections())


def test_pci_placeholder_for_a_non_pci_uplink_is_refused() -> None:
    values = PlaceholderValues("veth0", None, "0", {"vpp.example.org/buffers": "1"})
    with pytest.raises(ConfigError, match="uplink veth0 has no PCI id"):
        render(TEMPLATE, values, DriverSections())


def test_template_without_nodaemon_is_refused() -> None:
    with pytest.raises(ConfigError, match="nodaemon"):
        render(TEMPLATE.replace("nodaemon", ""), VALUES, DriverSections())


def test_unbalanced_braces_are_refused() -> None:
    with pytest.raises(ConfigError, match="no closing brace"):
        render(TEMPLATE + "dpdk {\n", VALUES, DriverSections())


def test_plugin_the_template_enables_conflicts_with_a_driver_disabling_it() -> None:
    t = TEMPLATE.replace("plugin default { enable }", "plugin dpdk_plugin.so { enable }")
    with pytest.raises(ConfigError, match=r"enables dpdk_plugin\.so"):
        render(t, VALUES, _sections(Driver.VIRTIO, 1024))


def test_driver_lines_merge_into_an_existing_section() -> None:
    t = TEMPLATE + "dpdk {\n  uio-driver vfio-pci\n}\n"
    out = render(t, VALUES, _sections(Driver.DPDK, 1024))
    sections = [s.name for s in startup_conf.parse_sections(out)]
    assert sections.count("dpdk") == 1
    assert "uio-driver vfio-pci\n  dev 0000:00:04.0" in out


def test_api_socket_comes_from_socksvr_or_defaults() -> None:
    assert startup_conf.api_socket(TEMPLATE) == "/var/run/vpp/vpp-api.sock"
    no_sock = TEMPLATE.replace("socksvr {\n  socket-name /var/run/vpp/vpp-api.sock\n}\n", "")
    out = render(no_sock, VALUES, DriverSections())
    assert startup_conf.api_socket(out) == startup_conf.DEFAULT_API_SOCKET
    assert "socksvr {\n  socket-name /run/vpp/api.sock\n}" in out


def test_cpuset_first_reads_the_cgroup_then_falls_back(tmp_path: Path) -> None:
    (tmp_path / "cpuset.cpus.effective").write_text("3-5,8\n")
    assert startup_conf.cpuset_first(tmp_path) == "3"
    assert startup_conf.cpuset_first(tmp_path / "missing") == str(min(os.sched_getaffinity(0)))
