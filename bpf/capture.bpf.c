// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * FlowMesh kernel capture: every TCP connection from SYN to FIN/RST.
 *
 * Programs
 *   tp_btf/inet_sock_set_state   every state transition, IPv4 and IPv6
 *   tp_btf/tcp_retransmit_skb    retransmitted segments
 *   tp_btf/tcp_send_reset        RSTs this host sends (with or without a socket)
 *   tp_btf/tcp_receive_reset     RSTs a socket accepts
 *   iter/tcp                     reports sockets that were open before capture started,
 *                                and arms their listeners for the trace tag
 *   sockops (cgroup)             writes the trace tag into SYNs, echoes it in SYN-ACKs,
 *                                reports an echo that came back
 *   tracepoint/syscalls/sys_exit_accept[4]
 *                                accept() returned a socket: the accepting task, the end of
 *                                the accept-queue wait (optional: needs tracefs)
 *   tp_btf/sched_wakeup[_new], tp_btf/sched_switch
 *                                run-queue delay of the processes that own traced sockets
 *                                (optional: Node:Runtime:RunQueue)
 *   uprobe runtime.execute       Go goroutine scheduling delay and runnable goroutines
 *                                (optional, per Go binary: Node:Runtime:Go)
 *
 * Records go to one BPF ring buffer per CPU (an ARRAY_OF_MAPS indexed by CPU,
 * filled by user space). A record that cannot be reserved is counted in the
 * per-CPU counters: nothing is lost without being counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "capture.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define SOL_TCP 6
#define TCP_SAVE_SYN 27
#define TCP_BPF_SOCK_OPS_CB_FLAGS 1008
#define TCPHDR_SYN 0x02
#define TCPHDR_ACK 0x10
#define E2BIG 7

/* Filled by user space before load; volatile so clang keeps the reads. */
const volatile struct fm_config fm_cfg SEC(".rodata.config") = {};

/*
 * Inner map template: user space replaces it with bpf_map__set_inner_map_fd
 * and creates one ring per CPU of the configured size.
 */
struct ring_template {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* resized to the number of possible CPUs */
	__type(key, __u32);
	__array(values, struct ring_template);
} fm_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fm_counters);
} fm_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fm_tag_key);
} fm_tag_key SEC(".maps");

/* What FlowMesh remembers about a socket between events. */
enum sock_info_flags {
	SI_SEEN = 1 << 0,
	SI_OWNER = 1 << 1,
	SI_MIDLIFE = 1 << 2,
	SI_ISN = 1 << 3,
	SI_SELF = 1 << 4,        /* belongs to the capturing process: never reported */
	SI_SYN_COUNTED = 1 << 5, /* active open completed: tcp_sock.bytes_acked counts the SYN */
	SI_FIN_SENT = 1 << 6,    /* this end has queued its FIN (entered FIN_WAIT1 or LAST_ACK) */
};

struct sock_info {
	__u64 trace_tag;
	__u16 tag_flags; /* FM_F_TAG_* */
	__u16 _pad0;
	__u32 _pad1;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tgid;
	char comm[FM_COMM_LEN];
	__u32 isn_local;
	__u32 isn_remote;
	__u32 flags;
	__u32 _pad;
	/* Health counters the kernel does not keep per socket (struct fm_health). */
	__u32 retrans_timeout;
	__u32 retrans_fast;
	__u32 retrans_probe;
	__u32 retrans_syn;
	__u32 drops;
	__u32 drop_reason;
	__u32 reported_segs; /* segs_in + segs_out at the last fm_report record: an idle socket is not reported again */
};

/*
 * BPF_F_CLONE: a connection accepted from a listener starts with a copy of the
 * listener's entry, so the server process (the one that called listen()) is
 * known from the very first event of an accepted connection, which happens in
 * softirq context. (A hook on accept() would name the accepting worker, but
 * fentry/fexit programs are refused on kernels in lockdown "integrity" mode,
 * and tracepoints do not cover accept.)
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct sock_info);
} fm_sock_info SEC(".maps");

/*
 * Transitions that only ever happen inside a syscall of the task that holds
 * the socket: connect(), listen(), close()/shutdown(). For these, "current"
 * is the process making the connection. Every other transition may run in
 * softirq context, where "current" is whichever task was interrupted, so
 * those carry the owner remembered in socket storage instead. (Reading
 * preempt_count would be more general, but it needs the per-CPU symbol in
 * kallsyms, which kernels without CONFIG_KALLSYMS_ALL do not export.)
 */
static __always_inline bool transition_in_task(int oldstate, int newstate)
{
	if (oldstate == TCP_CLOSE)
		return newstate == TCP_SYN_SENT || newstate == TCP_LISTEN;
	return (oldstate == TCP_ESTABLISHED && newstate == TCP_FIN_WAIT1) ||
	       (oldstate == TCP_CLOSE_WAIT && newstate == TCP_LAST_ACK);
}

static __always_inline struct fm_counters *counters(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&fm_counters, &zero);
}

static __always_inline bool port_in(const volatile __u16 *ports, __u16 n, __u16 port)
{
	for (int i = 0; i < FM_MAX_PORTS; i++) {
		if (i >= n)
			break;
		if (ports[i] == port)
			return true;
	}
	return false;
}

static __always_inline bool wanted(__u32 netns_ino, __u16 lport, __u16 rport)
{
	if (fm_cfg.netns_ino && netns_ino != fm_cfg.netns_ino)
		return false;
	if (fm_cfg.n_include && !port_in(fm_cfg.include_ports, fm_cfg.n_include, lport) &&
	    !port_in(fm_cfg.include_ports, fm_cfg.n_include, rport))
		return false;
	if (fm_cfg.n_exclude && (port_in(fm_cfg.exclude_ports, fm_cfg.n_exclude, lport) ||
				 port_in(fm_cfg.exclude_ports, fm_cfg.n_exclude, rport)))
		return false;
	return true;
}

/*
 * This end's port. skc_num is zeroed when a socket that did not bind() explicitly
 * releases its port, which happens inside tcp_set_state(TCP_CLOSE) just before
 * the tracepoint fires; inet_sport keeps the port the connection used.
 */
