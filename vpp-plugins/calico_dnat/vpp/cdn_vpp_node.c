/*
 * calico-dnat-ip4-in / calico-dnat-ip6-in: the input feature nodes. They hand the whole
 * frame (up to 256 packets, each starting at its IP header) to the core's burst entry
 * point as this thread's worker, then map the core's per-packet results to VPP next
 * nodes, error counters and the buffer flags calico_policy reads (calico_vpp.h).
 */
#include <vnet/feature/feature.h>
#include <vnet/ip/ip.h>
#include <vnet/udp/udp_packet.h>
#include <vnet/interface_output.h>

#include "calico_vpp.h"
#include "cdn_vpp.h"

/* Node counters: the core's outcome reasons (CDN_E_*, index 0 counts every packet), then
 * what happened to the packets that were forwarded. */
#define foreach_cdn_vpp_info                                                               \
  _(DNAT, "dnat", "forward packets translated")                                             \
  _(SNAT, "snat", "forward packets source-translated")                                      \
  _(REVERSE, "reverse", "return packets reverse-translated")                               \
  _(HAIRPIN, "hairpin", "packets of hairpin flows (pod to its own service)")               \
  _(ICMP_ERROR, "icmp_error", "ICMP errors translated")                                     \
  _(NEW, "session_new", "sessions created")                                                 \
  _(UNTOUCHED, "untouched", "packets forwarded unchanged")

enum {
#define _(sym, name, desc) CDN_VPP_INFO_##sym,
  foreach_cdn_vpp_info
#undef _
  CDN_VPP_INFO_N
};

#define CDN_VPP_N_ERROR (CDN_E_N + CDN_VPP_INFO_N)

