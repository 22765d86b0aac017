package app_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wxid/wxid/internal/apptest"
)

// BenchmarkAdminUsersPage measures a dashboard's page: 100 users (of 300)
// newest first, with totalCount, their openIds (two each) and unionId,
// through the whole handler. It reports the SQL statements per page, which
// must not grow with the page.
func BenchmarkAdminUsersPage(b *testing.B) {
	body, err := json.Marshal(map[string]any{"query": "{ " + dashboardPage + " }"})
	if err != nil {
		b.Fatal(err)
	}
	for _, env := range benchEnvs {
		b.Run(env.name, func(b *testing.B) {
			opts := env.opts
			opts.CountQueries = true
			e := apptest.New(b, opts)
			q := e.Queries
			users := seedUsers(b, e, 300, time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
			seedIdentities(b, e, users, func(int) bool { return true })
			h := e.App.Handler()

			q.Start()
			serve(b, h, apptest.AdminToken, string(body))
			stmts, _ := q.Stop()

			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				serve(b, h, apptest.AdminToken, string(body))
			}
			b.ReportMetric(float64(stmts), "queries/op")
		})
	}
}
