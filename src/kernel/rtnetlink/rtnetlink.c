// rtnetlink I/O for the kernel driver, as a tiny N-API addon (compiled by scripts/build-shim.mjs),
// /proc/sys reads and writes in a named namespace (opened there, as for sockets below), and
// links' offload features set with SIOCETHTOOL ioctls (what `ethtool -K` does, no process), and
// nf_tables batches on a NETLINK_NETFILTER socket (nfApply: the source guard's writes, no `nft`).
// Only the socket and file work is here: messages are encoded and decoded in TypeScript
// (src/kernel/rtnetlink/codec.ts). A socket is opened inside the namespace a call names: the
// calling thread enters it (setns), makes the socket, and returns to its own namespace at once; a
// netlink socket keeps the namespace it was made in. Nothing is cached between calls.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG 1
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif
#ifndef NLM_F_CAPPED
#define NLM_F_CAPPED 0x100
#endif

#define RECV_BUF (64 * 1024)

/* Throws Error("what: strerror") with `errno`; `answer` is true when the kernel's reply said so. */
static napi_value throw_errno_as(napi_env env, const char *what, int err, int answer) {
  char msg[4400];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value text, code, error, v;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_string_utf8(env, "ERR_STRATA_RTNETLINK", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, text, &error);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, error, "errno", v);
  napi_get_boolean(env, answer, &v);
  napi_set_named_property(env, error, "answer", v);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  return throw_errno_as(env, what, err, 0);
}

/* The namespace path argument: a string, or null/undefined for the caller's own namespace. */
static int get_path(napi_env env, napi_value v, char *out, size_t cap, int *has) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  *has = 0;
  if (t == napi_null || t == napi_undefined) return 0;
  size_t len = 0;
  if (t != napi_string || napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok || len == 0 ||
      len >= cap - 1) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "namespace path must be a non-empty string or null");
    return -1;
  }
  *has = 1;
  return 0;
}

/*
 * Enter the namespace at `path` with the calling thread: 0 with the thread's own namespace open in
 * *self, or -errno (the thread is still in its own). Every enter is followed by leave_netns at once.
 */
static int enter_netns(const char *path, int *self) {
  int target, err;
  *self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (*self < 0) return -errno;
  target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    err = errno;
    close(*self);
    return -err;
  }
  err = setns(target, CLONE_NEWNET) < 0 ? errno : 0;
  close(target);
  if (err) {
    close(*self);
    return -err;
  }
  return 0;
}

/*
 * Back to the thread's own namespace. If the thread cannot go back, the process would go on in the
 * wrong one: that cannot be reported and continued from, so it aborts.
 */
static void leave_netns(int self) {
  if (setns(self, CLONE_NEWNET) < 0) abort();
  close(self);
}

/* A netlink socket of `protocol` made inside `path` (or here when !has). Returns the fd, or -errno. */
static int open_netlink_socket(const char *path, int has, int protocol) {
  int self = -1, fd, err;
  if (has) {
    err = enter_netns(path, &self);
    if (err < 0) return err;
  }
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  err = fd < 0 ? errno : 0;
  if (has) leave_netns(self);
  if (fd < 0) return -err;
  int one = 1;
  // Errors carry the kernel's own text (extended ACK) and not the whole request back.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

/* The kernel's extended-ACK text of an NLMSG_ERROR, if any. */
static void ext_ack_text(const struct nlmsghdr *h, char *out, size_t cap) {
  out[0] = 0;
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return;
  const struct nlmsgerr *e = NLMSG_DATA(h);
  size_t off = NLMSG_HDRLEN + sizeof *e;
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  while (off + sizeof(struct nlattr) <= h->nlmsg_len) {
    const struct nlattr *a = (const struct nlattr *)((const char *)h + off);
    if (a->nla_len < sizeof *a || off + a->nla_len > h->nlmsg_len) return;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      size_t n = a->nla_len - sizeof *a;
      if (n >= cap) n = cap - 1;
      memcpy(out, (const char *)a + sizeof *a, n);
      out[n] = 0;
      if (n > 0 && out[n - 1] == 0) return;
      return;
    }
    off += NLA_ALIGN(a->nla_len);
  }
}

