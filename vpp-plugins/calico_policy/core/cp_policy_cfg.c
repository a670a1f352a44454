/* calico_policy core: the configuration side (validation, object pools, references).
 * Every mutating call validates everything before it changes anything. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_policy_int.h"

static int fail(cp_policy_t *p, int err, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof(p->err), fmt, ap);
  va_end(ap);
  return err;
}

const char *cp_policy_last_error(const cp_policy_t *p)
{
  return p->err;
}

const char *cp_policy_strerror(int err)
{
  switch (err) {
  case CP_POLICY_OK:
    return "ok";
  case CP_POLICY_E_INVAL:
    return "invalid argument";
  case CP_POLICY_E_NOENT:
    return "unknown id";
  case CP_POLICY_E_EXIST:
    return "duplicate id";
  case CP_POLICY_E_BUSY:
    return "object still referenced";
  case CP_POLICY_E_RANGE:
    return "inverted port range";
  case CP_POLICY_E_HOSTBITS:
    return "CIDR with host bits set";
  case CP_POLICY_E_FAMILY:
    return "address-family mismatch";
  case CP_POLICY_E_TOOBIG:
    return "over a configured limit";
  case CP_POLICY_E_NOMEM:
    return "out of memory";
  default:
    return "unknown error";
  }
}

/* ---- lifecycle ---------------------------------------------------------------------- */

cp_policy_t *cp_policy_create(const cp_policy_params_t *params)
{
  cp_policy_t *p = calloc(1, sizeof(*p));
  if (!p)
    return NULL;
  p->n_workers = params && params->n_workers ? params->n_workers : 1;
  p->max_ipsets = params && params->max_ipsets ? params->max_ipsets : 65536;
  p->max_members = params && params->max_ipset_members ? params->max_ipset_members : 1u << 20;
  p->max_rules = params && params->max_rules_per_policy ? params->max_rules_per_policy : 65536;
  p->max_list = params && params->max_list ? params->max_list : 4096;
  p->epoch = cp_epoch_create(p->n_workers);
  p->hooks = calloc(p->n_workers, sizeof(*p->hooks));
  if (!p->epoch || !p->hooks || cp_idmap_init(&p->ipset_ids, 16) || cp_idmap_init(&p->pol_ids[0], 16) ||
      cp_idmap_init(&p->pol_ids[1], 16) || cp_idmap_init(&p->ep_ids, 16)) {
    cp_policy_destroy(p);
    return NULL;
  }
  for (uint32_t w = 0; w < p->n_workers; w++) {
    p->hooks[w].p = p;
    p->hooks[w].worker = w;
  }
  atomic_store(&p->tab, NULL);
  /* an empty published table so the fast path always has one */
  if (cp_policy_build(p) != 0) {
    cp_policy_destroy(p);
    return NULL;
  }
  return p;
}

static void rules_free(cpp_rules_t *r)
{
  for (uint32_t i = 0; i < r->n; i++)
    free(r->blob[i]);
  free(r->blob);
  free(r->v);
  free(r->base);
  memset(r, 0, sizeof(*r));
}

static void ep_free(cpp_ep_t *e)
{
  free(e->blob);
  memset(e, 0, sizeof(*e));
}

void cp_policy_destroy(cp_policy_t *p)
{
  if (!p)
    return;
  cpp_tab_t *t = atomic_load(&p->tab);
  if (t)
    cpp_tab_free(t);
  for (uint32_t i = 0; i < p->n_ipsets; i++)
    cp_mset_free(&p->ipsets[i].members);
  free(p->ipsets);
  for (int k = 0; k < 2; k++) {
    for (uint32_t i = 0; i < p->n_pols[k]; i++)
      for (int d = 0; d < 2; d++)
        rules_free(&p->pols[k][i].rules[d]);
    free(p->pols[k]);
    cp_idmap_free(&p->pol_ids[k]);
  }
  for (uint32_t i = 0; i < p->n_eps; i++)
    ep_free(&p->eps[i]);
  free(p->eps);
  cp_idmap_free(&p->ipset_ids);
  cp_idmap_free(&p->ep_ids);
  if (p->epoch)
    cp_epoch_destroy(p->epoch);
  free(p->hooks);
  free(p);
}

/* ---- pools: a slot array plus an id map; removal moves the last slot into the hole --- */

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
  if (need <= *cap)
    return 0;
  uint32_t c = *cap ? *cap * 2 : 16;
  while (c < need)
    c *= 2;
  void *n = realloc(*arr, (size_t)c * elem);
  if (!n)
    return -1;
  memset((char *)n + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
  *arr = n;
  *cap = c;
  return 0;
}

/* ---- value validation --------------------------------------------------------------- */

