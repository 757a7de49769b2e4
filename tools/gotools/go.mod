// Module gotools pins the outside checkers scripts/test.sh builds from Go
// sources, with every dependency, by this go.mod and its go.sum. It is a
// module of its own so that the checkers' dependencies stay out of kyso's.
// To change a version: go get -tool github.com/pdfcpu/pdfcpu/cmd/pdfcpu@vX.Y.Z
// here (pdfcpu v0.11.0 is the newest that builds with Go 1.26 here).
module github.com/kyso-pki/kyso/tools/gotools

go 1.26.0

tool github.com/pdfcpu/pdfcpu/cmd/pdfcpu

require (
	github.com/hhrutter/lzw v1.0.0 // indirect
	github.com/hhrutter/pkcs7 v0.2.0 // indirect
	github.com/hhrutter/tiff v1.0.2 // indirect
	github.com/mattn/go-runewidth v0.0.16 // indirect
	github.com/pdfcpu/pdfcpu v0.11.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	golang.org/x/crypto v0.38.0 // indirect
	golang.org/x/image v0.27.0 // indirect
	golang.org/x/text v0.25.0 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)