static __always_inline __u16 local_port_of(const struct sock_common *skc)
{
	__u16 port = skc->skc_num;
	if (port)
		return port;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)skc);
	return tp ? bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport) : 0;
}

static __always_inline __u32 sk_netns(const struct sock_common *skc)
{
	return skc->skc_net.net->ns.inum;
}

/* Reserves a record in this CPU's ring, counting the failure if there is no room. */
static __always_inline struct fm_event *reserve(void **ring)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct fm_counters *c = counters();
	void *rb = bpf_map_lookup_elem(&fm_rings, &cpu);
	if (!rb) {
		if (c)
			__sync_fetch_and_add(&c->no_ring, 1);
		return NULL;
	}
	struct fm_event *e = bpf_ringbuf_reserve(rb, sizeof(*e), 0);
	if (!e) {
		if (c)
			__sync_fetch_and_add(&c->reserve_failed, 1);
		return NULL;
	}
	*ring = rb;
	return e;
}

/*
 * Wake-ups are batched: waking the reader for every record measurably slows
 * connection rates (DESIGN.md), so the reader polls, and is woken only when a
 * good part of the ring is waiting. Looking at the fill level reads the
 * reader's cache line, so it is done once every FM_FILL_CHECK_EVERY records.
 */
#define FM_FILL_CHECK_EVERY 32

static __always_inline void submit(void *rb, struct fm_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (fm_cfg.wakeup_bytes) {
		struct fm_counters *c = counters();
		/* Per-CPU and only a sampling clock: a racing nested program costs at most one check. */
		if (c && ++c->submitted >= FM_FILL_CHECK_EVERY) {
			c->submitted = 0;
			if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= fm_cfg.wakeup_bytes)
				flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void fill_header(struct fm_event *e, __u8 kind, __u8 family, __u8 old_state, __u8 new_state)
{
	e->version = FM_RECORD_VERSION;
	e->kind = kind;
	e->family = family;
	e->old_state = old_state;
	e->new_state = new_state;
	e->flags = 0;
	e->ts_ns = bpf_ktime_get_ns();
	e->sock_cookie = 0;
	e->cgroup_id = 0;
	e->pid = 0;
	e->tgid = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	e->isn_local = 0;
	e->isn_remote = 0;
	e->bytes_acked = 0;
	e->bytes_received = 0;
	e->segs_out = 0;
	e->segs_in = 0;
	e->srtt_us = 0;
	e->total_retrans = 0;
	e->trace_tag = 0;
	e->goid = 0;
	e->reason = 0;
	e->sk_err = 0;
	__builtin_memset(&e->health, 0, sizeof(e->health));
}

static __always_inline void fill_addresses(struct fm_event *e, const struct sock_common *skc, __u16 family)
{
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
	__builtin_memset(e->remote_addr, 0, sizeof(e->remote_addr));
	if (family == AF_INET) {
		__u32 l = skc->skc_rcv_saddr;
		__u32 r = skc->skc_daddr;
		__builtin_memcpy(e->local_addr, &l, 4);
		__builtin_memcpy(e->remote_addr, &r, 4);
	} else {
		__builtin_memcpy(e->local_addr, skc->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(e->remote_addr, skc->skc_v6_daddr.in6_u.u6_addr8, 16);
	}
}

/* The same figures tcp_get_info() reports (so `ss -ti` shows them), and FlowMesh's own per-socket counters. */
static __always_inline void fill_health(struct fm_health *h, const struct tcp_sock *tp, const struct sock_info *info)
{
	__u32 min_rtt = tp->rtt_min.s[0].v;
	h->min_rtt_us = min_rtt == ~0U ? 0 : min_rtt; /* ~0: no sample yet */
	h->rttvar_us = tp->mdev_us >> 2;
	h->snd_cwnd = tp->snd_cwnd;
	__u32 interval = tp->rate_interval_us;
	if (interval)
		h->delivery_rate = (__u64)tp->rate_delivered * tp->mss_cache * 1000000ULL / interval;
	h->bytes_retrans = tp->bytes_retrans;
	h->dsack_dups = tp->dsack_dups;
	h->reord_seen = tp->reord_seen;
	h->rcv_ooopack = tp->rcv_ooopack;
	if (info) {
		h->drops = info->drops;
		h->drop_reason = info->drop_reason;
		h->retrans_timeout = info->retrans_timeout;
		h->retrans_fast = info->retrans_fast;
		h->retrans_probe = info->retrans_probe;
		h->retrans_syn = info->retrans_syn;
	}
}

/*
 * Counters of a full socket. bytes_acked/bytes_received become payload bytes:
 * the kernel's counters advance with the sequence space, so they also count the
 * SYN when an active open completes (tcp_ack of the SYN-ACK; an accepted child
 * starts past its SYN-ACK) and each FIN once acked or received.
 */
static __always_inline void fill_stats(struct fm_event *e, const struct sock_common *skc, const struct sock_info *info)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)skc);
	if (!tp)
		return;
	__u64 acked = tp->bytes_acked;
	__u64 received = tp->bytes_received;
	__u32 flags = info ? info->flags : 0;
	if ((flags & SI_SYN_COUNTED) && acked)
		acked--;
	if ((flags & SI_FIN_SENT) && tp->snd_una == tp->write_seq) {
		if (acked)
			acked--;
		e->flags |= FM_F_FIN_ACKED;
	}
	/* SOCK_DONE is set by tcp_fin() alone: the peer's FIN was processed. */
	unsigned long sk_flags = skc->skc_flags;
	if (sk_flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) {
		if (received)
			received--;
		e->flags |= FM_F_FIN_RECEIVED;
	}
	e->bytes_acked = acked;
	e->bytes_received = received;
	e->segs_out = tp->segs_out;
	e->segs_in = tp->segs_in;
	e->srtt_us = tp->srtt_us >> 3; /* the kernel keeps srtt << 3 */
	e->total_retrans = tp->total_retrans;
	fill_health(&e->health, tp, info);
	e->flags |= FM_F_STATS;
}

/* States in which this end has already sent its FIN. */
static __always_inline bool fin_sent_in(int state)
{
	return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 || state == TCP_CLOSING ||
	       state == TCP_LAST_ACK || state == TCP_TIME_WAIT;
}

