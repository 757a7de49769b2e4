package ca

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// maxCRLBytes is the size no CRL may exceed (issue 19): what a relying
// party downloads and parses on every check.
const maxCRLBytes = 1 << 20

// fillRevoked stores n revoked (keyCompromise) certificates of the issuing
// CA with serials as the CA draws them (17 octets), spread over shards 1…shards, as the CA
// records them; the DER is a stand-in the CRL never reads.
func fillRevoked(tb testing.TB, st store.Store, n, shards int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for i := range n {
		serial, err := newSerial(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		key := sha256.Sum256(serial)
		if err := st.ReserveSerial(ctx, &store.SerialReservation{Issuer: IssuingName, Serial: serial, Reserved: now}); err != nil {
			tb.Fatal(err)
		}
		c := &store.Certificate{Issuer: IssuingName, Serial: serial, DER: []byte{0x30, 0}, Profile: ProfileCitizen, Subject: "CN=x",
			PublicKeySHA256: key[:], NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), Status: store.StatusGood,
			CRLShard: i%shards + 1}
		if err := st.PutCertificate(ctx, c); err != nil {
			tb.Fatal(err)
		}
		if err := st.Revoke(ctx, &store.Revocation{Issuer: IssuingName, Serial: serial, Reason: store.ReasonKeyCompromise, RevokedAt: now.Add(-time.Minute)}); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestShardCRLSize measures what one entry costs in a signed shard CRL
// (serial, time, reason) and from it the most entries a shard may hold
// under 1 MB: the figure docs/OPERATING.md chooses CRLShards by. The
// large run is BenchmarkShardCRL.
func TestShardCRLSize(t *testing.T) {
	ctx := context.Background()
	st := newSQLite(t)
	f := newFixture(t, st, &Options{CRLShards: 2})
	const n = 600
	fillRevoked(t, st, n, 2)
	one, err := f.a.GenerateShardCRL(ctx, IssuingName, 1)
	if err != nil {
		t.Fatal(err)
	}
	revs, err := st.ListRevoked(ctx, IssuingName, 1, time.Time{})
	if err != nil || len(revs) != n/2 {
		t.Fatalf("shard 1 has %d revocations, %v; want %d", len(revs), err, n/2)
	}
	empty, err := f.a.GenerateShardCRL(ctx, IssuingName, 0)
	if err != nil {
		t.Fatal(err)
	}
	perEntry := float64(len(one.DER)-len(empty.DER)) / float64(n/2)
	fits := int(float64(maxCRLBytes-len(empty.DER)) / perEntry)
	t.Logf("a shard CRL: %d bytes empty, %.1f bytes per keyCompromise entry: at most %d entries under 1 MB", len(empty.DER), perEntry, fits)
	if perEntry < 30 || perEntry > 55 {
		t.Errorf("%.1f bytes per entry: a 17-octet serial, a UTCTime and a reason code take 30 to 55", perEntry)
	}
	// The sizing rule of docs/OPERATING.md: 20,000 revocations a shard.
	if fits < 20000 {
		t.Errorf("only %d entries fit in 1 MB; OPERATING.md's rule of 20,000 a shard is wrong", fits)
	}
}

// BenchmarkShardCRL signs one shard's CRL with 50,000 revocations spread
// over 4 shards (12,500 each; CRLShards for 10⁷ certificates at 5 %
// revoked is 25 or more, see docs/OPERATING.md), zlint included: ns/op
// is the generation time of one shard, and it reports the CRL's size.
//
//	go test -run '^$' -bench BenchmarkShardCRL -benchtime 10x ./pkg/ca
func BenchmarkShardCRL(b *testing.B) {
	ctx := context.Background()
	st := newSQLite(b)
	f := newFixture(b, st, &Options{CRLShards: 4})
	const n, shards = 50000, 4
	fillRevoked(b, st, n, shards)
	var size int
	shard := 0
	for b.Loop() {
		shard = shard%shards + 1
		c, err := f.a.GenerateShardCRL(ctx, IssuingName, shard)
		if err != nil {
			b.Fatal(err)
		}
		size = len(c.DER)
	}
	if size > maxCRLBytes {
		b.Errorf("a shard CRL of %d entries is %d bytes, over 1 MB", n/shards, size)
	}
	b.ReportMetric(float64(size), "bytes/CRL")
	b.ReportMetric(float64(n/shards), "entries/CRL")
	b.Logf("%s", fmt.Sprintf("%d revocations in %d shards: a shard's CRL is %d bytes", n, shards, size))
}
