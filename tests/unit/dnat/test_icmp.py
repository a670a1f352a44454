"""ICMP and ICMPv6 errors about translated flows are rewritten inner and outer (every
checksum of the outer packet and of the quoted packet validated); errors about flows we
do not know pass untouched."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
)
from scapy.packet import Packet, Raw

from pycontrol.dnat.model import Backend, Protocol, Translation
from pycontrol.dnat.native import DnatCore, Meta, ResultFlag

from .helpers import addr, check_checksums, fields, ipa, tcp, udp

pytestmark = pytest.mark.native

ERRORS4 = {
    "frag_needed": ICMP(type=3, code=4, nexthopmtu=1400),
    "port_unreachable": ICMP(type=3, code=3),
    "time_exceeded": ICMP(type=11, code=0),
    "parameter_problem": ICMP(type=12, code=0, ptr=9),
}
ERRORS6 = {
    "frag_needed": ICMPv6PacketTooBig(mtu=1280),
    "port_unreachable": ICMPv6DestUnreach(code=4),
    "time_exceeded": ICMPv6TimeExceeded(code=0),
    "parameter_problem": ICMPv6ParamProblem(code=0, ptr=6),
}


def error(af: int, kind: str, src: str, dst: str, quoted: bytes) -> bytes:
    outer: Packet = IP(src=src, dst=dst) if af == 4 else IPv6(src=src, dst=dst)
    icmp = (ERRORS4 if af == 4 else ERRORS6)[kind].copy()
    return bytes(outer / icmp / Raw(load=quoted))


def split(raw: bytes) -> tuple[tuple[str, str], bytes]:
    """(outer src, outer dst) and the quoted packet bytes."""
    if raw[0] >> 4 == 4:
        p = IP(raw)
        ihl = (raw[0] & 0xF) * 4
        return (str(p.src), str(p.dst)), raw[ihl + 8 :]
    p6 = IPv6(raw)
    return (str(p6.src), str(p6.dst)), raw[48:]


def norm(a: str) -> str:
    return str(ipa(a))


@pytest.fixture
def svc(core: DnatCore, af: int) -> tuple[str, str]:
    vip = addr(af, 100, 96)
    be = addr(af, 1, 1)
    core.update(Translation(ipa(vip), 80, Protocol.TCP, backends=(Backend(ipa(be), 8080),)))
    core.update(Translation(ipa(vip), 53, Protocol.UDP, backends=(Backend(ipa(be), 5353),)))
    return vip, be


@pytest.mark.parametrize("kind", sorted(ERRORS4))
def test_error_from_a_router_about_a_translated_flow_is_rewritten_inner_and_outer(
    core, af, svc, kind
):
    vip, _ = svc
    client, router = addr(af, 5, 2), addr(af, 254, 9)
    orig = tcp(af, client, vip, 40000, 80)
    (fwd,) = core.process([orig])
    err = error(af, kind, router, client, fwd.packet)
    check_checksums(err)
    (r,) = core.process([err])
    assert r.flags & ResultFlag.ICMP_ERROR and r.flags & ResultFlag.REVERSE
    check_checksums(r.packet)
    (osrc, odst), quoted = split(r.packet)
    assert (osrc, odst) == (norm(router), norm(client))  # a router's address is kept
    assert fields(quoted) == (norm(client), norm(vip), 40000, 80)
    assert quoted == orig  # the client sees exactly the packet it sent


@pytest.mark.parametrize("kind", ["port_unreachable", "frag_needed"])
def test_error_from_the_backend_itself_comes_from_the_vip(core, af, svc, kind):
    vip, be = svc
    client = addr(af, 5, 2)
    (fwd,) = core.process([udp(af, client, vip, 7777, 53)])
    (r,) = core.process([error(af, kind, be, client, fwd.packet)])
    check_checksums(r.packet)
    (osrc, odst), quoted = split(r.packet)
    assert (osrc, odst) == (norm(vip), norm(client))
    assert fields(quoted) == (norm(client), norm(vip), 7777, 53)


def test_error_from_the_client_about_a_reply_reaches_the_backend(core, af, svc):
    vip, be = svc
    client = addr(af, 5, 2)
    core.process([tcp(af, client, vip, 40000, 80)])
    (reply,) = core.process([tcp(af, be, client, 8080, 40000, "SA")])
    assert fields(reply.packet)[0] == norm(vip)
    (r,) = core.process([error(af, "port_unreachable", client, vip, reply.packet)])
    assert r.flags & ResultFlag.ICMP_ERROR and r.flags & ResultFlag.DNAT
    check_checksums(r.packet)
    (osrc, odst), quoted = split(r.packet)
    assert (osrc, odst) == (norm(client), norm(be))
    assert fields(quoted) == (norm(be), norm(client), 8080, 40000)


def test_error_about_a_snated_flow_reaches_the_client(core, af):
    node, pod = addr(af, 1, 50), addr(af, 7, 2)
    core.set_snat_address(af, ipa(node))
    core.update(
        Translation(ipa(pod), 80, Protocol.TCP, backends=(Backend(ipa(pod), 8080),))
    )  # hairpin: pod to its own service
    (fwd,) = core.process([tcp(af, pod, pod, 1111, 80)], meta=Meta(from_pod=True))
    s, _, _, _ = fields(fwd.packet)
    assert s == norm(node)
    (r,) = core.process([error(af, "frag_needed", addr(af, 254, 9), node, fwd.packet)])
    check_checksums(r.packet)
    (_, odst), quoted = split(r.packet)
    assert odst == norm(pod)
    assert fields(quoted) == (norm(pod), norm(pod), 1111, 80)


def test_error_about_an_unknown_flow_passes_untouched(core, af, svc):
    client = addr(af, 5, 2)
    quoted = tcp(af, client, addr(af, 9, 9), 1, 2)
    err = error(af, "port_unreachable", addr(af, 254, 9), client, quoted)
    (r,) = core.process([err])
    assert r.packet == err and r.session is None
