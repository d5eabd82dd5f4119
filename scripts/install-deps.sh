#!/usr/bin/env bash
# Installs, idempotently, the Debian packages FlowMesh needs to build, test and run.
# Usage: scripts/install-deps.sh [--quiet]
# Packages already present are left alone; apt is only touched when something is missing.
set -euo pipefail

PACKAGES=(
  clang llvm libbpf-dev bpftool make gcc libc6-dev   # BPF objects and the layout probe
  iproute2 nftables                                 # network namespaces, veth, NAT in tests
  redis-server redis-tools                          # cluster state (started by tests/scripts, never as a service); run-local's workload
  curl jq python3                                   # run-local.sh: workloads and reading the gateway
  procps                                            # sysctl (the NAT test)
  tcpdump                                           # the wire-fidelity test: the packets on both ends are the truth sessions are held to
  chromium                                          # headless browser for the web view test
  golang-go binutils                                # Go workloads (run-local, runtime tests: built from source); readelf, the tests' truth for Go binaries
  prometheus                                        # the metrics test: a real Prometheus scrapes the gateway (started by the test, never as a service)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  [[ "${1:-}" == "--quiet" ]] || echo "install-deps: all packages present"
else
  if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "install-deps: missing packages (${missing[*]}) and not root; run as root or install them" >&2
      exit 1
    fi
  else
    SUDO=
  fi
  echo "install-deps: installing ${missing[*]} (apt-get; this can take a few minutes)"
  export DEBIAN_FRONTEND=noninteractive
  # Without systemd (a container) redis-server's postinst would start a system-wide Redis on
  # 6379; a policy-rc.d that says "no" keeps every service stopped during the install.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy" && made_policy=1
  fi
  status=0
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || status=$?
  ((made_policy)) && $SUDO rm -f "$policy"
  ((status == 0)) || { echo "install-deps: apt-get failed ($status)" >&2; exit "$status"; }
  # The Debian package also enables a system Redis on 6379 for the next boot; FlowMesh
  # starts its own instances, so turn it off (only when this script installed it).
  if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null &&
    systemctl is-enabled --quiet redis-server 2>/dev/null; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
fi

if ! command -v dotnet >/dev/null; then
  echo "install-deps: the .NET 10 SDK is required (https://learn.microsoft.com/dotnet/core/install/linux-debian)" >&2
  exit 1
fi
