// SPDX-License-Identifier: GPL-2.0
/*
 * HTTP/1 heads parsed and paired in the loader: under wrk the agent spent ~4 µs per raw event in
 * Node, two or more events per request, and fell behind nginx (ring drops). A plaintext TCP
 * connection whose first transfer starts like HTTP/1 is parsed here and each request with its
 * response becomes one EV_HTTP record holding the http_events row as JSON, made as the agent's
 * parser (protocols/http1) makes it.
 *
 * Only what this parser is sure to read as the agent's does is handled: a head within one
 * transfer, Content-Length or chunked bodies, no repeated or unusual fields. Anything else hands
 * the connection back: the transfers kept since each direction's oldest unfinished message go to
 * the agent as they came (FL_REPLAY), then every later one — a request is never lost, only parsed
 * in Node. A hand-back is for the rest of the connection.
 */
#define _GNU_SOURCE
#include "http1.h"
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY 512          /* the agent's body prefix (Pixie's max_body_bytes) */
#define MAX_HELD (256 << 10)  /* bytes kept per connection for a hand-back; past it, hand back */
#define MAX_QUEUE 64          /* requests waiting for responses (pipelining) */
#define MAX_FIELDS 64
#define MAX_HEAD 16384         /* the agent's reader gives up on longer heads too */
#define MAX_CONNS (1 << 20)
#define BUCKETS (1 << 16)

enum { M_NEW, M_HTTP, M_RAW };
enum { S_IDLE, S_HEAD, S_LENGTH, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_END, S_TRAILER };
enum { ROLE_UNKNOWN, ROLE_CLIENT, ROLE_SERVER };

struct sb {
  char *p;
  size_t n, cap;
};

struct pos {
  unsigned long long seq; /* the connection's transfer number */
  unsigned off;           /* byte within it */
};

struct msg {
  struct msg *next;
  unsigned long long ts;
  struct pos at;
  int major, minor, status, head_req, ct;
  struct sb hdrs, method, path, message; /* JSON string literals */
  unsigned char body[MAX_BODY];
  unsigned blen;
  unsigned long long bsize;
};

struct side {
  int st;
  unsigned long long left;
  unsigned line, chars;
  unsigned char last;
  struct msg *cur;
  struct pos idle; /* where the next message starts when none is being read */
  struct sb head;  /* S_HEAD: a head's bytes so far, from head_at at head_ts */
  /* The last head parsed and what it gave: a keep-alive client repeats its head, a server its
   * own within the second of its Date, and a repeat is one comparison (as the agent's reader). */
  struct sb seen;
  struct msg *tmpl;
  int tframing;
  unsigned long long tlength;
  struct pos head_at;
  unsigned long long head_ts;
};

struct seg {
  struct seg *next;
  unsigned long long seq;
  int side;
  unsigned skip;
  struct event ev; /* followed by ev.cap bytes */
};

struct conn {
  struct conn *next;
  unsigned int tgid;
  unsigned long long sk;
  int mode;
  unsigned char role;
  unsigned long long seq;
  struct seg *held;
  size_t held_bytes;
  struct msg *queue;
  int queued;
  struct msg *paired; /* the request of the response being read */
  struct side s[2];   /* 0 requests, 1 responses */
  unsigned long long sent, recv;
  struct event id; /* the first event's header: the connection's identity in records */
  time_t last;
};

struct http1_counts http1_counts;
static struct conn *table[BUCKETS];
static long long offset;
static http1_out out;

void http1_init(long long offset_ns, http1_out o) {
  offset = offset_ns;
  out = o;
}

/* ---- text ---- */

/* Room for n more bytes. */
static void sb_reserve(struct sb *b, size_t n) {
  if (b->n + n + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + n + 1) cap *= 2;
  char *q = realloc(b->p, cap);
  if (!q) abort();
  b->p = q;
  b->cap = cap;
}

