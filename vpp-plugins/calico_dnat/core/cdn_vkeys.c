/*
 * The VIP key table (control side): open addressing with linear probing, stored in
 * 4 KiB pages that snapshots share. A change copies only the pages it writes (copy on
 * write) and the next snapshot gets a fresh page-pointer array, so publishing a change
 * costs O(pages touched + pages) instead of rebuilding every key: programming N services
 * is O(N), not O(N^2). Pages a published snapshot can still see are never written; the
 * ones a change replaced are retired through the epoch domain once it is published.
 *
 * A change is a transaction: cdn_publish() commits it (cdn_vk_commit) or, when the
 * snapshot cannot be allocated, undoes it (cdn_vk_abort), leaving the table as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdn_internal.h"

#define PAGE_BYTES (sizeof(cdn_vkey_t) * CDN_VKEY_PAGE)

static uint32_t n_pages(uint32_t mask) { return (mask + 1) >> CDN_VKEY_PAGE_BITS; }

static cdn_vkey_t *slot_r(const cdn_ctx_t *ctx, uint32_t i)
{
  return &ctx->vk_pages[i >> CDN_VKEY_PAGE_BITS][i & (CDN_VKEY_PAGE - 1)];
}

static uint32_t refs_get(const cdn_vkey_t *k)
{
  return (uint32_t)k->refs[0] | (uint32_t)k->refs[1] << 8 | (uint32_t)k->refs[2] << 16;
}

static void refs_set(cdn_vkey_t *k, uint32_t v)
{
  k->refs[0] = (uint8_t)v;
  k->refs[1] = (uint8_t)(v >> 8);
  k->refs[2] = (uint8_t)(v >> 16);
}

/* Arrays sized for `pages` pages: page pointers, fresh flags, undo log. */
typedef struct {
  cdn_vkey_t **pages;
  uint8_t *fresh;
  uint32_t *undo_page;
  cdn_vkey_t **undo_old;
} vk_arrays_t;

static void arrays_free(vk_arrays_t *a)
{
  free(a->pages);
  free(a->fresh);
  free(a->undo_page);
  free(a->undo_old);
}

static int arrays_alloc(vk_arrays_t *a, uint32_t pages)
{
  a->pages = calloc(pages, sizeof(*a->pages));
  a->fresh = calloc(pages, 1);
  a->undo_page = calloc(pages, sizeof(*a->undo_page));
  a->undo_old = calloc(pages, sizeof(*a->undo_old));
  if (a->pages && a->fresh && a->undo_page && a->undo_old)
    return 0;
  arrays_free(a);
  return -ENOMEM;
}

static void free_pages(cdn_vkey_t **pages, uint32_t n)
{
  for (uint32_t i = 0; pages && i < n; i++)
    free(pages[i]);
}

int cdn_vk_init(cdn_ctx_t *ctx)
{
  vk_arrays_t a;
  if (arrays_alloc(&a, 1) < 0)
    return -ENOMEM;
  a.pages[0] = calloc(1, PAGE_BYTES);
  if (!a.pages[0]) {
    arrays_free(&a);
    return -ENOMEM;
  }
  ctx->vk_mask = CDN_VKEY_PAGE - 1;
  ctx->vk_used = 0;
  ctx->vk_pages = a.pages;
  ctx->vk_fresh = a.fresh;
  ctx->vk_undo_page = a.undo_page;
  ctx->vk_undo_old = a.undo_old;
  ctx->vk_n_undo = 0;
  return 0;
}

void cdn_vk_free(cdn_ctx_t *ctx)
{
  if (!ctx->vk_pages)
    return;
  cdn_vk_abort(ctx);
  free_pages(ctx->vk_pages, n_pages(ctx->vk_mask));
  vk_arrays_t a = {ctx->vk_pages, ctx->vk_fresh, ctx->vk_undo_page, ctx->vk_undo_old};
  arrays_free(&a);
  ctx->vk_pages = NULL;
}

