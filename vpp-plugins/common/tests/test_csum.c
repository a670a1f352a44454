#include <stdint.h>
#include <string.h>

#include "cp/csum.h"
#include "cp_test.h"

/* RFC 1071 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
static void test_rfc1071_example(void)
{
  const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  uint16_t f = cp_csum_fold(cp_csum_add_bytes(0, d, sizeof(d)));
  uint8_t b[2];
  memcpy(b, &f, 2);
  CHECK_EQ(b[0], 0xdd);
  CHECK_EQ(b[1], 0xf2);
}

static void test_odd_length_pads_with_zero(void)
{
  const uint8_t odd[] = {0x12, 0x34, 0x56};
  const uint8_t even[] = {0x12, 0x34, 0x56, 0x00};
  CHECK_EQ(cp_csum(odd, 3), cp_csum(even, 4));
}

/* Incremental update equals a full recomputation for random data and edits. */
static void test_incremental_matches_full(void)
{
  unsigned long long s = 0x1234567;
  for (int iter = 0; iter < 20000; iter++) {
    uint8_t buf[64];
    uint32_t len = 2 + (uint32_t)(cp_test_rand(&s) % 31) * 2;
    for (uint32_t i = 0; i < len; i++)
      buf[i] = (uint8_t)cp_test_rand(&s);
    if (iter % 7 == 0)
      memset(buf, 0xff, len); /* the +0/-0 corner */
    uint16_t field = cp_csum(buf, len);
    uint32_t at = (uint32_t)(cp_test_rand(&s) % (len / 2)) * 2;
    uint32_t n = 2;
    if (at + 4 <= len && (cp_test_rand(&s) & 1))
      n = 4;
    uint8_t old[4], nw[4];
    memcpy(old, buf + at, n);
    for (uint32_t i = 0; i < n; i++)
      nw[i] = (uint8_t)cp_test_rand(&s);
    memcpy(buf + at, nw, n);
    uint16_t inc = cp_csum_update(field, old, nw, n);
    uint16_t full = cp_csum(buf, len);
    /* one's complement has two zeros; either encoding is a valid result */
    CHECK(inc == full || (inc == 0 && full == 0xffff) || (inc == 0xffff && full == 0));
    uint16_t w_old, w_new;
    memcpy(&w_old, old, 2);
    memcpy(&w_new, nw, 2);
    if (n == 2)
      CHECK_EQ(cp_csum_update16(field, w_old, w_new), inc);
    if (n == 4) {
      uint32_t o32, n32;
      memcpy(&o32, old, 4);
      memcpy(&n32, nw, 4);
      CHECK_EQ(cp_csum_update32(field, o32, n32), inc);
    }
  }
}

static void test_ip4_header_checksum_verifies(void)
{
  /* a real header: 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7 */
  const uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                         0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  uint16_t c = cp_ip4_header_csum(h, 20);
  uint8_t b[2];
  memcpy(b, &c, 2);
  CHECK_EQ(b[0], 0xb8);
  CHECK_EQ(b[1], 0x61);
  CHECK_EQ(cp_csum(h, 20), 0); /* a correct header sums to zero */
}

int main(void)
{
  RUN(test_rfc1071_example);
  RUN(test_odd_length_pads_with_zero);
  RUN(test_incremental_matches_full);
  RUN(test_ip4_header_checksum_verifies);
  TEST_MAIN_END();
}
