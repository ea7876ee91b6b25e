/* Pickle opcodes (protocols 2-4) as data: see pickle.h for what is refused. */
#include "pickle.h"
#include "../util/errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pickle_ctx {
    pv **all;              /* every value made, freed together */
    size_t n_all, cap_all;
};

pickle_ctx *pickle_ctx_create(void) { return calloc(1, sizeof(pickle_ctx)); }

void pickle_ctx_destroy(pickle_ctx *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_all; i++) {
        free(c->all[i]->s);
        free(c->all[i]->items);
        free(c->all[i]->key);
        free(c->all[i]);
    }
    free(c->all);
    free(c);
}

static pv *mk(pickle_ctx *c, pv_kind k)
{
    if (c->n_all == c->cap_all) {
        size_t cap = c->cap_all ? 2 * c->cap_all : 256;
        pv **a = realloc(c->all, sizeof(pv *) * cap);
        if (!a) return NULL;
        c->all = a;
        c->cap_all = cap;
    }
    pv *v = calloc(1, sizeof(pv));
    if (!v) return NULL;
    v->kind = k;
    c->all[c->n_all++] = v;
    return v;
}

typedef struct vm {
    pickle_ctx *c;
    const unsigned char *p, *end;
    pv **stack;
    size_t sp, cap;
    pv **memo;
    size_t memo_cap;
    char *err;
    size_t errlen;
    int failed;
} vm;

static int fail(vm *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(vm *m, const char *fmt, ...)
{
    if (!m->failed && m->err && m->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->err, m->errlen, fmt, ap);
        va_end(ap);
        vg_err_sanitize(m->err);   /* it may quote the file's own strings */
    }
    m->failed = 1;
    return -1;
}

static int push(vm *m, pv *v)
{
    if (!v) return fail(m, "out of memory");
    if (m->sp == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        if (cap > (1u << 22)) return fail(m, "pickle stack too deep");
        pv **s = realloc(m->stack, sizeof(pv *) * cap);
        if (!s) return fail(m, "out of memory");
        m->stack = s;
        m->cap = cap;
    }
    m->stack[m->sp++] = v;
    return 0;
}

static pv *pop(vm *m)
{
    if (m->sp == 0) { fail(m, "pickle stack underflow (damaged file)"); return NULL; }
    pv *v = m->stack[--m->sp];
    if (v->kind == PV_MARK) { fail(m, "unexpected MARK (damaged file)"); return NULL; }
    return v;
}

static pv *top(vm *m)
{
    if (m->sp == 0) { fail(m, "pickle stack underflow (damaged file)"); return NULL; }
    return m->stack[m->sp - 1];
}

/* Index of the topmost MARK, or -1. */
static long find_mark(vm *m)
{
    for (long i = (long)m->sp - 1; i >= 0; i--)
        if (m->stack[i]->kind == PV_MARK) return i;
    fail(m, "missing MARK (damaged file)");
    return -1;
}

static int need(vm *m, size_t n)
{
    if ((size_t)(m->end - m->p) < n) return fail(m, "pickle is truncated");
    return 0;
}

static uint64_t rd_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int memo_put(vm *m, uint64_t idx, pv *v)
{
    if (idx > (1u << 24)) return fail(m, "memo index out of range");
    if (idx >= m->memo_cap) {
        size_t cap = m->memo_cap ? m->memo_cap : 64;
        while (cap <= idx) cap *= 2;
        pv **a = realloc(m->memo, sizeof(pv *) * cap);
        if (!a) return fail(m, "out of memory");
        memset(a + m->memo_cap, 0, sizeof(pv *) * (cap - m->memo_cap));
        m->memo = a;
        m->memo_cap = cap;
    }
    m->memo[idx] = v;
    return 0;
}

static size_t n_memo(vm *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->memo_cap; i++) n += m->memo[i] != NULL;
    return n;
}

static pv *make_str(vm *m, const unsigned char *s, size_t n)
{
    pv *v = mk(m->c, PV_STR);
    if (!v || !(v->s = malloc(n + 1))) return NULL;
    memcpy(v->s, s, n);
    v->s[n] = '\0';
    return v;
}

static pv *make_seq(vm *m, pv_kind k, pv **items, size_t n)
{
    pv *v = mk(m->c, k);
    if (!v) return NULL;
    if (n) {
        v->items = malloc(sizeof(pv *) * n);
        if (!v->items) return NULL;
        memcpy(v->items, items, sizeof(pv *) * n);
    }
    v->n = n;
    return v;
}

static int seq_append(pv *seq, pv *x)
{
    pv **a = realloc(seq->items, sizeof(pv *) * (seq->n + 1));
    if (!a) return -1;
    seq->items = a;
    seq->items[seq->n++] = x;
    return 0;
}

