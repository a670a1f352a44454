/* calico_policy API message handlers (see cpol_api.h). */
#include "cpol_api.h"

#include <stdlib.h>
#include <string.h>

#include "calico_policy.api_wire.h"

#define N_KINDS 17      /* CALICO_POLICY_MATCH_* */
#define MAX_LIST 65536u /* entries in one message's list (the core applies its own limits) */

typedef struct {
  uint8_t type;
  uint32_t refs;         /* rules naming it */
  cp_policy_member_t *m; /* members as applied, sorted and unique (for the member dump) */
  uint32_t n;
} ipset_rec_t;

typedef struct {
  vl_api_calico_policy_rule_update_t hdr; /* host order, n_matches set; id = the rule's */
  vl_api_calico_policy_match_t *matches;  /* as received, host order, for the dump */
  cp_policy_cidr_t *cidrs;                /* core form, grouped by kind */
  cp_policy_port_range_t *ports;
  uint32_t *ids;
  cp_policy_rule_t core;
  uint32_t refs; /* policy/profile slots naming it */
} rule_rec_t;

typedef struct {
  uint32_t n_ingress, n;
  uint32_t *ids; /* rule ids (policy/profile) or policy ids (tier) */
  uint8_t default_action;
  uint32_t refs; /* tiers naming a policy, endpoints naming a tier or profile */
} list_rec_t;

typedef struct {
  uint8_t kind;
  uint32_t n[4]; /* tiers at the normal, forward, pre-DNAT and untracked points */
  uint32_t n_ids;
  uint32_t *ids;
} ep_rec_t;

struct cpol_api {
  cp_policy_t *core;
  uint16_t base;
  cp_api_ifset_t ifs; /* interfaces the feature is enabled on */
  cp_api_map_t ipsets, rules, policies, profiles, tiers, endpoints;
};

typedef struct {
  cpol_api_t *a;
  cp_api_send_fn send;
  void *arg;
  uint32_t context;
} req_t;

static const char *const msg_name_crc[] = {
#define X(n) VL_API_##n##_CRC,
  X(CALICO_POLICY_GET_VERSION) X(CALICO_POLICY_GET_VERSION_REPLY)
  X(CALICO_POLICY_INTERFACE_ENABLE_DISABLE) X(CALICO_POLICY_INTERFACE_ENABLE_DISABLE_REPLY)
  X(CALICO_POLICY_INTERFACE_DUMP) X(CALICO_POLICY_INTERFACE_DETAILS)
  X(CALICO_POLICY_IPSET_UPDATE) X(CALICO_POLICY_IPSET_UPDATE_REPLY)
  X(CALICO_POLICY_IPSET_DELETE) X(CALICO_POLICY_IPSET_DELETE_REPLY)
  X(CALICO_POLICY_IPSET_MEMBER_ADD_DEL) X(CALICO_POLICY_IPSET_MEMBER_ADD_DEL_REPLY)
  X(CALICO_POLICY_IPSET_DUMP) X(CALICO_POLICY_IPSET_DETAILS)
  X(CALICO_POLICY_IPSET_MEMBER_DUMP) X(CALICO_POLICY_IPSET_MEMBER_DETAILS)
  X(CALICO_POLICY_RULE_UPDATE) X(CALICO_POLICY_RULE_UPDATE_REPLY)
  X(CALICO_POLICY_RULE_DELETE) X(CALICO_POLICY_RULE_DELETE_REPLY)
  X(CALICO_POLICY_RULE_DUMP) X(CALICO_POLICY_RULE_DETAILS)
  X(CALICO_POLICY_RULE_COUNTERS_DUMP) X(CALICO_POLICY_RULE_COUNTERS_DETAILS)
  X(CALICO_POLICY_POLICY_UPDATE) X(CALICO_POLICY_POLICY_UPDATE_REPLY)
  X(CALICO_POLICY_POLICY_DELETE) X(CALICO_POLICY_POLICY_DELETE_REPLY)
  X(CALICO_POLICY_POLICY_DUMP) X(CALICO_POLICY_POLICY_DETAILS)
  X(CALICO_POLICY_PROFILE_UPDATE) X(CALICO_POLICY_PROFILE_UPDATE_REPLY)
  X(CALICO_POLICY_PROFILE_DELETE) X(CALICO_POLICY_PROFILE_DELETE_REPLY)
  X(CALICO_POLICY_PROFILE_DUMP) X(CALICO_POLICY_PROFILE_DETAILS)
  X(CALICO_POLICY_TIER_UPDATE) X(CALICO_POLICY_TIER_UPDATE_REPLY)
  X(CALICO_POLICY_TIER_DELETE) X(CALICO_POLICY_TIER_DELETE_REPLY)
  X(CALICO_POLICY_TIER_DUMP) X(CALICO_POLICY_TIER_DETAILS)
  X(CALICO_POLICY_ENDPOINT_UPDATE) X(CALICO_POLICY_ENDPOINT_UPDATE_REPLY)
  X(CALICO_POLICY_ENDPOINT_DELETE) X(CALICO_POLICY_ENDPOINT_DELETE_REPLY)
  X(CALICO_POLICY_ENDPOINT_DUMP) X(CALICO_POLICY_ENDPOINT_DETAILS)
  X(CALICO_POLICY_PUBLISH) X(CALICO_POLICY_PUBLISH_REPLY)
#undef X
};
_Static_assert(sizeof(msg_name_crc) / sizeof(msg_name_crc[0]) == VL_MSG_CALICO_POLICY_LAST,
               "every message of calico_policy.api is listed");

uint32_t cpol_api_msg_count(void)
{
  return VL_MSG_CALICO_POLICY_LAST;
}

const char *cpol_api_msg_name_crc(uint32_t i)
{
  return i < VL_MSG_CALICO_POLICY_LAST ? msg_name_crc[i] : NULL;
}

uint16_t cpol_api_msg_id_base(const cpol_api_t *a)
{
  return a->base;
}

cpol_api_t *cpol_api_create(cp_policy_t *core, uint16_t msg_id_base)
{
  if (!core)
    return NULL;
  cpol_api_t *a = calloc(1, sizeof(*a));
  if (!a)
    return NULL;
  a->core = core;
  a->base = msg_id_base;
  return a;
}

static void ipset_free(ipset_rec_t *s)
{
  if (s)
    free(s->m);
  free(s);
}

static void rule_free(rule_rec_t *r)
{
  if (!r)
    return;
  free(r->matches);
  free(r->cidrs);
  free(r->ports);
  free(r->ids);
  free(r);
}

static void list_free(list_rec_t *l)
{
  if (l)
    free(l->ids);
  free(l);
}

static void ep_free(ep_rec_t *e)
{
  if (e)
    free(e->ids);
  free(e);
}

void cpol_api_destroy(cpol_api_t *a)
{
  if (!a)
    return;
  uint32_t pos = 0, k;
  void *v;
  while ((v = cp_api_map_next(&a->ipsets, &pos, &k)))
    ipset_free(v);
  pos = 0;
  while ((v = cp_api_map_next(&a->rules, &pos, &k)))
    rule_free(v);
  cp_api_map_t *lists[] = {&a->policies, &a->profiles, &a->tiers};
  for (unsigned i = 0; i < 3; i++) {
    pos = 0;
    while ((v = cp_api_map_next(lists[i], &pos, &k)))
      list_free(v);
  }
  pos = 0;
  while ((v = cp_api_map_next(&a->endpoints, &pos, &k)))
    ep_free(v);
  cp_api_map_free(&a->ipsets);
  cp_api_map_free(&a->rules);
  cp_api_map_free(&a->policies);
  cp_api_map_free(&a->profiles);
  cp_api_map_free(&a->tiers);
  cp_api_map_free(&a->endpoints);
  cp_api_ifset_free(&a->ifs);
  free(a);
}

void cpol_api_set_interface_fn(cpol_api_t *a, cp_api_interface_fn fn, void *arg)
{
  a->ifs.fn = fn;
  a->ifs.arg = arg;
}

