/* calico_policy API handlers: objects are created, referenced, dumped and published;
 * bad requests (length, count, enum, family, unknown or referenced ids) get an error reply
 * and change nothing. */
#include <stdlib.h>
#include <string.h>

#include "calico_policy.api_wire.h"
#include "cp_test.h"
#include "cpol_api.h"

#define BASE 2000

static cp_policy_t *core;
static cpol_api_t *api;
static cp_api_collect_t out;

static void setup(void)
{
  cp_policy_params_t params;
  memset(&params, 0, sizeof(params));
  core = cp_policy_create(&params);
  api = cpol_api_create(core, BASE);
  cp_api_collect_reset(&out);
}

static void teardown(void)
{
  cpol_api_destroy(api);
  cp_policy_destroy(core);
  cp_api_collect_free(&out);
}

static uint32_t rd32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int32_t call(const void *mp, uint32_t len)
{
  cp_api_collect_reset(&out);
  if (cpol_api_handle(api, mp, len, cp_api_collect_send, &out) != CP_API_HANDLED ||
      out.n_msgs != 1)
    return 12345;
  return (int32_t)rd32(out.buf + 4 + 6);
}

static uint32_t dump_count(uint32_t idx)
{
  uint8_t m[10] = {0};
  m[0] = (uint8_t)((BASE + idx) >> 8);
  m[1] = (uint8_t)(BASE + idx);
  cp_api_collect_reset(&out);
  cpol_api_handle(api, m, sizeof(m), cp_api_collect_send, &out);
  return out.n_msgs;
}

static int32_t ipset(uint32_t id, uint8_t type, uint32_t n, uint8_t first_octet)
{
  uint32_t len = sizeof(vl_api_calico_policy_ipset_update_t) +
                 n * sizeof(vl_api_calico_policy_ipset_member_t);
  vl_api_calico_policy_ipset_update_t *mp = calloc(1, len);
  mp->_vl_msg_id = BASE + VL_API_CALICO_POLICY_IPSET_UPDATE;
  mp->id = id;
  mp->type = type;
  mp->n_members = n;
  for (uint32_t i = 0; i < n; i++) {
    mp->members[i].prefix.address.af = ADDRESS_IP4;
    mp->members[i].prefix.address.un.ip4[0] = first_octet;
    mp->members[i].prefix.address.un.ip4[3] = (u8)i;
    mp->members[i].prefix.len = 32;
  }
  vl_api_calico_policy_ipset_update_t_encode(mp);
  int32_t rv = call(mp, len);
  free(mp);
  return rv;
}

/* a rule allowing TCP to dst ipset `set` (and dst ports 80-89) */
static int32_t rule(uint32_t id, uint32_t set, uint8_t kind_override)
{
  uint32_t n = 2;
  uint32_t len = sizeof(vl_api_calico_policy_rule_update_t) + n * sizeof(vl_api_calico_policy_match_t);
  vl_api_calico_policy_rule_update_t *mp = calloc(1, len);
  mp->_vl_msg_id = BASE + VL_API_CALICO_POLICY_RULE_UPDATE;
  mp->id = id;
  mp->action = CALICO_POLICY_ACTION_ALLOW;
  mp->has_protocol = 1;
  mp->protocol = 6;
  mp->n_matches = n;
  mp->matches[0].kind = kind_override ? kind_override : CALICO_POLICY_MATCH_DST_IPSET;
  mp->matches[0].value.ipset_id = cp_api_swap32(set); /* unions travel as they are */
  mp->matches[1].kind = CALICO_POLICY_MATCH_DST_PORTS;
  mp->matches[1].value.ports.first = cp_api_swap16(80);
  mp->matches[1].value.ports.last = cp_api_swap16(89);
  vl_api_calico_policy_rule_update_t_encode(mp);
  int32_t rv = call(mp, len);
  free(mp);
  return rv;
}

static int32_t ids_msg(uint32_t idx, uint32_t id, uint32_t n_ingress, uint32_t n,
                       const uint32_t *ids)
{
  /* policy/profile update: id, n_ingress, n_rules, rule_ids[] */
  uint32_t len = sizeof(vl_api_calico_policy_policy_update_t) + n * 4;
  vl_api_calico_policy_policy_update_t *mp = calloc(1, len);
  mp->_vl_msg_id = (u16)(BASE + idx);
  mp->id = id;
  mp->n_ingress = n_ingress;
  mp->n_rules = n;
  memcpy(mp->rule_ids, ids, n * 4);
  vl_api_calico_policy_policy_update_t_encode(mp);
  int32_t rv = call(mp, len);
  free(mp);
  return rv;
}

