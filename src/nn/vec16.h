/* Vectors of 16 floats for the AVX-512 kernels (conv2d_winograd.c,
 * conv2d_stem.c), as vec8.h's for AVX2: GCC's vector extensions, loaded and
 * stored unaligned, a store through vec16u aliasing anything. Include it
 * after `#pragma GCC target("avx512f,...")`. */
#ifndef VG_VEC16_H
#define VG_VEC16_H

typedef float vec16 __attribute__((vector_size(16 * sizeof(float))));
typedef float vec16u __attribute__((vector_size(16 * sizeof(float)), aligned(sizeof(float)), may_alias));
static inline vec16 ld16(const float *p) { return *(const vec16u *)p; }
static inline void st16(float *p, vec16 v) { *(vec16u *)p = v; }

#endif
