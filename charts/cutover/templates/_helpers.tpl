{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "cutover.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: RELEASE-cutover, or RELEASE when it already contains the chart name. */}}
{{- define "cutover.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "cutover.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable for the life of a release (a Deployment's selector is immutable). */}}
{{- define "cutover.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cutover.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cutover.labels" -}}
helm.sh/chart: {{ include "cutover.chart" . }}
{{ include "cutover.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: cutover
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "cutover.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cutover.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cutover.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the hook tokens: the user's existingSecret, or the one this chart creates. */}}
{{- define "cutover.hooksSecretName" -}}
{{- default (printf "%s-hooks" (include "cutover.fullname" .)) .Values.hooks.existingSecret -}}
{{- end -}}

{{/*
Checks that cannot be expressed in values.schema.json (they involve several keys), failing the
render with a message that says what to change.
*/}}
{{- define "cutover.validate" -}}
{{- if and .Values.rbac.namespaced (empty .Values.watchNamespaces) -}}
{{- fail "rbac.namespaced=true needs watchNamespaces: list the namespaces to watch (Roles are created in each)" -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: two replicas reconciling at once would fight over the same routes" -}}
{{- end -}}
{{- end -}}

{{- /* The comparator image: parity.image.*, else the operator's image. */ -}}
{{- define "cutover.parityImage" -}}
{{- if .Values.parity.image.repository -}}
{{- $tag := default .Chart.AppVersion .Values.parity.image.tag -}}
{{- if .Values.parity.image.digest -}}
{{- printf "%s@%s" .Values.parity.image.repository .Values.parity.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.parity.image.repository $tag -}}
{{- end -}}
{{- else -}}
{{- include "cutover.image" . -}}
{{- end -}}
{{- end -}}

{{- /* The comparator pods' placement and resources, as the operator's --parity-pod-template JSON. */ -}}
{{- define "cutover.parityPodTemplate" -}}
{{- $t := dict "resources" .Values.parity.resources -}}
{{- $ns := .Values.parity.nodeSelector | default .Values.nodeSelector -}}
{{- if $ns }}{{- $_ := set $t "nodeSelector" $ns -}}{{- end -}}
{{- $tol := .Values.parity.tolerations | default .Values.tolerations -}}
{{- if $tol }}{{- $_ := set $t "tolerations" $tol -}}{{- end -}}
{{- with .Values.parity.podLabels }}{{- $_ := set $t "podLabels" . -}}{{- end -}}
{{- with .Values.imagePullSecrets }}{{- $_ := set $t "imagePullSecrets" . -}}{{- end -}}
{{- if .Values.networkPolicy.enabled }}{{- $_ := set $t "networkPolicy" (dict "apiServerPorts" .Values.networkPolicy.apiServerPorts) -}}{{- end -}}
{{- toJson $t -}}
{{- end -}}

{{/* The in-cluster web dashboard's labels: its own name, so no selector of the operator's matches its pod. */}}
{{- define "cutover.dashboardLabels" -}}
helm.sh/chart: {{ include "cutover.chart" . }}
app.kubernetes.io/name: {{ printf "%s-dashboard" (include "cutover.name" .) }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: dashboard
app.kubernetes.io/part-of: cutover
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