/* ---- replies ------------------------------------------------------------------------------ */

static int32_t rv_from_core(int rc)
{
  switch (rc) {
  case CP_POLICY_OK:
    return CP_API_OK;
  case CP_POLICY_E_INVAL:
    return CP_API_E_INVALID_VALUE;
  case CP_POLICY_E_NOENT:
    return CP_API_E_NO_SUCH_ENTRY;
  case CP_POLICY_E_EXIST:
    return CP_API_E_ENTRY_ALREADY_EXISTS;
  case CP_POLICY_E_BUSY:
    return CP_API_E_INSTANCE_IN_USE;
  case CP_POLICY_E_RANGE:
  case CP_POLICY_E_HOSTBITS:
    return CP_API_E_INVALID_VALUE_2;
  case CP_POLICY_E_FAMILY:
    return CP_API_E_INVALID_ADDRESS_FAMILY;
  case CP_POLICY_E_TOOBIG:
    return CP_API_E_LIMIT_EXCEEDED;
  default:
    return rc >= 0 ? CP_API_OK : CP_API_E_UNSPECIFIED;
  }
}

static void send_rv(req_t *r, uint32_t reply_index, int32_t rv)
{
  vl_api_calico_policy_rule_delete_reply_t m;
  m._vl_msg_id = (u16)(r->a->base + reply_index);
  m.context = r->context;
  m.retval = rv;
  uint32_t len = vl_api_calico_policy_rule_delete_reply_t_encode(&m);
  r->send(r->arg, &m, len);
}

/* send a host-order details message of `len` bytes after converting it */
#define SEND_DETAILS(T, r, d)                                                                     \
  do {                                                                                            \
    uint32_t wl_ = T##_encode(d);                                                                 \
    (r)->send((r)->arg, (d), wl_);                                                                \
  } while (0)

/* ---- interfaces --------------------------------------------------------------------------- */

static int32_t h_interface_enable_disable(cpol_api_t *a,
                                          const vl_api_calico_policy_interface_enable_disable_t *mp)
{
  if (mp->is_enable > 1)
    return CP_API_E_INVALID_VALUE;
  if (mp->sw_if_index == ~0u)
    return CP_API_E_INVALID_SW_IF_INDEX;
  return cp_api_ifset_set(&a->ifs, mp->sw_if_index, mp->is_enable, 0);
}

/* ---- ipsets ------------------------------------------------------------------------------- */

static int32_t member_in(uint8_t type, const vl_api_calico_policy_ipset_member_t *w,
                         cp_policy_member_t *m)
{
  memset(m, 0, sizeof(*m));
  int32_t rv = cp_api_addr_from_wire(w->prefix.address.af, w->prefix.address.un.ip6, &m->af,
                                     &m->addr);
  if (rv)
    return rv;
  uint8_t full = m->af == 6 ? 128 : 32;
  m->len = w->prefix.len;
  if (m->len > full)
    return CP_API_E_INVALID_VALUE;
  if (type != CALICO_POLICY_IPSET_NET && m->len != full)
    return CP_API_E_INVALID_VALUE;
  if (!cp_api_prefix_is_canonical(&m->addr, m->af, m->len))
    return CP_API_E_INVALID_VALUE_2;
  if (type == CALICO_POLICY_IPSET_IP_AND_PORT) {
    if (w->proto != CP_IPPROTO_TCP && w->proto != CP_IPPROTO_UDP && w->proto != CP_IPPROTO_SCTP)
      return CP_API_E_INVALID_PROTOCOL;
    m->proto = w->proto;
    m->port = w->port;
  } else if (w->proto || w->port) {
    return CP_API_E_INVALID_VALUE;
  }
  return CP_API_OK;
}

static int32_t members_in(uint8_t type, const vl_api_calico_policy_ipset_member_t *w, uint32_t n,
                          cp_policy_member_t **out)
{
  *out = NULL;
  if (n > (1u << 24))
    return CP_API_E_LIMIT_EXCEEDED;
  cp_policy_member_t *m = malloc((n ? n : 1) * sizeof(*m));
  if (!m)
    return CP_API_E_UNSPECIFIED;
  for (uint32_t i = 0; i < n; i++) {
    int32_t rv = member_in(type, &w[i], &m[i]);
    if (rv) {
      free(m);
      return rv;
    }
  }
  *out = m;
  return CP_API_OK;
}

/* members are memset before being filled, so whole-struct comparison is well defined */
static int member_cmp(const void *x, const void *y)
{
  return memcmp(x, y, sizeof(cp_policy_member_t));
}

/* sort and drop duplicates in place; returns the new count */
static uint32_t members_sort_unique(cp_policy_member_t *m, uint32_t n)
{
  if (n < 2)
    return n;
  qsort(m, n, sizeof(*m), member_cmp);
  uint32_t w = 1;
  for (uint32_t i = 1; i < n; i++)
    if (member_cmp(&m[i], &m[w - 1]))
      m[w++] = m[i];
  return w;
}

/* the set `cur` (sorted, unique) with the sorted unique `d` added (add) or removed;
 * a new array (NULL on allocation failure), its size in *n_out */
static cp_policy_member_t *members_merge(const cp_policy_member_t *cur, uint32_t n,
                                         const cp_policy_member_t *d, uint32_t nd, int add,
                                         uint32_t *n_out)
{
  uint64_t cap = add ? (uint64_t)n + nd : n;
  cp_policy_member_t *out = malloc((cap ? cap : 1) * sizeof(*out));
  if (!out)
    return NULL;
  uint32_t i = 0, j = 0, w = 0;
  while (i < n || j < nd) {
    int c = i == n ? 1 : j == nd ? -1 : member_cmp(&cur[i], &d[j]);
    if (c < 0) {
      out[w++] = cur[i++];
    } else if (c > 0) {
      if (add)
        out[w++] = d[j];
      j++;
    } else {
      if (add)
        out[w++] = cur[i];
      i++;
      j++;
    }
  }
  *n_out = w;
  return out;
}

static int32_t h_ipset_update(cpol_api_t *a, const vl_api_calico_policy_ipset_update_t *mp)
{
  if (mp->type > CALICO_POLICY_IPSET_NET)
    return CP_API_E_INVALID_VALUE;
  ipset_rec_t *rec = cp_api_map_get(&a->ipsets, mp->id);
  if (rec && rec->refs && rec->type != mp->type)
    return CP_API_E_INSTANCE_IN_USE;
  cp_policy_member_t *m;
  int32_t rv = members_in(mp->type, mp->members, mp->n_members, &m);
  if (rv)
    return rv;
  ipset_rec_t *fresh = NULL;
  if (!rec) {
    fresh = calloc(1, sizeof(*fresh));
    /* reserve the map slot first so a later failure cannot leave core and records apart */
    if (!fresh || cp_api_map_set(&a->ipsets, mp->id, fresh)) {
      free(fresh);
      free(m);
      return CP_API_E_UNSPECIFIED;
    }
  }
  /* the record's copy, made before the core changes so nothing can fail after it */
  cp_policy_member_t *sorted = malloc((mp->n_members ? mp->n_members : 1) * sizeof(*sorted));
  if (!sorted) {
    if (fresh)
      ipset_free(cp_api_map_del(&a->ipsets, mp->id));
    free(m);
    return CP_API_E_UNSPECIFIED;
  }
  memcpy(sorted, m, (size_t)mp->n_members * sizeof(*m));
  uint32_t n_sorted = members_sort_unique(sorted, mp->n_members);
  rv = rv_from_core(cp_policy_ipset_update(a->core, mp->id, mp->type, m, mp->n_members));
  free(m);
  if (rv) {
    free(sorted);
    if (fresh)
      ipset_free(cp_api_map_del(&a->ipsets, mp->id));
    return rv;
  }
  ipset_rec_t *s = fresh ? fresh : rec;
  s->type = mp->type;
  free(s->m);
  s->m = sorted;
  s->n = n_sorted;
  return CP_API_OK;
}

