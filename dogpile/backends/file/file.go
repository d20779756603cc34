package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// Name is the name the backend is registered under: dogpile.cache's name
// for its file backend.
const Name = "dogpile.cache.dbm"

// DefaultCompactionThreshold is the store size below which it is never
// compacted automatically.
const DefaultCompactionThreshold = 1 << 20

// DefaultFileMode is the permission of the files the backend creates,
// before the umask: the store holds cached data, readable by its owner
// only unless WithFileMode says otherwise.
const DefaultFileMode os.FileMode = 0o600

// identityCheck is how often the hit path checks that the store's path
// still names the file it has open. A store deleted, or replaced by a
// rename, is noticed at once when a read-write lock file is used (the open
// file has no link left), as are compactions (through the "moved" record);
// this check is for the rest, and for Backends without a read-write lock
// file.
const identityCheck = time.Second

var (
	// ErrClosed is returned by the methods of a closed Backend and of its
	// Mutexes.
	ErrClosed = errors.New("store is closed")
	// ErrFormat is returned by Open for a file that is not a store of this
	// package (another program's file, a Python dbm file) or of a format
	// version it cannot read. The file is left as it is.
	ErrFormat = errors.New("not a store of this backend")
)

func init() {
	driver.Register(Name, openArgs)
}

// Option configures Open. Options that cannot take their values make Open
// fail with an error wrapping driver.ErrInvalidArgument.
type Option func(*config)

type config struct {
	rwLock, dogpileLock lockFile
	syncWrites          bool
	compactMin          int64
	mode                os.FileMode
	nilOption           bool // an Option was nil
	forceFlock          bool // tests: the whole-file fallback lock
}

// lockFile is the choice of a lock file: the default path, another path,
// or none.
type lockFile struct {
	path string
	set  bool // path, or none
	none bool
}

// validate reports the first option that cannot take its value.
func (c *config) validate() error {
	switch {
	case c.nilOption:
		return fmt.Errorf("%w: nil Option", driver.ErrInvalidArgument)
	case c.compactMin < 0:
		return fmt.Errorf("%w: compaction threshold %d, want 0 or more bytes (math.MaxInt64: never automatically)",
			driver.ErrInvalidArgument, c.compactMin)
	case c.mode&^os.ModePerm != 0:
		return fmt.Errorf("%w: file mode %v, want permission bits only, such as 0o600", driver.ErrInvalidArgument, c.mode)
	case c.mode&0o600 != 0o600:
		return fmt.Errorf("%w: file mode %#o, want one that lets the owner read and write (0o600)", driver.ErrInvalidArgument, uint32(c.mode))
	}
	if err := c.rwLock.validate("read-write lock file"); err != nil {
		return err
	}
	return c.dogpileLock.validate("dogpile lock file")
}

func (l lockFile) validate(what string) error {
	if !l.set || l.none {
		return nil
	}
	return checkPath(what, l.path)
}

// checkPath refuses a path that cannot name a regular file: an empty one,
// one with a NUL byte, or one ending like a directory.
func checkPath(what, p string) error {
	switch {
	case strings.TrimSpace(p) == "":
		return fmt.Errorf("%w: empty %s name", driver.ErrInvalidArgument, what)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: %s %q holds a NUL byte", driver.ErrInvalidArgument, what, p)
	case os.IsPathSeparator(p[len(p)-1]):
		return fmt.Errorf("%w: %s %q names a directory", driver.ErrInvalidArgument, what, p)
	}
	switch filepath.Base(p) {
	case ".", "..":
		return fmt.Errorf("%w: %s %q names a directory", driver.ErrInvalidArgument, what, p)
	}
	return nil
}

// resolve returns the absolute path of the lock file, "" for none.
func (l lockFile) resolve(store, suffix string) (string, error) {
	switch {
	case !l.set:
		return store + suffix, nil
	case l.none:
		return "", nil
	}
	return filepath.Abs(l.path)
}

// WithRWLockFile sets the read-write lock file (dogpile.cache's
// rw_lockfile); a relative path is made absolute. The default is the
// store's path with ".rw.lock" appended.
func WithRWLockFile(path string) Option {
	return func(c *config) { c.rwLock = lockFile{path: path, set: true} }
}

