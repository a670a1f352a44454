"""Common primitives: parse + hash a vector against the fixed-offset baseline."""

from __future__ import annotations

import pytest

from pycontrol._native import ffi, lib
from pycontrol.bench.common import traffic


@pytest.fixture(scope="module")
def vector():
    pkts = traffic(256)
    keep = [ffi.from_buffer(p) for p in pkts]
    return keep, ffi.new("const uint8_t *[]", keep), ffi.new("uint32_t[]", [len(p) for p in pkts])


def test_parse_vector_of_256(benchmark, vector):
    _, data, lens = vector
    benchmark.group = "common: 256-packet vector"
    benchmark(lib.cp_bench_parse, data, lens, 256, 100, 0)


def test_parse_and_hash_vector_of_256(benchmark, vector):
    _, data, lens = vector
    benchmark.group = "common: 256-packet vector"
    benchmark(lib.cp_bench_parse, data, lens, 256, 100, lib.CP_FH_5TUPLE)


def test_fixed_offsets_baseline_vector_of_256(benchmark, vector):
    _, data, lens = vector
    benchmark.group = "common: 256-packet vector"
    benchmark(lib.cp_bench_fixed_offsets, data, lens, 256, 100)
