/*
 * Per-worker session state: record pool, cuckoo key table, clock-sweep expiry, SNAT port
 * slices, the affinity table; and the per-worker introspection calls. Everything here
 * runs on the owning worker (or while it is stopped), so nothing locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdn_affinity_inline.h"
#include "cdn_session_inline.h"
#include "cdn_snat_inline.h"
#include "cp/mem.h"

/* Key table load at max_sessions: 2 keys per flow over 10-way buckets at <= 85 %. */
#define CDN_TABLE_LOAD_PCT 85u
#define CDN_CUCKOO_MAX_PATH 48

int cdn_worker_init(cdn_ctx_t *ctx, uint32_t idx)
{
  const cdn_config_t *c = &ctx->cfg;
  cdn_worker_t *w = calloc(1, sizeof(*w));
  if (!w)
    return -ENOMEM;
  ctx->w[idx] = w;
  w->cap = c->max_sessions;
  w->rec = cp_calloc_huge(w->cap, sizeof(cdn_sess_t));
  w->ext6 = cp_calloc_huge(w->cap, sizeof(cdn_sess6_t));
  w->pol = cp_calloc_huge(w->cap, sizeof(cdn_pol_t));
  uint64_t nb = ((uint64_t)2 * w->cap * 100u + CDN_BUCKET_WAYS * CDN_TABLE_LOAD_PCT - 1) /
                (CDN_BUCKET_WAYS * CDN_TABLE_LOAD_PCT);
  w->nb = nb < 2 ? 2 : (uint32_t)nb;
  w->bk = cp_calloc_huge(w->nb, sizeof(cdn_bucket_t));
  w->aff_sets = 1;
  while (w->aff_sets * CDN_AFF_WAYS < c->affinity_entries)
    w->aff_sets <<= 1;
  w->aff = cp_calloc_huge((size_t)w->aff_sets * CDN_AFF_WAYS, sizeof(cdn_aff_t));
  if (!w->rec || !w->ext6 || !w->pol || !w->bk || !w->aff)
    return -ENOMEM;
  /* free list threaded through be_id, lowest index first */
  for (uint32_t i = 0; i < w->cap; i++)
    w->rec[i].be_id = i + 1 < w->cap ? i + 1 : CDN_INVALID_ID;
  w->free_head = 0;
  w->rng = 0x9e3779b97f4a7c15ULL ^ idx;
  /* SNAT port slice (cdn_snat_slice_worker maps a port back to its worker); none below
   * owner_first */
  uint32_t per = cdn_snat_slice_size(c);
  if (idx < c->owner_first) {
    w->port_lo = 1;
    w->port_hi = 0; /* an empty slice: cdn_snat_alloc finds nothing */
  } else {
    w->port_lo = (uint16_t)(c->snat_port_min + (idx - c->owner_first) * per);
    w->port_hi =
        (uint16_t)(idx + 1 == c->n_workers ? c->snat_port_max : w->port_lo + per - 1);
  }
  uint32_t size = (uint32_t)w->port_hi - w->port_lo + 1;
  uint32_t words = size ? (size + 63) / 64 : 1;
  for (int a = 0; a < 2; a++)
    for (int k = 0; k < CDN_SNAT_CLASSES; k++)
      if (!(w->ports[a][k] = calloc(words, sizeof(uint64_t))))
        return -ENOMEM;
  return 0;
}

void cdn_worker_free(cdn_worker_t *w)
{
  if (!w)
    return;
  free(w->rec);
  free(w->ext6);
  free(w->pol);
  free(w->bk);
  free(w->aff);
  for (int a = 0; a < 2; a++)
    for (int k = 0; k < CDN_SNAT_CLASSES; k++)
      free(w->ports[a][k]);
  free(w);
}

/* ---- key table ---------------------------------------------------------------------------- */

