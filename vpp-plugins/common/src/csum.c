#include "cp/csum.h"

uint16_t cp_csum_bytes(const uint8_t *data, uint32_t len) { return cp_csum(data, len); }

uint16_t cp_csum_update_bytes(uint16_t field, const uint8_t *old, const uint8_t *newv,
                              uint32_t len)
{
  return cp_csum_update(field, old, newv, len);
}

uint16_t cp_ip4_hdr_csum(const uint8_t *ip, uint32_t ihl_bytes)
{
  return cp_ip4_header_csum(ip, ihl_bytes);
}

uint16_t cp_l4_csum(uint8_t af, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                    const uint8_t *l4, uint32_t len)
{
  return af == 4 ? cp_l4_csum4(src, dst, proto, l4, len) : cp_l4_csum6(src, dst, proto, l4, len);
}
