/* Packet view parser. Every read is checked against the buffer length. */
#include "cp/pkt.h"

#include <string.h>

#define CP_MAX_IP6_EXT 16

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static inline uint32_t rd32(const uint8_t *p)
{
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int cp_icmp4_is_error(uint8_t type)
{
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

int cp_icmp6_is_error(uint8_t type) { return type >= 1 && type <= 4; }

/* Fields shared by the outer header and the inner header of an ICMP error. */
typedef struct {
  cp_addr_t src, dst;
  uint32_t l4; /* offset of the L4 header from the start of `d` */
  uint32_t limit; /* bytes of `d` that belong to this packet */
  uint32_t frag_id;
  uint16_t total_len;
  uint16_t frag_offset;
  uint16_t flags;
  uint8_t af, proto, ttl;
} ip_hdr_t;

/*
 * Parse an IP header (and the IPv6 extension chain) at d[0..len).
 * `quoted` is set for the header inside an ICMP error: that copy is usually cut
 * short, so its total length is not checked against the buffer.
 */
static int parse_ip(const uint8_t *d, uint32_t len, int quoted, ip_hdr_t *h)
{
  if (len < 1)
    return CP_PKT_TRUNCATED;
  uint8_t v = d[0] >> 4;
  if (v == 4) {
    h->af = 4;
    if (len < 20)
      return CP_PKT_TRUNCATED;
    uint32_t ihl = (uint32_t)(d[0] & 0xf) * 4;
    uint32_t total = rd16(d + 2);
    if (ihl < 20 || total < ihl)
      return CP_PKT_MALFORMED;
    if (!quoted && total > len)
      return CP_PKT_TRUNCATED;
    h->limit = total < len ? total : len;
    if (ihl > h->limit)
      return CP_PKT_TRUNCATED;
    if (ihl > 20)
      h->flags |= CP_PKT_F_IP4_OPTIONS;
    uint16_t fo = rd16(d + 6);
    h->frag_offset = (uint16_t)((fo & 0x1fff) * 8);
    h->frag_id = rd16(d + 4);
    if (fo & 0x3fff)
      h->flags |= CP_PKT_F_FRAGMENT;
    if (fo & 0x1fff)
      h->flags |= CP_PKT_F_LATER_FRAG;
    h->ttl = d[8];
    h->proto = d[9];
    memcpy(h->src.b, d + 12, 4);
    memcpy(h->dst.b, d + 16, 4);
    h->total_len = (uint16_t)total;
    h->l4 = ihl;
    return CP_PKT_OK;
  }
  if (v != 6)
    return CP_PKT_MALFORMED;
  h->af = 6;
  if (len < 40)
    return CP_PKT_TRUNCATED;
  uint32_t total = 40u + rd16(d + 4);
  if (!quoted && total > len)
    return CP_PKT_TRUNCATED;
  h->limit = total < len ? total : len;
  h->total_len = (uint16_t)(total > 0xffff ? 0xffff : total);
  h->ttl = d[7];
  memcpy(h->src.b, d + 8, 16);
  memcpy(h->dst.b, d + 24, 16);
  uint8_t nh = d[6];
  uint32_t off = 40;
  for (int i = 0;; i++) {
    uint32_t hl;
    if (nh != CP_IPPROTO_HOPOPTS && nh != CP_IPPROTO_ROUTING && nh != CP_IPPROTO_DSTOPTS &&
        nh != CP_IPPROTO_FRAGMENT && nh != CP_IPPROTO_AH)
      break;
    if (i >= CP_MAX_IP6_EXT)
      return CP_PKT_MALFORMED;
    if (nh == CP_IPPROTO_HOPOPTS && i != 0)
      return CP_PKT_MALFORMED; /* RFC 8200 4.1: hop-by-hop only right after the header */
    h->flags |= CP_PKT_F_IP6_EXT;
    if (off + 8 > h->limit)
      return CP_PKT_TRUNCATED;
    if (nh == CP_IPPROTO_FRAGMENT) {
      uint16_t fo = rd16(d + off + 2);
      h->frag_offset = fo & 0xfff8;
      h->frag_id = rd32(d + off + 4);
      if (fo & 0xfff9)
        h->flags |= CP_PKT_F_FRAGMENT;
      nh = d[off];
      off += 8;
      if (h->frag_offset) {
        h->flags |= CP_PKT_F_LATER_FRAG;
        break; /* what follows is payload, not headers */
      }
      continue;
    }
    if (nh == CP_IPPROTO_AH)
      hl = ((uint32_t)d[off + 1] + 2) * 4;
    else
      hl = ((uint32_t)d[off + 1] + 1) * 8;
    if (off + hl > h->limit)
      return CP_PKT_TRUNCATED;
    nh = d[off];
    off += hl;
  }
  h->proto = nh;
  h->l4 = off;
  return CP_PKT_OK;
}

/* Bytes of L4 header needed to read the fields we use. */
static uint32_t l4_need(uint8_t af, uint8_t proto, int quoted)
{
  switch (proto) {
  case CP_IPPROTO_TCP:
    return quoted ? 8 : 20;
  case CP_IPPROTO_UDP:
    return 8;
  case CP_IPPROTO_SCTP:
    return quoted ? 8 : 12;
  case CP_IPPROTO_ICMP:
    return af == 4 ? 8 : 0;
  case CP_IPPROTO_ICMPV6:
    return af == 6 ? 8 : 0;
  default:
    return 0;
  }
}

static inline int is_echo(uint8_t af, uint8_t type)
{
  return af == 4 ? (type == 0 || type == 8) : (type == 128 || type == 129);
}

int cp_pkt_parse(const uint8_t *data, uint32_t len, cp_pkt_t *p)
{
  /* the common case in one pass (cp/pkt.h), else the general parser */
  if (cp_pkt_parse_ip4_l4(data, len, p)) {
    memset(&p->inner, 0, sizeof(p->inner));
    return CP_PKT_OK;
  }
  return cp_pkt_parse_general(data, len, p);
}

int cp_pkt_parse_general(const uint8_t *data, uint32_t len, cp_pkt_t *p)
{
  ip_hdr_t h;
  memset(p, 0, sizeof(*p));
  memset(&h, 0, sizeof(h));
  int rv = parse_ip(data, len, 0, &h);
  p->af = h.af;
  if (rv != CP_PKT_OK)
    return p->status = (uint8_t)rv;
  p->src = h.src;
  p->dst = h.dst;
  p->proto = h.proto;
  p->ttl = h.ttl;
  p->flags = h.flags;
  p->total_len = h.total_len;
  p->frag_id = h.frag_id;
  p->frag_offset = h.frag_offset;
  p->l4_offset = (uint16_t)h.l4;
  if (h.flags & CP_PKT_F_LATER_FRAG)
    return p->status = CP_PKT_OK;

  uint32_t need = l4_need(h.af, h.proto, 0);
  if (!need)
    return p->status = CP_PKT_OK;
  const uint8_t *l4 = data + h.l4;
  if (h.l4 + need > h.limit)
    return p->status = CP_PKT_TRUNCATED;
  p->flags |= CP_PKT_F_HAS_L4;

  if (h.proto == CP_IPPROTO_TCP) {
    uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;
    if (doff < 20)
      return p->status = CP_PKT_MALFORMED;
    if (h.l4 + doff > h.limit)
      return p->status = CP_PKT_TRUNCATED;
    p->tcp_flags = l4[13];
  }
  if (h.proto == CP_IPPROTO_TCP || h.proto == CP_IPPROTO_UDP || h.proto == CP_IPPROTO_SCTP) {
    p->sport = rd16(l4);
    p->dport = rd16(l4 + 2);
    return p->status = CP_PKT_OK;
  }

  /* ICMP / ICMPv6 */
  p->icmp_type = l4[0];
  p->icmp_code = l4[1];
  if (is_echo(h.af, l4[0])) {
    p->sport = p->dport = rd16(l4 + 4);
    return p->status = CP_PKT_OK;
  }
  if (!(h.af == 4 ? cp_icmp4_is_error(l4[0]) : cp_icmp6_is_error(l4[0])))
    return p->status = CP_PKT_OK;

  /* ICMP error: parse the quoted header. It must be of the outer family. */
  ip_hdr_t in;
  uint32_t ioff = h.l4 + 8;
  memset(&in, 0, sizeof(in));
  rv = parse_ip(data + ioff, h.limit - ioff, 1, &in);
  if (rv != CP_PKT_OK)
    return p->status = (uint8_t)rv;
  if (in.af != h.af)
    return p->status = CP_PKT_MALFORMED;
  p->flags |= CP_PKT_F_ICMP_ERROR;
  p->inner.src = in.src;
  p->inner.dst = in.dst;
  p->inner.proto = in.proto;
  p->inner.l3_offset = (uint16_t)ioff;
  p->inner.l4_offset = (uint16_t)(ioff + in.l4);
  if (in.flags & CP_PKT_F_LATER_FRAG) {
    p->flags |= CP_PKT_F_INNER_LATER_FRAG;
    return p->status = CP_PKT_OK;
  }
  need = l4_need(in.af, in.proto, 1);
  if (!need)
    return p->status = CP_PKT_OK;
  if (in.l4 + need > in.limit)
    return p->status = CP_PKT_TRUNCATED;
  const uint8_t *il4 = data + ioff + in.l4;
  p->flags |= CP_PKT_F_INNER_L4;
  if (in.proto == CP_IPPROTO_ICMP || in.proto == CP_IPPROTO_ICMPV6) {
    p->inner.icmp_type = il4[0];
    p->inner.icmp_code = il4[1];
    if (is_echo(in.af, il4[0]))
      p->inner.sport = p->inner.dport = rd16(il4 + 4);
  } else {
    p->inner.sport = rd16(il4);
    p->inner.dport = rd16(il4 + 2);
  }
  return p->status = CP_PKT_OK;
}

uint32_t cp_pkt_parse_burst(const uint8_t *const *data, const uint32_t *len, uint32_t n,
                            cp_pkt_t *out)
{
  uint32_t ok = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i + 2 < n)
      __builtin_prefetch(data[i + 2]);
    ok += cp_pkt_parse(data[i], len[i], &out[i]) == CP_PKT_OK;
  }
  return ok;
}
