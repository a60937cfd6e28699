// SPDX-License-Identifier: GPL-2.0
/*
 * Kiln's socket capture: syscall tracepoints (no kprobes: many kernels, this CI's included, are
 * built without CONFIG_KPROBES) and OpenSSL uprobes. At a data syscall's exit the fd is resolved
 * to its struct sock through the task's file table, so file I/O costs one lookup and no map write,
 * and up to MAX_CAP bytes of the user buffer go to a ring buffer with the connection's addresses
 * (the portable build keeps the arguments from an entry program). Protocol parsing is the loader's
 * (HTTP/1, http1.c) and the agent's job.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load: the capture's cap, the bytes a CPU writes to the ring between
 * two wake-ups of the loader. */
const volatile unsigned int max_cap = 4096;
const volatile unsigned int wake_bytes = 1 << 20;

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115

enum kind { K_WRITE = 1, K_READ, K_SENDTO, K_RECVFROM, K_WRITEV, K_READV, K_SENDMSG, K_RECVMSG, K_SENDMMSG, K_RECVMMSG };

/* A thread's state between a syscall's entry and exit, and its TLS bookkeeping: task-local storage,
 * so the hot path reads fields of one struct found from the task instead of updating and deleting
 * hash-map entries keyed by tid (an update plus a delete per event was ~30 % of the programs' time). */
struct ssl_call {
  __u64 ssl;   /* 0: no SSL_read/SSL_write in progress on this thread */
  __u64 buf;
  __u64 out;   /* size_t * of SSL_read_ex/SSL_write_ex, else 0 */
  __u64 sk;    /* socket seen by a syscall nested in the call */
  __u32 dir;
  __u32 pad;
};

struct thread_state {
  /* The data syscall in flight (KILN_PORTABLE's entry programs); kind 0: none (or not a socket). */
  __u64 sk;
  __u64 buf;   /* buffer, iovec array, msghdr or mmsghdr array */
  __u64 addr;  /* sockaddr (sendto/recvfrom) */
  __u32 fd;
  __u32 count; /* iovcnt or vlen */
  __u32 kind;
  __u32 in_ssl;
  struct ssl_call ssl;
  /* The socket this thread last received on (memory BIOs: Node reads ciphertext, then SSL_read). */
  __u64 last_recv;
  /* An SSL * whose SSL_write found no socket: bound to the next socket this thread sends on. */
  __u64 unbound_write;
  /* connect()'s fd between entry and exit; connecting 0: none. */
  __u32 connect_fd;
  __u32 connecting;
};

struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct thread_state);
} threads SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Header + 2 × MAX_CAP: a copy at offset < MAX_CAP of length ≤ MAX_CAP stays inside, as the verifier wants. */
struct scratch {
  struct event ev;
  __u8 data[2 * MAX_CAP];
  __u64 unwoken;   /* bytes this CPU wrote to the ring since it last woke the loader */
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);   /* the loader sets the number of CPUs */
  __type(key, __u32);
  __type(value, struct scratch);
} scratch SEC(".maps");

/* SSL * → struct sock *, learned from a syscall nested in SSL_read/SSL_write (socket BIOs) or from
 * the socket the thread last read (memory BIOs, as Node's TLSWrap uses). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, __u64);
} ssl_sock SEC(".maps");

/* The reverse, struct sock * → SSL *, so a socket's close() unbinds its session: a freed SSL *'s
 * address comes back for the process's next session (Node's https requests one after another),
 * which would otherwise inherit the closed socket and its rows go to it. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, __u64);
} sock_ssl SEC(".maps");

/* Processes not to trace: the agent and its loader, so uploads do not trace themselves. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u8);
} skip SEC(".maps");

/* [0] ring-buffer drops, [1] events written; per CPU, summed by the loader. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 i) {
  __u64 *c = bpf_map_lookup_elem(&counters, &i);
  if (c) *c += 1;
}

/* Kernel objects are read through BTF-typed pointers: a field is one load the JIT guards against
 * faults, where BPF_CORE_READ is a bpf_probe_read_kernel call per pointer hop (~11 of them to go
 * from an fd to its sock, and as many for the addresses: most of the programs' time). That needs
 * bpf_rdonly_cast (Linux 6.2); build.ts also builds this file with KILN_PORTABLE, helper reads
 * throughout, which the loader falls back to on older kernels. GET(p, a, b) reads p->a->b. */
