#!/bin/sh
# SPDX-License-Identifier: MIT
# report.sh DATA.tsv RESULTS.md CHART.png [README.md]
#
# Turns the raw data of ipcbench (one line per case and repetition) into
# RESULTS.md (tables, ratios, the issue's targets, the method) and a PNG
# chart made with gnuplot (skipped, with a note, if gnuplot is absent).
# With README.md, also replaces the lines between its "<!-- bench:begin"
# and "<!-- bench:end" markers with a headline table.
# Needs only a POSIX shell and awk (mawk or gawk).
set -eu

data=${1:-results.tsv}
md=${2:-RESULTS.md}
png=${3:-results.png}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcbench-report.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

[ -r "$data" ] || { echo "report.sh: $data: no such file (run the benchmark first)" >&2; exit 1; }

if command -v gnuplot >/dev/null 2>&1; then
	chart="$(gnuplot --version 2>/dev/null | head -n 1)"
else
	chart=""
fi

awk -F "\t" -v dataname="$(basename "$data")" -v tmp="$tmp" -v png="$(basename "$png")" -v chart="$chart" '
function num(x) { return x + 0 }

# Median, minimum and maximum of field f over the ok repetitions of key k:
# sets S_med, S_min, S_max; returns the count.
function stat(f, k,    m, i, j, x, t) {
	m = cnt[k]
	if (m == 0) { S_med = S_min = S_max = ""; return 0 }
	for (i = 1; i <= m; i++) t[i] = num(V[f, k, i])
	for (i = 2; i <= m; i++) {            # insertion sort: m is small
		x = t[i]
		for (j = i - 1; j >= 1 && t[j] > x; j--) t[j + 1] = t[j]
		t[j + 1] = x
	}
	S_min = t[1]; S_max = t[m]
	S_med = (m % 2) ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2
	return m
}
function med(f, kind, tp, size,    k) {
	k = kind SUBSEP tp SUBSEP size
	return stat(f, k) ? S_med : ""
}
function us(ns) {
	if (ns == "") return "n/a"
	if (ns < 1000) return sprintf("%.3f", ns / 1000)
	if (ns < 10000) return sprintf("%.2f", ns / 1000)
	return sprintf("%.1f", ns / 1000)
}
function mps(x) {
	if (x == "") return "n/a"
	if (x >= 1e6) return sprintf("%.2f M", x / 1e6)
	if (x >= 1e3) return sprintf("%.1f k", x / 1e3)
	return sprintf("%.0f", x)
}
function gbs(x) { return x == "" ? "n/a" : (x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x)) }
function ratio(a, b) {
	if (a == "" || b == "" || b == 0) return "n/a"
	a = a / b
	return a >= 100 ? sprintf("%.0f×", a) : a >= 10 ? sprintf("%.1f×", a) : a >= 0.1 ? sprintf("%.2f×", a) : sprintf("%.2g×", a)
}
function sizename(s) {
	s = num(s)
	if (s >= 1048576 && s % 1048576 == 0) return (s / 1048576) " MiB"
	if (s >= 1024 && s % 1024 == 0) return (s / 1024) " KiB"
	return s " B"
}
function label(kind, tp) { return tp (kind ~ /-zc/ ? " (zero-copy)" : "") }
function verdict(ok) { return ok == "" ? "not measured" : ok ? "**met**" : "**not met**" }
function have(x) { return x != "" }
function lt(a, b) { return (have(a) && have(b)) ? (a < b) : "" }
function le(a, b) { return (have(a) && have(b)) ? (a <= b) : "" }
function ge(a, b) { return (have(a) && have(b)) ? (a >= b) : "" }
function both(a, b) { return (a == "" || b == "") ? "" : (a && b) }
function maxof(a, b) { return a == "" ? b : b == "" ? a : (a > b ? a : b) }
function best(f, kind, list, size,    n, i, t, v, b) {
	n = split(list, t, " ")
	b = ""; BEST = ""
	for (i = 1; i <= n; i++) {
		v = med(f, kind, t[i], size)
		if (v != "" && (b == "" || v > b)) { b = v; BEST = t[i] }
	}
	return b
}
function target(name, measured, ok) {
	ntarget++
	if (ok != "") { nmeasured++; nmet += ok }
	printf("| %s | %s | %s |\n", name, measured, verdict(ok))
}
# One row of the README headline table: a figure for each column transport.
function hrow(title, f, kind, size, fmt,    i, v, line) {
	line = "| " title
	for (i = 1; i <= nhead; i++) {
		v = med(f, kind, head[i], size)
		if (v == "" && kind == "rtt-zc" && head[i] ~ /^(pipe|unix-stream)$/) line = line " | —"
		else line = line " | " (fmt == "us" ? us(v) : fmt == "mps" ? mps(v) : gbs(v))
	}
	print line " |" > (tmp "/headline.md")
}

