/*
 * calico_policy core: Calico policy semantics (ipsets, rules, policies, tiers, profiles,
 * workload and host endpoints) compiled into a per-packet classifier. Portable C, no
 * VPP types. Shape of DPDK's rte_acl: an opaque context; objects are added, replaced
 * and removed by 32-bit id (the control plane maps Felix's string ids to these); a
 * separate build step compiles everything and publishes it through cp/epoch.h; the fast
 * path classifies bursts of parsed packets.
 *
 * Every mutating call validates its whole input first: on error nothing changes, the
 * call returns a negative CP_POLICY_E_* code and cp_policy_last_error() says why.
 * Changes take effect on the next cp_policy_build(), which bumps the generation.
 *
 * Semantics (which lists are any-of / all-of / none-of, evaluation points) are
 * documented in docs/policy.md; pycontrol/policy/reference.py is the executable spec.
 */
#ifndef CALICO_POLICY_H
#define CALICO_POLICY_H

#include <stdint.h>

#include "cp/pkt.h"
#include "cp/policy_hook.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------------------ */
enum {
  CP_POLICY_OK = 0,
  CP_POLICY_E_INVAL = -1,    /* malformed argument (bad enum, bad prefix length, ...) */
  CP_POLICY_E_NOENT = -2,    /* unknown id (ipset, policy, profile, endpoint) */
  CP_POLICY_E_EXIST = -3,    /* duplicate id or duplicate entry in a list */
  CP_POLICY_E_BUSY = -4,     /* object still referenced */
  CP_POLICY_E_RANGE = -5,    /* inverted port range */
  CP_POLICY_E_HOSTBITS = -6, /* CIDR with host bits set */
  CP_POLICY_E_FAMILY = -7,   /* address-family mismatch */
  CP_POLICY_E_TOOBIG = -8,   /* over a configured limit */
  CP_POLICY_E_NOMEM = -9,
};

/* ---- limits (cp_policy_create); 0 selects the default shown --------------------------- */
typedef struct {
  uint32_t n_workers;           /* fast-path threads (epoch reader slots); default 1 */
  uint32_t max_ipsets;          /* default 65536 */
  uint32_t max_ipset_members;   /* per set; default 1048576 */
  uint32_t max_rules_per_policy;/* per direction; default 65536 */
  uint32_t max_list;            /* entries in any list of a rule/endpoint; default 4096 */
} cp_policy_params_t;

typedef struct cp_policy cp_policy_t;

cp_policy_t *cp_policy_create(const cp_policy_params_t *params);
void cp_policy_destroy(cp_policy_t *p);
/* Human-readable reason for the last error on this context ("" when none). */
const char *cp_policy_last_error(const cp_policy_t *p);
const char *cp_policy_strerror(int err);

/* ---- shared value types -------------------------------------------------------------- */
typedef struct {
  cp_addr_t addr; /* IPv4 in the first 4 bytes, network order */
  uint8_t af;     /* 4 or 6 */
  uint8_t len;    /* prefix length; host bits must be zero */
} cp_policy_cidr_t;

typedef struct {
  uint16_t first, last; /* inclusive; first <= last */
} cp_policy_port_range_t;

/* ---- ipsets (Felix IPSetUpdate / IPSetDeltaUpdate / IPSetRemove) ---------------------- */
enum {
  CP_POLICY_IPSET_IP = 0,          /* members are addresses (len = 32 / 128) */
  CP_POLICY_IPSET_IP_AND_PORT = 1, /* members are address + protocol + port */
  CP_POLICY_IPSET_NET = 2,         /* members are CIDRs */
};

typedef struct {
  cp_addr_t addr;
  uint8_t af;    /* 4 or 6 */
  uint8_t len;   /* IP: must be 32/128; NET: prefix length; IP_AND_PORT: 32/128 */
  uint8_t proto; /* IP_AND_PORT only (6, 17, 132), else 0 */
  uint8_t pad;
  uint16_t port; /* IP_AND_PORT only, else 0 */
} cp_policy_member_t;

/* Create the set or replace its whole membership (and type: only when unreferenced). */
int cp_policy_ipset_update(cp_policy_t *p, uint32_t id, uint8_t type,
                           const cp_policy_member_t *members, uint32_t n);
/* Add then remove members of an existing set. Adding a present member or removing an
 * absent one is not an error (Felix's delta semantics are idempotent). */
int cp_policy_ipset_delta(cp_policy_t *p, uint32_t id, const cp_policy_member_t *add,
                          uint32_t n_add, const cp_policy_member_t *del, uint32_t n_del);
