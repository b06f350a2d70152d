#!/bin/sh
# SPDX-License-Identifier: MIT
# report.sh DATA.tsv RESULTS.md CHART.png [README.md]
# report.sh --scaling SCALING.tsv SCALING.md
#
# Turns the raw data of ipcbench (one line per case and round) into
# RESULTS.md (the machine, the method, headline tables, zero-copy and
# size sweeps, topics and services, the targets with their verdicts) and
# a log-scale chart of round trip and throughput against message size
# (CHART.png, made with gnuplot if it is installed, and its data beside it
# as CHART.dat). Ratios between two cases are computed inside each round
# (both ran within seconds of each other) and reported as the median of
# the per-round ratios, with their spread (lowest–highest round).
# With README.md, also replaces the lines between its "<!-- bench:begin"
# and "<!-- bench:end" markers with a headline table. With SCALING=FILE in
# the environment (the TSV of `make bench-scale`), adds its table.
# Needs only a POSIX shell and awk (mawk or gawk).
set -eu

data=${1:-results.tsv}
md=${2:-RESULTS.md}
png=${3:-results.png}
readme=${4:-}
chartdat=${png%.png}.dat
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipcbench-report.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

[ "$data" = "--scaling" ] || [ -r "$data" ] || { echo "report.sh: $data: no such file (run the benchmark first)" >&2; exit 1; }

chart=""
if command -v gnuplot >/dev/null 2>&1; then
	chart="$(gnuplot --version 2>/dev/null | head -n 1)"
fi
scaling=${SCALING:-}
[ -n "$scaling" ] && [ ! -r "$scaling" ] && scaling=""

# The MPSC scaling table (ipcbench -S): total messages per second by
# number of producers, the median over rounds, and the per-round ratio to
# one producer.
scaling_table() { # data.tsv
	awk -F "\t" '
		/^# (cpu|cpus online|date|method|pshm choices): / { sub(/^# /, "- "); print; next }
		/^#/ || $1 == "kind" { next }
		$1 == "stream-mpsc" && $5 == "ok" {
			p = $2; sub(/^pshm-mpsc-/, "", p); sub(/p$/, "", p); p += 0
			v[p, $4 + 0] = $8 + 0; if (!(p in s)) { s[p] = 1; o[++no] = p }
			if ($4 + 0 > nr) nr = $4 + 0
		}
		function isort(t, m,    a, b, x) { for (a = 2; a <= m; a++) { x = t[a]; for (b = a - 1; b >= 1 && t[b] > x; b--) t[b + 1] = t[b]; t[b + 1] = x } }
		END {
			for (i = 2; i <= no; i++) { x = o[i]; for (j = i - 1; j >= 1 && o[j] > x; j--) o[j + 1] = o[j]; o[j + 1] = x }
			print ""
			print "| producers | messages/s in all | lowest–highest round | per producer | × 1 producer (per round) |"
			print "|---:|---:|---:|---:|---:|"
			for (i = 1; i <= no; i++) {
				p = o[i]; m = 0; q = 0
				for (r = 1; r <= nr; r++) {
					if ((p, r) in v) t[++m] = v[p, r]
					if ((p, r) in v && (o[1], r) in v && v[o[1], r] > 0) u[++q] = v[p, r] / v[o[1], r]
				}
				if (!m) continue
				isort(t, m); isort(u, q)
				med = (m % 2) ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2
				rr = !q ? "n/a" : sprintf("%.2f×", (q % 2) ? u[(q + 1) / 2] : (u[q / 2] + u[q / 2 + 1]) / 2)
				printf("| %d | %.2f M | %.2f–%.2f M | %.2f M | %s |\n", p, med / 1e6, t[1] / 1e6, t[m] / 1e6, med / p / 1e6, rr)
			}
			print ""
			print "Each producer on a CPU of its own when there are enough (the consumer on the"
			print "first), all busy-polling; 64-byte messages, one MPSC channel."
		}' "$1"
}

if [ "$data" = "--scaling" ]; then # report.sh --scaling DATA.tsv OUT.md
	[ -r "$md" ] || { echo "report.sh: $md: no such file" >&2; exit 1; }
	{ echo "# pshm MPSC scaling"; echo; scaling_table "$md"; } > "$png.tmp"
	mv "$png.tmp" "$png"
	echo "report: wrote $png"
	exit 0
fi

awk -F "\t" -v dataname="$(basename "$data")" -v tmp="$tmp" -v png="$(basename "$png")" \
    -v chartdat="$(basename "$chartdat")" -v chart="$chart" '
function num(x) { return x + 0 }

# ---------------------------------------------------------------- access
# V[f, key, round]: field f of case key (kind SUBSEP transport SUBSEP size)
# in that round.
function K(kind, tp, size) { return kind SUBSEP tp SUBSEP size }

