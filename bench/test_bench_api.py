"""API messages: encoding with the generated classes against vpp_papi's serializer, and
programming through the in-process C handlers (encode + one batched call + checked
replies)."""

from __future__ import annotations

import ipaddress

import pytest

from pycontrol.bench.api import _encoders, workload
from pycontrol.vppapi import registry
from pycontrol.vppapi.client import PluginClient
from pycontrol.vppapi.plugins import Backend, DnatApi, Translation
from pycontrol.vppapi.transport import DNAT, InProcessTransport


@pytest.fixture(scope="module")
def mix():
    jobs = workload(200)
    ours, papi = _encoders()
    return jobs, ours, papi


def _encode_all(enc, jobs):
    for _, name, v in jobs:
        enc[name](v)


def test_encode_mix_ours(benchmark, mix):
    jobs, ours, _ = mix
    benchmark.group = "api: encode 200 messages (mix)"
    benchmark(_encode_all, ours, jobs)


def test_encode_mix_vpp_papi(benchmark, mix):
    jobs, _, papi = mix
    benchmark.group = "api: encode 200 messages (mix)"
    benchmark(_encode_all, papi, jobs)


def test_program_500_translations_in_process(benchmark):
    table = registry.table("calico_dnat")
    ts = [
        Translation(
            ipaddress.IPv4Address(0x0A600000 + i),
            80,
            6,
            tuple(Backend(ipaddress.IPv4Address(0x0A010000 + i * 16 + j), 8080) for j in range(10)),
        )
        for i in range(500)
    ]

    def program():
        with InProcessTransport(DNAT, table) as t:
            DnatApi(PluginClient(t, table)).translations_update(ts)

    benchmark.group = "api: in-process programming"
    benchmark.pedantic(program, rounds=3, iterations=1)
