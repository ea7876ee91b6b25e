/* The folders a recursive walk is inside, innermost first. Walks follow
 * symbolic links (`split` builds its layouts from them), so a link back to
 * one of these folders would be a loop: the walk would go round it until its
 * depth limit, listing every file many times, and in a dataset a link to
 * the root puts the Male folder's recordings under Female/. A folder whose
 * device and inode are on the chain is not entered.
 * Header only: the library's dataset walk and the CLI's input walks share it
 * without exporting a symbol. */
#ifndef VG_UTIL_DIR_CHAIN_H
#define VG_UTIL_DIR_CHAIN_H
#include <sys/stat.h>
#include <sys/types.h>

typedef struct vg_dir_chain {
    dev_t dev;
    ino_t ino;
    const struct vg_dir_chain *up;   /* the folder this one is in; NULL at the top */
} vg_dir_chain;

/* Whether the folder ST describes is one the walk is already inside. */
static inline int vg_dir_chain_has(const vg_dir_chain *c, const struct stat *st)
{
    for (; c; c = c->up)
        if (c->dev == st->st_dev && c->ino == st->st_ino) return 1;
    return 0;
}

/* The chain one level down, into the folder ST describes. */
static inline vg_dir_chain vg_dir_chain_into(const vg_dir_chain *up, const struct stat *st)
{
    vg_dir_chain c = {st->st_dev, st->st_ino, up};
    return c;
}
#endif
