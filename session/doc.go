// Package session issues, resolves, rotates and revokes skeys: wxid's own
// session tokens.
//
// # Layers
//
// A Manager holds the rules; a Store under it holds every read and write
// of the session table, the way a service sits over a persister. Whether a
// session row still authenticates is one method, Record.Live.
//
// # Tokens and rows
//
// An skey is random bytes with a MAC tag (token.go; Keys mint and verify
// them), so an skey wxid did not issue is refused before any lookup. The
// database is the source of truth: a session row holds the SHA-256 of its
// skey (Hash), never the skey. A row belongs to a family, one per login,
// shared by every skey rotated from it; it has an idle expiry (ExpiresAt)
// and the login's absolute expiry (AbsoluteExpiresAt).
//
// # The cache
//
// The cache holds an authenticated entry per skey hash under CacheKey
// (entry.go): a live one carries the Info until the skey's idle expiry, so
// that resolving an skey costs one cache round trip; a dead one is a
// tombstone. A miss, a cache failure or an entry that fails its tag falls
// back to the database and refills the cache with Add, so a refill can
// never overwrite a newer entry or a tombstone. Revocation writes
// tombstones until the login's absolute expiry; a database read that finds
// an skey dead adds one for a few minutes, so retries with a dead skey stay
// off the database. Tombstones that cannot be written are kept and retried
// by Run, and the revocation feed (revocations.go) tells every instance
// which skeys were revoked, so a stale or replayed entry is refused.
//
// # Rotation
//
// Refresh locks the old row in a transaction, creates the successor in the
// same family and absolute expiry, cuts the old row's idle expiry to the
// grace window and stores the successor's skey on it, sealed under the old
// skey's hash. A second Refresh within the grace window opens it and hands
// out the same successor. Only after the commit does the cache learn the
// outcome: the successor's entry, and the old entry shrunk to the grace
// window (or a tombstone when the cache refuses).
package session
