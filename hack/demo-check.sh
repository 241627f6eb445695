#!/usr/bin/env bash
# Checks `make demo` as a user runs it: starts it once in the background, in a session of its
# own; waits for the `KUBECONFIG=` line and for the sample instance's conditions to be
# printed; checks conditions of the sample instance through the API server with kubectl
# (its Vault key and perimeter are in place, and its database is honestly not ready: no
# pod runs); sends SIGINT to the demo as Ctrl-C does; and checks that it exits 0, that no
# process of its session is left, and that it left nothing in its temporary folder (the
# demo runs with TMPDIR set to a folder of this script's, which must end up empty).
#
# Usage: hack/demo-check.sh   (DEMO_CHECK_TIMEOUT: seconds the demo may take to be ready)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
TIMEOUT=${DEMO_CHECK_TIMEOUT:-900}
STOP_TIMEOUT=120
NAMESPACE=tenant-acme
INSTANCE=acme-support

log() { printf 'demo-check: %s\n' "$*" >&2; }

work=$(mktemp -d /tmp/demo-check.XXXXXX)
# The demo's PostgreSQL runs as the postgres user when we are root: it must traverse these.
chmod 711 "$work"
mkdir -m 711 "$work/tmp"
out=$work/demo.log
pid=
fail() {
  log "FAILED: $*"
  log "last lines of the demo's output:"
  tail -n 40 "$out" >&2 || true
  exit 1
}
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    log "killing what is left of the demo's session"
    pkill -KILL -s "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

start=$SECONDS
# A session of its own (setsid does not fork here: a background job of a script is no
# process group leader), so its id is $pid and every process the demo starts stays in it.
TMPDIR=$work/tmp setsid make demo >"$out" 2>&1 </dev/null &
pid=$!
log "started make demo (session $pid), output in $out"

# Ready: the KUBECONFIG= line and the last line are printed, after the instance's conditions.
until grep -q '^KUBECONFIG=/' "$out" && grep -q 'the demo is running' "$out"; do
  kill -0 "$pid" 2>/dev/null || { wait "$pid" || true; fail "make demo exited before it was ready"; }
  (( SECONDS - start < TIMEOUT )) || fail "not ready within ${TIMEOUT}s"
  sleep 1
done
ready=$((SECONDS - start))
log "ready after ${ready}s"
grep -q "^== HelpdeskInstance $NAMESPACE/$INSTANCE\$" "$out" || fail "the sample instance's section is missing"
grep -A8 "^== HelpdeskInstance $NAMESPACE/$INSTANCE\$" "$out" | grep -Eq '^ +EncryptionReady +True ' \
  || fail "the sample instance's conditions are not printed"
grep -q 'drill of backup .*: PASSED' "$out" || fail "no passed restore drill in the output"
grep -q 'retention dry run with RetentionPolicy' "$out" || fail "no retention dry run in the output"

kubeconfig=$(sed -n 's/^KUBECONFIG=//p' "$out")
kubectl="$(set -a; eval "$(hack/test-binaries.sh env)"; echo "$KUBEBUILDER_ASSETS")/kubectl"
condition() {
  "$kubectl" --kubeconfig "$kubeconfig" get helpdeskinstance "$INSTANCE" -n "$NAMESPACE" \
    -o "jsonpath={.status.conditions[?(@.type==\"$1\")].status}"
}
for want in EncryptionReady=True NetworkIsolated=True DatabaseReady=False Ready=False; do
  got=$(condition "${want%=*}") || fail "kubectl could not read the instance"
  [[ $got == "${want#*=}" ]] || fail "${want%=*} of $NAMESPACE/$INSTANCE is '$got' through the API server, want ${want#*=}"
  log "through the API server: $NAMESPACE/$INSTANCE ${want%=*}=$got"
done

# Every process below make, as "pid:command" (PostgreSQL's backends start sessions of
# their own, so the session alone does not find them).
descendants() {
  ps -eo pid=,ppid=,comm= | awk -v root="$1" '
    { parent[$1] = $2; name[$1] = $3 }
    END {
      for (p in parent) {
        for (q = p; q in parent && q != root && q > 1; q = parent[q]) {}
        if (q == root) print p ":" name[p]
      }
    }'
}

# Ctrl-C: SIGINT to the demo alone, so that it has to stop every child itself.
demo=$(pgrep -s "$pid" -x helpdesk-demo) || fail "no helpdesk-demo process in the session"
tree=$(descendants "$pid")
log "sending SIGINT to helpdesk-demo (pid $demo; $(wc -l <<<"$tree") processes below make demo)"
stop_start=$SECONDS
kill -INT "$demo"
status=0
for (( i = 0; i < STOP_TIMEOUT; i++ )); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
kill -0 "$pid" 2>/dev/null && fail "make demo still runs ${STOP_TIMEOUT}s after SIGINT"
wait "$pid" || status=$?
pid_done=$pid
pid=
log "stopped after $((SECONDS - stop_start))s with exit status $status"
(( status == 0 )) || fail "make demo exited with $status after SIGINT, want 0"
grep -q '^demo stopped cleanly$' "$out" || fail "the demo did not say it stopped cleanly"
left=$(pgrep -s "$pid_done" || true)
for entry in $tree; do
  p=${entry%%:*}
  # The same PID with the same command: a process of the demo's (not a reused PID).
  [[ $(ps -o comm= -p "$p" 2>/dev/null) == "${entry#*:}" ]] && left+=" $p"
done
[[ -z ${left// /} ]] || { ps -o pid,user,args -p "$(echo $left | tr ' ' ,)" >&2 || true; fail "processes of the demo are left"; }
leftovers=$(find "$work/tmp" -mindepth 1 -maxdepth 1)
[[ -z $leftovers ]] || fail "the demo left files behind: $leftovers"
log "OK: ready in ${ready}s, KUBECONFIG printed, conditions checked, stopped cleanly, nothing left"