/* Wait for the ACK of message `seq`: 0, or -errno with the kernel's text in msg. */
static int await_ack(int fd, uint32_t seq, char *buf, char *msg, size_t cap) {
  for (;;) {
    ssize_t got = recv(fd, buf, RECV_BUF, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    int n = (int)got;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR) continue;
      const struct nlmsgerr *e = NLMSG_DATA(h);
      if (e->error == 0) return 0;
      ext_ack_text(h, msg, cap);
      return e->error;
    }
  }
}

static napi_value make_result(napi_env env, uint32_t done, int err, const char *msg) {
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_uint32(env, done, &v);
  napi_set_named_property(env, out, "done", v);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, out, "errno", v);
  napi_create_string_utf8(env, err ? strerror(err) : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "error", v);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "message", v);
  return out;
}

/* Both calls' arguments: (nsPath | null, Buffer of at least `min` octets). -1: a JS error is thrown. */
static int get_call_args(napi_env env, napi_callback_info info, const char *usage, size_t min, char *path,
                         size_t cap, int *has, void **data, size_t *len) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", usage);
    return -1;
  }
  if (get_path(env, argv[0], path, cap, has)) return -1;
  if (napi_get_buffer_info(env, argv[1], data, len) != napi_ok || *len < min) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "the second argument must be a Buffer of netlink messages");
    return -1;
  }
  return 0;
}

/*
 * apply(nsPath | null, messages: Buffer): { done, errno, error, message } — the messages (each
 * with NLM_F_ACK) are sent one at a time, each after the previous one's ACK, and the first
 * failure stops the run: `done` is how many succeeded, `errno` the failure's (0: all done),
 * `message` the kernel's extended-ACK text.
 */
static napi_value apply(napi_env env, napi_callback_info info) {
  char path[4096], msg[256] = "";
  int has;
  void *data;
  size_t len;
  if (get_call_args(env, info, "apply(nsPath, messages)", 0, path, sizeof path, &has, &data, &len)) return NULL;
  int fd = open_netlink_socket(path, has, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, has ? path : "netlink socket", -fd);
  char *buf = malloc(RECV_BUF);
  if (!buf) {
    close(fd);
    return throw_errno(env, "malloc", ENOMEM);
  }
  uint32_t done = 0;
  int err = 0;
  size_t off = 0;
  while (off + NLMSG_HDRLEN <= len) {
    struct nlmsghdr *h = (struct nlmsghdr *)((char *)data + off);
    if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > len) {
      err = EINVAL;
      snprintf(msg, sizeof msg, "malformed request at byte %zu", off);
      break;
    }
    h->nlmsg_flags |= NLM_F_ACK; // every message is answered, so the wait below always ends
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    ssize_t s;
    do s = sendto(fd, h, h->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to);
    while (s < 0 && errno == EINTR);
    if (s < 0) {
      err = errno;
      break;
    }
    int r = await_ack(fd, h->nlmsg_seq, buf, msg, sizeof msg);
    if (r != 0) {
      err = -r;
      break;
    }
    done++;
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  free(buf);
  close(fd);
  return make_result(env, done, err, msg);
}

/*
 * dump(nsPath | null, request: Buffer): Buffer — one NLM_F_DUMP request (or a get of one object
 * sent with NLM_F_ACK); every message of the answer up to NLMSG_DONE (or the ACK), concatenated.
 * An NLMSG_ERROR answer throws an Error with `errno` and `answer: true`. sockDiagDump is the same
 * on a NETLINK_SOCK_DIAG socket (inet_diag: the namespace's own sockets).
 */
