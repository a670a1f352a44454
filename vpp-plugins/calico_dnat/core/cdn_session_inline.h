/*
 * Per-worker session table: a pool of 64-byte flow records (one per flow, both
 * directions; IPv6 records spill two addresses into a 32-byte side entry) and a bucketized cuckoo hash of 64-byte buckets holding 16-bit fingerprints
 * and record references (index << 1 | direction). Each flow has two keys, its forward and
 * its return 5-tuple; both point at the same record, where the full keys live. Lookups
 * touch one or two buckets and then the record; the burst loop prefetches both.
 * Single-threaded per worker: no locks, no atomics.
 */
#ifndef CDN_SESSION_INLINE_H
#define CDN_SESSION_INLINE_H

#include "cdn_internal.h"
#include "cp/flowhash.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { CDN_DIR_FWD = 0, CDN_DIR_REV = 1 };

typedef struct {
  cp_addr_t src, dst;
  uint16_t sport, dport;
  uint8_t proto, af;
} cdn_key_t;

typedef struct {
  uint32_t b1, b2;
  uint16_t tag;
} cdn_hpos_t;

/* ICMP other than echo (and errors, which carry the key of the flow they quote) has no id
 * to key a session on. */
static inline int cdn_icmp_keyless(const cp_pkt_t *p)
{
  return (p->proto == CP_IPPROTO_ICMP || p->proto == CP_IPPROTO_ICMPV6) &&
         !(p->af == 4 ? (p->icmp_type == 0 || p->icmp_type == 8)
                      : (p->icmp_type == 128 || p->icmp_type == 129));
}

/* 64-bit hash of a session key (the two bucket choices and the fingerprint come from it). */
static inline uint64_t cdn_tuple_hash64(const cp_addr_t *src, const cp_addr_t *dst,
                                        uint16_t sport, uint16_t dport, uint8_t proto,
                                        uint8_t af)
{
  uint64_t h = cp_mix64(src->q[0] ^ CP_FH_K0, src->q[1] ^ CP_FH_K1);
  h = cp_mix64(h ^ dst->q[0] ^ CP_FH_K2, dst->q[1] ^ CP_FH_K3);
  return cp_mix64(h ^ ((uint64_t)sport << 32 | (uint64_t)dport << 16 | (uint64_t)proto << 8 |
                       af),
                  CP_FH_K1 ^ 0x9e3779b97f4a7c15ULL);
}

static inline uint64_t cdn_key_hash64(const cdn_key_t *k)
{
  return cdn_tuple_hash64(&k->src, &k->dst, k->sport, k->dport, k->proto, k->af);
}

static inline cdn_hpos_t cdn_hpos(const cdn_worker_t *w, uint64_t h)
{
  cdn_hpos_t p;
  p.b1 = (uint32_t)(((uint64_t)(uint32_t)h * w->nb) >> 32);
  p.b2 = (uint32_t)(((h >> 32) * w->nb) >> 32);
  if (p.b2 == p.b1)
    p.b2 = p.b1 + 1 == w->nb ? 0 : p.b1 + 1;
  /* b1 is chosen by the high bits of the low word, b2 by the high word: the fingerprint
   * takes the lowest 16 bits so that it says nothing about the bucket it sits in */
  p.tag = (uint16_t)h;
  if (!p.tag)
    p.tag = 1;
  return p;
}

/* Address k (0 client, 1 vip, 2 backend, 3 snat) of record idx, IPv4 zero-padded. */
static inline cp_addr_t cdn_sess_addr(const cdn_worker_t *w, uint32_t idx, uint32_t k)
{
  const cdn_sess_t *s = &w->rec[idx];
  cp_addr_t a;
  if (s->af == 4) {
    a.w[0] = s->u.a4[k];
    a.w[1] = a.w[2] = a.w[3] = 0;
  } else {
    a = k < 2 ? s->u.a6[k] : w->ext6[idx].a[k - 2];
  }
  return a;
}

/* The stored bytes of address k of record idx: 4 (IPv4) or 16 (IPv6), network order. */
static inline const uint8_t *cdn_sess_addr_ptr(const cdn_worker_t *w, uint32_t idx, uint32_t k)
{
  const cdn_sess_t *s = &w->rec[idx];
  if (s->af == 4)
    return (const uint8_t *)&s->u.a4[k];
  return k < 2 ? s->u.a6[k].b : w->ext6[idx].a[k - 2].b;
}

