package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/internal/check"
)

// PutCA records ca; ErrExists when a CA of that name exists.
func (s *Store) PutCA(ctx context.Context, ca *store.CA) error {
	if err := check.CA(ca); err != nil {
		return s.invalid("storing CA", err)
	}
	created := s.time(s.clock(ca.Created))
	return s.write(ctx, fmt.Sprintf("storing CA %q", ca.Name), false, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO cas (name, kind, key_uri, cert_der, created)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`,
			ca.Name, ca.Kind, ca.KeyURI, ca.CertDER, created)
		if err := inserted(n, err, store.ErrExists); err != nil {
			return err
		}
		for i, der := range ca.ChainDER {
			if _, err := c.Exec(ctx, `INSERT INTO ca_chain (ca, position, der) VALUES ($1, $2, $3)`, ca.Name, i, der); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetCA returns the CA named name, or ErrNotFound.
func (s *Store) GetCA(ctx context.Context, name string) (*store.CA, error) {
	what := fmt.Sprintf("reading CA %q", name)
	cas, err := s.listCAs(ctx, name)
	if err != nil {
		return nil, s.fail(what, err)
	}
	if len(cas) == 0 {
		return nil, s.fail(what, store.ErrNotFound)
	}
	return cas[0], nil
}

// ListCAs returns every CA, oldest first.
func (s *Store) ListCAs(ctx context.Context) ([]*store.CA, error) {
	cas, err := s.listCAs(ctx, "")
	if err != nil {
		return nil, s.fail("listing CAs", err)
	}
	return cas, nil
}

// listCAs reads the CA named name, or all of them when name is empty, in
// one snapshot.
func (s *Store) listCAs(ctx context.Context, name string) ([]*store.CA, error) {
	var cas []*store.CA
	err := s.db.Read(ctx, func(c Conn) error {
		rows, err := c.Query(ctx, `SELECT name, kind, key_uri, cert_der, created FROM cas
			WHERE $1 = '' OR name = $1 ORDER BY created, `+s.d.Seq, name)
		cas, err = collect(rows, err, func(row Row) (*store.CA, error) {
			ca := &store.CA{}
			return ca, row.Scan(&ca.Name, &ca.Kind, &ca.KeyURI, &ca.CertDER, Time{&ca.Created})
		})
		if err != nil {
			return err
		}
		byName := map[string]*store.CA{}
		for _, ca := range cas {
			byName[ca.Name] = ca
		}
		rows, err = c.Query(ctx, `SELECT ca, der FROM ca_chain WHERE $1 = '' OR ca = $1 ORDER BY ca, position`, name)
		_, err = collect(rows, err, func(row Row) (struct{}, error) {
			var n string
			var der []byte
			if err := row.Scan(&n, &der); err != nil {
				return struct{}{}, err
			}
			if ca := byName[n]; ca != nil {
				ca.ChainDER = append(ca.ChainDER, der)
			}
			return struct{}{}, nil
		})
		return err
	})
	return cas, err
}

// The statements of issuance (ReserveSerial, PutCertificate), which a
// driver may prepare ahead (HotWrites).
const (
	sqlReserved = `SELECT status FROM serials WHERE issuer = $1 AND serial = $2`
	// sqlCertifySerial closes an open reservation for its certificate:
	// the same row the settlement changes, so one of the two wins.
	sqlCertifySerial  = `UPDATE serials SET status = 'certified' WHERE issuer = $1 AND serial = $2 AND status = 'reserved'`
	sqlPutCertificate = `INSERT INTO certificates (issuer, serial, der, profile, subject,
		national_id, spki_sha256, key_uri, not_before, not_after, status, campaign, key_reuse, created, renews, campaign_from, crl_shard)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (issuer, serial) DO NOTHING`
	sqlCertifyKey = `INSERT INTO certified_keys (spki_sha256, issuer, serial) VALUES ($1, $2, $3)
		ON CONFLICT (spki_sha256) DO NOTHING`
	sqlCountStatus = `INSERT INTO certificate_counts AS k (status, shard, n) VALUES ($1, $2, $3)
		ON CONFLICT (status, shard) DO UPDATE SET n = k.n + excluded.n`
)

// sqlReserve reserves one serial.
const sqlReserve = `INSERT INTO serials (issuer, serial, reserved_at, status) VALUES ($1, $2, $3, 'reserved')
	ON CONFLICT (issuer, serial) DO NOTHING`

// ReserveSerial claims r.Serial for r.Issuer and appends audit (the
// issuance's intent) in the same transaction; ErrDuplicateSerial, and
// nothing appended, when the serial is taken. The write may share its
// commit with concurrent callers' (writeShared: issuances, signatures):
// it returns once the serial and the intent are durable.
func (s *Store) ReserveSerial(ctx context.Context, r *store.SerialReservation, audit ...*store.AuditEvent) error {
	if err := check.Reservation(r); err != nil {
		return s.invalid("reserving serial", err)
	}
	details, err := s.auditDetails(audit)
	if err != nil {
		return err
	}
	at := s.time(s.clock(r.Reserved))
	rows := make([]store.AuditEvent, len(audit))
	err = s.writeShared(ctx, fmt.Sprintf("reserving serial %x for %q", r.Serial, r.Issuer), len(audit) == 0, func(c Conn) error {
		n, err := c.Exec(ctx, sqlReserve, r.Issuer, r.Serial, at)
		if err := inserted(n, err, store.ErrDuplicateSerial); err != nil {
			return err
		}
		return s.appendAudit(ctx, c, audit, details, rows)
	})
	if err == nil {
		setChained(audit, rows)
	}
	return err
}

// ReserveSerials claims every serial in rs in one transaction: all or none.
// ErrDuplicateSerial when any is taken, or appears twice in rs. It is for
// bulk loads and tests; issuance reserves one serial at a time.
func (s *Store) ReserveSerials(ctx context.Context, rs []*store.SerialReservation) error {
	args := make([][]any, len(rs))
	for i, r := range rs {
		if err := check.Reservation(r); err != nil {
			return s.invalid("reserving serials", err)
		}
		args[i] = []any{r.Issuer, r.Serial, s.time(s.clock(r.Reserved))}
	}
	return s.write(ctx, fmt.Sprintf("reserving %d serials", len(rs)), false, func(c Conn) error {
		n, err := c.ExecEach(ctx, sqlReserve, args)
		if err == nil && n != int64(len(rs)) {
			err = fmt.Errorf("%d of %d taken: %w", int64(len(rs))-n, len(rs), store.ErrDuplicateSerial)
		}
		return err
	})
}

// PutCertificate stores c after checking, in the same transaction, that its
// serial is reserved, its public key not yet certified (unless
// AllowKeyReuse), and, for a campaign certificate, that its national ID has
// no active holder, and appends audit in that transaction.
func (s *Store) PutCertificate(ctx context.Context, c *store.Certificate, audit ...*store.AuditEvent) error {
	if err := check.Certificate(c); err != nil {
		return s.invalid("storing certificate", err)
	}
	status := c.Status
	if status == "" {
		status = store.StatusGood
	}
	nb := check.Time(c.NotBefore)
	return s.writeAudited(ctx, fmt.Sprintf("storing certificate %x from %q", c.Serial, c.Issuer), audit, func(tx Conn) error {
		if err := s.certifySerial(ctx, tx, c.Issuer, c.Serial); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, sqlPutCertificate,
			c.Issuer, c.Serial, c.DER, c.Profile, c.Subject, c.NationalID, c.PublicKeySHA256, c.KeyURI,
			s.time(nb), s.time(c.NotAfter), status, c.Campaign, c.AllowKeyReuse, s.time(s.clock(c.Created)),
			nullBytes(c.Renews), s.nullTime(c.CampaignFrom), c.CRLShard)
		if err := inserted(n, err, errCertStored); err != nil {
			return err
		}
		if err := s.countStatus(ctx, tx, status, 1); err != nil {
			return err
		}
		if c.CRLShard > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO crl_shards (issuer, shard) VALUES ($1, $2)
				ON CONFLICT (issuer, shard) DO NOTHING`, c.Issuer, c.CRLShard); err != nil {
				return err
			}
		}
		n, err = tx.Exec(ctx, sqlCertifyKey, c.PublicKeySHA256, c.Issuer, c.Serial)
		if err != nil {
			return err
		}
		if n == 0 && !c.AllowKeyReuse {
			return store.ErrDuplicatePublicKey
		}
		if !c.Campaign || status == store.StatusRevoked {
			return nil
		}
		var holderStatus, holderIssuer string
		var holderSerial []byte
		var holderNotAfter time.Time
		err = tx.QueryRow(ctx, `SELECT c.status, c.not_after, h.issuer, h.serial FROM campaign_holders h
			JOIN certificates c ON c.issuer = h.issuer AND c.serial = h.serial
			WHERE h.national_id = $1`+s.lock("h"), c.NationalID).Scan(&holderStatus, Time{&holderNotAfter}, &holderIssuer, &holderSerial)
		switch {
		case s.noRows(err):
			n, err := tx.Exec(ctx, `INSERT INTO campaign_holders (national_id, issuer, serial) VALUES ($1, $2, $3)
				ON CONFLICT (national_id) DO NOTHING`, c.NationalID, c.Issuer, c.Serial)
			return inserted(n, err, store.ErrCampaignHolder)
		case err != nil:
			return err
		}
		// A renewal of the holder's credential takes the holder's place
		// (the old certificate is left to expire: one credential, not a
		// second campaign signature). RFC 5280 section 4.1.2.5: notAfter
		// is inclusive.
		renewal := len(c.Renews) > 0 && holderIssuer == c.Issuer && bytes.Equal(holderSerial, c.Renews)
		if !renewal && holderStatus != store.StatusRevoked && !holderNotAfter.Before(nb) {
			return store.ErrCampaignHolder
		}
		_, err = tx.Exec(ctx, `UPDATE campaign_holders SET issuer = $1, serial = $2 WHERE national_id = $3`,
			c.Issuer, c.Serial, c.NationalID)
		return err
	})
}

