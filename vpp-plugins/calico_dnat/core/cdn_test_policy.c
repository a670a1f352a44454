#include "cdn_test_policy.h"

#include <errno.h>
#include <stdlib.h>

#define MAX_DENY 64

struct cdn_test_policy {
  uint32_t gen;
  uint32_t n_deny;
  uint16_t deny[MAX_DENY];
  uint32_t calls;
};

static void classify(void *ctx, const cp_pkt_t *const *pkts, const uint32_t *endpoint,
                     const uint8_t *dir, uint32_t n, uint8_t *verdict)
{
  cdn_test_policy_t *p = ctx;
  (void)endpoint;
  (void)dir;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t v = CP_VERDICT_ALLOW;
    for (uint32_t k = 0; k < p->n_deny; k++)
      if (pkts[i]->dport == p->deny[k])
        v = CP_VERDICT_DENY;
    verdict[i] = v;
  }
  p->calls += n;
}

static uint32_t generation(void *ctx) { return ((cdn_test_policy_t *)ctx)->gen; }

cdn_test_policy_t *cdn_test_policy_create(void)
{
  cdn_test_policy_t *p = calloc(1, sizeof(*p));
  if (p)
    p->gen = 1;
  return p;
}

void cdn_test_policy_destroy(cdn_test_policy_t *p) { free(p); }

void cdn_test_policy_hook(cdn_test_policy_t *p, cp_policy_hook_t *out)
{
  out->ctx = p;
  out->classify_burst = classify;
  out->generation = generation;
}

int cdn_test_policy_attach(cdn_test_policy_t *p, cdn_ctx_t *ctx)
{
  cp_policy_hook_t h;
  cdn_test_policy_hook(p, &h);
  return cdn_policy_hook_set(ctx, &h);
}

int cdn_test_policy_detach(cdn_ctx_t *ctx) { return cdn_policy_hook_set(ctx, NULL); }

int cdn_test_policy_deny_dport(cdn_test_policy_t *p, uint16_t port)
{
  if (p->n_deny == MAX_DENY)
    return -ENOSPC;
  p->deny[p->n_deny++] = port;
  p->gen++;
  return 0;
}

void cdn_test_policy_clear(cdn_test_policy_t *p)
{
  p->n_deny = 0;
  p->gen++;
}

uint32_t cdn_test_policy_calls(cdn_test_policy_t *p) { return p->calls; }
