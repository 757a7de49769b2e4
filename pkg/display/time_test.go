package display

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on a machine without /usr/share/zoneinfo
)

func TestTime(t *testing.T) {
	newYork, err := LoadZone("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	kolkata, err := LoadZone("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	hcm, err := LoadZone("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	// The same moment, held in different zones: the zone a time.Time
	// carries (a host's TZ) must not matter, only the one asked for.
	at := time.Date(2026, 12, 6, 22, 55, 12, 0, time.UTC)
	for _, c := range []struct {
		name string
		t    time.Time
		zone *time.Location
		want string
	}{
		{"UTC host, default zone", at, nil, "05:55:12 07/12/2026 (GMT+7)"},
		{"New York host, default zone", at.In(newYork), nil, "05:55:12 07/12/2026 (GMT+7)"},
		{"IANA Asia/Ho_Chi_Minh", at.In(newYork), hcm, "05:55:12 07/12/2026 (GMT+7)"},
		{"New York asked", at, newYork, "17:55:12 06/12/2026 (GMT-5)"},
		{"New York in summer", at.AddDate(0, -6, 0), newYork, "18:55:12 06/06/2026 (GMT-4)"},
		{"half-hour offset", at, kolkata, "04:25:12 07/12/2026 (GMT+5:30)"},
		{"UTC asked", at.In(newYork), time.UTC, "22:55:12 06/12/2026 (GMT)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Time(c.t, c.zone); got != c.want {
				t.Errorf("Time = %q, want %q", got, c.want)
			}
		})
	}
	if _, err := LoadZone("Mars/Olympus_Mons"); err == nil {
		t.Error("LoadZone accepts an unknown zone")
	}
	if z, err := LoadZone(""); err != nil || z != Vietnam() {
		t.Errorf("LoadZone(\"\") = %v, %v; want Vietnam's time", z, err)
	}
}
