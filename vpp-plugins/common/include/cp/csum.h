/*
 * Internet checksum: full computation (RFC 1071), pseudo-headers, and
 * incremental update (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
 * Sums are kept in 32/64-bit one's-complement accumulators; values are in
 * network byte order as they sit in the packet, so no byte swapping is needed.
 */
#ifndef CP_CSUM_H
#define CP_CSUM_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fold a 64-bit one's-complement accumulator to 16 bits (not inverted). */
static inline uint16_t cp_csum_fold(uint64_t s)
{
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return (uint16_t)s;
}

/*
 * One's-complement sum of `len` bytes, added to `acc`. The bytes are read as
 * 16-bit words in memory order; the result folds to the checksum field value in
 * memory order as well (the sum is byte-order independent, RFC 1071 2.(B)).
 */
static inline uint64_t cp_csum_add_bytes(uint64_t acc, const void *data, uint32_t len)
{
  const uint8_t *p = (const uint8_t *)data;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len) {
    uint16_t w = 0;
    memcpy(&w, p, 1); /* pad the odd byte with a zero in the following position */
    acc += w;
  }
  return acc;
}

/* Checksum field value (inverted) over a buffer. */
static inline uint16_t cp_csum(const void *data, uint32_t len)
{
  return (uint16_t)~cp_csum_fold(cp_csum_add_bytes(0, data, len));
}

static inline uint16_t cp_htons(uint16_t v)
{
  const uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  uint16_t r;
  memcpy(&r, b, 2);
  return r;
}

/* Pseudo-header sums (not inverted). Addresses in network order; len is host order. */
static inline uint64_t cp_csum_pseudo4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
                                       uint32_t l4_len)
{
  uint64_t acc = cp_csum_add_bytes(0, src, 4);
  acc = cp_csum_add_bytes(acc, dst, 4);
  acc += cp_htons(proto);
  acc += cp_htons((uint16_t)l4_len);
  return acc;
}

static inline uint64_t cp_csum_pseudo6(const uint8_t src[16], const uint8_t dst[16],
                                       uint8_t proto, uint32_t l4_len)
{
  uint64_t acc = cp_csum_add_bytes(0, src, 16);
  acc = cp_csum_add_bytes(acc, dst, 16);
  acc += cp_htons((uint16_t)(l4_len >> 16));
  acc += cp_htons((uint16_t)l4_len);
  acc += cp_htons(proto);
  return acc;
}

/* IPv4 header checksum field value for a header of `ihl_bytes` (>= 20); the checksum
 * field itself (bytes 10-11) is skipped. */
static inline uint16_t cp_ip4_header_csum(const uint8_t *ip, uint32_t ihl_bytes)
{
  uint64_t acc = cp_csum_add_bytes(0, ip, 10);
  acc = cp_csum_add_bytes(acc, ip + 12, ihl_bytes - 12);
  return (uint16_t)~cp_csum_fold(acc);
}

/* L4 checksum field value: pseudo-header + L4 bytes (the checksum field itself must be
 * zero in `l4`). */
static inline uint16_t cp_l4_csum4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
                                   const uint8_t *l4, uint32_t l4_len)
{
  uint64_t acc = cp_csum_pseudo4(src, dst, proto, l4_len);
  acc = cp_csum_add_bytes(acc, l4, l4_len);
  return (uint16_t)~cp_csum_fold(acc);
}

static inline uint16_t cp_l4_csum6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
                                   const uint8_t *l4, uint32_t l4_len)
{
  uint64_t acc = cp_csum_pseudo6(src, dst, proto, l4_len);
  acc = cp_csum_add_bytes(acc, l4, l4_len);
  return (uint16_t)~cp_csum_fold(acc);
}

/*
 * Incremental update (RFC 1624 eqn. 3). `old`/`new` are bytes of equal length `len`
 * (a multiple of 2) taken at an even offset of the checksummed data.
 */
static inline uint16_t cp_csum_update(uint16_t field, const void *old, const void *newv,
                                      uint32_t len)
{
  uint64_t acc = (uint16_t)~field;
  const uint8_t *o = (const uint8_t *)old;
  for (uint32_t i = 0; i < len; i += 2) {
    uint16_t w;
    memcpy(&w, o + i, 2);
    acc += (uint16_t)~w;
  }
  acc = cp_csum_add_bytes(acc, newv, len);
  return (uint16_t)~cp_csum_fold(acc);
}

/* Incremental update for one 16-bit / 32-bit value (network order, as in the packet). */
static inline uint16_t cp_csum_update16(uint16_t field, uint16_t old, uint16_t newv)
{
  uint64_t acc = (uint64_t)(uint16_t)~field + (uint16_t)~old + newv;
  return (uint16_t)~cp_csum_fold(acc);
}

static inline uint16_t cp_csum_update32(uint16_t field, uint32_t old, uint32_t newv)
{
  uint64_t acc = (uint64_t)(uint16_t)~field + (uint16_t)~(old & 0xffff) +
                 (uint16_t)~(old >> 16) + (newv & 0xffff) + (newv >> 16);
  return (uint16_t)~cp_csum_fold(acc);
}

/*
 * UDP over IPv4 sends 0 for "no checksum"; a computed 0 is sent as 0xffff
 * (RFC 768). An incremental update of a present UDP checksum must keep that rule.
 */
static inline uint16_t cp_udp_csum_fixup(uint16_t field) { return field ? field : 0xffff; }

/* Exported forms, for bindings and callers that do not inline. */
uint16_t cp_csum_bytes(const uint8_t *data, uint32_t len);
uint16_t cp_csum_update_bytes(uint16_t field, const uint8_t *old, const uint8_t *newv,
                              uint32_t len);
uint16_t cp_ip4_hdr_csum(const uint8_t *ip, uint32_t ihl_bytes);
/* L4 checksum over pseudo-header + l4[0..len) for af 4 or 6 (field zeroed by caller). */
uint16_t cp_l4_csum(uint8_t af, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                    const uint8_t *l4, uint32_t len);

#ifdef __cplusplus
}
#endif
#endif /* CP_CSUM_H */
