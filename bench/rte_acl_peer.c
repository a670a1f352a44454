/*
 * The benchmark peer for `pycontrol bench policy`: classify a 5-tuple trace against a
 * first-match rule set with DPDK's rte_acl (Debian's libdpdk), write the matched rule
 * index per trace line and print one JSON object with the costs.
 *
 *   rte_acl_peer RULES TRACE RESULTS REPS ROUNDS [EAL args...]
 *
 * RULES: one rule per line, "sa salen da dalen sp_lo sp_hi dp_lo dp_hi proto proto_mask"
 * (decimal, addresses as host-order 32-bit integers); rule i (from 0) wins over j > i.
 * TRACE: one packet per line, "sa da sp dp proto". RESULTS: rule index or -1 per line.
 * Bursts of 64 packets, as the published rte_acl figures use.
 *
 * The peer at its best: every classify method this CPU and DPDK build accept (SSE, AVX2,
 * AVX-512 x16 and x32; the AVX-512 ones need the EAL argument
 * --force-max-simd-bitwidth=512, without which DPDK limits itself to 256-bit vectors) is
 * timed and must give the same results; the fastest one's cost is reported, with its
 * name ("alg") and every method's cost ("ns_per_alg").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_acl.h>
#include <rte_eal.h>
#include <rte_malloc.h>

#define BURST 64

struct tuple {
  uint8_t proto;
  uint8_t pad[3];
  uint32_t src, dst; /* network order, as in a packet */
  uint16_t sport, dport;
};

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, N_FIELDS };

RTE_ACL_RULE_DEF(peer_rule, N_FIELDS);

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t heap_bytes(void)
{
  struct rte_malloc_socket_stats st;
  if (rte_malloc_get_socket_stats(0, &st) != 0)
    return 0;
  return st.heap_allocsz_bytes;
}

static void die(const char *msg)
{
  fprintf(stderr, "rte_acl_peer: %s\n", msg);
  exit(2);
}

