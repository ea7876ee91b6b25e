/* Which OpenBLAS kernels run, and which would run faster on this CPU; the
 * thread counts of model passes. */
#include "voxgender.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

int vg_set_threads(int n)
{
    if (n < 1) return VG_EARG;
    omp_set_num_threads(n);   /* the calling thread's nthreads-var only */
    return VG_OK;
}

int vg_set_blas_threads(int n)
{
    if (n < 1) return VG_EARG;
    openblas_set_num_threads(n);
    return VG_OK;
}

const char *vg_blas_core(void) { return openblas_get_corename(); }
int vg_blas_threads(void) { return openblas_get_num_threads(); }

const char *vg_blas_recommended_core(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char *core = openblas_get_corename();
    if (!__builtin_cpu_supports("avx512f")) return NULL;
    /* AVX-512 kernels already chosen? */
    static const char *avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    for (size_t i = 0; i < sizeof avx512_cores / sizeof avx512_cores[0]; i++)
        if (core && !strcasecmp(core, avx512_cores[i])) return NULL;
    return "SkylakeX";
#else
    return NULL;
#endif
}