static int32_t h_ipset_member_add_del(cpol_api_t *a,
                                      const vl_api_calico_policy_ipset_member_add_del_t *mp)
{
  if (mp->is_add > 1)
    return CP_API_E_INVALID_VALUE;
  ipset_rec_t *rec = cp_api_map_get(&a->ipsets, mp->ipset_id);
  if (!rec)
    return CP_API_E_NO_SUCH_ENTRY;
  cp_policy_member_t *m;
  int32_t rv = members_in(rec->type, mp->members, mp->n_members, &m);
  if (rv)
    return rv;
  cp_policy_member_t *d = malloc((mp->n_members ? mp->n_members : 1) * sizeof(*d));
  uint32_t n_next = 0;
  cp_policy_member_t *next = NULL;
  if (d) {
    memcpy(d, m, (size_t)mp->n_members * sizeof(*m));
    uint32_t nd = members_sort_unique(d, mp->n_members);
    next = members_merge(rec->m, rec->n, d, nd, mp->is_add, &n_next);
    free(d);
  }
  if (!next) {
    free(m);
    return CP_API_E_UNSPECIFIED;
  }
  if (mp->is_add)
    rv = rv_from_core(cp_policy_ipset_delta(a->core, mp->ipset_id, m, mp->n_members, NULL, 0));
  else
    rv = rv_from_core(cp_policy_ipset_delta(a->core, mp->ipset_id, NULL, 0, m, mp->n_members));
  free(m);
  if (rv) {
    free(next);
    return rv;
  }
  free(rec->m);
  rec->m = next;
  rec->n = n_next;
  return CP_API_OK;
}

static int32_t h_ipset_delete(cpol_api_t *a, uint32_t id)
{
  ipset_rec_t *rec = cp_api_map_get(&a->ipsets, id);
  if (!rec)
    return CP_API_E_NO_SUCH_ENTRY;
  if (rec->refs)
    return CP_API_E_INSTANCE_IN_USE;
  int32_t rv = rv_from_core(cp_policy_ipset_remove(a->core, id));
  if (!rv)
    ipset_free(cp_api_map_del(&a->ipsets, id));
  return rv;
}

/* ---- rules -------------------------------------------------------------------------------- */

static int kind_is_net(uint8_t k)
{
  return k <= CALICO_POLICY_MATCH_NOT_DST_NET;
}

static int kind_is_ports(uint8_t k)
{
  return k >= CALICO_POLICY_MATCH_SRC_PORTS && k <= CALICO_POLICY_MATCH_NOT_DST_PORTS;
}

/* The match value union is converted here, per its kind (the generated converters leave
 * unions alone). */
static void match_value_ntoh(vl_api_calico_policy_match_t *m)
{
  if (kind_is_ports(m->kind)) {
    m->value.ports.first = cp_api_swap16(m->value.ports.first);
    m->value.ports.last = cp_api_swap16(m->value.ports.last);
  } else if (!kind_is_net(m->kind)) {
    m->value.ipset_id = cp_api_swap32(m->value.ipset_id);
  }
}

static void rule_refs(cpol_api_t *a, const rule_rec_t *r, int delta)
{
  for (uint32_t i = 0; i < r->hdr.n_matches; i++) {
    const vl_api_calico_policy_match_t *m = &r->matches[i];
    if (kind_is_net(m->kind) || kind_is_ports(m->kind))
      continue;
    ipset_rec_t *s = cp_api_map_get(&a->ipsets, m->value.ipset_id);
    if (s)
      s->refs = (uint32_t)((int64_t)s->refs + delta);
  }
}

/* Build a rule record from a decoded (host order) request; validates everything. */
static int32_t rule_build(cpol_api_t *a, const vl_api_calico_policy_rule_update_t *mp,
                          rule_rec_t **out)
{
  *out = NULL;
  if (mp->action < CALICO_POLICY_ACTION_ALLOW || mp->action > CALICO_POLICY_ACTION_LOG)
    return CP_API_E_INVALID_VALUE;
  if (mp->ip_version != 0 && mp->ip_version != 4 && mp->ip_version != 6)
    return CP_API_E_INVALID_VALUE;
  if (mp->has_protocol > 1 || mp->has_not_protocol > 1)
    return CP_API_E_INVALID_VALUE;
  if (mp->icmp > CALICO_POLICY_ICMP_TYPE_CODE || mp->not_icmp > CALICO_POLICY_ICMP_TYPE_CODE)
    return CP_API_E_INVALID_VALUE;
  if (mp->n_matches > MAX_LIST)
    return CP_API_E_LIMIT_EXCEEDED;
  uint32_t n = mp->n_matches;
  uint32_t count[N_KINDS] = {0}, n_cidr = 0, n_port = 0, n_id = 0;
  for (uint32_t i = 0; i < n; i++) {
    vl_api_calico_policy_match_t m = mp->matches[i];
    if (m.kind >= N_KINDS)
      return CP_API_E_INVALID_VALUE;
    match_value_ntoh(&m);
    if (kind_is_net(m.kind)) {
      cp_addr_t addr;
      uint8_t af;
      int32_t rv = cp_api_addr_from_wire(m.value.prefix.address.af, m.value.prefix.address.un.ip6,
                                         &af, &addr);
      if (rv)
        return rv;
      if (mp->ip_version && af != mp->ip_version)
        return CP_API_E_INVALID_ADDRESS_FAMILY;
      if (m.value.prefix.len > (af == 6 ? 128 : 32))
        return CP_API_E_INVALID_VALUE;
      if (!cp_api_prefix_is_canonical(&addr, af, m.value.prefix.len))
        return CP_API_E_INVALID_VALUE_2;
      n_cidr++;
    } else if (kind_is_ports(m.kind)) {
      if (m.value.ports.first > m.value.ports.last)
        return CP_API_E_INVALID_VALUE_2;
      n_port++;
    } else {
      if (!cp_api_map_get(&a->ipsets, m.value.ipset_id))
        return CP_API_E_NO_SUCH_ENTRY;
      n_id++;
    }
    count[m.kind]++;
  }
  rule_rec_t *r = calloc(1, sizeof(*r));
  if (!r)
    return CP_API_E_UNSPECIFIED;
  r->hdr = *mp;
  r->matches = malloc((n ? n : 1) * sizeof(*r->matches));
  r->cidrs = malloc((n_cidr ? n_cidr : 1) * sizeof(*r->cidrs));
  r->ports = malloc((n_port ? n_port : 1) * sizeof(*r->ports));
  r->ids = malloc((n_id ? n_id : 1) * sizeof(*r->ids));
  if (!r->matches || !r->cidrs || !r->ports || !r->ids) {
    rule_free(r);
    return CP_API_E_UNSPECIFIED;
  }
  /* start of each kind's run inside its array */
  uint32_t start[N_KINDS], fill[N_KINDS], c = 0, p = 0, d = 0;
  for (uint32_t k = 0; k < N_KINDS; k++) {
    if (kind_is_net((uint8_t)k)) {
      start[k] = c;
      c += count[k];
    } else if (kind_is_ports((uint8_t)k)) {
      start[k] = p;
      p += count[k];
    } else {
      start[k] = d;
      d += count[k];
    }
    fill[k] = start[k];
  }
  for (uint32_t i = 0; i < n; i++) {
    vl_api_calico_policy_match_t m = mp->matches[i];
    match_value_ntoh(&m);
    r->matches[i] = m;
    if (kind_is_net(m.kind)) {
      cp_policy_cidr_t *x = &r->cidrs[fill[m.kind]++];
      memset(x, 0, sizeof(*x));
      cp_api_addr_from_wire(m.value.prefix.address.af, m.value.prefix.address.un.ip6, &x->af,
                            &x->addr);
      x->len = m.value.prefix.len;
    } else if (kind_is_ports(m.kind)) {
      r->ports[fill[m.kind]].first = m.value.ports.first;
      r->ports[fill[m.kind]++].last = m.value.ports.last;
    } else {
      r->ids[fill[m.kind]++] = m.value.ipset_id;
    }
  }
  cp_policy_rule_t *cr = &r->core;
  memset(cr, 0, sizeof(*cr));
  cr->action = mp->action;
  cr->ip_version = mp->ip_version;
  cr->has_protocol = mp->has_protocol;
  cr->protocol = mp->protocol;
  cr->has_not_protocol = mp->has_not_protocol;
  cr->not_protocol = mp->not_protocol;
  cr->icmp = mp->icmp;
  cr->icmp_type = mp->icmp_type;
  cr->icmp_code = mp->icmp_code;
  cr->not_icmp = mp->not_icmp;
  cr->not_icmp_type = mp->not_icmp_type;
  cr->not_icmp_code = mp->not_icmp_code;
#define CIDRS(f, k) cr->f = (cp_policy_cidr_list_t){r->cidrs + start[k], count[k]}
#define PORTS(f, k) cr->f = (cp_policy_port_list_t){r->ports + start[k], count[k]}
#define IDS(f, k) cr->f = (cp_policy_id_list_t){r->ids + start[k], count[k]}
  CIDRS(src_net, CALICO_POLICY_MATCH_SRC_NET);
  CIDRS(not_src_net, CALICO_POLICY_MATCH_NOT_SRC_NET);
  CIDRS(dst_net, CALICO_POLICY_MATCH_DST_NET);
  CIDRS(not_dst_net, CALICO_POLICY_MATCH_NOT_DST_NET);
  PORTS(src_ports, CALICO_POLICY_MATCH_SRC_PORTS);
  PORTS(not_src_ports, CALICO_POLICY_MATCH_NOT_SRC_PORTS);
  PORTS(dst_ports, CALICO_POLICY_MATCH_DST_PORTS);
  PORTS(not_dst_ports, CALICO_POLICY_MATCH_NOT_DST_PORTS);
  IDS(src_ipsets, CALICO_POLICY_MATCH_SRC_IPSET);
  IDS(not_src_ipsets, CALICO_POLICY_MATCH_NOT_SRC_IPSET);
  IDS(dst_ipsets, CALICO_POLICY_MATCH_DST_IPSET);
  IDS(not_dst_ipsets, CALICO_POLICY_MATCH_NOT_DST_IPSET);
  IDS(src_named_port_ipsets, CALICO_POLICY_MATCH_SRC_NAMED_PORT_IPSET);
  IDS(not_src_named_port_ipsets, CALICO_POLICY_MATCH_NOT_SRC_NAMED_PORT_IPSET);
  IDS(dst_named_port_ipsets, CALICO_POLICY_MATCH_DST_NAMED_PORT_IPSET);
  IDS(not_dst_named_port_ipsets, CALICO_POLICY_MATCH_NOT_DST_NAMED_PORT_IPSET);
  IDS(dst_ip_port_ipsets, CALICO_POLICY_MATCH_DST_IP_PORT_IPSET);
#undef CIDRS
#undef PORTS
#undef IDS
  *out = r;
  return CP_API_OK;
}

