/* Session table: fills to its limit at the designed load, finds every flow again in both
 * directions, frees exactly, and survives churn against a reference count. */
#include <errno.h>
#include <stdlib.h>

#include "calico_dnat.h"
#include "cp_test.h"
#include "pktgen.h"

#define VIP 0x0a600064u /* 10.96.0.100 */
#define BE 0x0a010001u  /* 10.1.0.1 */

static cdn_ctx_t *mk(uint32_t max_sessions)
{
  cdn_config_t c = {0};
  c.n_workers = 1;
  c.max_sessions = max_sessions;
  c.udp_ms = 1000;
  int err = 0;
  cdn_ctx_t *ctx = cdn_create(&c, &err);
  CHECK(ctx != NULL);
  cdn_backend_t be[4];
  memset(be, 0, sizeof(be));
  for (int i = 0; i < 4; i++) {
    be[i].addr = v4(BE + (uint32_t)i);
    be[i].port = 53;
    be[i].weight = 1;
    be[i].af = 4;
  }
  cdn_translation_t t;
  memset(&t, 0, sizeof(t));
  t.vip = v4(VIP);
  t.port = 53;
  t.proto = CP_IPPROTO_UDP;
  t.af = 4;
  t.n_backends = 4;
  t.backends = be;
  uint32_t id;
  CHECK_EQ(cdn_translation_update(ctx, &t, &id), 0);
  return ctx;
}

/* Flow f: client 10.(f>>16).(f>>8).(f) port 1000 + f % 7 */
static uint32_t flow_pkt(uint8_t *b, uint32_t f, int reply, uint32_t be_addr, uint16_t cport)
{
  cp_addr_t c = v4(0x0b000000u + f);
  if (!reply)
    return mkpkt(b, 4, CP_IPPROTO_UDP, c, v4(VIP), (uint16_t)(1000 + f % 7), 53, 0);
  return mkpkt(b, 4, CP_IPPROTO_UDP, v4(be_addr), c, 53, cport, 0);
}

/* A burst of up to 256 packets of 64 bytes. */
typedef struct {
  uint8_t bufs[256][64];
  uint8_t *data[256];
  uint32_t len[256];
  cdn_result_t res[256];
} vec_t;

static vec_t *vec_init(vec_t *v)
{
  for (int i = 0; i < 256; i++)
    v->data[i] = v->bufs[i];
  return v;
}

static void test_table_fills_to_its_limit_and_finds_every_flow(void)
{
  enum { N = 50000 };
  cdn_ctx_t *ctx = mk(N);
  static vec_t vec;
  vec_t *v = vec_init(&vec);
  uint32_t created = 0;
  for (uint32_t f = 0; f < N + 100; f += 256) {
    uint32_t m = 0;
    for (; m < 256 && f + m < N + 100; m++)
      v->len[m] = flow_pkt(v->bufs[m], f + m, 0, 0, 0);
    cdn_process_burst(ctx, 0, v->data, v->len, NULL, m, 1, v->res);
    for (uint32_t i = 0; i < m; i++) {
      if (f + i < N) {
        CHECK(v->res[i].flags & CDN_R_NEW);
        CHECK(csum_ok(v->bufs[i], v->len[i]));
      } else {
        CHECK_EQ(v->res[i].error, CDN_E_SESSION_LIMIT);
      }
      created += !!(v->res[i].flags & CDN_R_NEW);
    }
  }
  CHECK_EQ(created, N);
  CHECK_EQ(cdn_sessions_count(ctx, 0), N);
  CHECK(cdn_session_bytes_per_flow(ctx) <= 128.0);
  /* every flow is found again, forward and return */
  uint32_t hits = 0, rev = 0;
  for (uint32_t f = 0; f < N; f += 256) {
    uint32_t m = 0;
    for (; m < 256 && f + m < N; m++)
      v->len[m] = flow_pkt(v->bufs[m], f + m, 0, 0, 0);
    cdn_process_burst(ctx, 0, v->data, v->len, NULL, m, 2, v->res);
    for (uint32_t i = 0; i < m; i++) {
      hits += v->res[i].session != CDN_INVALID_ID && !(v->res[i].flags & CDN_R_NEW);
      /* the rewritten packet's destination is the backend: answer from it */
      cp_pkt_t p;
      cp_pkt_parse(v->bufs[i], v->len[i], &p);
      uint32_t be = (uint32_t)p.dst.b[0] << 24 | (uint32_t)p.dst.b[1] << 16 |
                    (uint32_t)p.dst.b[2] << 8 | p.dst.b[3];
      v->len[i] = flow_pkt(v->bufs[i], f + i, 1, be, p.sport);
    }
    cdn_process_burst(ctx, 0, v->data, v->len, NULL, m, 2, v->res);
    for (uint32_t i = 0; i < m; i++) {
      rev += !!(v->res[i].flags & CDN_R_REVERSE);
      CHECK(csum_ok(v->bufs[i], v->len[i]));
    }
  }
  CHECK_EQ(hits, N);
  CHECK_EQ(rev, N);
  CHECK_EQ(cdn_sessions_flush(ctx, 0), N);
  CHECK_EQ(cdn_sessions_count(ctx, 0), 0);
  cdn_destroy(ctx);
}

