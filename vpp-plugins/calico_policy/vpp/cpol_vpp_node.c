/*
 * calico-policy-ip{4,6}-in (unicast input arcs) and calico-policy-ip{4,6}-out (output
 * arcs): parse the frame's packets into the core's views, classify them in one burst as
 * this thread, drop the denied ones. Packets whose point was already decided by a
 * calico_dnat session (calico_vpp.h flags) are not evaluated again.
 */
#include <vnet/feature/feature.h>

#include "calico_vpp.h"
#include "cpol_vpp.h"

#define foreach_cpol_vpp_error                                                             \
  _(PACKETS, "packets", "packets processed", INFO)                                          \
  _(ALLOWED, "allowed", "allowed by policy", INFO)                                          \
  _(DENIED, "denied", "denied by policy", ERROR)                                            \
  _(NO_ENDPOINT, "no_endpoint", "no endpoint bound to the interface (passed)", INFO)        \
  _(SESSION, "session", "decided by the DNAT session (not evaluated)", INFO)                \
  _(CACHED, "cached", "output verdict cached in the DNAT session (not evaluated)", INFO)

typedef enum {
#define _(sym, name, desc, sev) CPOL_VPP_ERROR_##sym,
  foreach_cpol_vpp_error
#undef _
  CPOL_VPP_N_ERROR,
} cpol_vpp_error_t;

#ifndef CLIB_MARCH_VARIANT
static vlib_error_desc_t cpol_vpp_error_counters[] = {
#define _(sym, name, desc, sev) {name, desc, VL_COUNTER_SEVERITY_##sev},
  foreach_cpol_vpp_error
#undef _
};
#endif

typedef enum {
  CPOL_VPP_NEXT_DROP,
  CPOL_VPP_N_NEXT,
} cpol_vpp_next_t;

typedef struct {
  u32 sw_if_index;
  u8 point;
  u8 verdict;
  u8 evaluated;
  cp_policy_match_t match;
} cpol_vpp_trace_t;

#ifndef CLIB_MARCH_VARIANT
static const char *cpol_vpp_reason_str[] = {"rule", "tier default", "end of profiles",
                                            "no decision", "no endpoint", "bad packet"};
static const char *cpol_vpp_verdict_str[] = {"none", "allow", "deny"};

static u8 *format_cpol_vpp_trace(u8 *s, va_list *args)
{
  CLIB_UNUSED(vlib_main_t * vm) = va_arg(*args, vlib_main_t *);
  CLIB_UNUSED(vlib_node_t * node) = va_arg(*args, vlib_node_t *);
  cpol_vpp_trace_t *t = va_arg(*args, cpol_vpp_trace_t *);

  if (!t->evaluated)
    return format(s, "calico-policy: sw_if_index %u decided by the DNAT session",
                  t->sw_if_index);
  s = format(s, "calico-policy: sw_if_index %u %s verdict %s (%s", t->sw_if_index,
             (t->point & 1) == CP_DIR_INGRESS ? "ingress" : "egress",
             t->verdict < 3 ? cpol_vpp_verdict_str[t->verdict] : "?",
             t->match.reason < 6 ? cpol_vpp_reason_str[t->match.reason] : "?");
  if (t->match.reason == CP_POLICY_REASON_RULE)
    s = format(s, ": %s %u rule %u tier %u",
               t->match.owner_kind == CP_POLICY_OWNER_PROFILE ? "profile" : "policy",
               t->match.owner_id, t->match.rule, t->match.tier);
  return format(s, ")");
}
#endif

/* Queue one packet for classification unless a session already decided its point: the
 * input point's verdict, a reply's, or (output point) the verdict cached for this TX
 * endpoint by an earlier packet of the flow. */
