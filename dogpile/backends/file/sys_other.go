//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package file

import (
	"context"
	"errors"
	"os"
)

// supported reports whether this platform has the file locks the backend
// needs: here it has not, and Open returns an error wrapping
// errors.ErrUnsupported.
const supported = false

type fileID struct{ dev, ino uint64 }

func fdStat(int) (fileID, int64, error)                  { return fileID{}, 0, errors.ErrUnsupported }
func fdSize(int) (int64, error)                          { return 0, errors.ErrUnsupported }
func fdSizeLinked(int) (int64, bool, error)              { return 0, false, errors.ErrUnsupported }
func pathID(string) (fileID, error)                      { return fileID{}, errors.ErrUnsupported }
func flockWait(context.Context, int, bool) error         { return errors.ErrUnsupported }
func flockRelease(int) error                             { return errors.ErrUnsupported }
func syncDir(string) error                               { return errors.ErrUnsupported }
func newRangeLocker(*os.File, bool) (rangeLocker, error) { return nil, errors.ErrUnsupported }
