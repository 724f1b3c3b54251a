#!/bin/bash
# Regenerates the embedded `kjv-mini` corpus (data/kjv-mini/{train,valid,test}.txt.gz) from
# Debian's King James Bible (packages bible-kjv + bible-kjv-text; public domain text).
# Usage: scripts/make-kjv-mini.sh [OUT_DIR]   (default: data/kjv-mini next to this script)
#
# Validation and test are whole books absent from training, chosen without close parallels
# in the training books (no Mark next to Matthew/Luke, no Chronicles next to Samuel/Kings),
# so their perplexity measures generalization rather than recall. Each verse becomes one line
# with its reference ("Ge1:1 ") removed; a blank line separates chapters. Output is
# deterministic: `bible` is a fixed text, and gzip -n stores no name or timestamp.
set -euo pipefail
export LC_ALL=C
out=${1:-$(dirname "$0")/../data/kjv-mini}
command -v bible >/dev/null || {
  echo "needs the 'bible' program: apt-get install bible-kjv" >&2
  exit 1
}

TRAIN_BOOKS=(Genesis Exodus Judges Ruth 1Samuel 2Samuel 1Kings Esther Matthew Luke)
VALID_BOOKS=(Joshua)
TEST_BOOKS=(John)

# One book as prose: `bible -f` prints "Ref<chapter>:<verse> text" per verse; chapter
# numbers past the end are clamped by `bible` to the book's last verse.
book() {
  bible -f "${1}1:1-${1}999:999" | awk '
    {
      if (!match($0, /^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ /)) {
        print "unexpected line: " $0 > "/dev/stderr"; exit 1
      }
      ref = substr($0, 1, RLENGTH - 1)
      text = substr($0, RLENGTH + 1)
      sub(/[ \t]+$/, "", text)
      sub(/:[0-9]+$/, "", ref)
      chapter = ref
      sub(/^[0-9]?[A-Za-z]+/, "", chapter)
      if (NR > 1 && chapter != last) print ""
      last = chapter
      print text
    }'
}

# Books joined by a blank line, like chapters.
split() {
  local file=$1 first=1
  shift
  for b in "$@"; do
    [ $first = 1 ] || echo
    first=0
    book "$b"
  done >"$file"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
split "$tmp/train.txt" "${TRAIN_BOOKS[@]}"
split "$tmp/valid.txt" "${VALID_BOOKS[@]}"
split "$tmp/test.txt" "${TEST_BOOKS[@]}"
mkdir -p "$out"
for s in train valid test; do
  gzip -n -9 -c "$tmp/$s.txt" >"$out/$s.txt.gz"
  printf '%-6s %8d bytes %8d chars %6d lines -> %s (%d bytes gzip)\n' "$s" \
    "$(wc -c <"$tmp/$s.txt")" "$(wc -m <"$tmp/$s.txt")" "$(wc -l <"$tmp/$s.txt")" \
    "$out/$s.txt.gz" "$(wc -c <"$out/$s.txt.gz")"
done
