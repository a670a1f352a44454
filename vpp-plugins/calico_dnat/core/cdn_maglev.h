/*
 * Weighted Maglev with bounded loads. As in Maglev (Eisenbud et al., NSDI 2016, section
 * 3.4) each backend walks its own permutation of the table (offset, skip and here a
 * generator from a hash of its address and port only, so a backend's preferences do not
 * depend on the other backends; the walk is offset + skip * g^k, not offset + k * skip:
 * cdn_maglev.c). The fill differs: the paper lets backends take turns claiming their
 * next *free* entry, so a removed backend's entries shift every later claim (a cascade:
 * 2.4x the ideal disruption at N = 100, M/N = 129). Here every walk advances at a rate
 * proportional to its weight and an entry goes to the first walk that reaches it, each
 * backend stopping at a quota of its fair share + CDN_MAGLEV_SLACK_PERMILLE (consistent
 * hashing with bounded loads, Mirrokni et al. 2018): removing a backend moves its entries
 * and only the few the changed quotas shift (1.19x the ideal, mean over N = 20..195), and
 * no backend gets more than 1.05x its share (a lightly loaded one may get less:
 * docs/dnat.md).
 */
#ifndef CDN_MAGLEV_H
#define CDN_MAGLEV_H

#include <stdint.h>

#include "cp/pkt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fill table[0..m) with backend indexes 0..n-1 (m prime, n <= m, n <= 65535): a function
 * of the (address, port, weight) list and seed only. Backends of weight 0 get no entry.
 * Returns 0, -EINVAL (bad m/n, every weight 0) or -ENOMEM. */
int cdn_maglev_build(const cp_addr_t *addr, const uint16_t *port, const uint16_t *weight,
                     uint32_t n, uint32_t m, uint64_t seed, uint16_t *table);
/* Smallest prime >= v (v <= 65537 * 2). */
uint32_t cdn_next_prime(uint32_t v);

#ifdef __cplusplus
}
#endif
#endif