/^# / {
	line = substr($0, 3); p = index(line, ": ")
	if (p) { key = substr(line, 1, p - 1); meta[key] = substr(line, p + 2); mkeys[++nmeta] = key }
	next
}
# Columns are found by name in the header line.
$1 == "kind" { for (i = 1; i <= NF; i++) C[$i] = i; next }
function col(name) { return (name in C) ? $(C[name]) : "" }
("note" in C) && NF >= C["note"] {
	k = $1 SUBSEP $2 SUBSEP $3
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
	if (col("status") == "ok") {
		i = ++cnt[k]
		V["p50", k, i] = col("p50_ns"); V["p99", k, i] = col("p99_ns"); V["p999", k, i] = col("p999_ns")
		V["mean", k, i] = col("mean_ns"); V["mps", k, i] = col("msgs_per_s"); V["gbs", k, i] = col("gbytes_per_s")
		V["pre", k, i] = col("preempted")
		if (col("note") != "-") note[k] = col("note")
	} else {
		why[k] = col("status") ": " col("note")
	}
}

END {
	# References: the hardware, and pipe.
	cl1 = med("p50", "rtt", "cacheline-1", 64); cl2 = med("p50", "rtt", "cacheline-2", 64)
	hw = cl1; hwname = "cacheline-1"
	if (cl2 != "" && (hw == "" || cl2 < hw)) { hw = cl2; hwname = "cacheline-2" }
	fx = med("p50", "rtt", "futex", 64)
	pipe_rtt = med("p50", "rtt", "pipe", 64)

	print "# pshm IPC benchmark: results"
	print ""
	print "Generated by `bench/report.sh` from `" dataname "` (raw data: one line per case and repetition)."
	print "Rerun everything with `make bench` (see *Method* below)."
	print ""
	print "## Machine"
	print ""
	for (i = 1; i <= nmeta; i++) printf("- %s: %s\n", mkeys[i], meta[mkeys[i]])
	print ""
	print "Figures are medians over the repetitions, with the spread (min–max of the"
	print "repetitions) beside them. Round trips (RTT) in microseconds. *preempted*: the"
	print "median number of times, per repetition, that the two pinned processes were"
	print "preempted (involuntary context switches): anything but 0 means other load on"
	print "the CPUs disturbed that measurement."
	print ""

	# ------------------------------------------------------------ round trips
	print "## 64-byte round trip"
	print ""
	print "| transport | p50 µs | spread (p50 of each rep) | p99 µs | p99.9 µs | mean µs | × hardware | × futex | × pipe | preempted |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nk; i++) {
		split(order[i], f, SUBSEP)
		if (f[1] != "rtt") continue
		k = order[i]
		if (!stat("p50", k)) { printf("| %s | %s | | | | | | | | |\n", f[2], why[k]); continue }
		p = S_med; lo = S_min; hi = S_max; sp = us(lo) "–" us(hi)
		printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[2], us(p), sp,
			us(med("p99", f[1], f[2], f[3])), us(med("p999", f[1], f[2], f[3])),
			us(med("mean", f[1], f[2], f[3])), ratio(p, hw), ratio(p, fx), ratio(p, pipe_rtt),
			med("pre", f[1], f[2], f[3]))
		print f[2] "\t" p / 1000 "\t" lo / 1000 "\t" hi / 1000 > (tmp "/rtt.dat")
	}
	print ""
	printf("Hardware = the faster cache-line ping-pong (%s, %s µs); futex = the raw futex\n", hwname, us(hw))
	printf("wait/wake round trip (%s µs); pipe = %s µs.\n", us(fx), us(pipe_rtt))
	print ""

	print "## Zero-copy round trip"
	print ""
	print "| transport | message | touched | p50 µs | spread | p99 µs | p99.9 µs | × its 64 B | × hardware | × pipe | preempted |"
	print "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nk; i++) {
		split(order[i], f, SUBSEP)
		if (f[1] != "rtt-zc" && f[1] != "rtt-zc-touch") continue
		k = order[i]
		t = f[1] == "rtt-zc" ? "first + last 8 B" : "1 word per line"
		if (!stat("p50", k)) { printf("| %s | %s | %s | %s | | | | | | | |\n", f[2], sizename(f[3]), t, why[k]); continue }
		p = S_med; sp = us(S_min) "–" us(S_max)
		printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", f[2], sizename(f[3]), t, us(p), sp,
			us(med("p99", f[1], f[2], f[3])), us(med("p999", f[1], f[2], f[3])),
			ratio(p, med("p50", "rtt-zc", f[2], 64)), ratio(p, hw), ratio(p, pipe_rtt),
			med("pre", f[1], f[2], f[3]))
	}
	print ""

	# ---------------------------------------------------------------- streams
	print "## One-way streaming"
	print ""
	print "Messages per second and GB/s (10^9 bytes) of payload delivered and checked."
	print "× memcpy: against one core copying the same size (hot in cache); × pipe: against"
	print "`pipe` for the same size (messages per second, so the same ratio in bytes)."
	ns = split("64 4096 1048576", sizes, " ")
	for (s = 1; s <= ns; s++) {
		sz = sizes[s]
		mc = med("gbs", "stream", "memcpy", sz)
		pm = med("mps", "stream", "pipe", sz)
		print ""
		print "### " sizename(sz) " messages"
		print ""
		print "| transport | messages/s | spread | GB/s | × memcpy | × pipe | preempted | notes |"
		print "|---|---:|---:|---:|---:|---:|---:|---|"
		for (i = 1; i <= nk; i++) {
			split(order[i], f, SUBSEP)
			if ((f[1] != "stream" && f[1] != "stream-zc") || f[3] != sz) continue
			k = order[i]
			if (!stat("mps", k)) { printf("| %s | | | | | | | %s |\n", label(f[1], f[2]), why[k]); continue }
			m = S_med; sp = mps(S_min) "–" mps(S_max)
			g = med("gbs", f[1], f[2], f[3])
			printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", label(f[1], f[2]), mps(m), sp, gbs(g),
				f[2] == "memcpy" ? "1" : ratio(g, mc), ratio(m, pm), med("pre", f[1], f[2], f[3]),
				(k in note) ? note[k] : "")
			G[label(f[1], f[2]), sz] = g
			if (!((label(f[1], f[2])) in inchart)) { inchart[label(f[1], f[2])] = 1; clabels[++ncl] = label(f[1], f[2]) }
		}
	}
	for (i = 1; i <= ncl; i++) {
		l = clabels[i]; line = l
		for (s = 1; s <= ns; s++) line = line "\t" (((l, sizes[s]) in G) ? G[l, sizes[s]] : "-")
		print line > (tmp "/stream.dat")
	}
	print ""

	# ---------------------------------------------------------------- targets
	pp = med("p50", "rtt", "pshm-poll", 64)
	pb = med("p50", "rtt", "pshm-block", 64)
	copy_modes = "pshm-poll pshm-block pshm-spin"
	others_1m = "pipe pipe-1m unix-stream unix-seqpacket iox-poll iox-block"
	print "## Targets (issue 5)"
	print ""
	print "Ratios within this run. \"pshm, best mode\" is the best of pshm-poll, pshm-block and"
	print "pshm-spin for the copy API (named in brackets)."
	print ""
	print "| target | measured | verdict |"
	print "|---|---|---|"
	rr = med("p50", "rtt", "ring-raw", 64)
	target("64 B round trip, busy-poll ≤ 1.3 × raw cache-line round trip",
		"pshm-poll " us(pp) " µs = " ratio(pp, hw) " " hwname " (" us(hw) " µs)" \
		(rr == "" ? "" : "; its record layout alone (ring-raw): " us(rr) " µs = " ratio(rr, hw) " " hwname ", pshm = " ratio(pp, rr) " ring-raw"),
		le(pp, 1.3 * hw))
	target("64 B round trip, blocking ≤ 1.15 × raw futex round trip, and below pipe",
		"pshm-block " us(pb) " µs = " ratio(pb, fx) " futex (" us(fx) " µs); pipe " us(pipe_rtt) " µs",
		both(le(pb, 1.15 * fx), lt(pb, pipe_rtt)))
	b = best("mps", "stream", copy_modes, 64); bn = BEST; pm = med("mps", "stream", "pipe", 64)
	rr = med("mps", "stream", "ring-raw", 64)
	target("64 B streaming ≥ 40 × pipe messages/s",
		bn " " mps(b) "/s = " ratio(b, pm) " pipe (" mps(pm) "/s)" \
		(rr == "" ? "" : "; its record layout alone (ring-raw): " mps(rr) "/s = " ratio(rr, pm) " pipe, pshm = " ratio(b, rr) " ring-raw"),
		ge(b, 40 * pm))
	b = best("gbs", "stream", copy_modes, 4096); bn = BEST; pm = med("gbs", "stream", "pipe", 4096)
	target("4 KiB streaming ≥ 4 × pipe bytes/s",
		bn " " gbs(b) " GB/s = " ratio(b, pm) " pipe (" gbs(pm) " GB/s)", ge(b, 4 * pm))
	b = best("gbs", "stream", copy_modes, 1048576); bn = BEST
	o = best("gbs", "stream", others_1m, 1048576); on = BEST
	mc = med("gbs", "stream", "memcpy", 1048576)
	target("1 MiB streaming ≥ the best of pipe, UNIX socket, iceoryx (copy)",
		bn " " gbs(b) " GB/s vs " (on == "" ? "none measured" : on " " gbs(o) " GB/s"), ge(b, o))
	target("1 MiB streaming ≥ 60 % of single-core memcpy (1 MiB)",
		bn " " gbs(b) " GB/s = " (mc == "" ? "n/a" : sprintf("%.0f %%", 100 * b / mc)) " of " gbs(mc) " GB/s", ge(b, 0.6 * mc))
	z64 = med("p50", "rtt-zc", "pshm-poll", 64); z1m = med("p50", "rtt-zc", "pshm-poll", 1048576)
	target("zero-copy round trip at 1 MiB ≤ 1.5 × at 64 B (pshm-poll)",
		us(z1m) " µs vs " us(z64) " µs = " ratio(z1m, z64), le(z1m, 1.5 * z64))
	z64 = med("p50", "rtt-zc", "pshm-block", 64); z1m = med("p50", "rtt-zc", "pshm-block", 1048576)
	target("zero-copy round trip at 1 MiB ≤ 1.5 × at 64 B (pshm-block)",
		us(z1m) " µs vs " us(z64) " µs = " ratio(z1m, z64), le(z1m, 1.5 * z64))
	if (meta["iceoryx"] ~ /^absent/) {
		target("against iceoryx: lower round trip, higher throughput at every size", "iceoryx " meta["iceoryx"], "")
	} else {
		n_ok = 0; n_all = 0; lost = ""
		split("rtt:64:pshm-poll:iox-poll rtt:64:pshm-block:iox-block rtt-zc:64:pshm-poll:iox-poll rtt-zc:1048576:pshm-poll:iox-poll rtt-zc:64:pshm-block:iox-block rtt-zc:1048576:pshm-block:iox-block", pairs, " ")
		for (j = 1; j <= 6; j++) {
			split(pairs[j], q, ":")
			a = med("p50", q[1], q[3], q[2]); c = med("p50", q[1], q[4], q[2])
			if (a == "" || c == "") continue
			n_all++; if (a < c) n_ok++; else lost = lost " " q[1] "/" sizename(q[2]) " " q[3] " " us(a) " vs " us(c) " µs;"
		}
		for (s = 1; s <= ns; s++) {
			a = best("mps", "stream", copy_modes, sizes[s]); an = BEST
			c = best("mps", "stream", "iox-poll iox-block", sizes[s]); cn = BEST
			if (a != "" && c != "") { n_all++; if (a > c) n_ok++; else lost = lost " stream " sizename(sizes[s]) " " an " " mps(a) " vs " cn " " mps(c) "/s;" }
			a = best("mps", "stream-zc", "pshm-poll pshm-block", sizes[s]); an = BEST
			c = best("mps", "stream-zc", "iox-poll iox-block", sizes[s]); cn = BEST
			if (a != "" && c != "") { n_all++; if (a > c) n_ok++; else lost = lost " zero-copy stream " sizename(sizes[s]) " " an " " mps(a) " vs " cn " " mps(c) "/s;" }
		}
		target("against iceoryx: lower round trip (poll vs poll, block vs block, copy and zero-copy) and higher throughput at every size (best mode vs best mode, copy and zero-copy)",
			n_ok " of " n_all " comparisons won" (lost == "" ? "" : "; lost:" lost), n_all ? (n_ok == n_all) : "")
	}
	print ""

	# ------------------------------------------------------------------ chart
	# The headline table for the README (put between its markers below).
	nhead = split("pshm-poll pshm-block pipe unix-stream iox-poll iox-block", head, " ")
	line = "| |"; sep = "|---|"
	for (i = 1; i <= nhead; i++) { line = line " " head[i] " |"; sep = sep "---:|" }
	print line > (tmp "/headline.md"); print sep > (tmp "/headline.md")
	hrow("64 B round trip, p50 µs", "p50", "rtt", 64, "us")
	hrow("zero-copy round trip 1 MiB, p50 µs", "p50", "rtt-zc", 1048576, "us")
	hrow("64 B stream, messages/s", "mps", "stream", 64, "mps")
	hrow("4 KiB stream, GB/s", "gbs", "stream", 4096, "gbs")
	hrow("1 MiB stream, GB/s", "gbs", "stream", 1048576, "gbs")
	printf("\nHardware on the same run: cache-line round trip %s µs, futex round trip %s µs, memcpy of 1 MiB %s GB/s. Targets of issue 5 met: %d of %d measured (details: [bench/RESULTS.md](bench/RESULTS.md)). Run of %s on %s.\n",
		us(hw), us(fx), gbs(med("gbs", "stream", "memcpy", 1048576)), nmet, nmeasured, meta["date"], meta["cpu"]) > (tmp "/headline.md")

	print "## Chart"
	print ""
	if (chart != "") print "![64 B round trip and streaming throughput](" png ")"
	else print "(gnuplot was not found when this report was made: no chart.)"
	print ""
	if ("pshm-channels" in meta) print "Note: pshm channels " meta["pshm-channels"] "."
}
' "$data" > "$tmp/tables.md"

