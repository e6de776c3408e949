#!/usr/bin/env bash
# Regenerate every pinned R reference value under tests/reference/.
#
# Installs R and the reference packages from Debian (bookworm: R 4.2.2, lme4 1.1-31,
# lmerTest 3.1-3, metafor 3.8-1, metadat 1.2-0, mlmRev 1.0-8, performance 0.10.2, emmeans 1.8.4, lavaan 0.6-14, psych 2.2.9,
# glmmTMB 1.1.5, pROC 1.18.0, ...), then runs each R script in the subfolders. Every script writes its JSON next to itself and records the R and package
# versions it used. CI never needs R: the JSON files are committed.
#
# Usage: bash tests/reference/regenerate.sh [subfolder ...]   (default: all subfolders)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# Debian packages the reference scripts need (one per line, sorted).
packages=(
    r-base-core
    r-cran-broom.mixed
    r-cran-clubsandwich
    r-cran-emmeans
    r-cran-glmmtmb
    r-cran-insight
    r-cran-jsonlite
    r-cran-lavaan
    r-cran-lme4
    r-cran-lmertest
    r-cran-mass
    r-cran-metadat
    r-cran-metafor
    r-cran-mlmrev
    r-cran-nlme
    r-cran-numderiv
    r-cran-pbkrtest
    r-cran-performance
    r-cran-plm
    r-cran-proc
    r-cran-psych
)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq "${packages[@]}"
fi
dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
    for d in "$here"/*/; do dirs+=("$(basename "$d")"); done
fi
for d in "${dirs[@]}"; do
    for script in "$here/$d"/*.R; do
        [ -e "$script" ] || continue
        echo "== $script"
        (cd "$here/$d" && Rscript --vanilla "$(basename "$script")")
    done
done