static cdn_hpos_t ref_hpos(const cdn_worker_t *w, uint32_t ref)
{
  cdn_key_t k;
  cdn_rec_key(w, ref >> 1, ref & 1, &k);
  return cdn_hpos(w, cdn_key_hash64(&k));
}

/* The lowest empty slot (tag 0), or -1. */
static int bucket_free_slot(const cdn_bucket_t *b)
{
  uint32_t m = cdn_bucket_match(b, 0);
  return m ? __builtin_ctz(m) : -1;
}

static uint64_t rnd(cdn_worker_t *w)
{
  w->rng ^= w->rng >> 12;
  w->rng ^= w->rng << 25;
  w->rng ^= w->rng >> 27;
  return w->rng * 2685821657736338717ULL;
}

/*
 * Insert ref under hp when both its buckets are full (cdn_sess_insert has tried them):
 * search a displacement path first (random walk, no slot visited twice) and only then
 * move entries along it backwards, so a failed insert leaves the table unchanged.
 * Returns 0 or -ENOSPC.
 */
int cdn_sess_insert_displace(cdn_worker_t *w, uint32_t ref, cdn_hpos_t hp)
{
  uint32_t pb[CDN_CUCKOO_MAX_PATH + 1];
  uint8_t pj[CDN_CUCKOO_MAX_PATH + 1];
  uint32_t cur = (rnd(w) & 1) ? hp.b2 : hp.b1;
  uint32_t len = 0;
  for (uint32_t step = 0; step < 4 * CDN_CUCKOO_MAX_PATH && len < CDN_CUCKOO_MAX_PATH; step++) {
    uint32_t j = (uint32_t)(rnd(w) % CDN_BUCKET_WAYS);
    int seen = 0;
    for (uint32_t k = 0; k < len && !seen; k++)
      seen = pb[k] == cur && pj[k] == j;
    if (seen)
      continue;
    pb[len] = cur;
    pj[len] = (uint8_t)j;
    cdn_hpos_t vh = ref_hpos(w, w->bk[cur].val[j]);
    uint32_t alt = vh.b1 == cur ? vh.b2 : vh.b1;
    int fj = bucket_free_slot(&w->bk[alt]);
    if (fj >= 0) {
      /* move backwards along the path: the last victim goes to the free slot */
      uint32_t tb = alt, tj = (uint32_t)fj;
      for (uint32_t k = len + 1; k-- > 0;) {
        cdn_bucket_t *src = &w->bk[pb[k]];
        w->bk[tb].tag[tj] = src->tag[pj[k]];
        w->bk[tb].val[tj] = src->val[pj[k]];
        tb = pb[k];
        tj = pj[k];
      }
      w->bk[tb].tag[tj] = hp.tag;
      w->bk[tb].val[tj] = ref;
      return 0;
    }
    cur = alt;
    len++;
  }
  return -ENOSPC;
}

void cdn_sess_remove_key(cdn_worker_t *w, uint32_t ref)
{
  cdn_hpos_t hp = ref_hpos(w, ref);
  uint32_t bs[2] = {hp.b1, hp.b2};
  for (int t = 0; t < 2; t++) {
    cdn_bucket_t *b = &w->bk[bs[t]];
    for (int j = 0; j < CDN_BUCKET_WAYS; j++)
      if (b->tag[j] && b->val[j] == ref) {
        b->tag[j] = 0;
        b->val[j] = 0;
        return;
      }
  }
}

uint32_t cdn_sess_alloc(cdn_worker_t *w)
{
  uint32_t i = w->free_head;
  if (i == CDN_INVALID_ID)
    return i;
  cdn_sess_t *s = &w->rec[i];
  w->free_head = s->be_id;
  /* the free list is threaded through the records: start fetching the next allocation's
   * record now, so a list scrambled by expiry does not cost one dependent miss per flow */
  if (w->free_head != CDN_INVALID_ID)
    __builtin_prefetch(&w->rec[w->free_head], 1);
  memset(s, 0, sizeof(*s));
  s->sflags = CDN_SF_USED;
  w->n_used++;
  return i;
}

