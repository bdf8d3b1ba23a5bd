/* fake-server.h: a scripted fake QMP server for the cmocka tests of qmp/.
 *
 * Test-only and private to qmp/.  Each test starts a server thread on a
 * unix socket in a temporary directory.  The thread accepts one
 * connection and runs the test's script on it.  Scripts never call
 * cmocka's assertions (they are not thread-safe): they record their
 * first failure in fake->failure, which the test checks after joining
 * the thread (fake_finish).
 */
#ifndef VMFERRY_QMP_FAKE_SERVER_H
#define VMFERRY_QMP_FAKE_SERVER_H

#include <stdbool.h>
#include <pthread.h>
#include <jansson.h>

#include "qmp.h"

struct fake;
typedef void (*script_fn) (struct fake *f, int conn);

struct fake {
  char dir[64];                 /* temporary directory */
  char path[128];               /* the socket in it */
  int listen_fd;
  int stop[2];                  /* writing to stop[1] ends the server */
  pthread_t thread;
  bool started;
  script_fn script;
  const char *line;             /* a parameter of the script */
  int passed_fd;                /* received by SCM_RIGHTS, or -1 */
  char failure[256];            /* first failure in the server, or "" */
};

/* Server side: called from scripts, in the server thread. */

/* Record msg as the first failure (later ones are ignored). */
extern void srv_fail (struct fake *f, const char *msg);
/* Wait until fd is readable: 1, or 0 when stopped or timed out. */
extern int srv_wait (struct fake *f, int fd);
/* Send text whole (errors are ignored: the client sees them). */
extern void srv_send (int conn, const char *text);
/* Send text in two pieces, 50 ms apart. */
extern void srv_send_split (int conn, const char *text);
/* Receive one byte, keeping a passed fd in f->passed_fd: 1, 0 at EOF
 * or when stopped, -1 on error.
 */
extern int srv_recv_byte (struct fake *f, int conn, char *c);
/* Read one command sent by the client (NULL at EOF or on a bad line). */
extern json_t *srv_read_cmd (struct fake *f, int conn);
/* Read a command, check its name, and return its id (-1 on failure). */
extern json_int_t srv_expect (struct fake *f, int conn, const char *name);
/* Reply {"return": value} to the command with this id. */
extern void srv_reply (int conn, json_int_t id, const char *value);
/* Greet the client and answer its qmp_capabilities. */
extern void srv_handshake (struct fake *f, int conn);
/* Wait until the client closes the connection (or the test stops us). */
extern void srv_wait_close (struct fake *f, int conn);

/* Test side: called from the cmocka tests, in the main thread. */

/* cmocka setup and teardown: a listening socket in a new directory. */
extern int fake_setup (void **state);
extern int fake_teardown (void **state);
/* Start the server thread running script. */
extern void fake_start (struct fake *f, script_fn script);
/* Stop the server thread and check that its script found no fault. */
extern void fake_finish (struct fake *f);
/* Start script and connect a client to it (fails the test if not). */
extern struct qmp *connect_ok (struct fake *f, script_fn script);
/* Assert that the last call failed with errnum and a message containing
 * needle.
 */
extern void assert_error (int errnum, const char *needle);

#endif /* VMFERRY_QMP_FAKE_SERVER_H */
