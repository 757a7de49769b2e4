package server

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"runtime"
	"sync"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/ocsp"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Defaults of OCSP pre-signing (PKIOptions.OCSPPresign).
const (
	// DefaultPresignInterval is PKIOptions.OCSPPresignInterval's default:
	// how often a pass looks for new certificates, changed statuses and
	// answers past half their validity.
	DefaultPresignInterval = time.Minute
	// PresignBatch is how many certificates a pass reads, signs and
	// stores at once: its memory is one batch's answers.
	PresignBatch = 1000
)

// PresignResult is what one pre-signing pass did.
type PresignResult struct {
	// New counts answers for certificates that had none; Refreshed
	// those signed again (past half their validity, a changed status, a
	// replaced responder); Retired the answers a replaced responder had
	// signed, made due; Skipped the answers signed but not stored, their
	// certificate's status having changed meanwhile (the next pass signs
	// them again); Failed the certificates that could not be signed.
	New, Refreshed, Retired, Skipped, Failed int
	// Leased is false when another replica holds the upkeep: this one
	// signed nothing.
	Leased bool
	// Duration is the pass's wall time.
	Duration time.Duration
}

// presigner is the state of the pre-signing passes of one PKI.
type presigner struct {
	mu sync.Mutex
	// after is the insertion order (certificates.id) up to which every
	// certificate has been given an answer, in this process.
	after int64
	// responder is the responder certificate (ocsp.Responder.ResponderID)
	// the last pass retired the others' answers for.
	responder []byte
	interval  time.Duration
}

// presignLoop runs a pass every interval until ctx ends.
func (p *PKI) presignLoop(ctx context.Context) {
	t := time.NewTicker(p.presign.interval)
	defer t.Stop()
	for {
		if _, err := p.PresignPass(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("OCSP pre-signing", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PresignPass signs ahead, and stores, the issuing CA's OCSP answers that
// are due — answers made stale by a change of status or by a new
// responder certificate first, then those past half their validity (or
// due before the next pass), then the certificates without one — in
// batches of PresignBatch, while this replica holds the `pki` upkeep
// lease (claimed again before each batch). A replica without it signs
// nothing. Expired certificates are left out.
func (p *PKI) PresignPass(ctx context.Context) (*PresignResult, error) {
	if p.presign == nil {
		return nil, errors.New("server: OCSP pre-signing is off (PKIOptions.OCSPPresign)")
	}
	p.presign.mu.Lock()
	defer p.presign.mu.Unlock()
	start := time.Now()
	res := &PresignResult{}
	defer func() { res.Duration = time.Since(start) }()
	progress := start
	logProgress := func(final bool) {
		if !final && time.Since(progress) < 10*time.Second {
			return
		}
		progress = time.Now()
		n := res.New + res.Refreshed
		p.log.Info("OCSP pre-signing", "new", res.New, "refreshed", res.Refreshed, "skipped", res.Skipped,
			"failed", res.Failed, "seconds", time.Since(start).Seconds(), "per_second", float64(n)/max(time.Since(start).Seconds(), 1e-9), "done", final)
	}

	if res.Leased = p.claimUpkeep(ctx); !res.Leased {
		return res, nil
	}
	if id := p.ocsp.ResponderID(); !bytes.Equal(id, p.presign.responder) {
		n, err := p.st.RetireOCSPResponder(ctx, ca.IssuingName, id)
		if err != nil {
			return res, err
		}
		res.Retired = int(n)
		p.presign.responder = id
	}

	// The due answers, on ocsp_answers_due from a (refresh_at, serial)
	// cursor: stale ones (refresh_at at the epoch) first.
	now := p.now()
	due := now.Add(min(p.presign.interval, p.ocsp.Validity()/4))
	afterAt, afterSerial := time.Unix(-1, 0), []byte(nil)
	err := p.presignWalk(ctx, res, "refreshed", &res.Refreshed, logProgress, func() ([]*store.OCSPDue, error) {
		return p.st.OCSPStale(ctx, ca.IssuingName, now, due, afterAt, afterSerial, PresignBatch)
	}, func(last *store.OCSPDue) { afterAt, afterSerial = last.RefreshAt, last.Serial })
	if err != nil || !res.Leased {
		return res, err
	}
	// The certificates without an answer, in insertion order from where
	// the last pass of this process stopped.
	err = p.presignWalk(ctx, res, "new", &res.New, logProgress, func() ([]*store.OCSPDue, error) {
		return p.st.OCSPUnanswered(ctx, ca.IssuingName, now, p.presign.after, PresignBatch)
	}, func(last *store.OCSPDue) { p.presign.after = last.ID })
	if err != nil || !res.Leased {
		return res, err
	}
	if res.New+res.Refreshed+res.Retired+res.Skipped+res.Failed > 0 || time.Since(start) > time.Second {
		logProgress(true)
	}
	return res, nil
}

// presignWalk reads batches with next until one is empty, and signs and
// stores each while the lease is this replica's (res.Leased), counting
// what it stored in *count and kyso_ocsp_presigned_total{kind}; advance
// moves the cursor past each batch's last row.
func (p *PKI) presignWalk(ctx context.Context, res *PresignResult, kind string, count *int, progress func(bool),
	next func() ([]*store.OCSPDue, error), advance func(*store.OCSPDue)) error {
	for {
		rows, err := next()
		if err != nil || len(rows) == 0 {
			return err
		}
		if res.Leased = p.claimUpkeep(ctx); !res.Leased {
			return nil
		}
		stored, err := p.presignBatch(ctx, rows, res)
		if err != nil {
			return err
		}
		*count += stored
		metrics.OCSPPresigned.WithLabelValues(kind).Add(float64(stored))
		advance(rows[len(rows)-1])
		progress(false)
	}
}

// claimUpkeep claims (extends) the `pki` upkeep lease, and reports
// whether this replica holds it.
func (p *PKI) claimUpkeep(ctx context.Context) bool {
	ok, err := p.st.ClaimUpkeep(ctx, upkeepLease, p.holder, p.now(), p.now().Add(p.lease))
	if err != nil {
		p.log.Error("claiming the PKI's upkeep lease", "err", err)
	}
	return ok && err == nil
}

// presignBatch signs rows' answers on GOMAXPROCS goroutines and stores
// them; it returns how many were stored.
func (p *PKI) presignBatch(ctx context.Context, rows []*store.OCSPDue, res *PresignResult) (int, error) {
	answers := make([]*store.OCSPAnswer, len(rows))
	errs := make([]error, len(rows))
	workers := min(runtime.GOMAXPROCS(0), len(rows))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rows); i += workers {
				answers[i], errs[i] = p.presignOne(rows[i])
			}
		})
	}
	wg.Wait()
	keep := answers[:0]
	for i, a := range answers {
		if errs[i] != nil {
			res.Failed++
			p.log.Error("OCSP pre-signing: cannot sign", "serial", ca.FormatSerial(rows[i].Serial), "err", errs[i])
			continue
		}
		keep = append(keep, a)
	}
	if len(keep) == 0 {
		if res.Failed > 0 {
			return 0, errors.Join(errs...)
		}
		return 0, nil
	}
	stored, err := p.st.PutOCSPAnswers(ctx, ca.IssuingName, keep)
	res.Skipped += len(keep) - stored
	return stored, err
}

