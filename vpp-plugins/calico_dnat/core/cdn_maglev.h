/*
 * Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4), with
 * weights: each backend walks its own permutation of the table (offset and skip from a
 * hash of its address and port, so the permutation does not depend on the other
 * backends) and claims its next free entry whenever its credit reaches the average
 * weight. Equal weights give the paper's round-robin fill exactly.
 */
#ifndef CDN_MAGLEV_H
#define CDN_MAGLEV_H

#include <stdint.h>

#include "cp/pkt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fill table[0..m) with backend indexes 0..n-1 (m prime, n <= m, n <= 65535). Backends of
 * weight 0 get no entry. Returns 0, -EINVAL (bad m/n, every weight 0) or -ENOMEM. */
int cdn_maglev_build(const cp_addr_t *addr, const uint16_t *port, const uint16_t *weight,
                     uint32_t n, uint32_t m, uint64_t seed, uint16_t *table);
/* Smallest prime >= v (v <= 65537 * 2). */
uint32_t cdn_next_prime(uint32_t v);

#ifdef __cplusplus
}
#endif
#endif
