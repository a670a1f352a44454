/*
 * Control side: the context, translations, backend ids, node addresses, SNAT
 * configuration and the policy hook. Every change publishes a new immutable snapshot
 * through cp/epoch.h; the previous snapshot (and replaced translations and key-table
 * pages) are freed once no worker can hold them. The VIP key table is edited page by page
 * (cdn_vkeys.c), so a change costs O(1) amortized, not O(translations). A failed call
 * changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdn_internal.h"
#include "cp/flowhash.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static int addr_is_zero(const cp_addr_t *a) { return !a->q[0] && !a->q[1]; }

/* v4 addresses must have a zero tail */
static int addr_ok(uint8_t af, const cp_addr_t *a)
{
  if (af == 4)
    return !a->w[1] && !a->w[2] && !a->w[3];
  return af == 6;
}

static int proto_ok(uint8_t p)
{
  return p == CP_IPPROTO_TCP || p == CP_IPPROTO_UDP || p == CP_IPPROTO_SCTP;
}

static void xlat_free(cdn_xlat_t *x)
{
  if (!x)
    return;
  free(x->lb[0]);
  free(x->lb[1]);
  free(x->be);
  free(x);
}

static void xlat_free_cb(void *obj, void *ctx)
{
  (void)ctx;
  xlat_free(obj);
}

void cdn_snap_free(cdn_snap_t *s)
{
  if (!s)
    return;
  free(s->pages); /* the pages themselves are shared; see cdn_vkeys.c */
  free(s);
}

static void snap_free_cb(void *obj, void *ctx)
{
  (void)ctx;
  cdn_snap_free(obj);
}

/* ---- snapshot ---------------------------------------------------------------------------- */

int cdn_publish(cdn_ctx_t *ctx)
{
  cdn_snap_t *s = calloc(1, sizeof(*s));
  if (!s || cdn_vk_snapshot(ctx, s) < 0) {
    free(s);
    cdn_vk_abort(ctx);
    return -ENOMEM;
  }
  s->n_node = ctx->n_node;
  memcpy(s->node, ctx->node, sizeof(s->node));
  memcpy(s->has_snat, ctx->has_snat, sizeof(s->has_snat));
  memcpy(s->snat, ctx->snat, sizeof(s->snat));
  s->snat_gen[0] = cdn_be_gen_load(ctx, CDN_BE_SNAT4);
  s->snat_gen[1] = cdn_be_gen_load(ctx, CDN_BE_SNAT6);
  memcpy(s->n_pfx, ctx->n_pfx, sizeof(s->n_pfx));
  memcpy(s->pfx, ctx->pfx, sizeof(s->pfx));
  s->has_hook = ctx->has_hook;
  s->hook = ctx->hook;
  void *old = cp_epoch_publish(ctx->epoch, &ctx->snap, s);
  if (old)
    cp_epoch_retire(ctx->epoch, old, snap_free_cb, NULL);
  cdn_vk_commit(ctx);
  cp_epoch_reclaim(ctx->epoch);
  return 0;
}

/* ---- context ----------------------------------------------------------------------------- */

static uint32_t dflt(uint32_t v, uint32_t d) { return v ? v : d; }

