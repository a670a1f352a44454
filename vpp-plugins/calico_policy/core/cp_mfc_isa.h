/*
 * The lookup's instruction set, chosen at run time. On x86-64 builds without
 * CP_NATIVE_ARCH (CP_MFC_DISPATCH defined), the lookup half of cp_mfc.c is compiled three
 * times: with the build's own flags (SSE2), with AVX2 (cp_mfc_isa_avx2.c) and with
 * AVX-512VL (cp_mfc_isa_avx512.c). cp_mfc_classify_burst calls the best one this CPU runs,
 * found at first use, as a -march=native build would. The tree is the same data for all
 * three; only the walk's compares differ. Internal to the library.
 */
#ifndef CP_MFC_ISA_H
#define CP_MFC_ISA_H

#include "cp_mfc.h"

void cp_mfc_classify_burst_sse2(const cp_mfc_t *t, const uint32_t *keys, uint32_t n,
                                int32_t *results);
void cp_mfc_classify_burst_avx2(const cp_mfc_t *t, const uint32_t *keys, uint32_t n,
                                int32_t *results);
void cp_mfc_classify_burst_avx512(const cp_mfc_t *t, const uint32_t *keys, uint32_t n,
                                  int32_t *results);

#endif
