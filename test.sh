#!/usr/bin/env bash
# FlowMesh's one test command: installs what is missing (Debian packages), builds
# everything (the BPF objects included) and runs every test: unit tests, and
# integration tests on the real kernel, with real sockets, namespaces and processes.
#
#   ./test.sh                 everything
#   ./test.sh --filter EXPR   only the tests matching a `dotnet test --filter` expression
#
# The kernel tests need root; run as a user with sudo and it asks for it.
set -euo pipefail
cd "$(dirname "$0")"

if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    echo "test.sh: the kernel tests need root; re-running with sudo" >&2
    exec sudo --preserve-env=PATH,DOTNET_ROOT,CI "$0" "$@"
  fi
  echo "test.sh: the kernel tests need root (or CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN): run as root" >&2
  exit 1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

scripts/install-deps.sh --quiet

filter=()
if [[ "${1:-}" == "--filter" && -n "${2:-}" ]]; then
  filter=(--filter "$2")
fi

results=TestResults
rm -rf "$results"
dotnet build FlowMesh.sln -c Debug -nologo -clp:ErrorsOnly
status=0
dotnet test FlowMesh.sln -c Debug --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" "${filter[@]}" || status=$?

# One closing line over every test assembly, read from the TRX reports.
passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [[ -e "$trx" ]] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${t:-0} - ${e:-0}))
done
if ((passed + failed == 0)); then
  echo "test.sh: no test ran" >&2
  exit 1
fi
# The failures again at the very end, where a reader of a long log (or its tail) looks.
if ((failed > 0)); then
  echo "Failed tests:"
  for trx in "$results"/*.trx; do
    [[ -e "$trx" ]] || continue
    grep -o 'testName="[^"]*"[^>]*outcome="Failed"' "$trx" | sed 's/testName="\([^"]*\)".*/  \1/' || true
    grep -A2 '<Message>' "$trx" | head -c 3000 | sed 's/^/    /' || true
  done
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
