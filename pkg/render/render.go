// Package render draws a page of a PDF as a PNG image, on the server, so
// that a citizen sees the very bytes they are asked to approve.
//
// The renderer is PDFium compiled to WebAssembly
// (github.com/klippa-app/go-pdfium's webassembly mode) run by wazero, a
// WebAssembly runtime in pure Go: kysod stays one binary built without
// cgo, and a PDF that crashes PDFium traps inside its sandbox instead of
// taking the daemon down. The sandbox has no file system (PDFium reads
// only the bytes it is given), and every call is bounded by Options: the
// document's size, its page count, the image's pixels, the sandbox's
// memory and the time a call may take.
//
// New compiles the WebAssembly module (about 6 MB) once, at start-up;
// every later call instantiates a fresh PDFium from the compiled module
// (milliseconds), so one hostile document leaves nothing behind for the
// next.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Options bound what a Renderer spends. Every zero value means the
// default named beside it.
type Options struct {
	// Workers is how many PDFium sandboxes run at once, each in its own
	// WebAssembly memory of up to MaxMemoryBytes. A call waits for a free
	// one, within its Timeout. Zero means runtime.GOMAXPROCS(0).
	Workers int
	// MaxPDFBytes is the largest document accepted. Zero means 32 MiB.
	MaxPDFBytes int
	// MaxPages is the most pages a document may have; a longer one is
	// refused whole (ErrTooManyPages), whichever page is asked for.
	// Zero means 500.
	MaxPages int
	// MaxPixels is the most pixels (width × height) an image may have.
	// The height follows the page's shape at the width asked for, so a
	// page a hundred times taller than wide is refused at widths where a
	// sheet of A4 is not (ErrTooManyPixels). Zero means 4,000,000, a
	// page of A4 1,680 pixels wide.
	MaxPixels int
	// MaxMemoryBytes is the most WebAssembly memory one sandbox may
	// grow to, rounded down to 64 KiB pages: the document, PDFium's
	// state and the bitmap all live in it. A document needing more fails
	// with ErrUnreadable or ErrRender. Zero means 512 MiB.
	MaxMemoryBytes int
	// Timeout bounds each call, waiting for a worker included; a call
	// still running then is stopped and its sandbox discarded
	// (ErrTimeout). Zero means 10 seconds.
	Timeout time.Duration
}

// Defaults of Options.
const (
	DefaultMaxPDFBytes    = 32 << 20
	DefaultMaxPages       = 500
	DefaultMaxPixels      = 4_000_000
	DefaultMaxMemoryBytes = 512 << 20
	DefaultTimeout        = 10 * time.Second
)

// Errors a call returns, wrapped with what was being done; test them with
// errors.Is. All but ErrClosed and ErrRender say the document (or the
// request) is at fault, not the renderer.
var (
	// ErrTooLarge: the document is over Options.MaxPDFBytes.
	ErrTooLarge = errors.New("render: document too large")
	// ErrTooManyPages: the document has more than Options.MaxPages pages.
	ErrTooManyPages = errors.New("render: too many pages")
	// ErrTooManyPixels: the image would be over Options.MaxPixels.
	ErrTooManyPixels = errors.New("render: image too large")
	// ErrTimeout: the call took longer than Options.Timeout (or its
	// context ended first).
	ErrTimeout = errors.New("render: time limit reached")
	// ErrUnreadable: PDFium cannot open the document (not a PDF,
	// damaged beyond repair, encrypted with a password) or a page of it.
	ErrUnreadable = errors.New("render: cannot read the document")
	// ErrNoPage: no such page, or a width below one pixel.
	ErrNoPage = errors.New("render: no such page")
	// ErrRender: PDFium failed while drawing (a trap in the sandbox, out
	// of memory).
	ErrRender = errors.New("render: drawing failed")
	// ErrClosed: the Renderer is closed.
	ErrClosed = errors.New("render: renderer closed")
)

// Renderer renders PDF pages. It is safe for concurrent use.
type Renderer struct {
	opts Options
	pool pdfium.Pool
}

