/* Tiny IPv4/IPv6 TCP/UDP packet builder for the C tests (checksums filled). */
#ifndef CDN_TEST_PKTGEN_H
#define CDN_TEST_PKTGEN_H

#include <string.h>

#include "cp/csum.h"
#include "cp/pkt.h"

static inline cp_addr_t v4(uint32_t a)
{
  cp_addr_t r;
  memset(&r, 0, sizeof(r));
  r.b[0] = (uint8_t)(a >> 24);
  r.b[1] = (uint8_t)(a >> 16);
  r.b[2] = (uint8_t)(a >> 8);
  r.b[3] = (uint8_t)a;
  return r;
}

static inline cp_addr_t v6(uint16_t net, uint32_t host)
{
  cp_addr_t r;
  memset(&r, 0, sizeof(r));
  r.b[0] = 0xfd;
  r.b[2] = (uint8_t)(net >> 8);
  r.b[3] = (uint8_t)net;
  r.b[12] = (uint8_t)(host >> 24);
  r.b[13] = (uint8_t)(host >> 16);
  r.b[14] = (uint8_t)(host >> 8);
  r.b[15] = (uint8_t)host;
  return r;
}

/* Build af/proto packet with 4 bytes of payload into b; returns its length. */
static inline uint32_t mkpkt(uint8_t *b, uint8_t af, uint8_t proto, cp_addr_t src, cp_addr_t dst,
                             uint16_t sport, uint16_t dport, uint8_t tcp_flags)
{
  uint32_t l3 = af == 4 ? 20 : 40;
  uint32_t l4len = (proto == CP_IPPROTO_TCP ? 20 : 8) + 4;
  uint32_t total = l3 + l4len;
  memset(b, 0, total);
  if (af == 4) {
    b[0] = 0x45;
    b[2] = (uint8_t)(total >> 8);
    b[3] = (uint8_t)total;
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, src.b, 4);
    memcpy(b + 16, dst.b, 4);
    uint16_t c = cp_ip4_header_csum(b, 20);
    memcpy(b + 10, &c, 2);
  } else {
    b[0] = 0x60;
    b[4] = (uint8_t)(l4len >> 8);
    b[5] = (uint8_t)l4len;
    b[6] = proto;
    b[7] = 64;
    memcpy(b + 8, src.b, 16);
    memcpy(b + 24, dst.b, 16);
  }
  uint8_t *l4 = b + l3;
  l4[0] = (uint8_t)(sport >> 8);
  l4[1] = (uint8_t)sport;
  l4[2] = (uint8_t)(dport >> 8);
  l4[3] = (uint8_t)dport;
  if (proto == CP_IPPROTO_TCP) {
    l4[12] = 5 << 4;
    l4[13] = tcp_flags;
    memcpy(l4 + 20, "data", 4);
  } else {
    l4[4] = (uint8_t)(l4len >> 8);
    l4[5] = (uint8_t)l4len;
    memcpy(l4 + 8, "data", 4);
  }
  uint16_t c = af == 4 ? cp_l4_csum4(src.b, dst.b, proto, l4, l4len)
                       : cp_l4_csum6(src.b, dst.b, proto, l4, l4len);
  if (proto == CP_IPPROTO_UDP)
    c = cp_udp_csum_fixup(c);
  memcpy(l4 + (proto == CP_IPPROTO_TCP ? 16 : 6), &c, 2);
  return total;
}

/* 1 when every checksum of the packet verifies. */
static inline int csum_ok(const uint8_t *b, uint32_t len)
{
  cp_pkt_t p;
  if (cp_pkt_parse(b, len, &p) != CP_PKT_OK)
    return 0;
  if (p.af == 4 && cp_csum(b, 20) != 0)
    return 0;
  const uint8_t *l4 = b + p.l4_offset;
  uint32_t l4len = p.total_len - p.l4_offset;
  uint64_t acc = p.af == 4 ? cp_csum_pseudo4(p.src.b, p.dst.b, p.proto, l4len)
                           : cp_csum_pseudo6(p.src.b, p.dst.b, p.proto, l4len);
  acc = cp_csum_add_bytes(acc, l4, l4len);
  return cp_csum_fold(acc) == 0xffff;
}

#endif