static int check_cidr(cp_policy_t *p, const cp_policy_cidr_t *c, const char *what)
{
  if (c->af != 4 && c->af != 6)
    return fail(p, CP_POLICY_E_INVAL, "%s: address family %u is not 4 or 6", what, c->af);
  uint32_t bits = c->af == 4 ? 32 : 128;
  if (c->len > bits)
    return fail(p, CP_POLICY_E_INVAL, "%s: prefix length %u over %u", what, c->len, bits);
  cp_addr_t m = c->addr;
  cp_addr_mask(&m, c->len, bits);
  if (c->af == 4 && (c->addr.w[1] | c->addr.w[2] | c->addr.w[3]))
    return fail(p, CP_POLICY_E_FAMILY, "%s: IPv4 address with bytes beyond the fourth", what);
  if (memcmp(&m, &c->addr, sizeof(m)) != 0)
    return fail(p, CP_POLICY_E_HOSTBITS, "%s: CIDR /%u has host bits set", what, c->len);
  return 0;
}

static int check_ports(cp_policy_t *p, const cp_policy_port_list_t *l, const char *what)
{
  if (l->n > p->max_list)
    return fail(p, CP_POLICY_E_TOOBIG, "%s: %u entries over the limit %u", what, l->n, p->max_list);
  if (l->n && !l->v)
    return fail(p, CP_POLICY_E_INVAL, "%s: NULL list", what);
  for (uint32_t i = 0; i < l->n; i++)
    if (l->v[i].first > l->v[i].last)
      return fail(p, CP_POLICY_E_RANGE, "%s: port range %u-%u is inverted", what,
                  l->v[i].first, l->v[i].last);
  return 0;
}

static int check_nets(cp_policy_t *p, const cp_policy_cidr_list_t *l, uint8_t ipv,
                      const char *what)
{
  if (l->n > p->max_list)
    return fail(p, CP_POLICY_E_TOOBIG, "%s: %u entries over the limit %u", what, l->n, p->max_list);
  if (l->n && !l->v)
    return fail(p, CP_POLICY_E_INVAL, "%s: NULL list", what);
  for (uint32_t i = 0; i < l->n; i++) {
    int rc = check_cidr(p, &l->v[i], what);
    if (rc)
      return rc;
    if (ipv && l->v[i].af != ipv)
      return fail(p, CP_POLICY_E_FAMILY, "%s: IPv%u CIDR in an IPv%u rule", what, l->v[i].af,
                  ipv);
  }
  return 0;
}

static int check_sets(cp_policy_t *p, const cp_policy_id_list_t *l, int want_ipport,
                      const char *what)
{
  if (l->n > p->max_list)
    return fail(p, CP_POLICY_E_TOOBIG, "%s: %u entries over the limit %u", what, l->n, p->max_list);
  if (l->n && !l->ids)
    return fail(p, CP_POLICY_E_INVAL, "%s: NULL list", what);
  for (uint32_t i = 0; i < l->n; i++) {
    uint32_t s = cp_idmap_get(&p->ipset_ids, l->ids[i]);
    if (s == UINT32_MAX)
      return fail(p, CP_POLICY_E_NOENT, "%s: unknown ipset %u", what, l->ids[i]);
    int is_ipport = p->ipsets[s].type == CP_POLICY_IPSET_IP_AND_PORT;
    if (is_ipport != want_ipport)
      return fail(p, CP_POLICY_E_INVAL, "%s: ipset %u is %s an IP_AND_PORT set", what,
                  l->ids[i], want_ipport ? "not" : "");
    for (uint32_t j = 0; j < i; j++)
      if (l->ids[j] == l->ids[i])
        return fail(p, CP_POLICY_E_EXIST, "%s: ipset %u listed twice", what, l->ids[i]);
  }
  return 0;
}

static int check_proto_icmp(cp_policy_t *p, uint8_t icmp, const char *what)
{
  if (icmp > CP_POLICY_ICMP_TYPE_CODE)
    return fail(p, CP_POLICY_E_INVAL, "%s: bad ICMP match kind %u", what, icmp);
  return 0;
}