/* Store address k of record idx (its af must be set already). */
static inline void cdn_sess_set_addr(cdn_worker_t *w, uint32_t idx, uint32_t k,
                                     const cp_addr_t *a)
{
  cdn_sess_t *s = &w->rec[idx];
  if (s->af == 4)
    s->u.a4[k] = a->w[0];
  else if (k < 2)
    s->u.a6[k] = *a;
  else
    w->ext6[idx].a[k - 2] = *a;
}

/* The key of record `idx` in direction `dir`. */
static inline void cdn_rec_key(const cdn_worker_t *w, uint32_t idx, uint32_t dir, cdn_key_t *k)
{
  const cdn_sess_t *s = &w->rec[idx];
  uint32_t o = dir ? 2 : 0;
  k->src = cdn_sess_addr(w, idx, o);
  k->dst = cdn_sess_addr(w, idx, o + 1);
  k->sport = s->p[o];
  k->dport = s->p[o + 1];
  k->proto = s->proto;
  k->af = s->af;
}

/* Does record `idx` hold this tuple in direction `dir`? Ports, protocol and family first
 * (two word compares), then the two addresses: IPv4 two words of the record's line; IPv6
 * the direction's 32 contiguous bytes (the record's line forward, `ext6` in return), with
 * SSE2 one 32-byte compare. IPv4 tuples are zero-padded (cp_pkt_t's addresses are). */
static inline int cdn_rec_match_tuple(const cdn_worker_t *w, uint32_t idx, uint32_t dir,
                                      const cp_addr_t *src, const cp_addr_t *dst,
                                      uint16_t sport, uint16_t dport, uint8_t proto, uint8_t af)
{
  const cdn_sess_t *s = &w->rec[idx];
  uint32_t o = dir ? 2 : 0;
  uint32_t ports;
  memcpy(&ports, &s->p[o], 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  uint32_t want = (uint32_t)sport << 16 | (uint32_t)dport;
#else
  uint32_t want = (uint32_t)sport | (uint32_t)dport << 16;
#endif
  if (ports != want || s->proto != proto || s->af != af)
    return 0;
  if (af == 4) { /* both addresses in one 64-bit compare */
    uint64_t have, addrs;
    uint32_t t[2] = {src->w[0], dst->w[0]};
    memcpy(&have, &s->u.a4[o], 8);
    memcpy(&addrs, t, 8);
    return have == addrs;
  }
  const cp_addr_t *pa = dir ? w->ext6[idx].a : s->u.a6;
#if defined(__SSE2__)
  __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)&pa[0]),
                             _mm_loadu_si128((const __m128i *)(const void *)src));
  __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)&pa[1]),
                             _mm_loadu_si128((const __m128i *)(const void *)dst));
  return _mm_movemask_epi8(_mm_and_si128(a, b)) == 0xffff;
#else
  return cdn_addr_eq(&pa[0], src) && cdn_addr_eq(&pa[1], dst);
#endif
}

static inline int cdn_rec_match(const cdn_worker_t *w, uint32_t idx, uint32_t dir,
                                const cdn_key_t *k)
{
  return cdn_rec_match_tuple(w, idx, dir, &k->src, &k->dst, k->sport, k->dport, k->proto,
                             k->af);
}

/* Candidate slots of one bucket whose tag matches: returns a bit mask. With SSE2 (every
 * x86-64) the ten tags are compared in two vector compares; bits of the second load beyond
 * the tenth tag (the first value's bytes, then zeroes) are masked off. */
static inline uint32_t cdn_bucket_match(const cdn_bucket_t *b, uint16_t tag)
{
#if defined(__SSE2__)
  _Static_assert(CDN_BUCKET_WAYS == 10, "the vector match covers ten tags");
  __m128i t = _mm_set1_epi16((short)tag);
  __m128i lo = _mm_cmpeq_epi16(_mm_load_si128((const __m128i *)(const void *)b->tag), t);
  __m128i hi = _mm_cmpeq_epi16(_mm_loadl_epi64((const __m128i *)(const void *)&b->tag[8]), t);
  return (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(lo, hi)) & ((1u << CDN_BUCKET_WAYS) - 1);
#else
  uint32_t m = 0;
  for (uint32_t j = 0; j < CDN_BUCKET_WAYS; j++)
    m |= (uint32_t)(b->tag[j] == tag) << j;
  return m;
#endif
}

/* The reference of `k` among the candidates of one bucket, or CDN_INVALID_ID. */
static inline uint32_t cdn_bucket_find(const cdn_worker_t *w, const cdn_bucket_t *b,
                                       uint16_t tag, const cdn_key_t *k)
{
  uint32_t m = cdn_bucket_match(b, tag);
  while (m) {
    uint32_t j = (uint32_t)__builtin_ctz(m);
    m &= m - 1;
    uint32_t v = b->val[j];
    if (cdn_rec_match(w, v >> 1, v & 1, k))
      return v;
  }
  return CDN_INVALID_ID;
}

