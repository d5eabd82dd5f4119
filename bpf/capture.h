/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records shared by the kernel programs (capture.bpf.c) and user space.
 *
 * Contracts/Capture/TcpEventRecord.cs mirrors struct fm_event field by field;
 * tests/Contracts.UnitTests compares its sizes and offsets with the ones the C
 * compiler computes from this header (bpf/layout.c), so a change here that is
 * not made there fails the build's tests, not a user's capture.
 *
 * Rules for changing the layout: only append fields, keep every field
 * naturally aligned, keep the size a multiple of 8 (ring buffer records are
 * 8-byte aligned anyway) and bump FM_RECORD_VERSION.
 */
#ifndef FLOWMESH_CAPTURE_H
#define FLOWMESH_CAPTURE_H

#define FM_RECORD_VERSION 4
#define FM_COMM_LEN 16
#define FM_MAX_PORTS 16

/* What a record reports. */
enum fm_event_kind {
	FM_EV_STATE = 1,          /* a TCP state transition (inet_sock_set_state) */
	FM_EV_RETRANSMIT = 2,     /* a segment was retransmitted */
	FM_EV_RESET_SENT = 3,     /* this host sent a RST */
	FM_EV_RESET_RECEIVED = 4, /* a RST was accepted by the socket */
	FM_EV_EXISTING = 5,       /* a socket already open when capture started */
	FM_EV_TAG_ECHOED = 6,     /* the SYN-ACK brought this end's trace tag back (sock_ops runs just
				   * after the SYN_SENT -> ESTABLISHED transition, so that record cannot say) */
	FM_EV_ACCEPTED = 7,       /* accept() returned this socket to the task (FM_F_TASK): the end of its accept-queue wait */
	FM_EV_REPORT = 8,         /* fm_report: a known open socket's figures, for long-lived flows (FM_F_STATS) */
};

/* Which optional parts of a record hold data. */
enum fm_event_flags {
	FM_F_TASK = 1 << 0,      /* pid/tgid/comm/cgroup: the task that made the transition (process context) */
	FM_F_OWNER = 1 << 1,     /* pid/tgid/comm/cgroup: the socket's owner, remembered from an earlier process-context event */
	FM_F_MIDLIFE = 1 << 2,   /* the connection was already open (or listening) when capture started */
	FM_F_ISN = 1 << 3,       /* isn_local/isn_remote are known */
	FM_F_STATS = 1 << 4,     /* bytes, segments, srtt and retransmission counters are filled */
	FM_F_NO_SOCKET = 1 << 5, /* a RST sent for a segment no socket wanted (e.g. connect to a closed port) */
	FM_F_FIN_RECEIVED = 1 << 6, /* the peer's FIN has been received (FM_F_STATS) */
	FM_F_FIN_ACKED = 1 << 7,    /* this end's FIN has been sent and acknowledged (FM_F_STATS) */
	FM_F_TAG_SENT = 1 << 8,     /* this end wrote trace_tag into its SYN */
	FM_F_TAG_ECHOED = 1 << 9,   /* the peer's SYN-ACK carried trace_tag back: the peer is instrumented */
	FM_F_TAG_RECEIVED = 1 << 10,/* the peer's SYN carried trace_tag to this end (which echoed it) */
	FM_F_GOID = 1 << 11,        /* goid is the Go goroutine the task was running (a Go process FlowMesh inspected) */
};

/*
 * The trace tag travels in the SYN (and back in the SYN-ACK) as an RFC 6994
 * experimental option: kind 253, length 12, FlowMesh's 16-bit experiment id,
 * then the 8-byte tag.
 */
#define FM_TAG_KIND 253
#define FM_TAG_EXID 0x464D /* "FM" */
#define FM_TAG_OPT_LEN 12

/*
 * TCP health of a full socket (FM_F_STATS), as the kernel keeps it in struct tcp_sock,
 * plus what FlowMesh counts per socket in its storage (retransmissions by kind, drops).
 */
