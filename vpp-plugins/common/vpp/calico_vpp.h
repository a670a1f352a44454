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
 * 2. The policy hook: calico_policy_plugin.so exports CALICO_VPP_POLICY_HOOK_SYMBOL, a
 *    calico_vpp_policy_hook_fn; calico_dnat_plugin.so looks it up with
 *    vlib_get_plugin_symbol() and attaches the classifier to its session table.
 */
#ifndef CALICO_VPP_H
#define CALICO_VPP_H

#include <vnet/buffer.h>

#include "cp/policy_hook.h"

#define CALICO_VPP_F_REPLY VNET_BUFFER_F_AVAIL8
#define CALICO_VPP_F_DECIDED_IN VNET_BUFFER_F_AVAIL9
#define CALICO_VPP_F_ALL (CALICO_VPP_F_REPLY | CALICO_VPP_F_DECIDED_IN)

#define CALICO_VPP_POLICY_PLUGIN "calico_policy_plugin.so"
#define CALICO_VPP_POLICY_HOOK_SYMBOL "calico_policy_vpp_hook"

/* Fill *hook with a classifier usable from any VPP thread (the thread index selects the
 * epoch reader slot). Returns 0, or -1 when the policy core could not be created. */
typedef int (*calico_vpp_policy_hook_fn)(cp_policy_hook_t *hook);

#endif /* CALICO_VPP_H */
