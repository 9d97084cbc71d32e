#!/usr/bin/env bash
# Start a real single-node SLURM cluster on localhost for the tests, without systemd (root only).
# Debian 12: Slurm 22.05 + MUNGE from Debian's packages, MariaDB + slurmdbd for accounting (sacct,
# and the executor plugin validates slurm_account with sacctmgr). Adapted from a recipe verified
# on Debian 12 with snakemake 9.27 and snakemake-executor-plugin-slurm 2.8.
#
#   SLURM_DIR (default /run/sparsedp-slurm): configuration, state, logs and PID files. The
#   configuration files are linked from /etc/slurm, where every Slurm client looks (the plugin's
#   nested srun drops SLURM_CONF); slurm-down.sh removes the links.
#   SLURM_ACCOUNT (default ci): the account created for the current user.
#   The node is the machine's CPUs with two fake GPUs (gres gpu:tesla:2), partition `debug`.
#
# Each daemon this script starts is appended to $SLURM_DIR/started; slurm-down.sh stops exactly
# those. Running it again is safe: daemons that are already up are left alone.
set -euo pipefail
SLURM_DIR=${SLURM_DIR:-/run/sparsedp-slurm}
SLURM_ACCOUNT=${SLURM_ACCOUNT:-ci}
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
log() { echo "[slurm-up +$(($(date +%s) - t0))s] $*"; }
started() { echo "$1 $2" >>"$SLURM_DIR/started"; }  # name, PID file

# --- packages; apt must not start services (there is no init system to start them) ---------------
PKGS="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"
# shellcheck disable=SC2086
if ! dpkg -s $PKGS >/dev/null 2>&1; then
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
fi
log "packages: slurm $(dpkg-query -W -f='${Version}' slurmctld)"

HOST=$(hostname -s)
for f in slurm gres slurmdbd; do
  link=/etc/slurm/$f.conf
  [ ! -e "$link" ] || [ "$(readlink "$link")" = "$SLURM_DIR/$f.conf" ] || { echo "$link exists: a Slurm is already configured here"; exit 1; }
done
mkdir -p "$SLURM_DIR"/{ctld,spool,log}
chmod 755 "$SLURM_DIR"
chown slurm:slurm "$SLURM_DIR"/{ctld,log}
touch "$SLURM_DIR/started"

# --- munge (the package's postinst wrote /etc/munge/munge.key) ------------------------------------
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  started munged /run/munge/munged.pid
fi
log "munged up"

# --- configuration: the node's CPU layout from the hardware, leaving 1 GiB of RAM to the OS --------
NODE_HW=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //; s/ RealMemory=[0-9]+//')
MEM=$(($(slurmd -C | head -1 | sed -E 's/.*RealMemory=([0-9]+).*/\1/') - 1024))
cat >"$SLURM_DIR/slurm.conf" <<CONF
ClusterName=localcluster
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
# sacct shows the comment the plugin gives each job (rule and wildcards)
AccountingStoreFlags=job_comment
# jobs must use an existing account, as on a real cluster
AccountingStorageEnforce=associations
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
ReturnToService=2
# reject impossible requests at sbatch time; otherwise they pend for ever (Reason=PartitionConfig)
EnforcePartLimits=ALL
# finished jobs stay visible to squeue for 5 minutes
MinJobAge=300
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
StateSaveLocation=$SLURM_DIR/ctld
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
MailProg=/bin/true
GresTypes=gpu
# two fake "tesla" GPUs (count-only GRES bound to /dev/tty0,1): gpu requests can be scheduled
NodeName=${HOST} NodeAddr=127.0.0.1 ${NODE_HW} RealMemory=${MEM} Gres=gpu:tesla:2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=${HOST} Name=gpu Type=tesla File=/dev/tty[0-1]" >"$SLURM_DIR/gres.conf"
cat >"$SLURM_DIR/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
LogFile=$SLURM_DIR/log/slurmdbd.log
PidFile=$SLURM_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
CONF
chown slurm:slurm "$SLURM_DIR/slurmdbd.conf"
chmod 0600 "$SLURM_DIR/slurmdbd.conf"
for f in slurm gres slurmdbd; do ln -sfn "$SLURM_DIR/$f.conf" "/etc/slurm/$f.conf"; done

# --- accounting: MariaDB + slurmdbd, the account and this user in it ------------------------------
if ! mysqladmin ping >/dev/null 2>&1; then
  install -d -o mysql -g mysql /run/mysqld
  setsid nohup /usr/bin/mysqld_safe </dev/null >"$SLURM_DIR/log/mysqld_safe.out" 2>&1 &
  for _ in $(seq 1 60); do mysqladmin ping >/dev/null 2>&1 && break; sleep 0.5; done
  started mariadb /run/mysqld/mysqld.pid
fi
mysqladmin ping >/dev/null
mysql -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
          GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
log "mariadb up"
if ! pgrep -F "$SLURM_DIR/slurmdbd.pid" >/dev/null 2>&1; then
  /usr/sbin/slurmdbd
  started slurmdbd "$SLURM_DIR/slurmdbd.pid"
fi
for _ in $(seq 1 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
sacctmgr -i add cluster localcluster >/dev/null 2>&1 || true
sacctmgr -i add account "$SLURM_ACCOUNT" Description=ci Organization=ci >/dev/null 2>&1 || true
sacctmgr -i add user "$(id -un)" Account="$SLURM_ACCOUNT" >/dev/null 2>&1 || true
log "slurmdbd up, account '$SLURM_ACCOUNT' exists"

# --- slurmctld + slurmd (both daemonize and write the PID files named in slurm.conf) ---------------
for daemon in slurmctld slurmd; do
  if ! pgrep -F "$SLURM_DIR/$daemon.pid" >/dev/null 2>&1; then
    "/usr/sbin/$daemon"
    started "$daemon" "$SLURM_DIR/$daemon.pid"
  fi
done
for _ in $(seq 1 60); do
  state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
  case "$state" in
    idle | mixed | allocated) break ;;
    down* | drain* | inval*) scontrol update nodename="$HOST" state=resume || true ;;
  esac
  sleep 0.5
done
sinfo -h -n "$HOST" -o %T | grep -Eq '^(idle|mixed|allocated)$' || { sinfo; tail -20 "$SLURM_DIR"/log/slurm*.log; exit 1; }
log "slurmctld + slurmd up: $(sinfo -h -o '%P %T %c cpus %m MB %G')"

# --- smoke test (polls scontrol: sbatch --wait polls every ~10 s) ----------------------------------
out=$(mktemp)
jid=$(sbatch --parsable -A "$SLURM_ACCOUNT" -o "$out" --wrap hostname)
for _ in $(seq 1 120); do
  state=$(scontrol show job "$jid" -o | grep -o 'JobState=[A-Z_]*' | cut -d= -f2)
  case "$state" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
  sleep 0.25
done
[ "$state" = COMPLETED ] && grep -qx "$(hostname)" "$out" || { echo "smoke job $jid: $state"; cat "$out"; exit 1; }
rm -f "$out"
log "sbatch smoke test OK (job $jid)"