static void sb_add(struct sb *b, const void *p, size_t n) {
  sb_reserve(b, n);
  memcpy(b->p + b->n, p, n);
  b->n += n;
}
static void sb_str(struct sb *b, const char *s) { sb_add(b, s, strlen(s)); }
/* A string literal, its length known when compiled. */
#define SB_LIT(b, s) sb_add(b, s, sizeof(s) - 1)
/* A decimal integer: by hand, as snprintf's format parsing was a quarter of the loader's CPU per row. */
static void sb_int(struct sb *b, long long v) {
  char d[24];
  int i = sizeof(d);
  unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
  do d[--i] = '0' + u % 10; while ((u /= 10));
  if (v < 0) d[--i] = '-';
  sb_add(b, d + i, sizeof(d) - i);
}
static void sb_free(struct sb *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* A JSON string of bytes as JSON.stringify writes the JS string they decode to: Latin-1 (heads:
 * bytes ≥ 0x80 become two UTF-8 bytes) or UTF-8 already checked (bodies: copied). */
static void json_str(struct sb *b, const unsigned char *p, size_t n, int latin1) {
  static const char hex[] = "0123456789abcdef";
  sb_reserve(b, n * 6 + 2);
  char *o = b->p + b->n;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || !latin1)) {
      *o++ = c;
      continue;
    }
    *o++ = '\\';
    if (c == '"' || c == '\\') *o++ = c;
    else if (c == '\b') *o++ = 'b';
    else if (c == '\f') *o++ = 'f';
    else if (c == '\n') *o++ = 'n';
    else if (c == '\r') *o++ = 'r';
    else if (c == '\t') *o++ = 't';
    else if (c < 0x20) {
      memcpy(o, "u00", 3);
      o[3] = hex[c >> 4];
      o[4] = hex[c & 15];
      o += 5;
    } else {
      o[-1] = 0xc0 | (c >> 6);
      *o++ = 0x80 | (c & 0x3f);
    }
  }
  *o++ = '"';
  b->n = o - b->p;
}

/* Valid UTF-8 without U+FFFD (the agent's decoder counts those to call a body binary). */
static int utf8_ok(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!k || i + k > n) return 0;
    for (size_t j = 1; j < k; j++)
      if ((p[i + j] & 0xc0) != 0x80) return 0;
    unsigned c1 = p[i + 1];
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)) return 0;
    if (c == 0xef && c1 == 0xbf && p[i + 2] == 0xbd) return 0;
    i += k;
  }
  return 1;
}

/* A body prefix as common.ts bodyText() makes its text; -1 where this cannot say (a UTF-8 body cut
 * inside a character, or not UTF-8): the agent's parser decides then. */
static int body_json(struct sb *b, const unsigned char *p, size_t n) {
  int binary = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') binary = 1;
  if (!binary) {
    if (!utf8_ok(p, n)) return -1;
    json_str(b, p, n, 0);
    return 0;
  }
  /* Bytes as \xNN, backslash doubled, printable ASCII as it is. */
  struct sb t = { 0 };
  for (size_t i = 0; i < n; i++) {
    char x[5];
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') sb_add(&t, p + i, 1);
    else if (p[i] == '\\') sb_add(&t, "\\\\", 2);
    else {
      snprintf(x, sizeof(x), "\\x%02x", p[i]);
      sb_add(&t, x, 4);
    }
  }
  json_str(b, (unsigned char *)t.p, t.n, 0);
  sb_free(&t);
  return 0;
}

/* ---- heads ---- */

static const char *methods[] = { "GET",  "POST", "PUT",  "DELETE", "HEAD",   "OPTIONS", "PATCH", "CONNECT", "TRACE",
                                 "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "PURGE" };

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_token(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}
/* JS String.prototype.trim's whitespace among Latin-1 characters. */
static int is_ws(int c) { return c == ' ' || (c >= 9 && c <= 13) || c == 0xa0; }

/* Whether a connection's first transfer is one the agent's inference calls HTTP/1 (protocols/infer.ts). */
static int starts_http(const unsigned char *p, size_t n, int *request) {
  if (n < 13) return 0;
  if (!memcmp(p, "HTTP/1.", 7)) {
    *request = 0;
    return (p[7] == '0' || p[7] == '1') && p[8] == ' ' && is_digit(p[9]) && is_digit(p[10]) && is_digit(p[11]) &&
           (p[12] == ' ' || p[12] == '\r');
  }
  const unsigned char *sp = memchr(p, ' ', n < 10 ? n : 10);
  if (!sp || sp - p < 3) return 0;
  size_t m = sp - p;
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    if (strlen(methods[i]) == m && !memcmp(p, methods[i], m) && (sp[1] == '/' || sp[1] == 'h' || sp[1] == '*')) {
      *request = 1;
      return 1;
    }
  }
  return 0;
}

static int field_is(const unsigned char *p, size_t n, const char *name) { return strlen(name) == n && !strncasecmp((const char *)p, name, n); }

/* Messages are reused with their text buffers: a request and a response per row made ~20
 * allocations where the parsing itself is a few scans. */
