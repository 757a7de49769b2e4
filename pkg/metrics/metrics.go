// Package metrics holds kyso's Prometheus metrics: one registry
// (Registry) with the Go runtime's and the process's collectors and the
// families kyso's packages count into. kysod serves it on a listener of
// its own (--metrics ADDR), never on the public port. A library user
// serves Registry with promhttp.HandlerFor, or gathers it into their own.
//
// The families, by what they answer:
//
//   - Is signing working? kyso_signatures_total{api,algorithm,outcome},
//     kyso_signature_refusals_total{refusal}.
//   - Is the key store healthy? kyso_key_operation_duration_seconds and
//     kyso_key_operation_errors_total, by backend and operation.
//   - Are PIN checks queueing? kyso_argon2_waiting, kyso_argon2_running.
//   - Is the database slow? kyso_db_commit_duration_seconds{db}.
//   - Are clients served? kyso_http_request_duration_seconds{api,route,
//     method,code}: routes are the handlers' patterns, never raw paths.
//   - Is revocation fresh? kyso_ocsp_responses_total{status},
//     kyso_ocsp_cache_oldest_seconds, kyso_certificates{status}.
//   - Are portals told? kyso_webhook_deliveries_total{outcome},
//     kyso_webhook_backlog.
//
// Labels take values from small fixed sets (an API's name, a route
// pattern, an outcome); never an ID, a national ID or a path with one.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry is where every kyso metric is registered.
var Registry = prometheus.NewRegistry()

// latency buckets, in seconds: from a key operation on a fast token
// (0.1 ms) to a slow PDF or a stuck database (10 s).
var latency = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var (
	// Signatures counts signatures made (outcome ok) or attempted and
	// failed at the key (error), by the path that asked (api: signHash,
	// signDoc, transaction) and the key's algorithm (ecdsa-p256, rsa-3072,
	// …: hsm.Algorithm).
	Signatures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kyso_signatures_total",
		Help: "Signatures by the path that asked (signHash, signDoc, transaction), the key's algorithm and the outcome (ok, error).",
	}, []string{"api", "algorithm", "outcome"})
	// SignatureRefusals counts requests to spend activation data refused
	// before the key was reached, by the refusal's kind.
	SignatureRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kyso_signature_refusals_total",
		Help: "Requests to sign refused before the key was reached, by kind (replay, hashes, expired, certificate, …).",
	}, []string{"refusal"})
	// KeyOperations times operations on the key store (sign), by
	// backend (pkcs11, vault, softkey).
	KeyOperations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kyso_key_operation_duration_seconds",
		Help:    "Time of key store operations, by backend and operation.",
		Buckets: latency,
	}, []string{"backend", "operation"})
	// KeyErrors counts key store operations that failed.
	KeyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kyso_key_operation_errors_total",
		Help: "Key store operations that failed, by backend and operation.",
	}, []string{"backend", "operation"})
	// Argon2Waiting is how many PIN checks wait for a place at the
	// argon2id gate; Argon2Running how many hold one.
	Argon2Waiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kyso_argon2_waiting",
		Help: "PIN checks waiting for a place at the argon2id gate.",
	})
	// Argon2Running is how many argon2id evaluations run.
	Argon2Running = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kyso_argon2_running",
		Help: "argon2id evaluations running.",
	})
	// DBCommits times database write transactions from begin to durable
	// commit, by database (sqlite, postgres); a SQLite group commit counts
	// once.
	DBCommits = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kyso_db_commit_duration_seconds",
		Help:    "Time of database write transactions, from begin to durable commit.",
		Buckets: latency,
	}, []string{"db"})
	// HTTPRequests times requests by API, route pattern, method and
	// status code.
	HTTPRequests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kyso_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by API, route pattern, method and status code.",
		Buckets: latency,
	}, []string{"api", "route", "method", "code"})
	// OCSPResponses counts OCSP answers by certificate status (good,
	// revoked, unknown) or refusal (malformed, unauthorized).
	OCSPResponses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kyso_ocsp_responses_total",
		Help: "OCSP answers, by certificate status or refusal.",
	}, []string{"status"})
	// OCSPCacheOldest is the age of the oldest pre-signed OCSP response
	// served from the cache.
	OCSPCacheOldest = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kyso_ocsp_cache_oldest_seconds",
		Help: "Age of the oldest pre-signed OCSP response in the cache.",
	})
	// OCSPCacheBytes is the memory the OCSP response cache is counted at
	// (ocsp.Config.CacheBytes bounds it), as of the last PKI tick.
	OCSPCacheBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kyso_ocsp_cache_bytes",
		Help: "Bytes the cached OCSP responses are counted at (bounded by ocsp.cache_bytes).",
	})
	// OCSPPresigned counts the OCSP answers signed ahead and stored, by
	// kind: new (a certificate without one), refreshed (past half its
	// validity, its status changed, or its responder replaced).
	OCSPPresigned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kyso_ocsp_presigned_total",
		Help: "OCSP answers signed ahead and stored, by kind (new, refreshed).",
	}, []string{"kind"})
	// Certificates counts the issued certificates by status (good,
	// revoked, hold), as of the last count.
	Certificates = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kyso_certificates",
		Help: "Issued certificates by status (good, revoked, hold), counted periodically.",
	}, []string{"status"})
	// IssuancesAbandoned counts the issuances this process's PKI upkeep
	// settled as abandoned: reservations that no certificate followed (a
	// process killed between the two commits), each with its cert.issue
	// abandoned event.
	IssuancesAbandoned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kyso_issuances_abandoned_total",
		Help: "Serial reservations settled as abandoned (no certificate recorded), by this process's PKI upkeep.",
	})
	// WebhookDeliveries counts webhook attempts by outcome (delivered,
	// retry, gave_up).
	WebhookDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kyso_webhook_deliveries_total",
		Help: "Webhook delivery attempts, by outcome (delivered, retry, gave_up).",
	}, []string{"outcome"})
	// WebhookBacklog is how many webhooks wait to be delivered, as of the
	// dispatcher's last round.
	WebhookBacklog = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kyso_webhook_backlog",
		Help: "Webhooks not yet delivered nor given up, as of the dispatcher's last round.",
	})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		Signatures, SignatureRefusals, KeyOperations, KeyErrors, Argon2Waiting, Argon2Running, DBCommits, HTTPRequests,
		OCSPResponses, OCSPCacheOldest, OCSPCacheBytes, OCSPPresigned, Certificates, IssuancesAbandoned, WebhookDeliveries, WebhookBacklog)
}

// Since observes on o the seconds since start.
func Since(o prometheus.Observer, start time.Time) {
	o.Observe(time.Since(start).Seconds())
}