/*
 * The process's name: its main thread's comm. bpf_get_current_comm() gives the
 * calling thread's, which in a threaded server is a worker's name (".NET TP Worker",
 * "tokio-runtime-w"), useless as a workload name.
 */
static __always_inline void process_comm(char *comm, __u32 size)
{
	struct task_struct *task = bpf_get_current_task_btf();
	bpf_probe_read_kernel_str(comm, size, task->group_leader->comm);
}

static __always_inline void fill_task(struct fm_event *e)
{
	__u64 id = bpf_get_current_pid_tgid();
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->cgroup_id = bpf_get_current_cgroup_id();
	process_comm(e->comm, sizeof(e->comm));
	e->flags |= FM_F_TASK;
}

/* The process remembered in the socket's storage, marked as the task (just read) or the owner. */
static __always_inline void fill_process_from(struct fm_event *e, const struct sock_info *info, __u16 flag)
{
	e->pid = info->pid;
	e->tgid = info->tgid;
	e->cgroup_id = info->cgroup_id;
	__builtin_memcpy(e->comm, info->comm, sizeof(e->comm));
	e->flags |= flag;
}

static __always_inline void fill_from_info(struct fm_event *e, const struct sock_info *info)
{
	if (!info)
		return;
	if ((info->flags & SI_OWNER) && !(e->flags & FM_F_TASK))
		fill_process_from(e, info, FM_F_OWNER);
	if (info->flags & SI_MIDLIFE)
		e->flags |= FM_F_MIDLIFE;
	if (info->flags & SI_ISN) {
		e->isn_local = info->isn_local;
		e->isn_remote = info->isn_remote;
		e->flags |= FM_F_ISN;
	}
	if (info->tag_flags) {
		e->trace_tag = info->trace_tag;
		e->flags |= info->tag_flags;
	}
}

static __always_inline void remember_owner(struct sock_info *info)
{
	__u64 id = bpf_get_current_pid_tgid();
	info->pid = (__u32)id;
	info->tgid = id >> 32;
	info->cgroup_id = bpf_get_current_cgroup_id();
	process_comm(info->comm, sizeof(info->comm));
	info->flags |= SI_OWNER;
	if (fm_cfg.self_tgid && info->tgid == fm_cfg.self_tgid)
		info->flags |= SI_SELF;
}

/* The socket's storage, created on first sight; NULL (and counted) if the kernel cannot allocate it. */
static __always_inline struct sock_info *sock_info_of(const struct sock *sk)
{
	struct sock_info *info = bpf_sk_storage_get(&fm_sock_info, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!info) {
		struct fm_counters *c = counters();
		if (c)
			__sync_fetch_and_add(&c->storage_failed, 1);
	}
	return info;
}


/*
 * Runtime maps. fm_rq_hist holds one run-queue histogram per process that owns a traced
 * socket (inserted at its first connect/listen/close/accept in this namespace), so the
 * scheduler programs time only those processes' threads. User space sizes every map
 * before load (Node:Runtime:Max*), deletes the entries of processes that exit, and reads
 * the histograms; an insert that finds a map full is counted, never silent.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct fm_hist);
} fm_rq_hist SEC(".maps");

/* Threads of those processes that are runnable and not yet running: when they were queued. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} fm_rq_start SEC(".maps");

/* Go processes the Node inspected (their goid offset), written by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct fm_go_proc);
} fm_go_procs SEC(".maps");

/* Goroutine scheduling histograms (and runnable counts) of the Go processes with FM_GO_SCHED (created by user space). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct fm_hist);
} fm_go_sched SEC(".maps");

/* One all-zero histogram, the initial value of new fm_rq_hist entries (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fm_hist);
} fm_hist_zero SEC(".maps");

/* floor(log2(v)) for v > 0, without loops or a count-leading-zeros instruction. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

static __always_inline void hist_add(struct fm_hist *h, __u64 ns)
{
	__u32 idx = 0;
	if (ns >= (1ULL << FM_HIST_MIN_LOG2)) {
		__u32 e = log2_u64(ns);
		if (e >= FM_HIST_MAX_LOG2)
			idx = FM_HIST_BUCKETS - 1;
		else
			idx = ((e - FM_HIST_MIN_LOG2) << FM_HIST_SUB_BITS) + ((ns >> (e - FM_HIST_SUB_BITS)) & ((1 << FM_HIST_SUB_BITS) - 1)) + 1;
	}
	if (idx >= FM_HIST_BUCKETS)
		idx = FM_HIST_BUCKETS - 1;
	__sync_fetch_and_add(&h->buckets[idx], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

/* The current task's process owns a traced socket: time its threads' run-queue waits from now on. */
static __always_inline void watch_process(__u32 tgid)
{
	if (!(fm_cfg.runtime_flags & FM_RT_RUNQUEUE) || bpf_map_lookup_elem(&fm_rq_hist, &tgid))
		return;
	__u32 zero = 0;
	struct fm_hist *blank = bpf_map_lookup_elem(&fm_hist_zero, &zero);
	if (!blank)
		return;
	if (bpf_map_update_elem(&fm_rq_hist, &tgid, blank, BPF_NOEXIST) == -E2BIG) {
		struct fm_counters *c = counters();
		if (c)
			__sync_fetch_and_add(&c->rq_procs_full, 1);
	}
}

/*
 * The goroutine the current thread runs, if its process is a Go process the Node
 * inspected. Go's internal ABI on amd64 keeps the current g in R14 (and the syscall
 * wrappers leave it there), so the user registers saved at syscall entry hold it.
 */
