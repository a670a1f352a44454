#include "cp_policy_bench.h"

#include <stdlib.h>

#include "cp/bench.h"

uint64_t cp_mfc_bench(const cp_mfc_t *t, const uint32_t *keys, uint32_t n, uint32_t reps,
                      uint32_t burst, int32_t *results)
{
  if (burst == 0 || burst > CP_POLICY_BURST)
    burst = 64;
  uint64_t t0 = cp_now_ns();
  for (uint32_t r = 0; r < reps; r++)
    for (uint32_t i = 0; i < n; i += burst) {
      uint32_t m = n - i < burst ? n - i : burst;
      cp_mfc_classify_burst(t, keys + (size_t)i * t->n_dims, m, results + i);
    }
  return cp_now_ns() - t0;
}

cp_mfc_t *cp_mfc_build_5tuple(const uint32_t *rules, uint32_t n, uint64_t *build_ns)
{
  uint64_t t0 = cp_now_ns();
  cp_mfc_builder_t *b = cp_mfc_builder_create(5);
  if (!b)
    return NULL;
  for (uint32_t i = 0; i < n; i++) {
    cp_mfc_range_t box[5];
    for (uint32_t d = 0; d < 5; d++) {
      box[d].lo = rules[i * 10 + 2 * d];
      box[d].hi = rules[i * 10 + 2 * d + 1];
    }
    if (cp_mfc_builder_add(b, i, box) != 0) {
      cp_mfc_builder_destroy(b);
      return NULL;
    }
  }
  cp_mfc_t *t = cp_mfc_build(b, CP_MFC_F_FIRST_MATCH_ONLY);
  cp_mfc_builder_destroy(b);
  *build_ns = cp_now_ns() - t0;
  return t;
}

uint64_t cp_policy_bench(cp_policy_t *p, const cp_pkt_t *pkts, uint32_t n,
                         uint32_t endpoint, uint8_t point, uint32_t reps, uint32_t burst,
                         uint8_t *verdict)
{
  const cp_pkt_t *ptrs[CP_POLICY_BURST];
  uint32_t eps[CP_POLICY_BURST];
  uint8_t pts[CP_POLICY_BURST];
  if (burst == 0 || burst > CP_POLICY_BURST)
    burst = 64;
  for (uint32_t k = 0; k < burst; k++) {
    eps[k] = endpoint;
    pts[k] = point;
  }
  uint64_t t0 = cp_now_ns();
  for (uint32_t r = 0; r < reps; r++)
    for (uint32_t i = 0; i < n; i += burst) {
      uint32_t m = n - i < burst ? n - i : burst;
      for (uint32_t k = 0; k < m; k++)
        ptrs[k] = &pkts[i + k];
      cp_policy_classify_burst(p, 0, ptrs, eps, pts, m, verdict + i, NULL);
    }
  return cp_now_ns() - t0;
}

uint64_t cp_policy_bench_build(cp_policy_t *p, int *rc)
{
  uint64_t t0 = cp_now_ns();
  *rc = cp_policy_build(p);
  return cp_now_ns() - t0;
}
