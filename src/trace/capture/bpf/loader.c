// SPDX-License-Identifier: GPL-2.0
/*
 * kiln-capture: loads socket.bpf.c, attaches its tracepoints, and streams the ring buffer's events
 * to stdout in events.h's format. Commands on stdin, one per line:
 *   uprobe PATH   attach the SSL_read/SSL_write probes to a libssl or a binary with OpenSSL inside
 *   skip PID      do not trace this process (nor its children)
 * Exits when stdin closes (the agent is gone) or stdout breaks. HTTP/1 connections are parsed here
 * (http1.c) unless --http1 off; --http1-rows compact writes their rows as arrays of values
 * (FL_COMPACT); --replay reads a recorded stream on stdin instead of the kernel's (the tests
 * compare both paths on the same bytes, no root needed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "events.h"
#include "http1.h"
/* build.ts builds this twice: with the BTF-read programs, and KILN_PORTABLE's for kernels before 6.2. */
#ifdef KILN_PORTABLE
#include "socket-portable.skel.h"
#else
#include "socket.skel.h"
#endif

static struct socket_bpf *skel;
static unsigned long long written;
static int http1 = 1;
/* Events left before ring_buffer__consume returns to the loop (see on_event). */
static unsigned int budget;
#define SLICE 4096

static void emit(unsigned char type, const void *data, unsigned int n) {
  struct event e;
  memset(&e, 0, sizeof(e));
  e.type = type;
  e.cap = n;
  fwrite(&e, sizeof(e), 1, stdout);
  if (n) fwrite(data, n, 1, stdout);
}

static void logf_(const char *fmt, const char *a, long b) {
  char line[600];
  int n = snprintf(line, sizeof(line), fmt, a, b);
  emit(EV_LOG, line, n < 0 ? 0 : (n >= (int)sizeof(line) ? sizeof(line) - 1 : n));
}

/* A negative return ends ring_buffer__consume with this event consumed: after SLICE events the
 * loop runs again, so the once-a-second stats (drops) and stdin commands are not held up while
 * the agent reads slower than the kernel writes (consume would otherwise never return, and
 * drops stayed unreported until the loader was killed at the agent's stop). */
static void out(const void *data, size_t n) {
  if (n && fwrite(data, n, 1, stdout) != 1) exit(0);
}

/* One event of the kernel's (or of --replay's input) to the agent, through the HTTP/1 parser. */
static void pass(const struct event *e, size_t size) {
  written++;
  if (http1 && size >= sizeof(*e) && (e->type == EV_DATA || e->type == EV_OPEN || e->type == EV_CLOSE)) http1_event(e, size);
  else out(e, size);
}

static int on_event(void *ctx, void *data, size_t size) {
  (void)ctx;
  pass(data, size);
  return --budget ? 0 : -EAGAIN;
}

/* --replay: events.h events on stdin, as the ring would give them, to stdout. */
static int replay(void) {
  static unsigned char buf[sizeof(struct event) + MAX_CAP];
  struct event *e = (struct event *)buf;
  while (fread(e, sizeof(*e), 1, stdin) == 1) {
    if (e->cap > MAX_CAP || (e->cap && fread(e + 1, e->cap, 1, stdin) != 1)) {
      fprintf(stderr, "kiln-capture: --replay: a truncated or foreign stream\n");
      return 1;
    }
    if (e->type == EV_HELLO && e->cap >= 8) http1_init(*(long long *)(e + 1), out);
    pass(e, sizeof(*e) + e->cap);
  }
  http1_end();
  fflush(stdout);
  return 0;
}

static int consume(struct ring_buffer *rb) {
  budget = SLICE;
  return ring_buffer__consume(rb);
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, fmt, ap);
}

static void attach_ssl(const char *path) {
  static const struct { const char *fn; int ex; int write; } fns[] = {
    { "SSL_write", 0, 1 }, { "SSL_read", 0, 0 }, { "SSL_write_ex", 1, 1 }, { "SSL_read_ex", 1, 0 },
  };
  int ok = 0;
  for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
    struct bpf_program *entry = fns[i].ex ? (fns[i].write ? skel->progs.ssl_write_ex : skel->progs.ssl_read_ex)
                                          : (fns[i].write ? skel->progs.ssl_write : skel->progs.ssl_read);
    LIBBPF_OPTS(bpf_uprobe_opts, in, .func_name = fns[i].fn, .retprobe = false);
    LIBBPF_OPTS(bpf_uprobe_opts, out, .func_name = fns[i].fn, .retprobe = true);
    struct bpf_link *a = bpf_program__attach_uprobe_opts(entry, -1, path, 0, &in);
    if (!a) continue;
    struct bpf_link *b = bpf_program__attach_uprobe_opts(skel->progs.ssl_ret, -1, path, 0, &out);
    if (!b) {
      bpf_link__destroy(a);
      continue;
    }
    ok++;
  }
  logf_(ok ? "uprobe %s: %ld SSL functions attached" : "uprobe %s: no SSL_read/SSL_write symbol attached (%ld)", path, ok);
}

static void command(char *line) {
  line[strcspn(line, "\n")] = 0;
  if (!strncmp(line, "uprobe ", 7)) {
    attach_ssl(line + 7);
  } else if (!strncmp(line, "skip ", 5)) {
    unsigned int pid = strtoul(line + 5, 0, 10);
    unsigned char one = 1;
    bpf_map__update_elem(skel->maps.skip, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY);
  } else if (*line) {
    logf_("unknown command %s (%ld)", line, 0);
  }
}

