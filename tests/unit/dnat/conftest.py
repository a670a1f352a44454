"""Fixtures for the DNAT tests."""

from __future__ import annotations

import pytest

from pycontrol.dnat.model import DnatConfig
from pycontrol.dnat.native import DnatCore


@pytest.fixture(params=[4, 6], ids=["ipv4", "ipv6"])
def af(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def core() -> DnatCore:
    return DnatCore(
        DnatConfig(workers=2, max_sessions=4096, snat_port_min=20000, snat_port_max=29999)
    )
