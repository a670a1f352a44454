#include "cdn_bench.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdn_internal.h"
#include "cdn_maglev.h"
#include "cp/bench.h"
#include "cp/csum.h"

#define VEC 256
#define BUF 128

static volatile uint32_t sink;

/* `tmpl` is the template zero-padded to BUF bytes: a copy of constant size (64 bytes, or
 * the whole buffer for longer templates) is a few vector moves, where a copy of `tl`
 * bytes is a call into the C library for every packet. */
static void fill(uint8_t *b, const uint8_t *tmpl, uint32_t tl, uint32_t f)
{
  if (tl <= 64)
    memcpy(b, tmpl, 64);
  else
    memcpy(b, tmpl, BUF);
  uint32_t src = 0xac100000u + f / 16;
  uint8_t a[4] = {(uint8_t)(src >> 24), (uint8_t)(src >> 16), (uint8_t)(src >> 8), (uint8_t)src};
  memcpy(b + 12, a, 4);
  uint16_t port = (uint16_t)(10000 + f % 16);
  uint32_t ihl = (uint32_t)(b[0] & 0xf) * 4;
  b[ihl] = (uint8_t)(port >> 8);
  b[ihl + 1] = (uint8_t)port;
}

/* A bijection of [0, n), for k < n: multiply / xorshift rounds (each one-to-one on the
 * `mask + 1` values, a power of two >= n), repeated while the value is not below n (cycle
 * walking: under two rounds on average). */
static uint32_t shuffled(uint64_t k, uint32_t n, uint64_t mask)
{
  uint64_t x = k;
  do {
    x = (x * 0x9e3779b97f4a7c15ull) & mask;
    x ^= x >> 7;
    x = (x * 0xbf58476d1ce4e5b9ull) & mask;
    x ^= x >> 11;
    x = (x * 0x94d049bb133111ebull) & mask;
    x ^= x >> 5;
  } while (x >= n);
  return (uint32_t)x;
}

/* The baseline: what any translator must do per packet (parse, rewrite the destination,
 * two incremental checksum updates), without a session table. */
static uint32_t baseline(uint8_t *const *data, const uint32_t *len, uint32_t n)
{
  uint32_t acc = 0;
  for (uint32_t i = 0; i < n; i++) {
    cp_pkt_t p;
    if (cp_pkt_parse(data[i], len[i], &p) != CP_PKT_OK)
      continue;
    uint8_t *d = data[i];
    uint32_t old, nw;
    memcpy(&old, d + 16, 4);
    nw = old ^ 0x01000000u;
    uint16_t c;
    memcpy(&c, d + 10, 2);
    c = cp_csum_update32(c, old, nw);
    memcpy(d + 10, &c, 2);
    uint8_t *l4c = d + p.l4_offset + (p.proto == CP_IPPROTO_TCP ? 16 : 6);
    memcpy(&c, l4c, 2);
    c = cp_csum_update32(c, old, nw);
    memcpy(l4c, &c, 2);
    memcpy(d + 16, &nw, 4);
    acc += p.dport;
  }
  return acc;
}

uint64_t cdn_bench_run(cdn_ctx_t *ctx, const uint8_t *tmpl, uint32_t tmpl_len, uint32_t n_flows,
                       uint64_t first, uint64_t total, uint64_t stride, uint32_t mode,
                       uint32_t now_ms)
{
  return cdn_bench_run_on(ctx, 0, tmpl, tmpl_len, n_flows, first, total, stride, mode, now_ms);
}

