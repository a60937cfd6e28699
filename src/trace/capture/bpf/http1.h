/* HTTP/1 in the loader (http1.c): plaintext TCP connections that start like HTTP/1 are parsed and
 * paired here, and the agent gets one EV_HTTP record per request instead of every send/receive. */
#ifndef KILN_HTTP1_H
#define KILN_HTTP1_H
#include <stddef.h>
#include "events.h"

/* Writes bytes to the agent's stream (the loader's stdout). */
typedef void (*http1_out)(const void *data, size_t n);

/* `offset_ns` turns CLOCK_MONOTONIC times into the rows' time_ (CLOCK_REALTIME). */
void http1_init(long long offset_ns, http1_out out);
/* Rows as JSON arrays of values (FL_COMPACT) instead of objects, for an agent that asks for them. */
void http1_compact(int on);
/* One data, open or close event of `size` bytes (header and payload): written on, or kept and
 * parsed. */
void http1_event(const struct event *e, size_t size);
/* Forgets connections of processes that are gone and connections idle for 10 minutes. */
void http1_sweep(void);
/* Hands every connection's kept transfers to the agent (the loader is exiting). */
void http1_end(void);

struct http1_counts {
  unsigned long long records;   /* EV_HTTP records written */
  unsigned long long fallbacks; /* connections handed back to the agent's parser mid-way */
  unsigned long long conns;     /* connections tracked now */
};
extern struct http1_counts http1_counts;

#endif
