/* calico_dnat core through its public API: validation (a failed call changes nothing),
 * translation replace/delete semantics, the policy hook, and configuration updates
 * racing a worker (run under ASan/UBSan in CI: a premature free shows up there). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "calico_dnat.h"
#include "cdn_test_policy.h"
#include "cp_test.h"
#include "pktgen.h"

static cdn_ctx_t *mk(uint32_t workers)
{
  cdn_config_t c = {0};
  c.n_workers = workers;
  c.max_sessions = 1024;
  int err = 1;
  cdn_ctx_t *ctx = cdn_create(&c, &err);
  CHECK(ctx && err == 0);
  return ctx;
}

static cdn_translation_t xl(uint8_t af, cp_addr_t vip, uint16_t port, cdn_backend_t *be,
                            uint32_t n)
{
  cdn_translation_t t;
  memset(&t, 0, sizeof(t));
  t.vip = vip;
  t.port = port;
  t.proto = CP_IPPROTO_TCP;
  t.af = af;
  t.n_backends = n;
  t.backends = be;
  return t;
}

static cdn_backend_t bk(uint8_t af, cp_addr_t a, uint16_t port)
{
  cdn_backend_t b;
  memset(&b, 0, sizeof(b));
  b.addr = a;
  b.port = port;
  b.weight = 1;
  b.af = af;
  return b;
}

static void test_bad_translations_are_refused_and_change_nothing(void)
{
  cdn_ctx_t *ctx = mk(1);
  cdn_backend_t be[2] = {bk(4, v4(0x0a010001), 80), bk(4, v4(0x0a010001), 80)};
  cdn_translation_t t = xl(4, v4(0x0a600001), 80, be, 2);
  uint32_t id = 0;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EINVAL); /* duplicate backend */
  be[1] = bk(6, v6(1, 1), 80);
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EAFNOSUPPORT); /* family mismatch */
  be[1] = bk(4, v4(0x0a010002), 0);
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EINVAL); /* backend port 0 */
  be[1].port = 80;
  t.port = 0;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EINVAL); /* service port 0 */
  t.port = 80;
  t.proto = CP_IPPROTO_ICMP;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EINVAL);
  t.proto = CP_IPPROTO_TCP;
  t.vip = v4(0);
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EINVAL); /* no VIP */
  t.vip = v4(0x0a600001);
  t.hash_fields = 0x40;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EINVAL);
  t.hash_fields = 0;
  t.af = 5;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), -EINVAL);
  CHECK_EQ(cdn_translation_count(ctx), 0);
  t.af = 4;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);
  CHECK_EQ(cdn_translation_count(ctx), 1);
  cdn_translation_t back;
  cdn_backend_t got[4];
  CHECK_EQ(cdn_translation_get(ctx, id, &back, got, 4), 2);
  CHECK_EQ(back.port, 80);
  CHECK_EQ(got[1].port, 80);
  CHECK_EQ(cdn_translation_del(ctx, id), 0);
  CHECK_EQ(cdn_translation_del(ctx, id), -ENOENT);
  CHECK_EQ(cdn_translation_get(ctx, id, &back, NULL, 0), -ENOENT);
  cdn_destroy(ctx);
}

static void test_bad_configuration_is_refused(void)
{
  cdn_config_t c = {0};
  int err = 0;
  CHECK(cdn_create(&c, &err) == NULL);
  CHECK_EQ(err, -EINVAL);
  c.n_workers = CDN_MAX_WORKERS + 1;
  c.max_sessions = 10;
  CHECK(cdn_create(&c, &err) == NULL);
  c.n_workers = 4;
  c.snat_port_min = 100;
  c.snat_port_max = 101; /* fewer ports than workers */
  CHECK(cdn_create(&c, &err) == NULL);
  CHECK(cdn_create(NULL, &err) == NULL);
}

static void test_kept_backends_keep_their_id_and_removed_ones_go_stale(void)
{
  cdn_ctx_t *ctx = mk(1);
  cdn_backend_t be[3] = {bk(6, v6(1, 1), 80), bk(6, v6(1, 2), 80), bk(6, v6(1, 3), 80)};
  cdn_translation_t t = xl(6, v6(96, 1), 80, be, 3);
  uint32_t id;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);
  /* one flow per backend */
  uint8_t bufs[64][128], *data[64];
  uint32_t len[64];
  cdn_result_t res[64];
  for (int i = 0; i < 64; i++) {
    data[i] = bufs[i];
    len[i] = mkpkt(bufs[i], 6, CP_IPPROTO_TCP, v6(2, (uint32_t)i), v6(96, 1), 1000, 80, 0x02);
  }
  cdn_process_burst(ctx, 0, data, len, NULL, 64, 0, res);
  uint32_t per[3] = {0};
  uint32_t ids[3];
  for (int i = 0; i < 64; i++) {
    CHECK(csum_ok(bufs[i], len[i]));
    cdn_backend_t b;
    CHECK_EQ(cdn_backend_get(ctx, res[i].backend, &b), 0);
    int k = b.addr.b[15] - 1;
    CHECK(k >= 0 && k < 3);
    per[k]++;
    ids[k] = res[i].backend;
  }
  CHECK(per[0] && per[1] && per[2]);
  /* drop the middle backend */
  be[1] = be[2];
  t.n_backends = 2;
  uint32_t id2;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id2), 0);
  CHECK_EQ(id2, id);
  cdn_backend_t b;
  CHECK_EQ(cdn_backend_get(ctx, ids[0], &b), 0);
  CHECK_EQ(cdn_backend_get(ctx, ids[2], &b), 0);
  CHECK_EQ(cdn_backend_get(ctx, ids[1], &b), -ENOENT);
  uint32_t live = 0;
  for (uint32_t i = cdn_session_next(ctx, 0, CDN_INVALID_ID); i != CDN_INVALID_ID;
       i = cdn_session_next(ctx, 0, i))
    live++;
  CHECK_EQ(live, per[0] + per[2]);
  CHECK_EQ(cdn_expire(ctx, 0, 1, 0), per[1]);
  cdn_destroy(ctx);
}

