/*
 * A small policy classifier behind cp_policy_hook_t, for tests of the policy seam (the
 * real classifier is calico_policy's): it denies flows whose destination port is in a
 * list and allows the rest; every change bumps its generation. Control calls and
 * classification must not run concurrently (tests drive both from one thread).
 */
#ifndef CDN_TEST_POLICY_H
#define CDN_TEST_POLICY_H

#include <stdint.h>

#include "calico_dnat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdn_test_policy cdn_test_policy_t;

cdn_test_policy_t *cdn_test_policy_create(void);
void cdn_test_policy_destroy(cdn_test_policy_t *p);
void cdn_test_policy_hook(cdn_test_policy_t *p, cp_policy_hook_t *out);
/* attach p to ctx (cdn_policy_hook_set); detach with cdn_test_policy_detach */
int cdn_test_policy_attach(cdn_test_policy_t *p, cdn_ctx_t *ctx);
int cdn_test_policy_detach(cdn_ctx_t *ctx);
int cdn_test_policy_deny_dport(cdn_test_policy_t *p, uint16_t port); /* -ENOSPC when full */
void cdn_test_policy_clear(cdn_test_policy_t *p);
/* packets classified so far */
uint32_t cdn_test_policy_calls(cdn_test_policy_t *p);

#ifdef __cplusplus
}
#endif
#endif