# The method: fixed text, with this run's settings.
reps=$(sed -n 's/^# repetitions: //p' "$data")
{
	cat "$tmp/tables.md"
	cat <<EOF

## Method

Run it: \`make bench\` (top level) builds the library and \`build/bench/ipcbench\`,
runs every case, and writes \`bench/results.tsv\`, this file and
\`bench/results.png\`. \`make -C bench quick\` is a short run into \`build/bench/\`;
\`make -C bench REPS=9 REP_MS=500\` or \`FILTER=rtt/,pshm\` change the amount
and the selection; \`make -C bench report\` rebuilds this file from the data.
\`make bench-deps\` installs iceoryx and gnuplot (Debian, as root).
This run: ${reps:-unknown}.

- **Processes.** Every case runs in two fresh processes forked by the
  driver: side A pinned to CPU 0 (producer, or the one that starts a round
  trip), side B pinned to CPU 1 (\`sched_setaffinity\`; \`BENCH_CPUS\` changes
  the pair). pshm channels are created by the driver and opened by name in
  each process; pipes, socket pairs and message queues are inherited;
  iceoryx processes each start their own runtime. Nothing else is pinned:
  other load on the machine shows as noise and in the spread.
- **Settling.** On a virtual machine the two CPUs sometimes move cache
  lines between them several times slower, for seconds at a time, with
  nothing else running (the host placing the vCPUs apart, presumably).
  Before each case the driver times a cache-line ping-pong between the two
  CPUs and, while it is over twice the fastest seen in the run, waits
  (at most \`BENCH_SETTLE\` seconds, default 10); *settling* under
  *Machine* says how much it waited, and a case that started unsettled
  says so in its notes.
- **Repetitions.** Two unreported calibration runs (which also warm up
  caches and page tables) size each repetition to about the target time;
  then the measured repetitions. Figures are the median of the repetitions;
  the spread is their minimum and maximum.
- **Round trip** (64 B, copy API): A stamps a sequence number in the first
  and last 8 bytes, sends, and waits for B's echo of the same message; B
  receives, checks and sends it back. One timestamp per round trip (TSC on
  x86, see *clock* above: its cost is included in every sample); p50, p99,
  p99.9 and mean are per repetition, then the median over repetitions.
- **Hardware limits.** cacheline-1: A and B take turns writing one shared
  cache line and spin reading it; cacheline-2: one line per direction (A
  writes its line, B spins on it and answers in its own). The faster of
  the two is "hardware". cacheline-2-pause: the same with the pause
  instruction in the spin. futex: each side stores, calls FUTEX_WAKE and
  sleeps in FUTEX_WAIT until answered, with no spinning (the kernel's
  sleep/wake floor; if the peer answers before the sleep, the wait returns
  at once, which the spread shows; and on a virtual machine with the
  haltpoll idle governor, whole repetitions can run in a regime where a
  waiting vCPU polls instead of halting and a round trip takes under a
  microsecond, so the median falls on whichever regime most repetitions
  saw). memcpy: one core copying a buffer of
  the message size again and again (source and destination stay in cache
  where they fit): the bandwidth reference for streaming. ring-raw (64 B
  and 4 KiB): pshm's SPSC record protocol and nothing else (the 8-byte
  header written last with release, the next header slot zeroed before
  it, the line the consumer polls written last in one burst, the consumer
  polling that line and the next with a pause every 8 polls, copying out,
  clearing the payload up to its last line boundary and publishing its
  position), run through the same send/receive loops as the transports,
  but with no validation, no SIGBUS guard, no peer checks and no clock:
  about what that record layout costs on this machine. A 64-byte
  message and its header span two cache lines, so its round trip cannot
  reach a one-line ping-pong's. For streaming it is a reference, not a
  ceiling: its consumer, doing less per message, keeps up with the producer
  and takes each line as it is written, where pshm's consumer falls a few
  messages behind and finds their lines complete.
- **Streaming** (one way, copy API): A sends n messages, each from the same
  patterned buffer with its sequence number in the first and last 8 bytes;
  B receives each into its own buffer, checks its length and both sequence
  numbers (so nothing is lost, duplicated, reordered or truncated) and, after
  the timed loop, compares the whole last message with the expected bytes.
  Time runs from A's first send to B's last receive. Byte streams (pipe,
  SOCK_STREAM) read exactly one message per read loop, so every message
  costs a system call each side.
- **Zero-copy streaming**: A reserves space in the channel (pshm_chan_reserve,
  or iceoryx's loan), fills the whole message (memcpy of the pattern: the
  cost of producing it) and stamps it, then commits; B peeks (or takes) the
  message in place and **reads one 8-byte word of every 64-byte cache line**
  (verifying their sum against the pattern, and both sequence numbers),
  then releases it. So every line crosses from A's core to B's, but B copies
  nothing.
- **Zero-copy round trip**, "first + last 8 B": the sender writes only the
  sequence number at both ends of the message in place and the receiver
  reads only those: this measures handing over a message of that size, not
  moving its bytes; it is the figure the "latency does not grow with size"
  target is about. "1 word per line": the sender writes one 8-byte word in
  every 64-byte line and the receiver reads and checks every one of them, so
  the round trip includes moving every cache line both ways (informative).
- **Transports.** pshm-poll: \`PSHM_WAIT_POLL\`. pshm-block:
  \`PSHM_WAIT_BLOCK\` with spin 0 (sleeps on the futex at once: the pure
  blocking path compared with the raw futex). pshm-spin: \`PSHM_WAIT_BLOCK\`
  with the library's default spin. pshm rings: max(1 MiB, 4 × the message
  size) unless \`BENCH_RING\` says otherwise (see the notes column). pipe:
  default capacity (64 KiB); pipe-1m: enlarged to fs.pipe-max-size with
  F_SETPIPE_SZ (streaming only). unix-stream / unix-seqpacket: a
  socketpair; send and receive buffers raised to twice the message size
  when messages exceed 64 KiB. mq: POSIX message queue, 10 messages deep,
  fs.mqueue.msgsize_max raised for the case when needed (as root) and
  restored; a size that still cannot be had (RLIMIT_MSGQUEUE without
  CAP_SYS_RESOURCE) is reported as skipped. iceoryx (C binding): the
  benchmark starts its own \`iox-roudi\` with a memory pool sized for these
  messages and stops it at the end; publisher and subscriber block rather
  than drop (WAIT_FOR_CONSUMER, BLOCK_PRODUCER), subscriber queue 256 (16
  for 1 MiB), no history; iox-poll polls \`iox_sub_take_chunk\`, iox-block
  waits in a WaitSet. Its copy rows copy into a loaned chunk and out of
  the received one; its zero-copy rows work in the chunk like pshm's.
- **Not measured:** many producers (MPSC), cold caches, machines with more
  than one socket. Nothing here is a test: no duration is asserted anywhere.

## Reading these results

- **Other load.** The two workers are pinned, not isolated. When another
  process runs on one of the two CPUs, a busy-polling peer stalls until
  the preempted one runs again, so poll modes suffer most from a busy
  machine and blocking modes least. The *preempted* column and the load
  average at start and end say how disturbed a run was; compare runs made
  on a quiet machine only.
- **Virtual machines.** Under a hypervisor, waking a sleeping vCPU may
  cost an exit to the host: every sleep/wake figure (futex, pipe, sockets,
  mq, blocking modes) is then several times what bare metal gives, while
  cache-line figures are not affected. Ratios within one run stay valid.
- **Clock resolution.** Sub-microsecond p50s are multiples of the clock's
  resolution (see *clock*); the means are not quantised.
- **What a round trip moves.** The raw ping-pong moves one cache line each
  way. A channel moves at least the line(s) holding the message and its
  header each way, plus, from time to time, the line of an index; at 64
  bytes of payload plus a header that is two lines. Keep that in mind when
  reading the "× hardware" column.
- **The futex reference.** If the answer arrives before the waiter has gone
  to sleep, FUTEX_WAIT returns at once and the round trip costs two system
  calls instead of two sleeps and wake-ups; a repetition may run in either
  regime, which its spread shows. The median of the repetitions is used.

## Measurements behind the code

Choices in the library's fast path that were settled by measuring, quoted
from the source comments that point here. They were taken by hand (the
library changed, then \`make bench\` rerun, runs interleaved, medians), on
the machine of the time (AMD Zen 4 unless said), not by this run: rerun
the comparison when changing the code they justify.

| choice (where) | against | measured |
|---|---|---|
| SPSC wipe stops at the record's last line boundary, leaving the line that holds the next header (\`wipe()\`, src/chan.c) | wiping up to the record's end | 64-byte round trip 204 ns against 211; streaming 64-byte messages 44 against 22 M msg/s |
| SPSC consumer wipes small records (\`wipes()\`, src/chan.c) | no wipe | streaming 4 KiB messages three times faster with the wipe, 64-byte ones up to twice |
| SPSC consumer wipes a message \`pshm_chan_recv()\` copied out of a ring of at most 2 MiB (\`wipes()\`) | no wipe | 64 and 256 KiB messages in a 1 MiB ring: 22–26 GB/s wiped, 10–11 not |
| large records in a larger ring are not wiped (\`wipes()\`) | wiping them | 1 MiB messages in a 4 MiB ring: 45 GB/s unwiped, 28 wiped |
| producer copies 8 KiB and more with a loop of 16-byte loads and stores (\`copy_in()\`, src/chan.c) | glibc \`memcpy()\` (REP MOVSB from 8 KiB to about the L2 size); non-temporal stores | 1 MiB messages, ring lines last held by the other core: loop 44 GB/s, \`memcpy()\` 8–9, non-temporal 16; the loop won at every size tried from 8 KiB to 1 MiB; within one core's L1 \`memcpy()\` is faster (8 KiB: 101 against 53 GB/s) |
| copies and clears of up to 64 bytes inline (src/smallcopy.h) | calls to \`memcpy()\`/\`memset()\` | a send and a receive of 64 bytes on one core: 40 ns against 57 |
| waiting side pauses once in eight polls (\`spin()\`, src/chan.c) | a pause every poll | a PAUSE costs about as much as the cache-line transfer waited for (65 cycles on recent AMD cores) |

## Python

The Python package's benchmark (64 B and 1 MiB messages through pshm
against \`multiprocessing.Queue\`, \`multiprocessing.Pipe\` and a raw
\`multiprocessing.shared_memory\` buffer, interleaved rounds) has its own
page, written by \`python/bench.py\`: [python.md](python.md).
EOF
} > "$md.tmp"
mv "$md.tmp" "$md"
echo "report: wrote $md"

# The README's headline table, between its markers, if asked to (make bench).
readme=${4:-}
if [ -n "$readme" ] && grep -q '^<!-- bench:begin' "$readme" && grep -q '^<!-- bench:end' "$readme"; then
	awk -v head="$tmp/headline.md" '
		/^<!-- bench:begin/ { print; while ((getline l < head) > 0) print l; skip = 1; next }
		/^<!-- bench:end/ { skip = 0 }
		!skip' "$readme" > "$readme.tmp" && mv "$readme.tmp" "$readme"
	echo "report: updated the headline table in $readme"
fi

if [ -z "$chart" ]; then
	echo "report: gnuplot not found: no chart (install gnuplot-nox, or make bench-deps)"
	exit 0
fi
term="pngcairo size 1400,1100 font 'sans,10'"
gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || term="png size 1400,1100"
if [ ! -s "$tmp/rtt.dat" ] || [ ! -s "$tmp/stream.dat" ]; then
	echo "report: no round trips or no streams in $data: no chart"
	exit 0
fi
gnuplot <<EOF || { echo "report: gnuplot failed: no chart" >&2; rm -f "$png.tmp"; exit 0; }
set terminal $term
set output "$png.tmp"
set datafile separator "\t"
set datafile missing "-"
set multiplot layout 2,1 title "pshm IPC benchmark ($(sed -n 's/^# cpu: //p' "$data" | head -n 1), CPUs 0 and 1)"
set style fill solid 0.8 border -1
set grid ytics
set logscale y
set xtics rotate by -35 left nomirror noenhanced
set rmargin 10
set title "64-byte round trip, p50 (median of repetitions; bars: min-max), microseconds, log scale"
set style data histogram
set style histogram errorbars gap 1 lw 1
set ylabel "µs"
unset key
plot "$tmp/rtt.dat" using 2:3:4:xtic(1) notitle lc rgb "#4477aa"
set key outside top center horizontal noenhanced
set title "one-way streaming throughput, GB/s, log scale"
set style histogram clustered gap 1
set ylabel "GB/s"
plot "$tmp/stream.dat" using 2:xtic(1) title "64 B" lc rgb "#66ccee", \
     "" using 3 title "4 KiB" lc rgb "#228833", \
     "" using 4 title "1 MiB" lc rgb "#ccbb44"
unset multiplot
EOF
mv "$png.tmp" "$png"
echo "report: wrote $png ($chart)"
