/* The wire format between socket.bpf.c, loader.c and the agent (events.ts reads it): little-endian,
 * one fixed 112-byte header per event, then `cap` bytes. Change it in all three together. */
#ifndef KILN_EVENTS_H
#define KILN_EVENTS_H

#define EV_DATA 1   /* bytes sent or received on a socket, or TLS plaintext (FL_SSL) */
#define EV_OPEN 2   /* connect() (role client) or accept() (role server) returned a socket */
#define EV_CLOSE 3  /* close() of a socket fd */
#define EV_STATS 4  /* loader: data = u64 ring-buffer drops, u64 events, u64 events written, u64 EV_HTTP records, u64 fallbacks */
#define EV_LOG 5    /* loader: data = one text line */
#define EV_HELLO 6  /* loader: data = i64 CLOCK_REALTIME - CLOCK_MONOTONIC in ns */
/* loader (http1.c): one HTTP/1 request and its response. The header is the connection's (ts: the
 * request's, role: the connection's); data = u64 bytes sent, u64 bytes received on the connection
 * since its last record, then the http_events row as JSON without its closing brace (empty when
 * the record only carries bytes; flags FL_UNMATCHED: a response without its request). */
#define EV_HTTP 7

#define FL_SSL 1        /* plaintext seen at SSL_write/SSL_read */
#define FL_IN_SSL 2     /* a socket transfer made inside an SSL call: ciphertext */
#define FL_NO_SK 4      /* TLS plaintext whose socket is not known yet: `sk` is 0, `ssl` names the session */
#define FL_REPLAY 8     /* a transfer the loader held and hands back (http1.c): its bytes were counted in EV_HTTP */
#define FL_UNMATCHED 1  /* EV_HTTP: a response came without a request */
/* EV_HTTP (--http1-rows compact): the row is a JSON array of the values in http1.c's order (major_version,
 * minor_version, content_type, req_headers, req_method, req_path, req_body, req_body_size, resp_headers,
 * resp_status, resp_message, resp_body, resp_body_size, latency, time_), without its closing bracket. */
#define FL_COMPACT 2

#define DIR_SEND 0
#define DIR_RECV 1

/* 16 KiB per transfer: HTTP headers, SQL text and HTTP/2 HEADERS frames fit; larger bodies are
 * cut and `size` says by how much. A power of two, so the verifier can bound offsets with a mask. */
#define MAX_CAP 16384

struct event {
  unsigned long long ts;     /* CLOCK_MONOTONIC ns */
  unsigned long long sk;     /* struct sock * (the connection's identity with tgid) */
  unsigned long long ssl;    /* SSL * of TLS plaintext events, else 0 */
  unsigned int tgid;
  unsigned int fd;
  unsigned int size;         /* bytes the call moved */
  unsigned int cap;          /* bytes that follow the header */
  unsigned char type;
  unsigned char dir;
  unsigned char flags;
  unsigned char role;        /* EV_OPEN: 1 client, 2 server */
  unsigned short family;     /* 2 AF_INET, 10 AF_INET6 */
  unsigned short protocol;   /* 6 TCP, 17 UDP */
  unsigned short lport;
  unsigned short rport;
  unsigned int pad;
  unsigned char laddr[16];
  unsigned char raddr[16];
  unsigned long long start;  /* the process's start, ns since boot (/proc/PID/stat field 22 × 10^7) */
  char comm[16];             /* the process's name: short-lived clients exit before /proc is read */
};

_Static_assert(sizeof(struct event) == 112, "wire.ts reads a 112-byte header");

#endif
