"""VPP's ``show runtime``, parsed: clocks per packet of each node, and of a whole path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeRuntime:
    name: str
    calls: int
    vectors: int
    clocks: float  # per vector element (packet)

    @property
    def total_clocks(self) -> float:
        return self.clocks * self.vectors


def parse_runtime(text: str) -> dict[str, NodeRuntime]:
    """Nodes that processed packets, summed over threads."""
    out: dict[str, NodeRuntime] = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) != 7 or f[0] == "Name":
            continue
        try:
            calls, vectors, clocks = int(f[2]), int(f[3]), float(f[5])
        except ValueError:
            continue
        if vectors == 0:
            continue
        prev = out.get(f[0])
        if prev:
            tot = prev.total_clocks + clocks * vectors
            vectors += prev.vectors
            calls += prev.calls
            clocks = tot / vectors
        out[f[0]] = NodeRuntime(f[0], calls, vectors, clocks)
    return out


def path_clocks(nodes: dict[str, NodeRuntime], packets: int, skip: tuple[str, ...]) -> float:
    """Clocks per offered packet summed over every node but the skipped ones (the packet
    generator itself): nodes that saw fewer packets (drops) weigh accordingly."""
    return sum(n.total_clocks for n in nodes.values() if n.name not in skip) / packets
