/* The policy CLI's view of the handlers' records: each show command runs the matching
 * dump request through the shared handlers and prints the details messages. */
#ifndef CPOL_VPP_DUMP_H
#define CPOL_VPP_DUMP_H

#include <vlib/vlib.h>

typedef enum {
  CPOL_VPP_DUMP_IPSETS,
  CPOL_VPP_DUMP_RULES,
  CPOL_VPP_DUMP_POLICIES,
  CPOL_VPP_DUMP_PROFILES,
  CPOL_VPP_DUMP_TIERS,
  CPOL_VPP_DUMP_ENDPOINTS,
} cpol_vpp_dump_kind_t;

/* Print every record of a kind; returns how many. */
u32 cpol_vpp_dump(vlib_main_t *vm, cpol_vpp_dump_kind_t kind);

#endif /* CPOL_VPP_DUMP_H */
