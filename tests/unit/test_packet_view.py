"""The packet view parser against packets built with scapy."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    ICMPv6PacketTooBig,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.sctp import SCTP

from pycontrol.common.packet import Burst, Flag, HashField, Status, parse

pytestmark = pytest.mark.native


def test_tcp4_ports_addresses_and_flags():
    pkt = bytes(IP(src="10.0.0.1", dst="10.0.0.2", ttl=9) / TCP(sport=1234, dport=80, flags="S"))
    v = parse(pkt)
    assert v.status is Status.OK
    assert (v.af, v.proto, v.sport, v.dport, v.ttl) == (4, 6, 1234, 80, 9)
    assert v.src == ipaddress.IPv4Address("10.0.0.1")
    assert v.dst == ipaddress.IPv4Address("10.0.0.2")
    assert v.tcp_flags == 0x02
    assert v.flags & Flag.HAS_L4
    assert v.l4_offset == 20


def test_ip4_options_move_the_l4_header():
    pkt = bytes(IP(src="1.1.1.1", dst="2.2.2.2", options=[IPOption_RR()]) / UDP(sport=5, dport=6))
    v = parse(pkt)
    assert v.status is Status.OK
    assert v.flags & Flag.IP4_OPTIONS
    assert v.l4_offset > 20
    assert (v.sport, v.dport) == (5, 6)


def test_sctp_ports():
    v = parse(bytes(IPv6(src="::1", dst="::2") / SCTP(sport=3868, dport=3869)))
    assert (v.status, v.proto, v.sport, v.dport) == (Status.OK, 132, 3868, 3869)


def test_icmp_echo_id_is_the_port_and_type_code_are_kept():
    v = parse(bytes(IP(src="1.2.3.4", dst="5.6.7.8") / ICMP(type=8, code=0, id=0x4242)))
    assert (v.proto, v.icmp_type, v.icmp_code, v.sport, v.dport) == (1, 8, 0, 0x4242, 0x4242)
    v6 = parse(bytes(IPv6(src="::1", dst="::2") / ICMPv6EchoRequest(id=77)))
    assert (v6.proto, v6.icmp_type, v6.sport) == (58, 128, 77)


def test_icmp_timestamp_keeps_type_and_has_no_port():
    v = parse(bytes(IP(src="1.2.3.4", dst="5.6.7.8") / ICMP(type=13, code=0)))
    assert (v.status, v.icmp_type, v.sport, v.dport) == (Status.OK, 13, 0, 0)


def test_fragments_first_has_ports_later_has_none():
    big = IP(src="10.1.1.1", dst="10.2.2.2", id=99) / UDP(sport=53, dport=5353) / (b"x" * 3000)
    frags = [bytes(f) for f in big.fragment(fragsize=1000)]
    first, later = parse(frags[0]), parse(frags[1])
    assert first.flags & Flag.FRAGMENT and not first.flags & Flag.LATER_FRAG
    assert (first.sport, first.dport, first.frag_id) == (53, 5353, 99)
    assert later.flags & Flag.LATER_FRAG
    assert not later.flags & Flag.HAS_L4
    assert (later.sport, later.dport, later.frag_offset, later.status) == (0, 0, 1000, Status.OK)


def test_ipv6_extension_chain_is_walked():
    pkt = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting(addresses=["2001:db8::3"])
        / IPv6ExtHdrDestOpt()
        / TCP(sport=4000, dport=443)
    )
    v = parse(bytes(pkt))
    assert v.status is Status.OK
    assert v.flags & Flag.IP6_EXT
    assert (v.proto, v.sport, v.dport) == (6, 4000, 443)
    assert v.l4_offset == len(pkt) - len(pkt[TCP])


def test_ipv6_fragments():
    pkt = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrFragment(id=7)
        / UDP(sport=1, dport=2)
        / (b"y" * 3000)
    )
    frags = [bytes(f) for f in fragment6(pkt, 1280)]
    first, later = parse(frags[0]), parse(frags[1])
    assert (first.proto, first.sport, first.dport, first.frag_id) == (17, 1, 2, 7)
    assert first.flags & Flag.FRAGMENT
    assert later.flags & Flag.LATER_FRAG
    assert (later.proto, later.sport, later.status) == (17, 0, Status.OK)


def test_hop_by_hop_not_first_is_malformed():
    pkt = IPv6(src="::1", dst="::2") / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / UDP()
    assert parse(bytes(pkt)).status is Status.MALFORMED


def test_icmp4_error_exposes_the_inner_flow():
    inner = IP(src="10.0.0.2", dst="8.8.8.8") / UDP(sport=3333, dport=53)
    pkt = IP(src="192.168.1.1", dst="10.0.0.2") / ICMP(type=3, code=4, nexthopmtu=1400) / inner
    v = parse(bytes(pkt))
    assert v.status is Status.OK and v.flags & Flag.ICMP_ERROR and v.flags & Flag.INNER_L4
    assert v.inner is not None
    assert (v.icmp_type, v.icmp_code) == (3, 4)
    assert str(v.inner.src) == "10.0.0.2" and str(v.inner.dst) == "8.8.8.8"
    assert (v.inner.proto, v.inner.sport, v.inner.dport) == (17, 3333, 53)
    assert v.inner.l3_offset == 28


def test_icmp6_error_with_truncated_quote_of_tcp():
    inner = bytes(IPv6(src="2001:db8::5", dst="2001:db8::6") / TCP(sport=10, dport=20))[:48]
    pkt = IPv6(src="2001:db8::1", dst="2001:db8::5") / ICMPv6PacketTooBig(mtu=1280) / inner
    v = parse(bytes(pkt))
    assert v.status is Status.OK
    assert v.inner is not None and (v.inner.sport, v.inner.dport) == (10, 20)
    unreach = IPv6(src="::1", dst="::2") / ICMPv6DestUnreach() / bytes(IPv6(src="::2", dst="::3"))
    assert parse(bytes(unreach)).inner is not None


def test_icmp_error_with_family_mismatch_is_malformed():
    inner = bytes(IPv6(src="::1", dst="::2") / UDP())
    pkt = IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=11) / inner
    assert parse(bytes(pkt)).status is Status.MALFORMED


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda b: b[:19], Status.TRUNCATED),  # not a whole IPv4 header
        (lambda b: b[:30], Status.TRUNCATED),  # total length says more than is there
        (lambda b: bytes([0x44]) + b[1:], Status.MALFORMED),  # IHL 4
        (lambda b: bytes([0x55]) + b[1:], Status.MALFORMED),  # version 5
        (lambda b: b[:2] + b"\x00\x10" + b[4:], Status.MALFORMED),  # total < IHL
        (lambda b: b"", Status.TRUNCATED),
    ],
)
def test_malformed_and_truncated_ipv4(mutate, expected):
    good = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / TCP())
    assert parse(mutate(good)).status is expected


def test_tcp_with_bad_data_offset_is_malformed():
    b = bytearray(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / TCP()))
    b[20 + 12] = 0x40  # data offset 4 words
    assert parse(bytes(b)).status is Status.MALFORMED


def test_burst_parse_and_symmetric_hash():
    fwd = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1000, dport=80))
    rev = bytes(IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=1000))
    other = bytes(IP(src="10.0.0.3", dst="10.0.0.2") / TCP(sport=1000, dport=80))
    b = Burst([fwd, rev, other, b"\x45"])
    assert b.parse() == 3
    assert b.view(3).status is Status.TRUNCATED
    sym = b.hashes(HashField.FIVE_TUPLE | HashField.SYMMETRIC)
    assert sym[0] == sym[1] != sym[2]
    plain = b.hashes()
    assert plain[0] != plain[1]
    dst_only = b.hashes(HashField.DST_ADDR | HashField.DST_PORT)
    assert dst_only[0] == dst_only[2]


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_and_stay_in_bounds(data):
    v = parse(data)
    if v.status is Status.OK:
        assert v.l4_offset <= len(data)


@st.composite
def scapy_packets(draw):
    v6 = draw(st.booleans())
    if v6:
        ip = IPv6(
            src=str(ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))),
            dst=str(ipaddress.IPv6Address(draw(st.integers(0, 2**128 - 1)))),
        )
    else:
        ip = IP(
            src=str(ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))),
            dst=str(ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))),
        )
    sport, dport = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
    l4 = draw(st.sampled_from(["tcp", "udp", "sctp"]))
    layer = {"tcp": TCP, "udp": UDP, "sctp": SCTP}[l4](sport=sport, dport=dport)
    payload = draw(st.binary(max_size=64))
    return ip / layer / payload, sport, dport


@settings(max_examples=1500, deadline=None)
@given(scapy_packets())
def test_parser_agrees_with_scapy(case):
    pkt, sport, dport = case
    v = parse(bytes(pkt))
    assert v.status is Status.OK
    assert v.src == ipaddress.ip_address(pkt.src)
    assert v.dst == ipaddress.ip_address(pkt.dst)
    assert (v.sport, v.dport) == (sport, dport)
