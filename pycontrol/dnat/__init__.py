"""Service load balancing (calico_dnat): the typed model and a typed wrapper over the
native fast path (``vpp-plugins/calico_dnat/core``)."""

from pycontrol.dnat.model import (
    Backend,
    DnatConfig,
    HashField,
    NatPrefixKind,
    Protocol,
    ServiceOptions,
    Translation,
    VipKind,
)

__all__ = [
    "Backend",
    "DnatConfig",
    "HashField",
    "NatPrefixKind",
    "Protocol",
    "ServiceOptions",
    "Translation",
    "VipKind",
]
