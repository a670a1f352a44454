"""Give the host its uplink back exactly as it was: link attributes, addresses, routes.

Order matters: the driver reclaims the link (namespace, PCI driver, leftover tap), then
MTU/MAC/promisc, admin state, addresses (the kernel re-creates connected and local routes),
then the saved routes, connected first and defaults last. Each step is attempted even when
an earlier one failed, so a single bad route does not leave the host without addresses;
the errors are collected and reported together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pycontrol import log
from pycontrol.manager import netlink as nl
from pycontrol.manager.drivers import DriverContext, UplinkDriver
from pycontrol.manager.errors import ManagerError
from pycontrol.manager.linux_state import IpInterface, LinuxAddress, LinuxInterfaceState


def insertion_order(addresses: Sequence[LinuxAddress]) -> list[LinuxAddress]:
    """The order to add addresses in so that Linux lists them as it did.

    The kernel lists IPv4 addresses in the order they were added (the first of a subnet is
    the primary) and IPv6 addresses newest first, so the IPv6 ones are added in reverse.
    """
    v4 = [a for a in addresses if a.address.version == 4]
    v6 = [a for a in addresses if a.address.version == 6]
    return v4 + v6[::-1]


def apply_state(idx: int, s: LinuxInterfaceState, ns: str | None = None) -> list[str]:
    """Put ``s`` on link ``idx``; the list of what failed (empty: all done)."""
    errors: list[str] = []

    def attempt(what: str, fn: Callable[..., object], *args: object, **kw: object) -> None:
        try:
            fn(*args, **kw)
        except Exception as e:
            errors.append(f"{what}: {e}")

    attempt("mtu/mac/promisc", nl.set_link, idx, ns, mtu=s.mtu, mac=s.mac, promisc=s.promisc)
    attempt("link state", nl.set_link, idx, ns, up=s.is_up)
    current = nl.discover(s.name, ns).addresses if not errors else ()
    wanted = {a.address for a in s.addresses}
    for a in current:  # addresses that should not be there (a half-done earlier run)
        if a.address not in wanted and not a.is_link_local:
            attempt(f"del {a.address}", _del_address, idx, a.address, ns)
    for a in insertion_order(s.addresses):
        attempt(f"address {a.address}", nl.add_address, idx, a, ns, s.name)
    for r in s.restorable_routes():
        attempt(f"route {r.dst} via {r.gateway}", nl.add_route, idx, r, ns)
    return errors


def _del_address(idx: int, address: IpInterface, ns: str | None) -> None:
    with nl.iproute(ns) as ipr:
        ipr.addr("del", index=idx, address=str(address.ip), prefixlen=address.network.prefixlen)


def restore(driver: UplinkDriver, ctx: DriverContext) -> None:
    """Reclaim the link and re-apply its saved state. Raises ManagerError listing failures."""
    lg = log.get("manager.restore").bind(uplink=driver.state.name)
    idx = driver.reclaim_link(ctx)
    errors = apply_state(idx, driver.state)
    if errors:
        for e in errors:
            lg.error("restore step failed", error=e)
        raise ManagerError(f"restore of {driver.state.name} incomplete: {'; '.join(errors)}")
    lg.info(
        "uplink restored",
        ifindex=idx,
        addresses=len(driver.state.addresses),
        routes=len(driver.state.restorable_routes()),
    )