cdn_ctx_t *cdn_create(const cdn_config_t *cfg, int *err)
{
  int e = -EINVAL;
  cdn_ctx_t *ctx = NULL;
  if (!cfg || cfg->n_workers == 0 || cfg->n_workers > CDN_MAX_WORKERS ||
      cfg->max_sessions == 0 || cfg->max_sessions > (1u << 30))
    goto fail;
  uint16_t lo = cfg->snat_port_min ? cfg->snat_port_min : 1024;
  uint16_t hi = cfg->snat_port_max ? cfg->snat_port_max : 65535;
  if (cfg->owner_first >= cfg->n_workers ||
      lo > hi || (uint32_t)(hi - lo + 1) < cfg->n_workers - cfg->owner_first)
    goto fail;
  e = -ENOMEM;
  ctx = calloc(1, sizeof(*ctx));
  if (!ctx)
    goto fail;
  ctx->cfg = *cfg;
  cdn_config_t *c = &ctx->cfg;
  c->max_translations = dflt(c->max_translations, 4096);
  c->max_backends = dflt(c->max_backends, 65536);
  c->affinity_entries = dflt(c->affinity_entries, 4096);
  c->snat_port_min = lo;
  c->snat_port_max = hi;
  c->tcp_syn_ms = dflt(c->tcp_syn_ms, 30u * 1000);
  c->tcp_established_ms = dflt(c->tcp_established_ms, 7440u * 1000);
  c->tcp_closing_ms = dflt(c->tcp_closing_ms, 10u * 1000);
  c->udp_ms = dflt(c->udp_ms, 300u * 1000);
  c->icmp_ms = dflt(c->icmp_ms, 60u * 1000);
  c->other_ms = dflt(c->other_ms, 300u * 1000);
  if (c->max_translations > (1u << 24) || c->max_backends > (1u << 28))
    goto fail_inval;
  /* times are compared on a wrapping 32-bit ms clock: timeouts must stay below 2^31 ms */
  const uint32_t tmax = 0x7fffffffu;
  if (c->tcp_syn_ms > tmax || c->tcp_established_ms > tmax || c->tcp_closing_ms > tmax ||
      c->udp_ms > tmax || c->icmp_ms > tmax || c->other_ms > tmax)
    goto fail_inval;
  uint32_t nbe = c->max_backends + CDN_BE_FIRST;
  ctx->epoch = cp_epoch_create(c->n_workers);
  if (ctx->epoch && (e = cdn_vk_init(ctx)) < 0)
    goto fail;
  e = -ENOMEM;
  ctx->xlat = calloc(c->max_translations, sizeof(*ctx->xlat));
  ctx->be_gen = calloc(nbe, sizeof(*ctx->be_gen));
  ctx->be_used = calloc(nbe, 1);
  ctx->be_info = calloc(nbe, sizeof(*ctx->be_info));
  ctx->be_free = malloc(sizeof(uint32_t) * c->max_backends);
  if (!ctx->epoch || !ctx->xlat || !ctx->be_gen || !ctx->be_used || !ctx->be_info ||
      !ctx->be_free)
    goto fail;
  /* hand out low ids first */
  for (uint32_t i = 0; i < c->max_backends; i++)
    ctx->be_free[i] = nbe - 1 - i;
  ctx->n_be_free = c->max_backends;
  ctx->be_used[CDN_BE_SNAT4] = ctx->be_used[CDN_BE_SNAT6] = ctx->be_used[CDN_BE_TRACK] = 1;
  for (uint32_t i = 0; i < c->n_workers; i++)
    if ((e = cdn_worker_init(ctx, i)) < 0)
      goto fail;
  if ((e = cdn_publish(ctx)) < 0)
    goto fail;
  if (err)
    *err = 0;
  return ctx;
fail_inval:
  e = -EINVAL;
fail:
  cdn_destroy(ctx);
  if (err)
    *err = e;
  return NULL;
}

void cdn_destroy(cdn_ctx_t *ctx)
{
  if (!ctx)
    return;
  for (uint32_t i = 0; i < CDN_MAX_WORKERS; i++)
    cdn_worker_free(ctx->w[i]);
  if (ctx->epoch) {
    cdn_snap_free(atomic_load(&ctx->snap));
    cp_epoch_destroy(ctx->epoch); /* frees retired snapshots, pages, translations */
  }
  cdn_vk_free(ctx);
  if (ctx->xlat)
    for (uint32_t i = 0; i < ctx->cfg.max_translations; i++)
      xlat_free(ctx->xlat[i]);
  free(ctx->xlat);
  free((void *)ctx->be_gen);
  free(ctx->be_used);
  free(ctx->be_info);
  free(ctx->be_free);
  free(ctx);
}

/* ---- translations ------------------------------------------------------------------------ */

static uint32_t find_id(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *vip, uint8_t proto,
                        uint16_t port)
{
  const cdn_xlat_t *x = NULL;
  if (!cdn_vk_lookup(ctx, af, vip, proto, port, &x) || !x)
    return CDN_INVALID_ID;
  return x->id;
}

int cdn_translation_find(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *vip, uint8_t proto,
                         uint16_t port, uint8_t kind, uint32_t *id)
{
  static const cp_addr_t zero;
  int np = kind == CDN_VIP_NODE_PORT;
  if (!np && (!vip || addr_is_zero(vip)))
    return -ENOENT; /* a zero address names NodePort keys only */
  uint32_t r = find_id(ctx, af, np ? &zero : vip, proto, port);
  if (r == CDN_INVALID_ID)
    return -ENOENT;
  if (id)
    *id = r;
  return 0;
}

