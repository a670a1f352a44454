"""The ``host`` fixture (see manager_netns.py): namespaces created per test, always deleted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from manager_netns import Host, make_host


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    with make_host(tmp_path) as h:
        yield h
