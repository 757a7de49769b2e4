// Package pkcs11bench holds the physical limit of a PKCS#11 token that
// kyso's benchmarks measure hsm/pkcs11 against: Bare, the plainest
// signing loop a C programmer would write, through miekg/pkcs11 directly,
// with none of the backend's pool, handle cache, checks or recovery. It
// backs `kyso bench keys`, `kyso bench csc` and hsm/pkcs11's
// BenchmarkSign.
package pkcs11bench