/* The only globals a state_dict needs. */
static const struct { const char *name; const char *dtype; int size; } STORAGES[] = {
    {"torch.FloatStorage", "float32", 4}, {"torch.DoubleStorage", "float64", 8},
    {"torch.HalfStorage", "float16", 2},  {"torch.BFloat16Storage", "bfloat16", 2},
    {"torch.LongStorage", "int64", 8},    {"torch.IntStorage", "int32", 4},
    {"torch.ShortStorage", "int16", 2},   {"torch.CharStorage", "int8", 1},
    {"torch.ByteStorage", "uint8", 1},    {"torch.BoolStorage", "bool", 1}};
static const char *CALLABLES[] = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                  "torch._utils._rebuild_parameter"};

static int global(vm *m, const char *module, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s.%s", module, name);
    int ok = 0;
    for (size_t i = 0; i < sizeof STORAGES / sizeof STORAGES[0]; i++) ok |= !strcmp(full, STORAGES[i].name);
    for (size_t i = 0; i < sizeof CALLABLES / sizeof CALLABLES[0]; i++) ok |= !strcmp(full, CALLABLES[i]);
    if (!ok)
        return fail(m, "refused: the pickle references %s, which is not part of a tensor state_dict "
                    "(a .pth file can run code in Python; voxgender only reads data)", full);
    pv *g = mk(m->c, PV_GLOBAL);
    if (!g || !(g->s = strdup(full))) return fail(m, "out of memory");
    return push(m, g);
}

static int as_int(const pv *v, int64_t *out)
{
    if (!v || (v->kind != PV_INT && v->kind != PV_BOOL)) return -1;
    *out = v->i;
    return 0;
}

/* persistent_load: ('storage', storage_type, key, location, numel[, view]) */
static pv *persistent(vm *m, pv *pid)
{
    if (pid->kind != PV_TUPLE || pid->n < 5 || pid->items[0]->kind != PV_STR ||
        strcmp(pid->items[0]->s, "storage") || pid->items[1]->kind != PV_GLOBAL ||
        pid->items[2]->kind != PV_STR) {
        fail(m, "unsupported persistent id (not a tensor storage)");
        return NULL;
    }
    pv *st = mk(m->c, PV_STORAGE);
    if (!st || !(st->key = strdup(pid->items[2]->s))) { fail(m, "out of memory"); return NULL; }
    const char *type = pid->items[1]->s;
    st->dtype = "unknown";
    for (size_t i = 0; i < sizeof STORAGES / sizeof STORAGES[0]; i++)
        if (!strcmp(type, STORAGES[i].name)) { st->dtype = STORAGES[i].dtype; st->dtype_size = STORAGES[i].size; }
    if (as_int(pid->items[4], &st->numel) || st->numel < 0) { fail(m, "bad storage size"); return NULL; }
    if (pid->n >= 6 && pid->items[5]->kind != PV_NONE) { fail(m, "storage views are not supported"); return NULL; }
    return st;
}

static pv *reduce(vm *m, pv *fn, pv *args)
{
    if (fn->kind != PV_GLOBAL || args->kind != PV_TUPLE) { fail(m, "refused: REDUCE on something that is not an allowed callable"); return NULL; }
    if (!strcmp(fn->s, "collections.OrderedDict")) {
        if (args->n != 0) { fail(m, "OrderedDict with arguments is not supported"); return NULL; }
        return mk(m->c, PV_DICT);
    }
    if (!strcmp(fn->s, "torch._utils._rebuild_parameter")) {
        if (args->n < 1 || args->items[0]->kind != PV_TENSOR) { fail(m, "bad _rebuild_parameter arguments"); return NULL; }
        return args->items[0];
    }
    if (!strcmp(fn->s, "torch._utils._rebuild_tensor_v2")) {
        if (args->n < 4 || args->items[0]->kind != PV_STORAGE || args->items[2]->kind != PV_TUPLE ||
            args->items[3]->kind != PV_TUPLE || args->items[2]->n != args->items[3]->n || args->items[2]->n > 8) {
            fail(m, "bad _rebuild_tensor_v2 arguments");
            return NULL;
        }
        pv *t = mk(m->c, PV_TENSOR);
        if (!t) return NULL;
        t->storage = args->items[0];
        t->ndim = (int)args->items[2]->n;
        if (as_int(args->items[1], &t->offset) || t->offset < 0) { fail(m, "bad storage offset"); return NULL; }
        for (int d = 0; d < t->ndim; d++)
            if (as_int(args->items[2]->items[d], &t->size[d]) || as_int(args->items[3]->items[d], &t->stride[d]) ||
                t->size[d] < 0 || t->stride[d] < 0) {
                fail(m, "bad tensor size or stride");
                return NULL;
            }
        return t;
    }
    fail(m, "refused: REDUCE on %s", fn->s);
    return NULL;
}

