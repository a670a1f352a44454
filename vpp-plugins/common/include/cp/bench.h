/* Timing loops for the benchmarks: the loops run in C so that the figures carry no
 * Python call overhead. Not used on any packet path. */
#ifndef CP_BENCH_H
#define CP_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint64_t cp_now_ns(void);

/* Parse n packets `reps` times in vectors of 256 (and hash them when hash_fields != 0).
 * Returns elapsed ns. */
uint64_t cp_bench_parse(const uint8_t *const *data, const uint32_t *len, uint32_t n,
                        uint32_t reps, uint32_t hash_fields);

/* Baseline: read the 5-tuple at fixed IPv4 offsets with no validation at all. */
uint64_t cp_bench_fixed_offsets(const uint8_t *const *data, const uint32_t *len, uint32_t n,
                                uint32_t reps);

/* Rewrite the destination address (4 bytes at offset 16) and fix the IPv4 header
 * checksum, incrementally (incremental != 0) or by recomputation. Returns elapsed ns. */
uint64_t cp_bench_rewrite_csum(uint8_t *const *data, uint32_t n, uint32_t reps,
                               int incremental);

#ifdef __cplusplus
}
#endif
#endif
