"""Bad input gets a clear error and leaves the previous state intact."""

from __future__ import annotations

import errno
import ipaddress

import pytest

from pycontrol.dnat.model import (
    Backend,
    DnatConfig,
    NatPrefixKind,
    Protocol,
    ServiceOptions,
    Translation,
    VipKind,
)
from pycontrol.dnat.native import DnatCore, DnatError

from .helpers import addr, fields, ipa, tcp

pytestmark = pytest.mark.native


def test_model_rejects_bad_translations():
    v4, v6 = ipa("10.96.0.1"), ipa("fd00::1")
    with pytest.raises(ValueError, match="duplicate backend"):
        Translation(v4, 80, Protocol.TCP, backends=(Backend(v4, 1), Backend(v4, 1)))
    with pytest.raises(ValueError, match="not IPv4"):
        Translation(v4, 80, Protocol.TCP, backends=(Backend(v6, 1),))
    with pytest.raises(ValueError, match="service port"):
        Translation(v4, 0, Protocol.TCP)
    with pytest.raises(ValueError, match="backend port"):
        Backend(v4, 0)
    with pytest.raises(ValueError, match="weight"):
        Backend(v4, 1, weight=-1)
    with pytest.raises(ValueError, match="NodePort translation has no VIP"):
        Translation(v4, 30000, Protocol.TCP, kind=VipKind.NODE_PORT)
    with pytest.raises(ValueError, match="family"):
        Translation(None, 30000, Protocol.TCP, kind=VipKind.NODE_PORT)
    with pytest.raises(ValueError, match="affinity"):
        ServiceOptions(affinity_timeout_s=0)


def test_core_rejects_what_it_cannot_hold_and_keeps_the_old_state():
    core = DnatCore(DnatConfig(max_translations=1))
    vip = ipa("10.96.0.1")
    be = Backend(ipa("10.1.0.1"), 8080)
    core.update(Translation(vip, 80, Protocol.TCP, backends=(be,)))
    with pytest.raises(DnatError) as e:
        core.update(Translation(ipa("10.96.0.2"), 80, Protocol.TCP, backends=(be,)))
    assert e.value.errno == errno.ENOSPC
    too_many = tuple(Backend(ipa(f"10.1.{i // 250}.{i % 250 + 1}"), 80) for i in range(4097))
    with pytest.raises(DnatError) as e:
        core.update(Translation(vip, 80, Protocol.TCP, backends=too_many))
    assert e.value.errno == errno.EINVAL
    # the previous translation still works
    (r,) = core.process([tcp(4, "10.2.0.5", "10.96.0.1", 1000, 80)])
    assert fields(r.packet)[1] == "10.1.0.1"
    with pytest.raises(DnatError) as e:
        core.delete(7)
    assert e.value.errno == errno.ENOENT


def test_node_address_and_prefix_errors_are_clear():
    core = DnatCore()
    n = ipa("192.168.1.10")
    core.add_node_address(n)
    with pytest.raises(DnatError) as e:
        core.add_node_address(n)
    assert e.value.errno == errno.EEXIST
    with pytest.raises(DnatError) as e:
        core.del_snat_prefix(NatPrefixKind.EXCLUDE, ipaddress.ip_network("10.0.0.0/8"))
    assert e.value.errno == errno.ENOENT


def test_bad_configuration_is_refused():
    with pytest.raises(DnatError) as e:
        DnatCore(DnatConfig(workers=0))
    assert e.value.errno == errno.EINVAL
    with pytest.raises(DnatError):
        DnatCore(DnatConfig(snat_port_min=2000, snat_port_max=1000))


def test_translations_can_be_read_back_and_listed(af):
    core = DnatCore()
    vip = addr(af, 100, 96)
    tid = core.update(
        Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(addr(af, 1, 1)), 80),))
    )
    assert core.find(ipa(vip), Protocol.TCP, 80) == tid
    assert core.translation_ids() == [tid]
    t = Translation(
        ipa(vip),
        80,
        Protocol.TCP,
        backends=(Backend(ipa(addr(af, 1, 1)), 80, weight=3, local=True, terminating=True),),
        options=ServiceOptions(external_traffic_local=True),
    )
    assert core.update(t) == tid  # same key: replaced in place, same id
    assert core.get(tid) == t
    np = Translation(None, 30080, Protocol.UDP, kind=VipKind.NODE_PORT, family=af)
    assert core.get(core.update(np)) == np
    core.delete(core.translation_ids()[1])
    core.delete(tid)
    assert core.translation_ids() == []
    assert core.find(ipa(vip), Protocol.TCP, 80) is None
