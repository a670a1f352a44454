/* The VIP key table under churn: translations added, replaced and deleted at random
 * (sharing VIP addresses, NodePorts among them, across several table grows) agree with a
 * reference model after every step — by id lookup and by what packets see (a translated
 * VIP port, a VIP address without that port, a non-VIP address) — and so do the backend
 * markers (counted by the translations that share a backend), by what the flow owner
 * function says about replies from live and from former backends. Run under ASan/UBSan
 * in CI, where a page freed while a snapshot still used it would show. */
#include <errno.h>
#include <string.h>

#include "calico_dnat.h"
#include "cp_test.h"
#include "pktgen.h"

#define N_ADDR 40 /* VIP addresses */
#define N_PORT 12 /* ports per address */
#define N_KEYS (N_ADDR * N_PORT + N_PORT) /* + NodePorts */

typedef struct {
  int live;
  uint32_t id;
  uint32_t be; /* its backend: 10.1.0.0 + be, port 8080 */
} model_t;

#define N_BE 5000
#define N_WORKERS 4

/* The owner of one packet src:sport -> dst:dport (TCP), asked from worker 0. */
static uint16_t owner(cdn_ctx_t *ctx, cp_addr_t src, uint16_t sport, cp_addr_t dst, uint16_t dport)
{
  uint8_t buf[128];
  uint32_t len = mkpkt(buf, 4, CP_IPPROTO_TCP, src, dst, sport, dport, 0x12);
  uint8_t *data[1] = {buf};
  uint16_t o = 0xffff;
  cdn_flow_owner_burst(ctx, 0, data, &len, 1, &o);
  return o;
}

/* Replies from live backends go to the owner of their client (the owner of the client's
 * forward packet to a live VIP); from addresses that are no longer backends they do not
 * in general (a symmetric hash: equal by chance one time in N_WORKERS). */
static void check_markers(cdn_ctx_t *ctx, const uint32_t *be_refs, cp_addr_t vip, uint16_t vport,
                          unsigned long long *s)
{
  uint32_t dead = 0, dead_differ = 0;
  for (uint32_t b = 1; b <= N_BE; b += 7) {
    cp_addr_t client = v4(0xc0a80000u + (uint32_t)(cp_test_rand(s) % 60000));
    uint16_t cport = (uint16_t)(1024 + cp_test_rand(s) % 60000);
    uint16_t fwd = owner(ctx, client, cport, vip, vport);
    uint16_t rep = owner(ctx, v4(0x0a010000u + b), 8080, client, cport);
    CHECK(fwd < N_WORKERS && rep < N_WORKERS);
    if (be_refs[b])
      CHECK_EQ(rep, fwd);
    else {
      dead++;
      dead_differ += rep != fwd;
    }
  }
  CHECK(dead < 20 || dead_differ > dead / 2);
}

static cdn_translation_t key_of(uint32_t k, cdn_backend_t *be)
{
  cdn_translation_t t;
  memset(&t, 0, sizeof(t));
  t.af = 4;
  t.proto = CP_IPPROTO_TCP;
  t.port = (uint16_t)(1000 + k % N_PORT);
  if (k / N_PORT == N_ADDR)
    t.kind = CDN_VIP_NODE_PORT; /* zero VIP */
  else
    t.vip = v4(0x0a600000u + k / N_PORT);
  t.n_backends = 1;
  t.backends = be;
  return t;
}

/* What a SYN to addr:port sees: 1 translated, 0 forwarded untouched, -1 dropped as a VIP
 * port without translation. */
static int probe(cdn_ctx_t *ctx, cp_addr_t dst, uint16_t port, uint16_t sport)
{
  uint8_t buf[128];
  uint32_t len = mkpkt(buf, 4, CP_IPPROTO_TCP, v4(0xc0a80001u), dst, sport, port, 0x02);
  uint8_t *data[1] = {buf};
  cdn_result_t r;
  uint32_t n = cdn_process_burst(ctx, 0, data, &len, NULL, 1, 1000, &r);
  if (n)
    return 1;
  return r.error == CDN_E_VIP_NO_PORT ? -1 : 0;
}

static void test_key_table_churn_matches_the_model(void)
{
  cdn_config_t c = {0};
  c.n_workers = N_WORKERS;
  c.max_sessions = 1 << 16;
  c.max_translations = 4096;
  int err = 1;
  cdn_ctx_t *ctx = cdn_create(&c, &err);
  CHECK(ctx && err == 0);
  static model_t m[N_KEYS];
  static uint32_t be_refs[N_BE + 1];
  memset(m, 0, sizeof(m));
  memset(be_refs, 0, sizeof(be_refs));
  unsigned long long s = 99;
  uint16_t sport = 1;
  for (int step = 0; step < 6000; step++) {
    uint32_t k = (uint32_t)(cp_test_rand(&s) % N_KEYS);
    cdn_backend_t be = {0};
    be.af = 4;
    uint32_t bi = (uint32_t)(cp_test_rand(&s) % N_BE) + 1;
    be.addr = v4(0x0a010000u + bi);
    be.port = 8080;
    be.weight = 1;
    cdn_translation_t t = key_of(k, &be);
    /* grow the population first, then churn around half full */
    int add = step < 1500 || (cp_test_rand(&s) & 1);
    if (add) {
      uint32_t id;
      CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);
      if (m[k].live) {
        CHECK_EQ(id, m[k].id); /* a replace keeps the id */
        be_refs[m[k].be]--;
      }
      m[k].live = 1;
      m[k].id = id;
      m[k].be = bi;
      be_refs[bi]++;
    } else if (m[k].live) {
      CHECK_EQ(cdn_translation_del(ctx, m[k].id), 0);
      m[k].live = 0;
      be_refs[m[k].be]--;
    } else {
      CHECK_EQ(cdn_translation_del(ctx, c.max_translations + k), -ENOENT); /* bad id */
    }
    if (step % 500 == 499 || step == 5999) {
      uint32_t live = 0;
      for (uint32_t j = 0; j < N_KEYS; j++) {
        cdn_translation_t q = key_of(j, &be);
        uint32_t id = 0;
        int rv = cdn_translation_find(ctx, q.af, &q.vip, q.proto, q.port, q.kind, &id);
        CHECK_EQ(rv, m[j].live ? 0 : -ENOENT);
        if (m[j].live)
          CHECK_EQ(id, m[j].id);
        live += (uint32_t)m[j].live;
        if (q.kind == CDN_VIP_NODE_PORT)
          continue;
        int addr_live = 0;
        for (uint32_t p = 0; p < N_PORT; p++)
          addr_live |= m[(j / N_PORT) * N_PORT + p].live;
        int want = m[j].live ? 1 : addr_live ? -1 : 0;
        CHECK_EQ(probe(ctx, q.vip, q.port, sport++), want);
      }
      CHECK_EQ(cdn_translation_count(ctx), live);
      for (uint32_t j = 0; j < N_ADDR * N_PORT; j++)
        if (m[j].live) { /* a live ClusterIP key: the forward packets' side */
          cdn_translation_t q = key_of(j, &be);
          check_markers(ctx, be_refs, q.vip, q.port, &s);
          break;
        }
      CHECK_EQ(probe(ctx, v4(0x0b000001u), 1000, sport++), 0); /* never a VIP */
    }
  }
  cdn_destroy(ctx);
}

int main(void)
{
  RUN(test_key_table_churn_matches_the_model);
  TEST_MAIN_END();
}
