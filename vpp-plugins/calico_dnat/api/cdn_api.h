/*
 * calico_dnat API message handlers: one request in (wire bytes, network order), replies
 * and details out through a callback. The same code runs inside the VPP plugin (vpp/
 * passes each message with its length and forwards replies to the client's queue) and
 * in process (pycontrol._native, C tests, fuzzers). Messages are the ones of
 * calico_dnat.api; ids are msg_id_base + VL_API_CALICO_DNAT_* (VPP allocates the base).
 *
 * Every request is validated completely before the core is called: length against the
 * layout and n_backends, enum and flag values, bools, address families, prefix lengths,
 * protocol, ids. A rejected request gets its reply with a VPP error value and changes
 * nothing. Configuration calls must come from one thread (VPP: the main thread, workers
 * at the barrier).
 */
#ifndef CDN_API_H
#define CDN_API_H

#include <stdint.h>

#include "calico_dnat.h"
#include "cp/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdn_api cdn_api_t;

/* The handlers of one core context. n_workers: the core's (sessions are per worker).
 * NULL on allocation failure. */
cdn_api_t *cdn_api_create(cdn_ctx_t *core, uint32_t n_workers, uint16_t msg_id_base);
void cdn_api_destroy(cdn_api_t *a);
/* Per-interface feature switch (VPP glue); without one, interfaces are only recorded. Its
 * flags: CDN_API_IF_POD for a workload interface. */
enum { CDN_API_IF_POD = 1u << 0 };
void cdn_api_set_interface_fn(cdn_api_t *a, cp_api_interface_fn fn, void *arg);

/* Handle one request: CP_API_HANDLED (replies/details were sent; the reply carries the
 * return value) or CP_API_NO_REPLY_* (nothing sent, nothing changed). */
int cdn_api_handle(cdn_api_t *a, const uint8_t *msg, uint32_t len, cp_api_send_fn send,
                   void *arg);

/* Handle a batch of [u32 length (big-endian)][request] records in one call (bulk
 * programming without a round trip per message). Returns the number of requests that got
 * no reply (CP_API_NO_REPLY_*), or -1 when the framing itself is truncated (requests before
 * the bad record were handled). */
int cdn_api_handle_batch(cdn_api_t *a, const uint8_t *blob, uint32_t len, cp_api_send_fn send,
                         void *arg);

/* Message ids of this plugin: base + index, and the total. */
uint16_t cdn_api_msg_id_base(const cdn_api_t *a);
uint32_t cdn_api_msg_count(void);
/* "name_crc" of message index i (what VPP's message table is keyed by), NULL past the end. */
const char *cdn_api_msg_name_crc(uint32_t i);

#ifdef __cplusplus
}
#endif
#endif /* CDN_API_H */
