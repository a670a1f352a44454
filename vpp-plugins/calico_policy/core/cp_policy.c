/* calico_policy core: compile the configuration into published tables; classify. */
#include <stdlib.h>
#include <string.h>

#include "cp_policy_int.h"

#define MAX_BOXES 64 /* cross product of a rule's alternatives before lists are widened */

/* ---- table memory ------------------------------------------------------------------- */

static void *tab_alloc(cpp_tab_t *t, size_t sz)
{
  if (t->n_allocs == t->cap_allocs) {
    uint32_t cap = t->cap_allocs ? t->cap_allocs * 2 : 64;
    void **n = realloc(t->allocs, cap * sizeof(*n));
    if (!n)
      return NULL;
    t->allocs = n;
    t->cap_allocs = cap;
  }
  void *m = calloc(1, sz ? sz : 1);
  if (m) {
    t->allocs[t->n_allocs++] = m;
    t->memory_bytes += sz;
  }
  return m;
}

void cpp_tab_free(cpp_tab_t *t)
{
  if (!t)
    return;
  for (uint32_t i = 0; i < t->n_progs; i++)
    for (int f = 0; f < 2; f++)
      cp_mfc_free(t->progs[i].cls[f]);
  for (uint32_t i = 0; i < t->n_allocs; i++)
    free(t->allocs[i]);
  free(t->allocs);
  if (t->counters)
    for (uint32_t w = 0; w < t->n_workers; w++)
      free(t->counters[w]);
  free(t->counters);
  cp_idmap_free(&t->ep_ids);
  cp_mset_free(&t->members);
  free(t);
}

/* ---- rule compilation ---------------------------------------------------------------- */