static int check_rule(cp_policy_t *p, const cp_policy_rule_t *r, uint32_t idx)
{
  char what[64];
  int rc;
  snprintf(what, sizeof(what), "rule %u", idx);
  if (r->action < CP_POLICY_ACTION_ALLOW || r->action > CP_POLICY_ACTION_LOG)
    return fail(p, CP_POLICY_E_INVAL, "%s: bad action %u", what, r->action);
  if (r->ip_version != 0 && r->ip_version != 4 && r->ip_version != 6)
    return fail(p, CP_POLICY_E_INVAL, "%s: ip_version %u is not 0, 4 or 6", what, r->ip_version);
  if ((rc = check_proto_icmp(p, r->icmp, what)) || (rc = check_proto_icmp(p, r->not_icmp, what)))
    return rc;
  if ((rc = check_nets(p, &r->src_net, r->ip_version, what)) ||
      (rc = check_nets(p, &r->not_src_net, r->ip_version, what)) ||
      (rc = check_nets(p, &r->dst_net, r->ip_version, what)) ||
      (rc = check_nets(p, &r->not_dst_net, r->ip_version, what)))
    return rc;
  if ((rc = check_ports(p, &r->src_ports, what)) || (rc = check_ports(p, &r->not_src_ports, what)) ||
      (rc = check_ports(p, &r->dst_ports, what)) || (rc = check_ports(p, &r->not_dst_ports, what)))
    return rc;
  if ((rc = check_sets(p, &r->src_ipsets, 0, what)) ||
      (rc = check_sets(p, &r->not_src_ipsets, 0, what)) ||
      (rc = check_sets(p, &r->dst_ipsets, 0, what)) ||
      (rc = check_sets(p, &r->not_dst_ipsets, 0, what)) ||
      (rc = check_sets(p, &r->src_named_port_ipsets, 1, what)) ||
      (rc = check_sets(p, &r->not_src_named_port_ipsets, 1, what)) ||
      (rc = check_sets(p, &r->dst_named_port_ipsets, 1, what)) ||
      (rc = check_sets(p, &r->not_dst_named_port_ipsets, 1, what)) ||
      (rc = check_sets(p, &r->dst_ip_port_ipsets, 1, what)))
    return rc;
  return 0;
}

static int check_member(cp_policy_t *p, uint8_t type, const cp_policy_member_t *m, uint32_t i)
{
  char what[64];
  snprintf(what, sizeof(what), "member %u", i);
  cp_policy_cidr_t c = {.addr = m->addr, .af = m->af, .len = m->len};
  int rc = check_cidr(p, &c, what);
  if (rc)
    return rc;
  uint32_t bits = m->af == 4 ? 32 : 128;
  if (type != CP_POLICY_IPSET_NET && m->len != bits)
    return fail(p, CP_POLICY_E_INVAL, "%s: an IP member must be a /%u", what, bits);
  if (type == CP_POLICY_IPSET_IP_AND_PORT) {
    if (m->proto != 6 && m->proto != 17 && m->proto != 132)
      return fail(p, CP_POLICY_E_INVAL, "%s: protocol %u is not tcp, udp or sctp", what,
                  m->proto);
  } else if (m->proto || m->port) {
    return fail(p, CP_POLICY_E_INVAL, "%s: protocol/port given for a non IP_AND_PORT set", what);
  }
  return 0;
}

static cp_mkey_t member_key(const cp_policy_member_t *m)
{
  cp_mkey_t k;
  memset(&k, 0, sizeof(k));
  k.addr = m->addr;
  k.af = m->af;
  k.len = m->len;
  k.proto = m->proto;
  k.port = m->port;
  return k;
}

/* ---- ipsets ------------------------------------------------------------------------- */

static int ipset_referenced(const cp_policy_t *p, uint32_t id)
{
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < p->n_pols[k]; i++)
      for (int d = 0; d < 2; d++)
        for (uint32_t r = 0; r < p->pols[k][i].rules[d].n; r++) {
          const cp_policy_rule_t *ru = &p->pols[k][i].rules[d].v[r];
          const cp_policy_id_list_t *ls[] = {
              &ru->src_ipsets, &ru->not_src_ipsets, &ru->dst_ipsets, &ru->not_dst_ipsets,
              &ru->src_named_port_ipsets, &ru->not_src_named_port_ipsets,
              &ru->dst_named_port_ipsets, &ru->not_dst_named_port_ipsets,
              &ru->dst_ip_port_ipsets};
          for (unsigned l = 0; l < sizeof(ls) / sizeof(ls[0]); l++)
            for (uint32_t j = 0; j < ls[l]->n; j++)
              if (ls[l]->ids[j] == id)
                return 1;
        }
  return 0;
}

