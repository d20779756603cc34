// Package dogpiletest is the conformance suite for dogpile backends, in the
// spirit of testing/fstest: every backend, built in or third party, runs it
// from its own tests.
//
//	func TestConformance(t *testing.T) {
//		dogpiletest.TestBackend(t, dogpiletest.Options{
//			New: func(t *testing.T) driver.Backend {
//				b, err := mybackend.New(addr)
//				if err != nil {
//					t.Fatal(err)
//				}
//				t.Cleanup(func() { b.Close() })
//				return b
//			},
//		})
//	}
//
// TestBackend runs, as subtests:
//
//   - Raw: the backend's own methods, on whichever kind it implements
//     (driver.ValueBackend or driver.BytesBackend): get, set, delete and
//     their multi forms, misses aligned with the keys, empty multi calls,
//     overwrites, unicode and 1 KB keys, and arbitrary bytes (0x00, '|',
//     invalid UTF-8, 64 KiB) for byte backends. Multi calls with no keys
//     must succeed and return nothing, although regions never make them:
//     other callers of a backend may.
//   - Region: the backend behind a dogpile.Region, the rows of
//     dogpile.cache's generic backend suite: set/get, multi calls with
//     misses, zero values (0, "", false, empty slices and maps, nil) that
//     are stored and found, get-or-create and its multi form, ShouldCache,
//     creator errors that are returned and not cached, expiry on a fake
//     clock, KeyIsLocked, nested get-or-create on another key, and
//     invalidation shared through the backend (dogpile.SharedInvalidation)
//     by two regions on two backends from Options.New, skipped when those
//     do not share their storage.
//   - Concurrency: 100 callers of one missing key share one creation, and
//     while an expired key is regenerated the other callers get the stale
//     value at once.
//   - Lock: for backends implementing driver.Locker, the mutex contract
//     (exclusion across Mutex values for one key, independence of keys,
//     context-bounded waits) and the distributed lock seen from two regions
//     sharing the backend. Skipped for backends without a lock of their own.
//
// The suite is safe to run against a shared server: every subtest writes
// under keys that start with the test's name and a random nonce, deletes
// them when it ends, and never assumes the backend is empty. Expiry is
// driven by a fake clock (dogpile.WithClock), with a region expiration of
// an hour, so no test sleeps for expiry and server-side TTLs derived from
// the region's expiration never fire during a run.
//
// Backends that store nothing, such as null.Backend, cannot pass a
// suite of storing backends; test them on their own terms.
package dogpiletest
