{{/* Name of every object of the release. */}}
{{- define "zhijian.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "zhijian.labels" -}}
app.kubernetes.io/name: zhijian
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels selecting the release's Ray pods. */}}
{{- define "zhijian.selectorLabels" -}}
app.kubernetes.io/name: zhijian
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Secret holding the admin token and the registry URI. */}}
{{- define "zhijian.secretName" -}}
{{- default (printf "%s-secrets" (include "zhijian.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* Environment of every Ray container: secrets by reference, never by value. */}}
{{- define "zhijian.env" -}}
- name: ZHIJIAN_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "zhijian.secretName" . }}
      key: admin-token
- name: MLFLOW_TRACKING_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "zhijian.secretName" . }}
      key: registry-uri
- name: ZHIJIAN_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "zhijian.secretName" . }}
      key: api-key
      optional: true
{{- if .Values.serve.haproxy }}
- name: RAY_SERVE_ENABLE_HA_PROXY
  value: "1"
{{- end }}
{{- with .Values.prices }}
- name: ZHIJIAN_PRICES
  value: {{ toJson . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod metadata of the Ray pods. */}}
{{- define "zhijian.podMetadata" -}}
metadata:
  labels:
    {{- include "zhijian.selectorLabels" . | nindent 4 }}
{{- end -}}

{{/* The Serve config document (serveConfigV2): the typed builder's arguments, and Ray Serve's
own per-deployment autoscaling bounds for the gateway and each named model's host. */}}
{{- define "zhijian.serveConfig" -}}
{{- $serve := .Values.serve -}}
{{- $args := deepCopy $serve.args -}}
{{- $names := list -}}
{{- $deployments := list -}}
{{- $gateway := $serve.gatewayAutoscaling -}}
{{- $deployments = append $deployments (dict "name" "gateway" "num_replicas" "auto" "autoscaling_config" (dict "min_replicas" $gateway.minReplicas "max_replicas" $gateway.maxReplicas "target_ongoing_requests" $gateway.targetOngoingRequests)) -}}
{{- range $serve.models -}}
{{- $names = append $names .name -}}
{{- $bounds := dict "min_replicas" .minReplicas "max_replicas" .maxReplicas -}}
{{- with .targetOngoingRequests }}{{ $_ := set $bounds "target_ongoing_requests" . }}{{ end -}}
{{- $deployments = append $deployments (dict "name" (printf "host-%s" .name) "num_replicas" "auto" "autoscaling_config" $bounds) -}}
{{- end -}}
{{- $_ := set $args "models" (ternary $names nil (gt (len $names) 0)) -}}
{{- $application := dict "name" "zhijian" "route_prefix" "/" "import_path" "services.serve.builder:build_app" "args" $args "deployments" $deployments -}}
{{- $document := dict "proxy_location" $serve.proxyLocation "http_options" (dict "host" "0.0.0.0" "port" $serve.port "request_timeout_s" $serve.requestTimeoutS) "logging_config" (dict "encoding" "JSON" "log_level" "WARNING" "enable_access_log" false) "applications" (list $application) -}}
{{- toYaml $document -}}
{{- end -}}
