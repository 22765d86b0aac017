// Package storetest holds the conformance suite of wxid's stores: the
// session store (session.Store) and the users service (users.Service).
// One suite, run on SQLite and on a real MySQL/MariaDB, pins what both
// databases must agree on: what is live, what a revocation ends, which
// rows a purge deletes, how pages of users are cut and which errors reach
// the API. The package has no code of its own besides its tests.
package storetest
