/*
 * calico_dnat CLI: thin commands over format functions that render the core's objects.
 *   set calico dnat interface <intf> [pod] [disable]
 *   show calico dnat interfaces | translations | sessions [max <n>] | counters
 *   clear calico dnat counters | sessions
 * Commands are not mp-safe: they run with the workers at the barrier, which the core's
 * per-worker calls (sessions, counters) require.
 */
#include <vnet/ip/ip.h>

#include "calico_vpp.h"
#include "cdn_vpp.h"

static u8 *format_cdn_vpp_addr(u8 *s, va_list *args)
{
  u32 af = va_arg(*args, u32);
  cp_addr_t *a = va_arg(*args, cp_addr_t *);

  if (af == 6)
    return format(s, "[%U]", format_ip6_address, (ip6_address_t *)a->b);
  return format(s, "%U", format_ip4_address, (ip4_address_t *)a->b);
}

static u8 *format_cdn_vpp_proto(u8 *s, va_list *args)
{
  u32 p = va_arg(*args, u32);

  switch (p) {
  case CP_IPPROTO_TCP:
    return format(s, "tcp");
  case CP_IPPROTO_UDP:
    return format(s, "udp");
  case CP_IPPROTO_SCTP:
    return format(s, "sctp");
  case CP_IPPROTO_ICMP:
    return format(s, "icmp");
  case CP_IPPROTO_ICMPV6:
    return format(s, "icmp6");
  default:
    return format(s, "proto-%u", p);
  }
}

static const char *cdn_vpp_kind_str[] = {"ClusterIP", "ExternalIP", "LoadBalancer", "NodePort"};

/* format_cdn_vpp_translation (cdn_ctx_t *core, u32 id) */
u8 *format_cdn_vpp_translation(u8 *s, va_list *args)
{
  cdn_ctx_t *core = va_arg(*args, cdn_ctx_t *);
  u32 id = va_arg(*args, u32);
  cdn_translation_t t;
  cdn_backend_t be[64];
  int n = cdn_translation_get(core, id, &t, be, ARRAY_LEN(be));

  if (n < 0)
    return format(s, "[%u] gone", id);
  s = format(s, "[%u] %s %U:%u %U", id, t.kind < 4 ? cdn_vpp_kind_str[t.kind] : "?",
             format_cdn_vpp_addr, (u32)t.af, &t.vip, t.port, format_cdn_vpp_proto, (u32)t.proto);
  if (t.flags & CDN_XF_EXT_LOCAL)
    s = format(s, " ext-local");
  if (t.flags & CDN_XF_INT_LOCAL)
    s = format(s, " int-local");
  if (t.flags & CDN_XF_AFFINITY)
    s = format(s, " affinity %us", t.affinity_timeout_s);
  s = format(s, " maglev %u, %d backends", cdn_maglev_size_for((u32)n), n);
  for (int i = 0; i < n && i < (int)ARRAY_LEN(be); i++)
    s = format(s, "\n    %U:%u weight %u%s%s%s", format_cdn_vpp_addr, (u32)be[i].af, &be[i].addr,
               be[i].port, be[i].weight, be[i].flags & CDN_BF_LOCAL ? " local" : "",
               be[i].flags & CDN_BF_TERMINATING ? " terminating" : "",
               be[i].flags & CDN_BF_NO_NAT ? " no-nat" : "");
  if (n > (int)ARRAY_LEN(be))
    s = format(s, "\n    ... %d more", n - (int)ARRAY_LEN(be));
  return s;
}

static const char *cdn_vpp_tcp_state_str[] = {"syn", "established", "closing"};

