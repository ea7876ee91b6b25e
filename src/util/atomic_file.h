/* Write-to-temporary-then-rename, so a failed write never leaves a partial
 * output file under the final name. */
#ifndef VG_ATOMIC_FILE_H
#define VG_ATOMIC_FILE_H
#include <stdio.h>

typedef struct vg_atomic_file {
    FILE *fp;
    char *final_path;
    char *tmp_path;
} vg_atomic_file;

/* Opens a unique temporary file beside PATH. Returns VG_OK or VG_EIO. */
int vg_atomic_open(vg_atomic_file *af, const char *path);
/* Flushes, closes and renames over the final path; removes the temporary
 * file on any error. */
int vg_atomic_commit(vg_atomic_file *af);
/* Closes and removes the temporary file (after an error). */
void vg_atomic_abort(vg_atomic_file *af);
#endif