static napi_value dump_on(napi_env env, napi_callback_info info, int protocol, const char *usage) {
  char path[4096], msg[256] = "";
  int has;
  void *data;
  size_t len;
  if (get_call_args(env, info, usage, NLMSG_HDRLEN, path, sizeof path, &has, &data, &len)) return NULL;
  uint32_t seq = ((struct nlmsghdr *)data)->nlmsg_seq;
  int fd = open_netlink_socket(path, has, protocol);
  if (fd < 0) return throw_errno(env, has ? path : "netlink socket", -fd);
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  ssize_t s;
  do s = sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  while (s < 0 && errno == EINTR);
  if (s < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "netlink send", e);
  }
  size_t cap = RECV_BUF * 4, used = 0;
  char *out = malloc(cap), *buf = malloc(RECV_BUF);
  int err = 0, finished = 0, answer = 0;
  while (out && buf && !finished && !err) {
    ssize_t n = recv(fd, buf, RECV_BUF, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    int left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) {
        finished = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error == 0) { // the ACK of a request sent with NLM_F_ACK (a get of one object)
          finished = 1;
          break;
        }
        ext_ack_text(h, msg, sizeof msg);
        err = -e->error;
        answer = 1;
        break;
      }
      size_t need = used + NLMSG_ALIGN(h->nlmsg_len);
      if (need > cap) {
        while (cap < need) cap *= 2;
        char *grown = realloc(out, cap);
        if (!grown) {
          err = ENOMEM;
          break;
        }
        out = grown;
      }
      memcpy(out + used, h, h->nlmsg_len);
      memset(out + used + h->nlmsg_len, 0, NLMSG_ALIGN(h->nlmsg_len) - h->nlmsg_len);
      used = need;
    }
  }
  close(fd);
  free(buf);
  if (!out) return throw_errno(env, "malloc", ENOMEM);
  if (err) {
    free(out);
    char what[320];
    snprintf(what, sizeof what, "netlink dump%s%s", msg[0] ? " (" : "", msg[0] ? msg : "");
    if (msg[0]) strncat(what, ")", sizeof what - strlen(what) - 1);
    return throw_errno_as(env, what, err, answer);
  }
  napi_value result;
  void *copy;
  napi_create_buffer_copy(env, used, out, &copy, &result);
  free(out);
  return result;
}

static napi_value dump(napi_env env, napi_callback_info info) {
  return dump_on(env, info, NETLINK_ROUTE, "dump(nsPath, request)");
}

static napi_value sock_diag_dump(napi_env env, napi_callback_info info) {
  return dump_on(env, info, NETLINK_SOCK_DIAG, "sockDiagDump(nsPath, request)");
}

/*
 * nfApply(nsPath | null, batch: Buffer): { done, errno, error, message, seq } — one nfnetlink batch
 * (NFNL_MSG_BATCH_BEGIN, the messages, NFNL_MSG_BATCH_END; encoded in src/kernel/nftables/) sent
 * in one datagram on a NETLINK_NETFILTER socket made in the namespace: nf_tables applies all of it
 * or none of it. The kernel answers every message sent with NLM_F_ACK (an ACK, or its error) while
 * the send runs; this collects those answers. `done`: how many were acknowledged before the first
 * error; `errno`: that error's (0: the whole batch committed), `seq` its message's sequence number,
 * `message` the kernel's extended-ACK text. A failure of the batch itself (no nf_tables: the
 * kernel refuses BATCH_BEGIN) comes with the begin message's seq.
 */
