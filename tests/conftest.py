"""Shared fixtures and marker handling."""

from __future__ import annotations

import os
import shutil

import pytest


def _have_vpp() -> bool:
    prefix = os.environ.get("VPP_PREFIX")
    binary = (
        os.environ.get("VPP_BINARY")
        or (os.path.join(prefix, "bin", "vpp") if prefix else None)
        or shutil.which("vpp")
    )
    return bool(binary and os.path.exists(binary))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_vpp = pytest.mark.skip(reason="no VPP: set VPP_BINARY (and VPP_PREFIX) to run")
    skip_root = pytest.mark.skip(reason="needs root")
    have_vpp = _have_vpp()
    is_root = os.geteuid() == 0
    for item in items:
        if "needs_vpp" in item.keywords and not have_vpp:
            item.add_marker(skip_vpp)
        if "needs_root" in item.keywords and not is_root:
            item.add_marker(skip_root)