int cp_policy_ipset_update(cp_policy_t *p, uint32_t id, uint8_t type,
                           const cp_policy_member_t *members, uint32_t n)
{
  if (type > CP_POLICY_IPSET_NET)
    return fail(p, CP_POLICY_E_INVAL, "ipset %u: bad type %u", id, type);
  if (id == UINT32_MAX)
    return fail(p, CP_POLICY_E_INVAL, "ipset id %u is reserved", id);
  if (n > p->max_members)
    return fail(p, CP_POLICY_E_TOOBIG, "ipset %u: %u members over the limit %u", id, n,
                p->max_members);
  if (n && !members)
    return fail(p, CP_POLICY_E_INVAL, "ipset %u: NULL member list", id);
  for (uint32_t i = 0; i < n; i++) {
    int rc = check_member(p, type, &members[i], i);
    if (rc)
      return rc;
  }
  uint32_t slot = cp_idmap_get(&p->ipset_ids, id);
  if (slot == UINT32_MAX && p->n_ipsets >= p->max_ipsets)
    return fail(p, CP_POLICY_E_TOOBIG, "ipset %u: %u ipsets is the limit", id, p->max_ipsets);
  if (slot != UINT32_MAX && p->ipsets[slot].type != type && ipset_referenced(p, id))
    return fail(p, CP_POLICY_E_BUSY, "ipset %u: type change while referenced", id);
  cp_mset_t ms;
  if (cp_mset_init(&ms, n) != 0)
    return fail(p, CP_POLICY_E_NOMEM, "ipset %u: out of memory", id);
  for (uint32_t i = 0; i < n; i++) {
    cp_mkey_t k = member_key(&members[i]);
    if (cp_mset_add(&ms, &k) < 0) {
      cp_mset_free(&ms);
      return fail(p, CP_POLICY_E_NOMEM, "ipset %u: out of memory", id);
    }
  }
  if (slot == UINT32_MAX) {
    if (grow((void **)&p->ipsets, &p->cap_ipsets, p->n_ipsets + 1, sizeof(*p->ipsets)) ||
        cp_idmap_put(&p->ipset_ids, id, p->n_ipsets)) {
      cp_mset_free(&ms);
      return fail(p, CP_POLICY_E_NOMEM, "ipset %u: out of memory", id);
    }
    slot = p->n_ipsets++;
    p->ipsets[slot].id = id;
  } else {
    cp_mset_free(&p->ipsets[slot].members);
  }
  p->ipsets[slot].type = type;
  p->ipsets[slot].members = ms;
  p->dirty = 1;
  return 0;
}

int cp_policy_ipset_delta(cp_policy_t *p, uint32_t id, const cp_policy_member_t *add,
                          uint32_t n_add, const cp_policy_member_t *del, uint32_t n_del)
{
  uint32_t slot = cp_idmap_get(&p->ipset_ids, id);
  if (slot == UINT32_MAX)
    return fail(p, CP_POLICY_E_NOENT, "ipset %u: unknown", id);
  cpp_ipset_t *s = &p->ipsets[slot];
  if ((n_add && !add) || (n_del && !del))
    return fail(p, CP_POLICY_E_INVAL, "ipset %u: NULL member list", id);
  for (uint32_t i = 0; i < n_add; i++) {
    int rc = check_member(p, s->type, &add[i], i);
    if (rc)
      return rc;
  }
  for (uint32_t i = 0; i < n_del; i++) {
    int rc = check_member(p, s->type, &del[i], i);
    if (rc)
      return rc;
  }
  if ((uint64_t)s->members.n + n_add > p->max_members)
    return fail(p, CP_POLICY_E_TOOBIG, "ipset %u: over %u members", id, p->max_members);
  /* work on a copy so that a failure leaves the set as it was */
  cp_mset_t ms;
  if (cp_mset_init(&ms, s->members.n + n_add) != 0)
    return fail(p, CP_POLICY_E_NOMEM, "ipset %u: out of memory", id);
  int oom = 0;
  for (uint32_t i = 0; i < s->members.cap && !oom; i++)
    if (s->members.slots[i].af)
      oom = cp_mset_add(&ms, &s->members.slots[i]) < 0;
  for (uint32_t i = 0; i < n_add && !oom; i++) {
    cp_mkey_t k = member_key(&add[i]);
    oom = cp_mset_add(&ms, &k) < 0;
  }
  if (oom) {
    cp_mset_free(&ms);
    return fail(p, CP_POLICY_E_NOMEM, "ipset %u: out of memory", id);
  }
  for (uint32_t i = 0; i < n_del; i++) {
    cp_mkey_t k = member_key(&del[i]);
    cp_mset_del(&ms, &k);
  }
  cp_mset_free(&s->members);
  s->members = ms;
  p->dirty = 1;
  return 0;
}

int cp_policy_ipset_remove(cp_policy_t *p, uint32_t id)
{
  uint32_t slot = cp_idmap_get(&p->ipset_ids, id);
  if (slot == UINT32_MAX)
    return fail(p, CP_POLICY_E_NOENT, "ipset %u: unknown", id);
  if (ipset_referenced(p, id))
    return fail(p, CP_POLICY_E_BUSY, "ipset %u: still referenced by a rule", id);
  cp_mset_free(&p->ipsets[slot].members);
  cp_idmap_del(&p->ipset_ids, id);
  uint32_t last = --p->n_ipsets;
  if (slot != last) {
    p->ipsets[slot] = p->ipsets[last];
    cp_idmap_put(&p->ipset_ids, p->ipsets[slot].id, slot); /* overwrite: no allocation */
  }
  memset(&p->ipsets[last], 0, sizeof(p->ipsets[last]));
  p->dirty = 1;
  return 0;
}

