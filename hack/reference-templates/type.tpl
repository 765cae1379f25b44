{{- define "type" -}}
{{- $type := . -}}
{{- if markdownShouldRenderType $type }}
### {{ $type.Name }}
{{ if $type.IsAlias }}
A {{ markdownRenderTypeLink $type.UnderlyingType }}.
{{- end }}

{{ $type.Doc }}
{{ with $type.Validation }}
Validation:
{{ range . }}
- {{ . }}
{{- end }}
{{ end }}
{{- with index $type.Markers "kubebuilder:validation:XValidation" }}
Rules:
{{ range . }}
- {{ .Message }} (`{{ .Rule }}`)
{{- end }}
{{ end }}
{{- with $type.References }}
Used by: {{ range $i, $r := $type.SortedReferences }}{{ if $i }}, {{ end }}{{ markdownRenderTypeLink $r }}{{ end }}.
{{ end }}
{{- if $type.Members }}
| Field | Type | Default | Validation | Description |
| --- | --- | --- | --- | --- |
{{- if $type.GVK }}
| `apiVersion` | string | | | `{{ $type.GVK.Group }}/{{ $type.GVK.Version }}` |
| `kind` | string | | | `{{ $type.GVK.Kind }}` |
{{- end }}
{{- range $type.Members }}
| `{{ .Name }}` | {{ markdownRenderType .Type }} | {{ markdownRenderDefault .Default }} | {{ template "field_validation" . }} | {{ template "type_members" . }} |
{{- end }}
{{ end }}
{{- if $type.EnumValues }}
| Value | Description |
| --- | --- |
{{- range $type.EnumValues }}
| `{{ .Name }}` | {{ markdownRenderFieldDoc .Doc }} |
{{- end }}
{{ end }}
{{- end -}}
{{- end -}}
