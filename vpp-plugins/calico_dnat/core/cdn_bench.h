/* Timing loops for `pycontrol bench dnat`: they run in C so the figures carry no Python
 * overhead. Not used on any packet path. */
#ifndef CDN_BENCH_H
#define CDN_BENCH_H

#include <stdint.h>

#include "calico_dnat.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { CDN_BENCH_DNAT = 0, CDN_BENCH_BASELINE = 1, CDN_BENCH_OWNER = 2 };

/*
 * Feed `total` packets through worker 0 in bursts of 256. Packet k is `tmpl` (an IPv4
 * TCP/UDP packet) with the source address and port of flow f = (first + k * stride) mod
 * n_flows, or with stride 0 of flow f = P((first + k) mod n_flows) for a fixed shuffle P
 * of [0, n_flows) (worked out before the clock starts; 0 is returned when its
 * total * 4 bytes cannot be allocated): source 172.16.0.0 + f / 16 (clear of the drivers' 10.0.0.0/8 backends at any
 * flow count), port 10000 + f % 16. Every burst's buffers
 * are refilled from the template (both modes), so each pass sees the same packets.
 * CDN_BENCH_BASELINE parses and rewrites the destination with incremental checksum
 * updates (IPv4 header and L4) instead of calling the DNAT core; CDN_BENCH_OWNER only asks
 * cdn_flow_owner_burst which worker owns each packet (the handoff's cost). The DNAT
 * mode's clock is `now_ms` plus the milliseconds elapsed in this run, so the sweep between
 * bursts (paced by time) costs what it costs at this packet rate. Returns elapsed ns.
 */
uint64_t cdn_bench_run(cdn_ctx_t *ctx, const uint8_t *tmpl, uint32_t tmpl_len, uint32_t n_flows,
                       uint64_t first, uint64_t total, uint64_t stride, uint32_t mode,
                       uint32_t now_ms);

/* The same on `worker`; returns 0 when it is not one of the context's workers. Each worker's
 * packets go to its own table, so threads may run it on different workers at once: the
 * buffers are per thread. */
uint64_t cdn_bench_run_on(cdn_ctx_t *ctx, uint32_t worker, const uint8_t *tmpl,
                          uint32_t tmpl_len, uint32_t n_flows, uint64_t first, uint64_t total,
                          uint64_t stride, uint32_t mode, uint32_t now_ms);

/* Build a Maglev table for n backends (10.128.x.y:8080, weight 1) of size m, reps times;
 * returns the best build time in ns. */
uint64_t cdn_bench_maglev(uint32_t n, uint32_t m, uint32_t reps);

/* Reference for the memory system in the same run: ns per read of one random cache line
 * of a table of `bytes` (independent reads, 256 at a time with prefetch, as the burst
 * loop does). The established-flow path needs about three such lines per packet. */
uint64_t cdn_bench_random_lines(uint64_t bytes, uint64_t reads);

#ifdef __cplusplus
}
#endif
#endif
