/* calico_dnat core: internal types shared by the core's files (not part of the API). */
#ifndef CDN_INTERNAL_H
#define CDN_INTERNAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "calico_dnat.h"
#include "cdn_maglev.h"
#include "cp/epoch.h"
#include "cp/flowhash.h"

#define CDN_LIKELY(x) __builtin_expect(!!(x), 1)
#define CDN_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Reserved backend ids: natOutgoing-only sessions of each family (their generation moves
 * when the family's SNAT address changes) and tracked-only sessions (flows nothing
 * translates, tracked for stateful policy; the generation moves when the policy hook is
 * detached). Real backends get ids from CDN_BE_FIRST. */
#define CDN_BE_SNAT4 0u
#define CDN_BE_SNAT6 1u
#define CDN_BE_TRACK 2u
#define CDN_BE_FIRST 3u

/* ---- translations (immutable once published) ----------------------------------------- */
enum {
  CDN_SET_CLUSTER = 1u << 0, /* the backend is in the cluster-wide selection set */
  CDN_SET_LOCAL = 1u << 1,   /* ... in the node-local selection set */
};

typedef struct {
  cp_addr_t addr;
  uint16_t port;
  uint16_t weight;
  uint8_t flags; /* CDN_BF_* */
  uint8_t af;
  uint8_t sets; /* CDN_SET_* */
  uint8_t pad;
  uint32_t id;  /* backend id: index into ctx->be_gen */
  uint32_t gen; /* ctx->be_gen[id] when this translation was built */
} cdn_be_t;

typedef struct cdn_xlat {
  cp_addr_t vip;
  uint32_t id;
  uint16_t port;
  uint8_t proto, af, kind;
  uint32_t flags;
  uint32_t hash_fields;
  uint32_t affinity_ms;
  uint32_t n_be;
  uint32_t m;      /* Maglev table size (0 when no table) */
  cdn_be_t *be;    /* n_be */
  uint16_t *lb[2]; /* [0] cluster set, [1] local set: m entries each, NULL when empty */
} cdn_xlat_t;

/* ---- the published snapshot ------------------------------------------------------------ */
/* Key table entry. A zero address with kind NodePort marks a NodePort key; an entry with
 * proto 0 / port 0 and xlat NULL marks "this address is a VIP"; an entry whose af has
 * CDN_VK_BACKEND set (xlat NULL) marks "this address:port/proto is a backend". */
#define CDN_VK_BACKEND 0x80u
typedef struct {
  cp_addr_t addr;
  uint16_t port;
  uint8_t proto;
  uint8_t af;
  uint8_t used;
  uint8_t refs[3]; /* markers: translations on the address (control side only) */
  const cdn_xlat_t *xlat;
} cdn_vkey_t;

/* The key table lives in pages shared between snapshots (see cdn_vkeys.c). */
#define CDN_VKEY_PAGE_BITS 7 /* 128 slots, 4 KiB */
#define CDN_VKEY_PAGE (1u << CDN_VKEY_PAGE_BITS)

typedef struct {
  cp_addr_t addr;
  uint8_t af, len;
} cdn_pfx_t;

typedef struct {
  uint32_t mask;      /* key slots - 1 (power of two, at least one page) */
  cdn_vkey_t **pages; /* (mask + 1) / CDN_VKEY_PAGE pages; the array is the snapshot's */
  uint32_t n_node;
  cdn_pfx_t node[CDN_MAX_NODE_ADDRS]; /* len unused */
  uint8_t has_snat[2];                /* [0] v4, [1] v6 */
  cp_addr_t snat[2];
  uint32_t snat_gen[2]; /* be_gen of CDN_BE_SNAT4/6 when published */
  uint32_t n_pfx[2];
  cdn_pfx_t pfx[2][CDN_MAX_PREFIXES]; /* [CDN_PFX_NAT_OUTGOING], [CDN_PFX_EXCLUDE] */
  uint8_t has_hook;
  cp_policy_hook_t hook;
} cdn_snap_t;

