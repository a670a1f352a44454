"""Checksums against scapy's, full and incremental (RFC 1624)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP

from pycontrol.common.packet import checksum, checksum_update

pytestmark = pytest.mark.native


def test_ipv4_header_checksum_matches_scapy():
    pkt = IP(bytes(IP(src="192.168.0.1", dst="192.168.0.199", ttl=64) / UDP()))
    raw = bytearray(bytes(pkt)[:20])
    expected = pkt.chksum
    raw[10:12] = b"\x00\x00"
    assert checksum(bytes(raw)) == expected


@settings(max_examples=2000, deadline=None)
@given(
    st.binary(min_size=2, max_size=120).filter(lambda b: len(b) % 2 == 0),
    st.data(),
)
def test_incremental_update_equals_recomputation(buf, data):
    at = data.draw(st.integers(0, len(buf) // 2 - 1)) * 2
    new = data.draw(st.binary(min_size=2, max_size=2))
    field = checksum(buf)
    edited = buf[:at] + new + buf[at + 2 :]
    inc = checksum_update(field, buf[at : at + 2], new)
    full = checksum(edited)
    assert inc == full or {inc, full} == {0x0000, 0xFFFF}


def test_update_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="same even length"):
        checksum_update(0, b"ab", b"abcd")
