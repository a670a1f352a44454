/*
 * The burst entry point: parse, hash and prefetch the whole vector, look every packet up
 * in the worker's session table, create sessions for new flows (translation lookup,
 * affinity, weighted Maglev, SNAT decision and port), ask the policy hook once for every
 * flow that needs a verdict, then rewrite. No allocation, no lock; the shared snapshot
 * is read inside an epoch section.
 */
#include <errno.h>

#include "cdn_affinity_inline.h"
#include "cdn_rewrite_inline.h"
#include "cdn_session_inline.h"
#include "cdn_snap_inline.h"
#include "cdn_snat_inline.h"
#include "cp/flowhash.h"

enum { K_SKIP = 0, K_NORMAL = 1, K_ICMP_ERR = 2 };

/* The sweep between bursts visits the whole table once per CDN_SWEEP_PERIOD_MS: each
 * burst takes the records that came due since the last one, at most CDN_SWEEP_PER_BURST,
 * so its cost follows the clock, not the packet rate. */
#define CDN_SWEEP_PERIOD_MS 1000u
#define CDN_SWEEP_PER_BURST 64u
/* how far stage 2 (bucket match, record prefetch) runs ahead of stage 3 (docs/dnat.md) */
#ifndef CDN_STAGE2_AHEAD
#define CDN_STAGE2_AHEAD 16u
#endif
/* ... and how far stage 1 (parse, hash, bucket prefetch) runs ahead of stage 2 */
#ifndef CDN_STAGE1_AHEAD
#define CDN_STAGE1_AHEAD 16u
#endif
/* ... and how far stage 2b (second-bucket match for the keys stage 2 missed) runs ahead of
 * stage 3: at most CDN_STAGE2_AHEAD */
#ifndef CDN_STAGE2B_AHEAD
#define CDN_STAGE2B_AHEAD 8u
#endif
#define CDN_SWEEP_ON_FULL 256u
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

void cdn_sess_release_unlinked(cdn_worker_t *w, uint32_t idx);
uint32_t cdn_sweep(cdn_ctx_t *ctx, cdn_worker_t *w, uint32_t now, uint32_t budget);

static const cp_addr_t zero_addr;
static const cdn_meta_t default_meta = {0, 0, CP_DIR_INGRESS, 0};

/* ---- shared-configuration lookups ---------------------------------------------------------- */

static inline int pfx_match(const cdn_pfx_t *p, uint8_t af, const cp_addr_t *a)
{
  if (p->af != af)
    return 0;
  uint32_t full = p->len / 8, rest = p->len % 8;
  if (memcmp(p->addr.b, a->b, full))
    return 0;
  if (!rest)
    return 1;
  uint8_t m = (uint8_t)(0xff00u >> rest);
  return (a->b[full] & m) == p->addr.b[full];
}

static inline int in_pfx_list(const cdn_snap_t *s, int kind, uint8_t af, const cp_addr_t *a)
{
  for (uint32_t i = 0; i < s->n_pfx[kind]; i++)
    if (pfx_match(&s->pfx[kind][i], af, a))
      return 1;
  return 0;
}

/* Maglev's flow hash of a packet for translation x: cp_flow_hash, with the default field
 * set (and ClientIP affinity's) as constants so the inline folds its field selection away;
 * the value is cp_flow_hash's either way. */
static inline uint32_t xlat_hash(const cdn_xlat_t *x, const cp_pkt_t *p, uint64_t seed)
{
  if (CDN_LIKELY(x->hash_fields == CP_FH_5TUPLE))
    return cp_flow_hash(p, CP_FH_5TUPLE, seed);
  if (x->hash_fields == CP_FH_SRC_ADDR)
    return cp_flow_hash(p, CP_FH_SRC_ADDR, seed);
  return cp_flow_hash(p, x->hash_fields, seed);
}

/* ---- session creation -------------------------------------------------------------------- */

static inline void drop(cdn_worker_t *w, cdn_result_t *r, uint8_t e)
{
  r->next = CDN_NEXT_DROP;
  r->error = e;
  w->cnt[CDN_CNT_ERR_BASE + e]++;
}

static uint32_t alloc_rec(cdn_ctx_t *ctx, cdn_worker_t *w, uint32_t now)
{
  uint32_t idx = cdn_sess_alloc(w);
  if (CDN_UNLIKELY(idx == CDN_INVALID_ID)) {
    /* full: reclaim a bounded amount of expired/stale state first */
    cdn_sweep(ctx, w, now, CDN_SWEEP_ON_FULL);
    idx = cdn_sess_alloc(w);
  }
  return idx;
}

/* Insert both keys of a freshly filled record; on failure nothing stays in the table.
 * When the return key is taken (the client used the same source port towards another VIP
 * that has the same backend), the source port alone is remapped to one whose return key
 * is free, as conntrack's clash resolution does. */
