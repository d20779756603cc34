package debugpanel

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// Middleware records the cache operations of each request that reaches
// next: it puts a new Recorder in the request's context, adds a
// Server-Timing header (to the clients Options.ServerTiming chooses) just
// before the response header is sent, and keeps the request for the panel
// when next returns. Requests to the panel itself and those Options.Skip
// chooses (by default static files and the favicon, see StaticAsset) pass
// through untouched, and so do requests that find the memory budget held
// by running requests (Panel.Unrecorded).
//
// Operations that happen after the response header was sent are in the
// panel but not in the header.
func (p *Panel) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.skip(r) {
			next.ServeHTTP(w, r)
			return
		}
		rec := p.newRecorder(r)
		if rec == nil {
			p.unrecorded.Add(1)
			next.ServeHTTP(w, r)
			return
		}
		rw := &responseWriter{ResponseWriter: w, rec: rec, timing: p.serverTiming(r)}
		defer func() {
			// Also when next panics: the request is kept, with the status
			// written so far (0 if none), and the panic goes on.
			rec.finish(rw.status)
			p.add(rec)
		}()
		next.ServeHTTP(rw, r.WithContext(NewContext(r.Context(), rec)))
		if !rw.wroteHeader && !rw.hijacked {
			// net/http sends 200 with these headers after we return.
			rw.commit(http.StatusOK)
		}
	})
}

func (r *Recorder) finish(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.duration, r.finished = status, r.Elapsed(), true
}

// responseWriter adds the Server-Timing header when the response header is
// committed: at the first WriteHeader (other than 1xx), Write, ReadFrom or
// Flush. Unwrap lets http.ResponseController reach the writer beneath.
type responseWriter struct {
	http.ResponseWriter
	rec         *Recorder
	timing      bool
	wroteHeader bool
	hijacked    bool
	status      int
}

func (w *responseWriter) commit(status int) {
	w.wroteHeader, w.status = true, status
	if w.timing {
		w.Header().Add("Server-Timing", ServerTiming(w.rec.Stats()))
	}
}

// WriteHeader adds the Server-Timing header, then sends the header.
// Informational (1xx) headers other than 101 pass through, as they do not
// commit the response.
func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.commit(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write commits the header as net/http would (status 200), then writes.
func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.commit(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom commits the header, then copies r to the writer beneath, which
// keeps its io.ReaderFrom fast path (sendfile).
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.commit(http.StatusOK)
	}
	return io.Copy(w.ResponseWriter, r)
}

// FlushError commits the header and flushes, reporting
// http.ErrNotSupported when the writer beneath cannot flush.
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.commit(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for http.Flusher.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// Hijack hands the connection over, when the writer beneath allows it; no
// header is sent then.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		if !w.wroteHeader {
			w.status = http.StatusSwitchingProtocols
		}
	}
	return c, rw, err
}

// Unwrap returns the writer beneath, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
	_ io.ReaderFrom = (*responseWriter)(nil)
)