static __always_inline void fill_goid(struct fm_event *e, __u32 tgid)
{
	struct fm_go_proc *go = bpf_map_lookup_elem(&fm_go_procs, &tgid);
	if (!go)
		return;
#ifdef __TARGET_ARCH_x86
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 g = BPF_CORE_READ(regs, r14);
	__u64 goid = 0;
	if (g && bpf_probe_read_user(&goid, sizeof(goid), (void *)(g + go->goid_offset)) == 0 && goid) {
		e->goid = goid;
		e->flags |= FM_F_GOID;
	}
#endif
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fm_state, const struct sock *sk, const int oldstate, const int newstate)
{
#ifdef FM_VERIFIER_REJECT_FOR_TESTS
	/* Built only into capture-rejected.bpf.o: a write through a scalar the verifier refuses. */
	*(volatile __u64 *)(unsigned long)oldstate = 0;
#endif
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	const struct sock_common *skc = &sk->__sk_common;
	__u16 family = skc->skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 lport = local_port_of(skc);
	__u16 rport = bpf_ntohs(skc->skc_dport);
	__u32 netns = sk_netns(skc);
	if (!wanted(netns, lport, rport))
		return 0;

	bool task = transition_in_task(oldstate, newstate);
	bool owner_just_read = false; /* remember_owner read the task: the event copies it, not reads it again */
	/*
	 * The capturing process's own sockets are remembered as such (SI_SELF, set
	 * by remember_owner) before being skipped, so that their later softirq
	 * events, which carry no process, are recognised and skipped too.
	 */
	struct sock_info *info = sock_info_of(sk);
	if (info) {
		if (newstate == TCP_SYN_RECV && oldstate != TCP_SYN_SENT) {
			/* A new connection accepted from a listener: the entry is the listener's clone. */
			info->flags &= ~(SI_MIDLIFE | SI_ISN | SI_SYN_COUNTED | SI_FIN_SENT);
			info->flags |= SI_SEEN;
			info->tag_flags = 0;
			info->trace_tag = 0;
			info->retrans_timeout = info->retrans_fast = info->retrans_probe = info->retrans_syn = 0;
			info->drops = info->drop_reason = 0;
		} else if (!(info->flags & SI_SEEN)) {
			/* First sight of a socket that was not fresh: it was open before capture started. */
			if (oldstate != TCP_CLOSE)
				info->flags |= SI_MIDLIFE;
			if (fin_sent_in(oldstate))
				info->flags |= SI_FIN_SENT;
			info->flags |= SI_SEEN;
		}
		if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED)
			info->flags |= SI_SYN_COUNTED;
		if (task && (!(info->flags & SI_OWNER) || oldstate == TCP_CLOSE)) {
			remember_owner(info);
			owner_just_read = true;
		}
		if (info->flags & SI_SELF)
			return 0;
		if (newstate == TCP_ESTABLISHED && (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)) {
			/*
			 * At this transition the SYN and SYN-ACK have each consumed one
			 * sequence number and nothing else has been acknowledged yet
			 * (tcp_rcv_synsent_state_process runs tcp_ack first; an accepted
			 * child starts with snd_una = ISN + 1, rcv_nxt = peer ISN + 1).
			 */
			struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
			if (tp) {
				info->isn_local = tp->snd_una - 1;
				info->isn_remote = tp->rcv_nxt - 1;
				info->flags |= SI_ISN;
				/* An accepted child starts with its request socket's SYN-ACK retransmissions (tcp_create_openreq_child). */
				if (oldstate == TCP_SYN_RECV)
					info->retrans_syn = tp->total_retrans;
			}
		}
	} else if (task && fm_cfg.self_tgid && (bpf_get_current_pid_tgid() >> 32) == fm_cfg.self_tgid) {
		return 0; /* no storage for it: at least the task's own transitions stay out */
	}

	/*
	 * The cookie first, even if the ring is full: a later record of this socket (its
	 * accept(), found by the cookie) is then reported, or counted as lost, not skipped.
	 */
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	void *rb;
	struct fm_event *e = reserve(&rb);
	if (!e)
		return 0;
	fill_header(e, FM_EV_STATE, family, oldstate, newstate);
	e->sock_cookie = cookie;
	e->netns_ino = netns;
	e->local_port = lport;
	e->remote_port = rport;
	fill_addresses(e, skc, family);
	if (task && owner_just_read && info)
		fill_process_from(e, info, FM_F_TASK);
	else if (task)
		fill_task(e);
	if (task) {
		watch_process(e->tgid);
		fill_goid(e, e->tgid);
	}
	fill_from_info(e, info);
	fill_stats(e, skc, info);
	if (newstate == TCP_CLOSE)
		e->sk_err = sk->sk_err; /* ETIMEDOUT: retransmissions or keepalives ran out; ECONNREFUSED, ECONNRESET: a reset */
	submit(rb, e);
	/*
	 * The FIN is queued right after this transition (tcp_close_state, then
	 * tcp_send_fin), so it counts from the next event on.
	 */
	if (info && (newstate == TCP_FIN_WAIT1 || newstate == TCP_LAST_ACK))
		info->flags |= SI_FIN_SENT;
	return 0;
}

/* Shared by the retransmit, reset-sent-with-socket and reset-received events. */
static __always_inline int emit_socket_event(const struct sock *sk, __u8 kind, __u32 reason)
{
	const struct sock_common *skc = &sk->__sk_common;
	__u16 family = skc->skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u8 state = skc->skc_state;
	/* Time-wait and request sockets are not tcp_socks, but they keep skc_num. */
	__u16 lport = (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV) ? skc->skc_num : local_port_of(skc);
	__u16 rport = bpf_ntohs(skc->skc_dport);
	__u32 netns = sk_netns(skc);
	if (!wanted(netns, lport, rport))
		return 0;

	/*
	 * Time-wait and request sockets are not full sockets: no storage, no
	 * counters. These events may run in softirq context, so the process is
	 * the owner remembered in storage, never "current".
	 */
	bool full = state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV;
	struct sock_info *info = NULL;
	if (full) {
		info = bpf_sk_storage_get(&fm_sock_info, (void *)sk, 0, 0);
		if (info && (info->flags & SI_SELF))
			return 0;
	}

	void *rb;
	struct fm_event *e = reserve(&rb);
	if (!e)
		return 0;
	fill_header(e, kind, family, state, state);
	e->reason = reason;
	e->sock_cookie = bpf_get_socket_cookie((void *)sk);
	e->netns_ino = netns;
	e->local_port = lport;
	e->remote_port = rport;
	fill_addresses(e, skc, family);
	fill_from_info(e, info);
	if (full)
		fill_stats(e, skc, info);
	submit(rb, e);
	return 0;
}

