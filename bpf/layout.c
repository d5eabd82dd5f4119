// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prints, as JSON, the size and field offsets the C compiler gives the records
 * in capture.h. The Contracts layout test compares them with the C# mirrors,
 * so the two sides cannot drift apart silently.
 */
#include <stddef.h>
#include <stdio.h>
#include "capture.h"

#define FIELD(type, f) printf("%s\"%s\": %zu", first ? "" : ", ", #f, offsetof(struct type, f)), first = 0

int main(void)
{
	int first = 1;
	printf("{\"version\": %d,\n", FM_RECORD_VERSION);

	printf(" \"fm_event\": {\"size\": %zu, \"fields\": {", sizeof(struct fm_event));
	FIELD(fm_event, version); FIELD(fm_event, kind); FIELD(fm_event, family);
	FIELD(fm_event, old_state); FIELD(fm_event, new_state); FIELD(fm_event, flags);
	FIELD(fm_event, ts_ns); FIELD(fm_event, sock_cookie); FIELD(fm_event, cgroup_id);
	FIELD(fm_event, netns_ino); FIELD(fm_event, pid); FIELD(fm_event, tgid);
	FIELD(fm_event, local_port); FIELD(fm_event, remote_port);
	FIELD(fm_event, local_addr); FIELD(fm_event, remote_addr); FIELD(fm_event, comm);
	FIELD(fm_event, isn_local); FIELD(fm_event, isn_remote);
	FIELD(fm_event, bytes_acked); FIELD(fm_event, bytes_received);
	FIELD(fm_event, segs_out); FIELD(fm_event, segs_in);
	FIELD(fm_event, srtt_us); FIELD(fm_event, total_retrans); FIELD(fm_event, trace_tag);
	FIELD(fm_event, goid); FIELD(fm_event, reason); FIELD(fm_event, sk_err); FIELD(fm_event, health);
	printf("}},\n");

	first = 1;
	printf(" \"fm_health\": {\"size\": %zu, \"fields\": {", sizeof(struct fm_health));
	FIELD(fm_health, delivery_rate); FIELD(fm_health, bytes_retrans); FIELD(fm_health, min_rtt_us);
	FIELD(fm_health, rttvar_us); FIELD(fm_health, snd_cwnd); FIELD(fm_health, dsack_dups);
	FIELD(fm_health, reord_seen); FIELD(fm_health, rcv_ooopack); FIELD(fm_health, drops);
	FIELD(fm_health, drop_reason); FIELD(fm_health, retrans_timeout); FIELD(fm_health, retrans_fast);
	FIELD(fm_health, retrans_probe); FIELD(fm_health, retrans_syn);
	printf("}},\n");

	first = 1;
	printf(" \"fm_listener\": {\"size\": %zu, \"fields\": {", sizeof(struct fm_listener));
	FIELD(fm_listener, netns_ino); FIELD(fm_listener, family); FIELD(fm_listener, port);
	FIELD(fm_listener, addr); FIELD(fm_listener, drops); FIELD(fm_listener, backlog);
	FIELD(fm_listener, max_backlog);
	printf("}},\n");

	first = 1;
	printf(" \"fm_counters\": {\"size\": %zu, \"fields\": {", sizeof(struct fm_counters));
	FIELD(fm_counters, existing); FIELD(fm_counters, reserve_failed);
	FIELD(fm_counters, no_ring); FIELD(fm_counters, storage_failed);
	FIELD(fm_counters, submitted); FIELD(fm_counters, rq_procs_full);
	FIELD(fm_counters, rq_threads_full);
	printf("}},\n");

	first = 1;
	printf(" \"fm_config\": {\"size\": %zu, \"fields\": {", sizeof(struct fm_config));
	FIELD(fm_config, netns_ino); FIELD(fm_config, self_tgid); FIELD(fm_config, wakeup_bytes);
	FIELD(fm_config, inject_tag); FIELD(fm_config, netns_cookie);
	FIELD(fm_config, n_include); FIELD(fm_config, n_exclude);
	FIELD(fm_config, include_ports); FIELD(fm_config, exclude_ports);
	FIELD(fm_config, runtime_flags);
	printf("}},\n");

	first = 1;
	printf(" \"fm_tag_key\": {\"size\": %zu, \"fields\": {", sizeof(struct fm_tag_key));
	FIELD(fm_tag_key, k0); FIELD(fm_tag_key, k1); FIELD(fm_tag_key, enabled);
	printf("}},\n");

	first = 1;
	printf(" \"fm_hist\": {\"size\": %zu, \"buckets\": %d, \"fields\": {", sizeof(struct fm_hist), FM_HIST_BUCKETS);
	FIELD(fm_hist, count); FIELD(fm_hist, sum_ns); FIELD(fm_hist, runnable); FIELD(fm_hist, buckets);
	printf("}},\n");

	first = 1;
	printf(" \"fm_go_proc\": {\"size\": %zu, \"fields\": {", sizeof(struct fm_go_proc));
	FIELD(fm_go_proc, goid_offset); FIELD(fm_go_proc, flags);
	FIELD(fm_go_proc, g_tracking_offset); FIELD(fm_go_proc, g_runnable_stamp_offset);
	FIELD(fm_go_proc, sched_addr); FIELD(fm_go_proc, allp_addr); FIELD(fm_go_proc, sched_runqsize_offset);
	FIELD(fm_go_proc, p_runqhead_offset); FIELD(fm_go_proc, p_runqtail_offset); FIELD(fm_go_proc, p_runnext_offset);
	printf("}}\n}\n");
	return 0;
}