int64_t cp_policy_ipset_size(const cp_policy_t *p, uint32_t id)
{
  uint32_t slot = cp_idmap_get(&p->ipset_ids, id);
  if (slot == UINT32_MAX)
    return CP_POLICY_E_NOENT;
  return p->ipsets[slot].members.n;
}

/* ---- rules: deep copies (one blob per rule holding every list) ----------------------- */

#define LIST_BYTES(l, T) ((size_t)(l).n * sizeof(T))

static int copy_rule(const cp_policy_rule_t *src, cp_policy_rule_t *dst, void **blob_out)
{
  size_t sz = LIST_BYTES(src->src_net, cp_policy_cidr_t) +
              LIST_BYTES(src->not_src_net, cp_policy_cidr_t) +
              LIST_BYTES(src->dst_net, cp_policy_cidr_t) +
              LIST_BYTES(src->not_dst_net, cp_policy_cidr_t) +
              LIST_BYTES(src->src_ports, cp_policy_port_range_t) +
              LIST_BYTES(src->not_src_ports, cp_policy_port_range_t) +
              LIST_BYTES(src->dst_ports, cp_policy_port_range_t) +
              LIST_BYTES(src->not_dst_ports, cp_policy_port_range_t) +
              LIST_BYTES(src->src_ipsets, uint32_t) + LIST_BYTES(src->not_src_ipsets, uint32_t) +
              LIST_BYTES(src->dst_ipsets, uint32_t) + LIST_BYTES(src->not_dst_ipsets, uint32_t) +
              LIST_BYTES(src->src_named_port_ipsets, uint32_t) +
              LIST_BYTES(src->not_src_named_port_ipsets, uint32_t) +
              LIST_BYTES(src->dst_named_port_ipsets, uint32_t) +
              LIST_BYTES(src->not_dst_named_port_ipsets, uint32_t) +
              LIST_BYTES(src->dst_ip_port_ipsets, uint32_t);
  char *blob = malloc(sz ? sz : 1);
  if (!blob)
    return -1;
  *dst = *src;
  char *w = blob;
#define COPY(field, T)                                                                     \
  do {                                                                                     \
    size_t b = LIST_BYTES(src->field, T);                                                  \
    if (b)                                                                                 \
      memcpy(w, src->field.v, b);                                                          \
    dst->field.v = (const T *)(void *)w;                                                   \
    w += b;                                                                                \
  } while (0)
#define COPY_IDS(field)                                                                    \
  do {                                                                                     \
    size_t b = LIST_BYTES(src->field, uint32_t);                                           \
    if (b)                                                                                 \
      memcpy(w, src->field.ids, b);                                                        \
    dst->field.ids = (const uint32_t *)(void *)w;                                          \
    w += b;                                                                                \
  } while (0)
  /* cidrs first (largest alignment), then port ranges and ids */
  COPY(src_net, cp_policy_cidr_t);
  COPY(not_src_net, cp_policy_cidr_t);
  COPY(dst_net, cp_policy_cidr_t);
  COPY(not_dst_net, cp_policy_cidr_t);
  COPY_IDS(src_ipsets);
  COPY_IDS(not_src_ipsets);
  COPY_IDS(dst_ipsets);
  COPY_IDS(not_dst_ipsets);
  COPY_IDS(src_named_port_ipsets);
  COPY_IDS(not_src_named_port_ipsets);
  COPY_IDS(dst_named_port_ipsets);
  COPY_IDS(not_dst_named_port_ipsets);
  COPY_IDS(dst_ip_port_ipsets);
  COPY(src_ports, cp_policy_port_range_t);
  COPY(not_src_ports, cp_policy_port_range_t);
  COPY(dst_ports, cp_policy_port_range_t);
  COPY(not_dst_ports, cp_policy_port_range_t);
#undef COPY
#undef COPY_IDS
  *blob_out = blob;
  return 0;
}

static int copy_rules(const cp_policy_rule_t *v, uint32_t n, cpp_rules_t *out)
{
  memset(out, 0, sizeof(*out));
  out->v = calloc(n ? n : 1, sizeof(*out->v));
  out->blob = calloc(n ? n : 1, sizeof(*out->blob));
  out->base = calloc(n ? n : 1, sizeof(*out->base));
  if (!out->v || !out->blob || !out->base) {
    rules_free(out);
    return -1;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (copy_rule(&v[i], &out->v[i], &out->blob[i]) != 0) {
      out->n = i;
      rules_free(out);
      return -1;
    }
  }
  out->n = n;
  return 0;
}

