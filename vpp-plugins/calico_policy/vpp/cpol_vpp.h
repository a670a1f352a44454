/*
 * calico_policy VPP glue: the plugin's main structure. The classifier is the portable
 * core (../core, calico_policy.h); this plugin adapts it to VPP: feature nodes on the
 * input and output arcs, thread indices as epoch reader slots, API registration, CLI,
 * and the policy hook it exports to calico_dnat. See docs/vpp.md.
 */
#ifndef CPOL_VPP_H
#define CPOL_VPP_H

#include <vlib/vlib.h>
#include <vnet/vnet.h>

#include "calico_policy.h"
#include "cpol_api.h"

/* Per-interface flags (indexed by sw_if_index). */
enum {
  CPOL_VPP_IF_ENABLED = 1 << 0,
  CPOL_VPP_IF_HOST = 1 << 1, /* a host endpoint (uplink): RX is its ingress, TX its egress;
                                otherwise a workload: RX is the pod's egress */
};

/* Per-thread scratch of the nodes: the parsed views of one frame and the classifier's
 * arguments (too large for the stack, never shared between threads). */
typedef struct {
  CLIB_CACHE_LINE_ALIGN_MARK(cacheline0);
  cp_pkt_t views[VLIB_FRAME_SIZE];
  const cp_pkt_t *ptrs[VLIB_FRAME_SIZE];
  u32 endpoint[VLIB_FRAME_SIZE];
  u8 point[VLIB_FRAME_SIZE];
  u8 verdict[VLIB_FRAME_SIZE];
  u16 index[VLIB_FRAME_SIZE]; /* frame position of evaluated packet k */
  cp_policy_out_cache_t *cache[VLIB_FRAME_SIZE]; /* output point: where to keep verdict k */
  cp_policy_match_t match[VLIB_FRAME_SIZE];
} cpol_vpp_thread_t;

typedef struct {
  cp_policy_t *core;
  cpol_vpp_thread_t *per_thread; /* vec, one per VPP thread */
  cpol_api_t *api;
  u16 msg_id_base;
  u32 n_workers;
  u8 *if_flags; /* vec, CPOL_VPP_IF_* by sw_if_index */
  cp_policy_counter_t *ep_base; /* vec, 6 per sw_if_index: counters at the last clear */
  vlib_main_t *vm;
} cpol_vpp_main_t;

extern cpol_vpp_main_t cpol_vpp_main;

/* Create the core and the handlers once (main loop entry or calico_dnat's hook lookup,
 * whichever comes first). */
clib_error_t *cpol_vpp_ensure(void);
int cpol_vpp_interface_enable(u32 sw_if_index, int enable, int is_host);
clib_error_t *cpol_vpp_api_init(vlib_main_t *vm);

/* The input point of an interface's RX traffic / the output point of its TX traffic. */
static_always_inline u8 cpol_vpp_rx_point(u8 if_flags)
{
  return CP_POLICY_POINT(CP_POLICY_STAGE_NORMAL,
                         (if_flags & CPOL_VPP_IF_HOST) ? CP_DIR_INGRESS : CP_DIR_EGRESS);
}

static_always_inline u8 cpol_vpp_tx_point(u8 if_flags)
{
  return CP_POLICY_POINT(CP_POLICY_STAGE_NORMAL,
                         (if_flags & CPOL_VPP_IF_HOST) ? CP_DIR_EGRESS : CP_DIR_INGRESS);
}

#endif /* CPOL_VPP_H */