static napi_value nf_apply(napi_env env, napi_callback_info info) {
  char path[4096], msg[256] = "";
  int has;
  void *data;
  size_t len;
  if (get_call_args(env, info, "nfApply(nsPath, batch)", NLMSG_HDRLEN, path, sizeof path, &has, &data, &len))
    return NULL;
  // Which sequence numbers the kernel will answer: every message that asks for an ACK.
  uint32_t expected = 0, begin_seq = ((struct nlmsghdr *)data)->nlmsg_seq;
  for (size_t off = 0; off + NLMSG_HDRLEN <= len;) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)((char *)data + off);
    if (h->nlmsg_len < NLMSG_HDRLEN || off + h->nlmsg_len > len) {
      napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "nfApply: malformed batch");
      return NULL;
    }
    if (h->nlmsg_flags & NLM_F_ACK) expected++;
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  int fd = open_netlink_socket(path, has, NETLINK_NETFILTER);
  if (fd < 0) return throw_errno(env, has ? path : "netfilter netlink socket", -fd);
  // A large batch (GC of many ports) and its answers must fit the socket's buffers; root may
  // raise them past the sysctl limits. Answers all arrive during the send, so a timeout only
  // guards against a kernel that does not answer at all.
  int big = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char *buf = malloc(RECV_BUF);
  if (!buf) {
    close(fd);
    return throw_errno(env, "malloc", ENOMEM);
  }
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  ssize_t s;
  do s = sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  while (s < 0 && errno == EINTR);
  uint32_t done = 0, failed_seq = 0;
  int err = s < 0 ? errno : 0;
  if (err) snprintf(msg, sizeof msg, "sending the batch failed");
  while (!err && done < expected) {
    ssize_t got = recv(fd, buf, RECV_BUF, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      err = errno;
      snprintf(msg, sizeof msg, "%s", errno == EAGAIN ? "no answer from nf_tables" : "receiving the answers failed");
      break;
    }
    int n = (int)got;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      const struct nlmsgerr *e = NLMSG_DATA(h);
      if (e->error == 0) {
        done++;
        continue;
      }
      ext_ack_text(h, msg, sizeof msg);
      err = -e->error;
      failed_seq = h->nlmsg_seq;
      break;
    }
  }
  free(buf);
  close(fd);
  napi_value out = make_result(env, done, err, msg), v;
  napi_create_uint32(env, err && !failed_seq ? begin_seq : failed_seq, &v);
  napi_set_named_property(env, out, "seq", v);
  return out;
}

/* A JS string argument as a malloc'd C string (NULL and a JS error thrown when it is not one). */
static char *get_string(napi_env env, napi_value v, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", what);
    return NULL;
  }
  char *out = malloc(len + 1);
  if (!out) {
    throw_errno(env, "malloc", ENOMEM);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, out, len + 1, &len);
  return out;
}

/* { errno, error, stage, ...more } for the sysctl calls: stage is where it failed ("" when not). */
static napi_value sysctl_result(napi_env env, int err, const char *stage) {
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, out, "errno", v);
  napi_create_string_utf8(env, err ? strerror(err) : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "error", v);
  napi_create_string_utf8(env, err ? stage : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "stage", v);
  return out;
}

/*
 * sysctlRead(nsPath | null, file): { value, errno, error, stage } — the whole file, opened with the
 * thread inside the namespace (a /proc/sys/net file is the opener's namespace's, for as long as it
 * is open) and read after the thread is back. stage: "netns" | "open" | "read" when errno != 0.
 */
static napi_value sysctl_read(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[4096];
  int has, self = -1, err = 0, fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "sysctlRead(nsPath, file)");
    return NULL;
  }
  if (get_path(env, argv[0], path, sizeof path, &has)) return NULL;
  char *file = get_string(env, argv[1], "the file must be a string");
  if (!file) return NULL;
  if (has && (err = -enter_netns(path, &self)) != 0) {
    free(file);
    return sysctl_result(env, err, "netns");
  }
  fd = open(file, O_RDONLY | O_CLOEXEC);
  err = fd < 0 ? errno : 0;
  if (has) leave_netns(self);
  free(file);
  if (fd < 0) return sysctl_result(env, err, "open");
  size_t cap = 4096, used = 0;
  char *text = malloc(cap);
  while (text) {
    if (used == cap) {
      char *grown = cap < (1 << 24) ? realloc(text, cap * 2) : NULL;
      if (!grown) {
        err = ENOMEM;
        break;
      }
      text = grown;
      cap *= 2;
    }
    ssize_t n = read(fd, text + used, cap - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
    used += (size_t)n;
  }
  close(fd);
  if (!text) err = ENOMEM;
  napi_value out = sysctl_result(env, err, "read"), v;
  napi_create_string_utf8(env, text && !err ? text : "", text && !err ? used : 0, &v);
  napi_set_named_property(env, out, "value", v);
  free(text);
  return out;
}

