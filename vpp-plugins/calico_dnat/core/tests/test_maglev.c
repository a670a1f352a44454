/* Weighted Maglev: every entry filled, balance, weights, minimal disruption, bounds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.h"
#include "cdn_maglev.h"
#include "cp_test.h"

static void mk(uint32_t n, cp_addr_t *addr, uint16_t *port, uint16_t *wt, uint16_t w)
{
  for (uint32_t i = 0; i < n; i++) {
    memset(&addr[i], 0, sizeof(addr[i]));
    addr[i].b[0] = 10;
    addr[i].b[1] = 1;
    addr[i].b[2] = (uint8_t)(i >> 8);
    addr[i].b[3] = (uint8_t)i;
    port[i] = 80;
    wt[i] = w;
  }
}

static void test_size_is_a_prime_of_the_ladder_at_least_100_per_backend(void)
{
  CHECK_EQ(cdn_maglev_size_for(0), CDN_MAGLEV_M_MIN);
  CHECK_EQ(cdn_maglev_size_for(1), 409);
  CHECK_EQ(cdn_maglev_size_for(4), 409);
  CHECK_EQ(cdn_maglev_size_for(5), 821);   /* 818 -> next prime */
  CHECK_EQ(cdn_maglev_size_for(10), 1637); /* 1636 -> next prime */
  CHECK_EQ(cdn_maglev_size_for(100), 13093);
  CHECK_EQ(cdn_maglev_size_for(1000), CDN_MAGLEV_M_MAX);
  CHECK_EQ(cdn_maglev_size_for(4096), CDN_MAGLEV_M_MAX);
  CHECK_EQ(cdn_next_prime(65536), 65537);
  for (uint32_t n = 1; n <= 655; n++) {
    uint32_t m = cdn_maglev_size_for(n);
    CHECK(m >= 100 * n);
    CHECK(m == CDN_MAGLEV_M_MIN || m < 2 * 100 * n + 100); /* within one ladder step */
  }
  /* between two steps the size does not move: removing a backend keeps M */
  CHECK_EQ(cdn_maglev_size_for(99), cdn_maglev_size_for(100));
  CHECK_EQ(cdn_maglev_size_for(66), cdn_maglev_size_for(130));
}

/* entries per backend for a table of m */
static void count(const uint16_t *t, uint32_t m, uint32_t *cnt, uint32_t n)
{
  memset(cnt, 0, sizeof(*cnt) * n);
  for (uint32_t i = 0; i < m; i++) {
    CHECK(t[i] < n);
    cnt[t[i] % n]++;
  }
}

static void test_equal_weights_no_backend_above_its_quota(void)
{
  for (uint32_t n = 1; n <= 300; n += 37) {
    cp_addr_t *addr = malloc(sizeof(*addr) * n);
    uint16_t *port = malloc(sizeof(*port) * n), *wt = malloc(sizeof(*wt) * n);
    uint32_t *cnt = malloc(sizeof(*cnt) * n);
    mk(n, addr, port, wt, 1);
    uint32_t m = cdn_maglev_size_for(n);
    uint16_t *t = malloc(sizeof(uint16_t) * m);
    CHECK_EQ(cdn_maglev_build(addr, port, wt, n, m, 1, t), 0);
    count(t, m, cnt, n);
    uint32_t quota = (uint32_t)((uint64_t)m * (1000 + CDN_MAGLEV_SLACK_PERMILLE) / (1000 * n));
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
      CHECK(cnt[i] <= (quota > (m + n - 1) / n ? quota : (m + n - 1) / n));
      CHECK(cnt[i] > 0);
      sum += cnt[i];
    }
    CHECK_EQ(sum, m);
    free(addr);
    free(port);
    free(wt);
    free(cnt);
    free(t);
  }
}

