/* Vectors of 8 floats for the AVX2 kernels (conv2d_winograd.c,
 * conv2d_stem.c): GCC's vector extensions, loaded and stored unaligned.
 * Include it after `#pragma GCC target("avx2,fma")`, so that the helpers
 * are compiled for AVX2 like the kernels that inline them.
 * A store through vecu may alias any object (may_alias, as the intrinsics'
 * own unaligned types), so the compiler reads again, after every st(),
 * anything a loop reads through a pointer (a shape's fields, weights,
 * scales): a loop that stores on its hot path (the stem's) copies those
 * into locals first. */
#ifndef VG_VEC8_H
#define VG_VEC8_H

typedef float vec __attribute__((vector_size(8 * sizeof(float))));
typedef float vecu __attribute__((vector_size(8 * sizeof(float)), aligned(sizeof(float)), may_alias));
static inline vec ld(const float *p) { return *(const vecu *)p; }
static inline void st(float *p, vec v) { *(vecu *)p = v; }

#endif
