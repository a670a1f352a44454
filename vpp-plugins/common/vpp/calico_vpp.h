/*
 * What the two VPP plugins (calico_dnat, calico_policy) agree on inside VPP. Glue only:
 * included by vpp-plugins/<plugin>/vpp/ and nothing else.
 *
 * 1. Buffer flags set by calico-dnat-ip{4,6}-in on every packet it sees (and cleared
 *    otherwise), read by the calico-policy nodes that run after it:
 *    - CALICO_VPP_F_REPLY: the packet is return traffic of a session (reverse-translated):
 *      its flow was admitted in the forward direction, so neither the input nor the output
 *      policy point evaluates it again (connection tracking through the DNAT session);
 *    - CALICO_VPP_F_DECIDED_IN: the input policy point was already decided for this packet
 *      by the session's cached verdict (forward packet of a session while the policy hook
 *      is attached): calico-policy-ip{4,6}-in skips it; the output point still runs.
 *    - CALICO_VPP_F_OUT_CACHE: a forward packet of a session while the hook is attached:
 *      vnet_buffer2(b)->unused[0..2] hold the session's output-point verdict cache
 *      (cp_policy_out_cache_t, cp/policy_hook.h) and its tag; calico-policy-ip{4,6}-out
 *      uses the cached verdict when it was computed for the packet's TX endpoint, and
 *      stores the verdict it computes otherwise. The cache lives in calico_dnat's session
 *      on this thread and is valid until that thread's next calico-dnat burst may reuse
 *      the record, which the tag detects.
 * 2. The policy hook: calico_policy_plugin.so exports CALICO_VPP_POLICY_HOOK_SYMBOL, a
 *    calico_vpp_policy_hook_fn; calico_dnat_plugin.so looks it up with
 *    vlib_get_plugin_symbol() and attaches the classifier to its session table.
 */
#ifndef CALICO_VPP_H
#define CALICO_VPP_H

#include <vnet/buffer.h>
#include <vnet/vnet.h>

#include "cp/policy_hook.h"

#define CALICO_VPP_F_REPLY VNET_BUFFER_F_AVAIL8
#define CALICO_VPP_F_DECIDED_IN VNET_BUFFER_F_AVAIL9
#define CALICO_VPP_F_OUT_CACHE VNET_BUFFER_F_AVAIL7
#define CALICO_VPP_F_ALL (CALICO_VPP_F_REPLY | CALICO_VPP_F_DECIDED_IN | CALICO_VPP_F_OUT_CACHE)

STATIC_ASSERT(sizeof(vnet_buffer2((vlib_buffer_t *)0)->unused) >= 3 * sizeof(u32),
              "room for the output verdict cache reference");

static_always_inline void calico_vpp_out_cache_put(vlib_buffer_t *b, cp_policy_out_cache_t *c)
{
  u32 *u = vnet_buffer2(b)->unused;
  uword p = pointer_to_uword(c);
  clib_memcpy_fast(u, &p, sizeof(p));
  u[2] = c->tag;
  b->flags |= CALICO_VPP_F_OUT_CACHE;
}

/* The cache handed over by calico-dnat for this packet, or NULL (none, or the record was
 * given to another flow since). */
static_always_inline cp_policy_out_cache_t *calico_vpp_out_cache_get(vlib_buffer_t *b)
{
  if (!(b->flags & CALICO_VPP_F_OUT_CACHE))
    return 0;
  u32 *u = vnet_buffer2(b)->unused;
  uword p;
  clib_memcpy_fast(&p, u, sizeof(p));
  cp_policy_out_cache_t *c = uword_to_pointer(p, cp_policy_out_cache_t *);
  return c->tag == (u16)u[2] ? c : 0;
}

#define CALICO_VPP_POLICY_PLUGIN "calico_policy_plugin.so"
#define CALICO_VPP_POLICY_HOOK_SYMBOL "calico_policy_vpp_hook"

/* Fill *hook with a classifier usable from any VPP thread (the thread index selects the
 * epoch reader slot). Returns 0, or -1 when the policy core could not be created. */
typedef int (*calico_vpp_policy_hook_fn)(cp_policy_hook_t *hook);

/* The arguments of `set calico <plugin> interface <interface> [<role>] [disable]`: the
 * interface, whether to enable, and whether the plugin's role word was given. */
static inline clib_error_t *calico_vpp_unformat_interface_cmd(unformat_input_t *input,
                                                              const char *role,
                                                              u32 *sw_if_index, int *enable,
                                                              int *has_role)
{
  vnet_main_t *vnm = vnet_get_main();
  *sw_if_index = ~0;
  *enable = 1;
  *has_role = 0;
  while (unformat_check_input(input) != UNFORMAT_END_OF_INPUT) {
    if (unformat(input, "%U", unformat_vnet_sw_interface, vnm, sw_if_index))
      ;
    else if (unformat(input, role))
      *has_role = 1;
    else if (unformat(input, "disable"))
      *enable = 0;
    else
      return clib_error_return(0, "unknown input '%U'", format_unformat_error, input);
  }
  if (*sw_if_index == ~0)
    return clib_error_return(0, "interface required");
  return 0;
}

#endif /* CALICO_VPP_H */