static uint32_t addr_word(const cp_addr_t *a, uint32_t i)
{
  const uint8_t *b = a->b + 4 * i;
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The ranges of a prefix over W words starting at dimension d0. */
static void prefix_box(const cp_policy_cidr_t *c, uint32_t W, cp_mfc_range_t *box, uint32_t d0)
{
  for (uint32_t i = 0; i < W; i++) {
    int bits = (int)c->len - 32 * (int)i;
    uint32_t w = addr_word(&c->addr, i);
    if (bits >= 32) {
      box[d0 + i].lo = box[d0 + i].hi = w;
    } else if (bits <= 0) {
      box[d0 + i].lo = 0;
      box[d0 + i].hi = UINT32_MAX;
    } else {
      uint32_t m = UINT32_MAX << (32 - bits);
      box[d0 + i].lo = w & m;
      box[d0 + i].hi = (w & m) | ~m;
    }
  }
}

static int cidr_has(const cp_policy_cidr_t *c, const cp_addr_t *a)
{
  uint32_t len = c->len;
  uint32_t full = len / 8, rem = len % 8;
  if (memcmp(c->addr.b, a->b, full) != 0)
    return 0;
  if (rem) {
    uint8_t m = (uint8_t)(0xff << (8 - rem));
    if ((c->addr.b[full] & m) != (a->b[full] & m))
      return 0;
  }
  return 1;
}

static const cp_policy_cidr_t *filter_af(cpp_tab_t *t, const cp_policy_cidr_list_t *l,
                                         uint8_t af, uint32_t *n_out)
{
  uint32_t n = 0;
  for (uint32_t i = 0; i < l->n; i++)
    n += l->v[i].af == af;
  *n_out = n;
  if (!n)
    return NULL;
  cp_policy_cidr_t *v = tab_alloc(t, n * sizeof(*v));
  if (!v)
    return NULL;
  n = 0;
  for (uint32_t i = 0; i < l->n; i++)
    if (l->v[i].af == af)
      v[n++] = l->v[i];
  return v;
}

/* ipset ids -> set slots of this table (validated at update time: every id exists) */
static const uint32_t *set_slots(cp_policy_t *p, cpp_tab_t *t, const cp_policy_id_list_t *l)
{
  if (!l->n)
    return NULL;
  uint32_t *v = tab_alloc(t, l->n * sizeof(*v));
  if (!v)
    return NULL;
  for (uint32_t i = 0; i < l->n; i++)
    v[i] = cp_idmap_get(&p->ipset_ids, l->ids[i]);
  return v;
}

enum { COMPILE_OK = 0, COMPILE_SKIP = 1, COMPILE_NOMEM = -1 };

/* Compile rule r for family af (4/6) at priority prio: boxes into b, extras into *xo. */
static int compile_rule(cp_policy_t *p, cpp_tab_t *t, const cp_policy_rule_t *r, uint8_t af,
                        uint32_t prio, cp_mfc_builder_t *b, const cpp_xrule_t **xo)
{
  *xo = NULL;
  if (r->ip_version && r->ip_version != af)
    return COMPILE_SKIP;
  uint32_t W = af == 4 ? 1 : 4, D = 2 * W + 3;
  uint32_t dS = 2 * W, dD = 2 * W + 1, dP = 2 * W + 2;
  uint32_t n_sn, n_dn;
  const cp_policy_cidr_t *sn = filter_af(t, &r->src_net, af, &n_sn);
  const cp_policy_cidr_t *dn = filter_af(t, &r->dst_net, af, &n_dn);
  if ((r->src_net.n && !n_sn) || (r->dst_net.n && !n_dn))
    return COMPILE_SKIP; /* every listed net is of the other family */
  if ((n_sn && !sn) || (n_dn && !dn))
    return COMPILE_NOMEM;
  int src_needs_ports = r->src_ports.n || r->src_named_port_ipsets.n || r->not_src_ports.n ||
                        r->not_src_named_port_ipsets.n;
  int dst_needs_ports = r->dst_ports.n || r->dst_named_port_ipsets.n || r->not_dst_ports.n ||
                        r->not_dst_named_port_ipsets.n || r->dst_ip_port_ipsets.n;
  int icmp_needed = r->icmp || r->not_icmp;
  if (icmp_needed && (src_needs_ports || dst_needs_ports))
    return COMPILE_SKIP; /* ICMP has no ports: never matches */

  cpp_xrule_t x;
  memset(&x, 0, sizeof(x));
  int need_x = 0;
  /* alternatives per dimension group: src nets, dst nets, src ports, dst ports */
  uint32_t alt[4] = {n_sn, n_dn, 0, 0};
  int sport_in_box = r->src_ports.n && !r->src_named_port_ipsets.n;
  int dport_in_box = r->dst_ports.n && !r->dst_named_port_ipsets.n;
  if (sport_in_box)
    alt[2] = r->src_ports.n;
  if (dport_in_box)
    alt[3] = r->dst_ports.n;
  int widened[4] = {0, 0, 0, 0};
  for (;;) {
    uint64_t prod = 1;
    for (int k = 0; k < 4; k++)
      prod *= alt[k] && !widened[k] ? alt[k] : 1;
    if (prod <= MAX_BOXES)
      break;
    int w = -1;
    for (int k = 0; k < 4; k++)
      if (!widened[k] && alt[k] > 1 && (w < 0 || alt[k] > alt[w]))
        w = k;
    widened[w] = 1;
  }
  if (widened[0]) {
    x.src_net_widened = 1;
    x.src_net = sn;
    x.n_src_net = n_sn;
    need_x = 1;
  }
  if (widened[1]) {
    x.dst_net_widened = 1;
    x.dst_net = dn;
    x.n_dst_net = n_dn;
    need_x = 1;
  }
  if (r->src_named_port_ipsets.n || (sport_in_box && widened[2])) {
    x.src_port_or_named = 1;
    x.src_ports = r->src_ports.v;
    x.n_src_ports = r->src_ports.n;
    need_x = 1;
  }
  if (r->dst_named_port_ipsets.n || (dport_in_box && widened[3])) {
    x.dst_port_or_named = 1;
    x.dst_ports = r->dst_ports.v;
    x.n_dst_ports = r->dst_ports.n;
    need_x = 1;
  }
  if (r->has_not_protocol) {
    x.has_not_protocol = 1;
    x.not_protocol = r->not_protocol;
    need_x = 1;
  }
  if (r->not_icmp) {
    x.not_icmp = r->not_icmp;
    x.not_icmp_type = r->not_icmp_type;
    x.not_icmp_code = r->not_icmp_code;
    need_x = 1;
  }
  x.not_src_net = filter_af(t, &r->not_src_net, af, &x.n_not_src_net);
  x.not_dst_net = filter_af(t, &r->not_dst_net, af, &x.n_not_dst_net);
  if ((x.n_not_src_net && !x.not_src_net) || (x.n_not_dst_net && !x.not_dst_net))
    return COMPILE_NOMEM;
  need_x |= x.n_not_src_net || x.n_not_dst_net;
  x.not_src_ports = r->not_src_ports.v;
  x.n_not_src_ports = r->not_src_ports.n;
  x.not_dst_ports = r->not_dst_ports.v;
  x.n_not_dst_ports = r->not_dst_ports.n;
  need_x |= x.n_not_src_ports || x.n_not_dst_ports;
  const cp_policy_id_list_t *sl[9] = {
      &r->src_ipsets, &r->not_src_ipsets, &r->dst_ipsets, &r->not_dst_ipsets,
      &r->src_named_port_ipsets, &r->not_src_named_port_ipsets, &r->dst_named_port_ipsets,
      &r->not_dst_named_port_ipsets, &r->dst_ip_port_ipsets};
  for (int k = 0; k < 9; k++) {
    x.n_sets[k] = sl[k]->n;
    x.sets[k] = set_slots(p, t, sl[k]);
    if (sl[k]->n && !x.sets[k])
      return COMPILE_NOMEM;
    need_x |= sl[k]->n != 0;
  }
  if (need_x) {
    cpp_xrule_t *xp = tab_alloc(t, sizeof(*xp));
    if (!xp)
      return COMPILE_NOMEM;
    *xp = x;
    *xo = xp;
  }

  /* the box template */
  cp_mfc_range_t box[CP_MFC_MAX_DIMS];
  for (uint32_t d = 0; d < D; d++) {
    box[d].lo = 0;
    box[d].hi = UINT32_MAX;
  }
  if (r->has_protocol)
    box[dP].lo = box[dP].hi = r->protocol;
  else
    box[dP].hi = 255;
  if (r->icmp == CP_POLICY_ICMP_TYPE) {
    box[dS].lo = 0x10000u | (uint32_t)r->icmp_type << 8;
    box[dS].hi = box[dS].lo | 0xff;
  } else if (r->icmp == CP_POLICY_ICMP_TYPE_CODE) {
    box[dS].lo = box[dS].hi = 0x10000u | (uint32_t)r->icmp_type << 8 | r->icmp_code;
  } else if (r->not_icmp) {
    box[dS].lo = 0x10000;
    box[dS].hi = 0x1ffff;
  }
  if (src_needs_ports) {
    box[dS].lo = 0;
    box[dS].hi = 0xffff;
  }
  if (dst_needs_ports) {
    box[dD].lo = 0;
    box[dD].hi = 0xffff;
  }
  /* cross product of the alternatives that stay in the box */
  uint32_t n0 = alt[0] && !widened[0] ? alt[0] : 1, n1 = alt[1] && !widened[1] ? alt[1] : 1;
  uint32_t n2 = alt[2] && !widened[2] ? alt[2] : 1, n3 = alt[3] && !widened[3] ? alt[3] : 1;
  for (uint32_t i0 = 0; i0 < n0; i0++)
    for (uint32_t i1 = 0; i1 < n1; i1++)
      for (uint32_t i2 = 0; i2 < n2; i2++)
        for (uint32_t i3 = 0; i3 < n3; i3++) {
          cp_mfc_range_t bx[CP_MFC_MAX_DIMS];
          memcpy(bx, box, sizeof(bx));
          if (alt[0] && !widened[0])
            prefix_box(&sn[i0], W, bx, 0);
          if (alt[1] && !widened[1])
            prefix_box(&dn[i1], W, bx, W);
          if (alt[2] && !widened[2]) {
            bx[dS].lo = r->src_ports.v[i2].first;
            bx[dS].hi = r->src_ports.v[i2].last;
          }
          if (alt[3] && !widened[3]) {
            bx[dD].lo = r->dst_ports.v[i3].first;
            bx[dD].hi = r->dst_ports.v[i3].last;
          }
          if (cp_mfc_builder_add(b, prio, bx) != 0)
            return COMPILE_NOMEM;
        }
  return COMPILE_OK;
}

/* ---- programs -------------------------------------------------------------------------- */

typedef struct {
  uint32_t *w;
  uint32_t n, cap;
} u32vec_t;

static int vpush(u32vec_t *v, uint32_t x)
{
  if (v->n == v->cap) {
    uint32_t cap = v->cap ? v->cap * 2 : 64;
    uint32_t *n = realloc(v->w, cap * sizeof(*n));
    if (!n)
      return -1;
    v->w = n;
    v->cap = cap;
  }
  v->w[v->n++] = x;
  return 0;
}

/* Program spec: end_deny, n_segs, then per segment: kind, default, tier, dir, n_owners,
 * owner ids (policies for tiers, one profile for a profile segment). */
static int spec_for(const cp_policy_t *p, const cpp_ep_t *e, uint32_t point, u32vec_t *s)
{
  uint32_t stage = point >> 1, dir = point & 1;
  const cp_policy_endpoint_t *ep = &e->ep;
  s->n = 0;
  if (ep->kind == CP_POLICY_EP_WORKLOAD && stage != CP_POLICY_STAGE_NORMAL)
    return 1; /* no program */
  if (stage == CP_POLICY_STAGE_PRE_DNAT && dir == CP_DIR_EGRESS)
    return 1;
  const cp_policy_tier_list_t *tl = stage == CP_POLICY_STAGE_NORMAL    ? &ep->tiers
                                    : stage == CP_POLICY_STAGE_FORWARD ? &ep->forward_tiers
                                    : stage == CP_POLICY_STAGE_PRE_DNAT
                                        ? &ep->pre_dnat_tiers
                                        : &ep->untracked_tiers;
  int rc = 0;
  rc |= vpush(s, stage == CP_POLICY_STAGE_NORMAL);
  rc |= vpush(s, 0); /* n_segs, patched below */
  uint32_t nseg = 0;
  for (uint32_t ti = 0; ti < tl->n; ti++) {
    const cp_policy_id_list_t *pl = dir == CP_DIR_INGRESS ? &tl->v[ti].ingress_policies
                                                          : &tl->v[ti].egress_policies;
    if (!pl->n)
      continue; /* a tier with no policy for this direction does not apply */
    uint32_t kind = stage == CP_POLICY_STAGE_NORMAL || stage == CP_POLICY_STAGE_FORWARD
                        ? SEG_TIER
                        : SEG_TIER_NODROP;
    rc |= vpush(s, kind);
    rc |= vpush(s, tl->v[ti].default_action);
    rc |= vpush(s, ti);
    rc |= vpush(s, dir);
    rc |= vpush(s, pl->n);
    for (uint32_t i = 0; i < pl->n; i++)
      rc |= vpush(s, pl->ids[i]);
    nseg++;
  }
  if (stage == CP_POLICY_STAGE_NORMAL)
    for (uint32_t i = 0; i < ep->profiles.n; i++) {
      rc |= vpush(s, SEG_PROFILE);
      rc |= vpush(s, 0);
      rc |= vpush(s, 0);
      rc |= vpush(s, dir);
      rc |= vpush(s, 1);
      rc |= vpush(s, ep->profiles.ids[i]);
      nseg++;
    }
  if (rc)
    return -1;
  s->w[1] = nseg;
  (void)p;
  return 0;
}

static int build_prog(cp_policy_t *p, cpp_tab_t *t, const uint32_t *spec, cpp_prog_t *pr)
{
  memset(pr, 0, sizeof(*pr));
  pr->end_deny = (uint8_t)spec[0];
  pr->n_segs = spec[1];
  pr->segs = tab_alloc(t, (size_t)(pr->n_segs ? pr->n_segs : 1) * sizeof(cpp_seg_t));
  if (!pr->segs)
    return -1;
  /* count rules */
  uint32_t n_rules = 0;
  const uint32_t *w = spec + 2;
  for (uint32_t s = 0; s < pr->n_segs; s++) {
    uint32_t kind = w[0], dir = w[3], n_own = w[4];
    int ok = kind == SEG_PROFILE ? CP_POLICY_OWNER_PROFILE : CP_POLICY_OWNER_POLICY;
    for (uint32_t i = 0; i < n_own; i++) {
      uint32_t slot = cp_idmap_get(&p->pol_ids[ok], w[5 + i]);
      n_rules += p->pols[ok][slot].rules[dir].n;
    }
    w += 5 + n_own;
  }
  pr->n_rules = n_rules;
  pr->rules = tab_alloc(t, (size_t)(n_rules ? n_rules : 1) * sizeof(cpp_crule_t));
  cp_mfc_builder_t *b4 = cp_mfc_builder_create(5), *b6 = cp_mfc_builder_create(11);
  if (!pr->rules || !b4 || !b6)
    goto nomem;
  uint32_t k = 0;
  w = spec + 2;
  for (uint32_t s = 0; s < pr->n_segs; s++) {
    uint32_t kind = w[0], dflt = w[1], tier = w[2], dir = w[3], n_own = w[4];
    int ok = kind == SEG_PROFILE ? CP_POLICY_OWNER_PROFILE : CP_POLICY_OWNER_POLICY;
    pr->segs[s].begin = k;
    pr->segs[s].kind = (uint8_t)kind;
    pr->segs[s].default_action = (uint8_t)dflt;
    pr->segs[s].tier = (uint16_t)tier;
    for (uint32_t i = 0; i < n_own; i++) {
      uint32_t slot = cp_idmap_get(&p->pol_ids[ok], w[5 + i]);
      const cpp_pol_t *po = &p->pols[ok][slot];
      const cpp_rules_t *rs = &po->rules[dir];
      uint32_t ctr0 = po->tab_slot + (dir ? po->rules[0].n : 0);
      for (uint32_t r = 0; r < rs->n; r++, k++) {
        cpp_crule_t *cr = &pr->rules[k];
        cr->action = rs->v[r].action;
        cr->owner_kind = (uint8_t)ok;
        cr->dir = (uint8_t)dir;
        cr->tier = (uint16_t)tier;
        cr->seg = (uint16_t)s;
        cr->owner_id = po->id;
        cr->rule = r;
        cr->ctr = ctr0 + r;
        for (int f = 0; f < 2; f++) {
          int rc = compile_rule(p, t, &rs->v[r], f ? 6 : 4, k, f ? b6 : b4, &cr->x[f]);
          if (rc == COMPILE_NOMEM)
            goto nomem;
        }
      }
    }
    pr->segs[s].end = k;
    w += 5 + n_own;
  }
  pr->cls[0] = cp_mfc_build(b4, 0);
  pr->cls[1] = cp_mfc_build(b6, 0);
  cp_mfc_builder_destroy(b4);
  cp_mfc_builder_destroy(b6);
  if (!pr->cls[0] || !pr->cls[1])
    return -1;
  t->memory_bytes += pr->cls[0]->memory_bytes + pr->cls[1]->memory_bytes;
  return 0;
nomem:
  cp_mfc_builder_destroy(b4);
  cp_mfc_builder_destroy(b6);
  return -1;
}

/* ---- build / publish ---------------------------------------------------------------- */

static void fold_counters(cp_policy_t *p, cpp_tab_t *old)
{
  for (uint32_t s = 0; s < old->n_rule_slots; s++) {
    const cpp_slotinfo_t *si = &old->slotinfo[s];
    uint32_t slot = cp_idmap_get(&p->pol_ids[si->owner_kind], si->owner_id);
    if (slot == UINT32_MAX)
      continue;
    cpp_pol_t *po = &p->pols[si->owner_kind][slot];
    if (po->version != si->version)
      continue; /* replaced since: its counters started again */
    for (uint32_t w = 0; w < old->n_workers; w++) {
      po->rules[si->dir].base[si->rule].packets += old->counters[w][s].packets;
      po->rules[si->dir].base[si->rule].bytes += old->counters[w][s].bytes;
    }
  }
  for (uint32_t e = 0; e < old->n_eps; e++) {
    uint32_t slot = cp_idmap_get(&p->ep_ids, old->eps[e].id);
    if (slot == UINT32_MAX)
      continue;
    for (uint32_t k = 0; k < CPP_N_POINTS * 3; k++)
      for (uint32_t w = 0; w < old->n_workers; w++) {
        p->eps[slot].base[k / 3][k % 3].packets += old->counters[w][old->eps[e].ctr + k].packets;
        p->eps[slot].base[k / 3][k % 3].bytes += old->counters[w][old->eps[e].ctr + k].bytes;
      }
  }
}

int cp_policy_build(cp_policy_t *p)
{
  cpp_tab_t *t = calloc(1, sizeof(*t));
  u32vec_t spec = {0}, specs = {0}; /* specs: concatenated (offset, length) records */
  u32vec_t offs = {0};
  uint32_t *saved_slot[2] = {NULL, NULL};
  if (!t)
    return cpp_fail(p, CP_POLICY_E_NOMEM, "build: out of memory");
  t->n_workers = p->n_workers;
  t->generation = atomic_load(&p->generation) + 1;
  t->memory_bytes = sizeof(*t);

  /* ipsets: one member table for all */
  uint64_t total = 0;
  for (uint32_t i = 0; i < p->n_ipsets; i++)
    total += p->ipsets[i].members.n;
  t->n_sets = p->n_ipsets;
  t->sets = tab_alloc(t, (size_t)(t->n_sets ? t->n_sets : 1) * sizeof(cpp_setinfo_t));
  if (!t->sets || cp_mset_init(&t->members, (uint32_t)total) != 0)
    goto nomem;
  for (uint32_t i = 0; i < p->n_ipsets; i++) {
    const cpp_ipset_t *s = &p->ipsets[i];
    cpp_setinfo_t *si = &t->sets[i];
    si->type = s->type;
    si->id = s->id;
    for (uint32_t j = 0; j < s->members.cap; j++) {
      const cp_mkey_t *m = &s->members.slots[j];
      if (!m->af)
        continue;
      cp_mkey_t k = *m;
      k.set = i + 1;
      if (cp_mset_add(&t->members, &k) < 0)
        goto nomem;
      if (m->af == 4)
        si->lens4 |= 1ull << m->len;
      else
        si->lens6[m->len / 64] |= 1ull << (m->len % 64);
    }
  }
  t->memory_bytes += (uint64_t)t->members.cap * sizeof(cp_mkey_t);

  /* rule counter slots */
  uint32_t nslots = 0;
  for (int k = 0; k < 2; k++) {
    saved_slot[k] = malloc((size_t)(p->n_pols[k] ? p->n_pols[k] : 1) * sizeof(uint32_t));
    if (!saved_slot[k])
      goto nomem;
    for (uint32_t i = 0; i < p->n_pols[k]; i++) {
      saved_slot[k][i] = p->pols[k][i].tab_slot;
      p->pols[k][i].tab_slot = nslots;
      nslots += p->pols[k][i].rules[0].n + p->pols[k][i].rules[1].n;
    }
  }
  t->n_rule_slots = nslots;
  t->slotinfo = tab_alloc(t, (size_t)(nslots ? nslots : 1) * sizeof(cpp_slotinfo_t));
  if (!t->slotinfo)
    goto nomem;
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < p->n_pols[k]; i++) {
      const cpp_pol_t *po = &p->pols[k][i];
      uint32_t s = po->tab_slot;
      for (uint32_t d = 0; d < 2; d++)
        for (uint32_t r = 0; r < po->rules[d].n; r++, s++)
          t->slotinfo[s] = (cpp_slotinfo_t){(uint32_t)k, po->id, po->version, d, r};
    }

  /* endpoints and their programs (deduplicated: endpoints with the same tiers, policies
   * and profiles share one compiled program) */
  t->n_eps = p->n_eps;
  t->eps = tab_alloc(t, (size_t)(p->n_eps ? p->n_eps : 1) * sizeof(cpp_cep_t));
  uint32_t max_progs = p->n_eps * CPP_N_POINTS;
  t->progs = tab_alloc(t, (size_t)(max_progs ? max_progs : 1) * sizeof(cpp_prog_t));
  if (!t->eps || !t->progs || cp_idmap_init(&t->ep_ids, p->n_eps) != 0)
    goto nomem;
  for (uint32_t e = 0; e < p->n_eps; e++) {
    cpp_cep_t *ce = &t->eps[e];
    ce->id = p->eps[e].id;
    ce->ctr = nslots + e * CPP_N_POINTS * 3;
    if (cp_idmap_put(&t->ep_ids, ce->id, e) != 0)
      goto nomem;
    for (uint32_t pt = 0; pt < CPP_N_POINTS; pt++) {
      ce->prog[pt] = UINT32_MAX;
      int rc = spec_for(p, &p->eps[e], pt, &spec);
      if (rc < 0)
        goto nomem;
      if (rc > 0)
        continue;
      uint32_t found = UINT32_MAX;
      for (uint32_t q = 0; q < t->n_progs && found == UINT32_MAX; q++) {
        uint32_t off = offs.w[2 * q], len = offs.w[2 * q + 1];
        if (len == spec.n && memcmp(specs.w + off, spec.w, len * sizeof(uint32_t)) == 0)
          found = q;
      }
      if (found == UINT32_MAX) {
        found = t->n_progs;
        if (vpush(&offs, specs.n) || vpush(&offs, spec.n))
          goto nomem;
        for (uint32_t i = 0; i < spec.n; i++)
          if (vpush(&specs, spec.w[i]))
            goto nomem;
        if (build_prog(p, t, spec.w, &t->progs[found]) != 0) {
          t->n_progs++; /* so that cpp_tab_free frees its classifiers */
          goto nomem;
        }
        t->n_progs++;
      }
      ce->prog[pt] = found;
    }
  }
  t->n_slots = nslots + p->n_eps * CPP_N_POINTS * 3;
  t->counters = calloc(p->n_workers, sizeof(*t->counters));
  if (!t->counters)
    goto nomem;
  for (uint32_t w = 0; w < p->n_workers; w++) {
    t->counters[w] = calloc(t->n_slots ? t->n_slots : 1, sizeof(cp_policy_counter_t));
    if (!t->counters[w])
      goto nomem;
  }
  t->memory_bytes += (uint64_t)p->n_workers * t->n_slots * sizeof(cp_policy_counter_t);

  /* publish; wait for readers of the old table; fold its counters; free it */
  cpp_tab_t *old = cp_epoch_publish(p->epoch, &p->tab, t);
  atomic_store(&p->generation, t->generation);
  cp_epoch_synchronize(p->epoch);
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < p->n_pols[k]; i++)
      p->pols[k][i].tab_version = 0;
  if (old) {
    /* fold needs the versions the old table counted: it compares against po->version */
    fold_counters(p, old);
    cpp_tab_free(old);
  }
  for (int k = 0; k < 2; k++)
    for (uint32_t i = 0; i < p->n_pols[k]; i++)
      p->pols[k][i].tab_version = p->pols[k][i].version;
  free(saved_slot[0]);
  free(saved_slot[1]);
  free(spec.w);
  free(specs.w);
  free(offs.w);
  p->dirty = 0;
  return 0;
