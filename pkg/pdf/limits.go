package pdf

// Default limits, used for every zero field of Limits.
const (
	DefaultMaxFileSize     = 512 << 20 // 512 MiB
	DefaultMaxDepth        = 64
	DefaultMaxObjects      = 1 << 22 // 4,194,304 cross-reference entries
	DefaultMaxStringLen    = 16 << 20
	DefaultMaxStreamLen    = 256 << 20
	DefaultMaxDecodedLen   = 64 << 20
	DefaultMaxRatio        = 1100
	DefaultMaxXrefSections = 4096
	DefaultMaxWork         = 200_000_000
)

// Limits bounds the work a Reader does on untrusted input. Every zero field
// takes its Default value; a nil *Limits means all defaults. Exceeding a
// limit yields an *Error wrapping ErrLimit.
type Limits struct {
	// MaxFileSize is the largest file Open accepts, in bytes.
	// Zero means DefaultMaxFileSize (512 MiB).
	MaxFileSize int64
	// MaxDepth is the deepest nesting of arrays and dictionaries in one
	// object. Zero means DefaultMaxDepth (64).
	MaxDepth int
	// MaxObjects bounds the number of cross-reference entries, the highest
	// object number and the number of pages and form fields walked.
	// Zero means DefaultMaxObjects.
	MaxObjects int
	// MaxStringLen bounds one string, name or the entries of one array or
	// dictionary, in bytes or elements. Zero means DefaultMaxStringLen (16 MiB).
	MaxStringLen int
	// MaxStreamLen bounds the raw (encoded) length of one stream.
	// Zero means DefaultMaxStreamLen (256 MiB).
	MaxStreamLen int64
	// MaxDecodedLen bounds the decoded length of one stream.
	// Zero means DefaultMaxDecodedLen (64 MiB).
	MaxDecodedLen int64
	// MaxRatio bounds decoded/encoded size of a stream once its decoded
	// form passes 1 MiB, to stop compression bombs early. One layer of
	// Flate cannot exceed about 1032:1, so the default (1100) only stops
	// stacked filters. Zero means DefaultMaxRatio.
	MaxRatio int64
	// MaxXrefSections bounds the /Prev chain of cross-reference sections
	// (one per incremental update). Zero means DefaultMaxXrefSections.
	MaxXrefSections int
	// MaxWork is a budget for the whole life of a Reader, counted in
	// lexical tokens plus decoded kilobytes; it bounds total time.
	// Zero means DefaultMaxWork.
	MaxWork int64
}

func (l *Limits) withDefaults() Limits {
	var o Limits
	if l != nil {
		o = *l
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxObjects <= 0 {
		o.MaxObjects = DefaultMaxObjects
	}
	if o.MaxStringLen <= 0 {
		o.MaxStringLen = DefaultMaxStringLen
	}
	if o.MaxStreamLen <= 0 {
		o.MaxStreamLen = DefaultMaxStreamLen
	}
	if o.MaxDecodedLen <= 0 {
		o.MaxDecodedLen = DefaultMaxDecodedLen
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	if o.MaxXrefSections <= 0 {
		o.MaxXrefSections = DefaultMaxXrefSections
	}
	if o.MaxWork <= 0 {
		o.MaxWork = DefaultMaxWork
	}
	return o
}
