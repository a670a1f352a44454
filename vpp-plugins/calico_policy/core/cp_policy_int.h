/* calico_policy core internals: configuration pools and the compiled (published) tables. */
#ifndef CP_POLICY_INT_H
#define CP_POLICY_INT_H

#include <stdatomic.h>

#include "calico_policy.h"
#include "cp/epoch.h"
#include "cp_mfc.h"
#include "cp_ptab.h"

#define CPP_N_POINTS 8

/* ---- configuration (control plane only) -------------------------------------------- */
typedef struct {
  uint32_t id;
  uint8_t type;
  cp_mset_t members; /* keys with set = 0 */
} cpp_ipset_t;

typedef struct {
  cp_policy_rule_t *v; /* lists point into blob[i] */
  void **blob;
  cp_policy_counter_t *base; /* counts folded from retired tables */
  uint32_t n;
} cpp_rules_t;

typedef struct {
  uint32_t id;
  uint32_t version;      /* bumps on every replace */
  cpp_rules_t rules[2];  /* [CP_DIR_INGRESS] inbound, [CP_DIR_EGRESS] outbound */
  uint32_t tab_slot;     /* first counter slot in the published table */
  uint32_t tab_version;  /* version the published table was built from */
} cpp_pol_t;

typedef struct {
  uint32_t id;
  cp_policy_endpoint_t ep; /* lists point into blob */
  void *blob;
  cp_policy_counter_t base[CPP_N_POINTS][3];
} cpp_ep_t;

/* ---- compiled tables ----------------------------------------------------------------- */

/* Extra predicates of a rule for one family, checked on the classifier's candidates. */
typedef struct {
  uint8_t has_not_protocol, not_protocol;
  uint8_t not_icmp, not_icmp_type, not_icmp_code;
  uint8_t src_port_or_named, dst_port_or_named; /* ports checked here (with named sets) */
  uint8_t src_net_widened, dst_net_widened;     /* nets checked here */
  uint8_t pad;
  /* lists (family-filtered cidrs; ipset slots into the table's set array) */
  uint32_t n_src_net, n_dst_net, n_not_src_net, n_not_dst_net;
  const cp_policy_cidr_t *src_net, *dst_net, *not_src_net, *not_dst_net;
  uint32_t n_src_ports, n_dst_ports, n_not_src_ports, n_not_dst_ports;
  const cp_policy_port_range_t *src_ports, *dst_ports, *not_src_ports, *not_dst_ports;
  uint32_t n_sets[9];
  const uint32_t *sets[9]; /* order of cpp_xset_e */
} cpp_xrule_t;

enum {
  XS_SRC,
  XS_NOT_SRC,
  XS_DST,
  XS_NOT_DST,
  XS_SRC_NAMED,
  XS_NOT_SRC_NAMED,
  XS_DST_NAMED,
  XS_NOT_DST_NAMED,
  XS_DST_IPPORT,
};

typedef struct {
  uint8_t action;
  uint8_t owner_kind;
  uint8_t dir;
  uint8_t pad;
  uint16_t tier;
  uint16_t seg;
  uint32_t owner_id;
  uint32_t rule;
  uint32_t ctr; /* counter slot */
  const cpp_xrule_t *x[2]; /* [0] IPv4, [1] IPv6; NULL: no extra predicate */
} cpp_crule_t;

enum {
  SEG_TIER = 0,    /* miss: default action */
  SEG_TIER_NODROP, /* pre-DNAT / untracked: miss continues with the next tier */
  SEG_PROFILE,     /* miss or pass: next profile */
};

typedef struct {
  uint32_t begin, end; /* flattened rule range */
  uint8_t kind, default_action;
  uint16_t tier;
} cpp_seg_t;

typedef struct {
  uint32_t n_rules, n_segs;
  cpp_crule_t *rules;
  cpp_seg_t *segs;
  cp_mfc_t *cls[2];
  uint8_t end_deny; /* normal point: no decision means deny */
} cpp_prog_t;

typedef struct {
  uint8_t type;
  uint8_t pad[3];
  uint32_t id;
  uint64_t lens4;    /* bit l: a member of prefix length l (IPv4) */
  uint64_t lens6[3]; /* bits 0..128 (IPv6) */
} cpp_setinfo_t;

typedef struct {
  uint32_t prog[CPP_N_POINTS]; /* UINT32_MAX: no program (NO_DECISION / NONE) */
  uint32_t ctr;                /* first of CPP_N_POINTS * 3 counter slots */
  uint32_t id;
} cpp_cep_t;

typedef struct {
  uint32_t owner_kind, owner_id, version, dir, rule; /* what a rule slot counted */
} cpp_slotinfo_t;

typedef struct cpp_tab {
  uint32_t generation;
  uint32_t n_workers;
  cp_idmap_t ep_ids; /* endpoint id -> index in eps */
  cpp_cep_t *eps;
  uint32_t n_eps;
  cpp_prog_t *progs;
  uint32_t n_progs;
  cpp_setinfo_t *sets;
  uint32_t n_sets;
  cp_mset_t members; /* every member of every set, key.set = set slot + 1 */
  uint32_t n_rule_slots, n_slots;
  cpp_slotinfo_t *slotinfo;       /* n_rule_slots */
  cp_policy_counter_t **counters; /* [worker][slot] */
  void **allocs;                  /* everything else to free */
  uint32_t n_allocs, cap_allocs;
  uint64_t memory_bytes;
} cpp_tab_t;

typedef struct {
  cp_policy_t *p;
  uint32_t worker;
} cpp_hookctx_t;

struct cp_policy {
  uint32_t n_workers, max_ipsets, max_members, max_rules, max_list;
  cp_epoch_t *epoch;
  void *_Atomic tab; /* cpp_tab_t */
  cpp_hookctx_t *hooks;
  _Atomic uint32_t generation;
  uint32_t version_seq;
  int dirty;
  cpp_ipset_t *ipsets;
  uint32_t n_ipsets, cap_ipsets;
  cp_idmap_t ipset_ids;
  cpp_pol_t *pols[2]; /* [CP_POLICY_OWNER_POLICY], [CP_POLICY_OWNER_PROFILE] */
  uint32_t n_pols[2], cap_pols[2];
  cp_idmap_t pol_ids[2];
  cpp_ep_t *eps;
  uint32_t n_eps, cap_eps;
  cp_idmap_t ep_ids;
  char err[256];
};

void cpp_tab_free(cpp_tab_t *t);
int cpp_fail(cp_policy_t *p, int err, const char *msg);

#endif
