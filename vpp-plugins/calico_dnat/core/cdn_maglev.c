/* Weighted Maglev with bounded loads (see cdn_maglev.h). Runs on the control thread only. */
#include "cdn_maglev.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.h"
#include "cp/flowhash.h"

/* Entries a walk examines per turn: time order is kept in blocks of this many ranks,
 * which keeps the loop tight (1000 backends, M = 65537: 2.0 ms at 1, 1.25 ms at 4) and
 * moves the disruption figures by less than their trial-to-trial spread. */
#define CDN_MAGLEV_BLOCK 4

static int is_prime(uint32_t v)
{
  if (v < 2)
    return 0;
  if (v % 2 == 0)
    return v == 2;
  for (uint32_t d = 3; d * d <= v; d += 2)
    if (v % d == 0)
      return 0;
  return 1;
}

uint32_t cdn_next_prime(uint32_t v)
{
  while (!is_prime(v))
    v++;
  return v;
}

/* The ladder CDN_MAGLEV_M_MIN * 2^k: M only changes when n crosses a step, so adding or
 * removing a backend between steps keeps M and, with it, every backend's permutation. */
uint32_t cdn_maglev_size_for(uint32_t n_backends)
{
  uint64_t want = (uint64_t)n_backends * 100u;
  uint64_t step = CDN_MAGLEV_M_MIN;
  while (step < want)
    step *= 2;
  if (step >= CDN_MAGLEV_M_MAX)
    return CDN_MAGLEV_M_MAX;
  return cdn_next_prime((uint32_t)step);
}

typedef struct {
  uint32_t pos;   /* entry at this backend's next rank */
  uint32_t skip;  /* 1..m-1 */
  uint32_t off;   /* entry at rank 0 */
  uint32_t inv;   /* skip^-1 mod m: rank of entry e is (e - off) * inv mod m */
  uint32_t cnt;   /* entries claimed */
  uint32_t quota; /* most entries this backend may claim */
  uint32_t seen;  /* ranks examined (unequal weights) */
  double left;    /* exp(-time * w / mean w): the share of ranks not yet examined */
  double decay;   /* `left` is multiplied by this each turn */
} walk_t;

/* Modular inverse of a (0 < a < m, m prime) by the extended Euclidean algorithm. */
static uint32_t inv_mod(uint32_t a, uint32_t m)
{
  int64_t t = 0, nt = 1, r = m, nr = a;
  while (nr) {
    int64_t q = r / nr, x;
    x = t - q * nt;
    t = nt;
    nt = x;
    x = r - q * nr;
    r = nr;
    nr = x;
  }
  return (uint32_t)(t < 0 ? t + m : t);
}

/*
 * Every (entry, backend) pair has a time: when the backend's walk reaches the entry (its
 * rank in the backend's permutation times the average weight over the backend's weight).
 * Entries go to backends in time order, each backend stopping at its quota. First turns in
 * which every backend under quota examines its next CDN_MAGLEV_BLOCK entries, about
 * (m / n) * log2(n) ranks in all; then, for the few entries no walk has reached, the
 * earliest time computed from the entry's side (rank = (e - off) * skip^-1 mod m).
 */
