package main

import (
	"io"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"--transport", "stdio"}, false},
		{[]string{"--transport", "grpc"}, true},
		{[]string{"--storage", "mysql"}, true},
		{[]string{"--storage", "postgres", "--postgres-url-file", "/run/url"}, false},
		{[]string{"--config-map=x-runtime-config", "--namespace=memory"}, false},
		{[]string{"--config-map=x-runtime-config"}, true},
		{[]string{"--credentials-secret=x-credentials"}, true},
		{[]string{"--config-file=/etc/c.json", "--credentials-file=/etc/k.json", "--audit-dir=/tmp/a"}, false},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.args, io.Discard)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseFlags(%v) error = %v, wantErr %v", tt.args, err, tt.wantErr)
		}
	}
}

func TestPostgresURLNeedsASource(t *testing.T) {
	t.Setenv(postgresURLEnv, "")
	if _, err := postgresURL(""); err == nil {
		t.Error("postgresURL with neither file nor env succeeded")
	}
	t.Setenv(postgresURLEnv, "postgres://x@y/z")
	if got, err := postgresURL(""); err != nil || got != "postgres://x@y/z" {
		t.Errorf("postgresURL from env = %q, %v", got, err)
	}
}
