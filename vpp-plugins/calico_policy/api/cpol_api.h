/*
 * calico_policy API message handlers: one request in (wire bytes, network order), replies
 * and details out through a callback; the same code in the VPP plugin and in process.
 * Messages are those of calico_policy.api; ids are msg_id_base + VL_API_CALICO_POLICY_*.
 *
 * The API names rules, tiers and endpoint bindings as objects, the core takes rules inline
 * in policies/profiles and tiers inline in endpoints: the handlers keep those records
 * (and reference counts between all objects) and push the composed objects to the core.
 * Replacing a rule re-pushes every policy/profile using it, replacing a tier every endpoint
 * using it; if the core refuses one, the ones already pushed are restored and the request
 * fails. Every request is validated completely first; a rejected one changes nothing.
 * Changes reach the fast path at calico_policy_publish (cp_policy_build).
 */
#ifndef CPOL_API_H
#define CPOL_API_H

#include <stdint.h>

#include "calico_policy.h"
#include "cp/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cpol_api cpol_api_t;

cpol_api_t *cpol_api_create(cp_policy_t *core, uint16_t msg_id_base);
void cpol_api_destroy(cpol_api_t *a);
void cpol_api_set_interface_fn(cpol_api_t *a, cp_api_interface_fn fn, void *arg);

/* Handle one request: CP_API_HANDLED or CP_API_NO_REPLY_* (see cp/api.h). */
int cpol_api_handle(cpol_api_t *a, const uint8_t *msg, uint32_t len, cp_api_send_fn send,
                    void *arg);
/* A batch of [u32 length (big-endian)][request] records (see cdn_api_handle_batch). */
int cpol_api_handle_batch(cpol_api_t *a, const uint8_t *blob, uint32_t len, cp_api_send_fn send,
                          void *arg);

uint16_t cpol_api_msg_id_base(const cpol_api_t *a);
uint32_t cpol_api_msg_count(void);
const char *cpol_api_msg_name_crc(uint32_t i);

#ifdef __cplusplus
}
#endif
#endif /* CPOL_API_H */