# Sort t[1..m] in place (insertion sort: m is small); returns m.
function isort(t, m,    i, j, x) {
	for (i = 2; i <= m; i++) {
		x = t[i]
		for (j = i - 1; j >= 1 && t[j] > x; j--) t[j + 1] = t[j]
		t[j + 1] = x
	}
	return m
}
function median(t, m) { return (m % 2) ? t[(m + 1) / 2] : (t[m / 2] + t[m / 2 + 1]) / 2 }

# Median over the rounds of field f of a case; sets S_min, S_max, S_n.
function med(f, kind, tp, size,    k, r, t, m) {
	k = K(kind, tp, size); m = 0
	for (r = 1; r <= nround; r++) if ((f, k, r) in V) t[++m] = num(V[f, k, r])
	S_n = m
	if (!m) { S_min = S_max = ""; return "" }
	isort(t, m); S_min = t[1]; S_max = t[m]
	return median(t, m)
}

# A series: one value per round, the best (max, or min with lower = 1)
# of field f over the transports of list for that kind and size.
function series(name, f, kind, list, size, lower,    n, t, i, r, v, b) {
	n = split(list, t, " ")
	for (r = 1; r <= nround; r++) {
		b = ""
		for (i = 1; i <= n; i++)
			if ((f, K(kind, t[i], size), r) in V) {
				v = num(V[f, K(kind, t[i], size), r])
				if (b == "" || (lower ? v < b : v > b)) b = v
			}
		if (b != "") SER[name, r] = b
		else delete SER[name, r]
	}
}
# Per-round ratio of two series: the median; sets R_min, R_max, R_n.
function sratio(a, b,    r, t, m) {
	m = 0
	for (r = 1; r <= nround; r++)
		if ((a, r) in SER && (b, r) in SER && SER[b, r] > 0) t[++m] = SER[a, r] / SER[b, r]
	R_n = m
	if (!m) { R_min = R_max = ""; return "" }
	isort(t, m); R_min = t[1]; R_max = t[m]
	return median(t, m)
}
# Per-round ratio of field f of two single cases.
function cratio(f, ka, ta, sa, kb, tb, sb) {
	series("_a", f, ka, ta, sa, 0); series("_b", f, kb, tb, sb, 0)
	return sratio("_a", "_b")
}

# ----------------------------------------------------------- formatting
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
function gbs(x) { return x == "" ? "n/a" : (x >= 10 ? sprintf("%.1f", x) : x >= 0.1 ? sprintf("%.2f", x) : sprintf("%.3f", x)) }
function rx(a) {
	if (a == "") return "n/a"
	return a >= 100 ? sprintf("%.0f×", a) : a >= 10 ? sprintf("%.1f×", a) : a >= 0.1 ? sprintf("%.2f×", a) : sprintf("%.2g×", a)
}
# A ratio with its spread over rounds (after sratio/cratio).
function rs(a) { return a == "" ? "n/a" : rx(a) (R_n > 1 ? " (" rx(R_min) "–" rx(R_max) ")" : "") }
function sizename(s) {
	s = num(s)
	if (s >= 1048576 && s % 1048576 == 0) return (s / 1048576) " MiB"
	if (s >= 1024 && s % 1024 == 0) return (s / 1024) " KiB"
	return s " B"
}
function why_of(kind, tp, size,    k) {
	k = K(kind, tp, size)
	if (k in why) return why[k]
	return (tp ~ /^iox/ && meta["iceoryx"] ~ /^absent/) ? "iceoryx " meta["iceoryx"] : "not run"
}
# A cell: the median (formatted by fmt) with the spread, or why not.
function cell(f, kind, tp, size, fmt,    v) {
	v = med(f, kind, tp, size)
	if (v == "") return (K(kind, tp, size) in why) ? "—" : ""
	return fmtv(v, fmt) (S_n > 1 ? " <sub>" fmtv(S_min, fmt) "–" fmtv(S_max, fmt) "</sub>" : "")
}
function fmtv(v, fmt) { return fmt == "us" ? us(v) : fmt == "mps" ? mps(v) : gbs(v) }
function verdict(ok) { return ok == "" ? "not measured" : ok ? "**met**" : "**not met**" }
function target(name, want, measured, ok) {
	ntarget++
	if (ok != "") { nmeasured++; nmet += ok }
	printf("| %s | %s | %s | %s |\n", name, want, measured, verdict(ok))
}
function has(x) { return x != "" }

# ----------------------------------------------------------------- input
/^# / {
	line = substr($0, 3); p = index(line, ": ")
	if (p) { key = substr(line, 1, p - 1); if (!(key in meta)) mkeys[++nmeta] = key; meta[key] = substr(line, p + 2) }
	next
}
$1 == "kind" { for (i = 1; i <= NF; i++) C[$i] = i; next }
function col(name) { return (name in C) ? $(C[name]) : "" }
("note" in C) && NF >= C["note"] {
	k = K($1, $2, $3)
	if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
	if (col("status") == "ok") {
		r = num(col("round")); if (r > nround) nround = r
		V["p50", k, r] = col("p50_ns"); V["mean", k, r] = col("mean_ns"); V["p99", k, r] = col("p99_ns")
		V["mps", k, r] = col("msgs_per_s"); V["gbs", k, r] = col("gbytes_per_s"); V["pre", k, r] = col("preempted")
		if (col("note") != "-") note[k] = col("note")
	} else {
		why[k] = col("status") ": " col("note")
	}
}