static int validate(const cdn_translation_t *t)
{
  if (t->af != 4 && t->af != 6)
    return -EINVAL;
  if (!proto_ok(t->proto) || t->port == 0 || t->kind > CDN_VIP_NODE_PORT)
    return -EINVAL;
  if (t->kind != CDN_VIP_NODE_PORT && (addr_is_zero(&t->vip) || !addr_ok(t->af, &t->vip)))
    return -EINVAL;
  if (t->flags & ~(uint32_t)(CDN_XF_EXT_LOCAL | CDN_XF_INT_LOCAL | CDN_XF_AFFINITY))
    return -EINVAL;
  if (t->hash_fields & ~(uint32_t)CP_FH_ALL)
    return -EINVAL;
  if (t->n_backends > CDN_MAX_BACKENDS_PER_XLAT || (t->n_backends && !t->backends))
    return -EINVAL;
  for (uint32_t i = 0; i < t->n_backends; i++) {
    const cdn_backend_t *b = &t->backends[i];
    if (b->af != t->af)
      return -EAFNOSUPPORT;
    if (b->port == 0 || addr_is_zero(&b->addr) || !addr_ok(b->af, &b->addr) ||
        (b->flags & ~(uint32_t)(CDN_BF_LOCAL | CDN_BF_TERMINATING | CDN_BF_NO_NAT)))
      return -EINVAL;
    for (uint32_t j = 0; j < i; j++)
      if (t->backends[j].port == b->port && cdn_addr_eq(&t->backends[j].addr, &b->addr))
        return -EINVAL; /* duplicate backend */
  }
  return 0;
}

/* Which selection sets each backend is in: ready (not terminating, weight > 0) ones, or
 * when none is ready, the terminating ones with weight > 0. */
static void compute_sets(cdn_be_t *be, uint32_t n)
{
  for (uint32_t local = 0; local < 2; local++) {
    uint8_t bit = local ? CDN_SET_LOCAL : CDN_SET_CLUSTER;
    int any_ready = 0;
    for (uint32_t i = 0; i < n; i++)
      if (be[i].weight && !(be[i].flags & CDN_BF_TERMINATING) &&
          (!local || (be[i].flags & CDN_BF_LOCAL)))
        any_ready = 1;
    for (uint32_t i = 0; i < n; i++) {
      if (!be[i].weight || (local && !(be[i].flags & CDN_BF_LOCAL)))
        continue;
      if (!!(be[i].flags & CDN_BF_TERMINATING) == !any_ready)
        be[i].sets |= bit;
    }
  }
}

static int build_tables(cdn_xlat_t *x, uint64_t seed)
{
  uint32_t n = x->n_be;
  if (!n)
    return 0;
  cp_addr_t *addr = malloc(sizeof(*addr) * n);
  uint16_t *port = malloc(sizeof(*port) * n);
  uint16_t *wt = malloc(sizeof(*wt) * n);
  int rv = -ENOMEM;
  if (!addr || !port || !wt)
    goto out;
  x->m = cdn_maglev_size_for(n);
  for (uint32_t set = 0; set < 2; set++) {
    uint8_t bit = set ? CDN_SET_LOCAL : CDN_SET_CLUSTER;
    uint32_t live = 0;
    for (uint32_t i = 0; i < n; i++) {
      addr[i] = x->be[i].addr;
      port[i] = x->be[i].port;
      wt[i] = (x->be[i].sets & bit) ? x->be[i].weight : 0;
      live += wt[i] != 0;
    }
    if (!live)
      continue;
    x->lb[set] = malloc(sizeof(uint16_t) * x->m);
    if (!x->lb[set])
      goto out;
    if ((rv = cdn_maglev_build(addr, port, wt, n, x->m, seed, x->lb[set])) < 0)
      goto out;
  }
  rv = 0;
out:
  free(addr);
  free(port);
  free(wt);
  return rv;
}

static void be_release(cdn_ctx_t *ctx, uint32_t id)
{
  atomic_fetch_add_explicit(&ctx->be_gen[id], 1, memory_order_release);
  ctx->be_used[id] = 0;
  ctx->be_free[ctx->n_be_free++] = id;
}

