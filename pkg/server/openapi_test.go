package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// routeSources are the files that register kysod's routes, relative to
// this package: each HandleFunc or Handle call with a literal pattern
// there is a route the OpenAPI document must describe.
var routeSources = []string{
	"../../cmd/kysod/main.go",
	"../csc/handler.go",
	"../smartca/handler.go",
	"../owner/handler.go",
	"../admin/admin.go",
	"../admin/staff.go",
	"../admin/renew.go",
	"../admin/registration.go",
	"pki.go",
}

// unmuxedRoutes are served without a mux pattern: PKI.ServeHTTP hands
// /ocsp and /ocsp/… to the OCSP responder itself, which takes GET with
// the request in the path and POST at any path; kysod --registry hands
// /registry/v1/… to campaignreg.Handler, which takes POST /registry/v1/
// and the operation.
var unmuxedRoutes = []string{"GET /ocsp", "POST /ocsp", "GET /ocsp/{}", "POST /ocsp/{}", "POST /registry/v1/{}"}

// normPath turns a path into a comparable shape: every segment holding a
// wildcard becomes "{}", so the mux's "/ca/{file}" and the document's
// "/ca/{name}.crt" compare equal.
func normPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.Contains(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// registeredRoutes returns the routes the sources register, as "METHOD
// path" or, for a pattern without a method, "* path"; subtree catch-alls
// (a pattern ending in "/") are left out.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	var routes []string
	fset := token.NewFileSet()
	for _, src := range routeSources {
		f, err := parser.ParseFile(fset, src, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			pattern, _ := strconv.Unquote(lit.Value)
			method, path, found := strings.Cut(pattern, " ")
			if !found {
				method, path = "*", pattern
			}
			if !strings.HasSuffix(path, "/") {
				routes = append(routes, method+" "+normPath(path))
			}
			return true
		})
	}
	if len(routes) < 20 {
		t.Fatalf("found only %d routes in %v: has the registration code moved?", len(routes), routeSources)
	}
	return append(routes, unmuxedRoutes...)
}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
}

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi: %q, want 3.x", doc.OpenAPI)
	}
	return &doc
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPICoversRoutes: every route kysod registers is in the OpenAPI
// document with its method, and the document names no route kysod does not
// serve.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{} // "METHOD path", normalised
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				documented[strings.ToUpper(key)+" "+normPath(path)] = true
			}
		}
	}
	served := map[string]bool{}
	for _, r := range registeredRoutes(t) {
		method, path, _ := strings.Cut(r, " ")
		served[r] = true
		if method != "*" {
			if !documented[r] {
				t.Errorf("route %s is served but not in openapi.json", r)
			}
			continue
		}
		any := false
		for _, m := range httpMethods {
			any = any || documented[strings.ToUpper(m)+" "+path]
		}
		if !any {
			t.Errorf("route %s (any method) is served but not in openapi.json", path)
		}
	}
	var extra []string
	for r := range documented {
		_, path, _ := strings.Cut(r, " ")
		if !served[r] && !served["* "+path] {
			extra = append(extra, r)
		}
	}
	sort.Strings(extra)
	for _, r := range extra {
		t.Errorf("openapi.json documents %s, which kysod does not serve", r)
	}
}

// TestOpenAPIDocument: every operation has an ID and responses, and every
// $ref points at a component that exists.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for key, raw := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var op struct {
				OperationID string                     `json:"operationId"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			if op.OperationID == "" || ids[op.OperationID] || len(op.Responses) == 0 {
				t.Errorf("%s %s: operationId %q (unique?) and %d responses", key, path, op.OperationID, len(op.Responses))
			}
			ids[op.OperationID] = true
		}
	}
	var all any
	json.Unmarshal(OpenAPI(), &all)
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				parts := strings.Split(strings.TrimPrefix(r, "#/components/"), "/")
				if len(parts) != 2 || doc.Components[parts[0]][parts[1]] == nil {
					t.Errorf("dangling $ref %q", r)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(all)
}

func TestOpenAPIHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	OpenAPIHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(rec.Body.Bytes(), OpenAPI()) {
		t.Fatalf("GET /openapi.json = %d %s, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}

// TestOpenAPIWebhook: the document describes the webhook kysod sends when
// a SmartCA transaction ends, as pkg/smartca sends it: a callback of
// signatures/sign whose X-Kyso-Signature header is sha256= and the
// lowercase hex HMAC-SHA256 of the body under the hex-decoded key.
func TestOpenAPIWebhook(t *testing.T) {
	doc := loadOpenAPI(t)
	var sign struct {
		Callbacks map[string]map[string]struct {
			Post struct {
				Parameters []struct {
					Ref string `json:"$ref"`
				} `json:"parameters"`
			} `json:"post"`
		} `json:"callbacks"`
	}
	if err := json.Unmarshal(doc.Paths["/smartca/v1/signatures/sign"]["post"], &sign); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, cb := range sign.Callbacks["transactionEnded"] {
		for _, p := range cb.Post.Parameters {
			refs = append(refs, p.Ref)
		}
	}
	if !slices.Contains(refs, "#/components/parameters/WebhookSignature") {
		t.Fatalf("signatures/sign has no transactionEnded callback carrying the signature header: %v", refs)
	}
	var param struct {
		Name        string `json:"name"`
		In          string `json:"in"`
		Description string `json:"description"`
		Schema      struct {
			Pattern string `json:"pattern"`
		} `json:"schema"`
	}
	if err := json.Unmarshal(doc.Components["parameters"]["WebhookSignature"], &param); err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString("66dfee3c574948ccb1f46fb6b67e129fbf5aa31c8c18e0d2956a1116e8c830a0")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(`{"status_code":200}`))
	sent := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if param.Name != signing.HeaderSignature || param.In != "header" || !regexp.MustCompile(param.Schema.Pattern).MatchString(sent) {
		t.Errorf("WebhookSignature is %s in %s with pattern %q; want %s in header matching %q", param.Name, param.In, param.Schema.Pattern, signing.HeaderSignature, sent)
	}
	for _, want := range []string{"lowercase hex HMAC-SHA256", "raw request body", "webhook_key_hex", "Decode the hex first"} {
		if !strings.Contains(param.Description, want) {
			t.Errorf("WebhookSignature's description lacks %q", want)
		}
	}
}