int main(int argc, char **argv)
{
  if (argc < 6)
    die("usage: rte_acl_peer RULES TRACE RESULTS REPS ROUNDS [EAL args...]");
  const char *rules_path = argv[1], *trace_path = argv[2], *results_path = argv[3];
  long reps = atol(argv[4]), rounds = atol(argv[5]);
  if (reps <= 0 || rounds <= 0)
    die("REPS and ROUNDS must be positive");

  char *eal_argv[64];
  int eal_argc = 0;
  eal_argv[eal_argc++] = argv[0];
  for (int i = 6; i < argc && eal_argc < 63; i++)
    eal_argv[eal_argc++] = argv[i];
  eal_argv[eal_argc] = NULL;
  if (rte_eal_init(eal_argc, eal_argv) < 0)
    die("rte_eal_init failed");

  /* rules */
  FILE *f = fopen(rules_path, "r");
  if (!f)
    die("cannot open RULES");
  size_t cap = 1024, n_rules = 0;
  struct peer_rule *rules = calloc(cap, sizeof(*rules));
  unsigned long v[10];
  while (fscanf(f, "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3],
                &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) == 10) {
    if (n_rules == cap) {
      cap *= 2;
      rules = realloc(rules, cap * sizeof(*rules));
      if (!rules)
        die("out of memory");
    }
    struct peer_rule *r = &rules[n_rules];
    memset(r, 0, sizeof(*r));
    r->data.category_mask = 1;
    r->data.priority = RTE_ACL_MAX_PRIORITY - (int32_t)n_rules; /* first match wins */
    r->data.userdata = (uint32_t)n_rules + 1;
    r->field[F_PROTO].value.u8 = (uint8_t)v[8];
    r->field[F_PROTO].mask_range.u8 = (uint8_t)v[9];
    r->field[F_SRC].value.u32 = (uint32_t)v[0];
    r->field[F_SRC].mask_range.u32 = (uint32_t)v[1];
    r->field[F_DST].value.u32 = (uint32_t)v[2];
    r->field[F_DST].mask_range.u32 = (uint32_t)v[3];
    r->field[F_SPORT].value.u16 = (uint16_t)v[4];
    r->field[F_SPORT].mask_range.u16 = (uint16_t)v[5];
    r->field[F_DPORT].value.u16 = (uint16_t)v[6];
    r->field[F_DPORT].mask_range.u16 = (uint16_t)v[7];
    n_rules++;
  }
  fclose(f);

  /* trace */
  f = fopen(trace_path, "r");
  if (!f)
    die("cannot open TRACE");
  size_t tcap = 4096, n_pkts = 0;
  struct tuple *pk = malloc(tcap * sizeof(*pk));
  unsigned long s, d, sp, dp, pr;
  while (fscanf(f, "%lu %lu %lu %lu %lu", &s, &d, &sp, &dp, &pr) == 5) {
    if (n_pkts == tcap) {
      tcap *= 2;
      pk = realloc(pk, tcap * sizeof(*pk));
      if (!pk)
        die("out of memory");
    }
    struct tuple *t = &pk[n_pkts++];
    memset(t, 0, sizeof(*t));
    t->proto = (uint8_t)pr;
    t->src = htonl((uint32_t)s);
    t->dst = htonl((uint32_t)d);
    t->sport = htons((uint16_t)sp);
    t->dport = htons((uint16_t)dp);
  }
  fclose(f);
  if (n_pkts == 0)
    die("empty TRACE");

  struct rte_acl_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.num_categories = 1;
  cfg.num_fields = N_FIELDS;
  cfg.defs[F_PROTO] = (struct rte_acl_field_def){
      .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = 1, .field_index = F_PROTO,
      .input_index = 0, .offset = offsetof(struct tuple, proto)};
  cfg.defs[F_SRC] = (struct rte_acl_field_def){
      .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_SRC, .input_index = 1,
      .offset = offsetof(struct tuple, src)};
  cfg.defs[F_DST] = (struct rte_acl_field_def){
      .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_DST, .input_index = 2,
      .offset = offsetof(struct tuple, dst)};
  cfg.defs[F_SPORT] = (struct rte_acl_field_def){
      .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_SPORT,
      .input_index = 3, .offset = offsetof(struct tuple, sport)};
  cfg.defs[F_DPORT] = (struct rte_acl_field_def){
      .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_DPORT,
      .input_index = 3, .offset = offsetof(struct tuple, dport)};

  uint64_t heap0 = heap_bytes();
  uint64_t t0 = now_ns();
  struct rte_acl_param prm = {.name = "peer", .socket_id = SOCKET_ID_ANY,
                              .rule_size = RTE_ACL_RULE_SZ(N_FIELDS),
                              .max_rule_num = (uint32_t)(n_rules ? n_rules : 1)};
  struct rte_acl_ctx *ctx = rte_acl_create(&prm);
  if (!ctx)
    die("rte_acl_create failed");
  if (n_rules && rte_acl_add_rules(ctx, (const struct rte_acl_rule *)rules,
                                   (uint32_t)n_rules) != 0)
    die("rte_acl_add_rules failed");
  int rc = rte_acl_build(ctx, &cfg);
  if (rc != 0) {
    fprintf(stderr, "rte_acl_build: %s\n", strerror(-rc));
    die("rte_acl_build failed");
  }
  uint64_t t1 = now_ns();
  uint64_t heap1 = heap_bytes();

  const uint8_t **data = malloc(n_pkts * sizeof(*data));
  uint32_t *res = malloc(n_pkts * sizeof(*res));
  for (size_t i = 0; i < n_pkts; i++)
    data[i] = (const uint8_t *)&pk[i];
  static const struct {
    enum rte_acl_classify_alg alg;
    const char *name;
  } algs[] = {{RTE_ACL_CLASSIFY_SSE, "sse"},
              {RTE_ACL_CLASSIFY_AVX2, "avx2"},
              {RTE_ACL_CLASSIFY_AVX512X16, "avx512x16"},
              {RTE_ACL_CLASSIFY_AVX512X32, "avx512x32"}};
  uint32_t *ref = calloc(n_pkts, sizeof(*ref));
  if (!data || !res || !ref)
    die("out of memory");
  uint64_t best = UINT64_MAX;
  const char *best_name = "none";
  char per_alg[256] = "";
  size_t used = 0;
  int have_ref = 0;
  for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
    if (rte_acl_set_ctx_classify(ctx, algs[a].alg) != 0)
      continue; /* not supported by this CPU, this build or the SIMD width allowed */
    uint64_t alg_best = UINT64_MAX;
    for (long r = 0; r < rounds; r++) {
      uint64_t t = now_ns();
      for (long k = 0; k < reps; k++)
        for (size_t i = 0; i < n_pkts; i += BURST) {
          uint32_t m = (uint32_t)(n_pkts - i < BURST ? n_pkts - i : BURST);
          rte_acl_classify(ctx, data + i, res + i, m, 1);
        }
      uint64_t dt = now_ns() - t;
      if (dt < alg_best)
        alg_best = dt;
    }
    if (!have_ref) {
      memcpy(ref, res, n_pkts * sizeof(*ref));
      have_ref = 1;
    } else if (memcmp(ref, res, n_pkts * sizeof(*ref)) != 0) {
      die("classify methods disagree");
    }
    int w = snprintf(per_alg + used, sizeof(per_alg) - used, "%s\"%s\": %.3f",
                     used ? ", " : "", algs[a].name,
                     (double)alg_best / ((double)n_pkts * (double)reps));
    if (w > 0 && (size_t)w < sizeof(per_alg) - used)
      used += (size_t)w;
    if (alg_best < best) {
      best = alg_best;
      best_name = algs[a].name;
    }
  }
  if (!have_ref)
    die("no rte_acl classify method available");
  FILE *o = fopen(results_path, "w");
  if (!o)
    die("cannot write RESULTS");
  for (size_t i = 0; i < n_pkts; i++)
    fprintf(o, "%ld\n", ref[i] ? (long)ref[i] - 1 : -1L);
  fclose(o);
  printf("{\"rules\": %zu, \"packets\": %zu, \"ns_per_packet\": %.3f, \"alg\": \"%s\", "
         "\"ns_per_alg\": {%s}, \"build_ms\": %.3f, \"memory_bytes\": %" PRIu64 "}\n",
         n_rules, n_pkts, (double)best / ((double)n_pkts * (double)reps), best_name, per_alg,
         (double)(t1 - t0) / 1e6, heap1 > heap0 ? heap1 - heap0 : 0);
  rte_acl_free(ctx);
  free(data);
  free(res);
  free(ref);
  free(pk);
  free(rules);
  rte_eal_cleanup();
  return 0;
}