// WithoutRWLockFile uses no read-write lock file (rw_lockfile=False): the
// store is then safe in one process only, as in dogpile.cache. Several
// Backends or processes must not share it.
func WithoutRWLockFile() Option {
	return func(c *config) { c.rwLock = lockFile{set: true, none: true} }
}

// WithDogpileLockFile sets the file holding the dogpile lock
// (dogpile.cache's dogpile_lockfile); a relative path is made absolute. The
// default is the store's path with ".dogpile.lock" appended.
func WithDogpileLockFile(path string) Option {
	return func(c *config) { c.dogpileLock = lockFile{path: path, set: true} }
}

// WithoutDogpileLockFile uses no file lock for the dogpile lock
// (dogpile_lockfile=False): Mutex returns nil and regions use their
// in-process lock, so processes sharing the store may create one value
// each.
func WithoutDogpileLockFile() Option {
	return func(c *config) { c.dogpileLock = lockFile{set: true, none: true} }
}

// WithSyncWrites makes every write call fsync before it returns, so a value
// survives a power failure once stored. By default a write reaches the
// operating system before it returns (other processes read it at once, and
// it survives the writing process's crash) but is left to the kernel to
// flush.
func WithSyncWrites() Option { return func(c *config) { c.syncWrites = true } }

// WithCompactionThreshold sets the store size in bytes below which it is
// never compacted automatically (default DefaultCompactionThreshold). Above
// it, a write compacts the store when less than half of it is live.
// math.MaxInt64 turns automatic compaction off; Compact still works. A
// negative size is an error.
func WithCompactionThreshold(size int64) Option { return func(c *config) { c.compactMin = size } }

// WithFileMode sets the permissions of the files the backend creates
// (default DefaultFileMode), before the umask. Processes of several users
// sharing a store need a wider mode, such as 0o660. The mode must hold
// permission bits only, and let the owner read and write.
func WithFileMode(mode os.FileMode) Option { return func(c *config) { c.mode = mode } }

// Backend stores a region's entries in one file: an append-only log of
// checksummed records, indexed in memory by each process, safe for several
// processes of one machine. It implements driver.BytesBackend,
// driver.Locker and io.Closer. Build it with Open, or through a region
// configured with the name "dogpile.cache.dbm".
type Backend struct {
	path, dir, rwPath, lockPath string
	syncWrites                  bool
	compactMin                  int64
	mode                        os.FileMode

	// mu guards what follows. Readers in sync with the file share it;
	// anything that changes the index (a refresh, a write, a compaction)
	// holds it exclusively, so the read-write lock file's flock, owned by
	// one descriptor for the whole process, is only ever taken under it.
	mu          sync.RWMutex
	f           *os.File // the store, opened O_APPEND
	fd          int
	id          fileID
	hdr         [headerSize]byte // the header the index was read after
	index       map[string]loc
	end         int64 // after the last valid record (0: no header yet); the file's size when in sync
	live        int64 // bytes of the records the index points to
	nextCompact int64 // no automatic compaction below this size
	suspect     bool  // the index may not match the file: read it again
	wbuf        []byte
	rw          *os.File // nil without a read-write lock file
	rwFd        int
	rwID        fileID
	closed      bool

	checkAt     atomic.Int64 // unix nanoseconds of the next identity check
	locks       *lockTable   // nil without a dogpile lock file
	compactions atomic.Int64
}

// loc is where a key's last record begins, and the length of its value.
type loc struct {
	off int64
	n   int32
}

var (
	_ driver.BytesBackend = (*Backend)(nil)
	_ driver.Locker       = (*Backend)(nil)
)

// Open opens the store at filename, creating it (but not its directory)
// when it does not exist. filename is made absolute. A torn record left at
// the end of the store by a crash is dropped; a file that is not a store of
// this package is an error wrapping ErrFormat, and is not modified. Options
// that cannot take their values, an empty filename or one naming a
// directory are errors wrapping driver.ErrInvalidArgument.
func Open(filename string, opts ...Option) (*Backend, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			c.nilOption = true
			continue
		}
		o(&c)
	}
	b, err := openStore(filename, c)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return b, nil
}