#ifndef CLIB_MARCH_VARIANT
static vlib_error_desc_t cdn_vpp_error_counters[CDN_VPP_N_ERROR] = {
  /* CDN_E_NONE (index 0) counts every packet the node processed */
#define _(sym, desc)                                                                        \
  [CDN_E_##sym] = {CDN_E_##sym ? #sym : "packets", CDN_E_##sym ? desc : "packets processed",  \
                   CDN_E_##sym ? VL_COUNTER_SEVERITY_ERROR : VL_COUNTER_SEVERITY_INFO},
  foreach_cdn_error
#undef _
#define _(sym, name, desc) [CDN_E_N + CDN_VPP_INFO_##sym] = {name, desc, VL_COUNTER_SEVERITY_INFO},
  foreach_cdn_vpp_info
#undef _
};
#endif

typedef enum {
  CDN_VPP_NEXT_DROP,
  CDN_VPP_N_NEXT,
} cdn_vpp_next_t;

typedef struct {
  u32 sw_if_index;
  u32 session;
  u32 backend;
  u16 flags;
  u8 error;
  u8 verdict;
  u8 dropped;
} cdn_vpp_trace_t;

#ifndef CLIB_MARCH_VARIANT
static u8 *format_cdn_vpp_trace(u8 *s, va_list *args)
{
  CLIB_UNUSED(vlib_main_t * vm) = va_arg(*args, vlib_main_t *);
  CLIB_UNUSED(vlib_node_t * node) = va_arg(*args, vlib_node_t *);
  cdn_vpp_trace_t *t = va_arg(*args, cdn_vpp_trace_t *);

  s = format(s, "calico-dnat: sw_if_index %u session %d backend %d flags 0x%x%s%s%s%s%s",
             t->sw_if_index, t->session == CDN_INVALID_ID ? -1 : (int)t->session,
             t->backend == CDN_INVALID_ID ? -1 : (int)t->backend, t->flags,
             t->flags & CDN_R_DNAT ? " dnat" : "", t->flags & CDN_R_SNAT ? " snat" : "",
             t->flags & CDN_R_REVERSE ? " reverse" : "", t->flags & CDN_R_NEW ? " new" : "",
             t->flags & CDN_R_TRACKED ? " tracked" : "");
  s = format(s, " verdict %u%s%s", t->verdict, t->dropped ? " drop: " : "",
             t->dropped ? cdn_error_str(t->error) : "");
  return s;
}
#endif

/* One packet's view for the core: its IP header and what the RX interface says. */
static_always_inline void cdn_vpp_prep(vlib_main_t *vm, vlib_buffer_t *b, const u8 *if_flags,
                                       u32 n_if, int is_ip6, u8 **data, u32 *len,
                                       cdn_meta_t *meta)
{
  u32 sw = vnet_buffer(b)->sw_if_index[VLIB_RX];
  u8 fl = sw < n_if ? if_flags[sw] : 0;

  if (PREDICT_FALSE(b->flags & VNET_BUFFER_F_OFFLOAD))
    vnet_calc_checksums_inline(vm, b, !is_ip6, is_ip6); /* the core edits checksums */
  *data = vlib_buffer_get_current(b);
  *len = b->current_length; /* first segment: a chained packet parses as truncated */
  meta->endpoint = sw;
  meta->from_pod = (fl & CDN_VPP_IF_POD) != 0;
  meta->dir = meta->from_pod ? CP_DIR_EGRESS : CP_DIR_INGRESS;
  meta->pad = 0;
}

static_always_inline u16 cdn_vpp_next(vlib_main_t *vm, vlib_buffer_t *b, const cdn_result_t *r,
                                      int hooked, vlib_node_runtime_t *node, u32 *counts)
{
  u16 next;
  u32 f = r->flags;

  b->flags &= ~CALICO_VPP_F_ALL;
  if (PREDICT_FALSE(r->next == CDN_NEXT_DROP)) {
    b->error = node->errors[r->error]; /* counted by the drop node */
    return CDN_VPP_NEXT_DROP;
  }
  vnet_feature_next_u16(&next, b);
  if (r->session != CDN_INVALID_ID) {
    if (f & CDN_R_REVERSE)
      b->flags |= CALICO_VPP_F_REPLY | CALICO_VPP_F_DECIDED_IN;
    else if (hooked) {
      b->flags |= CALICO_VPP_F_DECIDED_IN;
      cp_policy_out_cache_t *c =
          cdn_session_out_cache(cdn_vpp_main.core, vm->thread_index, r->session);
      if (c)
        calico_vpp_out_cache_put(b, c);
    }
  }
  if (PREDICT_FALSE(r->error != CDN_E_NONE))
    counts[r->error]++;
  counts[CDN_E_N + CDN_VPP_INFO_DNAT] += (f & CDN_R_DNAT) != 0;
  counts[CDN_E_N + CDN_VPP_INFO_SNAT] += (f & CDN_R_SNAT) != 0;
  counts[CDN_E_N + CDN_VPP_INFO_REVERSE] += (f & CDN_R_REVERSE) != 0;
  counts[CDN_E_N + CDN_VPP_INFO_HAIRPIN] += (f & CDN_R_HAIRPIN) != 0;
  counts[CDN_E_N + CDN_VPP_INFO_ICMP_ERROR] += (f & CDN_R_ICMP_ERROR) != 0;
  counts[CDN_E_N + CDN_VPP_INFO_NEW] += (f & CDN_R_NEW) != 0;
  counts[CDN_E_N + CDN_VPP_INFO_UNTOUCHED] += r->session == CDN_INVALID_ID;
  return next;
}

static_always_inline uword cdn_vpp_in_inline(vlib_main_t *vm, vlib_node_runtime_t *node,
                                             vlib_frame_t *frame, int is_ip6)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  u32 *from = vlib_frame_vector_args(frame);
  u32 n = frame->n_vectors, n_left = n, i = 0;
  vlib_buffer_t *bufs[VLIB_FRAME_SIZE], **b = bufs;
  u8 *data[VLIB_FRAME_SIZE];
  u32 len[VLIB_FRAME_SIZE];
  cdn_meta_t meta[VLIB_FRAME_SIZE];
  cdn_result_t res[VLIB_FRAME_SIZE];
  u16 nexts[VLIB_FRAME_SIZE];
  u32 counts[CDN_VPP_N_ERROR] = {0};
  const u8 *if_flags = cm->if_flags;
  u32 n_if = vec_len(cm->if_flags);
  int hooked = cm->policy_hooked;

  STATIC_ASSERT(VLIB_FRAME_SIZE <= CDN_MAX_BURST, "a frame is one core burst");
  vlib_get_buffers(vm, from, bufs, n);

  /* 1: buffers -> core views, four at a time, prefetching the next four's headers */
  while (n_left >= 8) {
    vlib_prefetch_buffer_header(b[4], LOAD);
    vlib_prefetch_buffer_header(b[5], LOAD);
    vlib_prefetch_buffer_header(b[6], LOAD);
    vlib_prefetch_buffer_header(b[7], LOAD);
    clib_prefetch_store(vlib_buffer_get_current(b[4]));
    clib_prefetch_store(vlib_buffer_get_current(b[5]));
    clib_prefetch_store(vlib_buffer_get_current(b[6]));
    clib_prefetch_store(vlib_buffer_get_current(b[7]));
    cdn_vpp_prep(vm, b[0], if_flags, n_if, is_ip6, &data[i], &len[i], &meta[i]);
    cdn_vpp_prep(vm, b[1], if_flags, n_if, is_ip6, &data[i + 1], &len[i + 1], &meta[i + 1]);
    cdn_vpp_prep(vm, b[2], if_flags, n_if, is_ip6, &data[i + 2], &len[i + 2], &meta[i + 2]);
    cdn_vpp_prep(vm, b[3], if_flags, n_if, is_ip6, &data[i + 3], &len[i + 3], &meta[i + 3]);
    b += 4;
    i += 4;
    n_left -= 4;
  }
  while (n_left) {
    cdn_vpp_prep(vm, b[0], if_flags, n_if, is_ip6, &data[i], &len[i], &meta[i]);
    b += 1;
    i += 1;
    n_left -= 1;
  }

  /* 2: the fast path, as this thread's worker (parse, sessions, policy, rewrite) */
  cdn_process_burst(cm->core, vm->thread_index, data, len, meta, n, cdn_vpp_now_ms(vm), res);

  /* 3: results -> next nodes, counters, flags for calico_policy */
  b = bufs;
  n_left = n;
  i = 0;
  while (n_left >= 4) {
    nexts[i] = cdn_vpp_next(vm, b[0], &res[i], hooked, node, counts);
    nexts[i + 1] = cdn_vpp_next(vm, b[1], &res[i + 1], hooked, node, counts);
    nexts[i + 2] = cdn_vpp_next(vm, b[2], &res[i + 2], hooked, node, counts);
    nexts[i + 3] = cdn_vpp_next(vm, b[3], &res[i + 3], hooked, node, counts);
    b += 4;
    i += 4;
    n_left -= 4;
  }
  while (n_left) {
    nexts[i] = cdn_vpp_next(vm, b[0], &res[i], hooked, node, counts);
    b += 1;
    i += 1;
    n_left -= 1;
  }

  if (PREDICT_FALSE(node->flags & VLIB_NODE_FLAG_TRACE)) {
    for (i = 0; i < n; i++) {
      vlib_buffer_t *tb = bufs[i];
      if (!(tb->flags & VLIB_BUFFER_IS_TRACED))
        continue;
      cdn_vpp_trace_t *t = vlib_add_trace(vm, node, tb, sizeof(*t));
      t->sw_if_index = vnet_buffer(tb)->sw_if_index[VLIB_RX];
      t->session = res[i].session;
      t->backend = res[i].backend;
      t->flags = res[i].flags;
      t->error = res[i].error;
      t->verdict = res[i].verdict;
      t->dropped = res[i].next == CDN_NEXT_DROP;
    }
  }

  counts[CDN_E_NONE] = n;
  for (u32 e = 0; e < CDN_VPP_N_ERROR; e++)
    if (counts[e])
      vlib_node_increment_counter(vm, node->node_index, e, counts[e]);
  vlib_buffer_enqueue_to_next(vm, node, from, nexts, n);
  return n;
}