#ifdef KILN_PORTABLE
#define CURRENT() ((struct task_struct *)bpf_get_current_task())
#define KERNEL(type, p) ((type *)(p))
#define GET(...) BPF_CORE_READ(__VA_ARGS__)
#define GET_INTO(dst, src, field) BPF_CORE_READ_INTO(dst, src, field)
#else
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define CURRENT() bpf_get_current_task_btf()
#define KERNEL(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))
#define GET(...) ___arrow(__VA_ARGS__)
#define GET_INTO(dst, src, field) __builtin_memcpy(dst, &(src)->field, sizeof(*(dst)))
#endif

static __always_inline struct thread_state *thread(int create) {
  return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline int skipped(void) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (bpf_map_lookup_elem(&skip, &tgid)) return 1;
  __u32 parent = GET(CURRENT(), real_parent, tgid);
  return bpf_map_lookup_elem(&skip, &parent) != 0;
}

/* The inet (TCP or UDP) sock behind an fd of the current task, else 0. */
static __always_inline __u64 sock_of_fd(int fd) {
  if (fd < 0) return 0;
  struct fdtable *fdt = GET(CURRENT(), files, fdt);
  if (!fdt || (unsigned int)fd >= GET(fdt, max_fds)) return 0;
  /* The fd array by index: a variable offset is not allowed on a typed pointer, so one helper read. */
  struct file *fp = 0;
  bpf_probe_read_kernel(&fp, sizeof(fp), (void *)((__u64)GET(fdt, fd) + (__u64)fd * sizeof(fp)));
  if (!fp) return 0;
  struct file *f = KERNEL(struct file, fp);
  if ((GET(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK) return 0;
  struct socket *so = KERNEL(struct socket, GET(f, private_data));
  struct sock *sk = GET(so, sk);
  if (!sk) return 0;
  __u16 family = GET(sk, __sk_common.skc_family);
  if (family != 2 && family != 10) return 0;
  __u16 proto = GET(sk, sk_protocol);
  if (proto != 6 && proto != 17) return 0;
  return (__u64)sk;
}

static __always_inline void fill_addrs(struct event *e, __u64 skp) {
  struct sock *sk = KERNEL(struct sock, skp);
  e->family = GET(sk, __sk_common.skc_family);
  e->protocol = GET(sk, sk_protocol);
  e->lport = GET(sk, __sk_common.skc_num);
  e->rport = bpf_ntohs(GET(sk, __sk_common.skc_dport));
  __builtin_memset(e->laddr, 0, 32);
  if (e->family == 2) {
    *(__u32 *)e->laddr = GET(sk, __sk_common.skc_rcv_saddr);
    *(__u32 *)e->raddr = GET(sk, __sk_common.skc_daddr);
  } else {
    GET_INTO((struct in6_addr *)e->laddr, sk, __sk_common.skc_v6_rcv_saddr);
    GET_INTO((struct in6_addr *)e->raddr, sk, __sk_common.skc_v6_daddr);
  }
}

/* An unconnected UDP socket's peer comes from the call's sockaddr (sendto, recvfrom, msg_name). */
static __always_inline void peer_from_user(struct event *e, __u64 uaddr) {
  if (!uaddr || e->rport) return;
  struct { __u16 family; __u16 port; __u32 v4; __u8 v6[16]; } sa = {};
  if (bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr)) return;
  if (sa.family == 2) {
    __builtin_memset(e->raddr, 0, 16);
    *(__u32 *)e->raddr = sa.v4;
    e->rport = bpf_ntohs(sa.port);
  } else if (sa.family == 10) {
    __builtin_memcpy(e->raddr, sa.v6, 16);
    e->rport = bpf_ntohs(sa.port);
  }
}

static __always_inline struct scratch *scratch_buf(void) {
  __u32 cpu = bpf_get_smp_processor_id();
  return bpf_map_lookup_elem(&scratch, &cpu);
}

static __always_inline void submit(struct scratch *s) {
  __u32 n = s->ev.cap;
  if (n > MAX_CAP) n = MAX_CAP;
  s->ev.cap = n;
  /* A no-op mask for sizes ≤ 80 + MAX_CAP that tells the verifier the size fits the scratch value
   * (in asm: clang drops a C mask it can prove redundant, and the verifier cannot). */
  __u64 len = sizeof(struct event) + n;
  asm volatile("%0 &= %1" : "+r"(len) : "i"(2 * MAX_CAP - 1));
  /* Wake the loader only once this CPU has written wake_bytes (it also polls every 50 ms): a
   * wake-up per event cost a context switch per send/receive, halving nginx's request rate under
   * wrk on 2 cores, and one per 64 KiB still switched between the loader, the agent and the traced
   * processes ~800 times a second at wrk's rate. Counted per CPU in the scratch value: asking the
   * ring for its unread bytes (bpf_ringbuf_query) read the loader's consumer position, a cache
   * line the other CPU writes, on every event (2.6 % of nginx's and wrk's CPU). */
  __u64 flags = BPF_RB_NO_WAKEUP;
  s->unwoken += len;
  if (s->unwoken >= wake_bytes) {
    s->unwoken = 0;
    flags = BPF_RB_FORCE_WAKEUP;
  }
  if (bpf_ringbuf_output(&events, s, len, flags)) count(0);
  else count(1);
}

/* Copies up to `len` bytes from `src` to data[off…]; returns bytes copied. */
static __always_inline __u32 copy_at(struct scratch *s, __u32 off, __u64 src, __u64 len) {
  __u32 room = max_cap > MAX_CAP ? MAX_CAP : max_cap;
  if (off >= room) return 0;
  if (len > room - off) len = room - off;
  off &= MAX_CAP - 1;
  len &= 2 * MAX_CAP - 1;
  if (len > MAX_CAP) len = MAX_CAP;
  if (len == 0) return 0;
  if (bpf_probe_read_user(&s->data[off], len, (void *)src)) return 0;
  return len;
}

/* Copies the first segments of an iovec array holding `total` bytes. */
static __always_inline __u32 copy_iov(struct scratch *s, __u64 iov, __u32 iovcnt, __u64 total) {
  __u32 off = 0;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    if (i >= iovcnt || total == 0) break;
    struct iovec v = {};
    if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(struct iovec)))) break;
    __u64 len = v.iov_len < total ? v.iov_len : total;
    __u32 got = copy_at(s, off, (__u64)v.iov_base, len);
    off += got;
    total -= len;
    if (got < len) break;
  }
  return off;
}