nomem:
  for (int k = 0; k < 2; k++)
    if (saved_slot[k])
      for (uint32_t i = 0; i < p->n_pols[k]; i++)
        p->pols[k][i].tab_slot = saved_slot[k][i];
  free(saved_slot[0]);
  free(saved_slot[1]);
  free(spec.w);
  free(specs.w);
  free(offs.w);
  cpp_tab_free(t);
  return cpp_fail(p, CP_POLICY_E_NOMEM, "build: out of memory (published tables unchanged)");
}

uint32_t cp_policy_generation(const cp_policy_t *p)
{
  return atomic_load(&((cp_policy_t *)p)->generation);
}

uint64_t cp_policy_memory_bytes(const cp_policy_t *p)
{
  const cpp_tab_t *t = atomic_load(&((cp_policy_t *)p)->tab);
  return t ? t->memory_bytes : 0;
}

/* ---- classification ----------------------------------------------------------------- */

typedef struct {
  const cp_addr_t *src, *dst;
  uint32_t key[CP_MFC_MAX_DIMS];
  uint16_t sport, dport;
  uint8_t af, fi, proto, has_ports, is_icmp, icmp_type, icmp_code;
} pctx_t;

static inline int set_has_addr(const cpp_tab_t *t, uint32_t slot, const cp_addr_t *a, uint8_t af)
{
  const cpp_setinfo_t *si = &t->sets[slot];
  cp_mkey_t k;
  memset(&k, 0, sizeof(k));
  k.set = slot + 1;
  k.af = af;
  if (af == 4) {
    uint64_t lens = si->lens4;
    while (lens) {
      uint32_t l = 63 - (uint32_t)__builtin_clzll(lens);
      lens &= ~(1ull << l);
      k.addr = *a;
      cp_addr_mask(&k.addr, l, 32);
      k.len = (uint8_t)l;
      if (cp_mset_has(&t->members, &k))
        return 1;
    }
    return 0;
  }
  for (int wi = 2; wi >= 0; wi--) {
    uint64_t lens = si->lens6[wi];
    while (lens) {
      uint32_t b = 63 - (uint32_t)__builtin_clzll(lens);
      lens &= ~(1ull << b);
      uint32_t l = (uint32_t)wi * 64 + b;
      k.addr = *a;
      cp_addr_mask(&k.addr, l, 128);
      k.len = (uint8_t)l;
      if (cp_mset_has(&t->members, &k))
        return 1;
    }
  }
  return 0;
}

