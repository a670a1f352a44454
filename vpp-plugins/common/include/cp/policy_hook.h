/*
 * The seam between the two fast paths: calico_dnat's session table asks the policy
 * classifier for a verdict on a flow's first packet and caches it together with the
 * policy generation it was computed under. When the generation moves on, the cached
 * verdict is stale and the flow is classified again, so a policy change reaches
 * established flows too. Each plugin builds and tests alone: calico_dnat only sees
 * this struct of function pointers; calico_policy provides one.
 */
#ifndef CP_POLICY_HOOK_H
#define CP_POLICY_HOOK_H

#include <stdint.h>

#include "cp/pkt.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  CP_VERDICT_NONE = 0, /* not evaluated (no policy attached) */
  CP_VERDICT_ALLOW = 1,
  CP_VERDICT_DENY = 2,
};

enum {
  CP_DIR_INGRESS = 0, /* towards the endpoint (traffic entering a pod) */
  CP_DIR_EGRESS = 1,  /* from the endpoint */
};

typedef struct {
  void *ctx;
  /* Classify n packets; endpoint[i] names the interface/endpoint, dir[i] its direction.
   * Writes one CP_VERDICT_* per packet. Must not allocate, lock or block. */
  void (*classify_burst)(void *ctx, const cp_pkt_t *const *pkts, const uint32_t *endpoint,
                         const uint8_t *dir, uint32_t n, uint8_t *verdict);
  /* The current policy generation; bumps on every published policy change. */
  uint32_t (*generation)(void *ctx);
} cp_policy_hook_t;

#ifdef __cplusplus
}
#endif
#endif /* CP_POLICY_HOOK_H */
