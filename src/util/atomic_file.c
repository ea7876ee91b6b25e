#include "atomic_file.h"
#include "voxgender.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vg_atomic_open(vg_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    size_t n = strlen(path);
    af->final_path = strdup(path);
    af->tmp_path = malloc(n + 16);
    if (!af->final_path || !af->tmp_path) {
        vg_atomic_abort(af);
        return VG_ENOMEM;
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, ".tmp-XXXXXX", 12);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        free(af->tmp_path);   /* nothing was made to remove */
        af->tmp_path = NULL;
        vg_atomic_abort(af);
        return VG_EIO;
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        vg_atomic_abort(af);
        close(fd);   /* a valid descriptor closes without touching errno */
        return VG_EIO;
    }
    return VG_OK;
}

/* The first failure's errno is kept for the caller (see VG_EIO in
 * voxgender.h): a full disk should say so, not "read or write error". */
static void first_failure(int failed, int *why)
{
    if (failed && !*why) *why = errno ? errno : EIO;
}

int vg_atomic_commit(vg_atomic_file *af)
{
    int why = 0;
    /* a write that failed earlier left errno set (ENOSPC, EDQUOT, EIO) */
    first_failure(ferror(af->fp) != 0, &why);
    first_failure(fflush(af->fp) != 0, &why);
    /* mkstemp creates 0600; give the result normal permissions. */
    first_failure(fchmod(fileno(af->fp), 0644) != 0, &why);
    first_failure(fclose(af->fp) != 0, &why);
    af->fp = NULL;
    if (!why) first_failure(rename(af->tmp_path, af->final_path) != 0, &why);
    if (why) {
        errno = why;
        vg_atomic_abort(af);
        return VG_EIO;
    }
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    return VG_OK;
}

/* Keeps errno: the caller reports the failure that led here (VG_EIO's
 * reason), not the clean-up's. */
void vg_atomic_abort(vg_atomic_file *af)
{
    int why = errno;
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    memset(af, 0, sizeof *af);
    errno = why;
}
