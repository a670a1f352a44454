/*
 * SNAT port allocator. Each worker owns a disjoint slice of the configured port range
 * (so workers never collide and need no lock, and a return packet's destination port
 * tells which worker owns its flow: cdn_snat_port_worker()). Within a slice, one bitmap per
 * (family, protocol class): a port is in use by at most one flow of that protocol on the
 * SNAT address, whatever its destination, so allocations never collide. A port is freed
 * exactly when its session is freed (expiry, staleness, flush, destroy).
 */
#ifndef CDN_SNAT_INLINE_H
#define CDN_SNAT_INLINE_H

#include "cdn_internal.h"

/* The ports of one owner worker's slice: the range split in equal parts among workers
 * owner_first .. n_workers - 1, the last one taking the remainder. */
static inline uint32_t cdn_snat_slice_size(const cdn_config_t *c)
{
  return ((uint32_t)c->snat_port_max - c->snat_port_min + 1) / (c->n_workers - c->owner_first);
}

/* The worker whose slice holds `port` (a port of the SNAT range). */
static inline uint32_t cdn_snat_slice_worker(const cdn_config_t *c, uint16_t port)
{
  uint32_t k = ((uint32_t)port - c->snat_port_min) / cdn_snat_slice_size(c);
  uint32_t last = c->n_workers - 1 - c->owner_first;
  return c->owner_first + (k < last ? k : last);
}

static inline int cdn_snat_class(uint8_t proto)
{
  switch (proto) {
  case CP_IPPROTO_TCP:
    return 0;
  case CP_IPPROTO_UDP:
    return 1;
  case CP_IPPROTO_ICMP:
  case CP_IPPROTO_ICMPV6:
    return 2;
  default:
    return 3;
  }
}

/* Allocate a port for (af, proto); prefers `want` when it is in this worker's slice and
 * free (port preservation). Returns 0 when the slice is exhausted. */
static inline uint16_t cdn_snat_alloc(cdn_worker_t *w, uint8_t af, uint8_t proto,
                                      uint16_t want)
{
  int a = cdn_af_idx(af), c = cdn_snat_class(proto);
  uint64_t *bm = w->ports[a][c];
  uint32_t size = (uint32_t)w->port_hi - w->port_lo + 1;
  if (!size)
    return 0; /* a worker below owner_first owns no ports */
  if (want >= w->port_lo && want <= w->port_hi) {
    uint32_t i = want - w->port_lo;
    if (!(bm[i >> 6] & (1ULL << (i & 63)))) {
      bm[i >> 6] |= 1ULL << (i & 63);
      w->ports_in_use++;
      return want;
    }
  }
  uint32_t nw = (size + 63) / 64;
  uint32_t start = w->port_cursor[a][c];
  for (uint32_t k = 0; k <= nw; k++) {
    uint32_t wi = (start / 64 + k) % nw;
    uint64_t free_bits = ~bm[wi];
    if (wi == nw - 1 && (size & 63))
      free_bits &= (1ULL << (size & 63)) - 1;
    if (!free_bits)
      continue;
    uint32_t i = wi * 64 + (uint32_t)__builtin_ctzll(free_bits);
    bm[wi] |= 1ULL << (i & 63);
    w->port_cursor[a][c] = i + 1 < size ? i + 1 : 0;
    w->ports_in_use++;
    return (uint16_t)(w->port_lo + i);
  }
  return 0;
}

static inline void cdn_snat_free(cdn_worker_t *w, uint8_t af, uint8_t proto, uint16_t port)
{
  int a = cdn_af_idx(af), c = cdn_snat_class(proto);
  uint32_t i = (uint32_t)port - w->port_lo;
  uint64_t *bm = w->ports[a][c];
  if (port < w->port_lo || port > w->port_hi || !(bm[i >> 6] & (1ULL << (i & 63))))
    return; /* never allocated here: nothing to free (cannot happen for a live session) */
  bm[i >> 6] &= ~(1ULL << (i & 63));
  w->ports_in_use--;
}

#endif