/*
 * The kind of a retransmission, from the state the socket is in when it is sent:
 * the kernel enters TCP_CA_Loss before it retransmits on a timeout (tcp_enter_loss)
 * and TCP_CA_Recovery (or Disorder/CWR) for fast retransmits, and it only schedules
 * a tail-loss probe in TCP_CA_Open (tcp_schedule_loss_probe), so a retransmission
 * in the Open state is a probe. SYNs are retransmitted in SYN_SENT. Counted only
 * when the segment left (err == 0), as tcp_sock.total_retrans is.
 */
static __always_inline void count_retransmission(const struct sock *sk, const struct sk_buff *skb, int err)
{
	if (err)
		return;
	struct sock_info *info = bpf_sk_storage_get(&fm_sock_info, (void *)sk, 0, 0);
	if (!info)
		return;
	/*
	 * One retransmitted skb may carry several segments; total_retrans counts segments
	 * (tcp_skb_pcount), so the kinds do too and add up to it.
	 */
	struct tcp_skb_cb *cb = (void *)skb->cb;
	__u16 segs = BPF_CORE_READ(cb, tcp_gso_segs);
	if (!segs)
		segs = 1;
	if (sk->__sk_common.skc_state == TCP_SYN_SENT || sk->__sk_common.skc_state == TCP_SYN_RECV) {
		info->retrans_syn += segs;
		return;
	}
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	if (!tp)
		return;
	__u8 ca_state = BPF_CORE_READ_BITFIELD(&tp->inet_conn, icsk_ca_state);
	if (ca_state == TCP_CA_Loss)
		info->retrans_timeout += segs;
	else if (ca_state == TCP_CA_Open)
		info->retrans_probe += segs;
	else
		info->retrans_fast += segs;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(fm_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	if (!sk)
		return 0;
	__u8 state = sk->__sk_common.skc_state;
	if (state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV && skb)
		count_retransmission(sk, skb, err);
	return emit_socket_event(sk, FM_EV_RETRANSMIT, 0);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(fm_reset_received, struct sock *sk)
{
	if (!sk)
		return 0;
	return emit_socket_event(sk, FM_EV_RESET_RECEIVED, 0);
}

/*
 * A RST for a segment no socket wanted (a connect to a closed port, a segment
 * for a forgotten connection). The skb is the segment that provoked it, so
 * this host's end is its destination.
 */
static __always_inline int emit_socketless_reset(const struct sk_buff *skb, __u32 reason)
{
	if (!skb)
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u8 version_ihl = 0;
	if (bpf_probe_read_kernel(&version_ihl, 1, head + nh))
		return 0;
	__u8 family = (version_ihl >> 4) == 6 ? AF_INET6 : AF_INET;
	__be16 ports[2] = {}; /* source, destination of the incoming segment */
	if (bpf_probe_read_kernel(ports, sizeof(ports), head + th))
		return 0;
	__u16 lport = bpf_ntohs(ports[1]);
	__u16 rport = bpf_ntohs(ports[0]);
	__u32 netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	if (!wanted(netns, lport, rport))
		return 0;

	void *rb;
	struct fm_event *e = reserve(&rb);
	if (!e)
		return 0;
	fill_header(e, FM_EV_RESET_SENT, family, TCP_CLOSE, TCP_CLOSE);
	e->flags |= FM_F_NO_SOCKET;
	e->reason = reason;
	e->netns_ino = netns;
	e->local_port = lport;
	e->remote_port = rport;
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
	__builtin_memset(e->remote_addr, 0, sizeof(e->remote_addr));
	if (family == AF_INET) {
		/* struct iphdr: saddr at 12, daddr at 16 */
		bpf_probe_read_kernel(e->remote_addr, 4, head + nh + 12);
		bpf_probe_read_kernel(e->local_addr, 4, head + nh + 16);
	} else {
		/* struct ipv6hdr: saddr at 8, daddr at 24 */
		bpf_probe_read_kernel(e->remote_addr, 16, head + nh + 8);
		bpf_probe_read_kernel(e->local_addr, 16, head + nh + 24);
	}
	submit(rb, e);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(fm_reset_sent, const struct sock *sk, const struct sk_buff *skb, enum sk_rst_reason reason)
{
	if (sk)
		return emit_socket_event(sk, FM_EV_RESET_SENT, reason);
	return emit_socketless_reset(skb, reason);
}

/*
 * A segment the kernel dropped (kfree_skb, not consume_skb), counted on the TCP
 * socket it belonged to with its reason; no record, so a drop storm costs no ring
 * space. The socket's next record carries the count (struct fm_health).
 */
SEC("tp_btf/kfree_skb")
int BPF_PROG(fm_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
{
	struct sock *sk = rx_sk;
	if (!sk)
		sk = skb->sk;
	if (!sk)
		return 0;
	__u8 state = sk->__sk_common.skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	struct sock_info *info = bpf_sk_storage_get(&fm_sock_info, sk, 0, 0);
	if (!info)
		return 0;
	__sync_fetch_and_add(&info->drops, 1);
	info->drop_reason = reason;
	return 0;
}

/* A record of a socket an iterator walks (existing, report): its state, addresses and figures. */
static __always_inline bool emit_iterated(__u8 kind, struct tcp_sock *tp, __u8 state, __u16 family, __u32 netns,
					  __u16 lport, __u16 rport, const struct sock_info *info)
{
	const struct sock_common *skc = &tp->inet_conn.icsk_inet.sk.__sk_common;
	void *rb;
	struct fm_event *e = reserve(&rb);
	if (!e)
		return false;
	fill_header(e, kind, family, state, state);
	if (kind == FM_EV_EXISTING)
		e->flags |= FM_F_MIDLIFE;
	e->sock_cookie = bpf_get_socket_cookie(tp);
	e->netns_ino = netns;
	e->local_port = lport;
	e->remote_port = rport;
	fill_addresses(e, skc, family);
	fill_from_info(e, info);
	fill_stats(e, skc, info);
	submit(rb, e);
	return true;
}

/*
 * One pass over the TCP sockets of the caller's network namespace at start:
 * each socket already open is reported (FM_EV_EXISTING) and remembered as
 * "seen from mid-life", so its later events carry that mark.
 */
SEC("iter/tcp")
int fm_existing(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc)
		return 0;
	__u8 state = skc->skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	__u16 family = skc->skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 lport = skc->skc_num;
	__u16 rport = bpf_ntohs(skc->skc_dport);
	__u32 netns = sk_netns(skc);
	if (!wanted(netns, lport, rport))
		return 0;

	if (state == TCP_LISTEN) {
		/*
		 * A listener opened before FlowMesh never passed TCP_LISTEN_CB: arm it now
		 * so it echoes trace tags in its SYN-ACKs and keeps SYNs for its accepted
		 * sockets to read theirs (the same as fm_sockops does for new listeners).
		 */
		int flags = BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG;
		int one = 1;
		bpf_setsockopt(tp, SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, &flags, sizeof(flags));
		bpf_setsockopt(tp, SOL_TCP, TCP_SAVE_SYN, &one, sizeof(one));
	}

	struct sock_info *info = bpf_sk_storage_get(&fm_sock_info, tp, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (info) {
		if (info->flags & SI_SELF)
			return 0;
		if (!(info->flags & SI_SEEN)) {
			info->flags |= SI_SEEN | SI_MIDLIFE;
			if (fin_sent_in(state))
				info->flags |= SI_FIN_SENT;
		}
	}

	if (emit_iterated(FM_EV_EXISTING, tp, state, family, netns, lport, rport, info)) {
		struct fm_counters *c = counters();
		if (c)
			__sync_fetch_and_add(&c->existing, 1);
	}
	return 0;
}

/*
 * The figures of every open socket FlowMesh follows that moved since the last pass (its
 * segment counts changed): run by the Node every Flows:SessionReportSeconds, so the reports
 * of long-lived flows carry health that is at most that old. Idle sockets cost nothing.
 */
SEC("iter/tcp")
int fm_report(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc)
		return 0;
	__u8 state = skc->skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV || state == TCP_LISTEN)
		return 0;
	__u16 family = skc->skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	struct sock_info *info = bpf_sk_storage_get(&fm_sock_info, tp, 0, 0);
	if (!info || (info->flags & SI_SELF) || !(info->flags & SI_SEEN))
		return 0;
	__u32 segs = tp->segs_in + tp->segs_out;
	if (segs == info->reported_segs)
		return 0;
	info->reported_segs = segs;
	__u16 lport = local_port_of(skc);
	__u16 rport = bpf_ntohs(skc->skc_dport);
	__u32 netns = sk_netns(skc);
	if (!wanted(netns, lport, rport))
		return 0;

	emit_iterated(FM_EV_REPORT, tp, state, family, netns, lport, rport, info);
	return 0;
}

/*
 * Every listening socket of the caller's network namespace, with what it refused: run by
 * the Node every Node:ListenerSeconds. Overflowing queues free their SYNs and ACKs with
 * consume_skb, not kfree_skb, so no drop event sees them; the listener's sk_drops does
 * (tcp_listendrop), with the handshake segments it discarded (a repeated SYN under loss).
 */
SEC("iter/tcp")
int fm_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc || skc->skc_state != TCP_LISTEN)
		return 0;
	__u16 family = skc->skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	__u32 netns = sk_netns(skc);
	if (!wanted(netns, skc->skc_num, 0))
		return 0;
	struct sock *sk = (struct sock *)tp;
	struct fm_listener l = {};
	l.netns_ino = netns;
	l.family = family;
	l.port = skc->skc_num;
	if (family == AF_INET)
		__builtin_memcpy(l.addr, &skc->skc_rcv_saddr, 4);
	else
		__builtin_memcpy(l.addr, skc->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
	/* TCP sockets count drops in sk_drops (only UDP and raw sockets use per-node counters). */
	l.drops = sk->sk_drops.counter;
	l.backlog = sk->sk_ack_backlog;
	l.max_backlog = sk->sk_max_ack_backlog;
	bpf_seq_write(ctx->meta->seq, &l, sizeof(l));
	return 0;
}

/*
 * SipHash-2-4 of one 8-byte message (the reference algorithm, unrolled: no loops for
 * the verifier). User space checks tags with the same function (TagAuthenticator).
 */
#define FM_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define FM_SIPROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = FM_ROTL(v1, 13); v1 ^= v0; v0 = FM_ROTL(v0, 32); \
	v2 += v3; v3 = FM_ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = FM_ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = FM_ROTL(v1, 17); v1 ^= v2; v2 = FM_ROTL(v2, 32); \
} while (0)

