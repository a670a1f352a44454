/*
 * Hash tables of the policy core: an id map (uint32 id -> uint32 index) for the object
 * pools, and the ipset member table (open addressing, linear probing, backward-shift
 * delete; keys hashed with cp/flowhash.h). One member table holds the members of every
 * set of a published configuration, keyed by (set, family, prefix length, address,
 * protocol, port): a membership test is one probe per prefix length present in the set
 * (one for IP and IP_AND_PORT sets), whatever the number of members.
 */
#ifndef CP_PTAB_H
#define CP_PTAB_H

#include <stdint.h>

#include "cp/flowhash.h"
#include "cp/pkt.h"

typedef struct {
  uint32_t *keys; /* UINT32_MAX: empty */
  uint32_t *vals;
  uint32_t cap, n; /* cap: power of two */
} cp_idmap_t;

int cp_idmap_init(cp_idmap_t *m, uint32_t cap_hint);
void cp_idmap_free(cp_idmap_t *m);
/* Insert or overwrite. 0, or -1 on allocation failure (map unchanged). */
int cp_idmap_put(cp_idmap_t *m, uint32_t key, uint32_t val);
int cp_idmap_del(cp_idmap_t *m, uint32_t key);

static inline uint32_t cp_idmap_hash(uint32_t key)
{
  return (uint32_t)(cp_mix64(key ^ CP_FH_K0, CP_FH_K1) >> 7);
}

/* Value for key, or UINT32_MAX. */
static inline uint32_t cp_idmap_get(const cp_idmap_t *m, uint32_t key)
{
  if (!m->cap)
    return UINT32_MAX;
  uint32_t mask = m->cap - 1;
  for (uint32_t i = cp_idmap_hash(key) & mask;; i = (i + 1) & mask) {
    if (m->keys[i] == key)
      return m->vals[i];
    if (m->keys[i] == UINT32_MAX)
      return UINT32_MAX;
  }
}

/* A member key; `set` is 0 inside a per-set configuration table. */
typedef struct {
  cp_addr_t addr;
  uint32_t set;
  uint16_t port;
  uint8_t af; /* 0: empty slot */
  uint8_t len;
  uint8_t proto;
  uint8_t pad[3];
} cp_mkey_t;

typedef struct {
  cp_mkey_t *slots;
  uint32_t cap, n;
} cp_mset_t;

int cp_mset_init(cp_mset_t *s, uint32_t cap_hint);
void cp_mset_free(cp_mset_t *s);
/* 1 inserted, 0 already present, -1 out of memory. */
int cp_mset_add(cp_mset_t *s, const cp_mkey_t *k);
/* 1 removed, 0 absent. */
int cp_mset_del(cp_mset_t *s, const cp_mkey_t *k);

/* The set is not hashed: every set's entry for one address lands in the same probe
 * chain, so the fast path can prefetch a packet's slots before it knows which sets a rule
 * will ask about. */
static inline uint32_t cp_mkey_hash(const cp_mkey_t *k)
{
  static const cp_addr_t zero = {{0}};
  return cp_flow_hash_tuple(&k->addr, &zero, k->port, (uint16_t)(k->af << 8 | k->len),
                            k->proto, CP_FH_5TUPLE, 0x5eed);
}


static inline int cp_mkey_eq(const cp_mkey_t *a, const cp_mkey_t *b)
{
  return a->addr.q[0] == b->addr.q[0] && a->addr.q[1] == b->addr.q[1] && a->set == b->set &&
         a->port == b->port && a->af == b->af && a->len == b->len && a->proto == b->proto;
}

static inline const cp_mkey_t *cp_mset_slot(const cp_mset_t *s, const cp_mkey_t *k)
{
  return &s->slots[cp_mkey_hash(k) & (s->cap - 1)];
}

/* Prefetch the slot where an exact address member (IP sets) would be. */
static inline void cp_mset_prefetch_addr(const cp_mset_t *s, const cp_addr_t *a, uint8_t af)
{
  cp_mkey_t k;
  k.addr = *a;
  k.set = 0;
  k.port = 0;
  k.af = af;
  k.len = af == 4 ? 32 : 128;
  k.proto = 0;
  __builtin_prefetch(cp_mset_slot(s, &k));
}

static inline int cp_mset_has(const cp_mset_t *s, const cp_mkey_t *k)
{
  if (!s->cap)
    return 0;
  uint32_t mask = s->cap - 1;
  for (uint32_t i = cp_mkey_hash(k) & mask;; i = (i + 1) & mask) {
    const cp_mkey_t *e = &s->slots[i];
    if (!e->af)
      return 0;
    if (cp_mkey_eq(e, k))
      return 1;
  }
}

/* Mask the address to `len` bits (the rest zero). */
static inline void cp_addr_mask(cp_addr_t *a, uint32_t len, uint32_t bits)
{
  for (uint32_t i = 0; i < 16; i++) {
    uint32_t lo = i * 8;
    if (lo >= bits || lo + 8 <= len)
      continue;
    if (lo >= len)
      a->b[i] = 0;
    else
      a->b[i] &= (uint8_t)(0xff << (8 - (len - lo)));
  }
  if (bits == 32)
    a->w[1] = a->w[2] = a->w[3] = 0;
}

#endif
