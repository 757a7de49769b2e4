// Package pkcs11 is kyso's key store on a PKCS#11 token (an HSM, a smart
// card, or SoftHSM in tests), through github.com/miekg/pkcs11. Open takes an
// RFC 7512 pkcs11: URI; the Store it returns implements hsm.KeyStore,
// hsm.KeyDeleter and hsm.WrappedKeyStore.
//
// # Keys on the token
//
// CreateKey generates the key pair on the token: the private key is a token
// object with CKA_PRIVATE, CKA_SENSITIVE and CKA_SIGN true and CKA_EXTRACTABLE
// false; its public key carries the same CKA_LABEL (the kyso label) and a
// random 16-byte CKA_ID. RSA 2048/3072/4096 (e = 65537), ECDSA P-256/P-384 and,
// where the token has CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA (SoftHSM 2.6
// does), Ed25519. Signing uses CKM_RSA_PKCS over a DigestInfo,
// CKM_RSA_PKCS_PSS with MGF1 of the same hash and salt the hash length,
// CKM_ECDSA (r||s converted to ASN.1) and CKM_EDDSA.
//
// # Sessions and recovery
//
// Sessions are pooled (URI attribute pool-size; default 2×GOMAXPROCS, at
// least 4) and reused; the user logs in once per token. When an operation
// fails with a code that says sessions, login or objects are gone
// (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_OBJECT_HANDLE_INVALID,
// CKR_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN, CKR_DEVICE_REMOVED,
// CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR, CKR_TOKEN_NOT_RECOGNIZED), the
// store drops its pool, finds the slot again by token label, opens a
// session, logs in, and the operation runs once more. Signers cache their
// key's object handle per recovery generation; after a recovery, or after
// the store deletes any key, a signer looks its label up again and signs
// only if the key found has the public key the signer was made for. A key
// deleted, or replaced under the same label (a re-initialised token, say),
// is never used by an old signer. A recovery caused by objects vanishing
// also logs out and in again: a token re-initialised underneath leaves the
// process logged in to the old token for as long as any session is open.
// A failure recovery cannot mend (the token gone, the operation failing
// again) wraps hsm.ErrUnavailable.
//
// Found with SoftHSM 2.6.1 and worked around or documented here:
// C_GenerateKeyPair on the file object store fails with CKR_GENERAL_ERROR
// while another thread runs C_FindObjects*, so the store keeps searches apart
// from creating and destroying token objects (a read-write lock); signing
// is not held up. C_CloseAllSessions on one thread while another is inside
// C_Sign on one of those sessions kills the process (SIGSEGV in SoftHSM), and
// a process that reads a token while softhsm2-util re-initialises it may keep
// a torn view of it (listed with an empty label) until it restarts; neither
// can be mended from outside the module, so the tests kill sessions and
// re-initialise the token between operations.
//
// # Wrapped keys
//
// For more keys than a token holds (one per citizen), CreateWrappedKey
// generates the key pair on the token as session objects, wraps the private
// key with CKM_AES_KEY_WRAP_PAD (RFC 5649) under an AES-256 master key that
// never leaves the token (made by Store.CreateMasterKey, label "kyso-master"
// unless the URI's master-key attribute says otherwise), destroys the
// objects and returns a versioned blob: algorithm, the master key's CKA_ID,
// the public key as SubjectPublicKeyInfo and the wrapped key. WrappedSigner
// parses the blob strictly and signs with the key unwrapped into a
// non-extractable, sensitive, sign-only session object.
//
// Unwrapped keys are cached: SoftHSM's C_UnwrapKey costs as much as ten
// ECDSA signatures (most of it OpenSSL 3 decoding PKCS#8), so a key that
// signs again soon is not unwrapped again. The cache holds at most
// key-cache objects (URI attribute; default DefaultKeyCache, 0 turns it
// off), least recently used out first, and destroys one idle for
// key-cache-idle (default DefaultKeyCacheIdle). Keeping the objects gives
// the process no power it lacks: any session of the store can unwrap any
// blob under the master key at any time, so whether a key may sign is
// decided by the caller (pkg/signing's unlock), never by whether its object
// exists. A cached object signs only while the master key that unwrapped it
// is on the token (its handle is read again when MasterRecheck has passed):
// SoftHSM keeps a process's sessions, and the objects in them, through
// another process's re-initialisation of the token. Objects made before a recovery are
// forgotten, not destroyed. The signatures an object makes are verified
// under the blob's public key until one has verified; after that the object
// is known to be that key. A cached object is looked up by a hash of the
// whole blob, so a blob that differs in any byte is unwrapped, and checked,
// afresh.
//
// What SoftHSM 2.6.1 does, found by trying, and the design that follows:
//
//   - CKM_AES_KEY_WRAP_PAD is there (listed as mechtype-0x210A by
//     pkcs11-tool) and wraps and unwraps RSA and EC private keys, as PKCS#8.
//     A blob altered in its wrapped part fails RFC 5649's integrity check
//     (SoftHSM reports CKR_GENERAL_ERROR). The unwrapped EC private key has
//     no CKA_EC_POINT, hence the check of every signature against the
//     blob's public key.
//   - SoftHSM generates Ed25519 keys and signs with CKM_EDDSA, but refuses
//     to wrap them (CKR_KEY_NOT_WRAPPABLE): wrapped Ed25519 keys give
//     hsm.ErrUnsupportedAlgorithm; Ed25519 keys on the token work.
//   - Only the security officer may set CKA_TRUSTED (the user gets
//     CKR_ATTRIBUTE_READ_ONLY, also from C_SetAttributeValue), and the
//     security officer cannot create private objects
//     (CKR_USER_NOT_LOGGED_IN). A trusted master key would therefore be a
//     public object, which SoftHSM stores unencrypted on disk and lets any
//     session use without the user PIN — far worse than what
//     CKA_WRAP_WITH_TRUSTED protects against. CreateMasterKey therefore makes
//     a private, untrusted key, and does not offer an SO-PIN variant.
//   - CKA_WRAP_WITH_TRUSTED is enforced: a key with it cannot be wrapped by
//     an untrusted key (CKR_KEY_NOT_WRAPPABLE). CreateWrappedKey sets it
//     exactly when the master key is CKA_TRUSTED, which an HSM vendor's
//     tooling may arrange; with SoftHSM the extractable private key is a
//     session object of this process that lives only until it is wrapped
//     and destroyed, a few milliseconds later.
//
// Files that call the module need cgo; a binary built without cgo has the
// same API, and Open says it was built without PKCS#11 support.
package pkcs11
