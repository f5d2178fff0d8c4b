/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events of dm-cowbackup: copies (copy-out and background), throttle
 * waits and copy errors. Use with ftrace (events/cowbackup/) or perf.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cowbackup

#if !defined(_TRACE_COWBACKUP_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_COWBACKUP_H

#include <linux/tracepoint.h>

TRACE_EVENT(cowbackup_copy_start,
	TP_PROTO(u64 first, u64 count, bool copy_out),
	TP_ARGS(first, count, copy_out),
	TP_STRUCT__entry(
		__field(u64, first)
		__field(u64, count)
		__field(bool, copy_out)
	),
	TP_fast_assign(
		__entry->first = first;
		__entry->count = count;
		__entry->copy_out = copy_out;
	),
	TP_printk("clusters=%llu+%llu kind=%s", __entry->first,
		  __entry->count, __entry->copy_out ? "cow" : "background")
);

TRACE_EVENT(cowbackup_copy_done,
	TP_PROTO(u64 first, u64 count, bool copy_out, u64 zero, int error),
	TP_ARGS(first, count, copy_out, zero, error),
	TP_STRUCT__entry(
		__field(u64, first)
		__field(u64, count)
		__field(bool, copy_out)
		__field(u64, zero)
		__field(int, error)
	),
	TP_fast_assign(
		__entry->first = first;
		__entry->count = count;
		__entry->copy_out = copy_out;
		__entry->zero = zero;
		__entry->error = error;
	),
	TP_printk("clusters=%llu+%llu kind=%s zero=%llu error=%d",
		  __entry->first, __entry->count,
		  __entry->copy_out ? "cow" : "background", __entry->zero,
		  __entry->error)
);

TRACE_EVENT(cowbackup_throttle,
	TP_PROTO(u64 wait_ns),
	TP_ARGS(wait_ns),
	TP_STRUCT__entry(
		__field(u64, wait_ns)
	),
	TP_fast_assign(
		__entry->wait_ns = wait_ns;
	),
	TP_printk("wait_ns=%llu", __entry->wait_ns)
);

TRACE_EVENT(cowbackup_error,
	TP_PROTO(u64 first, u64 count, bool copy_out, bool source),
	TP_ARGS(first, count, copy_out, source),
	TP_STRUCT__entry(
		__field(u64, first)
		__field(u64, count)
		__field(bool, copy_out)
		__field(bool, source)
	),
	TP_fast_assign(
		__entry->first = first;
		__entry->count = count;
		__entry->copy_out = copy_out;
		__entry->source = source;
	),
	TP_printk("clusters=%llu+%llu kind=%s device=%s", __entry->first,
		  __entry->count, __entry->copy_out ? "cow" : "background",
		  __entry->source ? "source" : "target")
);

#endif /* _TRACE_COWBACKUP_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