static int pol_update(cp_policy_t *p, int kind, uint32_t id, const cp_policy_rule_t *in,
                      uint32_t n_in, const cp_policy_rule_t *out, uint32_t n_out)
{
  const char *what = kind == CP_POLICY_OWNER_POLICY ? "policy" : "profile";
  if (id == UINT32_MAX)
    return fail(p, CP_POLICY_E_INVAL, "%s id %u is reserved", what, id);
  if (n_in > p->max_rules || n_out > p->max_rules)
    return fail(p, CP_POLICY_E_TOOBIG, "%s %u: over %u rules", what, id, p->max_rules);
  if ((n_in && !in) || (n_out && !out))
    return fail(p, CP_POLICY_E_INVAL, "%s %u: NULL rule list", what, id);
  for (uint32_t i = 0; i < n_in; i++) {
    int rc = check_rule(p, &in[i], i);
    if (rc) {
      char tmp[161];
      memcpy(tmp, p->err, sizeof(tmp) - 1);
      tmp[160] = 0;
      snprintf(p->err, sizeof(p->err), "%s %u inbound %s", what, id, tmp);
      return rc;
    }
  }
  for (uint32_t i = 0; i < n_out; i++) {
    int rc = check_rule(p, &out[i], i);
    if (rc) {
      char tmp[161];
      memcpy(tmp, p->err, sizeof(tmp) - 1);
      tmp[160] = 0;
      snprintf(p->err, sizeof(p->err), "%s %u outbound %s", what, id, tmp);
      return rc;
    }
  }
  cpp_rules_t r[2];
  if (copy_rules(in, n_in, &r[0]) != 0)
    return fail(p, CP_POLICY_E_NOMEM, "%s %u: out of memory", what, id);
  if (copy_rules(out, n_out, &r[1]) != 0) {
    rules_free(&r[0]);
    return fail(p, CP_POLICY_E_NOMEM, "%s %u: out of memory", what, id);
  }
  uint32_t slot = cp_idmap_get(&p->pol_ids[kind], id);
  if (slot == UINT32_MAX) {
    if (grow((void **)&p->pols[kind], &p->cap_pols[kind], p->n_pols[kind] + 1,
             sizeof(cpp_pol_t)) ||
        cp_idmap_put(&p->pol_ids[kind], id, p->n_pols[kind])) {
      rules_free(&r[0]);
      rules_free(&r[1]);
      return fail(p, CP_POLICY_E_NOMEM, "%s %u: out of memory", what, id);
    }
    slot = p->n_pols[kind]++;
    p->pols[kind][slot].id = id;
  } else {
    rules_free(&p->pols[kind][slot].rules[0]);
    rules_free(&p->pols[kind][slot].rules[1]);
  }
  cpp_pol_t *po = &p->pols[kind][slot];
  po->rules[0] = r[0];
  po->rules[1] = r[1];
  po->version = ++p->version_seq;
  p->dirty = 1;
  return 0;
}

int cp_policy_policy_update(cp_policy_t *p, uint32_t id, const cp_policy_rule_t *inbound,
                            uint32_t n_inbound, const cp_policy_rule_t *outbound,
                            uint32_t n_outbound)
{
  return pol_update(p, CP_POLICY_OWNER_POLICY, id, inbound, n_inbound, outbound, n_outbound);
}

int cp_policy_profile_update(cp_policy_t *p, uint32_t id, const cp_policy_rule_t *inbound,
                             uint32_t n_inbound, const cp_policy_rule_t *outbound,
                             uint32_t n_outbound)
{
  return pol_update(p, CP_POLICY_OWNER_PROFILE, id, inbound, n_inbound, outbound, n_outbound);
}

static int tiers_name(const cp_policy_tier_list_t *tl, uint32_t id)
{
  for (uint32_t t = 0; t < tl->n; t++) {
    const cp_policy_tier_t *ti = &tl->v[t];
    for (uint32_t i = 0; i < ti->ingress_policies.n; i++)
      if (ti->ingress_policies.ids[i] == id)
        return 1;
    for (uint32_t i = 0; i < ti->egress_policies.n; i++)
      if (ti->egress_policies.ids[i] == id)
        return 1;
  }
  return 0;
}

