// Package display writes the values kyso shows to people in one form,
// whichever API, report, stamp or command shows them: certificate serial
// numbers (upper-case hex of whole octets, as openssl prints them),
// distinguished names (RFC 4514, with the attribute names Vietnamese
// certificate profiles use, UID included, and values decoded as text), and
// times (Vietnam's time by default, the zone shown as its offset).
//
// It also says what text may be shown at all, so that what is displayed
// is what is meant: Text refuses, at every API's edge, the control,
// bidirectional and invisible characters that make a description or a
// document name look other than what it holds; Escape writes them
// visibly wherever text is shown; MixedScript finds the mixed-script
// confusables of Unicode TR 39 in names. One classification serves all
// three, so what the edge refuses is exactly what a screen escapes.
//
// It sits below every other kyso package and imports only the standard
// library, so that the CA, the verifier, the stamp and every API dialect
// can use it.
package display