/* A writable slot: the first write to a page in this transaction copies it. */
static cdn_vkey_t *slot_w(cdn_ctx_t *ctx, uint32_t i)
{
  uint32_t p = i >> CDN_VKEY_PAGE_BITS;
  if (!ctx->vk_fresh[p]) {
    cdn_vkey_t *np = malloc(PAGE_BYTES);
    if (!np)
      return NULL;
    memcpy(np, ctx->vk_pages[p], PAGE_BYTES);
    ctx->vk_undo_page[ctx->vk_n_undo] = p;
    ctx->vk_undo_old[ctx->vk_n_undo++] = ctx->vk_pages[p];
    ctx->vk_pages[p] = np;
    ctx->vk_fresh[p] = 1;
  }
  return &ctx->vk_pages[p][i & (CDN_VKEY_PAGE - 1)];
}

static uint32_t find_slot(const cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *a, uint8_t proto,
                          uint16_t port, int *found)
{
  uint32_t i = cdn_vkey_hash(af, a, proto, port) & ctx->vk_mask;
  for (;; i = (i + 1) & ctx->vk_mask) {
    const cdn_vkey_t *k = slot_r(ctx, i);
    if (!k->used) {
      *found = 0;
      return i;
    }
    if (k->port == port && k->proto == proto && k->af == af && cdn_addr_eq(&k->addr, a)) {
      *found = 1;
      return i;
    }
  }
}

int cdn_vk_lookup(const cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *a, uint8_t proto,
                  uint16_t port, const cdn_xlat_t **xlat)
{
  int found;
  uint32_t i = find_slot(ctx, af, a, proto, port, &found);
  if (found && xlat)
    *xlat = slot_r(ctx, i)->xlat;
  return found;
}

/* Make room for `need` keys at <= 50 % load: double the table as often as that takes
 * (all new pages are fresh; the old ones are retired at commit). Done before any other
 * write of the transaction. */
static int reserve(cdn_ctx_t *ctx, uint64_t need)
{
  uint32_t old_n = n_pages(ctx->vk_mask), new_n = old_n;
  while (need * 2 > (uint64_t)new_n * CDN_VKEY_PAGE && new_n <= (1u << 20))
    new_n *= 2;
  if (new_n == old_n)
    return 0;
  vk_arrays_t a;
  if (ctx->vk_n_undo || ctx->vk_prev_pages)
    return -EINVAL; /* a grow opens its transaction */
  if (new_n > (1u << 20) || arrays_alloc(&a, new_n) < 0)
    return -ENOMEM;
  for (uint32_t i = 0; i < new_n; i++) {
    a.pages[i] = calloc(1, PAGE_BYTES);
    a.fresh[i] = 1;
    if (!a.pages[i]) {
      free_pages(a.pages, new_n);
      arrays_free(&a);
      return -ENOMEM;
    }
  }
  uint32_t new_mask = new_n * CDN_VKEY_PAGE - 1;
  for (uint32_t i = 0; i <= ctx->vk_mask; i++) {
    const cdn_vkey_t *k = slot_r(ctx, i);
    if (!k->used)
      continue;
    uint32_t j = cdn_vkey_hash(k->af, &k->addr, k->proto, k->port) & new_mask;
    while (a.pages[j >> CDN_VKEY_PAGE_BITS][j & (CDN_VKEY_PAGE - 1)].used)
      j = (j + 1) & new_mask;
    a.pages[j >> CDN_VKEY_PAGE_BITS][j & (CDN_VKEY_PAGE - 1)] = *k;
  }
  ctx->vk_prev_pages = ctx->vk_pages;
  ctx->vk_prev_fresh = ctx->vk_fresh;
  ctx->vk_prev_undo_page = ctx->vk_undo_page;
  ctx->vk_prev_undo_old = ctx->vk_undo_old;
  ctx->vk_prev_mask = ctx->vk_mask;
  ctx->vk_pages = a.pages;
  ctx->vk_fresh = a.fresh;
  ctx->vk_undo_page = a.undo_page;
  ctx->vk_undo_old = a.undo_old;
  ctx->vk_mask = new_mask;
  return 0;
}