static int pol_remove(cp_policy_t *p, int kind, uint32_t id)
{
  const char *what = kind == CP_POLICY_OWNER_POLICY ? "policy" : "profile";
  uint32_t slot = cp_idmap_get(&p->pol_ids[kind], id);
  if (slot == UINT32_MAX)
    return fail(p, CP_POLICY_E_NOENT, "%s %u: unknown", what, id);
  for (uint32_t e = 0; e < p->n_eps; e++) {
    const cp_policy_endpoint_t *ep = &p->eps[e].ep;
    int used = 0;
    if (kind == CP_POLICY_OWNER_POLICY) {
      used = tiers_name(&ep->tiers, id) || tiers_name(&ep->forward_tiers, id) ||
             tiers_name(&ep->pre_dnat_tiers, id) || tiers_name(&ep->untracked_tiers, id);
    } else {
      for (uint32_t i = 0; i < ep->profiles.n; i++)
        used |= ep->profiles.ids[i] == id;
    }
    if (used)
      return fail(p, CP_POLICY_E_BUSY, "%s %u: still referenced by endpoint %u", what, id,
                  p->eps[e].id);
  }
  rules_free(&p->pols[kind][slot].rules[0]);
  rules_free(&p->pols[kind][slot].rules[1]);
  cp_idmap_del(&p->pol_ids[kind], id);
  uint32_t last = --p->n_pols[kind];
  if (slot != last) {
    p->pols[kind][slot] = p->pols[kind][last];
    cp_idmap_put(&p->pol_ids[kind], p->pols[kind][slot].id, slot);
  }
  memset(&p->pols[kind][last], 0, sizeof(cpp_pol_t));
  p->dirty = 1;
  return 0;
}

int cp_policy_policy_remove(cp_policy_t *p, uint32_t id)
{
  return pol_remove(p, CP_POLICY_OWNER_POLICY, id);
}

int cp_policy_profile_remove(cp_policy_t *p, uint32_t id)
{
  return pol_remove(p, CP_POLICY_OWNER_PROFILE, id);
}

/* ---- endpoints ---------------------------------------------------------------------- */

static int check_ids(cp_policy_t *p, const cp_policy_id_list_t *l, int kind, const char *what)
{
  if (l->n > p->max_list)
    return fail(p, CP_POLICY_E_TOOBIG, "%s: %u entries over the limit", what, l->n);
  if (l->n && !l->ids)
    return fail(p, CP_POLICY_E_INVAL, "%s: NULL list", what);
  for (uint32_t i = 0; i < l->n; i++) {
    if (cp_idmap_get(&p->pol_ids[kind], l->ids[i]) == UINT32_MAX)
      return fail(p, CP_POLICY_E_NOENT, "%s: unknown %s %u", what,
                  kind == CP_POLICY_OWNER_POLICY ? "policy" : "profile", l->ids[i]);
    for (uint32_t j = 0; j < i; j++)
      if (l->ids[j] == l->ids[i])
        return fail(p, CP_POLICY_E_EXIST, "%s: %u listed twice", what, l->ids[i]);
  }
  return 0;
}

static int check_tiers(cp_policy_t *p, const cp_policy_tier_list_t *tl, const char *what)
{
  char w[96];
  if (tl->n > p->max_list)
    return fail(p, CP_POLICY_E_TOOBIG, "%s: %u tiers over the limit", what, tl->n);
  if (tl->n && !tl->v)
    return fail(p, CP_POLICY_E_INVAL, "%s: NULL list", what);
  for (uint32_t t = 0; t < tl->n; t++) {
    const cp_policy_tier_t *ti = &tl->v[t];
    if (ti->default_action != CP_POLICY_ACTION_DENY && ti->default_action != CP_POLICY_ACTION_PASS)
      return fail(p, CP_POLICY_E_INVAL, "%s tier %u: default action must be deny or pass", what, t);
    int rc;
    snprintf(w, sizeof(w), "%s tier %u ingress", what, t);
    if ((rc = check_ids(p, &ti->ingress_policies, CP_POLICY_OWNER_POLICY, w)))
      return rc;
    snprintf(w, sizeof(w), "%s tier %u egress", what, t);
    if ((rc = check_ids(p, &ti->egress_policies, CP_POLICY_OWNER_POLICY, w)))
      return rc;
  }
  return 0;
}

static size_t tiers_bytes(const cp_policy_tier_list_t *tl)
{
  size_t b = (size_t)tl->n * sizeof(cp_policy_tier_t);
  for (uint32_t t = 0; t < tl->n; t++)
    b += ((size_t)tl->v[t].ingress_policies.n + tl->v[t].egress_policies.n) * sizeof(uint32_t);
  return b;
}

/* tier structs first (pointer alignment), then id arrays */
static void copy_tiers(const cp_policy_tier_list_t *src, cp_policy_tier_list_t *dst, char **tw,
                       char **iw)
{
  cp_policy_tier_t *tv = (cp_policy_tier_t *)(void *)*tw;
  *tw += (size_t)src->n * sizeof(cp_policy_tier_t);
  for (uint32_t t = 0; t < src->n; t++) {
    tv[t] = src->v[t];
    size_t bi = (size_t)src->v[t].ingress_policies.n * sizeof(uint32_t);
    if (bi)
      memcpy(*iw, src->v[t].ingress_policies.ids, bi);
    tv[t].ingress_policies.ids = (const uint32_t *)(void *)*iw;
    *iw += bi;
    size_t be = (size_t)src->v[t].egress_policies.n * sizeof(uint32_t);
    if (be)
      memcpy(*iw, src->v[t].egress_policies.ids, be);
    tv[t].egress_policies.ids = (const uint32_t *)(void *)*iw;
    *iw += be;
  }
  dst->v = tv;
  dst->n = src->n;
}