static int link_rec(cdn_worker_t *w, uint32_t idx, const cdn_pstate_t *st, cdn_result_t *r)
{
  cdn_key_t k;
  cdn_sess_t *s = &w->rec[idx];
  cdn_rec_key(w, idx, CDN_DIR_REV, &k);
  cdn_hpos_t hr;
  if (st->hint & CDN_HINT_REV) { /* stage 2 hashed this very return key */
    hr.b1 = st->rb1;
    hr.b2 = st->rb2;
    hr.tag = st->rtag;
  } else {
    hr = cdn_hpos(w, cdn_key_hash64(&k));
  }
  uint32_t tries = 0;
  while (cdn_sess_lookup(w, &k, hr) != CDN_INVALID_ID) {
    int remappable = !(s->sflags & CDN_SF_SNAT_PORT) && !(s->rflags & CDN_R_TRACKED) &&
                     s->proto != CP_IPPROTO_ICMP && s->proto != CP_IPPROTO_ICMPV6;
    if (!remappable || ++tries > 8) {
      drop(w, r, CDN_E_CLASH);
      return -EEXIST;
    }
    uint64_t h = cdn_key_hash64(&k) + tries * 0x9e3779b97f4a7c15ULL;
    s->p[3] = (uint16_t)(1024u + (uint32_t)((h >> 17) % 64512u));
    s->rflags |= CDN_R_SNAT;
    cdn_rec_key(w, idx, CDN_DIR_REV, &k);
    hr = cdn_hpos(w, cdn_key_hash64(&k));
  }
  /* the forward key is the packet's: stage 1 hashed it */
  cdn_hpos_t hf = {st->b1, st->b2, st->tag};
  if (cdn_sess_insert(w, idx << 1 | CDN_DIR_FWD, hf) < 0) {
    drop(w, r, CDN_E_SESSION_LIMIT);
    return -ENOSPC;
  }
  if (cdn_sess_insert(w, idx << 1 | CDN_DIR_REV, hr) < 0) {
    cdn_sess_remove_key(w, idx << 1 | CDN_DIR_FWD);
    drop(w, r, CDN_E_SESSION_LIMIT);
    return -ENOSPC;
  }
  return 0;
}

static uint32_t finish_rec(cdn_ctx_t *ctx, cdn_worker_t *w, uint32_t idx, const cdn_meta_t *m,
                           const cdn_pstate_t *st, uint32_t now, cdn_result_t *r)
{
  cdn_sess_t *s = &w->rec[idx];
  w->pol[idx].endpoint = m->endpoint;
  w->pol[idx].gen = 0;
  w->pol[idx].out.verdict = CP_VERDICT_NONE;
  w->pol[idx].out.tag = ++w->out_tag;
  s->dir = m->dir;
  s->state = CDN_TCP_SYN;
  s->expires = now + cdn_sess_timeout(&ctx->cfg, s);
  cp_addr_t a0 = cdn_sess_addr(w, idx, 0), a1 = cdn_sess_addr(w, idx, 1);
  cp_addr_t a2 = cdn_sess_addr(w, idx, 2), a3 = cdn_sess_addr(w, idx, 3);
  s->cdelta[CDN_DIR_FWD] = cdn_addr_delta(s->af, &a0, &a3, &a1, &a2);
  /* the return packet undoes the forward rewrite: a2 -> a1, a3 -> a0 */
  s->cdelta[CDN_DIR_REV] =
      cdn_addr_delta_reverse(s->af, s->cdelta[CDN_DIR_FWD], &a0, &a3, &a1, &a2);
  if (link_rec(w, idx, st, r) < 0) {
    cdn_sess_release_unlinked(w, idx);
    return CDN_INVALID_ID;
  }
  w->cnt[CDN_CNT_SESSIONS_CREATED]++;
  r->flags |= CDN_R_NEW;
  return idx;
}

/* A record for the packet's flow, forwarded to `to`:`to_port`, its source not translated
 * yet (SNAT callers change a3/p3 then). CDN_INVALID_ID, counted and dropped, when the table
 * is full. */
static inline uint32_t open_rec(cdn_ctx_t *ctx, cdn_worker_t *w, const cp_pkt_t *p,
                                const cp_addr_t *to, uint16_t to_port, uint32_t now,
                                cdn_result_t *r)
{
  uint32_t idx = alloc_rec(ctx, w, now);
  if (idx == CDN_INVALID_ID) {
    drop(w, r, CDN_E_SESSION_LIMIT);
    return CDN_INVALID_ID;
  }
  cdn_sess_t *s = &w->rec[idx];
  s->af = p->af;
  s->proto = p->proto;
  cdn_sess_set_addr(w, idx, 0, &p->src);
  cdn_sess_set_addr(w, idx, 1, &p->dst);
  cdn_sess_set_addr(w, idx, 2, to);
  cdn_sess_set_addr(w, idx, 3, &p->src);
  s->p[0] = s->p[3] = p->sport;
  s->p[1] = p->dport;
  s->p[2] = to_port;
  return idx;
}