static struct msg *spare;
static unsigned spares;

static struct msg *msg_new(void) {
  struct msg *m = spare;
  if (!m) {
    m = calloc(1, sizeof(*m));
    if (!m) abort();
    return m;
  }
  spare = m->next;
  spares--;
  struct sb keep[4] = { m->hdrs, m->method, m->path, m->message };
  memset(m, 0, offsetof(struct msg, body));
  m->hdrs = keep[0];
  m->method = keep[1];
  m->path = keep[2];
  m->message = keep[3];
  m->hdrs.n = m->method.n = m->path.n = m->message.n = 0;
  m->blen = 0;
  m->bsize = 0;
  return m;
}

static void msg_free(struct msg *m) {
  if (!m) return;
  if (spares < 1024) {
    m->next = spare;
    spare = m;
    spares++;
    return;
  }
  sb_free(&m->hdrs);
  sb_free(&m->method);
  sb_free(&m->path);
  sb_free(&m->message);
  free(m);
}

/* content_type: 1 JSON, 2 gRPC (head.ts contentType). */
static int content_type(const unsigned char *v, size_t n) {
  if (n >= 16 && !strncasecmp((const char *)v, "application/grpc", 16)) return 2;
  for (size_t i = 0; i + 4 <= n; i++)
    if (!strncasecmp((const char *)v + i, "json", 4)) return 1;
  return 0;
}

enum { F_NONE, F_LENGTH, F_CHUNKED };

/* Parses head text p[0, n) (no blank line) the way head.ts parseHead does; NULL where it might not
 * agree (the caller hands the connection back). `framing` and `length` say how the body is sent. */
