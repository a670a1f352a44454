/* The lookup of cp_mfc.c compiled for AVX-512 (F, VL, BW, DQ, CD) on top of AVX2: see
 * cp_mfc_isa.h. */
#define CP_MFC_ISA_FN cp_mfc_classify_burst_avx512
#include "cp_mfc.c"
