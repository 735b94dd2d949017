#!/bin/sh
# Fails (and prints the warnings) if rendering the built man page $1 with
# man(1) or groff -ww makes any warning.
page="$1"
[ -f "$page" ] || { echo "no man page at $page" >&2; exit 1; }
status=0
out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
if [ -n "$out" ]; then
  printf 'man -l %s warned:\n%s\n' "$page" "$out"
  status=1
fi
out=$(LC_ALL=C.UTF-8 groff -k -ww -man -Tutf8 "$page" 2>&1 >/dev/null)
if [ -n "$out" ]; then
  printf 'groff -k -ww -man %s warned:\n%s\n' "$page" "$out"
  status=1
fi
exit $status