static __always_inline __u64 siphash_8(__u64 k0, __u64 k1, __u64 m)
{
	__u64 v0 = k0 ^ 0x736f6d6570736575ULL;
	__u64 v1 = k1 ^ 0x646f72616e646f6dULL;
	__u64 v2 = k0 ^ 0x6c7967656e657261ULL;
	__u64 v3 = k1 ^ 0x7465646279746573ULL;
	__u64 b = 8ULL << 56; /* the length byte; no bytes left over */

	v3 ^= m;
	FM_SIPROUND(v0, v1, v2, v3);
	FM_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= b;
	FM_SIPROUND(v0, v1, v2, v3);
	FM_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	FM_SIPROUND(v0, v1, v2, v3);
	FM_SIPROUND(v0, v1, v2, v3);
	FM_SIPROUND(v0, v1, v2, v3);
	FM_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* A new connection's tag: signed over its ISN when a key is set, else random. */
static __always_inline __u64 new_tag(struct bpf_sock_ops *skops)
{
	__u32 zero = 0;
	__u32 nonce = bpf_get_prandom_u32();
	struct fm_tag_key *key = bpf_map_lookup_elem(&fm_tag_key, &zero);
	struct bpf_sock *sk = skops->sk;
	struct tcp_sock *tp = sk ? bpf_skc_to_tcp_sock(sk) : NULL;
	if (!key || !key->enabled || !tp)
		return ((__u64)nonce << 32) | bpf_get_prandom_u32();
	/* tcp_v4_connect/tcp_v6_connect chose the ISN before tcp_connect runs this callback. */
	__u32 isn = tp->write_seq;
	__u64 mac = siphash_8(key->k0, key->k1, ((__u64)nonce << 32) | isn);
	return ((__u64)nonce << 32) | (mac & 0xffffffffULL);
}

/* The trace tag option as it appears on the wire (RFC 6994 experimental option). */
struct fm_tag_opt {
	__u8 kind;
	__u8 len;
	__u8 exid_hi;
	__u8 exid_lo;
	__u8 tag[8];
} __attribute__((packed));

/*
 * Looks for FlowMesh's option in the SYN (BPF_LOAD_HDR_OPT_TCP_SYN) or the current
 * segment. For experimental kinds the search key must hold the ExID: {kind, 4, exid}.
 */
static __always_inline bool load_tag(struct bpf_sock_ops *skops, __u64 flags, __u64 *tag)
{
	struct fm_tag_opt opt = {
		.kind = FM_TAG_KIND,
		.len = 4,
		.exid_hi = FM_TAG_EXID >> 8,
		.exid_lo = FM_TAG_EXID & 0xff,
	};
	if (bpf_load_hdr_opt(skops, &opt, sizeof(opt), flags) != FM_TAG_OPT_LEN)
		return false;
	__builtin_memcpy(tag, opt.tag, sizeof(*tag));
	return true;
}

static __always_inline long store_tag(struct bpf_sock_ops *skops, __u64 tag)
{
	struct fm_tag_opt opt = {
		.kind = FM_TAG_KIND,
		.len = FM_TAG_OPT_LEN,
		.exid_hi = FM_TAG_EXID >> 8,
		.exid_lo = FM_TAG_EXID & 0xff,
	};
	__builtin_memcpy(opt.tag, &tag, sizeof(tag));
	return bpf_store_hdr_opt(skops, &opt, sizeof(opt), 0);
}

static __always_inline struct sock_info *tag_info(struct bpf_sock_ops *skops, __u64 create)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&fm_sock_info, sk, 0, create);
}

