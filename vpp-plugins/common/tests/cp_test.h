/* Minimal C test harness: CHECK records a failure and continues; main returns the count. */
#ifndef CP_TEST_H
#define CP_TEST_H
#include <stdio.h>

static int cp_test_failures;

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
      cp_test_failures++;                                                                  \
    }                                                                                      \
  } while (0)

#define CHECK_EQ(a, b)                                                                     \
  do {                                                                                     \
    long long _a = (long long)(a), _b = (long long)(b);                                    \
    if (_a != _b) {                                                                        \
      fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__,        \
              __LINE__, #a, _a, #b, _b);                                                   \
      cp_test_failures++;                                                                  \
    }                                                                                      \
  } while (0)

#define RUN(fn)                                                                            \
  do {                                                                                     \
    int _before = cp_test_failures;                                                        \
    fn();                                                                                  \
    printf("%s %s\n", cp_test_failures == _before ? "ok  " : "FAIL", #fn);                 \
  } while (0)

#define TEST_MAIN_END()                                                                    \
  do {                                                                                     \
    printf("%d failure(s)\n", cp_test_failures);                                           \
    return cp_test_failures ? 1 : 0;                                                       \
  } while (0)

/* Deterministic PRNG for tests (xorshift64*). */
static inline unsigned long long cp_test_rand(unsigned long long *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}
#endif
