/*
 * calico_dnat VPP glue: the plugin's main structure. Everything packet-related lives in
 * the portable core (../core, calico_dnat.h); this plugin only adapts it to VPP: feature
 * nodes, thread indices as core workers, API registration, CLI. See docs/vpp.md.
 */
#ifndef CDN_VPP_H
#define CDN_VPP_H

#include <vlib/vlib.h>
#include <vnet/vnet.h>

#include "calico_dnat.h"
#include "cdn_api.h"

/* Per-interface flags (indexed by sw_if_index). */
enum {
  CDN_VPP_IF_ENABLED = 1 << 0, /* the input features are on */
  CDN_VPP_IF_POD = 1 << 1,     /* a workload interface: its traffic is "from a pod" */
};

typedef struct {
  cdn_ctx_t *core;
  cdn_api_t *api;
  u16 msg_id_base;
  u32 n_workers;   /* core workers = VPP threads (main + workers) */
  u8 *if_flags;    /* vec, CDN_VPP_IF_* by sw_if_index */
  u64 *cnt_base;   /* vec n_workers * CDN_CNT_N: values at the last counter clear */
  cdn_config_t cfg;
  u8 policy_hooked; /* the calico_policy plugin's classifier is attached */
  u8 handoff;       /* worker threads: interfaces get the handoff features */
  u32 fq_ip4, fq_ip6; /* handoff queues into calico-dnat-ip4-in / -ip6-in, ~0 until used */
  vlib_main_t *vm;
} cdn_vpp_main_t;

extern cdn_vpp_main_t cdn_vpp_main;
extern vlib_node_registration_t cdn_vpp_ip4_in_node;
extern vlib_node_registration_t cdn_vpp_ip6_in_node;
extern vlib_node_registration_t cdn_vpp_ip4_handoff_node;
extern vlib_node_registration_t cdn_vpp_ip6_handoff_node;

/* Turn the input features on/off on an interface (API and CLI). 0 or VNET_API_ERROR_*. */
int cdn_vpp_interface_enable(u32 sw_if_index, int enable, int is_pod);
/* Hook the calico_policy plugin's classifier into the session table when loaded. */
void cdn_vpp_attach_policy(vlib_main_t *vm);
clib_error_t *cdn_vpp_api_init(vlib_main_t *vm);

static_always_inline u32 cdn_vpp_now_ms(vlib_main_t *vm)
{
  return (u32)(u64)(vlib_time_now(vm) * 1e3);
}

format_function_t format_cdn_vpp_session;
format_function_t format_cdn_vpp_translation;

#endif /* CDN_VPP_H */