static int insert(cdn_ctx_t *ctx, uint32_t i, uint8_t af, const cp_addr_t *a, uint8_t proto,
                  uint16_t port, const cdn_xlat_t *x)
{
  cdn_vkey_t *k = slot_w(ctx, i);
  if (!k)
    return -ENOMEM;
  memset(k, 0, sizeof(*k));
  k->addr = *a;
  k->af = af;
  k->proto = proto;
  k->port = port;
  k->xlat = x;
  refs_set(k, 1);
  k->used = 1;
  ctx->vk_used++;
  return 0;
}

/* Remove slot i and close the gap (backward-shift deletion): no tombstones, so lookups
 * stay as short as the load allows. */
static int remove_at(cdn_ctx_t *ctx, uint32_t i)
{
  for (uint32_t j = (i + 1) & ctx->vk_mask;; j = (j + 1) & ctx->vk_mask) {
    const cdn_vkey_t *kj = slot_r(ctx, j);
    if (!kj->used)
      break;
    uint32_t h = cdn_vkey_hash(kj->af, &kj->addr, kj->proto, kj->port) & ctx->vk_mask;
    /* kj may move into the hole at i when its home h is not cyclically in (i, j] */
    int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (stays)
      continue;
    cdn_vkey_t *dst = slot_w(ctx, i);
    if (!dst)
      return -ENOMEM;
    *dst = *slot_r(ctx, j);
    i = j;
  }
  cdn_vkey_t *k = slot_w(ctx, i);
  if (!k)
    return -ENOMEM;
  memset(k, 0, sizeof(*k));
  ctx->vk_used--;
  return 0;
}

static const cp_addr_t *key_addr(const cdn_xlat_t *x)
{
  static const cp_addr_t zero;
  return x->kind == CDN_VIP_NODE_PORT ? &zero : &x->vip;
}

/* Count a marker key up (inserting it at 1) or down (removing it at 0): the "this address
 * is a VIP" markers and the backend markers, each counted by the translations that have
 * it. */
static int marker_ref(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *a, uint8_t proto,
                      uint16_t port, int add)
{
  int found;
  uint32_t i = find_slot(ctx, af, a, proto, port, &found);
  if (!found) /* every marker a translation counted down was counted up: cannot happen */
    return add ? insert(ctx, i, af, a, proto, port, NULL) : -ENOENT;
  uint32_t refs = refs_get(slot_r(ctx, i));
  if (!add && refs <= 1)
    return remove_at(ctx, i);
  cdn_vkey_t *m = slot_w(ctx, i);
  if (!m)
    return -ENOMEM;
  refs_set(m, add ? refs + 1 : refs - 1);
  return 0;
}

/* The markers of x: its VIP address (not for NodePort) and one per backend endpoint,
 * (af | CDN_VK_BACKEND, address, protocol, port). The owner function asks the latter
 * whether a packet comes from a backend (docs/dnat.md "Workers and handoff"). */
static int markers(cdn_ctx_t *ctx, const cdn_xlat_t *x, int add)
{
  int rv;
  if (x->kind != CDN_VIP_NODE_PORT && (rv = marker_ref(ctx, x->af, &x->vip, 0, 0, add)) < 0)
    return rv;
  for (uint32_t b = 0; b < x->n_be; b++) {
    const cdn_be_t *e = &x->be[b];
    if ((rv = marker_ref(ctx, (uint8_t)(e->af | CDN_VK_BACKEND), &e->addr, x->proto, e->port,
                         add)) < 0)
      return rv;
  }
  return 0;
}

int cdn_vk_add(cdn_ctx_t *ctx, const cdn_xlat_t *x)
{
  int rv, found;
  if ((rv = reserve(ctx, (uint64_t)ctx->vk_used + 2 + x->n_be)) < 0)
    return rv;
  uint32_t i = find_slot(ctx, x->af, key_addr(x), x->proto, x->port, &found);
  if (found)
    return -EEXIST;
  if ((rv = insert(ctx, i, x->af, key_addr(x), x->proto, x->port, x)) < 0)
    return rv;
  return markers(ctx, x, 1);
}

