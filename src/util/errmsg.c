#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>

/* Length of the well-formed UTF-8 sequence at S (at most 4 bytes), 0 if
 * there is none or it encodes a C1 control (U+0080-U+009F, which some
 * terminals obey as they do ESC). */
static int utf8_length(const unsigned char *s)
{
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 2 && s[0] == 0xC2 && s[1] < 0xA0) return 0;
    return n;
}

void vg_err_sanitize(char *msg)
{
    unsigned char *s = (unsigned char *)msg;
    while (*s) {
        int n = *s < 0x80 ? 1 : utf8_length(s);
        if (*s < 0x20 || *s == 0x7F || n == 0) {
            *s++ = '?';
            continue;
        }
        s += n;
    }
}

int vg_errf(int code, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        vg_err_sanitize(err);
    }
    return code;
}
