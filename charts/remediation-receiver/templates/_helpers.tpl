{{/* Names, labels and the values the templates share. */}}

{{- define "rr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rr.fullname" -}}
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

{{/* Cluster-scoped objects carry the namespace: two releases of the same name must not collide. */}}
{{- define "rr.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "rr.fullname" .) -}}
{{- end -}}

{{- define "rr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rr.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: remediation-receiver
{{- end -}}

{{- define "rr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Lease the replicas elect a leader on, and the ConfigMap the leader keeps its state in. */}}
{{- define "rr.leaseName" -}}
{{- include "rr.fullname" . -}}
{{- end -}}

{{- define "rr.stateName" -}}
{{- printf "%s-state" (include "rr.fullname" .) -}}
{{- end -}}

{{- define "rr.runbookConfigMapName" -}}
{{- default (printf "%s-runbook" (include "rr.fullname" .)) .Values.runbook.existingConfigMap -}}
{{- end -}}

{{- define "rr.runbookKey" -}}
{{- if .Values.runbook.existingConfigMap -}}
{{- .Values.runbook.existingConfigMapKey -}}
{{- else -}}
runbook.yaml
{{- end -}}
{{- end -}}

{{- define "rr.tokenSecretName" -}}
{{- default (printf "%s-token" (include "rr.fullname" .)) .Values.token.existingSecret -}}
{{- end -}}

{{- define "rr.tokenKey" -}}
{{- if .Values.token.existingSecret -}}
{{- .Values.token.existingSecretKey -}}
{{- else -}}
token
{{- end -}}
{{- end -}}

{{- define "rr.heartbeatTokenSecretName" -}}
{{- default (printf "%s-heartbeat-token" (include "rr.fullname" .)) .Values.heartbeatToken.existingSecret -}}
{{- end -}}

{{- define "rr.heartbeatTokenKey" -}}
{{- if .Values.heartbeatToken.existingSecret -}}
{{- .Values.heartbeatToken.existingSecretKey -}}
{{- else -}}
token
{{- end -}}
{{- end -}}

{{- define "rr.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The receiver's own URL, for Alertmanager. */}}
{{- define "rr.webhookURL" -}}
{{- printf "http://%s.%s.svc:%d/api/v1/alerts" (include "rr.fullname" .) .Release.Namespace (int .Values.service.port) -}}
{{- end -}}

{{/*
The rules of files/rbac-rules.yaml, by section. The chart renders RBAC only
from this file, so the adapter's tests and the chart agree on one list.
*/}}
{{- define "rr.rbacRules" -}}
{{- $rules := .Files.Get "files/rbac-rules.yaml" | fromYaml -}}
{{- if hasKey $rules "Error" -}}
{{- fail (printf "files/rbac-rules.yaml: %s" (get $rules "Error")) -}}
{{- end -}}
{{- range $section := list "watched" "deleteFallback" "own" "tokenReview" -}}
{{- if not (get $rules $section) -}}
{{- fail (printf "files/rbac-rules.yaml: section %q is missing or empty" $section) -}}
{{- end -}}
{{- end -}}
{{- toJson $rules -}}
{{- end -}}

{{/*
The namespaces to grant the watched rules in, as a JSON list: rbac.namespaces,
else the inline runbook's settings.namespaces. An inline runbook that acts
somewhere the chart grants nothing fails the install instead of failing at
the first action.
*/}}
{{- define "rr.watchedNamespaces" -}}
{{- $runbookNamespaces := list -}}
{{- if not .Values.runbook.existingConfigMap -}}
{{- $runbook := .Values.runbook.content | fromYaml -}}
{{- if hasKey $runbook "Error" -}}
{{- fail (printf "runbook.content is not valid YAML: %s" (get $runbook "Error")) -}}
{{- end -}}
{{- $settings := get $runbook "settings" | default dict -}}
{{- $runbookNamespaces = get $settings "namespaces" | default list -}}
{{- if not $runbookNamespaces -}}
{{- fail "runbook.content: settings.namespaces is required (the namespaces the receiver may act in)" -}}
{{- end -}}
{{- end -}}
{{- $namespaces := .Values.rbac.namespaces -}}
{{- if .Values.rbac.clusterWide -}}
{{- $namespaces = list -}}
{{- else -}}
{{- if has "*" $runbookNamespaces -}}
{{- fail "runbook.content: settings.namespaces allows every namespace (\"*\"), but rbac.clusterWide is false: set rbac.clusterWide=true" -}}
{{- end -}}
{{- if not $namespaces -}}
{{- if .Values.runbook.existingConfigMap -}}
{{- fail "rbac.namespaces is required with runbook.existingConfigMap (the chart cannot read it): list the namespaces the runbook acts in, or set rbac.clusterWide=true" -}}
{{- end -}}
{{- $namespaces = $runbookNamespaces -}}
{{- end -}}
{{- range $runbookNamespaces -}}
{{- if not (has . $namespaces) -}}
{{- fail (printf "runbook.content: settings.namespaces lists %q but rbac.namespaces does not: add it there, or leave rbac.namespaces empty to use the runbook's" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson (uniq $namespaces) -}}
{{- end -}}