struct fm_health {
	unsigned long long delivery_rate; /* bytes per second, the kernel's latest delivery-rate sample (tcp_info's tcpi_delivery_rate) */
	unsigned long long bytes_retrans; /* payload bytes retransmitted */
	unsigned int min_rtt_us;          /* windowed minimum RTT (tp->rtt_min) */
	unsigned int rttvar_us;           /* RTT variation as tcp_info reports it (mdev_us >> 2) */
	unsigned int snd_cwnd;            /* congestion window, segments */
	unsigned int dsack_dups;          /* segments the peer reported twice (D-SACK): retransmissions that were spurious */
	unsigned int reord_seen;          /* reordering events the sender detected */
	unsigned int rcv_ooopack;         /* segments received out of order */
	unsigned int drops;               /* segments of this socket the kernel freed as dropped (skb:kfree_skb) */
	unsigned int drop_reason;         /* enum skb_drop_reason of the latest of them */
	unsigned int retrans_timeout;     /* retransmissions in loss recovery after a retransmission timeout */
	unsigned int retrans_fast;        /* retransmissions in fast recovery (duplicate ACKs, SACK, RACK) */
	unsigned int retrans_probe;       /* tail-loss probes (retransmissions in the Open state) */
	unsigned int retrans_syn;         /* SYN (client) or SYN-ACK (server) retransmissions */
};

/*
 * One record. Addresses are in network byte order, IPv4 in the first 4 bytes;
 * ports in host byte order. "local" is always this host's end of the
 * connection, "remote" the peer's.
 */
struct fm_event {
	unsigned short version;     /* FM_RECORD_VERSION */
	unsigned char kind;         /* enum fm_event_kind */
	unsigned char family;       /* AF_INET (2) or AF_INET6 (10) */
	unsigned char old_state;    /* TCP_* as in the kernel (1 = TCP_ESTABLISHED ... 12 = TCP_NEW_SYN_RECV) */
	unsigned char new_state;    /* equal to old_state for events that are not transitions */
	unsigned short flags;       /* enum fm_event_flags */
	unsigned long long ts_ns;   /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	unsigned long long sock_cookie; /* SO_COOKIE of the socket; 0 with FM_F_NO_SOCKET */
	unsigned long long cgroup_id;   /* cgroup v2 id of the task (FM_F_TASK or FM_F_OWNER) */
	unsigned int netns_ino;     /* inode of the socket's network namespace */
	unsigned int pid;           /* thread id */
	unsigned int tgid;          /* process id */
	unsigned short local_port;
	unsigned short remote_port;
	unsigned char local_addr[16];
	unsigned char remote_addr[16];
	char comm[FM_COMM_LEN];
	unsigned int isn_local;     /* initial sequence number this end sent (FM_F_ISN) */
	unsigned int isn_remote;    /* initial sequence number the peer sent (FM_F_ISN) */
	/*
	 * Payload bytes (FM_F_STATS): sent by this end and acknowledged by the peer,
	 * and received in order from the peer. The kernel's counters also count the
	 * SYN (active opener only) and each FIN; those are taken out here. For a
	 * mid-life connection opened actively, bytes_acked may still include its SYN.
	 */
	unsigned long long bytes_acked;
	unsigned long long bytes_received;
	unsigned int segs_out;
	unsigned int segs_in;
	unsigned int srtt_us;       /* smoothed RTT in microseconds */
	unsigned int total_retrans;
	/* v2 */
	unsigned long long trace_tag; /* FM_F_TAG_*: the connection's trace tag, 0 if none */
	/* v3 */
	unsigned long long goid;      /* FM_F_GOID: the goroutine that made the connect() or accept() */
	/* v4 */
	unsigned int reason;          /* FM_EV_RESET_SENT: enum sk_rst_reason; otherwise 0 */
	unsigned int sk_err;          /* the socket's pending error (errno) at a transition to TCP_CLOSE, e.g. ETIMEDOUT */
	struct fm_health health;      /* FM_F_STATS */
};

/*
 * One listening socket, written by the fm_listeners iterator (bpf_seq_write, not the
 * ring): the Node runs it every few seconds to count what each listener refused.
 */
struct fm_listener {
	unsigned int netns_ino;
	unsigned short family;
	unsigned short port;
	unsigned char addr[16];
	unsigned int drops;        /* sk_drops: SYNs and handshakes dropped (SYN queue or accept queue full; tcp_listendrop) */
	unsigned int backlog;      /* connections waiting in the accept queue now */
	unsigned int max_backlog;  /* the accept queue's bound (listen()'s backlog, capped by somaxconn) */
	unsigned int _pad;
};

/* Per-CPU counters (a BPF_MAP_TYPE_PERCPU_ARRAY with one element). */
struct fm_counters {
	unsigned long long existing;        /* sockets reported by the iterator (open at start) */
	unsigned long long reserve_failed;  /* records lost because the ring was full */
	unsigned long long no_ring;         /* records lost because this CPU has no ring */
	unsigned long long storage_failed;  /* socket storage could not be created: owner/ISN missing */
	unsigned long long submitted;       /* records since the last look at the ring's fill level */
	unsigned long long rq_procs_full;   /* a process could not get a run-queue histogram: fm_rq_hist is full */
	unsigned long long rq_threads_full; /* a wake-up could not be timed: fm_rq_start is full */
};

