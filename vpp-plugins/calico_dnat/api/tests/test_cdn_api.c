/* calico_dnat API handlers: good requests reach the core and are dumped back; bad ones
 * (length, count, enum, family, protocol, id) get an error reply and change nothing. */
#include <stdlib.h>
#include <string.h>

#include "calico_dnat.api_wire.h"
#include "cdn_api.h"
#include "cp_test.h"

#define BASE 1000

static cdn_ctx_t *core;
static cdn_api_t *api;
static cp_api_collect_t out;

static void setup(void)
{
  cdn_config_t cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.n_workers = 2;
  cfg.max_sessions = 1024;
  int err = 0;
  core = cdn_create(&cfg, &err);
  api = cdn_api_create(core, 2, BASE);
  cp_api_collect_reset(&out);
}

static void teardown(void)
{
  cdn_api_destroy(api);
  cdn_destroy(core);
  cp_api_collect_free(&out);
}

/* record i of the collected replies */
static const uint8_t *reply(uint32_t i, uint32_t *len)
{
  uint32_t off = 0, l = 0;
  int bad = 0;
  const uint8_t *m = NULL;
  for (uint32_t k = 0; k <= i; k++)
    m = cp_api_batch_next(out.buf, out.len, &off, &l, &bad);
  *len = l;
  return m;
}