// certifySerial closes the open reservation of serial for its
// certificate, in PutCertificate's transaction: ErrNotReserved when there
// is none, ErrSerialSettled when it was settled as abandoned, and
// errCertStored when a certificate closed it already.
func (s *Store) certifySerial(ctx context.Context, tx Conn, issuer string, serial []byte) error {
	n, err := tx.Exec(ctx, sqlCertifySerial, issuer, serial)
	if err != nil || n == 1 {
		return err
	}
	var status string
	err = tx.QueryRow(ctx, sqlReserved, issuer, serial).Scan(&status)
	switch {
	case s.noRows(err):
		return store.ErrNotReserved
	case err != nil:
		return err
	case status == serialAbandoned:
		return store.ErrSerialSettled
	}
	return errCertStored
}

// The statuses of a serial (migration 0032).
const (
	serialAbandoned = "abandoned"
)

// Statements of the settlement: the open reservations before a time,
// oldest first, by the partial index serials_reserved; and the
// conditional update that settles one.
const (
	sqlOpenReservations = `SELECT issuer, serial, reserved_at FROM serials
		WHERE status = 'reserved' AND reserved_at < $1 ORDER BY reserved_at LIMIT $2`
	sqlSettleSerial = `UPDATE serials SET status = 'abandoned', settled_at = $3
		WHERE issuer = $1 AND serial = $2 AND status = 'reserved'`
	// sqlRepairSerial closes as certified a reservation whose certificate
	// was stored without closing it: by a replica of a version before
	// migration 0032 still running, or a bulk load.
	sqlRepairSerial = `UPDATE serials SET status = 'certified' WHERE issuer = $1 AND serial = $2 AND status = 'reserved'
		AND EXISTS (SELECT 1 FROM certificates c WHERE c.issuer = $1 AND c.serial = $2)`
)

