/* Weighted Maglev with bounded loads (see cdn_maglev.h). Runs on the control thread only. */
#include "cdn_maglev.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.h"
#include "cp/flowhash.h"

/* Entries a walk examines per turn: time order is kept in blocks of this many ranks,
 * which keeps the loop tight (1000 backends, M = 65537: 1.85 ms at 4, 1.67 ms at 8) and
 * moves the disruption figures by less than their seed-to-seed spread. */
#define CDN_MAGLEV_BLOCK 8

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
  uint32_t e;     /* the walk's state: its next entry is off + e mod m (skip * g^k) */
  uint32_t off;   /* entry at rank 0 */
  uint32_t key;   /* the leftover entries' tie-break hash key */
  uint32_t gen;   /* this walk's generator: a primitive root of m */
  uint32_t g2, g3, g4; /* gen^2, gen^3, gen^4 mod m: four steps from one state at once */
  uint32_t cnt;   /* entries claimed */
  uint32_t quota; /* most entries this backend may claim */
  uint32_t seen;  /* ranks examined (unequal weights) */
  double left;    /* exp(-time * w / mean w): the share of ranks not yet examined */
  double decay;   /* `left` is multiplied by this each turn */
} walk_t;

/* Barrett reduction of x <= 2^32 by the table size m (> 1), r = floor(2^32 / m): the
 * estimate q is floor(x / m) or one less, so one subtraction corrects it. */
static inline uint32_t mod_m(uint64_t x, uint32_t m, uint64_t r)
{
  uint64_t q = (x * r) >> 32;
  uint32_t v = (uint32_t)(x - q * m);
  return v >= m ? v - m : v;
}

static uint32_t pow_mod(uint32_t b, uint32_t e, uint32_t m)
{
  uint64_t acc = 1, x = b % m;
  for (; e; e >>= 1) {
    if (e & 1)
      acc = acc * x % m;
    x = x * x % m;
  }
  return (uint32_t)acc;
}

/* Entry (off + t) mod m to backend i if it is still free; 1 if it was. */
static inline uint32_t claim(uint64_t *used, uint16_t *table, uint32_t off, uint32_t t,
                             uint32_t m, uint32_t i)
{
  uint32_t pos = off + t;
  pos = pos >= m ? pos - m : pos;
  if (used[pos >> 6] & (1ULL << (pos & 63)))
    return 0;
  used[pos >> 6] |= 1ULL << (pos & 63);
  table[pos] = (uint16_t)i;
  return 1;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
  while (b) {
    uint32_t r = a % b;
    a = b;
    b = r;
  }
  return a;
}

/* The smallest primitive root of the prime m (a generator of the nonzero residues). */
static uint32_t primitive_root(uint32_t m)
{
  if (m == 2)
    return 1;
  uint32_t f[16], nf = 0, v = m - 1;
  for (uint32_t d = 2; d * d <= v; d++)
    if (v % d == 0) {
      f[nf++] = d;
      while (v % d == 0)
        v /= d;
    }
  if (v > 1)
    f[nf++] = v;
  for (uint32_t g = 2; g < m; g++) {
    uint32_t ok = 1;
    for (uint32_t k = 0; k < nf && ok; k++)
      ok = pow_mod(g, (m - 1) / f[k], m) != 1;
    if (ok)
      return g;
  }
  return 1; /* unreachable for a prime */
}

/* splitmix64's finaliser: the leftover entries' per-(entry, backend) hash. Not
 * cp_mix64 (a two-input multiply-fold): with it the rendezvous draws were visibly
 * biased (weighted shares off by up to 3.4 % of M instead of 0.7 %). */
