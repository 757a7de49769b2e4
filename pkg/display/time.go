package display

import (
	"fmt"
	"strings"
	"time"
)

// vietnam is Vietnam's time, Asia/Ho_Chi_Minh: UTC+7 all year since 1975,
// with no daylight saving, so it needs no time zone database.
var vietnam = time.FixedZone("Asia/Ho_Chi_Minh", 7*3600)

// Vietnam returns Vietnam's time zone (Asia/Ho_Chi_Minh, GMT+7), the zone
// kyso shows times in unless told otherwise.
func Vietnam() *time.Location { return vietnam }

// Zone returns zone, or Vietnam's time when zone is nil: what a nil
// time-zone option means throughout kyso.
func Zone(zone *time.Location) *time.Location {
	if zone == nil {
		return vietnam
	}
	return zone
}

// LoadZone returns the time zone an IANA name ("Asia/Ho_Chi_Minh",
// "Europe/Paris", "UTC") names; "" means Vietnam's. A name needs the time
// zone database: of the system, or linked into the binary with an import
// of time/tzdata, as kyso's commands do.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return vietnam, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("display: time zone %q: %w", name, err)
	}
	return loc, nil
}

// Time writes t in zone (nil: Vietnam's time) as kyso's Vietnamese texts
// show a moment — the verify report and the visible signature stamp —
// time of day first, then the date day first, then the zone as its offset
// from UTC: "05:55:12 07/12/2026 (GMT+7)".
func Time(t time.Time, zone *time.Location) string {
	t = t.In(Zone(zone))
	return t.Format("15:04:05 02/01/2006") + " (" + Offset(t) + ")"
}

// Offset names t's zone by its offset from UTC, as people in Vietnam name
// theirs: "GMT+7", "GMT-5", "GMT+5:30", and "GMT" for UTC itself. The
// offset, unlike an abbreviation ("+07", "ICT", "EST"), reads the same on
// every system.
func Offset(t time.Time) string {
	_, off := t.Zone()
	if off == 0 {
		return "GMT"
	}
	var b strings.Builder
	b.WriteString("GMT")
	if off < 0 {
		b.WriteByte('-')
		off = -off
	} else {
		b.WriteByte('+')
	}
	fmt.Fprintf(&b, "%d", off/3600)
	if m := off % 3600 / 60; m != 0 {
		fmt.Fprintf(&b, ":%02d", m)
	}
	return b.String()
}
