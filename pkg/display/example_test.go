package display_test

import (
	"fmt"
	"math/big"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
)

// Text guards every field an owner is shown: a relying party's
// description with a bidirectional override is refused, with the field,
// the character and its position.
func ExampleText() {
	fmt.Println(display.Text("transaction_desc", "Tờ khai đăng ký thường trú"))
	fmt.Println(display.Text("transaction_desc", "Tờ khai \u202efdp.exe"))
	// Output:
	// <nil>
	// transaction_desc: bidirectional control U+202E at position 9 is not allowed
}

// Escape shows text that got in before the edge guarded it, visibly.
func ExampleEscape() {
	fmt.Println(display.Escape("Đồng ý\x1b[2J\u202e"))
	// Output: Đồng ý\x1b[2J\u202e
}

// Time writes a moment as kyso's Vietnamese texts show it, in Vietnam's
// time unless another zone is given.
func ExampleTime() {
	t := time.Date(2026, 12, 6, 22, 55, 12, 0, time.UTC)
	fmt.Println(display.Time(t, nil))
	fmt.Println(display.Time(t, time.UTC))
	// Output:
	// 05:55:12 07/12/2026 (GMT+7)
	// 22:55:12 06/12/2026 (GMT)
}

// FormatSerialInt writes a certificate serial as openssl prints it.
func ExampleFormatSerialInt() {
	fmt.Println(display.FormatSerialInt(big.NewInt(0x1e4043b296)))
	// Output: 1E4043B296
}

// MixedScript finds a name spelt with a confusable from another script.
func ExampleMixedScript() {
	for _, name := range []string{"Nguyễn Văn Đức", "Nguyễn V\u0430n Đức"} {
		first, other, mixed := display.MixedScript(name)
		if mixed {
			fmt.Printf("%s: mixed (%s %q, %s %q)\n", name, display.ScriptName(first), first, display.ScriptName(other), other)
		} else {
			fmt.Printf("%s: one script\n", name)
		}
	}
	// Output:
	// Nguyễn Văn Đức: one script
	// Nguyễn Vаn Đức: mixed (Latin 'N', Cyrillic 'а')
}