/* Push a policy (kind 0) or profile (kind 1) to the core from its record. */
static int32_t owner_push(cpol_api_t *a, int profile, uint32_t id, const list_rec_t *l)
{
  cp_policy_rule_t *rules = malloc((l->n ? l->n : 1) * sizeof(*rules));
  if (!rules)
    return CP_API_E_UNSPECIFIED;
  for (uint32_t i = 0; i < l->n; i++) {
    rule_rec_t *r = cp_api_map_get(&a->rules, l->ids[i]);
    rules[i] = r->core;
  }
  int rc = profile ? cp_policy_profile_update(a->core, id, rules, l->n_ingress,
                                              rules + l->n_ingress, l->n - l->n_ingress)
                   : cp_policy_policy_update(a->core, id, rules, l->n_ingress,
                                             rules + l->n_ingress, l->n - l->n_ingress);
  free(rules);
  return rv_from_core(rc);
}

static int list_has(const list_rec_t *l, uint32_t id)
{
  for (uint32_t i = 0; i < l->n; i++)
    if (l->ids[i] == id)
      return 1;
  return 0;
}

/* Re-push every policy and profile naming rule `rid` (after its record changed). On failure
 * the caller restores the old record and calls this again to restore the core. */
static int32_t rule_repush(cpol_api_t *a, uint32_t rid, int best_effort)
{
  cp_api_map_t *maps[2] = {&a->policies, &a->profiles};
  int32_t first = CP_API_OK;
  for (int k = 0; k < 2; k++) {
    uint32_t pos = 0, id;
    list_rec_t *l;
    while ((l = cp_api_map_next(maps[k], &pos, &id))) {
      if (!list_has(l, rid))
        continue;
      int32_t rv = owner_push(a, k, id, l);
      if (rv && !best_effort)
        return rv;
      if (rv && !first)
        first = rv;
    }
  }
  return first;
}

static int32_t h_rule_update(cpol_api_t *a, const vl_api_calico_policy_rule_update_t *mp)
{
  rule_rec_t *fresh;
  int32_t rv = rule_build(a, mp, &fresh);
  if (rv)
    return rv;
  rule_rec_t *old = cp_api_map_get(&a->rules, mp->id);
  if (cp_api_map_set(&a->rules, mp->id, fresh)) {
    rule_free(fresh);
    return CP_API_E_UNSPECIFIED;
  }
  if (old) {
    fresh->refs = old->refs;
    rv = rule_repush(a, mp->id, 0);
    if (rv) {
      cp_api_map_set(&a->rules, mp->id, old); /* the slot exists: cannot fail */
      rule_repush(a, mp->id, 1);
      rule_free(fresh);
      return rv;
    }
    rule_refs(a, old, -1);
    rule_free(old);
  }
  rule_refs(a, fresh, +1);
  return CP_API_OK;
}

static int32_t h_rule_delete(cpol_api_t *a, uint32_t id)
{
  rule_rec_t *r = cp_api_map_get(&a->rules, id);
  if (!r)
    return CP_API_E_NO_SUCH_ENTRY;
  if (r->refs)
    return CP_API_E_INSTANCE_IN_USE;
  rule_refs(a, r, -1);
  rule_free(cp_api_map_del(&a->rules, id));
  return CP_API_OK;
}

/* ---- policies, profiles, tiers ------------------------------------------------------------ */

/* ids_raw: the id array as it sits in the message (packed: maybe unaligned) */
static int32_t list_build(const void *ids_raw, uint32_t n_ingress, uint32_t n, list_rec_t **out)
{
  *out = NULL;
  if (n_ingress > n)
    return CP_API_E_INVALID_VALUE;
  if (n > MAX_LIST)
    return CP_API_E_LIMIT_EXCEEDED;
  list_rec_t *l = calloc(1, sizeof(*l));
  if (!l)
    return CP_API_E_UNSPECIFIED;
  l->ids = malloc((n ? n : 1) * sizeof(*l->ids));
  if (!l->ids) {
    free(l);
    return CP_API_E_UNSPECIFIED;
  }
  memcpy(l->ids, ids_raw, (size_t)n * sizeof(*l->ids));
  l->n = n;
  l->n_ingress = n_ingress;
  *out = l;
  return CP_API_OK;
}

static int32_t ids_exist(const cp_api_map_t *m, const uint32_t *ids, uint32_t n)
{
  for (uint32_t i = 0; i < n; i++)
    if (!cp_api_map_get(m, ids[i]))
      return CP_API_E_NO_SUCH_ENTRY;
  return CP_API_OK;
}

static void refs_of(cp_api_map_t *m, const uint32_t *ids, uint32_t n, int delta)
{
  /* policies, profiles and tiers are all list records */
  for (uint32_t i = 0; i < n; i++) {
    list_rec_t *l = cp_api_map_get(m, ids[i]);
    if (l)
      l->refs = (uint32_t)((int64_t)l->refs + delta);
  }
}