static void test_policy_hook_verdicts_are_cached_per_flow(void)
{
  cdn_ctx_t *ctx = mk(1);
  cdn_backend_t be[1] = {bk(4, v4(0x0a010001), 8080)};
  cdn_translation_t t = xl(4, v4(0x0a600001), 80, be, 1);
  uint32_t id;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);
  cdn_test_policy_t *pol = cdn_test_policy_create();
  CHECK_EQ(cdn_test_policy_attach(pol, ctx), 0);
  CHECK_EQ(cdn_test_policy_deny_dport(pol, 8080), 0);
  uint8_t bufs[8][64], *data[8];
  uint32_t len[8];
  cdn_result_t res[8];
  for (int i = 0; i < 8; i++) {
    data[i] = bufs[i];
    len[i] = mkpkt(bufs[i], 4, CP_IPPROTO_TCP, v4(0x0b000001), v4(0x0a600001), 1000, 80, 0x02);
  }
  cdn_process_burst(ctx, 0, data, len, NULL, 8, 0, res);
  for (int i = 0; i < 8; i++) {
    CHECK_EQ(res[i].next, CDN_NEXT_DROP);
    CHECK_EQ(res[i].error, CDN_E_POLICY_DENY);
  }
  CHECK_EQ(cdn_test_policy_calls(pol), 1);
  cdn_test_policy_clear(pol);
  for (int i = 0; i < 8; i++)
    len[i] = mkpkt(bufs[i], 4, CP_IPPROTO_TCP, v4(0x0b000001), v4(0x0a600001), 1000, 80, 0x10);
  cdn_process_burst(ctx, 0, data, len, NULL, 8, 0, res);
  for (int i = 0; i < 8; i++)
    CHECK_EQ(res[i].verdict, CP_VERDICT_ALLOW);
  CHECK_EQ(cdn_test_policy_calls(pol), 2);
  CHECK_EQ(cdn_test_policy_detach(ctx), 0);
  cdn_test_policy_destroy(pol);
  cdn_destroy(ctx);
}

/* ---- a worker racing the control thread ---------------------------------------------- */
typedef struct {
  cdn_ctx_t *ctx;
  atomic_int stop;
  uint64_t rewritten;
  int bad;
} race_t;

static void *worker(void *arg)
{
  race_t *r = arg;
  static uint8_t bufs[256][64];
  uint8_t *data[256];
  uint32_t len[256];
  cdn_result_t res[256];
  uint32_t now = 0, round = 0;
  while (!atomic_load(&r->stop)) {
    for (uint32_t i = 0; i < 256; i++) {
      data[i] = bufs[i];
      len[i] = mkpkt(bufs[i], 4, CP_IPPROTO_TCP, v4(0x0b000000u + (round * 256 + i) % 5000),
                     v4(0x0a600000u + i % 4), 1000, 80, 0x02);
    }
    r->rewritten += cdn_process_burst(r->ctx, 0, data, len, NULL, 256, now, res);
    for (uint32_t i = 0; i < 256; i++)
      if (res[i].flags & CDN_R_DNAT) {
        cp_pkt_t p;
        if (cp_pkt_parse(bufs[i], len[i], &p) != CP_PKT_OK || p.dst.b[0] != 10 ||
            p.dst.b[1] != 1 || p.dport != 8080 || !csum_ok(bufs[i], len[i]))
          r->bad++;
      }
    now += 7;
    round++;
  }
  return NULL;
}

static void test_updates_race_a_worker_safely(void)
{
  cdn_config_t c = {0};
  c.n_workers = 1;
  c.max_sessions = 8192;
  c.tcp_syn_ms = 50;
  cdn_ctx_t *ctx = cdn_create(&c, NULL);
  race_t r = {ctx, 0, 0, 0};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, worker, &r), 0);
  unsigned long long seed = 7;
  for (int k = 0; k < 3000; k++) {
    uint32_t v = (uint32_t)(cp_test_rand(&seed) % 4);
    cdn_backend_t be[8];
    uint32_t n = (uint32_t)(cp_test_rand(&seed) % 8);
    for (uint32_t i = 0; i < n; i++)
      be[i] = bk(4, v4(0x0a010001u + i), 8080);
    cdn_translation_t t = xl(4, v4(0x0a600000u + v), 80, be, n);
    uint32_t id;
    if (cp_test_rand(&seed) % 3 == 0) {
      if (cdn_translation_find(ctx, 4, &t.vip, CP_IPPROTO_TCP, 80, 0, &id) == 0)
        CHECK_EQ(cdn_translation_del(ctx, id), 0);
    } else {
      CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);
    }
  }
  atomic_store(&r.stop, 1);
  pthread_join(th, NULL);
  CHECK_EQ(r.bad, 0);
  CHECK(r.rewritten > 0);
  cdn_destroy(ctx);
}

int main(void)
{
  RUN(test_bad_translations_are_refused_and_change_nothing);
  RUN(test_bad_configuration_is_refused);
  RUN(test_kept_backends_keep_their_id_and_removed_ones_go_stale);
  RUN(test_policy_hook_verdicts_are_cached_per_flow);
  RUN(test_updates_race_a_worker_safely);
  TEST_MAIN_END();
}