int cp_policy_endpoint_update(cp_policy_t *p, uint32_t id, const cp_policy_endpoint_t *ep)
{
  int rc;
  if (!ep)
    return fail(p, CP_POLICY_E_INVAL, "endpoint %u: NULL", id);
  if (id == UINT32_MAX)
    return fail(p, CP_POLICY_E_INVAL, "endpoint id %u is reserved", id);
  if (ep->kind != CP_POLICY_EP_WORKLOAD && ep->kind != CP_POLICY_EP_HOST)
    return fail(p, CP_POLICY_E_INVAL, "endpoint %u: bad kind %u", id, ep->kind);
  if (ep->kind == CP_POLICY_EP_WORKLOAD &&
      (ep->forward_tiers.n || ep->pre_dnat_tiers.n || ep->untracked_tiers.n))
    return fail(p, CP_POLICY_E_INVAL,
                "endpoint %u: forward/pre-DNAT/untracked tiers are for host endpoints", id);
  char w[48];
  snprintf(w, sizeof(w), "endpoint %u", id);
  if ((rc = check_tiers(p, &ep->tiers, w)) || (rc = check_tiers(p, &ep->forward_tiers, w)) ||
      (rc = check_tiers(p, &ep->pre_dnat_tiers, w)) ||
      (rc = check_tiers(p, &ep->untracked_tiers, w)) ||
      (rc = check_ids(p, &ep->profiles, CP_POLICY_OWNER_PROFILE, w)))
    return rc;
  const cp_policy_tier_list_t *lists[4] = {&ep->tiers, &ep->forward_tiers, &ep->pre_dnat_tiers,
                                           &ep->untracked_tiers};
  size_t tb = 0, ib = (size_t)ep->profiles.n * sizeof(uint32_t);
  for (int k = 0; k < 4; k++) {
    tb += (size_t)lists[k]->n * sizeof(cp_policy_tier_t);
    ib += tiers_bytes(lists[k]) - (size_t)lists[k]->n * sizeof(cp_policy_tier_t);
  }
  char *blob = malloc(tb + ib + 1);
  if (!blob)
    return fail(p, CP_POLICY_E_NOMEM, "endpoint %u: out of memory", id);
  uint32_t slot = cp_idmap_get(&p->ep_ids, id);
  if (slot == UINT32_MAX) {
    if (grow((void **)&p->eps, &p->cap_eps, p->n_eps + 1, sizeof(*p->eps)) ||
        cp_idmap_put(&p->ep_ids, id, p->n_eps)) {
      free(blob);
      return fail(p, CP_POLICY_E_NOMEM, "endpoint %u: out of memory", id);
    }
    slot = p->n_eps++;
    memset(&p->eps[slot], 0, sizeof(p->eps[slot]));
    p->eps[slot].id = id;
  } else {
    free(p->eps[slot].blob);
  }
  cpp_ep_t *e = &p->eps[slot];
  char *tw = blob, *iw = blob + tb;
  e->ep.kind = ep->kind;
  copy_tiers(&ep->tiers, &e->ep.tiers, &tw, &iw);
  copy_tiers(&ep->forward_tiers, &e->ep.forward_tiers, &tw, &iw);
  copy_tiers(&ep->pre_dnat_tiers, &e->ep.pre_dnat_tiers, &tw, &iw);
  copy_tiers(&ep->untracked_tiers, &e->ep.untracked_tiers, &tw, &iw);
  if (ep->profiles.n)
    memcpy(iw, ep->profiles.ids, (size_t)ep->profiles.n * sizeof(uint32_t));
  e->ep.profiles.ids = (const uint32_t *)(void *)iw;
  e->ep.profiles.n = ep->profiles.n;
  e->blob = blob;
  p->dirty = 1;
  return 0;
}

int cp_policy_endpoint_remove(cp_policy_t *p, uint32_t id)
{
  uint32_t slot = cp_idmap_get(&p->ep_ids, id);
  if (slot == UINT32_MAX)
    return fail(p, CP_POLICY_E_NOENT, "endpoint %u: unknown", id);
  ep_free(&p->eps[slot]);
  cp_idmap_del(&p->ep_ids, id);
  uint32_t last = --p->n_eps;
  if (slot != last) {
    p->eps[slot] = p->eps[last];
    cp_idmap_put(&p->ep_ids, p->eps[slot].id, slot);
  }
  memset(&p->eps[last], 0, sizeof(p->eps[last]));
  p->dirty = 1;
  return 0;
}

int cpp_fail(cp_policy_t *p, int err, const char *msg)
{
  return fail(p, err, "%s", msg);
}