static struct msg *parse_head(const unsigned char *p, size_t n, int request, int *framing, unsigned long long *length) {
  const unsigned char *nl = memchr(p, '\n', n);
  size_t l1 = nl ? (size_t)(nl - p) : n;
  if (l1 && p[l1 - 1] == '\r') l1--;
  struct msg *m = msg_new();
  if (request) {
    size_t i = 0;
    while (i < l1 && i < 20 && ((p[i] >= 'A' && p[i] <= 'Z') || (i && (is_digit(p[i]) || p[i] == '_' || p[i] == '-')))) i++;
    size_t j = i + 1;
    while (j < l1 && p[j] > 0x20 && p[j] < 0x7f) j++;
    if (!i || i >= l1 || p[i] != ' ' || j == i + 1 || l1 != j + 9 || memcmp(p + j, " HTTP/1.", 8) || (p[j + 8] != '0' && p[j + 8] != '1'))
      goto bad;
    json_str(&m->method, p, i, 1);
    json_str(&m->path, p + i + 1, j - i - 1, 1);
    m->head_req = i == 4 && !memcmp(p, "HEAD", 4);
    if (i == 7 && !memcmp(p, "CONNECT", 7)) goto bad; /* a tunnel follows: the agent's parser stops there */
  } else {
    if (l1 < 12 || memcmp(p, "HTTP/", 5) || !is_digit(p[5]) || p[6] != '.' || !is_digit(p[7]) || p[8] != ' ' || !is_digit(p[9]) ||
        !is_digit(p[10]) || !is_digit(p[11]) || (l1 > 12 && p[12] != ' '))
      goto bad;
    m->major = p[5] - '0';
    m->minor = p[7] - '0';
    m->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (m->status == 101) goto bad; /* an upgrade: the agent's parser stops there */
    /* The agent's message stops at a CR inside the line. */
    if (l1 > 12 && memchr(p + 13, '\r', l1 - 13)) goto bad;
    json_str(&m->message, p + (l1 > 12 ? 13 : l1), l1 > 12 ? l1 - 13 : 0, 1);
  }
  struct { const unsigned char *p, *v; size_t n, vn; } f[MAX_FIELDS];
  int nf = 0, seen_ct = 0, seen_cl = 0, seen_te = 0;
  *framing = F_NONE;
  for (size_t at = nl ? (size_t)(nl - p) + 1 : n; at < n;) {
    const unsigned char *e = memchr(p + at, '\n', n - at);
    size_t end = e ? (size_t)(e - p) : n, next = e ? end + 1 : n;
    const unsigned char *colon = memchr(p + at, ':', end - at);
    if (!colon || colon == p + at) {
      at = next; /* the agent skips a line without a name too */
      continue;
    }
    size_t nn = colon - (p + at);
    int digits = 1;
    for (size_t i = 0; i < nn; i++) {
      if (!is_token(p[at + i])) goto bad;
      digits &= is_digit(p[at + i]);
    }
    if (digits || nf == MAX_FIELDS) goto bad; /* index-like names go first in the agent's JSON */
    size_t vs = colon + 1 - p, ve = end;
    while (vs < ve && is_ws(p[vs])) vs++;
    while (ve > vs && is_ws(p[ve - 1])) ve--;
    f[nf].p = p + at;
    f[nf].n = nn;
    f[nf].v = p + vs;
    f[nf++].vn = ve - vs;
    const unsigned char *v = p + vs;
    size_t vn = ve - vs;
    if (field_is(p + at, nn, "content-type")) {
      if (seen_ct++) goto bad;
      m->ct = content_type(v, vn);
    } else if (field_is(p + at, nn, "content-length")) {
      if (seen_cl++ || !vn || vn > 15) goto bad;
      *length = 0;
      for (size_t i = 0; i < vn; i++) {
        if (!is_digit(v[i])) goto bad;
        *length = *length * 10 + (v[i] - '0');
      }
      if (*framing == F_NONE) *framing = F_LENGTH;
    } else if (field_is(p + at, nn, "transfer-encoding")) {
      if (seen_te++ || !field_is(v, vn, "chunked")) goto bad;
      *framing = F_CHUNKED;
    }
    at = next;
  }
  /* {"name":"value",…} in the fields' order; a repeated name once, where it first came, its
   * values joined with ", " (head.ts headersJson). */
  static struct sb h, joined;
  h.n = 0;
  sb_add(&h, "{", 1);
  for (int i = 0; i < nf; i++) {
    int k = 0;
    while (k < i && (f[k].n != f[i].n || memcmp(f[k].p, f[i].p, f[i].n))) k++;
    if (k < i) continue;
    const unsigned char *v = f[i].v;
    size_t vn = f[i].vn;
    for (int j = i + 1; j < nf; j++) {
      if (f[j].n != f[i].n || memcmp(f[j].p, f[i].p, f[i].n)) continue;
      if (v != (unsigned char *)joined.p) {
        joined.n = 0;
        sb_add(&joined, v, vn);
      }
      sb_add(&joined, ", ", 2);
      sb_add(&joined, f[j].v, f[j].vn);
      v = (unsigned char *)joined.p;
      vn = joined.n;
    }
    if (h.n > 1) sb_add(&h, ",", 1);
    json_str(&h, f[i].p, f[i].n, 0);
    sb_add(&h, ":", 1);
    json_str(&h, v, vn, 0);
  }
  sb_add(&h, "}", 1);
  json_str(&m->hdrs, (unsigned char *)h.p, h.n, 1);
  if (!request && (m->status < 200 || m->status == 204 || m->status == 304)) *framing = F_NONE;
  if (!request && *framing == F_NONE) {
    /* No length: the body runs to the close, which the agent's parser reads. */
    if (m->status >= 200 && m->status != 204 && m->status != 304) goto bad;
  }
  if (*framing == F_LENGTH && *length == 0) *framing = F_NONE;
  return m;
bad:
  msg_free(m);
  return NULL;
}

/* ---- connections ---- */

static size_t bucket(unsigned int tgid, unsigned long long sk) {
  unsigned long long h = (sk ^ ((unsigned long long)tgid << 32)) * 0x9e3779b97f4a7c15ULL;
  return h >> (64 - 16);
}

static struct conn **find(unsigned int tgid, unsigned long long sk) {
  struct conn **c = &table[bucket(tgid, sk)];
  while (*c && ((*c)->tgid != tgid || (*c)->sk != sk)) c = &(*c)->next;
  return c;
}

static void drop_held(struct conn *c) {
  while (c->held) {
    struct seg *s = c->held;
    c->held = s->next;
    free(s);
  }
  c->held_bytes = 0;
  struct msg *done = c->s[0].cur;
  for (struct msg *m = c->queue; m;) {
    struct msg *n = m->next;
    if (m == done) done = NULL;
    msg_free(m);
    m = n;
  }
  c->queue = NULL;
  c->queued = 0;
  msg_free(c->paired);
  msg_free(c->s[1].cur);
  msg_free(done);
  c->paired = c->s[0].cur = c->s[1].cur = NULL;
}