static uint16_t rd16(const uint8_t *p)
{
  return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* send a host-order request (converted here) and return the reply's retval */
static int32_t call(void *mp, uint32_t len)
{
  cp_api_collect_reset(&out);
  int rc = cdn_api_handle(api, mp, len, cp_api_collect_send, &out);
  if (rc != CP_API_HANDLED || out.n_msgs != 1)
    return 12345;
  uint32_t l;
  const uint8_t *r = reply(0, &l);
  return (int32_t)rd32(r + 6);
}

static vl_api_calico_dnat_translation_update_t *xlat(uint32_t n, uint32_t *len)
{
  *len = sizeof(vl_api_calico_dnat_translation_update_t) + n * sizeof(vl_api_calico_dnat_backend_t);
  vl_api_calico_dnat_translation_update_t *mp = calloc(1, *len);
  mp->_vl_msg_id = BASE + VL_API_CALICO_DNAT_TRANSLATION_UPDATE;
  mp->context = 77;
  mp->vip.af = ADDRESS_IP4;
  mp->vip.un.ip4[0] = 10;
  mp->vip.un.ip4[1] = 96;
  mp->vip.un.ip4[3] = 10;
  mp->port = 53;
  mp->proto = IP_API_PROTO_UDP;
  mp->kind = CALICO_DNAT_VIP_CLUSTER_IP;
  mp->n_backends = n;
  for (uint32_t i = 0; i < n; i++) {
    mp->backends[i].addr.af = ADDRESS_IP4;
    mp->backends[i].addr.un.ip4[0] = 10;
    mp->backends[i].addr.un.ip4[1] = 1;
    mp->backends[i].addr.un.ip4[2] = (u8)i;
    mp->backends[i].addr.un.ip4[3] = 2;
    mp->backends[i].port = 5353;
    mp->backends[i].weight = 1;
  }
  return mp;
}

static uint32_t n_translations(void)
{
  return cdn_translation_count(core);
}

static void test_get_version_replies_with_the_api_version(void)
{
  setup();
  vl_api_calico_dnat_get_version_t mp = {0};
  mp._vl_msg_id = BASE + VL_API_CALICO_DNAT_GET_VERSION;
  mp.context = 5;
  uint32_t len = vl_api_calico_dnat_get_version_t_encode(&mp);
  CHECK_EQ(call(&mp, len), 0);
  uint32_t l;
  const uint8_t *r = reply(0, &l);
  CHECK_EQ(l, sizeof(vl_api_calico_dnat_get_version_reply_t));
  CHECK_EQ(rd16(r), BASE + VL_API_CALICO_DNAT_GET_VERSION_REPLY);
  CHECK_EQ(rd32(r + 2), 5);
  CHECK_EQ(rd32(r + 10), VL_API_CALICO_DNAT_API_VERSION_MAJOR);
  teardown();
}

static void test_translation_update_then_dump_round_trips(void)
{
  setup();
  uint32_t len;
  vl_api_calico_dnat_translation_update_t *mp = xlat(10, &len);
  vl_api_calico_dnat_translation_update_t_encode(mp);
  CHECK_EQ(call(mp, len), 0);
  uint32_t l;
  const uint8_t *r = reply(0, &l);
  uint32_t id = rd32(r + 10);
  CHECK(id != CDN_INVALID_ID);
  CHECK_EQ(n_translations(), 1);

  vl_api_calico_dnat_translation_dump_t d = {0};
  d._vl_msg_id = BASE + VL_API_CALICO_DNAT_TRANSLATION_DUMP;
  d.context = 9;
  uint32_t dl = vl_api_calico_dnat_translation_dump_t_encode(&d);
  cp_api_collect_reset(&out);
  CHECK_EQ(cdn_api_handle(api, (const uint8_t *)&d, dl, cp_api_collect_send, &out),
           CP_API_HANDLED);
  CHECK_EQ(out.n_msgs, 1);
  r = reply(0, &l);
  vl_api_calico_dnat_translation_details_t *det = malloc(l);
  memcpy(det, r, l);
  CHECK_EQ(vl_api_calico_dnat_translation_details_t_decode(det, l), 0);
  CHECK_EQ(det->id, id);
  CHECK_EQ(det->port, 53);
  CHECK_EQ(det->n_backends, 10);
  CHECK_EQ(det->backends[7].addr.un.ip4[2], 7);
  CHECK_EQ(det->backends[7].port, 5353);
  free(det);
  free(mp);
  teardown();
}

static void test_bad_length_and_count_are_rejected_without_change(void)
{
  setup();
  uint32_t len;
  vl_api_calico_dnat_translation_update_t *mp = xlat(3, &len);
  vl_api_calico_dnat_translation_update_t_encode(mp);
  CHECK_EQ(call(mp, len - 1), CP_API_E_INVALID_ARGUMENT); /* one byte short */
  CHECK_EQ(call(mp, 20), CP_API_E_INVALID_ARGUMENT);      /* header only */
  uint8_t *longer = calloc(1, len + 1);
  memcpy(longer, mp, len);
  CHECK_EQ(call(longer, len + 1), CP_API_E_INVALID_ARGUMENT); /* trailing byte */
  /* count says 4 but 3 backends follow */
  mp->n_backends = cp_api_swap32(4u);
  CHECK_EQ(call(mp, len), CP_API_E_INVALID_ARGUMENT);
  /* a count that overflows 32 bits when multiplied */
  mp->n_backends = 0xffffffffu;
  CHECK_EQ(call(mp, len), CP_API_E_INVALID_ARGUMENT);
  CHECK_EQ(n_translations(), 0);
  free(longer);
  free(mp);
  teardown();
}

static void test_bad_values_are_rejected_without_change(void)
{
  setup();
  uint32_t len;
  struct {
    int field;
    int32_t want;
  } cases[] = {
      {0, CP_API_E_INVALID_ADDRESS_FAMILY}, /* vip af 2 */
      {1, CP_API_E_INVALID_VALUE},          /* kind 9 */
      {2, CP_API_E_INVALID_PROTOCOL},       /* proto ICMP */
      {3, CP_API_E_INVALID_VALUE},          /* unknown translation flag */
      {4, CP_API_E_INVALID_ADDRESS_FAMILY}, /* IPv6 backend for an IPv4 VIP */
      {5, CP_API_E_INVALID_VALUE},          /* backend port 0 */
      {6, CP_API_E_INVALID_VALUE},          /* unknown backend flag */
      {7, CP_API_E_INVALID_VALUE},          /* unknown hash field */
  };
  for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    vl_api_calico_dnat_translation_update_t *mp = xlat(2, &len);
    switch (cases[c].field) {
    case 0: mp->vip.af = 2; break;
    case 1: mp->kind = 9; break;
    case 2: mp->proto = IP_API_PROTO_ICMP; break;
    case 3: mp->flags = 0x80; break;
    case 4: mp->backends[1].addr.af = ADDRESS_IP6; break;
    case 5: mp->backends[0].port = 0; break;
    case 6: mp->backends[1].flags = 0x40; break;
    case 7: mp->hash_fields = 0x40; break;
    }
    vl_api_calico_dnat_translation_update_t_encode(mp);
    CHECK_EQ(call(mp, len), cases[c].want);
    free(mp);
  }
  CHECK_EQ(n_translations(), 0);
  teardown();
}