/* format_cdn_vpp_session (cdn_session_info_t *si) */
u8 *format_cdn_vpp_session(u8 *s, va_list *args)
{
  cdn_session_info_t *si = va_arg(*args, cdn_session_info_t *);
  u32 af = si->af;

  s = format(s, "%U %U:%u -> %U:%u  =>  %U:%u -> %U:%u", format_cdn_vpp_proto, (u32)si->proto,
             format_cdn_vpp_addr, af, &si->client, si->client_port, format_cdn_vpp_addr, af,
             &si->vip, si->vip_port, format_cdn_vpp_addr, af, &si->snat, si->snat_port,
             format_cdn_vpp_addr, af, &si->backend, si->backend_port);
  if (si->proto == CP_IPPROTO_TCP && si->tcp_state < 3)
    s = format(s, " %s", cdn_vpp_tcp_state_str[si->tcp_state]);
  s = format(s, "%s%s%s%s%s verdict %u", si->flags & CDN_R_DNAT ? " dnat" : "",
             si->flags & CDN_R_SNAT ? " snat" : "", si->flags & CDN_R_HAIRPIN ? " hairpin" : "",
             si->flags & CDN_R_NO_NAT ? " no-nat" : "",
             si->flags & CDN_R_TRACKED ? " tracked" : "", si->verdict);
  return s;
}

static clib_error_t *cdn_vpp_set_interface_cmd(vlib_main_t *vm, unformat_input_t *input,
                                               vlib_cli_command_t *cmd)
{
  u32 sw_if_index;
  int enable, pod, rv;
  clib_error_t *e =
      calico_vpp_unformat_interface_cmd(input, "pod", &sw_if_index, &enable, &pod);
  if (e)
    return e;
  rv = cdn_vpp_interface_enable(sw_if_index, enable, pod);
  if (rv)
    return clib_error_return(0, "failed: %d", rv);
  return 0;
}

VLIB_CLI_COMMAND (cdn_vpp_set_interface_command, static) = {
  .path = "set calico dnat interface",
  .short_help = "set calico dnat interface <interface> [pod] [disable]",
  .function = cdn_vpp_set_interface_cmd,
};

static clib_error_t *cdn_vpp_show_interfaces_cmd(vlib_main_t *vm, unformat_input_t *input,
                                                 vlib_cli_command_t *cmd)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  vnet_main_t *vnm = vnet_get_main();

  for (u32 i = 0; i < vec_len(cm->if_flags); i++)
    if (cm->if_flags[i] & CDN_VPP_IF_ENABLED)
      vlib_cli_output(vm, "%U%s", format_vnet_sw_if_index_name, vnm, i,
                      cm->if_flags[i] & CDN_VPP_IF_POD ? " pod" : "");
  vlib_cli_output(vm, "policy classifier %s", cm->policy_hooked ? "attached" : "not attached");
  return 0;
}

VLIB_CLI_COMMAND (cdn_vpp_show_interfaces_command, static) = {
  .path = "show calico dnat interfaces",
  .short_help = "show calico dnat interfaces",
  .function = cdn_vpp_show_interfaces_cmd,
};

static clib_error_t *cdn_vpp_show_translations_cmd(vlib_main_t *vm, unformat_input_t *input,
                                                   vlib_cli_command_t *cmd)
{
  cdn_ctx_t *core = cdn_vpp_main.core;

  if (!core)
    return clib_error_return(0, "calico_dnat not initialised");
  vlib_cli_output(vm, "%u translations", cdn_translation_count(core));
  for (u32 id = cdn_translation_next(core, CDN_INVALID_ID); id != CDN_INVALID_ID;
       id = cdn_translation_next(core, id))
    vlib_cli_output(vm, "%U", format_cdn_vpp_translation, core, id);
  return 0;
}

VLIB_CLI_COMMAND (cdn_vpp_show_translations_command, static) = {
  .path = "show calico dnat translations",
  .short_help = "show calico dnat translations",
  .function = cdn_vpp_show_translations_cmd,
};

