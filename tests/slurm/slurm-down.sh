#!/usr/bin/env bash
# Stop the daemons slurm-up.sh started (listed in $SLURM_DIR/started), newest first, by PID
# file; then remove $SLURM_DIR and its links in /etc/slurm, so that no Slurm client finds the
# configuration of a dead cluster (each snakemake call would wait for it).
set -u
SLURM_DIR=${SLURM_DIR:-/run/sparsedp-slurm}
# Jobs still running (an interrupted test) would outlive slurmd in their slurmstepd processes.
if [ -e "$SLURM_DIR/slurm.conf" ] && squeue -h -o %i >/dev/null 2>&1; then
  squeue -h -o %i | xargs -r scancel
  for _ in $(seq 1 40); do [ -z "$(squeue -h -t R,CG -o %i)" ] && break; sleep 0.25; done
fi
[ -s "$SLURM_DIR/started" ] && tac "$SLURM_DIR/started" | while read -r name pidfile; do
  pid=$(cat "$pidfile" 2>/dev/null) || continue
  if [ "$name" = mariadb ]; then
    mysqladmin shutdown 2>/dev/null  # mysqld_safe exits with it
  else
    kill -TERM "$pid" 2>/dev/null
  fi
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && { echo "$name ($pid) did not stop, sending KILL"; kill -KILL "$pid"; }
  echo "stopped $name"
done
for f in slurm gres slurmdbd; do
  [ "$(readlink "/etc/slurm/$f.conf")" = "$SLURM_DIR/$f.conf" ] && rm "/etc/slurm/$f.conf"
done
rm -rf "$SLURM_DIR"
