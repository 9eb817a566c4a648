{{/* Chart name, truncated to 63 characters. */}}
{{- define "ivschat-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release name, plus the chart name unless the release name contains it. */}}
{{- define "ivschat-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ivschat-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels (immutable in a Deployment: never add to them). */}}
{{- define "ivschat-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ivschat-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. deploy/generate.sh strips the helm.sh/chart and managed-by lines. */}}
{{- define "ivschat-operator.labels" -}}
{{- $labels := dict
  "helm.sh/chart" (include "ivschat-operator.chart" .)
  "app.kubernetes.io/name" (include "ivschat-operator.name" .)
  "app.kubernetes.io/instance" .Release.Name
  "app.kubernetes.io/version" .Chart.AppVersion
  "app.kubernetes.io/part-of" "ivschat-operator"
  "app.kubernetes.io/managed-by" .Release.Service }}
{{- toYaml (merge $labels (deepCopy (.Values.commonLabels | default dict))) }}
{{- end }}

{{/* Common labels plus `extra` (the common labels win): (dict "ctx" $ "extra" .Values.x.labels). */}}
{{- define "ivschat-operator.labelsWith" -}}
{{- $labels := fromYaml (include "ivschat-operator.labels" .ctx) }}
{{- toYaml (merge $labels (deepCopy (.extra | default dict))) }}
{{- end }}

{{- define "ivschat-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ivschat-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespace watched with installScope=namespace. */}}
{{- define "ivschat-operator.watchNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace }}
{{- end }}

{{- define "ivschat-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{- define "ivschat-operator.leaseName" -}}
{{- default (include "ivschat-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "ivschat-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* `key=value,key2=value2` for --default-tags (keys sorted). */}}
{{- define "ivschat-operator.defaultTags" -}}
{{- $tags := list }}
{{- range $k, $v := .Values.defaultTags }}
{{- $tags = append $tags (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $tags }}
{{- end }}

{{/* Fails on combinations of values the schema cannot express. */}}
{{- define "ivschat-operator.validate" -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: without election every replica would reconcile" }}
{{- end }}
{{- if and (eq .Values.installScope "cluster") .Values.watchNamespace }}
{{- fail "watchNamespace is only used with installScope=namespace" }}
{{- end }}
{{- end }}

{{/* The operator's rules on the watched namespaces (ClusterRole or Role). */}}
{{- define "ivschat-operator.rules" -}}
# Watch the two kinds, patch their finalizer in metadata.
- apiGroups: ["ivschat.operators.dev"]
  resources: ["chatrooms", "chatloggingconfigurations"]
  verbs: ["get", "list", "watch", "patch"]
# Status is written with server-side apply.
- apiGroups: ["ivschat.operators.dev"]
  resources: ["chatrooms/status", "chatloggingconfigurations/status"]
  verbs: ["get", "patch"]
# Needed where OwnerReferencesPermissionEnforcement is on (OpenShift).
- apiGroups: ["ivschat.operators.dev"]
  resources: ["chatrooms/finalizers", "chatloggingconfigurations/finalizers"]
  verbs: ["update"]
# Events about the objects (kube-runtime's Recorder creates, then patches a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
