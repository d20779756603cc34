// Package file is a dogpile backend that keeps a region's entries in one
// file on disk, shared by the processes of one machine, with a dogpile lock
// across those processes. It is registered as "dogpile.cache.dbm", the name
// of dogpile.cache's file backend, and takes its arguments:
//
//	filename          the store (required); made absolute
//	rw_lockfile       absent or nil: "<filename>.rw.lock"; false: none; a path
//	dogpile_lockfile  absent or nil: "<filename>.dogpile.lock"; false: none
//	                  (regions use their in-process lock); a path
//	lock_factory      accepted and ignored (a Python class)
//
// Relative lock file paths are made absolute; the string "false" counts as
// false. Any other argument, and a value of the wrong kind, is an error
// wrapping driver.ErrInvalidArgument. From Go, Open takes the same choices
// as options (WithRWLockFile, WithoutDogpileLockFile, ...), and a few that
// have no argument name (WithSyncWrites, WithCompactionThreshold,
// WithFileMode); options that cannot take their values are errors too.
//
//	import _ "github.com/dogpilego/dogpile/dogpile/backends/file"
//
//	err := region.Configure("dogpile.cache.dbm", dogpile.Config{
//		ExpirationTime: time.Hour,
//		Arguments:      map[string]any{"filename": "/var/cache/app/cache.db"},
//	})
//
// or, from Go:
//
//	b, err := file.Open("/var/cache/app/cache.db", file.WithSyncWrites())
//	...
//	err = region.ConfigureBackend(b, dogpile.Config{ExpirationTime: time.Hour})
//
// The directory must exist; the store and its lock files are created in it
// when missing. The store is not a dbm file: Python processes cannot read
// it (share a Redis or Memcached backend with them instead), and a file of
// another format at the path, such as a Python dbm file, is refused
// (ErrFormat), not overwritten.
//
// # Storage
//
// The Backend is a driver.BytesBackend: it stores the region's entries
// (the wire format, metadata JSON and payload) as they are, in an
// append-only log of checksummed records:
//
//	header  16 bytes   "dogpile\x00", format version uint32 (1),
//	                   generation uint32 (random, new with every header)
//	record  13 bytes   CRC-32C (Castagnoli) uint32 of the rest of the record,
//	                   kind uint8 (1 set, 2 delete, 3 moved),
//	                   key length uint32, value length uint32
//	        then       the key, then the value (none for delete and moved)
//
// Integers are little-endian. Each process keeps an index of the keys in
// memory, mapping a key to its last record. A read checks the file's size
// with fstat and reads the record with pread, and returns its value once
// the record's checksum, kind, key and length are the ones expected; when
// another process has appended records, only the new ones are read into
// the index.
//
// A write appends its records with one write call (SetBytesMulti and
// DeleteMulti too), so a crash in the middle of one can only leave a torn
// record at the end of the file. A torn or damaged record fails its
// checksum or its length check; the log is read up to it, so every key
// keeps its previous value, and the next process that takes the write lock
// truncates it away. A store is never left unreadable: Open of a store that
// ends in a torn record succeeds. (A damaged record in the middle of the
// file, which no crash of this package produces, hides the records after it
// until they are written again: a cache loses entries, never returns a
// wrong one.)
//
// Old values and tombstones are garbage. When a write leaves the store
// larger than the compaction threshold (1 MiB by default) and less than
// half of it live, the writer compacts it: the live records are copied to
// a temporary file in the same directory, which is synced and renamed over
// the store. Just before the rename, a "moved" record is appended to the
// old file, so processes reading it notice the compaction by its size and
// reopen the path. Compact does the same on demand.
//
// # Durability
//
// Every write reaches the operating system before it returns: other
// processes read it at once and it survives the crash of the writing
// process. It is not synced to the disk by default, so a power failure may
// lose the latest writes (the checksums still leave a readable store).
// WithSyncWrites makes every write fsync. A compaction always syncs the new
// file before renaming it and syncs the directory after; creating a store
// syncs it and its directory.
//
// # Locks across processes
//
// Writers take an exclusive flock(2) on the read-write lock file, as
// dogpile.cache does, to append, repair a torn tail or compact. Readers take
// the shared flock only when the file changed and they update their index,
// not on every read: records are never rewritten in place (a torn tail is
// truncated only past the last valid record, and a compaction writes a new
// file), so reading a value the index points to needs no lock (and the
// record read is checked in case an operator changed the file). The shared
// lock keeps a reader from seeing a compaction half done. Without a
// read-write lock file (rw_lockfile false), one Backend in one process must
// be the only user of the store, as in dogpile.cache.
//
// The dogpile lock (Mutex) locks one byte of the dogpile lock file per key,
// at an offset derived from a hash of the key, with open file description
// locks on Linux: keys are independent across processes (two keys whose
// bytes collide, about one pair in 2^31, share a lock, which is safe), a
// waiting Acquire polls with a short jittered backoff and gives up when its
// context ends, and the kernel releases the locks of a process that dies,
// so a killed creator never blocks a key. Where open file description locks
// are missing (other Unix systems, Linux before 3.15), one flock(2) of the
// whole lock file per Backend stands in, as dogpile.cache's
// KeyReentrantMutex does: keys stay independent within the Backend, but a
// Backend holding any key blocks those of other processes. Either way the
// lock is not re-entrant: Acquire of a held key reports false, also to its
// holder.
//
// # Deleting or truncating the files
//
// An operator may delete the store (rm), empty it (: > file, truncate -s)
// or replace it while processes use it; they carry on with an empty store.
// A Backend notices the deletion of the file it has open at its next read
// (the file has no link left; without a read-write lock file, within a
// second) or write (the path names another file, or none), and opens the
// path, creating the store again when it is missing.
// It notices a truncation by the file's size, by a header that changed, or
// by records that do not follow on from its index, and then reads the
// store again from its header, never truncating what other processes
// appended. As every value is read with its whole record and checked, a
// value returned is always one written under its key, and a read that
// finds the store cleared returns a miss. A truncation that lands between
// a writer's look at the file and its write puts the record where the file
// then ends, maybe inside the header: the writer checks the offset its
// write landed at and, when it is not the one expected, reads the store
// again (beginning it again if its header is gone) and writes its records
// again. A file that begins with the first bytes of a header (or none of
// them) followed by zero bytes (what truncate -s leaves) or by a valid
// record is a store that was emptied, and is begun again rather than
// refused: a file that begins with 16 zero bytes counts as one too.
//
// The lock files may be deleted too. Each time a Backend takes the
// read-write lock or a key's dogpile lock, it checks that the path still
// names the file it locked, and locks the file at the path when not. But a
// lock held in a deleted file does not exclude the processes that lock the
// new one, until it is released: meanwhile two processes may write at
// once (values stay right, but an entry written then may be lost, and a
// Backend opening the path just as a truncation cut the header under such
// a write may find it unreadable, ErrFormat, until the write ends), and a
// key's value may be created twice.
//
// Two cases remain that these checks cannot mend. A compaction copies the
// live entries to a new file and renames it over the store: a clearing
// in the few microseconds between its last look at the store and the
// rename is undone for the entries it copied. And a writer killed in the
// middle of a write that a truncation made land inside the header leaves a
// file beginning with part of a header and part of a record, which cannot
// be told from another program's file: Backends that had the store open
// begin it again, but Open refuses it (ErrFormat) until it is deleted.
//
// The backend needs flock(2): on systems without it (Windows, Plan 9,
// js/wasm), Open returns an error wrapping errors.ErrUnsupported.
//
// # Errors
//
// Open's errors begin with "file: "; those of the registered name begin
// with its name instead, which driver.Open puts in front of them. The
// errors of a Backend's methods name the file or the key and wrap the
// system's error (ErrClosed after Close); regions put the backend's name in
// front of them.
package file
