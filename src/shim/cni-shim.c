/*
 * strata CNI shim: the executable a runtime finds on CNI_PATH (installed once per plugin type,
 * e.g. /opt/cni/bin/strata and /opt/cni/bin/strata-ipam).
 *
 * Fast path: forward the invocation to the resident node agent over its UNIX socket
 * STRATA_SOCKET_DIR/<inode of this network namespace>.sock. The directory is root-only (0700) and
 * the socket 0600, so nobody but root can reach or squat it; the name carries the namespace, so a
 * shim always reaches the agent of the node (namespace) it runs in, and several emulated nodes on
 * one machine never mix up. Before sending anything the shim checks that the listener runs as root
 * (SO_PEERCRED): the request carries the pod's network configuration.
 * Slow path: when no agent listens (or it cannot be trusted, or the caller may not reach it), exec
 * Node with the plugin's standalone entry, so every plugin works with no daemon running (and DEL
 * always works with the agent down).
 *
 * Wire format (shim -> agent): "STRATA-CNI 1\n", plugin type "\n", then each CNI_* variable as
 * "KEY=VALUE\0", an empty "\0", then stdin bytes until EOF (shutdown of the write side).
 * Reply: "<exit code> <stdout length>\n", stdout bytes, then stderr bytes until EOF.
 *
 * Build: cc -O2 -DSTRATA_NODE='"/usr/bin/node"' -DSTRATA_ENTRY_DIR='"/path/dist/src/plugins"'
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef STRATA_NODE
#define STRATA_NODE "/usr/bin/node"
#endif
#ifndef STRATA_ENTRY_DIR
#define STRATA_ENTRY_DIR "/usr/lib/strata/dist/src/plugins"
#endif
#ifndef STRATA_SOCKET_DIR
#define STRATA_SOCKET_DIR "/run/strata-cni"
#endif

extern char **environ;

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static const char *plugin_type(const char *argv0) {
  const char *slash = strrchr(argv0, '/');
  return slash ? slash + 1 : argv0;
}

static void run_standalone(const char *type, char **argv) {
  char entry[4096];
  snprintf(entry, sizeof entry, "%s/%s/main.js", STRATA_ENTRY_DIR, type);
  char *args[] = {(char *)STRATA_NODE, entry, NULL};
  (void)argv;
  execve(STRATA_NODE, args, environ);
  fprintf(stderr, "strata shim: cannot exec %s: %s\n", STRATA_NODE, strerror(errno));
  printf("{\"cniVersion\":\"1.1.0\",\"code\":999,\"msg\":\"strata plugin runtime missing\",\"details\":\"cannot exec %s\"}\n",
         STRATA_NODE);
  exit(1);
}

static int connect_agent(void) {
  if (getenv("STRATA_NO_AGENT")) return -1;
  struct stat ns;
  if (stat("/proc/self/ns/net", &ns) < 0) return -1;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%lu.sock", STRATA_SOCKET_DIR,
                   (unsigned long)ns.st_ino);
  if (n < 0 || (size_t)n >= sizeof addr.sun_path) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* ENOENT/ECONNREFUSED: no agent; EACCES: the caller is not root. Either way: standalone. */
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(fd);
    return -1;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
    fprintf(stderr, "strata shim: %s is not served by root (uid %d); running standalone\n", addr.sun_path,
            len == sizeof cred ? (int)cred.uid : -1);
    close(fd);
    return -1;
  }
  return fd;
}

/* Send the request; 0 when it went whole. */
static int send_request(int fd, const char *type) {
  char header[256];
  int n = snprintf(header, sizeof header, "STRATA-CNI 1\n%s\n", type);
  if (write_all(fd, header, (size_t)n) < 0) return -1;
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) != 0) continue;
    if (write_all(fd, *e, strlen(*e) + 1) < 0) return -1;
  }
  if (write_all(fd, "", 1) < 0) return -1;
  char buf[65536];
  for (;;) {
    ssize_t r = read(0, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (write_all(fd, buf, (size_t)r) < 0) return -1;
  }
  return 0;
}

static int forward(int fd, const char *type) {
  char buf[65536];
  /*
   * The agent may answer before the request is whole (busy: code 11; too large): then writing fails
   * with EPIPE, and its answer is still there to read.
   */
  (void)send_request(fd, type);
  shutdown(fd, SHUT_WR);

  /* Reply header. */
  char line[64];
  size_t used = 0;
  for (;;) {
    if (used >= sizeof line - 1) return -1;
    ssize_t r = read(fd, line + used, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    if (line[used] == '\n') break;
    used++;
  }
  line[used] = '\0';
  int exit_code = 0;
  long out_len = 0;
  if (sscanf(line, "%d %ld", &exit_code, &out_len) != 2 || out_len < 0) return -1;
  long remaining = out_len;
  while (remaining > 0) {
    size_t want = remaining < (long)sizeof buf ? (size_t)remaining : sizeof buf;
    ssize_t r = read(fd, buf, want);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    write_all(1, buf, (size_t)r);
    remaining -= r;
  }
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    write_all(2, buf, (size_t)r);
  }
  return exit_code;
}

int main(int argc, char **argv) {
  (void)argc;
  /* A closed agent connection must be an error to handle, not a signal that kills the plugin. */
  signal(SIGPIPE, SIG_IGN);
  const char *type = plugin_type(argv[0]);
  int fd = connect_agent();
  if (fd < 0) run_standalone(type, argv);
  int code = forward(fd, type);
  if (code < 0) {
    /* The agent accepted the request but died before answering: the runtime retries. */
    printf("{\"cniVersion\":\"1.1.0\",\"code\":11,\"msg\":\"strata agent stopped while handling the request\","
           "\"details\":\"retry; the plugin runs standalone when no agent is listening\"}\n");
    return 1;
  }
  return code;
}
