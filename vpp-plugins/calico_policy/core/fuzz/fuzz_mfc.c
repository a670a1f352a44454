/* Fuzz the burst classifier against a linear first match, with every lookup this build
 * and CPU have (SSE2, AVX2, AVX-512 or the build's own). The input seeds a rule set and a
 * burst of keys: the number of dimensions (5 and 11 take the specialised walks), the
 * number of rules (past 2048 the builder partitions and adds heads), the shape of each
 * range (wildcard, exact, span, edges of the 32-bit space) and the protocol column's
 * values (single protocols make the builder split by protocol class). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cp_mfc.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

typedef struct {
  const uint8_t *d;
  size_t n, i;
  uint64_t s; /* once the input runs out, a generator seeded by it */
} rd_t;

static uint32_t next32(rd_t *r)
{
  if (r->i + 4 <= r->n) {
    uint32_t v;
    memcpy(&v, r->d + r->i, 4);
    r->i += 4;
    r->s = r->s * 6364136223846793005ULL + v + 1442695040888963407ULL;
    return v;
  }
  r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(r->s >> 32);
}

static const uint32_t edges[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
static const uint32_t protos[] = {1, 6, 17, 47, 50, 58};

static cp_mfc_range_t range(rd_t *r, uint32_t dim, uint32_t D, uint32_t space)
{
  uint32_t x = next32(r), a = next32(r) % space, b;
  cp_mfc_range_t g;
  if (D == 5 && dim == 4) { /* protocol: wildcard or one protocol, as real sets */
    g.lo = x & 1 ? 0 : protos[(x >> 1) % 6];
    g.hi = x & 1 ? 255 : g.lo;
    return g;
  }
  switch (x % 5) {
  case 0: /* wildcard */
    g.lo = 0;
    g.hi = space == 0 ? 0xffffffffu : space - 1;
    break;
  case 1: /* exact */
    g.lo = g.hi = a;
    break;
  case 2: /* an edge of the 32-bit space */
    g.lo = edges[(x >> 3) % 6];
    g.hi = g.lo + (x >> 8) % 3 < g.lo ? 0xffffffffu : g.lo + (x >> 8) % 3;
    break;
  default: /* a span */
    b = a + next32(r) % (space / 4 + 1);
    g.lo = a;
    g.hi = b < a ? 0xffffffffu : b;
    break;
  }
  return g;
}

static int32_t linear(const cp_mfc_range_t *box, uint32_t nr, uint32_t D, const uint32_t *k)
{
  for (uint32_t i = 0; i < nr; i++) {
    uint32_t d = 0;
    while (d < D && k[d] >= box[i * D + d].lo && k[d] <= box[i * D + d].hi)
      d++;
    if (d == D)
      return (int32_t)i;
  }
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
  rd_t r = {d, n, 0, 0x9e3779b97f4a7c15ULL ^ n};
  uint32_t h = next32(&r);
  static const uint32_t dims[] = {5, 11, 2, 3};
  uint32_t D = dims[h & 3];
  /* one input in 16 is a large set (heads, partitions): those build slowly under ASan */
  uint32_t nr = (h >> 2) & 15 ? (h >> 6) % 200 : 2048 + (h >> 6) % 600;
  uint32_t space = (h >> 16) & 1 ? 0 /* the whole 32-bit space */ : 1u << (4 + (h >> 17) % 12);
  uint32_t nk = 1 + (h >> 21) % 300;
  cp_mfc_range_t *box = calloc((size_t)nr * D + 1, sizeof(*box));
  uint32_t *keys = calloc((size_t)nk * D, sizeof(*keys));
  int32_t *got = calloc(nk, sizeof(*got));
  cp_mfc_builder_t *b = cp_mfc_builder_create(D);
  if (!box || !keys || !got || !b)
    abort();
  for (uint32_t i = 0; i < nr; i++) {
    for (uint32_t k = 0; k < D; k++)
      box[i * D + k] = range(&r, k, D, space ? space : 0xffffffffu);
    if (cp_mfc_builder_add(b, i, box + (size_t)i * D) != 0)
      abort(); /* every range is well formed */
  }
  /* keys: corners of rules (where off-by-ones live), and random points */
  for (uint32_t j = 0; j < nk; j++) {
    uint32_t x = next32(&r);
    for (uint32_t k = 0; k < D; k++) {
      uint32_t *v = &keys[(size_t)j * D + k];
      if (nr && x & 1) {
        const cp_mfc_range_t *g = &box[(size_t)(x >> 1) % nr * D + k];
        uint32_t c = next32(&r) % 4;
        *v = c == 0 ? g->lo : c == 1 ? g->hi : c == 2 ? g->lo - 1 : g->hi + 1;
      } else {
        *v = space ? next32(&r) % space : next32(&r);
      }
    }
  }
  cp_mfc_t *t = cp_mfc_build(b, 0);
  if (!t)
    abort();
  static const char *const isas[] = {"build", "sse2", "avx2", "avx512"};
  for (size_t s = 0; s < sizeof(isas) / sizeof(isas[0]); s++) {
    if (cp_mfc_isa_select(isas[s]) != 0)
      continue;
    memset(got, 0x55, (size_t)nk * sizeof(*got));
    cp_mfc_classify_burst(t, keys, nk, got);
    for (uint32_t j = 0; j < nk; j++)
      if (got[j] != linear(box, nr, D, keys + (size_t)j * D))
        __builtin_trap();
  }
  cp_mfc_isa_select(NULL);
  cp_mfc_free(t);
  cp_mfc_builder_destroy(b);
  free(got);
  free(keys);
  free(box);
  return 0;
}
