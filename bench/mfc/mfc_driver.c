/*
 * Deterministic profiling driver for the ClassBench path of the policy classifier
 * (cp_mfc): load a rule set and a trace written by write_mfc_input.py, build, classify
 * the trace in bursts of 64 and print a checksum of the results, so callgrind/cachegrind
 * counts (instructions and simulated misses per packet) can be compared across changes.
 *
 *   mfc_driver RULES TRACE [REPS] [--check]
 *
 * --check also compares every result with a linear first-match scan (slow for 10k rules).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp_mfc.h"

static uint32_t *load(const char *path, uint32_t per_line, uint32_t *n_out)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(2);
  }
  uint32_t cap = 1024, n = 0;
  uint32_t *v = malloc((size_t)cap * per_line * sizeof(*v));
  for (;;) {
    if (n == cap) {
      cap *= 2;
      v = realloc(v, (size_t)cap * per_line * sizeof(*v));
    }
    uint32_t k = 0;
    for (; k < per_line; k++)
      if (fscanf(f, "%" SCNu32, &v[(size_t)n * per_line + k]) != 1)
        break;
    if (k == 0)
      break;
    if (k != per_line) {
      fprintf(stderr, "%s: short line %u\n", path, n + 1);
      exit(2);
    }
    n++;
  }
  fclose(f);
  *n_out = n;
  return v;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: mfc_driver RULES TRACE [REPS] [--check]   (CP_MFC_ISA=sse2|avx2|avx512 forces the lookup)\n");
    return 2;
  }
  uint32_t n_rules, n_pkts;
  uint32_t *rules = load(argv[1], 10, &n_rules);
  uint32_t *keys = load(argv[2], 5, &n_pkts);
  uint32_t reps = argc > 3 ? (uint32_t)atoi(argv[3]) : 1;
  int check = argc > 4 && strcmp(argv[4], "--check") == 0;
  const char *isa = getenv("CP_MFC_ISA");
  if (isa && cp_mfc_isa_select(isa) != 0) {
    fprintf(stderr, "CP_MFC_ISA=%s: not in this build or not run by this CPU\n", isa);
    return 2;
  }
  cp_mfc_builder_t *b = cp_mfc_builder_create(5);
  for (uint32_t i = 0; i < n_rules; i++)
    if (cp_mfc_builder_add(b, i, (const cp_mfc_range_t *)(rules + (size_t)i * 10)) != 0)
      return 2;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cp_mfc_t *t = cp_mfc_build(b, CP_MFC_F_FIRST_MATCH_ONLY);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double build_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  cp_mfc_builder_destroy(b);
  if (!t)
    return 2;
  int32_t *res = malloc((size_t)n_pkts * sizeof(*res));
  uint64_t sum = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint32_t r = 0; r < reps; r++)
    for (uint32_t i = 0; i < n_pkts; i += 64) {
      uint32_t m = n_pkts - i < 64 ? n_pkts - i : 64;
      cp_mfc_classify_burst(t, keys + (size_t)i * 5, m, res + i);
    }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns_pkt = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                  ((double)n_pkts * (reps ? reps : 1));
  uint32_t matched = 0, bad = 0;
  for (uint32_t i = 0; i < n_pkts; i++) {
    sum = sum * 31 + (uint32_t)res[i];
    matched += res[i] >= 0;
    if (check) {
      int32_t want = -1;
      for (uint32_t k = 0; k < n_rules && want < 0; k++) {
        const uint32_t *box = rules + (size_t)k * 10;
        int ok = 1;
        for (uint32_t d = 0; d < 5 && ok; d++)
          ok = keys[(size_t)i * 5 + d] >= box[2 * d] && keys[(size_t)i * 5 + d] <= box[2 * d + 1];
        if (ok)
          want = (int32_t)k;
      }
      bad += want != res[i];
    }
  }
  printf("rules %u packets %u trees %u nodes %u entries %u depth %u matched %u checksum %016" PRIx64,
         n_rules, n_pkts, t->n_trees, t->n_nodes, t->n_entries, t->max_depth, matched, sum);
  for (uint32_t k = 0; k < t->n_trees; k++)
    printf(" [tree %u: rules %u depth %u nodes %u]", k, t->tree[k].n_rules, t->tree[k].depth,
           t->tree[k].n_nodes);
  if (t->alt.n_nodes)
    printf(" [alt head: rules %u depth %u nodes %u]", t->alt.n_rules, t->alt.depth, t->alt.n_nodes);
  printf(" isa %s build_ms %.1f memory_bytes %" PRIu64 " ns_per_pkt %.2f\n", cp_mfc_isa(), build_ms, t->memory_bytes,
         ns_pkt);
  if (check)
    printf("mismatches vs linear scan: %u\n", bad);
  cp_mfc_free(t);
  free(res);
  free(keys);
  free(rules);
  return bad ? 1 : 0;
}
