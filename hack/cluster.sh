#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine for the end-to-end tests
# (`make test-e2e`): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet
# and kube-proxy (iptables mode) built by hack/test-binaries.sh, containerd, runc and the
# CNI plugins from Debian, kube-router as the NetworkPolicy firewall, CoreDNS as the
# cluster DNS (kube-system, k8s-app=kube-dns), and the CloudNativePG operator.
#
# Everything stays on this machine: the node's address is NODE_IP on its own interface,
# pods get addresses from POD_CIDR on a bridge, Services from SERVICE_CIDR (all from the
# ranges reserved for documentation and benchmarking, so they can never be anyone else's).
# State, logs and PIDs live under STATE_DIR; images stay in containerd's root under the
# cache, so a second `up` imports nothing that is already there.
#
# Usage: hack/cluster.sh up       start what is not running (idempotent), then wait until ready
#        hack/cluster.sh down     delete every pod, stop every component, remove what `up` made
#        hack/cluster.sh status   show the components and the node
#        hack/cluster.sh env      print KUBECONFIG and the addresses tests need
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${HELPDESK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/helpdesk-operator}
STATE_DIR=${HELPDESK_E2E_STATE_DIR:-/var/lib/helpdesk-e2e}
CONTAINERD_ROOT=${HELPDESK_E2E_CONTAINERD_ROOT:-$CACHE_DIR/containerd}

NODE_NAME=helpdesk-e2e
NODE_IP=192.0.2.1              # TEST-NET-1, on the interface NODE_IF
NODE_IF=hde2e-node             # a bridge without ports: this kernel has no dummy driver
# TEST-NET-3, also on NODE_IF: where host services that tenants' pods may reach listen (the
# S3 gateway). Not NODE_IP: that is the API server's address, which the operator never lets
# tenant egress reach.
SERVICES_IP=203.0.113.1
BRIDGE=hde2e-br0
POD_CIDR=198.18.0.0/24         # benchmarking range; one node, one /24
POD_GATEWAY=198.18.0.1
SERVICE_CIDR=198.51.100.0/24   # TEST-NET-2
API_SERVICE_IP=198.51.100.1
DNS_SERVICE_IP=198.51.100.10
CLUSTER_DOMAIN=cluster.local
API_PORT=6443
ETCD_CLIENT_PORT=22379
ETCD_PEER_PORT=22380

PKI=$STATE_DIR/pki
LOGS=$STATE_DIR/logs
PIDS=$STATE_DIR/pids
CONTAINERD_STATE=$STATE_DIR/containerd
CONTAINERD_SOCK=$CONTAINERD_STATE/containerd.sock
CNI_CONF_DIR=$STATE_DIR/cni/net.d
CNI_DATA_DIR=$STATE_DIR/cni/ipam
KUBELET_DIR=$STATE_DIR/kubelet
VOLUMES_DIR=$STATE_DIR/volumes
ADMIN_KUBECONFIG=$PKI/admin.kubeconfig

export PATH=$PATH:/usr/sbin:/sbin

log() { printf 'cluster: [%s] %s\n' "$(date -u +%T)" "$*" >&2; }
die() { log "$*"; exit 1; }

load_binaries() {
  eval "$(bash "$ROOT/hack/test-binaries.sh" env)"
  eval "$(bash "$ROOT/hack/e2e-images.sh" env)"
  KUBE_BIN=$HELPDESK_E2E_KUBE_BIN
  KUBECTL=$KUBE_BIN/kubectl
}

kubectl_() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

