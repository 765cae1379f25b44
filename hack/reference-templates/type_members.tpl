{{- define "type_members" -}}
{{- if eq .Name "metadata" -}}
Standard object metadata.
{{- else -}}
{{ markdownRenderFieldDoc .Doc }}
{{- end -}}
{{- end -}}

{{- define "field_validation" -}}
{{- range $i, $v := .Validation }}{{ if $i }}<br />{{ end }}{{ markdownRenderFieldDoc $v }}{{ end -}}
{{- range (index .Markers "kubebuilder:validation:XValidation") }}<br />{{ markdownRenderFieldDoc .Message }}{{ end -}}
{{- end -}}
