/* minmax.h: MIN and MAX that evaluate each argument once. */
#ifndef VMFERRY_MINMAX_H
#define VMFERRY_MINMAX_H

#undef MIN
#define MIN(a, b) ({ __typeof__ (a) _a = (a); __typeof__ (b) _b = (b); \
                     _a < _b ? _a : _b; })
#undef MAX
#define MAX(a, b) ({ __typeof__ (a) _a = (a); __typeof__ (b) _b = (b); \
                     _a > _b ? _a : _b; })

#endif /* VMFERRY_MINMAX_H */
