package bench

import "testing"

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Seconds(0.000228), "228µs"}, {Seconds(0.0189), "18.9ms"}, {Seconds(1.77), "1.77s"},
		{Bytes(1126), "1.1 KiB"}, {Bytes(100 << 20), "100.0 MiB"}, {Bytes(12), "12 B"}, {Bytes(3 << 30), "3.0 GiB"},
		{Ratios(map[string]float64{"pyhanko": 9.1, "floor": 1.14}), "1.14× floor, 9.10× pyhanko"}, {Ratios(nil), "-"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