static inline int set_has_ipport(const cpp_tab_t *t, uint32_t slot, const cp_addr_t *a,
                                 uint8_t af, uint8_t proto, uint16_t port)
{
  cp_mkey_t k;
  memset(&k, 0, sizeof(k));
  k.set = slot + 1;
  k.af = af;
  k.addr = *a;
  k.len = af == 4 ? 32 : 128;
  k.proto = proto;
  k.port = port;
  return cp_mset_has(&t->members, &k);
}

static inline int nets_have(const cp_policy_cidr_t *v, uint32_t n, const cp_addr_t *a)
{
  for (uint32_t i = 0; i < n; i++)
    if (cidr_has(&v[i], a))
      return 1;
  return 0;
}

static inline int ports_have(const cp_policy_port_range_t *v, uint32_t n, uint16_t port)
{
  for (uint32_t i = 0; i < n; i++)
    if (v[i].first <= port && port <= v[i].last)
      return 1;
  return 0;
}

static int extras_match(const cpp_tab_t *t, const cpp_xrule_t *x, const pctx_t *c)
{
  if (x->has_not_protocol && c->proto == x->not_protocol)
    return 0;
  if (x->not_icmp == CP_POLICY_ICMP_TYPE && c->icmp_type == x->not_icmp_type)
    return 0;
  if (x->not_icmp == CP_POLICY_ICMP_TYPE_CODE && c->icmp_type == x->not_icmp_type &&
      c->icmp_code == x->not_icmp_code)
    return 0;
  if (x->src_net_widened && !nets_have(x->src_net, x->n_src_net, c->src))
    return 0;
  if (x->dst_net_widened && !nets_have(x->dst_net, x->n_dst_net, c->dst))
    return 0;
  if (nets_have(x->not_src_net, x->n_not_src_net, c->src) ||
      nets_have(x->not_dst_net, x->n_not_dst_net, c->dst))
    return 0;
  if (x->src_port_or_named) {
    int ok = ports_have(x->src_ports, x->n_src_ports, c->sport);
    for (uint32_t i = 0; !ok && i < x->n_sets[XS_SRC_NAMED]; i++)
      ok = set_has_ipport(t, x->sets[XS_SRC_NAMED][i], c->src, c->af, c->proto, c->sport);
    if (!ok)
      return 0;
  }
  if (x->dst_port_or_named) {
    int ok = ports_have(x->dst_ports, x->n_dst_ports, c->dport);
    for (uint32_t i = 0; !ok && i < x->n_sets[XS_DST_NAMED]; i++)
      ok = set_has_ipport(t, x->sets[XS_DST_NAMED][i], c->dst, c->af, c->proto, c->dport);
    if (!ok)
      return 0;
  }
  if (ports_have(x->not_src_ports, x->n_not_src_ports, c->sport) ||
      ports_have(x->not_dst_ports, x->n_not_dst_ports, c->dport))
    return 0;
  for (uint32_t i = 0; i < x->n_sets[XS_NOT_SRC_NAMED]; i++)
    if (set_has_ipport(t, x->sets[XS_NOT_SRC_NAMED][i], c->src, c->af, c->proto, c->sport))
      return 0;
  for (uint32_t i = 0; i < x->n_sets[XS_NOT_DST_NAMED]; i++)
    if (set_has_ipport(t, x->sets[XS_NOT_DST_NAMED][i], c->dst, c->af, c->proto, c->dport))
      return 0;
  for (uint32_t i = 0; i < x->n_sets[XS_SRC]; i++)
    if (!set_has_addr(t, x->sets[XS_SRC][i], c->src, c->af))
      return 0;
  for (uint32_t i = 0; i < x->n_sets[XS_DST]; i++)
    if (!set_has_addr(t, x->sets[XS_DST][i], c->dst, c->af))
      return 0;
  for (uint32_t i = 0; i < x->n_sets[XS_NOT_SRC]; i++)
    if (set_has_addr(t, x->sets[XS_NOT_SRC][i], c->src, c->af))
      return 0;
  for (uint32_t i = 0; i < x->n_sets[XS_NOT_DST]; i++)
    if (set_has_addr(t, x->sets[XS_NOT_DST][i], c->dst, c->af))
      return 0;
  for (uint32_t i = 0; i < x->n_sets[XS_DST_IPPORT]; i++)
    if (!set_has_ipport(t, x->sets[XS_DST_IPPORT][i], c->dst, c->af, c->proto, c->dport))
      return 0;
  return 1;
}

