#!/usr/bin/env bash
# Python tools that validate the rendered SIEM rules (tests/render.rs):
#   eql       - Elastic's EQL parser: the rendered query must parse (Elasticsearch syntax).
#   sigma-cli - `sigma check` runs pySigma's parser and validators on the rendered Sigma rules.
# Creates a venv at ${SHAREEXEC_VENV:-target/pyvenv} (relative paths: from the repository root),
# installs the pinned versions once, and prints the venv's python path on stdout (everything
# else goes to stderr). Idempotent: a venv that already has exactly these pins is reused.
# The venv is made from ${SHAREEXEC_BASE_PYTHON:-python3} (3.10 or newer).
# Usage: export SHAREEXEC_PYTHON="$(bash .ci/python-tools.sh)"
# (pySigma 1.5.1: sigma-cli 3.1.0 requires pySigma < 2.)
set -euo pipefail
cd "$(dirname "$0")/.."

EQL_VERSION=1.0.1
SIGMA_CLI_VERSION=3.1.0
PYSIGMA_VERSION=1.5.1
PINS="eql==$EQL_VERSION sigma-cli==$SIGMA_CLI_VERSION pySigma==$PYSIGMA_VERSION"

venv="${SHAREEXEC_VENV:-target/pyvenv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
python="$venv/bin/python"
stamp="$venv/.shareexec-python-tools"

if [ -x "$python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$PINS" ] \
  && "$python" -c 'import eql, sigma' >/dev/null 2>&1 && [ -x "$venv/bin/sigma" ]; then
  echo "python tools: reusing $venv ($PINS)" >&2
else
  base="${SHAREEXEC_BASE_PYTHON:-python3}"
  if [ -e "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
    echo "python tools: refusing to replace $venv: it exists and is not a venv" >&2
    exit 1
  fi
  echo "python tools: creating $venv with $("$base" --version 2>&1) ($PINS)" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$base" -m venv "$venv"
  # shellcheck disable=SC2086 # PINS is a list of requirement specifiers
  "$python" -m pip install --disable-pip-version-check --no-input --quiet $PINS >&2
  "$python" -c 'import eql, sigma' >&2
  "$venv/bin/sigma" --help >/dev/null
  printf '%s' "$PINS" >"$stamp"
fi
printf '%s\n' "$python"
