#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh — a narrated walk through the course lab (lab/README.md), then a
# glimpse of the pshm command. Run by `make demo` after building everything.
# Non-interactive; removes the segment it creates, even on failure or Ctrl-C,
# and never touches a /dev/shm/posix_shm that was there before.
# The command is $PSHM if set (make passes it), else $BUILDDIR/bin/pshm
# (BUILDDIR defaults to build), relative to this directory.
set -euo pipefail
cd "$(dirname "$0")"
pshm_bin=${PSHM:-${BUILDDIR:-build}/bin/pshm}

for p in lab/write lab/read lab/read-write "$pshm_bin"; do
	[ -x "$p" ] || { echo "demo: $p is missing; run 'make' first" >&2; exit 1; }
done

# The lab's programs use /posix_shm when given no name, as the lab text
# does. If that segment already exists (a student's own work), keep it
# intact: use a name of our own and pass it to every program.
name=/posix_shm
arg=
if [ -e /dev/shm/posix_shm ]; then
	name=/pshm-demo-$$
	arg=" $name"
	echo "note: /dev/shm/posix_shm already exists and is left alone;"
	echo "      this demo uses $name instead."
fi
file=/dev/shm$name
[ ! -e "$file" ] || { echo "demo: $file exists, not touching it" >&2; exit 1; }

box=pshm-demo-box-$$
chan=pshm-demo-chan-$$
cleanup() { rm -f "$file" "/dev/shm/$box" "/dev/shm/$chan"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd lab
b='' n=''
[ -t 1 ] && b=$'\033[1m' n=$'\033[0m'   # bold titles on a terminal only
say() { printf '\n%s== %s%s\n' "$b" "$*" "$n"; }
run() { printf '$ %s\n' "$*"; eval "$*"; }

say "1. The lab's programs are built (make did it: write, read, read-write)."
run "ls -l write read read-write"

say "2. ./write creates the segment (shm_open), sizes it (ftruncate), maps it (mmap)
   and copies a message into it. The segment outlives the program."
run "./write$arg"

say "In /dev/shm there is a file named after the segment: a segment is a file on
   tmpfs. ls -l shows the size ftruncate gave it; du shows the memory really
   used: tmpfs allocates a page when it is first touched through a mapping,
   read or write (a sparse file); cat and read(2) allocate nothing."
run "ls -l $file"
run "du -h $file"

say "cat prints the message, then NUL bytes up to the size (invisible on a
   terminal); od -c makes them visible ('*' means: same line repeated)."
run "cat $file | od -c"

say "3. ./read opens the segment read-only, takes its size from fstat, maps it and
   prints the text, never past the end of the segment."
run "./read$arg"

say "4. The hack: whoever may write the file may change the data, behind the
   programs' backs. dd overwrites the first 6 bytes ('Hello ') in place."
run "echo -n \"HACKED\" | dd of=$file bs=1 seek=0 conv=notrunc"
run "cat $file | tr -d '\\000'; echo"
say "./read has no way to notice: it prints what is there now."
run "./read$arg"

say "Clean up: ./read --unlink removes the segment after reading it
   (rm $file would do the same)."
run "./read --unlink$arg"
run "ls $file 2>&1 || true"

say "5. Anonymous shared memory: mmap(MAP_SHARED | MAP_ANONYMOUS), no file, shared
   with a child after fork(), synchronised by a process-shared pthread mutex
   and condition variable. A MAP_PRIVATE mapping, by contrast, is not shared."
run "./read-write"

cd ..
pshm=$pshm_bin
say "6. Beyond the lab: the pshm command. Write the message again and look at it:
   pshm stat describes the segment, pshm dump shows its bytes (hexdump -C style)."
run "lab/write$arg >/dev/null"
run "$pshm stat $name"
run "$pshm dump -n 64 $name"
run "$pshm rm $name"

say "7. A box keeps a value behind a header with a CRC-32C: the same dd hack is
   detected, and pshm get refuses to return bytes it cannot verify."
run "$pshm put $box 'Hello from a box'"
run "$pshm get $box; echo"
run "echo -n HACKED | dd of=/dev/shm/$box bs=1 seek=64 conv=notrunc status=none"
run "$pshm get $box || echo \"(exit status \$?: the change was detected)\""
run "$pshm rm $box"

say "8. A channel carries messages between unrelated processes, through a named
   segment, with no daemon: here two shell pipelines talk."
run "$pshm chan create $chan --size 64K"
run "printf 'one\\ntwo\\nthree\\n' | $pshm send $chan -"
run "$pshm recv $chan -n 3"
run "$pshm rm $chan"

say "The answers to the lab's questions, in French: lab/README.md.
   Everything else: README.md, pshm(1), pshm(7); make check runs the tests."
run "$pshm --version"
