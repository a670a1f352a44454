/* cp_mfc: the tree's first match equals a linear scan, on random boxes and keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_mfc.h"
#include "cp_test.h"

static uint32_t rnd_range_lo(unsigned long long *s, uint32_t *hi, uint32_t max)
{
  uint32_t k = (uint32_t)(cp_test_rand(s) % 4);
  uint32_t a = (uint32_t)(cp_test_rand(s) % ((uint64_t)max + 1));
  if (k == 0) { /* wildcard */
    *hi = max;
    return 0;
  }
  if (k == 1) { /* exact */
    *hi = a;
    return a;
  }
  uint32_t span = (uint32_t)(cp_test_rand(s) % (max / 8 + 1));
  *hi = a + span < a || a + span > max ? max : a + span;
  return a;
}

static void check_against_linear(uint32_t D, uint32_t n, uint32_t flags, unsigned long long seed)
{
  unsigned long long s = seed;
  cp_mfc_builder_t *b = cp_mfc_builder_create(D);
  cp_mfc_range_t *boxes = calloc((size_t)n * D, sizeof(*boxes));
  const uint32_t max = 255; /* a small space: plenty of overlap */
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t d = 0; d < D; d++)
      boxes[i * D + d].lo = rnd_range_lo(&s, &boxes[i * D + d].hi, max);
    CHECK_EQ(cp_mfc_builder_add(b, i, boxes + (size_t)i * D), 0);
  }
  cp_mfc_t *t = cp_mfc_build(b, flags);
  CHECK(t != NULL);
  enum { NK = 2000 };
  uint32_t *keys = calloc((size_t)NK * D, sizeof(uint32_t));
  int32_t res[NK];
  for (uint32_t k = 0; k < NK * D; k++)
    keys[k] = (uint32_t)(cp_test_rand(&s) % (max + 1));
  cp_mfc_classify_burst(t, keys, NK, res);
  for (uint32_t k = 0; k < NK; k++) {
    int32_t want = -1;
    for (uint32_t i = 0; i < n && want < 0; i++) {
      int in = 1;
      for (uint32_t d = 0; d < D; d++)
        in &= keys[k * D + d] >= boxes[i * D + d].lo && keys[k * D + d] <= boxes[i * D + d].hi;
      if (in)
        want = (int32_t)i;
    }
    CHECK_EQ(res[k], want);
  }
  free(keys);
  free(boxes);
  cp_mfc_free(t);
  cp_mfc_builder_destroy(b);
}

static void test_first_match_equals_linear_scan(void)
{
  check_against_linear(5, 300, 0, 1);
  check_against_linear(5, 300, CP_MFC_F_FIRST_MATCH_ONLY, 2);
  check_against_linear(11, 200, 0, 3);
  check_against_linear(2, 1000, CP_MFC_F_FIRST_MATCH_ONLY, 4);
}

/* Linear first match over boxes[0..n). */
static int32_t linear(const cp_mfc_range_t *boxes, uint32_t n, uint32_t D, const uint32_t *key)
{
  for (uint32_t i = 0; i < n; i++) {
    int in = 1;
    for (uint32_t d = 0; d < D && in; d++)
      in = key[d] >= boxes[i * D + d].lo && key[d] <= boxes[i * D + d].hi;
    if (in)
      return (int32_t)i;
  }
  return -1;
}

/* The single-key path the policy engine uses: leaf per tree, entries in order. */
static int32_t single_key(const cp_mfc_t *t, const uint32_t *key)
{
  uint32_t best = UINT32_MAX;
  for (uint32_t ti = 0; ti < t->n_trees; ti++) {
    const uint32_t *leaf = cp_mfc_leaf(&t->tree[ti], key);
    for (uint32_t k = 0; k < cp_mfc_leaf_count(leaf); k++)
      if (cp_mfc_leaf_match(leaf, k, key, t->n_dims)) {
        uint32_t p = cp_mfc_leaf_prio(leaf, k);
        best = p < best ? p : best;
        break;
      }
  }
  return best == UINT32_MAX ? -1 : (int32_t)best;
}

/* Prefix-shaped addresses over the whole 32-bit space (wildcards among them, so the
 * builder partitions and merges), port ranges, protocols; keys on and just outside every
 * box edge, 0 and UINT32_MAX included: multi-way thresholds at the extremes. With
 * `protos`, protocols are single values as in real lists (TCP, UDP, then fewer ICMP, and
 * wildcards): the builder's protocol classes and per-tree protocol hulls; keys carry
 * those protocols, others (47) and the box's own. */
