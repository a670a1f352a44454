"""Uplink drivers: how VPP takes the uplink, what Linux must do first, how Linux gets it back.

- ``af_packet`` (default, works everywhere): the link moves into VPP's netns, promiscuous;
  VPP reads it through AF_PACKET sockets.
- ``af_xdp``: the link moves into VPP's netns; VPP attaches AF_XDP sockets (kernel >= 5.4).
- ``virtio``: the PCI function is unbound from ``virtio-pci`` and bound to ``vfio-pci`` (or
  ``uio_pci_generic``); VPP's native virtio driver takes it. Needs hugepages.
- ``dpdk``: the PCI function is rebound the same way (not for bifurcated ``mlx5_core``) and
  listed in a ``dpdk { dev ... }`` section; without hugepages DPDK runs with ``no-hugetlb``.

Auto-selection order (no ``vppDriver``): virtio, af_xdp (hardware links only), af_packet.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pycontrol import log
from pycontrol.dataplane.interface import Dataplane
from pycontrol.dataplane.types import QueueSpec
from pycontrol.manager import netlink as nl
from pycontrol.manager.config import Driver, UplinkInterfaceSpec
from pycontrol.manager.errors import ConfigError, ManagerError
from pycontrol.manager.linux_state import LinuxInterfaceState
from pycontrol.manager.startup_conf import DriverSections

AUTO_ORDER = (Driver.VIRTIO, Driver.AF_XDP, Driver.AF_PACKET)
XDP_MAX_MTU = 3498
USERSPACE_PCI_DRIVERS = ("vfio-pci", "uio_pci_generic")


@dataclass(frozen=True)
class HostCaps:
    """What the host offers, probed once before anything changes."""

    kernel: tuple[int, int]
    hugepages_free: int
    modules: frozenset[str]

    @classmethod
    def probe(cls, proc: Path = Path("/proc"), sysfs: Path = Path("/sys")) -> HostCaps:
        release = (proc / "sys/kernel/osrelease").read_text().strip()
        parts = [int("".join(c for c in p if c.isdigit()) or 0) for p in release.split(".")[:2]]
        free = 0
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("HugePages_Free:"):
                free = int(line.split()[1])
        mods = (
            frozenset(p.name for p in (sysfs / "module").iterdir())
            if (sysfs / "module").is_dir()
            else frozenset()
        )
        return cls((parts[0], parts[1] if len(parts) > 1 else 0), free, mods)

    def userspace_pci_driver(self) -> str | None:
        for d in USERSPACE_PCI_DRIVERS:
            if d.replace("-", "_") in self.modules:
                return d
        return None


@dataclass(frozen=True)
class DriverContext:
    vpp_netns: str
    sysfs: Path = Path("/sys")


class UplinkDriver(ABC):
    name: ClassVar[Driver]

    def __init__(self, spec: UplinkInterfaceSpec, state: LinuxInterfaceState, caps: HostCaps):
        self.spec = spec
        self.state = state
        self.caps = caps
        self.log = log.get("manager.driver").bind(driver=str(self.name), uplink=state.name)

    def queues(self) -> QueueSpec:
        rx, tx, rxq, txq = self.spec.queues()
        return QueueSpec(rx, tx, rxq, txq)

    @abstractmethod
    def unsupported(self, auto: bool) -> str | None:
        """Why this driver cannot take this uplink on this host (None: it can)."""

    def sections(self) -> DriverSections:
        return DriverSections()

    @abstractmethod
    def prepare_linux(self, ctx: DriverContext) -> None:
        """Hand the link over (before VPP starts)."""

    @abstractmethod
    def create_in_vpp(self, dp: Dataplane, ctx: DriverContext) -> int:
        """Create (or find) the uplink in VPP; its sw_if_index."""

    @abstractmethod
    def reclaim_link(self, ctx: DriverContext) -> int:
        """Bring the link back under Linux, in the manager's netns, by its saved name."""

    def _remove_host_tap(self) -> None:
        """A tap left in the host with the uplink's name (VPP's) would block the name."""
        idx = nl.link_index(self.state.name)
        if idx is not None and nl.link_kind(idx) == "tun" and self.state.kind != "tun":
            self.log.info("deleting leftover host tap", ifindex=idx)
            nl.delete_link(idx)