static uint32_t dnat_flow(cdn_ctx_t *ctx, cdn_worker_t *w, const cdn_snap_t *snap,
                          const cdn_xlat_t *x, const cp_pkt_t *p, const cdn_meta_t *m,
                          const cdn_pstate_t *st, uint32_t now, cdn_result_t *r)
{
  int ext = x->kind != CDN_VIP_CLUSTER_IP && !m->from_pod;
  int local = ext ? !!(x->flags & CDN_XF_EXT_LOCAL) : !!(x->flags & CDN_XF_INT_LOCAL);
  const uint16_t *lb = x->lb[local];
  if (!lb) {
    drop(w, r, CDN_E_NO_BACKEND);
    return CDN_INVALID_ID;
  }
  uint8_t set = local ? CDN_SET_LOCAL : CDN_SET_CLUSTER;
  const cdn_be_t *be = NULL;
  if (x->flags & CDN_XF_AFFINITY) {
    const cdn_aff_t *a = cdn_aff_lookup(w, &p->src, x->id, now);
    if (a && cdn_be_gen_load(ctx, a->be_id) == a->be_gen)
      for (uint32_t i = 0; i < x->n_be && !be; i++)
        if (x->be[i].id == a->be_id && (x->be[i].sets & set))
          be = &x->be[i];
    if (be)
      w->cnt[CDN_CNT_AFFINITY_HITS]++;
  }
  if (!be && (st->hint & CDN_HINT_BE))
    be = st->hbe; /* stage 2's Maglev pick for this packet (no affinity) */
  if (!be) {
    uint32_t h = xlat_hash(x, p, ctx->cfg.hash_seed);
    be = &x->be[lb[((uint64_t)h * x->m) >> 32]];
  }
  int nonat = !!(be->flags & CDN_BF_NO_NAT);
  int hairpin = !nonat && cdn_addr_eq(&be->addr, &p->src);
  int snat = hairpin || (!nonat && ext && !local && !(be->flags & CDN_BF_LOCAL));
  int ai = cdn_af_idx(p->af);
  if (snat && !snap->has_snat[ai]) {
    drop(w, r, CDN_E_SNAT_UNCONFIGURED);
    return CDN_INVALID_ID;
  }
  uint32_t idx = open_rec(ctx, w, p, nonat ? &p->dst : &be->addr, nonat ? p->dport : be->port,
                          now, r);
  if (idx == CDN_INVALID_ID)
    return CDN_INVALID_ID;
  cdn_sess_t *s = &w->rec[idx];
  if (snat) {
    uint16_t port = cdn_snat_alloc(w, p->af, p->proto, p->sport);
    if (!port) {
      cdn_sess_release_unlinked(w, idx);
      drop(w, r, CDN_E_SNAT_EXHAUSTED);
      return CDN_INVALID_ID;
    }
    s->sflags |= CDN_SF_SNAT_PORT;
    cdn_sess_set_addr(w, idx, 3, &snap->snat[ai]);
    s->p[3] = port;
  }
  s->be_id = be->id;
  s->be_gen = be->gen;
  s->rflags = (uint8_t)((nonat ? CDN_R_NO_NAT : CDN_R_DNAT) | (snat ? CDN_R_SNAT : 0) |
                        (hairpin ? CDN_R_HAIRPIN : 0));
  if (x->flags & CDN_XF_AFFINITY)
    cdn_aff_store(w, &p->src, x->id, be->id, be->gen, now + x->affinity_ms, now);
  return finish_rec(ctx, w, idx, m, st, now, r);
}

static int nat_outgoing(const cdn_snap_t *s, const cp_pkt_t *p)
{
  if (!s->n_pfx[CDN_PFX_NAT_OUTGOING])
    return 0;
  if (p->proto == CP_IPPROTO_ICMP && p->icmp_type != 8)
    return 0; /* only echo requests open ICMP flows */
  if (p->proto == CP_IPPROTO_ICMPV6 && p->icmp_type != 128)
    return 0;
  return in_pfx_list(s, CDN_PFX_NAT_OUTGOING, p->af, &p->src) &&
         !in_pfx_list(s, CDN_PFX_EXCLUDE, p->af, &p->dst) &&
         !in_pfx_list(s, CDN_PFX_NAT_OUTGOING, p->af, &p->dst) &&
         !is_node_addr(s, p->af, &p->dst);
}

static uint32_t snat_flow(cdn_ctx_t *ctx, cdn_worker_t *w, const cdn_snap_t *snap,
                          const cp_pkt_t *p, const cdn_meta_t *m, const cdn_pstate_t *st,
                          uint32_t now, cdn_result_t *r)
{
  int ai = cdn_af_idx(p->af);
  if (!snap->has_snat[ai]) {
    drop(w, r, CDN_E_SNAT_UNCONFIGURED);
    return CDN_INVALID_ID;
  }
  uint32_t idx = open_rec(ctx, w, p, &p->dst, p->dport, now, r);
  if (idx == CDN_INVALID_ID)
    return CDN_INVALID_ID;
  uint16_t port = cdn_snat_alloc(w, p->af, p->proto, p->sport);
  if (!port) {
    cdn_sess_release_unlinked(w, idx);
    drop(w, r, CDN_E_SNAT_EXHAUSTED);
    return CDN_INVALID_ID;
  }
  cdn_sess_t *s = &w->rec[idx];
  s->sflags |= CDN_SF_SNAT_PORT;
  cdn_sess_set_addr(w, idx, 3, &snap->snat[ai]);
  s->p[3] = port;
  /* ICMP echo: the reply carries the new id in both "port" positions */
  s->p[2] = (p->proto == CP_IPPROTO_ICMP || p->proto == CP_IPPROTO_ICMPV6) ? port : p->dport;
  s->be_id = ai ? CDN_BE_SNAT6 : CDN_BE_SNAT4;
  s->be_gen = snap->snat_gen[ai];
  s->rflags = CDN_R_SNAT;
  return finish_rec(ctx, w, idx, m, st, now, r);
}

/* A flow nothing translates, seen while a policy hook is attached: tracked as Calico's
 * conntrack does, so that its first packet's verdict is cached and its replies pass as
 * return traffic of an admitted flow. The record's addresses and ports are the packet's
 * both ways (no rewrite). An ICMP echo reply opens no flow. */