static void test_unknown_and_short_messages_get_no_reply(void)
{
  setup();
  uint8_t m[16] = {0};
  m[0] = (BASE + VL_MSG_CALICO_DNAT_LAST) >> 8;
  m[1] = (BASE + VL_MSG_CALICO_DNAT_LAST) & 0xff;
  cp_api_collect_reset(&out);
  CHECK_EQ(cdn_api_handle(api, m, sizeof(m), cp_api_collect_send, &out), CP_API_NO_REPLY_UNKNOWN);
  m[0] = 0;
  m[1] = 3; /* below the base */
  CHECK_EQ(cdn_api_handle(api, m, sizeof(m), cp_api_collect_send, &out), CP_API_NO_REPLY_UNKNOWN);
  /* a reply id sent as a request */
  m[0] = (BASE + VL_API_CALICO_DNAT_TRANSLATION_DEL_REPLY) >> 8;
  m[1] = (BASE + VL_API_CALICO_DNAT_TRANSLATION_DEL_REPLY) & 0xff;
  CHECK_EQ(cdn_api_handle(api, m, sizeof(m), cp_api_collect_send, &out), CP_API_NO_REPLY_UNKNOWN);
  CHECK_EQ(cdn_api_handle(api, m, 9, cp_api_collect_send, &out), CP_API_NO_REPLY_SHORT);
  CHECK_EQ(out.n_msgs, 0);
  /* a dump one byte long: no details, no reply */
  vl_api_calico_dnat_translation_dump_t d = {0};
  d._vl_msg_id = BASE + VL_API_CALICO_DNAT_TRANSLATION_DUMP;
  uint32_t dl = vl_api_calico_dnat_translation_dump_t_encode(&d);
  uint8_t big[64] = {0};
  memcpy(big, &d, dl);
  CHECK_EQ(cdn_api_handle(api, big, dl + 1, cp_api_collect_send, &out), CP_API_NO_REPLY_DUMP);
  teardown();
}

static void test_delete_of_unknown_translation_is_no_such_entry(void)
{
  setup();
  vl_api_calico_dnat_translation_del_t mp = {0};
  mp._vl_msg_id = BASE + VL_API_CALICO_DNAT_TRANSLATION_DEL;
  mp.id = 42;
  uint32_t len = vl_api_calico_dnat_translation_del_t_encode(&mp);
  CHECK_EQ(call(&mp, len), CP_API_E_NO_SUCH_ENTRY);
  teardown();
}

static void test_snat_prefixes_are_added_dumped_and_duplicates_refused(void)
{
  setup();
  vl_api_calico_dnat_snat_prefix_add_del_t mp = {0};
  mp._vl_msg_id = BASE + VL_API_CALICO_DNAT_SNAT_PREFIX_ADD_DEL;
  mp.is_add = 1;
  mp.kind = CALICO_DNAT_SNAT_EXCLUDE;
  mp.prefix.address.af = ADDRESS_IP4;
  mp.prefix.address.un.ip4[0] = 10;
  mp.prefix.len = 8;
  vl_api_calico_dnat_snat_prefix_add_del_t w = mp;
  uint32_t len = vl_api_calico_dnat_snat_prefix_add_del_t_encode(&w);
  CHECK_EQ(call(&w, len), 0);
  w = mp;
  vl_api_calico_dnat_snat_prefix_add_del_t_encode(&w);
  CHECK_EQ(call(&w, len), CP_API_E_ENTRY_ALREADY_EXISTS);
  w = mp;
  w.prefix.len = 33;
  vl_api_calico_dnat_snat_prefix_add_del_t_encode(&w);
  CHECK_EQ(call(&w, len), CP_API_E_INVALID_VALUE);
  w = mp;
  w.prefix.address.un.ip4[3] = 1; /* host bits */
  vl_api_calico_dnat_snat_prefix_add_del_t_encode(&w);
  CHECK_EQ(call(&w, len), CP_API_E_INVALID_VALUE_2);
  w = mp;
  w.is_add = 2;
  vl_api_calico_dnat_snat_prefix_add_del_t_encode(&w);
  CHECK_EQ(call(&w, len), CP_API_E_INVALID_VALUE);

  vl_api_calico_dnat_snat_prefix_dump_t d = {0};
  d._vl_msg_id = BASE + VL_API_CALICO_DNAT_SNAT_PREFIX_DUMP;
  uint32_t dl = vl_api_calico_dnat_snat_prefix_dump_t_encode(&d);
  cp_api_collect_reset(&out);
  cdn_api_handle(api, (const uint8_t *)&d, dl, cp_api_collect_send, &out);
  CHECK_EQ(out.n_msgs, 1);
  teardown();
}

