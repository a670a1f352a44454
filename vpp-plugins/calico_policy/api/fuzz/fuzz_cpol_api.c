/* libFuzzer target: sequences of calico_policy API requests, random and mutated from valid
 * seeds, through the shared driver (cp_api_fuzz.h: input format and checks); a fresh
 * core per input, destroyed at the end (LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calico_policy.api_wire.h"
#include "cpol_api.h"
#include "cp_api_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 512

static const uint16_t dumps[] = {
    VL_API_CALICO_POLICY_INTERFACE_DUMP, VL_API_CALICO_POLICY_IPSET_DUMP,
    VL_API_CALICO_POLICY_RULE_DUMP,      VL_API_CALICO_POLICY_POLICY_DUMP,
    VL_API_CALICO_POLICY_PROFILE_DUMP,   VL_API_CALICO_POLICY_TIER_DUMP,
    VL_API_CALICO_POLICY_ENDPOINT_DUMP};

static int is_dump(uint32_t idx)
{
  for (unsigned i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++)
    if (dumps[i] == idx)
      return 1;
  return idx == VL_API_CALICO_POLICY_RULE_COUNTERS_DUMP ||
         idx == VL_API_CALICO_POLICY_IPSET_MEMBER_DUMP;
}

/* every dump's details, concatenated: the observable configuration */
static void snapshot(cpol_api_t *api, cp_api_collect_t *c)
{
  cp_api_collect_reset(c);
  for (unsigned i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
    uint8_t m[10] = {0};
    uint16_t id = (uint16_t)(BASE + dumps[i]);
    m[0] = (uint8_t)(id >> 8);
    m[1] = (uint8_t)id;
    if (cpol_api_handle(api, m, sizeof(m), cp_api_collect_send, c) != CP_API_HANDLED)
      abort();
  }
  /* the members of the ipsets the seeds use (an unknown id just answers nothing) */
  for (uint8_t id = 0; id < 4; id++) {
    uint8_t m[14] = {0};
    uint16_t mid = (uint16_t)(BASE + VL_API_CALICO_POLICY_IPSET_MEMBER_DUMP);
    m[0] = (uint8_t)(mid >> 8);
    m[1] = (uint8_t)mid;
    m[13] = id;
    cpol_api_handle(api, m, sizeof(m), cp_api_collect_send, c);
  }
}

static int handle(void *api, const uint8_t *msg, uint32_t len, cp_api_send_fn send, void *arg)
{
  return cpol_api_handle((cpol_api_t *)api, msg, len, send, arg);
}

static void snapshot_any(void *api, cp_api_collect_t *c) { snapshot((cpol_api_t *)api, c); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  cp_policy_params_t params;
  memset(&params, 0, sizeof(params));
  params.max_ipsets = 64;
  params.max_ipset_members = 256;
  params.max_rules_per_policy = 64;
  params.max_list = 64;
  cp_policy_t *core = cp_policy_create(&params);
  if (!core)
    abort();
  cpol_api_t *api = cpol_api_create(core, BASE);
  if (!api)
    abort();
  cp_api_fuzz_t f = {api, BASE, VL_MSG_CALICO_POLICY_LAST, handle, snapshot_any, is_dump};
  cp_api_fuzz_run(&f, data, size);
  cpol_api_destroy(api);
  cp_policy_destroy(core);
  return 0;
}