static int32_t del(uint32_t idx, uint32_t id)
{
  vl_api_calico_policy_rule_delete_t mp = {0};
  mp._vl_msg_id = (u16)(BASE + idx);
  mp.id = id;
  uint32_t len = vl_api_calico_policy_rule_delete_t_encode(&mp);
  return call(&mp, len);
}

static int32_t tier(uint32_t id, uint32_t policy)
{
  uint32_t len = sizeof(vl_api_calico_policy_tier_update_t) + 4;
  vl_api_calico_policy_tier_update_t *mp = calloc(1, len);
  mp->_vl_msg_id = BASE + VL_API_CALICO_POLICY_TIER_UPDATE;
  mp->id = id;
  mp->default_action = CALICO_POLICY_ACTION_DENY;
  mp->n_ingress = 1;
  mp->n_policies = 1;
  mp->policy_ids[0] = policy;
  vl_api_calico_policy_tier_update_t_encode(mp);
  int32_t rv = call(mp, len);
  free(mp);
  return rv;
}

static int32_t endpoint(uint32_t sw, uint32_t t, uint32_t profile)
{
  uint32_t len = sizeof(vl_api_calico_policy_endpoint_update_t) + 8;
  vl_api_calico_policy_endpoint_update_t *mp = calloc(1, len);
  mp->_vl_msg_id = BASE + VL_API_CALICO_POLICY_ENDPOINT_UPDATE;
  mp->sw_if_index = sw;
  mp->n_tiers = 1;
  mp->n_ids = 2;
  mp->ids[0] = t;
  mp->ids[1] = profile;
  vl_api_calico_policy_endpoint_update_t_encode(mp);
  int32_t rv = call(mp, len);
  free(mp);
  return rv;
}

static int32_t publish(void)
{
  vl_api_calico_policy_publish_t mp = {0};
  mp._vl_msg_id = BASE + VL_API_CALICO_POLICY_PUBLISH;
  uint32_t len = vl_api_calico_policy_publish_t_encode(&mp);
  return call(&mp, len);
}

static void test_objects_are_created_referenced_and_published(void)
{
  setup();
  CHECK_EQ(ipset(1, CALICO_POLICY_IPSET_IP, 100, 10), 0);
  CHECK_EQ(rule(10, 1, 0), 0);
  uint32_t rules[] = {10, 10};
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_POLICY_UPDATE, 100, 1, 2, rules), 0);
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_PROFILE_UPDATE, 200, 1, 1, rules), 0);
  CHECK_EQ(tier(1000, 100), 0);
  CHECK_EQ(endpoint(5, 1000, 200), 0);
  CHECK_EQ(publish(), 0);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_IPSET_DUMP), 1);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_RULE_DUMP), 1);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_POLICY_DUMP), 1);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_PROFILE_DUMP), 1);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_TIER_DUMP), 1);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_ENDPOINT_DUMP), 1);
  /* the ipset dump reports the core's member count */
  dump_count(VL_API_CALICO_POLICY_IPSET_DUMP);
  CHECK_EQ(rd32(out.buf + 4 + 6 + 4 + 1), 100);
  teardown();
}

static void test_referenced_objects_cannot_be_deleted(void)
{
  setup();
  CHECK_EQ(ipset(1, CALICO_POLICY_IPSET_IP, 1, 10), 0);
  CHECK_EQ(rule(10, 1, 0), 0);
  uint32_t rules[] = {10};
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_POLICY_UPDATE, 100, 1, 1, rules), 0);
  CHECK_EQ(tier(1000, 100), 0);
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_PROFILE_UPDATE, 200, 0, 0, rules), 0);
  CHECK_EQ(endpoint(5, 1000, 200), 0);
  CHECK_EQ(del(VL_API_CALICO_POLICY_IPSET_DELETE, 1), CP_API_E_INSTANCE_IN_USE);
  CHECK_EQ(del(VL_API_CALICO_POLICY_RULE_DELETE, 10), CP_API_E_INSTANCE_IN_USE);
  CHECK_EQ(del(VL_API_CALICO_POLICY_POLICY_DELETE, 100), CP_API_E_INSTANCE_IN_USE);
  CHECK_EQ(del(VL_API_CALICO_POLICY_TIER_DELETE, 1000), CP_API_E_INSTANCE_IN_USE);
  CHECK_EQ(del(VL_API_CALICO_POLICY_PROFILE_DELETE, 200), CP_API_E_INSTANCE_IN_USE);
  /* unwinding in order works */
  CHECK_EQ(del(VL_API_CALICO_POLICY_ENDPOINT_DELETE, 5), 0);
  CHECK_EQ(del(VL_API_CALICO_POLICY_TIER_DELETE, 1000), 0);
  CHECK_EQ(del(VL_API_CALICO_POLICY_PROFILE_DELETE, 200), 0);
  CHECK_EQ(del(VL_API_CALICO_POLICY_POLICY_DELETE, 100), 0);
  CHECK_EQ(del(VL_API_CALICO_POLICY_RULE_DELETE, 10), 0);
  CHECK_EQ(del(VL_API_CALICO_POLICY_IPSET_DELETE, 1), 0);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_IPSET_DUMP), 0);
  teardown();
}

