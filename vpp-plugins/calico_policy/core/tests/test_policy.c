/* calico_policy core: the policy hook, bad input, and concurrent readers across rebuilds
 * (under ASan a reader touching a freed table shows as use-after-free). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "calico_policy.h"
#include "cp_test.h"

static cp_pkt_t tcp4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
  cp_pkt_t p;
  memset(&p, 0, sizeof(p));
  p.status = CP_PKT_OK;
  p.af = 4;
  p.proto = CP_IPPROTO_TCP;
  p.flags = CP_PKT_F_HAS_L4;
  p.sport = sport;
  p.dport = dport;
  p.total_len = 40;
  for (int i = 0; i < 4; i++) {
    p.src.b[i] = (uint8_t)(src >> (24 - 8 * i));
    p.dst.b[i] = (uint8_t)(dst >> (24 - 8 * i));
  }
  return p;
}

/* policy 1: inbound allow tcp dport <port>; endpoint 5: one tier with policy 1 */
static void configure(cp_policy_t *p, uint16_t port, uint8_t action)
{
  cp_policy_port_range_t pr = {port, port};
  cp_policy_rule_t r;
  memset(&r, 0, sizeof(r));
  r.action = action;
  r.has_protocol = 1;
  r.protocol = CP_IPPROTO_TCP;
  r.dst_ports.v = &pr;
  r.dst_ports.n = 1;
  CHECK_EQ(cp_policy_policy_update(p, 1, &r, 1, NULL, 0), 0);
  uint32_t pol = 1;
  cp_policy_tier_t tier = {.default_action = CP_POLICY_ACTION_DENY,
                           .ingress_policies = {&pol, 1}};
  cp_policy_endpoint_t ep;
  memset(&ep, 0, sizeof(ep));
  ep.kind = CP_POLICY_EP_WORKLOAD;
  ep.tiers.v = &tier;
  ep.tiers.n = 1;
  CHECK_EQ(cp_policy_endpoint_update(p, 5, &ep), 0);
}

static void test_hook_classifies_and_reports_the_generation(void)
{
  cp_policy_t *p = cp_policy_create(NULL);
  configure(p, 80, CP_POLICY_ACTION_ALLOW);
  CHECK_EQ(cp_policy_build(p), 0);
  cp_policy_hook_t hook;
  cp_policy_hook_init(p, 0, &hook);
  cp_pkt_t a = tcp4(0x0a000001, 0x0a000002, 1000, 80), b = tcp4(0x0a000001, 0x0a000002, 1000, 81);
  const cp_pkt_t *pk[3] = {&a, &b, &a};
  uint32_t eps[3] = {5, 5, 6};
  uint8_t dirs[3] = {CP_DIR_INGRESS, CP_DIR_INGRESS, CP_DIR_INGRESS};
  uint8_t v[3];
  uint32_t g0 = hook.generation(hook.ctx);
  hook.classify_burst(hook.ctx, pk, eps, dirs, 3, v);
  CHECK_EQ(v[0], CP_VERDICT_ALLOW);
  CHECK_EQ(v[1], CP_VERDICT_DENY); /* tier default */
  CHECK_EQ(v[2], CP_VERDICT_NONE); /* no such endpoint */
  configure(p, 80, CP_POLICY_ACTION_DENY);
  CHECK_EQ(cp_policy_build(p), 0);
  CHECK_EQ(hook.generation(hook.ctx), g0 + 1);
  hook.classify_burst(hook.ctx, pk, eps, dirs, 1, v);
  CHECK_EQ(v[0], CP_VERDICT_DENY);
  cp_policy_counter_t c;
  CHECK_EQ(cp_policy_rule_counter(p, CP_POLICY_OWNER_POLICY, 1, CP_DIR_INGRESS, 0, &c), 0);
  CHECK_EQ(c.packets, 1); /* replaced rules start counting again */
  cp_policy_destroy(p);
}