func defaultConfig() config {
	return config{compactMin: DefaultCompactionThreshold, mode: DefaultFileMode}
}

// openStore is Open without the package's name in front of its errors, for
// the registered factory, whose errors driver.Open prefixes.
func openStore(filename string, c config) (*Backend, error) {
	if !supported {
		return nil, fmt.Errorf("%w on %s: no flock(2)", errors.ErrUnsupported, runtime.GOOS)
	}
	if err := checkPath("store file", filename); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(filename)
	if err != nil {
		return nil, err
	}
	b := &Backend{path: path, dir: filepath.Dir(path), syncWrites: c.syncWrites, compactMin: c.compactMin, mode: c.mode}
	if b.rwPath, err = c.rwLock.resolve(path, ".rw.lock"); err != nil {
		return nil, err
	}
	if b.lockPath, err = c.dogpileLock.resolve(path, ".dogpile.lock"); err != nil {
		return nil, err
	}
	switch {
	case b.rwPath == path || b.lockPath == path:
		return nil, fmt.Errorf("%w: a lock file cannot be the store itself (%s)", driver.ErrInvalidArgument, path)
	case b.rwPath != "" && b.rwPath == b.lockPath:
		return nil, fmt.Errorf("%w: the read-write and dogpile lock files must differ (both are %s)", driver.ErrInvalidArgument, b.rwPath)
	}
	if err := b.open(c.forceFlock); err != nil {
		b.closeFiles()
		return nil, err
	}
	return b, nil
}

func (b *Backend) open(forceFlock bool) error {
	if b.rwPath != "" {
		if err := b.openRW(); err != nil {
			return err
		}
	}
	if b.lockPath != "" {
		locks, err := newLockTable(b.lockPath, b.mode, forceFlock)
		if err != nil {
			return err
		}
		b.locks = locks
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	unlock, err := b.lockRW(context.Background(), true)
	if err != nil {
		return err
	}
	defer unlock()
	f, err := os.OpenFile(b.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, b.mode)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	if err := b.adopt(f, true); err != nil {
		f.Close()
		return err
	}
	b.removeLeftovers()
	b.checkAt.Store(time.Now().Add(identityCheck).UnixNano())
	return nil
}

// Path returns the absolute path of the store file.
func (b *Backend) Path() string { return b.path }

// Close closes the store and its lock files. Locks held through the
// Backend's Mutexes are released. Close is idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.closeFiles()
}

func (b *Backend) closeFiles() error {
	var errs []error
	if b.f != nil {
		errs = append(errs, b.f.Close())
	}
	if b.rw != nil {
		errs = append(errs, b.rw.Close())
	}
	if b.locks != nil {
		errs = append(errs, b.locks.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing: %w", err)
	}
	return nil
}

// openArgs builds the backend from dogpile.cache's arguments, for the
// registered name.
func openArgs(args driver.Arguments) (driver.Backend, error) {
	p := args.Parser(Name)
	c := defaultConfig()
	filename := p.String("filename", "")
	lockArg(p, "rw_lockfile", &c.rwLock)
	lockArg(p, "dogpile_lockfile", &c.dogpileLock)
	p.Ignore("lock_factory")
	if err := p.Err(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(filename) == "" {
		return nil, fmt.Errorf("%w: argument \"filename\" is required", driver.ErrInvalidArgument)
	}
	b, err := openStore(filename, c)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// lockArg reads a lock file argument: absent, nil or true for the default
// path; false (or the string "false", in any case) for none; or a path.
func lockArg(p *driver.ArgParser, name string, l *lockFile) {
	v, ok := p.Value(name)
	if !ok {
		return
	}
	var s string
	switch x := v.(type) {
	case bool:
		if !x {
			*l = lockFile{set: true, none: true}
		}
		return
	case string:
		s = x
	case fmt.Stringer:
		s = x.String()
	default:
		p.Reject(name, "a path or false")
		return
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "false":
		*l = lockFile{set: true, none: true}
	case "":
		p.Reject(name, "a path or false")
	default:
		*l = lockFile{path: s, set: true}
	}
}
