/* A data-only reader for the Python pickles inside PyTorch checkpoints.
 * It never runs code: only a fixed set of opcodes is understood, and the only
 * callables it accepts are the handful torch.save emits for a state_dict
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2 /
 * _rebuild_parameter, and the torch.*Storage types). Anything else —
 * os.system, eval, an unknown REDUCE — is refused with a reason. */
#ifndef VG_PICKLE_H
#define VG_PICKLE_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT,
    PV_GLOBAL, PV_STORAGE, PV_TENSOR, PV_MARK
} pv_kind;

typedef struct pv pv;
struct pv {
    pv_kind kind;
    int64_t i;             /* INT, BOOL */
    double f;              /* FLOAT */
    char *s;               /* STR; GLOBAL "module.name" */
    pv **items;            /* TUPLE, LIST; DICT as key, value, key, value... */
    size_t n;
    /* STORAGE */
    char *key;             /* storage key (file name in the checkpoint) */
    int dtype_size;        /* bytes per element; 0 if not a float type */
    const char *dtype;     /* "float32", "float64", "int64", ... */
    int64_t numel;
    /* TENSOR */
    pv *storage;
    int64_t offset;
    int ndim;
    int64_t size[8], stride[8];
};

typedef struct pickle_ctx pickle_ctx;
/* Parse one pickle from BUF[LEN]; *USED receives the bytes it took. Returns
 * the top value (owned by CTX) or NULL with a reason in ERR. */
pickle_ctx *pickle_ctx_create(void);
void pickle_ctx_destroy(pickle_ctx *c);   /* frees every value */
pv *pickle_load(pickle_ctx *c, const unsigned char *buf, size_t len, size_t *used, char *err,
                size_t errlen);
#endif
