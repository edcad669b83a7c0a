{{/*
The prefix of every object's name: the release name, with the chart's name
added when the release name does not hold it (release "execloop" gives
execloop-controller-manager, as config/default's namePrefix does).
*/}}
{{- define "execloop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The labels of every object. */}}
{{- define "execloop.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
{{- end -}}

{{/* The labels that select the manager's pods. */}}
{{- define "execloop.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end -}}

{{/* The manager's ServiceAccount. */}}
{{- define "execloop.serviceAccountName" -}}
{{ include "execloop.fullname" . }}-controller-manager
{{- end -}}

{{/*
The rules of a role of config/rbac, which `make manifests` copies into
files/rbac/: (list $ "role.yaml").
*/}}
{{- define "execloop.rules" -}}
{{- $root := index . 0 -}}
{{- $role := $root.Files.Get (printf "files/rbac/%s" (index . 1)) | fromYaml -}}
{{- if not $role.rules -}}
{{- fail (printf "files/rbac/%s holds no rules: run make manifests" (index . 1)) -}}
{{- end -}}
{{- toYaml $role.rules -}}
{{- end -}}
