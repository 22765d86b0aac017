package stats

import (
	"fmt"
	"time"
	_ "time/tzdata" // the zone database, for hosts and images without one
)

// DefaultTimeZone is the zone of the calendar days unless
// WXID_STATS_TIMEZONE says otherwise: China Standard Time, where WeChat's
// users live.
const DefaultTimeZone = "Asia/Shanghai"

// DayLayout is how a day is written: YYYY-MM-DD.
const DayLayout = time.DateOnly

// DayStart returns the start of t's calendar day in loc.
func DayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Day returns t's calendar day in loc, as YYYY-MM-DD.
func Day(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(DayLayout)
}

// FirstOfDay reports whether a login at now is the first of its calendar
// day in loc for an account whose previous login was at last (nil for
// never).
func FirstOfDay(last *time.Time, now time.Time, loc *time.Location) bool {
	return last == nil || last.Before(DayStart(now, loc))
}

// LoadLocation loads a time zone by its IANA name (Asia/Shanghai, UTC).
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use an IANA name such as Asia/Shanghai or UTC", name)
	}
	return loc, nil
}