/* Fails with E_BUSY while a policy or profile rule names the set. */
int cp_policy_ipset_remove(cp_policy_t *p, uint32_t id);
/* Members currently configured (-E_NOENT when unknown). */
int64_t cp_policy_ipset_size(const cp_policy_t *p, uint32_t id);

/* ---- rules (Felix Rule) --------------------------------------------------------------- */
enum {
  CP_POLICY_ACTION_ALLOW = 1,
  CP_POLICY_ACTION_DENY = 2,
  CP_POLICY_ACTION_PASS = 3, /* "pass" / "next-tier" */
  CP_POLICY_ACTION_LOG = 4,  /* count and continue */
};

enum {
  CP_POLICY_ICMP_NONE = 0,
  CP_POLICY_ICMP_TYPE = 1,      /* match the type */
  CP_POLICY_ICMP_TYPE_CODE = 2, /* match type and code */
};

typedef struct {
  const uint32_t *ids;
  uint32_t n;
} cp_policy_id_list_t;

typedef struct {
  const cp_policy_cidr_t *v;
  uint32_t n;
} cp_policy_cidr_list_t;

typedef struct {
  const cp_policy_port_range_t *v;
  uint32_t n;
} cp_policy_port_list_t;

typedef struct {
  uint8_t action;     /* CP_POLICY_ACTION_* */
  uint8_t ip_version; /* 0 any, 4, 6 */
  uint8_t has_protocol, protocol;
  uint8_t has_not_protocol, not_protocol;
  uint8_t icmp, icmp_type, icmp_code;             /* icmp: CP_POLICY_ICMP_* */
  uint8_t not_icmp, not_icmp_type, not_icmp_code; /* not_icmp: CP_POLICY_ICMP_* */
  cp_policy_cidr_list_t src_net, not_src_net, dst_net, not_dst_net;
  cp_policy_port_list_t src_ports, not_src_ports, dst_ports, not_dst_ports;
  cp_policy_id_list_t src_ipsets, not_src_ipsets, dst_ipsets, not_dst_ipsets;
  cp_policy_id_list_t src_named_port_ipsets, not_src_named_port_ipsets;
  cp_policy_id_list_t dst_named_port_ipsets, not_dst_named_port_ipsets;
  cp_policy_id_list_t dst_ip_port_ipsets;
} cp_policy_rule_t;

/* ---- policies and profiles (Felix ActivePolicyUpdate / ActiveProfileUpdate) ---------- */
/* Create or replace. Rules are copied; the caller's arrays may be freed afterwards.
 * Every ipset named must exist. Replacing resets the policy's rule counters. */
int cp_policy_policy_update(cp_policy_t *p, uint32_t id, const cp_policy_rule_t *inbound,
                            uint32_t n_inbound, const cp_policy_rule_t *outbound,
                            uint32_t n_outbound);
int cp_policy_policy_remove(cp_policy_t *p, uint32_t id); /* E_BUSY while referenced */
int cp_policy_profile_update(cp_policy_t *p, uint32_t id, const cp_policy_rule_t *inbound,
                             uint32_t n_inbound, const cp_policy_rule_t *outbound,
                             uint32_t n_outbound);
int cp_policy_profile_remove(cp_policy_t *p, uint32_t id); /* E_BUSY while referenced */

/* ---- endpoints (Felix WorkloadEndpoint / HostEndpoint with TierInfo) ------------------ */
enum {
  CP_POLICY_EP_WORKLOAD = 0,
  CP_POLICY_EP_HOST = 1,
};

typedef struct {
  uint8_t default_action; /* CP_POLICY_ACTION_DENY (Calico's default) or _PASS */
  cp_policy_id_list_t ingress_policies, egress_policies; /* in order */
} cp_policy_tier_t;

typedef struct {
  const cp_policy_tier_t *v;
  uint32_t n;
} cp_policy_tier_list_t;

typedef struct {
  uint8_t kind; /* CP_POLICY_EP_* */
  cp_policy_tier_list_t tiers;           /* normal (workload, host: to/from the host) */
  cp_policy_tier_list_t forward_tiers;   /* host only: apply-on-forward */
  cp_policy_tier_list_t pre_dnat_tiers;  /* host only: ingress before DNAT */
  cp_policy_tier_list_t untracked_tiers; /* host only: before connection tracking */
  cp_policy_id_list_t profiles;          /* in order (normal point only) */
} cp_policy_endpoint_t;

/* Create or replace the endpoint bound to interface/endpoint id `id`. Every policy and
 * profile named must exist. */
int cp_policy_endpoint_update(cp_policy_t *p, uint32_t id, const cp_policy_endpoint_t *ep);
int cp_policy_endpoint_remove(cp_policy_t *p, uint32_t id);

