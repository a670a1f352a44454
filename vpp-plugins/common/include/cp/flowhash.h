/*
 * Flow hash over selectable 5-tuple fields, with a symmetric variant in which
 * both directions of a flow hash alike. 64x64->128 multiply-fold mixing
 * (wyhash-style); inline so batch loops keep it in registers.
 */
#ifndef CP_FLOWHASH_H
#define CP_FLOWHASH_H

#include <stdint.h>

#include "cp/pkt.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CP_FH_SRC_ADDR = 1u << 0,
  CP_FH_DST_ADDR = 1u << 1,
  CP_FH_PROTO = 1u << 2,
  CP_FH_SRC_PORT = 1u << 3,
  CP_FH_DST_PORT = 1u << 4,
  /* Both directions hash alike. An address (port) selected on one side is taken
   * on both sides, since a one-sided symmetric hash cannot exist. */
  CP_FH_SYMMETRIC = 1u << 5,
  CP_FH_5TUPLE = 0x1f,
  CP_FH_ALL = 0x3f,
};

static inline uint64_t cp_mix64(uint64_t a, uint64_t b)
{
  unsigned __int128 r = (unsigned __int128)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#define CP_FH_K0 0xa0761d6478bd642fULL
#define CP_FH_K1 0xe7037ed1a0b428dbULL
#define CP_FH_K2 0x8ebc6af09c88c6e3ULL
#define CP_FH_K3 0x589965cc75374cc3ULL

/* Hash a tuple. Addresses are cp_addr_t (v4 zero-padded); ports in host order. */
static inline uint32_t cp_flow_hash_tuple(const cp_addr_t *src, const cp_addr_t *dst,
                                          uint16_t sport, uint16_t dport, uint8_t proto,
                                          uint32_t fields, uint64_t seed)
{
  uint64_t s0 = 0, s1 = 0, d0 = 0, d1 = 0;
  uint32_t sp = 0, dp = 0;
  if (fields & CP_FH_SYMMETRIC) {
    if (fields & (CP_FH_SRC_ADDR | CP_FH_DST_ADDR))
      fields |= CP_FH_SRC_ADDR | CP_FH_DST_ADDR;
    if (fields & (CP_FH_SRC_PORT | CP_FH_DST_PORT))
      fields |= CP_FH_SRC_PORT | CP_FH_DST_PORT;
  }
  if (fields & CP_FH_SRC_ADDR) {
    s0 = src->q[0];
    s1 = src->q[1];
  }
  if (fields & CP_FH_DST_ADDR) {
    d0 = dst->q[0];
    d1 = dst->q[1];
  }
  if (fields & CP_FH_SRC_PORT)
    sp = sport;
  if (fields & CP_FH_DST_PORT)
    dp = dport;
  if (fields & CP_FH_SYMMETRIC) {
    /* order the two (address, port) endpoints canonically */
    int swap = s0 != d0 ? s0 > d0 : s1 != d1 ? s1 > d1 : sp > dp;
    if (swap) {
      uint64_t t0 = s0, t1 = s1;
      uint32_t tp = sp;
      s0 = d0;
      s1 = d1;
      sp = dp;
      d0 = t0;
      d1 = t1;
      dp = tp;
    }
  }
  uint64_t pr = (fields & CP_FH_PROTO) ? proto : 0;
  uint64_t a = cp_mix64(s0 ^ seed ^ CP_FH_K0, s1 ^ CP_FH_K1);
  uint64_t b = cp_mix64(d0 ^ CP_FH_K2, d1 ^ CP_FH_K3 ^ a);
  uint64_t c = cp_mix64(((uint64_t)sp << 40 | (uint64_t)dp << 24 | pr << 8 | (fields & 0x3f)) ^
                            CP_FH_K1,
                        b ^ CP_FH_K0);
  return (uint32_t)(c ^ (c >> 32));
}

static inline uint32_t cp_flow_hash(const cp_pkt_t *p, uint32_t fields, uint64_t seed)
{
  return cp_flow_hash_tuple(&p->src, &p->dst, p->sport, p->dport, p->proto, fields, seed);
}

/* Exported (non-inline) forms, for bindings. */
uint32_t cp_flow_hash_pkt(const cp_pkt_t *p, uint32_t fields, uint64_t seed);
void cp_flow_hash_burst(const cp_pkt_t *p, uint32_t n, uint32_t fields, uint64_t seed,
                        uint32_t *out);

#ifdef __cplusplus
}
#endif
#endif /* CP_FLOWHASH_H */
