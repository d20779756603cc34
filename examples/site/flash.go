package main

import (
	"crypto/rand"
	"net/http"
	"sync"
)

// flash is a message shown once, on the page a form redirects to
// (Post/Redirect/Get).
type flash struct {
	Text  string
	Tags  []retiredTag // the tags an edit retired, with what depends on them
	Items []string     // details, such as the function cache keys an edit touched
}

// flashes keeps flash messages on the server; the browser holds only a
// random token in a cookie, so a message can list many tags and keys.
type flashes struct {
	mu sync.Mutex
	m  map[string]*flash
}

// flashCookie names the cookie holding the token.
const flashCookie = "flash"

// maxFlashes bounds the messages kept for clients that never come back.
const maxFlashes = 1000

// set keeps f for the client's next request.
func (fs *flashes) set(w http.ResponseWriter, f *flash) {
	token := rand.Text()
	fs.mu.Lock()
	if fs.m == nil || len(fs.m) >= maxFlashes {
		fs.m = map[string]*flash{}
	}
	fs.m[token] = f
	fs.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: token, Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// pop returns the client's message, or nil, and forgets it.
func (fs *flashes) pop(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.m[c.Value]
	delete(fs.m, c.Value)
	return f
}