/*
 * sysctlWrite(nsPath | null, pairs: string[]): { done, errno, error, stage } — pairs are file,
 * value, file, value, ...; written in order (each value in one write, as `printf > file` does), the
 * first failure stops the run. Every file is opened with the thread inside the namespace (once,
 * for all of them), then written after it is back. Opened as a shell's `>` opens (O_CREAT|O_TRUNC),
 * so a failure has the errno the iproute2 driver's shell sees. done: how many were written.
 */
static napi_value sysctl_write(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[4096];
  int has, self = -1, err = 0;
  uint32_t n = 0;
  bool is_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &n) != napi_ok || n % 2 != 0) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "sysctlWrite(nsPath, [file, value, ...])");
    return NULL;
  }
  if (get_path(env, argv[0], path, sizeof path, &has)) return NULL;
  uint32_t count = n / 2, opened = 0, done = 0;
  char **strs = calloc(n ? n : 1, sizeof *strs);
  int *fds = calloc(count ? count : 1, sizeof *fds);
  if (!strs || !fds) {
    free(strs);
    free(fds);
    return throw_errno(env, "malloc", ENOMEM);
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_get_element(env, argv[1], i, &v);
    strs[i] = get_string(env, v, "sysctlWrite: files and values must be strings");
    if (!strs[i]) {
      for (uint32_t j = 0; j < i; j++) free(strs[j]);
      free(strs);
      free(fds);
      return NULL;
    }
  }
  const char *stage = "";
  if (has && (err = -enter_netns(path, &self)) != 0) stage = "netns";
  else {
    for (; opened < count; opened++) {
      fds[opened] = open(strs[2 * opened], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fds[opened] < 0) {
        err = errno;
        break;
      }
    }
    if (has) leave_netns(self);
    // A failed open is reported after the writes before it, as a shell running them in turn would.
    for (; done < opened; done++) {
      const char *value = strs[2 * done + 1];
      size_t len = strlen(value), off = 0;
      int werr = 0;
      while (off < len) {
        ssize_t w = write(fds[done], value + off, len - off);
        if (w < 0) {
          if (errno == EINTR) continue;
          werr = errno;
          break;
        }
        if (w == 0) {
          werr = EIO;
          break;
        }
        off += (size_t)w;
      }
      if (werr) {
        err = werr;
        stage = "write";
        break;
      }
    }
    if (err && !stage[0]) stage = "open";
  }
  for (uint32_t i = 0; i < opened; i++) close(fds[i]);
  for (uint32_t i = 0; i < n; i++) free(strs[i]);
  free(strs);
  free(fds);
  napi_value out = sysctl_result(env, err, stage), v;
  napi_create_uint32(env, done, &v);
  napi_set_named_property(env, out, "done", v);
  return out;
}

/* A datagram socket made inside `path` (or here when !has), for ioctls: the fd, or -errno. */
static int open_ioctl_socket(const char *path, int has, int *netns_failed) {
  int self = -1, fd, err;
  *netns_failed = 0;
  if (has) {
    err = enter_netns(path, &self);
    if (err < 0) {
      *netns_failed = 1;
      return err;
    }
  }
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  // A kernel without IPv4 still answers SIOCETHTOOL on any socket (dev_ioctl).
  if (fd < 0 && errno == EAFNOSUPPORT) fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  err = fd < 0 ? errno : 0;
  if (has) leave_netns(self);
  return fd < 0 ? -err : fd;
}

