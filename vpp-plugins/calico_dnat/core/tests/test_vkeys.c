/* The VIP key table under churn: translations added, replaced and deleted at random
 * (sharing VIP addresses, NodePorts among them, across several table grows) agree with a
 * reference model after every step — by id lookup and by what packets see (a translated
 * VIP port, a VIP address without that port, a non-VIP address). Run under ASan/UBSan in
 * CI, where a page freed while a snapshot still used it would show. */
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
} model_t;

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
  c.n_workers = 1;
  c.max_sessions = 1 << 16;
  c.max_translations = 4096;
  int err = 1;
  cdn_ctx_t *ctx = cdn_create(&c, &err);
  CHECK(ctx && err == 0);
  static model_t m[N_KEYS];
  memset(m, 0, sizeof(m));
  unsigned long long s = 99;
  uint16_t sport = 1;
  for (int step = 0; step < 6000; step++) {
    uint32_t k = (uint32_t)(cp_test_rand(&s) % N_KEYS);
    cdn_backend_t be = {0};
    be.af = 4;
    be.addr = v4(0x0a010000u + (uint32_t)(cp_test_rand(&s) % 5000) + 1);
    be.port = 8080;
    be.weight = 1;
    cdn_translation_t t = key_of(k, &be);
    /* grow the population first, then churn around half full */
    int add = step < 1500 || (cp_test_rand(&s) & 1);
    if (add) {
      uint32_t id;
      CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);
      if (m[k].live)
        CHECK_EQ(id, m[k].id); /* a replace keeps the id */
      m[k].live = 1;
      m[k].id = id;
    } else if (m[k].live) {
      CHECK_EQ(cdn_translation_del(ctx, m[k].id), 0);
      m[k].live = 0;
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