VLIB_NODE_FN (cdn_vpp_ip4_in_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cdn_vpp_in_inline(vm, node, frame, 0);
}

VLIB_NODE_FN (cdn_vpp_ip6_in_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cdn_vpp_in_inline(vm, node, frame, 1);
}

#ifndef CLIB_MARCH_VARIANT
VLIB_REGISTER_NODE (cdn_vpp_ip4_in_node) = {
  .name = "calico-dnat-ip4-in",
  .vector_size = sizeof(u32),
  .format_trace = format_cdn_vpp_trace,
  .type = VLIB_NODE_TYPE_INTERNAL,
  .n_errors = CDN_VPP_N_ERROR,
  .error_counters = cdn_vpp_error_counters,
  .n_next_nodes = CDN_VPP_N_NEXT,
  .next_nodes = {
    [CDN_VPP_NEXT_DROP] = "ip4-drop",
  },
};

VLIB_REGISTER_NODE (cdn_vpp_ip6_in_node) = {
  .name = "calico-dnat-ip6-in",
  .vector_size = sizeof(u32),
  .format_trace = format_cdn_vpp_trace,
  .type = VLIB_NODE_TYPE_INTERNAL,
  .n_errors = CDN_VPP_N_ERROR,
  .error_counters = cdn_vpp_error_counters,
  .n_next_nodes = CDN_VPP_N_NEXT,
  .next_nodes = {
    [CDN_VPP_NEXT_DROP] = "ip6-drop",
  },
};
#endif
