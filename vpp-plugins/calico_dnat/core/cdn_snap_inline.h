/*
 * Lookups in the published snapshot that the burst path and the owner function share:
 * the VIP key table (with its address and backend markers) and the node addresses.
 * Read-only, called inside an epoch section.
 */
#ifndef CDN_SNAP_INLINE_H
#define CDN_SNAP_INLINE_H

#include "cdn_internal.h"

static inline const cdn_vkey_t *vkey_find(const cdn_snap_t *s, uint8_t af, const cp_addr_t *a,
                                          uint8_t proto, uint16_t port)
{
  uint32_t i = cdn_vkey_hash(af, a, proto, port) & s->mask;
  for (;; i = (i + 1) & s->mask) {
    const cdn_vkey_t *k = cdn_vkey_slot(s, i);
    if (!k->used)
      return NULL;
    if (k->port == port && k->proto == proto && k->af == af && cdn_addr_eq(&k->addr, a))
      return k;
  }
}

static inline int is_node_addr(const cdn_snap_t *s, uint8_t af, const cp_addr_t *a)
{
  for (uint32_t i = 0; i < s->n_node; i++)
    if (s->node[i].af == af && cdn_addr_eq(&s->node[i].addr, a))
      return 1;
  return 0;
}

#endif /* CDN_SNAP_INLINE_H */
