/*
 * calico-dnat-ip4-handoff / calico-dnat-ip6-handoff: with worker threads, the feature an
 * enabled interface gets instead of calico-dnat-ip*-in. Sessions are per thread, so each
 * packet goes to the thread that owns its flow (the core's cdn_flow_owner_burst: both
 * directions of a flow have one owner, a worker thread, never the main thread), through
 * a handoff queue into calico-dnat-ip*-in there; that node continues on the feature arc
 * after this one (docs/vpp.md "Threads and handoff").
 */
#include <vnet/feature/feature.h>
#include <vnet/ip/ip.h>
#include <vlib/buffer_node.h>

#include "cdn_vpp.h"

#define foreach_cdn_vpp_handoff_error                                                        \
  _(SAME, "same thread")                                                                    \
  _(OTHER, "handed to another thread")                                                      \
  _(CONGESTION, "dropped: the owner's queue was full")

typedef enum {
#define _(sym, str) CDN_VPP_HANDOFF_ERROR_##sym,
  foreach_cdn_vpp_handoff_error
#undef _
  CDN_VPP_HANDOFF_N_ERROR,
} cdn_vpp_handoff_error_t;

#ifndef CLIB_MARCH_VARIANT
static char *cdn_vpp_handoff_error_strings[] = {
#define _(sym, str) str,
  foreach_cdn_vpp_handoff_error
#undef _
};
#endif

typedef struct {
  u32 owner;
} cdn_vpp_handoff_trace_t;

#ifndef CLIB_MARCH_VARIANT
static u8 *format_cdn_vpp_handoff_trace(u8 *s, va_list *args)
{
  CLIB_UNUSED(vlib_main_t * vm) = va_arg(*args, vlib_main_t *);
  CLIB_UNUSED(vlib_node_t * node) = va_arg(*args, vlib_node_t *);
  cdn_vpp_handoff_trace_t *t = va_arg(*args, cdn_vpp_handoff_trace_t *);
  return format(s, "calico-dnat-handoff: to thread %u", t->owner);
}
#endif

static_always_inline uword cdn_vpp_handoff_inline(vlib_main_t *vm, vlib_node_runtime_t *node,
                                                  vlib_frame_t *frame, int is_ip6)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  u32 *from = vlib_frame_vector_args(frame);
  u32 n = frame->n_vectors, same = 0;
  vlib_buffer_t *bufs[VLIB_FRAME_SIZE];
  u8 *data[VLIB_FRAME_SIZE];
  u32 len[VLIB_FRAME_SIZE];
  u16 owner[VLIB_FRAME_SIZE];

  vlib_get_buffers(vm, from, bufs, n);
  u32 i = 0;
  do { /* a frame has at least one packet */
    data[i] = vlib_buffer_get_current(bufs[i]);
    len[i] = bufs[i]->current_length;
  } while (++i < n);
  cdn_flow_owner_burst(cm->core, vm->thread_index, data, len, n, owner);
  for (i = 0; i < n; i++)
    same += owner[i] == vm->thread_index;

  if (PREDICT_FALSE(node->flags & VLIB_NODE_FLAG_TRACE))
    for (i = 0; i < n; i++)
      if (bufs[i]->flags & VLIB_BUFFER_IS_TRACED) {
        cdn_vpp_handoff_trace_t *t = vlib_add_trace(vm, node, bufs[i], sizeof(*t));
        t->owner = owner[i];
      }

  u32 n_enq = vlib_buffer_enqueue_to_thread(vm, node, is_ip6 ? cm->fq_ip6 : cm->fq_ip4, from,
                                            owner, n);
  vlib_node_increment_counter(vm, node->node_index, CDN_VPP_HANDOFF_ERROR_SAME, same);
  vlib_node_increment_counter(vm, node->node_index, CDN_VPP_HANDOFF_ERROR_OTHER, n - same);
  if (n_enq < n)
    vlib_node_increment_counter(vm, node->node_index, CDN_VPP_HANDOFF_ERROR_CONGESTION,
                                n - n_enq);
  return n;
}

VLIB_NODE_FN (cdn_vpp_ip4_handoff_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cdn_vpp_handoff_inline(vm, node, frame, 0);
}

VLIB_NODE_FN (cdn_vpp_ip6_handoff_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cdn_vpp_handoff_inline(vm, node, frame, 1);
}

#ifndef CLIB_MARCH_VARIANT
/* The input node continues the feature arc from the handoff's position: sharing its next
 * nodes makes the arc's next index (computed for the handoff node) valid there. */
#define cdn_vpp_handoff_node(sym, nm, in_node)                                              \
  VLIB_REGISTER_NODE (sym) = {                                                              \
    .name = nm,                                                                             \
    .vector_size = sizeof(u32),                                                             \
    .format_trace = format_cdn_vpp_handoff_trace,                                           \
    .type = VLIB_NODE_TYPE_INTERNAL,                                                        \
    .n_errors = CDN_VPP_HANDOFF_N_ERROR,                                                    \
    .error_strings = cdn_vpp_handoff_error_strings,                                         \
    .sibling_of = in_node,                                                                  \
  }

cdn_vpp_handoff_node(cdn_vpp_ip4_handoff_node, "calico-dnat-ip4-handoff", "calico-dnat-ip4-in");
cdn_vpp_handoff_node(cdn_vpp_ip6_handoff_node, "calico-dnat-ip6-handoff", "calico-dnat-ip6-in");
#endif
