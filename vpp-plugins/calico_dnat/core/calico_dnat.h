/*
 * calico_dnat core: the service load balancer's fast path in portable C (no VPP types).
 *
 * Shape (like DPDK's rte_acl): an opaque context made by cdn_create(), configured by a
 * control thread through *_add / *_update / *_del calls that each build and publish a new
 * read-only snapshot (epoch/RCU, cp/epoch.h), and per-worker packet processing through
 * cdn_process_burst(). Workers never lock and never allocate; each owns its session
 * table, its affinity table and its slices of the SNAT port space.
 *
 * Threading contract:
 *   - configuration calls (everything but the per-worker calls below) come from one
 *     control thread at a time;
 *   - cdn_process_burst(), cdn_expire(), cdn_sessions_flush(), cdn_session_get(),
 *     cdn_session_next(), cdn_sessions_count() and cdn_counters_get() for worker w run
 *     on worker w's thread (or while w is stopped).
 *
 * Return codes: 0 or a positive value on success, a negative errno value on failure
 * (-EINVAL, -EEXIST, -ENOENT, -ENOSPC, -ENOMEM, -EAFNOSUPPORT). A failed call leaves the
 * previous configuration intact.
 *
 * Addresses are cp_addr_t (IPv4 in the first 4 bytes, network order, rest zero); ports
 * are host order; times are milliseconds on a caller-supplied 32-bit clock (wrap-safe).
 * See docs/dnat.md for the design.
 */
#ifndef CALICO_DNAT_H
#define CALICO_DNAT_H

#include <stdint.h>

#include "cp/pkt.h"
#include "cp/policy_hook.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits --------------------------------------------------------------------------- */
#define CDN_MAX_WORKERS 64
#define CDN_MAX_BURST 256
#define CDN_MAX_BACKENDS_PER_XLAT 4096 /* keeps Maglev M / N >= 16 at M = 65537 */
#define CDN_MAGLEV_M_MIN 409           /* smallest table (prime): 1 to 4 backends */
#define CDN_MAGLEV_M_MAX 65537         /* largest table (prime; 16-bit entries) */
#define CDN_MAGLEV_SLACK_PERMILLE 50   /* a backend's entries <= its fair share + 5 % */
#define CDN_MAX_PREFIXES 64            /* natOutgoing pools + exclusions, per kind */
#define CDN_MAX_NODE_ADDRS 32
#define CDN_INVALID_ID 0xffffffffu

/* ---- creation ------------------------------------------------------------------------- */
typedef struct {
  uint32_t n_workers;             /* 1..CDN_MAX_WORKERS */
  uint32_t max_sessions;          /* per worker; flows beyond it are counted and dropped */
  uint32_t max_translations;      /* 0: 4096 */
  uint32_t max_backends;          /* backend ids across all translations; 0: 65536 */
  uint32_t affinity_entries;      /* per worker (ClientIP affinity); 0: 4096 */
  uint64_t hash_seed;             /* Maglev and flow hash seed (same on every node) */
  uint16_t snat_port_min;         /* SNAT port range, split between workers; 0: 1024 */
  uint16_t snat_port_max;         /* 0: 65535 */
  /* timeouts in ms; 0 selects the default shown */
  uint32_t tcp_syn_ms;            /* handshake not completed: 30 s */
  uint32_t tcp_established_ms;    /* 7440 s (RFC 5382: >= 2 h 4 min) */
  uint32_t tcp_closing_ms;        /* FIN both ways or RST: 10 s */
  uint32_t udp_ms;                /* 300 s (RFC 4787: >= 2 min) */
  uint32_t icmp_ms;               /* 60 s */
  uint32_t other_ms;              /* SCTP: 300 s */
  /* Flows are owned (cdn_flow_owner_burst) by workers owner_first .. n_workers - 1, and
   * only those get slices of the SNAT ports; the ones below still read the configuration
   * and hand packets on. 0: every worker. The VPP glue sets 1 when there are worker
   * threads, so that the main thread owns no flow. */
  uint32_t owner_first;
} cdn_config_t;

typedef struct cdn_ctx cdn_ctx_t;

/* NULL on bad config (see errno-style reason in *err when err != NULL) or ENOMEM. */
cdn_ctx_t *cdn_create(const cdn_config_t *cfg, int *err);
/* No worker may be inside cdn_process_burst. Frees everything. */
void cdn_destroy(cdn_ctx_t *ctx);

/* ---- translations --------------------------------------------------------------------- */
enum {
  CDN_VIP_CLUSTER_IP = 0,
  CDN_VIP_EXTERNAL_IP = 1,
  CDN_VIP_LOAD_BALANCER = 2,
  CDN_VIP_NODE_PORT = 3, /* vip ignored: every node address (cdn_node_addr_add) */
};