/* One SIOCETHTOOL command on `dev` with `data` (its struct): 0, or -errno. */
static int ethtool_ioctl(int fd, const char *dev, void *data) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  ifr.ifr_data = data;
  int r;
  do r = ioctl(fd, SIOCETHTOOL, &ifr);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}

/*
 * The features `ethtool -K` means by tso, gso and gro (its off_flag_def table): every
 * "tx-tcp*-segmentation" (6.18 added tx-tcp-accecn-segmentation, which the legacy ETHTOOL_STSO
 * mask leaves on), "tx-generic-segmentation", "rx-gro".
 */
static int feature_group(const char *name) {
  size_t n = strnlen(name, ETH_GSTRING_LEN);
  const char *tail = "-segmentation";
  if (n >= 6 + strlen(tail) && !strncmp(name, "tx-tcp", 6) && !strncmp(name + n - strlen(tail), tail, strlen(tail)))
    return 0;
  if (n == strlen("tx-generic-segmentation") && !strncmp(name, "tx-generic-segmentation", n)) return 1;
  if (n == strlen("rx-gro") && !strncmp(name, "rx-gro", n)) return 2;
  return -1;
}

#define OFFLOAD_GROUPS 3

/* The feature names' groups (feature_group), read with `dev`: a malloc'd array of *count. */
static int feature_groups(int fd, const char *dev, int8_t **groups, uint32_t *count) {
  struct ethtool_sset_info *sset = calloc(1, sizeof *sset + sizeof sset->data[0]);
  if (!sset) return -ENOMEM;
  sset->cmd = ETHTOOL_GSSET_INFO;
  sset->sset_mask = 1ULL << ETH_SS_FEATURES;
  int r = ethtool_ioctl(fd, dev, sset);
  if (r == 0 && !(sset->sset_mask & (1ULL << ETH_SS_FEATURES))) r = -EOPNOTSUPP;
  *count = sset->data[0];
  free(sset);
  if (r < 0) return r;
  struct ethtool_gstrings *strings = calloc(1, sizeof *strings + (size_t)*count * ETH_GSTRING_LEN);
  *groups = calloc(*count ? *count : 1, 1);
  if (!strings || !*groups) {
    free(strings);
    return -ENOMEM;
  }
  strings->cmd = ETHTOOL_GSTRINGS;
  strings->string_set = ETH_SS_FEATURES;
  strings->len = *count;
  r = ethtool_ioctl(fd, dev, strings);
  for (uint32_t i = 0; r == 0 && i < *count; i++)
    (*groups)[i] = (int8_t)feature_group((const char *)strings->data + (size_t)i * ETH_GSTRING_LEN);
  free(strings);
  return r;
}

/*
 * One device's tso/gso/gro (want[g]: -1 leave, 0 off, 1 on) with ETHTOOL_GFEATURES and one
 * ETHTOOL_SFEATURES, as `ethtool -K` sets them: the wanted bits, which the kernel applies once the
 * features they depend on allow. 0, or -errno; -EOPNOTSUPP with *fixed = the group when a change
 * was asked of a group none of whose features the device lets change.
 */