static uint32_t track_flow(cdn_ctx_t *ctx, cdn_worker_t *w, const cp_pkt_t *p,
                           const cdn_meta_t *m, const cdn_pstate_t *st, uint32_t now,
                           cdn_result_t *r)
{
  if ((p->proto == CP_IPPROTO_ICMP && p->icmp_type != 8) ||
      (p->proto == CP_IPPROTO_ICMPV6 && p->icmp_type != 128))
    return CDN_INVALID_ID;
  uint32_t idx = open_rec(ctx, w, p, &p->dst, p->dport, now, r);
  if (idx == CDN_INVALID_ID)
    return CDN_INVALID_ID;
  cdn_sess_t *s = &w->rec[idx];
  s->be_id = CDN_BE_TRACK;
  s->be_gen = cdn_be_gen_load(ctx, CDN_BE_TRACK);
  s->rflags = CDN_R_TRACKED;
  return finish_rec(ctx, w, idx, m, st, now, r);
}

static uint32_t new_flow(cdn_ctx_t *ctx, cdn_worker_t *w, const cdn_snap_t *snap,
                         const cp_pkt_t *p, const cdn_meta_t *m, const cdn_pstate_t *st,
                         uint32_t now, cdn_result_t *r)
{
  if (st->hint & CDN_HINT_XLAT)
    return dnat_flow(ctx, w, snap, st->hx, p, m, st, now, r);
  if (p->proto == CP_IPPROTO_TCP || p->proto == CP_IPPROTO_UDP || p->proto == CP_IPPROTO_SCTP) {
    const cdn_vkey_t *k = vkey_find(snap, p->af, &p->dst, p->proto, p->dport);
    if (!k && snap->n_node && is_node_addr(snap, p->af, &p->dst))
      k = vkey_find(snap, p->af, &zero_addr, p->proto, p->dport);
    if (k && k->xlat)
      return dnat_flow(ctx, w, snap, k->xlat, p, m, st, now, r);
  }
  if (vkey_find(snap, p->af, &p->dst, 0, 0)) {
    drop(w, r, CDN_E_VIP_NO_PORT);
    return CDN_INVALID_ID;
  }
  if (nat_outgoing(snap, p))
    return snat_flow(ctx, w, snap, p, m, st, now, r);
  if (snap->has_hook)
    return track_flow(ctx, w, p, m, st, now, r);
  return CDN_INVALID_ID;
}

/* A packet that missed its first bucket is probably a new flow: work out where its return
 * key will live and prefetch those buckets now, so that creating the session does not wait
 * for them (the clash check has to read both). Nothing changes but the packet's hints
 * (translation, backend, return-key buckets), which session creation uses instead of
 * working them out again. */
static inline void peek_new_flow(const cdn_ctx_t *ctx, const cdn_worker_t *w,
                                 const cdn_snap_t *snap, const cp_pkt_t *p, const cdn_meta_t *m,
                                 cdn_pstate_t *st)
{
  if (p->proto != CP_IPPROTO_TCP && p->proto != CP_IPPROTO_UDP && p->proto != CP_IPPROTO_SCTP)
    return;
  const cdn_vkey_t *k = vkey_find(snap, p->af, &p->dst, p->proto, p->dport);
  if (!k && snap->n_node && is_node_addr(snap, p->af, &p->dst))
    k = vkey_find(snap, p->af, &zero_addr, p->proto, p->dport);
  if (!k || !k->xlat)
    return;
  const cdn_xlat_t *x = k->xlat;
  st->hx = x;
  st->hint = CDN_HINT_XLAT;
  if (x->flags & CDN_XF_AFFINITY)
    return; /* the backend may come from the affinity table */
  int ext = x->kind != CDN_VIP_CLUSTER_IP && !m->from_pod;
  int local = ext ? !!(x->flags & CDN_XF_EXT_LOCAL) : !!(x->flags & CDN_XF_INT_LOCAL);
  const uint16_t *lb = x->lb[local];
  if (!lb)
    return;
  uint32_t h = xlat_hash(x, p, ctx->cfg.hash_seed);
  const cdn_be_t *be = &x->be[lb[((uint64_t)h * x->m) >> 32]];
  st->hbe = be;
  st->hint |= CDN_HINT_BE;
  int nonat = !!(be->flags & CDN_BF_NO_NAT);
  if (!nonat && (cdn_addr_eq(&be->addr, &p->src) || (ext && !local && !(be->flags & CDN_BF_LOCAL))))
    return; /* SNAT: the return key depends on the port still to be allocated */
  cdn_key_t rk = {nonat ? p->dst : be->addr, p->src, nonat ? p->dport : be->port, p->sport,
                  p->proto, p->af};
  cdn_hpos_t hp = cdn_hpos(w, cdn_key_hash64(&rk));
  __builtin_prefetch(&w->bk[hp.b1]);
  __builtin_prefetch(&w->bk[hp.b2]);
  st->rb1 = hp.b1;
  st->rb2 = hp.b2;
  st->rtag = hp.tag;
  st->hint |= CDN_HINT_REV;
}

/* ---- rewrite of a packet of a known flow ----------------------------------------------- */

/* The part of `apply` after the verdict and ICMP-error checks: TCP state, expiry, rewrite
 * (the precomputed-delta one for TCP/UDP), result flags. */
/* The flow's state and timeout after one more packet in direction `dir`. */
static inline void refresh(cdn_ctx_t *ctx, cdn_sess_t *s, uint32_t dir, const cp_pkt_t *p,
                           uint32_t now)
{
  if (s->proto == CP_IPPROTO_TCP)
    cdn_tcp_track(s, dir, p->tcp_flags);
  else if (dir)
    s->sflags |= CDN_SF_SEEN_REV;
  s->expires = now + cdn_sess_timeout(&ctx->cfg, s);
}