/* ---- per-worker state ---------------------------------------------------------------- */
/* One flow, both directions, in one 64-byte record (64-byte aligned: one cache line).
 * Addresses, numbered k = 0..3: (client, vip, backend, snat):
 *   forward key: a0:p[0] -> a1:p[1]   rewritten to a3:p[3] -> a2:p[2]
 *   return key:  a2:p[2] -> a3:p[3]   rewritten to a1:p[1] -> a0:p[0]
 * without SNAT a3 = a0, p[3] = p[0]; without DNAT a2 = a1, p[2] = p[1]. ICMP echo: every
 * port is the echo id. IPv4 records hold all four addresses here (4 bytes each), so an
 * IPv4 packet of a known flow touches this one line; IPv6 records hold a0, a1 here and
 * a2, a3 in the worker's `ext6` array at the same index (cdn_sess6_t, 32 bytes). Read
 * and write addresses through cdn_sess_addr / cdn_sess_addr_ptr / cdn_sess_set_addr
 * (docs/dnat.md "Sessions: layout and byte budget"). */
typedef struct {
  alignas(64) union {
    uint32_t a4[4];  /* af 4: a0..a3, network order */
    cp_addr_t a6[2]; /* af 6: a0, a1 */
  } u;
  uint16_t p[4];
  uint32_t be_id; /* free-list link while the record is free */
  uint32_t be_gen;
  uint32_t expires;
  uint8_t af, proto, state, sflags;
  uint8_t verdict, rflags, dir, pad;
  /* per direction [CDN_DIR_FWD, CDN_DIR_REV]: the one's-complement sum (folded) of the
   * address rewrite, ~old + new over the changed addresses, computed once when the
   * session is made; an established TCP/UDP packet adds it to the IPv4 header checksum
   * and (with its port changes) to the L4 checksum instead of recomputing it */
  uint16_t cdelta[2];
} cdn_sess_t;

/* The IPv6 half of a record that does not fit its line: a2 (backend), a3 (snat). */
typedef struct {
  cp_addr_t a[2];
} cdn_sess6_t;

enum {
  CDN_SF_USED = 1u << 0,
  CDN_SF_SNAT_PORT = 1u << 1, /* p[3] was allocated from the worker's SNAT ports */
  CDN_SF_FIN_FWD = 1u << 2,
  CDN_SF_FIN_REV = 1u << 3,
  CDN_SF_SEEN_REV = 1u << 4,
  CDN_SF_PENDING = 1u << 5,    /* packets of this flow wait for a verdict in this burst */
  CDN_SF_CLASSIFIED = 1u << 6, /* verdict holds for policy_gen */
};

#define CDN_BUCKET_WAYS 10
/* 64-byte bucket: 16-bit fingerprints (0 = empty) and values (record index << 1 | dir). */
typedef struct {
  alignas(64) uint16_t tag[CDN_BUCKET_WAYS];
  uint32_t val[CDN_BUCKET_WAYS];
  uint32_t pad;
} cdn_bucket_t;

_Static_assert(sizeof(cdn_sess_t) == 64, "session record must be one cache line");
_Static_assert(sizeof(cdn_sess6_t) == 32, "IPv6 extension: two per cache line");

/* The policy side of a record (same index), in its own array: only flows that meet a
 * policy hook touch it, so the established path without one reads one line per IPv4
 * record. */
typedef struct {
  uint32_t gen;              /* policy generation of the cached verdict */
  uint32_t endpoint;         /* policy endpoint of the first packet */
  cp_policy_out_cache_t out; /* the output point's verdict (VPP glue), same generation */
} cdn_pol_t;
_Static_assert(sizeof(cdn_pol_t) == 16, "policy side entry: 16 bytes");
_Static_assert(sizeof(cdn_bucket_t) == 64, "bucket must be one cache line");

/* ClientIP affinity entry (32 bytes), 4-way set associative. */
typedef struct {
  cp_addr_t client;
  uint32_t xid;
  uint32_t be_id;
  uint32_t be_gen;
  uint32_t expires; /* 0: empty */
} cdn_aff_t;