static int set_offloads(int fd, const char *dev, const int8_t *groups, uint32_t count, const int *want, int *fixed) {
  uint32_t words = (count + 31) / 32;
  struct ethtool_gfeatures *get = calloc(1, sizeof *get + words * sizeof get->features[0]);
  struct ethtool_sfeatures *set = calloc(1, sizeof *set + words * sizeof set->features[0]);
  int r = -ENOMEM;
  if (!get || !set) goto out;
  get->cmd = ETHTOOL_GFEATURES;
  get->size = words;
  if ((r = ethtool_ioctl(fd, dev, get)) < 0) goto out;
  set->cmd = ETHTOOL_SFEATURES;
  set->size = words;
  int changeable[OFFLOAD_GROUPS] = {0}, differs[OFFLOAD_GROUPS] = {0};
  for (uint32_t i = 0; i < count; i++) {
    int g = groups[i];
    if (g < 0 || want[g] < 0) continue;
    uint32_t bit = 1u << (i % 32);
    const struct ethtool_get_features_block *b = &get->features[i / 32];
    if (b->available & bit) changeable[g] = 1;
    if (!!(b->active & bit) != want[g]) differs[g] = 1;
    set->features[i / 32].valid |= bit;
    if (want[g]) set->features[i / 32].requested |= bit;
  }
  for (int g = 0; g < OFFLOAD_GROUPS; g++)
    if (want[g] >= 0 && differs[g] && !changeable[g]) {
      *fixed = g;
      r = -EOPNOTSUPP;
      goto out;
    }
  // >= 0: ETHTOOL_F_UNSUPPORTED (a fixed bit among them; the others are set) or _WISH is no failure.
  r = ethtool_ioctl(fd, dev, set);
out:
  free(get);
  free(set);
  return r;
}

/*
 * ethtoolSet(nsPath | null, settings: [dev, tso, gso, gro, ...]): { done, errno, error, stage,
 * feature } — each setting one device's offload features (-1: leave, 0: off, 1: on), set as
 * `ethtool -K DEV tso .. gso .. gro ..` sets them when it speaks the SIOCETHTOOL ioctl (the feature
 * names read once, then a get and a set of the device's feature bits). All on one socket made with
 * the thread inside the namespace (an ioctl's device is looked up in the socket's namespace). The
 * first failure stops the run: stage "netns" | "socket" | "set" with its errno; EOPNOTSUPP with
 * `feature` (0 tso, 1 gso, 2 gro) for a change of a feature fixed for the device. done: how many
 * settings were made.
 */
static napi_value ethtool_set(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[4096];
  int has, err = 0, netns_failed, fixed = -1;
  uint32_t n = 0, done = 0;
  bool is_array = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &n) != napi_ok || n % 4 != 0) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "ethtoolSet(nsPath, [dev, tso, gso, gro, ...])");
    return NULL;
  }
  if (get_path(env, argv[0], path, sizeof path, &has)) return NULL;
  uint32_t count = n / 4;
  char (*devs)[IFNAMSIZ] = calloc(count ? count : 1, IFNAMSIZ);
  int *wants = calloc(count ? count * OFFLOAD_GROUPS : 1, sizeof *wants);
  if (!devs || !wants) {
    free(devs);
    free(wants);
    return throw_errno(env, "malloc", ENOMEM);
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    size_t len = 0;
    char name[IFNAMSIZ + 1] = "";
    napi_valuetype t;
    napi_get_element(env, argv[1], 4 * i, &v);
    napi_typeof(env, v, &t);
    int bad = t != napi_string || napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok ||
              len == 0 || len >= IFNAMSIZ;
    if (!bad) memcpy(devs[i], name, len + 1);
    for (int g = 0; g < OFFLOAD_GROUPS; g++) {
      int32_t w = 0;
      napi_get_element(env, argv[1], 4 * i + 1 + g, &v);
      bad = bad || napi_get_value_int32(env, v, &w) != napi_ok || w < -1 || w > 1;
      wants[i * OFFLOAD_GROUPS + g] = w;
    }
    if (bad) {
      free(devs);
      free(wants);
      napi_throw_type_error(env, "ERR_STRATA_RTNETLINK",
                            "ethtoolSet: each setting is a device name (1-15 octets), then -1, 0 or 1 for tso, gso, gro");
      return NULL;
    }
  }
  const char *stage = "";
  int fd = open_ioctl_socket(path, has, &netns_failed);
  if (fd < 0) {
    err = -fd;
    stage = netns_failed ? "netns" : "socket";
  } else {
    int8_t *groups = NULL;
    uint32_t features = 0;
    for (; done < count; done++) {
      int r = groups ? 0 : feature_groups(fd, devs[done], &groups, &features);
      if (r == 0) r = set_offloads(fd, devs[done], groups, features, &wants[done * OFFLOAD_GROUPS], &fixed);
      if (r < 0) {
        err = -r;
        stage = "set";
        break;
      }
    }
    free(groups);
    close(fd);
  }
  free(devs);
  free(wants);
  napi_value out = sysctl_result(env, err, stage), v;
  napi_create_uint32(env, done, &v);
  napi_set_named_property(env, out, "done", v);
  napi_create_int32(env, fixed, &v);
  napi_set_named_property(env, out, "feature", v);
  return out;
}

