package verify

// WithoutMemo makes Verify compute every path and revocation check again
// rather than remember it, so that tests can compare the two.
func WithoutMemo(o *Options) { o.noMemo = true }
