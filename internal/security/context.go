package security

import (
	"context"
)

type envelopeKey struct{}

func withEnvelope(ctx context.Context, env envelope) context.Context {
	return context.WithValue(ctx, envelopeKey{}, env)
}

func envelopeFrom(ctx context.Context) envelope {
	env, _ := ctx.Value(envelopeKey{}).(envelope)
	return env
}
