"""Typed bulk operations of the two plugins over :class:`PluginClient`.

Dataclasses at the boundary; the message encoding is the generated codec's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pycontrol.vppapi.client import PluginClient

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTO_TCP = 6
PROTO_UDP = 17
PROTO_SCTP = 132


@dataclass(frozen=True)
class Backend:
    addr: IPAddress
    port: int
    weight: int = 1
    flags: int = 0


@dataclass(frozen=True)
class Translation:
    vip: IPAddress
    port: int
    proto: int
    backends: tuple[Backend, ...]
    kind: int = 0
    flags: int = 0
    hash_fields: int = 0
    affinity_timeout_s: int = 0

    def values(self) -> dict[str, Any]:
        return {
            "vip": self.vip,
            "port": self.port,
            "proto": self.proto,
            "kind": self.kind,
            "flags": self.flags,
            "hash_fields": self.hash_fields,
            "affinity_timeout_s": self.affinity_timeout_s,
            "n_backends": len(self.backends),
            "backends": [
                {"addr": b.addr, "port": b.port, "weight": b.weight, "flags": b.flags}
                for b in self.backends
            ],
        }

    @classmethod
    def from_details(cls, d: dict[str, Any]) -> Translation:
        return cls(
            vip=d["vip"],
            port=d["port"],
            proto=d["proto"],
            kind=d["kind"],
            flags=d["flags"],
            hash_fields=d["hash_fields"],
            affinity_timeout_s=d["affinity_timeout_s"],
            backends=tuple(
                Backend(b["addr"], b["port"], b["weight"], b["flags"]) for b in d["backends"]
            ),
        )


class DnatApi:
    def __init__(self, client: PluginClient) -> None:
        self.c = client

    def translations_update(self, ts: Iterable[Translation]) -> list[int]:
        """Create or replace translations; returns their ids, in order."""
        reps = self.c.call_many("calico_dnat_translation_update", (t.values() for t in ts))
        return [int(r.values["id"]) for r in reps]

    def translation_del(self, ids: Iterable[int]) -> None:
        self.c.call_many("calico_dnat_translation_del", ({"id": i} for i in ids))

    def translations(self) -> dict[int, Translation]:
        return {
            d["id"]: Translation.from_details(d)
            for d in self.c.dump("calico_dnat_translation_dump")
        }


@dataclass(frozen=True)
class Member:
    """An ipset member: an address (IP sets), a prefix (NET sets), or an address with a
    protocol and port (IP_AND_PORT sets)."""

    prefix: IPNetwork
    proto: int = 0
    port: int = 0

    def values(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "proto": self.proto, "port": self.port}


IPSET_IP = 0
IPSET_IP_AND_PORT = 1
IPSET_NET = 2


@dataclass
class PolicyApi:
    c: PluginClient
    members_per_message: int = 2048

    def _chunks(self, members: Sequence[Member]) -> Iterable[list[dict[str, Any]]]:
        n = self.members_per_message
        for i in range(0, len(members), n):
            yield [m.values() for m in members[i : i + n]]

    def ipset_update(self, ipset_id: int, type_: int, members: Sequence[Member]) -> None:
        """Create or replace an ipset; members beyond one message follow as additions."""
        chunks = list(self._chunks(members)) or [[]]
        self.c.call(
            "calico_policy_ipset_update",
            id=ipset_id,
            type=type_,
            n_members=len(chunks[0]),
            members=chunks[0],
        )
        self.ipset_add(ipset_id, chunks[1:])

    def ipset_add(self, ipset_id: int, chunks: Iterable[list[dict[str, Any]]]) -> None:
        self.c.call_many(
            "calico_policy_ipset_member_add_del",
            (
                {"ipset_id": ipset_id, "is_add": True, "n_members": len(ch), "members": ch}
                for ch in chunks
            ),
        )

    def ipset_members_add(self, ipset_id: int, members: Sequence[Member]) -> None:
        self.ipset_add(ipset_id, self._chunks(members))

    def publish(self) -> int:
        return int(self.c.call("calico_policy_publish").values["generation"])