#define CDN_AFF_WAYS 4
#define CDN_SNAT_CLASSES 4 /* TCP, UDP, ICMP, SCTP */

/* Per-packet scratch of a burst (lives in the worker: nothing on the stack, no malloc). */
typedef struct {
  cp_addr_t src, dst; /* ICMP errors' lookup key: the quoted tuple, swapped (others: the
                       * view's own tuple is the key) */
  uint16_t sport, dport;
  uint8_t proto, kind, deferred, classify;
  uint32_t b1, b2;
  uint16_t tag;
  uint8_t fast; /* IPv4 TCP/UDP by the parser's shortcut: the key is the view's tuple */
  uint8_t miss1; /* no fingerprint match in the first bucket: stage 2b reads the second */
  uint32_t ref;
  /* what stage 2 worked out for a probable new flow (CDN_HINT_*), so that creating its
   * session does not repeat it: the translation, Maglev's backend, the return key's
   * buckets. Valid for this burst only (same snapshot, same packet). */
  uint8_t hint;
  uint8_t pad2;
  uint16_t rtag;
  uint32_t rb1, rb2;
  const struct cdn_xlat *hx;
  const cdn_be_t *hbe;
} cdn_pstate_t;

enum { CDN_HINT_XLAT = 1u << 0, CDN_HINT_BE = 1u << 1, CDN_HINT_REV = 1u << 2 };

typedef struct {
  /* burst scratch */
  cp_pkt_t views[CDN_MAX_BURST];
  cdn_pstate_t ps[CDN_MAX_BURST];
  cp_pkt_t cls_views[CDN_MAX_BURST];
  const cp_pkt_t *cls_ptr[CDN_MAX_BURST];
  uint32_t cls_ep[CDN_MAX_BURST];
  uint8_t cls_dir[CDN_MAX_BURST];
  uint8_t cls_verdict[CDN_MAX_BURST];
  uint32_t cls_sess[CDN_MAX_BURST];
  uint16_t deferred[CDN_MAX_BURST];
  /* sessions */
  cdn_sess_t *rec;
  cdn_sess6_t *ext6; /* cap entries, by record index: IPv6 records' a2, a3 */
  cdn_pol_t *pol;    /* cap entries, by record index */
  uint16_t out_tag;  /* the last cp_policy_out_cache_t.tag handed out */
  uint32_t cap, n_used, free_head, sweep;
  uint32_t sweep_ms;     /* the clock at the last burst's sweep (cdn_node.c sweep_due) */
  uint64_t sweep_credit; /* records owed to the sweep, times CDN_SWEEP_PERIOD_MS */
  cdn_bucket_t *bk;
  uint32_t nb;
  uint64_t rng;
  /* affinity */
  cdn_aff_t *aff;
  uint32_t aff_sets; /* power of two */
  /* SNAT ports: this worker owns [port_lo, port_hi] */
  uint16_t port_lo, port_hi;
  uint32_t ports_in_use;
  uint64_t *ports[2][CDN_SNAT_CLASSES]; /* bitmaps over the slice */
  uint32_t port_cursor[2][CDN_SNAT_CLASSES];
  uint64_t cnt[CDN_CNT_N];
} cdn_worker_t;

