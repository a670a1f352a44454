"""Driver selection, host capability probing, PCI rebinding (against a sysfs-shaped tree:
there is no spare PCI NIC on a test machine), route and address ordering."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from pycontrol.manager import drivers
from pycontrol.manager.config import Driver, UplinkInterfaceSpec
from pycontrol.manager.drivers import DriverContext, HostCaps, select
from pycontrol.manager.errors import ConfigError
from pycontrol.manager.linux_state import LinuxAddress, LinuxInterfaceState, LinuxRoute
from pycontrol.manager.netlink import _sysfs_device
from pycontrol.manager.restore import insertion_order


def state(**kw: object) -> LinuxInterfaceState:
    base: dict[str, object] = {
        "name": "eth1",
        "ifindex": 3,
        "mtu": 1500,
        "mac": "52:54:00:12:34:56",
        "is_up": True,
        "promisc": False,
        "addresses": (LinuxAddress(address=ipaddress.ip_interface("192.0.2.10/24")),),
        "routes": (),
    }
    base.update(kw)
    return LinuxInterfaceState.model_validate(base)


def spec(driver: str | None = None, **kw: object) -> UplinkInterfaceSpec:
    return UplinkInterfaceSpec.model_validate({"interfaceName": "eth1", "vppDriver": driver, **kw})


NEW = HostCaps((6, 1), 0, frozenset({"vfio_pci"}))
HUGE = HostCaps((6, 1), 512, frozenset({"vfio_pci"}))
OLD = HostCaps((4, 19), 0, frozenset())
VIRTIO_NIC = {"driver": "virtio-pci", "pci_id": "0000:00:04.0"}


@pytest.mark.parametrize(
    ("st", "caps", "expected"),
    [
        (state(kind="veth"), NEW, Driver.AF_PACKET),  # af_xdp is not auto-picked for veth
        (state(), NEW, Driver.AF_XDP),  # hardware link, recent kernel
        (state(), OLD, Driver.AF_PACKET),  # kernel too old for af_xdp
        (state(mtu=9000), NEW, Driver.AF_PACKET),  # MTU too big for af_xdp
        (state(**VIRTIO_NIC), HUGE, Driver.VIRTIO),
        (state(**VIRTIO_NIC), NEW, Driver.AF_XDP),  # virtio needs hugepages
    ],
)
def test_auto_selection_order(st: LinuxInterfaceState, caps: HostCaps, expected: Driver) -> None:
    assert select(spec(), st, caps).name is expected


def test_configured_driver_that_cannot_work_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"vppDriver: af_xdp needs kernel >= 5.4 \(have 4.19\)"):
        select(spec("af_xdp"), state(), OLD)
    with pytest.raises(ConfigError, match="virtio needs a virtio-pci device"):
        select(spec("virtio"), state(), HUGE)
    with pytest.raises(ConfigError, match="needs the vfio-pci or uio_pci_generic kernel module"):
        select(spec("dpdk"), state(**VIRTIO_NIC), HostCaps((6, 1), 0, frozenset()))


def test_explicit_af_xdp_is_allowed_on_a_veth() -> None:
    assert select(spec("af_xdp"), state(kind="veth"), NEW).name is Driver.AF_XDP


def test_no_driver_at_all_lists_every_reason() -> None:
    with pytest.raises(ConfigError) as exc:
        select(spec(), state(mac="00:00:00:00:00:00", kind="tun"), OLD)
    assert "af_packet needs an Ethernet link" in str(exc.value)
    assert "af_xdp needs kernel" in str(exc.value)


def test_host_caps_probe_reads_proc_and_sysfs(tmp_path: Path) -> None:
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/osrelease").write_text("5.15.0-91-generic\n")
    (tmp_path / "proc/meminfo").write_text("MemTotal: 1 kB\nHugePages_Free:     128\n")
    (tmp_path / "sys/module/vfio_pci").mkdir(parents=True)
    caps = HostCaps.probe(tmp_path / "proc", tmp_path / "sys")
    assert caps == HostCaps((5, 15), 128, frozenset({"vfio_pci"}))
    assert caps.userspace_pci_driver() == "vfio-pci"


def _fake_pci(sysfs: Path, pci: str, driver: str) -> Path:
    """A sysfs-shaped tree: the device, its driver symlink and the control files."""
    drv = sysfs / "bus/pci/drivers" / driver
    drv.mkdir(parents=True)
    (drv / "unbind").write_text("")
    (drv / "bind").write_text("")
    dev = sysfs / "bus/pci/devices" / pci
    dev.mkdir(parents=True)
    (dev / "driver").symlink_to(drv)
    (dev / "driver_override").write_text("\n")
    (sysfs / "bus/pci/drivers_probe").write_text("")
    return dev


def test_pci_driver_preparation_unbinds_and_overrides_to_vfio(tmp_path: Path) -> None:
    dev = _fake_pci(tmp_path, "0000:00:04.0", "virtio-pci")
    drv = drivers.DRIVERS[Driver.DPDK](spec("dpdk"), state(**VIRTIO_NIC), NEW)
    drv.prepare_linux(DriverContext("vpp-ns", tmp_path))
    assert (tmp_path / "bus/pci/drivers/virtio-pci/unbind").read_text() == "0000:00:04.0"
    assert (dev / "driver_override").read_text() == "vfio-pci"
    assert (tmp_path / "bus/pci/drivers_probe").read_text() == "0000:00:04.0"


def test_new_driver_overrides_the_userspace_driver_choice(tmp_path: Path) -> None:
    dev = _fake_pci(tmp_path, "0000:00:04.0", "virtio-pci")
    sp = spec("virtio", newDriver="uio_pci_generic")
    drivers.DRIVERS[Driver.VIRTIO](sp, state(**VIRTIO_NIC), HUGE).prepare_linux(
        DriverContext("vpp-ns", tmp_path)
    )
    assert (dev / "driver_override").read_text() == "uio_pci_generic"


def test_mlx5_is_not_rebound(tmp_path: Path) -> None:
    dev = _fake_pci(tmp_path, "0000:3b:00.0", "mlx5_core")
    st = state(driver="mlx5_core", pci_id="0000:3b:00.0")
    drivers.DRIVERS[Driver.DPDK](spec("dpdk"), st, NEW).prepare_linux(DriverContext("x", tmp_path))
    assert (tmp_path / "bus/pci/drivers/mlx5_core/unbind").read_text() == ""
    assert (dev / "driver_override").read_text() == "\n"


def test_routes_sort_connected_first_defaults_last_longest_prefix_first() -> None:
    def r(dst: str, gw: str | None) -> LinuxRoute:
        return LinuxRoute(
            family=4,
            dst=ipaddress.ip_network(dst),
            gateway=ipaddress.ip_address(gw) if gw else None,
        )

    routes = [
        r("0.0.0.0/0", "192.0.2.1"),
        r("10.0.0.0/8", "192.0.2.1"),
        r("10.1.0.0/16", "192.0.2.2"),
        r("192.0.2.0/24", None),
    ]
    st = state(routes=tuple(routes))
    assert [str(x.dst) for x in st.sorted_routes()] == [
        "192.0.2.0/24",
        "10.1.0.0/16",
        "10.0.0.0/8",
        "0.0.0.0/0",
    ]


def test_addresses_are_added_so_linux_lists_them_in_the_same_order() -> None:
    addrs = [
        LinuxAddress(address=ipaddress.ip_interface(a))
        for a in ("10.0.0.1/24", "10.0.0.2/24", "fd00::2/64", "fd00::1/64")
    ]
    order = [str(a.address) for a in insertion_order(addrs)]
    # IPv4 in listed order (the first is the primary); IPv6 reversed (listed newest first)
    assert order == ["10.0.0.1/24", "10.0.0.2/24", "fd00::1/64", "fd00::2/64"]


def _sysfs_netdev(root: Path, name: str, device: str, driver: str) -> None:
    """class/net/NAME/device -> the device directory, whose driver links to bus/pci/drivers."""
    dev = root / "devices/pci0000:00" / device
    dev.mkdir(parents=True)
    drv = root / "bus/pci/drivers" / driver
    drv.mkdir(parents=True, exist_ok=True)
    (dev / "driver").symlink_to(drv)
    net = root / "class/net" / name
    net.mkdir(parents=True)
    (net / "device").symlink_to(dev)


def test_sysfs_gives_driver_and_pci_id_of_a_pci_nic(tmp_path: Path) -> None:
    _sysfs_netdev(tmp_path, "ens1f0", "0000:3b:00.0", "ice")
    (tmp_path / "devices/pci0000:00/0000:3b:00.0/vendor").write_text("0x8086\n")
    assert _sysfs_device("ens1f0", tmp_path) == ("ice", "0000:3b:00.0")


def test_sysfs_gives_the_pci_function_behind_a_virtio_netdev(tmp_path: Path) -> None:
    _sysfs_netdev(tmp_path, "eth0", "0000:00:04.0/virtio1", "virtio_net")
    pci = tmp_path / "devices/pci0000:00/0000:00:04.0"
    (pci / "vendor").write_text("0x1af4\n")
    (tmp_path / "bus/pci/drivers/virtio-pci").mkdir()
    (pci / "driver").symlink_to(tmp_path / "bus/pci/drivers/virtio-pci")
    # the PCI function's driver: the one the virtio/dpdk drivers rebind and restore
    assert _sysfs_device("eth0", tmp_path) == ("virtio-pci", "0000:00:04.0")


def test_sysfs_has_nothing_for_a_virtual_link(tmp_path: Path) -> None:
    (tmp_path / "class/net/veth0").mkdir(parents=True)
    assert _sysfs_device("veth0", tmp_path) == (None, None)