static __always_inline struct scratch *begin(__u64 sk, __u32 fd, __u32 dir, __u32 size, __u8 flags) {
  struct scratch *s = scratch_buf();
  if (!s) return 0;
  s->ev.ts = bpf_ktime_get_ns();
  s->ev.sk = sk;
  s->ev.ssl = 0;
  s->ev.tgid = bpf_get_current_pid_tgid() >> 32;
  s->ev.fd = fd;
  s->ev.size = size;
  s->ev.cap = 0;
  s->ev.type = EV_DATA;
  s->ev.dir = dir;
  s->ev.flags = flags;
  s->ev.role = 0;
  s->ev.pad = 0;
  fill_addrs(&s->ev, sk);
  struct task_struct *leader = GET(CURRENT(), group_leader);
  s->ev.start = GET(leader, start_boottime);
#ifdef KILN_PORTABLE
  BPF_CORE_READ_STR_INTO(&s->ev.comm, leader, comm);
#else
  __builtin_memcpy(s->ev.comm, leader->comm, sizeof(s->ev.comm));
  s->ev.comm[sizeof(s->ev.comm) - 1] = 0;
#endif
  return s;
}

/* ---- data syscalls ---- */

/* Binds an SSL session to its socket (both ways). A lookup first: socket BIOs confirm the same
 * binding on every nested syscall, and a lookup costs less than an LRU map's update. */