int cdn_translation_update(cdn_ctx_t *ctx, const cdn_translation_t *t, uint32_t *id_out)
{
  static const cp_addr_t zero;
  if (!ctx || !t)
    return -EINVAL;
  int rv = validate(t);
  if (rv < 0)
    return rv;
  int np = t->kind == CDN_VIP_NODE_PORT;
  const cp_addr_t *vip = np ? &zero : &t->vip;
  uint32_t id = find_id(ctx, t->af, vip, t->proto, t->port);
  cdn_xlat_t *old = id == CDN_INVALID_ID ? NULL : ctx->xlat[id];
  if (!old) {
    for (id = ctx->xlat_free_hint; id < ctx->cfg.max_translations && ctx->xlat[id]; id++)
      ;
    if (id == ctx->cfg.max_translations)
      return -ENOSPC;
  }
  /* backends that are new to this translation need fresh ids */
  uint32_t need = 0;
  for (uint32_t i = 0; i < t->n_backends; i++) {
    int found = 0;
    for (uint32_t j = 0; old && j < old->n_be && !found; j++)
      found = old->be[j].port == t->backends[i].port &&
              cdn_addr_eq(&old->be[j].addr, &t->backends[i].addr);
    need += !found;
  }
  if (need > ctx->n_be_free)
    return -ENOSPC;

  cdn_xlat_t *x = calloc(1, sizeof(*x));
  if (!x)
    return -ENOMEM;
  x->be = calloc(t->n_backends ? t->n_backends : 1, sizeof(cdn_be_t));
  if (!x->be) {
    xlat_free(x);
    return -ENOMEM;
  }
  x->id = id;
  x->vip = *vip;
  x->port = t->port;
  x->proto = t->proto;
  x->af = t->af;
  x->kind = t->kind;
  x->flags = t->flags;
  x->hash_fields = t->hash_fields ? t->hash_fields : CP_FH_5TUPLE;
  if (t->flags & CDN_XF_AFFINITY)
    x->hash_fields = CP_FH_SRC_ADDR; /* one client maps alike on every worker */
  x->affinity_ms = (t->affinity_timeout_s ? t->affinity_timeout_s : 10800u);
  if (x->affinity_ms > 86400u)
    x->affinity_ms = 86400u; /* Kubernetes' maximum; keeps ms within the wrap-safe range */
  x->affinity_ms *= 1000u;
  x->n_be = t->n_backends;
  for (uint32_t i = 0; i < t->n_backends; i++) {
    const cdn_backend_t *b = &t->backends[i];
    cdn_be_t *e = &x->be[i];
    e->addr = b->addr;
    e->port = b->port;
    e->weight = b->weight;
    e->flags = b->flags;
    e->af = b->af;
    e->id = CDN_INVALID_ID;
    for (uint32_t j = 0; old && j < old->n_be; j++)
      if (old->be[j].port == b->port && cdn_addr_eq(&old->be[j].addr, &b->addr))
        e->id = old->be[j].id;
  }
  compute_sets(x->be, x->n_be);
  if ((rv = build_tables(x, ctx->cfg.hash_seed)) < 0) {
    xlat_free(x);
    return rv;
  }
  /* commit: nothing can fail from here on but the snapshot allocation */
  uint32_t taken[CDN_MAX_BACKENDS_PER_XLAT];
  uint32_t n_taken = 0;
  for (uint32_t i = 0; i < x->n_be; i++) {
    cdn_be_t *e = &x->be[i];
    if (e->id == CDN_INVALID_ID) {
      e->id = ctx->be_free[--ctx->n_be_free];
      ctx->be_used[e->id] = 1;
      taken[n_taken++] = e->id;
    }
    e->gen = cdn_be_gen_load(ctx, e->id);
    cdn_backend_t *info = &ctx->be_info[e->id];
    memset(info, 0, sizeof(*info));
    info->addr = e->addr;
    info->port = e->port;
    info->weight = e->weight;
    info->flags = e->flags;
    info->af = e->af;
  }
  rv = old ? cdn_vk_replace(ctx, old, x) : cdn_vk_add(ctx, x);
  ctx->xlat[id] = x;
  if (!old)
    ctx->n_xlat++;
  if (rv < 0)
    cdn_vk_abort(ctx);
  else
    rv = cdn_publish(ctx); /* aborts the key-table changes itself on failure */
  if (rv < 0) {
    /* roll back */
    ctx->xlat[id] = old;
    if (!old)
      ctx->n_xlat--;
    for (uint32_t i = 0; i < n_taken; i++) {
      ctx->be_used[taken[i]] = 0;
      ctx->be_free[ctx->n_be_free++] = taken[i];
    }
    xlat_free(x);
    return rv;
  }
  if (old) {
    /* backends that left: their sessions become stale everywhere at once */
    for (uint32_t j = 0; j < old->n_be; j++) {
      int kept = 0;
      for (uint32_t i = 0; i < x->n_be && !kept; i++)
        kept = x->be[i].id == old->be[j].id;
      if (!kept)
        be_release(ctx, old->be[j].id);
    }
    cp_epoch_retire(ctx->epoch, old, xlat_free_cb, NULL);
  }
  if (!old)
    ctx->xlat_free_hint = id + 1;
  if (id_out)
    *id_out = id;
  return 0;
}