// presignOne signs the answer of one certificate for the status read.
func (p *PKI) presignOne(d *store.OCSPDue) (*store.OCSPAnswer, error) {
	a, err := p.ocsp.Presign(new(big.Int).SetBytes(d.Serial), statusOf(d.Status, d.Reason, d.RevokedAt))
	if err != nil {
		return nil, err
	}
	return &store.OCSPAnswer{Issuer: ca.IssuingName, Serial: d.Serial, DER: a.DER, Status: d.Status, Version: d.Version,
		Responder: a.Responder, ThisUpdate: a.ThisUpdate, NextUpdate: a.NextUpdate, RefreshAt: a.RefreshAt}, nil
}

// storedAnswers is the responder's view of the pre-signed answers
// (ocsp.Presigned).
type storedAnswers struct{ st Store }

// Presigned implements ocsp.Presigned.
func (s storedAnswers) Presigned(ctx context.Context, serial *big.Int) (*ocsp.Answer, error) {
	if serial.Sign() <= 0 {
		return nil, nil
	}
	a, err := s.st.GetOCSPAnswer(ctx, ca.IssuingName, serial.Bytes())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &ocsp.Answer{DER: a.DER, Responder: a.Responder, Status: statusOf(a.Status, a.Reason, a.RevokedAt),
		ThisUpdate: a.ThisUpdate, NextUpdate: a.NextUpdate, RefreshAt: a.RefreshAt}, nil
}

// statusOf is a known certificate's OCSP status from its stored status
// and revocation.
func statusOf(status string, reason int, revokedAt time.Time) ocsp.Status {
	st := ocsp.Status{Known: true}
	switch status {
	case store.StatusRevoked:
		st.Revoked, st.Reason, st.RevokedAt = true, reason, revokedAt
	case store.StatusHold:
		st.OnHold, st.RevokedAt = true, revokedAt
	}
	return st
}