static void check_edges(uint32_t n, uint32_t flags, unsigned long long seed, int protos)
{
  enum { D = 5, NK = 6000 };
  unsigned long long s = seed;
  cp_mfc_builder_t *b = cp_mfc_builder_create(D);
  cp_mfc_range_t *boxes = calloc((size_t)n * D, sizeof(*boxes));
  for (uint32_t i = 0; i < n; i++) {
    cp_mfc_range_t *bx = boxes + (size_t)i * D;
    for (uint32_t d = 0; d < 2; d++) {
      uint32_t len = (uint32_t)(cp_test_rand(&s) % 4) == 0 ? 0 : 8 + (uint32_t)(cp_test_rand(&s) % 25);
      uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
      uint32_t a = (uint32_t)cp_test_rand(&s);
      if (cp_test_rand(&s) % 8 == 0)
        a = cp_test_rand(&s) % 2 ? 0 : UINT32_MAX; /* boxes touching the extremes */
      bx[d].lo = a & mask;
      bx[d].hi = (a & mask) | ~mask;
    }
    for (uint32_t d = 2; d < 4; d++)
      bx[d].lo = rnd_range_lo(&s, &bx[d].hi, 65535);
    bx[4].lo = rnd_range_lo(&s, &bx[4].hi, 255);
    if (protos) {
      static const uint32_t pr[8] = {6, 6, 6, 6, 17, 17, 1, 256};
      uint32_t p = pr[cp_test_rand(&s) % 8];
      bx[4].lo = p == 256 ? 0 : p;
      bx[4].hi = p == 256 ? 255 : p;
    }
    CHECK_EQ(cp_mfc_builder_add(b, i, bx), 0);
  }
  cp_mfc_t *t = cp_mfc_build(b, flags);
  CHECK(t != NULL);
  CHECK(t->n_trees >= 1);
  uint32_t *keys = calloc((size_t)NK * D, sizeof(uint32_t));
  int32_t *res = calloc(NK, sizeof(int32_t));
  for (uint32_t k = 0; k < NK; k++) {
    const cp_mfc_range_t *bx = boxes + (size_t)(cp_test_rand(&s) % n) * D;
    for (uint32_t d = 0; d < D; d++) {
      uint32_t v;
      switch (cp_test_rand(&s) % 7) {
      case 0: v = bx[d].lo; break;
      case 1: v = bx[d].hi; break;
      case 2: v = bx[d].lo - 1; break;
      case 3: v = bx[d].hi + 1; break;
      case 4: v = 0; break;
      case 5: v = UINT32_MAX; break;
      default: v = bx[d].lo + (uint32_t)(cp_test_rand(&s) % ((uint64_t)bx[d].hi - bx[d].lo + 1));
      }
      keys[k * D + d] = v;
    }
    if (protos && cp_test_rand(&s) % 2) {
      static const uint32_t kp[4] = {6, 17, 1, 47};
      keys[k * D + 4] = kp[cp_test_rand(&s) % 4];
    }
  }
  if (n >= 2048)
    CHECK(t->n_trees >= 2); /* a head tree and partitions: keys walk the later trees */
  if (protos)
    CHECK(t->alt.n_nodes != 0 || n != 3000); /* seed 14's set has the second head of
                                                * other protocols (seed 15's builds none) */
  /* bursts of every length up to 64, then longer ones (several 64-key chunks, partial
   * last chunks) up to 256 */
  int32_t *res2 = calloc(NK, sizeof(int32_t));
  for (uint32_t k = 0, len = 1; k < NK; k += len, len = len % 64 + 1)
    cp_mfc_classify_burst(t, keys + (size_t)k * D, NK - k < len ? NK - k : len, res + k);
  for (uint32_t k = 0, len = 65; k < NK; k += len, len = len + 37 > 256 ? len + 37 - 192 : len + 37)
    cp_mfc_classify_burst(t, keys + (size_t)k * D, NK - k < len ? NK - k : len, res2 + k);
  for (uint32_t k = 0; k < NK; k++) {
    int32_t want = linear(boxes, n, D, keys + (size_t)k * D);
    CHECK_EQ(res[k], want);
    CHECK_EQ(res2[k], want);
    CHECK_EQ(single_key(t, keys + (size_t)k * D), want);
  }
  free(res2);
  free(res);
  free(keys);
  free(boxes);
  cp_mfc_free(t);
  cp_mfc_builder_destroy(b);
}

static void test_first_match_holds_on_box_edges_and_extremes(void)
{
  check_edges(300, 0, 11, 0);
  check_edges(3000, 0, 12, 0);
  check_edges(3000, CP_MFC_F_FIRST_MATCH_ONLY, 13, 0);
  /* protocol classes: levels, class trees and their hulls, the second head (policy7) */
  check_edges(3000, 0, 14, 1);
  check_edges(6000, CP_MFC_F_FIRST_MATCH_ONLY, 15, 1);
}

static void test_inverted_range_is_refused(void)
{
  cp_mfc_builder_t *b = cp_mfc_builder_create(2);
  cp_mfc_range_t box[2] = {{5, 4}, {0, 1}};
  CHECK_EQ(cp_mfc_builder_add(b, 0, box), -1);
  CHECK_EQ(cp_mfc_builder_count(b), 0);
  cp_mfc_builder_destroy(b);
}

static void test_empty_tree_matches_nothing(void)
{
  cp_mfc_builder_t *b = cp_mfc_builder_create(5);
  cp_mfc_t *t = cp_mfc_build(b, 0);
  uint32_t key[5] = {1, 2, 3, 4, 5};
  int32_t r = 7;
  cp_mfc_classify_burst(t, key, 1, &r);
  CHECK_EQ(r, -1);
  cp_mfc_free(t);
  cp_mfc_builder_destroy(b);
}

static void test_isa_selection(void)
{
  CHECK_EQ(cp_mfc_isa_select(NULL), 0);
  const char *best = cp_mfc_isa();
  CHECK(best != NULL);
  CHECK_EQ(cp_mfc_isa_select("no-such-isa"), -1);
  CHECK(strcmp(cp_mfc_isa(), best) == 0); /* a refused name changes nothing */
  CHECK_EQ(cp_mfc_isa_select(best), 0);
}

int main(void)
{
  /* every lookup this build and CPU have (cp_mfc_isa_select refuses the others) */
  static const char *const isas[] = {"build", "sse2", "avx2", "avx512"};
  RUN(test_isa_selection);
  for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
    if (cp_mfc_isa_select(isas[i]) != 0)
      continue;
    printf("lookup: %s\n", cp_mfc_isa());
    RUN(test_first_match_equals_linear_scan);
    RUN(test_first_match_holds_on_box_edges_and_extremes);
    RUN(test_empty_tree_matches_nothing);
  }
  CHECK_EQ(cp_mfc_isa_select(NULL), 0);
  RUN(test_inverted_range_is_refused);
  TEST_MAIN_END();
}