/* Return a record that was allocated but whose keys were never (or are no longer) in the
 * table. */
static void rec_release(cdn_worker_t *w, uint32_t idx)
{
  cdn_sess_t *s = &w->rec[idx];
  if (s->sflags & CDN_SF_SNAT_PORT)
    cdn_snat_free(w, s->af, s->proto, s->p[3]);
  s->sflags = 0;
  s->be_id = w->free_head;
  w->free_head = idx;
  w->n_used--;
}

void cdn_sess_free(cdn_worker_t *w, uint32_t idx)
{
  cdn_sess_remove_key(w, idx << 1 | CDN_DIR_FWD);
  cdn_sess_remove_key(w, idx << 1 | CDN_DIR_REV);
  rec_release(w, idx);
}

/* Exposed for the burst code: release a record whose keys were not inserted. */
void cdn_sess_release_unlinked(cdn_worker_t *w, uint32_t idx);
void cdn_sess_release_unlinked(cdn_worker_t *w, uint32_t idx) { rec_release(w, idx); }

/* ---- expiry -------------------------------------------------------------------------------- */

uint32_t cdn_sweep(cdn_ctx_t *ctx, cdn_worker_t *w, uint32_t now, uint32_t budget);
uint32_t cdn_sweep(cdn_ctx_t *ctx, cdn_worker_t *w, uint32_t now, uint32_t budget)
{
  uint32_t freed = 0;
  if (!budget || budget > w->cap)
    budget = w->cap;
  for (uint32_t k = 0; k < budget; k++) {
    uint32_t i = w->sweep;
    w->sweep = i + 1 == w->cap ? 0 : i + 1;
    cdn_sess_t *s = &w->rec[i];
    if (!(s->sflags & CDN_SF_USED) || (s->sflags & CDN_SF_PENDING))
      continue;
    if (cdn_time_reached(now, s->expires)) {
      w->cnt[CDN_CNT_SESSIONS_EXPIRED]++;
    } else if (!cdn_sess_valid(ctx, s)) {
      w->cnt[CDN_CNT_SESSIONS_STALE]++;
    } else {
      continue;
    }
    cdn_sess_free(w, i);
    freed++;
  }
  return freed;
}

uint32_t cdn_expire(cdn_ctx_t *ctx, uint32_t worker, uint32_t now_ms, uint32_t budget)
{
  if (!ctx || worker >= ctx->cfg.n_workers)
    return 0;
  return cdn_sweep(ctx, ctx->w[worker], now_ms, budget);
}

uint32_t cdn_sessions_flush(cdn_ctx_t *ctx, uint32_t worker)
{
  if (!ctx || worker >= ctx->cfg.n_workers)
    return 0;
  cdn_worker_t *w = ctx->w[worker];
  uint32_t n = 0;
  for (uint32_t i = 0; i < w->cap; i++)
    if (w->rec[i].sflags & CDN_SF_USED) {
      cdn_sess_free(w, i);
      n++;
    }
  memset(w->aff, 0, sizeof(cdn_aff_t) * w->aff_sets * CDN_AFF_WAYS);
  return n;
}

int cdn_session_delete(cdn_ctx_t *ctx, uint32_t worker, uint32_t idx)
{
  if (!ctx || worker >= ctx->cfg.n_workers)
    return -EINVAL;
  cdn_worker_t *w = ctx->w[worker];
  if (idx >= w->cap || !(w->rec[idx].sflags & CDN_SF_USED))
    return -ENOENT;
  cdn_sess_free(w, idx);
  return 0;
}

uint32_t cdn_sessions_count(cdn_ctx_t *ctx, uint32_t worker)
{
  if (!ctx || worker >= ctx->cfg.n_workers)
    return 0;
  return ctx->w[worker]->n_used;
}