static void test_weights_share_entries_proportionally(void)
{
  enum { N = 4 };
  cp_addr_t addr[N];
  uint16_t port[N], wt[N];
  uint32_t cnt[N];
  mk(N, addr, port, wt, 1);
  wt[0] = 1;
  wt[1] = 2;
  wt[2] = 3;
  wt[3] = 0;
  uint32_t m = 10007;
  uint16_t *t = malloc(sizeof(uint16_t) * m);
  CHECK_EQ(cdn_maglev_build(addr, port, wt, N, m, 1, t), 0);
  count(t, m, cnt, N);
  CHECK_EQ(cnt[3], 0);
  /* shares 1/6, 2/6, 3/6: none above its share + the slack, none more than 5 % of the
   * table below it */
  static const double share[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
  for (int i = 0; i < 3; i++) {
    CHECK(cnt[i] <= share[i] * m * (1000 + CDN_MAGLEV_SLACK_PERMILLE) / 1000.0 + 1);
    CHECK(cnt[i] >= share[i] * m - 0.05 * m);
  }
  free(t);
}

/* the moved share over the ideal 1/N when backend `gone` of n is removed */
static double moved_ratio(uint32_t n, uint32_t gone, uint64_t seed)
{
  cp_addr_t *addr = malloc(sizeof(*addr) * n);
  uint16_t *port = malloc(sizeof(*port) * n), *wt = malloc(sizeof(*wt) * n);
  mk(n, addr, port, wt, 1);
  uint32_t m = cdn_maglev_size_for(n);
  CHECK_EQ(cdn_maglev_size_for(n - 1), m);
  uint16_t *a = malloc(sizeof(uint16_t) * m), *b = malloc(sizeof(uint16_t) * m);
  CHECK_EQ(cdn_maglev_build(addr, port, wt, n, m, seed, a), 0);
  /* remove the backend (shift the arrays: indexes change, identities do not) */
  memmove(&addr[gone], &addr[gone + 1], sizeof(addr[0]) * (n - gone - 1));
  memmove(&port[gone], &port[gone + 1], sizeof(port[0]) * (n - gone - 1));
  CHECK_EQ(cdn_maglev_build(addr, port, wt, n - 1, m, seed, b), 0);
  uint32_t moved = 0, lost = 0;
  for (uint32_t i = 0; i < m; i++) {
    uint32_t before = a[i], after = b[i] >= gone ? b[i] + 1u : b[i];
    moved += before != after;
    lost += before == gone;
    CHECK(after != gone);
  }
  CHECK(moved >= lost); /* every entry of the removed backend moved */
  free(addr);
  free(port);
  free(wt);
  free(a);
  free(b);
  return (double)moved / m * n;
}

static void test_removing_a_backend_moves_little_else(void)
{
  /* over N = 20, 27, ..., 195 (3 removals each) the mean is 1.17x the ideal and no N
   * passes 1.35x (docs/dnat.md); the paper's fill measured 2.4x at N = 100 */
  double sum = 0, worst = 0;
  uint32_t k = 0;
  for (uint32_t n = 20; n < 200; n += 7, k++) {
    double r = 0;
    for (uint32_t g = 0; g < 3; g++)
      r += moved_ratio(n, (g * 7919) % n, 0) / 3;
    sum += r;
    worst = r > worst ? r : worst;
  }
  CHECK(sum / k <= 1.25);
  CHECK(sum / k >= 0.95);
  CHECK(worst <= 1.6);
  double small = 0;
  for (uint32_t g = 0; g < 10; g++)
    small += moved_ratio(10, g, 7);
  CHECK(small / 10 <= 1.15);
}

static void test_bad_input_is_rejected(void)
{
  cp_addr_t addr[2];
  uint16_t port[2], wt[2] = {0, 0};
  mk(2, addr, port, wt, 0);
  uint16_t t[101];
  CHECK_EQ(cdn_maglev_build(addr, port, wt, 2, 101, 0, t), -EINVAL); /* all weights 0 */
  wt[0] = 1;
  CHECK_EQ(cdn_maglev_build(addr, port, wt, 2, 100, 0, t), -EINVAL); /* not prime */
  CHECK_EQ(cdn_maglev_build(addr, port, wt, 0, 101, 0, t), -EINVAL);
  CHECK_EQ(cdn_maglev_build(addr, port, wt, 2, 101, 0, t), 0);
}

int main(void)
{
  RUN(test_size_is_a_prime_of_the_ladder_at_least_100_per_backend);
  RUN(test_equal_weights_no_backend_above_its_quota);
  RUN(test_weights_share_entries_proportionally);
  RUN(test_removing_a_backend_moves_little_else);
  RUN(test_bad_input_is_rejected);
  TEST_MAIN_END();
}