/* First rule at or after `pos` whose box and extra predicates hold; UINT32_MAX if none. */
static inline uint32_t first_match(const cpp_tab_t *t, const cpp_prog_t *pr, const pctx_t *c,
                                   uint32_t pos)
{
  const cp_mfc_t *cls = pr->cls[c->fi];
  const uint32_t D = cls->n_dims;
  uint32_t best = UINT32_MAX;
  for (uint32_t ti = 0; ti < cls->n_trees; ti++) {
    const cp_mfc_tree_t *tr = &cls->tree[ti];
    if (tr->min_prio >= best)
      break;
    const uint32_t *leaf = cp_mfc_leaf(tr, c->key);
    for (uint32_t k = 0, cnt = cp_mfc_leaf_count(leaf); k < cnt; k++) {
      uint32_t prio = cp_mfc_leaf_prio(leaf, k);
      if (prio >= best)
        break;
      if (prio < pos || !cp_mfc_leaf_match(leaf, k, c->key, D))
        continue;
      const cpp_xrule_t *x = pr->rules[prio].x[c->fi];
      if (x && !extras_match(t, x, c))
        continue;
      best = prio;
      break;
    }
  }
  return best;
}

static inline void make_ctx(const cp_pkt_t *pk, pctx_t *c)
{
  c->src = &pk->src;
  c->dst = &pk->dst;
  c->af = pk->af;
  c->fi = pk->af == 6;
  c->proto = pk->proto;
  int l4 = (pk->flags & CP_PKT_F_HAS_L4) && !(pk->flags & CP_PKT_F_LATER_FRAG);
  c->has_ports = l4 && (pk->proto == CP_IPPROTO_TCP || pk->proto == CP_IPPROTO_UDP ||
                        pk->proto == CP_IPPROTO_SCTP);
  c->is_icmp = l4 && ((pk->af == 4 && pk->proto == CP_IPPROTO_ICMP) ||
                      (pk->af == 6 && pk->proto == CP_IPPROTO_ICMPV6));
  c->sport = pk->sport;
  c->dport = pk->dport;
  c->icmp_type = pk->icmp_type;
  c->icmp_code = pk->icmp_code;
  uint32_t ks, kd;
  if (c->has_ports) {
    ks = pk->sport;
    kd = pk->dport;
  } else if (c->is_icmp) {
    ks = 0x10000u | (uint32_t)pk->icmp_type << 8 | pk->icmp_code;
    kd = 0x10000u;
  } else {
    ks = kd = 0x20000u;
  }
  uint32_t W = c->fi ? 4 : 1;
  for (uint32_t i = 0; i < W; i++) {
    c->key[i] = addr_word(&pk->src, i);
    c->key[W + i] = addr_word(&pk->dst, i);
  }
  c->key[2 * W] = ks;
  c->key[2 * W + 1] = kd;
  c->key[2 * W + 2] = pk->proto;
}

