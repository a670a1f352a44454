/*
 * Packet rewrite: IPv4/IPv6 source/destination address and port (or ICMP echo id)
 * changes with RFC 1624 incremental checksum updates (IPv4 header; TCP; UDP keeping the
 * IPv4 zero checksum; ICMP; ICMPv6 with its pseudo-header), SCTP's CRC32c recomputed
 * with any pre-existing error preserved, and ICMP/ICMPv6 errors rewritten inner and outer.
 */
#ifndef CDN_REWRITE_INLINE_H
#define CDN_REWRITE_INLINE_H

#include "cdn_internal.h"
#include "cp/csum.h"

static inline uint16_t cdn_rd16(const uint8_t *p)
{
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

static inline void cdn_csum_adj(uint8_t *field, const void *old, const void *nw, uint32_t len)
{
  uint16_t c = cdn_rd16(field);
  c = cp_csum_update(c, old, nw, len);
  memcpy(field, &c, 2);
}

/* SCTP's checksum field holds the CRC's bytes least significant first (RFC 4960 B). */
static inline uint32_t cdn_rd32le(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void cdn_wr32le(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t cdn_sctp_value(const uint8_t *l4, uint32_t len)
{
  /* CRC32c over the packet with the checksum field taken as zero */
  static const uint8_t zero[4];
  uint32_t crc = cdn_crc32c(0xffffffffu, l4, 8);
  crc = cdn_crc32c(crc, zero, 4);
  crc = cdn_crc32c(crc, l4 + 12, len - 12);
  return ~crc;
}

/* Which checksum field covers the L4 ports/addresses; NULL when none (or UDP zero). */
static inline uint8_t *cdn_l4_csum_field(uint8_t *l4, uint8_t proto, int *pseudo)
{
  *pseudo = 1;
  switch (proto) {
  case CP_IPPROTO_TCP:
    return l4 + 16;
  case CP_IPPROTO_UDP:
    return cdn_rd16(l4 + 6) ? l4 + 6 : NULL;
  case CP_IPPROTO_ICMPV6:
    return l4 + 2;
  case CP_IPPROTO_ICMP:
    *pseudo = 0;
    return l4 + 2;
  default:
    *pseudo = 0;
    return NULL;
  }
}

/*
 * Rewrite the outer 4-tuple of a parsed packet (not an ICMP error) to nsrc:nsp -> ndst:ndp.
 * Ports are host order; for ICMP echo, nsp is the new id.
 */
static inline __attribute__((always_inline)) void cdn_rewrite(uint8_t *d, const cp_pkt_t *p, const cp_addr_t *nsrc,
                               uint16_t nsp, const cp_addr_t *ndst, uint16_t ndp)
{
  uint32_t alen = cdn_addr_len(p->af);
  uint32_t so = p->af == 4 ? 12 : 8, dof = p->af == 4 ? 16 : 24;
  uint8_t *l4 = d + p->l4_offset;
  int pseudo;
  uint8_t *lc = cdn_l4_csum_field(l4, p->proto, &pseudo);
  uint16_t lcv = lc ? cdn_rd16(lc) : 0;
  int port_change = 0;
  uint32_t sctp_len = p->total_len - p->l4_offset;
  uint32_t sctp_err = 0;
  if (p->proto == CP_IPPROTO_SCTP) /* keep a wrong CRC exactly as wrong */
    sctp_err = cdn_rd32le(l4 + 8) ^ cdn_sctp_value(l4, sctp_len);
  if (p->af == 4) {
    /* IPv4: one 32-bit update per address for the header and the L4 checksum */
    uint16_t ipc = cdn_rd16(d + 10);
    if (p->src.w[0] != nsrc->w[0]) {
      ipc = cp_csum_update32(ipc, p->src.w[0], nsrc->w[0]);
      if (lc && pseudo)
        lcv = cp_csum_update32(lcv, p->src.w[0], nsrc->w[0]);
      memcpy(d + so, nsrc->b, 4);
    }
    if (p->dst.w[0] != ndst->w[0]) {
      ipc = cp_csum_update32(ipc, p->dst.w[0], ndst->w[0]);
      if (lc && pseudo)
        lcv = cp_csum_update32(lcv, p->dst.w[0], ndst->w[0]);
      memcpy(d + dof, ndst->b, 4);
    }
    memcpy(d + 10, &ipc, 2);
  } else {
    if (!cdn_addr_eq(&p->src, nsrc)) {
      if (lc && pseudo)
        lcv = cp_csum_update(lcv, d + so, nsrc->b, alen);
      memcpy(d + so, nsrc->b, alen);
    }
    if (!cdn_addr_eq(&p->dst, ndst)) {
      if (lc && pseudo)
        lcv = cp_csum_update(lcv, d + dof, ndst->b, alen);
      memcpy(d + dof, ndst->b, alen);
    }
  }
  if (p->proto == CP_IPPROTO_ICMP || p->proto == CP_IPPROTO_ICMPV6) {
    if (nsp != p->sport) {
      uint16_t o = cdn_rd16(l4 + 4), n = cp_htons(nsp);
      lcv = cp_csum_update16(lcv, o, n);
      memcpy(l4 + 4, &n, 2);
    }
  } else {
    if (nsp != p->sport) {
      uint16_t o = cdn_rd16(l4), n = cp_htons(nsp);
      if (lc)
        lcv = cp_csum_update16(lcv, o, n);
      memcpy(l4, &n, 2);
      port_change = 1;
    }
    if (ndp != p->dport) {
      uint16_t o = cdn_rd16(l4 + 2), n = cp_htons(ndp);
      if (lc)
        lcv = cp_csum_update16(lcv, o, n);
      memcpy(l4 + 2, &n, 2);
      port_change = 1;
    }
  }
  if (lc) {
    if (p->proto == CP_IPPROTO_UDP)
      lcv = cp_udp_csum_fixup(lcv);
    memcpy(lc, &lcv, 2);
  }
  if (p->proto == CP_IPPROTO_SCTP && port_change) {
    cdn_wr32le(l4 + 8, cdn_sctp_value(l4, sctp_len) ^ sctp_err);
  }
}

/* Folded one's-complement sum of ~old + new over the 16-bit words of each address that
 * changes (os -> ns, od -> nd): what cdn_rewrite adds to the IPv4 header checksum and to
 * the L4 pseudo-header checksum. 0 when nothing changes. */
static inline uint16_t cdn_addr_delta(uint8_t af, const cp_addr_t *os, const cp_addr_t *ns,
                                      const cp_addr_t *od, const cp_addr_t *nd)
{
  uint32_t len = cdn_addr_len(af);
  uint64_t acc = 0;
  if (af == 4) {
    uint32_t w[4] = {os->w[0], ns->w[0], od->w[0], nd->w[0]};
    for (int k = 0; k < 4; k += 2)
      if (w[k] != w[k + 1])
        acc += (uint16_t)~(w[k] & 0xffff) + (uint16_t)~(w[k] >> 16) + (w[k + 1] & 0xffff) +
               (w[k + 1] >> 16);
    return cp_csum_fold(acc);
  }
  const cp_addr_t *o[2] = {os, od}, *n[2] = {ns, nd};
  for (int k = 0; k < 2; k++) {
    if (cdn_addr_eq(o[k], n[k])) /* IPv4 addresses are zero-padded */
      continue;
    for (uint32_t i = 0; i < len; i += 2) {
      uint16_t ow, nw;
      memcpy(&ow, o[k]->b + i, 2);
      memcpy(&nw, n[k]->b + i, 2);
      acc += (uint16_t)~ow;
      acc += nw;
    }
  }
  return cp_csum_fold(acc);
}

/* The delta of the opposite rewrite (ns -> os, nd -> od), given `fwd`, the delta of
 * (os -> ns, od -> nd). The two sums are each other's one's-complement negation, so when
 * the forward sum is not congruent to zero the reverse delta is ~fwd exactly; when it is
 * (fwd 0 or 0xffff, which of the two depends on the words themselves) the reverse is
 * computed in full, so the result is always cdn_addr_delta's own. */
static inline uint16_t cdn_addr_delta_reverse(uint8_t af, uint16_t fwd, const cp_addr_t *os,
                                              const cp_addr_t *ns, const cp_addr_t *od,
                                              const cp_addr_t *nd)
{
  if (CDN_UNLIKELY(fwd == 0 || fwd == 0xffff))
    return cdn_addr_delta(af, ns, os, nd, od);
  return (uint16_t)~fwd;
}

/* cp_csum_fold for sums below 2^32 (a few 16-bit terms): the same value in two steps. */
static inline uint16_t cdn_fold32(uint32_t s)
{
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return (uint16_t)s;
}

/*
 * The established fast path of cdn_rewrite for TCP and UDP (not SCTP, not ICMP, not an
 * ICMP error): the packet's addresses are the session key's, so the address part of both
 * checksum updates is the session's precomputed `delta` (cdn_addr_delta); the ports add
 * their own 16-bit terms. One's-complement addition is associative and every partial
 * fold lands in the same class, so the bytes written are exactly cdn_rewrite's (the C
 * test test_cdn_rewrite checks this on random packets, checksum fields and rewrites).
 */
static inline __attribute__((always_inline)) void
cdn_rewrite_l4_fast(uint8_t *d, const cp_pkt_t *p, const void *nsrc, uint16_t nsp,
                    const void *ndst, uint16_t ndp, uint16_t delta)
{
  /* nsrc, ndst: the new addresses' bytes, 4 (IPv4) or 16 (IPv6), network order */
  uint8_t *l4 = d + p->l4_offset;
  if (p->af == 4) {
    uint16_t ipc = cdn_rd16(d + 10);
    ipc = (uint16_t)~cdn_fold32((uint32_t)(uint16_t)~ipc + delta);
    memcpy(d + 10, &ipc, 2);
    memcpy(d + 12, nsrc, 4);
    memcpy(d + 16, ndst, 4);
  } else {
    memcpy(d + 8, nsrc, 16);
    memcpy(d + 24, ndst, 16);
  }
  uint8_t *lc = p->proto == CP_IPPROTO_TCP ? l4 + 16 : l4 + 6;
  uint16_t lcv = cdn_rd16(lc);
  uint16_t osp = cdn_rd16(l4), odp = cdn_rd16(l4 + 2);
  uint16_t nsp_n = cp_htons(nsp), ndp_n = cp_htons(ndp);
  if (p->proto == CP_IPPROTO_TCP || lcv) { /* a zero UDP checksum stays zero */
    uint32_t acc = (uint32_t)(uint16_t)~lcv + delta; /* at most five 16-bit terms */
    if (nsp != p->sport)
      acc += (uint32_t)(uint16_t)~osp + nsp_n;
    if (ndp != p->dport)
      acc += (uint32_t)(uint16_t)~odp + ndp_n;
    lcv = (uint16_t)~cdn_fold32(acc);
    if (p->proto == CP_IPPROTO_UDP)
      lcv = cp_udp_csum_fixup(lcv);
    memcpy(lc, &lcv, 2);
  }
  memcpy(l4, &nsp_n, 2);
  memcpy(l4 + 2, &ndp_n, 2);
}

/* Edit bytes of an ICMP error's quoted packet, keeping the quoted IP header checksum
 * (ic), the quoted L4 checksum (lc) and the ICMP checksum (oc) right. */
static inline void cdn_icmp_inner_edit(uint8_t *at, const void *nw, uint32_t len, uint8_t *ic,
                                       uint8_t *lc, int lc_udp, uint8_t *oc)
{
  uint8_t old[16];
  memcpy(old, at, len);
  if (!memcmp(old, nw, len))
    return;
  uint8_t *cs[2] = {ic, lc};
  for (int k = 0; k < 2; k++) {
    if (!cs[k])
      continue;
    uint16_t before = cdn_rd16(cs[k]);
    uint16_t after = cp_csum_update(before, old, nw, len);
    if (k == 1 && lc_udp)
      after = cp_udp_csum_fixup(after);
    memcpy(cs[k], &after, 2);
    cdn_csum_adj(oc, &before, &after, 2);
  }
  cdn_csum_adj(oc, old, nw, len);
  memcpy(at, nw, len);
}

/*
 * Rewrite an ICMP error whose quoted packet belongs to a session. The error travels like a
 * packet that is rewritten from (s:sp -> dd:dp) to (ns:nsp -> nd:ndp); the quoted packet
 * travelled the other way, so its destination s becomes ns, its source dd becomes nd, and
 * its ports likewise. The outer source is rewritten only when it is the expected peer
 * (an error from the backend itself); the outer destination when it is the expected one.
 */
static inline void cdn_rewrite_icmp_error(uint8_t *d, const cp_pkt_t *p, const cp_addr_t *s,
                                          const cp_addr_t *dd, const cp_addr_t *ns,
                                          uint16_t nsp, const cp_addr_t *nd, uint16_t ndp)
{
  uint32_t alen = cdn_addr_len(p->af);
  uint32_t so = p->af == 4 ? 12 : 8, dof = p->af == 4 ? 16 : 24;
  uint8_t *l4 = d + p->l4_offset;
  uint8_t *oc = l4 + 2; /* ICMP / ICMPv6 checksum */
  /* outer */
  if (cdn_addr_eq(&p->src, s) && !cdn_addr_eq(s, ns)) {
    if (p->af == 4)
      cdn_csum_adj(d + 10, d + so, ns->b, 4);
    else
      cdn_csum_adj(oc, d + so, ns->b, 16);
    memcpy(d + so, ns->b, alen);
  }
  if (cdn_addr_eq(&p->dst, dd) && !cdn_addr_eq(dd, nd)) {
    if (p->af == 4)
      cdn_csum_adj(d + 10, d + dof, nd->b, 4);
    else
      cdn_csum_adj(oc, d + dof, nd->b, 16);
    memcpy(d + dof, nd->b, alen);
  }
  /* inner */
  const cp_pkt_inner_t *in = &p->inner;
  uint8_t *ip = d + in->l3_offset;
  uint8_t *il4 = d + in->l4_offset;
  uint32_t limit = p->total_len;
  uint8_t *ic = p->af == 4 ? ip + 10 : NULL;
  uint8_t *lc = NULL;
  int udp = 0, pseudo = 1;
  if (p->flags & CP_PKT_F_INNER_L4) {
    switch (in->proto) {
    case CP_IPPROTO_TCP:
      if (in->l4_offset + 18u <= limit)
        lc = il4 + 16;
      break;
    case CP_IPPROTO_UDP:
      udp = 1;
      if (cdn_rd16(il4 + 6))
        lc = il4 + 6;
      break;
    case CP_IPPROTO_ICMP:
      lc = il4 + 2;
      pseudo = 0;
      break;
    case CP_IPPROTO_ICMPV6:
      lc = il4 + 2;
      break;
    default:
      break;
    }
  }
  uint8_t *plc = pseudo ? lc : NULL;
  cdn_icmp_inner_edit(ip + so, nd->b, alen, ic, plc, udp, oc);
  cdn_icmp_inner_edit(ip + dof, ns->b, alen, ic, plc, udp, oc);
  if (p->flags & CP_PKT_F_INNER_L4) {
    uint16_t nsp_n = cp_htons(nsp), ndp_n = cp_htons(ndp);
    if (in->proto == CP_IPPROTO_ICMP || in->proto == CP_IPPROTO_ICMPV6) {
      cdn_icmp_inner_edit(il4 + 4, &ndp_n, 2, NULL, lc, 0, oc);
    } else {
      cdn_icmp_inner_edit(il4, &ndp_n, 2, NULL, lc, udp, oc);
      cdn_icmp_inner_edit(il4 + 2, &nsp_n, 2, NULL, lc, udp, oc);
    }
  }
}

#endif