print_env() {
  load_binaries
  echo "KUBECONFIG=$ADMIN_KUBECONFIG"
  echo "HELPDESK_E2E_KUBECTL=$KUBECTL"
  echo "HELPDESK_E2E_STATE_DIR=$STATE_DIR"
  echo "HELPDESK_E2E_NODE_NAME=$NODE_NAME"
  echo "HELPDESK_E2E_NODE_IP=$NODE_IP"
  echo "HELPDESK_E2E_SERVICES_IP=$SERVICES_IP"
  echo "HELPDESK_E2E_API_SERVER=https://$NODE_IP:$API_PORT"
  echo "HELPDESK_E2E_CA_FILE=$PKI/ca.crt"
  echo "HELPDESK_E2E_POD_CIDR=$POD_CIDR"
  echo "HELPDESK_E2E_SERVICE_CIDR=$SERVICE_CIDR"
  echo "HELPDESK_E2E_DNS_SERVICE_IP=$DNS_SERVICE_IP"
  echo "HELPDESK_E2E_VOLUMES_DIR=$VOLUMES_DIR"
  echo "HELPDESK_E2E_CONTAINERD_SOCKET=$CONTAINERD_SOCK"
  bash "$ROOT/hack/e2e-images.sh" env
}

# ---- processes -----------------------------------------------------------------------

# pid_of NAME: the PID of a component we started, if it still runs that binary.
pid_of() {
  local file=$PIDS/$1.pid pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ -d /proc/$pid ]] || return 1
  grep -qF -- "$(<"$PIDS/$1.exe")" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# start NAME BINARY ARGS...: starts a component in its own session, logging to LOGS/NAME.log.
start() {
  local name=$1 bin=$2; shift 2
  if pid_of "$name" >/dev/null; then log "$name already runs (pid $(pid_of "$name"))"; return; fi
  [[ -x $bin ]] || die "$bin is missing: run hack/test-binaries.sh cluster"
  log "starting $name"
  echo "$bin" >"$PIDS/$name.exe"
  setsid "$bin" "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! >"$PIDS/$name.pid"
}

# stop NAME: SIGTERM, then SIGKILL after 20 seconds.
stop() {
  local name=$1 pid
  pid=$(pid_of "$name") || { rm -f "$PIDS/$name.pid"; return 0; }
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do [[ -d /proc/$pid ]] || break; sleep 0.2; done
  if [[ -d /proc/$pid ]]; then log "$name did not stop: killing it"; kill -KILL "$pid" 2>/dev/null || true; sleep 0.5; fi
  rm -f "$PIDS/$name.pid"
}

# wait_for WHAT SECONDS COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "timed out after ${timeout}s waiting for $what"
    sleep 1
  done
}

COMPONENTS=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-router)

show_logs() {
  local name
  for name in "${COMPONENTS[@]}"; do
    [[ -f $LOGS/$name.log ]] || continue
    printf '\n----- last lines of %s -----\n' "$LOGS/$name.log" >&2
    tail -n 25 "$LOGS/$name.log" >&2
  done
  if [[ -n ${KUBECTL:-} ]] && pid_of kube-apiserver >/dev/null; then
    printf '\n----- pods -----\n' >&2
    kubectl_ get pods -A -o wide >&2 || true
  fi
}