int cdn_translation_del(cdn_ctx_t *ctx, uint32_t id)
{
  if (!ctx || id >= ctx->cfg.max_translations || !ctx->xlat[id])
    return -ENOENT;
  cdn_xlat_t *x = ctx->xlat[id];
  int rv = cdn_vk_del(ctx, x);
  if (rv < 0) {
    cdn_vk_abort(ctx);
    return rv;
  }
  ctx->xlat[id] = NULL;
  ctx->n_xlat--;
  if ((rv = cdn_publish(ctx)) < 0) {
    ctx->xlat[id] = x;
    ctx->n_xlat++;
    return rv;
  }
  if (id < ctx->xlat_free_hint)
    ctx->xlat_free_hint = id;
  for (uint32_t i = 0; i < x->n_be; i++)
    be_release(ctx, x->be[i].id);
  cp_epoch_retire(ctx->epoch, x, xlat_free_cb, NULL);
  return 0;
}

int cdn_translation_get(cdn_ctx_t *ctx, uint32_t id, cdn_translation_t *out,
                        cdn_backend_t *be, uint32_t be_cap)
{
  if (!ctx || id >= ctx->cfg.max_translations || !ctx->xlat[id])
    return -ENOENT;
  const cdn_xlat_t *x = ctx->xlat[id];
  if (out) {
    memset(out, 0, sizeof(*out));
    out->vip = x->vip;
    out->port = x->port;
    out->proto = x->proto;
    out->af = x->af;
    out->kind = x->kind;
    out->flags = x->flags;
    out->hash_fields = x->hash_fields;
    out->affinity_timeout_s = x->affinity_ms / 1000u;
    out->n_backends = x->n_be;
  }
  for (uint32_t i = 0; be && i < x->n_be && i < be_cap; i++)
    be[i] = ctx->be_info[x->be[i].id];
  return (int)x->n_be;
}

uint32_t cdn_translation_next(cdn_ctx_t *ctx, uint32_t prev)
{
  for (uint32_t id = prev == CDN_INVALID_ID ? 0 : prev + 1; id < ctx->cfg.max_translations;
       id++)
    if (ctx->xlat[id])
      return id;
  return CDN_INVALID_ID;
}

uint32_t cdn_translation_count(cdn_ctx_t *ctx) { return ctx->n_xlat; }

int cdn_backend_get(cdn_ctx_t *ctx, uint32_t backend_id, cdn_backend_t *out)
{
  if (!ctx || backend_id < CDN_BE_FIRST || backend_id >= ctx->cfg.max_backends + CDN_BE_FIRST ||
      !ctx->be_used[backend_id])
    return -ENOENT;
  if (out)
    *out = ctx->be_info[backend_id];
  return 0;
}

/* ---- node addresses, SNAT, hook ---------------------------------------------------------- */

int cdn_node_addr_add(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *addr)
{
  if (!ctx || !addr || (af != 4 && af != 6) || !addr_ok(af, addr) || addr_is_zero(addr))
    return -EINVAL;
  for (uint32_t i = 0; i < ctx->n_node; i++)
    if (ctx->node[i].af == af && cdn_addr_eq(&ctx->node[i].addr, addr))
      return -EEXIST;
  if (ctx->n_node == CDN_MAX_NODE_ADDRS)
    return -ENOSPC;
  ctx->node[ctx->n_node].addr = *addr;
  ctx->node[ctx->n_node].af = af;
  ctx->n_node++;
  int rv = cdn_publish(ctx);
  if (rv < 0)
    ctx->n_node--;
  return rv;
}

int cdn_node_addr_del(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *addr)
{
  if (!ctx || !addr)
    return -EINVAL;
  for (uint32_t i = 0; i < ctx->n_node; i++)
    if (ctx->node[i].af == af && cdn_addr_eq(&ctx->node[i].addr, addr)) {
      cdn_pfx_t saved = ctx->node[i];
      ctx->node[i] = ctx->node[--ctx->n_node];
      int rv = cdn_publish(ctx);
      if (rv < 0) {
        ctx->node[ctx->n_node++] = ctx->node[i];
        ctx->node[i] = saved;
      }
      return rv;
    }
  return -ENOENT;
}