END {
	print "# pshm IPC benchmark: results"
	print ""
	print "Generated by `bench/report.sh` from `" dataname "` (one line per case and round)."
	print "Rerun with `make bench`; the method is under *Method* below."
	print ""
	print "## Machine"
	print ""
	for (i = 1; i <= nmeta; i++) if (mkeys[i] != "method") printf("- %s: %s\n", mkeys[i], meta[mkeys[i]])
	print ""
	vm = (meta["cpus online"] ~ /virtual machine/) ? ", in a virtual machine" : ""
	print "All figures come from the CPU named above (" meta["cpu"] vm "): a choice the"
	print "library makes by measurement (see *pshm choices*) may differ on another CPU,"
	print "and so may every ratio; this run says nothing of CPUs it did not run on."
	print ""
	print "## Method in one paragraph"
	print ""
	print (("method" in meta) ? meta["method"] : "unknown") "."
	print "Every figure is the median over the rounds, with the lowest and highest"
	print "round in small type. Every ratio (× pipe, × ring-raw, × two-line ping-pong,"
	print "× busy-poll, ...) is computed inside each round, between cases that ran"
	print "seconds apart, and reported as the median of those per-round ratios with"
	print "their spread (lowest–highest round) in brackets."
	print ""

	# ------------------------------------------------------------ headline
	nh = split("pshm-poll pshm-spin pshm-block unix-seqpacket unix-stream pipe mq iox-poll iox-block", H, " ")
	print "## Headline: 64 B messages"
	print ""
	print "| transport | round trip p50 µs | mean µs | × pipe (p50) | streaming msg/s | × pipe (msg/s) |"
	print "|---|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nh; i++) {
		t = H[i]
		a = cratio("p50", "rtt", t, 64, "rtt", "pipe", 64); ra = rs(a)
		b = cratio("mps", "stream", t, 64, "stream", "pipe", 64); rb = rs(b)
		printf("| %s | %s | %s | %s | %s | %s |\n", t, cell("p50", "rtt", t, 64, "us"),
			cell("mean", "rtt", t, 64, "us"), ra, cell("mps", "stream", t, 64, "mps"), rb)
	}
	print ""
	print "## Headline: 1 MiB messages"
	print ""
	print "| transport | round trip p50 µs | streaming GB/s | × memcpy ring (GB/s) | × pipe (GB/s) |"
	print "|---|---:|---:|---:|---:|"
	nh1 = split("pshm-poll pshm-spin unix-seqpacket unix-stream pipe pipe-1m mq iox-poll ring-memcpy memcpy", H1, " ")
	for (i = 1; i <= nh1; i++) {
		t = H1[i]
		a = cratio("gbs", "stream", t, 1048576, "stream", "ring-memcpy", 1048576); ra = rs(a)
		b = cratio("gbs", "stream", t, 1048576, "stream", "pipe", 1048576); rb = rs(b)
		printf("| %s | %s | %s | %s | %s |\n", t, cell("p50", "rtt", t, 1048576, "us"),
			cell("gbs", "stream", t, 1048576, "gbs"), ra, rb)
	}
	print ""
	print "memcpy ring: `ring-memcpy`, a plain shared-memory ring copying with glibc"
	print "`memcpy()` in and out (the 1 MiB copy target); memcpy: one core copying 1 MiB"
	print "to itself, hot in cache (not an IPC, an upper bound)."
	print ""

	# ---------------------------------------------------------- references
	print "## Round trip against the hardware (64 B)"
	print ""
	print "| case | p50 µs | mean µs | × two-line ping-pong (p50) | × one-line (p50) |"
	print "|---|---:|---:|---:|---:|"
	nr = split("cacheline-1 cacheline-2 twoline-64 cacheline-2-pause ring-raw pshm-poll pshm-spin futex pshm-block", RF, " ")
	for (i = 1; i <= nr; i++) {
		t = RF[i]
		a = cratio("p50", "rtt", t, 64, "rtt", "twoline-64", 64); ra = rs(a)
		b = cratio("p50", "rtt", t, 64, "rtt", "cacheline-1", 64); rb = rs(b)
		printf("| %s | %s | %s | %s | %s |\n", t, cell("p50", "rtt", t, 64, "us"), cell("mean", "rtt", t, 64, "us"), ra, rb)
	}
	print ""
	print "cacheline-1: one shared line; cacheline-2: one line each way; twoline-64: a"
	print "header line and a 64-byte payload line each way (what a 64 B message needs);"
	print "ring-raw: pshm'"'"'s record layout with no checks; futex: the raw sleep/wake round trip."
	print ""

	# ----------------------------------------------------- copy by size
	ncs = split("64 4096 65536 1048576", CS, " ")
	nct = split("pshm-poll pshm-spin unix-seqpacket unix-stream pipe mq iox-poll ring-raw ring-memcpy memcpy pipe-1m pshm-block", CT, " ")
	print "## Copy round trip by size (p50 µs)"
	print ""
	line = "| transport"; sep = "|---"
	for (s = 1; s <= ncs; s++) { line = line " | " sizename(CS[s]); sep = sep "|---:" }
	print line " |"; print sep "|"
	for (i = 1; i <= nct; i++) {
		t = CT[i]; line = "| " t; any = 0
		for (s = 1; s <= ncs; s++) { c = cell("p50", "rtt", t, CS[s], "us"); any += c != ""; line = line " | " c }
		if (any) print line " |"
	}
	print ""
	print "## Copy streaming by size"
	print ""
	print "Messages per second at 64 B, GB/s (10^9 bytes) from 4 KiB."
	print ""
	line = "| transport"; sep = "|---"
	for (s = 1; s <= ncs; s++) { line = line " | " sizename(CS[s]); sep = sep "|---:" }
	print line " |"; print sep "|"
	nct = split("pshm-poll pshm-spin pshm-block pshm-poll-batch unix-seqpacket unix-stream pipe pipe-1m mq iox-poll ring-raw ring-memcpy memcpy", CT, " ")
	for (i = 1; i <= nct; i++) {
		t = CT[i]; line = "| " t; any = 0
		for (s = 1; s <= ncs; s++) {
			c = cell(CS[s] == 64 ? "mps" : "gbs", "stream", t, CS[s], CS[s] == 64 ? "mps" : "gbs")
			any += c != ""; line = line " | " c
		}
		if (any) print line " |"
	}
	print ""

	# ------------------------------------------------------ zero-copy sweep
	nzs = split("64 128 256 512 1024 2048 4096 8192 16384 32768 65528 65536 65544 131072 262144 524288 1048576 2097152 4194304", ZS, " ")
	print "## Zero-copy round trip by size"
	print ""
	print "The sender writes the sequence number in the first and last 8 bytes in"
	print "place, the receiver reads them: the cost of handing over a message of that"
	print "size. × its 64 B: per-round ratio to the same transport at 64 B (target: ≤ 1.5× at every size)."
	print ""
	print "| size | pshm-poll p50 µs | × its 64 B | pshm-block p50 µs | × its 64 B | iox-poll p50 µs | × its 64 B | pshm-poll × iox-poll |"
	print "|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (s = 1; s <= nzs; s++) {
		z = ZS[s]
		a = cratio("p50", "rtt-zc", "pshm-poll", z, "rtt-zc", "pshm-poll", 64); ra = rs(a)
		b = cratio("p50", "rtt-zc", "pshm-block", z, "rtt-zc", "pshm-block", 64); rb = rs(b)
		c = cratio("p50", "rtt-zc", "iox-poll", z, "rtt-zc", "iox-poll", 64); rc = rs(c)
		d = cratio("p50", "rtt-zc", "pshm-poll", z, "rtt-zc", "iox-poll", z); rd = rs(d)
		printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", sizename(z), cell("p50", "rtt-zc", "pshm-poll", z, "us"), ra,
			cell("p50", "rtt-zc", "pshm-block", z, "us"), (b == "" ? "" : rb), cell("p50", "rtt-zc", "iox-poll", z, "us"), rc, rd)
	}
	print ""
	printf("Touching every line (one word per 64-byte line written and read, both ways), 1 MiB: pshm-poll %s µs, iox-poll %s µs.\n\n",
		us(med("p50", "rtt-zc-touch", "pshm-poll", 1048576)), us(med("p50", "rtt-zc-touch", "iox-poll", 1048576)))
	print "## Zero-copy streaming by size"
	print ""
	print "The producer fills the whole message in place; the consumer reads one word of every 64-byte line."
	print ""
	print "| size | pshm-poll msg/s | GB/s | iox-poll msg/s | GB/s | pshm × iox (per round) |"
	print "|---:|---:|---:|---:|---:|---:|"
	for (s = 1; s <= nzs; s++) {
		z = ZS[s]
		a = cratio("mps", "stream-zc", "pshm-poll", z, "stream-zc", "iox-poll", z); ra = rs(a)
		printf("| %s | %s | %s | %s | %s | %s |\n", sizename(z), cell("mps", "stream-zc", "pshm-poll", z, "mps"),
			gbs(med("gbs", "stream-zc", "pshm-poll", z)), cell("mps", "stream-zc", "iox-poll", z, "mps"),
			gbs(med("gbs", "stream-zc", "iox-poll", z)), ra)
	}
	print ""

	# ------------------------------------------------- topics and services
	print "## Topics and services (64 B)"
	print ""
	print "| case | pshm | iceoryx | pshm × iceoryx (per round) |"
	print "|---|---:|---:|---:|"
	for (n = 1; n <= 4; n *= 2) {
		pt = "pshm-topic-" n "sub"; it = "iox-pubsub-" n "sub"
		a = cratio("p50", "rtt-fan", pt, 64, "rtt-fan", it, 64); ra = rs(a)
		sb = n == 1 ? "subscriber" : "subscribers"
		printf("| round trip, %d %s, p50 µs | %s | %s | %s |\n", n, sb,
			has(med("p50", "rtt-fan", pt, 64)) ? cell("p50", "rtt-fan", pt, 64, "us") : why_of("rtt-fan", pt, 64),
			has(med("p50", "rtt-fan", it, 64)) ? cell("p50", "rtt-fan", it, 64, "us") : why_of("rtt-fan", it, 64), ra)
		a = cratio("mps", "stream-fan", pt, 64, "stream-fan", it, 64); ra = rs(a)
		printf("| streaming, %d %s, msg/s published | %s | %s | %s |\n", n, sb,
			has(med("mps", "stream-fan", pt, 64)) ? cell("mps", "stream-fan", pt, 64, "mps") : why_of("stream-fan", pt, 64),
			has(med("mps", "stream-fan", it, 64)) ? cell("mps", "stream-fan", it, 64, "mps") : why_of("stream-fan", it, 64), ra)
	}
	a = cratio("p50", "rtt", "pshm-service", 64, "rtt", "iox-service", 64); ra = rs(a)
	printf("| service call round trip, p50 µs | %s | %s | %s |\n",
		has(med("p50", "rtt", "pshm-service", 64)) ? cell("p50", "rtt", "pshm-service", 64, "us") : why_of("rtt", "pshm-service", 64),
		has(med("p50", "rtt", "iox-service", 64)) ? cell("p50", "rtt", "iox-service", 64, "us") : why_of("rtt", "iox-service", 64), ra)
	a = cratio("p50", "rtt", "pshm-service", 64, "rtt", "unix-service", 64); ra = rs(a)
	printf("\nUNIX socket request/response (SOCK_SEQPACKET, connect/accept): %s µs p50; pshm service × it: %s.\n",
		cell("p50", "rtt", "unix-service", 64, "us"), ra)
	print "pshm topics and services wait as the library does by default (spin, then"
	print "sleep); iceoryx subscribers wait in a WaitSet, its service polls."
	print ""

	# ------------------------------------------------------------- targets
	print "## Targets"
	print ""
	print "Every row of the targets table, from this interleaved run: the measured"
	print "ratio is the median of the per-round ratios (lowest–highest round in"
	print "brackets). \"Best mode\" is, in each round, the best of pshm-poll, pshm-spin"
	print "and pshm-block."
	print ""
	print "| measure | target | measured | verdict |"
	print "|---|---|---|---|"
	best = "pshm-poll pshm-spin pshm-block"
	series("best64", "mps", "stream", best, 64, 0); series("rr64", "mps", "stream", "ring-raw", 64, 0)
	series("pipe64", "mps", "stream", "pipe", 64, 0); series("batch64", "mps", "stream", "pshm-poll-batch", 64, 0)
	a = sratio("best64", "rr64")
	target("64 B streaming, best mode", "≥ ring-raw", rs(a) " ring-raw", has(a) ? a >= 1 : "")
	a = sratio("best64", "pipe64")
	target("64 B streaming, best mode", "≥ 15 × pipe", rs(a) " pipe", has(a) ? a >= 15 : "")
	a = sratio("batch64", "pipe64")
	target("64 B streaming, batch receive", "≥ 30 × pipe", has(a) ? rs(a) " pipe" : why_of("stream", "pshm-poll-batch", 64), has(a) ? a >= 30 : "")
	split("pshm-poll pshm-block", ZT, " ")
	for (j = 1; j <= 2; j++) {
		worst = ""; wsz = ""; wlo = ""; whi = ""
		for (s = 1; s <= nzs; s++) {
			a = cratio("p50", "rtt-zc", ZT[j], ZS[s], "rtt-zc", ZT[j], 64)
			if (has(a) && (worst == "" || a > worst)) { worst = a; wsz = ZS[s]; wlo = R_min; whi = R_max }
		}
		target("zero-copy round trip, every size 64 B – 4 MiB (" ZT[j] ")", "≤ 1.5 × its 64 B figure",
			has(worst) ? "worst size " sizename(wsz) ": " rx(worst) " (" rx(wlo) "–" rx(whi) ")" : "n/a",
			has(worst) ? worst <= 1.5 : "")
	}
	a = cratio("mean", "rtt", "pshm-spin", 64, "rtt", "pshm-poll", 64)
	target("blocking round trip, default spin, peer answering at once", "mean ≤ 1.5 × busy-poll'"'"'s",
		rs(a) " pshm-poll (means " us(med("mean", "rtt", "pshm-spin", 64)) " and " us(med("mean", "rtt", "pshm-poll", 64)) " µs)", has(a) ? a <= 1.5 : "")
	a = cratio("p50", "rtt", "pshm-block", 64, "rtt", "futex", 64); ra = rs(a)
	b = cratio("p50", "rtt", "pshm-block", 64, "rtt", "pipe", 64); rb = rs(b)
	target("blocking round trip, spin 0 (p50)", "≤ 1.15 × raw futex, below pipe", ra " futex; " rb " pipe",
		(has(a) && has(b)) ? (a <= 1.15 && b < 1) : "")
	a = cratio("p50", "rtt", "pshm-poll", 64, "rtt", "twoline-64", 64)
	target("64 B busy-poll round trip (p50)", "≤ 1.3 × a two-line ping-pong", rs(a) " twoline-64", has(a) ? a <= 1.3 : "")
	series("best1m", "gbs", "stream", best, 1048576, 0); series("mc1m", "gbs", "stream", "ring-memcpy", 1048576, 0)
	series("oth1m", "gbs", "stream", "pipe pipe-1m unix-stream unix-seqpacket iox-poll", 1048576, 0)
	a = sratio("best1m", "mc1m"); ra = rs(a)
	b = sratio("best1m", "oth1m"); rb = rs(b)
	target("1 MiB copy streaming", "≥ glibc memcpy-based copy (ring-memcpy)", ra " ring-memcpy", has(a) ? a >= 1 : "")
	target("1 MiB copy streaming", "≥ the best of pipe, UNIX stream, UNIX seqpacket and iceoryx",
		rb " the best of them in each round", has(b) ? b >= 1 : "")
	ins = ("instructions" in meta) ? meta["instructions"] : ""
	target("instructions per 64 B send+receive (callgrind)", "≤ 250",
		has(ins) ? ins : "not measured by ipcbench (bench/instr.sh)", has(ins) ? (num(ins) <= 250) : "")
	printf("\n%d of %d targets measured here are met.\n\n", nmet, nmeasured)
	print "@@NOTES@@"

	# ------------------------------------------------------------ chart
	# Round trip and throughput against size, one series per transport.
	nsr = 0
	addser("rtt-zc", "pshm-poll", "pshm-poll zero-copy", "p50"); addser("rtt", "pshm-poll", "pshm-poll copy", "p50")
	addser("rtt-zc", "iox-poll", "iox-poll zero-copy", "p50"); addser("rtt", "iox-poll", "iox-poll copy", "p50")
	addser("rtt", "unix-seqpacket", "unix-seqpacket", "p50"); addser("rtt", "unix-stream", "unix-stream", "p50")
	addser("rtt", "pipe", "pipe", "p50"); addser("rtt", "mq", "mq", "p50")
	print nsr > (tmp "/rtt.n")
	nsr = 0
	addser("stream-zc", "pshm-poll", "pshm-poll zero-copy", "gbs"); addser("stream", "pshm-poll", "pshm-poll copy", "gbs")
	addser("stream-zc", "iox-poll", "iox-poll zero-copy", "gbs"); addser("stream", "iox-poll", "iox-poll copy", "gbs")
	addser("stream", "unix-seqpacket", "unix-seqpacket", "gbs"); addser("stream", "unix-stream", "unix-stream", "gbs")
	addser("stream", "pipe", "pipe", "gbs"); addser("stream", "mq", "mq", "gbs")
	addser("stream", "ring-memcpy", "ring-memcpy", "gbs")
	print nsr > (tmp "/thr.n")
	print "## Chart"
	print ""
	if (chart != "") print "![round trip and throughput against message size, log scale](" png ")"
	else print "(gnuplot was not found when this report was made: no chart.)"
	print ""
	print "Its data: `" chartdat "` (one block per series: size, median, lowest, highest round)."
	print ""

	# ----------------------------------------------------- README headline
	nhd = split("pshm-poll pshm-block unix-seqpacket unix-stream pipe iox-poll iox-block", HD, " ")
	line = "| |"; sep = "|---|"
	for (i = 1; i <= nhd; i++) { line = line " " HD[i] " |"; sep = sep "---:|" }
	print line > (tmp "/headline.md"); print sep > (tmp "/headline.md")
	hrow("64 B round trip, p50 µs", "p50", "rtt", 64, "us")
	hrow("zero-copy round trip 1 MiB, p50 µs", "p50", "rtt-zc", 1048576, "us")
	hrow("64 B stream, messages/s", "mps", "stream", 64, "mps")
	hrow("1 MiB stream, GB/s", "gbs", "stream", 1048576, "gbs")
	printf("\nTargets met: %d of %d measured (details: [bench/RESULTS.md](bench/RESULTS.md)); %d interleaved rounds of %s on %s.\n",
		nmet, nmeasured, nround, meta["date"], meta["cpu"]) > (tmp "/headline.md")
}
function addser(kind, tp, title, f,    i, k, s, v, n) {
	n = 0
	for (i = 1; i <= nk; i++) {
		split(order[i], q, SUBSEP)
		if (q[1] != kind || q[2] != tp) continue
		v = med(f, kind, tp, q[3])
		if (v == "") continue
		if (!n++) { nsr++; printf("# %s\n", title) > (tmp "/" (f == "p50" ? "rtt" : "thr") ".dat.tmp") ; print title > (tmp "/" (f == "p50" ? "rtt" : "thr") ".titles") }
		printf("%s\t%s\t%s\t%s\n", q[3], (f == "p50" ? v / 1000 : v), (f == "p50" ? S_min / 1000 : S_min), (f == "p50" ? S_max / 1000 : S_max)) > (tmp "/" (f == "p50" ? "rtt" : "thr") ".dat.tmp")
	}
	if (n) printf("\n\n") > (tmp "/" (f == "p50" ? "rtt" : "thr") ".dat.tmp")
}
function hrow(title, f, kind, size, fmt,    i, v, line) {
	line = "| " title
	for (i = 1; i <= nhd; i++) {
		v = med(f, kind, HD[i], size)
		line = line " | " (v == "" ? "—" : fmtv(v, fmt))
	}
	print line " |" > (tmp "/headline.md")
}
' "$data" > "$tmp/tables.md"

