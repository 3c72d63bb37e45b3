#!/usr/bin/env bash
# Builds the testbed's Go binaries once per version into one cache directory and reuses them.
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   kubelet, kube-proxy (the real node)                               (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
#   kwok                                                              (sigs.k8s.io/kwok)
#   helm                                                              (helm.sh/helm/v3)
#   flagger (benchmark only)                                          (github.com/fluxcd/flagger)
#   kstatus (tests only: test/testbed/kstatus/main.go)                (sigs.k8s.io/cli-utils)
#   coredns (the real node's cluster DNS: test/testbed/coredns/main.go) (github.com/coredns/coredns)
#   controller-gen, to generate the OpenFeature Operator's CRDs          (sigs.k8s.io/controller-tools)
# and downloads the modules whose files the testbed reads (Gateway API CRDs, KWOK stages, the
# OpenFeature Operator's API types).
# Usage: build.sh [all|kubernetes|etcd|kwok|helm|gateway-api|flagger|kstatus|coredns|openfeature]   Prints one line per binary with its path.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
GATEWAY_API_VERSION=${GATEWAY_API_VERSION:-v1.4.1}
FLAGGER_VERSION=${FLAGGER_VERSION:-v1.44.0}
CLI_UTILS_VERSION=${CLI_UTILS_VERSION:-v0.37.2}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.7}
OPENFEATURE_APIS_VERSION=${OPENFEATURE_APIS_VERSION:-v0.2.45}
CONTROLLER_TOOLS_VERSION=${CONTROLLER_TOOLS_VERSION:-v0.17.2}

CACHE=${CUTOVER_CACHE_DIR:-$HOME/.cache/cutover}
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
export GOPATH="$CACHE/go/path"
mkdir -p "$GOMODCACHE" "$GOCACHE" "$GOPATH"

log() { printf '[testbed-build] %s\n' "$*" >&2; }

# Runs a command while printing the elapsed time every 20 s, so a cold build never looks hung.
with_progress() {
  local what=$1; shift
  local start=$SECONDS
  log "building $what ..."
  # fd 9 (the build lock) closed in the ticker: its `sleep` must not hold the lock after the build.
  ( while sleep 20; do log "  $what: still building, $((SECONDS - start)) s elapsed"; done ) 9>&- &
  local ticker=$!
  local rc=0
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ $rc -ne 0 ]; then log "FAILED: $what (exit $rc)"; return $rc; fi
  log "built $what in $((SECONDS - start)) s"
}