// OpenReservations returns the open reservations made before before,
// oldest first, at most limit (≤ 0: 100).
func (s *Store) OpenReservations(ctx context.Context, before time.Time, limit int) ([]*store.SerialReservation, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.r.Query(ctx, sqlOpenReservations, s.time(before), limit)
	rs, err := collect(rows, err, func(row Row) (*store.SerialReservation, error) {
		r := &store.SerialReservation{}
		return r, row.Scan(&r.Issuer, &r.Serial, Time{&r.Reserved})
	})
	if err != nil {
		return nil, s.fail("listing open serial reservations", err)
	}
	return rs, nil
}

// SettleReservation marks r's serial abandoned and appends audit in one
// transaction, if the reservation is still open; the update's condition
// is what makes concurrent settlements, and a PutCertificate racing one,
// change the row once. A reservation found open under a stored
// certificate is closed as certified instead, appending nothing.
func (s *Store) SettleReservation(ctx context.Context, r *store.SerialReservation, at time.Time, audit ...*store.AuditEvent) (bool, error) {
	if err := check.Reservation(r); err != nil {
		return false, s.invalid("settling a serial reservation", err)
	}
	details, err := s.auditDetails(audit)
	if err != nil {
		return false, err
	}
	rows := make([]store.AuditEvent, len(audit))
	settled := false
	err = s.write(ctx, fmt.Sprintf("settling serial %x of %q", r.Serial, r.Issuer), false, func(c Conn) error {
		settled = false
		n, err := c.Exec(ctx, sqlRepairSerial, r.Issuer, r.Serial)
		if err != nil || n == 1 {
			return err
		}
		if n, err = c.Exec(ctx, sqlSettleSerial, r.Issuer, r.Serial, s.time(s.clock(at))); err != nil || n == 0 {
			return err
		}
		settled = true
		return s.appendAudit(ctx, c, audit, details, rows)
	})
	if err != nil {
		return false, err
	}
	if settled {
		setChained(audit, rows)
	}
	return settled, nil
}

