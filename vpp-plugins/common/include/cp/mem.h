/*
 * Zeroed tables for the fast paths. Tables of 2 MiB and more are 2 MiB aligned and asked
 * to be backed by transparent huge pages (madvise: the mode distributions default to), so
 * that the random lines a burst prefetches do not also miss the TLB; smaller ones are
 * cache-line aligned. Free with free(). NULL when memory is short or n * size overflows.
 */
#ifndef CP_MEM_H
#define CP_MEM_H

#include <stddef.h>

void *cp_calloc_huge(size_t n, size_t size);

#endif