static inline uint64_t mix64(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/*
 * A backend's permutation: offset at rank 0, then offset + skip * g^(rank - 1) mod m, g a
 * primitive root of m of the backend's own (so ranks 1..m-1 visit every other entry
 * once); a step is a multiplication modulo m (Barrett; four ranks from one state at once)
 * instead of the paper's addition. The paper's walk, offset + rank * skip, makes the
 * ranks of two backends an affine function of each other (rank_b = a * rank_a + c mod
 * m): for some pairs the first walk to reach an entry is then far from a fair draw (two
 * backends weighted 10:1 gave the light one 0.69 of its share for one seed). With the
 * exponential step the relation is not affine, and with a generator per backend two walks
 * that share an offset are not shifted copies of one order either.
 *
 * Every (entry, backend) pair has a time: when the backend's walk reaches the entry (its
 * rank in the backend's permutation times the average weight over the backend's weight).
 * Entries go to backends in time order, each backend stopping at its quota: first every
 * offset (rank 0, time 0, ties to the lower index), then turns in which every backend
 * under quota examines its next CDN_MAGLEV_BLOCK entries, about
 * (m / n) * log2(n) ranks in all; then the few entries no walk has reached go to the
 * backend under quota with the least -ln(u) / weight, u a hash of (entry, backend):
 * weighted rendezvous hashing.
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
  uint32_t g = primitive_root(m);
  uint64_t rcp = (1ULL << 32) / m;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h1 = cp_flow_hash_tuple(&addr[i], &zero, port[i], 0, 0,
                                     CP_FH_SRC_ADDR | CP_FH_SRC_PORT, seed ^ 0x6d61676c65763031ULL);
    uint32_t h2 = cp_flow_hash_tuple(&addr[i], &zero, port[i], 0, 0,
                                     CP_FH_SRC_ADDR | CP_FH_SRC_PORT, seed ^ 0x6d61676c65763032ULL);
    w[i].off = h1 % m;
    w[i].e = h2 % (m - 1) + 1; /* the skip: the walk's state at rank 1 */
    w[i].key = h1 ^ (h2 << 7 | h2 >> 25);
    /* a generator of its own, g^u with u prime to m - 1: two walks that share an offset
     * still do not visit the entries in shifted copies of one order */
    uint32_t u = (h1 ^ h2 >> 16) % (m - 1) | 1;
    while (gcd(u, m - 1) != 1)
      u += 2;
    w[i].gen = m > 2 ? pow_mod(g, u, m) : 1;
    w[i].g2 = (uint32_t)((uint64_t)w[i].gen * w[i].gen % m);
    w[i].g3 = (uint32_t)((uint64_t)w[i].g2 * w[i].gen % m);
    w[i].g4 = (uint32_t)((uint64_t)w[i].g3 * w[i].gen % m);
    w[i].cnt = 0;
    /* unequal weights: the walk of weight w has examined m (1 - exp(-t w / mean w)) ranks
     * at time t, so that the first walk to reach an entry is backend i with probability
     * w_i / sum w (exponential clocks, as in weighted rendezvous hashing); with equal
     * weights every walk examines CDN_MAGLEV_BLOCK ranks a turn, the same order */
    w[i].seen = 1; /* rank 0, claimed before the turns */
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
  /* rank 0 (time 0 for every walk): each live backend's offset, ties to the lower index */
  uint32_t filled = 0;
  for (uint32_t a = 0; a < n_act; a++) {
    uint32_t i = act[a];
    uint32_t got = claim(used, table, w[i].off, 0, m, i);
    w[i].cnt += got;
    filled += got;
  }
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
      uint32_t off = b->off, cnt = b->cnt;
      uint32_t t = b->e, quota = b->quota, k = 0;
      /* ranks r..r+3 are t, t g, t g^2, t g^3 (offset added): four independent
       * multiplications instead of a chain of four */
      for (; k + 4 <= steps && cnt < quota; k += 4) {
        uint32_t e4[4] = {t, mod_m((uint64_t)t * b->gen, m, rcp), mod_m((uint64_t)t * b->g2, m, rcp),
                          mod_m((uint64_t)t * b->g3, m, rcp)};
        t = mod_m((uint64_t)t * b->g4, m, rcp);
        for (uint32_t j = 0; j < 4 && cnt < quota; j++)
          cnt += claim(used, table, off, e4[j], m, i);
      }
      for (; k < steps && cnt < quota; k++) {
        cnt += claim(used, table, off, t, m, i);
        t = mod_m((uint64_t)t * b->gen, m, rcp);
      }
      b->e = t;
      filled += cnt - b->cnt;
      b->cnt = cnt;
      if (cnt < b->quota)
        act[keep++] = i;
    }
    n_act = keep;
  }

  /* the rest (entries no walk reached): weighted rendezvous hashing among the backends
   * under quota, ties to the lower index; the quotas sum to at least m, so a backend
   * with room always exists */
  for (uint32_t e = 0; filled < m && e < m; e++) {
    if (used[e >> 6] & (1ULL << (e & 63)))
      continue;
    uint32_t best = UINT32_MAX;
    double best_t = 0;
    for (uint32_t a = 0; a < n_act; a++) {
      uint32_t i = act[a];
      if (w[i].cnt >= w[i].quota)
        continue;
      uint64_t h = mix64((uint64_t)w[i].key << 32 ^ e ^ seed);
      /* equal weights: the largest hash; else the least -ln(u) / weight, u in (0, 1) */
      double t = equal ? -(double)(h >> 11)
                       : -log(((double)(h >> 11) + 0.5) / 9007199254740992.0) / weight[i];
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
