#!/bin/sh
# Count the instructions wharfd executes per ingested message, with
# Callgrind, under bench_ingest. Unlike CPU time, the count does not change
# with the load that other programs put on the machine, so it compares two
# builds on a busy machine.
#
# Usage: bench/bench_ingest_callgrind.sh BUILD_DIR SOURCE_CSV [MESSAGES [WHARFD]]
#   BUILD_DIR   a build tree configured with -DWHARF_BUILD_BENCH=ON
#   SOURCE_CSV  AdventureWorks' ProspectiveBuyer.csv, as for bench_ingest
#   MESSAGES    identify messages to send, 20000 by default
#   WHARFD      the wharfd to measure, BUILD_DIR/wharfd by default
#
# Prints the instructions per message of wharfd's loop thread and of all
# its threads. The counts include starting and stopping wharfd, about 1% of
# the total at 20,000 messages.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SOURCE_CSV [MESSAGES [WHARFD]]" >&2
    exit 2
fi
build_dir=$1
source_csv=$2
messages=${3:-20000}
wharfd=${4:-$build_dir/wharfd}

if ! command -v valgrind > /dev/null; then
    echo "$0: valgrind is not installed; install the Debian package valgrind" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-ingest-callgrind-XXXXXX")
trap 'rm -rf "$work"' EXIT

# bench_ingest starts this wrapper in place of wharfd. valgrind passes the
# SIGTERM that stops wharfd on to it.
cat > "$work/wharfd" << EOF
#!/bin/sh
exec valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/callgrind.out" "$wharfd" "\$@"
EOF
chmod +x "$work/wharfd"

"$build_dir/bench/bench_ingest" --source "$source_csv" --messages "$messages" --runs 1 \
    --memory-users 0 --wharfd "$work/wharfd" > "$work/bench.txt" 2>&1 || {
    cat "$work/bench.txt" >&2
    exit 1
}

# Callgrind writes one file per thread, and thread 1 is the loop thread.
awk -v messages="$messages" '
    /^summary:/ {
        if (FILENAME ~ /-01$/)
            loop += $2
        all += $2
    }
    END {
        printf "wharfd: %.0f instructions per message on the loop thread, %.0f on all threads (%d messages)\n",
            loop / messages, all / messages, messages
    }' "$work"/callgrind.out-*
