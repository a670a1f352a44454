/*
 * calico_policy CLI:
 *   set calico policy interface <intf> [host] [disable]
 *   show calico policy interfaces | ipsets | rules | policies | profiles | tiers | endpoints
 *   clear calico policy counters
 * Not mp-safe: the commands run with the workers at the barrier.
 */
#include "calico_vpp.h"
#include "cpol_vpp.h"
#include "cpol_vpp_dump.h"

static const char *cpol_vpp_point_str[] = {"ingress", "egress"};

/* format_cpol_vpp_interface (u32 sw_if_index): role, the generation, and per point the
 * verdict counters since the last clear. */
static u8 *format_cpol_vpp_interface(u8 *s, va_list *args)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;
  u32 sw = va_arg(*args, u32);
  u8 fl = pm->if_flags[sw];
  cp_policy_counter_t c[3];

  s = format(s, "%U %s", format_vnet_sw_if_index_name, vnet_get_main(), sw,
             fl & CPOL_VPP_IF_HOST ? "host-endpoint" : "workload");
  for (u32 dir = 0; dir < 2; dir++) {
    u8 point = CP_POLICY_POINT(CP_POLICY_STAGE_NORMAL, dir);
    if (cp_policy_endpoint_counters(pm->core, sw, point, c) != 0) {
      s = format(s, "\n    %s: no endpoint bound", cpol_vpp_point_str[dir]);
      continue;
    }
    cp_policy_counter_t *base = &pm->ep_base[6 * sw + 3 * dir];
    s = format(s, "\n    %s: allowed %llu denied %llu unmatched %llu packets",
               cpol_vpp_point_str[dir], c[CP_VERDICT_ALLOW].packets - base[CP_VERDICT_ALLOW].packets,
               c[CP_VERDICT_DENY].packets - base[CP_VERDICT_DENY].packets,
               c[CP_VERDICT_NONE].packets - base[CP_VERDICT_NONE].packets);
  }
  return s;
}

static clib_error_t *cpol_vpp_set_interface_cmd(vlib_main_t *vm, unformat_input_t *input,
                                                vlib_cli_command_t *cmd)
{
  u32 sw_if_index;
  int enable, host, rv;
  clib_error_t *e =
      calico_vpp_unformat_interface_cmd(input, "host", &sw_if_index, &enable, &host);
  if (e)
    return e;
  rv = cpol_vpp_interface_enable(sw_if_index, enable, host);
  if (rv)
    return clib_error_return(0, "failed: %d", rv);
  return 0;
}

VLIB_CLI_COMMAND (cpol_vpp_set_interface_command, static) = {
  .path = "set calico policy interface",
  .short_help = "set calico policy interface <interface> [host] [disable]",
  .function = cpol_vpp_set_interface_cmd,
};

static clib_error_t *cpol_vpp_show_cmd(vlib_main_t *vm, unformat_input_t *input,
                                       vlib_cli_command_t *cmd)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;
  cpol_vpp_dump_kind_t kind;
  u32 n;

  if (!pm->core)
    return clib_error_return(0, "calico_policy not initialised");
  if (unformat(input, "interfaces")) {
    for (u32 sw = 0; sw < vec_len(pm->if_flags); sw++)
      if (pm->if_flags[sw] & CPOL_VPP_IF_ENABLED)
        vlib_cli_output(vm, "%U", format_cpol_vpp_interface, sw);
    vlib_cli_output(vm, "generation %u, %llu bytes of published tables",
                    cp_policy_generation(pm->core), cp_policy_memory_bytes(pm->core));
    return 0;
  }
  if (unformat(input, "ipsets"))
    kind = CPOL_VPP_DUMP_IPSETS;
  else if (unformat(input, "rules"))
    kind = CPOL_VPP_DUMP_RULES;
  else if (unformat(input, "policies"))
    kind = CPOL_VPP_DUMP_POLICIES;
  else if (unformat(input, "profiles"))
    kind = CPOL_VPP_DUMP_PROFILES;
  else if (unformat(input, "tiers"))
    kind = CPOL_VPP_DUMP_TIERS;
  else if (unformat(input, "endpoints"))
    kind = CPOL_VPP_DUMP_ENDPOINTS;
  else
    return clib_error_return(0, "expected interfaces|ipsets|rules|policies|profiles|tiers|"
                                "endpoints, got '%U'", format_unformat_error, input);
  n = cpol_vpp_dump(vm, kind);
  vlib_cli_output(vm, "%u records", n);
  return 0;
}

VLIB_CLI_COMMAND (cpol_vpp_show_command, static) = {
  .path = "show calico policy",
  .short_help = "show calico policy interfaces|ipsets|rules|policies|profiles|tiers|endpoints",
  .function = cpol_vpp_show_cmd,
};

static clib_error_t *cpol_vpp_clear_counters_cmd(vlib_main_t *vm, unformat_input_t *input,
                                                 vlib_cli_command_t *cmd)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;

  if (!pm->core)
    return 0;
  for (u32 sw = 0; sw < vec_len(pm->if_flags); sw++)
    for (u32 dir = 0; dir < 2; dir++)
      if (cp_policy_endpoint_counters(pm->core, sw, CP_POLICY_POINT(CP_POLICY_STAGE_NORMAL, dir),
                                      &pm->ep_base[6 * sw + 3 * dir]) != 0)
        clib_memset(&pm->ep_base[6 * sw + 3 * dir], 0, 3 * sizeof(cp_policy_counter_t));
  return 0;
}

VLIB_CLI_COMMAND (cpol_vpp_clear_counters_command, static) = {
  .path = "clear calico policy counters",
  .short_help = "clear calico policy counters",
  .function = cpol_vpp_clear_counters_cmd,
};
