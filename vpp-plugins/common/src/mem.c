#include "cp/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *cp_calloc_huge(size_t n, size_t size)
{
  const size_t huge = (size_t)2 << 20;
  if (size && n > SIZE_MAX / size)
    return NULL;
  size_t bytes = n * size;
  size_t align = bytes >= huge ? huge : 64;
  bytes = bytes ? (bytes + align - 1) & ~(align - 1) : 64;
  void *p = aligned_alloc(align, bytes);
  if (!p)
    return NULL;
#ifdef MADV_HUGEPAGE
  if (align == huge)
    madvise(p, bytes, MADV_HUGEPAGE); /* advisory: without THP the tables still work */
#endif
  memset(p, 0, bytes);
  return p;
}
