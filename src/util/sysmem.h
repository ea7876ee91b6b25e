/* How much memory this machine can still give, for jobs that would
 * otherwise find out by being killed. Internal. */
#ifndef VG_UTIL_SYSMEM_H
#define VG_UTIL_SYSMEM_H
/* Linux's estimate of what new allocations can take without swapping
 * (MemAvailable in /proc/meminfo), in bytes; 0 when unknown. */
double vg_memory_available(void);
#endif
