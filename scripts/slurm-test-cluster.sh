#!/usr/bin/env bash
# A real single-node Slurm cluster for the test suite (crates/shears-cli/tests/slurm.rs), from
# Debian's slurm-wlm and munge packages: this host is the controller and the only compute node.
#
#   scripts/slurm-test-cluster.sh start STATE_DIR   # prints `SLURM_CONF=...` once the node is idle
#   scripts/slurm-test-cluster.sh stop STATE_DIR    # stops what `start` started there
#
# Idempotent: `start` on a STATE_DIR whose daemons are alive only prints the line again. Every
# file (configuration, state, logs, pids) lives in STATE_DIR; munged is stopped by `stop` only
# if `start` started it. Needs root (the daemons run as root here) and the packages installed.
set -euo pipefail

cmd=${1:?usage: $0 start|stop STATE_DIR}
state=${2:?usage: $0 start|stop STATE_DIR}
mkdir -p "$state"
state=$(cd "$state" && pwd)
conf="$state/slurm.conf"

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
  for d in slurmd slurmctld munged; do
    pidfile="$state/$d.pid"
    if alive "$pidfile"; then
      pid=$(cat "$pidfile")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || { echo "$0: unknown command '$cmd' (start or stop)" >&2; exit 2; }

for tool in slurmctld slurmd munged sbatch squeue sinfo; do
  command -v "$tool" >/dev/null || {
    echo "$0: $tool not found (apt-get install slurm-wlm munge)" >&2
    exit 3
  }
done

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)

if ! alive "$state/slurmctld.pid"; then
  mkdir -p "$state/ctld" "$state/spool" "$state/log"
  cat >"$conf" <<EOF
ClusterName=shears
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=$((6817 + 10))
SlurmdPort=$((6818 + 10))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=5
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # munge: one daemon per host, shared with any other Slurm user of it; ours only if none runs.
  if ! pgrep -x munged >/dev/null; then
    [ -s /etc/munge/munge.key ] || {
      mkdir -p /etc/munge
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
      chmod 400 /etc/munge/munge.key
    }
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    munged --force --pid-file="$state/munged.pid" 2>>"$state/log/munged.log" ||
      munged --force 2>>"$state/log/munged.log"
    [ -s "$state/munged.pid" ] || pgrep -xn munged >"$state/munged.pid"
  fi
  SLURM_CONF=$conf slurmctld -f "$conf"
  SLURM_CONF=$conf slurmd -f "$conf"
fi

export SLURM_CONF=$conf
for _ in $(seq 100); do
  if [ "$(sinfo -h -o %t 2>/dev/null | head -1)" = idle ] || [ "$(sinfo -h -o %t 2>/dev/null | head -1)" = mix ]; then
    echo "SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.3
done
echo "$0: the node did not come up in 30 s; logs in $state/log" >&2
sinfo >&2 || true
exit 4
