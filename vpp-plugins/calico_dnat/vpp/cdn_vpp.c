/*
 * calico_dnat VPP glue: plugin registration, startup configuration, creation of the core
 * (one core worker per VPP thread), interface features, the policy hook.
 */
#include <vnet/feature/feature.h>
#include <vnet/plugin/plugin.h>
#include <vpp/app/version.h>

#include "calico_vpp.h"
#include "cdn_vpp.h"

cdn_vpp_main_t cdn_vpp_main;

VLIB_REGISTER_LOG_CLASS (cdn_vpp_log, static) = {
  .class_name = "calico-dnat",
};

VLIB_PLUGIN_REGISTER () = {
  .version = VPP_BUILD_VER,
  .description = "Calico service load balancing (DNAT, Maglev, sessions, SNAT)",
};

/* ip4-unicast / ip6-unicast: after ip4-input, before the FIB lookup (ip4-lookup is the end
 * node of the arc), before the policy input point. */
VNET_FEATURE_INIT (cdn_vpp_ip4_in_feat, static) = {
  .arc_name = "ip4-unicast",
  .node_name = "calico-dnat-ip4-in",
  .runs_after = VNET_FEATURES ("ip4-sv-reassembly-feature"),
  .runs_before = VNET_FEATURES ("calico-policy-ip4-in"),
};

VNET_FEATURE_INIT (cdn_vpp_ip6_in_feat, static) = {
  .arc_name = "ip6-unicast",
  .node_name = "calico-dnat-ip6-in",
  .runs_after = VNET_FEATURES ("ip6-sv-reassembly-feature"),
  .runs_before = VNET_FEATURES ("calico-policy-ip6-in"),
};

/* With worker threads an interface gets these instead: they hand each packet to its
 * flow's owner thread, where calico-dnat-ip*-in runs and continues on the arc after them. */
VNET_FEATURE_INIT (cdn_vpp_ip4_handoff_feat, static) = {
  .arc_name = "ip4-unicast",
  .node_name = "calico-dnat-ip4-handoff",
  .runs_after = VNET_FEATURES ("ip4-sv-reassembly-feature"),
  .runs_before = VNET_FEATURES ("calico-dnat-ip4-in", "calico-policy-ip4-in"),
};

VNET_FEATURE_INIT (cdn_vpp_ip6_handoff_feat, static) = {
  .arc_name = "ip6-unicast",
  .node_name = "calico-dnat-ip6-handoff",
  .runs_after = VNET_FEATURES ("ip6-sv-reassembly-feature"),
  .runs_before = VNET_FEATURES ("calico-dnat-ip6-in", "calico-policy-ip6-in"),
};

/* The handoff queues into the input nodes, made when the first interface needs them
 * (main thread, under the barrier). */
static void cdn_vpp_handoff_queues(cdn_vpp_main_t *cm)
{
  if (cm->fq_ip4 != ~0u)
    return;
  cm->fq_ip4 = vlib_handoff_alloc_queues(
      &(vlib_handoff_alloc_queues_args_t){.node_index = cdn_vpp_ip4_in_node.index});
  cm->fq_ip6 = vlib_handoff_alloc_queues(
      &(vlib_handoff_alloc_queues_args_t){.node_index = cdn_vpp_ip6_in_node.index});
}

int cdn_vpp_interface_enable(u32 sw_if_index, int enable, int is_pod)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  vnet_main_t *vnm = vnet_get_main();

  if (!vnet_sw_interface_is_valid(vnm, sw_if_index))
    return VNET_API_ERROR_INVALID_SW_IF_INDEX;
  vec_validate(cm->if_flags, sw_if_index);
  u8 was = cm->if_flags[sw_if_index] & CDN_VPP_IF_ENABLED;
  if (!!was != !!enable) {
    if (cm->handoff && enable)
      cdn_vpp_handoff_queues(cm);
    int rv = vnet_feature_enable_disable(
        "ip4-unicast", cm->handoff ? "calico-dnat-ip4-handoff" : "calico-dnat-ip4-in",
        sw_if_index, enable, 0, 0);
    if (!rv)
      rv = vnet_feature_enable_disable(
          "ip6-unicast", cm->handoff ? "calico-dnat-ip6-handoff" : "calico-dnat-ip6-in",
          sw_if_index, enable, 0, 0);
    if (rv)
      return rv;
  }
  cm->if_flags[sw_if_index] =
      (u8)((enable ? CDN_VPP_IF_ENABLED : 0) | (is_pod ? CDN_VPP_IF_POD : 0));
  return 0;
}

/* The API handlers' interface hook: the message says whether the interface is a pod's. */
static int cdn_vpp_api_interface(void *arg, u32 sw_if_index, int enable, u32 flags)
{
  (void)arg;
  return cdn_vpp_interface_enable(sw_if_index, enable, (flags & CDN_API_IF_POD) != 0);
}