// errCertStored: the serial was reserved, and a certificate is stored
// under it already.
var errCertStored = fmt.Errorf("a certificate with this serial is stored already: %w", store.ErrExists)

const certColumns = `issuer, serial, der, profile, subject, national_id, spki_sha256, key_uri,
	not_before, not_after, status, campaign, key_reuse, created, renews, campaign_from, crl_shard`

func scanCert(row Row) (*store.Certificate, error) {
	c := &store.Certificate{}
	return c, row.Scan(&c.Issuer, &c.Serial, &c.DER, &c.Profile, &c.Subject, &c.NationalID, &c.PublicKeySHA256,
		&c.KeyURI, Time{&c.NotBefore}, Time{&c.NotAfter}, &c.Status, &c.Campaign, &c.AllowKeyReuse, Time{&c.Created},
		&c.Renews, Time{&c.CampaignFrom}, &c.CRLShard)
}

// sqlGetCertificate is GetCertificate's statement, on UNIQUE (issuer,
// serial).
const sqlGetCertificate = `SELECT ` + certColumns + ` FROM certificates WHERE issuer = $1 AND serial = $2`

// GetCertificate returns the certificate issuer issued with serial, or
// ErrNotFound.
func (s *Store) GetCertificate(ctx context.Context, issuer string, serial []byte) (*store.Certificate, error) {
	c, err := scanCert(s.r.QueryRow(ctx, sqlGetCertificate, issuer, serial))
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading certificate %x from %q", serial, issuer), s.notFound(err))
	}
	return c, nil
}