/* translation flags */
enum {
  CDN_XF_EXT_LOCAL = 1u << 0,  /* externalTrafficPolicy: Local */
  CDN_XF_INT_LOCAL = 1u << 1,  /* internalTrafficPolicy: Local */
  CDN_XF_AFFINITY = 1u << 2,   /* sessionAffinity: ClientIP (affinity_timeout_s) */
};

/* backend flags */
enum {
  CDN_BF_LOCAL = 1u << 0,       /* runs on this node */
  CDN_BF_TERMINATING = 1u << 1, /* used only when no ready backend remains */
  CDN_BF_NO_NAT = 1u << 2,      /* DSR: forwarded with the VIP kept as destination */
};

typedef struct {
  cp_addr_t addr;
  uint16_t port;   /* 1..65535 */
  uint16_t weight; /* 0: receives no new flow (its sessions are kept) */
  uint8_t flags;   /* CDN_BF_* */
  uint8_t af;      /* must equal the translation's */
  uint16_t pad;
} cdn_backend_t;

typedef struct {
  cp_addr_t vip;               /* ignored (zero) for CDN_VIP_NODE_PORT */
  uint16_t port;               /* 1..65535 */
  uint8_t proto;               /* CP_IPPROTO_TCP / UDP / SCTP */
  uint8_t af;                  /* 4 or 6 */
  uint8_t kind;                /* CDN_VIP_* */
  uint8_t pad[3];
  uint32_t flags;              /* CDN_XF_* */
  uint32_t hash_fields;        /* CP_FH_* for Maglev; 0: CP_FH_5TUPLE */
  uint32_t affinity_timeout_s; /* with CDN_XF_AFFINITY; 0: 10800 (Kubernetes' default) */
  uint32_t n_backends;
  const cdn_backend_t *backends;
} cdn_translation_t;

/*
 * Create the translation for (vip, proto, port) or replace the one with that key (its id
 * is kept). Builds its Maglev tables and publishes. On replace, sessions whose backend
 * (address, port) is still present keep going; sessions of removed backends are removed.
 * Errors: -EINVAL (port 0, bad proto/af/kind, duplicate backend, backend port 0, too
 * many backends), -EAFNOSUPPORT (a backend of the other family), -ENOSPC (table full).
 */
int cdn_translation_update(cdn_ctx_t *ctx, const cdn_translation_t *t, uint32_t *id);
/* Delete by id; its sessions (on every worker) are removed. -ENOENT if unknown. */
int cdn_translation_del(cdn_ctx_t *ctx, uint32_t id);
/* Look up an id by key (vip ignored for NodePort); -ENOENT if absent. */
int cdn_translation_find(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *vip, uint8_t proto,
                         uint16_t port, uint8_t kind, uint32_t *id);
/* Read a translation back: fills *out (out->backends = NULL) and up to be_cap backends
 * into be (when non-NULL); returns the number of backends, or -ENOENT. */
int cdn_translation_get(cdn_ctx_t *ctx, uint32_t id, cdn_translation_t *out,
                        cdn_backend_t *be, uint32_t be_cap);
/* Iterate: the smallest valid id > prev (start with CDN_INVALID_ID); CDN_INVALID_ID at
 * the end. */
uint32_t cdn_translation_next(cdn_ctx_t *ctx, uint32_t prev);
uint32_t cdn_translation_count(cdn_ctx_t *ctx);
/* A backend by id (as reported in cdn_result_t.backend); -ENOENT if unused. */
int cdn_backend_get(cdn_ctx_t *ctx, uint32_t backend_id, cdn_backend_t *out);
/* Maglev table size used for n backends: the smallest prime >= 409 * 2^k >= 100 n, within
 * [CDN_MAGLEV_M_MIN, CDN_MAGLEV_M_MAX] (a ladder, so that M stays put while n changes
 * between steps). */
uint32_t cdn_maglev_size_for(uint32_t n_backends);

/* ---- node addresses, SNAT ------------------------------------------------------------- */
/* Addresses of this node: NodePort VIPs. -EEXIST / -ENOENT / -ENOSPC. */
int cdn_node_addr_add(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *addr);
int cdn_node_addr_del(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *addr);
/* The source address SNAT uses per family (NodePort to remote backends, hairpin,
 * natOutgoing). A NULL addr unsets it. Changing it removes the natOutgoing sessions of
 * that family. */
int cdn_snat_addr_set(cdn_ctx_t *ctx, uint8_t af, const cp_addr_t *addr);

enum {
  CDN_PFX_NAT_OUTGOING = 0, /* sources (IP pools with natOutgoing) whose traffic is SNATed */
  CDN_PFX_EXCLUDE = 1,      /* destinations never SNATed (cluster pools, service CIDRs) */
};
int cdn_snat_prefix_add(cdn_ctx_t *ctx, uint8_t kind, uint8_t af, const cp_addr_t *addr,
                        uint8_t len);