void cdn_vpp_attach_policy(vlib_main_t *vm)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  calico_vpp_policy_hook_fn get =
      vlib_get_plugin_symbol(CALICO_VPP_POLICY_PLUGIN, CALICO_VPP_POLICY_HOOK_SYMBOL);
  cp_policy_hook_t hook;

  if (!get || get(&hook) != 0)
    return;
  if (cdn_policy_hook_set(cm->core, &hook) == 0) {
    cm->policy_hooked = 1;
    vlib_log_notice(cdn_vpp_log.class, "policy classifier attached");
  }
}

#define CDN_VPP_MAX_TIMEOUT_S (7u * 86400u) /* a week: well inside the core's 2^31 ms */

static clib_error_t *cdn_vpp_config(vlib_main_t *vm, unformat_input_t *input)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  cdn_config_t *c = &cm->cfg;
  u32 lo, hi, s = 0, *t = 0;

  while (unformat_check_input(input) != UNFORMAT_END_OF_INPUT) {
    if (unformat(input, "max-sessions %u", &c->max_sessions))
      ;
    else if (unformat(input, "max-translations %u", &c->max_translations))
      ;
    else if (unformat(input, "max-backends %u", &c->max_backends))
      ;
    else if (unformat(input, "hash-seed %llu", &c->hash_seed))
      ;
    else if (unformat(input, "tcp-syn-timeout %u", &s))
      t = &c->tcp_syn_ms;
    else if (unformat(input, "tcp-established-timeout %u", &s))
      t = &c->tcp_established_ms;
    else if (unformat(input, "tcp-closing-timeout %u", &s))
      t = &c->tcp_closing_ms;
    else if (unformat(input, "udp-timeout %u", &s))
      t = &c->udp_ms;
    else if (unformat(input, "icmp-timeout %u", &s))
      t = &c->icmp_ms;
    else if (unformat(input, "other-timeout %u", &s))
      t = &c->other_ms;
    else if (unformat(input, "snat-ports %u-%u", &lo, &hi)) {
      if (!lo || lo > hi || hi > 65535)
        return clib_error_return(0, "calico_dnat: bad snat-ports %u-%u", lo, hi);
      c->snat_port_min = (u16)lo;
      c->snat_port_max = (u16)hi;
    } else
      return clib_error_return(0, "calico_dnat: unknown input '%U'", format_unformat_error,
                               input);
    if (t) { /* a timeout in seconds: the core counts ms on a wrapping 32-bit clock */
      if (!s || s > CDN_VPP_MAX_TIMEOUT_S)
        return clib_error_return(0, "calico_dnat: timeouts are 1..%u s, got %u",
                                 CDN_VPP_MAX_TIMEOUT_S, s);
      *t = s * 1000;
      t = 0;
    }
  }
  return 0;
}

VLIB_CONFIG_FUNCTION (cdn_vpp_config, "calico_dnat");

static clib_error_t *cdn_vpp_init(vlib_main_t *vm)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;

  cm->vm = vm;
  cm->fq_ip4 = cm->fq_ip6 = ~0u;
  cm->cfg.max_sessions = 1 << 18;
  cm->cfg.hash_seed = 0x63616c69636f4c42ull; /* the same on every node: Maglev agrees */
  return cdn_vpp_api_init(vm);
}

VLIB_INIT_FUNCTION (cdn_vpp_init);

/* After the startup configuration: the core is sized by the thread count (main thread +
 * workers, known since vlib_thread_init) and by the calico_dnat { } section. */
static clib_error_t *cdn_vpp_main_loop_enter(vlib_main_t *vm)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  int err = 0;

  cm->n_workers = vlib_thread_main.n_vlib_mains;
  if (cm->n_workers > CDN_MAX_WORKERS)
    return clib_error_return(0, "calico_dnat: %u threads, at most %u supported", cm->n_workers,
                             CDN_MAX_WORKERS);
  cm->cfg.n_workers = cm->n_workers;
  /* with worker threads, flows are owned by the workers: the main thread hands on */
  cm->handoff = cm->n_workers > 1;
  cm->cfg.owner_first = cm->handoff ? 1 : 0;
  cm->core = cdn_create(&cm->cfg, &err);
  if (!cm->core)
    return clib_error_return(0, "calico_dnat: core creation failed (%d)", err);
  cm->api = cdn_api_create(cm->core, cm->n_workers, cm->msg_id_base);
  if (!cm->api)
    return clib_error_return(0, "calico_dnat: API handler creation failed");
  cdn_api_set_interface_fn(cm->api, cdn_vpp_api_interface, cm);
  vec_validate(cm->cnt_base, cm->n_workers * CDN_CNT_N - 1);
  cdn_vpp_attach_policy(vm);
  return 0;
}

VLIB_MAIN_LOOP_ENTER_FUNCTION (cdn_vpp_main_loop_enter);
