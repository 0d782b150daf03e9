#!/usr/bin/env bash
# check-standalone: the repository documents itself. It fails when a tracked file
#  1. points outside the repository to notes a clone does not have, or
#  2. points to a section of docs/*.md or DESIGN.md ('docs/x.md, "Section"') that does not exist, or
#  3. (README.md, docs/*.md) links to a relative path that does not exist.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
fail=0

# 1. Notes outside the repository. (This script names the patterns, so it is excluded.)
if out=$(git grep -nE '\.\./shared|shared/|RELIABILITY\.md|BENCHMARK\.md|TOOLCHAIN\.md' -- ':!scripts/check-standalone.sh'); then
  echo "check-standalone: these lines point to notes outside the repository; say it here instead:"
  echo "$out"
  fail=1
fi

# 2. Section pointers: docs/NAME.md, "Section" and DESIGN.md, "Section" must name a heading.
while IFS= read -r hit; do
  file=${hit%%:*}; rest=${hit#*:}; loc="$file:${rest%%:*}"; rest=${rest#*:}
  while [[ $rest =~ ((docs/[a-z-]+\.md)|(DESIGN\.md)),\ \"([^\"]+)\" ]]; do
    doc=${BASH_REMATCH[1]}; section=${BASH_REMATCH[4]}
    rest=${rest#*"${BASH_REMATCH[0]}"}
    if [ ! -f "$doc" ]; then
      echo "check-standalone: $loc points to $doc, which does not exist"; fail=1
    elif ! grep -qiF -- "$section" <(grep -E '^#+ ' "$doc"); then
      echo "check-standalone: $loc points to section \"$section\" of $doc, which has no such heading"; fail=1
    fi
  done
done < <(git grep -nE '(docs/[a-z-]+\.md|DESIGN\.md), "' -- ':!scripts/check-standalone.sh' || true)

# 3. Relative links in the top-level README and the docs.
for md in README.md docs/*.md; do
  [ -f "$md" ] || continue
  dir=$(dirname "$md")
  while IFS= read -r target; do
    path=${target%%#*}
    [ -z "$path" ] && continue
    if [ ! -e "$dir/$path" ]; then
      echo "check-standalone: $md links to $target, which does not exist"; fail=1
    fi
  done < <(grep -oE '\]\([^)[:space:]]+\)' "$md" | sed -E 's/^\]\((.*)\)$/\1/' | grep -vE '^(https?:|mailto:|#)' || true)
done

if [ "$fail" = 0 ]; then echo "check-standalone: ok"; fi
exit "$fail"
