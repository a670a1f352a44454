"""pytest-benchmark suites. Run: pytest bench (CI runs them with --benchmark-disable to
check that they still work; figures come from real runs, see docs/benchmarks.md)."""
