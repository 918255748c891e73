#!/bin/sh
# Rewrites expected/NAME.txt for every line of cases.tsv with what tcpstat prints.
set -eu
cd "$(dirname "$0")"
command -v tcpstat >/dev/null || { echo "tcpstat is not installed (apt-get install tcpstat)" >&2; exit 3; }
mkdir -p expected
grep -v '^#' cases.tsv | while IFS="$(printf '\t')" read -r name capture interval options format; do
    set -- -r "$capture"
    [ "$options" = - ] || set -- "$@" $options
    [ "$format" = - ] || set -- "$@" -o "$format"
    tcpstat "$@" "$interval" > "expected/$name.txt"
done