int cdn_vk_replace(cdn_ctx_t *ctx, const cdn_xlat_t *old, const cdn_xlat_t *x)
{
  int rv, found;
  if ((rv = reserve(ctx, (uint64_t)ctx->vk_used + x->n_be)) < 0)
    return rv;
  uint32_t i = find_slot(ctx, x->af, key_addr(x), x->proto, x->port, &found);
  if (!found)
    return -ENOENT;
  cdn_vkey_t *k = slot_w(ctx, i);
  if (!k)
    return -ENOMEM;
  k->xlat = x;
  /* the new markers before the old ones go: a marker both have never drops to 0 */
  if ((rv = markers(ctx, x, 1)) < 0)
    return rv;
  return markers(ctx, old, 0);
}

int cdn_vk_del(cdn_ctx_t *ctx, const cdn_xlat_t *x)
{
  int rv, found;
  uint32_t i = find_slot(ctx, x->af, key_addr(x), x->proto, x->port, &found);
  if (!found)
    return -ENOENT;
  if ((rv = remove_at(ctx, i)) < 0)
    return rv;
  return markers(ctx, x, 0);
}

int cdn_vk_snapshot(const cdn_ctx_t *ctx, cdn_snap_t *s)
{
  uint32_t n = n_pages(ctx->vk_mask);
  s->pages = malloc(sizeof(*s->pages) * n);
  if (!s->pages)
    return -ENOMEM;
  memcpy(s->pages, ctx->vk_pages, sizeof(*s->pages) * n);
  s->mask = ctx->vk_mask;
  return 0;
}

static void page_free_cb(void *obj, void *c)
{
  (void)c;
  free(obj);
}

void cdn_vk_commit(cdn_ctx_t *ctx)
{
  for (uint32_t u = 0; u < ctx->vk_n_undo; u++) {
    ctx->vk_fresh[ctx->vk_undo_page[u]] = 0;
    cp_epoch_retire(ctx->epoch, ctx->vk_undo_old[u], page_free_cb, NULL);
  }
  ctx->vk_n_undo = 0;
  if (ctx->vk_prev_pages) {
    for (uint32_t p = 0; p < n_pages(ctx->vk_prev_mask); p++)
      cp_epoch_retire(ctx->epoch, ctx->vk_prev_pages[p], page_free_cb, NULL);
    vk_arrays_t a = {ctx->vk_prev_pages, ctx->vk_prev_fresh, ctx->vk_prev_undo_page,
                     ctx->vk_prev_undo_old};
    arrays_free(&a);
    ctx->vk_prev_pages = NULL;
    memset(ctx->vk_fresh, 0, n_pages(ctx->vk_mask));
  }
}

void cdn_vk_abort(cdn_ctx_t *ctx)
{
  while (ctx->vk_n_undo) {
    uint32_t u = --ctx->vk_n_undo;
    uint32_t p = ctx->vk_undo_page[u];
    free(ctx->vk_pages[p]);
    ctx->vk_pages[p] = ctx->vk_undo_old[u];
    ctx->vk_fresh[p] = 0;
  }
  if (ctx->vk_prev_pages) {
    free_pages(ctx->vk_pages, n_pages(ctx->vk_mask));
    vk_arrays_t a = {ctx->vk_pages, ctx->vk_fresh, ctx->vk_undo_page, ctx->vk_undo_old};
    arrays_free(&a);
    ctx->vk_pages = ctx->vk_prev_pages;
    ctx->vk_fresh = ctx->vk_prev_fresh;
    ctx->vk_undo_page = ctx->vk_prev_undo_page;
    ctx->vk_undo_old = ctx->vk_prev_undo_old;
    ctx->vk_mask = ctx->vk_prev_mask;
    ctx->vk_prev_pages = NULL;
  }
  /* recount: an aborted insert or remove may have changed the count */
  uint32_t used = 0;
  for (uint32_t i = 0; i <= ctx->vk_mask; i++)
    used += slot_r(ctx, i)->used;
  ctx->vk_used = used;
}
