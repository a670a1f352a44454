/* Timing loops for `pycontrol bench policy`: the loops run in C so the figures carry no
 * Python call overhead. Not used on any packet path. */
#ifndef CP_POLICY_BENCH_H
#define CP_POLICY_BENCH_H

#include <stdint.h>

#include "calico_policy.h"
#include "cp_mfc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Classify n keys (n_dims words each) `reps` times in bursts of `burst`; returns the
 * elapsed ns and leaves the results of the last pass in `results`. */
uint64_t cp_mfc_bench(const cp_mfc_t *t, const uint32_t *keys, uint32_t n, uint32_t reps,
                      uint32_t burst, int32_t *results);

/* Build a tree from n ClassBench-style 5-field rules (rules[i*10 ..]: sa lo, hi, da lo,
 * hi, sp lo, hi, dp lo, hi, proto lo, hi), first match by index. Returns NULL on error
 * and the build time in *build_ns. */
cp_mfc_t *cp_mfc_build_5tuple(const uint32_t *rules, uint32_t n, uint64_t *build_ns);

/* Classify n packets `reps` times in bursts of `burst` at the given endpoint/point;
 * returns elapsed ns; verdicts of the last pass in `verdict`. */
uint64_t cp_policy_bench(cp_policy_t *p, const cp_pkt_t *pkts, uint32_t n,
                         uint32_t endpoint, uint8_t point, uint32_t reps, uint32_t burst,
                         uint8_t *verdict);

/* Elapsed ns of cp_policy_build. */
uint64_t cp_policy_bench_build(cp_policy_t *p, int *rc);

#ifdef __cplusplus
}
#endif
#endif