static void record(struct conn *c, unsigned long long ts, unsigned char flags, const struct sb *row) {
  struct event h = c->id;
  h.type = EV_HTTP;
  h.ts = ts;
  h.role = c->role;
  h.flags = flags;
  h.dir = 0;
  h.size = 0;
  h.cap = 16 + (row ? row->n : 0);
  unsigned long long bytes[2] = { c->sent, c->recv };
  c->sent = c->recv = 0;
  out(&h, sizeof(h));
  out(bytes, sizeof(bytes));
  if (row) out(row->p, row->n);
}

/* Hands the connection to the agent's parser: what it sent since each direction's oldest
 * unfinished message, as it came, then everything after. */
static void prune(struct conn *c);

static void hand_back(struct conn *c) {
  prune(c);
  if (c->sent || c->recv) record(c, c->id.ts, 0, NULL);
  for (struct seg *s = c->held; s; s = s->next) {
    struct event h = s->ev;
    h.flags |= FL_REPLAY;
    h.size -= s->skip;
    h.cap -= s->skip;
    out(&h, sizeof(h));
    out((unsigned char *)(&s->ev + 1) + s->skip, h.cap);
  }
  drop_held(c);
  c->mode = M_RAW;
  http1_counts.fallbacks++;
}

static void forget(struct conn **at) {
  struct conn *c = *at;
  *at = c->next;
  if (c->mode == M_HTTP) hand_back(c);
  drop_held(c);
  for (int i = 0; i < 2; i++) {
    sb_free(&c->s[i].head);
    sb_free(&c->s[i].seen);
    msg_free(c->s[i].tmpl);
  }
  free(c);
  http1_counts.conns--;
}

/* Where a side's oldest unfinished message starts. */
static struct pos bound(struct conn *c, int side) {
  if (side == 0) {
    if (c->paired) return c->paired->at;
    if (c->queue) return c->queue->at;
  } else if (c->s[1].cur) {
    return c->s[1].cur->at;
  }
  if (c->s[side].st == S_HEAD) return c->s[side].head_at;
  return c->s[side].idle;
}

/* Lets go of transfers both sides have finished with. */
static void prune(struct conn *c) {
  struct pos b[2] = { bound(c, 0), bound(c, 1) };
  for (struct seg **s = &c->held; *s;) {
    struct pos p = b[(*s)->side];
    if ((*s)->seq < p.seq || ((*s)->seq == p.seq && p.off >= (*s)->ev.size)) {
      struct seg *d = *s;
      *s = d->next;
      c->held_bytes -= sizeof(*d) + d->ev.cap;
      free(d);
      continue;
    }
    if ((*s)->seq == p.seq) (*s)->skip = p.off;
    s = &(*s)->next;
  }
}

/* --http1-rows compact: a row's values without their keys (FL_COMPACT), ~190 bytes a row less to gzip. */
static int compact;
void http1_compact(int on) { compact = on; }
/* The next member of a row: its key, or a comma between compact values. */
#define MEMBER(b, k) \
  do { \
    if (compact) SB_LIT(b, ","); \
    else SB_LIT(b, ",\"" k "\":"); \
  } while (0)

static int emit_pair(struct conn *c, struct msg *req, struct msg *resp) {
  static struct sb r;
  r.n = 0;
  if (compact) SB_LIT(&r, "[");
  else SB_LIT(&r, "{\"major_version\":");
  sb_int(&r, resp->major);
  MEMBER(&r, "minor_version");
  sb_int(&r, resp->minor);
  MEMBER(&r, "content_type");
  sb_int(&r, resp->ct ? resp->ct : req->ct);
  MEMBER(&r, "req_headers");
  sb_add(&r, req->hdrs.p, req->hdrs.n);
  MEMBER(&r, "req_method");
  sb_add(&r, req->method.p, req->method.n);
  MEMBER(&r, "req_path");
  sb_add(&r, req->path.p, req->path.n);
  MEMBER(&r, "req_body");
  if (body_json(&r, req->body, req->blen)) goto bad;
  MEMBER(&r, "req_body_size");
  sb_int(&r, req->bsize);
  MEMBER(&r, "resp_headers");
  sb_add(&r, resp->hdrs.p, resp->hdrs.n);
  MEMBER(&r, "resp_status");
  sb_int(&r, resp->status);
  MEMBER(&r, "resp_message");
  sb_add(&r, resp->message.p, resp->message.n);
  MEMBER(&r, "resp_body");
  if (body_json(&r, resp->body, resp->blen)) goto bad;
  MEMBER(&r, "resp_body_size");
  sb_int(&r, resp->bsize);
  MEMBER(&r, "latency");
  sb_int(&r, resp->ts > req->ts ? resp->ts - req->ts : 0);
  MEMBER(&r, "time_");
  SB_LIT(&r, "\"");
  sb_int(&r, (long long)req->ts + offset);
  SB_LIT(&r, "\"");
  record(c, req->ts, compact ? FL_COMPACT : 0, &r);
  http1_counts.records++;
  return 0;
bad:
  return -1;
}

