#include "cp/bench.h"

#include <string.h>
#include <time.h>

#include "cp/csum.h"
#include "cp/flowhash.h"
#include "cp/pkt.h"

#define VEC 256

uint64_t cp_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile uint32_t sink;

uint64_t cp_bench_parse(const uint8_t *const *data, const uint32_t *len, uint32_t n,
                        uint32_t reps, uint32_t hash_fields)
{
  cp_pkt_t views[VEC];
  uint32_t hashes[VEC];
  uint32_t acc = 0;
  uint64_t t0 = cp_now_ns();
  for (uint32_t r = 0; r < reps; r++)
    for (uint32_t i = 0; i < n; i += VEC) {
      uint32_t m = n - i < VEC ? n - i : VEC;
      acc += cp_pkt_parse_burst(data + i, len + i, m, views);
      if (hash_fields) {
        for (uint32_t k = 0; k < m; k++)
          hashes[k] = cp_flow_hash(&views[k], hash_fields, 0);
        acc += hashes[m - 1];
      }
    }
  uint64_t t1 = cp_now_ns();
  sink = acc;
  return t1 - t0;
}

uint64_t cp_bench_fixed_offsets(const uint8_t *const *data, const uint32_t *len, uint32_t n,
                                uint32_t reps)
{
  uint32_t acc = 0;
  uint64_t t0 = cp_now_ns();
  for (uint32_t r = 0; r < reps; r++)
    for (uint32_t i = 0; i < n; i++) {
      const uint8_t *d = data[i];
      uint32_t a, b, p;
      if (len[i] < 24)
        continue;
      memcpy(&a, d + 12, 4);
      memcpy(&b, d + 16, 4);
      memcpy(&p, d + 20, 4);
      acc += a ^ b ^ p ^ d[9];
    }
  uint64_t t1 = cp_now_ns();
  sink = acc;
  return t1 - t0;
}

uint64_t cp_bench_rewrite_csum(uint8_t *const *data, uint32_t n, uint32_t reps, int incremental)
{
  uint64_t t0 = cp_now_ns();
  for (uint32_t r = 0; r < reps; r++)
    for (uint32_t i = 0; i < n; i++) {
      uint8_t *ip = data[i];
      uint32_t old, nw;
      memcpy(&old, ip + 16, 4);
      nw = old ^ (r + 1);
      memcpy(ip + 16, &nw, 4);
      uint16_t c;
      if (incremental) {
        memcpy(&c, ip + 10, 2);
        c = cp_csum_update32(c, old, nw);
      } else {
        c = cp_ip4_header_csum(ip, (uint32_t)(ip[0] & 0xf) * 4);
      }
      memcpy(ip + 10, &c, 2);
    }
  return cp_now_ns() - t0;
}