/* ---- build / publish ------------------------------------------------------------------ */
/* Compile the configuration and publish it (readers switch atomically; the old tables
 * are freed once no reader holds them). Bumps the generation. On failure the published
 * tables stay as they were. */
int cp_policy_build(cp_policy_t *p);
uint32_t cp_policy_generation(const cp_policy_t *p);
/* Bytes of the published tables (classifiers, ipset tables, compiled rules). */
uint64_t cp_policy_memory_bytes(const cp_policy_t *p);

/* ---- classification -------------------------------------------------------------------- */
/* Evaluation points: a stage and a direction (CP_DIR_INGRESS / CP_DIR_EGRESS).
 * point = stage << 1 | dir. The hook's plain dir values are the normal stage. */
enum {
  CP_POLICY_STAGE_NORMAL = 0,    /* workload ingress/egress; host endpoint to/from host */
  CP_POLICY_STAGE_FORWARD = 1,   /* host endpoint, forwarded traffic (apply-on-forward) */
  CP_POLICY_STAGE_PRE_DNAT = 2,  /* host endpoint, ingress only, before DNAT */
  CP_POLICY_STAGE_UNTRACKED = 3, /* host endpoint, before connection tracking */
};
#define CP_POLICY_POINT(stage, dir) ((uint8_t)((stage) << 1 | (dir)))

/* Why a verdict was reached (cp_policy_match_t.reason). */
enum {
  CP_POLICY_REASON_RULE = 0,         /* a rule of a policy or profile decided */
  CP_POLICY_REASON_TIER_DEFAULT = 1, /* every policy of tier `tier` missed: its default */
  CP_POLICY_REASON_PROFILE_END = 2,  /* normal point, no profile decided: deny */
  CP_POLICY_REASON_NO_DECISION = 3,  /* forward/pre-DNAT/untracked: nothing decided */
  CP_POLICY_REASON_NO_ENDPOINT = 4,  /* endpoint unknown: CP_VERDICT_NONE */
  CP_POLICY_REASON_BAD_PACKET = 5,   /* packet view status != OK: deny */
};

enum {
  CP_POLICY_OWNER_POLICY = 0,
  CP_POLICY_OWNER_PROFILE = 1,
};

typedef struct {
  uint32_t owner_id;  /* REASON_RULE: the policy/profile id */
  uint32_t rule;      /* REASON_RULE: index in the owner's rules of that direction */
  uint16_t tier;      /* REASON_RULE on a policy / TIER_DEFAULT: tier index */
  uint8_t owner_kind; /* CP_POLICY_OWNER_* */
  uint8_t reason;     /* CP_POLICY_REASON_* */
} cp_policy_match_t;

/* Classify n packets (n <= CP_POLICY_BURST) as worker `worker`: endpoint[i] and point[i]
 * say where packet i is evaluated. verdict[i] gets CP_VERDICT_*; match (optional, may be
 * NULL) the rule or reason that decided. Counts rule and endpoint counters. Never
 * allocates, locks or waits. Returns the generation the burst was classified under. */
#define CP_POLICY_BURST 256
uint32_t cp_policy_classify_burst(cp_policy_t *p, uint32_t worker,
                                  const cp_pkt_t *const *pkts, const uint32_t *endpoint,
                                  const uint8_t *point, uint32_t n, uint8_t *verdict,
                                  cp_policy_match_t *match);

/* The policy <-> session seam (cp/policy_hook.h): fill `hook` so that its classify_burst
 * runs cp_policy_classify_burst as `worker` at the normal stage. */
void cp_policy_hook_init(cp_policy_t *p, uint32_t worker, cp_policy_hook_t *hook);

/* ---- counters ------------------------------------------------------------------------ */
typedef struct {
  uint64_t packets, bytes;
} cp_policy_counter_t;

/* Packets/bytes that matched (decided at, passed at or logged at) rule `rule` of policy (or profile) `id` in
 * direction `dir`, summed over workers and rebuilds since the rules were last replaced. */
int cp_policy_rule_counter(const cp_policy_t *p, uint8_t owner_kind, uint32_t id,
                           uint8_t dir, uint32_t rule, cp_policy_counter_t *out);
/* Per endpoint and point: out[CP_VERDICT_NONE .. CP_VERDICT_DENY] (3 entries). */
int cp_policy_endpoint_counters(const cp_policy_t *p, uint32_t id, uint8_t point,
                                cp_policy_counter_t out[3]);

#ifdef __cplusplus
}
#endif
#endif /* CALICO_POLICY_H */