// ListCampaignHolders returns the campaign certificates in force at now,
// one per national ID, in national ID order after after: a walk of
// campaign_holders by its primary key.
func (s *Store) ListCampaignHolders(ctx context.Context, after string, now time.Time, limit int) ([]*store.CampaignHolder, error) {
	rows, err := s.r.Query(ctx, `SELECT h.national_id, h.issuer, h.serial, c.not_after FROM campaign_holders h
		JOIN certificates c ON c.issuer = h.issuer AND c.serial = h.serial
		WHERE h.national_id > $1 AND c.status = $2 AND c.not_after >= $3
		ORDER BY h.national_id LIMIT $4`, after, store.StatusGood, s.time(s.clock(now)), check.Limit(limit))
	out, err := collect(rows, err, func(r Row) (*store.CampaignHolder, error) {
		h := &store.CampaignHolder{}
		return h, r.Scan(&h.NationalID, &h.Issuer, &h.Serial, Time{&h.NotAfter})
	})
	if err != nil {
		return nil, s.fail("listing the campaign's holders", err)
	}
	return out, nil
}

// countShards is how many rows of certificate_counts each status is
// spread over, so that concurrent issuances seldom wait for one row's
// lock.
const countShards = 16

// countStatus adds n to the count of certificates in status
// (certificate_counts), in the write c runs, on a shard chosen at random.
func (s *Store) countStatus(ctx context.Context, c Conn, status string, n int) error {
	_, err := c.Exec(ctx, sqlCountStatus, status, rand.IntN(countShards), n)
	return err
}

// moveCount counts a certificate moved from status from to status to.
func (s *Store) moveCount(ctx context.Context, c Conn, from, to string) error {
	if err := s.countStatus(ctx, c, from, -1); err != nil {
		return err
	}
	return s.countStatus(ctx, c, to, 1)
}

