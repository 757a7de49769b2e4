package postgres_test

import (
	"context"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/store/postgres"
	"github.com/kyso-pki/kyso/pkg/store/storetest"
)

// BenchmarkScale measures the hot reads on a store grown to KYSO_SCALE
// owners (storetest.BenchScale).
func BenchmarkScale(b *testing.B) {
	dsn := testenv.NewPostgres(b)
	s := open(b, dsn)
	sc := storetest.ScaleFromEnv(b)
	if err := postgres.Grow(context.Background(), dsn, sc.Owners); err != nil {
		b.Fatal(err)
	}
	storetest.BenchScale(b, s, sc)
}
