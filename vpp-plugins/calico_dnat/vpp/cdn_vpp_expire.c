/*
 * Expiry on threads without traffic. The core frees expired sessions inside the bursts (a
 * bounded sweep per frame), and a thread's sessions may only be touched by that thread.
 * So a process on the main thread raises, once per interval, an interrupt on every
 * thread's calico-dnat-expire node, which advances that thread's sweep by a bounded
 * number of records: a thread whose traffic stopped still frees its expired sessions and
 * their SNAT ports (docs/vpp.md "Threads and handoff").
 */
#include <vlib/vlib.h>

#include "cdn_vpp.h"

#define CDN_VPP_EXPIRE_INTERVAL 1.0   /* seconds between interrupts */
#define CDN_VPP_EXPIRE_BUDGET 16384u  /* records visited per interrupt and thread */

#define foreach_cdn_vpp_expire_error _(FREED, "expired sessions freed")

typedef enum {
#define _(sym, str) CDN_VPP_EXPIRE_ERROR_##sym,
  foreach_cdn_vpp_expire_error
#undef _
  CDN_VPP_EXPIRE_N_ERROR,
} cdn_vpp_expire_error_t;

static char *cdn_vpp_expire_error_strings[] = {
#define _(sym, str) str,
  foreach_cdn_vpp_expire_error
#undef _
};

static uword cdn_vpp_expire_fn(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  (void)frame;
  if (!cm->core)
    return 0;
  u32 freed = cdn_expire(cm->core, vm->thread_index, cdn_vpp_now_ms(vm), CDN_VPP_EXPIRE_BUDGET);
  if (freed)
    vlib_node_increment_counter(vm, node->node_index, CDN_VPP_EXPIRE_ERROR_FREED, freed);
  return 0;
}

VLIB_REGISTER_NODE (cdn_vpp_expire_node) = {
  .function = cdn_vpp_expire_fn,
  .name = "calico-dnat-expire",
  .type = VLIB_NODE_TYPE_INPUT,
  .state = VLIB_NODE_STATE_INTERRUPT,
  .n_errors = CDN_VPP_EXPIRE_N_ERROR,
  .error_strings = cdn_vpp_expire_error_strings,
};

static uword cdn_vpp_expire_process(vlib_main_t *vm, vlib_node_runtime_t *rt, vlib_frame_t *f)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  (void)rt;
  (void)f;
  while (1) {
    vlib_process_suspend(vm, CDN_VPP_EXPIRE_INTERVAL);
    if (!cm->core)
      continue;
    /* the threads that own flows: with workers the main thread owns none */
    for (u32 t = cm->cfg.owner_first; t < cm->n_workers; t++)
      vlib_node_set_interrupt_pending(vlib_get_main_by_index(t), cdn_vpp_expire_node.index);
  }
  return 0;
}

VLIB_REGISTER_NODE (cdn_vpp_expire_process_node, static) = {
  .function = cdn_vpp_expire_process,
  .name = "calico-dnat-expire-process",
  .type = VLIB_NODE_TYPE_PROCESS,
};
