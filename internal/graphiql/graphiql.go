// Package graphiql serves the GraphiQL playground from the binary itself:
// the page, GraphiQL's browser build and React are embedded (fetched once
// from the npm registry by scripts/graphiql-assets.sh, pinned and verified,
// and committed gzipped), so the page loads nothing from another host and
// works on an intranet or offline. A Content-Security-Policy holds the page
// to its own origin.
package graphiql

import (
	"bytes"
	"compress/gzip"
	"embed"
	"html/template"
	"io"
	"net/http"
	"path"
	"strings"
)

//go:embed assets/*.gz assets/SHA256SUMS
var assets embed.FS

// AssetPrefix is the path the assets are served under.
const AssetPrefix = "/graphiql/"

// CSP is the page's Content-Security-Policy: scripts, styles and requests
// only to wxid itself (GraphiQL sets inline styles; its fonts and icons are
// data: URLs).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var page = template.Must(template.New("graphiql").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Prefix}}graphiql.min.css">
<link rel="stylesheet" href="{{.Prefix}}page.css">
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}">Loading GraphiQL…</div>
<script src="{{.Prefix}}react.production.min.js"></script>
<script src="{{.Prefix}}react-dom.production.min.js"></script>
<script src="{{.Prefix}}graphiql.min.js"></script>
<script src="{{.Prefix}}init.js"></script>
</body>
</html>
`))

// init.js and page.css are wxid's own (not fetched): a script file rather
// than an inline one, so the CSP needs no 'unsafe-inline' for scripts.
const (
	initJS = `(function () {
  var root = document.getElementById('graphiql');
  var fetcher = GraphiQL.createFetcher({ url: root.dataset.endpoint });
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultEditorToolsVisibility: true,
    shouldPersistHeaders: false,
  }));
})();
`
	pageCSS = `html, body, #graphiql { height: 100%; margin: 0; }
`
)

// Page returns the handler of the GraphiQL page, which sends its queries
// to endpoint.
func Page(title, endpoint string) http.Handler {
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]string{"Title": title, "Endpoint": endpoint, "Prefix": AssetPrefix}); err != nil {
		panic(err) // a fixed template: cannot fail
	}
	body := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	})
}

// Assets returns the handler of AssetPrefix: the embedded files, sent
// gzipped to clients that accept it and unpacked to the others. Any other
// name goes to notFound.
func Assets(notFound http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, AssetPrefix)
		var body []byte
		gzipped := true
		switch name {
		case "init.js":
			body, gzipped = []byte(initJS), false
		case "page.css":
			body, gzipped = []byte(pageCSS), false
		default:
			var err error
			if path.Base(name) == name {
				body, err = assets.ReadFile("assets/" + name + ".gz")
			}
			if body == nil || err != nil {
				notFound.ServeHTTP(w, r)
				return
			}
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		if strings.HasSuffix(name, ".css") {
			h.Set("Content-Type", "text/css; charset=utf-8")
		}
		if !gzipped {
			_, _ = w.Write(body)
			return
		}
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			_, _ = w.Write(body)
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			panic(err) // the embedded files are gzip: a broken build
		}
		_, _ = io.Copy(w, zr) //nolint:gosec // our own embedded files, of known size
	})
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") || strings.TrimSpace(coding) == "*" {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

// Files lists the embedded asset names (without .gz).
func Files() []string {
	entries, _ := assets.ReadDir("assets")
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".gz"); ok {
			out = append(out, n)
		}
	}
	return out
}
