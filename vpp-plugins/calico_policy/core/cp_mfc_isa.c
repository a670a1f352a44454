/* cp_mfc_classify_burst's instruction set: see cp_mfc_isa.h. */
#include "cp_mfc_isa.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#if defined(CP_MFC_DISPATCH)

typedef void (*cp_mfc_burst_fn)(const cp_mfc_t *, const uint32_t *, uint32_t, int32_t *);

static int cpu_sse2(void)
{
  return 1; /* the x86-64 baseline */
}

static int cpu_avx2(void)
{
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
         __builtin_cpu_supports("popcnt");
}

static int cpu_avx512(void)
{
  return cpu_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
}

/* best last */
static const struct {
  const char *name;
  cp_mfc_burst_fn fn;
  int (*runs)(void);
} isas[] = {
    {"sse2", cp_mfc_classify_burst_sse2, cpu_sse2},
    {"avx2", cp_mfc_classify_burst_avx2, cpu_avx2},
    {"avx512", cp_mfc_classify_burst_avx512, cpu_avx512},
};
enum { N_ISAS = sizeof(isas) / sizeof(isas[0]) };

/* index + 1 into isas[]; 0 until the first call chooses (a race only stores the same) */
static _Atomic unsigned chosen;

static unsigned best(void)
{
  unsigned i = N_ISAS;
  while (i > 1 && !isas[i - 1].runs())
    i--;
  return i;
}

void cp_mfc_classify_burst(const cp_mfc_t *t, const uint32_t *keys, uint32_t n,
                           int32_t *results)
{
  unsigned c = atomic_load_explicit(&chosen, memory_order_relaxed);
  if (__builtin_expect(!c, 0)) {
    c = best();
    atomic_store_explicit(&chosen, c, memory_order_relaxed);
  }
  isas[c - 1].fn(t, keys, n, results);
}

const char *cp_mfc_isa(void)
{
  unsigned c = atomic_load_explicit(&chosen, memory_order_relaxed);
  return isas[(c ? c : best()) - 1].name;
}

int cp_mfc_isa_select(const char *name)
{
  if (!name) {
    atomic_store_explicit(&chosen, best(), memory_order_relaxed);
    return 0;
  }
  for (unsigned i = 0; i < N_ISAS; i++)
    if (!strcmp(name, isas[i].name)) {
      if (!isas[i].runs())
        return -1;
      atomic_store_explicit(&chosen, i + 1, memory_order_relaxed);
      return 0;
    }
  return -1;
}

#else /* one lookup, compiled for the build's target (-march=native, or not x86-64) */

const char *cp_mfc_isa(void)
{
  return "build";
}

int cp_mfc_isa_select(const char *name)
{
  return !name || !strcmp(name, "build") ? 0 : -1;
}

#endif
