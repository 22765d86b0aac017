package app_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/wxid/wxid/internal/apptest"
	"github.com/wxid/wxid/internal/testenv"
)

// TestGraphiQLInABrowser loads / in headless Chromium, runs a query in
// GraphiQL and reads the answer on the page. Every request the page makes
// goes to wxid itself: it works with no outside network.
func TestGraphiQLInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium := testenv.Chromium(t)
	e := apptest.New(t, apptest.Options{})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()

	var (
		mu       sync.Mutex
		requests []string
		failures []string
	)
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		// Runs in the tab's event loop: record and return.
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.URL)
		case *network.EventLoadingFailed:
			failures = append(failures, ev.ErrorText)
		}
	}))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(e.Server.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-query-editor .CodeMirror`)),
	))
	// run types query into GraphiQL's editor, presses its run button and
	// returns the result pane's text once it contains want.
	run := func(query, want string) string {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(`+"`"+query+"`"+`)`),
			chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
		)
		require.NoError(t, err)
		result, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
			const r = document.querySelector('.graphiql-response .CodeMirror-code');
			const text = r && r.innerText.replace(/\u00a0/g, ' ');
			return text && text.includes(`+"`"+want+"`"+`) ? text : false;
		})()`, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.graphiql-response').innerText`))
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("%s: %q does not appear on the page: %v\nresult pane: %s\nrequests %v, failures %v", query, want, err, text, requests, failures)
		}
		return result
	}
	require.Contains(t, run(`{ __typename }`, `"Query"`), `"__typename": "Query"`)
	require.Contains(t, run(`{ me { id } }`, `UNAUTHENTICATED`), `"code": "UNAUTHENTICATED"`, "errors and their codes appear on the page")

	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, failures, "nothing failed to load")
	var graphql int
	for _, u := range requests {
		require.True(t, strings.HasPrefix(u, e.Server.URL+"/") || strings.HasPrefix(u, "data:"),
			"the page only talks to wxid: %s", u)
		if strings.HasPrefix(u, e.Server.URL+"/graphql") {
			graphql++
		}
	}
	require.Positive(t, graphql, "GraphiQL sent its queries to /graphql")

	// The assets are compressed on the wire.
	req, err := http.NewRequest(http.MethodGet, e.Server.URL+"/graphiql/graphiql.min.js", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
}
