package stats

import (
	"context"
	"fmt"
	"time"

	"github.com/wxid/wxid/apperr"
	"github.com/wxid/wxid/ent"
	"github.com/wxid/wxid/ent/dailyuserstats"
)

// Daily are the figures of one calendar day.
type Daily struct {
	// Date is the day, YYYY-MM-DD.
	Date string
	// Signups, ActiveUsers and PhoneVerified are the day's counts (see the
	// package documentation).
	Signups, ActiveUsers, PhoneVerified int
}

// Range is what userStats asks for.
type Range struct {
	// From and To bound the time range: every calendar day that overlaps
	// [From, To) is answered, oldest first.
	From, To time.Time
	// AppID selects one mini-program; nil means all of them together.
	AppID *string
}

// days returns the calendar days r covers, or a BAD_USER_INPUT that says
// how to fix it.
func (r Range) days(loc *time.Location) ([]string, error) {
	if r.AppID != nil && (*r.AppID == "" || len(*r.AppID) > 64) {
		return nil, apperr.BadInput("appId must be an appid of at most 64 characters; leave it out for every app together")
	}
	if !r.To.After(r.From) {
		return nil, apperr.BadInput("to must be after from: pass the start of the first day as from and the end of the last day as to")
	}
	var days []string
	for d := DayStart(r.From, loc); d.Before(r.To); d = d.AddDate(0, 0, 1) {
		if len(days) == MaxDays {
			return nil, apperr.BadInput("the range covers more than %d days: ask for at most %d days at a time", MaxDays, MaxDays)
		}
		days = append(days, d.Format(DayLayout))
	}
	return days, nil
}

// Daily returns the figures of every calendar day r covers, oldest first;
// a day without any is all zeros. It reads at most MaxDays rows of
// daily_user_stats by its unique index. Events of the last Lag and of the
// time since the last pass of the rollup do not show yet.
func (s *Service) Daily(ctx context.Context, r Range) ([]*Daily, error) {
	days, err := r.days(s.loc)
	if err != nil {
		return nil, err
	}
	app := ""
	if r.AppID != nil {
		app = *r.AppID
	}
	rows, err := s.db.DailyUserStats.Query().
		Where(dailyuserstats.AppID(app), dailyuserstats.DayGTE(days[0]), dailyuserstats.DayLTE(days[len(days)-1])).
		All(ctx)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("reading daily user statistics: %w", err))
	}
	byDay := make(map[string]*ent.DailyUserStats, len(rows))
	for _, row := range rows {
		byDay[row.Day] = row
	}
	out := make([]*Daily, len(days))
	for i, d := range days {
		out[i] = &Daily{Date: d}
		if row := byDay[d]; row != nil {
			out[i].Signups, out[i].ActiveUsers, out[i].PhoneVerified = row.Signups, row.ActiveUsers, row.PhoneVerified
		}
	}
	return out, nil
}
