#!/usr/bin/env bash
# `native crashtest`'s mount against the machine's own file system, in one run (BENCHMARKS.md,
# "crashtest"): the same Python loop of 4 KiB appends, each fsynced, on the mount (no disk time)
# and in a directory of $TMPDIR, three rounds alternating; then the crash points per second of
# scenarios/fuse/sqlite-wal.scn. Needs root or /dev/fuse access, fuse3, python3 and sqlite3.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p native
native=target/release/native
loop='import os, time
fd = os.open("log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
t = time.monotonic()
for i in range(2000):
    os.write(fd, b"x" * 4096)
    os.fsync(fd)
print("appends+fsyncs per s %.0f" % (2000 / (time.monotonic() - t)))'
for round in 1 2 3; do
  mount=$(timeout 300 "$native" crashtest benches/fuse/overhead.scn --point end | grep -o 'per s [0-9]*' | cut -d' ' -f3)
  dir=$(mktemp -d)
  machine=$(cd "$dir" && python3 -c "$loop" | grep -o 'per s [0-9]*' | cut -d' ' -f3)
  rm -rf "$dir"
  echo "round $round: mount $mount/s, machine $machine/s, mount/machine $(python3 -c "print(f'{$mount / $machine:.2f}')")"
done
start=$(date +%s.%N)
out=$(timeout 600 "$native" crashtest scenarios/fuse/sqlite-wal.scn | tail -n 1)
end=$(date +%s.%N)
points=$(echo "$out" | cut -d' ' -f3)
echo "sqlite-wal.scn: $points crash points in $(python3 -c "print(f'{$end - $start:.1f}')") s ($(python3 -c "print(f'{$points / ($end - $start):.1f}')") per s): $out"
