/* progress.h: what vmferry migrate shows while it works (private).
 *
 * Three forms: on a terminal, a board of live lines (one per disk, one
 * for memory: bar, bytes, rate, ETA, dirty rate, round) redrawn in
 * place under the messages; plain lines when not a terminal; one JSON
 * object per line with --json.  Every event also goes to the sink (the
 * state file of vmferry status), whatever the form.
 */
#ifndef VMFERRY_MIGRATE_PROGRESS_H
#define VMFERRY_MIGRATE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#define PROGRESS_SLOTS 9        /* board lines: up to 8 disks + memory */
#define PROGRESS_MEMORY_SLOT (PROGRESS_SLOTS - 1)

/* A byte counter's smoothed rate. */
struct progress_meter {
  int64_t last_ms;
  uint64_t last_bytes;
  double rate;                  /* bytes/s */
};

struct progress {
  FILE *out;
  bool json;                    /* one JSON object per line */
  bool tty;                     /* a board redrawn in place */
  int64_t t0;                   /* start, ms (monotonic) */
  struct progress_meter storage; /* all disks together */
  struct progress_meter meter[PROGRESS_SLOTS];
  char board[PROGRESS_SLOTS][200]; /* tty: live lines ("" = unused) */
  size_t shown;                 /* board lines now on screen */
  void (*sink) (void *opaque, json_t *ev); /* every event (borrowed) */
  void *sink_opaque;
  const char *label;            /* "[label] " before lines, JSON "label" */
  const char *id;               /* the migration id, in every event (NULL
                                   until it is chosen: "id": null) */
  bool disk_lines;              /* tty: per-disk lines are on the board */
};

/* The version of the events' format ("schema" in every event): raised
 * when a field changes its meaning or goes away; new fields may appear
 * within a version.  man/vmferry-events.schema.json describes it.
 */
#define PROGRESS_SCHEMA 1

/* How events are printed: compact, reals in their shortest form (the
 * values are rounded where they are made: seconds to 3 decimals).
 */
#define PROGRESS_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION (15))

/* Seconds as a JSON number with 3 decimals. */
json_t *progress_seconds (double s);

void progress_init (struct progress *pr, FILE *out, bool json, bool tty);

/* A phase begins ("preflight", "setup", "storage", "memory",
 * "switchover", "resume", "cleanup", "rollback").
 */
void progress_phase (struct progress *pr, const char *phase,
                     const char *detail);

/* One disk's copy (idx < PROGRESS_SLOTS - 1): done of total bytes. */
void progress_disk (struct progress *pr, size_t idx, const char *name,
                    uint64_t done, uint64_t total);

/* Storage copy: done of total bytes over all disks (on a terminal a
 * line of its own only when no disk has a line).
 */
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