class _NetnsMoveDriver(UplinkDriver):
    promisc: ClassVar[bool] = False

    def prepare_linux(self, ctx: DriverContext) -> None:
        idx = nl.move_link(self.state.name, None, ctx.vpp_netns)
        nl.set_link(idx, ctx.vpp_netns, mtu=self.spec.mtu, up=True, promisc=self.promisc or None)
        self.log.info("uplink moved into VPP netns", netns=ctx.vpp_netns)

    def reclaim_link(self, ctx: DriverContext) -> int:
        in_vpp = nl.link_index(self.state.name, ctx.vpp_netns)
        if in_vpp is not None:
            self._remove_host_tap()
            return nl.move_link(self.state.name, ctx.vpp_netns, None)
        self._remove_host_tap()
        idx = nl.link_index(self.state.name)
        if idx is None:
            raise ManagerError(
                f"uplink {self.state.name} is neither in netns {ctx.vpp_netns} nor in the host"
            )
        return idx


class AfPacketDriver(_NetnsMoveDriver):
    name = Driver.AF_PACKET
    promisc = True

    def unsupported(self, auto: bool) -> str | None:
        if not self.state.mac or self.state.mac == "00:00:00:00:00:00":
            return "af_packet needs an Ethernet link (this one has no MAC address)"
        return None

    def create_in_vpp(self, dp: Dataplane, ctx: DriverContext) -> int:
        return dp.create_af_packet(self.state.name, self.state.mac, self.queues())


class AfXdpDriver(_NetnsMoveDriver):
    name = Driver.AF_XDP

    def unsupported(self, auto: bool) -> str | None:
        if self.caps.kernel < (5, 4):
            return f"af_xdp needs kernel >= 5.4 (have {self.caps.kernel[0]}.{self.caps.kernel[1]})"
        mtu = self.spec.mtu or self.state.mtu
        if mtu > XDP_MAX_MTU:
            return f"af_xdp supports MTU <= {XDP_MAX_MTU} (uplink has {mtu})"
        if auto and self.state.kind is not None:
            return f"af_xdp is not auto-selected for virtual links ({self.state.kind})"
        return None

    def sections(self) -> DriverSections:
        return DriverSections(enable_plugins=("af_xdp_plugin.so",))

    def create_in_vpp(self, dp: Dataplane, ctx: DriverContext) -> int:
        return dp.create_af_xdp(self.state.name, self.state.name, "", self.queues())