if [ -n "$scaling" ]; then
	{ echo "## MPSC scaling (\`make bench-scale\`)"; echo; scaling_table "$scaling"; echo; } >> "$tmp/tables.md"
fi

# The closing note on the targets (bench/targets-notes.md, written by hand
# after a run: why each miss), in place of its marker.
notes="$(dirname "$0")/targets-notes.md"
{
	awk -v notes="$notes" '
		$0 == "@@NOTES@@" {
			if ((getline l < notes) > 0) { print l; while ((getline l < notes) > 0) print l; print "" }
			next
		}
		{ print }' "$tmp/tables.md"
	cat <<'EOF'
## Method

`make bench` builds the library and `build/bench/ipcbench`, runs it, and writes
`bench/results.tsv` (the raw data), this file, `bench/results.png` and
`bench/results.dat` (the chart and its data). `make bench BENCH_QUICK=1` is a
short check (3 rounds of 20 ms runs); `make bench BENCH_OUT=DIR` writes
everything into DIR instead (with `make bench-scale`'s table when it is run
with the same DIR: `make bench-device BENCH_OUT=DIR` does both, sized for a
16-core machine). `make -C bench report` rebuilds this file from the data.
Settings: `BENCH_ROUNDS`, `BENCH_REP_MS`, `BENCH_FILTER` (see bench/Makefile).

- **Rounds.** The benchmark is a list of cases (a transport, a kind of test,
  a message size). Each round runs every case once; the order is rotated
  by a fraction of the list from one round to the next, so no case always
  follows the same neighbour, and no group of cases runs minutes apart
  from another. Each run of a case is a warm-up of a quarter of the run
  time, then one measured run. A figure is the median over the rounds; a
  ratio between two cases is computed in each round and its median
  reported, so a slow minute of the machine moves both sides of it.
- **Processes.** Each run forks fresh processes: side A pinned to CPU 0
  (producer, or the side that starts a round trip), side B to CPU 1
  (`BENCH_CPUS` changes the pair); the further subscribers of a topic case
  take the next CPUs when there are any, else share B's. pshm segments
  are created by the driver and opened by name in each process; pipes,
  socket pairs and message queues are inherited; iceoryx processes each
  start their own runtime against an `iox-roudi` the benchmark starts.
- **Settling.** Before each run the driver times a cache-line ping-pong
  between the two CPUs and, while it is over twice the fastest seen,
  waits (at most `BENCH_SETTLE` seconds): on a virtual machine the two
  vCPUs are sometimes placed far apart for seconds. A run during which
  the machine became unsettled is measured once more; *settling* under
  *Machine* says how often.
- **Round trip** (copy): A stamps a sequence number in the first and last
  8 bytes, sends, and waits for B's echo; one TSC timestamp per round trip
  (its cost is in every sample). p50 and mean of the run.
- **Streaming** (copy): A sends from one patterned buffer, B receives into
  its own and checks the length and both sequence numbers of every
  message, and the whole content of the last. Time from A's first send to
  B's last receive.
- **Zero-copy round trip**: the sender reserves (or loans) the message and
  writes the sequence number at both ends in place; the receiver peeks,
  checks both, answers the same way, and releases. It measures handing
  over a message of that size, not moving its bytes ("1 word per line"
  touches every line both ways). **Zero-copy streaming**: the producer
  fills the whole message in place; the consumer reads one word of every
  64-byte line and releases.
- **References.** cacheline-1, cacheline-2, twoline-64: spinning ping-pongs
  on one shared line, one line each way, and a header line plus a 64-byte
  payload line each way (the least a 64 B message with a header moves).
  futex: wake and wait each way, no spin. ring-raw: pshm's SPSC record
  layout without validation, guard, peer checks or clock. ring-memcpy:
  a plain shared-memory ring copying with glibc `memcpy()` both ways.
  memcpy: one core copying a buffer of the size to itself.
- **Transports.** pshm-poll: `PSHM_WAIT_POLL`; pshm-spin: the library's
  default (spin, then sleep); pshm-block: spin 0 (sleep at once);
  pshm-poll-batch: pshm-poll with `pshm_chan_recv_batch()` (up to 64 at a
  time) handed out one by one. pshm rings: max(1 MiB, 4 × the message).
  pipe (64 KiB), pipe-1m (`F_SETPIPE_SZ` to fs.pipe-max-size),
  unix-stream and unix-seqpacket (socket pairs, buffers raised for large
  messages), mq (10 deep; sizes the limits refuse are skipped and said).
  iceoryx (C binding): WAIT_FOR_CONSUMER and BLOCK_PRODUCER (nothing
  dropped), no history; iox-poll polls, iox-block waits in a WaitSet.
  Topics and services: see their section.
- **Not measured here:** instructions per message (callgrind: bench/instr.sh),
  many producers (`make bench-scale`), cold caches, several sockets.
  Nothing here is a test: no duration is asserted anywhere.

## Reading these results

- **Other load.** The workers are pinned, not isolated: another process
  on one of the two CPUs stalls a busy-polling peer until the other runs
  again. The *preempted* counts are in the raw data; compare runs made on
  a quiet machine.
- **Virtual machines.** Waking a sleeping vCPU may exit to the host: every
  sleep/wake figure (futex, pipe, sockets, mq, blocking modes) is then
  several times what bare metal gives, while cache-line figures are not
  affected. Ratios within a round stay valid.
- **Clock resolution.** Sub-microsecond p50s are multiples of the clock's
  resolution (*clock* above); the means are not quantised.

## Python

The Python package's benchmark has its own page, written by
`python/bench.py`: [python.md](python.md).
EOF
} > "$md.tmp"
mv "$md.tmp" "$md"
echo "report: wrote $md"

