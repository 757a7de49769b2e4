// Package padesbench measures signing a PDF with kyso (pkg/pades, level
// B-B, file to file) next to the floor — read the file, SHA-256 it, one
// signature, write it — and next to peers signing the same file, with the
// same key type and certificate profile, in the same run: pyHanko
// (`pyhanko sign addsig … pemder`) and poppler's `pdfsig -add-signature`
// (NSS). Each row is run --runs times, round-robin so that a noisy
// neighbour hurts every row alike; the best and the median wall times are
// kept, and for rows run as a child process the peak resident set size the
// kernel reports (getrusage ru_maxrss). Every signed output is checked by
// pdfsig, so a row that is fast because it did less fails rather than wins.
//
// It backs `kyso bench pdf`; it asserts nothing about speed, it reports,
// with the aims: kyso within 1.5× of the floor, faster than every
// peer, peak memory under 1.5× the file size.
package padesbench