static inline void count(cp_policy_counter_t *ctr, uint32_t slot, uint32_t bytes)
{
  ctr[slot].packets++;
  ctr[slot].bytes += bytes;
}

static uint8_t eval_one(const cpp_tab_t *t, cp_policy_counter_t *ctr, const cp_pkt_t *pk,
                        uint32_t endpoint, uint8_t point, cp_policy_match_t *m)
{
  memset(m, 0, sizeof(*m));
  uint32_t e = cp_idmap_get(&t->ep_ids, endpoint);
  if (e == UINT32_MAX) {
    m->reason = CP_POLICY_REASON_NO_ENDPOINT;
    return CP_VERDICT_NONE;
  }
  const cpp_cep_t *ce = &t->eps[e];
  uint32_t bytes = pk->total_len;
  uint8_t v;
  if (point >= CPP_N_POINTS || ce->prog[point] == UINT32_MAX) {
    m->reason = CP_POLICY_REASON_NO_DECISION;
    v = CP_VERDICT_NONE;
    if (point < CPP_N_POINTS)
      count(ctr, ce->ctr + point * 3u + v, bytes);
    return v;
  }
  if (pk->status != CP_PKT_OK || (pk->af != 4 && pk->af != 6)) {
    m->reason = CP_POLICY_REASON_BAD_PACKET;
    v = CP_VERDICT_DENY;
    count(ctr, ce->ctr + point * 3u + v, bytes);
    return v;
  }
  const cpp_prog_t *pr = &t->progs[ce->prog[point]];
  pctx_t c;
  make_ctx(pk, &c);
  uint32_t seg = 0, pos = 0;
  uint32_t mt = first_match(t, pr, &c, 0);
  v = 0;
  while (seg < pr->n_segs) {
    const cpp_seg_t *sg = &pr->segs[seg];
    if (mt < sg->end) {
      const cpp_crule_t *cr = &pr->rules[mt];
      count(ctr, cr->ctr, bytes);
      if (cr->action == CP_POLICY_ACTION_LOG) {
        pos = mt + 1;
        mt = first_match(t, pr, &c, pos);
        continue;
      }
      if (cr->action == CP_POLICY_ACTION_ALLOW || cr->action == CP_POLICY_ACTION_DENY) {
        m->reason = CP_POLICY_REASON_RULE;
        m->owner_kind = cr->owner_kind;
        m->owner_id = cr->owner_id;
        m->rule = cr->rule;
        m->tier = cr->owner_kind == CP_POLICY_OWNER_POLICY ? cr->tier : 0;
        v = cr->action == CP_POLICY_ACTION_ALLOW ? CP_VERDICT_ALLOW : CP_VERDICT_DENY;
        break;
      }
      /* pass: the next tier (or, in a profile, the next profile) */
      seg++;
      if (seg < pr->n_segs) {
        pos = pr->segs[seg].begin;
        mt = first_match(t, pr, &c, pos);
      }
      continue;
    }
    if (sg->kind == SEG_TIER && sg->default_action == CP_POLICY_ACTION_DENY) {
      m->reason = CP_POLICY_REASON_TIER_DEFAULT;
      m->tier = sg->tier;
      v = CP_VERDICT_DENY;
      break;
    }
    seg++; /* mt >= this segment's end = the next one's begin: still the first match */
  }
  if (!v) {
    if (pr->end_deny) {
      m->reason = CP_POLICY_REASON_PROFILE_END;
      v = CP_VERDICT_DENY;
    } else {
      m->reason = CP_POLICY_REASON_NO_DECISION;
      v = CP_VERDICT_NONE;
    }
  }
  count(ctr, ce->ctr + point * 3u + v, bytes);
  return v;
}

