/*
 * calico_policy API inside VPP: VPP's vppapigen builds the message table from
 * calico_policy.api; every request handler passes the message, in network byte order as
 * it arrived, to the shared handlers (../api/cpol_api.c). Main thread, workers at the
 * barrier (not mp-safe). The CLI's show commands reuse the dump handlers (cpol_vpp_dump).
 */
#include <vlibapi/api.h>
#include <vlibmemory/api.h>
#include <vnet/format_fns.h>
#include <vnet/ip/ip_types_api.h>

#include <calico_policy.api_enum.h>
#include <calico_policy.api_types.h>

#include "cpol_vpp.h"
#include "cpol_vpp_dump.h"

typedef struct {
  vl_api_registration_t *reg;
  i32 retval; /* of the first reply */
  u8 replied;
} cpol_vpp_api_reply_t;

static void cpol_vpp_api_send(void *arg, const void *msg, u32 len)
{
  cpol_vpp_api_reply_t *r = arg;
  u8 *rmp = vl_msg_api_alloc(len);

  if (!r->replied && len >= 10) {
    r->retval = (i32)clib_net_to_host_u32(*(u32 *)((u8 *)msg + 6));
    r->replied = 1;
  }
  clib_memcpy_fast(rmp, msg, len);
  vl_api_send_msg(r->reg, rmp);
}

static void cpol_vpp_api_dispatch(void *mp, u32 client_index)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;
  cpol_vpp_api_reply_t r = {.reg = vl_api_client_index_to_registration(client_index)};
  u32 len = vl_msg_api_get_msg_length(mp);
  u16 id = clib_net_to_host_u16(*(u16 *)mp);

  if (!r.reg || !pm->api)
    return;
  cpol_api_handle(pm->api, mp, len, cpol_vpp_api_send, &r);
  /* an accepted endpoint binding also sets the interface's role (which direction its RX
   * and TX traffic is) for the nodes */
  if (id == pm->msg_id_base + VL_API_CALICO_POLICY_ENDPOINT_UPDATE && r.replied && r.retval == 0) {
    vl_api_calico_policy_endpoint_update_t *ep = mp;
    u32 sw = clib_net_to_host_u32(ep->sw_if_index);
    if (vnet_sw_interface_is_valid(vnet_get_main(), sw)) {
      vec_validate(pm->if_flags, sw);
      vec_validate(pm->ep_base, 6 * sw + 5);
      if (ep->kind == CALICO_POLICY_ENDPOINT_HOST)
        pm->if_flags[sw] |= CPOL_VPP_IF_HOST;
      else
        pm->if_flags[sw] &= ~CPOL_VPP_IF_HOST;
    }
  }
}

/* One handler per request of calico_policy.api (the generated table names them all). */
#define foreach_cpol_vpp_request                                                           \
  _(get_version)                                                                            \
  _(interface_enable_disable)                                                               \
  _(interface_dump)                                                                         \
  _(ipset_update)                                                                           \
  _(ipset_delete)                                                                           \
  _(ipset_member_add_del)                                                                   \
  _(ipset_dump)                                                                             \
  _(ipset_member_dump)                                                                      \
  _(rule_update)                                                                            \
  _(rule_delete)                                                                            \
  _(rule_dump)                                                                              \
  _(rule_counters_dump)                                                                     \
  _(policy_update)                                                                          \
  _(policy_delete)                                                                          \
  _(policy_dump)                                                                            \
  _(profile_update)                                                                         \
  _(profile_delete)                                                                         \
  _(profile_dump)                                                                           \
  _(tier_update)                                                                            \
  _(tier_delete)                                                                            \
  _(tier_dump)                                                                              \
  _(endpoint_update)                                                                        \
  _(endpoint_delete)                                                                        \
  _(endpoint_dump)                                                                          \
  _(publish)

#define _(n)                                                                                \
  static void vl_api_calico_policy_##n##_t_handler(vl_api_calico_policy_##n##_t *mp)        \
  {                                                                                         \
    cpol_vpp_api_dispatch(mp, mp->client_index);                                            \
  }
foreach_cpol_vpp_request
#undef _

/* VPP's vppapigen emits no endian helper for a union whose arms need byte swaps unless
 * every arm is tagged with one [case=] value; calico_policy_match_value has one arm for
 * several kinds. The union only ever sits right after its u8 kind inside
 * calico_policy_match (packed), so the helper reads the kind there. VPP uses it to print
 * traced messages and the CLI to print details; the handlers never need it. */
STATIC_ASSERT(STRUCT_OFFSET_OF(vl_api_calico_policy_match_t, value) ==
                  STRUCT_OFFSET_OF(vl_api_calico_policy_match_t, kind) + 1 &&
                  sizeof(((vl_api_calico_policy_match_t *)0)->kind) == 1,
              "calico_policy_match: the u8 kind precedes the value");

