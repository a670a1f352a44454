/*
 * Shared plumbing of the plugins' API message handlers (vpp-plugins/<plugin>/api/):
 * the reply sink, VPP's return values, wire address helpers and a small u32 -> pointer
 * map for the handlers' object records. Header-only, no VPP types.
 *
 * A handler takes one request as it arrives on the wire (network byte order, starting
 * with the u16 message id), validates it completely (length against the layout and
 * every count, enum values, address families, ids), calls the core, and sends its reply
 * (and, for dumps, details) through a cp_api_send_fn. A rejected request changes
 * nothing. Return values are VPP's (vnet/error.h): 0 or a negative VNET_API_ERROR_*.
 */
#ifndef CP_API_H
#define CP_API_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp/pkt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* VPP's API return values (the numbers are VPP's, vnet/error.h) */
enum {
  CP_API_OK = 0,
  CP_API_E_UNSPECIFIED = -1,
  CP_API_E_INVALID_SW_IF_INDEX = -2,
  CP_API_E_NO_SUCH_ENTRY = -6,
  CP_API_E_INVALID_VALUE = -7,
  CP_API_E_INVALID_VALUE_2 = -8,
  CP_API_E_UNIMPLEMENTED = -9,
  CP_API_E_INVALID_ARGUMENT = -73, /* message length does not match its layout/counts */
  CP_API_E_INVALID_ADDRESS_FAMILY = -97,
  CP_API_E_TABLE_TOO_BIG = -99,
  CP_API_E_ENTRY_ALREADY_EXISTS = -116,
  CP_API_E_INSTANCE_IN_USE = -147,
  CP_API_E_INVALID_PROTOCOL = -153,
  CP_API_E_LIMIT_EXCEEDED = -162,
};

/* What *_api_handle returns when no reply can be built at all (the caller, e.g. the
 * in-process transport, reports it); VPP drops such messages the same way. */
enum {
  CP_API_HANDLED = 0,
  CP_API_NO_REPLY_SHORT = 1,   /* shorter than the request header: no context to reply to */
  CP_API_NO_REPLY_UNKNOWN = 2, /* not a request id of this plugin */
  CP_API_NO_REPLY_DUMP = 3,    /* a malformed dump request: VPP sends no details and no reply */
};

#define CP_API_MAX_MSG (64u << 20) /* larger requests are rejected */

/* Called once per reply or details message: msg is complete, in network byte order, and
 * only valid during the call. */
typedef void (*cp_api_send_fn)(void *arg, const void *msg, uint32_t len);

/* Interface feature hook (VPP: vnet_feature_enable_disable; in process: NULL), with the
 * plugin's per-interface flags (calico_dnat: the pod role). Returns 0 or a CP_API_E_*
 * value. */
typedef int (*cp_api_interface_fn)(void *arg, uint32_t sw_if_index, int enable,
                                   uint32_t flags);

/* The interfaces a plugin's feature is enabled on: a sorted set of sw_if_index with each
 * one's flags, plus the hook that turns the feature on in the dataplane. The hook runs
 * before the set changes, so a refusal changes nothing. Control plane only (allocates). */
typedef struct {
  cp_api_interface_fn fn;
  void *arg;
  uint32_t *v;     /* sorted */
  uint32_t *flags; /* flags[i] of v[i] */
  uint32_t n, cap;
} cp_api_ifset_t;

