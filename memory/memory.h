/* memory.h: QEMU migration parameters, relay and convergence policy.
 * Not written yet: the first migration drives QEMU's migrate directly
 * from migrate/.
 */
#ifndef VMFERRY_MEMORY_H
#define VMFERRY_MEMORY_H
#endif