/*
 * Tells user space the echo came back. The ESTABLISHED record was emitted a moment
 * earlier (tcp_finish_connect moves to ESTABLISHED, then runs this callback), so
 * without this record an open flow would not know its tag was echoed until its next
 * event, possibly at close, and would be joined under another key while open.
 */
static __always_inline void report_echo(struct bpf_sock_ops *skops, const struct sock_info *info)
{
	if (info->flags & SI_SELF)
		return;
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return;
	const struct sock_common *skc = &tp->inet_conn.icsk_inet.sk.__sk_common;
	__u16 family = skc->skc_family;
	__u16 lport = local_port_of(skc);
	__u16 rport = bpf_ntohs(skc->skc_dport);
	__u32 netns = sk_netns(skc);
	if (!wanted(netns, lport, rport))
		return;
	void *rb;
	struct fm_event *e = reserve(&rb);
	if (!e)
		return;
	fill_header(e, FM_EV_TAG_ECHOED, family, TCP_ESTABLISHED, TCP_ESTABLISHED);
	e->sock_cookie = bpf_get_socket_cookie(skops);
	e->netns_ino = netns;
	e->local_port = lport;
	e->remote_port = rport;
	fill_addresses(e, skc, family);
	fill_from_info(e, info);
	submit(rb, e);
}

/*
 * The trace tag (cgroup sock_ops, attached at the cgroup v2 root: every socket of
 * the kernel passes here, so act only on this Node's namespace). Active side:
 * a random tag written into the SYN when injection is on, and noted when the
 * SYN-ACK brings it back. Passive side, always (so a Node without injection
 * still reads tags other hosts write): the listener echoes a tag found in a SYN
 * in its SYN-ACK, and the accepted socket reads it from the saved SYN. An option
 * is written on a SYN-ACK only as an echo, never on its own.
 */
SEC("sockops")
int fm_sockops(struct bpf_sock_ops *skops)
{
	if (fm_cfg.netns_cookie && bpf_get_netns_cookie(skops) != fm_cfg.netns_cookie)
		return 1;
	__u64 tag;
	struct sock_info *info;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		if (!fm_cfg.inject_tag)
			break;
		info = tag_info(skops, BPF_SK_STORAGE_GET_F_CREATE);
		if (!info)
			break;
		info->trace_tag = new_tag(skops);
		info->tag_flags = FM_F_TAG_SENT;
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;

	case BPF_SOCK_OPS_TCP_LISTEN_CB: {
		int one = 1;
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		bpf_setsockopt(skops, SOL_TCP, TCP_SAVE_SYN, &one, sizeof(one));
		break;
	}

	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		if (!(skops->skb_tcp_flags & TCPHDR_SYN))
			break;
		if (skops->skb_tcp_flags & TCPHDR_ACK) {
			/* SYN-ACK: echo the client's tag, if its SYN carried one. */
			if (!load_tag(skops, BPF_LOAD_HDR_OPT_TCP_SYN, &tag))
				break;
		} else {
			info = tag_info(skops, 0);
			if (!info || !(info->tag_flags & FM_F_TAG_SENT))
				break;
			tag = info->trace_tag;
		}
		if (skops->op == BPF_SOCK_OPS_HDR_OPT_LEN_CB)
			bpf_reserve_hdr_opt(skops, FM_TAG_OPT_LEN, 0);
		else
			store_tag(skops, tag);
		break;

	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		/* Options only matter in the handshake: no callback for the connection's other segments. */
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		if (!load_tag(skops, BPF_LOAD_HDR_OPT_TCP_SYN, &tag))
			break;
		info = tag_info(skops, BPF_SK_STORAGE_GET_F_CREATE);
		if (info) {
			info->trace_tag = tag;
			info->tag_flags = FM_F_TAG_RECEIVED;
		}
		break;

	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		info = tag_info(skops, 0);
		if (info && (info->tag_flags & FM_F_TAG_SENT) && load_tag(skops, 0, &tag) && tag == info->trace_tag) {
			info->tag_flags |= FM_F_TAG_ECHOED;
			report_echo(skops, info);
		}
		break;
	}
	return 1;
}