uint32_t cdn_session_next(cdn_ctx_t *ctx, uint32_t worker, uint32_t prev)
{
  if (!ctx || worker >= ctx->cfg.n_workers)
    return CDN_INVALID_ID;
  cdn_worker_t *w = ctx->w[worker];
  for (uint32_t i = prev == CDN_INVALID_ID ? 0 : prev + 1; i < w->cap; i++)
    if ((w->rec[i].sflags & CDN_SF_USED) && cdn_sess_valid(ctx, &w->rec[i]))
      return i;
  return CDN_INVALID_ID;
}

cp_policy_out_cache_t *cdn_session_out_cache(cdn_ctx_t *ctx, uint32_t worker, uint32_t idx)
{
  if (!ctx || worker >= ctx->cfg.n_workers)
    return NULL;
  cdn_worker_t *w = ctx->w[worker];
  if (idx >= w->cap || !(w->rec[idx].sflags & CDN_SF_USED))
    return NULL;
  return &w->pol[idx].out;
}

int cdn_session_get(cdn_ctx_t *ctx, uint32_t worker, uint32_t idx, cdn_session_info_t *out)
{
  if (!ctx || worker >= ctx->cfg.n_workers || !out)
    return -EINVAL;
  cdn_worker_t *w = ctx->w[worker];
  if (idx >= w->cap || !(w->rec[idx].sflags & CDN_SF_USED))
    return -ENOENT;
  const cdn_sess_t *s = &w->rec[idx];
  memset(out, 0, sizeof(*out));
  out->client = cdn_sess_addr(w, idx, 0);
  out->vip = cdn_sess_addr(w, idx, 1);
  out->backend = cdn_sess_addr(w, idx, 2);
  out->snat = cdn_sess_addr(w, idx, 3);
  out->client_port = s->p[0];
  out->vip_port = s->p[1];
  out->backend_port = s->p[2];
  out->snat_port = s->p[3];
  out->backend_id = s->be_id < CDN_BE_FIRST ? CDN_INVALID_ID : s->be_id;
  out->expires_ms = s->expires;
  out->policy_generation = w->pol[idx].gen;
  out->out_verdict = w->pol[idx].out.verdict;
  out->out_endpoint = w->pol[idx].out.endpoint;
  out->af = s->af;
  out->proto = s->proto;
  out->tcp_state = s->state;
  out->verdict = s->verdict;
  out->flags = s->rflags;
  return cdn_sess_valid(ctx, s) ? 0 : -ENOENT;
}

double cdn_session_bytes_per_flow(cdn_ctx_t *ctx)
{
  const cdn_worker_t *w = ctx->w[0];
  /* the record line, the IPv6 extension and the policy side entry (by index, so every
   * flow of either family reserves them), and the key table's share */
  return (double)sizeof(cdn_sess_t) + (double)sizeof(cdn_sess6_t) + (double)sizeof(cdn_pol_t) +
         (double)w->nb * sizeof(cdn_bucket_t) / (double)w->cap;
}

uint32_t cdn_snat_ports_in_use(cdn_ctx_t *ctx, uint32_t worker)
{
  if (!ctx || worker >= ctx->cfg.n_workers)
    return 0;
  return ctx->w[worker]->ports_in_use;
}

uint32_t cdn_snat_port_worker(cdn_ctx_t *ctx, uint16_t port)
{
  if (!ctx || port < ctx->cfg.snat_port_min || port > ctx->cfg.snat_port_max)
    return CDN_INVALID_ID;
  return cdn_snat_slice_worker(&ctx->cfg, port);
}

int cdn_counters_get(cdn_ctx_t *ctx, uint32_t worker, uint64_t *out)
{
  if (!ctx || worker >= ctx->cfg.n_workers || !out)
    return -EINVAL;
  memcpy(out, ctx->w[worker]->cnt, sizeof(ctx->w[worker]->cnt));
  return 0;
}
