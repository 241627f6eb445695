{{/* Chart name. */}}
{{- define "helpdesk-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the prefix of every object of the release. */}}
{{- define "helpdesk-operator.fullname" -}}
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

{{/* Labels of every object. */}}
{{- define "helpdesk-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "helpdesk-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: helpdesk-operator
{{- end }}

{{/* Labels that select the operator pods. */}}
{{- define "helpdesk-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "helpdesk-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "helpdesk-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "helpdesk-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: pinned by digest when one is given. */}}
{{- define "helpdesk-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The image the tenants' Jobs and gates take the operator's binary from (--operator-image). */}}
{{- define "helpdesk-operator.jobImage" -}}
{{- default (include "helpdesk-operator.image" .) .Values.jobs.image }}
{{- end }}

{{/* The Secret names every tenant pod pulls with (--image-pull-secrets), comma-separated. */}}
{{- define "helpdesk-operator.tenantImagePullSecrets" -}}
{{- $names := list }}
{{- if .Values.tenants.inheritImagePullSecrets }}
{{- range .Values.imagePullSecrets }}
{{- $names = append $names (required "each of imagePullSecrets needs a name: [{name: regcred}]" .name) }}
{{- end }}
{{- end }}
{{- $names = concat $names .Values.tenants.imagePullSecrets | uniq }}
{{- join "," $names }}
{{- end }}

{{/* Vault's host (without port) from vault.address. */}}
{{- define "helpdesk-operator.vaultHost" -}}
{{- $u := urlParse (required "vault.address is required: the URL of the Vault the operator uses" .Values.vault.address) }}
{{- if not $u.host }}
{{- fail (printf "vault.address %q is not a URL such as https://vault.vault.svc:8200" .Values.vault.address) }}
{{- end }}
{{- regexReplaceAll ":[0-9]+$" $u.host "" | trimPrefix "[" | trimSuffix "]" }}
{{- end }}

{{/* Vault's TCP port: the address's own, else 443 for https, else 8200 (as the manager reads it). */}}
{{- define "helpdesk-operator.vaultPort" -}}
{{- $u := urlParse .Values.vault.address }}
{{- $port := regexFind ":[0-9]+$" $u.host | trimPrefix ":" }}
{{- if $port }}{{ $port }}{{ else if eq $u.scheme "https" }}443{{ else }}8200{{ end }}
{{- end }}

{{/* Whether Vault's host is an IP address (the manager then derives the egress CIDR). */}}
{{- define "helpdesk-operator.vaultHostIsIP" -}}
{{- $host := include "helpdesk-operator.vaultHost" . }}
{{- if or (regexMatch `^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$` $host) (contains ":" $host) }}true{{ end }}
{{- end }}

{{/* The label selector of Vault's namespace for egress: vault.namespaceSelector, else the
     namespace of an in-cluster Service address (<service>.<namespace>.svc...). A Vault
     named by any other host name needs vault.egressCIDRs or vault.namespaceSelector. */}}
{{- define "helpdesk-operator.vaultNamespaceSelector" -}}
{{- $host := include "helpdesk-operator.vaultHost" . }}
{{- if .Values.vault.namespaceSelector }}
{{- .Values.vault.namespaceSelector }}
{{- else if and (not .Values.vault.egressCIDRs) (not (include "helpdesk-operator.vaultHostIsIP" .)) }}
{{- if regexMatch `^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.svc(\.|$)` $host }}
{{- printf "kubernetes.io/metadata.name=%s" (index (splitList "." $host) 1) }}
{{- else }}
{{- fail (printf "vault.address names %s, which is neither an IP address nor an in-cluster Service (<service>.<namespace>.svc): set vault.egressCIDRs to its addresses (e.g. 203.0.113.10/32), or vault.namespaceSelector (and vault.podSelector) for a Vault inside the cluster, so tenant pods may reach it" $host) }}
{{- end }}
{{- end }}
{{- end }}

{{/* A "k=v,k2=v2" label selector as matchLabels YAML; other selector syntax fails naming value. */}}
{{- define "helpdesk-operator.matchLabels" -}}
{{- $value := index . 0 }}
{{- $name := index . 1 }}
{{- range splitList "," $value }}
{{- $kv := splitList "=" (trim .) }}
{{- if or (ne (len $kv) 2) (not (index $kv 0)) (hasSuffix "!" (index $kv 0)) }}
{{- fail (printf "networkPolicy.enabled reads %s as key=value pairs separated by commas; %q is not one" $name .) }}
{{- end }}
{{ index $kv 0 }}: {{ index $kv 1 | quote }}
{{- end }}
{{- end }}

{{/* The Secret the metrics endpoint serves its certificate from, if any. */}}
{{- define "helpdesk-operator.metricsCertSecret" -}}
{{- if .Values.metrics.tls.secretName }}
{{- .Values.metrics.tls.secretName }}
{{- else if .Values.metrics.tls.certManager.enabled }}
{{- include "helpdesk-operator.fullname" . }}-metrics-cert
{{- end }}
{{- end }}

{{/* The metrics Service's name. */}}
{{- define "helpdesk-operator.metricsService" -}}
{{- include "helpdesk-operator.fullname" . }}-metrics
{{- end }}
