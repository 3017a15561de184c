#!/bin/sh
# Writes a help2man include section for a subcommand from its own --help,
# so the man page documents `TOOL SUB` with the text the binary prints.
# Usage: subcommand-h2m.sh TOOL SUB SECTION-NAME OUT
set -e
tool=$1 sub=$2 name=$3 out=$4
{
  printf '[%s]\n.nf\n' "$name"
  # roff: a backslash is \e; a line starting with . or ' is escaped.
  "$tool" "$sub" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
  printf '.fi\n'
} >"$out.tmp"
mv "$out.tmp" "$out"