/* What a forward packet of the session had done to it, as result flags. */
#define CDN_R_FWD_KINDS (CDN_R_DNAT | CDN_R_SNAT | CDN_R_NO_NAT | CDN_R_HAIRPIN)

static inline __attribute__((always_inline)) void apply_l4(cdn_ctx_t *ctx, cdn_worker_t *w,
                                                           uint8_t *d, const cp_pkt_t *p,
                                                           uint32_t idx, uint32_t dir,
                                                           uint32_t now, cdn_result_t *r)
{
  cdn_sess_t *s = &w->rec[idx];
  refresh(ctx, s, dir, p, now);
  /* forward: to snat:sport -> backend:bport; return: to vip:vport -> client:cport */
  uint32_t ns = dir == CDN_DIR_FWD ? 3 : 1, nd = dir == CDN_DIR_FWD ? 2 : 0;
  if (CDN_LIKELY(s->proto == CP_IPPROTO_TCP || s->proto == CP_IPPROTO_UDP)) {
    cdn_rewrite_l4_fast(d, p, cdn_sess_addr_ptr(w, idx, ns), s->p[ns],
                        cdn_sess_addr_ptr(w, idx, nd), s->p[nd], s->cdelta[dir]);
  } else {
    cp_addr_t as = cdn_sess_addr(w, idx, ns), ad = cdn_sess_addr(w, idx, nd);
    cdn_rewrite(d, p, &as, s->p[ns], &ad, s->p[nd]);
  }
  r->flags |= dir == CDN_DIR_FWD ? s->rflags & CDN_R_FWD_KINDS : CDN_R_REVERSE;
  w->cnt[CDN_CNT_REWRITTEN]++;
}

static inline __attribute__((always_inline)) void apply(cdn_ctx_t *ctx, cdn_worker_t *w, uint8_t *d, const cp_pkt_t *p,
                         const cdn_pstate_t *st, uint32_t now, cdn_result_t *r)
{
  uint32_t idx = st->ref >> 1, dir = st->ref & 1;
  cdn_sess_t *s = &w->rec[idx];
  r->session = idx;
  r->verdict = s->verdict;
  r->backend = s->be_id >= CDN_BE_FIRST ? s->be_id : CDN_INVALID_ID;
  if (CDN_UNLIKELY(s->verdict == CP_VERDICT_DENY)) {
    drop(w, r, CDN_E_POLICY_DENY);
    return;
  }
  if (s->rflags & CDN_R_TRACKED) { /* state and timeout only: nothing to rewrite */
    if (st->kind == K_ICMP_ERR)
      r->flags |= CDN_R_ICMP_ERROR;
    else
      refresh(ctx, s, dir, p, now);
    r->flags |= CDN_R_TRACKED | (dir ? CDN_R_REVERSE : 0);
    w->cnt[CDN_CNT_PASSED]++;
    return;
  }
  if (CDN_UNLIKELY(st->kind == K_ICMP_ERR)) {
    cp_addr_t a0 = cdn_sess_addr(w, idx, 0), a1 = cdn_sess_addr(w, idx, 1);
    cp_addr_t a2 = cdn_sess_addr(w, idx, 2), a3 = cdn_sess_addr(w, idx, 3);
    if (dir == CDN_DIR_FWD)
      cdn_rewrite_icmp_error(d, p, &a0, &a1, &a3, s->p[3], &a2, s->p[2]);
    else
      cdn_rewrite_icmp_error(d, p, &a2, &a3, &a1, s->p[1], &a0, s->p[0]);
    r->flags |= CDN_R_ICMP_ERROR | (dir ? CDN_R_REVERSE : (s->rflags & CDN_R_FWD_KINDS));
    w->cnt[CDN_CNT_ICMP_ERRORS]++;
    w->cnt[CDN_CNT_REWRITTEN]++;
    return;
  }
  apply_l4(ctx, w, d, p, idx, dir, now, r);
}

/* The lookup key of a packet: its own tuple, or for an ICMP error the quoted one, swapped. */
static inline void pkt_key(const cdn_pstate_t *st, const cp_pkt_t *p, cdn_key_t *k)
{
  if (st->kind == K_ICMP_ERR) {
    k->src = st->src;
    k->dst = st->dst;
    k->sport = st->sport;
    k->dport = st->dport;
    k->proto = st->proto;
  } else {
    k->src = p->src;
    k->dst = p->dst;
    k->sport = p->sport;
    k->dport = p->dport;
    k->proto = p->proto;
  }
  k->af = p->af;
}

/* The first fingerprint match `mm` in bucket `b` is packet i's candidate: prefetch its
 * record (one cache line; an IPv6 record also its extension, a2 and a3). */
static inline __attribute__((always_inline)) void
take_candidate(cdn_worker_t *w, cdn_pstate_t *st, const cdn_bucket_t *b, uint32_t mm, uint32_t i)
{
  st->ref = b->val[__builtin_ctz(mm)];
  __builtin_prefetch(&w->rec[st->ref >> 1]);
  if (!st->fast && w->views[i].af == 6)
    __builtin_prefetch(&w->ext6[st->ref >> 1]);
}

