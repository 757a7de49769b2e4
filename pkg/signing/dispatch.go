package signing

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kyso-pki/kyso/pkg/metrics"
	"github.com/kyso-pki/kyso/pkg/store"

	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/internal/tlsmin"
	"github.com/kyso-pki/kyso/internal/tracing"
)

// Webhook request headers. The signature is "sha256=" and the lowercase
// hex HMAC-SHA256 of the body under the client's webhook key — its 32
// bytes, which `kyso client create` prints hex-encoded (webhook_key_hex);
// a receiver decodes that hex, recomputes the HMAC over the bytes it
// received and compares in constant time. Delivery is at least once: a
// replica that dies after the receiver answered and before it recorded the
// delivery sends it again once its lease ends. The idempotency key
// (Transaction.IdempotencyKey, "<tran_code>:<status>", also in the body)
// is the same on every delivery of one notification, so a receiver drops
// the duplicates by it; the delivery ID names the outbox row.
const (
	HeaderSignature   = "X-Kyso-Signature"
	HeaderDelivery    = "X-Kyso-Delivery"
	HeaderIdempotency = "Idempotency-Key"
)

// Dispatcher sends the webhook outbox: when a transaction ends, the
// service queues its notification (Config.Notification writes it in the
// client's dialect) for the client's webhook URL, and the dispatcher POSTs
// it, signed, retrying with
// exponential backoff. Replicas may each run one: a claimed batch is
// leased to one replica for longer than it can take to send. Zero fields
// take the defaults documented.
type Dispatcher struct {
	Service *Service
	Store   store.Signing
	// HTTPClient sends the requests; nil means a plain http.Client.
	// Redirects are never followed: a 3xx is a failed attempt, as the
	// signature was made for the URL the operator registered.
	HTTPClient *http.Client
	// Interval is the pause between rounds when the outbox is empty;
	// zero means 5 seconds.
	Interval time.Duration
	// Timeout bounds one attempt, from connecting to reading the answer;
	// zero means 10 seconds.
	Timeout time.Duration
	// Batch is how many webhooks one round claims; zero means 20.
	Batch int
	// MinBackoff is the wait after the first failed attempt, doubling
	// after each one up to MaxBackoff; zero means 10 seconds and 1 hour.
	MinBackoff, MaxBackoff time.Duration
	// GiveUpAfter is how long retries go on; zero means 24 hours.
	GiveUpAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per failed attempt (delivery ID, client,
	// attempt, HTTP status or network error) — never a body, a key or a
	// URL; nil discards them.
	Logger *slog.Logger

	// pruned is when this dispatcher last pruned the login misses.
	pruned time.Time
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (d *Dispatcher) batch() int {
	if d.Batch <= 0 {
		return 20
	}
	return min(d.Batch, 1000)
}

// Run sends webhooks until ctx ends, then returns nil. Each round first
// expires overdue transactions (Service.ExpireOverdue), so their
// notifications go out though nobody polls, and fails the transactions
// abandoned while being signed (Service.Recover), and sends the expiry
// notices due (Service.NotifyExpiring). The first round runs at
// once: a replica starting after a crash recovers what is due.
func (d *Dispatcher) Run(ctx context.Context) error {
	interval := orDuration(d.Interval, 5*time.Second)
	for {
		n, err := d.Once(ctx)
		if err != nil && ctx.Err() == nil {
			d.log().Error("signing: webhook round", "error", err)
		}
		if n == d.batch() && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Once runs one round: it expires overdue transactions, fails abandoned
// ones, claims the webhooks due, sends each once and records the outcome.
// It returns how many webhooks it attempted.
func (d *Dispatcher) Once(ctx context.Context) (int, error) {
	if _, err := d.Service.ExpireOverdue(ctx); err != nil {
		d.log().Error("signing: expiring overdue transactions", "error", err)
	}
	if _, err := d.Service.Recover(ctx); err != nil {
		d.log().Error("signing: recovering abandoned transactions", "error", err)
	}
	if _, err := d.Service.NotifyExpiring(ctx); err != nil {
		d.log().Error("signing: sending expiry notices", "error", err)
	}
	if now := d.now(); now.Sub(d.pruned) >= time.Hour {
		if _, err := d.Service.PruneLoginMisses(ctx); err != nil {
			d.log().Error("signing: pruning login misses", "error", err)
		} else {
			d.pruned = now
		}
	}
	timeout := orDuration(d.Timeout, 10*time.Second)
	// The lease outlasts the batch sent one by one, with one timeout to
	// spare, so no other replica claims a webhook this one is still
	// sending; when this one dies, the batch is due again at its end.
	lease := time.Duration(d.batch()+1) * timeout
	list, err := d.Store.ClaimWebhooks(ctx, d.now(), lease, d.batch())
	if err != nil {
		return 0, fmt.Errorf("signing: claiming webhooks: %w", err)
	}
	for _, wh := range list {
		sctx, sendErr := d.sendTraced(ctx, wh, timeout)
		if sendErr == nil {
			crashpoint.Reach(crashpoint.Delivered)
			metrics.WebhookDeliveries.WithLabelValues("delivered").Inc()
			err = d.Store.FinishWebhook(ctx, wh.ID, true, time.Time{}, "")
		} else {
			next := d.retryAt(wh.Attempts + 1)
			if errors.Is(sendErr, errGiveUp) {
				next = time.Time{}
			}
			metrics.WebhookDeliveries.WithLabelValues(map[bool]string{true: "gave_up", false: "retry"}[next.IsZero()]).Inc()
			d.log().WarnContext(sctx, "signing: webhook attempt failed", "delivery", wh.ID, "client", wh.ClientID,
				"attempt", wh.Attempts+1, "error", sendErr.Error(), "given_up", next.IsZero())
			err = d.Store.FinishWebhook(ctx, wh.ID, false, next, sendErr.Error())
		}
		if errors.Is(err, store.ErrConflict) {
			err = nil // another replica delivered it after our lease ran out
		}
		if err != nil {
			return len(list), fmt.Errorf("signing: recording webhook %d: %w", wh.ID, err)
		}
	}
	if n, err := d.Store.CountUndelivered(ctx); err == nil {
		metrics.WebhookBacklog.Set(float64(n))
	}
	return len(list), nil
}

// backoff is the wait after failed attempt n (1, 2, …).
func (d *Dispatcher) backoff(n int) time.Duration {
	b, most := orDuration(d.MinBackoff, 10*time.Second), orDuration(d.MaxBackoff, time.Hour)
	for i := 1; i < n && b < most; i++ {
		b *= 2
	}
	return min(b, most)
}

// retryAt is when to try again after failed attempt n, or zero to give up:
// when the waits so far, this one included, would pass GiveUpAfter.
func (d *Dispatcher) retryAt(n int) time.Time {
	giveUp := orDuration(d.GiveUpAfter, 24*time.Hour)
	var total time.Duration
	for i := 1; i <= n; i++ {
		total += d.backoff(i)
		if total > giveUp {
			return time.Time{}
		}
	}
	return d.now().Add(d.backoff(n))
}

// errGiveUp marks a failure no retry can mend.
var errGiveUp = errors.New("not retried")

// sendTraced is send as a span of its own, webhook.deliver (a client
// span, the root of its trace, linked to the span of the request that
// queued the notification when the outbox kept its traceparent), whose context the request carries to
// the receiver in a W3C traceparent header when a propagator is installed.
// The span names the delivery, the client and the attempt, and the
// receiver's host and status: never the URL's path or query, the body or
// the key. The context returned carries the span, for the log line of a
// failed attempt to name its trace.
func (d *Dispatcher) sendTraced(ctx context.Context, wh *store.Webhook, timeout time.Duration) (context.Context, error) {
	attrs := []attribute.KeyValue{attribute.Int64("kyso.webhook.delivery", wh.ID), attribute.String("kyso.client_id", wh.ClientID),
		attribute.Int("kyso.webhook.attempt", wh.Attempts+1), attribute.String("http.request.method", http.MethodPost)}
	if u, err := url.Parse(wh.URL); err == nil {
		attrs = append(attrs, attribute.String("server.address", u.Hostname()))
	}
	opts := []trace.SpanStartOption{trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...)}
	if link, ok := tracing.LinkTo(wh.Trace); ok {
		opts = append(opts, trace.WithLinks(link))
	}
	ctx, span := tracing.Tracer().Start(ctx, "webhook.deliver", opts...)
	err := d.send(ctx, wh, timeout)
	tracing.End(span, err)
	return ctx, err
}

// send POSTs one webhook, signed with its client's key; a 2xx answer is a
// delivery. Errors name the HTTP status or the network failure, never the
// URL's path or query (they may carry the receiver's own token).
func (d *Dispatcher) send(ctx context.Context, wh *store.Webhook, timeout time.Duration) error {
	c, err := d.Service.Client(ctx, wh.ClientID)
	if errors.Is(err, &Error{Kind: KindNotFound}) {
		return fmt.Errorf("the client is gone: %w", errGiveUp)
	} else if err != nil {
		return fmt.Errorf("reading the client: %w", err)
	}
	if c.Disabled {
		return fmt.Errorf("the client is disabled: %w", errGiveUp)
	}
	key, err := d.Service.WebhookKey(c)
	if err != nil {
		return fmt.Errorf("opening the client's webhook key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(wh.Body)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(wh.Body))
	if err != nil {
		return fmt.Errorf("the webhook URL is unusable: %w", errGiveUp)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kyso-webhook/1")
	req.Header.Set(HeaderSignature, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set(HeaderDelivery, strconv.FormatInt(wh.ID, 10))
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	if wh.IdempotencyKey != "" {
		req.Header.Set(HeaderIdempotency, wh.IdempotencyKey)
	}
	client := http.Client{Transport: tlsmin.Transport()}
	if d.HTTPClient != nil {
		client = *d.HTTPClient
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("sending: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered HTTP %d", resp.StatusCode)
	}
	return nil
}