int cdn_snat_prefix_del(cdn_ctx_t *ctx, uint8_t kind, uint8_t af, const cp_addr_t *addr,
                        uint8_t len);

/* ---- policy hook ---------------------------------------------------------------------- */
/* Attach (hook != NULL; copied) or detach the policy classifier. A session stores the
 * verdict of its flow and the generation it was computed under; when the generation
 * moves on, the flow is classified again on its next packet. While a hook is attached,
 * flows nothing translates (TCP, UDP, SCTP, ICMP echo) get a tracked-only session too, as
 * Calico's conntrack: the first packet's verdict is cached, replies and ICMP errors about
 * the flow come out with CDN_R_REVERSE (return traffic of an admitted flow), and nothing
 * is rewritten (CDN_R_TRACKED). Detaching the hook drops those sessions. */
int cdn_policy_hook_set(cdn_ctx_t *ctx, const cp_policy_hook_t *hook);

/* ---- fast path ------------------------------------------------------------------------ */
typedef struct {
  uint32_t endpoint; /* policy endpoint id (interface), handed to the policy hook */
  uint8_t from_pod;  /* 1: sent by a workload on this node; 0: from outside (uplink, host) */
  uint8_t dir;       /* CP_DIR_* handed to the policy hook */
  uint16_t pad;
} cdn_meta_t;

enum { CDN_NEXT_FORWARD = 0, CDN_NEXT_DROP = 1 };

/* result flags */
enum {
  CDN_R_DNAT = 1u << 0,        /* destination rewritten (forward direction) */
  CDN_R_SNAT = 1u << 1,        /* source rewritten (forward direction) */
  CDN_R_REVERSE = 1u << 2,     /* return traffic of a session (reverse-translated) */
  CDN_R_NEW = 1u << 3,         /* this packet created the session */
  CDN_R_ICMP_ERROR = 1u << 4,  /* an ICMP error rewritten inner and outer */
  CDN_R_NO_NAT = 1u << 5,      /* DSR backend: forward to `backend` with the VIP kept */
  CDN_R_HAIRPIN = 1u << 6,     /* a pod reaching its own service, SNATed */
  CDN_R_TRACKED = 1u << 7,     /* a tracked-only flow (policy hook set): nothing rewritten */
};

/* drop / outcome reasons, also counted per worker (CDN_CNT_ERR_BASE + reason) */
#define foreach_cdn_error                                                                   \
  _(NONE, "no error")                                                                       \
  _(NO_BACKEND, "translation has no usable backend")                                        \
  _(VIP_NO_PORT, "VIP address with no translation for this protocol/port")                  \
  _(SESSION_LIMIT, "session table full")                                                    \
  _(SNAT_EXHAUSTED, "no free SNAT port")                                                    \
  _(SNAT_UNCONFIGURED, "SNAT needed but no SNAT address for the family")                    \
  _(CLASH, "return key taken and the source port could not be remapped")                    \
  _(POLICY_DENY, "denied by policy")

enum {
#define _(n, s) CDN_E_##n,
  foreach_cdn_error
#undef _
  CDN_E_N
};

typedef struct {
  uint32_t session; /* flow record index on this worker, CDN_INVALID_ID if none */
  uint32_t backend; /* backend id (CDN_R_NO_NAT forwarding), CDN_INVALID_ID if none */
  uint16_t flags;   /* CDN_R_* */
  uint8_t next;     /* CDN_NEXT_* */
  uint8_t error;    /* CDN_E_* (drops, and the counted outcomes) */
  uint8_t verdict;  /* CP_VERDICT_* of the flow */
  uint8_t pad[3];
} cdn_result_t;

/*
 * Process up to CDN_MAX_BURST packets (each starting at its IP header, rewritten in
 * place) on `worker`. meta may be NULL (all from outside, endpoint 0, ingress). Packets
 * that are not ours (no session, no translation, no SNAT rule, unparseable, non-first
 * fragments) are forwarded untouched. Returns the number of packets rewritten.
 * Also advances the worker's expiry sweep by a bounded amount of work.
 */
uint32_t cdn_process_burst(cdn_ctx_t *ctx, uint32_t worker, uint8_t *const *data,
                           const uint32_t *len, const cdn_meta_t *meta, uint32_t n,
                           uint32_t now_ms, cdn_result_t *res);

/*
 * The worker whose session table holds (or will hold) each packet's flow, into owner[i]:
 * both directions of every flow the core makes get the same worker, so a host with
 * several threads hands each packet to owner[i] before cdn_process_burst (the VPP glue's
 * handoff node; docs/dnat.md "Workers and handoff"). `worker` is the calling thread's
 * worker slot (its epoch reader); packets no session concerns keep it. Reads only the
 * packets and the published configuration; callable from any worker's thread.
 */
