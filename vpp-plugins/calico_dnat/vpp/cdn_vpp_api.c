/*
 * calico_dnat API inside VPP: the message table comes from VPP's own vppapigen output for
 * calico_dnat.api (setup_message_id_table in calico_dnat.api.c); every request handler
 * passes the message, still in network byte order as it arrived, to the shared handlers
 * (../api/cdn_api.c), whose replies and details go back to the client's queue.
 * Handlers run on the main thread with the workers at the barrier (not mp-safe).
 */
#include <vlibapi/api.h>
#include <vlibmemory/api.h>
#include <vnet/format_fns.h>
#include <vnet/ip/ip_types_api.h>

#include <calico_dnat.api_enum.h>
#include <calico_dnat.api_types.h>

#include "cdn_vpp.h"

static void cdn_vpp_api_send(void *arg, const void *msg, u32 len)
{
  vl_api_registration_t *reg = arg;
  u8 *rmp = vl_msg_api_alloc(len);

  clib_memcpy_fast(rmp, msg, len);
  vl_api_send_msg(reg, rmp);
}

static void cdn_vpp_api_dispatch(void *mp, u32 client_index)
{
  vl_api_registration_t *reg = vl_api_client_index_to_registration(client_index);

  if (!reg || !cdn_vpp_main.api)
    return;
  cdn_api_handle(cdn_vpp_main.api, mp, vl_msg_api_get_msg_length(mp), cdn_vpp_api_send, reg);
}

/* One handler per request of calico_dnat.api: a new request there fails this build until
 * it is listed here (the generated message table names every handler). */
#define foreach_cdn_vpp_request                                                            \
  _(get_version)                                                                            \
  _(interface_enable_disable)                                                               \
  _(interface_dump)                                                                         \
  _(translation_update)                                                                     \
  _(translation_del)                                                                        \
  _(translation_dump)                                                                       \
  _(node_address_add_del)                                                                   \
  _(node_address_dump)                                                                      \
  _(snat_address_set)                                                                       \
  _(snat_address_dump)                                                                      \
  _(snat_prefix_add_del)                                                                    \
  _(snat_prefix_dump)                                                                       \
  _(session_dump)                                                                           \
  _(session_purge)

#define _(n)                                                                                \
  static void vl_api_calico_dnat_##n##_t_handler(vl_api_calico_dnat_##n##_t *mp)            \
  {                                                                                         \
    cdn_vpp_api_dispatch(mp, mp->client_index);                                             \
  }
foreach_cdn_vpp_request
#undef _

#include <calico_dnat.api.c>

clib_error_t *cdn_vpp_api_init(vlib_main_t *vm)
{
  cdn_vpp_main_t *cm = &cdn_vpp_main;

  cm->msg_id_base = setup_message_id_table();
  /* the shared handlers number messages from the same .api: check that VPP's table and
   * theirs agree name by name (and CRC by CRC) before any message is accepted */
  for (u32 i = 0; i < cdn_api_msg_count(); i++) {
    const char *name_crc = cdn_api_msg_name_crc(i);
    u32 id = vl_msg_api_get_msg_index((u8 *)name_crc);
    if (id != (u32)cm->msg_id_base + i)
      return clib_error_return(0, "calico_dnat: message %s is %u in VPP, %u in the handlers",
                               name_crc, id, cm->msg_id_base + i);
  }
  return 0;
}
