package graphqlhttp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/wxid/wxid/apperr"
)

// PersistedQueries implements automatic persisted queries (Apollo's
// persistedQuery extension, version 1) like gqlgen's
// extension.AutomaticPersistedQuery, with every refusal coded where it is
// made: an unknown hash is PERSISTED_QUERY_NOT_FOUND (the client sends the
// query text next), a hash that does not match the query is
// PERSISTED_QUERY_MISMATCH, a malformed extension or another version is
// BAD_REQUEST. None of them is INTERNAL, and errmap logs them at debug.
type PersistedQueries struct {
	// Cache maps a query's SHA-256 (hex) to its text.
	Cache graphql.Cache[string]
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = PersistedQueries{}

// ExtensionName names the extension for gqlgen.
func (PersistedQueries) ExtensionName() string { return "PersistedQueries" }

// Validate checks the configuration.
func (p PersistedQueries) Validate(graphql.ExecutableSchema) error {
	if p.Cache == nil {
		return errors.New("PersistedQueries.Cache must not be nil")
	}
	return nil
}

// MutateOperationParameters fills in the query of a persisted-query request
// or remembers the query sent with its hash.
func (p PersistedQueries) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	ext, ok := raw.Extensions["persistedQuery"]
	if !ok || ext == nil {
		return nil
	}
	pq, isMap := ext.(map[string]any)
	hash, isString := pq["sha256Hash"].(string)
	if !isMap || !isString || !validHash(hash) {
		return refusal(apperr.CodeBadRequest,
			"extensions.persistedQuery must be {version: 1, sha256Hash: <64 hex digits>}")
	}
	if !versionOne(pq["version"]) {
		return refusal(apperr.CodeBadRequest, "unsupported persisted query version: only version 1 is supported")
	}
	hash = strings.ToLower(hash)
	if raw.Query == "" {
		if raw.Query, ok = p.Cache.Get(ctx, hash); !ok {
			// Apollo's and urql's links look for this exact message.
			return refusal(apperr.CodePersistedQueryNotFound, "PersistedQueryNotFound")
		}
		return nil
	}
	sum := sha256.Sum256([]byte(raw.Query))
	if hex.EncodeToString(sum[:]) != hash {
		return refusal(apperr.CodePersistedQueryMismatch, "the persisted query's sha256Hash does not match the query")
	}
	p.Cache.Add(ctx, hash, raw.Query)
	return nil
}

// refusal is a request error carrying its coded cause for errmap.
func refusal(code, message string) *gqlerror.Error {
	return &gqlerror.Error{Message: message, Err: apperr.New(code, message)}
}

// versionOne reports whether v is the number 1 (json.Number from the
// transport, float64 from other decoders).
func versionOne(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return v.String() == "1"
	case float64:
		return v == 1
	default:
		return false
	}
}

func validHash(h string) bool {
	if len(h) != sha256.Size*2 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}