# Two markers: .complete (the control plane and kubectl) and .complete-node (kubelet, kube-proxy,
# added later). A cache with only the first builds only the node binaries (~20 s warm: they share
# most packages with the others); a fresh cache builds all six in one go build.
build_kubernetes() {
  local out="$CACHE/bin/kubernetes-$K8S_VERSION"
  if [ -f "$out/.complete" ] && [ -f "$out/.complete-node" ]; then echo "$out"; return; fi
  local w="$CACHE/src/kubernetes-$K8S_VERSION"
  mkdir -p "$w" "$out"
  local cmds=() what=()
  if [ ! -f "$out/.complete" ]; then
    cmds+=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
    what+=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  fi
  cmds+=(k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  what+=(kubelet kube-proxy)
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local staging="v0.${K8S_VERSION#v1.}"
  # Derive the staging modules from k8s.io/kubernetes' own go.mod: every "k8s.io/X v0.0.0" require.
  local dl; dl=$(cd "$w" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION")
  if printf '%s' "$dl" | grep -q '"Error"'; then log "cannot download k8s.io/kubernetes@$K8S_VERSION: $dl"; exit 1; fi
  local kmod="$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  {
    echo "module cutover.dev/testbed/kubernetes"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$kmod" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } > "$w/go.mod"
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  (cd "$w" && with_progress "kubernetes $K8S_VERSION (${what[*]})" \
    go build -trimpath -ldflags "$ldflags" -o "$out/" "${cmds[@]}")
  touch "$out/.complete" "$out/.complete-node"
  echo "$out"
}

build_etcd() {
  local out="$CACHE/bin/etcd-$ETCD_VERSION"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  local w="$CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$w" "$out"
  printf 'module cutover.dev/testbed/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > "$w/go.mod"
  (cd "$w" && with_progress "etcd $ETCD_VERSION" go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  touch "$out/.complete"
  echo "$out"
}

build_kwok() {
  local out="$CACHE/bin/kwok-$KWOK_VERSION"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  mkdir -p "$out"
  with_progress "kwok $KWOK_VERSION" env GOBIN="$out" GOFLAGS= go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # The stage configs ship in the module: node initialise/heartbeat, pod ready/complete/delete.
  local dir; dir=$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$out/stages" && cp -r "$dir/kustomize/stage/." "$out/stages/" && chmod -R u+w "$out/stages"
  touch "$out/.complete"
  echo "$out"
}

build_helm() {
  local out="$CACHE/bin/helm-$HELM_VERSION"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  mkdir -p "$out"
  with_progress "helm $HELM_VERSION" env GOBIN="$out" GOFLAGS= go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  touch "$out/.complete"
  echo "$out"
}

# Flagger, for the side-by-side benchmark (test/bench): the binary plus its CRDs from the module.
# Built from the module's source (`go mod download`, as `go install …@v1.44.0` would) with ONE
# line changed: its metrics/health server listens on `":" + port` (every interface, no flag to
# change it), and servers on this testbed listen on 127.0.0.1 only. Nothing else is touched.
build_flagger() {
  local out="$CACHE/bin/flagger-$FLAGGER_VERSION"
  if [ -f "$out/.complete-loopback" ]; then echo "$out"; return; fi
  mkdir -p "$out"
  local dir; dir=$(GOFLAGS= go mod download -json "github.com/fluxcd/flagger@$FLAGGER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  local src="$CACHE/src/flagger-$FLAGGER_VERSION"
  rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  sed -i 's|Addr:         ":" + port,|Addr:         "127.0.0.1:" + port,|' "$src/pkg/server/server.go"
  if ! grep -q '"127.0.0.1:" + port' "$src/pkg/server/server.go"; then
    log "FAILED: flagger $FLAGGER_VERSION: pkg/server/server.go no longer has the listen line this script patches"; return 1
  fi
  with_progress "flagger $FLAGGER_VERSION" bash -c "cd '$src' && go build -trimpath -ldflags '-s -w' -o '$out/flagger' ./cmd/flagger"
  cp "$dir/artifacts/flagger/crd.yaml" "$out/crd.yaml" && chmod u+w "$out/crd.yaml"
  touch "$out/.complete-loopback"
  echo "$out"
}

# A one-file Go program of this repository (test/testbed/<name>/main.go) built against one module at
# one version: keyed by that version and the program's hash, so an edit builds anew.
#   build_program <name> <module> <version> <what to print while building>
build_program() {
  local name=$1 module=$2 version=$3 what=$4
  local main; main="$(cd "$(dirname "${BASH_SOURCE[0]}")/../$name" && pwd)/main.go"
  local sum; sum=$(sha256sum "$main" | cut -c1-12)
  local out="$CACHE/bin/$name-$version-$sum"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  local w="$CACHE/src/$name-$version-$sum"
  mkdir -p "$w" "$out"
  cp "$main" "$w/main.go"
  printf 'module cutover.dev/testbed/%s\n\ngo 1.26.0\n\nrequire %s %s\n' "$name" "$module" "$version" > "$w/go.mod"
  (cd "$w" && with_progress "$what" go build -trimpath -ldflags "-s -w" -o "$out/$name" .)
  touch "$out/.complete"
  echo "$out"
}

# kstatus as Flux and kpt compute it, for the tests (test/helpers/kstatus.ts): a small program that
# imports sigs.k8s.io/cli-utils/pkg/kstatus/status.
build_kstatus() { build_program kstatus sigs.k8s.io/cli-utils "$CLI_UTILS_VERSION" "kstatus (sigs.k8s.io/cli-utils $CLI_UTILS_VERSION)"; }

# CoreDNS with only the plugins a cluster's default Corefile uses (test/testbed/coredns/main.go), so
# no cloud-provider SDK is built.
build_coredns() { build_program coredns github.com/coredns/coredns "$COREDNS_VERSION" "coredns $COREDNS_VERSION"; }

fetch_gateway_api() {
  local out="$CACHE/bin/gateway-api-$GATEWAY_API_VERSION"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  local dir; dir=$(GOFLAGS= go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "$out" && cp -r "$dir/config/crd/." "$out/" && chmod -R u+w "$out"
  touch "$out/.complete"
  echo "$out"
}

# The OpenFeature Operator's CRDs (FeatureFlag, core.openfeature.dev/v1beta1, the resource flagd
# reads), generated by controller-gen from the API types of its Go module
# github.com/open-feature/open-feature-operator/apis, as the operator's own `make manifests` does (the
# module proxy serves that module; the operator's root module, which holds the generated YAML, it
# does not). Output: $out/core.openfeature.dev_featureflags.yaml and the group's other CRDs.
fetch_openfeature() {
  local out="$CACHE/bin/openfeature-$OPENFEATURE_APIS_VERSION"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  local cg="$CACHE/bin/controller-gen-$CONTROLLER_TOOLS_VERSION"
  if [ ! -f "$cg/.complete" ]; then
    mkdir -p "$cg"
    with_progress "controller-gen $CONTROLLER_TOOLS_VERSION" env GOBIN="$cg" GOFLAGS= go install -trimpath -ldflags "-s -w" "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
    touch "$cg/.complete"
  fi
  local dl; dl=$(GOFLAGS= go mod download -json "github.com/open-feature/open-feature-operator/apis@$OPENFEATURE_APIS_VERSION")
  if printf '%s' "$dl" | grep -q '"Error"'; then log "cannot download github.com/open-feature/open-feature-operator/apis@$OPENFEATURE_APIS_VERSION: $dl"; exit 1; fi
  local dir; dir=$(printf '%s' "$dl" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  local src="$CACHE/src/openfeature-apis-$OPENFEATURE_APIS_VERSION"
  rm -rf "$src" && mkdir -p "$(dirname "$src")" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  mkdir -p "$out"
  (cd "$src" && with_progress "OpenFeature CRDs (open-feature-operator/apis $OPENFEATURE_APIS_VERSION)" \
    env GOFLAGS= "$cg/controller-gen" crd paths=./core/v1beta1/... output:crd:artifacts:config="$out")
  test -s "$out/core.openfeature.dev_featureflags.yaml" || { log "FAILED: controller-gen wrote no featureflags CRD"; exit 1; }
  touch "$out/.complete"
  echo "$out"
}

what=${1:-all}
# One build at a time per cache: a second caller (another test run, the demo) waits for the first
# instead of compiling the same packages again.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  log "another build is running in $CACHE; waiting for it to finish"
  flock 9
fi
case "$what" in
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  helm) build_helm ;;
  flagger) build_flagger ;;
  kstatus) build_kstatus ;;
  coredns) build_coredns ;;
  gateway-api) fetch_gateway_api ;;
  openfeature) fetch_openfeature ;;
  all) fetch_gateway_api; build_etcd; build_kwok; build_kubernetes ;;
  *) echo "usage: $0 [all|kubernetes|etcd|kwok|helm|gateway-api|flagger|kstatus|coredns|openfeature]" >&2; exit 2 ;;
esac