uint32_t cp_policy_classify_burst(cp_policy_t *p, uint32_t worker,
                                  const cp_pkt_t *const *pkts, const uint32_t *endpoint,
                                  const uint8_t *point, uint32_t n, uint8_t *verdict,
                                  cp_policy_match_t *match)
{
  cp_epoch_reader_t *rd = cp_epoch_reader(p->epoch, worker);
  cp_epoch_enter_r(cp_epoch_global(p->epoch), rd);
  const cpp_tab_t *t = cp_epoch_deref(&p->tab);
  cp_policy_counter_t *ctr = t->counters[worker];
  cp_policy_match_t scratch;
  const int have_members = t->members.n != 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i + 8 < n)
      __builtin_prefetch(pkts[i + 8]);
    if (have_members && i + 4 < n && pkts[i + 4]->status == CP_PKT_OK) {
      /* a large ipset is a cache miss per lookup: start it a few packets ahead */
      cp_mset_prefetch_addr(&t->members, &pkts[i + 4]->src, pkts[i + 4]->af);
      cp_mset_prefetch_addr(&t->members, &pkts[i + 4]->dst, pkts[i + 4]->af);
    }
    verdict[i] = eval_one(t, ctr, pkts[i], endpoint[i], point[i], match ? &match[i] : &scratch);
  }
  uint32_t gen = t->generation;
  cp_epoch_exit_r(rd);
  return gen;
}

