{{- define "llamagate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "llamagate.operator" -}}
{{- printf "%s-operator" (include "llamagate.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "llamagate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "llamagate.labels" -}}
app.kubernetes.io/name: llamagate-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "llamagate.selectorLabels" -}}
app.kubernetes.io/name: llamagate-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Where the chart's own LlamaGate and McpServers go: the namespace the operator watches, so
that it reconciles them (the release's namespace when it watches every namespace).
*/}}
{{- define "llamagate.resourceNamespace" -}}
{{- default .Release.Namespace .Values.operator.watchNamespace -}}
{{- end -}}
