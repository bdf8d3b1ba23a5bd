/* migrate.h: the source and destination state machines. */
#ifndef VMFERRY_MIGRATE_H
#define VMFERRY_MIGRATE_H
#endif