if [ -n "$readme" ] && grep -q '^<!-- bench:begin' "$readme" && grep -q '^<!-- bench:end' "$readme"; then
	awk -v head="$tmp/headline.md" '
		/^<!-- bench:begin/ { print; while ((getline l < head) > 0) print l; skip = 1; next }
		/^<!-- bench:end/ { skip = 0 }
		!skip' "$readme" > "$readme.tmp" && mv "$readme.tmp" "$readme"
	echo "report: updated the headline table in $readme"
fi

# The chart's data, kept beside it: round trips then throughputs.
{
	echo "# round trip p50 (µs) against message size (bytes): size, median, lowest, highest round"
	cat "$tmp/rtt.dat.tmp" 2>/dev/null || true
	echo "# throughput (GB/s) against message size (bytes): size, median, lowest, highest round"
	cat "$tmp/thr.dat.tmp" 2>/dev/null || true
} > "$chartdat"

if [ -z "$chart" ]; then
	echo "report: gnuplot not found: no chart (install gnuplot-nox, or make bench-deps)"
	exit 0
fi
if [ ! -s "$tmp/rtt.dat.tmp" ] || [ ! -s "$tmp/thr.dat.tmp" ]; then
	echo "report: no round trips or no streams in $data: no chart"
	exit 0
