// Package pades signs PDF documents with PAdES baseline signatures (ETSI EN
// 319 142-1): a CAdES detached SignedData (pkg/cms) in the /Contents of a
// signature dictionary with SubFilter ETSI.CAdES.detached, appended to the
// original as an incremental update (ISO 32000-2:2020 §7.5.6, §12.8), so
// the original bytes — and any earlier signature — stay as they were.
//
// Signing is two-phase, because a remote signer waits for a person:
//
//	p, err := pades.Prepare(orig, size, &pades.Options{Reason: "Nộp hồ sơ"})
//	state, _ := p.MarshalBinary() // store while the key owner approves
//	// … later, maybe in another process: cms.Prepare with ContentDigest
//	// p.Digest, the signer signs, cms Finish gives cmsDER …
//	err = pades.Embed(orig, p, cmsDER, out)
//
// Prepare never sends or stores the document: a portal can pass p.Digest to
// a remote signer. Sign does everything in one call with a crypto.Signer,
// at level B-B or, with a time-stamping authority, B-T (ETSI EN 319 142-1
// clauses 6.3 and 6.4). Extend takes B-T signatures to B-LT — a DSS
// dictionary with the certificates, OCSP responses and CRLs that validate
// them, VRI entries per signature (clause 5.4.2) — and to B-LTA, adding a
// document time-stamp (SubFilter ETSI.RFC3161) over it all; extending
// again adds fresh data and a new time-stamp. A visible appearance
// (Options.Visible) draws a stamp with Vietnamese text in an embedded,
// subset font (pkg/stamp).
//
// The PDF is read by pkg/pdf, which bounds every input; encrypted documents
// are refused.
package pades
