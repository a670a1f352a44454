/* The lookup of cp_mfc.c compiled for AVX2 (+ BMI1/2, FMA, POPCNT): see cp_mfc_isa.h. */
#define CP_MFC_ISA_FN cp_mfc_classify_burst_avx2
#include "cp_mfc.c"