static void test_interfaces_are_enabled_dumped_and_disabled(void)
{
  setup();
  for (uint32_t sw = 5; sw > 2; sw--) {
    vl_api_calico_dnat_interface_enable_disable_t mp = {0};
    mp._vl_msg_id = BASE + VL_API_CALICO_DNAT_INTERFACE_ENABLE_DISABLE;
    mp.sw_if_index = sw;
    mp.is_enable = 1;
    uint32_t len = vl_api_calico_dnat_interface_enable_disable_t_encode(&mp);
    CHECK_EQ(call(&mp, len), 0);
  }
  vl_api_calico_dnat_interface_enable_disable_t mp = {0};
  mp._vl_msg_id = BASE + VL_API_CALICO_DNAT_INTERFACE_ENABLE_DISABLE;
  mp.sw_if_index = 4;
  uint32_t len = vl_api_calico_dnat_interface_enable_disable_t_encode(&mp);
  CHECK_EQ(call(&mp, len), 0);
  vl_api_calico_dnat_interface_dump_t d = {0};
  d._vl_msg_id = BASE + VL_API_CALICO_DNAT_INTERFACE_DUMP;
  uint32_t dl = vl_api_calico_dnat_interface_dump_t_encode(&d);
  cp_api_collect_reset(&out);
  cdn_api_handle(api, (const uint8_t *)&d, dl, cp_api_collect_send, &out);
  CHECK_EQ(out.n_msgs, 2);
  uint32_t l;
  CHECK_EQ(rd32(reply(0, &l) + 6), 3);
  CHECK_EQ(rd32(reply(1, &l) + 6), 5);
  CHECK_EQ(reply(0, &l)[10], 0); /* not a pod interface */
  /* the pod role: set on an enabled interface, the same again is a no-op, a bad bool is
   * refused and changes nothing */
  for (int k = 0; k < 3; k++) {
    vl_api_calico_dnat_interface_enable_disable_t pm = {0}; /* encode converts in place */
    pm._vl_msg_id = BASE + VL_API_CALICO_DNAT_INTERFACE_ENABLE_DISABLE;
    pm.sw_if_index = 5;
    pm.is_enable = 1;
    pm.is_pod = k < 2 ? 1 : 2;
    len = vl_api_calico_dnat_interface_enable_disable_t_encode(&pm);
    CHECK_EQ(call(&pm, len), k == 0   ? 0
                             : k == 1 ? CP_API_E_ENTRY_ALREADY_EXISTS
                                      : CP_API_E_INVALID_VALUE);
  }
  cp_api_collect_reset(&out);
  cdn_api_handle(api, (const uint8_t *)&d, dl, cp_api_collect_send, &out);
  CHECK_EQ(out.n_msgs, 2);
  CHECK_EQ(rd32(reply(1, &l) + 6), 5);
  CHECK_EQ(reply(1, &l)[10], 1);
  CHECK_EQ(reply(0, &l)[10], 0);
  teardown();
}

static void test_batch_handles_every_request_and_reports_bad_framing(void)
{
  setup();
  uint8_t blob[3 * (4 + sizeof(vl_api_calico_dnat_translation_del_t))];
  uint32_t off = 0;
  for (int i = 0; i < 3; i++) {
    vl_api_calico_dnat_translation_del_t mp = {0};
    mp._vl_msg_id = BASE + VL_API_CALICO_DNAT_TRANSLATION_DEL;
    mp.context = (u32)i;
    uint32_t len = vl_api_calico_dnat_translation_del_t_encode(&mp);
    blob[off] = 0;
    blob[off + 1] = 0;
    blob[off + 2] = 0;
    blob[off + 3] = (uint8_t)len;
    memcpy(blob + off + 4, &mp, len);
    off += 4 + len;
  }
  cp_api_collect_reset(&out);
  CHECK_EQ(cdn_api_handle_batch(api, blob, off, cp_api_collect_send, &out), 0);
  CHECK_EQ(out.n_msgs, 3);
  cp_api_collect_reset(&out);
  CHECK_EQ(cdn_api_handle_batch(api, blob, off - 1, cp_api_collect_send, &out), -1);
  CHECK_EQ(out.n_msgs, 2);
  teardown();
}

static void test_message_table_names_carry_crcs(void)
{
  CHECK_EQ(cdn_api_msg_count(), VL_MSG_CALICO_DNAT_LAST);
  CHECK(strncmp(cdn_api_msg_name_crc(0), "calico_dnat_get_version_", 24) == 0);
  CHECK(cdn_api_msg_name_crc(VL_MSG_CALICO_DNAT_LAST) == NULL);
}

int main(void)
{
  RUN(test_get_version_replies_with_the_api_version);
  RUN(test_translation_update_then_dump_round_trips);
  RUN(test_bad_length_and_count_are_rejected_without_change);
  RUN(test_bad_values_are_rejected_without_change);
  RUN(test_unknown_and_short_messages_get_no_reply);
  RUN(test_delete_of_unknown_translation_is_no_such_entry);
  RUN(test_snat_prefixes_are_added_dumped_and_duplicates_refused);
  RUN(test_interfaces_are_enabled_dumped_and_disabled);
  RUN(test_batch_handles_every_request_and_reports_bad_framing);
  RUN(test_message_table_names_carry_crcs);
  TEST_MAIN_END();
}