static_always_inline void cpol_vpp_prep(vlib_buffer_t *b, u32 i, int is_output, const u8 *if_flags,
                                        u32 n_if, cpol_vpp_thread_t *pt, u32 *n_eval,
                                        u8 *drop, u32 *n_cached)
{
  u32 skip = is_output ? CALICO_VPP_F_REPLY : CALICO_VPP_F_DECIDED_IN;
  if (b->flags & skip)
    return;
  u32 sw = vnet_buffer(b)->sw_if_index[is_output ? VLIB_TX : VLIB_RX];
  cp_policy_out_cache_t *c = is_output ? calico_vpp_out_cache_get(b) : 0;
  if (c && c->verdict != CP_VERDICT_NONE && c->endpoint == sw) {
    drop[i] = c->verdict == CP_VERDICT_DENY;
    (*n_cached)++;
    return;
  }
  u8 fl = sw < n_if ? if_flags[sw] : 0;
  u32 off = is_output ? vnet_buffer(b)->ip.save_rewrite_length : 0;
  u8 *ip = (u8 *)vlib_buffer_get_current(b) + off;
  u32 k = (*n_eval)++;

  pt->cache[k] = c;

  cp_pkt_parse(ip, b->current_length > off ? b->current_length - off : 0, &pt->views[k]);
  pt->ptrs[k] = &pt->views[k];
  pt->endpoint[k] = sw;
  pt->point[k] = is_output ? cpol_vpp_tx_point(fl) : cpol_vpp_rx_point(fl);
  pt->index[k] = (u16)i;
}

static_always_inline uword cpol_vpp_inline(vlib_main_t *vm, vlib_node_runtime_t *node,
                                           vlib_frame_t *frame, int is_output)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;
  cpol_vpp_thread_t *pt = vec_elt_at_index(pm->per_thread, vm->thread_index);
  u32 *from = vlib_frame_vector_args(frame);
  u32 n = frame->n_vectors, n_left = n, i = 0, n_eval = 0, n_cached = 0;
  vlib_buffer_t *bufs[VLIB_FRAME_SIZE], **b = bufs;
  u16 nexts[VLIB_FRAME_SIZE];
  u8 drop[VLIB_FRAME_SIZE];
  u32 counts[CPOL_VPP_N_ERROR] = {0};
  const u8 *if_flags = pm->if_flags;
  u32 n_if = vec_len(pm->if_flags);
  int tracing = (node->flags & VLIB_NODE_FLAG_TRACE) != 0;

  STATIC_ASSERT(VLIB_FRAME_SIZE <= CP_POLICY_BURST, "a frame is one classifier burst");
  vlib_get_buffers(vm, from, bufs, n);
  clib_memset_u8(drop, 0, n);

  /* 1: views of the packets to evaluate, four at a time, prefetching the next four */
  while (n_left >= 8) {
    vlib_prefetch_buffer_header(b[4], LOAD);
    vlib_prefetch_buffer_header(b[5], LOAD);
    vlib_prefetch_buffer_header(b[6], LOAD);
    vlib_prefetch_buffer_header(b[7], LOAD);
    clib_prefetch_load(b[4]->data);
    clib_prefetch_load(b[5]->data);
    clib_prefetch_load(b[6]->data);
    clib_prefetch_load(b[7]->data);
    cpol_vpp_prep(b[0], i, is_output, if_flags, n_if, pt, &n_eval, drop,
                  &n_cached);
    cpol_vpp_prep(b[1], i + 1, is_output, if_flags, n_if, pt, &n_eval, drop,
                  &n_cached);
    cpol_vpp_prep(b[2], i + 2, is_output, if_flags, n_if, pt, &n_eval, drop,
                  &n_cached);
    cpol_vpp_prep(b[3], i + 3, is_output, if_flags, n_if, pt, &n_eval, drop,
                  &n_cached);
    b += 4;
    i += 4;
    n_left -= 4;
  }
  while (n_left) {
    cpol_vpp_prep(b[0], i, is_output, if_flags, n_if, pt, &n_eval, drop,
                  &n_cached);
    b += 1;
    i += 1;
    n_left -= 1;
  }

  /* 2: one classifier call for the frame */
  if (n_eval)
    cp_policy_classify_burst(pm->core, vm->thread_index, pt->ptrs, pt->endpoint, pt->point,
                             n_eval, pt->verdict, tracing ? pt->match : 0);
  for (u32 k = 0; k < n_eval; k++) {
    u8 v = pt->verdict[k];
    drop[pt->index[k]] = v == CP_VERDICT_DENY;
    if (is_output && pt->cache[k]) {
      pt->cache[k]->endpoint = pt->endpoint[k];
      pt->cache[k]->verdict = v;
    }
    counts[v == CP_VERDICT_DENY    ? CPOL_VPP_ERROR_DENIED
           : v == CP_VERDICT_ALLOW ? CPOL_VPP_ERROR_ALLOWED
                                   : CPOL_VPP_ERROR_NO_ENDPOINT]++;
  }

  /* 3: next nodes */
  for (i = 0; i < n; i++) {
    if (PREDICT_FALSE(drop[i])) {
      bufs[i]->error = node->errors[CPOL_VPP_ERROR_DENIED];
      nexts[i] = CPOL_VPP_NEXT_DROP;
    } else
      vnet_feature_next_u16(&nexts[i], bufs[i]);
  }

  if (PREDICT_FALSE(tracing)) {
    u32 k = 0;
    for (i = 0; i < n; i++) {
      int evaluated = k < n_eval && pt->index[k] == i;
      if (bufs[i]->flags & VLIB_BUFFER_IS_TRACED) {
        cpol_vpp_trace_t *t = vlib_add_trace(vm, node, bufs[i], sizeof(*t));
        t->sw_if_index = vnet_buffer(bufs[i])->sw_if_index[is_output ? VLIB_TX : VLIB_RX];
        t->evaluated = evaluated;
        t->point = evaluated ? pt->point[k] : 0;
        t->verdict = evaluated ? pt->verdict[k] : 0;
        if (evaluated)
          t->match = pt->match[k];
      }
      k += evaluated;
    }
  }

  counts[CPOL_VPP_ERROR_PACKETS] = n;
  counts[CPOL_VPP_ERROR_SESSION] = n - n_eval - n_cached;
  counts[CPOL_VPP_ERROR_CACHED] = n_cached;
  for (u32 e = 0; e < CPOL_VPP_N_ERROR; e++)
    if (counts[e] && e != CPOL_VPP_ERROR_DENIED)
      vlib_node_increment_counter(vm, node->node_index, e, counts[e]);
  vlib_buffer_enqueue_to_next(vm, node, from, nexts, n); /* drops count DENIED */
  return n;
}

