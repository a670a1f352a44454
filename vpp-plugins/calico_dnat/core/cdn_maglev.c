/* Weighted Maglev table build (see cdn_maglev.h). Runs on the control thread only. */
#include "cdn_maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.h"
#include "cp/flowhash.h"

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

uint32_t cdn_maglev_size_for(uint32_t n_backends)
{
  uint64_t want = (uint64_t)n_backends * 100u;
  if (want < CDN_MAGLEV_M_MIN)
    return CDN_MAGLEV_M_MIN;
  if (want >= CDN_MAGLEV_M_MAX)
    return CDN_MAGLEV_M_MAX;
  return cdn_next_prime((uint32_t)want);
}

typedef struct {
  uint32_t pos;  /* next candidate entry of this backend's permutation */
  uint32_t skip; /* 1..m-1 */
  uint64_t credit;
} walk_t;

int cdn_maglev_build(const cp_addr_t *addr, const uint16_t *port, const uint16_t *weight,
                     uint32_t n, uint32_t m, uint64_t seed, uint16_t *table)
{
  if (m < 2 || m > CDN_MAGLEV_M_MAX || n == 0 || n > m || n > 65535 || !is_prime(m))
    return -EINVAL;
  uint64_t wsum = 0;
  uint32_t n_live = 0;
  for (uint32_t i = 0; i < n; i++) {
    wsum += weight[i];
    n_live += weight[i] != 0;
  }
  if (!n_live)
    return -EINVAL;
  /* a backend claims an entry per `thresh` credit: the average live weight, so that a
   * round fills about n_live entries whatever the weights are */
  uint64_t thresh = wsum / n_live;
  if (!thresh)
    thresh = 1;
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
    w[i].pos = h1 % m;
    w[i].skip = h2 % (m - 1) + 1;
    w[i].credit = 0;
  }
  uint32_t filled = 0;
  while (filled < m) {
    for (uint32_t i = 0; i < n && filled < m; i++) {
      if (!weight[i])
        continue;
      w[i].credit += weight[i];
      while (w[i].credit >= thresh && filled < m) {
        w[i].credit -= thresh;
        uint32_t pos = w[i].pos, skip = w[i].skip;
        while (used[pos >> 6] & (1ULL << (pos & 63))) {
          pos += skip;
          if (pos >= m)
            pos -= m;
        }
        used[pos >> 6] |= 1ULL << (pos & 63);
        table[pos] = (uint16_t)i;
        filled++;
        pos += skip;
        if (pos >= m)
          pos -= m;
        w[i].pos = pos;
      }
    }
  }
  free(w);
  free(used);
  return 0;
}