/* ---- the policy hook ---------------------------------------------------------------- */

static void hook_classify(void *ctx, const cp_pkt_t *const *pkts, const uint32_t *endpoint,
                          const uint8_t *dir, uint32_t n, uint8_t *verdict)
{
  cpp_hookctx_t *h = ctx;
  while (n) {
    uint32_t m = n < CP_POLICY_BURST ? n : CP_POLICY_BURST;
    cp_policy_classify_burst(h->p, h->worker, pkts, endpoint, dir, m, verdict, NULL);
    pkts += m;
    endpoint += m;
    dir += m;
    verdict += m;
    n -= m;
  }
}

static uint32_t hook_generation(void *ctx)
{
  cpp_hookctx_t *h = ctx;
  return cp_policy_generation(h->p);
}

void cp_policy_hook_init(cp_policy_t *p, uint32_t worker, cp_policy_hook_t *hook)
{
  if (worker >= p->n_workers)
    worker = 0;
  hook->ctx = &p->hooks[worker];
  hook->classify_burst = hook_classify;
  hook->generation = hook_generation;
}

/* ---- counters ------------------------------------------------------------------------ */

int cp_policy_rule_counter(const cp_policy_t *p, uint8_t owner_kind, uint32_t id, uint8_t dir,
                           uint32_t rule, cp_policy_counter_t *out)
{
  if (owner_kind > CP_POLICY_OWNER_PROFILE || dir > 1)
    return CP_POLICY_E_INVAL;
  uint32_t slot = cp_idmap_get(&p->pol_ids[owner_kind], id);
  if (slot == UINT32_MAX)
    return CP_POLICY_E_NOENT;
  const cpp_pol_t *po = &p->pols[owner_kind][slot];
  if (rule >= po->rules[dir].n)
    return CP_POLICY_E_NOENT;
  *out = po->rules[dir].base[rule];
  const cpp_tab_t *t = atomic_load(&((cp_policy_t *)p)->tab);
  if (t && po->tab_version == po->version) {
    uint32_t s = po->tab_slot + (dir ? po->rules[0].n : 0) + rule;
    for (uint32_t w = 0; w < t->n_workers; w++) {
      out->packets += t->counters[w][s].packets;
      out->bytes += t->counters[w][s].bytes;
    }
  }
  return 0;
}

int cp_policy_endpoint_counters(const cp_policy_t *p, uint32_t id, uint8_t point,
                                cp_policy_counter_t out[3])
{
  if (point >= CPP_N_POINTS)
    return CP_POLICY_E_INVAL;
  uint32_t slot = cp_idmap_get(&p->ep_ids, id);
  if (slot == UINT32_MAX)
    return CP_POLICY_E_NOENT;
  for (int v = 0; v < 3; v++)
    out[v] = p->eps[slot].base[point][v];
  const cpp_tab_t *t = atomic_load(&((cp_policy_t *)p)->tab);
  uint32_t e = t ? cp_idmap_get(&t->ep_ids, id) : UINT32_MAX;
  if (e != UINT32_MAX)
    for (uint32_t w = 0; w < t->n_workers; w++)
      for (int v = 0; v < 3; v++) {
        out[v].packets += t->counters[w][t->eps[e].ctr + point * 3u + (uint32_t)v].packets;
        out[v].bytes += t->counters[w][t->eps[e].ctr + point * 3u + (uint32_t)v].bytes;
      }
  return 0;
}