/* Full lookup (first bucket, then second); returns the reference (idx << 1 | dir) or
 * CDN_INVALID_ID. */
static inline uint32_t cdn_sess_lookup(const cdn_worker_t *w, const cdn_key_t *k,
                                       cdn_hpos_t hp)
{
  uint32_t v = cdn_bucket_find(w, &w->bk[hp.b1], hp.tag, k);
  return v != CDN_INVALID_ID ? v : cdn_bucket_find(w, &w->bk[hp.b2], hp.tag, k);
}

/* Control-light helpers implemented in cdn_session.c */
int cdn_sess_insert_displace(cdn_worker_t *w, uint32_t ref, cdn_hpos_t hp);

/* Insert ref under hp: the lowest empty slot of the first bucket, else of the second
 * (the second bucket is only read when the first is full), else a cuckoo displacement.
 * Returns 0 or -ENOSPC (the table unchanged). */
static inline int cdn_sess_insert(cdn_worker_t *w, uint32_t ref, cdn_hpos_t hp)
{
  cdn_bucket_t *b = &w->bk[hp.b1];
  uint32_t m = cdn_bucket_match(b, 0);
  if (!m) {
    b = &w->bk[hp.b2];
    m = cdn_bucket_match(b, 0);
    if (!m)
      return cdn_sess_insert_displace(w, ref, hp);
  }
  uint32_t j = (uint32_t)__builtin_ctz(m);
  b->tag[j] = hp.tag;
  b->val[j] = ref;
  return 0;
}
void cdn_sess_remove_key(cdn_worker_t *w, uint32_t ref);
uint32_t cdn_sess_alloc(cdn_worker_t *w);
/* Remove both keys, release the SNAT port, return the record to the pool. */
void cdn_sess_free(cdn_worker_t *w, uint32_t idx);

static inline uint32_t cdn_sess_timeout(const cdn_config_t *c, const cdn_sess_t *s)
{
  switch (s->proto) {
  case CP_IPPROTO_TCP:
    return s->state == CDN_TCP_ESTABLISHED ? c->tcp_established_ms
           : s->state == CDN_TCP_CLOSING   ? c->tcp_closing_ms
                                           : c->tcp_syn_ms;
  case CP_IPPROTO_UDP:
    return c->udp_ms;
  case CP_IPPROTO_ICMP:
  case CP_IPPROTO_ICMPV6:
    return c->icmp_ms;
  default:
    return c->other_ms;
  }
}

/* TCP state machine: SYN (handshake) -> ESTABLISHED (a packet seen in both directions)
 * -> CLOSING (RST, or FIN seen in both directions). */
static inline void cdn_tcp_track(cdn_sess_t *s, uint32_t dir, uint8_t tcp_flags)
{
  const uint8_t FIN = 0x01, RST = 0x04;
  /* the usual packet changes nothing: no FIN/RST, and no new direction seen (a return
   * packet after the first, or an initiator's packet before any answer or after the
   * handshake completed) */
  if (CDN_LIKELY(!(tcp_flags & (FIN | RST)) &&
                 (dir ? (s->sflags & CDN_SF_SEEN_REV) != 0
                      : !(s->sflags & CDN_SF_SEEN_REV) || s->state != CDN_TCP_SYN)))
    return;
  if (dir)
    s->sflags |= CDN_SF_SEEN_REV;
  if (tcp_flags & RST) {
    s->state = CDN_TCP_CLOSING;
    return;
  }
  if (tcp_flags & FIN)
    s->sflags |= dir ? CDN_SF_FIN_REV : CDN_SF_FIN_FWD;
  if ((s->sflags & (CDN_SF_FIN_FWD | CDN_SF_FIN_REV)) == (CDN_SF_FIN_FWD | CDN_SF_FIN_REV))
    s->state = CDN_TCP_CLOSING;
  else if (s->state == CDN_TCP_SYN && (s->sflags & CDN_SF_SEEN_REV) && !dir)
    s->state = CDN_TCP_ESTABLISHED; /* the initiator's packet after the answer */
}

/* Is the session still backed by its backend (or SNAT address)? */
static inline int cdn_sess_valid(const cdn_ctx_t *ctx, const cdn_sess_t *s)
{
  return cdn_be_gen_load(ctx, s->be_id) == s->be_gen;
}

#endif