void cdn_flow_owner_burst(cdn_ctx_t *ctx, uint32_t worker, uint8_t *const *data,
                          const uint32_t *len, uint32_t n, uint16_t *owner);

/* ---- sessions ------------------------------------------------------------------------- */
enum { CDN_TCP_SYN = 0, CDN_TCP_ESTABLISHED = 1, CDN_TCP_CLOSING = 2 };

typedef struct {
  cp_addr_t client, vip, backend, snat; /* forward: client:cport -> vip:vport;
                                           return:  backend:bport -> snat:sport */
  uint16_t client_port, vip_port, backend_port, snat_port;
  uint32_t backend_id;  /* CDN_INVALID_ID for natOutgoing-only sessions */
  uint32_t expires_ms;
  uint32_t policy_generation;
  uint8_t af, proto, tcp_state, verdict;
  uint8_t flags; /* CDN_R_DNAT / SNAT / NO_NAT / HAIRPIN / TRACKED as created */
  uint8_t out_verdict;   /* the output policy point's cached verdict (CP_VERDICT_*) */
  uint8_t pad[2];
  uint32_t out_endpoint; /* ... and the endpoint it was computed for */
} cdn_session_info_t;

/* Sweep up to `budget` records (0: all) freeing expired and stale sessions; returns the
 * number freed. */
uint32_t cdn_expire(cdn_ctx_t *ctx, uint32_t worker, uint32_t now_ms, uint32_t budget);
/* Remove every session of the worker; returns how many. */
uint32_t cdn_sessions_flush(cdn_ctx_t *ctx, uint32_t worker);
/* Remove one session (both keys, its SNAT port). 0, or -ENOENT / -EINVAL. Same threading
 * rule as cdn_sessions_flush. */
int cdn_session_delete(cdn_ctx_t *ctx, uint32_t worker, uint32_t idx);
uint32_t cdn_sessions_count(cdn_ctx_t *ctx, uint32_t worker);
/* Iterate valid (live, not stale) sessions: smallest index > prev, CDN_INVALID_ID at end. */
uint32_t cdn_session_next(cdn_ctx_t *ctx, uint32_t worker, uint32_t prev);
int cdn_session_get(cdn_ctx_t *ctx, uint32_t worker, uint32_t idx, cdn_session_info_t *out);
/* The output policy point's verdict cache of a live session (cp/policy_hook.h), or NULL.
 * Only on the worker's thread, and only until its next cdn_process_burst (which may free
 * or reuse the record): the VPP glue hands it from the input node to the output node of
 * the same packet. */
cp_policy_out_cache_t *cdn_session_out_cache(cdn_ctx_t *ctx, uint32_t worker, uint32_t idx);
/* Memory the session state takes per flow slot (record + both keys' share of the table). */
double cdn_session_bytes_per_flow(cdn_ctx_t *ctx);
/* SNAT ports currently allocated on a worker (all families/protocols). */
uint32_t cdn_snat_ports_in_use(cdn_ctx_t *ctx, uint32_t worker);
/* The worker whose slice of the SNAT port range holds `port` (a return packet to the SNAT
 * address belongs to that worker: VPP hands it off there); CDN_INVALID_ID outside the
 * range. */
uint32_t cdn_snat_port_worker(cdn_ctx_t *ctx, uint16_t port);

/* ---- counters ------------------------------------------------------------------------- */
enum {
  CDN_CNT_PACKETS = 0,
  CDN_CNT_REWRITTEN,
  CDN_CNT_PASSED,         /* forwarded untouched */
  CDN_CNT_UNPARSED,       /* truncated/malformed, forwarded untouched */
  CDN_CNT_FRAGMENTS,      /* non-first fragments, forwarded untouched */
  CDN_CNT_SESSIONS_CREATED,
  CDN_CNT_SESSIONS_EXPIRED,
  CDN_CNT_SESSIONS_STALE, /* removed because their backend/translation went away */
  CDN_CNT_ICMP_ERRORS,    /* ICMP errors rewritten */
  CDN_CNT_POLICY_EVALS,
  CDN_CNT_AFFINITY_HITS,
  CDN_CNT_ERR_BASE,       /* + CDN_E_*: one counter per reason */
  CDN_CNT_N = CDN_CNT_ERR_BASE + CDN_E_N,
};
/* Copy the worker's counters (CDN_CNT_N values). */
int cdn_counters_get(cdn_ctx_t *ctx, uint32_t worker, uint64_t *out);
const char *cdn_error_str(uint32_t e);

#ifdef __cplusplus
}
#endif
#endif /* CALICO_DNAT_H */
