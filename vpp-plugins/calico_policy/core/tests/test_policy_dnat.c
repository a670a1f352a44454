/* The policy seam end to end: calico_dnat's session table calls this classifier through
 * cp_policy_hook_init's hook, once per flow; a rebuild (new generation) reaches flows that
 * are already established. */
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.h"
#include "calico_policy.h"
#include "cp_test.h"
#include "pktgen.h"

#define VIP 0x0a600001u     /* 10.96.0.1:80 */
#define BACKEND 0x0a010001u /* 10.1.0.1:8080 */

/* policy 1 (ingress): allow TCP to port 8080 from 10.5.0.0/16; tier default deny */
static void allow_from(cp_policy_t *p, uint8_t action)
{
  cp_policy_cidr_t net;
  memset(&net, 0, sizeof(net));
  net.af = 4;
  net.len = 16;
  net.addr.b[0] = 10;
  net.addr.b[1] = 5;
  cp_policy_port_range_t port = {8080, 8080};
  cp_policy_rule_t r;
  memset(&r, 0, sizeof(r));
  r.action = action;
  r.has_protocol = 1;
  r.protocol = CP_IPPROTO_TCP;
  r.src_net.v = &net;
  r.src_net.n = 1;
  r.dst_ports.v = &port;
  r.dst_ports.n = 1;
  CHECK_EQ(cp_policy_policy_update(p, 1, &r, 1, NULL, 0), 0);
  uint32_t pol = 1;
  cp_policy_tier_t tier = {.default_action = CP_POLICY_ACTION_DENY,
                           .ingress_policies = {&pol, 1}};
  cp_policy_endpoint_t ep;
  memset(&ep, 0, sizeof(ep));
  ep.tiers.v = &tier;
  ep.tiers.n = 1;
  CHECK_EQ(cp_policy_endpoint_update(p, 0, &ep), 0); /* endpoint 0: cdn's default meta */
  CHECK_EQ(cp_policy_build(p), 0);
}

static cdn_result_t send(cdn_ctx_t *ctx, uint32_t src, uint16_t sport, uint8_t flags)
{
  uint8_t buf[128];
  uint8_t *data[1] = {buf};
  uint32_t len = mkpkt(buf, 4, CP_IPPROTO_TCP, v4(src), v4(VIP), sport, 80, flags);
  cdn_result_t res;
  cdn_process_burst(ctx, 0, data, &len, NULL, 1, 1000, &res);
  return res;
}

static void test_dnat_sessions_classify_through_the_policy_hook(void)
{
  cdn_config_t c = {0};
  c.n_workers = 1;
  c.max_sessions = 64;
  int err = 1;
  cdn_ctx_t *ctx = cdn_create(&c, &err);
  CHECK(ctx != NULL);
  cdn_backend_t be;
  memset(&be, 0, sizeof(be));
  be.addr = v4(BACKEND);
  be.port = 8080;
  be.weight = 1;
  be.af = 4;
  cdn_translation_t t;
  memset(&t, 0, sizeof(t));
  t.vip = v4(VIP);
  t.port = 80;
  t.proto = CP_IPPROTO_TCP;
  t.af = 4;
  t.n_backends = 1;
  t.backends = &be;
  uint32_t id;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);

  cp_policy_t *p = cp_policy_create(NULL);
  allow_from(p, CP_POLICY_ACTION_ALLOW);
  cp_policy_hook_t hook;
  cp_policy_hook_init(p, 0, &hook);
  CHECK_EQ(cdn_policy_hook_set(ctx, &hook), 0);

  /* the policy sees the translated flow (backend port 8080) */
  cdn_result_t r = send(ctx, 0x0a050002, 1000, 0x02);
  CHECK_EQ(r.verdict, CP_VERDICT_ALLOW);
  CHECK_EQ(r.next, CDN_NEXT_FORWARD);
  r = send(ctx, 0x0a060002, 1000, 0x02);
  CHECK_EQ(r.verdict, CP_VERDICT_DENY);
  CHECK_EQ(r.next, CDN_NEXT_DROP);
  CHECK_EQ(r.error, CDN_E_POLICY_DENY);
  cp_policy_counter_t cnt[3];
  CHECK_EQ(cp_policy_endpoint_counters(p, 0, 0, cnt), 0);
  CHECK_EQ(cnt[CP_VERDICT_ALLOW].packets, 1);
  CHECK_EQ(cnt[CP_VERDICT_DENY].packets, 1);

  /* established packets of the allowed flow ride on its cached verdict */
  r = send(ctx, 0x0a050002, 1000, 0x10);
  CHECK_EQ(r.next, CDN_NEXT_FORWARD);
  CHECK_EQ(cp_policy_endpoint_counters(p, 0, 0, cnt), 0);
  CHECK_EQ(cnt[CP_VERDICT_ALLOW].packets, 1);

  /* a policy change reaches the established flow on its next packet */
  allow_from(p, CP_POLICY_ACTION_DENY);
  r = send(ctx, 0x0a050002, 1000, 0x10);
  CHECK_EQ(r.verdict, CP_VERDICT_DENY);
  CHECK_EQ(r.next, CDN_NEXT_DROP);

  CHECK_EQ(cdn_policy_hook_set(ctx, NULL), 0);
  cdn_destroy(ctx);
  cp_policy_destroy(p);
}

int main(void)
{
  RUN(test_dnat_sessions_classify_through_the_policy_hook);
  TEST_MAIN_END();
}