// CountCertificates returns how many certificates there are of each
// status, from the counts the writes keep (certificate_counts, at most
// countShards rows a status), not by reading the certificates.
func (s *Store) CountCertificates(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.Query(ctx, `SELECT status, CAST(sum(n) AS BIGINT) FROM certificate_counts GROUP BY status`)
	if err != nil {
		return nil, s.fail("counting certificates", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, s.fail("counting certificates", err)
		}
		out[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("counting certificates", err)
	}
	return out, nil
}

// ListCertificates returns the certificates matching f, newest first, at
// most f.Limit (≤ 0: 1000; at most 10000).
func (s *Store) ListCertificates(ctx context.Context, f *store.CertificateFilter) ([]*store.Certificate, error) {
	if err := check.Filter(f); err != nil {
		return nil, s.invalid("listing certificates", err)
	}
	q, args := certListQuery(f)
	rows, err := s.r.Query(ctx, q, args...)
	out, err := collect(rows, err, scanCert)
	if err != nil {
		return nil, s.fail("listing certificates", err)
	}
	return out, nil
}

// certListQuery is ListCertificates' statement for f and its arguments.
// Each filter it is given on a hot path has an index that yields rows in
// its order (HotQueries).
func certListQuery(f *store.CertificateFilter) (string, []any) {
	if f == nil {
		f = &store.CertificateFilter{}
	}
	q, args := where(`SELECT `+certColumns+` FROM certificates`,
		"issuer", f.Issuer, "national_id", f.NationalID, "profile", f.Profile, "status", f.Status)
	args = append(args, check.Limit(f.Limit))
	q += fmt.Sprintf(` ORDER BY created DESC, id DESC LIMIT $%d`, len(args))
	return q, args
}

// where appends to q a WHERE clause matching each column of colValues
// (column, value, column, value, ...) whose value is set, and returns the
// values set as the statement's first arguments.
func where(q string, colValues ...string) (string, []any) {
	q += ` WHERE 1 = 1`
	var args []any
	for i := 0; i < len(colValues); i += 2 {
		if v := colValues[i+1]; v != "" {
			args = append(args, v)
			q += fmt.Sprintf(` AND %s = $%d`, colValues[i], len(args))
		}
	}
	return q, args
}

// Revoke revokes the certificate, or puts it on hold when r.Reason is
// ReasonCertificateHold. A certificate on hold may be revoked; one revoked
// gives ErrAlreadyRevoked, and so does putting a held certificate on hold
// again. Revoking a campaign certificate frees its national ID.
func (s *Store) Revoke(ctx context.Context, r *store.Revocation) error {
	if err := check.Revocation(r); err != nil {
		return s.invalid("revoking", err)
	}
	at := s.time(s.clock(r.RevokedAt))
	return s.write(ctx, fmt.Sprintf("revoking certificate %x from %q", r.Serial, r.Issuer), false, func(tx Conn) error {
		var status, nationalID string
		var campaign bool
		var shard int
		err := tx.QueryRow(ctx, `SELECT status, campaign, national_id, crl_shard FROM certificates
			WHERE issuer = $1 AND serial = $2`+s.lock(""), r.Issuer, r.Serial).Scan(&status, &campaign, &nationalID, &shard)
		if err != nil {
			return s.notFound(err)
		}
		next, err := nextStatus(status, r.Reason)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlSetStatus, next, r.Issuer, r.Serial); err != nil {
			return err
		}
		if err := s.moveCount(ctx, tx, status, next); err != nil {
			return err
		}
		if err := s.setRecordState(ctx, tx, r.Issuer, r.Serial, next); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO revocations (issuer, serial, reason, revoked_at, shard) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (issuer, serial) DO UPDATE SET reason = excluded.reason, revoked_at = excluded.revoked_at`,
			r.Issuer, r.Serial, r.Reason, at, shard); err != nil {
			return err
		}
		if next == store.StatusRevoked && campaign {
			_, err = tx.Exec(ctx, `DELETE FROM campaign_holders WHERE national_id = $1 AND issuer = $2 AND serial = $3`,
				nationalID, r.Issuer, r.Serial)
		}
		return err
	})
}

// ReleaseHold lifts a certificate's hold: status good again, revocation
// record deleted, in one transaction. A revoked certificate gives
// ErrAlreadyRevoked, a good one ErrNotOnHold. A campaign certificate keeps
// its national ID throughout: a hold never freed it.
func (s *Store) ReleaseHold(ctx context.Context, issuer string, serial []byte) error {
	if err := checkCert(issuer, serial); err != nil {
		return s.invalid("releasing hold", err)
	}
	return s.write(ctx, fmt.Sprintf("releasing the hold on certificate %x from %q", serial, issuer), false, func(tx Conn) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM certificates WHERE issuer = $1 AND serial = $2`+s.lock(""), issuer, serial).Scan(&status)
		if err != nil {
			return s.notFound(err)
		}
		if err := releasable(status); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlSetStatus, store.StatusGood, issuer, serial); err != nil {
			return err
		}
		if err := s.moveCount(ctx, tx, status, store.StatusGood); err != nil {
			return err
		}
		if err := s.setRecordState(ctx, tx, issuer, serial, store.StatusGood); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM revocations WHERE issuer = $1 AND serial = $2`, issuer, serial)
		return err
	})
}

// checkCert checks the issuer and serial that name a certificate.
func checkCert(issuer string, serial []byte) error {
	if err := check.String("issuer", issuer, check.MaxName, true); err != nil {
		return err
	}
	return check.Serial(serial)
}

// releasable says whether a certificate in status may have its hold
// released: ErrAlreadyRevoked or ErrNotOnHold when not.
func releasable(status string) error {
	switch status {
	case store.StatusHold:
		return nil
	case store.StatusRevoked:
		return fmt.Errorf("revoked for good, not on hold: %w", store.ErrAlreadyRevoked)
	}
	return store.ErrNotOnHold
}

// nextStatus is the status a certificate in status moves to when revoked
// for reason, or ErrAlreadyRevoked.
func nextStatus(status string, reason int) (string, error) {
	switch {
	case status == store.StatusRevoked:
		return "", store.ErrAlreadyRevoked
	case status == store.StatusHold && reason == store.ReasonCertificateHold:
		return "", fmt.Errorf("on hold already: %w", store.ErrAlreadyRevoked)
	case reason == store.ReasonCertificateHold:
		return store.StatusHold, nil
	}
	return store.StatusRevoked, nil
}

// sqlListRevoked is ListRevoked's statement: one shard's revocations, on
// revocations_shard (migration 0025), each joined to its certificate by
// its key for the expiry. Serials have no leading zero bytes, so numeric
// order is shorter first, then bytewise.
const sqlListRevoked = `SELECT r.serial, r.reason, r.revoked_at FROM revocations r
	JOIN certificates c ON c.issuer = r.issuer AND c.serial = r.serial
	WHERE r.issuer = $1 AND r.shard = $3 AND c.not_after >= $2 ORDER BY length(r.serial), r.serial`

// ListRevoked returns the revocations (including holds) of issuer's CRL
// shard in serial number order, reading that shard's alone.
func (s *Store) ListRevoked(ctx context.Context, issuer string, shard int, expiredBefore time.Time) ([]*store.Revocation, error) {
	if expiredBefore.IsZero() {
		expiredBefore = time.Unix(0, 0)
	}
	rows, err := s.r.Query(ctx, sqlListRevoked, issuer, s.time(expiredBefore), shard)
	out, err := collect(rows, err, func(row Row) (*store.Revocation, error) {
		r := &store.Revocation{Issuer: issuer}
		return r, row.Scan(&r.Serial, &r.Reason, Time{&r.RevokedAt})
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing revocations for %q", issuer), err)
	}
	return out, nil
}

// QueryRevocation reads one revocation by the revocations table's primary
// key (issuer, serial). The drivers' plan tests check it uses that key.
const QueryRevocation = `SELECT reason, revoked_at FROM revocations WHERE issuer = $1 AND serial = $2`

// GetRevocation returns the revocation (or hold) of issuer's certificate
// serial, or ErrNotFound when it has none.
func (s *Store) GetRevocation(ctx context.Context, issuer string, serial []byte) (*store.Revocation, error) {
	if err := checkCert(issuer, serial); err != nil {
		return nil, s.invalid("reading revocation", err)
	}
	r := &store.Revocation{Issuer: issuer, Serial: append([]byte(nil), serial...)}
	if err := s.r.QueryRow(ctx, QueryRevocation, issuer, serial).Scan(&r.Reason, Time{&r.RevokedAt}); err != nil {
		return nil, s.fail(fmt.Sprintf("reading revocation of %x from %q", serial, issuer), s.notFound(err))
	}
	return r, nil
}

// QueryKeyCertified asks both places a certified key is recorded, each
// through an index: certified_keys by its primary key, certificates by
// certificates_spki_sha256. The drivers' plan tests check both are used.
const QueryKeyCertified = `SELECT EXISTS (SELECT 1 FROM certified_keys WHERE spki_sha256 = $1)
	OR EXISTS (SELECT 1 FROM certificates WHERE spki_sha256 = $1)`

// PublicKeyCertified reports whether a stored certificate carries the
// public key with SubjectPublicKeyInfo SHA-256 spkiSHA256.
func (s *Store) PublicKeyCertified(ctx context.Context, spkiSHA256 []byte) (bool, error) {
	if err := check.KeyHash(spkiSHA256); err != nil {
		return false, s.invalid("looking up public key", err)
	}
	var certified bool
	if err := s.r.QueryRow(ctx, QueryKeyCertified, spkiSHA256).Scan(&certified); err != nil {
		return false, s.fail(fmt.Sprintf("looking up public key %x", spkiSHA256), err)
	}
	return certified, nil
}

// NextCRLNumber returns issuer's next CRL number, starting at 1. The upsert
// is one statement, which holds the row (or, in SQLite, the file) while it
// counts, so concurrent callers in any process get increasing numbers.
func (s *Store) NextCRLNumber(ctx context.Context, issuer string) (int64, error) {
	return s.bump(ctx, "issuer", issuer, "CRL number for", `INSERT INTO crl_numbers AS c (issuer, last) VALUES ($1, 1)
		ON CONFLICT (issuer) DO UPDATE SET last = c.last + 1 RETURNING last`)
}

// NextSequence returns the next value of the counter name, starting at 1,
// with the same guarantee as NextCRLNumber.
func (s *Store) NextSequence(ctx context.Context, name string) (int64, error) {
	return s.bump(ctx, "sequence name", name, "next value of sequence", `INSERT INTO sequences AS q (name, last) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET last = q.last + 1 RETURNING last`)
}

// bump runs an upsert that increments and returns the counter keyed by key:
// what names the key for errors, doing what is being allocated.
func (s *Store) bump(ctx context.Context, what, key, doing, query string) (int64, error) {
	if err := check.String(what, key, check.MaxName, true); err != nil {
		return 0, s.invalid(fmt.Sprintf("allocating %s %q", doing, key), err)
	}
	var n int64
	err := s.write(ctx, fmt.Sprintf("allocating %s %q", doing, key), true, func(c Conn) error {
		return c.QueryRow(ctx, query, key).Scan(&n)
	})
	return n, err
}

// PutCRL stores crl; ErrExists when issuer has a CRL with that number.
func (s *Store) PutCRL(ctx context.Context, crl *store.CRL) error {
	if err := check.CRL(crl); err != nil {
		return s.invalid("storing CRL", err)
	}
	return s.write(ctx, fmt.Sprintf("storing CRL %d for %q", crl.Number, crl.Issuer), true, func(c Conn) error {
		n, err := c.Exec(ctx, `INSERT INTO crls (issuer, number, der, this_update, next_update, shard) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (issuer, number) DO NOTHING`, crl.Issuer, crl.Number, crl.DER, s.time(crl.ThisUpdate), s.time(crl.NextUpdate), crl.Shard)
		return inserted(n, err, store.ErrExists)
	})
}

// sqlLatestCRL is LatestCRL's statement, on crls_shard (issuer, shard,
// number) read backwards.
const sqlLatestCRL = `SELECT number, der, this_update, next_update FROM crls WHERE issuer = $1 AND shard = $2 ORDER BY number DESC LIMIT 1`

// LatestCRL returns the CRL with the highest number of issuer's shard, or
// ErrNotFound.
func (s *Store) LatestCRL(ctx context.Context, issuer string, shard int) (*store.CRL, error) {
	c := &store.CRL{Issuer: issuer, Shard: shard}
	err := s.r.QueryRow(ctx, sqlLatestCRL, issuer, shard).Scan(&c.Number, &c.DER, Time{&c.ThisUpdate}, Time{&c.NextUpdate})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("reading latest CRL for %q shard %d", issuer, shard), s.notFound(err))
	}
	return c, nil
}

// sqlPruneCRLs is PruneCRLs' statement, on crls_shard.
const sqlPruneCRLs = `DELETE FROM crls WHERE issuer = $1 AND shard = $2 AND number < (
	SELECT min(number) FROM (SELECT number FROM crls WHERE issuer = $1 AND shard = $2 ORDER BY number DESC LIMIT $3) AS newest)`

// PruneCRLs deletes the CRLs of issuer's shard but the keep with the
// highest numbers.
func (s *Store) PruneCRLs(ctx context.Context, issuer string, shard, keep int) (int64, error) {
	if keep < 1 {
		return 0, s.invalid("pruning CRLs", check.Invalid("keep %d CRLs: at least the latest must stay", keep))
	}
	var n int64
	err := s.write(ctx, fmt.Sprintf("pruning %q's CRLs of shard %d", issuer, shard), true, func(c Conn) error {
		var err error
		n, err = c.Exec(ctx, sqlPruneCRLs, issuer, shard, keep)
		return err
	})
	return n, err
}

// sqlCRLShards is CRLShards' statement, on crl_shards' key.
const sqlCRLShards = `SELECT shard FROM crl_shards WHERE issuer = $1 ORDER BY shard`

// CRLShards returns the CRL shards above 0 issuer's certificates were
// issued into, in order.
func (s *Store) CRLShards(ctx context.Context, issuer string) ([]int, error) {
	rows, err := s.r.Query(ctx, sqlCRLShards, issuer)
	out, err := collect(rows, err, func(row Row) (int, error) {
		var n int
		return n, row.Scan(&n)
	})
	if err != nil {
		return nil, s.fail(fmt.Sprintf("listing %q's CRL shards", issuer), err)
	}
	return out, nil
}
