/*
 * calico_policy VPP glue: plugin registration, feature registrations, creation of the
 * core (one epoch reader slot per VPP thread), interface features, the exported hook.
 */
#include <vnet/feature/feature.h>
#include <vnet/plugin/plugin.h>
#include <vpp/app/version.h>

#include "calico_vpp.h"
#include "cpol_vpp.h"

cpol_vpp_main_t cpol_vpp_main;

VLIB_PLUGIN_REGISTER () = {
  .version = VPP_BUILD_VER,
  .description = "Calico policy (ipsets, rules, tiers, profiles, endpoints)",
};

/* Input point: after calico_dnat (policy sees the translated destination), before the
 * FIB lookup. */
VNET_FEATURE_INIT (cpol_vpp_ip4_in_feat, static) = {
  .arc_name = "ip4-unicast",
  .node_name = "calico-policy-ip4-in",
  .runs_after = VNET_FEATURES ("calico-dnat-ip4-in"),
};

VNET_FEATURE_INIT (cpol_vpp_ip6_in_feat, static) = {
  .arc_name = "ip6-unicast",
  .node_name = "calico-policy-ip6-in",
  .runs_after = VNET_FEATURES ("calico-dnat-ip6-in"),
};

/* Output point: after ip4-rewrite, before VPP's own output SNAT (nat44-ed-in2out-output,
 * when the nat plugin is used) so that policy sees the pod's address, and before
 * interface-output (the end node of the arc). */
VNET_FEATURE_INIT (cpol_vpp_ip4_out_feat, static) = {
  .arc_name = "ip4-output",
  .node_name = "calico-policy-ip4-out",
  .runs_before = VNET_FEATURES ("nat44-ed-in2out-output"),
};

VNET_FEATURE_INIT (cpol_vpp_ip6_out_feat, static) = {
  .arc_name = "ip6-output",
  .node_name = "calico-policy-ip6-out",
};

static const struct {
  const char *arc, *node;
} cpol_vpp_features[] = {
  {"ip4-unicast", "calico-policy-ip4-in"},
  {"ip6-unicast", "calico-policy-ip6-in"},
  {"ip4-output", "calico-policy-ip4-out"},
  {"ip6-output", "calico-policy-ip6-out"},
};

int cpol_vpp_interface_enable(u32 sw_if_index, int enable, int is_host)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;
  vnet_main_t *vnm = vnet_get_main();

  if (!vnet_sw_interface_is_valid(vnm, sw_if_index))
    return VNET_API_ERROR_INVALID_SW_IF_INDEX;
  vec_validate(pm->if_flags, sw_if_index);
  vec_validate(pm->ep_base, 6 * sw_if_index + 5);
  u8 was = pm->if_flags[sw_if_index] & CPOL_VPP_IF_ENABLED;
  if (!!was != !!enable) {
    for (u32 i = 0; i < ARRAY_LEN(cpol_vpp_features); i++) {
      int rv = vnet_feature_enable_disable(cpol_vpp_features[i].arc, cpol_vpp_features[i].node,
                                           sw_if_index, enable, 0, 0);
      if (rv) {
        while (i--)
          vnet_feature_enable_disable(cpol_vpp_features[i].arc, cpol_vpp_features[i].node,
                                      sw_if_index, !enable, 0, 0);
        return rv;
      }
    }
  }
  pm->if_flags[sw_if_index] =
      (u8)((enable ? CPOL_VPP_IF_ENABLED : 0) | (is_host ? CPOL_VPP_IF_HOST : 0));
  return 0;
}

/* The API handlers' interface hook (the policy API carries no flags: an interface keeps
 * the host-endpoint role the CLI gave it). */
static int cpol_vpp_api_interface(void *arg, u32 sw_if_index, int enable, u32 flags)
{
  cpol_vpp_main_t *pm = arg;
  (void)flags;
  int host =
      sw_if_index < vec_len(pm->if_flags) && (pm->if_flags[sw_if_index] & CPOL_VPP_IF_HOST);
  return cpol_vpp_interface_enable(sw_if_index, enable, host);
}

clib_error_t *cpol_vpp_ensure(void)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;
  cp_policy_params_t params = {0};

  if (pm->core)
    return 0;
  pm->n_workers = vlib_thread_main.n_vlib_mains;
  params.n_workers = pm->n_workers;
  pm->core = cp_policy_create(&params);
  if (!pm->core)
    return clib_error_return(0, "calico_policy: core creation failed");
  pm->api = cpol_api_create(pm->core, pm->msg_id_base);
  if (!pm->api) {
    cp_policy_destroy(pm->core);
    pm->core = 0;
    return clib_error_return(0, "calico_policy: API handler creation failed");
  }
  cpol_api_set_interface_fn(pm->api, cpol_vpp_api_interface, pm);
  vec_validate_aligned(pm->per_thread, pm->n_workers - 1, CLIB_CACHE_LINE_BYTES);
  return 0;
}

/* The hook calico_dnat calls on a flow's first packet, from its input node, as the
 * calling thread: endpoint[i] is the packet's RX interface, so the flow is classified at
 * that interface's input point (its role here decides ingress or egress; calico_dnat's
 * dir is not used). Interfaces without policy enforcement get no verdict, as they would
 * from the policy nodes, which do not run there. */
static void cpol_vpp_hook_classify(void *ctx, const cp_pkt_t *const *pkts, const uint32_t *endpoint,
                                   const uint8_t *dir, uint32_t n, uint8_t *verdict)
{
  cpol_vpp_main_t *pm = ctx;
  u8 point[CP_POLICY_BURST] = {0};
  u32 n_if = vec_len(pm->if_flags);

  (void)dir;
  n = clib_min(n, CP_POLICY_BURST);
  for (u32 i = 0; i < n; i++)
    point[i] = cpol_vpp_rx_point(endpoint[i] < n_if ? pm->if_flags[endpoint[i]] : 0);
  cp_policy_classify_burst(pm->core, vlib_get_thread_index(), pkts, endpoint, point, n, verdict,
                           0);
  for (u32 i = 0; i < n; i++)
    if (endpoint[i] >= n_if || !(pm->if_flags[endpoint[i]] & CPOL_VPP_IF_ENABLED))
      verdict[i] = CP_VERDICT_NONE;
}

static uint32_t cpol_vpp_hook_generation(void *ctx)
{
  cpol_vpp_main_t *pm = ctx;
  return cp_policy_generation(pm->core);
}

__clib_export int calico_policy_vpp_hook(cp_policy_hook_t *hook)
{
  clib_error_t *err = cpol_vpp_ensure();

  if (err) {
    clib_error_report(err);
    return -1;
  }
  hook->ctx = &cpol_vpp_main;
  hook->classify_burst = cpol_vpp_hook_classify;
  hook->generation = cpol_vpp_hook_generation;
  return 0;
}

/* make sure the exported hook has the type calico_dnat casts it to */
static calico_vpp_policy_hook_fn cpol_vpp_hook_type_check __clib_unused = calico_policy_vpp_hook;

static clib_error_t *cpol_vpp_init(vlib_main_t *vm)
{
  cpol_vpp_main.vm = vm;
  return cpol_vpp_api_init(vm);
}

VLIB_INIT_FUNCTION (cpol_vpp_init);

static clib_error_t *cpol_vpp_main_loop_enter(vlib_main_t *vm)
{
  return cpol_vpp_ensure();
}

VLIB_MAIN_LOOP_ENTER_FUNCTION (cpol_vpp_main_loop_enter);
