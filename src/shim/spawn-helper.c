/*
 * strata spawn helper: runs programs on behalf of the agent.
 *
 * Forking a Node process costs time that grows with its memory (page tables are copied): ~8-13 ms
 * for an agent with a warm heap, against ~1 ms from this small process. The agent keeps a few of
 * these helpers alive and sends them exec requests over a pipe; each helper runs one request at a
 * time (fork, exec, collect output, wait) and answers.
 *
 * Request on stdin:  u32 argc, then argc NUL-terminated strings, u32 stdin length, stdin bytes.
 * Extended request:  u32 (argc | 0x80000000), argc strings, u32 envc, envc "KEY=VALUE" strings
 *                    (the program's whole environment), one string naming a network namespace
 *                    file to run the program in ("" for the helper's own), u32 stdin length,
 *                    stdin bytes. (The lab runs CNI plugins inside a node this way, as a
 *                    runtime on that node would: no `ip netns exec` process per pod.)
 * Reply on stdout:   i32 status (exit code, or 128+signal), u32 out length, out, u32 err length, err.
 * All integers little-endian. EOF on stdin ends the helper.
 */
#define _GNU_SOURCE /* setns, execvpe */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int read_full(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

struct buf {
  char *data;
  size_t len, cap;
};

static void buf_add(struct buf *b, const char *d, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 4096;
    b->data = realloc(b->data, b->cap);
    if (!b->data) exit(2);
  }
  memcpy(b->data + b->len, d, n);
  b->len += n;
}

/* One NUL-terminated string from stdin (malloc'd), or NULL at EOF. */
static char *read_string(void) {
  struct buf s = {0};
  char c;
  do {
    if (read_full(0, &c, 1) < 0) return NULL;
    buf_add(&s, &c, 1);
  } while (c != '\0');
  return s.data;
}

/* `count` strings into a NULL-terminated array, or NULL at EOF. */
static char **read_strings(uint32_t count) {
  char **list = calloc(count + 1, sizeof(char *));
  for (uint32_t i = 0; i < count; i++)
    if (!(list[i] = read_string())) return NULL;
  return list;
}

static void free_strings(char **list) {
  for (char **p = list; p && *p; p++) free(*p);
  free(list);
}

static int handle(void) {
  uint32_t argc;
  if (read_full(0, &argc, 4) < 0) return -1;
  int extended = (argc & 0x80000000u) != 0;
  argc &= 0x7fffffffu;
  if (argc == 0 || argc > 4096) return -1;
  char **argv = read_strings(argc);
  if (!argv) return -1;
  char **envp = NULL, *netns = NULL;
  if (extended) {
    uint32_t envc;
    if (read_full(0, &envc, 4) < 0 || envc > 4096 || !(envp = read_strings(envc)) || !(netns = read_string()))
      return -1;
  }
  uint32_t in_len;
  if (read_full(0, &in_len, 4) < 0) return -1;
  char *input = malloc(in_len + 1);
  if (in_len && read_full(0, input, in_len) < 0) return -1;

  int pin[2], pout[2], perr[2];
  if (pipe(pin) || pipe(pout) || pipe(perr)) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    close(pin[0]); close(pin[1]); close(pout[0]); close(pout[1]); close(perr[0]); close(perr[1]);
    if (netns && netns[0]) {
      int fd = open(netns, O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        fprintf(stderr, "spawn-helper: cannot enter network namespace %s: %s\n", netns, strerror(errno));
        _exit(127);
      }
      close(fd);
    }
    if (envp) execvpe(argv[0], argv, envp);
    else execvp(argv[0], argv);
    fprintf(stderr, "spawn-helper: cannot exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  /* Non-blocking: a large stdin must not block us while the child waits for us to read its output. */
  fcntl(pin[1], F_SETFL, fcntl(pin[1], F_GETFL) | O_NONBLOCK);
  /* Feed stdin and drain both outputs together, so no pipe fills up and blocks the child. */
  struct buf out = {0}, err = {0};
  size_t written = 0;
  int in_open = 1, out_open = 1, err_open = 1;
  if (in_len == 0) { close(pin[1]); in_open = 0; }
  while (out_open || err_open || in_open) {
    struct pollfd fds[3];
    int n = 0, iout = -1, ierr = -1, iin = -1;
    if (out_open) { fds[n].fd = pout[0]; fds[n].events = POLLIN; iout = n++; }
    if (err_open) { fds[n].fd = perr[0]; fds[n].events = POLLIN; ierr = n++; }
    if (in_open) { fds[n].fd = pin[1]; fds[n].events = POLLOUT; iin = n++; }
    if (poll(fds, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    char tmp[65536];
    if (iout >= 0 && fds[iout].revents) {
      ssize_t r = read(pout[0], tmp, sizeof tmp);
      if (r > 0) buf_add(&out, tmp, (size_t)r); else { out_open = 0; close(pout[0]); }
    }
    if (ierr >= 0 && fds[ierr].revents) {
      ssize_t r = read(perr[0], tmp, sizeof tmp);
      if (r > 0) buf_add(&err, tmp, (size_t)r); else { err_open = 0; close(perr[0]); }
    }
    if (iin >= 0 && fds[iin].revents) {
      ssize_t w = write(pin[1], input + written, in_len - written);
      if (w > 0) written += (size_t)w;
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == in_len) { in_open = 0; close(pin[1]); }
    }
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {}
  int32_t status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  uint32_t ol = (uint32_t)out.len, el = (uint32_t)err.len;
  if (write_full(1, &status, 4) || write_full(1, &ol, 4) || (ol && write_full(1, out.data, ol)) ||
      write_full(1, &el, 4) || (el && write_full(1, err.data, el)))
    return -1;
  free_strings(argv);
  free_strings(envp);
  free(netns);
  free(input);
  free(out.data);
  free(err.data);
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  while (handle() == 0) {}
  return 0;
}