static inline void vl_api_calico_policy_match_value_t_endian(vl_api_calico_policy_match_value_t *a,
                                                            bool to_net)
{
  u8 kind = ((u8 *)a)[-1];

  (void)to_net; /* the swaps below are their own inverses */
  if (kind >= CALICO_POLICY_MATCH_SRC_PORTS && kind <= CALICO_POLICY_MATCH_NOT_DST_PORTS) {
    a->ports.first = clib_net_to_host_u16(a->ports.first);
    a->ports.last = clib_net_to_host_u16(a->ports.last);
  } else if (kind >= CALICO_POLICY_MATCH_SRC_IPSET)
    a->ipset_id = clib_net_to_host_u32(a->ipset_id);
  /* prefixes are bytes only */
}

#include <calico_policy.api.c>

/* ---- show commands over the dump handlers -------------------------------------------- */

typedef struct {
  vlib_main_t *vm;
  u16 details_id;
  u32 n;
} cpol_vpp_dump_ctx_t;

static void cpol_vpp_dump_send(void *arg, const void *msg, u32 len)
{
  cpol_vpp_dump_ctx_t *c = arg;
  u16 id = clib_net_to_host_u16(*(u16 *)msg);
  u8 *copy;

  if (id != c->details_id)
    return;
  /* the details are in network order: convert a copy with the generated endian function,
   * then render it with the generated format function */
  copy = vec_new(u8, len);
  clib_memcpy_fast(copy, msg, len);
  switch (id - cpol_vpp_main.msg_id_base) {
#define _(N, n)                                                                             \
  case VL_API_CALICO_POLICY_##N##_DETAILS:                                                  \
    vl_api_calico_policy_##n##_details_t_endian((void *)copy, 0);                           \
    vlib_cli_output(c->vm, "%U", vl_api_calico_policy_##n##_details_t_format, copy);        \
    break;
    _(IPSET, ipset) _(RULE, rule) _(POLICY, policy) _(PROFILE, profile) _(TIER, tier)     \
    _(ENDPOINT, endpoint)
#undef _
  default:
    break;
  }
  vec_free(copy);
  c->n++;
}

u32 cpol_vpp_dump(vlib_main_t *vm, cpol_vpp_dump_kind_t kind)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;
  vl_api_calico_policy_ipset_dump_t req; /* every dump is a bare request header */
  cpol_vpp_dump_ctx_t c = {.vm = vm};
  static const u16 ids[][2] = {
    [CPOL_VPP_DUMP_IPSETS] = {VL_API_CALICO_POLICY_IPSET_DUMP, VL_API_CALICO_POLICY_IPSET_DETAILS},
    [CPOL_VPP_DUMP_RULES] = {VL_API_CALICO_POLICY_RULE_DUMP, VL_API_CALICO_POLICY_RULE_DETAILS},
    [CPOL_VPP_DUMP_POLICIES] = {VL_API_CALICO_POLICY_POLICY_DUMP,
                                VL_API_CALICO_POLICY_POLICY_DETAILS},
    [CPOL_VPP_DUMP_PROFILES] = {VL_API_CALICO_POLICY_PROFILE_DUMP,
                                VL_API_CALICO_POLICY_PROFILE_DETAILS},
    [CPOL_VPP_DUMP_TIERS] = {VL_API_CALICO_POLICY_TIER_DUMP, VL_API_CALICO_POLICY_TIER_DETAILS},
    [CPOL_VPP_DUMP_ENDPOINTS] = {VL_API_CALICO_POLICY_ENDPOINT_DUMP,
                                 VL_API_CALICO_POLICY_ENDPOINT_DETAILS},
  };

  if (!pm->api || kind >= ARRAY_LEN(ids))
    return 0;
  clib_memset(&req, 0, sizeof(req));
  req._vl_msg_id = clib_host_to_net_u16(pm->msg_id_base + ids[kind][0]);
  c.details_id = pm->msg_id_base + ids[kind][1];
  cpol_api_handle(pm->api, (u8 *)&req, sizeof(req), cpol_vpp_dump_send, &c);
  return c.n;
}

clib_error_t *cpol_vpp_api_init(vlib_main_t *vm)
{
  cpol_vpp_main_t *pm = &cpol_vpp_main;

  pm->msg_id_base = setup_message_id_table();
  for (u32 i = 0; i < cpol_api_msg_count(); i++) {
    const char *name_crc = cpol_api_msg_name_crc(i);
    u32 id = vl_msg_api_get_msg_index((u8 *)name_crc);
    if (id != (u32)pm->msg_id_base + i)
      return clib_error_return(0, "calico_policy: message %s is %u in VPP, %u in the handlers",
                               name_crc, id, pm->msg_id_base + i);
  }
  return 0;
}