/* Stage 2 for one packet: match the 16-bit fingerprint in its first bucket (prefetched by
 * stage 1) and prefetch the candidate record; on no match (a new flow, or one of the ~5 %
 * of keys displaced to their second bucket) prefetch the second bucket for stage 2b. Only
 * a candidate: stage 3 verifies it against the full key. */
static inline __attribute__((always_inline)) void stage2(cdn_worker_t *w, uint32_t i)
{
  cdn_pstate_t *st = &w->ps[i];
  if (st->kind == K_SKIP)
    return;
  const cdn_bucket_t *b = &w->bk[st->b1];
  uint32_t mm = cdn_bucket_match(b, st->tag);
  if (!mm) {
    __builtin_prefetch(&w->bk[st->b2]);
    st->miss1 = 1;
    return;
  }
  take_candidate(w, st, b, mm, i);
}

/* Stage 2b, for a packet whose key missed its first bucket: match the second bucket and
 * prefetch the candidate record (an established flow displaced by the cuckoo moves does
 * not wait for its record in stage 3), or, on no match, work out the new flow's hints. */
static inline __attribute__((always_inline)) void
stage2b(const cdn_ctx_t *ctx, cdn_worker_t *w, const cdn_snap_t *snap, const cdn_meta_t *meta,
        uint32_t i)
{
  cdn_pstate_t *st = &w->ps[i];
  if (!st->miss1)
    return;
  const cdn_bucket_t *b = &w->bk[st->b2];
  uint32_t mm = cdn_bucket_match(b, st->tag);
  if (mm)
    take_candidate(w, st, b, mm, i);
  else if (st->kind == K_NORMAL)
    peek_new_flow(ctx, w, snap, &w->views[i], meta ? &meta[i] : &default_meta, st);
}

/* Stage 1 for one packet: parse, key, hash; prefetch the first bucket. */
static inline __attribute__((always_inline)) void stage1(cdn_worker_t *w, uint8_t *const *data,
                                                         const uint32_t *len, cdn_result_t *res,
                                                         uint32_t i)
{
  /* no prefetch of the packet: its header is in cache already (the VPP node prefetches it
   * while building the burst; the benchmark harness has just written it) */
  cp_pkt_t *p = &w->views[i];
  cdn_pstate_t *st = &w->ps[i];
  cdn_result_t *r = &res[i];
  r->session = r->backend = CDN_INVALID_ID;
  r->flags = 0;
  r->next = CDN_NEXT_FORWARD;
  r->error = CDN_E_NONE;
  r->verdict = CP_VERDICT_NONE;
  st->ref = CDN_INVALID_ID;
  st->deferred = st->classify = 0;
  st->hint = st->miss1 = 0;
  cdn_hpos_t hp;
  if (CDN_LIKELY(cp_pkt_parse_ip4_l4(data[i], len[i], p))) {
    /* the common case (IPv4 TCP/UDP, no options, not a fragment): the parser's shortcut
     * writes the view's tuple and nothing else; that tuple is the key */
    st->kind = K_NORMAL;
    st->fast = 1;
    hp = cdn_hpos(w, cdn_tuple_hash64(&p->src, &p->dst, p->sport, p->dport, p->proto, 4));
  } else {
    st->kind = K_SKIP;
    st->fast = 0;
    if (CDN_UNLIKELY(cp_pkt_parse_general(data[i], len[i], p) != CP_PKT_OK)) {
      w->cnt[CDN_CNT_UNPARSED]++;
      return;
    }
    if (CDN_UNLIKELY(p->flags & CP_PKT_F_LATER_FRAG)) {
      w->cnt[CDN_CNT_FRAGMENTS]++;
      return;
    }
    if (!(p->flags & CP_PKT_F_HAS_L4))
      return;
    if (CDN_UNLIKELY(p->flags & CP_PKT_F_ICMP_ERROR)) {
      if (!(p->flags & CP_PKT_F_INNER_L4))
        return;
      st->src = p->inner.dst;
      st->dst = p->inner.src;
      st->sport = p->inner.dport;
      st->dport = p->inner.sport;
      st->proto = p->inner.proto;
      st->kind = K_ICMP_ERR;
    } else {
      if (cdn_icmp_keyless(p))
        return; /* only echo has an id to key on */
      st->kind = K_NORMAL;
    }
    cdn_key_t k;
    pkt_key(st, p, &k);
    hp = cdn_hpos(w, cdn_key_hash64(&k));
  }
  st->b1 = hp.b1;
  st->b2 = hp.b2;
  st->tag = hp.tag;
  __builtin_prefetch(&w->bk[hp.b1]); /* most keys sit in their first bucket */
}

/* ---- the burst ----------------------------------------------------------------------------- */