static void test_churn_matches_a_reference_model(void)
{
  enum { N = 2000, F = 6000 };
  cdn_ctx_t *ctx = mk(N);
  static uint32_t ref_exp[F]; /* reference: expiry of flow f's session, 0 when none */
  static uint8_t bufs[64][64];
  uint8_t *data[64];
  uint32_t len[64];
  cdn_result_t res[64];
  for (int i = 0; i < 64; i++)
    data[i] = bufs[i];
  unsigned long long seed = 42;
  for (int step = 1; step < 300; step++) {
    uint32_t now = (uint32_t)step * 100; /* udp timeout 1000 ms = 10 steps */
    uint32_t fl[64];
    for (uint32_t m = 0; m < 64; m++) {
      fl[m] = (uint32_t)(cp_test_rand(&seed) % F);
      len[m] = flow_pkt(bufs[m], fl[m], 0, 0, 0);
    }
    cdn_process_burst(ctx, 0, data, len, NULL, 64, now, res);
    for (uint32_t m = 0; m < 64; m++) {
      int alive = ref_exp[fl[m]] && (int32_t)(ref_exp[fl[m]] - now) > 0;
      CHECK_EQ(!!(res[m].flags & CDN_R_NEW), !alive);
      ref_exp[fl[m]] = now + 1000;
    }
    cdn_expire(ctx, 0, now, 0); /* full sweep: the table must equal the reference */
    uint32_t live = 0, ref_live = 0;
    for (uint32_t f = 0; f < F; f++)
      ref_live += ref_exp[f] && (int32_t)(ref_exp[f] - now) > 0;
    for (uint32_t i = cdn_session_next(ctx, 0, CDN_INVALID_ID); i != CDN_INVALID_ID;
         i = cdn_session_next(ctx, 0, i)) {
      cdn_session_info_t s;
      CHECK_EQ(cdn_session_get(ctx, 0, i, &s), 0);
      uint32_t f = ((uint32_t)s.client.b[1] << 16 | (uint32_t)s.client.b[2] << 8 | s.client.b[3]);
      CHECK(f < F && ref_exp[f] == s.expires_ms);
      live++;
    }
    CHECK_EQ(live, ref_live);
    CHECK_EQ(live, cdn_sessions_count(ctx, 0));
  }
  cdn_destroy(ctx);
}

/* The sweep between bursts follows the clock: bursts at one instant owe it nothing, a
 * long gap owes one full pass (taken 64 records a burst), and steady time owes the table's
 * share of it. Expired flows (udp 1 s) are freed by bursts of packets that match nothing. */
static void test_sweep_between_bursts_follows_the_clock(void)
{
  enum { N = 2000, CAP = 4000 };
  cdn_ctx_t *ctx = mk(CAP);
  static vec_t vec;
  vec_t *v = vec_init(&vec);
  for (uint32_t f = 0; f < N; f += 256) {
    uint32_t m = 0;
    for (; m < 256 && f + m < N; m++)
      v->len[m] = flow_pkt(v->bufs[m], f + m, 0, 0, 0);
    cdn_process_burst(ctx, 0, v->data, v->len, NULL, m, 100, v->res);
  }
  CHECK_EQ(cdn_sessions_count(ctx, 0), N);
  /* one packet to nobody: only the sweep can free anything */
  v->len[0] = mkpkt(v->bufs[0], 4, CP_IPPROTO_UDP, v4(0x0c000001u), v4(0x0c000002u), 1, 2, 0);
  /* the first bursts after the creation instant (t = 100 ms) owe the sweep the records
   * of the 100 ms since the worker started (CAP / 10); nothing has expired yet */
  for (int k = 0; k < 20; k++)
    cdn_process_burst(ctx, 0, v->data, v->len, NULL, 1, 100, v->res);
  CHECK_EQ(cdn_sessions_count(ctx, 0), N);
  /* 2 s later every flow has expired; the gap owes one full pass, 64 records a burst */
  uint32_t before = cdn_sessions_count(ctx, 0), bursts = 0;
  while (cdn_sessions_count(ctx, 0) && bursts < 1000) {
    cdn_process_burst(ctx, 0, v->data, v->len, NULL, 1, 2100, v->res);
    bursts++;
    if (bursts == 1)
      CHECK(before - cdn_sessions_count(ctx, 0) <= 64);
  }
  CHECK_EQ(cdn_sessions_count(ctx, 0), 0);
  CHECK(bursts >= N / 64);
  CHECK(bursts <= CAP / 64 + 1);
  /* paid: more bursts at the same instant visit nothing (new flows stay) */
  for (uint32_t f = 0; f < 256; f++)
    v->len[f] = flow_pkt(v->bufs[f], f, 0, 0, 0);
  cdn_process_burst(ctx, 0, v->data, v->len, NULL, 256, 2100, v->res);
  CHECK_EQ(cdn_sessions_count(ctx, 0), 256);
  v->len[0] = mkpkt(v->bufs[0], 4, CP_IPPROTO_UDP, v4(0x0c000001u), v4(0x0c000002u), 1, 2, 0);
  /* steady time, 1 ms a burst: each burst owes CAP / 1000 = 4 records, so it frees at most
   * 4; the flows expire at t = 3100 and one pass later (1000 bursts) all are gone */
  uint32_t t = 2101, last = 256;
  for (; t <= 4101 && last; t++) {
    cdn_process_burst(ctx, 0, v->data, v->len, NULL, 1, t, v->res);
    uint32_t now_n = cdn_sessions_count(ctx, 0);
    CHECK(last - now_n <= 4);
    if (t < 3100)
      CHECK_EQ(now_n, 256); /* nothing expires early */
    last = now_n;
  }
  CHECK_EQ(last, 0);
  CHECK(t <= 4101);
  cdn_destroy(ctx);
}

int main(void)
{
  RUN(test_table_fills_to_its_limit_and_finds_every_flow);
  RUN(test_churn_matches_a_reference_model);
  RUN(test_sweep_between_bursts_follows_the_clock);
  TEST_MAIN_END();
}