# write_file PATH: writes stdin to PATH unless PATH has that content already (kube-proxy
# exits when its configuration file changes, so a second `up` must not touch it).
write_file() {
  local tmp; tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

# ---- certificates and kubeconfigs ------------------------------------------------------

# cert NAME SUBJECT [SANS]: a key and a certificate signed by the cluster CA.
cert() {
  local name=$1 subject=$2 sans=${3:-}
  [[ -f $PKI/$name.crt ]] && return
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  local ext=$PKI/$name.ext
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    if [[ -n $sans ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$sans"; else echo "extendedKeyUsage=clientAuth"; fi
  } >"$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

kubeconfig() {
  local name=$1
  [[ -f $PKI/$name.kubeconfig ]] && return
  cat >"$PKI/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $NODE_NAME
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $name
  user:
    client-certificate: $PKI/$name.crt
    client-key: $PKI/$name.key
contexts:
- name: $NODE_NAME
  context: {cluster: $NODE_NAME, user: $name}
current-context: $NODE_NAME
EOF
}

make_pki() {
  mkdir -p "$PKI"
  if [[ ! -f $PKI/ca.crt ]]; then
    log "creating the cluster CA and certificates in $PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 365 \
      -subj "/CN=helpdesk-e2e-ca" 2>/dev/null
  fi
  [[ -f $PKI/sa.key ]] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null; openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  cert kube-apiserver "/CN=kube-apiserver" \
    "IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
  cert kubelet-server "/CN=$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=helpdesk-e2e-admin"
  cert kube-controller-manager "/CN=system:kube-controller-manager"
  cert kube-scheduler "/CN=system:kube-scheduler"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  cert kube-proxy "/CN=system:kube-proxy"
  cert kube-router "/CN=kube-router"
  for name in admin kube-controller-manager kube-scheduler kubelet kube-proxy kube-router; do kubeconfig "$name"; done
}

# ---- host set-up -----------------------------------------------------------------------

# Debian packages the cluster needs, each with a file that shows it is installed.
ensure_packages() {
  local packages=(containerd:/usr/bin/containerd runc:/usr/sbin/runc
    containernetworking-plugins:/usr/lib/cni/bridge iptables:/usr/sbin/iptables ipset:/usr/sbin/ipset
    conntrack:/usr/sbin/conntrack openssl:/usr/bin/openssl mmdebstrap:/usr/bin/mmdebstrap
    busybox-static:/bin/busybox)
  local missing=() entry
  for entry in "${packages[@]}"; do [[ -e ${entry#*:} ]] || missing+=("${entry%%:*}"); done
  if (( ${#missing[@]} > 0 )); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

setup_host() {
  mkdir -p "$LOGS" "$PIDS" "$CONTAINERD_STATE" "$CONTAINERD_ROOT" "$CNI_CONF_DIR" "$CNI_DATA_DIR" "$KUBELET_DIR" "$VOLUMES_DIR"
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  # Volume mounts must propagate between the kubelet and the containers.
  mount --make-rshared /
  if ! ip link show "$NODE_IF" >/dev/null 2>&1; then
    log "creating $NODE_IF with the node address $NODE_IP"
    ip link add "$NODE_IF" type bridge
  fi
  # Not `ip addr show | grep -q`: with pipefail, grep's early exit can fail the pipeline
  # and then add an address that is there.
  local addr
  for addr in "$NODE_IP" "$SERVICES_IP"; do
    [[ $(ip addr show dev "$NODE_IF") == *" $addr/"* ]] || ip addr add "$addr/32" dev "$NODE_IF"
  done
  ip link set "$NODE_IF" up
  # Upstream resolvers of pods with dnsPolicy Default (CoreDNS only answers the cluster
  # domain): nothing, as nothing outside this machine may be asked.
  echo "nameserver $NODE_IP" | write_file "$STATE_DIR/resolv.conf"
  write_file "$CNI_CONF_DIR/10-helpdesk-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "helpdesk-e2e",
  "plugins": [{
    "type": "bridge",
    "bridge": "$BRIDGE",
    "isGateway": true,
    "isDefaultGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "$CNI_DATA_DIR",
      "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]]
    }
  }]
}
EOF
}

start_containerd() {
  write_file "$STATE_DIR/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE_DIR/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$HELPDESK_E2E_PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE in this VM: never raise a process's OOM score adjustment.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF_DIR"
EOF
  start containerd /usr/bin/containerd --config "$STATE_DIR/containerd.toml"
  wait_for containerd 60 ctr --address "$CONTAINERD_SOCK" version
}

start_etcd() {
  start etcd "$HELPDESK_E2E_ETCD" --name "$NODE_NAME" --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
}

start_control_plane() {
  start kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/kube-apiserver.crt" --tls-private-key-file "$PKI/kube-apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --service-account-issuer "https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --kubelet-preferred-address-types InternalIP \
    --enable-admission-plugins NodeRestriction --profiling=false
  wait_for "the API server" 120 kubectl_ get --raw /readyz
  start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig "$PKI/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false \
    --allocate-node-cidrs --cluster-cidr "$POD_CIDR" --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
    --flex-volume-plugin-dir "$STATE_DIR/volume-plugins" \
    --use-service-account-credentials --profiling=false
  start kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig "$PKI/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$PKI/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
}

start_node() {
  write_file "$STATE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
# cgroup v1 only on this kernel.
cgroupDriver: cgroupfs
failCgroupV1: false
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: $STATE_DIR/resolv.conf
podLogsDir: $STATE_DIR/pod-logs
volumePluginDir: $STATE_DIR/volume-plugins
# A test machine's disk and memory are what they are: evict only when really out.
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  start kubelet "$KUBE_BIN/kubelet" --config "$STATE_DIR/kubelet.yaml" \
    --kubeconfig "$PKI/kubelet.kubeconfig" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --root-dir "$KUBELET_DIR" --cert-dir "$PKI/kubelet-certs"
  write_file "$STATE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
# Leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  start kube-proxy "$KUBE_BIN/kube-proxy" --config "$STATE_DIR/kube-proxy.yaml"
  wait_for "node $NODE_NAME to register" 120 kubectl_ get node "$NODE_NAME"
  # kube-router reads who may talk to whom; as a firewall only it needs nothing else.
  kubectl_ apply --server-side -f - >/dev/null <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: helpdesk-e2e:kube-router}
rules:
- apiGroups: [""]
  resources: [namespaces, pods, services, nodes, endpoints]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: helpdesk-e2e:kube-router}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: helpdesk-e2e:kube-router}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-router}
EOF
  start kube-router "$HELPDESK_E2E_KUBE_ROUTER" --kubeconfig "$PKI/kube-router.kubeconfig" \
    --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --service-cluster-ip-range "$SERVICE_CIDR" --metrics-port 0 --health-port 0
  wait_for "node $NODE_NAME to become Ready" 180 \
    kubectl_ wait --for=condition=Ready "node/$NODE_NAME" --timeout 5s
}

# ---- cluster add-ons -------------------------------------------------------------------

apply_addons() {
  log "applying CoreDNS and the e2e storage class"
  kubectl_ apply --server-side -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: helpdesk-e2e:coredns}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: helpdesk-e2e:coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: helpdesk-e2e:coredns}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes $CLUSTER_DOMAIN in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector:
    matchLabels: {k8s-app: kube-dns}
  template:
    metadata:
      labels: {k8s-app: kube-dns}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile: {type: RuntimeDefault}
        # Port 53 without any capability.
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]
      containers:
      - name: coredns
        image: $HELPDESK_E2E_COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 2
        livenessProbe:
          httpGet: {path: /health, port: 8080}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        volumeMounts:
        - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config
        configMap: {name: coredns}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  clusterIP: $DNS_SERVICE_IP
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
---
# Volumes are host folders under $VOLUMES_DIR, provisioned by the e2e test harness
# (test/e2e/framework) while the tests run.
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: helpdesk-e2e-hostpath
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: helpdesk-e2e.invalid/hostpath
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
EOF
  install_cnpg
  log "waiting for CoreDNS and the CloudNativePG operator"
  kubectl_ -n kube-system rollout status deployment/coredns --timeout 180s >&2
  kubectl_ -n cnpg-system rollout status deployment/cnpg-controller-manager --timeout 300s >&2
}

# CloudNativePG's own release manifest, with the locally built image (never pulled) and
# room for a slow, shared 2-core machine.
install_cnpg() {
  log "installing CloudNativePG $HELPDESK_E2E_CNPG_VERSION"
  local upstream="ghcr.io/cloudnative-pg/cloudnative-pg:$HELPDESK_E2E_CNPG_VERSION"
  grep -qF "image: $upstream" "$HELPDESK_E2E_CNPG_MANIFEST" || die "$HELPDESK_E2E_CNPG_MANIFEST does not name $upstream"
  sed -e "s|$upstream|$HELPDESK_E2E_CNPG_IMAGE|g" -e 's|imagePullPolicy: Always|imagePullPolicy: Never|' \
    "$HELPDESK_E2E_CNPG_MANIFEST" | kubectl_ apply --server-side --force-conflicts -f - >/dev/null
  kubectl_ -n cnpg-system patch deployment cnpg-controller-manager --type json -p '[
    {"op": "replace", "path": "/spec/template/spec/containers/0/resources/limits", "value": {"cpu": "1", "memory": "512Mi"}},
    {"op": "replace", "path": "/spec/template/spec/containers/0/startupProbe/failureThreshold", "value": 60}
  ]' >/dev/null
}