static uint32_t burst(cdn_ctx_t *ctx, cdn_worker_t *w, const cdn_snap_t *snap,
                      uint8_t *const *data, const uint32_t *len, const cdn_meta_t *meta,
                      uint32_t n, uint32_t now, cdn_result_t *res)
{
  uint32_t pgen = snap->has_hook ? snap->hook.generation(snap->hook.ctx) : 0;

  /* One software pipeline: stage 1 (parse, hash, bucket prefetch) runs CDN_STAGE1_AHEAD
   * packets ahead of stage 2 (bucket match, record prefetch), which runs CDN_STAGE2_AHEAD
   * ahead of stage 3, so that the two random lines of every packet are requested at the
   * pace packets are finished and their fetches overlap stage 3's work on earlier packets
   * (all of a vector's bucket prefetches at once would queue behind each other first). A
   * candidate found after earlier packets of the burst changed the table is still only a
   * candidate: stage 3 verifies it, as it must anyway. */
  _Static_assert(CDN_STAGE2B_AHEAD <= CDN_STAGE2_AHEAD, "stage 2b follows stage 2");
  uint32_t a3 = n < CDN_STAGE2B_AHEAD ? n : CDN_STAGE2B_AHEAD;
  uint32_t a2 = n < CDN_STAGE2_AHEAD ? n : CDN_STAGE2_AHEAD;
  uint32_t a1 = n < CDN_STAGE1_AHEAD + a2 ? n : CDN_STAGE1_AHEAD + a2;
  for (uint32_t i = 0; i < a1; i++)
    stage1(w, data, len, res, i);
  for (uint32_t i = 0; i < a2; i++)
    stage2(w, i);
  for (uint32_t i = 0; i < a3; i++)
    stage2b(ctx, w, snap, meta, i);

  /* 3: verify, validate, create, rewrite (verdict-pending packets are deferred) */
  uint32_t n_def = 0, n_cls = 0, rewritten = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i + a1 < n)
      stage1(w, data, len, res, i + a1);
    if (i + a2 < n)
      stage2(w, i + a2);
    if (i + a3 < n)
      stage2b(ctx, w, snap, meta, i + a3);
    cdn_pstate_t *st = &w->ps[i];
    cp_pkt_t *p = &w->views[i];
    cdn_result_t *r = &res[i];
    uint32_t ref = st->ref;
    /* The established IPv4 TCP/UDP packet: stage 2's candidate is its flow (in use, not
     * waiting for a verdict, the tuple matches), valid, not expired, not closing (the
     * port-reuse check), not denied, its verdict current, translated (tracked-only
     * sessions exist only with a hook): rewrite at once. Anything else
     * takes the general path below, which decides the same way for these packets. */
    if (CDN_LIKELY(st->fast) && CDN_LIKELY(ref != CDN_INVALID_ID)) {
      uint32_t idx = ref >> 1;
      cdn_sess_t *s = &w->rec[idx];
      if (CDN_LIKELY((s->sflags & (CDN_SF_USED | CDN_SF_PENDING)) == CDN_SF_USED &&
                     cdn_rec_match_tuple(w, idx, ref & 1, &p->src, &p->dst, p->sport, p->dport,
                                         p->proto, 4) &&
                     s->state != CDN_TCP_CLOSING && s->verdict != CP_VERDICT_DENY &&
                     cdn_sess_valid(ctx, s) && !cdn_time_reached(now, s->expires) &&
                     (!snap->has_hook || (w->pol[idx].gen == pgen &&
                                          (s->sflags & CDN_SF_CLASSIFIED) &&
                                          !(s->rflags & CDN_R_TRACKED))))) {
        r->session = idx;
        r->verdict = s->verdict;
        r->backend = s->be_id >= CDN_BE_FIRST ? s->be_id : CDN_INVALID_ID;
        apply_l4(ctx, w, data[i], p, idx, ref & 1, now, r);
        rewritten++;
        continue;
      }
    }
    if (st->kind == K_SKIP) {
      w->cnt[CDN_CNT_PASSED]++;
      continue;
    }
    cdn_key_t k;
    pkt_key(st, p, &k);
    /* stage 2's candidate is only a candidate (it may have been freed or reused by an
     * earlier packet of this burst): check it against the key, else a full lookup */
    if (ref == CDN_INVALID_ID || !(w->rec[ref >> 1].sflags & CDN_SF_USED) ||
        !cdn_rec_match(w, ref >> 1, ref & 1, &k)) {
      cdn_hpos_t hp = {st->b1, st->b2, st->tag};
      ref = cdn_sess_lookup(w, &k, hp);
    }
    if (ref != CDN_INVALID_ID) {
      cdn_sess_t *s = &w->rec[ref >> 1];
      if (!(s->sflags & CDN_SF_PENDING)) {
        uint32_t why = CDN_CNT_N;
        if (CDN_UNLIKELY(!cdn_sess_valid(ctx, s)))
          why = CDN_CNT_SESSIONS_STALE;
        else if (CDN_UNLIKELY(cdn_time_reached(now, s->expires)))
          why = CDN_CNT_SESSIONS_EXPIRED;
        /* CLOSING first: the one test a packet of a live flow pays (only TCP gets there) */
        else if (CDN_UNLIKELY(s->state == CDN_TCP_CLOSING && st->kind == K_NORMAL &&
                              s->proto == CP_IPPROTO_TCP && (ref & 1) == CDN_DIR_FWD &&
                              (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN))
          why = CDN_CNT_SESSIONS_EXPIRED; /* the client reuses the port of a closed flow */
        if (why != CDN_CNT_N) {
          w->cnt[why]++;
          cdn_sess_free(w, ref >> 1);
          ref = CDN_INVALID_ID;
        }
      }
    }
    if (ref == CDN_INVALID_ID) {
      if (st->kind == K_ICMP_ERR) {
        w->cnt[CDN_CNT_PASSED]++;
        continue;
      }
      const cdn_meta_t *m = meta ? &meta[i] : &default_meta;
      uint32_t idx = new_flow(ctx, w, snap, p, m, st, now, r);
      if (idx == CDN_INVALID_ID) {
        if (r->next == CDN_NEXT_FORWARD)
          w->cnt[CDN_CNT_PASSED]++;
        continue;
      }
      ref = idx << 1 | CDN_DIR_FWD;
    }
    st->ref = ref;
    cdn_sess_t *s = &w->rec[ref >> 1];
    if (s->sflags & CDN_SF_PENDING) {
      st->deferred = 1;
      w->deferred[n_def++] = (uint16_t)i;
      continue;
    }
    if (snap->has_hook &&
        (w->pol[ref >> 1].gen != pgen || !(s->sflags & CDN_SF_CLASSIFIED))) {
      w->pol[ref >> 1].gen = pgen;
      w->pol[ref >> 1].out.verdict = CP_VERDICT_NONE; /* the output point asks again */
      s->sflags |= CDN_SF_PENDING | CDN_SF_CLASSIFIED;
      st->deferred = st->classify = 1;
      w->deferred[n_def++] = (uint16_t)i;
      /* the flow as policy sees it: its forward direction after translation */
      cp_pkt_t *cv = &w->cls_views[n_cls];
      memset(cv, 0, sizeof(*cv));
      cv->status = CP_PKT_OK;
      cv->af = s->af;
      cv->proto = s->proto;
      cv->flags = CP_PKT_F_HAS_L4;
      cv->src = cdn_sess_addr(w, ref >> 1, 3);
      cv->dst = cdn_sess_addr(w, ref >> 1, 2);
      cv->sport = s->p[3];
      cv->dport = s->p[2];
      if (s->proto == CP_IPPROTO_ICMP || s->proto == CP_IPPROTO_ICMPV6)
        cv->icmp_type = s->af == 4 ? 8 : 128;
      w->cls_ptr[n_cls] = cv;
      w->cls_ep[n_cls] = w->pol[ref >> 1].endpoint;
      w->cls_dir[n_cls] = s->dir;
      w->cls_sess[n_cls] = ref >> 1;
      n_cls++;
      continue;
    }
    apply(ctx, w, data[i], p, st, now, r);
    rewritten += r->next == CDN_NEXT_FORWARD && !(r->flags & CDN_R_TRACKED);
  }

  /* 4: one policy call for every flow that needs a verdict, then the deferred packets */
  if (n_cls) {
    snap->hook.classify_burst(snap->hook.ctx, w->cls_ptr, w->cls_ep, w->cls_dir, n_cls,
                              w->cls_verdict);
    w->cnt[CDN_CNT_POLICY_EVALS] += n_cls;
    for (uint32_t k = 0; k < n_cls; k++)
      w->rec[w->cls_sess[k]].verdict = w->cls_verdict[k];
  }
  for (uint32_t k = 0; k < n_def; k++) {
    uint32_t i = w->deferred[k];
    apply(ctx, w, data[i], &w->views[i], &w->ps[i], now, &res[i]);
    rewritten += res[i].next == CDN_NEXT_FORWARD && !(res[i].flags & CDN_R_TRACKED);
  }
  for (uint32_t k = 0; k < n_cls; k++)
    w->rec[w->cls_sess[k]].sflags &= (uint8_t)~CDN_SF_PENDING;
  return rewritten;
}

