/* One-line failure reasons for the library's ERR/ERRLEN out-parameters. */
#ifndef VG_ERRMSG_H
#define VG_ERRMSG_H
#include <stddef.h>

/* Format the reason into ERR (when ERR and ERRLEN are set) and return CODE,
 * so that a failure is one statement: return vg_errf(VG_EMODEL, err, n, ...). */
int vg_errf(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reasons quote what a file holds (tensor names, pickle globals, metadata
 * values), and a hostile file could hold a newline or a terminal's escape
 * sequence: every control character, C1 control and byte that is not
 * well-formed UTF-8 becomes '?', in place. vg_errf applies it. */
void vg_err_sanitize(char *msg);
#endif
