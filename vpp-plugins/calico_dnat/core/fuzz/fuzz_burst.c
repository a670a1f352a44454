/*
 * libFuzzer target: random configuration and random packets through cdn_process_burst.
 * Input: a configuration prefix (translations, backends, node/SNAT addresses, natOutgoing
 * prefixes, a policy hook), then packets, each [mode][len hi][len lo][bytes]. The mode can
 * aim a packet at a VIP or make it come from a backend, so that the session, SNAT and
 * ICMP paths are reached, not only the parser. Besides ASan/UBSan it checks: nothing is
 * rewritten into an unparseable packet, a valid IPv4 header checksum stays valid,
 * session and SNAT port counts stay consistent, and everything is freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.h"
#include "cdn_test_policy.h"
#include "cp/csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *p;
  size_t n;
} rd_t;

static uint8_t take(rd_t *r)
{
  if (!r->n)
    return 0;
  r->n--;
  return *r->p++;
}

static cp_addr_t mkaddr(uint8_t af, uint8_t net, uint8_t host)
{
  cp_addr_t a;
  memset(&a, 0, sizeof(a));
  if (af == 4) {
    a.b[0] = 10;
    a.b[1] = net;
    a.b[3] = host;
  } else {
    a.b[0] = 0xfd;
    a.b[3] = net;
    a.b[15] = host;
  }
  return a;
}

static void put_addr(uint8_t *pkt, uint32_t len, int dst, const cp_addr_t *a)
{
  if (len >= 20 && pkt[0] >> 4 == 4)
    memcpy(pkt + (dst ? 16 : 12), a->b, 4);
  else if (len >= 40 && pkt[0] >> 4 == 6)
    memcpy(pkt + (dst ? 24 : 8), a->b, 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  rd_t r = {data, size};
  cdn_config_t c;
  memset(&c, 0, sizeof(c));
  c.n_workers = 1u + (take(&r) & 3);
  c.owner_first = c.n_workers > 1 ? take(&r) & 1 : 0;
  const uint32_t wk = c.n_workers - 1; /* processes the bursts: always an owner */
  c.max_sessions = 1u + (take(&r) & 63);
  c.max_translations = 8;
  c.max_backends = 32;
  c.affinity_entries = 8;
  c.snat_port_min = 1000;
  c.snat_port_max = (uint16_t)(1003 + (take(&r) & 31));
  c.tcp_syn_ms = c.udp_ms = c.icmp_ms = c.other_ms = 50;
  cdn_ctx_t *ctx = cdn_create(&c, NULL);
  if (!ctx)
    return 0;
  cdn_test_policy_t *pol = cdn_test_policy_create();

  /* configuration */
  uint8_t nx = take(&r) & 7;
  for (uint8_t k = 0; k < nx; k++) {
    uint8_t f = take(&r), g = take(&r);
    uint8_t af = (f & 1) ? 6 : 4;
    cdn_backend_t be[6];
    uint8_t nb = g % 7;
    for (uint8_t i = 0; i < nb; i++) {
      uint8_t b = take(&r);
      memset(&be[i], 0, sizeof(be[i]));
      be[i].addr = mkaddr((b & 0x80) ? (uint8_t)(10 - af) : af, 1, (uint8_t)(b & 7));
      be[i].port = (uint16_t)(take(&r) & 3);
      be[i].weight = (uint16_t)(take(&r) & 3);
      be[i].flags = (uint8_t)((b >> 3) & 7);
      be[i].af = (b & 0x80) ? (uint8_t)(10 - af) : af;
    }
    cdn_translation_t t;
    memset(&t, 0, sizeof(t));
    t.vip = mkaddr(af, 96, (uint8_t)((f >> 1) & 3));
    t.port = (uint16_t)((f >> 3) & 3);
    t.proto = (g & 0x80) ? CP_IPPROTO_UDP : (g & 0x40) ? CP_IPPROTO_SCTP : CP_IPPROTO_TCP;
    t.af = af;
    t.kind = (uint8_t)((f >> 5) & 3);
    t.flags = (g >> 3) & 7;
    t.n_backends = nb;
    t.backends = be;
    uint32_t id;
    cdn_translation_update(ctx, &t, &id); /* errors are part of the game */
  }
  uint8_t misc = take(&r);
  for (uint8_t af = 4; af <= 6; af += 2) {
    cp_addr_t node = mkaddr(af, 50, 1);
    if (misc & 1)
      cdn_node_addr_add(ctx, af, &node);
    if (misc & 2)
      cdn_snat_addr_set(ctx, af, &node);
    cp_addr_t pool = mkaddr(af, 2, 0);
    if (misc & 4)
      cdn_snat_prefix_add(ctx, CDN_PFX_NAT_OUTGOING, af, &pool, af == 4 ? 16 : 32);
    cp_addr_t excl = mkaddr(af, 1, 0);
    if (misc & 8)
      cdn_snat_prefix_add(ctx, CDN_PFX_EXCLUDE, af, &excl, af == 4 ? 16 : 32);
  }
  if (pol && (misc & 16)) {
    cdn_test_policy_attach(pol, ctx);
    cdn_test_policy_deny_dport(pol, 2);
  }

  /* packets */
  enum { MAXP = 32 };
  uint8_t *pk[MAXP];
  uint8_t in_ok[MAXP];
  uint32_t len[MAXP];
  cdn_meta_t meta[MAXP];
  cdn_result_t res[MAXP];
  uint32_t n = 0;
  while (r.n >= 3 && n < MAXP) {
    uint8_t mode = take(&r);
    uint32_t l = ((uint32_t)take(&r) << 8 | take(&r)) & 0x7ff;
    if (l > r.n)
      l = (uint32_t)r.n;
    pk[n] = malloc(l ? l : 1); /* exact size: ASan sees any over-read */
    if (!pk[n])
      break;
    memcpy(pk[n], r.p, l);
    r.p += l;
    r.n -= l;
    len[n] = l;
    uint8_t af = l && pk[n][0] >> 4 == 6 ? 6 : 4;
    if (mode & 1) {
      cp_addr_t vip = mkaddr(af, 96, (uint8_t)((mode >> 1) & 3));
      put_addr(pk[n], l, 1, &vip);
    }
    if (mode & 8) {
      cp_addr_t b = mkaddr(af, 1, (uint8_t)((mode >> 4) & 7));
      put_addr(pk[n], l, 0, &b);
    }
    meta[n].endpoint = mode;
    meta[n].from_pod = (mode >> 7) & 1;
    meta[n].dir = 0;
    cp_pkt_t v;
    in_ok[n] = cp_pkt_parse(pk[n], l, &v) == CP_PKT_OK && v.af == 4 && cp_csum(pk[n], 20) == 0;
    n++;
  }
  uint32_t now = 0;
  uint16_t owner[MAXP];
  cdn_flow_owner_burst(ctx, 0, pk, len, n, owner); /* asked from any worker */
  for (uint32_t i = 0; i < n; i++)
    if (owner[i] >= c.n_workers)
      abort();
  for (int pass = 0; pass < 2; pass++) {
    cdn_process_burst(ctx, wk, pk, len, meta, n, now, res);
    for (uint32_t i = 0; i < n; i++) {
      if (res[i].next > CDN_NEXT_DROP || res[i].error >= CDN_E_N)
        abort();
      if (res[i].flags & (CDN_R_DNAT | CDN_R_SNAT | CDN_R_REVERSE)) {
        cp_pkt_t v;
        if (cp_pkt_parse(pk[i], len[i], &v) != CP_PKT_OK)
          abort();
        if (in_ok[i] && cp_csum(pk[i], 20) != 0)
          abort(); /* a valid IPv4 header checksum must stay valid */
      }
    }
    if (cdn_sessions_count(ctx, wk) > c.max_sessions)
      abort();
    if (cdn_snat_ports_in_use(ctx, wk) > cdn_sessions_count(ctx, wk))
      abort();
    now += 40;
  }
  /* expiry frees everything, including the SNAT ports */
  cdn_expire(ctx, wk, now + 100000, 0);
  if (cdn_sessions_count(ctx, wk) != 0 || cdn_snat_ports_in_use(ctx, wk) != 0)
    abort();
  for (uint32_t i = 0; i < n; i++)
    free(pk[i]);
  cdn_destroy(ctx);
  cdn_test_policy_destroy(pol);
  return 0;
}
