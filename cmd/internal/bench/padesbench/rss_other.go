//go:build !unix

package padesbench

import "os"

// maxRSS is zero where getrusage is not: the child rows report no memory.
func maxRSS(*os.ProcessState) int64 { return 0 }