# ---- up, down, status ------------------------------------------------------------------

up() {
  local start_time=$SECONDS
  [[ $(id -u) == 0 ]] || die "the cluster needs root (network, mounts, containerd)"
  ensure_packages
  bash "$ROOT/hack/test-binaries.sh" cluster
  load_binaries
  trap 'log "up failed"; show_logs' ERR
  setup_host
  make_pki
  start_containerd
  HELPDESK_E2E_CONTAINERD_SOCKET=$CONTAINERD_SOCK bash "$ROOT/hack/e2e-images.sh" import
  start_etcd
  start_control_plane
  start_node
  apply_addons
  trap - ERR
  log "cluster is up in $((SECONDS - start_time))s; KUBECONFIG=$ADMIN_KUBECONFIG"
}

# remove_chains TOOL: deletes the KUBE-* chains (kube-proxy's and kube-router's) from every
# table, first the rules that jump to them from the built-in chains.
remove_chains() {
  local tool=$1 table
  command -v "$tool" >/dev/null || return 0
  for table in filter nat mangle raw; do
    local dump; dump=$("$tool-save" -t "$table" 2>/dev/null) || continue
    grep -q -- '-j KUBE-\|^:KUBE-' <<<"$dump" || continue
    local rule
    while read -r rule; do
      [[ -n $rule ]] || continue
      eval "$tool -t $table -D ${rule#-A }" 2>/dev/null || true
    done < <(grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j KUBE-' <<<"$dump")
    local chain
    for chain in $(grep -oE '^:KUBE-[^ ]+' <<<"$dump" | cut -c2-); do "$tool" -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in $(grep -oE '^:KUBE-[^ ]+' <<<"$dump" | cut -c2-); do "$tool" -t "$table" -X "$chain" 2>/dev/null || true; done
  done
}

down() {
  local start_time=$SECONDS
  [[ -d $STATE_DIR ]] || { log "nothing to tear down ($STATE_DIR does not exist)"; return 0; }
  load_binaries
  # Pods first, while the kubelet runs, so that it stops their containers and the CNI
  # plugin releases their addresses; nothing may recreate them meanwhile.
  stop kube-controller-manager
  stop kube-scheduler
  if pid_of kube-apiserver >/dev/null && pid_of kubelet >/dev/null; then
    log "deleting every pod"
    kubectl_ delete pods --all --all-namespaces --grace-period 5 --timeout 120s --wait >/dev/null 2>&1 \
      || log "not every pod was deleted in time; removing the rest through containerd"
  fi
  stop kubelet
  stop kube-proxy
  stop kube-router
  stop kube-apiserver
  stop etcd
  if pid_of containerd >/dev/null; then
    local ctr=(ctr --address "$CONTAINERD_SOCK" -n k8s.io) id
    for id in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $("${ctr[@]}" containers ls -q 2>/dev/null); do "${ctr[@]}" containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop containerd
  # Shims of our containerd that outlived it.
  local pid
  for pid in $(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" || true); do log "killing leftover shim $pid"; kill -KILL "$pid" 2>/dev/null || true; done
  log "removing iptables chains, ipsets, interfaces, network namespaces, mounts and cgroups"
  remove_chains iptables
  remove_chains ip6tables
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?(KUBE-|kube-router)' || true); do ipset destroy "$set" 2>/dev/null || true; done
  local ns
  for ns in /var/run/netns/cni-*; do
    [[ -e $ns ]] || continue
    umount "$ns" 2>/dev/null || true; rm -f "$ns"
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
  ip link show "$NODE_IF" >/dev/null 2>&1 && ip link delete "$NODE_IF"
  local mnt
  for mnt in $(awk -v dir="$STATE_DIR" 'index($2, dir) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
  done
  # What the kubelet, containerd and the CNI plugins keep at fixed host paths: our log
  # links and the kubelet's device plugin socket, then the folders, if that left them empty.
  local link
  for link in /var/log/containers/*.log; do
    [[ -L $link && $(readlink "$link") == "$STATE_DIR"/* ]] && rm -f "$link"
  done
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock
  rmdir /var/log/containers /var/lib/kubelet/device-plugins /var/lib/kubelet /var/lib/cni/results /var/lib/cni \
    /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd/s /run/containerd /var/run/netns 2>/dev/null || true
  local cg
  for cg in /sys/fs/cgroup/*/kubepods; do
    [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if awk -v dir="$STATE_DIR" 'index($2, dir) == 1 {found=1} END {exit !found}' /proc/self/mounts; then
    die "mounts remain under $STATE_DIR; not removing it"
  fi
  rm -rf --one-file-system "$STATE_DIR"
  verify_clean
  log "cluster is down in $((SECONDS - start_time))s"
}

# verify_clean fails when anything `up` made is still there: a process of ours, a KUBE-*
# iptables rule or chain, an ipset, a mount, a network namespace or an interface.
verify_clean() {
  local left=()
  local procs; procs=$(pgrep -af -- "$STATE_DIR|$KUBE_BIN/|$HELPDESK_E2E_KUBE_ROUTER|$HELPDESK_E2E_ETCD --name $NODE_NAME" | grep -v -e pgrep -e "cluster.sh" || true)
  [[ -z $procs ]] || left+=("processes: $procs")
  local n; n=$( { iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; } | grep -c KUBE || true)
  (( n == 0 )) || left+=("$n iptables lines with KUBE")
  local sets; sets=$(ipset list -n 2>/dev/null | grep -E '^(inet6:)?(KUBE-|kube-router)' || true)
  [[ -z $sets ]] || left+=("ipsets: $sets")
  grep -qF "$STATE_DIR" /proc/self/mounts && left+=("mounts under $STATE_DIR")
  compgen -G '/var/run/netns/cni-*' >/dev/null && left+=("network namespaces: $(ls /var/run/netns)")
  ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("interface $BRIDGE")
  ip link show "$NODE_IF" >/dev/null 2>&1 && left+=("interface $NODE_IF")
  [[ ! -e $STATE_DIR ]] || left+=("$STATE_DIR")
  local leftovers; leftovers=$(find /var/log/containers -lname "$STATE_DIR/*" 2>/dev/null; ls -d /sys/fs/cgroup/*/kubepods /usr/libexec/kubernetes /var/lib/kubelet/device-plugins/kubelet.sock 2>/dev/null || true)
  [[ -z $leftovers ]] || left+=("$leftovers")
  if (( ${#left[@]} > 0 )); then
    printf 'cluster: left behind: %s\n' "${left[@]}" >&2
    return 1
  fi
  log "verified: no process, iptables chain, ipset, mount, network namespace or interface of the cluster is left"
}

status() {
  load_binaries
  local name pid
  for name in "${COMPONENTS[@]}"; do
    if pid=$(pid_of "$name"); then printf '%-24s running (pid %s)\n' "$name" "$pid"; else printf '%-24s stopped\n' "$name"; fi
  done
  if pid_of kube-apiserver >/dev/null; then kubectl_ get nodes -o wide; kubectl_ get pods -A -o wide; fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  env) print_env ;;
  logs) load_binaries; show_logs ;;
  verify-clean) load_binaries; verify_clean ;;
  *) echo "usage: $0 up|down|status|env|logs|verify-clean" >&2; exit 2 ;;
esac