class _PciDriver(UplinkDriver):
    def _pci_dev(self, ctx: DriverContext) -> Path:
        assert self.state.pci_id is not None
        return ctx.sysfs / "bus/pci/devices" / self.state.pci_id

    def _target_driver(self) -> str | None:
        """``newDriver`` when configured, else vfio-pci or uio_pci_generic (whichever is loaded)."""
        return self.spec.new_driver or self.caps.userspace_pci_driver()

    def _bind(self, ctx: DriverContext, driver: str | None) -> None:
        """Unbind from the current driver and bind to ``driver`` (None: clear the override)."""
        assert self.state.pci_id is not None
        dev = self._pci_dev(ctx)
        if (dev / "driver").exists():
            (dev / "driver" / "unbind").write_text(self.state.pci_id)
        (dev / "driver_override").write_text(driver or "\n")
        if driver is not None:
            (ctx.sysfs / "bus/pci/drivers_probe").write_text(self.state.pci_id)

    def _rebind_needed(self) -> bool:
        return self.state.driver != "mlx5_core"

    def prepare_linux(self, ctx: DriverContext) -> None:
        if not self._rebind_needed():
            return
        target = self._target_driver()
        self.log.info("rebinding PCI device", pci=self.state.pci_id, to=target)
        self._bind(ctx, target)

    def reclaim_link(self, ctx: DriverContext) -> int:
        self._remove_host_tap()
        idx = nl.link_index(self.state.name)
        if idx is not None:
            return idx
        if self._rebind_needed() and self.state.driver:
            self._bind(ctx, None)
            (ctx.sysfs / "bus/pci/drivers" / self.state.driver / "bind").write_text(
                str(self.state.pci_id)
            )
        netdir = self._pci_dev(ctx) / "net"
        if self.state.driver == "virtio-pci":
            netdir = next(self._pci_dev(ctx).glob("virtio*/net"), netdir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            names = os.listdir(netdir) if netdir.is_dir() else []
            if names:
                idx = nl.link_index(names[0])
                if idx is not None:
                    if names[0] != self.state.name:
                        nl.set_link(idx, name=self.state.name)
                    return idx
            time.sleep(0.1)
        raise ManagerError(f"PCI device {self.state.pci_id} did not come back as a netdev")

    def _pci_unsupported(self) -> str | None:
        if not self.state.pci_id:
            return f"{self.name} needs a PCI device ({self.state.name} is not one)"
        if self._rebind_needed() and self._target_driver() is None:
            return f"{self.name} needs the vfio-pci or uio_pci_generic kernel module loaded"
        return None


class VirtioDriver(_PciDriver):
    name = Driver.VIRTIO

    def unsupported(self, auto: bool) -> str | None:
        if self.state.driver != "virtio-pci":
            return f"virtio needs a virtio-pci device (driver is {self.state.driver})"
        if self.caps.hugepages_free == 0:
            return "virtio needs hugepages (HugePages_Free is 0)"
        return self._pci_unsupported()

    def sections(self) -> DriverSections:
        return DriverSections(disable_plugins=("dpdk_plugin.so",))

    def create_in_vpp(self, dp: Dataplane, ctx: DriverContext) -> int:
        assert self.state.pci_id is not None
        return dp.create_virtio(self.state.pci_id, self.state.mac, self.queues())


class DpdkDriver(_PciDriver):
    name = Driver.DPDK

    def unsupported(self, auto: bool) -> str | None:
        return self._pci_unsupported()

    def sections(self) -> DriverSections:
        rx, tx, rxq, txq = self.spec.queues()
        lines = [
            f"dev {self.state.pci_id} {{ name {self.state.name} num-rx-queues {rx} "
            f"num-tx-queues {tx} num-rx-desc {rxq} num-tx-desc {txq} }}"
        ]
        if self.caps.hugepages_free == 0:
            lines += ["no-hugetlb", "iova-mode va"]  # the no-hugepage fallback
        return DriverSections(enable_plugins=("dpdk_plugin.so",), sections={"dpdk": lines})

    def create_in_vpp(self, dp: Dataplane, ctx: DriverContext) -> int:
        return dp.interface_index(self.state.name)


DRIVERS: dict[Driver, type[UplinkDriver]] = {
    Driver.AF_PACKET: AfPacketDriver,
    Driver.AF_XDP: AfXdpDriver,
    Driver.VIRTIO: VirtioDriver,
    Driver.DPDK: DpdkDriver,
}


def select(spec: UplinkInterfaceSpec, state: LinuxInterfaceState, caps: HostCaps) -> UplinkDriver:
    """The configured driver if it can work here (else ConfigError), or the first that can."""
    if spec.vpp_driver is not None:
        drv = DRIVERS[spec.vpp_driver](spec, state, caps)
        why = drv.unsupported(auto=False)
        if why:
            raise ConfigError("CALICOVPP_INTERFACES", "uplinkInterfaces.0.vppDriver", why)
        return drv
    reasons = []
    for name in AUTO_ORDER:
        drv = DRIVERS[name](spec, state, caps)
        why = drv.unsupported(auto=True)
        if why is None:
            return drv
        reasons.append(why)
    raise ConfigError("CALICOVPP_INTERFACES", "uplinkInterfaces.0.vppDriver", "; ".join(reasons))


def for_saved(name: str, spec: UplinkInterfaceSpec, state: LinuxInterfaceState) -> UplinkDriver:
    """The driver that took the uplink (for restore from a state file)."""
    caps = HostCaps((0, 0), 0, frozenset())
    return DRIVERS[Driver(name)](spec, state, caps)
