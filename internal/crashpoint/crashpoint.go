// Package crashpoint names the places where the crash tests
// (cmd/kysod/crash_test.go) kill kysod: Reach("name") marks one. In a
// normal build Reach does nothing and costs nothing; only a binary built
// with the build tag kysocrash reads KYSO_CRASH_AT and KYSO_CRASH_AFTER
// and kills its own process with SIGKILL at the named point. No build an
// operator runs has that tag, so no setting can make a production kysod
// kill itself.
package crashpoint

// Points the crash tests name.
const (
	// Approved: a transaction's approval is recorded (pending → approved,
	// its lease taken), nothing signed yet.
	Approved = "approved"
	// MidBatch: half of an approved transaction's documents are signed.
	MidBatch = "mid-batch"
	// Signed: every document is signed, the final state not yet written.
	Signed = "signed"
	// Delivered: a webhook was answered 2xx, its delivery not yet
	// recorded.
	Delivered = "delivered"
	// Spent: CSC signHash spent its activation data (with the audit
	// intents), nothing signed yet.
	Spent = "spent"
	// Reserved: a certificate's serial is reserved with its audit intent
	// (one commit), nothing signed yet.
	Reserved = "reserved"
	// Issued: an enrolment's certificate is signed and recorded, its owner
	// and credential not yet.
	Issued = "issued"
	// CRLNumbered: a CRL's number is drawn, the CRL not yet signed nor
	// stored.
	CRLNumbered = "crl-numbered"
	// RegistrationLeased: an officer's approval holds the registration
	// (approving), nothing enrolled yet.
	RegistrationLeased = "registration-leased"
	// RegistrationEnrolled: an approval's enrolment is recorded, the
	// registration not yet approved.
	RegistrationEnrolled = "registration-enrolled"
)