int cdn_maglev_build(const cp_addr_t *addr, const uint16_t *port, const uint16_t *weight,
                     uint32_t n, uint32_t m, uint64_t seed, uint16_t *table)
{
  if (m < 2 || m > CDN_MAGLEV_M_MAX || n == 0 || n > m || n > 65535 || !is_prime(m))
    return -EINVAL;
  uint64_t wsum = 0;
  uint32_t n_live = 0, equal = 1;
  uint16_t w_first = 0;
  for (uint32_t i = 0; i < n; i++) {
    wsum += weight[i];
    n_live += weight[i] != 0;
    if (weight[i] && !w_first)
      w_first = weight[i];
    equal &= !weight[i] || weight[i] == w_first;
  }
  if (!n_live)
    return -EINVAL;
  double wmean = (double)wsum / n_live;
  walk_t *w = malloc(sizeof(*w) * n);
  uint64_t *used = calloc((m + 63) / 64, sizeof(uint64_t));
  if (!w || !used) {
    free(w);
    free(used);
    return -ENOMEM;
  }
  static const cp_addr_t zero;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h1 = cp_flow_hash_tuple(&addr[i], &zero, port[i], 0, 0,
                                     CP_FH_SRC_ADDR | CP_FH_SRC_PORT, seed ^ 0x6d61676c65763031ULL);
    uint32_t h2 = cp_flow_hash_tuple(&addr[i], &zero, port[i], 0, 0,
                                     CP_FH_SRC_ADDR | CP_FH_SRC_PORT, seed ^ 0x6d61676c65763032ULL);
    w[i].off = w[i].pos = h1 % m;
    w[i].skip = h2 % (m - 1) + 1;
    w[i].inv = inv_mod(w[i].skip, m);
    w[i].cnt = 0;
    /* unequal weights: the walk of weight w has examined m (1 - exp(-t w / mean w)) ranks
     * at time t, so that the first walk to reach an entry is backend i with probability
     * w_i / sum w (exponential clocks, as in weighted rendezvous hashing); with equal
     * weights every walk examines CDN_MAGLEV_BLOCK ranks a turn, the same order */
    w[i].seen = 0;
    w[i].left = 1.0;
    w[i].decay = exp(-(double)weight[i] / wmean * CDN_MAGLEV_BLOCK / m);
    /* quota: the fair share (rounded up) plus CDN_MAGLEV_SLACK_PERMILLE, rounded down */
    uint64_t fair = (uint64_t)m * weight[i];
    uint64_t lo = (fair + wsum - 1) / wsum;
    uint64_t hi = fair * (1000u + CDN_MAGLEV_SLACK_PERMILLE) / (1000u * wsum);
    w[i].quota = (uint32_t)(hi > lo ? hi : lo);
  }

  /* the live backends still under quota, in index order (compacted as they fill) */
  uint32_t *act = malloc(sizeof(*act) * n_live);
  if (!act) {
    free(w);
    free(used);
    return -ENOMEM;
  }
  uint32_t n_act = 0;
  for (uint32_t i = 0; i < n; i++)
    if (weight[i])
      act[n_act++] = i;
  uint32_t rounds = 0;
  for (uint32_t v = n_live; v; v >>= 1)
    rounds += m / n_live + 1;
  rounds = (rounds + CDN_MAGLEV_BLOCK - 1) / CDN_MAGLEV_BLOCK;
  uint32_t filled = 0;
  for (uint32_t r = 0; r < rounds && filled < m; r++) {
    uint32_t keep = 0;
    for (uint32_t a = 0; a < n_act; a++) {
      uint32_t i = act[a];
      walk_t *b = &w[i];
      uint32_t steps = CDN_MAGLEV_BLOCK;
      if (!equal) {
        b->left *= b->decay;
        uint32_t target = (uint32_t)(m * (1.0 - b->left));
        steps = target > b->seen ? target - b->seen : 0;
        b->seen += steps;
      }
      uint32_t pos = b->pos, cnt = b->cnt;
      for (; steps && cnt < b->quota; steps--) {
        if (!(used[pos >> 6] & (1ULL << (pos & 63)))) {
          used[pos >> 6] |= 1ULL << (pos & 63);
          table[pos] = (uint16_t)i;
          cnt++;
        }
        pos += b->skip;
        pos = pos >= m ? pos - m : pos;
      }
      filled += cnt - b->cnt;
      b->pos = pos;
      b->cnt = cnt;
      if (cnt < b->quota)
        act[keep++] = i;
    }
    n_act = keep;
  }

  /* the rest: the earliest time from the entry's side (integer ranks with equal weights;
   * -log(1 - rank / m) / w otherwise), ties to the lower index; the quotas sum to at least
   * m, so a backend with room always exists */
  for (uint32_t e = 0; filled < m && e < m; e++) {
    if (used[e >> 6] & (1ULL << (e & 63)))
      continue;
    uint32_t best = UINT32_MAX;
    double best_t = 0;
    for (uint32_t a = 0; a < n_act; a++) {
      uint32_t i = act[a];
      if (w[i].cnt >= w[i].quota)
        continue;
      uint32_t rank = (uint32_t)((uint64_t)(e + m - w[i].off) % m * w[i].inv % m);
      double t = equal ? (double)rank : -log1p(-(double)rank / m) / weight[i];
      if (best == UINT32_MAX || t < best_t) {
        best = i;
        best_t = t;
      }
    }
    if (best == UINT32_MAX) /* unreachable: the quotas sum to at least m */
      break;
    table[e] = (uint16_t)best;
    w[best].cnt++;
    filled++;
  }
  free(act);
  free(w);
  free(used);
  return filled == m ? 0 : -EINVAL;
}
