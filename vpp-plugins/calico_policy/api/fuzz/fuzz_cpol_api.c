/* libFuzzer target: sequences of calico_policy API requests, random and mutated from valid
 * seeds. Input: records [u8 message index][u16 length][body]; the message id is set from
 * the index, everything else is fuzzed. Checks, besides ASan/UBSan and LeakSanitizer (a
 * fresh core per input, destroyed at the end):
 *   - every reply is a message of this plugin echoing the request's context;
 *   - a rejected request (error reply or no reply) leaves every dump unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calico_policy.api_wire.h"
#include "cpol_api.h"

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
  cp_api_collect_t out = {0}, before = {0}, after = {0};
  size_t off = 0;
  while (off + 3 <= size) {
    uint32_t idx = data[off] % VL_MSG_CALICO_POLICY_LAST;
    uint32_t len = (uint32_t)data[off + 1] << 8 | data[off + 2];
    off += 3;
    if (len > size - off)
      len = (uint32_t)(size - off);
    uint8_t *msg = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
    if (!msg)
      abort();
    memcpy(msg, data + off, len);
    off += len;
    uint16_t id = (uint16_t)(BASE + idx);
    if (len >= 2) {
      msg[0] = (uint8_t)(id >> 8);
      msg[1] = (uint8_t)id;
    }
    snapshot(api, &before);
    cp_api_collect_reset(&out);
    int rc = cpol_api_handle(api, msg, len, cp_api_collect_send, &out);
    int rejected = rc != CP_API_HANDLED;
    if (rejected && out.n_msgs)
      abort(); /* no reply means nothing sent */
    uint32_t o = 0, l = 0;
    int bad = 0;
    const uint8_t *r;
    while ((r = cp_api_batch_next(out.buf, out.len, &o, &l, &bad))) {
      if (l < 6)
        abort();
      uint16_t rid = (uint16_t)(r[0] << 8 | r[1]);
      if (rid < BASE || rid >= BASE + VL_MSG_CALICO_POLICY_LAST)
        abort();
      if (memcmp(r + 2, msg + 6, 4))
        abort();
      /* a non-dump reply: u16 id, u32 context, i32 retval */
      if (!is_dump(idx) && (l < 10 || r[6] | r[7] | r[8] | r[9]))
        rejected = 1;
    }
    if (bad)
      abort();
    if (rejected) {
      snapshot(api, &after);
      if (before.len != after.len || (before.len && memcmp(before.buf, after.buf, before.len)))
        abort();
    }
    free(msg);
  }
  cp_api_collect_free(&out);
  cp_api_collect_free(&before);
  cp_api_collect_free(&after);
  cpol_api_destroy(api);
  cp_policy_destroy(core);
  return 0;
}
