package sqlstore

import (
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// HotQuery is a statement kysod runs per request, per maintenance tick or
// at start-up, as the store runs it, with arguments of the right types,
// and the index each database must search for it. With ten million rows a
// scan is the difference between microseconds and seconds, so the
// drivers' plan tests (TestHotPlans) check every one; docs/DESIGN.md "Hot
// queries" lists them.
type HotQuery struct {
	// Name says what runs it.
	Name  string
	Query string
	Args  []any
	// SQLite and Postgres name the index (or key) the plan must use, as
	// EXPLAIN QUERY PLAN and EXPLAIN print it; Postgres may name several,
	// "a|b", when its planner picks either by the statistics.
	SQLite, Postgres string
	// Partial is set when the index holds only the rows the statement
	// seeks (a partial index), so reading it whole is no scan of the
	// table.
	Partial bool
	// Sorts, when set, says why the rows a plan sorts are few (one owner's
	// certificates): a sort of them is allowed.
	Sorts string
}

// reportGroups is why a report's plan may sort: it sorts its groups, at
// most provinces × wards × channels (× months), never its rows.
const reportGroups = "a report's groups (provinces × wards × channels), not its enrolments"

// HotQueries returns the hot statements (see HotQuery).
func (s *Store) HotQueries() []HotQuery {
	now := s.time(time.Unix(1700000000, 0))
	serial := []byte{1, 2, 3}
	cert := func(f *store.CertificateFilter) (string, []any) { return certListQuery(f) }
	certs := func(name string, f *store.CertificateFilter, sqlite, postgres string) HotQuery {
		q, args := cert(f)
		return HotQuery{Name: name, Query: q, Args: args, SQLite: sqlite, Postgres: postgres}
	}
	const ownCerts = "one owner's certificates"
	sorted := func(hq HotQuery, why string) HotQuery { hq.Sorts = why; return hq }
	txs := func(name string, f *store.TransactionFilter, sqlite, postgres string) HotQuery {
		q, args := s.txListQuery(f, 100)
		return HotQuery{Name: name, Query: q, Args: args, SQLite: sqlite, Postgres: postgres}
	}
	// The reports' periods end today: a month, and a campaign of five
	// years, cut into years for the series (the drivers' grown stores
	// hold enrolments of the last months).
	today := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	report := func(name string, years int, province, ward, sqlite, postgres string) HotQuery {
		from := today.AddDate(0, -1, 0)
		if years > 0 {
			from = today.AddDate(-years, 0, 0)
		}
		q, args := s.countQuery(&store.EnrolmentFilter{From: from, To: today, Province: province, Ward: ward}, today)
		return HotQuery{Name: name, Query: q, Args: args, SQLite: sqlite, Postgres: postgres, Sorts: reportGroups}
	}
	series, seriesArgs := s.seriesQuery(&store.EnrolmentFilter{From: today.AddDate(0, -1, 0), To: today},
		[]time.Time{today.AddDate(0, 0, -21), today.AddDate(0, 0, -14), today.AddDate(0, 0, -7)})
	return []HotQuery{
		// The CA and the PKI listener.
		certs("cert list", &store.CertificateFilter{Issuer: "issuing", Limit: 1000},
			"certificates_issuer_created", "certificates_issuer_created"),
		certs("current OCSP/TSA/TLS/receipt certificate", &store.CertificateFilter{Issuer: "issuing", Profile: "ocsp", Status: store.StatusGood},
			"certificates_profile", "certificates_profile"),
		certs("service certificates of a profile", &store.CertificateFilter{Issuer: "issuing", Profile: "ocsp"},
			"certificates_profile", "certificates_profile"),
		certs("an owner's certificates", &store.CertificateFilter{Issuer: "issuing", NationalID: "CCCD:079203001234", Status: store.StatusGood},
			"certificates_national_id", "certificates_national_id"),
		sorted(certs("an owner's campaign certificates", &store.CertificateFilter{NationalID: "CCCD:079203001234", Profile: "citizen"},
			"certificates_national_id", "certificates_national_id"), ownCerts),
		{Name: "GetCertificate (OCSP, pre-signing check)", Query: sqlGetCertificate, Args: []any{"issuing", serial},
			SQLite: "sqlite_autoindex_certificates_1", Postgres: "certificates_pkey|certificates_state"},
		{Name: "GetRevocation", Query: QueryRevocation, Args: []any{"issuing", serial},
			SQLite: "SEARCH revocations USING PRIMARY KEY", Postgres: "revocations_pkey"},
		{Name: "PublicKeyCertified", Query: QueryKeyCertified, Args: []any{make([]byte, 32)},
			SQLite: "certificates_spki_sha256", Postgres: "certificates_spki_sha256"},
		{Name: "LatestCRL (a shard's)", Query: sqlLatestCRL, Args: []any{"issuing", 0},
			SQLite: "crls_shard", Postgres: "crls_shard"},
		{Name: "PruneCRLs (a shard's)", Query: sqlPruneCRLs, Args: []any{"issuing", 3, 10},
			SQLite: "crls_shard", Postgres: "crls_shard"},
		{Name: "CRLShards (the PKI tick)", Query: sqlCRLShards, Args: []any{"issuing"},
			SQLite: "SEARCH crl_shards USING PRIMARY KEY", Postgres: "crl_shards_pkey"},
		{Name: "ListRevoked (a shard's CRL)", Query: sqlListRevoked, Args: []any{"issuing", now, 3},
			SQLite: "revocations_shard", Postgres: "revocations_shard", Sorts: "one shard's revocations, in serial order"},
		{Name: "GetOCSPAnswer (the responder's miss)", Query: QueryOCSPAnswer, Args: []any{"issuing", serial},
			SQLite: "SEARCH a USING PRIMARY KEY", Postgres: "ocsp_answers_pkey"},
		{Name: "OCSPStale (pre-signing: the due answers)", Query: QueryOCSPStale,
			Args:   []any{"issuing", now, s.time(time.Unix(0, 0)), serial, now, 1000},
			SQLite: "ocsp_answers_due", Postgres: "ocsp_answers_due"},
		{Name: "OCSPUnanswered (pre-signing: certificates without an answer)", Query: QueryOCSPUnanswered,
			Args:   []any{"issuing", int64(0), now, 1000},
			SQLite: "SEARCH c USING INTEGER PRIMARY KEY", Postgres: "certificates_id_key"},
		{Name: "OpenReservations (the settlement, every PKI tick)", Query: sqlOpenReservations, Args: []any{now, 100},
			SQLite: "serials_reserved", Postgres: "serials_reserved", Partial: true},
		// Owners and their credentials.
		{Name: "GetOwnerByNationalID", Query: sqlOwnerByNationalID, Args: []any{"CCCD:079203001234"},
			SQLite: "sqlite_autoindex_owners_2", Postgres: "owners_national_id_key"},
		{Name: "ListCredentials (an owner's)", Query: s.sqlListCredentials(), Args: []any{"owner-1"},
			SQLite: "sqlite_autoindex_credentials_2", Postgres: "credentials_owner_id_id_key", Sorts: "one owner's credentials"},
		txs("an owner's pending transactions", &store.TransactionFilter{OwnerID: "owner-1", Status: store.TxPending},
			"transactions_owner_status", "transactions_owner_status|transactions_owner"),
		txs("a portal's transactions", &store.TransactionFilter{ClientID: "portal-1"}, "transactions_client", "transactions_client"),
		// The sweeps of every dispatcher round.
		{Name: "ListOverdue (expiry sweep)", Query: sqlOverdue, Args: []any{now, 100},
			SQLite: "transactions_overdue", Postgres: "transactions_overdue"},
		{Name: "ClaimApproved (recovery sweep)", Query: s.sqlClaimApproved(), Args: []any{"replica", now, now, 100},
			SQLite: "transactions_leased", Postgres: "transactions_leased|transactions_status", Partial: true,
			Sorts: "approved transactions: those being signed, each for at most its lease"},
		{Name: "ClaimWebhooks (the outbox's due rows)", Query: s.sqlClaimWebhooks(), Args: []any{now, now, 100},
			SQLite: "webhooks_due", Postgres: "webhooks_due", Partial: true},
		{Name: "CountUndelivered", Query: sqlCountUndelivered,
			SQLite: "webhooks_due", Postgres: "webhooks_due", Partial: true},
		{Name: "PruneMisses (login misses, hourly)", Query: sqlPruneMisses, Args: []any{now, now},
			SQLite: "login_misses_last", Postgres: "login_misses_last"},
		// The campaign registry's sync (every campaign.registry_sync).
		{Name: "ListReleased (registry sync)", Query: sqlListReleased, Args: []any{"provider-1", 1000},
			SQLite: "campaign_holdings_unacked", Postgres: "campaign_holdings_unacked", Partial: true},
		// The audit log: its head (every audited write, kysod's start and
		// each checkpoint), the tail after an ID (the PKI tick), an owner's
		// signatures (KeyHistory).
		{Name: "AuditHead", Query: sqlAuditHead,
			SQLite: "SEARCH audit_events USING INTEGER PRIMARY KEY", Postgres: "audit_events_pkey"},
		{Name: "ListAudit (tail after an ID)", Query: sqlListAudit, Args: []any{int64(1000), 1000},
			SQLite: "SEARCH audit_events USING INTEGER PRIMARY KEY", Postgres: "audit_events_pkey"},
		// The campaign's reports (an officer's request, kyso report
		// campaign): a period, a province, a ward, and the monthly series.
		report("campaign report: a month's enrolments and their certificates' state", 0, "", "", "enrolment_records_created", "enrolment_records_created"),
		report("campaign report: one province, five years", 5, "Hồ Chí Minh", "", "enrolment_records_area", "enrolment_records_area"),
		report("campaign report: one ward, five years", 5, "Hồ Chí Minh", "Phường 7", "enrolment_records_area", "enrolment_records_area"),
		{Name: "an enrolment record's certificate state (Revoke, ReleaseHold)", Query: sqlRecordState, Args: []any{store.StatusRevoked, serial, "issuing"},
			SQLite: "enrolment_records_certificate", Postgres: "enrolment_records_certificate"},
		{Name: "campaign report: the monthly series", Query: series, Args: seriesArgs,
			SQLite: "enrolment_records_created", Postgres: "enrolment_records_created|enrolment_records_channel", Sorts: reportGroups},
		{Name: "RegistrationEnrolment (each approval of a self-registration)", Query: sqlRegistrationEnrolment, Args: []any{"reg-1"},
			SQLite: "enrolment_records_registration", Postgres: "enrolment_records_registration", Partial: true},
		{Name: "ListOwnerSignatures (KeyHistory)", Query: s.sqlOwnerSignatures(), Args: []any{"owner-1", int64(0), 1000},
			SQLite: "audit_events_signatures", Postgres: "audit_events_signatures", Sorts: "one owner's signatures"},
	}
}