static void stats(void) {
  int ncpu = libbpf_num_possible_cpus();
  unsigned long long totals[2] = { 0, 0 };
  unsigned long long *vals = calloc(ncpu, sizeof(unsigned long long));
  for (unsigned int k = 0; k < 2; k++) {
    if (bpf_map__lookup_elem(skel->maps.counters, &k, sizeof(k), vals, ncpu * sizeof(unsigned long long), 0)) continue;
    for (int c = 0; c < ncpu; c++) totals[k] += vals[c];
  }
  free(vals);
  unsigned long long v[5] = { totals[0], totals[1], written, http1_counts.records, http1_counts.fallbacks };
  emit(EV_STATS, v, sizeof(v));
}

int main(int argc, char **argv) {
  unsigned int cap = 16384;
  int replaying = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--replay")) replaying = 1;
    else if (i + 1 < argc && !strcmp(argv[i], "--cap")) cap = strtoul(argv[++i], 0, 10);
    else if (i + 1 < argc && !strcmp(argv[i], "--http1")) http1 = strcmp(argv[++i], "off") != 0;
    else if (i + 1 < argc && !strcmp(argv[i], "--http1-rows")) http1_compact(!strcmp(argv[++i], "compact"));
  }
  if (cap > MAX_CAP) cap = MAX_CAP;
  http1_init(0, out);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_DFL);
  static char outbuf[1 << 20];
  setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
  /* A pipe as large as that buffer (64 KiB by default): a flush goes out in one write, and the
   * agent reads its chunks back to back instead of taking turns with this process per 64 KiB.
   * Best effort: not a pipe, or past /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE. */
  fcntl(1, F_SETPIPE_SZ, (int)sizeof(outbuf));
  if (replaying) return replay();
  libbpf_set_print(libbpf_log);

  skel = socket_bpf__open();
  if (!skel) {
    fprintf(stderr, "kiln-capture: cannot open the BPF object: %s\n", strerror(errno));
    return 2;
  }
  skel->rodata->max_cap = cap;
  int ncpu = libbpf_num_possible_cpus();
  bpf_map__set_max_entries(skel->maps.scratch, ncpu);
  /* Each CPU wakes this process per wake_bytes it writes: 1 MiB, less on hosts with more CPUs, so
   * the ring (16 MiB) still has room when every CPU's share is waiting. */
  unsigned int wake = (4u << 20) / (ncpu > 0 ? ncpu : 1);
  skel->rodata->wake_bytes = wake > (1u << 20) ? 1u << 20 : wake < (64u << 10) ? 64u << 10 : wake;
  int err = socket_bpf__load(skel);
  if (err) {
    fprintf(stderr, "kiln-capture: cannot load the BPF programs: %s\n", strerror(-err));
    return 3;
  }
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, skel->obj) {
    if (!strncmp(bpf_program__name(prog), "ssl_", 4)) continue;
    if (!bpf_program__attach(prog)) {
      fprintf(stderr, "kiln-capture: cannot attach %s: %s\n", bpf_program__name(prog), strerror(errno));
      return 4;
    }
  }
  struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, 0, 0);
  if (!rb) {
    fprintf(stderr, "kiln-capture: cannot open the ring buffer: %s\n", strerror(errno));
    return 5;
  }
  struct timespec rt, mono;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  long long offset = (rt.tv_sec - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
  emit(EV_HELLO, &offset, sizeof(offset));
  http1_init(offset, out);
  fflush(stdout);

  struct pollfd fds[2] = { { .fd = ring_buffer__epoll_fd(rb), .events = POLLIN }, { .fd = 0, .events = POLLIN } };
  char line[4096];
  size_t have = 0;
  time_t last = time(0);
  int more = 0;
  for (;;) {
    /* 50 ms: the BPF side wakes us only past 1 MiB, so this bounds an event's wait (the agent
     * uploads once a second); no wait when the last slice left events in the ring. */
    int n = poll(fds, 2, more ? 0 : 50);
    if (n < 0 && errno != EINTR) break;
    more = consume(rb) == -EAGAIN;
    if (fds[1].revents & (POLLIN | POLLHUP)) {
      ssize_t r = read(0, line + have, sizeof(line) - 1 - have);
      if (r <= 0) break;
      have += r;
      line[have] = 0;
      char *nl;
      while ((nl = memchr(line, '\n', have))) {
        *nl = 0;
        command(line);
        have -= nl + 1 - line;
        memmove(line, nl + 1, have);
      }
      if (have == sizeof(line) - 1) have = 0;
    }
    if (time(0) != last) {
      last = time(0);
      if (last % 5 == 0) http1_sweep();
      stats();
    }
    if (fflush(stdout)) break;
  }
  /* What the ring still holds goes out before the exit: the last requests before a stop count.
   * At most a ring's worth of slices: traced processes keep writing while this drains. */
  for (int i = 0; i <= (16 << 20) / (int)sizeof(struct event) / SLICE && consume(rb) == -EAGAIN; i++) {
  }
  http1_end();
  stats();
  fflush(stdout);
  ring_buffer__free(rb);
  socket_bpf__destroy(skel);
  return 0;
}
