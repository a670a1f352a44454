/*
 * sessionAffinity: ClientIP. Per worker, a 4-way set-associative table of
 * (client address, translation) -> backend id and generation, refreshed by every new flow
 * of the client and forgotten after the translation's timeout. Affinity translations
 * hash the client address only, so a client lands on the same backend on every worker
 * while the backend set is unchanged; the table keeps it there across set changes.
 * Under pressure the least recently refreshed entry of a set is replaced.
 */
#ifndef CDN_AFFINITY_INLINE_H
#define CDN_AFFINITY_INLINE_H

#include "cdn_internal.h"
#include "cp/flowhash.h"

static inline cdn_aff_t *cdn_aff_set(cdn_worker_t *w, const cp_addr_t *client, uint32_t xid)
{
  static const cp_addr_t zero;
  uint32_t h = cp_flow_hash_tuple(client, &zero, 0, 0, 0, CP_FH_SRC_ADDR, 0x61666600u + xid);
  return &w->aff[(h & (w->aff_sets - 1)) * CDN_AFF_WAYS];
}

static inline cdn_aff_t *cdn_aff_lookup(cdn_worker_t *w, const cp_addr_t *client, uint32_t xid,
                                        uint32_t now)
{
  cdn_aff_t *set = cdn_aff_set(w, client, xid);
  for (uint32_t j = 0; j < CDN_AFF_WAYS; j++) {
    cdn_aff_t *e = &set[j];
    if (e->expires && e->xid == xid && cdn_addr_eq(&e->client, client)) {
      if (cdn_time_reached(now, e->expires)) {
        e->expires = 0;
        return NULL;
      }
      return e;
    }
  }
  return NULL;
}

static inline void cdn_aff_store(cdn_worker_t *w, const cp_addr_t *client, uint32_t xid,
                                 uint32_t be_id, uint32_t be_gen, uint32_t expires, uint32_t now)
{
  cdn_aff_t *set = cdn_aff_set(w, client, xid);
  cdn_aff_t *victim = NULL;
  for (uint32_t j = 0; j < CDN_AFF_WAYS && !victim; j++)
    if (set[j].expires && set[j].xid == xid && cdn_addr_eq(&set[j].client, client))
      victim = &set[j];
  for (uint32_t j = 0; j < CDN_AFF_WAYS && !victim; j++)
    if (!set[j].expires || cdn_time_reached(now, set[j].expires))
      victim = &set[j];
  if (!victim) {
    victim = &set[0];
    for (uint32_t j = 1; j < CDN_AFF_WAYS; j++)
      if ((int32_t)(set[j].expires - victim->expires) < 0)
        victim = &set[j];
  }
  victim->client = *client;
  victim->xid = xid;
  victim->be_id = be_id;
  victim->be_gen = be_gen;
  victim->expires = expires ? expires : 1;
}

#endif
