#!/usr/bin/env bash
# Regenerates argocd-cm.yaml from the health-*.lua scripts (test/unit/chart/argocd-health.test.ts
# fails when they differ).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
{
  cat <<'HEAD'
# Merge into Argo CD's argocd-cm ConfigMap (kubectl -n argocd patch configmap argocd-cm --patch-file argocd-cm.yaml).
# Generated from the health-*.lua files beside it by gen-argocd-cm.sh: edit those, then rerun it.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: argocd
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  # Cutover sets the backendRef weights and a RequestMirror filter of the routes it manages: Argo CD
  # must not show them as drift nor reset them on sync (add syncOptions RespectIgnoreDifferences=true
  # to the Application). Not `managedFieldsManagers: [cutover]`: HTTPRoute spec.rules is an atomic
  # list, so manager cutover owns ALL of spec.rules and Argo CD would then ignore every change to
  # the rules in Git, not only the weights.
  resource.customizations.ignoreDifferences.gateway.networking.k8s.io_HTTPRoute: |
    jqPathExpressions:
      - .spec.rules[].backendRefs[]?.weight
      - .spec.rules[].filters[]? | select(.type == "RequestMirror")
HEAD
  for kind in TrafficShift ShadowRun MigrationSlice; do
    lower=$(printf '%s' "$kind" | tr '[:upper:]' '[:lower:]')
    printf '  resource.customizations.health.cutover.dev_%s: |\n' "$kind"
    sed -e 's/^/    /' -e 's/^    $//' "$here/health-$lower.lua"
  done
} > "$here/argocd-cm.yaml"
