/* Which OpenBLAS kernels run, and which would run faster on this CPU; the
 * thread counts of model passes. */
#include "voxgender.h"

#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>
#include <stdlib.h>
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

/* OpenBLAS built for several CPUs (DYNAMIC_ARCH, as Debian's) picks its
 * kernel table once, in gotoblas_dynamic_init, from OPENBLAS_CORETYPE or
 * the CPU; gotoblas_dynamic_quit forgets the choice, so that the next
 * init reads the variable again. Both are exported but not declared in
 * cblas.h, so they are looked up at run time: another BLAS, or an
 * OpenBLAS without them, is left as it is. */
static int switch_core(const char *core)
{
    void (*quit)(void), (*init)(void);
    *(void **)&quit = dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    *(void **)&init = dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!quit || !init) return 0;
    setenv("OPENBLAS_CORETYPE", core, 1);
    quit();
    init();
    return 1;
}

int vg_blas_use_core(const char *core)
{
    if (!core || !*core) return VG_EARG;
    const char *now = openblas_get_corename();
    if (now && !strcasecmp(now, core)) return VG_OK;
    /* OPENBLAS_CORETYPE as it was, and the core to go back to */
    const char *env = getenv("OPENBLAS_CORETYPE");
    char *saved_env = env ? strdup(env) : NULL, *saved_core = now ? strdup(now) : NULL;
    int rc = VG_EUNSUPPORTED;
    if (switch_core(core)) {
        now = openblas_get_corename();
        if (now && !strcasecmp(now, core)) rc = VG_OK;
        else if (saved_core) switch_core(saved_core);   /* a name this OpenBLAS does not know */
    }
    if (rc != VG_OK) {
        if (saved_env) setenv("OPENBLAS_CORETYPE", saved_env, 1);
        else unsetenv("OPENBLAS_CORETYPE");
    }
    free(saved_env);
    free(saved_core);
    return rc;
}
