/* progress.h: what vmferry migrate shows while it works (private). */
#ifndef VMFERRY_MIGRATE_PROGRESS_H
#define VMFERRY_MIGRATE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

struct progress {
  FILE *out;
  bool json;                    /* one JSON object per line */
  bool tty;                     /* rewrite one line in place */
  bool in_line;                 /* a progress line is on screen */
  int64_t t0;                   /* start, ms (monotonic) */
  int64_t last_ms;              /* for the rate */
  uint64_t last_bytes;
  double rate;                  /* bytes/s, smoothed */
};

void progress_init (struct progress *pr, FILE *out, bool json, bool tty);

/* A phase begins ("preflight", "setup", "storage", "memory",
 * "switchover", "resume", "cleanup").
 */
void progress_phase (struct progress *pr, const char *phase,
                     const char *detail);

/* Storage copy: done of total bytes over all disks. */
void progress_storage (struct progress *pr, uint64_t done, uint64_t total);

/* Memory pre-copy, from query-migrate's reply (its "ram" object and
 * "cpu-throttle-percentage").
 */
void progress_memory (struct progress *pr, json_t *info);

/* A message for the person (also a JSON event). */
void progress_note (struct progress *pr, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* An event object (ev, stolen) with --json, else the message. */
void progress_event (struct progress *pr, json_t *ev, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));

/* The final object / summary; summary is borrowed. */
void progress_result (struct progress *pr, json_t *summary);

#endif
