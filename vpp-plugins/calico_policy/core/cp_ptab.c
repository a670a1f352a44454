/* Id map and ipset member table. See cp_ptab.h. */
#include "cp_ptab.h"

#include <stdlib.h>
#include <string.h>

#include "cp/mem.h"

static uint32_t pow2_at_least(uint32_t n)
{
  uint32_t c = 16;
  while (c < n)
    c <<= 1;
  return c;
}

int cp_idmap_init(cp_idmap_t *m, uint32_t cap_hint)
{
  memset(m, 0, sizeof(*m));
  uint32_t cap = pow2_at_least(cap_hint * 2);
  m->keys = malloc(cap * sizeof(uint32_t));
  m->vals = malloc(cap * sizeof(uint32_t));
  if (!m->keys || !m->vals) {
    cp_idmap_free(m);
    return -1;
  }
  memset(m->keys, 0xff, cap * sizeof(uint32_t));
  m->cap = cap;
  return 0;
}

void cp_idmap_free(cp_idmap_t *m)
{
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof(*m));
}

static void idmap_insert_raw(cp_idmap_t *m, uint32_t key, uint32_t val)
{
  uint32_t mask = m->cap - 1;
  for (uint32_t i = cp_idmap_hash(key) & mask;; i = (i + 1) & mask) {
    if (m->keys[i] == key) {
      m->vals[i] = val;
      return;
    }
    if (m->keys[i] == UINT32_MAX) {
      m->keys[i] = key;
      m->vals[i] = val;
      m->n++;
      return;
    }
  }
}

int cp_idmap_put(cp_idmap_t *m, uint32_t key, uint32_t val)
{
  if (key == UINT32_MAX)
    return -1;
  if (!m->cap || (m->n + 1) * 2 > m->cap) {
    cp_idmap_t g;
    if (cp_idmap_init(&g, m->cap ? m->cap : 16) != 0)
      return -1;
    for (uint32_t i = 0; i < m->cap; i++)
      if (m->keys[i] != UINT32_MAX)
        idmap_insert_raw(&g, m->keys[i], m->vals[i]);
    cp_idmap_free(m);
    *m = g;
  }
  idmap_insert_raw(m, key, val);
  return 0;
}

int cp_idmap_del(cp_idmap_t *m, uint32_t key)
{
  if (!m->cap)
    return 0;
  uint32_t mask = m->cap - 1, i = cp_idmap_hash(key) & mask;
  for (;; i = (i + 1) & mask) {
    if (m->keys[i] == UINT32_MAX)
      return 0;
    if (m->keys[i] == key)
      break;
  }
  /* backward-shift deletion keeps probe chains intact without tombstones */
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (m->keys[j] == UINT32_MAX)
      break;
    uint32_t h = cp_idmap_hash(m->keys[j]) & mask;
    /* move j back to i when its home h is not in (i, j] cyclically */
    if ((i <= j) ? (h <= i || h > j) : (h <= i && h > j)) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->keys[i] = UINT32_MAX;
  m->n--;
  return 1;
}

int cp_mset_init(cp_mset_t *s, uint32_t cap_hint)
{
  memset(s, 0, sizeof(*s));
  uint32_t cap = pow2_at_least(cap_hint * 2);
  s->slots = cp_calloc_huge(cap, sizeof(cp_mkey_t)); /* large sets: huge pages */
  if (!s->slots)
    return -1;
  s->cap = cap;
  return 0;
}

void cp_mset_free(cp_mset_t *s)
{
  free(s->slots);
  memset(s, 0, sizeof(*s));
}

static void mset_insert_raw(cp_mset_t *s, const cp_mkey_t *k)
{
  uint32_t mask = s->cap - 1;
  for (uint32_t i = cp_mkey_hash(k) & mask;; i = (i + 1) & mask)
    if (!s->slots[i].af) {
      s->slots[i] = *k;
      s->n++;
      return;
    }
}

int cp_mset_add(cp_mset_t *s, const cp_mkey_t *k)
{
  if (cp_mset_has(s, k))
    return 0;
  if (!s->cap || (s->n + 1) * 2 > s->cap) {
    cp_mset_t g;
    if (cp_mset_init(&g, s->cap ? s->cap : 16) != 0)
      return -1;
    for (uint32_t i = 0; i < s->cap; i++)
      if (s->slots[i].af)
        mset_insert_raw(&g, &s->slots[i]);
    cp_mset_free(s);
    *s = g;
  }
  mset_insert_raw(s, k);
  return 1;
}

int cp_mset_del(cp_mset_t *s, const cp_mkey_t *k)
{
  if (!s->cap)
    return 0;
  uint32_t mask = s->cap - 1, i = cp_mkey_hash(k) & mask;
  for (;; i = (i + 1) & mask) {
    if (!s->slots[i].af)
      return 0;
    if (cp_mkey_eq(&s->slots[i], k))
      break;
  }
  uint32_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!s->slots[j].af)
      break;
    uint32_t h = cp_mkey_hash(&s->slots[j]) & mask;
    if ((i <= j) ? (h <= i || h > j) : (h <= i && h > j)) {
      s->slots[i] = s->slots[j];
      i = j;
    }
  }
  memset(&s->slots[i], 0, sizeof(s->slots[i]));
  s->n--;
  return 1;
}