/* Records of the sweep due at `now`: the table's share of the time since the last burst
 * (the millisecond clock may wrap; one that went back starts over from `now`, owing
 * nothing more), never more than one full pass owed, at most CDN_SWEEP_PER_BURST at once. */
static uint32_t sweep_due(cdn_worker_t *w, uint32_t now)
{
  int32_t dt = (int32_t)(now - w->sweep_ms);
  if (dt) {
    if (dt > 0) {
      const uint64_t pass = (uint64_t)CDN_SWEEP_PERIOD_MS * w->cap;
      uint64_t c = w->sweep_credit + (uint64_t)dt * w->cap;
      w->sweep_credit = c < pass ? c : pass;
    }
    w->sweep_ms = now;
  }
  uint64_t n = w->sweep_credit / CDN_SWEEP_PERIOD_MS;
  if (n > CDN_SWEEP_PER_BURST)
    n = CDN_SWEEP_PER_BURST;
  w->sweep_credit -= n * CDN_SWEEP_PERIOD_MS;
  return (uint32_t)n;
}

uint32_t cdn_process_burst(cdn_ctx_t *ctx, uint32_t worker, uint8_t *const *data,
                           const uint32_t *len, const cdn_meta_t *meta, uint32_t n,
                           uint32_t now_ms, cdn_result_t *res)
{
  if (!ctx || worker >= ctx->cfg.n_workers || !data || !len || !res)
    return 0;
  cdn_worker_t *w = ctx->w[worker];
  _Atomic uint64_t *global = cp_epoch_global(ctx->epoch);
  cp_epoch_reader_t *rd = cp_epoch_reader(ctx->epoch, worker);
  uint32_t done = 0;
  cp_epoch_enter_r(global, rd);
  const cdn_snap_t *snap = cp_epoch_deref(&ctx->snap);
  for (uint32_t off = 0; off < n; off += CDN_MAX_BURST) {
    uint32_t m = n - off < CDN_MAX_BURST ? n - off : CDN_MAX_BURST;
    done += burst(ctx, w, snap, data + off, len + off, meta ? meta + off : NULL, m, now_ms,
                  res + off);
    w->cnt[CDN_CNT_PACKETS] += m;
  }
  uint32_t due = sweep_due(w, now_ms);
  if (due)
    cdn_sweep(ctx, w, now_ms, due);
  cp_epoch_exit_r(rd);
  return done;
}