// New compiles PDFium's WebAssembly module (a one-off cost of a few
// seconds of CPU) and returns a Renderer bounded by opts (nil means every
// default). The compilation, once begun, runs to its end; an ended ctx
// refuses to begin it. The Renderer outlives ctx.
func New(ctx context.Context, opts *Options) (*Renderer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxPDFBytes <= 0 {
		o.MaxPDFBytes = DefaultMaxPDFBytes
	}
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxMemoryBytes <= 0 {
		o.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("render: starting PDFium: %w", err)
	}
	memPages := uint32(min(o.MaxMemoryBytes>>16, 65536))
	pool, err := webassembly.Init(webassembly.Config{
		Context:  context.WithoutCancel(ctx),
		MinIdle:  0,
		MaxIdle:  o.Workers,
		MaxTotal: o.Workers,
		// No directory mounted: PDFium sees only the bytes it is handed.
		FSConfig: wazero.NewFSConfig(),
		// PDFium's module uses WebAssembly exception handling for
		// setjmp/longjmp; closing on the context's end is how Kill stops
		// a call in flight.
		RuntimeConfig: wazero.NewRuntimeConfig().
			WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithMemoryLimitPages(memPages).
			WithCloseOnContextDone(true),
		Stdout: io.Discard,
		Stderr: io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("render: starting PDFium: %w", err)
	}
	return &Renderer{opts: o, pool: pool}, nil
}

// Close releases the compiled module and every sandbox. Calls after Close
// fail with ErrClosed.
func (r *Renderer) Close() error {
	if err := r.pool.Close(); err != nil {
		return fmt.Errorf("render: closing: %w", err)
	}
	return nil
}

// PageCount returns the number of pages of pdf. A document of more than
// Options.MaxPages pages is ErrTooManyPages.
func (r *Renderer) PageCount(ctx context.Context, pdf []byte) (int, error) {
	var n int
	err := r.run(ctx, pdf, func(p pdfium.Pdfium, doc references.FPDF_DOCUMENT, pages int) error {
		n = pages
		return nil
	})
	return n, err
}

// Page renders page (counted from 1) of pdf as a PNG image widthPx pixels
// wide and as tall as the page's shape (after its /Rotate) makes it, on
// white, with the appearances of its annotations — a visible signature's
// stamp among them — drawn as a printed page shows them.
func (r *Renderer) Page(ctx context.Context, pdf []byte, page, widthPx int) ([]byte, error) {
	if widthPx < 1 || widthPx > r.opts.MaxPixels {
		return nil, fmt.Errorf("render: width of %d pixels: %w", widthPx, ErrTooManyPixels)
	}
	var out []byte
	err := r.run(ctx, pdf, func(p pdfium.Pdfium, doc references.FPDF_DOCUMENT, pages int) error {
		if page < 1 || page > pages {
			return fmt.Errorf("render: page %d of %d: %w", page, pages, ErrNoPage)
		}
		size, err := p.FPDF_GetPageSizeByIndex(&requests.FPDF_GetPageSizeByIndex{Document: doc, Index: page - 1})
		if err != nil {
			return fmt.Errorf("render: page %d's size: %v: %w", page, err, ErrUnreadable)
		}
		if !(size.Width > 0 && size.Height > 0) || math.IsInf(size.Width, 0) || math.IsInf(size.Height, 0) {
			return fmt.Errorf("render: page %d measures %g × %g points: %w", page, size.Width, size.Height, ErrUnreadable)
		}
		h := math.Round(float64(widthPx) * size.Height / size.Width)
		if h < 1 {
			h = 1
		}
		if h > float64(r.opts.MaxPixels/widthPx) {
			return fmt.Errorf("render: page %d (%g × %g points) at %d pixels wide is %.0f pixels tall, over %d pixels in all: %w",
				page, size.Width, size.Height, widthPx, h, r.opts.MaxPixels, ErrTooManyPixels)
		}
		res, err := p.RenderPageInPixels(&requests.RenderPageInPixels{
			Page:        requests.Page{ByIndex: &requests.PageByIndex{Document: doc, Index: page - 1}},
			Width:       widthPx,
			Height:      int(h),
			RenderFlags: enums.FPDF_RENDER_FLAG_ANNOT,
			// Widgets (a signature field's stamp, a filled form field)
			// are drawn by the form layer, not by FPDF_ANNOT.
			RenderForm: true,
			Document:   &doc,
		})
		if err != nil {
			return fmt.Errorf("render: page %d: %v: %w", page, err, ErrRender)
		}
		defer res.Cleanup()
		// The image's pixels live in the sandbox's memory until Cleanup:
		// encode them first.
		var b bytes.Buffer
		if err := png.Encode(&b, res.Result.Image); err != nil {
			return fmt.Errorf("render: encoding page %d: %w", page, err)
		}
		out = b.Bytes()
		return nil
	})
	return out, err
}

// run opens pdf in a fresh sandbox and calls f with it, within the
// Timeout: past it, the sandbox is killed (wazero closes the module on
// its context's end) and run returns ErrTimeout at once.
func (r *Renderer) run(ctx context.Context, pdf []byte, f func(pdfium.Pdfium, references.FPDF_DOCUMENT, int) error) error {
	if len(pdf) > r.opts.MaxPDFBytes {
		return fmt.Errorf("render: %d bytes, over %d: %w", len(pdf), r.opts.MaxPDFBytes, ErrTooLarge)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	inst, err := r.pool.GetInstanceWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("render: waiting for a worker: %w", errors.Join(ErrTimeout, ctx.Err()))
		}
		if err.Error() == "pool is closed" {
			return ErrClosed
		}
		return fmt.Errorf("render: starting a worker: %w", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- func() (err error) {
			defer func() {
				// The library turns most traps into errors; a panic
				// left over is the document's doing too.
				if p := recover(); p != nil {
					err = fmt.Errorf("render: %v: %w", p, ErrRender)
				}
			}()
			doc, err := inst.OpenDocument(&requests.OpenDocument{File: &pdf})
			if err != nil {
				return fmt.Errorf("render: opening: %v: %w", err, ErrUnreadable)
			}
			defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
			n, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
			if err != nil {
				return fmt.Errorf("render: counting pages: %v: %w", err, ErrUnreadable)
			}
			if n.PageCount > r.opts.MaxPages {
				return fmt.Errorf("render: %d pages, over %d: %w", n.PageCount, r.opts.MaxPages, ErrTooManyPages)
			}
			return f(inst, doc.Document, n.PageCount)
		}()
	}()
	select {
	case err := <-done:
		inst.Close()
		return err
	case <-ctx.Done():
		// The goroutine sees its sandbox closed under it and ends; its
		// answer goes to the buffered channel, unread.
		inst.Kill()
		return fmt.Errorf("render: after %v: %w", r.opts.Timeout, errors.Join(ErrTimeout, ctx.Err()))
	}
}