static clib_error_t *cdn_vpp_show_sessions_cmd(vlib_main_t *vm, unformat_input_t *input,
                                               vlib_cli_command_t *cmd)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  u32 max = 1000, shown = 0;
  cdn_session_info_t si;

  if (!cm->core)
    return clib_error_return(0, "calico_dnat not initialised");
  while (unformat_check_input(input) != UNFORMAT_END_OF_INPUT) {
    if (unformat(input, "max %u", &max))
      ;
    else
      return clib_error_return(0, "unknown input '%U'", format_unformat_error, input);
  }
  for (u32 w = 0; w < cm->n_workers; w++) {
    vlib_cli_output(vm, "thread %u: %u sessions, %u SNAT ports in use", w,
                    cdn_sessions_count(cm->core, w), cdn_snat_ports_in_use(cm->core, w));
    for (u32 idx = cdn_session_next(cm->core, w, CDN_INVALID_ID);
         idx != CDN_INVALID_ID && shown < max; idx = cdn_session_next(cm->core, w, idx)) {
      if (cdn_session_get(cm->core, w, idx, &si) == 0) {
        vlib_cli_output(vm, "  [%u] %U", idx, format_cdn_vpp_session, &si);
        shown++;
      }
    }
  }
  vlib_cli_output(vm, "%.0f bytes per flow", cdn_session_bytes_per_flow(cm->core));
  return 0;
}

VLIB_CLI_COMMAND (cdn_vpp_show_sessions_command, static) = {
  .path = "show calico dnat sessions",
  .short_help = "show calico dnat sessions [max <n>]",
  .function = cdn_vpp_show_sessions_cmd,
};

static const char *cdn_vpp_counter_names[CDN_CNT_ERR_BASE] = {
  "packets", "rewritten", "passed", "unparsed", "fragments", "sessions created",
  "sessions expired", "sessions stale", "icmp errors", "policy evaluations", "affinity hits",
};

static clib_error_t *cdn_vpp_show_counters_cmd(vlib_main_t *vm, unformat_input_t *input,
                                               vlib_cli_command_t *cmd)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  u64 v[CDN_CNT_N];

  if (!cm->core)
    return clib_error_return(0, "calico_dnat not initialised");
  for (u32 w = 0; w < cm->n_workers; w++) {
    if (cdn_counters_get(cm->core, w, v))
      continue;
    vlib_cli_output(vm, "thread %u:", w);
    for (u32 c = 0; c < CDN_CNT_N; c++) {
      u64 d = v[c] - cm->cnt_base[w * CDN_CNT_N + c];
      if (!d)
        continue;
      if (c < CDN_CNT_ERR_BASE)
        vlib_cli_output(vm, "  %-22s %llu", cdn_vpp_counter_names[c], d);
      else
        vlib_cli_output(vm, "  %-22s %llu", cdn_error_str(c - CDN_CNT_ERR_BASE), d);
    }
  }
  return 0;
}

VLIB_CLI_COMMAND (cdn_vpp_show_counters_command, static) = {
  .path = "show calico dnat counters",
  .short_help = "show calico dnat counters",
  .function = cdn_vpp_show_counters_cmd,
};

static clib_error_t *cdn_vpp_clear_counters_cmd(vlib_main_t *vm, unformat_input_t *input,
                                                vlib_cli_command_t *cmd)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;

  if (!cm->core)
    return 0;
  for (u32 w = 0; w < cm->n_workers; w++)
    cdn_counters_get(cm->core, w, &cm->cnt_base[w * CDN_CNT_N]);
  return 0;
}

VLIB_CLI_COMMAND (cdn_vpp_clear_counters_command, static) = {
  .path = "clear calico dnat counters",
  .short_help = "clear calico dnat counters",
  .function = cdn_vpp_clear_counters_cmd,
};

static clib_error_t *cdn_vpp_clear_sessions_cmd(vlib_main_t *vm, unformat_input_t *input,
                                                vlib_cli_command_t *cmd)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;
  u32 n = 0;

  if (!cm->core)
    return 0;
  for (u32 w = 0; w < cm->n_workers; w++)
    n += cdn_sessions_flush(cm->core, w);
  vlib_cli_output(vm, "%u sessions removed", n);
  return 0;
}

VLIB_CLI_COMMAND (cdn_vpp_clear_sessions_command, static) = {
  .path = "clear calico dnat sessions",
  .short_help = "clear calico dnat sessions",
  .function = cdn_vpp_clear_sessions_cmd,
};