static inline uint32_t cp_api_ifset_pos(const cp_api_ifset_t *s, uint32_t sw)
{
  uint32_t lo = 0, hi = s->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (s->v[mid] < sw)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Enable (1, with `flags`) or disable (0) the feature on sw_if_index. Enabling an enabled
 * interface with other flags changes its flags. Returns CP_API_OK, ENTRY_ALREADY_EXISTS /
 * NO_SUCH_ENTRY for a no-op request, or the hook's error. */
static inline int32_t cp_api_ifset_set(cp_api_ifset_t *s, uint32_t sw, int enable,
                                       uint32_t flags)
{
  uint32_t pos = cp_api_ifset_pos(s, sw);
  int present = pos < s->n && s->v[pos] == sw;
  if (enable == present && (!enable || s->flags[pos] == flags))
    return enable ? CP_API_E_ENTRY_ALREADY_EXISTS : CP_API_E_NO_SUCH_ENTRY;
  if (enable && !present && s->n == s->cap) {
    uint32_t ncap = s->cap ? s->cap * 2 : 16;
    uint32_t *n = (uint32_t *)realloc(s->v, ncap * sizeof(*n));
    if (!n)
      return CP_API_E_UNSPECIFIED;
    s->v = n;
    uint32_t *f = (uint32_t *)realloc(s->flags, ncap * sizeof(*f));
    if (!f)
      return CP_API_E_UNSPECIFIED; /* v grew, nothing else changed */
    s->flags = f;
    s->cap = ncap;
  }
  if (s->fn) {
    int rv = s->fn(s->arg, sw, enable, enable ? flags : 0);
    if (rv)
      return rv;
  }
  if (enable && present) {
    s->flags[pos] = flags;
  } else if (enable) {
    memmove(&s->v[pos + 1], &s->v[pos], (s->n - pos) * sizeof(*s->v));
    memmove(&s->flags[pos + 1], &s->flags[pos], (s->n - pos) * sizeof(*s->flags));
    s->v[pos] = sw;
    s->flags[pos] = flags;
    s->n++;
  } else {
    memmove(&s->v[pos], &s->v[pos + 1], (s->n - pos - 1) * sizeof(*s->v));
    memmove(&s->flags[pos], &s->flags[pos + 1], (s->n - pos - 1) * sizeof(*s->flags));
    s->n--;
  }
  return CP_API_OK;
}

static inline void cp_api_ifset_free(cp_api_ifset_t *s)
{
  free(s->v);
  free(s->flags);
  memset(s, 0, sizeof(*s));
}

/* ---- wire address helpers (vl_api_address_t: u8 af (0 = IPv4, 1 = IPv6), u8 un[16]) ---- */
/* Convert a wire address into a core address (family 4 or 6, IPv4 in the first 4 bytes,
 * rest zero). Returns 0, or CP_API_E_INVALID_ADDRESS_FAMILY. */
static inline int cp_api_addr_from_wire(uint8_t wire_af, const uint8_t *un, uint8_t *af,
                                        cp_addr_t *out)
{
  memset(out, 0, sizeof(*out));
  if (wire_af == 0) {
    memcpy(out->b, un, 4);
    *af = 4;
    return 0;
  }
  if (wire_af == 1) {
    memcpy(out->b, un, 16);
    *af = 6;
    return 0;
  }
  return CP_API_E_INVALID_ADDRESS_FAMILY;
}

static inline void cp_api_addr_to_wire(uint8_t af, const cp_addr_t *a, uint8_t *wire_af,
                                       uint8_t *un)
{
  memset(un, 0, 16);
  if (af == 6) {
    *wire_af = 1;
    memcpy(un, a->b, 16);
  } else {
    *wire_af = 0;
    memcpy(un, a->b, 4);
  }
}

/* 1 when the bits of a past len are all zero (a prefix without host bits). */
static inline int cp_api_prefix_is_canonical(const cp_addr_t *a, uint8_t af, uint8_t len)
{
  uint32_t bits = af == 6 ? 128 : 32;
  for (uint32_t i = len; i < bits; i++)
    if (a->b[i >> 3] & (0x80u >> (i & 7)))
      return 0;
  return 1;
}

/* ---- u32 -> pointer map (open addressing, linear probing, backward-shift delete) ---- */
typedef struct {
  uint32_t *keys;
  void **vals;
  uint32_t cap; /* power of two, 0 when empty */
  uint32_t n;
} cp_api_map_t;

static inline uint32_t cp_api_map_slot(uint32_t key, uint32_t mask)
{
  uint32_t h = key * 0x9E3779B1u;
  return (h ^ (h >> 16)) & mask;
}

static inline void *cp_api_map_get(const cp_api_map_t *m, uint32_t key)
{
  if (!m->cap)
    return NULL;
  uint32_t mask = m->cap - 1;
  for (uint32_t i = cp_api_map_slot(key, mask);; i = (i + 1) & mask) {
    if (!m->vals[i])
      return NULL;
    if (m->keys[i] == key)
      return m->vals[i];
  }
}

static inline int cp_api_map_grow(cp_api_map_t *m)
{
  uint32_t ncap = m->cap ? m->cap * 2 : 16;
  uint32_t *k = calloc(ncap, sizeof(*k));
  void **v = calloc(ncap, sizeof(*v));
  if (!k || !v) {
    free(k);
    free(v);
    return -1;
  }
  for (uint32_t j = 0; j < m->cap; j++) {
    if (!m->vals[j])
      continue;
    uint32_t i = cp_api_map_slot(m->keys[j], ncap - 1);
    while (v[i])
      i = (i + 1) & (ncap - 1);
    k[i] = m->keys[j];
    v[i] = m->vals[j];
  }
  free(m->keys);
  free(m->vals);
  m->keys = k;
  m->vals = v;
  m->cap = ncap;
  return 0;
}

/* Insert or replace (val != NULL). Returns 0, or -1 on allocation failure (map intact);
 * replacing an existing key never allocates, so it cannot fail. */
static inline int cp_api_map_set(cp_api_map_t *m, uint32_t key, void *val)
{
  if (m->cap) {
    uint32_t mask = m->cap - 1;
    for (uint32_t i = cp_api_map_slot(key, mask); m->vals[i]; i = (i + 1) & mask) {
      if (m->keys[i] == key) {
        m->vals[i] = val;
        return 0;
      }
    }
  }
  if ((m->n + 1) * 4 > m->cap * 3 && cp_api_map_grow(m))
    return -1;
  uint32_t mask = m->cap - 1;
  uint32_t i = cp_api_map_slot(key, mask);
  while (m->vals[i] && m->keys[i] != key)
    i = (i + 1) & mask;
  if (!m->vals[i])
    m->n++;
  m->keys[i] = key;
  m->vals[i] = val;
  return 0;
}

/* Remove; returns the value that was there (or NULL). */
static inline void *cp_api_map_del(cp_api_map_t *m, uint32_t key)
{
  if (!m->cap)
    return NULL;
  uint32_t mask = m->cap - 1;
  uint32_t i = cp_api_map_slot(key, mask);
  while (m->vals[i] && m->keys[i] != key)
    i = (i + 1) & mask;
  void *old = m->vals[i];
  if (!old)
    return NULL;
  m->vals[i] = NULL;
  m->n--;
  /* backward-shift the rest of the cluster so lookups never stop early */
  for (uint32_t j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
    uint32_t home = cp_api_map_slot(m->keys[j], mask);
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      m->vals[j] = NULL;
      i = j;
    }
  }
  return old;
}

