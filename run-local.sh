#!/usr/bin/env bash
# FlowMesh's local fleet: several "hosts" on one machine, each a network namespace on a
# shared bridge, a Node per host, the Aggregator with its gateway, a private Redis, and
# real traffic between the hosts. Everything it makes lives in names and directories of
# its own and is removed on Ctrl-C, at the end of --duration, or when the start fails.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo ./run-local.sh [options]

Runs a FlowMesh fleet on this machine: N hosts (network namespaces on a bridge), a Node
on each with trace tags on, the Aggregator with the gateway (HTTP API and web view), a
private redis-server, and real traffic between the hosts: an HTTP server and a Redis on
two hosts, a Go server (built from workloads/goserver) and a .NET server, clients on the
others with keep-alive and with connection churn, a connect to a closed port and an
abortive close. Prints where to look, then one summary line every few seconds. Ctrl-C,
or the end of --duration, removes everything it made.

Options:
  --hosts N            hosts to simulate, 2 to 16 (default 3)
  --duration SECONDS   stop this long after the fleet is up (default, or 0: run until Ctrl-C)
  --port P             the gateway's port on 127.0.0.1 (default 8080)
  --no-traffic         start the fleet without workloads; bring your own with
                       sudo ip netns exec fm-local-host-1 COMMAND
  --interval SECONDS   seconds between summary lines (default 5)
  --no-build           run the last build instead of building first
  --fault KIND:HOST[:VALUE]
                       inject a fault on one host (repeatable), e.g. --fault loss:host-2:5
                         cpu          a CPU hog in the host's namespace (two spinning
                                      processes per CPU): its servers' run-queue delay rises
                         loss:PCT     drop PCT% of the packets in and out of the host (nftables
                                      numgen): retransmissions
                         syn-drop:PCT drop PCT% of the SYNs to the host's servers: each costs the
                                      client a 1 s SYN retransmission (connect latency)
                         rate:RATE    a TBF rate limit on the host's link, e.g. 2mbit: slow transfers
                         reset:PCT    the host's servers refuse PCT% of new connections with a
                                      reset (default 20)
  -h, --help           show this text

Needs root (network namespaces, eBPF). Installs the Debian packages that are missing
(scripts/install-deps.sh) and builds FlowMesh (Release) first. Settings for every
FlowMesh process of the fleet can be given as FLOWMESH_* variables
(sudo FLOWMESH_FLOWS__IDLESECONDS=30 ./run-local.sh). Exit status: 0 after --duration
or Ctrl-C, 1 if the fleet could not start or a part of it died, 2 for a bad option,
129/143 when stopped by SIGHUP/SIGTERM.
EOF
}

# --- names and addresses: all ours, so teardown removes exactly what we made --------------
readonly NS_PREFIX=fm-local              # host namespaces are fm-local-host-1, -2, ...
readonly LAN_NS=fm-local-lan             # the namespace that holds the bridge
readonly SUBNET=10.99.0                  # host-i is 10.99.0.i/24
readonly WEB_PORT=8000                   # HTTP server on host-1
readonly APP_REDIS_PORT=6379             # the workload's redis-server on host-2 (not FlowMesh's)
readonly CLOSED_PORT=81                  # nothing listens there: connects are refused
readonly ROOT=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
# In /run (root's alone): no other user can make, fill or replace it.
readonly LOCK_FILE=/run/flowmesh-local.lock
# The servers run in cgroups named like systemd units under this slice of the cgroup v2
# hierarchy, so their sessions name a workload (empty: no cgroup v2, no units).
CGROUP2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
readonly SLICE=${CGROUP2:+$CGROUP2/fm-local.slice}
# Every process the fleet starts carries this variable (the run's directory) in its
# environment, which no process can rename: finding them all again, even those that
# rewrite their command line like redis-server, or a later run after a kill -9.
readonly MARK=FM_LOCAL_FLEET

readonly GO_PORT=8090                    # the Go server (workloads/goserver) on the last host
readonly DOTNET_PORT=8095                # the .NET server (workloads/GcServer) on host-2
HOSTS=3 DURATION=0 PORT=8080 TRAFFIC=1 BUILD=1 INTERVAL=5
FAULTS=()

die_usage() { echo "run-local.sh: $*" >&2; echo "Try './run-local.sh --help'." >&2; exit 2; }
is_int() { [[ $1 =~ ^[0-9]+$ ]]; }

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --hosts) [[ ${2:-} ]] || die_usage "--hosts needs a value"; HOSTS=$2; shift 2 ;;
    --hosts=*) HOSTS=${1#*=}; shift ;;
    --duration) [[ ${2:-} ]] || die_usage "--duration needs a value"; DURATION=$2; shift 2 ;;
    --duration=*) DURATION=${1#*=}; shift ;;
    --port) [[ ${2:-} ]] || die_usage "--port needs a value"; PORT=$2; shift 2 ;;
    --port=*) PORT=${1#*=}; shift ;;
    --interval) [[ ${2:-} ]] || die_usage "--interval needs a value"; INTERVAL=$2; shift 2 ;;
    --interval=*) INTERVAL=${1#*=}; shift ;;
    --no-traffic) TRAFFIC=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --fault) [[ ${2:-} ]] || die_usage "--fault needs KIND:HOST"; FAULTS+=("$2"); shift 2 ;;
    --fault=*) FAULTS+=("${1#*=}"); shift ;;
    *) die_usage "unknown option '$1'" ;;
  esac
