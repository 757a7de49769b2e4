package app

import (
	"html/template"
	"io"
	"io/fs"
	"regexp"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// TestMessages: every word the app says exists in both languages, in NFC
// (Vietnamese precomposed, as people type and search it).
func TestMessages(t *testing.T) {
	for lang, m := range messages {
		for other, om := range messages {
			for k := range om {
				if m[k] == "" {
					t.Errorf("%q is in %s but not in %s", k, other, lang)
				}
			}
		}
		for k, v := range m {
			if !norm.NFC.IsNormalString(v) {
				t.Errorf("%s %q is not NFC", lang, k)
			}
		}
	}
}

// TestTemplateWords: every word a template reads (.T.key) is a message,
// and a page that reads a missing one fails to render instead of showing
// a blank (missingkey=error).
func TestTemplateWords(t *testing.T) {
	used := regexp.MustCompile(`\.T\.([A-Za-z0-9_]+)`)
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v %v", files, err)
	}
	n := 0
	for _, f := range files {
		b, _ := fs.ReadFile(templateFS, f)
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			n++
			if messages["vi"][m[1]] == "" {
				t.Errorf("%s reads .T.%s, which is not a message", f, m[1])
			}
		}
	}
	if n < 50 {
		t.Errorf("found %d words read by templates: the pattern no longer matches how they read them", n)
	}
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	broken, err := pages["done"].Clone()
	if err != nil {
		t.Fatal(err)
	}
	template.Must(broken.New("missing").Parse(`{{.T.noSuchWord}}`))
	if err := broken.ExecuteTemplate(io.Discard, "missing", map[string]any{"T": messages["vi"]}); err == nil {
		t.Error("a template reading a missing word rendered")
	}
}