static void body_add(struct msg *m, const unsigned char *p, size_t n) {
  size_t take = m->blen + n > MAX_BODY ? MAX_BODY - m->blen : n;
  memcpy(m->body + m->blen, p, take);
  m->blen += take;
  m->bsize += n;
}

/* A side's message ended at byte `off` of transfer `seq`. */
static int finish(struct conn *c, int side, unsigned long long seq, unsigned off) {
  struct side *s = &c->s[side];
  s->st = S_IDLE;
  s->idle = (struct pos){ seq, off };
  if (side == 0) {
    s->cur = NULL; /* it stays queued, or paired, until its response ends */
    return 0;
  }
  struct msg *resp = s->cur, *req = c->paired;
  s->cur = NULL;
  if (resp->status < 200) {
    msg_free(resp);
    return 0;
  }
  c->paired = NULL;
  int r = 0;
  if (req) r = emit_pair(c, req, resp);
  else record(c, resp->ts, FL_UNMATCHED, NULL);
  if (r) {
    /* Put back for the hand-back's bounds: the agent reads the pair again from its start. */
    c->paired = req;
    s->cur = resp;
    return -1;
  }
  msg_free(req);
  msg_free(resp);
  return 0;
}

/* The head fields of src (no body) into dst. */
static void head_copy(struct msg *dst, const struct msg *src) {
  dst->major = src->major;
  dst->minor = src->minor;
  dst->status = src->status;
  dst->head_req = src->head_req;
  dst->ct = src->ct;
  dst->hdrs.n = dst->method.n = dst->path.n = dst->message.n = 0;
  sb_add(&dst->hdrs, src->hdrs.p, src->hdrs.n);
  sb_add(&dst->method, src->method.p, src->method.n);
  sb_add(&dst->path, src->path.p, src->path.n);
  sb_add(&dst->message, src->message.p, src->message.n);
}

static struct msg *head_of(struct side *s, const unsigned char *p, size_t n, int request, int *framing, unsigned long long *length) {
  if (s->tmpl && s->seen.n == n && !memcmp(s->seen.p, p, n)) {
    struct msg *m = msg_new();
    head_copy(m, s->tmpl);
    *framing = s->tframing;
    *length = s->tlength;
    return m;
  }
  struct msg *m = parse_head(p, n, request, framing, length);
  if (!m) return NULL;
  s->seen.n = 0;
  sb_add(&s->seen, p, n);
  if (!s->tmpl) s->tmpl = msg_new();
  head_copy(s->tmpl, m);
  s->tframing = *framing;
  s->tlength = *length;
  return m;
}

/* A side's head p[0, n) parsed, starting at `at` at time `ts`; its message's body starts at byte
 * `next` of the current transfer. */
static int on_head(struct conn *c, int side, const unsigned char *p, size_t n, unsigned long long ts, struct pos at, unsigned next) {
  struct side *s = &c->s[side];
  int framing;
  unsigned long long length = 0;
  struct msg *m = head_of(s, p, n, side == 0, &framing, &length);
  if (!m) return -1;
  m->ts = ts;
  m->at = at;
  if (side == 0) {
    if (c->queued == MAX_QUEUE) {
      msg_free(m);
      return -1;
    }
    struct msg **q = &c->queue;
    while (*q) q = &(*q)->next;
    *q = m;
    c->queued++;
  } else if (m->status >= 200) {
    /* An interim response (100 Continue) answers nothing yet: the final one takes the request. */
    struct msg *req = c->queue;
    if (req && req->ts <= m->ts) {
      if (req == c->s[0].cur) {
        msg_free(m);
        return -1; /* answered before its body ended: the agent's parser shares the body */
      }
      c->queue = req->next;
      c->queued--;
      req->next = NULL;
      c->paired = req;
      if (req->head_req) framing = F_NONE;
    }
  }
  s->cur = m;
  if (framing == F_NONE) return finish(c, side, c->seq, next);
  s->st = framing == F_LENGTH ? S_LENGTH : S_CHUNK_SIZE;
  s->left = framing == F_LENGTH ? length : 0;
  s->line = s->chars = s->last = 0;
  return 0;
}