done
{ is_int "$HOSTS" && HOSTS=$((10#$HOSTS)) && ((HOSTS >= 2 && HOSTS <= 16)); } || die_usage "--hosts must be a whole number from 2 to 16 (got '$HOSTS')"
{ is_int "$DURATION" && DURATION=$((10#$DURATION)); } || die_usage "--duration must be a whole number of seconds (got '$DURATION')"
{ is_int "$PORT" && PORT=$((10#$PORT)) && ((PORT >= 1 && PORT <= 65535)); } || die_usage "--port must be a port number from 1 to 65535 (got '$PORT')"
{ is_int "$INTERVAL" && INTERVAL=$((10#$INTERVAL)) && ((INTERVAL >= 1)); } || die_usage "--interval must be a whole number of seconds, 1 or more (got '$INTERVAL')"
for fault in "${FAULTS[@]}"; do
  IFS=: read -r kind host value <<<"$fault"
  [[ $host =~ ^host-([0-9]+)$ ]] && ((10#${BASH_REMATCH[1]} >= 1 && 10#${BASH_REMATCH[1]} <= HOSTS)) ||
    die_usage "--fault $fault: '$host' is not one of host-1 to host-$HOSTS"
  case $kind in
    cpu) [[ -z $value ]] || die_usage "--fault $fault: cpu takes no value" ;;
    loss | syn-drop | reset)
      [[ -z $value && $kind == reset ]] && continue
      { is_int "$value" && ((10#$value >= 1 && 10#$value <= 100)); } ||
        die_usage "--fault $fault: $kind takes a percentage from 1 to 100 (e.g. $kind:$host:5)" ;;
    rate) [[ $value =~ ^[0-9]+(kbit|mbit|gbit)$ ]] || die_usage "--fault $fault: rate takes a rate such as 2mbit or 500kbit" ;;
    *) die_usage "--fault $fault: unknown kind '$kind' (known: cpu, loss, syn-drop, rate, reset)" ;;
  esac
done

if ((EUID != 0)); then
  echo "run-local.sh: needs root to create network namespaces and load eBPF programs: run 'sudo ./run-local.sh'" >&2
  exit 1
fi

# --- output ---------------------------------------------------------------------------------
say() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*"; }
# A start-up step: "doing X ..." then "ok" (or the failure) on the same line.
STEP_OPEN=0
step() { printf '%s  %s ... ' "$(date +%H:%M:%S)" "$*"; STEP_OPEN=1; }
ok() { echo "${1:-ok}"; STEP_OPEN=0; }
# Fails the start: says what and why, shows the relevant lines of a log, and exits (the
# EXIT trap then removes whatever had been made).
fail() {
  local message=$1 log=${2:-}
  ((STEP_OPEN)) && echo "FAILED" >&2
  STEP_OPEN=0
  echo "run-local.sh: $message" >&2
  if [[ -n $log && -s $log ]]; then
    # A FlowMesh process that cannot start says why on one "error:" line; show that, else the tail.
    if grep -q 'error:' "$log"; then grep 'error:' "$log" | tail -3 | sed 's/^/    /' >&2; else tail -15 "$log" | sed 's/^/    /' >&2; fi
  fi
  exit 1
}

# --- one fleet at a time --------------------------------------------------------------------
# The lock is held on fd 9 for the script's life; every child is started with 9>&- so a
# leftover child never keeps it. The file says who holds it and where its files are. It
# is removed at the end, so a run that locked it must check that the file it locked is
# still the one at that path (another run may have removed it meanwhile).
while true; do
  exec 9<>"$LOCK_FILE"
  if ! flock -n 9; then
    read -r holder_pid holder_port _ <"$LOCK_FILE" || true
    echo "run-local.sh: a local fleet is already running (pid ${holder_pid:-?}, gateway http://127.0.0.1:${holder_port:-?}); stop it with Ctrl-C first" >&2
    exit 1
  fi
  [[ /proc/self/fd/9 -ef $LOCK_FILE ]] && break
  exec 9>&-
done
read -r _ _ previous_run <"$LOCK_FILE" || true
echo "$$ $PORT" >"$LOCK_FILE"

RUN=""             # this run's directory: logs, Redis data, the web root, settings
declare -a PIDS=() NODE_PIDS=() AGGREGATOR_PIDS=() # every long-lived process; the FlowMesh ones by role
declare -A NAME_OF=() LOG_OF=()
CLEANED=0
SLEEP_PID=""

# The processes whose environment carries this run's mark (or any run's, with no argument).
marked_pids() {
  local pid
  # The scan's own grep carries the mark too: keep only processes still there after it.
  for pid in $(grep -lsz "^$MARK=${1:-}" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true); do
    [[ $pid != "$$" && -e /proc/$pid ]] && echo "$pid"
  done
  return 0
}

# SIGKILL to these, then wait (up to 5 s) until they are gone, so their ports are free.
kill_now() {
  local pid deadline=$((SECONDS + 5))
  (($#)) || return 0
  kill -KILL "$@" 2>/dev/null || true
  for pid in "$@"; do
    while [[ -e /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.1; done
  done
  return 0
}

our_namespaces() { ip netns list 2>/dev/null | awk -v p="$NS_PREFIX-" 'index($1, p) == 1 {print $1}' || true; }

# Kills what runs in our namespaces and deletes them (the veths and the bridge go with
# them); prints how many it deleted.
remove_namespaces() {
  local ns n=0
  for ns in $(our_namespaces); do
    kill_now $(ip netns pids "$ns" 2>/dev/null || true)
    ip netns delete "$ns" 2>/dev/null && n=$((n + 1))
  done
  echo "$n"
}

addr_of() { echo "$SUBNET.$1"; }

# Removes everything a run made: processes, namespaces (and with them the veths and the
# bridge), its directory and the lock file. Safe to call twice and on a half-made fleet.
cleanup() {
  local status=$?
  ((CLEANED)) && return
  CLEANED=1
  set +eE
  trap - ERR
  # Nothing may cut the teardown short: not a second Ctrl-C, not a closed terminal, not
  # a reader of our output that went away (SIGPIPE; writes then just fail).
  trap '' INT TERM HUP PIPE
  if ((STEP_OPEN)); then if ((status)); then echo "FAILED"; else echo "interrupted"; fi; fi
  [[ -n $SLEEP_PID ]] && kill "$SLEEP_PID" 2>/dev/null
  say "stopping the local fleet"
  local ns pid
  # Workloads first, so the Nodes see their connections close.
  for ns in $(our_namespaces); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -TERM 2>/dev/null
  done
  # Then the Nodes, the Aggregator and Redis, in that order: FlowMesh processes flush to
  # Redis and leave the cluster on SIGTERM, so Redis goes last.
  ((${#NODE_PIDS[@]})) && say "stopping the Nodes (they flush to Redis and leave the cluster)"
  stop_processes "${NODE_PIDS[@]}"
  stop_processes "${AGGREGATOR_PIDS[@]}"
  stop_processes "${PIDS[@]}" # Redis, and anything a signal caught between its start and its role
  remove_namespaces >/dev/null
  remove_units
  [[ -n $RUN ]] && kill_now $(marked_pids "$RUN")
  [[ -n $RUN && -d $RUN ]] && rm -rf "$RUN"
  rm -f "$LOCK_FILE"
  local left
  left=$(our_namespaces)
  [[ -n $SLICE && -d $SLICE ]] && left+=" cgroup $SLICE"
  [[ -n $RUN ]] && for pid in $(marked_pids "$RUN"); do left+=" pid $pid"; done
  if [[ -n $left ]]; then
    echo "run-local.sh: could not remove: $left" >&2
    ((status)) || status=1
  else
    say "stopped: no namespace, bridge, process, Redis or file of this run is left"
  fi
  exit "$status"
}

# A run killed with SIGKILL leaves its parts behind; the next run removes them first.
remove_leftovers() {
  local found=0 pids
  pids=$(marked_pids)
  [[ -n $pids ]] && found=1 && kill_now $pids
  (($(remove_namespaces) > 0)) && found=1
  [[ -n $SLICE && -d $SLICE ]] && remove_units && found=1
  # Only a directory this script would have made, and owned by root.
  if [[ ${previous_run:-} =~ ^/tmp/flowmesh-local\.[A-Za-z0-9]{6}$ && -d $previous_run && -O $previous_run ]]; then
    rm -rf "$previous_run" && found=1
  fi
  ((found)) && say "removed what an earlier run that did not finish had left"
  return 0
}

# SIGTERM to each, then up to 40 s (a FlowMesh process may flush for up to 30 s), then SIGKILL.
stop_processes() {
  local pid deadline=$((SECONDS + 40))
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  return 0
}

trap cleanup EXIT
trap 'exit 0' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# A command that fails where nothing expected it says which, instead of a silent exit.
set -E
trap 'fail "\"$BASH_COMMAND\" failed (line $LINENO)"' ERR

# Starts a long-lived process in the background, logging to its own file. setsid puts
# it in a session of its own: a Ctrl-C at the terminal reaches only this script, which
# then stops everything in order (a redis-server that saw the Ctrl-C would quit first).
start() {
  local name=$1 role=$2; shift 2 # role: node, aggregator or other
  local log=$RUN/logs/$name.log
  setsid "$@" >"$log" 2>&1 9>&- </dev/null &
  local pid=$!
  PIDS+=("$pid"); NAME_OF[$pid]=$name; LOG_OF[$pid]=$log
  case $role in
    node) NODE_PIDS+=("$pid") ;;
    aggregator) AGGREGATOR_PIDS+=("$pid") ;;
  esac
}

# Waits until a process's log has a line matching a pattern; fails if it exits first.
wait_for_log() {
  local pid=$1 pattern=$2 timeout=$3 what=$4
  local deadline=$((SECONDS + timeout))
  until grep -qE "$pattern" "${LOG_OF[$pid]}" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || fail "$what exited during start-up:" "${LOG_OF[$pid]}"
    ((SECONDS < deadline)) || fail "$what did not start within ${timeout} s:" "${LOG_OF[$pid]}"
    sleep 0.2
  done
}

port_taken() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }

free_local_port() {
  local p=$1
  while port_taken "$p"; do p=$((p + 1)); done
  echo "$p"
}

G=http://127.0.0.1:$PORT # the gateway
gateway() { curl -sf -m 10 "$G$1"; }

# --- start ----------------------------------------------------------------------------------
cd "$ROOT" # dotnet reads global.json from the current directory
say "FlowMesh local fleet: $HOSTS hosts, gateway on http://127.0.0.1:$PORT"
remove_leftovers

# sudo's PATH often lacks a per-user or /usr/share .NET install; look in the usual places.
if ! command -v dotnet >/dev/null; then
  for d in /usr/share/dotnet /usr/lib/dotnet /opt/dotnet ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6 || true)/.dotnet"}; do
    if [[ -x $d/dotnet ]]; then export PATH=$d:$PATH DOTNET_ROOT=$d; break; fi
  done
fi
command -v dotnet >/dev/null ||
  fail "the .NET 10 SDK is needed to build FlowMesh and none was found; install it (https://learn.microsoft.com/dotnet/core/install/linux-debian), then run again"

say "checking packages (scripts/install-deps.sh)"
bash "$ROOT/scripts/install-deps.sh" --quiet 9>&- || fail "installing the missing packages failed (see above)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# A gateway turned off or locked by a token in the caller's environment would leave the
# summary nothing to read (the flags below pin the fleet's Redis, cluster and address).
unset FLOWMESH_GATEWAY__TOKEN FLOWMESH_GATEWAY__ENABLED

port_taken "$PORT" && { step "checking port $PORT"; fail "port $PORT on 127.0.0.1 is taken; choose another with --port P"; }

RUN=$(mktemp -d /tmp/flowmesh-local.XXXXXX)
export "$MARK=$RUN"
mkdir -p "$RUN/logs" "$RUN/redis" "$RUN/app-redis" "$RUN/www" "$RUN/bin"
echo "$$ $PORT $RUN" >"$LOCK_FILE"

NODE_DLL=$ROOT/Node/bin/Release/net10.0/FlowMesh.Node.dll
AGGREGATOR_DLL=$ROOT/Aggregator/bin/Release/net10.0/FlowMesh.Aggregator.dll
GCSERVER_DLL=$ROOT/workloads/GcServer/bin/Release/net10.0/FlowMesh.Workloads.GcServer.dll
if ((BUILD)); then
  step "building FlowMesh (dotnet build -c Release; the first build takes a minute)"
  started=$SECONDS
  for project in Node Aggregator workloads/GcServer; do
    # No build servers: they would outlive the run (and hold its deleted log).
    dotnet build "$ROOT/$project" -c Release -nologo -clp:ErrorsOnly --disable-build-servers >>"$RUN/logs/build.log" 2>&1 9>&- ||
      fail "building $project failed:" "$RUN/logs/build.log"
  done
  ok "ok ($((SECONDS - started)) s)"
fi
[[ -f $NODE_DLL && -f $AGGREGATOR_DLL && -f $GCSERVER_DLL ]] || fail "no build found at $NODE_DLL; run without --no-build"
GOSERVER=$RUN/bin/goserver
if ((TRAFFIC)); then
  step "building the Go workload (workloads/goserver, go build)"
  # CGO off: a static binary linked by Go alone. Go's build cache lives in the run's
  # directory unless the caller has one, so nothing is left in root's home.
  (cd "$ROOT/workloads/goserver" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOCACHE=${GOCACHE:-$RUN/go-cache} \
    go build -o "$GOSERVER" . >>"$RUN/logs/build.log" 2>&1 9>&-) || fail "building the Go workload failed:" "$RUN/logs/build.log"
  ok
fi

# As a fleet runs: mutual TLS between members (a throwaway CA made by FlowMesh's own
# `certs` command) and a Redis with a password. Both reach the processes as FLOWMESH_*
# variables, not flags, so that no password shows in `ps`; $RUN/cluster.env holds them
# for commands run by hand (`cluster status`, `flow get`, `session get`).
step "making a throwaway cluster CA and member certificate ($RUN/tls)"
(umask 077 && mkdir -p "$RUN/tls")
{ dotnet "$NODE_DLL" certs ca --out "$RUN/tls" --name "FlowMesh local fleet CA" --years 1 &&
  dotnet "$NODE_DLL" certs member --ca "$RUN/tls" --name member --days 30; } >>"$RUN/logs/certs.log" 2>&1 9>&- ||
  fail "making the certificates failed:" "$RUN/logs/certs.log"
REDIS_PORT=$(free_local_port 16379)
REDIS_PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export FLOWMESH_CLUSTER__TLS__CA=$RUN/tls/ca.crt FLOWMESH_CLUSTER__TLS__CERT=$RUN/tls/member.crt FLOWMESH_CLUSTER__TLS__KEY=$RUN/tls/member.key
export FLOWMESH_CLUSTER__REDIS="127.0.0.1:$REDIS_PORT,password=$REDIS_PASSWORD"
(
  umask 077
  printf "export FLOWMESH_CLUSTER__REDIS='%s' FLOWMESH_CLUSTER__NAME=local\n" "$FLOWMESH_CLUSTER__REDIS"
  printf "export FLOWMESH_CLUSTER__TLS__CA=%s FLOWMESH_CLUSTER__TLS__CERT=%s FLOWMESH_CLUSTER__TLS__KEY=%s\n" \
    "$FLOWMESH_CLUSTER__TLS__CA" "$FLOWMESH_CLUSTER__TLS__CERT" "$FLOWMESH_CLUSTER__TLS__KEY"
) >"$RUN/cluster.env"
(umask 077 && printf 'requirepass %s\n' "$REDIS_PASSWORD" >"$RUN/redis/redis.conf")
ok
step "starting redis-server for cluster state on 127.0.0.1:$REDIS_PORT (with a random password)"
# set-proc-title no: a Redis that sets its title overwrites its environment, and the mark with it.
start redis other redis-server "$RUN/redis/redis.conf" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN/redis" \
  --save "" --appendonly no --daemonize no --logfile "" --set-proc-title no \
  --maxmemory 256mb --maxmemory-policy volatile-lru
wait_for_log "${PIDS[-1]}" "Ready to accept connections" 15 "redis-server"
ok

step "creating $HOSTS hosts on a bridge ($SUBNET.1-$HOSTS/24)"
# The bridge sits in a namespace of its own rather than beside the machine's interfaces:
# the host's firewall (Docker's FORWARD drop, br_netfilter) never sees the fleet's
# traffic, and deleting that one namespace removes the bridge with all its ports.
ip netns add "$LAN_NS"
ip -n "$LAN_NS" link add br0 type bridge
ip -n "$LAN_NS" link set br0 up
for ((i = 1; i <= HOSTS; i++)); do
  ns=$NS_PREFIX-host-$i
  ip netns add "$ns"
  ip link add eth0 netns "$ns" type veth peer name "host-$i" netns "$LAN_NS"
  ip -n "$LAN_NS" link set "host-$i" master br0 up
  ip -n "$ns" addr add "$(addr_of "$i")/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
done
ok

step "starting the Aggregator and its gateway"
# The fleet's cluster and gateway come as flags, which override FLOWMESH_* variables
# (those still reach every process: e.g. FLOWMESH_FLOWS__LINGERSECONDS=5); its Redis
# and TLS files come as the variables set above.
start aggregator aggregator dotnet "$AGGREGATOR_DLL" run \
  --cluster local --listen "127.0.0.1:$PORT"
wait_for_log "${AGGREGATOR_PIDS[0]}" "Gateway listening on" 60 "the Aggregator"
ok

step "starting a Node on each host"
for ((i = 1; i <= HOSTS; i++)); do
  # The Go probe is on in the local fleet: its cost is a demo's to pay (Node:Runtime:Go).
  FLOWMESH_NODE__RUNTIME__GO=${FLOWMESH_NODE__RUNTIME__GO:-true} start "node-host-$i" node dotnet "$NODE_DLL" run \
    --cluster local --host-id "host-$i" --netns "$NS_PREFIX-host-$i" --inject-tag
done
for ((i = 1; i <= HOSTS; i++)); do
  wait_for_log "${NODE_PIDS[i - 1]}" "is member" 90 "the Node of host-$i"
done
ok "ok (host-1 to host-$HOSTS)"

# --- traffic --------------------------------------------------------------------------------
PYTHON=/usr/bin/python3; [[ -x $PYTHON ]] || PYTHON=$(command -v python3)
WEB=$(addr_of 1)
APP_REDIS=$(addr_of 2)

# Runs a shell loop inside a host's namespace; its processes die with the namespace's pids at stop.
on_host() {
  local i=$1; shift
  # The workloads are strangers to the fleet: they get neither the Redis password nor the key.
  ip netns exec "$NS_PREFIX-host-$i" env -u FLOWMESH_CLUSTER__REDIS -u FLOWMESH_CLUSTER__TLS__KEY \
    setsid bash -c "$*" >/dev/null 2>&1 9>&- </dev/null &
}

# on_unit UNIT HOST COMMAND: a workload in a cgroup of its own, named like a systemd unit (one
# cgroup per unit: a client unit on several hosts shares it, as one unit file would). The
# shell joins the cgroup before it enters the host's namespace (where `ip netns exec` mounts
# a sysfs without the cgroup hierarchy), and everything it starts stays in both.
on_unit() {
  local unit=$1 i=$2; shift 2
  if [[ -z $SLICE ]] || ! mkdir -p "$SLICE/$unit" 2>/dev/null; then
    on_host "$i" "$*"
    return
  fi
  env -u FLOWMESH_CLUSTER__REDIS -u FLOWMESH_CLUSTER__TLS__KEY \
    setsid bash -c "echo \$\$ >$SLICE/$unit/cgroup.procs && exec ip netns exec $NS_PREFIX-host-$i bash -c $(printf %q "$*")" \
    >/dev/null 2>&1 9>&- </dev/null &
}

# Removes the units' cgroups (the kernel removes only empty ones: their processes are gone by then).
remove_units() {
  [[ -n $SLICE && -d $SLICE ]] || return 0
  local unit deadline=$((SECONDS + 5))
  for unit in "$SLICE"/*/; do
    [[ -d $unit ]] || continue
    xargs -r kill -KILL <"$unit/cgroup.procs" 2>/dev/null
    while ! rmdir "$unit" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  done
  rmdir "$SLICE" 2>/dev/null
  return 0
}

# A pause of SECONDS at 3 hosts, scaled by the number of client hosts per server.
pace() { awk -v s="$1" -v n="$HOSTS" 'BEGIN { printf "%.2f", s * (n - 1) / 2 }'; }

start_traffic() {
  head -c 65536 /dev/urandom >"$RUN/www/blob"
  echo "<h1>host-1</h1>" >"$RUN/www/index.html"
  # Servers, each in a unit of its own: an HTTP/1.1 server (keep-alive) on host-1, a
  # redis-server and a .NET server (its /gc forces a blocking collection in the handler) on
  # host-2, and a Go server (its accept loop on one goroutine, each request about 1 ms on
  # the CPU) on the last host.
  local go_server dotnet_server
  go_server=$(addr_of "$HOSTS") dotnet_server=$(addr_of 2)
  on_unit web.service 1 "exec $PYTHON -m http.server $WEB_PORT --bind $WEB --protocol HTTP/1.1 --directory $RUN/www"
  on_unit redis.service 2 "exec redis-server --bind $APP_REDIS --port $APP_REDIS_PORT --save '' --appendonly no --protected-mode no --dir $RUN/app-redis --set-proc-title no"
  on_unit goserver.service "$HOSTS" "exec $GOSERVER -listen $go_server:$GO_PORT -spin"
  on_unit gcserver.service 2 "exec dotnet $GCSERVER_DLL --listen $dotnet_server:$DOTNET_PORT"
  # Wait for all of them to listen (looking, not connecting: a refused probe would show up
  # as a session, and so would clients started too early), then ask two of them once from
  # another host, which also proves the bridge works.
  local deadline=$((SECONDS + 30))
  until [[ -n $(ip netns exec "$NS_PREFIX-host-1" ss -Hltn "sport = :$WEB_PORT") &&
    -n $(ip netns exec "$NS_PREFIX-host-2" ss -Hltn "sport = :$APP_REDIS_PORT") &&
    -n $(ip netns exec "$NS_PREFIX-host-2" ss -Hltn "sport = :$DOTNET_PORT") &&
    -n $(ip netns exec "$NS_PREFIX-host-$HOSTS" ss -Hltn "sport = :$GO_PORT") ]]; do
    ((SECONDS < deadline)) || fail "the workload servers (HTTP on host-1, Redis and .NET on host-2, Go on host-$HOSTS) did not start"
    sleep 0.2
  done
  ip netns exec "$NS_PREFIX-host-2" curl -sf -m 5 -o /dev/null "http://$WEB:$WEB_PORT/" &&
    ip netns exec "$NS_PREFIX-host-1" redis-cli -h "$APP_REDIS" -p "$APP_REDIS_PORT" ping >/dev/null ||
    fail "the hosts cannot reach each other across the bridge"
  local url="http://$WEB:$WEB_PORT"
  # Each server has HOSTS-1 client hosts; they pause longer as there are more of them, so
  # the whole fleet makes about as many connections as with 3 hosts (two cores run it all).
  local keepalive_pause churn_pause burst_pause
  keepalive_pause=$(pace 1) churn_pause=$(pace 0.2) burst_pause=$(pace 2)
  for ((i = 1; i <= HOSTS; i++)); do
    if ((i != 1)); then
      # Keep-alive: five requests over one connection (every second at 3 hosts).
      on_unit web-keepalive.service "$i" "while :; do curl -s -m 5 -o /dev/null $url/ -o /dev/null $url/blob -o /dev/null $url/ -o /dev/null $url/blob -o /dev/null $url/; sleep $keepalive_pause; done"
      # Churn: a new connection for every request (five a second at 3 hosts).
      on_unit web-churn.service "$i" "while :; do curl -s -m 5 -o /dev/null $url/; sleep $churn_pause; done"
    fi
    if ((i != 2)); then
      # One long-lived connection (a command a second), and bursts of short ones.
      on_unit visits.service "$i" "exec redis-cli -h $APP_REDIS -p $APP_REDIS_PORT -i 1 -r -1 INCR visits"
      on_unit redis-bench.service "$i" "while :; do redis-benchmark -h $APP_REDIS -p $APP_REDIS_PORT -q -c 2 -n 20 -k 0 -t set,get; sleep $burst_pause; done"
    fi
  done
  # The Go client (a new connection per request) on the first host, and curl asking the .NET
  # server from the others, a collection one request in ten: its GC pauses show on sessions.
  on_unit go-client.service 1 "while :; do $GOSERVER -client $go_server:$GO_PORT -n 50 -interval $(pace 0.2)s; done"
  for ((i = 1; i <= HOSTS; i++)); do
    ((i == 2)) && continue
    on_unit gc-client.service "$i" "while :; do for k in 1 2 3 4 5 6 7 8 9; do curl -s -m 5 -o /dev/null http://$dotnet_server:$DOTNET_PORT/; sleep $(pace 0.5); done; curl -s -m 5 -o /dev/null http://$dotnet_server:$DOTNET_PORT/gc; done"
  done
  # The last host also connects to a port where nothing listens (refused: the kernel
  # answers with a reset) and closes a connection abortively (SO_LINGER 0: a reset).
  on_unit refused-probe.service "$HOSTS" "while :; do curl -s -m 2 -o /dev/null http://$APP_REDIS:$CLOSED_PORT/; sleep 3; done"
  on_unit linger-client.service "$HOSTS" "while :; do $PYTHON -c '
import socket, struct, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(b\"GET /blob HTTP/1.1\\r\\nHost: host-1\\r\\n\\r\\n\")
s.recv(1024)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack(\"ii\", 1, 0))
s.close()' $WEB $WEB_PORT; sleep 3; done"
}

if ((TRAFFIC)); then
  step "starting traffic (HTTP server on host-1, Redis and .NET server on host-2, Go server on host-$HOSTS, clients on the others)"
  start_traffic
  ok
fi

# Faults on demand (--fault KIND:HOST[:VALUE]). All of them live in the host's namespace
# (nftables rules, a qdisc, processes), so they go with it at stop. This kernel has no
# netem: loss is nftables' random drops, delay a dropped SYN's 1 s retransmission.
fault_nft() { ip netns exec "$NS_PREFIX-host-$1" nft -f - <<<"$2" 9>&-; }
for fault in "${FAULTS[@]}"; do
  IFS=: read -r kind host value <<<"$fault"
  n=${host#host-}
  case $kind in
    cpu)
      step "fault: a CPU hog on $host (two spinning processes per CPU)"
      for ((k = 0; k < 2 * $(nproc); k++)); do on_host "$n" "while :; do :; done"; done ;;
    loss)
      step "fault: $value% of the packets in and out of $host dropped"
      fault_nft "$n" "table inet fm_fault { chain in { type filter hook input priority 0; numgen random mod 100 < $value drop; }; chain out { type filter hook output priority 0; numgen random mod 100 < $value drop; }; }" ||
        fail "the nftables rules for --fault $fault were refused" ;;
    syn-drop)
      step "fault: $value% of the SYNs to $host's servers dropped"
      fault_nft "$n" "table inet fm_fault { chain in { type filter hook input priority 0; tcp flags & (syn | ack) == syn numgen random mod 100 < $value drop; }; }" ||
        fail "the nftables rules for --fault $fault were refused" ;;
    rate)
      step "fault: $host's link limited to $value (TBF)"
      ip netns exec "$NS_PREFIX-host-$n" tc qdisc add dev eth0 root tbf rate "$value" burst 32kbit latency 400ms 9>&- ||
        fail "the TBF qdisc for --fault $fault was refused" ;;
    reset)
      value=${value:-20}
      step "fault: $host's servers refuse $value% of new connections with a reset"
      fault_nft "$n" "table inet fm_fault { chain in { type filter hook input priority 0; tcp flags & (syn | ack) == syn numgen random mod 100 < $value reject with tcp reset; }; }" ||
        fail "the nftables rules for --fault $fault were refused" ;;
  esac
  ok
done

# --- where to look --------------------------------------------------------------------------
echo
echo "The fleet is up. The web view:   $G/"
if ((TRAFFIC)); then
  step "waiting for the first session joined across two hosts"
  deadline=$((SECONDS + 60))
  session=""
  until session=$(gateway '/api/sessions?join=tag&closed=true&limit=1' | jq -ce '.items[0] // empty' 2>/dev/null); do
    ((SECONDS < deadline)) || fail "no session was joined within 60 s; the Aggregator's log ends:" "${LOG_OF[${AGGREGATOR_PIDS[0]}]}"
    sleep 0.5
  done
  ok
  session_id=$(jq -r .id <<<"$session")
  edge=$(jq -r .edge <<<"$session")
  client_flow=$(jq -r .client.flowId <<<"$session")
  cat <<EOF

Try:
  the service map: edges, sessions, errors, connect P99
    curl -s $G/api/edges | jq
  one session joined across two hosts, both sides
    curl -s $G/api/sessions/$session_id | jq
  its client side, as ${client_flow%%/*} saw it
    curl -s $G/api/flows/$client_flow | jq
  latency percentiles of its edge
    curl -s -G $G/api/latency --data-urlencode 'edge=$edge' | jq
  the Go server's run queue and goroutine scheduling beside its edge's latency
    curl -s -G $G/api/runtime --data-urlencode 'edge=go-client.service>goserver.service:$GO_PORT' | jq
  the .NET server's sessions that overlapped one of its GC pauses
    curl -s '$G/api/sessions?host=host-2&limit=100' | jq '.items[] | select(.server.runtime.gcPauses > 0) | {id, gc: .server.runtime}'
  the processes the Nodes watch (Go, .NET, others)
    curl -s $G/api/runtime | jq
  resets: refused connects and abortive closes
    curl -s '$G/api/sessions?reset=any&limit=5' | jq
  live sessions as they settle (Ctrl-C to stop)
    curl -sN '$G/api/stream?kind=session'
  the same as a table in the terminal, filtered (see observe --help)
    dotnet $AGGREGATOR_DLL observe --gateway $G --follow --reset any
  the service map as Prometheus series; a Prometheus for it: deploy/prometheus/local.yml
    curl -s $G/metrics | grep '^flowmesh_edge_sessions_total'
  members, counters and drops
    curl -s $G/api/cluster | jq
  the same from the cluster itself (mutual TLS and the Redis password: $RUN/cluster.env)
    sudo sh -c '. $RUN/cluster.env && dotnet $NODE_DLL cluster status'
  a command on a host
    sudo ip netns exec $NS_PREFIX-host-1 curl -s http://$WEB:$WEB_PORT/
Logs (removed at stop): $RUN/logs

EOF
else
  cat <<EOF
No traffic was started (--no-traffic). Make some on the hosts ($SUBNET.1-$HOSTS), e.g.
  sudo ip netns exec $NS_PREFIX-host-1 $PYTHON -m http.server $WEB_PORT --bind $(addr_of 1) &
  sudo ip netns exec $NS_PREFIX-host-2 curl -s http://$(addr_of 1):$WEB_PORT/
then:   curl -s $G/api/sessions | jq
Logs (removed at stop): $RUN/logs

EOF
fi

# --- summary until Ctrl-C or --duration -----------------------------------------------------
# One line from the gateway: sessions by how they were joined, connect P99 per edge (the
# busiest first), and everything lost anywhere in the fleet.
summary() {
  local cluster edges
  cluster=$(gateway /api/cluster) && edges=$(gateway '/api/edges?window=1m') || { say "the gateway did not answer"; return 0; }
  local joined p99 errors drops
  joined=$(jq -r '[.members[] | select(.role == "aggregator") | .counters] as $a
    | def sum(f): [$a[] | f // 0] | add // 0;
    "sessions \(sum(.sessions_tag) + sum(.sessions_isn) + sum(.sessions_tuple) + sum(.sessions_one_sided)) (tag \(sum(.sessions_tag)), isn \(sum(.sessions_isn)), tuple \(sum(.sessions_tuple)), one-sided \(sum(.sessions_one_sided)))"' <<<"$cluster") &&
    p99=$(jq -r 'sort_by(-.sessions) | map(select(.p99Ms != null)) as $e
    | ($e[:4] | map("\(.edge) \(.p99Ms * 100 | round / 100) ms") | join(", "))
      + (if ($e | length) > 4 then ", +\(($e | length) - 4) more" else "" end)
    | if . == "" then "none yet" else . end' <<<"$edges") &&
    errors=$(jq -r 'map(.errors) | add // 0' <<<"$edges") &&
    drops=$(jq -r '"\(.totalDrops)" + ([.drops | to_entries[] | select(.value > 0) | "\(.key) \(.value)"] | if length > 0 then " (" + join(", ") + ")" else "" end)' <<<"$cluster") ||
    { say "the gateway's answer was not what this script reads"; return 0; }
  say "$joined | P99 connect (1m): $p99 | resets and refused: $errors | drops $drops"
}

# A part of the fleet that exits on its own ends the run: the picture would be wrong.
check_alive() {
  local pid
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run-local.sh: ${NAME_OF[$pid]} exited on its own; the end of its log:" >&2
      tail -15 "${LOG_OF[$pid]}" | sed 's/^/    /' >&2
      exit 1
    fi
  done
}

if ((DURATION > 0)); then say "running for $DURATION s (Ctrl-C stops earlier)"; else say "running until Ctrl-C"; fi
end=$((DURATION > 0 ? SECONDS + DURATION : 0))
while ((end == 0 || SECONDS < end)); do
  wait_s=$INTERVAL
  ((end > 0 && end - SECONDS < wait_s)) && wait_s=$((end - SECONDS))
  # sleep in the background and wait on it, so that Ctrl-C is handled at once.
  sleep "$wait_s" 9>&- &
  SLEEP_PID=$!
  wait $SLEEP_PID || true
  SLEEP_PID=""
  check_alive
  summary
done
exit 0