/*
 * accept() returned a socket. Its connection completed the handshake earlier (the
 * SYN_RECV -> ESTABLISHED record); the time between the two is the accept-queue wait, and
 * this task, not the one that called listen(), is the process that serves it. Syscall
 * tracepoints, because kprobes and fexit are not available (lockdown) and no TCP
 * tracepoint fires at accept. The socket is found through the returned descriptor.
 */
static __always_inline int accepted(long fd)
{
	if (fd < 0)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if (fm_cfg.self_tgid && (id >> 32) == fm_cfg.self_tgid)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned long)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	__u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__u32 netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (!wanted(netns, lport, rport))
		return 0;
	/* The handshake's record made the cookie; without one the socket was never traced. */
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (!cookie)
		return 0;

	void *rb;
	struct fm_event *e = reserve(&rb);
	if (!e)
		return 0;
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	fill_header(e, FM_EV_ACCEPTED, family, state, state);
	e->sock_cookie = cookie;
	e->netns_ino = netns;
	e->local_port = lport;
	e->remote_port = rport;
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
	__builtin_memset(e->remote_addr, 0, sizeof(e->remote_addr));
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(e->local_addr, &l, 4);
		__builtin_memcpy(e->remote_addr, &r, 4);
	} else {
		BPF_CORE_READ_INTO(&e->local_addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	fill_task(e);
	watch_process(e->tgid);
	fill_goid(e, e->tgid);
	submit(rb, e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int fm_accept4(struct syscall_trace_exit *ctx)
{
	return accepted(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int fm_accept(struct syscall_trace_exit *ctx)
{
	return accepted(ctx->ret);
}

/* A thread of a watched process became runnable (woken, new, or preempted): start its wait. */
static __always_inline void rq_queued(const struct task_struct *p)
{
	__u32 tgid = p->tgid;
	if (!bpf_map_lookup_elem(&fm_rq_hist, &tgid))
		return;
	__u32 tid = p->pid;
	__u64 now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&fm_rq_start, &tid, &now, BPF_ANY) == -E2BIG) {
		struct fm_counters *c = counters();
		if (c)
			__sync_fetch_and_add(&c->rq_threads_full, 1);
	}
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(fm_rq_wakeup, struct task_struct *p)
{
	rq_queued(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(fm_rq_wakeup_new, struct task_struct *p)
{
	rq_queued(p);
	return 0;
}

/* next runs now: its wait since it was queued is one run-queue delay of its process. */
SEC("tp_btf/sched_switch")
int BPF_PROG(fm_rq_switch, bool preempt, struct task_struct *prev, struct task_struct *next, unsigned int prev_state)
{
	if (prev_state == 0) /* TASK_RUNNING: preempted, so back in the queue */
		rq_queued(prev);
	__u32 tid = next->pid;
	if (!tid)
		return 0;
	__u64 *queued = bpf_map_lookup_elem(&fm_rq_start, &tid);
	if (!queued)
		return 0;
	__u64 waited = bpf_ktime_get_ns() - *queued;
	bpf_map_delete_elem(&fm_rq_start, &tid);
	__u32 tgid = next->tgid;
	struct fm_hist *h = bpf_map_lookup_elem(&fm_rq_hist, &tgid);
	if (h)
		hist_add(h, waited);
	return 0;
}

/*
 * Go's runtime.execute(gp *g, inheritTime bool), at entry: the scheduler is about to run
 * gp (in RAX, Go's internal register ABI on amd64). Go samples its own scheduling delay:
 * for one goroutine switch in eight it sets gp.tracking and stamps gp.runnableStamp
 * (nanotime, CLOCK_MONOTONIC like bpf_ktime_get_ns) when the goroutine becomes runnable,
 * so now - runnableStamp is that goroutine's wait from runnable to running. One probe per
 * schedule: a uprobe on runtime.casgstatus, which sees every status change, trapped twice
 * per syscall and cost a Go server three quarters of its throughput (BENCHMARKS.md).
 * With each sample the probe also counts the runnable goroutines: the global run queue
 * and every P's local one. Attached per Go binary, only with Node:Runtime:Go.
 */
SEC("uprobe")
int fm_go_execute(struct pt_regs *ctx)
{
#ifdef __TARGET_ARCH_x86
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fm_go_proc *go = bpf_map_lookup_elem(&fm_go_procs, &tgid);
	if (!go || !(go->flags & FM_GO_SCHED))
		return 0;
	__u64 g = ctx->ax;
	__u8 tracking = 0;
	__s64 stamp = 0;
	if (bpf_probe_read_user(&tracking, sizeof(tracking), (void *)(g + go->g_tracking_offset)) || !tracking)
		return 0;
	if (bpf_probe_read_user(&stamp, sizeof(stamp), (void *)(g + go->g_runnable_stamp_offset)) || stamp <= 0)
		return 0;
	struct fm_hist *h = bpf_map_lookup_elem(&fm_go_sched, &tgid);
	if (!h)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	if (now > (__u64)stamp)
		hist_add(h, now - (__u64)stamp);

	__s32 global = 0;
	if (go->sched_addr)
		bpf_probe_read_user(&global, sizeof(global), (void *)(go->sched_addr + go->sched_runqsize_offset));
	__s64 runnable = global > 0 ? global : 0;
	struct { __u64 ptr; __s64 len; } allp = {};
	if (go->allp_addr && bpf_probe_read_user(&allp, sizeof(allp), (void *)go->allp_addr) == 0) {
		for (int i = 0; i < FM_GO_MAX_PROCS; i++) {
			if (i >= allp.len)
				break;
			__u64 p = 0;
			__u32 head = 0, tail = 0;
			__u64 next = 0;
			if (bpf_probe_read_user(&p, sizeof(p), (void *)(allp.ptr + i * 8)) || !p)
				continue;
			bpf_probe_read_user(&head, sizeof(head), (void *)(p + go->p_runqhead_offset));
			bpf_probe_read_user(&tail, sizeof(tail), (void *)(p + go->p_runqtail_offset));
			bpf_probe_read_user(&next, sizeof(next), (void *)(p + go->p_runnext_offset));
			runnable += (__u32)(tail - head) + (next ? 1 : 0);
		}
	}
	h->runnable = runnable; /* a sample, not a sum: the latest one stands */
#endif
	return 0;
}