/* A new network namespace, bind-mounted at `path` by a thread of its own (see createNetns). */
struct netns_job {
  const char *path;
  int err;
};

static void *netns_thread(void *arg) {
  struct netns_job *j = arg;
  // Only this short-lived thread enters the new namespace; the mount keeps it alive after.
  if (unshare(CLONE_NEWNET) < 0 || mount("/proc/thread-self/ns/net", j->path, "none", MS_BIND, NULL) < 0)
    j->err = errno;
  return NULL;
}

static int string_arg(napi_env env, napi_value v, char *out, size_t cap) {
  size_t len = 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string || napi_get_value_string_utf8(env, v, out, cap, &len) != napi_ok || len == 0 ||
      len >= cap - 1) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "createNetns(dir, name): non-empty strings");
    return -1;
  }
  return 0;
}

/*
 * createNetns(dir, name) — what `ip netns add NAME` does, without a process: `dir` made a shared
 * mount point (so the namespace's mount propagates to other mount namespaces), DIR/NAME created
 * exclusively, a new namespace bind-mounted on it. Throws iproute2's words on failure (and removes
 * the file it made).
 */
static napi_value create_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char dir[1024], name[256], path[1400], what[2200];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || string_arg(env, argv[0], dir, sizeof dir) || string_arg(env, argv[1], name, sizeof name))
    return NULL;
  if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
    napi_throw_type_error(env, "ERR_STRATA_RTNETLINK", "createNetns: a namespace name has no '/'");
    return NULL;
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    snprintf(what, sizeof what, "mkdir %s failed", dir);
    return throw_errno(env, what, errno);
  }
  int made_mount = 0;
  while (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0) {
    if (errno != EINVAL || made_mount) {
      snprintf(what, sizeof what, "mount --make-shared %s failed", dir);
      return throw_errno(env, what, errno);
    }
    if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0) {
      snprintf(what, sizeof what, "mount --bind %s %s failed", dir, dir);
      return throw_errno(env, what, errno);
    }
    made_mount = 1;
  }
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(what, sizeof what, "Cannot create namespace file \"%s\"", path);
    return throw_errno(env, what, errno);
  }
  close(fd);
  struct netns_job job = {.path = path, .err = 0};
  pthread_t t;
  int perr = pthread_create(&t, NULL, netns_thread, &job);
  if (perr == 0) pthread_join(t, NULL);
  else job.err = perr;
  if (job.err) {
    unlink(path);
    snprintf(what, sizeof what, "Bind /proc/self/ns/net -> %s failed", path);
    return throw_errno(env, what, job.err);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"apply", NULL, apply, NULL, NULL, NULL, napi_default, NULL},
      {"dump", NULL, dump, NULL, NULL, NULL, napi_default, NULL},
      {"sockDiagDump", NULL, sock_diag_dump, NULL, NULL, NULL, napi_default, NULL},
      {"sysctlRead", NULL, sysctl_read, NULL, NULL, NULL, napi_default, NULL},
      {"sysctlWrite", NULL, sysctl_write, NULL, NULL, NULL, napi_default, NULL},
      {"createNetns", NULL, create_netns, NULL, NULL, NULL, napi_default, NULL},
      {"ethtoolSet", NULL, ethtool_set, NULL, NULL, NULL, napi_default, NULL},
      {"nfApply", NULL, nf_apply, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