VLIB_NODE_FN (cpol_vpp_ip4_in_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cpol_vpp_inline(vm, node, frame, 0);
}

VLIB_NODE_FN (cpol_vpp_ip6_in_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cpol_vpp_inline(vm, node, frame, 0);
}

VLIB_NODE_FN (cpol_vpp_ip4_out_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cpol_vpp_inline(vm, node, frame, 1);
}

VLIB_NODE_FN (cpol_vpp_ip6_out_node)
(vlib_main_t *vm, vlib_node_runtime_t *node, vlib_frame_t *frame)
{
  return cpol_vpp_inline(vm, node, frame, 1);
}

#ifndef CLIB_MARCH_VARIANT
#define cpol_vpp_node(sym, nm, drop_node)                                                   \
  VLIB_REGISTER_NODE (sym) = {                                                              \
    .name = nm,                                                                             \
    .vector_size = sizeof(u32),                                                             \
    .format_trace = format_cpol_vpp_trace,                                                  \
    .type = VLIB_NODE_TYPE_INTERNAL,                                                        \
    .n_errors = CPOL_VPP_N_ERROR,                                                           \
    .error_counters = cpol_vpp_error_counters,                                              \
    .n_next_nodes = CPOL_VPP_N_NEXT,                                                        \
    .next_nodes = {[CPOL_VPP_NEXT_DROP] = drop_node},                                      \
  }

cpol_vpp_node(cpol_vpp_ip4_in_node, "calico-policy-ip4-in", "ip4-drop");
cpol_vpp_node(cpol_vpp_ip6_in_node, "calico-policy-ip6-in", "ip6-drop");
cpol_vpp_node(cpol_vpp_ip4_out_node, "calico-policy-ip4-out", "ip4-drop");
cpol_vpp_node(cpol_vpp_ip6_out_node, "calico-policy-ip6-out", "ip6-drop");
#endif
