/* Fuzz the configuration API and the classifier together: the input is a little program
 * of operations (ipset update/delta/remove, policy/profile update/remove, endpoint update,
 * build, classify) over small id spaces, with arbitrary field values. Invalid input must
 * be refused cleanly; nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "calico_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

typedef struct {
  const uint8_t *d;
  size_t n, i;
} rd_t;

static uint8_t u8(rd_t *r)
{
  return r->i < r->n ? r->d[r->i++] : 0;
}

static uint16_t u16(rd_t *r)
{
  return (uint16_t)(u8(r) << 8 | u8(r));
}

static void addr(rd_t *r, cp_addr_t *a, uint8_t *af, uint8_t *len)
{
  memset(a, 0, sizeof(*a));
  *af = u8(r) & 1 ? 6 : 4;
  uint32_t nb = *af == 4 ? 4 : 16;
  for (uint32_t k = 0; k < nb; k++)
    a->b[k] = u8(r) & 0x0f; /* small space: collisions */
  *len = u8(r) % (*af == 4 ? 34 : 130); /* sometimes invalid */
}

static void rule(rd_t *r, cp_policy_rule_t *ru, cp_policy_cidr_t *nets, cp_policy_port_range_t *pr,
                 uint32_t *ids)
{
  memset(ru, 0, sizeof(*ru));
  ru->action = u8(r) % 6;
  ru->ip_version = (uint8_t[]){0, 4, 6, 5}[u8(r) % 4];
  uint8_t f = u8(r);
  if (f & 1) {
    ru->has_protocol = 1;
    ru->protocol = (uint8_t[]){1, 6, 17, 58}[u8(r) % 4];
  }
  if (f & 2) {
    ru->icmp = u8(r) % 3;
    ru->icmp_type = u8(r);
  }
  if (f & 4) {
    addr(r, &nets[0].addr, &nets[0].af, &nets[0].len);
    addr(r, &nets[1].addr, &nets[1].af, &nets[1].len);
    ru->src_net.v = nets;
    ru->src_net.n = 1 + (u8(r) & 1);
  }
  if (f & 8) {
    pr[0].first = u16(r);
    pr[0].last = u16(r);
    ru->dst_ports.v = pr;
    ru->dst_ports.n = 1;
  }
  if (f & 16) {
    ids[0] = u8(r) % 4;
    ids[1] = u8(r) % 4;
    ru->src_ipsets.ids = ids;
    ru->src_ipsets.n = 1 + (u8(r) & 1);
  }
  if (f & 32) {
    ids[2] = u8(r) % 4;
    ru->dst_named_port_ipsets.ids = &ids[2];
    ru->dst_named_port_ipsets.n = 1;
  }
  if (f & 64) {
    ru->not_dst_net.v = &nets[1];
    ru->not_dst_net.n = 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
  rd_t r = {d, n, 0};
  cp_policy_params_t prm = {.n_workers = 1, .max_ipset_members = 64, .max_list = 16};
  cp_policy_t *p = cp_policy_create(&prm);
  if (!p)
    return 0;
  for (int steps = 0; steps < 64 && r.i < r.n; steps++) {
    uint8_t op = u8(&r) % 9;
    uint32_t id = u8(&r) % 4;
    if (op == 0) {
      cp_policy_member_t m[4];
      memset(m, 0, sizeof(m));
      uint32_t k = u8(&r) % 5;
      for (uint32_t j = 0; j < k; j++) {
        addr(&r, &m[j].addr, &m[j].af, &m[j].len);
        m[j].proto = u8(&r);
        m[j].port = u16(&r);
      }
      cp_policy_ipset_update(p, id, u8(&r) % 4, m, k);
    } else if (op == 1) {
      cp_policy_member_t m;
      memset(&m, 0, sizeof(m));
      addr(&r, &m.addr, &m.af, &m.len);
      cp_policy_ipset_delta(p, id, &m, u8(&r) & 1, &m, u8(&r) & 1);
    } else if (op == 2) {
      cp_policy_ipset_remove(p, id);
    } else if (op == 3 || op == 4) {
      cp_policy_rule_t ru[2];
      cp_policy_cidr_t nets[4];
      cp_policy_port_range_t pr[2];
      uint32_t ids[6];
      rule(&r, &ru[0], nets, pr, ids);
      rule(&r, &ru[1], nets + 2, pr + 1, ids + 3);
      if (op == 3)
        cp_policy_policy_update(p, id, ru, u8(&r) % 3, ru + 1, u8(&r) % 2);
      else
        cp_policy_profile_update(p, id, ru, u8(&r) % 3, ru + 1, u8(&r) % 2);
    } else if (op == 5) {
      if (u8(&r) & 1)
        cp_policy_policy_remove(p, id);
      else
        cp_policy_profile_remove(p, id);
    } else if (op == 6) {
      uint32_t pol[3] = {u8(&r) % 4, u8(&r) % 4, u8(&r) % 4}, pro = u8(&r) % 4;
      cp_policy_tier_t t[2] = {
          {.default_action = (uint8_t)(u8(&r) % 4), .ingress_policies = {pol, u8(&r) % 3},
           .egress_policies = {pol + 1, u8(&r) % 3}},
          {.default_action = CP_POLICY_ACTION_PASS, .ingress_policies = {pol + 2, 1}}};
      cp_policy_endpoint_t ep;
      memset(&ep, 0, sizeof(ep));
      ep.kind = u8(&r) % 3;
      ep.tiers.v = t;
      ep.tiers.n = u8(&r) % 3;
      if (u8(&r) & 1) {
        ep.pre_dnat_tiers.v = t + 1;
        ep.pre_dnat_tiers.n = 1;
      }
      ep.profiles.ids = &pro;
      ep.profiles.n = u8(&r) & 1;
      cp_policy_endpoint_update(p, id, &ep);
    } else if (op == 7) {
      cp_policy_build(p);
    } else {
      cp_pkt_t pk;
      memset(&pk, 0, sizeof(pk));
      uint8_t len;
      addr(&r, &pk.src, &pk.af, &len);
      memcpy(&pk.dst, &pk.src, sizeof(pk.dst));
      pk.dst.b[3] ^= u8(&r);
      pk.status = u8(&r) % 4 == 0 ? CP_PKT_TRUNCATED : CP_PKT_OK;
      pk.proto = (uint8_t[]){1, 6, 17, 58, 132, 47}[u8(&r) % 6];
      pk.flags = u8(&r) & (CP_PKT_F_HAS_L4 | CP_PKT_F_LATER_FRAG);
      pk.sport = u16(&r);
      pk.dport = u16(&r);
      pk.icmp_type = u8(&r);
      const cp_pkt_t *pp = &pk;
      uint32_t ep = id;
      uint8_t pt = u8(&r), v;
      cp_policy_match_t m;
      cp_policy_classify_burst(p, 0, &pp, &ep, &pt, 1, &v, &m);
    }
  }
  cp_policy_destroy(p);
  return 0;
}
