{{/*
fullname is the prefix of every object the chart creates. It is the release
name when that already names the chart, so `helm install memory-mcp-operator`
does not produce doubled names.
*/}}
{{- define "mmcp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mmcp.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end -}}

{{- define "mmcp.labels" -}}
{{ include "mmcp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: memory-mcp-operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mmcp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mmcp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mmcp.managerImage" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
serverImage follows the chart's appVersion unless pinned, so an upgrade of
the chart also moves servers that do not name an image of their own.
*/}}
{{- define "mmcp.serverImage" -}}
{{- default (printf "ghcr.io/memorymcp/mcp-server:%s" .Chart.AppVersion) .Values.serverImage -}}
{{- end -}}