uint64_t cdn_bench_run_on(cdn_ctx_t *ctx, uint32_t worker, const uint8_t *tmpl,
                          uint32_t tmpl_len, uint32_t n_flows, uint64_t first, uint64_t total,
                          uint64_t stride, uint32_t mode, uint32_t now_ms)
{
  if (!tmpl || tmpl_len > BUF || !n_flows)
    return 0;
  if (mode != CDN_BENCH_BASELINE && (!ctx || worker >= ctx->cfg.n_workers))
    return 0; /* the baseline needs no context */
  static _Thread_local uint8_t bufs[VEC][BUF];
  uint8_t *data[VEC];
  uint32_t len[VEC];
  cdn_result_t res[VEC];
  for (uint32_t i = 0; i < VEC; i++) {
    data[i] = bufs[i];
    len[i] = tmpl_len;
  }
  uint8_t pad[BUF] = {0};
  memcpy(pad, tmpl, tmpl_len);
  /* stride 0: the flows of the pass in a shuffled order, worked out before the clock
   * starts and read in sequence */
  uint32_t *order = NULL;
  if (!stride) {
    if (total > SIZE_MAX / sizeof(*order) || !(order = malloc(total * sizeof(*order))))
      return 0;
    uint64_t mask = 1;
    while (mask < n_flows)
      mask <<= 1;
    mask -= 1;
    uint64_t k = first % n_flows;
    for (uint64_t i = 0; i < total; i++) {
      order[i] = shuffled(k, n_flows, mask);
      if (++k == n_flows)
        k = 0;
    }
  }
  uint32_t acc = 0;
  uint64_t t0 = cp_now_ns();
  /* flow of packet k: (first + k * stride) mod n_flows, stepped without a division */
  uint64_t f = first % n_flows, step = stride % n_flows;
  for (uint64_t k = 0; k < total; k += VEC) {
    uint32_t m = total - k < VEC ? (uint32_t)(total - k) : VEC;
    for (uint32_t i = 0; i < m; i++) {
      if (order) {
        fill(bufs[i], pad, tmpl_len, order[k + i]);
        continue;
      }
      fill(bufs[i], pad, tmpl_len, (uint32_t)f);
      f += step;
      if (f >= n_flows)
        f -= n_flows;
    }
    if (mode == CDN_BENCH_BASELINE) {
      acc += baseline(data, len, m);
    } else if (mode == CDN_BENCH_OWNER) {
      uint16_t own[VEC];
      cdn_flow_owner_burst(ctx, worker, data, len, m, own);
      for (uint32_t i = 0; i < m; i++)
        acc += own[i];
    } else {
      /* the clock runs: the sweep between bursts is paid at its real pace */
      uint32_t now = now_ms + (uint32_t)((cp_now_ns() - t0) / 1000000u);
      acc += cdn_process_burst(ctx, worker, data, len, NULL, m, now, res);
    }
  }
  uint64_t t1 = cp_now_ns();
  free(order);
  sink = acc;
  return t1 - t0;
}

uint64_t cdn_bench_maglev(uint32_t n, uint32_t m, uint32_t reps)
{
  cp_addr_t *addr = calloc(n, sizeof(*addr));
  uint16_t *port = calloc(n, sizeof(*port));
  uint16_t *wt = calloc(n, sizeof(*wt));
  uint16_t *table = calloc(m, sizeof(*table));
  uint64_t best = 0;
  if (addr && port && wt && table) {
    for (uint32_t i = 0; i < n; i++) {
      addr[i].b[0] = 10;
      addr[i].b[1] = 128;
      addr[i].b[2] = (uint8_t)(i >> 8);
      addr[i].b[3] = (uint8_t)i;
      port[i] = 8080;
      wt[i] = 1;
    }
    for (uint32_t r = 0; r < reps; r++) {
      uint64_t t0 = cp_now_ns();
      int rv = cdn_maglev_build(addr, port, wt, n, m, 0, table);
      uint64_t dt = cp_now_ns() - t0;
      if (rv < 0) {
        best = 0;
        break;
      }
      if (!best || dt < best)
        best = dt;
    }
  }
  free(addr);
  free(port);
  free(wt);
  free(table);
  return best;
}

uint64_t cdn_bench_random_lines(uint64_t bytes, uint64_t reads)
{
  uint64_t lines = bytes / 64;
  if (!lines || !reads)
    return 0;
  uint8_t *t = malloc(lines * 64);
  if (!t)
    return 0;
  memset(t, 1, lines * 64);
  uint32_t acc = 0;
  uint64_t x = 88172645463325252ULL;
  uint64_t idx[VEC];
  uint64_t t0 = cp_now_ns();
  for (uint64_t k = 0; k < reads; k += VEC) {
    for (uint32_t i = 0; i < VEC; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      idx[i] = (x % lines) * 64;
      __builtin_prefetch(t + idx[i]);
    }
    for (uint32_t i = 0; i < VEC; i++)
      acc += t[idx[i]];
  }
  uint64_t dt = cp_now_ns() - t0;
  sink = acc;
  free(t);
  return dt;
}
