/* Fast-path pieces against their plain definitions.
 * The established fast rewrite (precomputed address checksum delta, cdn_rewrite_l4_fast)
 * writes exactly the bytes of the general rewrite (cdn_rewrite) for TCP and UDP, IPv4 and
 * IPv6, whatever the checksum fields hold (also wrong ones, 0, 0xffff, a zero UDP
 * checksum) and whichever addresses and ports change. */
#include <stddef.h>
#include <stdlib.h>

#include "cdn_rewrite_inline.h"
#include "cdn_session_inline.h"
#include "cp_test.h"
#include "pktgen.h"

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint32_t rnd32(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

static cp_addr_t rnd_addr(uint8_t af, const cp_addr_t *like)
{
  /* a third of the time: the same address (that side is not rewritten) */
  if (rnd32() % 3 == 0)
    return *like;
  uint32_t special[] = {0, 0xffffffffu, 0x0000ffffu, 0xffff0000u};
  uint32_t x = rnd32() % 4 == 0 ? special[rnd32() % 4] : rnd32();
  return af == 4 ? v4(x) : v6((uint16_t)rnd32(), x);
}

static uint16_t rnd_port(uint16_t like)
{
  uint16_t special[] = {0, 0xffff, 1, 0xff00};
  uint32_t c = rnd32() % 4;
  return c == 0 ? like : c == 1 ? special[rnd32() % 4] : (uint16_t)rnd32();
}

static void test_fast_rewrite_writes_exactly_the_general_rewrites_bytes(void)
{
  uint32_t mismatches = 0, cases = 0;
  for (uint32_t it = 0; it < 200000; it++) {
    uint8_t af = it & 1 ? 6 : 4;
    uint8_t proto = it & 2 ? CP_IPPROTO_UDP : CP_IPPROTO_TCP;
    cp_addr_t src = af == 4 ? v4(rnd32()) : v6((uint16_t)rnd32(), rnd32());
    cp_addr_t dst = af == 4 ? v4(rnd32()) : v6((uint16_t)rnd32(), rnd32());
    uint8_t a[128], b[128];
    uint32_t len = mkpkt(a, af, proto, src, dst, (uint16_t)rnd32(), (uint16_t)rnd32(), 0x10);
    uint8_t *l4 = a + (af == 4 ? 20 : 40);
    uint8_t *lc = l4 + (proto == CP_IPPROTO_TCP ? 16 : 6);
    switch (rnd32() % 5) { /* checksum fields: right, random, 0, 0xffff */
    case 1:
      lc[0] = (uint8_t)rnd32();
      lc[1] = (uint8_t)rnd32();
      break;
    case 2:
      lc[0] = lc[1] = 0;
      break;
    case 3:
      lc[0] = lc[1] = 0xff;
      break;
    default:
      break;
    }
    if (af == 4 && rnd32() % 4 == 0) {
      a[10] = (uint8_t)rnd32();
      a[11] = rnd32() % 2 ? 0xff : (uint8_t)rnd32();
    }
    cp_pkt_t p;
    CHECK_EQ(cp_pkt_parse(a, len, &p), CP_PKT_OK);
    cp_addr_t ns = rnd_addr(af, &src), nd = rnd_addr(af, &dst);
    uint16_t nsp = rnd_port(p.sport), ndp = rnd_port(p.dport);
    memcpy(b, a, len);
    cdn_rewrite(a, &p, &ns, nsp, &nd, ndp);
    uint16_t delta = cdn_addr_delta(af, &src, &ns, &dst, &nd);
    cdn_rewrite_l4_fast(b, &p, &ns, nsp, &nd, ndp, delta);
    cases++;
    if (memcmp(a, b, len)) {
      if (mismatches++ < 5)
        fprintf(stderr, "mismatch: af %u proto %u iteration %u\n", af, proto, it);
    }
  }
  CHECK_EQ(mismatches, 0);
  CHECK_EQ(cases, 200000);
}

static void test_fast_rewrite_of_a_valid_packet_leaves_valid_checksums(void)
{
  for (uint32_t it = 0; it < 2000; it++) {
    uint8_t af = it & 1 ? 6 : 4;
    uint8_t proto = it & 2 ? CP_IPPROTO_UDP : CP_IPPROTO_TCP;
    cp_addr_t src = af == 4 ? v4(rnd32()) : v6(7, rnd32());
    cp_addr_t dst = af == 4 ? v4(rnd32()) : v6(9, rnd32());
    uint8_t a[128];
    uint32_t len = mkpkt(a, af, proto, src, dst, (uint16_t)rnd32(), (uint16_t)rnd32(), 0x10);
    cp_pkt_t p;
    CHECK_EQ(cp_pkt_parse(a, len, &p), CP_PKT_OK);
    cp_addr_t ns = af == 4 ? v4(rnd32()) : v6(3, rnd32());
    cp_addr_t nd = af == 4 ? v4(rnd32()) : v6(4, rnd32());
    uint16_t nsp = (uint16_t)rnd32(), ndp = (uint16_t)rnd32();
    cdn_rewrite_l4_fast(a, &p, &ns, nsp, &nd, ndp, cdn_addr_delta(af, &src, &ns, &dst, &nd));
    uint32_t l3 = af == 4 ? 20 : 40;
    if (af == 4)
      CHECK_EQ(cp_csum(a, 20), 0);
    uint8_t *l4 = a + l3;
    uint32_t l4len = len - l3;
    uint64_t acc = af == 4 ? cp_csum_pseudo4(ns.b, nd.b, proto, l4len)
                           : cp_csum_pseudo6(ns.b, nd.b, proto, l4len);
    acc = cp_csum_add_bytes(acc, l4, l4len);
    CHECK_EQ(cp_csum_fold(acc), 0xffff);
    CHECK_EQ(l4[0] << 8 | l4[1], nsp);
    CHECK_EQ(l4[2] << 8 | l4[3], ndp);
    CHECK(!memcmp(a + (af == 4 ? 16 : 24), nd.b, af == 4 ? 4 : 16));
  }
}

/* The (vector) bucket match returns exactly the slots whose tag equals the key's,
 * whatever the values stored next to the tags hold. */
static void test_bucket_match_finds_exactly_the_equal_tags(void)
{
  cdn_bucket_t b;
  uint32_t wrong = 0;
  for (uint32_t it = 0; it < 100000; it++) {
    uint16_t tag = (uint16_t)(rnd32() % 8 + 1); /* few distinct tags: many matches */
    for (uint32_t j = 0; j < CDN_BUCKET_WAYS; j++) {
      b.tag[j] = (uint16_t)(rnd32() % 9);
      b.val[j] = rnd32() % 2 ? (uint32_t)tag * 0x10001u : rnd32();
    }
    b.pad = rnd32();
    uint32_t want = 0;
    for (uint32_t j = 0; j < CDN_BUCKET_WAYS; j++)
      want |= (uint32_t)(b.tag[j] == tag) << j;
    wrong += cdn_bucket_match(&b, tag) != want;
  }
  CHECK_EQ(wrong, 0);
}

/* The parser's IPv4 TCP/UDP shortcut gives exactly the general parser's view, also for
 * the near misses it must leave to it (options, fragments, short or long lengths, bad
 * data offsets, other protocols); cp_pkt_parse_outer the same view before `inner`. */
static void test_parser_shortcut_gives_the_general_parsers_view(void)
{
  uint32_t differ = 0, ok = 0;
  for (uint32_t it = 0; it < 200000; it++) {
    uint8_t a[128];
    uint8_t proto = it & 1 ? CP_IPPROTO_UDP : CP_IPPROTO_TCP;
    uint32_t len = mkpkt(a, 4, proto, v4(rnd32()), v4(rnd32()), (uint16_t)rnd32(),
                         (uint16_t)rnd32(), (uint8_t)rnd32());
    uint32_t flips = rnd32() % 3;
    for (uint32_t f = 0; f < flips; f++) { /* disturb a header byte */
      static const uint8_t at[] = {0, 2, 3, 6, 7, 9, 32, 33};
      uint32_t o = at[rnd32() % sizeof(at)];
      a[o] = rnd32() % 2 ? (uint8_t)rnd32() : (uint8_t)(a[o] ^ (1u << (rnd32() % 8)));
    }
    uint32_t blen = rnd32() % 4 == 0 ? rnd32() % (len + 8) : len;
    /* an exact-size heap copy: in the sanitizer build any read past blen is caught */
    uint8_t *h = malloc(blen ? blen : 1);
    CHECK(h != NULL);
    if (!h)
      return;
    memcpy(h, a, blen);
    cp_pkt_t p, g, o;
    int r1 = cp_pkt_parse(h, blen, &p);
    int r2 = cp_pkt_parse_general(h, blen, &g);
    differ += r1 != r2 || memcmp(&p, &g, sizeof(p)) != 0;
    /* the burst loop's parse: the same view before `inner`, whatever was there */
    memset(&o, (int)(rnd32() & 0xff), sizeof(o));
    int r3 = cp_pkt_parse_outer(h, blen, &o);
    free(h);
    differ += r3 != r2 || memcmp(&o, &g, offsetof(cp_pkt_t, inner)) != 0 ||
              ((g.flags & CP_PKT_F_ICMP_ERROR) && memcmp(&o.inner, &g.inner, sizeof(g.inner)));
    ok += r1 == CP_PKT_OK;
  }
  CHECK_EQ(differ, 0);
  CHECK(ok > 50000); /* the shortcut's common case was exercised */
}

/* The record match (port word, then the addresses: two words of an IPv4 record's line,
 * the direction's 32 bytes of an IPv6 record) says yes exactly when every field of the
 * direction's key equals the plain field-by-field definition, for IPv4 and IPv6 records,
 * both directions, and keys that differ in one field only. The records are stored
 * through cdn_sess_set_addr and read back through cdn_sess_addr / cdn_sess_addr_ptr /
 * cdn_rec_key, which must give the addresses stored, IPv4 zero-padded. */
static cdn_worker_t match_w; /* only rec / ext6 are used */
static void test_record_match_agrees_with_the_field_by_field_definition(void)
{
  static cdn_sess_t rec[2];
  static cdn_sess6_t ext6[2];
  match_w.rec = rec;
  match_w.ext6 = ext6;
  cdn_worker_t *w = &match_w;
  uint32_t wrong = 0, hits = 0, misses[7] = {0}, bad_store = 0;
  for (uint32_t it = 0; it < 200000; it++) {
    uint32_t idx = it % 2;
    cdn_sess_t *s = &rec[idx];
    memset(s, 0, sizeof(*s));
    memset(&ext6[idx], 0xa5, sizeof(ext6[idx])); /* an IPv4 record must not read it */
    uint8_t af = (it >> 1) & 1 ? 4 : 6;
    s->af = af;
    s->proto = rnd32() % 2 ? CP_IPPROTO_TCP : CP_IPPROTO_UDP;
    cp_addr_t a[4];
    memset(a, 0, sizeof(a));
    for (uint32_t j = 0; j < 4; j++) {
      a[j] = rnd_addr(af, j ? &a[j - 1] : &a[0]);
      s->p[j] = rnd_port(j ? s->p[j - 1] : 0);
      cdn_sess_set_addr(w, idx, j, &a[j]);
    }
    for (uint32_t j = 0; j < 4; j++) {
      cp_addr_t g = cdn_sess_addr(w, idx, j);
      bad_store += memcmp(&g, &a[j], 16) != 0;
      bad_store += memcmp(cdn_sess_addr_ptr(w, idx, j), a[j].b, af == 4 ? 4 : 16) != 0;
    }
    uint32_t dir = rnd32() & 1, o = dir ? 2 : 0;
    cdn_key_t rk;
    cdn_rec_key(w, idx, dir, &rk);
    cdn_key_t k = {a[o], a[o + 1], s->p[o], s->p[o + 1], s->proto, af};
    bad_store += memcmp(&rk.src, &k.src, 16) != 0 || memcmp(&rk.dst, &k.dst, 16) != 0 ||
                 rk.sport != k.sport || rk.dport != k.dport || rk.proto != k.proto ||
                 rk.af != k.af;
    uint32_t field = rnd32() % 7; /* 0: the key itself; 1..6: one field changed */
    switch (field) {
    case 1: k.src.b[rnd32() % (af == 4 ? 4 : 16)] ^= (uint8_t)(1u << (rnd32() % 8)); break;
    case 2: k.dst.b[rnd32() % (af == 4 ? 4 : 16)] ^= (uint8_t)(1u << (rnd32() % 8)); break;
    case 3: k.sport ^= (uint16_t)(1u << (rnd32() % 16)); break;
    case 4: k.dport ^= (uint16_t)(1u << (rnd32() % 16)); break;
    case 5: k.proto = k.proto == CP_IPPROTO_TCP ? CP_IPPROTO_UDP : CP_IPPROTO_TCP; break;
    case 6: k.af = af == 4 ? 6 : 4; break;
    default: break;
    }
    int want = s->p[o] == k.sport && s->p[o + 1] == k.dport && s->proto == k.proto &&
               s->af == k.af && !memcmp(&a[o], &k.src, 16) && !memcmp(&a[o + 1], &k.dst, 16);
    int got = cdn_rec_match(w, idx, dir, &k);
    int got_t =
        cdn_rec_match_tuple(w, idx, dir, &k.src, &k.dst, k.sport, k.dport, k.proto, k.af);
    wrong += (got != want) + (got_t != want);
    hits += want;
    misses[field] += !want;
  }
  CHECK_EQ(bad_store, 0);
  CHECK_EQ(wrong, 0);
  CHECK(hits > 20000);
  for (uint32_t f = 1; f < 7; f++)
    CHECK(misses[f] > 20000); /* every single-field difference was seen and refused */
}

/* The reverse delta derived from the forward one is exactly cdn_addr_delta of the
 * opposite rewrite: on random IPv4 and IPv6 rewrites (a third of the addresses kept, all-
 * zero and all-one words often) and on the rewrites whose sums are congruent to zero,
 * where 0 and 0xffff are different answers. */
static void test_reverse_delta_equals_the_delta_of_the_opposite_rewrite(void)
{
  uint32_t wrong = 0, congruent = 0;
  for (uint32_t it = 0; it < 300000; it++) {
    uint8_t af = it & 1 ? 4 : 6;
    cp_addr_t os = af == 4 ? v4(rnd32()) : v6((uint16_t)rnd32(), rnd32());
    cp_addr_t od =
        af == 4 ? v4(rnd32() % 2 ? 0xffffffffu : rnd32()) : v6((uint16_t)rnd32(), rnd32());
    cp_addr_t ns = rnd_addr(af, &os), nd = rnd_addr(af, &od);
    uint16_t fwd = cdn_addr_delta(af, &os, &ns, &od, &nd);
    congruent += fwd == 0 || fwd == 0xffff;
    wrong += cdn_addr_delta_reverse(af, fwd, &os, &ns, &od, &nd) !=
             cdn_addr_delta(af, &ns, &os, &nd, &od);
  }
  /* sums congruent to zero: all-one words replaced by all-zero ones and back, and a
   * rewrite that only swaps two words of one address */
  const uint32_t cw[][4] = {{0xffffffffu, 0, 0xffffffffu, 0}, {0, 0xffffffffu, 0, 0xffffffffu},
                            {0xffffffffu, 0, 5, 5},           {0x12345678u, 0x56781234u, 9, 9},
                            {0xffff0000u, 0x0000ffffu, 1, 1}, {7, 7, 8, 8}};
  for (uint32_t c = 0; c < sizeof(cw) / sizeof(cw[0]); c++)
    for (uint8_t af = 4; af <= 6; af += 2) {
      cp_addr_t os = af == 4 ? v4(cw[c][0]) : v6(0, cw[c][0]);
      cp_addr_t ns = af == 4 ? v4(cw[c][1]) : v6(0, cw[c][1]);
      cp_addr_t od = af == 4 ? v4(cw[c][2]) : v6(0, cw[c][2]);
      cp_addr_t nd = af == 4 ? v4(cw[c][3]) : v6(0, cw[c][3]);
      uint16_t fwd = cdn_addr_delta(af, &os, &ns, &od, &nd);
      congruent += fwd == 0 || fwd == 0xffff;
      wrong += cdn_addr_delta_reverse(af, fwd, &os, &ns, &od, &nd) !=
               cdn_addr_delta(af, &ns, &os, &nd, &od);
    }
  CHECK_EQ(wrong, 0);
  CHECK(congruent >= 12); /* the constructed cases did reach the full computation */
}

int main(void)
{
  RUN(test_parser_shortcut_gives_the_general_parsers_view);
  RUN(test_bucket_match_finds_exactly_the_equal_tags);
  RUN(test_reverse_delta_equals_the_delta_of_the_opposite_rewrite);
  RUN(test_record_match_agrees_with_the_field_by_field_definition);
  RUN(test_fast_rewrite_writes_exactly_the_general_rewrites_bytes);
  RUN(test_fast_rewrite_of_a_valid_packet_leaves_valid_checksums);
  return cp_test_failures != 0;
}