/*
 * Runtime latency histograms (run-queue delay of a process's threads; scheduling delay
 * of a Go process's goroutines), one per process (tgid), cumulative since the process was
 * first seen. Buckets are log-linear over nanoseconds: FM_HIST_SUB sub-buckets per power
 * of two from 2^FM_HIST_MIN_LOG2 ns (about 1 us) to 2^FM_HIST_MAX_LOG2 ns (about 17 s);
 * bucket 0 holds everything below, the last bucket everything above. A bucket's width is
 * 1/16 of its octave, so its midpoint is within 3.2% of any value in it.
 * Bucket of d: e = floor(log2 d), s = (d >> (e - 4)) & 15, index = (e - MIN) * 16 + s + 1.
 */
#define FM_HIST_SUB_BITS 4
#define FM_HIST_MIN_LOG2 10
#define FM_HIST_MAX_LOG2 34
#define FM_HIST_BUCKETS ((((FM_HIST_MAX_LOG2) - (FM_HIST_MIN_LOG2)) << FM_HIST_SUB_BITS) + 2)

struct fm_hist {
	unsigned long long count;
	unsigned long long sum_ns;
	long long runnable;         /* Go: goroutines runnable now (runnable entries minus exits) */
	unsigned int buckets[FM_HIST_BUCKETS];
};

/*
 * A Go process the Node inspected (fm_go_procs, keyed by tgid; written by user space):
 * where its runtime keeps what the programs read, from the binary's DWARF.
 */
struct fm_go_proc {
	unsigned int goid_offset;           /* runtime.g.goid */
	unsigned int flags;                 /* FM_GO_* */
	unsigned int g_tracking_offset;     /* runtime.g.tracking (bool): Go samples this goroutine's scheduling delay */
	unsigned int g_runnable_stamp_offset; /* runtime.g.runnableStamp (int64 nanotime, CLOCK_MONOTONIC): when it became runnable */
	unsigned long long sched_addr;      /* &runtime.sched in the process */
	unsigned long long allp_addr;       /* &runtime.allp (a slice of *p) in the process */
	unsigned int sched_runqsize_offset; /* runtime.schedt.runqsize (int32): the global run queue */
	unsigned int p_runqhead_offset;     /* runtime.p.runqhead (uint32) */
	unsigned int p_runqtail_offset;     /* runtime.p.runqtail (uint32) */
	unsigned int p_runnext_offset;      /* runtime.p.runnext (guintptr) */
};

enum fm_go_flags {
	FM_GO_SCHED = 1 << 0,       /* its runtime.execute uprobe is attached: time runnable -> running */
};

#define FM_GO_MAX_PROCS 64          /* Ps (GOMAXPROCS) whose local run queues are counted */

/*
 * The key that signs this host's trace tags (the fm_tag_key array's one element,
 * written by user space at start and at every key rotation). A signed tag is
 * {nonce (high 32 bits), SipHash-2-4(key, isn || nonce) (low 32 bits)}, bound to the
 * connection's initial sequence number, so a copied tag fails on another connection.
 */
struct fm_tag_key {
	unsigned long long k0;
	unsigned long long k1;
	unsigned int enabled;   /* 0: no key, tags are 64 random bits */
	unsigned int _pad;
};

/* Load-time settings, written into .rodata.config before the programs load. */
struct fm_config {
	unsigned int netns_ino;     /* capture only this network namespace; 0 = all */
	unsigned int self_tgid;     /* never report this process's own connections; 0 = none */
	unsigned int wakeup_bytes;  /* wake the reader once this much data waits; smaller batches are polled */
	unsigned int inject_tag;    /* write a trace tag into SYNs of this namespace's connections */
	unsigned long long netns_cookie; /* the captured namespace's cookie, for programs that only have that (sockops); 0 = all */
	unsigned short n_include;   /* if non-zero, only connections with a port in include_ports */
	unsigned short n_exclude;   /* never connections with a port in exclude_ports */
	unsigned short include_ports[FM_MAX_PORTS];
	unsigned short exclude_ports[FM_MAX_PORTS];
	unsigned int runtime_flags; /* FM_RT_* */
	unsigned int _pad;
};

enum fm_runtime_flags {
	FM_RT_RUNQUEUE = 1 << 0,    /* keep run-queue histograms for the processes that own traced sockets */
};

#endif /* FLOWMESH_CAPTURE_H */
