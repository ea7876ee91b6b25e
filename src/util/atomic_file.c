#include "atomic_file.h"
#include "voxgender.h"

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
        free(af->tmp_path);
        af->tmp_path = NULL;
        vg_atomic_abort(af);
        return VG_EIO;
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        vg_atomic_abort(af);
        return VG_EIO;
    }
    return VG_OK;
}

int vg_atomic_commit(vg_atomic_file *af)
{
    int bad = ferror(af->fp) != 0;
    bad |= fflush(af->fp) != 0;
    /* mkstemp creates 0600; give the result normal permissions. */
    bad |= fchmod(fileno(af->fp), 0644) != 0;
    bad |= fclose(af->fp) != 0;
    af->fp = NULL;
    if (!bad) bad = rename(af->tmp_path, af->final_path) != 0;
    if (bad) {
        vg_atomic_abort(af);
        return VG_EIO;
    }
    free(af->tmp_path);
    free(af->final_path);
    af->tmp_path = af->final_path = NULL;
    return VG_OK;
}

void vg_atomic_abort(vg_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->final_path);
    memset(af, 0, sizeof *af);
}
