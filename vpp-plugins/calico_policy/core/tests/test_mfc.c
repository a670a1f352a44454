/* cp_mfc: the tree's first match equals a linear scan, on random boxes and keys. */
#include <stdlib.h>

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

int main(void)
{
  RUN(test_first_match_equals_linear_scan);
  RUN(test_inverted_range_is_refused);
  RUN(test_empty_tree_matches_nothing);
  TEST_MAIN_END();
}