static void test_references_to_missing_objects_are_refused(void)
{
  setup();
  CHECK_EQ(rule(10, 99, 0), CP_API_E_NO_SUCH_ENTRY); /* no ipset 99 */
  uint32_t rules[] = {77};
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_POLICY_UPDATE, 100, 1, 1, rules), CP_API_E_NO_SUCH_ENTRY);
  CHECK_EQ(tier(1000, 100), CP_API_E_NO_SUCH_ENTRY);
  CHECK_EQ(endpoint(5, 1000, 200), CP_API_E_NO_SUCH_ENTRY);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_RULE_DUMP), 0);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_POLICY_DUMP), 0);
  teardown();
}

static void test_bad_values_and_lengths_are_refused(void)
{
  setup();
  CHECK_EQ(ipset(1, 7, 1, 10), CP_API_E_INVALID_VALUE); /* ipset type */
  CHECK_EQ(ipset(1, CALICO_POLICY_IPSET_IP, 1, 10), 0);
  CHECK_EQ(rule(10, 1, 40), CP_API_E_INVALID_VALUE); /* match kind */
  uint32_t rules[] = {10};
  /* rule 10 was refused: a policy naming it is too */
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_POLICY_UPDATE, 100, 1, 1, rules), CP_API_E_NO_SUCH_ENTRY);
  /* n_ingress > n_rules with a valid rule */
  CHECK_EQ(rule(10, 1, 0), 0);
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_POLICY_UPDATE, 100, 2, 1, rules), CP_API_E_INVALID_VALUE);
  /* count larger than the bytes */
  uint32_t len = sizeof(vl_api_calico_policy_policy_update_t) + 4;
  vl_api_calico_policy_policy_update_t *mp = calloc(1, len);
  mp->_vl_msg_id = BASE + VL_API_CALICO_POLICY_POLICY_UPDATE;
  mp->id = 100;
  mp->n_rules = 1;
  mp->rule_ids[0] = 10;
  vl_api_calico_policy_policy_update_t_encode(mp);
  mp->n_rules = cp_api_swap32(2u); /* the count now claims more than the bytes carry */
  CHECK_EQ(call(mp, len), CP_API_E_INVALID_ARGUMENT);
  CHECK_EQ(call(mp, len - 1), CP_API_E_INVALID_ARGUMENT);
  free(mp);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_POLICY_DUMP), 0);
  CHECK_EQ(dump_count(VL_API_CALICO_POLICY_RULE_DUMP), 1);
  teardown();
}

static void test_replacing_a_rule_updates_the_policies_using_it(void)
{
  setup();
  CHECK_EQ(ipset(1, CALICO_POLICY_IPSET_IP, 1, 10), 0);
  CHECK_EQ(ipset(2, CALICO_POLICY_IPSET_IP, 1, 11), 0);
  CHECK_EQ(rule(10, 1, 0), 0);
  uint32_t rules[] = {10};
  CHECK_EQ(ids_msg(VL_API_CALICO_POLICY_POLICY_UPDATE, 100, 1, 1, rules), 0);
  CHECK_EQ(rule(10, 2, 0), 0); /* now names ipset 2 */
  /* ipset 1 is free again, ipset 2 is in use */
  CHECK_EQ(del(VL_API_CALICO_POLICY_IPSET_DELETE, 2), CP_API_E_INSTANCE_IN_USE);
  CHECK_EQ(del(VL_API_CALICO_POLICY_IPSET_DELETE, 1), 0);
  CHECK_EQ(publish(), 0);
  teardown();
}

int main(void)
{
  RUN(test_objects_are_created_referenced_and_published);
  RUN(test_referenced_objects_cannot_be_deleted);
  RUN(test_references_to_missing_objects_are_refused);
  RUN(test_bad_values_and_lengths_are_refused);
  RUN(test_replacing_a_rule_updates_the_policies_using_it);
  TEST_MAIN_END();
}