/* Iterate: *pos starts at 0; returns the next value (and its key) or NULL at the end. */
static inline void *cp_api_map_next(const cp_api_map_t *m, uint32_t *pos, uint32_t *key)
{
  for (; *pos < m->cap; (*pos)++) {
    if (m->vals[*pos]) {
      *key = m->keys[*pos];
      return m->vals[(*pos)++];
    }
  }
  return NULL;
}

static inline void cp_api_map_free(cp_api_map_t *m)
{
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof(*m));
}

/* Ascending keys of a map (caller frees); dumps list objects in id order. */
static inline int cp_api_u32_cmp(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static inline uint32_t *cp_api_map_sorted_keys(const cp_api_map_t *m)
{
  uint32_t *keys = malloc((m->n ? m->n : 1) * sizeof(*keys));
  if (!keys)
    return NULL;
  uint32_t pos = 0, k, n = 0;
  while (cp_api_map_next(m, &pos, &k))
    keys[n++] = k;
  qsort(keys, n, sizeof(*keys), cp_api_u32_cmp);
  return keys;
}

/* ---- reply collector: a cp_api_send_fn that appends [u32 length (big-endian)][message]
 * records to a growable buffer (in-process transport, tests, fuzzers). ---- */
typedef struct {
  uint8_t *buf;
  uint32_t len, cap;
  uint32_t n_msgs;
  uint32_t oom; /* messages dropped for lack of memory */
} cp_api_collect_t;

static inline void cp_api_collect_send(void *arg, const void *msg, uint32_t len)
{
  cp_api_collect_t *c = (cp_api_collect_t *)arg;
  uint64_t need = (uint64_t)c->len + 4 + len;
  if (need > c->cap) {
    uint64_t ncap = c->cap ? c->cap : 4096;
    while (ncap < need)
      ncap *= 2;
    uint8_t *n = ncap > 0xffffffffu ? NULL : (uint8_t *)realloc(c->buf, ncap);
    if (!n) {
      c->oom++;
      return;
    }
    c->buf = n;
    c->cap = (uint32_t)ncap;
  }
  uint8_t *p = c->buf + c->len;
  p[0] = (uint8_t)(len >> 24);
  p[1] = (uint8_t)(len >> 16);
  p[2] = (uint8_t)(len >> 8);
  p[3] = (uint8_t)len;
  memcpy(p + 4, msg, len);
  c->len += 4 + len;
  c->n_msgs++;
}

static inline void cp_api_collect_reset(cp_api_collect_t *c)
{
  c->len = 0;
  c->n_msgs = 0;
  c->oom = 0;
}

static inline void cp_api_collect_free(cp_api_collect_t *c)
{
  free(c->buf);
  memset(c, 0, sizeof(*c));
}

/* Walk a batch of [u32 length (big-endian)][message] records: returns the record at
 * *off (advancing it), or NULL at the end or on a truncated record (*bad set). */
static inline const uint8_t *cp_api_batch_next(const uint8_t *blob, uint32_t total,
                                               uint32_t *off, uint32_t *len, int *bad)
{
  if (*off == total)
    return NULL;
  if (total - *off < 4) {
    *bad = 1;
    return NULL;
  }
  const uint8_t *p = blob + *off;
  uint32_t l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  if (l > total - *off - 4) {
    *bad = 1;
    return NULL;
  }
  *off += 4 + l;
  *len = l;
  return p + 4;
}

#ifdef __cplusplus
}
#endif
#endif /* CP_API_H */
