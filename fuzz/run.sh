#!/usr/bin/env bash
# Builds every fuzz target, then runs each for SECONDS (default 30), one after the other.
#
#   bash fuzz/run.sh [SECONDS]        # CI calls it with 20
#   TARGETS="rtp_h264 sdp" bash fuzz/run.sh 600
#
# The committed seeds (corpus/<target>/) are read, never written: new inputs go to
# work/<target>/ (git-ignored), which later runs reuse. A crash stops the script with a
# non-zero status and leaves the input under artifacts/<target>/.
#
# cargo-fuzz needs nightly-only rustc flags; RUSTC_BOOTSTRAP=1 unlocks them on the stable
# toolchain (install the tool with `cargo install cargo-fuzz --locked`).
set -euo pipefail

SECS="${1:-30}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
ALL="rtp_h264 h264_params fmp4_reader onvif_xml sdp capture rtsp rtp_h265 h265_params aac_au_headers onvif_replay_ext"
TARGETS="${TARGETS:-$ALL}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
    exit 2
fi

start=$(date +%s)
cargo fuzz build -O
built=$(date +%s)
echo "fuzz/run.sh: built in $((built - start)) s"

for t in $TARGETS; do
    mkdir -p "work/$t"
    echo "fuzz/run.sh: $t for ${SECS} s"
    # -timeout: one input taking over 10 s is a hang (a finding); -max_len: interleaved
    # frames and fMP4 boxes are interesting up to 64 KiB; -rss_limit_mb: a parser that
    # allocates without bound is a finding too.
    log="work/$t.log"
    if ! cargo fuzz run -O "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$SECS" -timeout=10 -max_len=65536 -rss_limit_mb=1024 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz/run.sh: $t FAILED (input under artifacts/$t/, log $log)" >&2
        exit 1
    fi
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units)' "$log" || tail -n 2 "$log"
done
echo "fuzz/run.sh: all targets passed; total $(( $(date +%s) - start )) s"