fi
# One plot clause per series, from the titles the awk program wrote.
plots() { # file titles
	i=0; sep=""
	while IFS= read -r t; do
		printf '%s"%s" index %d using 1:2 with linespoints title "%s"' "$sep" "$1" "$i" "$t"
		sep=", "; i=$((i + 1))
	done < "$2"
}
term="pngcairo size 1400,1100 font 'sans,10'"
gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || term="png size 1400,1100"
cpu=$(sed -n 's/^# cpu: //p' "$data" | head -n 1)
gnuplot <<EOF || { echo "report: gnuplot failed: no chart" >&2; rm -f "$png.tmp"; exit 0; }
set terminal $term
set output "$png.tmp"
set datafile separator "\t"
set multiplot layout 2,1 title "pshm IPC benchmark: $cpu (medians of interleaved rounds)" noenhanced
set logscale xy
set grid xtics ytics mxtics mytics
set key outside right top noenhanced
set xlabel "message size (bytes)"
set xtics ("64" 64, "256" 256, "1K" 1024, "4K" 4096, "16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576, "4M" 4194304)
set title "round trip, p50 (µs, log scale)"
set ylabel "µs"
plot $(plots "$tmp/rtt.dat.tmp" "$tmp/rtt.titles")
set title "one-way streaming throughput (GB/s, log scale)"
set ylabel "GB/s"
plot $(plots "$tmp/thr.dat.tmp" "$tmp/thr.titles")
unset multiplot
EOF
mv "$png.tmp" "$png"
echo "report: wrote $png ($chart)"