pv *pickle_load(pickle_ctx *c, const unsigned char *buf, size_t len, size_t *used, char *err,
                size_t errlen)
{
    vm m = {.c = c, .p = buf, .end = buf + len, .err = err, .errlen = errlen};
    pv *result = NULL;
    while (!m.failed) {
        if (need(&m, 1)) break;
        unsigned char op = *m.p++;
        switch (op) {
        case 0x80: /* PROTO */
            if (need(&m, 1)) break;
            if (*m.p > 5) fail(&m, "unsupported pickle protocol %d", *m.p);
            m.p++;
            break;
        case 0x95: /* FRAME */
            if (!need(&m, 8)) m.p += 8;
            break;
        case '.': /* STOP */
            result = pop(&m);
            goto done;
        case '(': push(&m, mk(c, PV_MARK)); break;
        case 'N': push(&m, mk(c, PV_NONE)); break;
        case 0x88: case 0x89: { pv *v = mk(c, PV_BOOL); if (v) v->i = op == 0x88; push(&m, v); break; }
        case 'J': case 'K': case 'M': {
            int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            if (need(&m, (size_t)n)) break;
            pv *v = mk(c, PV_INT);
            if (v) v->i = op == 'J' ? (int32_t)rd_le(m.p, 4) : (int64_t)rd_le(m.p, n);
            m.p += n;
            push(&m, v);
            break;
        }
        case 0x8a: { /* LONG1: little-endian two's complement, up to 8 bytes kept */
            if (need(&m, 1)) break;
            int n = *m.p++;
            if (need(&m, (size_t)n)) break;
            pv *v = mk(c, PV_INT);
            if (v && n > 0) {
                int k = n > 8 ? 8 : n;
                uint64_t u = rd_le(m.p, k);
                if (k < 8 && (m.p[k - 1] & 0x80)) u |= ~0ull << (8 * k);
                v->i = (int64_t)u;
            }
            m.p += n;
            push(&m, v);
            break;
        }
        case 'G': { /* BINFLOAT, big-endian double */
            if (need(&m, 8)) break;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u = u << 8 | m.p[i];
            m.p += 8;
            pv *v = mk(c, PV_FLOAT);
            if (v) memcpy(&v->f, &u, 8);
            push(&m, v);
            break;
        }
        case 'X': case 0x8c: case 'T': case 'U': { /* BINUNICODE, SHORT_BINUNICODE, BINSTRING, SHORT_BINSTRING */
            int w = (op == 'X' || op == 'T') ? 4 : 1;
            if (need(&m, (size_t)w)) break;
            size_t n = (size_t)rd_le(m.p, w);
            m.p += w;
            if (need(&m, n)) break;
            push(&m, make_str(&m, m.p, n));
            m.p += n;
            break;
        }
        case 0x93: { /* STACK_GLOBAL */
            pv *name = pop(&m), *mod = pop(&m);
            if (!name || !mod) break;
            if (name->kind != PV_STR || mod->kind != PV_STR) { fail(&m, "bad STACK_GLOBAL"); break; }
            global(&m, mod->s, name->s);
            break;
        }
        case 'c': { /* GLOBAL "module\nname\n" */
            const unsigned char *nl1 = memchr(m.p, '\n', (size_t)(m.end - m.p));
            const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(m.end - nl1 - 1)) : NULL;
            if (!nl1 || !nl2 || nl2 - m.p > 250) { fail(&m, "bad GLOBAL"); break; }
            char mod[256], name[256];
            snprintf(mod, sizeof mod, "%.*s", (int)(nl1 - m.p), m.p);
            snprintf(name, sizeof name, "%.*s", (int)(nl2 - nl1 - 1), nl1 + 1);
            m.p = nl2 + 1;
            global(&m, mod, name);
            break;
        }
        case '}': push(&m, mk(c, PV_DICT)); break;
        case ']': push(&m, mk(c, PV_LIST)); break;
        case ')': push(&m, make_seq(&m, PV_TUPLE, NULL, 0)); break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t n = (size_t)(op - 0x84);
            if (m.sp < n) { fail(&m, "pickle stack underflow (damaged file)"); break; }
            for (size_t k = 0; k < n; k++)
                if (m.stack[m.sp - 1 - k]->kind == PV_MARK) fail(&m, "unexpected MARK");
            if (m.failed) break;
            pv *t = make_seq(&m, PV_TUPLE, m.stack + m.sp - n, n);
            m.sp -= n;
            push(&m, t);
            break;
        }
        case 't': case 'l': { /* TUPLE, LIST from MARK */
            long mk_at = find_mark(&m);
            if (mk_at < 0) break;
            pv *t = make_seq(&m, op == 't' ? PV_TUPLE : PV_LIST, m.stack + mk_at + 1, m.sp - (size_t)mk_at - 1);
            m.sp = (size_t)mk_at;
            push(&m, t);
            break;
        }
        case 'd': { /* DICT from MARK */
            long mk_at = find_mark(&m);
            if (mk_at < 0) break;
            if ((m.sp - (size_t)mk_at - 1) % 2) { fail(&m, "odd DICT items"); break; }
            pv *t = make_seq(&m, PV_DICT, m.stack + mk_at + 1, m.sp - (size_t)mk_at - 1);
            m.sp = (size_t)mk_at;
            push(&m, t);
            break;
        }
        case 'q': case 'r': case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
            pv *v = top(&m);
            if (!v) break;
            uint64_t idx;
            if (op == 0x94) idx = n_memo(&m);
            else {
                int w = op == 'q' ? 1 : 4;
                if (need(&m, (size_t)w)) break;
                idx = rd_le(m.p, w);
                m.p += w;
            }
            memo_put(&m, idx, v);
            break;
        }
        case 'h': case 'j': { /* BINGET, LONG_BINGET */
            int w = op == 'h' ? 1 : 4;
            if (need(&m, (size_t)w)) break;
            uint64_t idx = rd_le(m.p, w);
            m.p += w;
            if (idx >= m.memo_cap || !m.memo[idx]) { fail(&m, "memo reference to nothing (damaged file)"); break; }
            push(&m, m.memo[idx]);
            break;
        }
        case 'a': { /* APPEND */
            pv *x = pop(&m), *l = top(&m);
            if (!x || !l) break;
            if (l->kind != PV_LIST || seq_append(l, x)) fail(&m, "APPEND to a non-list");
            break;
        }
        case 'e': { /* APPENDS */
            long mk_at = find_mark(&m);
            if (mk_at < 1) { if (mk_at == 0) fail(&m, "APPENDS without a list"); break; }
            pv *l = m.stack[mk_at - 1];
            if (l->kind != PV_LIST) { fail(&m, "APPENDS to a non-list"); break; }
            for (size_t k = (size_t)mk_at + 1; k < m.sp; k++)
                if (seq_append(l, m.stack[k])) { fail(&m, "out of memory"); break; }
            m.sp = (size_t)mk_at;
            break;
        }
        case 's': { /* SETITEM */
            pv *v = pop(&m), *k = pop(&m), *d = top(&m);
            if (!v || !k || !d) break;
            if (d->kind != PV_DICT || seq_append(d, k) || seq_append(d, v)) fail(&m, "SETITEM on a non-dict");
            break;
        }
        case 'u': { /* SETITEMS */
            long mk_at = find_mark(&m);
            if (mk_at < 1) { if (mk_at == 0) fail(&m, "SETITEMS without a dict"); break; }
            pv *d = m.stack[mk_at - 1];
            if (d->kind != PV_DICT || (m.sp - (size_t)mk_at - 1) % 2) { fail(&m, "bad SETITEMS"); break; }
            for (size_t k = (size_t)mk_at + 1; k < m.sp; k++)
                if (seq_append(d, m.stack[k])) { fail(&m, "out of memory"); break; }
            m.sp = (size_t)mk_at;
            break;
        }
        case 'b': { /* BUILD: object state (a state_dict's _metadata) is data we do not need */
            pv *state = pop(&m), *obj = top(&m);
            if (!state || !obj) break;
            if (obj->kind != PV_DICT && obj->kind != PV_TENSOR) fail(&m, "refused: BUILD on a non-container");
            break;
        }
        case 'R': { /* REDUCE */
            pv *args = pop(&m), *fn = pop(&m);
            if (!args || !fn) break;
            push(&m, reduce(&m, fn, args));
            break;
        }
        case 'Q': { /* BINPERSID */
            pv *pid = pop(&m);
            if (!pid) break;
            push(&m, persistent(&m, pid));
            break;
        }
        case '0': pop(&m); break;                 /* POP */
        case '2': { pv *v = top(&m); if (v) push(&m, v); break; } /* DUP */
        default:
            fail(&m, "refused: pickle opcode 0x%02x is not allowed in a tensor checkpoint", op);
        }
    }
done:
    if (used) *used = (size_t)(m.p - buf);
    free(m.stack);
    free(m.memo);
    return m.failed ? NULL : result;
}
