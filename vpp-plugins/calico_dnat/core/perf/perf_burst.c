/*
 * Profiling driver for the calico_dnat burst path (not part of the library or the
 * extension): the C alone, without Python, so callgrind/cachegrind can count instructions
 * and simulated cache misses per packet deterministically on a shared, noisy machine.
 *
 *   perf_burst [flows] [packets] [rounds] [stride]   (defaults 1048576, flows, 3, 0)
 *
 * Sets up one ClusterIP (10.96.0.100:80/TCP, 10 backends) and the same packets as
 * `pycontrol bench dnat` (cdn_bench_run): a new-flow pass that grows the table to `flows`
 * sessions, then `packets` packets of established flows visited in an order unrelated to
 * their creation (stride 0: a shuffle of the flows, as the benchmark does; otherwise flow
 * k * stride mod flows, and stride 1 visits them in creation order, so records come
 * sequentially: docs/dnat.md "Fourth pass"), and the parse + checksum baseline. Prints ns/packet (best of `rounds`).
 * Under valgrind (--tool=callgrind --instr-atstart=no) only the measured passes are
 * instrumented, each dumped as its own part: "new", "established", "baseline".
 * Exit status 1 when a pass does not do what it should (every flow must get its session,
 * every established packet must be rewritten).
 */
#include <stdio.h>
#include <stdlib.h>

#include "calico_dnat.h"
#include "cdn_bench.h"
#include "../tests/pktgen.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CG 1
#endif
#endif
#ifndef HAVE_CG
#define RUNNING_ON_VALGRIND 0
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s)
#endif


static uint64_t counter(cdn_ctx_t *ctx, uint32_t c)
{
  uint64_t cnt[CDN_CNT_N];
  cdn_counters_get(ctx, 0, cnt);
  return cnt[c];
}

int main(int argc, char **argv)
{
  uint32_t flows = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 1u << 20;
  uint64_t packets = argc > 2 ? strtoull(argv[2], NULL, 0) : flows;
  uint32_t rounds = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 3;
  uint64_t stride = argc > 4 ? strtoull(argv[4], NULL, 0) : 0;
  if (!flows || !packets || !rounds)
    return 2;
  int vg = RUNNING_ON_VALGRIND ? 1 : 0;
  if (vg)
    rounds = 1;
  cdn_config_t cfg = {0};
  cfg.n_workers = 1;
  cfg.max_sessions = flows + flows / 8;
  int err = 0;
  cdn_ctx_t *ctx = cdn_create(&cfg, &err);
  if (!ctx) {
    fprintf(stderr, "cdn_create: %d\n", err);
    return 2;
  }
  cdn_backend_t be[10];
  memset(be, 0, sizeof(be));
  for (uint32_t i = 0; i < 10; i++) {
    be[i].addr = v4(0x0a010000u + i + 1);
    be[i].port = 8080;
    be[i].weight = 1;
    be[i].af = 4;
  }
  cdn_translation_t t;
  memset(&t, 0, sizeof(t));
  t.vip = v4(0x0a600064u);
  t.port = 80;
  t.proto = CP_IPPROTO_TCP;
  t.af = 4;
  t.n_backends = 10;
  t.backends = be;
  uint32_t id;
  if (cdn_translation_update(ctx, &t, &id) < 0)
    return 2;
  uint8_t tmpl[64];
  uint32_t tl = mkpkt(tmpl, 4, CP_IPPROTO_TCP, v4(0x0a000001u), v4(0x0a600064u), 1, 80, 0x10);
  tl -= 4; /* 40 bytes, no payload, as the Python benchmark's template */
  tmpl[3] = (uint8_t)tl;
  tmpl[10] = tmpl[11] = 0;
  uint16_t c = cp_ip4_header_csum(tmpl, 20);
  memcpy(tmpl + 10, &c, 2);

  int bad = 0;
  uint64_t best_new = 0, best_est = 0, best_base = 0;
  for (uint32_t r = 0; r < rounds; r++) {
    cdn_sessions_flush(ctx, 0);
    if (vg) {
      CALLGRIND_START_INSTRUMENTATION;
      CALLGRIND_ZERO_STATS;
    }
    uint64_t dt = cdn_bench_run(ctx, tmpl, tl, flows, 0, flows, 1, CDN_BENCH_DNAT, 0);
    if (vg) {
      CALLGRIND_DUMP_STATS_AT("new");
      CALLGRIND_STOP_INSTRUMENTATION;
    }
    if (!best_new || dt < best_new)
      best_new = dt;
    if (cdn_sessions_count(ctx, 0) != flows) {
      fprintf(stderr, "new pass: %u sessions, want %u\n", cdn_sessions_count(ctx, 0), flows);
      bad = 1;
    }
  }
  for (uint32_t r = 0; r < rounds; r++) {
    uint64_t before = counter(ctx, CDN_CNT_REWRITTEN);
    uint64_t created = counter(ctx, CDN_CNT_SESSIONS_CREATED);
    if (vg) {
      CALLGRIND_START_INSTRUMENTATION;
      CALLGRIND_ZERO_STATS;
    }
    uint64_t dt = cdn_bench_run(ctx, tmpl, tl, flows, 0, packets, stride, CDN_BENCH_DNAT, 0);
    if (vg) {
      CALLGRIND_DUMP_STATS_AT("established");
      CALLGRIND_STOP_INSTRUMENTATION;
    }
    if (!best_est || dt < best_est)
      best_est = dt;
    if (counter(ctx, CDN_CNT_REWRITTEN) - before != packets ||
        counter(ctx, CDN_CNT_SESSIONS_CREATED) != created) {
      fprintf(stderr, "established pass: not every packet hit its session\n");
      bad = 1;
    }
  }
  for (uint32_t r = 0; r < rounds; r++) {
    if (vg) {
      CALLGRIND_START_INSTRUMENTATION;
      CALLGRIND_ZERO_STATS;
    }
    uint64_t dt =
        cdn_bench_run(ctx, tmpl, tl, flows, 0, packets, 0, CDN_BENCH_BASELINE, 0);
    if (vg) {
      CALLGRIND_DUMP_STATS_AT("baseline");
      CALLGRIND_STOP_INSTRUMENTATION;
    }
    if (!best_base || dt < best_base)
      best_base = dt;
  }
  printf("flows %u packets %llu rounds %u\n", flows, (unsigned long long)packets, rounds);
  printf("new_flow_ns_per_packet %.1f\n", (double)best_new / flows);
  printf("established_ns_per_packet %.1f\n", (double)best_est / (double)packets);
  printf("baseline_ns_per_packet %.1f\n", (double)best_base / (double)packets);
  cdn_destroy(ctx);
  return bad;
}