int cdn_snat_addr_set(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *addr)
{
  if (!ctx || (af != 4 && af != 6) || (addr && (!addr_ok(af, addr) || addr_is_zero(addr))))
    return -EINVAL;
  int k = cdn_af_idx(af);
  uint8_t had = ctx->has_snat[k];
  cp_addr_t prev = ctx->snat[k];
  if (had == !!addr && (!addr || cdn_addr_eq(&prev, addr)))
    return 0;
  ctx->has_snat[k] = addr != NULL;
  if (addr)
    ctx->snat[k] = *addr;
  /* natOutgoing sessions of the old address become stale */
  uint32_t be = af == 4 ? CDN_BE_SNAT4 : CDN_BE_SNAT6;
  atomic_fetch_add_explicit(&ctx->be_gen[be], 1, memory_order_release);
  int rv = cdn_publish(ctx);
  if (rv < 0) {
    ctx->has_snat[k] = had;
    ctx->snat[k] = prev;
  }
  return rv;
}

static int pfx_norm(uint8_t af, const cp_addr_t *in, uint8_t len, cp_addr_t *out)
{
  if ((af != 4 && af != 6) || !in || len > (af == 4 ? 32 : 128) || !addr_ok(af, in))
    return -EINVAL;
  memset(out, 0, sizeof(*out));
  for (uint32_t bit = 0; bit < len; bit++)
    if (in->b[bit / 8] & (0x80u >> (bit % 8)))
      out->b[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
  return 0;
}

int cdn_snat_prefix_add(cdn_ctx_t *ctx, uint8_t kind, uint8_t af, const cp_addr_t *addr,
                        uint8_t len)
{
  cp_addr_t a;
  if (!ctx || kind > CDN_PFX_EXCLUDE || pfx_norm(af, addr, len, &a) < 0)
    return -EINVAL;
  for (uint32_t i = 0; i < ctx->n_pfx[kind]; i++) {
    cdn_pfx_t *p = &ctx->pfx[kind][i];
    if (p->af == af && p->len == len && cdn_addr_eq(&p->addr, &a))
      return -EEXIST;
  }
  if (ctx->n_pfx[kind] == CDN_MAX_PREFIXES)
    return -ENOSPC;
  cdn_pfx_t *p = &ctx->pfx[kind][ctx->n_pfx[kind]++];
  p->addr = a;
  p->af = af;
  p->len = len;
  int rv = cdn_publish(ctx);
  if (rv < 0)
    ctx->n_pfx[kind]--;
  return rv;
}

int cdn_snat_prefix_del(cdn_ctx_t *ctx, uint8_t kind, uint8_t af, const cp_addr_t *addr,
                        uint8_t len)
{
  cp_addr_t a;
  if (!ctx || kind > CDN_PFX_EXCLUDE || pfx_norm(af, addr, len, &a) < 0)
    return -EINVAL;
  for (uint32_t i = 0; i < ctx->n_pfx[kind]; i++) {
    cdn_pfx_t *p = &ctx->pfx[kind][i];
    if (p->af == af && p->len == len && cdn_addr_eq(&p->addr, &a)) {
      cdn_pfx_t saved = *p;
      *p = ctx->pfx[kind][--ctx->n_pfx[kind]];
      int rv = cdn_publish(ctx);
      if (rv < 0) {
        ctx->pfx[kind][ctx->n_pfx[kind]++] = *p;
        *p = saved;
      }
      return rv;
    }
  }
  return -ENOENT;
}

int cdn_policy_hook_set(cdn_ctx_t *ctx, const cp_policy_hook_t *hook)
{
  if (!ctx || (hook && (!hook->classify_burst || !hook->generation)))
    return -EINVAL;
  uint8_t had = ctx->has_hook;
  cp_policy_hook_t prev = ctx->hook;
  ctx->has_hook = hook != NULL;
  if (hook)
    ctx->hook = *hook;
  else
    memset(&ctx->hook, 0, sizeof(ctx->hook));
  int rv = cdn_publish(ctx);
  if (rv < 0) {
    ctx->has_hook = had;
    ctx->hook = prev;
  } else if (had && !hook) {
    /* without policy nothing needs the tracked-only sessions: they go stale */
    atomic_fetch_add_explicit(&ctx->be_gen[CDN_BE_TRACK], 1, memory_order_release);
  }
  return rv;
}

const char *cdn_error_str(uint32_t e)
{
  static const char *const s[] = {
#define _(n, str) str,
      foreach_cdn_error
#undef _
  };
  return e < CDN_E_N ? s[e] : "unknown";
}
