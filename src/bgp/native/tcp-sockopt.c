// Socket options Node has no API for, as a tiny N-API addon (compiled by scripts/build-shim.mjs):
// TCP-MD5 signatures (RFC 2385, Linux TCP_MD5SIG) and GTSM (RFC 5082: IP_TTL 255, IP_MINTTL).
// The speaker makes the TCP socket here, sets the options before connect/listen, and hands the
// descriptor to Node (net.Socket({fd}) / server.listen({fd})), so no segment ever leaves unsigned.
// Every function throws a JS Error carrying errno text on failure; nothing is retried here.
// tcpSocket can make the socket inside another network namespace (an agent host runs one agent
// per emulated node from the root namespace): the calling thread enters it, makes the socket and
// returns at once; a socket keeps the namespace it was made in.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_MINTTL
#define IP_MINTTL 21
#endif

static napi_value fail(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, "ERR_STRATA_SOCKOPT", msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "missing arguments");
    return -1;
  }
  return 0;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "expected a number");
    return -1;
  }
  return 0;
}

static napi_value num(napi_env env, int32_t n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

/* Parse an IPv4 or IPv6 address into a sockaddr_storage (port 0 unless given). */
static int parse_addr(napi_env env, napi_value v, int port, struct sockaddr_storage *ss, socklen_t *len) {
  char text[INET6_ADDRSTRLEN + 1];
  size_t n;
  if (napi_get_value_string_utf8(env, v, text, sizeof text, &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "address must be a string");
    return -1;
  }
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return 0;
  }
  napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "not an IP address");
  return -1;
}

/*
 * A TCP socket inside the network namespace file `path` (or here when !path). Returns the fd, or
 * -errno. If the thread cannot go back to its own namespace the process would go on in the wrong
 * one: that cannot be reported and continued from, so it aborts.
 */
static int socket_in(int domain, const char *path) {
  int self = -1, target = -1, fd, err;
  if (path) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return -errno;
    target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      err = errno;
      close(self);
      return -err;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
      err = errno;
      close(self);
      close(target);
      return -err;
    }
  }
  fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  err = fd < 0 ? errno : 0;
  if (path) {
    if (setns(self, CLONE_NEWNET) < 0) abort();
    close(self);
    close(target);
  }
  return fd < 0 ? -err : fd;
}

/*
 * tcpSocket(family: 4 | 6, netnsPath?: string): fd — non-blocking, close-on-exec, SO_REUSEADDR;
 * made inside the namespace file netnsPath when given.
 */
static napi_value tcp_socket(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  int32_t family;
  char path[4096];
  int has = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "missing arguments");
    return NULL;
  }
  if (get_int(env, argv[0], &family)) return NULL;
  if (argc >= 2) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t == napi_string) {
      size_t n;
      if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &n) != napi_ok || n >= sizeof path - 1) {
        napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "namespace path too long");
        return NULL;
      }
      has = 1;
    } else if (t != napi_undefined && t != napi_null) {
      napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "namespace path must be a string");
      return NULL;
    }
  }
  int fd = socket_in(family == 6 ? AF_INET6 : AF_INET, has ? path : NULL);
  if (fd < 0) {
    errno = -fd;
    return fail(env, has ? "socket in the network namespace" : "socket");
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return fail(env, "setsockopt(SO_REUSEADDR)");
  }
  return num(env, fd);
}

/* bindTo(fd, address, port): bind before listen (the listener) or connect (a source address). */
static napi_value bind_to(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, port;
  struct sockaddr_storage ss;
  socklen_t len;
  if (get_args(env, info, 3, argv) || get_int(env, argv[0], &fd) || get_int(env, argv[2], &port)) return NULL;
  if (parse_addr(env, argv[1], port, &ss, &len)) return NULL;
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) return fail(env, "bind");
  return NULL;
}

/*
 * setMd5Key(fd, peerAddress, key: Buffer): RFC 2385 key for segments to and from peerAddress on
 * this socket (a listener passes it to the connections it accepts). An empty key removes it.
 */
static napi_value set_md5_key(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  void *key;
  size_t keylen;
  struct tcp_md5sig sig;
  socklen_t len;
  if (get_args(env, info, 3, argv) || get_int(env, argv[0], &fd)) return NULL;
  memset(&sig, 0, sizeof sig);
  if (parse_addr(env, argv[1], 0, &sig.tcpm_addr, &len)) return NULL;
  if (napi_get_buffer_info(env, argv[2], &key, &keylen) != napi_ok) {
    napi_throw_type_error(env, "ERR_STRATA_SOCKOPT", "key must be a Buffer");
    return NULL;
  }
  if (keylen > TCP_MD5SIG_MAXKEYLEN) {
    napi_throw_range_error(env, "ERR_STRATA_SOCKOPT", "TCP-MD5 key longer than 80 bytes");
    return NULL;
  }
  sig.tcpm_keylen = (uint16_t)keylen;
  memcpy(sig.tcpm_key, key, keylen);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0) return fail(env, "setsockopt(TCP_MD5SIG)");
  return NULL;
}

/* setTtl(fd, family, ttl, minTtl): GTSM — send with `ttl`, drop what arrives below `minTtl` (0: off). */
static napi_value set_ttl(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, family, ttl, minttl;
  if (get_args(env, info, 4, argv) || get_int(env, argv[0], &fd) || get_int(env, argv[1], &family) ||
      get_int(env, argv[2], &ttl) || get_int(env, argv[3], &minttl))
    return NULL;
  if (family == 6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) < 0)
      return fail(env, "setsockopt(IPV6_UNICAST_HOPS)");
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &minttl, sizeof minttl) < 0)
      return fail(env, "setsockopt(IPV6_MINHOPCOUNT)");
    return NULL;
  }
  if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0) return fail(env, "setsockopt(IP_TTL)");
  if (setsockopt(fd, IPPROTO_IP, IP_MINTTL, &minttl, sizeof minttl) < 0) return fail(env, "setsockopt(IP_MINTTL)");
  return NULL;
}

/* closeFd(fd): for a descriptor never handed to Node (an option failed). */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || get_int(env, argv[0], &fd)) return NULL;
  close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tcpSocket", NULL, tcp_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindTo", NULL, bind_to, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setMd5Key", NULL, set_md5_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setTtl", NULL, set_ttl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
