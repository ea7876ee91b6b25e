/* NumPy .npy writer (format version 1.0), so Python users can np.load() the
 * float matrices voxgender computes. */
#include "voxgender.h"
#include "atomic_file.h"

#include <stdio.h>
#include <string.h>

int vg_npy_write_f32(const char *path, const float *data, const size_t *shape, int ndim)
{
    if (!path || !data || !shape || ndim < 1 || ndim > 8) return VG_EARG;
    char dims[256] = "";
    size_t count = 1, len = 0;
    for (int i = 0; i < ndim; i++) {
        len += (size_t)snprintf(dims + len, sizeof dims - len, "%zu,%s", shape[i],
                                (i + 1 < ndim) ? " " : "");
        count *= shape[i];
    }
    if (ndim > 1) dims[len - 1] = '\0'; /* "(a, b)" not "(a, b,)" */
    char header[512];
    int n = snprintf(header, sizeof header,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    /* Pad with spaces so magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64. */
    int total = 10 + n + 1;
    int padded = (total + 63) / 64 * 64;
    memset(header + n, ' ', (size_t)(padded - total));
    header[padded - 10 - 1] = '\n';
    int hlen = padded - 10;

    vg_atomic_file af;
    int rc = vg_atomic_open(&af, path);
    if (rc) return rc;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, 10, af.fp);
    fwrite(header, 1, (size_t)hlen, af.fp);
    /* Little-endian hosts only (x86-64, arm64): data is written as is. */
    fwrite(data, sizeof(float), count, af.fp);
    return vg_atomic_commit(&af);
}