static void rule_ref_list(cpol_api_t *a, const list_rec_t *l, int delta)
{
  for (uint32_t i = 0; i < l->n; i++) {
    rule_rec_t *r = cp_api_map_get(&a->rules, l->ids[i]);
    if (r)
      r->refs = (uint32_t)((int64_t)r->refs + delta);
  }
}

/* policy (profile = 0) or profile (profile = 1) update */
static int32_t h_owner_update(cpol_api_t *a, int profile, uint32_t id, uint32_t n_ingress,
                              uint32_t n, const void *rule_ids)
{
  list_rec_t *fresh;
  int32_t rv = list_build(rule_ids, n_ingress, n, &fresh);
  if (rv)
    return rv;
  rv = ids_exist(&a->rules, fresh->ids, n);
  if (rv) {
    list_free(fresh);
    return rv;
  }
  cp_api_map_t *m = profile ? &a->profiles : &a->policies;
  list_rec_t *old = cp_api_map_get(m, id);
  /* a new id takes its slot first, so nothing can fail once the core has accepted */
  if (!old && cp_api_map_set(m, id, fresh)) {
    list_free(fresh);
    return CP_API_E_UNSPECIFIED;
  }
  rv = owner_push(a, profile, id, fresh);
  if (rv) {
    if (!old)
      cp_api_map_del(m, id);
    list_free(fresh);
    return rv;
  }
  if (old) {
    fresh->refs = old->refs;
    cp_api_map_set(m, id, fresh);
    rule_ref_list(a, old, -1);
    list_free(old);
  }
  rule_ref_list(a, fresh, +1);
  return CP_API_OK;
}

