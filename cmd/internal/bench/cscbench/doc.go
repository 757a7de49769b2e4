// Package cscbench measures remote signing through the CSC API v2
// (pkg/csc over pkg/signing) next to the physical limit it is built on, in
// the same run: a bare PKCS#11 C_SignInit+C_Sign loop (hsm/pkcs11/pkcs11bench)
// on the same SoftHSM token, with the very key a credential signs with.
//
// Three kinds of rows, for each key algorithm and for 1 and N concurrent
// clients:
//
//   - bare: the C_Sign loop, one session per goroutine.
//   - cred-key: the credential's key as signHash opens it (on PKCS#11 a
//     wrapped key, unwrapped once and kept in the key store's cache).
//   - floor: the least any remote signer that keeps the rules does per
//     request, from the same parts: the request over the same HTTPS
//     connection, one durable commit to the same database (the SAD must
//     be spent and the signatures audited before the key signs), and a
//     C_Sign per hash with a resident key; nothing else. With one hash a
//     request the commit's fsync, not the token, is the limit.
//   - signhash: signatures/signHash over HTTPS with keep-alive, 1 or 20
//     hashes a request. Each request needs activation data (a SAD) bound to
//     its exact hashes and spent once (CSC SCAL2), and each SAD takes a
//     credentials/authorize with the owner's PIN and a fresh TOTP code; the
//     SADs are made ahead through signing.Service.Authorize, untimed, so
//     the row times the signHash request alone.
//   - roundtrip: credentials/authorize then signatures/signHash, both over
//     HTTPS, as a relying party does for every document; the PIN is
//     checked with kysod's default argon2id parameters.
//
// For each row: signatures per second, requests per second, the median
// (p50) and 99th-percentile (p99) latency of a request (of the pair, for
// roundtrip), and signatures per second over the bare loop's at the same
// concurrency (and, for signhash, over the floor's at the same hashes and
// concurrency). Every row checks the signatures it got with the
// credential's public key, so a row that is fast because it signed
// nothing fails rather than wins.
//
// TOTP codes are accepted once per owner and time step (RFC 6238 section
// 5.2), so a bench that authorises thousands of times a second cannot use
// the wall clock. Each client is served by a signing.Service of its own —
// replicas over the one database and key store, as kysod replicas are —
// whose clock moves 30 seconds for every authorisation that client makes,
// and each client has owners of its own. Everything else the service does
// is what kysod does.
//
// It backs `kyso bench csc` and BenchmarkSignHashHTTPS; it asserts nothing
// about speed, it reports, with the aim: signHash at least 85% of
// the bare loop's throughput, and the same against the floor.
package cscbench
