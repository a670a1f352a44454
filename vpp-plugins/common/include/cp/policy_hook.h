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

/* The second policy point of a flow: the verdict its forward packets got where they leave
 * (the TX interface's endpoint, known only after routing), cached in the flow's session
 * next to the first point's. Written and read by the output policy point on the
 * session's own worker; the session resets it (CP_VERDICT_NONE) whenever it classifies
 * the flow again, i.e. when the policy generation moves on. */
typedef struct {
  uint32_t endpoint; /* the endpoint the verdict was computed for */
  uint8_t verdict;   /* CP_VERDICT_*; NONE: not known */
  uint8_t pad;
  uint16_t tag; /* changes whenever the session's record is given to another flow: a
                 * reader that took the cache with one tag must not use it under another */
} cp_policy_out_cache_t;

#ifdef __cplusplus
}
#endif
#endif /* CP_POLICY_HOOK_H */