static void test_bad_input_leaves_state_intact(void)
{
  cp_policy_t *p = cp_policy_create(NULL);
  configure(p, 80, CP_POLICY_ACTION_ALLOW);
  uint32_t missing = 77;
  cp_policy_rule_t r;
  memset(&r, 0, sizeof(r));
  r.action = CP_POLICY_ACTION_DENY;
  r.src_ipsets.ids = &missing;
  r.src_ipsets.n = 1;
  CHECK_EQ(cp_policy_policy_update(p, 1, &r, 1, NULL, 0), CP_POLICY_E_NOENT);
  CHECK(strstr(cp_policy_last_error(p), "unknown ipset 77") != NULL);
  CHECK_EQ(cp_policy_policy_remove(p, 1), CP_POLICY_E_BUSY);
  CHECK_EQ(cp_policy_build(p), 0);
  cp_pkt_t a = tcp4(1, 2, 3, 80);
  const cp_pkt_t *pk = &a;
  uint32_t ep = 5;
  uint8_t pt = CP_POLICY_POINT(CP_POLICY_STAGE_NORMAL, CP_DIR_INGRESS), v;
  cp_policy_match_t m;
  cp_policy_classify_burst(p, 0, &pk, &ep, &pt, 1, &v, &m);
  CHECK_EQ(v, CP_VERDICT_ALLOW);
  CHECK_EQ(m.reason, CP_POLICY_REASON_RULE);
  cp_policy_destroy(p);
}

typedef struct {
  cp_policy_t *p;
  uint32_t worker;
  _Atomic int *stop;
  uint64_t bad;
  _Atomic uint64_t bursts;
} reader_t;

static void *reader(void *arg)
{
  reader_t *r = arg;
  cp_pkt_t a = tcp4(1, 2, 3, 80);
  const cp_pkt_t *pk[64];
  uint32_t eps[64];
  uint8_t pts[64], v[64];
  for (int i = 0; i < 64; i++) {
    pk[i] = &a;
    eps[i] = 5;
    pts[i] = 0;
  }
  while (!atomic_load(r->stop)) {
    cp_policy_classify_burst(r->p, r->worker, pk, eps, pts, 64, v, NULL);
    for (int i = 0; i < 64; i++)
      r->bad += v[i] != CP_VERDICT_ALLOW && v[i] != CP_VERDICT_DENY;
    atomic_fetch_add(&r->bursts, 1);
  }
  return NULL;
}

static void test_readers_never_see_a_half_built_or_freed_table(void)
{
  cp_policy_params_t prm = {.n_workers = 2};
  cp_policy_t *p = cp_policy_create(&prm);
  configure(p, 80, CP_POLICY_ACTION_ALLOW);
  CHECK_EQ(cp_policy_build(p), 0);
  _Atomic int stop = 0;
  reader_t rd[2] = {{p, 0, &stop, 0, 0}, {p, 1, &stop, 0, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, reader, &rd[i]);
  /* the rebuilds must overlap with readers at work: wait until both have started */
  while (atomic_load(&rd[0].bursts) == 0 || atomic_load(&rd[1].bursts) == 0)
    sched_yield();
  for (int k = 0; k < 200; k++) {
    configure(p, 80, k % 2 ? CP_POLICY_ACTION_ALLOW : CP_POLICY_ACTION_DENY);
    CHECK_EQ(cp_policy_build(p), 0);
  }
  uint64_t seen = atomic_load(&rd[0].bursts);
  while (atomic_load(&rd[0].bursts) == seen) /* at least one burst on the last table */
    sched_yield();
  atomic_store(&stop, 1);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  CHECK_EQ(rd[0].bad + rd[1].bad, 0);
  cp_policy_counter_t c[3];
  CHECK_EQ(cp_policy_endpoint_counters(p, 5, 0, c), 0);
  CHECK(c[CP_VERDICT_ALLOW].packets + c[CP_VERDICT_DENY].packets > 0);
  cp_policy_destroy(p);
}

int main(void)
{
  RUN(test_hook_classifies_and_reports_the_generation);
  RUN(test_bad_input_leaves_state_intact);
  RUN(test_readers_never_see_a_half_built_or_freed_table);
  TEST_MAIN_END();
}