static __always_inline void bind_sock(__u64 ssl, __u64 sk) {
  __u64 *cur = bpf_map_lookup_elem(&ssl_sock, &ssl);
  if (cur && *cur == sk) return;
  bpf_map_update_elem(&ssl_sock, &ssl, &sk, BPF_ANY);
  bpf_map_update_elem(&sock_ssl, &sk, &ssl, BPF_ANY);
}

/* A socket syscall made inside SSL_read/SSL_write binds the SSL session to its socket; a send
 * after an SSL_write that found none binds that one (memory BIOs). Returns 1 inside an SSL call. */
static __always_inline __u32 bind_ssl(struct thread_state *st, __u32 kind, __u64 sk) {
  if (st->ssl.ssl) {
    st->ssl.sk = sk;
    bind_sock(st->ssl.ssl, sk);
    return 1;
  }
  if (st->unbound_write && (kind == K_WRITE || kind == K_WRITEV || kind == K_SENDTO || kind == K_SENDMSG)) {
    __u64 key = st->unbound_write;
    if (!bpf_map_lookup_elem(&ssl_sock, &key)) bind_sock(key, sk);
    st->unbound_write = 0;
  }
  return 0;
}

/* One transfer of `ret` bytes on socket `sk` to the ring, with up to max_cap of its bytes. */
static __always_inline int transfer(struct thread_state *st, __u32 kind, long ret, __u64 sk, __u32 fd, __u64 buf,
                                    __u32 count_, __u64 addr, __u32 in_ssl) {
  __u32 dir = (kind == K_WRITE || kind == K_SENDTO || kind == K_WRITEV || kind == K_SENDMSG || kind == K_SENDMMSG) ? DIR_SEND : DIR_RECV;
  if (dir == DIR_RECV) st->last_recv = sk;
  __u8 flags = in_ssl ? FL_IN_SSL : 0;

  if (kind == K_SENDMMSG || kind == K_RECVMMSG) {
    /* One event per message, the first four (glibc's resolver sends A and AAAA in one sendmmsg). */
#pragma unroll
    for (int i = 0; i < 4; i++) {
      if (i >= ret) break;
      struct mmsghdr m = {};
      if (bpf_probe_read_user(&m, sizeof(m), (void *)(buf + i * sizeof(struct mmsghdr)))) break;
      struct scratch *s = begin(sk, fd, dir, m.msg_len, flags);
      if (!s) return 0;
      peer_from_user(&s->ev, (__u64)m.msg_hdr.msg_name);
      if (!in_ssl) s->ev.cap = copy_iov(s, (__u64)m.msg_hdr.msg_iov, m.msg_hdr.msg_iovlen, m.msg_len);
      submit(s);
    }
    return 0;
  }

  struct scratch *s = begin(sk, fd, dir, ret, flags);
  if (!s) return 0;
  __u32 cap = 0;
  if (kind == K_SENDMSG || kind == K_RECVMSG) {
    struct user_msghdr m = {};
    if (!bpf_probe_read_user(&m, sizeof(m), (void *)buf)) {
      peer_from_user(&s->ev, (__u64)m.msg_name);
      if (!in_ssl) cap = copy_iov(s, (__u64)m.msg_iov, m.msg_iovlen, ret);
    }
  } else if (kind == K_WRITEV || kind == K_READV) {
    if (!in_ssl) cap = copy_iov(s, buf, count_, ret);
  } else {
    peer_from_user(&s->ev, addr);
    if (!in_ssl) cap = copy_at(s, 0, buf, ret);
  }
  s->ev.cap = cap;
  submit(s);
  return 0;
}

#define ARGS struct trace_event_raw_sys_enter
#define RET struct trace_event_raw_sys_exit

