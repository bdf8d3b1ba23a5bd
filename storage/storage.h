/* storage.h: vmferry's own disk copy engine (libnbd, dirty bitmaps).
 * Not written yet: the first migration uses QEMU's blockdev-mirror,
 * driven from migrate/.
 */
#ifndef VMFERRY_STORAGE_H
#define VMFERRY_STORAGE_H
#endif