/* ---- the context --------------------------------------------------------------------- */
struct cdn_ctx {
  cdn_config_t cfg;
  cp_epoch_t *epoch;
  void *_Atomic snap; /* cdn_snap_t * */
  /* control-plane copies */
  cdn_xlat_t **xlat; /* by id, NULL when free */
  uint32_t n_xlat;
  _Atomic uint32_t *be_gen; /* by backend id, read by workers */
  uint8_t *be_used;
  cdn_backend_t *be_info;
  uint32_t *be_free; /* stack of free backend ids */
  uint32_t n_be_free;
  uint32_t n_node;
  cdn_pfx_t node[CDN_MAX_NODE_ADDRS];
  uint8_t has_snat[2];
  cp_addr_t snat[2];
  uint32_t n_pfx[2];
  cdn_pfx_t pfx[2][CDN_MAX_PREFIXES];
  uint8_t has_hook;
  cp_policy_hook_t hook;
  cdn_worker_t *w[CDN_MAX_WORKERS];
  /* the VIP key table being edited (cdn_vkeys.c): pages written in the open transaction
   * are fresh; the pages they replaced are in the undo log until commit or abort */
  uint32_t vk_mask, vk_used, vk_n_undo, vk_prev_mask;
  cdn_vkey_t **vk_pages;
  uint8_t *vk_fresh;
  uint32_t *vk_undo_page;
  cdn_vkey_t **vk_undo_old;
  cdn_vkey_t **vk_prev_pages; /* the table before a grow in the open transaction */
  uint8_t *vk_prev_fresh;
  uint32_t *vk_prev_undo_page;
  cdn_vkey_t **vk_prev_undo_old;
  uint32_t xlat_free_hint; /* no free translation id below this */
};

/* Home slot hash of a VIP key, for the control side that builds the key table and the
 * workers that probe it (one definition, so both agree): two multiply-folds over the
 * address words and (port, protocol, family), rather than the general flow hash with its
 * field selection. */
static inline uint32_t cdn_vkey_hash(uint8_t af, const cp_addr_t *a, uint8_t proto,
                                     uint16_t port)
{
  uint64_t h = cp_mix64(a->q[0] ^ CP_FH_K0, a->q[1] ^ CP_FH_K1);
  h = cp_mix64(h ^ ((uint64_t)port << 16 | (uint64_t)proto << 8 | af) ^ CP_FH_K2, CP_FH_K3);
  return (uint32_t)(h ^ (h >> 32));
}

static inline const cdn_vkey_t *cdn_vkey_slot(const cdn_snap_t *s, uint32_t i)
{
  return &s->pages[i >> CDN_VKEY_PAGE_BITS][i & (CDN_VKEY_PAGE - 1)];
}

/* VIP key table (cdn_vkeys.c) */
int cdn_vk_init(cdn_ctx_t *ctx);
void cdn_vk_free(cdn_ctx_t *ctx);
int cdn_vk_lookup(const cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *a, uint8_t proto,
                  uint16_t port, const cdn_xlat_t **xlat);
int cdn_vk_add(cdn_ctx_t *ctx, const cdn_xlat_t *x);
int cdn_vk_replace(cdn_ctx_t *ctx, const cdn_xlat_t *old, const cdn_xlat_t *x);
int cdn_vk_del(cdn_ctx_t *ctx, const cdn_xlat_t *x);
int cdn_vk_snapshot(const cdn_ctx_t *ctx, cdn_snap_t *s);
void cdn_vk_commit(cdn_ctx_t *ctx);
void cdn_vk_abort(cdn_ctx_t *ctx);

static inline int cdn_af_idx(uint8_t af) { return af == 6; }
static inline uint32_t cdn_addr_len(uint8_t af) { return af == 4 ? 4u : 16u; }
static inline int cdn_addr_eq(const cp_addr_t *a, const cp_addr_t *b)
{
  return a->q[0] == b->q[0] && a->q[1] == b->q[1];
}
static inline int cdn_time_reached(uint32_t now, uint32_t when)
{
  return (int32_t)(now - when) >= 0;
}
static inline uint32_t cdn_be_gen_load(const cdn_ctx_t *ctx, uint32_t id)
{
  return atomic_load_explicit(&ctx->be_gen[id], memory_order_relaxed);
}

/* translation.c */
int cdn_publish(cdn_ctx_t *ctx);
void cdn_snap_free(cdn_snap_t *s);
/* session.c (control side) */
int cdn_worker_init(cdn_ctx_t *ctx, uint32_t idx);
void cdn_worker_free(cdn_worker_t *w);
/* rewrite.c */
uint32_t cdn_crc32c(uint32_t crc, const uint8_t *p, uint32_t len);

#endif /* CDN_INTERNAL_H */