#ifdef KILN_PORTABLE
/* Before Linux 5.15 (no bpf_task_pt_regs): the entry keeps the call's arguments for its exit. */
static __always_inline int enter(__u32 kind, int fd, __u64 buf, __u64 count_, __u64 addr) {
  if (skipped()) return 0;
  __u64 sk = sock_of_fd(fd);
  if (!sk) return 0;
  struct thread_state *st = thread(1);
  if (!st) return 0;
  st->sk = sk;
  st->buf = buf;
  st->addr = addr;
  st->fd = fd;
  st->count = count_;
  st->kind = kind;
  st->in_ssl = bind_ssl(st, kind, sk);
  return 0;
}

static __always_inline int leave(__u32 kind, long ret) {
  struct thread_state *st = thread(0);
  /* Only the call this exit ends: an entry whose exit was not seen (attached in between) is not this one. */
  if (!st || st->kind != kind) return 0;
  st->kind = 0;
  if (ret <= 0) return 0;
  return transfer(st, kind, ret, st->sk, st->fd, st->buf, st->count, st->addr, st->in_ssl);
}

SEC("tracepoint/syscalls/sys_enter_write") int enter_write(ARGS *c) { return enter(K_WRITE, c->args[0], c->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_enter_read") int enter_read(ARGS *c) { return enter(K_READ, c->args[0], c->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_enter_sendto") int enter_sendto(ARGS *c) { return enter(K_SENDTO, c->args[0], c->args[1], 0, c->args[4]); }
/* MSG_PEEK (2) leaves the bytes to be read again (nginx peeks 1 byte to tell TLS from HTTP): not a transfer. */
SEC("tracepoint/syscalls/sys_enter_recvfrom") int enter_recvfrom(ARGS *c) { return c->args[3] & 2 ? 0 : enter(K_RECVFROM, c->args[0], c->args[1], 0, c->args[4]); }
SEC("tracepoint/syscalls/sys_enter_writev") int enter_writev(ARGS *c) { return enter(K_WRITEV, c->args[0], c->args[1], c->args[2], 0); }
SEC("tracepoint/syscalls/sys_enter_readv") int enter_readv(ARGS *c) { return enter(K_READV, c->args[0], c->args[1], c->args[2], 0); }
SEC("tracepoint/syscalls/sys_enter_sendmsg") int enter_sendmsg(ARGS *c) { return enter(K_SENDMSG, c->args[0], c->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_enter_recvmsg") int enter_recvmsg(ARGS *c) { return c->args[2] & 2 ? 0 : enter(K_RECVMSG, c->args[0], c->args[1], 0, 0); }
SEC("tracepoint/syscalls/sys_enter_sendmmsg") int enter_sendmmsg(ARGS *c) { return enter(K_SENDMMSG, c->args[0], c->args[1], c->args[2], 0); }
SEC("tracepoint/syscalls/sys_enter_recvmmsg") int enter_recvmmsg(ARGS *c) { return enter(K_RECVMMSG, c->args[0], c->args[1], c->args[2], 0); }
#else
/* One program per data syscall, at its exit: the call's arguments are still in the task's saved
 * user registers there (bpf_task_pt_regs), so no entry program runs to keep them. That halves the
 * programs per transfer, and each syscall tracepoint's program costs ~170 ns of perf's dispatch
 * (perf_syscall_enter, perf_trace_buf_alloc, trace_call_bpf) besides its own ~250 ns; a call that
 * moved nothing (EAGAIN reads) now costs one compare. A descriptor closed and reused by another
 * thread during the call is read as the new one: a transfer lost or misfiled, as rare as that race. */
static __always_inline int leave(__u32 kind, long ret) {
  if (ret <= 0) return 0;
  struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(CURRENT());
  /* MSG_PEEK (2) leaves the bytes to be read again (nginx peeks 1 byte to tell TLS from HTTP): not a transfer. */
  if (kind == K_RECVFROM && (PT_REGS_PARM4_SYSCALL(r) & 2)) return 0;
  if (kind == K_RECVMSG && (PT_REGS_PARM3_SYSCALL(r) & 2)) return 0;
  if (skipped()) return 0;
  int fd = PT_REGS_PARM1_SYSCALL(r);
  __u64 sk = sock_of_fd(fd);
  if (!sk) return 0;
  struct thread_state *st = thread(1);
  if (!st) return 0;
  __u64 buf = PT_REGS_PARM2_SYSCALL(r);
  __u32 count_ = (kind == K_WRITEV || kind == K_READV || kind == K_SENDMMSG || kind == K_RECVMMSG) ? PT_REGS_PARM3_SYSCALL(r) : 0;
  __u64 addr = (kind == K_SENDTO || kind == K_RECVFROM) ? PT_REGS_PARM5_SYSCALL(r) : 0;
  return transfer(st, kind, ret, sk, fd, buf, count_, addr, bind_ssl(st, kind, sk));
}
#endif

SEC("tracepoint/syscalls/sys_exit_write") int exit_write(RET *c) { return leave(K_WRITE, c->ret); }
SEC("tracepoint/syscalls/sys_exit_read") int exit_read(RET *c) { return leave(K_READ, c->ret); }
SEC("tracepoint/syscalls/sys_exit_sendto") int exit_sendto(RET *c) { return leave(K_SENDTO, c->ret); }
SEC("tracepoint/syscalls/sys_exit_recvfrom") int exit_recvfrom(RET *c) { return leave(K_RECVFROM, c->ret); }
SEC("tracepoint/syscalls/sys_exit_writev") int exit_writev(RET *c) { return leave(K_WRITEV, c->ret); }
SEC("tracepoint/syscalls/sys_exit_readv") int exit_readv(RET *c) { return leave(K_READV, c->ret); }
SEC("tracepoint/syscalls/sys_exit_sendmsg") int exit_sendmsg(RET *c) { return leave(K_SENDMSG, c->ret); }
SEC("tracepoint/syscalls/sys_exit_recvmsg") int exit_recvmsg(RET *c) { return leave(K_RECVMSG, c->ret); }
SEC("tracepoint/syscalls/sys_exit_sendmmsg") int exit_sendmmsg(RET *c) { return leave(K_SENDMMSG, c->ret); }
SEC("tracepoint/syscalls/sys_exit_recvmmsg") int exit_recvmmsg(RET *c) { return leave(K_RECVMMSG, c->ret); }

/* ---- connection lifecycle: connect, accept, close ---- */

static __always_inline void lifecycle(__u8 type, __u64 sk, __u32 fd, __u8 role) {
  struct scratch *s = begin(sk, fd, 0, 0, 0);
  if (!s) return;
  s->ev.type = type;
  s->ev.role = role;
  submit(s);
}

SEC("tracepoint/syscalls/sys_enter_connect") int enter_connect(ARGS *c) {
  if (skipped()) return 0;
  struct thread_state *st = thread(1);
  if (!st) return 0;
  st->connect_fd = c->args[0];
  st->connecting = 1;
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect") int exit_connect(RET *c) {
  struct thread_state *st = thread(0);
  if (!st || !st->connecting) return 0;
  st->connecting = 0;
  __u32 f = st->connect_fd;
  if (c->ret != 0 && c->ret != -EINPROGRESS) return 0;
  __u64 sk = sock_of_fd(f);
  if (sk) lifecycle(EV_OPEN, sk, f, 1);
  return 0;
}

static __always_inline int accepted(long ret) {
  if (ret < 0 || skipped()) return 0;
  __u64 sk = sock_of_fd(ret);
  if (sk) lifecycle(EV_OPEN, sk, ret, 2);
  return 0;
}
SEC("tracepoint/syscalls/sys_exit_accept") int exit_accept(RET *c) { return accepted(c->ret); }
SEC("tracepoint/syscalls/sys_exit_accept4") int exit_accept4(RET *c) { return accepted(c->ret); }

SEC("tracepoint/syscalls/sys_enter_close") int enter_close(ARGS *c) {
  if (skipped()) return 0;
  __u64 sk = sock_of_fd(c->args[0]);
  if (!sk) return 0;
  lifecycle(EV_CLOSE, sk, c->args[0], 0);
  /* Its SSL session's binding ends with it (unless the session moved to another socket since). */
  __u64 *ssl = bpf_map_lookup_elem(&sock_ssl, &sk);
  if (ssl) {
    __u64 key = *ssl;
    __u64 *bound = bpf_map_lookup_elem(&ssl_sock, &key);
    if (bound && *bound == sk) bpf_map_delete_elem(&ssl_sock, &key);
    bpf_map_delete_elem(&sock_ssl, &sk);
  }
  return 0;
}

/* ---- TLS plaintext: OpenSSL's SSL_write/SSL_read (and _ex), in libssl or a static binary ---- */

static __always_inline int ssl_enter(__u64 ssl, __u64 buf, __u64 out, __u32 dir) {
  if (!ssl || skipped()) return 0;
  struct thread_state *st = thread(1);
  if (!st) return 0;
  st->ssl.ssl = ssl;
  st->ssl.buf = buf;
  st->ssl.out = out;
  st->ssl.sk = 0;
  st->ssl.dir = dir;
  return 0;
}

static __always_inline int ssl_leave(long ret) {
  struct thread_state *st = thread(0);
  if (!st || !st->ssl.ssl) return 0;
  struct ssl_call c = st->ssl;
  st->ssl.ssl = 0;
  __u64 n = 0;
  if (c.out) {
    if (ret != 1) return 0;
    bpf_probe_read_user(&n, sizeof(n), (void *)c.out);
  } else if (ret > 0) {
    n = ret;
  }
  if (n == 0) return 0;
  __u64 sk = c.sk;
  if (!sk) {
    __u64 *known = bpf_map_lookup_elem(&ssl_sock, &c.ssl);
    if (known) sk = *known;
  }
  /* Memory BIOs (Node): plaintext out of SSL_read was ciphertext this thread read from a socket
   * just before. Bound here, once plaintext came, not at the call's entry: Node's client calls
   * SSL_read to start the handshake before anything was read from its new socket, when the
   * thread's last socket is another connection's (its https rows went to that one, or to a closed
   * socket's freed struct, under load). */
  if (!sk && c.dir == DIR_RECV && st->last_recv) {
    sk = st->last_recv;
    bind_sock(c.ssl, sk);
  }
  /* Memory BIOs (Node): the ciphertext of this SSL_write goes out on the socket right after it. */
  if (!sk && c.dir == DIR_SEND) st->unbound_write = c.ssl;
  struct scratch *s = begin(sk, 0, c.dir, n, sk ? FL_SSL : FL_SSL | FL_NO_SK);
  if (!s) return 0;
  s->ev.ssl = c.ssl;
  s->ev.cap = copy_at(s, 0, c.buf, n);
  submit(s);
  return 0;
}

SEC("uprobe") int BPF_KPROBE(ssl_write, void *ssl, void *buf, int num) { return ssl_enter((__u64)ssl, (__u64)buf, 0, DIR_SEND); }
SEC("uprobe") int BPF_KPROBE(ssl_read, void *ssl, void *buf, int num) { return ssl_enter((__u64)ssl, (__u64)buf, 0, DIR_RECV); }
SEC("uprobe") int BPF_KPROBE(ssl_write_ex, void *ssl, void *buf, size_t num, size_t *written) { return ssl_enter((__u64)ssl, (__u64)buf, (__u64)written, DIR_SEND); }
SEC("uprobe") int BPF_KPROBE(ssl_read_ex, void *ssl, void *buf, size_t num, size_t *read) { return ssl_enter((__u64)ssl, (__u64)buf, (__u64)read, DIR_RECV); }
/* int: SSL_read's -1 is 0xffffffff in a 64-bit register. */
SEC("uretprobe") int BPF_KRETPROBE(ssl_ret, int ret) { return ssl_leave(ret); }
