#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/bridge.sh — throughput of `pshm bridge` on loopback, end to end
# (channel -> bridge send -> TCP -> bridge recv -> channel), against the
# same data over a plain NNG push/pull pair (one NNG message per message)
# and over socat (a raw TCP byte stream: no message boundaries at all).
# Not part of make check. As root (a private /dev/shm in a mount
# namespace); needs NNG and socat. Prints one line per case.
#
#   bench/bridge.sh                    64 B and 1 MiB messages
#   SMALL_N=2000000 BIG_N=2000 bench/bridge.sh   (NNG 64 B: a tenth of SMALL_N)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILDDIR:-build}
SMALL_N=${SMALL_N:-2000000}
BIG_N=${BIG_N:-2000}

if [ "${1:-}" != --inside ]; then
	make -s lib cli
	mkdir -p "$B/bench-bridge"
	cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -o "$B/bench-bridge/bridge_load" \
		bench/bridge_load.c "$B/lib/libpshm.a" -lnng -pthread
	exec unshare -m "$0" --inside
fi
mount --make-rprivate /
mount -t tmpfs -o size=1g,mode=1777 tmpfs /dev/shm
P=$B/bin/pshm
L=$B/bench-bridge/bridge_load
port=$((20000 + $$ % 20000))
log=$(mktemp /tmp/pshm-bench-bridge-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -f "$log"' EXIT

# bridge SIZE COUNT RING: prints "msgs/s MB/s"
bridge() {
	local size=$1 n=$2 ring=$3 max=$(($1 > 1024 ? $1 : 1024))
	port=$((port + 1))
	"$P" chan create a --size "$ring" --max-msg "$max"
	"$P" chan create b --size "$ring" --max-msg "$max"
	"$P" bridge recv "tcp://127.0.0.1:$port" b 2>>"$log" & local r=$!
	"$P" bridge send a "tcp://127.0.0.1:$port" 2>>"$log" & local s=$!
	"$L" consume b "$n" > "$log.out" & local c=$!
	"$L" produce a "$n" "$size"
	wait $c
	kill $s $r; wait $s $r || true
	"$P" rm a b b.bridge
	sed -n 's/^RESULT //p' "$log.out"
}

nng() {
	local size=$1 n=$2
	port=$((port + 1))
	"$L" pull "tcp://127.0.0.1:$port" "$n" > "$log.out" & local c=$!
	until grep -q READY "$log.out" 2>/dev/null; do sleep 0.05; done
	"$L" push "tcp://127.0.0.1:$port" "$n" "$size"
	wait $c
	sed -n 's/^RESULT //p' "$log.out"
}

# socat: the same bytes as one stream (n * size bytes), timed at the reader.
tcp() {
	local size=$1 n=$2 bytes=$(($1 * $2))
	port=$((port + 1))
	socat -u -b 262144 "TCP-LISTEN:$port,reuseaddr" OPEN:/dev/null & local c=$!
	sleep 0.2
	local t0=$(date +%s.%N)
	head -c "$bytes" /dev/zero | socat -u -b 262144 - "TCP:127.0.0.1:$port"
	wait $c
	local t1=$(date +%s.%N)
	awk -v b="$bytes" -v n="$n" -v t="$(echo "$t1 - $t0" | bc)" \
		'BEGIN { printf "%.0f %.1f\n", n / t, b / t / 1e6 }'
}

row() { printf '%-28s %12s msg/s %10s MB/s\n' "$1" $2 $3; }
echo "loopback, $(nproc) CPUs; msgs/s and MB/s of payload, measured at the receiver"
row "bridge 64 B" $(bridge 64 "$SMALL_N" 4M)
row "nng push/pull 64 B" $(nng 64 $((SMALL_N / 10)))
row "socat/TCP 64 B" $(tcp 64 "$SMALL_N")
row "bridge 1 MiB" $(bridge 1048576 "$BIG_N" 16M)
row "nng push/pull 1 MiB" $(nng 1048576 "$BIG_N")
row "socat/TCP 1 MiB" $(tcp 1048576 "$BIG_N")
