/*
 * Packet view: a bounds-checked parse of an IPv4/IPv6 packet into the fields the
 * fast paths need (addresses, L4 protocol, ports, ICMP type/code/id, the inner
 * header of ICMP errors). Never reads past `len`. No VPP types.
 */
#ifndef CP_PKT_H
#define CP_PKT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Result of a parse. */
enum {
  CP_PKT_OK = 0,
  CP_PKT_TRUNCATED = 1, /* buffer shorter than a header or than the IP total length */
  CP_PKT_MALFORMED = 2, /* a field holds an impossible value */
};

/* Flags. */
enum {
  CP_PKT_F_FRAGMENT = 1u << 0,   /* the packet is a fragment (first or later) */
  CP_PKT_F_LATER_FRAG = 1u << 1, /* a non-first fragment: no L4 header */
  CP_PKT_F_HAS_L4 = 1u << 2,     /* sport/dport or icmp fields are valid */
  CP_PKT_F_ICMP_ERROR = 1u << 3, /* ICMP/ICMPv6 error carrying an inner header */
  CP_PKT_F_IP4_OPTIONS = 1u << 4,
  CP_PKT_F_IP6_EXT = 1u << 5,     /* at least one IPv6 extension header */
  CP_PKT_F_INNER_L4 = 1u << 6,    /* inner ports/ICMP fields are valid */
  CP_PKT_F_INNER_LATER_FRAG = 1u << 7,
};

/* Address: IPv4 in the first 4 bytes (network order), rest zero; IPv6 all 16. */
typedef union {
  uint8_t b[16];
  uint32_t w[4];
  uint64_t q[2];
} cp_addr_t;

/* The inner header of an ICMP error (the packet the error is about). */
typedef struct {
  cp_addr_t src, dst;
  uint16_t l3_offset; /* offsets from the start of the outer packet */
  uint16_t l4_offset;
  uint16_t sport, dport; /* host order; ICMP echo: id in both */
  uint8_t proto;
  uint8_t icmp_type, icmp_code;
  uint8_t pad;
} cp_pkt_inner_t;

typedef struct {
  cp_addr_t src, dst;
  uint16_t l4_offset; /* bytes from the start of the IP header */
  uint16_t total_len; /* IP total length (v4) / 40 + payload length (v6) */
  uint16_t sport, dport; /* host order; TCP/UDP/SCTP ports; ICMP echo: id in both */
  uint32_t frag_id;      /* fragment identification (v4: 16 bits) */
  uint16_t frag_offset;  /* in bytes */
  uint16_t flags;        /* CP_PKT_F_* */
  uint8_t status;        /* CP_PKT_OK / TRUNCATED / MALFORMED */
  uint8_t af;            /* 4 or 6; 0 when not even the version could be read */
  uint8_t proto;         /* final L4 protocol / next header */
  uint8_t ttl;           /* TTL / hop limit */
  uint8_t icmp_type, icmp_code;
  uint8_t tcp_flags;
  uint8_t pad;
  cp_pkt_inner_t inner; /* valid when flags & CP_PKT_F_ICMP_ERROR */
} cp_pkt_t;

#define CP_IPPROTO_HOPOPTS 0
#define CP_IPPROTO_ICMP 1
#define CP_IPPROTO_TCP 6
#define CP_IPPROTO_UDP 17
#define CP_IPPROTO_ROUTING 43
#define CP_IPPROTO_FRAGMENT 44
#define CP_IPPROTO_ESP 50
#define CP_IPPROTO_AH 51
#define CP_IPPROTO_ICMPV6 58
#define CP_IPPROTO_NONE 59
#define CP_IPPROTO_DSTOPTS 60
#define CP_IPPROTO_SCTP 132

/* Parse one packet starting at its IP header. Returns p->status. */
int cp_pkt_parse(const uint8_t *data, uint32_t len, cp_pkt_t *p);
/* The same parser without its IPv4 TCP/UDP shortcut: the view must be identical (tests
 * and the fuzzer compare the two). */
int cp_pkt_parse_general(const uint8_t *data, uint32_t len, cp_pkt_t *p);

/*
 * The parser's IPv4 TCP/UDP shortcut, inline for batch loops: IPv4 without options, not a
 * fragment, TCP or UDP with its whole header inside the IP total length. When it applies
 * it writes every field of the view before `inner` exactly as cp_pkt_parse_general does
 * (each one: no memset of the whole view), leaves `inner` untouched (it is meaningful only
 * with CP_PKT_F_ICMP_ERROR, which such a packet never has) and returns 1; otherwise it
 * writes nothing and returns 0. cp_pkt_parse is this plus a cleared `inner`, else the
 * general parser; fuzz_pkt and the DNAT fast-path test compare all three views.
 */
static inline int cp_pkt_parse_ip4_l4(const uint8_t *d, uint32_t len, cp_pkt_t *p)
{
  if (len < 20 || d[0] != 0x45)
    return 0;
  uint32_t total = (uint32_t)d[2] << 8 | d[3];
  uint8_t proto = d[9];
  if (total > len || ((d[6] & 0x3f) | d[7]))
    return 0;
  const uint8_t *l4 = d + 20;
  if (proto == CP_IPPROTO_TCP) {
    if (total < 40) /* the fixed header first: its data offset byte must be inside */
      return 0;
    uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;
    if (doff < 20 || 20 + doff > total)
      return 0;
  } else if (proto != CP_IPPROTO_UDP || total < 28) {
    return 0;
  }
  uint32_t a;
  memcpy(&a, d + 12, 4);
  p->src.w[0] = a;
  p->src.w[1] = p->src.w[2] = p->src.w[3] = 0;
  memcpy(&a, d + 16, 4);
  p->dst.w[0] = a;
  p->dst.w[1] = p->dst.w[2] = p->dst.w[3] = 0;
  p->l4_offset = 20;
  p->total_len = (uint16_t)total;
  p->sport = (uint16_t)(l4[0] << 8 | l4[1]);
  p->dport = (uint16_t)(l4[2] << 8 | l4[3]);
  p->frag_id = (uint32_t)d[4] << 8 | d[5];
  p->frag_offset = 0;
  p->flags = CP_PKT_F_HAS_L4;
  p->status = CP_PKT_OK;
  p->af = 4;
  p->proto = proto;
  p->ttl = d[8];
  p->icmp_type = p->icmp_code = 0;
  p->tcp_flags = proto == CP_IPPROTO_TCP ? l4[13] : 0;
  p->pad = 0;
  return 1;
}

/* cp_pkt_parse for loops that never read `inner` without CP_PKT_F_ICMP_ERROR: the view
 * is cp_pkt_parse's except that the shortcut leaves `inner` as it was. */
static inline int cp_pkt_parse_outer(const uint8_t *data, uint32_t len, cp_pkt_t *p)
{
  if (cp_pkt_parse_ip4_l4(data, len, p))
    return CP_PKT_OK;
  return cp_pkt_parse_general(data, len, p);
}

/* Parse a burst; returns the number of packets whose status is CP_PKT_OK. */
uint32_t cp_pkt_parse_burst(const uint8_t *const *data, const uint32_t *len, uint32_t n,
                            cp_pkt_t *out);

/* True for ICMPv4 / ICMPv6 error types that carry an inner packet. */
int cp_icmp4_is_error(uint8_t type);
int cp_icmp6_is_error(uint8_t type);

#ifdef __cplusplus
}
#endif
#endif /* CP_PKT_H */