static int32_t h_owner_delete(cpol_api_t *a, int profile, uint32_t id)
{
  cp_api_map_t *m = profile ? &a->profiles : &a->policies;
  list_rec_t *l = cp_api_map_get(m, id);
  if (!l)
    return CP_API_E_NO_SUCH_ENTRY;
  if (l->refs)
    return CP_API_E_INSTANCE_IN_USE;
  int32_t rv = rv_from_core(profile ? cp_policy_profile_remove(a->core, id)
                                    : cp_policy_policy_remove(a->core, id));
  if (rv)
    return rv;
  rule_ref_list(a, l, -1);
  list_free(cp_api_map_del(m, id));
  return CP_API_OK;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static int32_t ep_push(cpol_api_t *a, uint32_t sw, const ep_rec_t *e)
{
  uint32_t n_tiers = e->n[0] + e->n[1] + e->n[2] + e->n[3];
  cp_policy_tier_t *t = malloc((n_tiers ? n_tiers : 1) * sizeof(*t));
  if (!t)
    return CP_API_E_UNSPECIFIED;
  for (uint32_t i = 0; i < n_tiers; i++) {
    list_rec_t *l = cp_api_map_get(&a->tiers, e->ids[i]);
    t[i].default_action = l->default_action;
    t[i].ingress_policies = (cp_policy_id_list_t){l->ids, l->n_ingress};
    t[i].egress_policies = (cp_policy_id_list_t){l->ids + l->n_ingress, l->n - l->n_ingress};
  }
  cp_policy_endpoint_t ep;
  memset(&ep, 0, sizeof(ep));
  ep.kind = e->kind;
  uint32_t o = 0;
  ep.tiers = (cp_policy_tier_list_t){t + o, e->n[0]};
  o += e->n[0];
  ep.forward_tiers = (cp_policy_tier_list_t){t + o, e->n[1]};
  o += e->n[1];
  ep.pre_dnat_tiers = (cp_policy_tier_list_t){t + o, e->n[2]};
  o += e->n[2];
  ep.untracked_tiers = (cp_policy_tier_list_t){t + o, e->n[3]};
  o += e->n[3];
  ep.profiles = (cp_policy_id_list_t){e->ids + o, e->n_ids - o};
  int32_t rv = rv_from_core(cp_policy_endpoint_update(a->core, sw, &ep));
  free(t);
  return rv;
}

static int ep_has_tier(const ep_rec_t *e, uint32_t tier)
{
  uint32_t n = e->n[0] + e->n[1] + e->n[2] + e->n[3];
  for (uint32_t i = 0; i < n; i++)
    if (e->ids[i] == tier)
      return 1;
  return 0;
}

static int32_t tier_repush(cpol_api_t *a, uint32_t tier, int best_effort)
{
  uint32_t pos = 0, sw;
  ep_rec_t *e;
  int32_t first = CP_API_OK;
  while ((e = cp_api_map_next(&a->endpoints, &pos, &sw))) {
    if (!ep_has_tier(e, tier))
      continue;
    int32_t rv = ep_push(a, sw, e);
    if (rv && !best_effort)
      return rv;
    if (rv && !first)
      first = rv;
  }
  return first;
}

static int32_t h_tier_update(cpol_api_t *a, const vl_api_calico_policy_tier_update_t *mp)
{
  if (mp->default_action != CALICO_POLICY_ACTION_DENY &&
      mp->default_action != CALICO_POLICY_ACTION_PASS)
    return CP_API_E_INVALID_VALUE;
  list_rec_t *fresh;
  int32_t rv =
      list_build((const uint8_t *)mp + offsetof(vl_api_calico_policy_tier_update_t, policy_ids),
                 mp->n_ingress, mp->n_policies, &fresh);
  if (rv)
    return rv;
  rv = ids_exist(&a->policies, fresh->ids, fresh->n);
  if (rv) {
    list_free(fresh);
    return rv;
  }
  fresh->default_action = mp->default_action;
  list_rec_t *old = cp_api_map_get(&a->tiers, mp->id);
  if (cp_api_map_set(&a->tiers, mp->id, fresh)) {
    list_free(fresh);
    return CP_API_E_UNSPECIFIED;
  }
  if (old) {
    fresh->refs = old->refs;
    rv = tier_repush(a, mp->id, 0);
    if (rv) {
      cp_api_map_set(&a->tiers, mp->id, old);
      tier_repush(a, mp->id, 1);
      list_free(fresh);
      return rv;
    }
    refs_of(&a->policies, old->ids, old->n, -1);
    list_free(old);
  }
  refs_of(&a->policies, fresh->ids, fresh->n, +1);
  return CP_API_OK;
}

static int32_t h_tier_delete(cpol_api_t *a, uint32_t id)
{
  list_rec_t *l = cp_api_map_get(&a->tiers, id);
  if (!l)
    return CP_API_E_NO_SUCH_ENTRY;
  if (l->refs)
    return CP_API_E_INSTANCE_IN_USE;
  refs_of(&a->policies, l->ids, l->n, -1);
  list_free(cp_api_map_del(&a->tiers, id));
  return CP_API_OK;
}

static void ep_refs(cpol_api_t *a, const ep_rec_t *e, int delta)
{
  uint32_t nt = e->n[0] + e->n[1] + e->n[2] + e->n[3];
  refs_of(&a->tiers, e->ids, nt, delta);
  refs_of(&a->profiles, e->ids + nt, e->n_ids - nt, delta);
}

static int32_t h_endpoint_update(cpol_api_t *a, const vl_api_calico_policy_endpoint_update_t *mp)
{
  if (mp->sw_if_index == ~0u)
    return CP_API_E_INVALID_SW_IF_INDEX;
  if (mp->kind > CALICO_POLICY_ENDPOINT_HOST)
    return CP_API_E_INVALID_VALUE;
  uint64_t nt = (uint64_t)mp->n_tiers + mp->n_forward_tiers + mp->n_pre_dnat_tiers +
                mp->n_untracked_tiers;
  if (nt > mp->n_ids)
    return CP_API_E_INVALID_VALUE;
  if (mp->kind == CALICO_POLICY_ENDPOINT_WORKLOAD &&
      (mp->n_forward_tiers || mp->n_pre_dnat_tiers || mp->n_untracked_tiers))
    return CP_API_E_INVALID_VALUE_2;
  if (mp->n_ids > MAX_LIST)
    return CP_API_E_LIMIT_EXCEEDED;
  ep_rec_t *e = calloc(1, sizeof(*e));
  if (!e)
    return CP_API_E_UNSPECIFIED;
  e->ids = malloc((mp->n_ids ? mp->n_ids : 1) * sizeof(*e->ids));
  if (!e->ids) {
    free(e);
    return CP_API_E_UNSPECIFIED;
  }
  memcpy(e->ids, (const uint8_t *)mp + offsetof(vl_api_calico_policy_endpoint_update_t, ids),
         (size_t)mp->n_ids * sizeof(*e->ids));
  int32_t rv = ids_exist(&a->tiers, e->ids, (uint32_t)nt);
  if (!rv)
    rv = ids_exist(&a->profiles, e->ids + nt, mp->n_ids - (uint32_t)nt);
  if (rv) {
    ep_free(e);
    return rv;
  }
  e->kind = mp->kind;
  e->n[0] = mp->n_tiers;
  e->n[1] = mp->n_forward_tiers;
  e->n[2] = mp->n_pre_dnat_tiers;
  e->n[3] = mp->n_untracked_tiers;
  e->n_ids = mp->n_ids;
  ep_rec_t *old = cp_api_map_get(&a->endpoints, mp->sw_if_index);
  if (!old && cp_api_map_set(&a->endpoints, mp->sw_if_index, e)) {
    ep_free(e);
    return CP_API_E_UNSPECIFIED;
  }
  rv = ep_push(a, mp->sw_if_index, e);
  if (rv) {
    if (!old)
      cp_api_map_del(&a->endpoints, mp->sw_if_index);
    ep_free(e);
    return rv;
  }
  if (old) {
    cp_api_map_set(&a->endpoints, mp->sw_if_index, e);
    ep_refs(a, old, -1);
    ep_free(old);
  }
  ep_refs(a, e, +1);
  return CP_API_OK;
}

static int32_t h_endpoint_delete(cpol_api_t *a, uint32_t sw)
{
  ep_rec_t *e = cp_api_map_get(&a->endpoints, sw);
  if (!e)
    return CP_API_E_NO_SUCH_ENTRY;
  int32_t rv = rv_from_core(cp_policy_endpoint_remove(a->core, sw));
  if (rv)
    return rv;
  ep_refs(a, e, -1);
  ep_free(cp_api_map_del(&a->endpoints, sw));
  return CP_API_OK;
}

/* ---- dumps -------------------------------------------------------------------------------- */

static void d_interfaces(req_t *r)
{
  for (uint32_t i = 0; i < r->a->ifs.n; i++) {
    vl_api_calico_policy_interface_details_t d;
    d._vl_msg_id = (u16)(r->a->base + VL_API_CALICO_POLICY_INTERFACE_DETAILS);
    d.context = r->context;
    d.sw_if_index = r->a->ifs.v[i];
    SEND_DETAILS(vl_api_calico_policy_interface_details_t, r, &d);
  }
}

static void d_ipsets(req_t *r)
{
  uint32_t *keys = cp_api_map_sorted_keys(&r->a->ipsets);
  if (!keys)
    return;
  for (uint32_t i = 0; i < r->a->ipsets.n; i++) {
    ipset_rec_t *s = cp_api_map_get(&r->a->ipsets, keys[i]);
    vl_api_calico_policy_ipset_details_t d;
    d._vl_msg_id = (u16)(r->a->base + VL_API_CALICO_POLICY_IPSET_DETAILS);
    d.context = r->context;
    d.id = keys[i];
    d.type = (vl_api_calico_policy_ipset_type_t)s->type;
    int64_t n = cp_policy_ipset_size(r->a->core, keys[i]);
    d.n_members = n < 0 ? 0 : (u32)n;
    SEND_DETAILS(vl_api_calico_policy_ipset_details_t, r, &d);
  }
  free(keys);
}

#define MEMBERS_PER_DETAILS 1024u

static void member_out(const cp_policy_member_t *m, vl_api_calico_policy_ipset_member_t *w)
{
  memset(w, 0, sizeof(*w));
  uint8_t waf;
  cp_api_addr_to_wire(m->af, &m->addr, &waf, w->prefix.address.un.ip6);
  w->prefix.address.af = (vl_api_address_family_t)waf;
  w->prefix.len = m->len;
  w->proto = (vl_api_ip_proto_t)m->proto;
  w->port = m->port;
}

static int d_ipset_members(req_t *r, uint32_t id)
{
  ipset_rec_t *s = cp_api_map_get(&r->a->ipsets, id);
  if (!s)
    return -1;
  for (uint32_t off = 0; off < s->n || (off == 0 && s->n == 0); off += MEMBERS_PER_DETAILS) {
    uint32_t n = s->n - off < MEMBERS_PER_DETAILS ? s->n - off : MEMBERS_PER_DETAILS;
    size_t len = sizeof(vl_api_calico_policy_ipset_member_details_t) +
                 n * sizeof(vl_api_calico_policy_ipset_member_t);
    vl_api_calico_policy_ipset_member_details_t *d = calloc(1, len);
    if (!d)
      return 0;
    d->_vl_msg_id = (u16)(r->a->base + VL_API_CALICO_POLICY_IPSET_MEMBER_DETAILS);
    d->context = r->context;
    d->ipset_id = id;
    d->n_members = n;
    for (uint32_t i = 0; i < n; i++)
      member_out(&s->m[off + i], &d->members[i]);
    SEND_DETAILS(vl_api_calico_policy_ipset_member_details_t, r, d);
    free(d);
    if (s->n == 0)
      break;
  }
  return 0;
}

static void d_rules(req_t *r)
{
  uint32_t *keys = cp_api_map_sorted_keys(&r->a->rules);
  if (!keys)
    return;
  for (uint32_t i = 0; i < r->a->rules.n; i++) {
    rule_rec_t *rr = cp_api_map_get(&r->a->rules, keys[i]);
    uint32_t n = rr->hdr.n_matches;
    size_t len = sizeof(vl_api_calico_policy_rule_details_t) + n * sizeof(*rr->matches);
    vl_api_calico_policy_rule_details_t *d = calloc(1, len);
    if (!d)
      break;
    d->_vl_msg_id = (u16)(r->a->base + VL_API_CALICO_POLICY_RULE_DETAILS);
    d->context = r->context;
    d->id = keys[i];
    d->action = rr->hdr.action;
    d->ip_version = rr->hdr.ip_version;
    d->has_protocol = rr->hdr.has_protocol;
    d->protocol = rr->hdr.protocol;
    d->has_not_protocol = rr->hdr.has_not_protocol;
    d->not_protocol = rr->hdr.not_protocol;
    d->icmp = rr->hdr.icmp;
    d->icmp_type = rr->hdr.icmp_type;
    d->icmp_code = rr->hdr.icmp_code;
    d->not_icmp = rr->hdr.not_icmp;
    d->not_icmp_type = rr->hdr.not_icmp_type;
    d->not_icmp_code = rr->hdr.not_icmp_code;
    d->n_matches = n;
    for (uint32_t j = 0; j < n; j++) {
      d->matches[j] = rr->matches[j];
      match_value_ntoh(&d->matches[j]); /* back to network order (the swap is symmetric) */
    }
    SEND_DETAILS(vl_api_calico_policy_rule_details_t, r, d);
    free(d);
  }
  free(keys);
}

static void counter_add(cpol_api_t *a, int profile, uint32_t owner, uint8_t dir, uint32_t idx,
                        uint64_t *pk, uint64_t *by)
{
  cp_policy_counter_t c;
  if (cp_policy_rule_counter(a->core, profile ? CP_POLICY_OWNER_PROFILE : CP_POLICY_OWNER_POLICY,
                             owner, dir, idx, &c) == CP_POLICY_OK) {
    *pk += c.packets;
    *by += c.bytes;
  }
}

static void send_rule_counters(req_t *r, uint32_t rid)
{
  uint64_t pk = 0, by = 0;
  cp_api_map_t *maps[2] = {&r->a->policies, &r->a->profiles};
  for (int k = 0; k < 2; k++) {
    uint32_t pos = 0, id;
    list_rec_t *l;
    while ((l = cp_api_map_next(maps[k], &pos, &id)))
      for (uint32_t i = 0; i < l->n; i++)
        if (l->ids[i] == rid)
          counter_add(r->a, k, id, i < l->n_ingress ? CP_DIR_INGRESS : CP_DIR_EGRESS,
                      i < l->n_ingress ? i : i - l->n_ingress, &pk, &by);
  }
  vl_api_calico_policy_rule_counters_details_t d;
  d._vl_msg_id = (u16)(r->a->base + VL_API_CALICO_POLICY_RULE_COUNTERS_DETAILS);
  d.context = r->context;
  d.rule_id = rid;
  d.packets = pk;
  d.bytes = by;
  SEND_DETAILS(vl_api_calico_policy_rule_counters_details_t, r, &d);
}

static int d_rule_counters(req_t *r, uint32_t rid)
{
  if (rid != ~0u) {
    if (!cp_api_map_get(&r->a->rules, rid))
      return -1;
    send_rule_counters(r, rid);
    return 0;
  }
  uint32_t *keys = cp_api_map_sorted_keys(&r->a->rules);
  if (!keys)
    return 0;
  for (uint32_t i = 0; i < r->a->rules.n; i++)
    send_rule_counters(r, keys[i]);
  free(keys);
  return 0;
}

/* policies and profiles share one details layout (id, n_ingress, n_rules, rule_ids[]) */
static void d_owners(req_t *r, int profile)
{
  cp_api_map_t *m = profile ? &r->a->profiles : &r->a->policies;
  uint32_t *keys = cp_api_map_sorted_keys(m);
  if (!keys)
    return;
  for (uint32_t i = 0; i < m->n; i++) {
    list_rec_t *l = cp_api_map_get(m, keys[i]);
    size_t len = sizeof(vl_api_calico_policy_policy_details_t) + l->n * sizeof(u32);
    vl_api_calico_policy_policy_details_t *d = calloc(1, len);
    if (!d)
      break;
    d->_vl_msg_id = (u16)(r->a->base + (profile ? VL_API_CALICO_POLICY_PROFILE_DETAILS
                                                : VL_API_CALICO_POLICY_POLICY_DETAILS));
    d->context = r->context;
    d->id = keys[i];
    d->n_ingress = l->n_ingress;
    d->n_rules = l->n;
    memcpy(d->rule_ids, l->ids, l->n * sizeof(u32));
    SEND_DETAILS(vl_api_calico_policy_policy_details_t, r, d);
    free(d);
  }
  free(keys);
}

static void d_tiers(req_t *r)
{
  uint32_t *keys = cp_api_map_sorted_keys(&r->a->tiers);
  if (!keys)
    return;
  for (uint32_t i = 0; i < r->a->tiers.n; i++) {
    list_rec_t *l = cp_api_map_get(&r->a->tiers, keys[i]);
    size_t len = sizeof(vl_api_calico_policy_tier_details_t) + l->n * sizeof(u32);
    vl_api_calico_policy_tier_details_t *d = calloc(1, len);
    if (!d)
      break;
    d->_vl_msg_id = (u16)(r->a->base + VL_API_CALICO_POLICY_TIER_DETAILS);
    d->context = r->context;
    d->id = keys[i];
    d->default_action = (vl_api_calico_policy_action_t)l->default_action;
    d->n_ingress = l->n_ingress;
    d->n_policies = l->n;
    memcpy(d->policy_ids, l->ids, l->n * sizeof(u32));
    SEND_DETAILS(vl_api_calico_policy_tier_details_t, r, d);
    free(d);
  }
  free(keys);
}

static void d_endpoints(req_t *r)
{
  uint32_t *keys = cp_api_map_sorted_keys(&r->a->endpoints);
  if (!keys)
    return;
  for (uint32_t i = 0; i < r->a->endpoints.n; i++) {
    ep_rec_t *e = cp_api_map_get(&r->a->endpoints, keys[i]);
    size_t len = sizeof(vl_api_calico_policy_endpoint_details_t) + e->n_ids * sizeof(u32);
    vl_api_calico_policy_endpoint_details_t *d = calloc(1, len);
    if (!d)
      break;
    d->_vl_msg_id = (u16)(r->a->base + VL_API_CALICO_POLICY_ENDPOINT_DETAILS);
    d->context = r->context;
    d->sw_if_index = keys[i];
    d->kind = (vl_api_calico_policy_endpoint_kind_t)e->kind;
    d->n_tiers = e->n[0];
    d->n_forward_tiers = e->n[1];
    d->n_pre_dnat_tiers = e->n[2];
    d->n_untracked_tiers = e->n[3];
    d->n_ids = e->n_ids;
    memcpy(d->ids, e->ids, e->n_ids * sizeof(u32));
    SEND_DETAILS(vl_api_calico_policy_endpoint_details_t, r, d);
    free(d);
  }
  free(keys);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

#define DECODE(T, mp, msg, len, rv)                                                               \
  T *mp = NULL;                                                                                   \
  int32_t rv = CP_API_E_INVALID_ARGUMENT;                                                         \
  if (len >= sizeof(T) && len <= CP_API_MAX_MSG) {                                                \
    mp = malloc(len);                                                                             \
    rv = CP_API_E_UNSPECIFIED;                                                                    \
    if (mp) {                                                                                     \
      memcpy(mp, msg, len);                                                                       \
      rv = CP_API_OK;                                                                             \
      if (T##_decode(mp, len)) {                                                                  \
        free(mp);                                                                                 \
        mp = NULL;                                                                                \
        rv = CP_API_E_INVALID_ARGUMENT;                                                           \
      }                                                                                           \
    }                                                                                             \
  }

/* requests that carry only an id (deletes) */
static int id_request(const uint8_t *msg, uint32_t len, uint32_t want_len, uint32_t *id)
{
  if (len != want_len)
    return 0;
  *id = (uint32_t)msg[10] << 24 | (uint32_t)msg[11] << 16 | (uint32_t)msg[12] << 8 | msg[13];
  return 1;
}

#define DUMP(T, call)                                                                             \
  do {                                                                                            \
    if (len != sizeof(T))                                                                         \
      return CP_API_NO_REPLY_DUMP;                                                                \
    call;                                                                                         \
    return CP_API_HANDLED;                                                                        \
  } while (0)

int cpol_api_handle(cpol_api_t *a, const uint8_t *msg, uint32_t len, cp_api_send_fn send,
                    void *arg)
{
  if (!msg || len < 10)
    return CP_API_NO_REPLY_SHORT;
  uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
  if (id < a->base)
    return CP_API_NO_REPLY_UNKNOWN;
  uint32_t idx = (uint32_t)(id - a->base);
  req_t r = {a, send, arg, 0};
  memcpy(&r.context, msg + 6, 4);
  r.context = cp_api_swap32(r.context);
  uint32_t oid = 0;

  switch (idx) {
  case VL_API_CALICO_POLICY_GET_VERSION: {
    int ok = len == sizeof(vl_api_calico_policy_get_version_t);
    vl_api_calico_policy_get_version_reply_t m;
    m._vl_msg_id = (u16)(a->base + VL_API_CALICO_POLICY_GET_VERSION_REPLY);
    m.context = r.context;
    m.retval = ok ? CP_API_OK : CP_API_E_INVALID_ARGUMENT;
    m.major = ok ? VL_API_CALICO_POLICY_API_VERSION_MAJOR : 0;
    m.minor = ok ? VL_API_CALICO_POLICY_API_VERSION_MINOR : 0;
    uint32_t l = vl_api_calico_policy_get_version_reply_t_encode(&m);
    send(arg, &m, l);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_PUBLISH: {
    int ok = len == sizeof(vl_api_calico_policy_publish_t);
    vl_api_calico_policy_publish_reply_t m;
    m._vl_msg_id = (u16)(a->base + VL_API_CALICO_POLICY_PUBLISH_REPLY);
    m.context = r.context;
    m.retval = ok ? rv_from_core(cp_policy_build(a->core)) : CP_API_E_INVALID_ARGUMENT;
    m.generation = cp_policy_generation(a->core);
    uint32_t l = vl_api_calico_policy_publish_reply_t_encode(&m);
    send(arg, &m, l);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_INTERFACE_ENABLE_DISABLE: {
    DECODE(vl_api_calico_policy_interface_enable_disable_t, mp, msg, len, rv);
    if (mp)
      rv = h_interface_enable_disable(a, mp);
    free(mp);
    send_rv(&r, VL_API_CALICO_POLICY_INTERFACE_ENABLE_DISABLE_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_IPSET_UPDATE: {
    DECODE(vl_api_calico_policy_ipset_update_t, mp, msg, len, rv);
    if (mp)
      rv = h_ipset_update(a, mp);
    free(mp);
    send_rv(&r, VL_API_CALICO_POLICY_IPSET_UPDATE_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_IPSET_MEMBER_ADD_DEL: {
    DECODE(vl_api_calico_policy_ipset_member_add_del_t, mp, msg, len, rv);
    if (mp)
      rv = h_ipset_member_add_del(a, mp);
    free(mp);
    send_rv(&r, VL_API_CALICO_POLICY_IPSET_MEMBER_ADD_DEL_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_IPSET_DELETE:
    send_rv(&r, VL_API_CALICO_POLICY_IPSET_DELETE_REPLY,
            id_request(msg, len, sizeof(vl_api_calico_policy_ipset_delete_t), &oid)
                ? h_ipset_delete(a, oid)
                : CP_API_E_INVALID_ARGUMENT);
    return CP_API_HANDLED;
  case VL_API_CALICO_POLICY_RULE_UPDATE: {
    DECODE(vl_api_calico_policy_rule_update_t, mp, msg, len, rv);
    if (mp)
      rv = h_rule_update(a, mp);
    free(mp);
    send_rv(&r, VL_API_CALICO_POLICY_RULE_UPDATE_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_RULE_DELETE:
    send_rv(&r, VL_API_CALICO_POLICY_RULE_DELETE_REPLY,
            id_request(msg, len, sizeof(vl_api_calico_policy_rule_delete_t), &oid)
                ? h_rule_delete(a, oid)
                : CP_API_E_INVALID_ARGUMENT);
    return CP_API_HANDLED;
  case VL_API_CALICO_POLICY_POLICY_UPDATE:
  case VL_API_CALICO_POLICY_PROFILE_UPDATE: {
    /* same layout: id, n_ingress, n_rules, rule_ids[n_rules] */
    int profile = idx == VL_API_CALICO_POLICY_PROFILE_UPDATE;
    DECODE(vl_api_calico_policy_policy_update_t, mp, msg, len, rv);
    if (mp)
      rv = h_owner_update(
          a, profile, mp->id, mp->n_ingress, mp->n_rules,
          (const uint8_t *)mp + offsetof(vl_api_calico_policy_policy_update_t, rule_ids));
    free(mp);
    send_rv(&r, profile ? VL_API_CALICO_POLICY_PROFILE_UPDATE_REPLY
                        : VL_API_CALICO_POLICY_POLICY_UPDATE_REPLY,
            rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_POLICY_DELETE:
  case VL_API_CALICO_POLICY_PROFILE_DELETE: {
    int profile = idx == VL_API_CALICO_POLICY_PROFILE_DELETE;
    send_rv(&r,
            profile ? VL_API_CALICO_POLICY_PROFILE_DELETE_REPLY
                    : VL_API_CALICO_POLICY_POLICY_DELETE_REPLY,
            id_request(msg, len, sizeof(vl_api_calico_policy_policy_delete_t), &oid)
                ? h_owner_delete(a, profile, oid)
                : CP_API_E_INVALID_ARGUMENT);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_TIER_UPDATE: {
    DECODE(vl_api_calico_policy_tier_update_t, mp, msg, len, rv);
    if (mp)
      rv = h_tier_update(a, mp);
    free(mp);
    send_rv(&r, VL_API_CALICO_POLICY_TIER_UPDATE_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_TIER_DELETE:
    send_rv(&r, VL_API_CALICO_POLICY_TIER_DELETE_REPLY,
            id_request(msg, len, sizeof(vl_api_calico_policy_tier_delete_t), &oid)
                ? h_tier_delete(a, oid)
                : CP_API_E_INVALID_ARGUMENT);
    return CP_API_HANDLED;
  case VL_API_CALICO_POLICY_ENDPOINT_UPDATE: {
    DECODE(vl_api_calico_policy_endpoint_update_t, mp, msg, len, rv);
    if (mp)
      rv = h_endpoint_update(a, mp);
    free(mp);
    send_rv(&r, VL_API_CALICO_POLICY_ENDPOINT_UPDATE_REPLY, rv);
    return CP_API_HANDLED;
  }
  case VL_API_CALICO_POLICY_ENDPOINT_DELETE:
    send_rv(&r, VL_API_CALICO_POLICY_ENDPOINT_DELETE_REPLY,
            id_request(msg, len, sizeof(vl_api_calico_policy_endpoint_delete_t), &oid)
                ? h_endpoint_delete(a, oid)
                : CP_API_E_INVALID_ARGUMENT);
    return CP_API_HANDLED;
  case VL_API_CALICO_POLICY_INTERFACE_DUMP:
    DUMP(vl_api_calico_policy_interface_dump_t, d_interfaces(&r));
  case VL_API_CALICO_POLICY_IPSET_DUMP:
    DUMP(vl_api_calico_policy_ipset_dump_t, d_ipsets(&r));
  case VL_API_CALICO_POLICY_RULE_DUMP:
    DUMP(vl_api_calico_policy_rule_dump_t, d_rules(&r));
  case VL_API_CALICO_POLICY_POLICY_DUMP:
    DUMP(vl_api_calico_policy_policy_dump_t, d_owners(&r, 0));
  case VL_API_CALICO_POLICY_PROFILE_DUMP:
    DUMP(vl_api_calico_policy_profile_dump_t, d_owners(&r, 1));
  case VL_API_CALICO_POLICY_TIER_DUMP:
    DUMP(vl_api_calico_policy_tier_dump_t, d_tiers(&r));
  case VL_API_CALICO_POLICY_ENDPOINT_DUMP:
    DUMP(vl_api_calico_policy_endpoint_dump_t, d_endpoints(&r));
  case VL_API_CALICO_POLICY_IPSET_MEMBER_DUMP:
    if (!id_request(msg, len, sizeof(vl_api_calico_policy_ipset_member_dump_t), &oid))
      return CP_API_NO_REPLY_DUMP;
    return d_ipset_members(&r, oid) ? CP_API_NO_REPLY_DUMP : CP_API_HANDLED;
  case VL_API_CALICO_POLICY_RULE_COUNTERS_DUMP:
    if (!id_request(msg, len, sizeof(vl_api_calico_policy_rule_counters_dump_t), &oid))
      return CP_API_NO_REPLY_DUMP;
    return d_rule_counters(&r, oid) ? CP_API_NO_REPLY_DUMP : CP_API_HANDLED;
  default:
    return CP_API_NO_REPLY_UNKNOWN;
  }
}

int cpol_api_handle_batch(cpol_api_t *a, const uint8_t *blob, uint32_t len, cp_api_send_fn send,
                          void *arg)
{
  uint32_t off = 0, l = 0;
  int bad = 0, no_reply = 0;
  const uint8_t *m;
  while ((m = cp_api_batch_next(blob, len, &off, &l, &bad)))
    no_reply += cpol_api_handle(a, m, l, send, arg) != CP_API_HANDLED;
  return bad ? -1 : no_reply;
}