/* Parses one transfer of a side; -1 when the connection must go back to the agent. */
static int parse(struct conn *c, int side, const struct event *e, const unsigned char *d) {
  struct side *s = &c->s[side];
  unsigned cap = e->cap, at = 0;
  while (at < cap) {
    switch (s->st) {
    case S_IDLE: {
      while (at < cap && (d[at] == '\r' || d[at] == '\n')) at++;
      if (at == cap) {
        s->idle = (struct pos){ c->seq, at };
        break;
      }
      const unsigned char *end = memmem(d + at, cap - at, "\r\n\r\n", 4);
      if (!end) {
        /* A head split over transfers: joined here, as the agent's reader joins it. */
        if (cap - at > MAX_HEAD) return -1;
        s->head.n = 0;
        sb_add(&s->head, d + at, cap - at);
        s->head_at = (struct pos){ c->seq, at };
        s->head_ts = e->ts;
        s->st = S_HEAD;
        at = cap;
        break;
      }
      unsigned next = end + 4 - d;
      if (on_head(c, side, d + at, end - (d + at), e->ts, (struct pos){ c->seq, at }, next)) return -1;
      at = next;
      break;
    }
    case S_HEAD: {
      size_t had = s->head.n, from = had > 3 ? had - 3 : 0;
      sb_add(&s->head, d + at, cap - at);
      const unsigned char *h = (const unsigned char *)s->head.p, *end = memmem(h + from, s->head.n - from, "\r\n\r\n", 4);
      if (!end) {
        if (s->head.n > MAX_HEAD) return -1;
        at = cap;
        break;
      }
      unsigned next = at + (end + 4 - h) - had;
      if (on_head(c, side, h, end - h, s->head_ts, s->head_at, next)) return -1;
      at = next;
      break;
    }
    case S_LENGTH:
    case S_CHUNK_DATA: {
      unsigned take = s->left < cap - at ? (unsigned)s->left : cap - at;
      body_add(s->cur, d + at, take);
      s->left -= take;
      at += take;
      if (s->left) break;
      if (s->st == S_CHUNK_DATA) {
        s->st = S_CHUNK_END;
        s->line = 0;
      } else if (finish(c, side, c->seq, at)) {
        return -1;
      }
      break;
    }
    case S_CHUNK_SIZE: {
      /* "1a2b[;ext]\r\n", also across transfers: `line` counts the digits, `last` is 0 while
       * reading them, ';' in an extension, '\r' once the CR came. The agent also allows spaces:
       * hand those back. */
      unsigned char ch = d[at++];
      if (ch == '\n') {
        if (!s->line) return -1;
        s->st = s->left ? S_CHUNK_DATA : S_TRAILER;
        s->line = 0;
        s->last = 0;
      } else if (s->last == '\r' || ++s->chars > 40) {
        return -1;
      } else if (ch == '\r' && s->line) {
        s->last = '\r';
      } else if (s->last == ';' || (ch == ';' && s->line)) {
        s->last = ';';
      } else {
        int v = is_digit(ch) ? ch - '0' : (ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10 : -1;
        if (v < 0 || ++s->line > 12) return -1;
        s->left = s->left * 16 + v;
      }
      break;
    }
    case S_CHUNK_END: {
      unsigned char ch = d[at++];
      if (ch == '\n') {
        s->st = S_CHUNK_SIZE;
        s->left = 0;
        s->line = s->chars = s->last = 0;
      } else if (ch != '\r' || s->line++) {
        return -1;
      }
      break;
    }
    case S_TRAILER: {
      /* Trailer lines end at an empty one. */
      unsigned char ch = d[at++];
      if (ch == '\n') {
        if (s->line == 0 || (s->line == 1 && s->last == '\r')) {
          if (finish(c, side, c->seq, at)) return -1;
          break;
        }
        s->line = 0;
      } else if (++s->line > 16384) {
        return -1;
      }
      s->last = ch;
      break;
    }
    }
  }
  unsigned long long gap = e->size > cap ? e->size - cap : 0;
  if (!gap) return 0;
  /* Bytes the capture did not copy: counted inside a body, anything else the agent's. */
  if ((s->st != S_LENGTH && s->st != S_CHUNK_DATA) || gap > s->left) return -1;
  s->cur->bsize += gap;
  s->left -= gap;
  if (s->left) return 0;
  if (s->st == S_CHUNK_DATA) {
    s->st = S_CHUNK_END;
    s->line = 0;
    return 0;
  }
  return finish(c, side, c->seq, e->size);
}

/* Keeps a transfer for a hand-back; `size_only`: its header alone, its bytes a capture gap. */
static int keep(struct conn *c, int side, const struct event *e, unsigned skip, int size_only) {
  unsigned cap = size_only ? 0 : e->cap;
  struct seg *s = malloc(sizeof(*s) + cap);
  if (!s) return -1;
  s->next = NULL;
  s->seq = c->seq;
  s->side = side;
  s->skip = skip;
  memcpy(&s->ev, e, sizeof(*e) + cap);
  s->ev.cap = cap;
  struct seg **t = &c->held;
  while (*t) t = &(*t)->next;
  *t = s;
  c->held_bytes += sizeof(*s) + cap;
  return 0;
}

void http1_event(const struct event *e, size_t size) {
  if (size < sizeof(*e) || size < sizeof(*e) + e->cap || e->protocol != 6 || (e->flags & FL_NO_SK)) {
    out(e, size);
    return;
  }
  struct conn **at = find(e->tgid, e->sk), *c = *at;
  if (e->type == EV_OPEN || e->type == EV_CLOSE) {
    /* A close ends the connection; an open names a socket's new one: the agent reads what is left. */
    if (c) forget(at);
    c = NULL;
    if (e->type == EV_CLOSE) {
      out(e, size);
      return;
    }
  }
  if (!c) {
    if (http1_counts.conns >= MAX_CONNS) {
      out(e, size);
      return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) abort();
    c->tgid = e->tgid;
    c->sk = e->sk;
    c->id = *e;
    c->id.cap = 0;
    c->role = e->type == EV_OPEN ? e->role : ROLE_UNKNOWN;
    c->next = table[bucket(e->tgid, e->sk)];
    table[bucket(e->tgid, e->sk)] = c;
    http1_counts.conns++;
  }
  c->last = time(0);
  if (e->type != EV_DATA || c->mode == M_RAW) {
    out(e, size);
    return;
  }
  const unsigned char *d = (const unsigned char *)(e + 1);
  if (e->flags) {
    /* TLS (plaintext at the SSL calls, ciphertext on the socket): the agent's. */
    if (c->mode == M_HTTP) hand_back(c);
    c->mode = M_RAW;
    out(e, size);
    return;
  }
  if (c->mode == M_NEW) {
    int request;
    if (!starts_http(d, e->cap, &request)) {
      c->mode = M_RAW;
      out(e, size);
      return;
    }
    /* The role as connect()/accept() said, else as the agent infers it: who sent the request. */
    int sent = e->dir == DIR_SEND;
    if (c->role == ROLE_UNKNOWN) c->role = sent == request ? ROLE_CLIENT : ROLE_SERVER;
    c->mode = M_HTTP;
  }
  /* Requests travel from the client. */
  int side = (e->dir == DIR_SEND) == (c->role == ROLE_CLIENT) ? 0 : 1;
  c->seq++;
  if (e->dir == DIR_SEND) c->sent += e->size;
  else c->recv += e->size;
  /* Wholly inside a Content-Length body whose prefix is kept already: the agent's parser would
   * only count these bytes, and it counts a capture gap the same, so a hand-back sends the size
   * alone (a 5 MB upload is no longer kept until its response). */
  struct side *sd = &c->s[side];
  int size_only = sd->st == S_LENGTH && sd->cur && sd->cur->blen == MAX_BODY && sd->left >= e->size;
  if (parse(c, side, e, d)) {
    /* Kept now, for the hand-back to replay from where this side's unfinished message starts. */
    keep(c, side, e, 0, size_only);
    hand_back(c);
    return;
  }
  prune(c);
  /* Kept only while part of it belongs to a message not finished: a response read whole in one
   * transfer is never copied. */
  struct pos b = bound(c, side);
  if (b.seq == c->seq && b.off >= e->size) return;
  if (keep(c, side, e, b.seq == c->seq ? b.off : 0, size_only) || c->held_bytes > MAX_HELD) hand_back(c);
}

void http1_sweep(void) {
  time_t now = time(0);
  for (size_t b = 0; b < BUCKETS; b++) {
    for (struct conn **c = &table[b]; *c;) {
      time_t idle = now - (*c)->last;
      if (idle > 600 || (idle > 5 && kill((*c)->tgid, 0) && errno == ESRCH)) forget(c);
      else c = &(*c)->next;
    }
  }
}

void http1_end(void) {
  for (size_t b = 0; b < BUCKETS; b++)
    while (table[b]) forget(&table[b]);
}
