package ocspbench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/bad" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write([]byte{0x30, 0x03, 0x0a, 0x01, 0x03})
	}))
	defer srv.Close()

	res, err := Run(context.Background(), Options{URL: srv.URL, Requests: [][]byte{{0x30, 0x00}}, Concurrency: 4, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Responses == 0 || res.Errors != 0 || res.PerSecond() <= 0 || res.Elapsed < 200*time.Millisecond {
		t.Errorf("result %+v", res)
	}
	res, _ = Run(context.Background(), Options{URL: srv.URL + "/bad", Requests: [][]byte{{0x30, 0x00}}, Duration: 100 * time.Millisecond})
	if res.Responses != 0 || res.Errors == 0 || res.FirstError == nil {
		t.Errorf("result against a failing server %+v", res)
	}
	if _, err := Run(context.Background(), Options{URL: srv.URL}); err == nil {
		t.Error("Run without requests succeeded")
	}
}
