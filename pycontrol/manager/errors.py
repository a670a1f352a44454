"""Errors the manager reports to the operator."""

from __future__ import annotations


class ManagerError(Exception):
    """A failure the manager reports with a clear message (no traceback)."""


class ConfigError(ManagerError):
    """Invalid configuration: raised before anything on the host changes."""

    def __init__(self, source: str, field: str | None, message: str) -> None:
        self.source = source
        self.field = field
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


class DiscoveryError(ManagerError):
    """The uplink is missing or unusable: raised before anything on the host changes."""
