/*
 * Which worker owns a packet's flow. Sessions are per worker and unlocked, so a host that
 * spreads packets over several threads (RSS queues, several interfaces) must hand each
 * packet to the worker that holds its flow before cdn_process_burst. The owner is a
 * function of the packet and the published configuration alone, chosen so that both
 * directions of every flow the core makes map to the same worker (docs/dnat.md "Workers
 * and handoff"):
 *
 *   1. to a VIP (or a NodePort on a node address): a forward packet of a translated
 *      flow; the owner is the hash of its source endpoint, the client;
 *   2. to the SNAT address, at a port in the SNAT range: a reply to a source-translated
 *      flow; the port says which worker allocated it (each worker owns a slice);
 *   3. from a backend endpoint or from a VIP (a no-NAT backend replies as the VIP): a
 *      reply of a translated flow; the hash of its destination endpoint, the client;
 *   4. to a backend endpoint directly (no service): the hash of the source endpoint,
 *      the same side rule 3 picks for the replies;
 *   5. anything else (natOutgoing forward packets, tracked flows): a hash symmetric in
 *      the two endpoints.
 *
 * A SNATed flow's owner is the worker its forward packets go to by rules 1 or 5, whose
 * slice its port comes from, so rule 2 sends the replies back there. ICMP errors go by
 * the flow they quote (the lookup key the burst path uses); packets no session concerns
 * (unparsed, non-first fragments, other ICMP) stay where they are.
 */
#include "calico_dnat.h"
#include "cdn_session_inline.h"
#include "cdn_snap_inline.h"
#include "cdn_snat_inline.h"
#include "cp/flowhash.h"

static const cp_addr_t zero_addr;

/* An endpoint's 64-bit hash (address, port, family), keyed by the configured seed. */
static inline uint64_t ep_hash(const cp_addr_t *a, uint16_t port, uint8_t af, uint64_t seed)
{
  return cp_mix64(a->q[0] ^ seed ^ CP_FH_K0, a->q[1] ^ ((uint64_t)port << 8 | af) ^ CP_FH_K1);
}

static inline uint32_t pick(uint64_t h, uint32_t n)
{
  return (uint32_t)(((h >> 32) * n) >> 32);
}

/* The owner among workers owner_first .. n_workers - 1. */
static uint32_t owner_of(const cdn_config_t *c, const cdn_snap_t *s, uint8_t af, uint8_t proto,
                         const cp_addr_t *src, uint16_t sport, const cp_addr_t *dst,
                         uint16_t dport)
{
  uint32_t f = c->owner_first, n = c->n_workers - f;
  uint8_t baf = (uint8_t)(af | CDN_VK_BACKEND);
  if (vkey_find(s, af, dst, proto, dport) ||
      (s->n_node && is_node_addr(s, af, dst) && vkey_find(s, af, &zero_addr, proto, dport)))
    return f + pick(ep_hash(src, sport, af, c->hash_seed), n);
  int ai = af == 6;
  if (s->has_snat[ai] && cdn_addr_eq(&s->snat[ai], dst) && dport >= c->snat_port_min &&
      dport <= c->snat_port_max)
    return cdn_snat_slice_worker(c, dport);
  if (vkey_find(s, baf, src, proto, sport) || vkey_find(s, af, src, proto, sport))
    return f + pick(ep_hash(dst, dport, af, c->hash_seed), n);
  if (vkey_find(s, baf, dst, proto, dport))
    return f + pick(ep_hash(src, sport, af, c->hash_seed), n);
  uint64_t hs = ep_hash(src, sport, af, c->hash_seed), hd = ep_hash(dst, dport, af, c->hash_seed);
  return f + pick(cp_mix64(hs + hd, CP_FH_K2), n); /* + commutes: the same both ways */
}

void cdn_flow_owner_burst(cdn_ctx_t *ctx, uint32_t worker, uint8_t *const *data,
                          const uint32_t *len, uint32_t n, uint16_t *owner)
{
  if (!ctx || worker >= ctx->cfg.n_workers || !data || !len || !owner)
    return;
  const cdn_config_t *c = &ctx->cfg;
  _Atomic uint64_t *global = cp_epoch_global(ctx->epoch);
  cp_epoch_reader_t *rd = cp_epoch_reader(ctx->epoch, worker);
  cp_epoch_enter_r(global, rd);
  const cdn_snap_t *s = cp_epoch_deref(&ctx->snap);
  /* one owner, and it is the caller: everything stays */
  int stay = c->n_workers - c->owner_first == 1 && worker == c->owner_first;
  for (uint32_t i = 0; i < n; i++) {
    cp_pkt_t p;
    owner[i] = (uint16_t)worker;
    if (stay || !data[i] || cp_pkt_parse_outer(data[i], len[i], &p) != CP_PKT_OK ||
        (p.flags & CP_PKT_F_LATER_FRAG) || !(p.flags & CP_PKT_F_HAS_L4))
      continue;
    if (p.flags & CP_PKT_F_ICMP_ERROR) {
      if (p.flags & CP_PKT_F_INNER_L4) /* the quoted flow, swapped: the burst's lookup key */
        owner[i] = (uint16_t)owner_of(c, s, p.af, p.inner.proto, &p.inner.dst, p.inner.dport,
                                      &p.inner.src, p.inner.sport);
      continue;
    }
    if (cdn_icmp_keyless(&p))
      continue; /* only echo has an id to key on */
    owner[i] = (uint16_t)owner_of(c, s, p.af, p.proto, &p.src, p.sport, &p.dst, p.dport);
  }
  cp_epoch_exit_r(rd);
}
